package detector

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prefail/prefail/model"
)

// evalFan scores a fan from its speed (Redfish Fan.SpeedPercent.SpeedRPM,
// legacy Thermal.Fans[].Reading, IPMI fan sensors: reading "speed" in RPM,
// else "speed_percent"):
//
//   - decline against its own baseline at comparable load: each hourly
//     mean is divided by the hour's load factor, the median speed of the
//     sibling fans (its cooling zone once learned, else the fans of its
//     chassis) relative to their own baselines, so a
//     BMC ramping every fan for a hot afternoon, or slowing them at
//     night, moves nothing;
//   - the gap to the fans of its cooling zone (fanZone: same chassis,
//     same speed regime, speeds that move together, learned from
//     history), whatever the baseline (a fan already slow when first
//     seen); no zone learned yet, no gap judged;
//   - at a step of the fan curve (all siblings at once), the comparison
//     with the siblings at the same moment (loadFactors.at, minAt,
//     stepped) before the comparison with its own smoothed past;
//   - rising instability: the spread within hourly slots against the
//     baseline's (bearing wear shows as jitter before the speed falls);
//   - dips: slots whose lowest sample falls far below the expected speed
//     (momentary stalls of a seizing bearing);
//   - a forecast of the crossing of its lower threshold;
//   - redundancy lost (a sibling failed);
//   - a fan at 0 RPM or below its lower critical threshold is failed.
func (d *Detector) evalFan(comp *component, v *view, now time.Time) evaluation {
	cfg := &d.cfg.Fan
	var ev evaluation
	nowU := now.Unix()
	name, s := fanSeries(comp)
	if s == nil || len(s.Buckets) == 0 {
		return ev
	}
	var sibs []*component
	for _, o := range v.siblings(comp) {
		if n, os := fanSeries(o); n == name && os != nil && len(os.Buckets) > 0 && o.Health != model.HealthAbsent {
			sibs = append(sibs, o)
		}
	}
	// Its cooling zone: the siblings whose speeds move with its own. They
	// carry the load factor when known (a CPU fan on its own loop is not
	// judged by the chassis fans' load), and they alone are compared with
	// it for the sibling gap.
	zone := d.fanZone(comp, s, sibs, nowU)
	loadSibs := sibs
	if len(zone) > 0 {
		loadSibs = zone
	}
	if r, ok := fanStopped(comp, name, s); ok {
		ev.failed = true
		ev.reasons = append(ev.reasons, r)
	}
	var red *Reason
	for _, o := range v.siblings(comp) {
		if o.Ref.Kind != model.KindFan {
			continue
		}
		if why, failed := d.fanFailed(o, now); failed {
			red = &Reason{Signal: "redundancy", Score: cfg.RedundancyLost,
				Text: fmt.Sprintf("redundancy lost: %s in the same chassis %s", nameOf(o), why)}
			break
		}
	}
	// The source's fan group says the same, or what the siblings do not
	// show: one reason, the stronger.
	if comp.Health == model.HealthOK || comp.Health == model.HealthWarning {
		if r, ok := v.groupReason(comp, cfg.RedundancyLost, "%s and the others carry the airflow"); ok && (red == nil || r.Score > red.Score) {
			red = &r
		}
	}
	if red != nil {
		ev.reasons = append(ev.reasons, *red)
	}
	lf := loadFactors{sibs: loadSibs, name: name, now: nowU, smooth: secs(cfg.LoadSmoothing), step: cfg.StepRatio}
	if len(zone) > 0 {
		for _, o := range sibs {
			if !slices.Contains(zone, o) {
				lf.others = append(lf.others, o)
			}
		}
	}
	baseOK := nowU >= s.BaseUntil && s.Base.N > 0 && s.baseline() > 0
	if baseOK && len(sibs) == 0 {
		if comp.Thermal == nil {
			comp.Thermal = d.fitThermal(comp, s, v)
		}
		if comp.Thermal.Sensor != "" {
			if o := v.d.comps[compKey{v.target, comp.Thermal.Sensor}]; o != nil && o.Series["temperature"] != nil {
				lf.thermal, lf.temp = comp.Thermal, o.Series["temperature"]
			}
		}
	}
	var decline *Reason
	if baseOK {
		decline = d.fanDecline(comp, s, &lf, nowU)
		if r, ok := d.fanJitter(comp, s, &lf, nowU); ok {
			ev.reasons = append(ev.reasons, r)
		}
		if r, ok := d.fanDips(comp, s, &lf, nowU); ok {
			ev.reasons = append(ev.reasons, r)
		}
	}
	gap := d.fanSiblingGap(comp, s, zone, now)
	// Decline and sibling gap are two views of one fact (the fan turns
	// slower than it should): the stronger one carries the score and the
	// other is told in its text, so the risk is not counted twice.
	switch {
	case decline != nil && gap != nil && gap.Score > decline.Score:
		gap.Text += "; " + decline.Text
		ev.reasons = append(ev.reasons, *gap)
	case decline != nil && gap != nil:
		decline.Text += "; " + gap.Text
		ev.reasons = append(ev.reasons, *decline)
	case decline != nil:
		ev.reasons = append(ev.reasons, *decline)
	case gap != nil:
		ev.reasons = append(ev.reasons, *gap)
	}
	if baseOK && decline != nil && decline.Score > 0 {
		d.fanForecast(comp, &lf, nowU, &ev)
	}
	return ev
}

