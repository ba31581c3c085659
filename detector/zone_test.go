package detector

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// fanSpec is one fan of a simulated chassis.
type fanSpec struct {
	id     string
	rated  float64 // RPM at 100 %, 0: not reported
	factor float64 // this fan's speed at a given duty relative to its rating
	// percent: the fan also reports speed_percent (its speed as a
	// percentage of its rating, as Redfish SpeedPercent.Reading does).
	percent bool
	model   string
}

// chassisFans builds, at each time, the fans of specs driven at duty(t)
// (a fraction of their rating; duty may differ per fan: a zone of its
// own), each with 1.5 % sample noise; mod, when set, changes one fan's
// speed (a fault).
func chassisFans(rng *rand.Rand, specs []fanSpec, duty func(id string, t time.Duration) float64,
	mod func(id string, t time.Duration, rpm float64) float64) func(time.Duration) []model.Component {
	return func(t time.Duration) []model.Component {
		var cs []model.Component
		for _, f := range specs {
			rated := cmpOr(f.rated, 4900)
			rpm := duty(f.id, t) * rated * cmpOr(f.factor, 1)
			if mod != nil {
				rpm = mod(f.id, t, rpm)
			}
			rpm *= 1 + 0.015*rng.NormFloat64()
			c := fanComp(f.id, math.Round(rpm), f.rated)
			c.Inventory.Model = f.model
			if f.percent {
				c.Readings = append(c.Readings, model.Reading{Name: "speed_percent", Value: model.Float(math.Round(rpm / rated * 100)), Unit: "%"})
			}
			cs = append(cs, c)
		}
		return cs
	}
}

func cmpOr(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// steppedDuty is a BMC fan curve in steps (40 %, 62 %, 90 %) that follows
// the working day, with a quieter weekend, the steps falling at odd
// minutes (inside an hourly slot, not on its edge).
func steppedDuty(_ string, t time.Duration) float64 {
	at := t0.Add(t)
	h := float64(at.Hour()) + float64(at.Minute())/60
	if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
		if h >= 12.3 && h < 16.7 {
			return 0.62
		}
		return 0.40
	}
	switch {
	case h < 7.2 || h >= 22.5:
		return 0.40
	case h < 9.4:
		return 0.62
	case h < 12.1:
		return 0.90
	case h < 13.6:
		return 0.62
	case h < 17.8:
		return 0.90
	default:
		return 0.62
	}
}

var steppedFans = []fanSpec{{id: "a", factor: 1}, {id: "b", factor: 1.02}, {id: "c", factor: 0.97}, {id: "d", factor: 1.01}}

// Fans of a chassis stepping together between the levels of a BMC's fan
// curve (several times a day, a weekday/weekend pattern) for 30 days:
// the steps are the control loop, not dips, jitter or a decline.
func TestFanSteppedCurveIsQuiet(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(11))
	evs := run(d, 30*day, 10*time.Minute, chassisFans(rng, steppedFans, steppedDuty, nil))
	if len(evs) != 0 {
		t.Errorf("%d events on fans stepping together, first %+v", len(evs), evs[0])
	}
	for _, f := range steppedFans {
		if c := comp(t, d, f.id); c.Risk >= d.cfg.Watch {
			t.Errorf("fan %s risk %.2f: %+v", f.id, c.Risk, c.Reasons)
		}
	}
}

// towerFans are the fans of the DMTF public-tower mockup: one model
// string for all, no rated speed; the CPU fans run at 1490 RPM, the
// chassis fans at 2200 and 2400, all at 45 %. CPU1 reports its percentage
// only.
func towerFans(speeds func(id string, t time.Duration) (rpm, pct float64)) func(time.Duration) []model.Component {
	return func(t time.Duration) []model.Component {
		var cs []model.Component
		for _, id := range []string{"CPU1", "CPU2", "Bay1", "Bay2"} {
			rpm, pct := speeds(id, t)
			c := model.Component{Kind: model.KindFan, ID: "/redfish/v1/Chassis/Tower/ThermalSubsystem/Fans/" + id, Name: "Fan " + id,
				Chassis: "/redfish/v1/Chassis/Tower", Health: model.HealthOK, State: "Enabled",
				Inventory: model.Inventory{Manufacturer: "Contoso Fans", Model: "RKS-440DC", PartNumber: "23456-133"}}
			if id != "CPU1" {
				c.Readings = append(c.Readings, model.Reading{Name: "speed", Value: model.Float(rpm), Unit: "RPM"})
			}
			c.Readings = append(c.Readings, model.Reading{Name: "speed_percent", Value: model.Float(pct), Unit: "%"})
			cs = append(cs, c)
		}
		return cs
	}
}

