package detector

import (
	"fmt"
	"time"

	"github.com/prefail/prefail/model"
)

// evalOther scores every component that is not a drive: the kind's own
// signals, plus the log events that concern it, plus the source's verdict.
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
	ev.reasons = append(ev.reasons, sourceVerdict(comp)...)
	return ev
}

// sourceVerdict turns the source's own health into a reason: the BMC's
// warning is a weak sign (BMCs raise it for trivia), its critical a strong
// one. The detector's point is to be earlier than this.
func sourceVerdict(comp *component) []Reason {
	switch comp.Health {
	case model.HealthWarning:
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

// The kind-specific evaluators below are placeholders until the fan, PSU,
// drift and event-log signals are written (detector/fan.go, psu.go,
// drift.go, eventlog.go).

func (d *Detector) evalFan(comp *component, v *view, now time.Time) evaluation { return evaluation{} }

func (d *Detector) evalPSU(comp *component, v *view, now time.Time) evaluation { return evaluation{} }

func (d *Detector) evalDrift(comp *component, now time.Time) evaluation { return evaluation{} }

func (d *Detector) evalLog(comp *component, now time.Time) []Reason { return nil }
