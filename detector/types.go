// Package detector scores hardware degradation over time. It consumes
// timestamped snapshots from any reader (model.Snapshot: Redfish, IPMI,
// SMART, a Backblaze row), keeps a bounded history per component, and
// says, per component, how far along it is toward failure: a State, a Risk
// in [0,1], the Reasons (signal, value, baseline, threshold, trend) and,
// where a trend exists, a Forecast of when it crosses its threshold. It
// emits Events on state transitions only, with hysteresis, one per
// episode, and a clear event on recovery.
//
// The package is pure: no I/O, no goroutines, no clock of its own (time is
// the snapshots' time), so every decision is reproducible in a test and a
// replay of recorded data gives the same events as the live agent did.
// Its whole state can be saved and restored (Detector.State, Restore).
package detector

import (
	"time"

	"github.com/prefail/prefail/model"
)

// State is how far along toward failure a component is.
type State string

// States, in order of gravity.
const (
	StateUnknown   State = "unknown"   // no usable data yet
	StateOK        State = "ok"        // nothing unusual
	StateWatch     State = "watch"     // a weak or early sign: no event
	StateDegrading State = "degrading" // degrading: a warning event
	StateFailing   State = "failing"   // will fail soon or is crossing its limit: a critical event
	StateFailed    State = "failed"    // the source itself reports the part failed
)

// Level is a state's gravity: 0 ok/unknown, 1 watch, 2 degrading, 3
// failing, 4 failed.
func (s State) Level() int {
	switch s {
	case StateWatch:
		return 1
	case StateDegrading:
		return 2
	case StateFailing:
		return 3
	case StateFailed:
		return 4
	}
	return 0
}

// stateAt is the state of a level.
func stateAt(level int) State {
	return [...]State{StateOK, StateWatch, StateDegrading, StateFailing, StateFailed}[max(0, min(level, 4))]
}

// Reason explains one signal's part in an assessment. Value, Baseline and
// Threshold are in the signal's unit; nil when not applicable.
type Reason struct {
	// Signal names what was measured: "smart_197_raw", "speed", "efficiency".
	Signal string `json:"signal"`
	// Text is the human sentence: "pending sectors 0 -> 8 in 6 days".
	Text      string   `json:"text"`
	Value     *float64 `json:"value,omitempty"`
	Baseline  *float64 `json:"baseline,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	// Trend is the change per day over the signal's window, when one was fitted.
	TrendPerDay *float64 `json:"trend_per_day,omitempty"`
	// Score is this signal's contribution to the risk, in [0,1].
	Score float64 `json:"score"`
}

// Forecast is when a trending signal is expected to cross its threshold.
type Forecast struct {
	Signal    string    `json:"signal"`
	Threshold float64   `json:"threshold"`
	At        time.Time `json:"at"`
	// Earliest and Latest bound the estimate (the fit's slope uncertainty,
	// about 80%); Latest is zero when the trend could as well be flat.
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest,omitzero"`
}

// ComponentRef names a component across snapshots.
type ComponentRef struct {
	Target string     `json:"target"`
	Kind   model.Kind `json:"kind"`
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	Serial string     `json:"serial,omitempty"`
	Model  string     `json:"model,omitempty"`
}

// Assessment is the current verdict on one component.
type Assessment struct {
	Component ComponentRef `json:"component"`
	State     State        `json:"state"`
	Risk      float64      `json:"risk"`
	Reasons   []Reason     `json:"reasons,omitempty"`
	Forecast  *Forecast    `json:"forecast,omitempty"`
	// Since is when the component entered its state.
	Since time.Time `json:"since"`
	// Updated is the time of the newest observation.
	Updated time.Time `json:"updated"`
}

// EventType says what an event marks.
type EventType string

// Event types: an episode starts with raised, may escalate once, and ends
// with cleared.
const (
	EventRaised    EventType = "raised"
	EventEscalated EventType = "escalated"
	EventCleared   EventType = "cleared"
)

// Event is a state transition worth telling someone about.
type Event struct {
	Time      time.Time    `json:"time"`
	Type      EventType    `json:"type"`
	Component ComponentRef `json:"component"`
	// Severity: warning (degrading), critical (failing, failed), info (cleared).
	Severity model.Severity `json:"severity"`
	State    State          `json:"state"`
	Previous State          `json:"previous"`
	Risk     float64        `json:"risk"`
	Reasons  []Reason       `json:"reasons,omitempty"`
	Forecast *Forecast      `json:"forecast,omitempty"`
}
