package detector

import (
	"fmt"
	"time"

	"github.com/prefail/prefail/model"
)

// evalOther scores every component that is not a drive: the kind's own
// signals (fan.go, psu.go, drift.go for the rest), plus the log events
// that concern it (eventlog.go; the target's unmatched entries go to its
// BMC), plus the source's verdict.
func (d *Detector) evalOther(comp *component, v *view, now time.Time) evaluation {
	var ev evaluation
	switch comp.Ref.Kind {
	case model.KindFan:
		ev = d.evalFan(comp, v, now)
	case model.KindPSU:
		ev = d.evalPSU(comp, v, now)
	default:
		ev = d.evalDrift(comp, now)
	}
	ev.reasons = append(ev.reasons, d.evalLog(comp, now)...)
	if v.logOwner(comp) {
		ev.reasons = append(ev.reasons, d.evalUnmatchedLog(v, now)...)
	}
	ev.reasons = append(ev.reasons, sourceVerdict(comp, now)...)
	return ev
}

// warningHold is how long the source's warning must last before it
// counts: BMCs flip a part to warning for the length of a glitch (a PSU
// for the 20 minutes its input is lost), and a verdict that comes and goes
// with each sample would make the component flap.
const warningHold = time.Hour

// sourceVerdict turns the source's own health into a reason: the BMC's
// warning is a weak sign (BMCs raise it for trivia), and counts once it
// has held for warningHold; its critical a strong one, at once. The
// detector's point is to be earlier than this.
func sourceVerdict(comp *component, now time.Time) []Reason {
	switch comp.Health {
	case model.HealthWarning:
		if now.Sub(comp.HealthSince) < warningHold {
			return nil
		}
		return []Reason{{Signal: "health", Text: "the source reports warning", Score: 0.3}}
	case model.HealthCritical:
		return []Reason{{Signal: "health", Text: "the source reports critical", Score: 0.85}}
	case model.HealthAbsent:
		if comp.WasPresent {
			return []Reason{{Signal: "presence", Text: fmt.Sprintf("%s is no longer present", comp.Ref.Kind), Score: 0.85}}
		}
	}
	return nil
}
