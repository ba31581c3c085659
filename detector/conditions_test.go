package detector

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// runSnaps feeds the snapshot build returns every step from t0 for dur
// (target "t") and returns the events.
func runSnaps(d *Detector, dur, step time.Duration, build func(t time.Duration) *model.Snapshot) []Event {
	var out []Event
	for t := time.Duration(0); t <= dur; t += step {
		s := build(t)
		s.Target, s.Time = "t", t0.Add(t)
		out = append(out, d.Observe(s)...)
	}
	return out
}

// steadyPSU is a PSU of the test chassis reading a steady 120 V input.
func steadyPSU(id string, health model.Health) model.Component {
	return psuComp(id, health, map[string]float64{"input_voltage": 119.3, "input_power": 345, "output_power": 300})
}

var predictive = model.Condition{MessageID: "Power.1.0.PowerSupplyPredictiveFailure",
	Message: "Power supply 'PSU 1' has a predicted failure condition.", Severity: model.SeverityWarning}

// A PSU's predictive-failure condition raises a warning at once and weighs
// the same for as long as it is active (a log entry of the same words
// would have halved in a week); the scan it disappears it counts for
// nothing, and the episode clears after the kind's ClearAfter.
func TestConditionPredictiveFailure(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	on, off := 2*day, 16*day
	evs := runSnaps(d, 20*day, 10*time.Minute, func(at time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthOK)
		if at >= on && at < off {
			p.Conditions = []model.Condition{predictive}
		}
		return &model.Snapshot{Components: []model.Component{p}}
	})
	raised := eventsFor(evs, "PSU1", EventRaised)
	if len(raised) != 1 || raised[0].Severity != model.SeverityWarning || raised[0].Time.Sub(t0) > on+20*time.Minute {
		t.Fatalf("raised %+v, want one warning at day 2", raised)
	}
	r := raised[0].Reasons[0]
	want := `condition "Power supply 'PSU 1' has a predicted failure condition." (PowerSupplyPredictiveFailure): predictive failure, active now`
	if r.Signal != "condition" || r.Text != want || r.Score != 0.55 {
		t.Errorf("reason %+v, want %q scored 0.55", r, want)
	}
	cleared := eventsFor(evs, "PSU1", EventCleared)
	if len(cleared) != 1 {
		t.Fatalf("cleared %+v, want one", cleared)
	}
	// Gone at day 16, cleared after ClearAfter (1 day for PSUs).
	if at := cleared[0].Time.Sub(t0); at < off+day || at > off+day+time.Hour {
		t.Errorf("cleared at %v, want a day after the condition went (%v)", at, off)
	}
	if c := comp(t, d, "PSU1"); len(c.Reasons) != 0 {
		t.Errorf("reasons after the condition went: %+v", c.Reasons)
	}
}

// No decay: two weeks into the condition it still scores its weight.
func TestConditionDoesNotDecay(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	runSnaps(d, 15*day, time.Hour, func(at time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthOK)
		p.Conditions = []model.Condition{predictive}
		return &model.Snapshot{Components: []model.Component{p}}
	})
	if r, ok := reason(comp(t, d, "PSU1"), "condition"); !ok || r.Score != 0.55 {
		t.Errorf("after 15 days: %+v", r)
	}
}

