package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prefail/prefail/internal/termtext"
	"github.com/prefail/prefail/model"
)

// schemaVersion is the version of the --json document (docs/json-schema.md).
// Fields are only ever added; a breaking change bumps it.
const schemaVersion = 1

// maxTableEvents bounds the events the table shows per target.
const maxTableEvents = 20

// jsonReport is the --json document.
type jsonReport struct {
	SchemaVersion int          `json:"schema_version"`
	Generated     string       `json:"generated"`
	Targets       []jsonTarget `json:"targets"`
}

type jsonTarget struct {
	Target          string          `json:"target"`
	Error           string          `json:"error,omitempty"`
	DurationSeconds float64         `json:"duration_seconds"`
	Worst           model.Health    `json:"worst,omitempty"`
	Snapshot        *model.Snapshot `json:"snapshot"`
}

// writeJSON writes the results as one JSON document.
func writeJSON(w io.Writer, results []result, generated time.Time) error {
	rep := jsonReport{
		SchemaVersion: schemaVersion,
		Generated:     generated.UTC().Format(time.RFC3339),
		Targets:       make([]jsonTarget, 0, len(results)),
	}
	for _, r := range results {
		rep.Targets = append(rep.Targets, jsonTargetOf(r))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// jsonTargetOf is a result in the JSON form of a target (docs/json-schema.md).
func jsonTargetOf(r result) jsonTarget {
	jt := jsonTarget{
		Target:          r.Target,
		DurationSeconds: math.Round(r.Duration.Seconds()*1000) / 1000,
	}
	if r.Err != nil {
		jt.Error = r.Err.Error()
	}
	if r.Snapshot != nil {
		s := *r.Snapshot
		// Empty lists are [] rather than null, as the schema says.
		if s.Components == nil {
			s.Components = []model.Component{}
		}
		if s.Events == nil {
			s.Events = []model.Event{}
		}
		if s.Warnings == nil {
			s.Warnings = []model.Warning{}
		}
		if s.Target == "" {
			s.Target = r.Target
		}
		// A health the reader left empty is unknown, never ok.
		s.Components = slices.Clone(s.Components)
		for i := range s.Components {
			if s.Components[i].Health == "" {
				s.Components[i].Health = model.HealthUnknown
			}
		}
		s.Redundancy = slices.Clone(s.Redundancy)
		for i := range s.Redundancy {
			if s.Redundancy[i].Health == "" {
				s.Redundancy[i].Health = model.HealthUnknown
			}
		}
		jt.Snapshot = &s
		if r.Err == nil {
			jt.Worst = s.Worst()
		}
	}
	if jt.Worst == "" {
		// A failed scan has no verdict: the health is unknown.
		jt.Worst = model.HealthUnknown
	}
	return jt
}

// writeTable writes the results as text tables, one block per target.
func writeTable(w io.Writer, results []result) error {
	for i, r := range results {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, renderTarget(r)); err != nil {
			return err
		}
	}
	return nil
}

// renderTarget is one target's block of the table (a scan of many keeps
// these, not the snapshots). No line ends in padding.
func renderTarget(r result) string {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	writeTarget(tw, r)
	_ = tw.Flush() // into a buffer: cannot fail
	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	return out.String()
}

func writeTarget(tw *tabwriter.Writer, r result) {
	s := r.Snapshot
	// Header: target, worst health, counts by kind, requests, duration.
	head := "== " + clean(r.Target)
	if r.Err != nil {
		// A failed scan has no verdict, whatever part of it was read.
		head += "  FAILED  worst: " + healthText(model.HealthUnknown)
	} else if s != nil {
		head += "  worst: " + healthText(s.Worst())
	}
	if s != nil {
		if len(s.Components) > 0 || r.Err == nil {
			head += "  components: " + kindCounts(s)
		}
		head += "  requests: " + strconv.Itoa(s.Requests)
	}
	head += "  duration: " + r.Duration.Round(time.Millisecond).String()
	fmt.Fprintln(tw, head)
	tw.Flush()
	if r.Err != nil {
		fmt.Fprintf(tw, "ERROR: %s\n", cleanN(r.Err.Error(), 2000))
	}
	if s == nil {
		return
	}

	if len(s.Components) > 0 {
		fmt.Fprintln(tw, "KIND\tNAME\tHEALTH\tREADING\tNOTES")
		for _, c := range sortComponents(s.Components) {
			row(tw, clean(string(c.Kind)), clean(componentName(c)), healthText(c.Health), mainReading(c), notes(c))
		}
		tw.Flush()
	} else if r.Err == nil {
		fmt.Fprintln(tw, "no components")
	}

	if len(s.Redundancy) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "REDUNDANCY\tKIND\tHEALTH\tMEMBERS\tREDUNDANT")
		groups := slices.Clone(s.Redundancy)
		slices.SortStableFunc(groups, func(x, y model.RedundancyGroup) int {
			return y.Health.Severity() - x.Health.Severity()
		})
		for _, g := range groups {
			name := cmp.Or(g.Name, g.ID)
			if g.Mode != "" {
				name += " (" + g.Mode + ")"
			}
			members := fmt.Sprintf("%d of %d ok", g.Healthy, len(g.Members))
			if g.Working != g.Healthy {
				members += fmt.Sprintf(", %d working", g.Working)
			}
			if g.MinNeeded > 0 {
				members += fmt.Sprintf(", %d needed", g.MinNeeded)
			}
			red := "yes"
			if !g.Redundant {
				red = "NO"
			}
			if g.Derived {
				red += " (derived)"
			}
			row(tw, clean(name), clean(string(g.Kind)), healthText(g.Health), members, red)
		}
		tw.Flush()
	}

	if len(s.Events) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "EVENTS (newest first)\tSEVERITY\tCOMPONENT\tMESSAGE")
		events := slices.Clone(s.Events)
		slices.SortStableFunc(events, func(x, y model.Event) int {
			switch {
			case x.Time.IsZero() && y.Time.IsZero():
				return 0
			case x.Time.IsZero():
				return 1
			case y.Time.IsZero():
				return -1
			}
			return y.Time.Compare(x.Time)
		})
		for i, e := range events {
			if i == maxTableEvents {
				fmt.Fprintf(tw, "... %d more\n", len(events)-maxTableEvents)
				break
			}
			when := "-"
			if !e.Time.IsZero() {
				when = e.Time.Format("2006-01-02 15:04:05Z07:00")
			}
			comp := cmp.Or(e.SensorName, e.Component, e.SensorType, "-")
			row(tw, when, clean(string(cmp.Or(e.Severity, "-"))), clean(comp), clean(e.Message))
		}
		tw.Flush()
	}

	if len(s.Warnings) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "WARNINGS\tMESSAGE")
		for _, wn := range s.Warnings {
			row(tw, clean(cmp.Or(wn.Source, "-")), clean(wn.Message))
		}
		tw.Flush()
	}
}

