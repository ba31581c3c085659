package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prefail/prefail/agent/eventschema"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

func sampleDetectorEvent(typ detector.EventType) detector.Event {
	v, th, tr := 2100.0, 1500.0, -40.0
	at := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	return detector.Event{
		Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600)), Type: typ,
		Component: detector.ComponentRef{Target: "https://bmc1", Kind: model.KindFan, ID: "/redfish/v1/Chassis/1/Thermal#/Fans/0", Name: "Fan 1"},
		Severity:  model.SeverityWarning, State: detector.StateDegrading, Previous: detector.StateOK, Risk: 0.62,
		Reasons:  []detector.Reason{{Signal: "speed", Text: "fan 1 slowed 12% at the same duty", Value: &v, Threshold: &th, TrendPerDay: &tr, Score: 0.62}},
		Forecast: &detector.Forecast{Signal: "speed", Threshold: 1500, At: at, Earliest: at.Add(-72 * time.Hour)},
	}
}

// Every kind of event the agent writes matches the published schema;
// what the schema forbids is refused (so the check can fail).
func TestEventsMatchSchema(t *testing.T) {
	s, err := eventschema.Compile()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var events []Event
	for _, typ := range []detector.EventType{detector.EventRaised, detector.EventEscalated, detector.EventCleared} {
		ev := sampleDetectorEvent(typ)
		events = append(events, ComponentEvent(&ev, 1))
	}
	events = append(events,
		targetEvent("ipmi://10.0.0.7:623", &targetChange{typ: EventTargetUnreachable, reason: ReasonMissingParts, message: "the target answers without the fan components it reported before", missing: []model.Kind{model.KindFan}}, 1, now),
		targetEvent("ipmi://10.0.0.7:623", &targetChange{typ: EventTargetBack, reason: ReasonAnswering, message: "back"}, 1, now))
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := eventschema.Validate(s, b); err != nil {
			t.Errorf("%s event does not match the schema: %v\n%s", ev.Type, err, b)
		}
	}
	bad := map[string]string{
		"component event without a component": `{"schema":"prefail.event/v1","id":"0123456789abcdef0123456789abcdef","target":"x","time":"2026-12-02T09:00:00Z","type":"raised","severity":"warning","state":"degrading","previous":"ok","risk":0.5}`,
		"unknown type":                        `{"schema":"prefail.event/v1","id":"0123456789abcdef0123456789abcdef","target":"x","time":"2026-12-02T09:00:00Z","type":"exploded","severity":"warning","reason":"no_answer","message":"m"}`,
		"bad time":                            `{"schema":"prefail.event/v1","id":"0123456789abcdef0123456789abcdef","target":"x","time":"yesterday","type":"target_back","severity":"info","reason":"answering","message":"m"}`,
		"unknown field":                       `{"schema":"prefail.event/v1","id":"0123456789abcdef0123456789abcdef","target":"x","time":"2026-12-02T09:00:00Z","type":"target_back","severity":"info","reason":"answering","message":"m","extra":1}`,
	}
	for name, line := range bad {
		if eventschema.Validate(s, []byte(line)) == nil {
			t.Errorf("%s: accepted by the schema", name)
		}
	}
}

// Ids are stable across runs (nothing time-dependent goes in) and differ
// between episodes, transitions, components and targets.
func TestEventIDs(t *testing.T) {
	a := sampleDetectorEvent(detector.EventRaised)
	b := a
	b.Time = b.Time.Add(time.Hour) // the same transition seen later in another run
	b.Risk = 0.7
	if ComponentEvent(&a, 3).ID != ComponentEvent(&b, 3).ID {
		t.Error("the same episode's raised event has two ids")
	}
	seen := map[string]string{}
	add := func(what string, ev Event) {
		if prev, ok := seen[ev.ID]; ok {
			t.Errorf("%s and %s share the id %s", what, prev, ev.ID)
		}
		seen[ev.ID] = what
	}
	add("episode 1 raised", ComponentEvent(&a, 1))
	add("episode 2 raised", ComponentEvent(&a, 2))
	c := sampleDetectorEvent(detector.EventCleared)
	add("episode 1 cleared", ComponentEvent(&c, 1))
	d := a
	d.Component.ID += "x"
	add("another component", ComponentEvent(&d, 1))
	e := a
	e.Component.Target = "https://bmc2"
	add("another target", ComponentEvent(&e, 1))
	add("target unreachable", targetEvent("https://bmc1", &targetChange{typ: EventTargetUnreachable}, 1, time.Now()))
	add("target back", targetEvent("https://bmc1", &targetChange{typ: EventTargetBack}, 1, time.Now()))
}