// The Redfish reader's LineInputStatus LossOfInput condition is an
// input-loss episode: counted by the PSU's input-loss signal (not as a
// condition reason too), and recurring within the window it is degrading,
// with the readings never at zero and no log entry.
func TestConditionLossOfInputRecurs(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	losses := []time.Duration{4 * day, 6 * day}
	lossOfInput := model.Condition{MessageID: "LineInputStatus.LossOfInput", Message: "line input status LossOfInput", Severity: model.SeverityWarning}
	var evs []Event
	for at := time.Duration(0); at <= 7*day; at += 10 * time.Minute {
		p := steadyPSU("PSU1", model.HealthOK)
		for _, l := range losses {
			if at >= l && at < l+20*time.Minute {
				p.Conditions = []model.Condition{lossOfInput}
			}
		}
		evs = append(evs, d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Components: []model.Component{p}})...)
		c := comp(t, d, "PSU1")
		switch at {
		case 4*day + 10*time.Minute:
			if r, ok := reason(c, "input_loss"); !ok || *r.Value != 1 || r.Score >= d.cfg.Degrading || !strings.Contains(r.Text, "lost now") {
				t.Errorf("during the first loss: %+v", r)
			}
		case 5 * day:
			if r, ok := reason(c, "input_loss"); !ok || *r.Value != 1 || !strings.Contains(r.Text, "last 24 h ago") {
				t.Errorf("after the first loss: %+v", r)
			}
		}
		if _, ok := reason(c, "condition"); ok {
			t.Fatalf("the input-loss condition is also a condition reason: %+v", c.Reasons)
		}
	}
	r, ok := reason(comp(t, d, "PSU1"), "input_loss")
	if !ok || *r.Value != 2 || r.Score < d.cfg.Degrading || !strings.Contains(r.Text, `condition "line input status LossOfInput" (LossOfInput)`) {
		t.Errorf("after two losses: %+v", r)
	}
	if got := eventsFor(evs, "PSU1", EventRaised); len(got) != 1 || got[0].Time.Sub(t0) < 6*day {
		t.Errorf("raised %+v, want one at the second loss", got)
	}
	// The episodes leave the window like the readings' do.
	for at := 7*day + 10*time.Minute; at <= 14*day; at += time.Hour {
		d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Components: []model.Component{steadyPSU("PSU1", model.HealthOK)}})
	}
	if r, ok := reason(comp(t, d, "PSU1"), "input_loss"); ok {
		t.Errorf("a week after the last loss: %+v", r)
	}
}

// LineInputStatus OutOfRange is the PSU's own word that its input is off:
// an input voltage band reason, at once (before any baseline) and for as
// long as it says so.
func TestConditionInputOutOfRange(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	runSnaps(d, 2*time.Hour, 10*time.Minute, func(time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthOK)
		p.Conditions = []model.Condition{{MessageID: "LineInputStatus.OutOfRange", Message: "line input status OutOfRange", Severity: model.SeverityWarning}}
		return &model.Snapshot{Components: []model.Component{p}}
	})
	c := comp(t, d, "PSU1")
	if r, ok := reason(c, "input_voltage"); !ok || r.Score != 0.5 || !strings.Contains(r.Text, "(OutOfRange)") || c.State != StateDegrading {
		t.Errorf("%s %+v", c.State, c.Reasons)
	}
}

// Conditions of no type, of a type without a weight of its own
// (threshold crossings: the readings are judged by their own signals)
// and informational ones add nothing.
func TestConditionUntypedAddsNothing(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	runSnaps(d, 6*time.Hour, 10*time.Minute, func(time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthOK)
		p.Conditions = []model.Condition{{Message: "no reading", Severity: model.SeverityWarning},
			{MessageID: "Sensor.1.0.ReadingAboveUpperCautionThreshold", Message: "Sensor 'PSU1 Temp' reading of 44 (Cel) is above the 42 upper caution threshold.", Severity: model.SeverityWarning},
			{Message: "Presence detected", Severity: model.SeverityInfo},
			{Message: "Predictive failure", Severity: model.SeverityInfo}}
		return &model.Snapshot{Components: []model.Component{p}}
	})
	if c := comp(t, d, "PSU1"); len(c.Reasons) != 0 {
		t.Errorf("reasons %+v", c.Reasons)
	}
}

