package detector

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// An ATA attribute's normalized value (smart_<id>_normalized) falls from
// its vendor's best (100, 200, 253) toward the vendor's failure threshold
// as the raw cause accumulates; at the threshold the drive declares itself
// failing (SMART overall-health FAILED, ATA/ATAPI-8 ACS SMART RETURN
// STATUS; smartctl's "FAILING_NOW"), which the failure_predicted signal
// already scores. Before that, the trend is the time-to-threshold the
// drive's own verdict never gives: the normalized values of the last
// Disk.NormalizedWindow, one per day (series.steps), fitted by a line, crossing the threshold within NormalizedHorizon.
//
// Only attributes that come with a threshold above zero are followed: a
// zero threshold means the vendor says the attribute never fails the
// drive (ATA "advisory" attributes), and a source without thresholds
// (Backblaze Drive Stats rows) gives no limit to forecast.

// isNormalized: a reading the normalized-trend signal may follow.
func isNormalized(name string) bool {
	return strings.HasPrefix(name, "smart_") && strings.HasSuffix(name, "_normalized")
}

// diskNormalized adds a reason, and a forecast, for every normalized
// attribute heading for its threshold.
func (d *Detector) diskNormalized(comp *component, now int64, ev *evaluation) {
	if len(comp.Thresholds) == 0 {
		return // every Backblaze drive, every day
	}
	cfg := &d.cfg.Disk
	var names []string
	for name := range comp.Thresholds {
		if isNormalized(name) && comp.Series[name] != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names) // reasons in a stable order
	window := int64(cfg.NormalizedWindow.D().Seconds())
	horizon := cfg.NormalizedHorizon.D().Seconds()
	for _, name := range names {
		s, t := comp.Series[name], comp.Thresholds[name]
		if t.LowerCritical == nil || *t.LowerCritical <= 0 {
			continue
		}
		thr, cur := *t.LowerCritical, s.last()
		if cur <= thr {
			continue // at its threshold: the drive's own verdict
		}
		days := s.steps(now-window, now)
		if len(days) < max(3, cfg.NormalizedMinDays) {
			continue // too short a history to tell a trend from a wobble
		}
		peak := days[0].Last
		for _, b := range days {
			peak = math.Max(peak, b.Last)
		}
		if peak-cur < cfg.NormalizedMinDrop {
			continue // a wobble, not a trend (Seagate's attribute 1 moves by tens)
		}
		f, ok := fitLine(days, s.Width)
		if !ok || f.slope >= -cfg.NormalizedMinSlopeSE*f.slopeSE || f.slope >= 0 {
			continue // not falling, or not distinguishably from noise
		}
		fc, ok := f.crossing(now, thr, name)
		if !ok {
			continue
		}
		left := fc.At.Sub(time.Unix(now, 0)).Seconds()
		if left > horizon {
			continue
		}
		if ev.forecast == nil || fc.At.Before(ev.forecast.At) {
			ev.forecast = fc
		}
		inDays := math.Max(0, math.Round(left/86400))
		v, th, perDay := cur, thr, f.slope*86400
		base := days[0].Last
		ev.reasons = append(ev.reasons, Reason{Signal: name, Value: &v, Baseline: &base, Threshold: &th, TrendPerDay: &perDay,
			Score: round3(cfg.NormalizedForecast * (1 - 0.5*clamp01(left/horizon))),
			Text: fmt.Sprintf("%s%s %s -> %s in %s, falling toward its failure threshold %s: crosses it in about %s", name, d.attributeLabel(name),
				fmtNum(base), fmtNum(cur), fmtDays(float64(len(days)-1)), fmtNum(thr), fmtDays(inDays))})
	}
}

// attributeLabel names the attribute of smart_<id>_normalized after its
// raw counter's label, where one is configured: " (reallocated sectors)".
func (d *Detector) attributeLabel(name string) string {
	raw := strings.TrimSuffix(name, "_normalized") + "_raw"
	for _, cc := range d.cfg.Disk.Counters {
		if cc.Reading == raw && cc.Label != "" {
			return " (" + cc.Label + ")"
		}
	}
	return ""
}
