package detector

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// The helpers below build small synthetic snapshot sequences for the
// fan, PSU, drift and event-log tests.

const testChassis = "/redfish/v1/Chassis/1U"

// fanComp is a fan of the test chassis turning at rpm.
func fanComp(id string, rpm, rated float64) model.Component {
	c := model.Component{Kind: model.KindFan, ID: id, Name: "Fan " + id, Chassis: testChassis, Health: model.HealthOK,
		Readings: []model.Reading{{Name: "speed", Value: model.Float(rpm), Unit: "RPM"}}}
	if rated > 0 {
		c.Readings = append(c.Readings, model.Reading{Name: "rated_speed", Value: model.Float(rated), Unit: "RPM"})
	}
	return c
}

// run feeds one snapshot every step from t0 for the given duration and
// returns the events.
func run(d *Detector, dur, step time.Duration, build func(t time.Duration) []model.Component) []Event {
	var out []Event
	for t := time.Duration(0); t <= dur; t += step {
		out = append(out, d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(t), Components: build(t)})...)
	}
	return out
}

// comp returns the detector's view of a component of target "t".
func comp(t *testing.T, d *Detector, id string) *component {
	t.Helper()
	c := d.comps[compKey{"t", id}]
	if c == nil {
		t.Fatalf("no component %s", id)
	}
	return c
}

// reason returns the component's current reason for signal, if any.
func reason(c *component, signal string) (Reason, bool) {
	for _, r := range c.Reasons {
		if r.Signal == signal {
			return r, true
		}
	}
	return Reason{}, false
}

func eventsFor(evs []Event, id string, typ EventType) []Event {
	var out []Event
	for _, e := range evs {
		if e.Component.ID == id && (typ == "" || e.Type == typ) {
			out = append(out, e)
		}
	}
	return out
}

const day = 24 * time.Hour

// daily is a daily cycle in [-1, 1], warmest mid-afternoon.
func daily(t time.Duration) float64 { return math.Sin(2 * math.Pi * (t - 9*time.Hour).Hours() / 24) }

// ramp goes from 0 to 1 between from and to.
func ramp(t, from, to time.Duration) float64 {
	return math.Max(0, math.Min(1, float64(t-from)/float64(to-from)))
}

// fans is a chassis of four fans at their nominal speeds, all following
// load (a factor), each with its own 1.5 % jitter; mod changes fan a.
func fans(rng *rand.Rand, load func(time.Duration) float64, mod func(t time.Duration, rpm, jitter float64) (float64, float64)) func(time.Duration) []model.Component {
	return func(t time.Duration) []model.Component {
		var cs []model.Component
		for _, f := range []struct {
			id         string
			rpm, rated float64
		}{{"a", 2200, 4900}, {"b", 2400, 4900}, {"c", 1490, 3300}, {"d", 1490, 3300}} {
			rpm, jitter := f.rpm*load(t), 0.015
			if f.id == "a" && mod != nil {
				rpm, jitter = mod(t, rpm, jitter)
			}
			cs = append(cs, fanComp(f.id, rpm*(1+jitter*rng.NormFloat64()), f.rated))
		}
		return cs
	}
}

// A BMC ramping all its fans with the load (a daily cycle, then a load
// that doubles) is no decline: speeds are compared at comparable load.
func TestFanLoadChangesAreNotDecline(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(1))
	load := func(t time.Duration) float64 { return (1 + 0.15*daily(t)) * (1 + ramp(t, 6*day, 7*day)) }
	evs := run(d, 12*day, 10*time.Minute, fans(rng, load, nil))
	if len(evs) != 0 {
		t.Fatalf("events on fans that follow the load: %+v", evs)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if c := comp(t, d, id); c.Risk >= d.cfg.Watch {
			t.Errorf("fan %s risk %.2f: %+v", id, c.Risk, c.Reasons)
		}
	}
}

// A fan that loses speed while its siblings follow a changing load is
// caught against its own baseline at comparable load.
func TestFanDeclineAgainstBaseline(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(2))
	load := func(t time.Duration) float64 { return 1 + 0.15*daily(t) + 0.3*ramp(t, 5*day, 6*day) }
	evs := run(d, 10*day, 10*time.Minute, fans(rng, load, func(t time.Duration, rpm, j float64) (float64, float64) {
		return rpm * (1 - 0.25*ramp(t, 4*day, 9*day)), j
	}))
	a := comp(t, d, "a")
	r, ok := reason(a, "speed")
	if !ok {
		t.Fatalf("no speed reason: %+v", a.Reasons)
	}
	if r.Score < d.cfg.Degrading || !strings.Contains(r.Text, "below its baseline at comparable load") || r.Baseline == nil || r.Value == nil {
		t.Errorf("reason %+v", r)
	}
	if got := eventsFor(evs, "a", EventRaised); len(got) != 1 {
		t.Errorf("fan a: %d raised events, want 1: %+v", len(got), evs)
	}
	for _, id := range []string{"b", "c", "d"} {
		if got := eventsFor(evs, id, ""); len(got) != 0 {
			t.Errorf("fan %s (healthy) has events %+v", id, got)
		}
	}
}

// Rising jitter (bearing wear) at unchanged speed: seen with 10-minute
// samples (the within-slot spread) and with hourly ones (the slot-to-slot
// second difference).
func TestFanJitterRises(t *testing.T) {
	t.Parallel()
	for _, step := range []time.Duration{10 * time.Minute, time.Hour} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(3))
		flat := func(time.Duration) float64 { return 1 }
		run(d, 10*day, step, fans(rng, flat, func(t time.Duration, rpm, j float64) (float64, float64) {
			return rpm, j * (1 + 4*ramp(t, 4*day, 8*day))
		}))
		r, ok := reason(comp(t, d, "a"), "speed_jitter")
		if !ok || r.Score < d.cfg.Degrading || *r.Value < 3**r.Baseline {
			t.Errorf("step %v: jitter reason %+v, want degrading at >= 3x", step, r)
		}
		if _, ok := reason(comp(t, d, "b"), "speed_jitter"); ok {
			t.Errorf("step %v: steady fan b has a jitter reason", step)
		}
	}
}