var towerRPM = map[string]float64{"CPU1": 1490, "CPU2": 1490, "Bay1": 2200, "Bay2": 2400}

// The DMTF public-tower's fans share a model string, but the CPU fan runs
// at 1490 RPM and the chassis fans at 2200/2400: not siblings. Whether the
// capture is replayed as is (nothing moves: no history says they share a
// loop) or lives (the CPU fans follow the CPU's load, the chassis fans the
// inlet, on their own loops; or one loop, where the percentages say the
// ratings differ), no sibling gap is judged and nothing is raised.
func TestFanCoolingZones(t *testing.T) {
	t.Parallel()
	cpu := func(t time.Duration) float64 { return 1 + 0.12*math.Sin(2*math.Pi*(t-14*time.Hour).Hours()/24) }
	inlet := func(t time.Duration) float64 { return 1 + 0.06*daily(t) + 0.1*steppedDuty("", t) }
	for _, tc := range []struct {
		name string
		load func(id string, t time.Duration) float64
	}{
		{"static capture", func(string, time.Duration) float64 { return 1 }},
		{"two loops", func(id string, t time.Duration) float64 {
			if strings.HasPrefix(id, "CPU") {
				return cpu(t)
			}
			return inlet(t)
		}},
		{"one loop", func(_ string, t time.Duration) float64 { return inlet(t) }},
	} {
		rng := rand.New(rand.NewSource(13))
		d := mustNew(t)
		static := tc.name == "static capture"
		evs := run(d, 6*day, 10*time.Minute, towerFans(func(id string, t time.Duration) (float64, float64) {
			rpm := towerRPM[id] * tc.load(id, t)
			if !static {
				rpm *= 1 + 0.015*rng.NormFloat64()
			}
			return math.Round(rpm), math.Round(45 * rpm / towerRPM[id])
		}))
		if len(evs) != 0 {
			t.Errorf("%s: events %+v", tc.name, evs)
		}
		for _, c := range d.comps {
			if r, ok := reason(c, "sibling_gap"); ok {
				t.Errorf("%s: %s: %+v", tc.name, c.Ref.ID, r)
			}
			if c.Risk >= d.cfg.Watch {
				t.Errorf("%s: %s risk %.2f: %+v", tc.name, c.Ref.ID, c.Risk, c.Reasons)
			}
		}
	}
}

// One fan of four stepping together loses 1 % a day relative to its
// siblings from day 3: still warned, once, and the others stay quiet.
func TestFanSteppedCurveDecline(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(14))
	const from = 3 * day
	lossAt := func(t time.Duration) float64 { return 0.01 * max(0, (t-from).Hours()/24) }
	evs := run(d, 30*day, 10*time.Minute, chassisFans(rng, steppedFans, steppedDuty, func(id string, t time.Duration, rpm float64) float64 {
		if id == "a" {
			return rpm * (1 - lossAt(t))
		}
		return rpm
	}))
	raised := eventsFor(evs, "a", EventRaised)
	if len(raised) != 1 {
		t.Fatalf("fan a: %d raised events, want 1: %+v", len(raised), raised)
	}
	at := raised[0].Time.Sub(t0)
	loss := lossAt(at)
	// Lead time: before the fan would cross a lower critical threshold
	// of 25 % of its rating at the curve's lowest step (40 %), i.e. once
	// it has lost 37.5 %.
	crossAt := from + time.Duration(0.375/0.01*float64(day))
	t.Logf("fan a warned on day %.2f, %.1f %% below its siblings (%s); %.1f days before it would cross 25 %% at the 40 %% step (day %.1f)",
		at.Hours()/24, loss*100, raised[0].Reasons[0].Text, (crossAt-at).Hours()/24, crossAt.Hours()/24)
	if loss > 0.17 {
		t.Errorf("warned only after a %.0f %% loss", loss*100)
	}
	for _, id := range []string{"b", "c", "d"} {
		if got := eventsFor(evs, id, ""); len(got) != 0 {
			t.Errorf("fan %s (healthy) has events %+v", id, got)
		}
	}
}
