package detector

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// psuComp is a PSU of the test chassis with the given readings.
func psuComp(id string, health model.Health, readings map[string]float64) model.Component {
	c := model.Component{Kind: model.KindPSU, ID: id, Name: "Power Supply " + id, Chassis: testChassis, Health: health}
	for _, k := range sortedKeys(readings) {
		c.Readings = append(c.Readings, model.Reading{Name: k, Value: model.Float(readings[k])})
	}
	return c
}

// Efficiency (output/input power) falling below its baseline at the same
// output is caught; a load that changes at unchanged efficiency is not.
func TestPSUEfficiencyDrift(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		eff, out func(time.Duration) float64
		want     bool
	}{
		{"falling efficiency", func(t time.Duration) float64 { return 0.87 - 0.08*ramp(t, 4*day, 8*day) },
			func(t time.Duration) float64 { return 300 + 40*daily(t) }, true},
		{"load change", func(time.Duration) float64 { return 0.87 },
			func(t time.Duration) float64 { return 300 - 120*ramp(t, 5*day, 5*day+time.Hour) + 40*daily(t) }, false},
	} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(7))
		run(d, 9*day, 10*time.Minute, func(t time.Duration) []model.Component {
			out := tc.out(t) + 3*rng.NormFloat64()
			return []model.Component{psuComp("PSU1", model.HealthOK, map[string]float64{
				"output_power": out, "input_power": out / tc.eff(t), "input_voltage": 230 + rng.NormFloat64(), "capacity": 800})}
		})
		r, ok := reason(comp(t, d, "PSU1"), "efficiency")
		if ok != tc.want || ok && (r.Score < d.cfg.Degrading || *r.Baseline-*r.Value < 0.06) {
			t.Errorf("%s: efficiency reason %v %+v", tc.name, ok, r)
		}
	}
}

// The input voltage is judged against the nominal voltage its baseline
// implies: a 230 V feed sagging to 200 V is out of band; a steady 208 V
// feed is not.
func TestPSUInputVoltageBand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    func(time.Duration) float64
		want bool
	}{
		{"230 V sagging", func(t time.Duration) float64 { return 229 - 30*ramp(t, 4*day, 5*day) }, true},
		{"208 V steady", func(time.Duration) float64 { return 207 }, false},
		{"120 V steady", func(time.Duration) float64 { return 119.3 }, false},
		// The Intel S2600BPB capture: a PSU that has always read 572 V is
		// a misreporting sensor, not a feed 106 % off 277 V.
		{"572 V steady (no mains runs there)", func(time.Duration) float64 { return 572 }, false},
		// 265 V is within the band of 277 V.
		{"265 V steady", func(time.Duration) float64 { return 265 }, false},
	} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(8))
		run(d, 6*day, 10*time.Minute, func(t time.Duration) []model.Component {
			return []model.Component{psuComp("PSU1", model.HealthOK, map[string]float64{
				"output_power": 300, "input_power": 345, "input_voltage": tc.v(t) + 0.8*rng.NormFloat64()})}
		})
		r, ok := reason(comp(t, d, "PSU1"), "input_voltage")
		if ok != tc.want || ok && (r.Score < d.cfg.Degrading || *r.Baseline != 230) {
			t.Errorf("%s: input voltage reason %v %+v", tc.name, ok, r)
		}
	}
}

// A PSU input sensor that has always read 13 V (the Intel S2600BPB
// capture) names no mains voltage: its steady readings are not losses.
func TestPSUImplausibleInputIsNotLost(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{13, 572} {
		d := mustNew(t)
		run(d, 3*day, 2*time.Hour, func(time.Duration) []model.Component {
			return []model.Component{psuComp("PSU1", model.HealthOK, map[string]float64{"input_voltage": v})}
		})
		if r, ok := reason(comp(t, d, "PSU1"), "input_loss"); ok {
			t.Errorf("%g V steady: %+v", v, r)
		}
	}
}

// Input lost once is watched (a utility blip); lost again within the
// recurrence window it is degrading, and each loss seen both in the
// readings and in the log counts once.
func TestPSUInputLossRecurs(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	losses := []time.Duration{4 * day, 6 * day}
	var evs []Event
	for at := time.Duration(0); at <= 7*day; at += 10 * time.Minute {
		v, p := 119.3, 345.0
		s := &model.Snapshot{Target: "t", Time: t0.Add(at)}
		for _, l := range losses {
			if at >= l && at < l+20*time.Minute {
				v, p = 0, 0
			}
			if at >= l {
				s.Events = append(s.Events, model.Event{Time: t0.Add(l), Severity: model.SeverityWarning, Component: "PSU1",
					Message: "Loss of input power at 'PSU 1'.", ID: l.String(), Source: "log"})
			}
		}
		s.Components = []model.Component{psuComp("PSU1", model.HealthOK, map[string]float64{"input_voltage": v, "input_power": p, "output_power": 300})}
		evs = append(evs, d.Observe(s)...)
		if at == 5*day {
			if r, ok := reason(comp(t, d, "PSU1"), "input_loss"); !ok || *r.Value != 1 || r.Score >= d.cfg.Degrading {
				t.Errorf("after one loss: %+v", r)
			}
		}
	}
	c := comp(t, d, "PSU1")
	r, ok := reason(c, "input_loss")
	if !ok || *r.Value != 2 || r.Score < d.cfg.Degrading || !strings.Contains(r.Text, "log:") {
		t.Errorf("after two losses: %+v", r)
	}
	if _, ok := reason(c, "log_input_lost"); ok {
		t.Error("the log entries are counted again by the event-log signal")
	}
	if got := eventsFor(evs, "PSU1", EventRaised); len(got) != 1 {
		t.Errorf("raised events %+v", got)
	}
}