// A condition rolled up to the system and chassis (Redfish shows a part's
// condition on its ancestors too) is scored on the part only; an
// aggregate's condition that no part shows is its own.
func TestConditionRolledUp(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	failed := model.Condition{MessageID: "Environmental.1.0.FanFailed", Message: "Fan 'Fan 2' has failed.", Severity: model.SeverityWarning}
	runSnaps(d, 2*time.Hour, 10*time.Minute, func(time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthWarning)
		p.Conditions = []model.Condition{predictive}
		sys := model.Component{Kind: model.KindSystem, ID: "sys", Health: model.HealthOK, Conditions: []model.Condition{predictive, failed}}
		ch := model.Component{Kind: model.KindChassis, ID: testChassis, Health: model.HealthOK, Conditions: []model.Condition{predictive, failed}}
		return &model.Snapshot{Components: []model.Component{p, sys, ch}}
	})
	if _, ok := reason(comp(t, d, "PSU1"), "condition"); !ok {
		t.Error("the PSU's own condition is not scored")
	}
	// The chassis id sorts first: it carries the fan's condition alone.
	ch, sys := comp(t, d, testChassis), comp(t, d, "sys")
	if r, ok := reason(ch, "condition"); !ok || len(ch.Reasons) != 1 || !strings.Contains(r.Text, "FanFailed") {
		t.Errorf("chassis reasons %+v", ch.Reasons)
	}
	if len(sys.Reasons) != 0 {
		t.Errorf("system reasons %+v", sys.Reasons)
	}
}

// A condition and a log entry of the same type are one fault told twice:
// one reason, the stronger.
func TestConditionAndLogCountOnce(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	runSnaps(d, 6*time.Hour, 10*time.Minute, func(at time.Duration) *model.Snapshot {
		p := steadyPSU("PSU1", model.HealthOK)
		p.Conditions = []model.Condition{predictive}
		return &model.Snapshot{Components: []model.Component{p},
			Events: []model.Event{{Time: t0, Severity: model.SeverityWarning, Component: "PSU1", Message: predictive.Message, ID: "1", Source: "log"}}}
	})
	c := comp(t, d, "PSU1")
	if len(c.Reasons) != 1 || c.Reasons[0].Score != 0.55 || !strings.Contains(c.Reasons[0].Text, "log:") || !strings.Contains(c.Reasons[0].Text, "condition") {
		t.Errorf("reasons %+v, want one telling both", c.Reasons)
	}
}

// The message id is classified with the message: registry ids say what
// terse or vendor messages do not (sources in config.go).
func TestLogMessageIDClassifies(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	for _, tc := range []struct {
		msg, id, want string
	}{
		{"Power supply PSU1 AC power lost.", "OpenBMC.0.1.PowerSupplyACLost", "input_lost"},
		{"Power supply PSU1 AC power lost.", "", ""},
		{"The power input for power supply 2 is lost.", "IDRAC.2.8.PSU0003", "input_lost"},
		{"The power input for power supply 2 is lost.", "", ""},
		{"Line input power fault at 'PSU 1'.", "Power.1.0.1.LineInputPowerFault", "input_lost"},
		{"Line input power fault at 'PSU 1'.", "", "failure"},
		{"Power supply PSU1 warning.", "OpenBMC.0.1.PowerSupplyFailurePredicted", "predictive_failure"},
		{"System Power Supply: Input Power Loss or Unplugged Power Cord, Verify Power Supply Input (Power Supply 2)", "", "input_lost"},
		{"Power supply 'PSU 1' has a warning condition.", "Power.1.0.1.PowerSupplyWarning", ""},
	} {
		typ := ""
		if lt := d.logType(&logEntry{Message: tc.msg, MessageID: tc.id}); lt != nil {
			typ = lt.Type
		}
		if typ != tc.want {
			t.Errorf("%q (%s): type %q, want %q", tc.msg, tc.id, typ, tc.want)
		}
	}
	// End to end: an entry only its id classifies is an input loss of the PSU.
	runSnaps(d, 2*time.Hour, 10*time.Minute, func(time.Duration) *model.Snapshot {
		return &model.Snapshot{Components: []model.Component{steadyPSU("PSU1", model.HealthOK)},
			Events: []model.Event{{Time: t0.Add(time.Hour), Severity: model.SeverityCritical, Component: "PSU1",
				Message: "Power supply PSU1 AC power lost.", MessageID: "OpenBMC.0.1.PowerSupplyACLost", ID: "7", Source: "log"}}}
	})
	c := comp(t, d, "PSU1")
	if r, ok := reason(c, "input_loss"); !ok || !strings.Contains(r.Text, "AC power lost") {
		t.Errorf("reasons %+v", c.Reasons)
	}
	if _, ok := reason(c, "log"); ok {
		t.Errorf("also an untyped log reason: %+v", c.Reasons)
	}
}