// fanSeries is the speed history of a fan: RPM where the source gives it.
func fanSeries(c *component) (string, *series) {
	if s := c.Series["speed"]; s != nil {
		return "speed", s
	}
	if s := c.Series["speed_percent"]; s != nil {
		return "speed_percent", s
	}
	return "", nil
}

// fanStopped reports a fan whose latest sample is 0 or below its lower
// critical threshold (of either speed reading).
func fanStopped(comp *component, name string, s *series) (Reason, bool) {
	v := s.last()
	if v <= 0 {
		return Reason{Signal: name, Value: ptr(v), Score: 0.9,
			Text: fmt.Sprintf("%s reads 0 %s: the fan has stopped", nameOf(comp), unitOf(comp, name))}, true
	}
	for _, n := range []string{"speed", "speed_percent"} {
		sr := comp.Series[n]
		t, ok := comp.Thresholds[n]
		if sr == nil || !ok || t.LowerCritical == nil || len(sr.Buckets) == 0 {
			continue
		}
		if x := sr.last(); x < *t.LowerCritical {
			return Reason{Signal: n, Value: ptr(x), Threshold: ptr(*t.LowerCritical), Score: 0.9,
				Text: fmt.Sprintf("%s %s %s, below its lower critical threshold %s", nameOf(comp), fmtNum(x), unitOf(comp, n), fmtNum(*t.LowerCritical))}, true
		}
	}
	return Reason{}, false
}

// fanFailed says whether a sibling fan has failed, and how. A fan pulled
// for less than Source.RemovedHold is being swapped, and an empty bay
// never held a fan: neither has failed.
func (d *Detector) fanFailed(o *component, now time.Time) (string, bool) {
	switch {
	case o.Health == model.HealthCritical:
		return "is critical", true
	case d.removed(o, now):
		return "is gone", true
	case o.Health == model.HealthAbsent:
		return "", false
	}
	if n, s := fanSeries(o); s != nil && len(s.Buckets) > 0 {
		if _, stopped := fanStopped(o, n, s); stopped {
			return "has stopped", true
		}
	}
	return "", false
}

