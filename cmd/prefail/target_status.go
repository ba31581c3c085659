package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// Target events: the agent must not go blind quietly. A target that does
// not answer, refuses the credentials, answers with nothing, or answers
// without a kind of part it showed before raises target_unreachable (once
// per episode, with the reason); the first full answer after that raises
// target_back. Without them, a BMC that stopped answering looks exactly
// like a healthy server: no event at all.

// Target event types.
const (
	eventTargetUnreachable = "target_unreachable"
	eventTargetBack        = "target_back"
)

// Why a target is unreachable.
const (
	reasonNoAnswer       = "no_answer"           // network, TLS, timeout, service unavailable
	reasonCredentials    = "refused_credentials" // 401/403, IPMI session refused
	reasonNoComponents   = "no_components"       // answered with an empty tree
	reasonMissingParts   = "missing_parts"       // answered without a kind of part it had shown
	reasonInvalidAnswers = "invalid_answers"     // answered, but not with what it should
)

// targetEvent is a target_unreachable or target_back line of watch's
// JSON Lines output.
type targetEvent struct {
	Target   string         `json:"target"`
	Time     string         `json:"time"`
	Type     string         `json:"type"`
	Severity model.Severity `json:"severity"`
	Reason   string         `json:"reason"`
	Message  string         `json:"message"`
	// Missing lists the kinds of part no longer reported (missing_parts).
	Missing []model.Kind `json:"missing,omitempty"`
}

// targetStatus is what watch remembers of each target between rounds
// (and restarts, next to --state).
type targetStatus struct {
	Targets map[string]*targetState `json:"targets"`
}

type targetState struct {
	Unreachable bool   `json:"unreachable,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Kinds are the kinds of part of the last full answer.
	Kinds []model.Kind `json:"kinds,omitempty"`
}

func newTargetStatus() *targetStatus { return &targetStatus{Targets: map[string]*targetState{}} }

// observe takes one round's result for a target and returns the target
// event it raises, if any.
func (ts *targetStatus) observe(r result, now time.Time) *targetEvent {
	st := ts.Targets[r.Target]
	if st == nil {
		st = &targetState{}
		ts.Targets[r.Target] = st
	}
	reason, msg, missing := "", "", []model.Kind(nil)
	var kinds []model.Kind
	if r.Snapshot != nil {
		kinds = snapshotKinds(r.Snapshot)
	}
	switch {
	case r.Err != nil:
		reason, msg = classifyScanError(r.Err), r.Err.Error()
	case len(kinds) == 0:
		reason, msg = reasonNoComponents, "the target answered but reported no component: its hardware health is unknown"
	default:
		for _, k := range st.Kinds {
			if !slices.Contains(kinds, k) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			names := make([]string, len(missing))
			for i, k := range missing {
				names[i] = string(k)
			}
			reason = reasonMissingParts
			msg = "the target answers without the " + strings.Join(names, ", ") + " components it reported before"
		}
	}
	if reason == "" {
		st.Kinds = kinds
		if !st.Unreachable {
			return nil
		}
		st.Unreachable, st.Reason = false, ""
		return &targetEvent{Target: r.Target, Time: now.UTC().Format(time.RFC3339), Type: eventTargetBack,
			Severity: model.SeverityInfo, Reason: "answering", Message: "the target answers again with all the parts it reported before"}
	}
	if reason == reasonMissingParts {
		// Keep the kinds of the last full answer: a part that comes back
		// later ends the episode.
		kinds = st.Kinds
	} else if len(st.Kinds) > 0 {
		kinds = st.Kinds
	}
	st.Kinds = kinds
	if st.Unreachable && st.Reason == reason {
		return nil // the same episode, already raised
	}
	st.Unreachable, st.Reason = true, reason
	return &targetEvent{Target: r.Target, Time: now.UTC().Format(time.RFC3339), Type: eventTargetUnreachable,
		Severity: model.SeverityWarning, Reason: reason, Message: msg, Missing: missing}
}

// snapshotKinds are the kinds of part a snapshot reports, sorted.
func snapshotKinds(s *model.Snapshot) []model.Kind {
	set := map[model.Kind]bool{}
	for _, c := range s.Components {
		set[c.Kind] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// classifyScanError says why a scan failed, in the words of the event.
func classifyScanError(err error) string {
	switch {
	case errors.Is(err, redfish.ErrUnauthorized) || errors.Is(err, ipmi.ErrUnauthorized) || errors.Is(err, redfish.ErrNoSessionService):
		return reasonCredentials
	case errors.Is(err, redfish.ErrNoComponents):
		return reasonNoComponents
	case errors.Is(err, redfish.ErrMalformed) || errors.Is(err, redfish.ErrTooLarge) || errors.Is(err, redfish.ErrRefused) || errors.Is(err, ipmi.ErrMalformed):
		return reasonInvalidAnswers
	}
	return reasonNoAnswer
}

// targetStatusPath is where the target status is kept beside --state.
func targetStatusPath(statePath string) string { return statePath + ".targets" }

func loadTargetStatus(statePath string) (*targetStatus, error) {
	ts := newTargetStatus()
	if statePath == "" {
		return ts, nil
	}
	b, err := os.ReadFile(targetStatusPath(statePath))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ts, nil
	case err != nil:
		return nil, fmt.Errorf("--state: %w", err)
	}
	if err := json.Unmarshal(b, ts); err != nil {
		return nil, fmt.Errorf("--state %s: %w", targetStatusPath(statePath), err)
	}
	if ts.Targets == nil {
		ts.Targets = map[string]*targetState{}
	}
	return ts, nil
}

func saveTargetStatus(statePath string, ts *targetStatus) error {
	if statePath == "" {
		return nil
	}
	b, err := json.Marshal(ts)
	if err != nil {
		return err
	}
	return writeFileAtomic(targetStatusPath(statePath), b)
}