// The saved state keeps the entries' message ids (and so their
// classification) and the redundancy groups' history.
func TestStateKeepsMessageIDAndGroups(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	group := func(redundant bool) []model.RedundancyGroup {
		return []model.RedundancyGroup{{ID: "g", Kind: model.KindPSU, Members: []string{"PSU1", "PSU2"}, Redundant: redundant, Health: model.HealthOK}}
	}
	d.Observe(&model.Snapshot{Target: "t", Time: t0, Redundancy: group(true),
		Components: []model.Component{steadyPSU("PSU1", model.HealthOK), steadyPSU("PSU2", model.HealthOK)},
		Events: []model.Event{{Time: t0, Severity: model.SeverityCritical, Component: "PSU1",
			Message: "Power supply PSU1 AC power lost.", MessageID: "OpenBMC.0.1.PowerSupplyACLost", ID: "7", Source: "log"}}})
	st, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), `"message_id":"OpenBMC.0.1.PowerSupplyACLost"`) || !strings.Contains(string(st), `"was_redundant":true`) {
		t.Fatalf("state lacks the message id or the group: %s", st)
	}
	r, err := Restore(DefaultConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.comps[compKey{"t", "PSU1"}]; c == nil || len(c.Log) != 1 || c.Log[0].MessageID != "OpenBMC.0.1.PowerSupplyACLost" {
		t.Fatalf("restored log %+v", c)
	}
	// The restored detector knows the group was redundant: its loss counts.
	for at := 10 * time.Minute; at <= 2*time.Hour; at += 10 * time.Minute {
		r.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Redundancy: group(false),
			Components: []model.Component{steadyPSU("PSU1", model.HealthOK), steadyPSU("PSU2", model.HealthOK)}})
	}
	c := r.comps[compKey{"t", "PSU2"}]
	if _, ok := reason(c, "redundancy"); !ok {
		t.Errorf("PSU2 after the restore: %+v", c.Reasons)
	}
	if _, ok := reason(r.comps[compKey{"t", "PSU1"}], "input_loss"); !ok {
		t.Errorf("the restored entry is no longer an input loss: %+v", r.comps[compKey{"t", "PSU1"}].Reasons)
	}
	// An old state (no groups, no message ids) still restores.
	if _, err := Restore(DefaultConfig(), []byte(`{"version":1,"components":[]}`)); err != nil {
		t.Error(err)
	}
	var saved savedState
	if err := json.Unmarshal(st, &saved); err != nil || len(saved.Groups) != 1 {
		t.Errorf("groups in the state: %+v %v", saved.Groups, err)
	}
}

// redundancyRun feeds two PSUs and the source's group every 10 minutes;
// group and health say, at each time, what the source reports.
func redundancyRun(t *testing.T, d *Detector, dur time.Duration, group func(at time.Duration) model.RedundancyGroup, health func(id string, at time.Duration) model.Health) []Event {
	t.Helper()
	return runSnaps(d, dur, 10*time.Minute, func(at time.Duration) *model.Snapshot {
		g := group(at)
		return &model.Snapshot{Redundancy: []model.RedundancyGroup{g},
			Components: []model.Component{steadyPSU("PSU1", health("PSU1", at)), steadyPSU("PSU2", health("PSU2", at))}}
	})
}