// loadFactors computes, per hourly slot, how fast the sibling fans turn
// relative to their own baselines: the fan-control demand of that hour.
type loadFactors struct {
	sibs []*component
	// thermal and temp, for a fan with no sibling: its fit against a
	// chassis temperature sensor and that sensor's series.
	thermal *thermalFit
	temp    *series

	name   string
	now    int64
	smooth int64 // seconds either side a sibling's speed is averaged over
	// step: the siblings' same-slot speed this far off their smoothed
	// speed is a step of the fan curve, judged at the same moment.
	step float64
	// others are the chassis's fans outside the zone (sibs), asked when
	// no zone sibling says.
	others []*component
	cache  map[int64]float64
	// minCache and stepCache memoize minAt and stepped: the dip and
	// decline checks ask for the same slots again and again.
	minCache  map[int64]float64
	stepCache map[int64]bool
}

// at is the load factor of the slot starting at start: the median over
// the siblings with a baseline and a sample in that slot of mean/baseline,
// leaving out siblings that have themselves failed or run wild. 1 when
// no sibling says.
func (l *loadFactors) at(start int64) float64 {
	if f, ok := l.cache[start]; ok {
		return f
	}
	rs, now := l.ratios(l.sibs, start)
	if len(rs) == 0 && len(l.others) > 0 {
		// Its zone says nothing (its one zone sibling has failed, or has
		// no baseline yet): the chassis's other fans follow the same fan
		// curve's timing, if not its levels, and are better than no load
		// at all, which would read a night step as a decline.
		rs, now = l.ratios(l.others, start)
	}
	f := 1.0
	if len(rs) > 0 {
		f = median(rs)
		// A step of the fan curve (all siblings at once, 40 -> 62 -> 90 %)
		// is smoothed away over hours: at a step the fan is compared
		// with its siblings at the same moment instead.
		if f0 := median(now); len(now) > 0 && l.step > 0 && math.Abs(f0/f-1) > l.step {
			f = f0
		}
	} else if l.temp != nil {
		if b, ok := bucketAt(l.temp, start); ok {
			f = l.thermal.factor(b.mean())
		}
	}
	if l.cache == nil {
		l.cache = map[int64]float64{}
	}
	l.cache[start] = f
	return f
}

// ratios are the siblings' speeds against their baselines in the slot
// starting at start: smoothed over LoadSmoothing (rs), and in the slot
// itself (now), leaving out siblings without a baseline or a sample, and
// those that have failed or run wild.
func (l *loadFactors) ratios(sibs []*component, start int64) (rs, now []float64) {
	for _, o := range sibs {
		s := o.Series[l.name]
		if s == nil || s.Base.N == 0 || l.now < s.BaseUntil || s.baseline() <= 0 {
			continue // no sibling baseline yet
		}
		// The sibling's mean over this slot and its neighbours within
		// LoadSmoothing: load changes over hours, and a sibling's own
		// jitter (a failing sibling's above all) must not leak into this
		// fan's load-adjusted speed.
		cur, ok := bucketAt(s, start)
		if !ok {
			continue
		}
		sum, n := 0.0, 0
		for _, b := range s.window(start - l.smooth - 1) {
			if b.Start > start+l.smooth {
				break
			}
			sum += b.mean()
			n++
		}
		if r := sum / float64(n) / s.baseline(); r > 0.5 && r < 3 {
			rs = append(rs, r)
		}
		if r := cur.mean() / s.baseline(); r > 0.5 && r < 3 {
			now = append(now, r)
		}
	}
	return rs, now
}

// minAt is the load factor a slot's lowest sample is judged against: the
// load factor, or, when the siblings stepped down within the slot (their
// lowest samples a step below the load factor), their lowest samples
// relative to their baselines, at the same moment.
func (l *loadFactors) minAt(start int64) float64 {
	return memo(&l.minCache, start, l.minAtUncached)
}

