package lifecycle

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prefail/prefail/internal/termtext"
)

// SchemaVersion is the version of the JSON document WriteJSON writes
// (docs/lifecycle.md); fields are only added.
const SchemaVersion = 1

// ctxEvery is how many rows are written between two looks at the context.
const ctxEvery = 1024

// CSVHeader is the header row of WriteCSV, one column per Row field.
func CSVHeader() []string {
	return []string{"target", "kind", "component", "name", "location", "manufacturer", "model", "serial_number",
		"part_number", "firmware", "firmware_outlier", "media", "age_years", "age_hours", "age_source",
		"power_on_hours", "manufacture_date", "first_seen", "percentage_used", "sector_growth",
		"speed_loss_percent", "efficiency_loss_points", "refresh_due", "due_in_days", "rule", "reason", "seen_at"}
}

// WriteCSV writes a header row and one row per part. Text cells are made
// safe for spreadsheets: control characters become spaces, and a cell
// whose first character a spreadsheet would read as a formula (= + - @,
// or their full-width forms, after any spaces) gets a leading ' (OWASP
// "CSV injection"). Numbers are written as numbers.
func (inv *Inventory) WriteCSV(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader()); err != nil {
		return fmt.Errorf("lifecycle: write CSV: %w", err)
	}
	rec := make([]string, 0, len(CSVHeader()))
	for i := range inv.rows {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := inv.Row(i)
		rec = append(rec[:0], safeCell(r.Target), safeCell(string(r.Kind)), safeCell(r.Component), safeCell(r.Name),
			safeCell(r.Location), safeCell(r.Manufacturer), safeCell(r.Model), safeCell(r.SerialNumber),
			safeCell(r.PartNumber), safeCell(r.Firmware), boolCell(r.FirmwareOutlier), r.Media,
			numCell(yearsOf(r.AgeHours), 1), numCell(r.AgeHours, 0), string(r.AgeSource), numCell(r.PowerOnHours, 0),
			r.ManufactureDate, timeCell(r.FirstSeen), numCell(r.PercentageUsed, 1), numCell(r.SectorGrowth, 0),
			numCell(r.SpeedLossPercent, 1), numCell(r.EfficiencyLossPoints, 2), string(r.RefreshDue),
			numCell(r.DueInDays, 0), r.Rule, safeCell(r.Reason), r.SeenAt.Format(time.RFC3339))
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("lifecycle: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("lifecycle: write CSV: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("lifecycle: write CSV: %w", err)
	}
	return nil
}

// safeCell neutralizes a text cell for spreadsheets (see WriteCSV).
func safeCell(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	first := strings.TrimLeft(s, " \u00a0\u3000")
	if first == "" {
		return s
	}
	switch r, _ := utf8.DecodeRuneInString(first); r {
	case '=', '+', '-', '@', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20':
		return "'" + s
	}
	return s
}

func boolCell(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func numCell(v *float64, prec int) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func yearsOf(h *float64) *float64 {
	if h == nil {
		return nil
	}
	y := *h / hoursPerYear
	return &y
}

// jsonPolicy is the policy as the JSON document shows it.
type jsonPolicy struct {
	Name        string     `json:"name"`
	HorizonDays float64    `json:"horizon_days"`
	Rules       []jsonRule `json:"rules"`
}

type jsonRule struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Kind        string    `json:"kind"`
	Media       string    `json:"media,omitempty"`
	Model       string    `json:"model,omitempty"`
	Condition   Condition `json:"condition"`
	Limit       string    `json:"limit"`
	HorizonDays float64   `json:"horizon_days"`
}

// WriteJSON writes the inventory as one JSON document: schema_version,
// the policy, the summary, the firmware outliers and the rows
// (docs/lifecycle.md). Rows are written one at a time: the document is
// never held whole.
func (inv *Inventory) WriteJSON(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	jp := jsonPolicy{Name: inv.policy.Name, HorizonDays: inv.policy.Horizon.Hours() / hoursPerDay, Rules: []jsonRule{}}
	for i := range inv.policy.Rules {
		r := &inv.policy.Rules[i]
		jp.Rules = append(jp.Rules, jsonRule{Name: r.Name, Description: r.Description, Kind: string(r.Kind), Media: r.Media,
			Model: r.Model, Condition: r.Condition, Limit: r.LimitText, HorizonDays: r.horizon(inv.policy).Hours() / hoursPerDay})
	}
	var err error
	put := func(s string) {
		if err == nil {
			_, err = bw.WriteString(s)
		}
	}
	field := func(name string, v any, last bool) {
		b, merr := json.MarshalIndent(v, "  ", "  ")
		if merr != nil && err == nil {
			err = merr
		}
		put("  " + strconv.Quote(name) + ": ")
		put(string(b))
		if !last {
			put(",\n")
		}
	}
	put("{\n")
	field("schema_version", SchemaVersion, false)
	field("policy", jp, false)
	field("summary", &inv.summary, false)
	field("firmware_outliers", inv.summary.FirmwareOutliers, false)
	put("  \"rows\": [")
	for i := range inv.rows {
		if i%ctxEvery == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		b, merr := json.MarshalIndent(inv.Row(i), "    ", "  ")
		if merr != nil {
			return fmt.Errorf("lifecycle: write JSON: row %d: %w", i, merr)
		}
		if i > 0 {
			put(",")
		}
		put("\n    ")
		put(string(b))
	}
	if len(inv.rows) > 0 {
		put("\n  ")
	}
	put("]\n}\n")
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("lifecycle: write JSON: %w", err)
	}
	return nil
}

