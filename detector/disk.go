package detector

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// evalDisk scores a drive: growth of the SMART counters that carry media
// failure (reallocated, pending, uncorrectable sectors, ...) over a window
// rather than `> 0`, the drive's own alarms (SMART failed, NVMe critical
// warning, failed self-tests, Redfish FailurePredicted) and wear-out
// (NVMe spare and percentage used, Redfish media life left) with a
// forecast of the threshold crossing.
func (d *Detector) evalDisk(comp *component, now time.Time) evaluation {
	cfg := &d.cfg.Disk
	var ev evaluation
	window := int64(cfg.Window.D() / time.Second)
	nowU := now.Unix()
	var grouped map[string]int // group -> index of its reason in ev.reasons
	for i, s := range d.counterSeries(comp) {
		if s == nil || len(s.Buckets) == 0 {
			continue
		}
		cc := cfg.Counters[i]
		r, ok := counterReason(s, cc, nowU, window)
		if !ok {
			continue
		}
		if cc.Group != "" {
			if i, seen := grouped[cc.Group]; seen {
				// The group counts once: keep the stronger member, and
				// say the other moved too.
				if r.Score > ev.reasons[i].Score {
					r.Text += "; " + ev.reasons[i].Text
					ev.reasons[i] = r
				} else {
					ev.reasons[i].Text += "; " + r.Text
				}
				continue
			}
			if grouped == nil {
				grouped = map[string]int{}
			}
			grouped[cc.Group] = len(ev.reasons)
		}
		ev.reasons = append(ev.reasons, r)
	}
	if comp.FailurePredicted || comp.Health == model.HealthCritical {
		ev.reasons = append(ev.reasons, Reason{Signal: "failure_predicted",
			Text: "the drive predicts its own failure (SMART overall-health FAILED or an attribute at its threshold)", Score: cfg.PredictedFailure})
	}
	if s := comp.Series["critical_warning"]; s != nil && s.last() != 0 {
		v := s.last()
		ev.reasons = append(ev.reasons, Reason{Signal: "critical_warning", Value: &v,
			Text: fmt.Sprintf("NVMe critical warning 0x%02x", int(v)), Score: cfg.NVMeCriticalWarning})
	}
	if s := comp.Series["self_tests_failed"]; s != nil {
		if then, ok := s.valueAt(nowU - window); (ok && s.last() > then) || (!ok && s.last() > s.First) {
			v := s.last()
			ev.reasons = append(ev.reasons, Reason{Signal: "self_tests_failed", Value: &v, Text: "a new self-test failed", Score: cfg.FailedSelfTest})
		}
	}
	d.diskWear(comp, nowU, &ev)
	d.diskNormalized(comp, nowU, &ev)
	d.diskModel(comp, nowU, &ev)
	return ev
}

// counterSeries returns the component's series of each configured counter
// (nil where it has none), cached on the component: a map lookup per
// counter per drive per day is most of a Backblaze replay otherwise.
func (d *Detector) counterSeries(comp *component) []*series {
	if comp.counters == nil || comp.countersFor != len(comp.Series) {
		comp.counters = make([]*series, len(d.cfg.Disk.Counters))
		for i, cc := range d.cfg.Disk.Counters {
			comp.counters[i] = comp.Series[cc.Reading]
		}
		comp.countersFor = len(comp.Series)
	}
	return comp.counters
}

// counterReason scores one counter: its growth within the window, else a
// lasting non-zero level (an old scar weighs little: healthy drives carry
// them for years).
func counterReason(s *series, cc CounterConfig, now, window int64) (Reason, bool) {
	cur := s.last()
	if cur <= s.MinValue && (cur <= 0 || cc.Level <= 0) {
		// Never above its lowest: no growth in any window, and no level
		// worth scoring. Most counters of most drives, every day.
		return Reason{}, false
	}
	then, ok := s.valueAt(now - window)
	since := now - window
	if !ok { // younger than the window: growth since first seen
		then, since = s.First, s.FirstTime
	}
	growth := cur - then
	if growth <= 0 && (cur <= 0 || cc.Level <= 0) {
		return Reason{}, false // the common case: nothing, and nothing allocated
	}
	value := cur
	r := Reason{Signal: cc.Reading, Value: &value}
	switch {
	case growth > 0:
		days := math.Max(1, math.Round(float64(now-since)/86400))
		perDay := growth / days
		base := then
		r.Baseline, r.TrendPerDay = &base, &perDay
		r.Score = cc.Growth * (0.5 + 0.5*logScale(growth, cc.Scale))
		r.Text = fmt.Sprintf("%s %s -> %s in %s", cc.Label, fmtNum(then), fmtNum(cur), fmtDays(days))
	case cur > 0 && cc.Level > 0:
		r.Score = cc.Level * logScale(cur, cc.Scale)
		r.Text = fmt.Sprintf("%s %s, unchanged for %s", cc.Label, fmtNum(cur), fmtDays(math.Round(float64(now-s.lastChangeOr())/86400)))
	default:
		return r, false
	}
	return r, true
}