func (l *loadFactors) minAtUncached(start int64) float64 {
	f := l.at(start)
	if l.step <= 0 {
		return f
	}
	var ms []float64
	for _, o := range l.sibs {
		s := o.Series[l.name]
		if s == nil || s.Base.N == 0 || l.now < s.BaseUntil || s.baseline() <= 0 {
			continue
		}
		if b, ok := bucketAt(s, start); ok && b.Min > 0 {
			ms = append(ms, b.Min/s.baseline())
		}
	}
	if len(ms) > 0 {
		if m := median(ms); m < f*(1-l.step) {
			return m
		}
	}
	return f
}

// stepped says whether the siblings' speed spanned more than a step
// within the slot (the fan curve moved): the slot's spread is the control
// loop's, not jitter.
func (l *loadFactors) stepped(start int64) bool {
	return memo(&l.stepCache, start, l.steppedUncached)
}

// memo returns f(k), computed once per key in *m.
func memo[V any](m *map[int64]V, k int64, f func(int64) V) V {
	if v, ok := (*m)[k]; ok {
		return v
	}
	if *m == nil {
		*m = map[int64]V{}
	}
	v := f(k)
	(*m)[k] = v
	return v
}

func (l *loadFactors) steppedUncached(start int64) bool {
	if l.step <= 0 {
		return false
	}
	var rs []float64
	for _, o := range l.sibs {
		if s := o.Series[l.name]; s != nil {
			if b, ok := bucketAt(s, start); ok && b.N > 1 && b.mean() > 0 {
				rs = append(rs, (b.Max-b.Min)/b.mean())
			}
		}
	}
	return len(rs) > 0 && median(rs) > l.step
}

// normalized returns the slots since since with their means divided by
// the load factor.
func (l *loadFactors) normalized(s *series, since int64) []bucket {
	bs := s.window(since)
	out := make([]bucket, len(bs))
	for i, b := range bs {
		f := l.at(b.Start)
		m := b.mean() / f
		out[i] = bucket{Start: b.Start, N: 1, Sum: m, SumSq: m * m, Min: b.Min / f, Max: b.Max / f, Last: b.Last / f}
	}
	return out
}

// fanDecline compares the recent load-adjusted speed (a median of hourly
// means) with the baseline.
func (d *Detector) fanDecline(comp *component, s *series, lf *loadFactors, now int64) *Reason {
	cfg := &d.cfg.Fan
	nb := lf.normalized(s, now-secs(cfg.DeclineWindow))
	if len(nb) == 0 {
		return nil
	}
	means := make([]float64, len(nb))
	for i := range nb {
		means[i] = nb[i].Sum
	}
	base := s.baseline()
	recent := median(means)
	decline := 1 - recent/base
	score := d.levelScore(decline, cfg.DeclineWatch, cfg.DeclineDegrading, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return nil
	}
	name, _ := fanSeries(comp)
	f := lf.at(s.lastTime())
	expected := base * f
	raw := recent * f
	text := fmt.Sprintf("%s speed %s -> %s %s (%s%% below its baseline", nameOf(comp), fmtNum(math.Round(base)), fmtNum(math.Round(raw)),
		unitOf(comp, name), fmtNum(math.Round(decline*100)))
	if len(lf.sibs) > 0 {
		text += fmt.Sprintf(" at comparable load: siblings at %s%% of theirs, so %s expected", fmtNum(math.Round(f*100)), fmtNum(math.Round(expected)))
	} else if lf.temp != nil {
		text += fmt.Sprintf(" at comparable temperature: %s at %s °C, so %s expected", lf.thermal.Name, fmtNum(math.Round(lf.temp.last()*10)/10), fmtNum(math.Round(expected)))
	}
	text += fmt.Sprintf("; watch at %s%%, degrading at %s%%)", fmtNum(cfg.DeclineWatch*100), fmtNum(cfg.DeclineDegrading*100))
	return &Reason{Signal: name, Value: ptr(math.Round(raw)), Baseline: ptr(math.Round(expected)), Score: round3(score), Text: text}
}

