package detector

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// Conditions are what the source says is wrong with a part right now
// (Redfish Resource.Status.Conditions, DSP0268 "Conditions in this
// resource that require attention"; IPMI discrete sensor states; the
// Redfish reader's "LineInputStatus.<value>" for a PSU whose
// LineInputStatus is neither Normal nor Unknown). Unlike a log entry, a
// condition is live state: it weighs the same for as long as it is
// active, however old, and nothing the scan after it disappears.
//
// They are classified by the event-log types (EventLog.Types) from their
// message id and message, and score their type's Weight. A condition of
// no type, or of a type without a weight of its own (threshold
// crossings), adds nothing: the source's Health already says as much,
// and the readings are judged by their own signals. Informational ones
// are not faults. On a PSU, input-loss conditions are counted by the
// input-loss signal and out-of-range ones by the input voltage band
// (psu.go), not here.

// span is a run of scans in which a condition was active.
type span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// What is the condition, as a reason tells it.
	What string `json:"what"`
}

// updateConditions records the component's active conditions, and the
// runs of an input-loss condition on a PSU. It runs before the update
// sets LastSeen: a run continues when its last scan was the previous one.
func (d *Detector) updateConditions(comp *component, c *model.Component, now time.Time) {
	comp.conds = slices.Clone(c.Conditions)
	if c.Kind != model.KindPSU {
		return
	}
	i := slices.IndexFunc(c.Conditions, func(x model.Condition) bool { return d.condIs(&x, "input_lost") })
	if i < 0 {
		return
	}
	if n := len(comp.InputLost); n > 0 && comp.InputLost[n-1].To.Equal(comp.LastSeen) {
		comp.InputLost[n-1].To = now
		return
	}
	// Runs older than the recurrence window count for nothing.
	keep := comp.InputLost[:0]
	for _, s := range comp.InputLost {
		if now.Sub(s.To) <= d.cfg.PSU.RecurrenceWindow.D() {
			keep = append(keep, s)
		}
	}
	comp.InputLost = append(keep, span{From: now, To: now, What: condText(&c.Conditions[i])})
	if len(comp.InputLost) > maxLog {
		comp.InputLost = comp.InputLost[len(comp.InputLost)-maxLog:]
	}
}

// condType classifies a condition by its message id and message.
func (d *Detector) condType(c *model.Condition) *LogTypeConfig {
	return d.classify(c.MessageID + " " + c.Message)
}

// condIs reports whether c is a fault of the given type.
func (d *Detector) condIs(c *model.Condition, typ string) bool {
	t := d.condType(c)
	return faulty(c) && t != nil && t.Type == typ
}

// faulty: a warning or critical condition; informational ones (IPMI
// "Presence detected", Redfish severity OK) are not faults.
func faulty(c *model.Condition) bool {
	return c.Severity == model.SeverityWarning || c.Severity == model.SeverityCritical
}

// condKey names a condition's message: the last part of its registry id
// ("Power.1.0.PowerSupplyPredictiveFailure" -> PowerSupplyPredictiveFailure,
// "LineInputStatus.LossOfInput" -> LossOfInput), else the message.
func condKey(c *model.Condition) string {
	if id := c.MessageID; id != "" {
		return id[strings.LastIndexByte(id, '.')+1:]
	}
	return c.Message
}

// condText is a condition in a reason: `condition "Power supply 'PSU 1'
// has a predicted failure condition." (PowerSupplyPredictiveFailure)`.
func condText(c *model.Condition) string {
	msg := cmp.Or(c.Message, c.MessageID)
	if k := condKey(c); c.MessageID != "" && k != msg {
		return fmt.Sprintf("condition %q (%s)", msg, k)
	}
	return fmt.Sprintf("condition %q", msg)
}

// typedReason is a condition's reason with the type it was scored by.
type typedReason struct {
	Reason
	typ string
}

func reasonsOf(rs []typedReason) []Reason {
	out := make([]Reason, len(rs))
	for i := range rs {
		out[i] = rs[i].Reason
	}
	return out
}

// conditionReasons scores the component's active conditions: one reason
// per type, its Weight, for as long as one of them is active.
func (d *Detector) conditionReasons(comp *component, v *view) []typedReason {
	if len(comp.conds) == 0 {
		return nil
	}
	type group struct {
		t     *LogTypeConfig
		first *model.Condition
		n     int
	}
	var groups []*group
	for i := range comp.conds {
		c := &comp.conds[i]
		if !faulty(c) || !v.ownsCondition(comp, c) {
			continue
		}
		t := d.condType(c)
		if t == nil || t.Ignore || t.Weight <= 0 {
			continue
		}
		if comp.Ref.Kind == model.KindPSU && (t.Type == "input_lost" || t.Type == "input_out_of_range") {
			continue // the PSU's input signals count these
		}
		j := slices.IndexFunc(groups, func(g *group) bool { return g.t == t })
		if j < 0 {
			groups = append(groups, &group{t: t, first: c})
			j = len(groups) - 1
		}
		groups[j].n++
	}
	out := make([]typedReason, 0, len(groups))
	for _, g := range groups {
		text := fmt.Sprintf("%s: %s, active now", condText(g.first), g.t.Label)
		if g.n > 1 {
			text += fmt.Sprintf(" (and %d more)", g.n-1)
		}
		out = append(out, typedReason{Reason{Signal: "condition", Value: ptr(float64(g.n)), Score: round3(clamp01(g.t.Weight)), Text: text}, g.t.Type})
	}
	return out
}

