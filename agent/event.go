package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// EventSchema names the version of the event's JSON form
// (docs/event.schema.json). Fields are only added within a version.
const EventSchema = "prefail.event/v1"

// EventType says what an event marks.
type EventType string

// Event types. Component events: an episode starts with raised, may
// escalate once, and ends with cleared. Target events: a target that does
// not answer (or answers without what it showed before) raises
// target_unreachable once per episode; its first full answer after that,
// target_back.
const (
	EventRaised            EventType = "raised"
	EventEscalated         EventType = "escalated"
	EventCleared           EventType = "cleared"
	EventTargetUnreachable EventType = "target_unreachable"
	EventTargetBack        EventType = "target_back"
)

// Why a target is unreachable (Event.Reason of target_unreachable).
const (
	ReasonNoAnswer       = "no_answer"           // network, TLS, timeout, service unavailable
	ReasonCredentials    = "refused_credentials" // 401/403, IPMI session refused
	ReasonNoComponents   = "no_components"       // answered with an empty tree
	ReasonMissingParts   = "missing_parts"       // answered without a kind of part it had shown
	ReasonInvalidAnswers = "invalid_answers"     // answered, but not with what it should
	ReasonAnswering      = "answering"           // target_back
)

// Event is one line of the agent's output: a component's state changed,
// or a target stopped or started answering.
type Event struct {
	Schema string `json:"schema"`
	// ID is stable: the same episode's same transition has the same id in
	// every run and after every restart, so a consumer can de-duplicate
	// (NATS: the Nats-Msg-Id header).
	ID       string         `json:"id"`
	Target   string         `json:"target"`
	Time     time.Time      `json:"time"`
	Type     EventType      `json:"type"`
	Severity model.Severity `json:"severity"`

	// Component events (raised, escalated, cleared).
	Component *EventComponent    `json:"component,omitempty"`
	State     detector.State     `json:"state,omitempty"`
	Previous  detector.State     `json:"previous,omitempty"`
	Risk      *float64           `json:"risk,omitempty"`
	Reasons   []detector.Reason  `json:"reasons,omitempty"`
	Forecast  *detector.Forecast `json:"forecast,omitempty"`

	// Target events (target_unreachable, target_back).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Missing lists the kinds of part no longer reported (missing_parts).
	Missing []model.Kind `json:"missing,omitempty"`
}

// EventComponent names the component an event is about.
type EventComponent struct {
	Kind   model.Kind `json:"kind"`
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	Serial string     `json:"serial,omitempty"`
	Model  string     `json:"model,omitempty"`
}

// ComponentEvent is the agent's form of a detector event; episode is the
// component's episode number (1 for its first raised), which makes the id.
func ComponentEvent(ev *detector.Event, episode int) Event {
	risk := ev.Risk
	c := ev.Component
	return Event{
		Schema: EventSchema, Target: c.Target, Time: ev.Time.UTC(), Type: EventType(ev.Type), Severity: ev.Severity,
		ID:        eventID(c.Target, string(c.Kind)+"/"+c.ID, episode, string(ev.Type)),
		Component: &EventComponent{Kind: c.Kind, ID: c.ID, Name: c.Name, Serial: c.Serial, Model: c.Model},
		State:     ev.State, Previous: ev.Previous, Risk: &risk, Reasons: ev.Reasons, Forecast: ev.Forecast,
	}
}

// eventID is a stable id: a hash of what makes the event itself, and
// nothing that differs between two runs of the same history (not the
// time it was seen, which depends on when the round ran).
func eventID(target, subject string, episode int, typ string) string {
	h := sha256.New()
	for _, s := range []string{EventSchema, target, subject, strconv.Itoa(episode), typ} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
