package report

import (
	"bufio"
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
)

// DefaultMaxServerDetails is how many servers get a section of their own
// when Input.MaxServerDetails is zero.
const DefaultMaxServerDetails = 200

// Bounds of the page, whatever the fleet. What is left out is counted on
// the page.
const (
	maxComponentRows   = 300  // component rows per server section
	maxChartsPerServer = 6    // charts per server section
	maxChartPoints     = 120  // points per chart line (more are merged)
	maxInventoryRows   = 2000 // inventory rows (refresh-due rows kept first)
	maxWorstRisks      = 10   // rows of the overview's worst risks
	maxAboutToFail     = 50   // servers in the overview's "about to fail"
	maxWarnings        = 10   // scan warnings per server section
	maxReasons         = 3    // reasons per component row
)

// Input is what the report shows.
type Input struct {
	// Generated is when the report was made: the page's date, and "now"
	// for the forecasts' "in 5 days". The zero time leaves both out.
	Generated time.Time
	// Title is the page's title; "prefail fleet report" when empty.
	Title string
	// Results are the scans, one per target (agent.Scan's results).
	Results []agent.Result
	// Assessments are the detector's verdicts by target (Result.Target),
	// matched to the snapshot's components by kind and ID. A target may
	// have none: its components then show the BMC's health only.
	Assessments map[string][]detector.Assessment
	// Inventory are lifecycle rows, optional.
	Inventory []InventoryRow
	// History are readings over time by target, as agent.Store.History
	// returns them (Series.Component is "KIND/ID"), optional.
	History map[string][]agent.Series
	// MaxServerDetails bounds the per-server sections: the failed scans
	// and the riskiest servers get one, the others are in the ranking
	// only. Zero means DefaultMaxServerDetails; negative, none.
	MaxServerDetails int
}

// InventoryRow is one part's lifecycle data.
type InventoryRow struct {
	Target      string
	Kind        string
	ComponentID string
	Name        string
	Location    string
	Model       string
	Serial      string
	PartNumber  string
	Firmware    string
	// Age is the part's age as text ("3.2 years"), AgeSource where it
	// came from ("power-on hours", "manufacture date").
	Age       string
	AgeSource string
	// Wear is how worn the part is, as text ("87% life left").
	Wear string
	// RefreshDue marks a part due for replacement; Rule says which rule
	// made it so.
	RefreshDue bool
	Rule       string
}

//go:embed report.html.tmpl
var pageTemplateText string

// ErrCanceled is returned when the context ended before the page was
// written whole.
var ErrCanceled = errors.New("report canceled")

// WriteHTML writes the report of in to w as one self-contained HTML page.
// It stops, with an error wrapping ErrCanceled and the context's cause,
// when ctx ends.
func WriteHTML(ctx context.Context, w io.Writer, in Input) error {
	if w == nil {
		return errors.New("report: nil writer")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("report: %w: %w", ErrCanceled, context.Cause(ctx))
	}
	tmpl, err := parsePageTemplate()
	if err != nil {
		return err
	}
	p, err := buildPage(ctx, in)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(&ctxWriter{ctx: ctx, w: w}, 64<<10)
	if err := tmpl.Execute(bw, p); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("report: %w: %w", ErrCanceled, context.Cause(ctx))
		}
		return fmt.Errorf("report: writing the page: %w", err)
	}
	if err := bw.Flush(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("report: %w: %w", ErrCanceled, context.Cause(ctx))
		}
		return fmt.Errorf("report: writing the page: %w", err)
	}
	return nil
}

// parsePageTemplate parses the embedded page. It is parsed per call (a
// millisecond) rather than kept in a package variable.
func parsePageTemplate() (*template.Template, error) {
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct": func(f float64) string { return formatPercent(f) },
	}).Parse(pageTemplateText)
	if err != nil {
		return nil, fmt.Errorf("report: parsing the embedded template: %w", err)
	}
	return t, nil
}

// ctxWriter fails its writes once ctx ends, so that a long page stops.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (in *Input) title() string { return cmp.Or(clip(in.Title, 200), "prefail fleet report") }

func (in *Input) maxDetails() int {
	switch {
	case in.MaxServerDetails == 0:
		return DefaultMaxServerDetails
	case in.MaxServerDetails < 0:
		return 0
	}
	return in.MaxServerDetails
}
