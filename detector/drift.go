package detector

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// evalDrift scores the readings of a component that have thresholds
// (temperatures, voltages, currents, any Redfish Sensor with Thresholds or
// IPMI SDR thresholds): how close the reading has come to its critical
// threshold relative to where it started, and when its fitted trend will
// cross it. Everything is computed from hourly bucket means, never single
// samples, so a noisy sensor does not flap.
func (d *Detector) evalDrift(comp *component, now time.Time) evaluation {
	var ev evaluation
	for _, name := range sortedKeys(comp.Series) {
		thr, ok := comp.Thresholds[name]
		if !ok {
			continue
		}
		d.driftReading(comp, name, comp.Series[name], thr, now, &ev)
	}
	return ev
}

// driftReading adds the drift reasons of one reading, and its forecast
// when it is the earliest.
func (d *Detector) driftReading(comp *component, name string, s *series, thr model.Thresholds, now time.Time, ev *evaluation) {
	cfg := &d.cfg.Temperature
	nowU := now.Unix()
	if len(s.Buckets) == 0 || nowU < s.BaseUntil {
		return // the baseline is still being taken
	}
	level, ok := meanOver(s, nowU-secs(cfg.Level))
	if !ok {
		return
	}
	base := s.baseline()
	label := readingLabel(comp, name)
	unit := unitOf(comp, name)
	var best *Reason
	keep := func(r Reason) {
		if best == nil || r.Score > best.Score {
			best = &r
		}
	}
	for _, dir := range []float64{1, -1} {
		crit, critName, ok := criticalThreshold(thr, dir)
		if !ok {
			continue
		}
		span := (crit - base) * dir
		if span <= 0 {
			continue // the baseline is already past it: the source's own verdict says so
		}
		remaining := clamp01((crit - level) * dir / span)
		r := Reason{Signal: name, Value: ptr(level), Baseline: ptr(base), Threshold: ptr(crit)}
		score := 0.0
		switch {
		case remaining <= cfg.Margin:
			score = d.cfg.Degrading + (d.cfg.Failing-0.05-d.cfg.Degrading)*(1-remaining/math.Max(cfg.Margin, 1e-9))
		case remaining <= 2*cfg.Margin:
			score = d.cfg.Watch + (d.cfg.Degrading-d.cfg.Watch)*(1-(remaining-cfg.Margin)/math.Max(cfg.Margin, 1e-9))
		}
		fc, perDay, eta := d.driftForecast(s, nowU, crit, dir, span, name)
		if perDay != 0 {
			r.TrendPerDay = ptr(perDay)
		}
		// A forecast counts once the reading has covered ForecastProgress
		// of the way from its baseline to the threshold, so that the
		// upswing of a daily or weekly load cycle, extrapolated, raises
		// nothing.
		if fc != nil && remaining <= 1-cfg.ForecastProgress {
			if h := cfg.Horizon.D(); eta <= h {
				score = math.Max(score, d.cfg.Degrading+(d.cfg.Failing-d.cfg.Degrading)*(1-float64(eta)/float64(h)))
			}
			if ev.forecast == nil || fc.At.Before(ev.forecast.At) {
				ev.forecast = fc
			}
		}
		if score == 0 {
			continue
		}
		r.Score = round3(score)
		days := math.Max(1, math.Round(float64(nowU-s.FirstTime)/86400))
		r.Text = fmt.Sprintf("%s %s -> %s %s in %s, %s %s %s", label, fmtNum(round2(base)), fmtNum(round2(level)), unit,
			fmtDays(days), critName, fmtNum(crit), unit)
		if fc != nil {
			r.Text += ", " + fmtETA(fc.At.Sub(now)) + " to go"
		}
		keep(r)
	}
	// Past the non-critical threshold: the BMC would say warning.
	for _, dir := range []float64{1, -1} {
		nc, ncName, ok := nonCriticalThreshold(thr, dir)
		if ok && (level-nc)*dir > 0 {
			keep(Reason{Signal: name, Value: ptr(level), Threshold: ptr(nc), Score: round3(d.cfg.Watch + 0.05),
				Text: fmt.Sprintf("%s %s %s, past its %s threshold %s %s", label, fmtNum(round2(level)), unit, ncName, fmtNum(nc), unit)})
		}
	}
	if best != nil {
		ev.reasons = append(ev.reasons, *best)
	}
}

// driftForecast fits the reading over the configured window (whole days,
// so a daily cycle cancels) and forecasts its crossing of thr in
// direction dir. It returns the fitted drift per day even without a
// forecast, and the time to the crossing.
func (d *Detector) driftForecast(s *series, now int64, thr, dir, span float64, name string) (*Forecast, float64, time.Duration) {
	cfg := &d.cfg.Temperature
	bs, ok := wholeDays(s, now, secs(cfg.Window))
	if !ok {
		return nil, 0, 0
	}
	f, ok := fitLine(bs, s.Width)
	if !ok {
		return nil, 0, 0
	}
	perDay := f.slope * 86400
	if perDay*dir <= 0 || math.Abs(f.slope) < 2*f.slopeSE {
		return nil, perDay, 0 // flat, moving away, or not distinguishable from noise
	}
	if math.Abs(perDay) < math.Min(cfg.MinDrift, cfg.MinDriftSpan*span) {
		return nil, perDay, 0
	}
	fc, ok := f.crossing(now, thr, name)
	if !ok {
		return nil, perDay, 0
	}
	return fc, perDay, fc.At.Sub(time.Unix(now, 0))
}

