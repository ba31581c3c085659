package detector

import (
	"math/rand"
	"regexp"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// sensorComp is a sensor of the test chassis with one reading.
func sensorComp(kind model.Kind, id, name, reading, unit string, v float64, thr *model.Thresholds) model.Component {
	return model.Component{Kind: kind, ID: id, Name: name, Chassis: testChassis, Health: model.HealthOK,
		Readings: []model.Reading{{Name: reading, Value: model.Float(v), Unit: unit, Thresholds: thr}}}
}

var cpuThresholds = &model.Thresholds{UpperNonCritical: model.Float(85), UpperCritical: model.Float(90), UpperFatal: model.Float(95)}

// A CPU warming toward its critical threshold gets a forecast of the
// crossing and a reason that says where it started, where it is, the
// threshold and the time left.
func TestTemperatureForecast(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(10))
	// 55 C, then +3 C a day from day 4 (with a daily cycle and noise):
	// 90 C at about day 15.7.
	evs := run(d, 10*day, 10*time.Minute, func(at time.Duration) []model.Component {
		v := 55 + 3*daily(at) + 0.4*rng.NormFloat64()
		if at > 4*day {
			v += 3 * (at - 4*day).Hours() / 24
		}
		return []model.Component{sensorComp(model.KindTemperature, "cpu", "CPU1 Temp", "temperature", "Cel", v, cpuThresholds)}
	})
	c := comp(t, d, "cpu")
	r, ok := reason(c, "temperature")
	if !ok || r.Score < d.cfg.Degrading || r.TrendPerDay == nil || *r.TrendPerDay < 2 || *r.TrendPerDay > 4 {
		t.Fatalf("reason %+v", r)
	}
	if !regexp.MustCompile(`^CPU1 Temp 5\d(\.\d+)? -> [67]\d(\.\d+)? C in 10 days, upper critical 90 C, ~[\d.]+ (days|hours) to go$`).MatchString(r.Text) {
		t.Errorf("text %q", r.Text)
	}
	want := t0.Add(4*day + 35*day/3) // (90-55)/3 days after day 4
	if c.Forecast == nil || c.Forecast.Threshold != 90 || c.Forecast.At.Sub(want).Abs() > 2*day {
		t.Errorf("forecast %+v, want about %v", c.Forecast, want)
	}
	if len(eventsFor(evs, "cpu", EventRaised)) != 1 {
		t.Errorf("events %+v", evs)
	}
}

// A noisy sensor with a big daily cycle that goes nowhere raises nothing
// in a month, and neither does one that sits steadily past its caution
// threshold (the BMC's own warning, watched).
func TestNoisySensorDoesNotFlap(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(11))
	weekly := func(at time.Duration) float64 { return 4 * daily(at/7) }
	evs := run(d, 30*day, 10*time.Minute, func(at time.Duration) []model.Component {
		return []model.Component{
			sensorComp(model.KindTemperature, "cpu", "CPU1 Temp", "temperature", "Cel", 60+10*daily(at)+weekly(at)+2*rng.NormFloat64(), cpuThresholds),
			sensorComp(model.KindVoltage, "12v", "12V", "voltage", "V", 12.05+0.03*rng.NormFloat64(),
				&model.Thresholds{LowerNonCritical: model.Float(11.85), LowerCritical: model.Float(11.5), UpperCritical: model.Float(12.5)}),
			sensorComp(model.KindTemperature, "inlet", "Inlet", "temperature", "Cel", 31+rng.NormFloat64()*0.2,
				&model.Thresholds{UpperNonCritical: model.Float(30), UpperCritical: model.Float(40)}),
		}
	})
	if len(evs) != 0 {
		t.Errorf("events: %+v", evs)
	}
	if c := comp(t, d, "inlet"); c.State != StateWatch {
		t.Errorf("inlet past its caution threshold: %s %+v", c.State, c.Reasons)
	}
}

// A 12 V rail sagging toward its lower critical threshold is degrading
// once within the margin, well before the BMC's critical.
func TestVoltageSagTowardLowerCritical(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(12))
	thr := &model.Thresholds{LowerNonCritical: model.Float(11.85), LowerCritical: model.Float(11.5), UpperCritical: model.Float(12.5)}
	var raised time.Time
	for at := time.Duration(0); at <= 14*day; at += 10 * time.Minute {
		v := 12.06 - 0.04*(at-4*day).Hours()/24*ramp(at, 4*day, 4*day+time.Second) + 0.01*rng.NormFloat64()
		for _, e := range d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at),
			Components: []model.Component{sensorComp(model.KindVoltage, "12v", "PS1 12V", "voltage", "V", v, thr)}}) {
			if e.Type == EventRaised && raised.IsZero() {
				raised = e.Time
			}
		}
	}
	// 11.5 V is reached at day 4 + 0.56/0.04 = day 18.
	if raised.IsZero() || t0.Add(18*day).Sub(raised) < 3*day {
		t.Errorf("raised at %v, want days before day 18", raised)
	}
	if c := comp(t, d, "12v"); c.Forecast == nil || c.Forecast.Threshold != 11.5 {
		t.Errorf("forecast %+v", c.Forecast)
	}
}
