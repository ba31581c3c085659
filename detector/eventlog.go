package detector

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// evalLog scores the log entries filed under a component (SEL records,
// Redfish LogEntry with Links.OriginOfCondition):
//
//   - a deassertion resolves the assertion it pairs with (the reader's
//     Active false, or a later deassertion of the same sensor type and
//     code): resolved entries weigh nothing;
//   - each entry's weight decays with its type's half-life, so old
//     entries stop alarming;
//   - "log cleared" and informational entries are not faults;
//   - an assertion older than StaleAfter on a component that reads fine
//     now (source health ok, readings inside their thresholds) weighs
//     little: the live sensor knows better;
//   - entries of one type combine, so a recurring fault ("input power lost
//     4 times in 7 days") weighs more than one.
//
// PSU input-loss entries are left to evalPSU, which merges them with the
// input readings into one recurrence count.
func (d *Detector) evalLog(comp *component, now time.Time) []Reason {
	skip := ""
	entries := comp.Log
	if comp.Ref.Kind == model.KindPSU {
		skip = "input_lost"
	} else {
		entries = d.withoutSwaps(comp.Ref.Target, entries)
	}
	return d.logReasons(entries, now, liveFine(comp), 1, skip, "")
}

// withoutSwaps drops the input-lost entries filed on a system or manager
// (HPE's IML names no PSU as their origin) that come within
// Source.Maintenance of a PSU of the target being pulled, put back or
// replaced: a hot-swap's "Input Power Loss or Unplugged Power Cord" is the
// swap, as it is on the PSU itself (psuInputLoss).
func (d *Detector) withoutSwaps(target string, entries []logEntry) []logEntry {
	var lost []int
	for i := range entries {
		if t := d.logType(&entries[i]); t != nil && t.Type == "input_lost" {
			lost = append(lost, i)
		}
	}
	if len(lost) == 0 {
		return entries
	}
	var marks []int64
	for k, c := range d.comps {
		if k.target != target || c.Ref.Kind != model.KindPSU {
			continue
		}
		marks = append(marks, d.maintenance(c)...)
		if c.Health == model.HealthAbsent && c.WasPresent {
			marks = append(marks, c.HealthSince.Unix()) // pulled, not back yet
		}
	}
	if len(marks) == 0 {
		return entries
	}
	out := make([]logEntry, 0, len(entries))
	for i := range entries {
		if slices.Contains(lost, i) && d.nearMaintenance(marks, entries[i].Time.Unix(), entries[i].Time.Unix()) {
			continue
		}
		out = append(out, entries[i])
	}
	return out
}

// evalUnmatchedLog scores the target's entries that name no component
// (Redfish OriginOfCondition pointing at a resource prefail does not
// report, such as a Sensor folded into a fan): filed under the target's
// BMC, capped at EventLog.Unmatched, since nothing live can confirm them.
func (d *Detector) evalUnmatchedLog(v *view, now time.Time) []Reason {
	return d.logReasons(v.unmatchedLog(), now, false, d.cfg.EventLog.Unmatched, "", "unmatched ")
}

// logOwner reports whether comp is the component that carries the
// target's unmatched log entries: its first BMC by id.
func (v *view) logOwner(comp *component) bool {
	if comp.Ref.Kind != model.KindBMC {
		return false
	}
	for _, o := range v.touched {
		if o.Ref.Kind == model.KindBMC && o.Ref.ID < comp.Ref.ID {
			return false
		}
	}
	return true
}

// logGroup is the entries of one type (or, untyped, one message).
type logGroup struct {
	label   string
	signal  string
	weights []float64
	recent  int // entries within the recurrence window
	last    time.Time
	message string
}