// fanSiblingGap compares the fan with the median of the fans of its
// cooling zone (fanZone), whatever the baseline: a fan already slow when
// first seen. No zone learned yet, no judgement.
func (d *Detector) fanSiblingGap(comp *component, s *series, zone []*component, now time.Time) *Reason {
	cfg := &d.cfg.Fan
	since := now.Unix() - secs(cfg.DeclineWindow)
	own, ok := medianMean(s, since)
	if !ok || own <= 0 {
		return nil
	}
	var others []float64
	for _, o := range zone {
		if _, failed := d.fanFailed(o, now); failed {
			continue
		}
		_, os := fanSeries(o)
		if m, ok := medianMean(os, since); ok && m > 0 {
			others = append(others, m)
		}
	}
	if len(others) == 0 {
		return nil
	}
	ref := median(others)
	gap := 1 - own/ref
	score := d.levelScore(gap, cfg.SiblingGap, 2*cfg.SiblingGap, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return nil
	}
	name, _ := fanSeries(comp)
	return &Reason{Signal: "sibling_gap", Value: ptr(math.Round(own)), Baseline: ptr(math.Round(ref)), Score: round3(score),
		Text: fmt.Sprintf("%s at %s %s, %s%% below the median of %d fan(s) of its cooling zone (%s %s)", nameOf(comp),
			fmtNum(math.Round(own)), unitOf(comp, name), fmtNum(math.Round(gap*100)), len(others), fmtNum(math.Round(ref)), unitOf(comp, name))}
}

// fanZone returns the fan's cooling zone among its siblings (same
// chassis, same speed reading): those of the same speed regime
// (sameRegime) whose hourly speed changes over the last ZoneWindow
// correlate with its own (zoneCorrelation). A fan sharing a model string
// is not a zone-mate for that: a CPU fan and a chassis fan of one model
// run on different loops at different speeds.
//
// The zone changes only with a new hourly slot: it is learned once per
// slot (zoneFor) and kept in memory (not saved: relearned after a
// restore).
func (d *Detector) fanZone(comp *component, s *series, sibs []*component, now int64) []*component {
	cfg := &d.cfg.Fan
	if slot := s.lastTime(); comp.zoneFor != slot || comp.zone == nil {
		comp.zoneFor, comp.zone = slot, map[string]bool{}
		for _, o := range sibs {
			if !sameRegime(comp, o) {
				continue
			}
			_, os := fanSeries(o)
			if r, n := zoneCorrelation(s, os, now-secs(cfg.ZoneWindow)); n >= cfg.ZoneMinChanges && r >= cfg.ZoneCorrelation {
				comp.zone[o.Ref.ID] = true
			}
		}
	}
	var out []*component
	for _, o := range sibs {
		if comp.zone[o.Ref.ID] {
			out = append(out, o)
		}
	}
	return out
}

// sameRegime says whether two fans can be compared speed for speed: the
// same rated speed where both report one, else the same speed for the
// same percentage (RPM over percent: the rating the source implies, as
// Redfish SpeedPercent gives both) within 10 %, else (nothing to tell)
// yes.
func sameRegime(a, b *component) bool {
	ra, rb := a.Series["rated_speed"], b.Series["rated_speed"]
	if ra != nil && rb != nil && len(ra.Buckets) > 0 && len(rb.Buckets) > 0 {
		return ra.last() == rb.last()
	}
	ia, oka := impliedRating(a)
	ib, okb := impliedRating(b)
	if oka && okb {
		return math.Abs(ia/ib-1) <= 0.1
	}
	return true
}

// impliedRating is the fan's RPM at 100 %, from its latest RPM and
// percentage.
func impliedRating(c *component) (float64, bool) {
	rpm, pct := c.Series["speed"], c.Series["speed_percent"]
	if rpm == nil || pct == nil || len(rpm.Buckets) == 0 || len(pct.Buckets) == 0 || pct.last() <= 0 || rpm.last() <= 0 {
		return 0, false
	}
	return rpm.last() / pct.last() * 100, true
}

