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
	switch {
	case isPart(comp.Ref.Kind) && comp.Health == model.HealthAbsent:
		// An empty bay, or a part pulled: nothing to score but its
		// absence (sourceVerdict), never a stopped fan or a lost input.
	case comp.Ref.Kind == model.KindFan:
		ev = d.evalFan(comp, v, now)
	case comp.Ref.Kind == model.KindPSU:
		ev = d.evalPSU(comp, v, now)
	default:
		ev = d.evalDrift(comp, now)
	}
	ev.reasons = append(ev.reasons, mergeConditionLog(d.conditionReasons(comp, v), d.evalLog(comp, now))...)
	if v.logOwner(comp) {
		ev.reasons = append(ev.reasons, d.evalUnmatchedLog(v, now)...)
	}
	ev.reasons = append(ev.reasons, d.sourceVerdict(comp, now)...)
	return ev
}

// sourceVerdict turns the source's own health into a reason: the BMC's
// warning is a weak sign (BMCs raise it for trivia), and counts once it
// has held for cfg.WarningHold (a PSU is "warning" for the 20 minutes its
// input is lost: a verdict that comes and goes with each sample would make
// the component flap); its critical a strong one, at once. The detector's
// point is to be earlier than this.
//
// A fan or PSU that was present and has been absent for RemovedHold (or
// gone from complete scans: part.go) was removed or is no longer
// detected: a warning of its own (Absent), not a stopped part. A part
// absent from the first scan is an empty bay: nothing.
func (d *Detector) sourceVerdict(comp *component, now time.Time) []Reason {
	cfg := &d.cfg.Source
	switch comp.Health {
	case model.HealthWarning:
		if now.Sub(comp.HealthSince) < cfg.WarningHold.D() {
			return nil
		}
		return []Reason{{Signal: "health", Text: "the source reports warning", Score: cfg.Warning}}
	case model.HealthCritical:
		return []Reason{{Signal: "health", Text: "the source reports critical", Score: cfg.Critical}}
	case model.HealthAbsent:
		if d.removed(comp, now) {
			return []Reason{{Signal: "presence", Score: cfg.Absent,
				Text: fmt.Sprintf("%s %s was removed or is no longer detected (absent for %s)", comp.Ref.Kind, nameOf(comp), fmtAgo(now.Sub(comp.HealthSince)))}}
		}
	}
	return nil
}