// row writes one table row.
func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// sortComponents returns the components worst health first, then by kind,
// keeping the reader's order otherwise.
func sortComponents(cs []model.Component) []model.Component {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(x, y model.Component) int {
		if d := y.Health.Severity() - x.Health.Severity(); d != 0 {
			return d
		}
		if d := model.KindRank(x.Kind) - model.KindRank(y.Kind); d != 0 {
			return d
		}
		return strings.Compare(string(x.Kind), string(y.Kind))
	})
	return out
}

func kindCounts(s *model.Snapshot) string {
	counts := map[model.Kind]int{}
	var kinds []model.Kind
	for _, c := range s.Components {
		if counts[c.Kind] == 0 {
			kinds = append(kinds, c.Kind)
		}
		counts[c.Kind]++
	}
	if len(kinds) == 0 {
		return "none"
	}
	slices.SortStableFunc(kinds, func(x, y model.Kind) int {
		if d := model.KindRank(x) - model.KindRank(y); d != 0 {
			return d
		}
		return strings.Compare(string(x), string(y))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], clean(string(k)))
	}
	return strings.Join(parts, ", ")
}

// healthText shows a health value. Empty and unrecognized values show as
// unknown: nothing the table does not understand passes as ok.
func healthText(h model.Health) string {
	switch h {
	case model.HealthOK, model.HealthWarning, model.HealthCritical, model.HealthAbsent, model.HealthUnknown:
		return string(h)
	case "":
		return "unknown"
	}
	return "unknown (" + clean(string(h)) + ")"
}

func componentName(c model.Component) string {
	name := cmp.Or(c.Name, c.ID, "-")
	if c.Location != "" && c.Location != c.Name {
		name += " [" + c.Location + "]"
	}
	return name
}

// mainReading renders c's main reading with its unit and the nearest
// threshold: "5400 RPM (lower critical 1000)".
func mainReading(c model.Component) string {
	r, ok := c.MainReading()
	if !ok {
		return "-"
	}
	var b strings.Builder
	if len(model.MainReadingNames(c.Kind)) == 0 || r.Name != model.MainReadingNames(c.Kind)[0] {
		b.WriteString(clean(r.Name) + " ")
	}
	if r.Value == nil {
		b.WriteString("unavailable")
		return b.String()
	}
	b.WriteString(formatValue(*r.Value, r.Unit))
	if r.Thresholds != nil {
		if label, v, ok := nearestThreshold(*r.Value, r.Thresholds); ok {
			fmt.Fprintf(&b, " (%s %s)", label, formatNumber(v))
		}
	}
	return b.String()
}

// nearestThreshold returns the threshold closest to v.
func nearestThreshold(v float64, t *model.Thresholds) (string, float64, bool) {
	cands := []struct {
		label string
		v     *float64
	}{
		{"lower critical", t.LowerCritical}, {"upper critical", t.UpperCritical},
		{"lower warning", t.LowerNonCritical}, {"upper warning", t.UpperNonCritical},
		{"lower fatal", t.LowerFatal}, {"upper fatal", t.UpperFatal},
	}
	best, bestV, found := "", 0.0, false
	bestD := math.Inf(1)
	for _, c := range cands {
		if c.v == nil {
			continue
		}
		if d := math.Abs(v - *c.v); d < bestD {
			best, bestV, bestD, found = c.label, *c.v, d, true
		}
	}
	return best, bestV, found
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "":
		return formatNumber(v)
	case "Cel":
		return formatNumber(v) + " °C"
	case "%":
		return formatNumber(v) + "%"
	}
	return formatNumber(v) + " " + clean(unit)
}

func formatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// notes are the component's own warnings: its predictive-failure flag and
// its active conditions.
func notes(c model.Component) string {
	var parts []string
	if c.FailurePredicted != nil && *c.FailurePredicted {
		parts = append(parts, "failure predicted")
	}
	if c.State != "" && c.State != "Enabled" {
		parts = append(parts, "state "+c.State)
	}
	for _, cond := range c.Conditions {
		parts = append(parts, cond.Message)
	}
	if len(parts) == 0 {
		return ""
	}
	return clean(strings.Join(parts, "; "))
}

// clean makes text from a BMC safe for a terminal table: no control
// characters (escape sequences, tabs, newlines), bounded length.
func clean(s string) string { return cleanN(s, 160) }

// cleanN is clean with a length bound of max runes.
func cleanN(s string, max int) string { return termtext.Cell(s, max) }