// zoneCorrelation is the correlation of the relative changes of two
// series' hourly means from one slot to the next, over the slots since
// since both have (and their neighbours), and how many changes it is over.
// Fans on one control loop move together (a step, a ramp, a daily cycle
// the BMC follows); a fan on another loop, or a static reading, does not.
func zoneCorrelation(a, b *series, since int64) (float64, int) {
	var n, sx, sy, sxx, syy, sxy float64
	as, bs := a.window(since), b.window(since)
	j := 0
	for i := 1; i < len(as); i++ {
		p, c := &as[i-1], &as[i]
		if c.Start-p.Start != a.Width {
			continue
		}
		for j < len(bs) && bs[j].Start < p.Start {
			j++
		}
		if j+1 >= len(bs) {
			break
		}
		if bs[j].Start != p.Start || bs[j+1].Start != c.Start {
			continue
		}
		pa, ca, pb, cb := p.mean(), c.mean(), bs[j].mean(), bs[j+1].mean()
		if pa+ca <= 0 || pb+cb <= 0 {
			continue
		}
		x, y := 2*(ca-pa)/(ca+pa), 2*(cb-pb)/(cb+pb)
		n++
		sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
	}
	if n < 3 {
		return 0, int(n)
	}
	vx, vy := sxx/n-(sx/n)*(sx/n), syy/n-(sy/n)*(sy/n)
	if vx <= 1e-12 || vy <= 1e-12 {
		return 0, int(n) // a reading that does not move says nothing
	}
	return (sxy/n - (sx/n)*(sy/n)) / math.Sqrt(vx*vy), int(n)
}

// medianMean is the median of the bucket means since since.
func medianMean(s *series, since int64) (float64, bool) {
	bs := s.window(since)
	if len(bs) == 0 {
		return 0, false
	}
	ms := make([]float64, len(bs))
	for i := range bs {
		ms[i] = bs[i].mean()
	}
	return median(ms), true
}

// fanJitter compares the recent spread of the speed with the baseline's,
// both load-adjusted.
func (d *Detector) fanJitter(comp *component, s *series, lf *loadFactors, now int64) (Reason, bool) {
	cfg := &d.cfg.Fan
	ref := refBuckets(s)
	window := secs(cfg.JitterWindow)
	if !dense(s.window(now - window)) {
		// Fewer than three samples per slot: the second-difference
		// estimate is noisier (about 20% for a day of hourly samples), so
		// it gets three times the window, and below 18 samples a day it
		// cannot tell rising jitter from chance at all (with a scan every
		// 2 hours, a healthy fan's ratio to its baseline passes 2 one
		// time in a hundred): the signal is off.
		window *= 3
		if samples(s.window(now-window)) < 18*window/86400 || samples(ref) < 54 {
			return Reason{}, false
		}
	}
	recent := s.window(now - window)
	base := s.baseline()
	// Slots holding a dip are the dip signal's: left out here, so that one
	// stall is not counted twice.
	// So are slots where the fan curve stepped: their spread is the
	// control loop's.
	dip := func(b *bucket) bool { return b.Min < (1-cfg.DipDepth)*base*lf.minAt(b.Start) || lf.stepped(b.Start) }
	rj, ok1 := spread(recent, lf, dip)
	bj, ok2 := spread(ref, lf, dip)
	if !ok1 || !ok2 {
		return Reason{}, false
	}
	bj = math.Max(bj, cfg.JitterFloor*base)
	ratio := rj / bj
	watchAt := 1 + (cfg.JitterRatio-1)/2
	score := d.levelScore(ratio, watchAt, cfg.JitterRatio, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return Reason{}, false
	}
	name, _ := fanSeries(comp)
	u := unitOf(comp, name)
	return Reason{Signal: name + "_jitter", Value: ptr(round2(rj)), Baseline: ptr(round2(bj)), Score: round3(score),
		Text: fmt.Sprintf("%s speed jitter %s -> %s %s (%sx its baseline; rising instability is bearing wear; degrading at %sx)",
			nameOf(comp), fmtNum(math.Round(bj)), fmtNum(math.Round(rj)), u, fmtNum(math.Round(ratio*10)/10), fmtNum(cfg.JitterRatio))}, true
}

