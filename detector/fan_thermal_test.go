package detector

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// loneFan is a chassis with one fan whose BMC drives it from the inlet
// temperature (a daily cycle of ±4 °C, and a week 6 °C warmer from day 8
// to day 12); wear takes up to a fraction off its speed from day 10 to 18.
func loneFan(seed int64, wear float64) func(time.Duration) []model.Component {
	rng := rand.New(rand.NewSource(seed))
	return func(t time.Duration) []model.Component {
		temp := 24 + 4*daily(t) + 6*ramp(t, 8*day, 9*day) - 6*ramp(t, 12*day, 13*day)
		rpm := (1500 + 120*(temp-24)) * (1 - wear*ramp(t, 10*day, 18*day))
		return []model.Component{
			fanComp("a", rpm*(1+0.015*rng.NormFloat64()), 4900),
			{Kind: model.KindTemperature, ID: "inlet", Name: "Inlet", Chassis: testChassis, Health: model.HealthOK,
				Readings: []model.Reading{{Name: "temperature", Value: model.Float(temp + 0.2*rng.NormFloat64()), Unit: "Cel"}}},
		}
	}
}

// A lone fan following its chassis's temperature is judged at comparable
// temperature: its daily cycle and a hot week raise nothing. Without the
// covariate (the fit switched off) the same fan raises a false alarm, so
// the test can tell.
func TestLoneFanFollowsTemperature(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	if evs := run(d, 20*day, 10*time.Minute, loneFan(1, 0)); len(evs) != 0 {
		t.Errorf("events on a healthy lone fan: %+v", evs)
	}
	a := comp(t, d, "a")
	if a.Thermal == nil || a.Thermal.Sensor != "inlet" || a.Thermal.R2 < 0.9 || a.Thermal.Slope <= 0 {
		t.Errorf("thermal fit %+v, want the inlet sensor", a.Thermal)
	}

	cfg := DefaultConfig()
	cfg.Fan.ThermalMinR2 = 1.01 // no fit can pass
	off, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if evs := run(off, 20*day, 10*time.Minute, loneFan(1, 0)); len(eventsFor(evs, "a", EventRaised)) == 0 {
		t.Error("without the temperature covariate the lone fan raised nothing: the test no longer shows what the covariate buys")
	}
}

// A lone fan that loses a fifth of its speed at the same temperatures is
// caught, and its reason says what it was compared with.
func TestLoneFanDeclineAtComparableTemperature(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	evs := run(d, 20*day, 10*time.Minute, loneFan(2, 0.25))
	raised := eventsFor(evs, "a", EventRaised)
	if len(raised) != 1 {
		t.Fatalf("raised %+v, want one", raised)
	}
	if at := raised[0].Time.Sub(t0); at < 10*day || at > 17*day {
		t.Errorf("raised at %v, want while the speed falls (day 10-18)", at)
	}
	r, ok := reason(comp(t, d, "a"), "speed")
	if !ok || !strings.Contains(r.Text, "at comparable temperature: Inlet at") {
		t.Errorf("speed reason %+v", r)
	}
}

// A lone fan with no temperature sensor (or none that explains it) keeps
// its plain baseline, and the fit survives a restart.
func TestLoneFanFitSavedAndAbsent(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	build := loneFan(3, 0)
	run(d, 4*day, 10*time.Minute, build)
	st, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(DefaultConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := comp(t, d, "a").Thermal, comp(t, r, "a").Thermal; a == nil || b == nil || *a != *b {
		t.Errorf("fit %+v, restored %+v", a, b)
	}

	alone := mustNew(t)
	run(alone, 4*day, 10*time.Minute, func(t time.Duration) []model.Component { return build(t)[:1] })
	if th := comp(t, alone, "a").Thermal; th == nil || th.Sensor != "" {
		t.Errorf("fit without a temperature sensor %+v, want tried and empty", th)
	}
}
