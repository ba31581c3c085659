package detector

import (
	"fmt"
	"time"

	"github.com/prefail/prefail/model"
)

// evalOther scores every component that is not a drive: the kind's own
// signals (fan.go, psu.go, drift.go for the rest), plus its active
// conditions and the log events that concern it (conditions.go,
// eventlog.go; the target's unmatched entries go to its BMC), plus the
// source's verdict.
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
	ev.reasons = append(ev.reasons, mergeConditionLog(d.conditionReasons(comp, v), d.evalLog(comp, now))...)
	if v.logOwner(comp) {
		ev.reasons = append(ev.reasons, d.evalUnmatchedLog(v, now)...)
	}
	ev.reasons = append(ev.reasons, sourceVerdict(comp, &d.cfg.Source, now)...)
	return ev
}

// sourceVerdict turns the source's own health into a reason: the BMC's
// warning is a weak sign (BMCs raise it for trivia), and counts once it
// has held for cfg.WarningHold (a PSU is "warning" for the 20 minutes its
// input is lost: a verdict that comes and goes with each sample would make
// the component flap); its critical a strong one, at once. The detector's
// point is to be earlier than this.
func sourceVerdict(comp *component, cfg *SourceConfig, now time.Time) []Reason {
	switch comp.Health {
	case model.HealthWarning:
		if now.Sub(comp.HealthSince) < cfg.WarningHold.D() {
			return nil
		}
		return []Reason{{Signal: "health", Text: "the source reports warning", Score: cfg.Warning}}
	case model.HealthCritical:
		return []Reason{{Signal: "health", Text: "the source reports critical", Score: cfg.Critical}}
	case model.HealthAbsent:
		if comp.WasPresent {
			return []Reason{{Signal: "presence", Text: fmt.Sprintf("%s is no longer present", comp.Ref.Kind), Score: cfg.Absent}}
		}
	}
	return nil
}