// A group from the source that reports its redundancy lost gives its
// working members a "redundancy" reason once the loss has held for the
// source's warning hold, even when no member shows why (the BMC knows
// more than its members' health says).
func TestRedundancyGroupLost(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	lostAt := 2 * day
	allOK := func(string, time.Duration) model.Health { return model.HealthOK }
	evs := redundancyRun(t, d, lostAt+3*time.Hour, func(at time.Duration) model.RedundancyGroup {
		g := model.RedundancyGroup{ID: testChassis + "/PowerSubsystem#/PowerSupplyRedundancy/0", Name: "PSU redundancy", Kind: model.KindPSU,
			Members: []string{"PSU1", "PSU2"}, MinNeeded: 2, Healthy: 2, Working: 2, Redundant: true, Health: model.HealthOK}
		if at >= lostAt {
			g.Redundant, g.Health = false, model.HealthWarning
		}
		if at == lostAt+30*time.Minute {
			for _, id := range []string{"PSU1", "PSU2"} {
				if r, ok := reason(comp(t, d, id), "redundancy"); ok {
					t.Errorf("%s: a reason before the loss has held: %+v", id, r)
				}
			}
		}
		return g
	}, allOK)
	for _, id := range []string{"PSU1", "PSU2"} {
		c := comp(t, d, id)
		r, ok := reason(c, "redundancy")
		want := `redundancy lost: the source's group "PSU redundancy" is not redundant (warning), so Power Supply ` + id + ` is one failure from an outage`
		if !ok || r.Score != d.cfg.PSU.RedundancyLost || r.Text != want || c.State != StateDegrading {
			t.Errorf("%s %s %+v, want %q", id, c.State, c.Reasons, want)
		}
		if got := eventsFor(evs, id, EventRaised); len(got) != 1 || got[0].Time.Sub(t0) < lostAt+time.Hour {
			t.Errorf("%s raised %+v", id, got)
		}
	}
}

// The group's loss is the siblings' risk: the member whose own state
// caused it is not told again, and a sibling that sees the failed member
// itself gets one redundancy reason, not two.
func TestRedundancyGroupCauseAndSiblings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  model.Health
	}{{"warning", model.HealthWarning}, {"critical", model.HealthCritical}} {
		d := mustNew(t)
		lostAt := 2 * day
		redundancyRun(t, d, lostAt+3*time.Hour, func(at time.Duration) model.RedundancyGroup {
			g := model.RedundancyGroup{ID: "g", Kind: model.KindPSU, Members: []string{"PSU1", "PSU2"}, Redundant: true, Health: model.HealthOK}
			if at >= lostAt {
				g.Redundant, g.Health = false, model.HealthWarning
			}
			return g
		}, func(id string, at time.Duration) model.Health {
			if id == "PSU1" && at >= lostAt {
				return tc.bad
			}
			return model.HealthOK
		})
		if r, ok := reason(comp(t, d, "PSU1"), "redundancy"); ok {
			t.Errorf("%s: PSU1, the cause, is told its own loss: %+v", tc.name, r)
		}
		c2 := comp(t, d, "PSU2")
		n := 0
		for _, r := range c2.Reasons {
			if r.Signal == "redundancy" {
				n++
				if !strings.Contains(r.Text, "Power Supply PSU1") {
					t.Errorf("%s: %q does not name the cause", tc.name, r.Text)
				}
			}
		}
		if n != 1 || c2.State != StateDegrading {
			t.Errorf("%s: PSU2 %s with %d redundancy reasons: %+v", tc.name, c2.State, n, c2.Reasons)
		}
	}
}