// logReasons scores entries: one reason per group.
func (d *Detector) logReasons(entries []logEntry, now time.Time, fine bool, capAt float64, skip, prefix string) []Reason {
	cfg := &d.cfg.EventLog
	if len(entries) == 0 {
		return nil
	}
	es := slices.Clone(entries)
	slices.SortStableFunc(es, func(a, b logEntry) int { return a.Time.Compare(b.Time) })
	groups := map[string]*logGroup{}
	var order []string
	type ident struct {
		t                 time.Time
		msg, code, sensor string
	}
	seen := map[ident]bool{}
	for i := range es {
		e := &es[i]
		// One event in two logs (the SEL and the manager's log) counts once.
		id := ident{e.Time, e.Message, e.Code, e.Key}
		if seen[id] {
			continue
		}
		seen[id] = true
		if e.Asserted != nil && !*e.Asserted {
			continue // a deassertion: it only resolves
		}
		t := d.logType(e)
		if t != nil && (t.Ignore || t.Type == skip) {
			continue
		}
		if e.Active != nil && !*e.Active || deasserted(es[i+1:], e) {
			continue
		}
		base := 0.0
		switch e.Severity {
		case model.SeverityWarning:
			base = cfg.Warning
		case model.SeverityCritical:
			base = cfg.Critical
		default:
			continue // informational
		}
		hl := cfg.HalfLife.D()
		key, label, signal := "msg\x00"+e.Key+"\x00"+e.Code+"\x00"+e.Message, "", "log"
		if t != nil {
			if t.Weight > 0 {
				base = t.Weight
			}
			if t.HalfLife > 0 {
				hl = t.HalfLife.D()
			}
			key, label, signal = "type\x00"+t.Type, t.Label, "log_"+t.Type
		}
		age := max(0, now.Sub(e.Time))
		w := base * math.Exp2(-float64(age)/float64(max(hl, time.Minute)))
		if fine && age > cfg.StaleAfter.D() {
			w *= cfg.Stale
		}
		g := groups[key]
		if g == nil {
			g = &logGroup{label: label, signal: signal}
			groups[key] = g
			order = append(order, key)
		}
		g.weights = append(g.weights, w)
		if age <= cfg.RecurrenceWindow.D() {
			g.recent++
		}
		g.last, g.message = e.Time, e.Message
	}
	var out []Reason
	for _, k := range order {
		g := groups[k]
		score := math.Min(math.Min(cfg.Max, capAt), noisyOr(g.weights...))
		if score < 0.05 {
			continue // decayed away
		}
		what := fmt.Sprintf("%q", g.message)
		if g.label != "" {
			what = g.label + fmt.Sprintf(" (%q)", g.message)
		}
		text := fmt.Sprintf("%slog: %s", prefix, what)
		if g.recent > 1 {
			text += fmt.Sprintf(", %d times in %s", g.recent, fmtSpan(cfg.RecurrenceWindow.D()))
		}
		text += fmt.Sprintf(", last %s ago", fmtAgo(max(0, now.Sub(g.last))))
		if fine {
			text += "; the component reads fine now"
		}
		out = append(out, Reason{Signal: g.signal, Value: ptr(float64(len(g.weights))), Score: round3(score), Text: text})
	}
	slices.SortStableFunc(out, func(a, b Reason) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// deasserted reports whether a later entry deasserts e: the same sensor
// type and code (IPMI sensor type and event offset), Asserted false.
//
// Or a later entry of the same words that says all is well: HPE's iLO
// marks a repaired IML event by logging it again with Severity OK
// ("System Power Supplies Not Redundant" ... Repaired), the way a plug
// pulled for a hot-swap and put back reads.
func deasserted(later []logEntry, e *logEntry) bool {
	for i := range later {
		l := &later[i]
		if (e.Code != "" || e.Key != "") && l.Asserted != nil && !*l.Asserted && l.Key == e.Key && l.Code == e.Code {
			return true
		}
		if e.Message != "" && l.Message == e.Message && l.Severity == model.SeverityInfo && !l.Time.Before(e.Time) {
			return true
		}
	}
	return false
}

// logType classifies an entry by the first configured type whose match
// strings occur in its message, code, sensor type or message id (a
// registry id such as "Power.1.0.PowerSupplyFailed" or iDRAC's
// "IDRAC.2.8.PSU0003" often says what a terse message does not).
func (d *Detector) logType(e *logEntry) *LogTypeConfig {
	text := e.Message + " " + e.Code + " " + e.Key
	if e.MessageID != "" {
		text += " " + e.MessageID
	}
	return d.classify(text)
}

// classify returns the first configured type with a match string in text.
func (d *Detector) classify(text string) *LogTypeConfig {
	text = strings.ToLower(text)
	for i := range d.cfg.EventLog.Types {
		t := &d.cfg.EventLog.Types[i]
		for _, m := range t.Match {
			if m != "" && strings.Contains(text, strings.ToLower(m)) {
				return t
			}
		}
	}
	return nil
}

// liveFine reports whether a component reads fine now: the source says
// ok, no reading is past its caution threshold, and a fan still turns.
func liveFine(c *component) bool {
	if c.Health != model.HealthOK {
		return false
	}
	for name, s := range c.Series {
		if len(s.Buckets) == 0 {
			continue
		}
		v := s.last()
		if t, ok := c.Thresholds[name]; ok {
			lo, hi := t.LowerNonCritical, t.UpperNonCritical
			if lo == nil {
				lo = t.LowerCritical
			}
			if hi == nil {
				hi = t.UpperCritical
			}
			if lo != nil && v < *lo || hi != nil && v > *hi {
				return false
			}
		}
		if c.Ref.Kind == model.KindFan && (name == "speed" || name == "speed_percent") && v <= 0 {
			return false
		}
	}
	return true
}
