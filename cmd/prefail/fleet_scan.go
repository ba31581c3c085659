package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// A fleet scan hands each target's result over as soon as it is done
// (agent.ScanEach): the JSON Lines output writes it and forgets it, the
// summary keeps a line of it, the progress bar counts it. Memory then
// follows the concurrency, not the size of the fleet.

// assessment is what the detector makes of one scan alone: no history, so
// the risk comes from the state the parts are in now (health, thresholds
// near, a drive's counters, conditions), not from a trend.
type assessment struct {
	risk  float64 // the worst component's
	worst *detector.Assessment
	all   []detector.Assessment
}

// assess scores one snapshot with a detector of its own (dropped after:
// a fleet's worth of detectors would hold every component's history).
func assess(cfg detector.Config, s *model.Snapshot) assessment {
	var a assessment
	if s == nil || len(s.Components) == 0 {
		return a
	}
	d, err := detector.New(cfg)
	if err != nil {
		return a // the config was validated when loaded
	}
	d.Observe(s)
	a.all = d.Assessments()
	for i := range a.all {
		if x := &a.all[i]; a.worst == nil || x.Risk > a.worst.Risk {
			a.worst = x
		}
	}
	if a.worst != nil {
		a.risk = a.worst.Risk
	}
	return a
}

// jsonLine is one line of `scan --json`: a target of the --json-document
// form, with the schema version on every line (a consumer may read any
// line alone) and the detector's verdict of this scan.
type jsonLine struct {
	SchemaVersion int `json:"schema_version"`
	jsonTarget
	// Risk is the worst component's risk in [0,1] by the detector, from
	// this scan alone.
	Risk float64 `json:"risk"`
	// Assessments are the components the detector does not call ok.
	Assessments []detector.Assessment `json:"assessments,omitempty"`
}

// jsonLinesWriter writes one JSON object per line, flushed after each so
// that a pipe sees every target as it finishes.
type jsonLinesWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func newJSONLinesWriter(w io.Writer) *jsonLinesWriter {
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonLinesWriter{bw: bw, enc: enc}
}

func (w *jsonLinesWriter) write(r result, a assessment) error {
	line := jsonLine{SchemaVersion: schemaVersion, jsonTarget: jsonTargetOf(r), Risk: roundRisk(a.risk)}
	for _, x := range a.all {
		if x.State != detector.StateOK || x.Risk > 0 {
			line.Assessments = append(line.Assessments, x)
		}
	}
	if err := w.enc.Encode(&line); err != nil {
		return err
	}
	return w.bw.Flush()
}

func roundRisk(r float64) float64 { return math.Round(r*1000) / 1000 }

// fleetSummary keeps one line per target for the summary printed at the
// end of a scan of many: servers ranked by risk, parts counted by kind and
// health, the failed targets with their reasons.
type fleetSummary struct {
	started time.Time
	servers []serverLine
	failed  []serverLine
	parts   map[model.Kind]map[model.Health]int
}

type serverLine struct {
	target string
	risk   float64
	worst  model.Health
	part   string // the riskiest part, and why
	why    string
}

func newFleetSummary(started time.Time) *fleetSummary {
	return &fleetSummary{started: started, parts: map[model.Kind]map[model.Health]int{}}
}

func (f *fleetSummary) add(r result, a assessment) {
	if r.Err != nil {
		f.failed = append(f.failed, serverLine{target: r.Target, worst: model.HealthUnknown, why: cleanN(firstLine(r.Err.Error()), 200)})
		return
	}
	line := serverLine{target: r.Target, risk: a.risk, worst: model.HealthUnknown}
	if s := r.Snapshot; s != nil {
		line.worst = s.Worst()
		for _, c := range s.Components {
			byHealth := f.parts[c.Kind]
			if byHealth == nil {
				byHealth = map[model.Health]int{}
				f.parts[c.Kind] = byHealth
			}
			byHealth[cmp.Or(c.Health, model.HealthUnknown)]++
		}
	}
	if w := a.worst; w != nil && w.Risk > 0 {
		line.part = cmp.Or(w.Component.Name, w.Component.ID)
		if len(w.Reasons) > 0 {
			line.why = w.Reasons[0].Text
		}
	} else if s := r.Snapshot; s != nil && line.worst.Severity() > 0 {
		// No risk from one scan (a warning must persist to count), but
		// the source says something is not ok: name the part.
		for _, c := range s.Components {
			if c.Health == line.worst {
				line.part, line.why = componentName(c), "the source reports "+string(c.Health)
				break
			}
		}
	}
	f.servers = append(f.servers, line)
}