// A group never seen redundant (an empty bay: how the server is built) and
// groups prefail derived itself give nothing.
func TestRedundancyGroupNeverRedundantOrDerived(t *testing.T) {
	t.Parallel()
	for _, derived := range []bool{false, true} {
		d := mustNew(t)
		evs := redundancyRun(t, d, 3*day, func(at time.Duration) model.RedundancyGroup {
			g := model.RedundancyGroup{ID: "g", Kind: model.KindPSU, Members: []string{"PSU1", "PSU2"}, Redundant: false, Health: model.HealthWarning, Derived: derived}
			if derived && at < day {
				g.Redundant, g.Health = true, model.HealthOK
			}
			return g
		}, func(string, time.Duration) model.Health { return model.HealthOK })
		if len(evs) != 0 {
			t.Errorf("derived %v: events %+v", derived, evs)
		}
	}
}

// A group without members (an IPMI redundancy sensor) stands for the parts
// of its kind in its chassis: here the chassis of the sensor it is. The
// sensor says "Redundancy Degraded" (warning), which the sibling rule,
// critical siblings only, does not see.
func TestRedundancyGroupWithoutMembers(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	lostAt := day
	runSnaps(d, lostAt+2*time.Hour, 10*time.Minute, func(at time.Duration) *model.Snapshot {
		sensor := model.Component{Kind: model.KindPSU, ID: "sensor-0x20-0-0x70", Name: "PS Redundancy", Chassis: testChassis, Health: model.HealthOK}
		g := model.RedundancyGroup{ID: sensor.ID, Name: "PS Redundancy", Kind: model.KindPSU, Redundant: true, Health: model.HealthOK}
		if at >= lostAt {
			sensor.Health = model.HealthWarning
			g.Redundant, g.Health = false, model.HealthWarning
		}
		other := steadyPSU("PSU9", model.HealthOK)
		other.Chassis = "/redfish/v1/Chassis/other"
		return &model.Snapshot{Redundancy: []model.RedundancyGroup{g},
			Components: []model.Component{sensor, steadyPSU("PSU1", model.HealthOK), steadyPSU("PSU2", model.HealthOK), other}}
	})
	for id, want := range map[string]bool{"PSU1": true, "PSU2": true, "PSU9": false, "sensor-0x20-0-0x70": false} {
		if _, ok := reason(comp(t, d, id), "redundancy"); ok != want {
			t.Errorf("%s: redundancy reason %v, want %v (%+v)", id, ok, want, comp(t, d, id).Reasons)
		}
	}
}

// The chassis of a group without members: the component the group is,
// else the chassis its id extends, else the one chassis of the kind.
func TestGroupChassis(t *testing.T) {
	t.Parallel()
	psu := func(id, ch string) model.Component { return model.Component{Kind: model.KindPSU, ID: id, Chassis: ch} }
	chassis := func(id string) model.Component { return model.Component{Kind: model.KindChassis, ID: id} }
	for _, tc := range []struct {
		name  string
		group string
		comps []model.Component
		want  string
		ok    bool
	}{
		{"the sensor it is", "sensor-1", []model.Component{psu("sensor-1", ""), psu("a", ""), psu("b", "x")}, "", true},
		{"under a chassis", "/redfish/v1/Chassis/1U/Power#/Redundancy/0",
			[]model.Component{chassis("/redfish/v1/Chassis/1"), chassis("/redfish/v1/Chassis/1U"), psu("a", "/redfish/v1/Chassis/1U"), psu("b", "/redfish/v1/Chassis/2")},
			"/redfish/v1/Chassis/1U", true},
		{"one chassis", "g", []model.Component{chassis("c1"), chassis("c2"), psu("a", "c1"), psu("b", "c1")}, "c1", true},
		{"two chassis", "g", []model.Component{psu("a", "c1"), psu("b", "c2")}, "", false},
		{"no parts", "g", []model.Component{chassis("c1")}, "", false},
	} {
		got, ok := groupChassis(&model.RedundancyGroup{ID: tc.group, Kind: model.KindPSU}, &model.Snapshot{Components: tc.comps})
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
