package agent

import (
	"errors"
	"maps"
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

// targetStatus is what the agent remembers of a target's answers between
// rounds (and restarts: it is part of the target's record).
type targetStatus struct {
	Unreachable bool   `json:"unreachable,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Kinds are the kinds of part of the last full answer.
	Kinds []model.Kind `json:"kinds,omitempty"`
}

// targetChange is the target event a result raises.
type targetChange struct {
	typ     EventType
	reason  string
	message string
	missing []model.Kind
}

// observe takes one round's result for the target and returns the
// target event it raises, if any.
func (st *targetStatus) observe(r *Result) *targetChange {
	reason, msg, missing := "", "", []model.Kind(nil)
	var kinds []model.Kind
	if r.Snapshot != nil {
		kinds = snapshotKinds(r.Snapshot)
	}
	switch {
	case r.Err != nil:
		reason, msg = classifyScanError(r.Err), r.Err.Error()
	case len(kinds) == 0:
		reason, msg = ReasonNoComponents, "the target answered but reported no component: its hardware health is unknown"
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
			reason = ReasonMissingParts
			msg = "the target answers without the " + strings.Join(names, ", ") + " components it reported before"
		}
	}
	if reason == "" {
		st.Kinds = kinds
		if !st.Unreachable {
			return nil
		}
		st.Unreachable, st.Reason = false, ""
		return &targetChange{typ: EventTargetBack, reason: ReasonAnswering, message: "the target answers again with all the parts it reported before"}
	}
	if len(st.Kinds) > 0 {
		// Keep the kinds of the last full answer: a part that comes back
		// later ends the episode.
		kinds = st.Kinds
	}
	st.Kinds = kinds
	if st.Unreachable && st.Reason == reason {
		return nil // the same episode, already raised
	}
	st.Unreachable, st.Reason = true, reason
	return &targetChange{typ: EventTargetUnreachable, reason: reason, message: msg, missing: missing}
}

// targetEvent is the event of a target change; episode numbers the
// target's unreachable episodes, which makes the id.
func targetEvent(target string, ch *targetChange, episode int, now time.Time) Event {
	sev := model.SeverityWarning
	if ch.typ == EventTargetBack {
		sev = model.SeverityInfo
	}
	return Event{Schema: EventSchema, ID: eventID(target, "target", episode, string(ch.typ)), Target: target, Time: now.UTC(),
		Type: ch.typ, Severity: sev, Reason: ch.reason, Message: ch.message, Missing: ch.missing}
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
		return ReasonCredentials
	case errors.Is(err, redfish.ErrNoComponents):
		return ReasonNoComponents
	case errors.Is(err, redfish.ErrMalformed) || errors.Is(err, redfish.ErrTooLarge) || errors.Is(err, redfish.ErrRefused) || errors.Is(err, ipmi.ErrMalformed):
		return ReasonInvalidAnswers
	}
	return ReasonNoAnswer
}