// refBuckets are the first three days of the retained history: the
// baseline period itself, until the history rolls past it, then the
// oldest days kept (a sliding window, so the reference never shrinks to a
// few slots).
func refBuckets(s *series) []bucket {
	if len(s.Buckets) == 0 {
		return nil
	}
	end := s.Buckets[0].Start + 3*86400
	n := 0
	for n < len(s.Buckets) && s.Buckets[n].Start < end {
		n++
	}
	return s.Buckets[:n]
}

// spread estimates the sample-to-sample scatter of a series around its
// local level, load-adjusted: the pooled within-slot standard deviation
// when the slots hold three samples or more (sampling every 20 minutes or
// faster), else the mean absolute second difference of the slot means
// (slower sampling). Both are trimmed means: the largest fifth of the
// slots (or differences) is left out, so that the few slots around a
// load step (a sibling failed and the others ramped up) do not read as
// jitter, while a worn bearing, which shakes every slot, still does; and
// means rather than medians, since with a day of slots a median is too
// noisy an estimate of scale (its ratio to the baseline's would reach 3x
// on a healthy fan now and then). Both compare like with like as long as
// the sampling interval does not change.
func spread(bs []bucket, lf *loadFactors, skip func(*bucket) bool) (float64, bool) {
	if len(bs) < 6 {
		return 0, false
	}
	if dense(bs) {
		type slot struct{ ss, df float64 }
		var slots []slot
		for i := range bs {
			b := &bs[i]
			if b.N < 3 || skip(b) {
				continue
			}
			sd, f := b.stddev(), lf.at(b.Start)
			// N*sd^2 over N-1 degrees of freedom: the unbiased variance,
			// so slots of different sizes pool fairly.
			slots = append(slots, slot{float64(b.N) * sd * sd / (f * f), float64(b.N - 1)})
		}
		slices.SortFunc(slots, func(a, b slot) int { return cmp.Compare(a.ss/a.df, b.ss/b.df) })
		slots = slots[:len(slots)-len(slots)/5]
		var ss, df float64
		for _, s := range slots {
			ss += s.ss
			df += s.df
		}
		if df < 12 {
			return 0, false
		}
		return math.Sqrt(ss / df), true
	}
	var ds []float64
	for i := 1; i+1 < len(bs); i++ {
		a, b, c := bs[i-1], bs[i], bs[i+1]
		if b.Start-a.Start != c.Start-b.Start || skip(&a) || skip(&b) || skip(&c) {
			continue // unevenly spaced (a gap in the history), or a dip: not scatter
		}
		ma, mb, mc := a.mean()/lf.at(a.Start), b.mean()/lf.at(b.Start), c.mean()/lf.at(c.Start)
		ds = append(ds, math.Abs(mb-(ma+mc)/2))
	}
	if len(ds) < 5 {
		return 0, false
	}
	slices.Sort(ds)
	ds = ds[:len(ds)-len(ds)/5]
	sum := 0.0
	for _, d := range ds {
		sum += d
	}
	return sum / float64(len(ds)), true
}

// samples counts the samples in bs.
func samples(bs []bucket) int64 {
	n := int64(0)
	for i := range bs {
		n += int64(bs[i].N)
	}
	return n
}

// dense reports whether most slots hold three samples or more.
func dense(bs []bucket) bool {
	n := 0
	for i := range bs {
		if bs[i].N >= 3 {
			n++
		}
	}
	return 2*n > len(bs)
}