// mergeConditionLog keeps one reason per fact: a condition and log
// entries of the same type on the same component are usually one fault
// told twice (the PSU's predictive-failure condition and the log entry
// that announced it), so the stronger carries the score and the other is
// told in its text.
func mergeConditionLog(conds []typedReason, logs []Reason) []Reason {
	out := logs
	for _, c := range conds {
		j := slices.IndexFunc(out, func(r Reason) bool { return r.Signal == "log_"+c.typ })
		if j < 0 {
			out = append(out, c.Reason)
			continue
		}
		out[j] = *stronger(&out[j], &c.Reason)
	}
	return out
}

// stronger returns the stronger of two reasons for one fact, telling the
// other in its text; a when they are equal.
func stronger(a, b *Reason) *Reason {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	keep, other := *a, *b
	if b.Score > a.Score {
		keep, other = *b, *a
	}
	keep.Text += "; " + other.Text
	return &keep
}

// condOwner says where a condition shown by several components is scored.
type condOwner struct {
	part bool   // a part (not a system, chassis or BMC) shows it
	agg  string // else the first aggregate, by id, that shows it
}

// aggregate kinds roll their parts' conditions up (DSP0268
// Resource.Condition.OriginOfCondition: "in the case of rolled up
// conditions", the resource that generated it).
func aggregate(k model.Kind) bool {
	return k == model.KindSystem || k == model.KindChassis || k == model.KindBMC
}

// conditionKey identifies a condition across components.
func conditionKey(c *model.Condition) string { return c.MessageID + "\x00" + c.Message }

// conditionOwners finds the conditions a system, chassis or BMC shows
// that a part of the snapshot shows too: rolled up, they are the part's
// and scored there, not once more on every level above it (the model
// keeps no OriginOfCondition). Of several aggregates showing a condition
// no part does, the first by id scores it.
func conditionOwners(s *model.Snapshot) map[string]condOwner {
	var out map[string]condOwner
	for i := range s.Components {
		c := &s.Components[i]
		for j := range c.Conditions {
			if out == nil {
				out = map[string]condOwner{}
			}
			k := conditionKey(&c.Conditions[j])
			o := out[k]
			switch {
			case !aggregate(c.Kind):
				o.part = true
			case o.agg == "" || c.ID < o.agg:
				o.agg = c.ID
			}
			out[k] = o
		}
	}
	return out
}

// ownsCondition reports whether comp is where c is scored.
func (v *view) ownsCondition(comp *component, c *model.Condition) bool {
	if !aggregate(comp.Ref.Kind) {
		return true
	}
	o, ok := v.condOwners[conditionKey(c)]
	return !ok || !o.part && o.agg == comp.Ref.ID
}

// inputLossConditions are the starts of the input-loss condition runs
// within the recurrence window (a run that began before the window and
// still lasts counts at the window's start), whether one is active now,
// and the latest run's condition. Runs for which skip is true (a swap's:
// part.go) count for nothing.
func inputLossConditions(comp *component, now, window int64, skip func(from, to int64) bool) (times []int64, active bool, what string) {
	for _, s := range comp.InputLost {
		if s.To.Unix() <= now-window || s.From.Unix() > now || skip(s.From.Unix(), s.To.Unix()) {
			continue
		}
		times = append(times, max(s.From.Unix(), now-window+1))
		active = active || s.To.Unix() == now
		what = s.What
	}
	return times, active, what
}

// psuConditionBand is the input voltage band reason of a PSU that says
// its input is out of range (PowerSupply LineInputStatus OutOfRange):
// the type's weight, for as long as it says so.
func (d *Detector) psuConditionBand(comp *component) (Reason, bool) {
	for i := range comp.conds {
		c := &comp.conds[i]
		if t := d.condType(c); faulty(c) && t != nil && t.Type == "input_out_of_range" && t.Weight > 0 {
			return Reason{Signal: "input_voltage", Score: round3(clamp01(t.Weight)),
				Text: fmt.Sprintf("%s reports its input out of its operating range: %s, active now", nameOf(comp), condText(c))}, true
		}
	}
	return Reason{}, false
}