// logScale maps x >= 0 to [0,1]: log(1+x)/log(1+scale), capped.
func logScale(x, scale float64) float64 {
	if x <= 0 {
		return 0
	}
	return math.Min(1, math.Log1p(x)/math.Log1p(math.Max(scale, 1)))
}

// diskWear scores wear-out: NVMe spare and percentage used, Redfish media
// life left, with a forecast of the crossing.
func (d *Detector) diskWear(comp *component, now int64, ev *evaluation) {
	cfg := &d.cfg.Disk
	if s := comp.Series["available_spare"]; s != nil {
		v := s.last()
		thr := 10.0
		if t, ok := comp.Thresholds["available_spare"]; ok && t.LowerCritical != nil {
			thr = *t.LowerCritical
		}
		if v > 0 || thr > 0 {
			if gap := v - thr; gap <= cfg.SpareMargin {
				th := thr
				ev.reasons = append(ev.reasons, Reason{Signal: "available_spare", Value: &v, Threshold: &th,
					Text:  fmt.Sprintf("available spare %s%% within %s points of its threshold %s%%", fmtNum(v), fmtNum(math.Max(gap, 0)), fmtNum(thr)),
					Score: 0.55 + 0.35*clamp01(1-gap/math.Max(cfg.SpareMargin, 1))})
			}
			forecastDown(s, now, thr, "available_spare", ev)
		}
	}
	if s := comp.Series["percentage_used"]; s != nil {
		v := s.last()
		if v >= cfg.PercentageUsedWatch {
			th := 100.0
			ev.reasons = append(ev.reasons, Reason{Signal: "percentage_used", Value: &v, Threshold: &th,
				Text:  fmt.Sprintf("%s%% of rated endurance used", fmtNum(v)),
				Score: 0.3 + 0.5*clamp01((v-cfg.PercentageUsedWatch)/math.Max(100-cfg.PercentageUsedWatch, 1))})
		}
		forecastUp(s, now, 100, "percentage_used", ev)
	}
	if s := comp.Series["media_life_left"]; s != nil {
		v := s.last()
		if v <= cfg.MediaLifeLeftWatch {
			th := 0.0
			ev.reasons = append(ev.reasons, Reason{Signal: "media_life_left", Value: &v, Threshold: &th,
				Text: fmt.Sprintf("predicted media life left %s%%", fmtNum(v)), Score: 0.3 + 0.5*clamp01(1-v/math.Max(cfg.MediaLifeLeftWatch, 1))})
		}
		forecastDown(s, now, 0, "media_life_left", ev)
	}
}

// forecastDown / forecastUp set ev.forecast to the earliest crossing of
// thr by a series' fitted trend over its history.
func forecastDown(s *series, now int64, thr float64, name string, ev *evaluation) {
	forecast(s, now, thr, name, ev, -1)
}

func forecastUp(s *series, now int64, thr float64, name string, ev *evaluation) {
	forecast(s, now, thr, name, ev, 1)
}

func forecast(s *series, now int64, thr float64, name string, ev *evaluation, dir float64) {
	bs := s.Buckets
	if len(bs) == 0 {
		return
	}
	if s.Sparse {
		bs = s.steps(bs[0].Start, now)
	}
	f, ok := fitLine(bs, s.Width)
	if !ok || f.slope*dir <= 0 {
		return
	}
	fc, ok := f.crossing(now, thr, name)
	if !ok {
		return
	}
	if ev.forecast == nil || fc.At.Before(ev.forecast.At) {
		ev.forecast = fc
	}
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func fmtDays(days float64) string {
	if days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%s days", fmtNum(days))
}