// fanDips counts the slots of the dip window whose lowest sample fell far
// below the speed expected at that hour's load.
func (d *Detector) fanDips(comp *component, s *series, lf *loadFactors, now int64) (Reason, bool) {
	cfg := &d.cfg.Fan
	base := s.baseline()
	n := 0
	low := math.Inf(1)
	for _, b := range s.window(now - secs(cfg.DipWindow)) {
		exp := base * lf.minAt(b.Start)
		if b.Min < (1-cfg.DipDepth)*exp {
			n++
			low = math.Min(low, b.Min/exp)
		}
	}
	if n == 0 {
		return Reason{}, false
	}
	ps := make([]float64, n)
	for i := range ps {
		ps[i] = cfg.DipScore
	}
	score := math.Min(cfg.DipMax, noisyOr(ps...))
	name, _ := fanSeries(comp)
	return Reason{Signal: name + "_dips", Value: ptr(float64(n)), Score: round3(score),
		Text: fmt.Sprintf("%s dipped %d time(s) in %s, down to %s%% of its expected speed (momentary stalls precede a seizing bearing)",
			nameOf(comp), n, fmtSpan(cfg.DipWindow.D()), fmtNum(math.Round(low*100)))}, true
}

// fanForecast fits the load-adjusted speed of the reading that has a
// lower threshold and forecasts the crossing at the current load.
func (d *Detector) fanForecast(comp *component, lf *loadFactors, now int64, ev *evaluation) {
	cfg := &d.cfg.Fan
	for _, name := range []string{"speed", "speed_percent"} {
		s := comp.Series[name]
		t, ok := comp.Thresholds[name]
		if s == nil || !ok || len(s.Buckets) == 0 {
			continue
		}
		thr, thrName, ok := criticalThreshold(t, -1)
		if !ok || thr <= 0 {
			continue
		}
		l := loadFactors{sibs: lf.sibs, name: name, now: now, smooth: lf.smooth, step: lf.step}
		since := max(now-secs(cfg.ForecastWindow), s.BaseUntil)
		nb := l.normalized(s, since)
		if len(nb) < 12 {
			continue
		}
		f, ok := fitLine(nb, s.Width)
		if !ok || f.slope >= 0 || -f.slope < 2*f.slopeSE {
			continue
		}
		load := l.at(s.lastTime())
		fc, ok := f.crossing(now, thr/load, name)
		if !ok {
			continue
		}
		fc.Threshold = thr
		eta := fc.At.Sub(time.Unix(now, 0))
		cur := f.at(now) * load
		r := Reason{Signal: name + "_forecast", Value: ptr(round2(cur)), Threshold: ptr(thr), TrendPerDay: ptr(round2(f.slope * 86400 * load)),
			Text: fmt.Sprintf("%s speed falling %s %s/day, %s %s %s: %s to go", nameOf(comp), fmtNum(round2(-f.slope*86400*load)), unitOf(comp, name),
				thrName, fmtNum(thr), unitOf(comp, name), fmtETA(eta))}
		if h := cfg.Horizon.D(); eta <= h {
			r.Score = round3(d.cfg.Degrading + (d.cfg.Failing+0.05-d.cfg.Degrading)*(1-float64(eta)/float64(h)))
			ev.reasons = append(ev.reasons, r)
		}
		if ev.forecast == nil || fc.At.Before(ev.forecast.At) {
			ev.forecast = fc
		}
		return
	}
}

func nameOf(c *component) string {
	if c.Ref.Name != "" {
		return c.Ref.Name
	}
	return c.Ref.ID
}

// fmtSpan writes a window: "24 h", "7 days".
func fmtSpan(d time.Duration) string {
	if d < 72*time.Hour {
		return fmt.Sprintf("%s h", fmtNum(math.Round(d.Hours())))
	}
	return fmtDays(math.Round(d.Hours() / 24))
}