// A PSU whose sibling fails is one failure from an outage; the failed one
// is failed.
func TestPSURedundancyLost(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	evs := run(d, 5*day, 10*time.Minute, func(t time.Duration) []model.Component {
		h := model.HealthOK
		if t >= 4*day {
			h = model.HealthCritical
		}
		r := map[string]float64{"output_power": 150, "input_power": 172, "input_voltage": 119.3}
		return []model.Component{psuComp("PSU1", h, r), psuComp("PSU2", model.HealthOK, r)}
	})
	if c := comp(t, d, "PSU1"); c.State != StateFailed {
		t.Errorf("PSU1 %s, want failed", c.State)
	}
	c2 := comp(t, d, "PSU2")
	if r, ok := reason(c2, "redundancy"); !ok || c2.State != StateDegrading || !strings.Contains(r.Text, "alone") {
		t.Errorf("PSU2 %s %+v", c2.State, c2.Reasons)
	}
	if len(eventsFor(evs, "PSU2", EventRaised)) != 1 || len(eventsFor(evs, "PSU1", EventRaised)) != 1 {
		t.Errorf("events %+v", evs)
	}
}

// An output rail sensor of the PSU ("Power Supply #1 12V Output Voltage")
// sagging below its baseline is the PSU's output sag.
func TestPSUOutputRailSag(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(9))
	run(d, 7*day, 10*time.Minute, func(t time.Duration) []model.Component {
		v := 12.06*(1-0.04*ramp(t, 4*day, 6*day)) + 0.01*rng.NormFloat64()
		rail := model.Component{Kind: model.KindVoltage, ID: testChassis + "/Sensors/PS1Out12V", Name: "Power Supply #1 12V Output Voltage",
			Chassis: testChassis, Health: model.HealthOK, Readings: []model.Reading{{Name: "voltage", Value: model.Float(v), Unit: "V"}}}
		other := rail
		other.ID, other.Name = testChassis+"/Sensors/PS2Out12V", "Power Supply #2 12V Output Voltage"
		other.Readings = []model.Reading{{Name: "voltage", Value: model.Float(12.05), Unit: "V"}}
		psu := psuComp("Bay1", model.HealthOK, map[string]float64{"output_power": 300, "input_power": 345})
		psu.ID = testChassis + "/PowerSubsystem/PowerSupplies/Bay1"
		psu.Name = "Power Supply Bay 1"
		psu2 := psu
		psu2.ID, psu2.Name = testChassis+"/PowerSubsystem/PowerSupplies/Bay2", "Power Supply Bay 2"
		return []model.Component{psu, psu2, rail, other}
	})
	r, ok := reason(comp(t, d, testChassis+"/PowerSubsystem/PowerSupplies/Bay1"), "output_voltage")
	if !ok || r.Score < d.cfg.Degrading || !strings.Contains(r.Text, "12V Output") {
		t.Errorf("Bay1 sag reason %+v", r)
	}
	if r, ok := reason(comp(t, d, testChassis+"/PowerSubsystem/PowerSupplies/Bay2"), "output_voltage"); ok {
		t.Errorf("Bay2 took Bay1's rail: %+v", r)
	}
}

// The PSU's temperature rising above its baseline, and its own fan slowing.
func TestPSUTemperatureAndFan(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	run(d, 8*day, 30*time.Minute, func(t time.Duration) []model.Component {
		x := ramp(t, 4*day, 7*day)
		return []model.Component{psuComp("PSU1", model.HealthOK, map[string]float64{
			"output_power": 300 + 30*daily(t), "input_power": (300 + 30*daily(t)) / 0.87, "temperature": 42 + 1.5*daily(t) + 12*x,
			"fan_speed_percent": 60 - 30*x})}
	})
	c := comp(t, d, "PSU1")
	for _, sig := range []string{"temperature", "fan_speed_percent"} {
		if r, ok := reason(c, sig); !ok || r.Score < d.cfg.Degrading {
			t.Errorf("%s reason %+v", sig, r)
		}
	}
}