// A fan already slow when first seen is caught by its gap to the fans of
// its cooling zone (same rating, speeds moving together), once enough
// history says which fans those are, and not before: a fan of another
// rating is never compared.
func TestFanSiblingGap(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(12))
	specs := []fanSpec{{id: "a", rated: 4900, factor: 0.65}, {id: "b", rated: 4900}, {id: "c", rated: 3300, factor: 0.96}}
	duty := func(_ string, t time.Duration) float64 { return 0.47 * (1 + 0.15*daily(t)) }
	build := chassisFans(rng, specs, duty, nil)
	evs := run(d, 12*time.Hour, 10*time.Minute, build)
	if r, ok := reason(comp(t, d, "a"), "sibling_gap"); ok || len(evs) > 0 {
		t.Fatalf("sibling gap judged before the zone is learned: %+v, events %+v", r, evs)
	}
	for at := 12*time.Hour + 10*time.Minute; at <= 2*day; at += 10 * time.Minute {
		d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Components: build(at)})
	}
	r, ok := reason(comp(t, d, "a"), "sibling_gap")
	if !ok || r.Score < d.cfg.Degrading || *r.Baseline < 2000 || !strings.Contains(r.Text, "cooling zone") {
		t.Fatalf("sibling gap reason %+v (%v)", r, comp(t, d, "a").Reasons)
	}
	// c turns at the speed of its own kind, not of the chassis fans.
	if _, ok := reason(comp(t, d, "c"), "sibling_gap"); ok {
		t.Error("fan c compared with fans of another rating")
	}
}

// Momentary stalls are counted; two in a day are degrading.
func TestFanDips(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(4))
	flat := func(time.Duration) float64 { return 1 }
	run(d, 6*day, 10*time.Minute, fans(rng, flat, func(t time.Duration, rpm, j float64) (float64, float64) {
		if t > 5*day && t%(8*time.Hour) == 0 {
			return rpm * 0.5, 0
		}
		return rpm, j
	}))
	r, ok := reason(comp(t, d, "a"), "speed_dips")
	if !ok || *r.Value < 2 || r.Score < d.cfg.Degrading {
		t.Fatalf("dips reason %+v", r)
	}
}

// A declining fan gets a forecast of its lower critical threshold with an
// uncertainty band, and the forecast scores more as it nears.
func TestFanForecastCrossing(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(5))
	thr := &model.Thresholds{LowerNonCritical: model.Float(25), LowerCritical: model.Float(20)}
	run(d, 9*day, 10*time.Minute, func(t time.Duration) []model.Component {
		cs := fans(rng, func(time.Duration) float64 { return 1 }, func(t time.Duration, rpm, j float64) (float64, float64) {
			return rpm * (1 - 0.45*ramp(t, 4*day, 12*day)), j
		})(t)
		for i := range cs {
			rated := *cs[i].Readings[1].Value
			pct := *cs[i].Readings[0].Value * 100 / rated
			cs[i].Readings = append(cs[i].Readings, model.Reading{Name: "speed_percent", Value: model.Float(pct), Unit: "%", Thresholds: thr})
		}
		return cs
	})
	a := comp(t, d, "a")
	fc := a.Forecast
	if fc == nil || fc.Signal != "speed_percent" || fc.Threshold != 20 {
		t.Fatalf("forecast %+v (%+v)", fc, a.Reasons)
	}
	// Fan a reaches 20 % (of 4900 RPM: 980 RPM) at 2200*(1-0.45x) = 980,
	// x = 1.23: day 13.9.
	want := t0.Add(4*day + time.Duration(1.232*float64(8*day)))
	if d := fc.At.Sub(want); d < -2*day || d > 2*day || fc.Earliest.After(fc.At) {
		t.Errorf("forecast at %v (earliest %v), want about %v", fc.At, fc.Earliest, want)
	}
	if r, ok := reason(a, "speed_percent_forecast"); !ok || r.Score < d.cfg.Degrading || r.Threshold == nil || *r.Threshold != 20 {
		t.Errorf("forecast reason %+v", r)
	}
}

// A stopped fan is failed (critical at once); its siblings note the lost
// redundancy but are not raised.
func TestFanStoppedIsFailed(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(6))
	flat := func(time.Duration) float64 { return 1 }
	evs := run(d, 5*day, 10*time.Minute, fans(rng, flat, func(t time.Duration, rpm, j float64) (float64, float64) {
		if t >= 4*day {
			return 0, 0
		}
		return rpm, j
	}))
	a := comp(t, d, "a")
	if a.State != StateFailed {
		t.Errorf("state %s, want failed: %+v", a.State, a.Reasons)
	}
	got := eventsFor(evs, "a", "")
	if len(got) != 1 || got[0].Type != EventRaised || got[0].Severity != model.SeverityCritical {
		t.Errorf("events %+v, want one critical raised", got)
	}
	if got[0].Time.Sub(t0.Add(4*day)) > 30*time.Minute {
		t.Errorf("raised at %v, want within two scans of the stop", got[0].Time)
	}
	b := comp(t, d, "b")
	if r, ok := reason(b, "redundancy"); !ok || b.State.Level() > StateWatch.Level() {
		t.Errorf("fan b: redundancy reason %+v, state %s", r, b.State)
	}
}
