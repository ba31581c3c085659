package detector

import (
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

func boolp(b bool) *bool { return &b }

// logRun feeds a healthy fan and a BMC every hour for the given duration,
// with the log entries visible at each time (a BMC's log is re-read at
// every scan), and returns the fan's and the BMC's components.
func logRun(t *testing.T, d *Detector, dur time.Duration, fanHealth model.Health, log func(at time.Duration) []model.Event) (*component, *component) {
	t.Helper()
	for at := time.Duration(0); at <= dur; at += time.Hour {
		fan := fanComp("fan", 2200, 4900)
		fan.Health = fanHealth
		bmc := model.Component{Kind: model.KindBMC, ID: "bmc", Name: "BMC", Health: model.HealthOK}
		d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Components: []model.Component{fan, bmc}, Events: log(at)})
	}
	return comp(t, d, "fan"), comp(t, d, "bmc")
}

// entry is a log entry about the fan, written at `at`.
func entry(at time.Duration, sev model.Severity, msg string) model.Event {
	return model.Event{Time: t0.Add(at), Severity: sev, Component: "fan", Message: msg, ID: at.String(), Source: "sel"}
}

// visible keeps the entries written by now.
func visible(now time.Duration, es ...model.Event) []model.Event {
	var out []model.Event
	for _, e := range es {
		if !e.Time.After(t0.Add(now)) {
			out = append(out, e)
		}
	}
	return out
}

// An entry's weight decays with its type's half-life, so an old entry
// stops alarming.
func TestLogDecay(t *testing.T) {
	t.Parallel()
	failure := entry(4*day, model.SeverityCritical, "Fan 'Fan 1' has failed.")
	scoreAt := func(dur time.Duration) float64 {
		d := mustNew(t)
		// The fan reads fine but the source says warning: the live check
		// does not discount the entry, so the decay alone is measured.
		f, _ := logRun(t, d, dur, model.HealthWarning, func(at time.Duration) []model.Event { return visible(at, failure) })
		r, _ := reason(f, "log_failure")
		return r.Score
	}
	fresh, week, old := scoreAt(4*day+time.Hour), scoreAt(11*day), scoreAt(40*day)
	if fresh < 0.65 || week < 0.3 || week > 0.4 || old != 0 {
		t.Errorf("failure entry scores %.2f fresh, %.2f a week later, %.2f after 36 days; want ~0.7, ~0.35 (7-day half-life), 0", fresh, week, old)
	}
}

// "Log cleared" is not a fault, nor is an informational entry.
func TestLogClearedIsNotAFault(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	f, _ := logRun(t, d, 2*day, model.HealthOK, func(at time.Duration) []model.Event {
		return visible(at, entry(day, model.SeverityWarning, "Log area reset/cleared"),
			entry(day, model.SeverityInfo, "The event log was cleared."))
	})
	for _, r := range f.Reasons {
		if r.Score > 0 {
			t.Errorf("reason %+v", r)
		}
	}
}

// An assertion paired with its deassertion weighs nothing: by the reader's
// Active false, or by a later deassertion of the same sensor and offset.
func TestLogPairedDeassertion(t *testing.T) {
	t.Parallel()
	assert := func(at time.Duration, active *bool) model.Event {
		e := entry(at, model.SeverityCritical, "Lower Critical going low")
		e.Code, e.SensorType, e.Asserted, e.Active = "04.01.2", "Fan", boolp(true), active
		return e
	}
	deassert := func(at time.Duration) model.Event {
		e := entry(at, model.SeverityInfo, "Lower Critical going low (deasserted)")
		e.Code, e.SensorType, e.Asserted, e.Active = "04.01.2", "Fan", boolp(false), boolp(false)
		return e
	}
	for _, tc := range []struct {
		name string
		log  []model.Event
		want bool
	}{
		{"open assertion", []model.Event{assert(day, boolp(true))}, true},
		{"resolved by the reader", []model.Event{assert(day, boolp(false))}, false},
		{"deasserted later", []model.Event{assert(day, boolp(true)), deassert(day + 2*time.Hour)}, false},
	} {
		d := mustNew(t)
		f, _ := logRun(t, d, day+3*time.Hour, model.HealthWarning, func(at time.Duration) []model.Event { return visible(at, tc.log...) })
		r, ok := reason(f, "log_threshold")
		if ok != tc.want {
			t.Errorf("%s: reason %v %+v", tc.name, ok, r)
		}
	}
}

// An old assertion on a component that reads fine now weighs little: the
// live sensor knows better.
func TestLogStaleAssertionLiveFine(t *testing.T) {
	t.Parallel()
	e := entry(day, model.SeverityCritical, "Fan 1 reading below lower critical threshold")
	score := func(h model.Health, dur time.Duration) float64 {
		d := mustNew(t)
		f, _ := logRun(t, d, dur, h, func(at time.Duration) []model.Event { return visible(at, e) })
		r, _ := reason(f, "log_threshold")
		return r.Score
	}
	fresh, staleFine, staleWarning := score(model.HealthOK, day+time.Hour), score(model.HealthOK, day+12*time.Hour), score(model.HealthWarning, day+12*time.Hour)
	if fresh < 0.5 || staleFine >= 0.25 || staleWarning < 0.4 {
		t.Errorf("scores: fresh %.2f, stale on a fine fan %.2f, stale on a fan in warning %.2f", fresh, staleFine, staleWarning)
	}
}

// Entries of one type recur: each adds weight, and the text counts them.
func TestLogRecurrence(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	var es []model.Event
	for i := range 3 {
		es = append(es, entry(day+time.Duration(i)*12*time.Hour, model.SeverityWarning, "Power supply 'PSU 1' has a predicted failure condition."))
	}
	f, _ := logRun(t, d, 2*day+time.Hour, model.HealthWarning, func(at time.Duration) []model.Event { return visible(at, es...) })
	r, ok := reason(f, "log_predictive_failure")
	if !ok || r.Score < 0.8 || *r.Value != 3 {
		t.Errorf("reason %+v", r)
	}
}

// Entries naming no known component are filed under the BMC, capped at
// watch: nothing live can confirm them.
func TestLogUnmatchedGoesToBMC(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	e := entry(day, model.SeverityCritical, "System May be Melting")
	e.Component = "/redfish/v1/Chassis/1U/Thermal"
	f, b := logRun(t, d, day+time.Hour, model.HealthOK, func(at time.Duration) []model.Event { return visible(at, e) })
	r, ok := reason(b, "log")
	if !ok || r.Score != d.cfg.EventLog.Unmatched {
		t.Errorf("BMC reason %v %+v", ok, r)
	}
	if len(f.Reasons) != 0 {
		t.Errorf("the fan got %+v", f.Reasons)
	}
	if b.State.Level() > StateWatch.Level() {
		t.Errorf("BMC %s", b.State)
	}
}