// wholeDays returns the buckets of the last window seconds, trimmed to a
// whole number of days (at least two) counted back from the newest.
func wholeDays(s *series, now, window int64) ([]bucket, bool) {
	if len(s.Buckets) == 0 {
		return nil, false
	}
	newest := s.lastTime() + s.Width
	span := min(window, newest-s.FirstTime)
	days := span / 86400
	if days < 2 {
		return nil, false
	}
	bs := s.window(newest - days*86400 - 1)
	if len(bs) < 12 {
		return nil, false
	}
	return bs, true
}

// criticalThreshold is the limit in direction dir (1 upper, -1 lower) at
// which the source turns critical: the critical one, else fatal, else
// the non-critical one.
func criticalThreshold(t model.Thresholds, dir float64) (float64, string, bool) {
	if dir > 0 {
		switch {
		case t.UpperCritical != nil:
			return *t.UpperCritical, "upper critical", true
		case t.UpperFatal != nil:
			return *t.UpperFatal, "upper fatal", true
		case t.UpperNonCritical != nil:
			return *t.UpperNonCritical, "upper caution", true
		}
		return 0, "", false
	}
	switch {
	case t.LowerCritical != nil:
		return *t.LowerCritical, "lower critical", true
	case t.LowerFatal != nil:
		return *t.LowerFatal, "lower fatal", true
	case t.LowerNonCritical != nil:
		return *t.LowerNonCritical, "lower caution", true
	}
	return 0, "", false
}

// nonCriticalThreshold is the caution limit in direction dir, when the
// source has both it and a critical one (alone, it is the critical one).
func nonCriticalThreshold(t model.Thresholds, dir float64) (float64, string, bool) {
	if dir > 0 && t.UpperNonCritical != nil && (t.UpperCritical != nil || t.UpperFatal != nil) {
		return *t.UpperNonCritical, "upper caution", true
	}
	if dir < 0 && t.LowerNonCritical != nil && (t.LowerCritical != nil || t.LowerFatal != nil) {
		return *t.LowerNonCritical, "lower caution", true
	}
	return 0, "", false
}

// meanOver is the mean of the bucket means that start after since.
func meanOver(s *series, since int64) (float64, bool) {
	bs := s.window(since)
	if len(bs) == 0 {
		return 0, false
	}
	sum := 0.0
	for i := range bs {
		sum += bs[i].mean()
	}
	return sum / float64(len(bs)), true
}

// bucketAt returns the bucket of s that starts at start.
func bucketAt(s *series, start int64) (*bucket, bool) {
	i, ok := slices.BinarySearchFunc(s.Buckets, start, func(b bucket, t int64) int {
		switch {
		case b.Start < t:
			return -1
		case b.Start > t:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, false
	}
	return &s.Buckets[i], true
}

// levelScore maps a signal x onto the engine's levels: 0 below watchAt,
// from Watch to Degrading between watchAt and degradeAt, then on up by as
// much again, capped at top.
func (d *Detector) levelScore(x, watchAt, degradeAt, top float64) float64 {
	switch {
	case x < watchAt || degradeAt <= watchAt:
		return 0
	case x < degradeAt:
		return d.cfg.Watch + (d.cfg.Degrading-d.cfg.Watch)*(x-watchAt)/(degradeAt-watchAt)
	}
	return math.Min(top, d.cfg.Degrading+(d.cfg.Failing-d.cfg.Degrading)*(x-degradeAt)/(degradeAt-watchAt))
}

// noisyOr combines independent signs of weight p each.
func noisyOr(ps ...float64) float64 {
	keep := 1.0
	for _, p := range ps {
		keep *= 1 - clamp01(p)
	}
	return 1 - keep
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func secs(d Duration) int64 { return int64(d.D() / time.Second) }

func ptr(v float64) *float64 { return &v }

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// readingLabel names a reading in reasons: "CPU #1 Temperature", "Fan Bay 1 speed".
func readingLabel(comp *component, name string) string {
	n := comp.Ref.Name
	if n == "" {
		n = string(comp.Ref.Kind)
	}
	switch name {
	case "temperature", "voltage", "current", "power", "reading":
		// A sensor's own reading: its name says what it measures
		// ("CPU1 Temp", "PS1 12V Output Voltage").
		if comp.Ref.Kind != model.KindPSU && comp.Ref.Kind != model.KindChassis {
			return n
		}
	}
	return n + " " + strings.ReplaceAll(name, "_", " ")
}

// unitOf is the reading's unit as people write it.
func unitOf(comp *component, name string) string {
	switch u := comp.Units[name]; u {
	case "Cel":
		return "C"
	case "%":
		return "%"
	default:
		return u
	}
}

// fmtETA says how far off a forecast is: "~3 days", "~9 hours".
func fmtETA(d time.Duration) string {
	switch {
	case d < 0:
		return "~0 hours"
	case d < 48*time.Hour:
		return fmt.Sprintf("~%d hours", int(math.Round(d.Hours())))
	}
	return fmt.Sprintf("~%s days", fmtNum(math.Round(d.Hours()/24*10)/10))
}