// summaryTop and summaryFailed bound the lines of the summary; the JSON
// output has every target.
const (
	summaryTop    = 10
	summaryFailed = 25
)

func (f *fleetSummary) write(w io.Writer, now time.Time) error {
	total := len(f.servers) + len(f.failed)
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: %d targets in %s: %d scanned, %d failed\n", total,
		now.Sub(f.started).Round(100*time.Millisecond), len(f.servers), len(f.failed))
	if len(f.parts) > 0 {
		kinds := make([]model.Kind, 0, len(f.parts))
		for k := range f.parts {
			kinds = append(kinds, k)
		}
		slices.SortFunc(kinds, func(x, y model.Kind) int {
			return cmp.Or(model.KindRank(x)-model.KindRank(y), strings.Compare(string(x), string(y)))
		})
		b.WriteString("parts:\n")
		for _, k := range kinds {
			n, byHealth := 0, f.parts[k]
			var hs []string
			for _, h := range []model.Health{model.HealthCritical, model.HealthWarning, model.HealthUnknown, model.HealthAbsent, model.HealthOK} {
				if c := byHealth[h]; c > 0 {
					hs = append(hs, fmt.Sprintf("%d %s", c, h))
					n += c
				}
			}
			fmt.Fprintf(&b, "  %-18s %6d  (%s)\n", clean(string(k)), n, strings.Join(hs, ", "))
		}
	}
	if len(f.servers) > 0 {
		slices.SortFunc(f.servers, func(x, y serverLine) int {
			return cmp.Or(cmp.Compare(y.risk, x.risk), y.worst.Severity()-x.worst.Severity(), strings.Compare(x.target, y.target))
		})
		// Servers with nothing to say (risk 0, every part ok) are only
		// counted: a healthy fleet's summary stays short.
		atRisk := 0
		for _, s := range f.servers {
			if s.risk > 0 || s.worst.Severity() > 0 {
				atRisk++
			}
		}
		if atRisk == 0 {
			fmt.Fprintf(&b, "servers by risk: none of the %d has a part at risk or not ok\n", len(f.servers))
		} else {
			n := min(summaryTop, atRisk)
			fmt.Fprintf(&b, "servers by risk (%d of %d at risk or not ok; the first %d):\n", atRisk, len(f.servers), n)
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  RISK\tWORST\tTARGET\tPART\tWHY")
			for _, s := range f.servers[:n] {
				row(tw, fmt.Sprintf("  %.2f", s.risk), healthText(s.worst), clean(s.target), clean(cmp.Or(s.part, "-")), clean(cmp.Or(s.why, "-")))
			}
			tw.Flush()
		}
	}
	if len(f.failed) > 0 {
		slices.SortFunc(f.failed, func(x, y serverLine) int { return strings.Compare(x.target, y.target) })
		fmt.Fprintf(&b, "failed (%d):\n", len(f.failed))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for i, s := range f.failed {
			if i == summaryFailed {
				fmt.Fprintf(tw, "  ... %d more (every one is in the --json output)\n", len(f.failed)-summaryFailed)
				break
			}
			row(tw, "  "+clean(s.target), clean(s.why))
		}
		tw.Flush()
	}
	var out strings.Builder
	for line := range strings.Lines(b.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// scanProgress is the progress bar of a scan on a terminal (schollz/
// progressbar: rate limited redraws, ETA): done of total, failed and
// remaining in its description.
type scanProgress struct {
	bar         *progressbar.ProgressBar
	total, done int
	failed      int
}

// newScanProgress returns nil (no bar) unless w is a terminal and the
// user did not ask for quiet: a pipe or a file gets nothing of it.
func newScanProgress(w io.Writer, total int, quiet bool) *scanProgress {
	if quiet || total < 2 || !isTTY(w) {
		return nil
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(progressDescription(0, 0, total)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)
	return &scanProgress{bar: bar, total: total}
}

func progressDescription(done, failed, total int) string {
	return fmt.Sprintf("scanning: %d failed, %d remaining", failed, total-done)
}

func (p *scanProgress) add(failed bool) {
	if p == nil {
		return
	}
	p.done++
	if failed {
		p.failed++
	}
	p.bar.Describe(progressDescription(p.done, p.failed, p.total))
	_ = p.bar.Add(1)
}

func (p *scanProgress) finish() {
	if p == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}

// isTTY reports whether w is a terminal (unwrapping the app's locked
// writer). /dev/null is not one.
func isTTY(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