// WriteTable writes the inventory for a terminal: the summary, what to
// order, the firmware outliers, then one line per part. Text from the
// BMCs is cleaned of control and formatting characters and shortened.
func (inv *Inventory) WriteTable(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	s := &inv.summary
	fmt.Fprintf(bw, "Inventory of %d target(s), %d part(s), as of %s; policy %s, horizon %s.\n",
		s.Targets, s.Parts, s.AsOf.Format(time.DateOnly), termCell(inv.policy.Name, 60), daysText(s.HorizonDays))
	fmt.Fprintf(bw, "Refresh due: %d now, %d within the horizon.", s.DueNow, s.DueWithinHorizon)
	if s.AgeUnknown > 0 {
		fmt.Fprintf(bw, " %d part(s) of unknown age.", s.AgeUnknown)
	}
	fmt.Fprintln(bw)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	if len(s.Order) > 0 {
		fmt.Fprintln(bw, "\nTo order (due now or within the horizon):")
		fmt.Fprintln(tw, "KIND\tMODEL\tPART NUMBERS\tNOW\tWITHIN\tINSTALLED")
		for _, l := range s.Order {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", termCell(string(l.Kind), 20), orDash(termCell(l.Model, 40)),
				orDash(termCell(strings.Join(l.PartNumbers, ", "), 40)), l.DueNow, l.DueWithinHorizon, l.Installed)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("lifecycle: write table: %w", err)
		}
	}
	if len(s.FirmwareOutliers) > 0 {
		fmt.Fprintln(bw, "\nFirmware outliers:")
		fmt.Fprintln(tw, "KIND\tMODEL\tVERSION\tPARTS\tMAJORITY\tWHY")
		for _, o := range s.FirmwareOutliers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d of %d\t%s (%d)\t%s\n", termCell(string(o.Kind), 20), termCell(o.Model, 40),
				termCell(o.Version, 30), o.Parts, o.Of, termCell(o.Majority, 30), o.MajorityParts, outlierWhy(&o))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("lifecycle: write table: %w", err)
		}
	}
	fmt.Fprintln(bw, "\nParts:")
	fmt.Fprintln(tw, "TARGET\tKIND\tLOCATION\tMODEL\tSERIAL\tFIRMWARE\tAGE\tWEAR\tDUE\tREASON")
	for i := range inv.rows {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := inv.Row(i)
		where := r.Location
		if where == "" {
			where = r.Name
		}
		fw := termCell(r.Firmware, 24)
		if r.FirmwareOutlier {
			fw += " (!)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", termCell(r.Target, 40), termCell(string(r.Kind), 20),
			orDash(termCell(where, 32)), orDash(termCell(r.Model, 32)), orDash(termCell(r.SerialNumber, 24)), orDash(fw),
			ageCell(&r), orDash(wearCell(&r)), dueCell(&r), termCell(r.Reason, 160))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("lifecycle: write table: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("lifecycle: write table: %w", err)
	}
	return nil
}

func outlierWhy(o *FirmwareOutlier) string {
	switch {
	case o.Minority && o.Older:
		return "minority, older"
	case o.Older:
		return "older"
	}
	return "minority"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AgeText is the part's age in short words, as the table shows it:
// "5.3y on" (power-on hours), "4.1y made" (manufacture date), ">=2.0y
// seen" (first seen by the agent), "?" (unknown).
func (r *Row) AgeText() string { return ageCell(r) }

// WearText is the part's wear in short words ("85% used, +48 sectors"),
// empty when unknown.
func (r *Row) WearText() string { return wearCell(r) }

func ageCell(r *Row) string {
	if r.AgeHours == nil {
		return "?"
	}
	y := fmtNum(*r.AgeHours/hoursPerYear, 1) + "y"
	switch r.AgeSource {
	case AgePowerOnHours:
		return y + " on"
	case AgeManufactureDate:
		return y + " made"
	case AgeFirstSeen:
		return ">=" + y + " seen"
	}
	return y
}

func wearCell(r *Row) string {
	var parts []string
	if r.PercentageUsed != nil {
		parts = append(parts, fmtNum(*r.PercentageUsed, 1)+"% used")
	}
	if r.SectorGrowth != nil {
		parts = append(parts, "+"+fmtNum(*r.SectorGrowth, 0)+" sectors")
	}
	// A loss shows as a fall: "speed -20%"; a gain as a rise.
	change := func(loss float64) string {
		if loss > 0 {
			return "-" + fmtNum(loss, 1)
		}
		return "+" + fmtNum(-loss, 1)
	}
	if r.SpeedLossPercent != nil {
		parts = append(parts, "speed "+change(*r.SpeedLossPercent)+"%")
	}
	if r.EfficiencyLossPoints != nil {
		parts = append(parts, "eff "+change(*r.EfficiencyLossPoints)+" pts")
	}
	return strings.Join(parts, ", ")
}

func dueCell(r *Row) string {
	switch r.RefreshDue {
	case DueNow:
		return "NOW"
	case DueWithinHorizon:
		if r.DueInDays != nil {
			return "in " + fmtNum(*r.DueInDays, 0) + "d"
		}
		return "soon"
	}
	return "-"
}

// termCell makes BMC text safe for a terminal table: control, space and
// formatting characters (escape sequences, bidi overrides, tabs that
// would break the columns) become one space or '?', and the text is cut
// to max runes.
func termCell(s string, max int) string { return termtext.Cell(s, max) }
