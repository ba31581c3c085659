package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/smart/backblaze"
)

// evalFlags are the eval command's options.
type evalFlags struct {
	format    string
	rule      string
	split     string
	byModel   bool
	json      bool
	config    string
	sort      bool
	workers   int
	resamples int
	seed      uint64
	frontier  bool
	plot      string
	// splitSet: --split was given (the frontier's default is both halves).
	splitSet bool
}

func (a *app) newEvalCmd() *cobra.Command {
	var f evalFlags
	var ruleNames []string
	for _, r := range evaluation.Rules() {
		ruleNames = append(ruleNames, r.Name)
	}
	cmd := &cobra.Command{
		Use:   "eval --format backblaze FILE...",
		Short: "Score the detector (or a baseline rule) on labelled drive histories",
		Long: `Eval replays labelled drive histories exactly as 'prefail replay' does (the
detector never sees the labels) and scores its alarms against the drives that
failed: recall@N (failed drives first alarmed at least N days before their
failure day, among those with at least N days of history), the healthy
drives flagged per year, new alarm episodes per 100 healthy drive-years and
the lead times, with bootstrap 95% intervals. docs/evaluation.md has the
protocol and the formulas.

An alarm is a raised or escalated event of severity warning or critical.
A drive failed when any of its rows has failure=1; its failure day is its
last row.

--rule ` + strings.Join(append([]string{"detector"}, ruleNames...), ", ") + ` picks what is scored: the
detector (default), Backblaze's rule (raw SMART 5, 187, 188, 197 or 198
above zero) or raw 5 or 197 above zero.

--split tune|validate keeps half of the drives, by a stable hash of the
serial number (FNV-1a, even: tune, odd: validate), so thresholds can be
tuned on one half and reported on the other.

--frontier sweeps the alarm threshold instead of scoring one: the
detector's degrading level (with and without the learned disk model, and
the model alone) and the k of each rule family (any of raw 5, 187, 188,
197, 198 above k; 5 or 197 above k; any of them grown by more than k
within 7 or 30 days). Each point has recall@1/7/14/30, the healthy drives
flagged per year and the new onsets per 100 drive-years with bootstrap
intervals; the report tabulates the best recall@7d within budgets of
0.5 to 5% flagged per year and of 0.5 to 2 new onsets per 100 drive-years,
on tune and on validate (--split names others: tune, validate, all,
comma-separated). --plot FILE.svg (or FILE.png) draws the frontiers:
recall@7d against the flag rate, and against the new onsets.`,
		Example: `  prefail eval --format backblaze testdata/backblaze/backblaze_2018_st4000dm000/*.csv.gz
  prefail eval --format backblaze --rule backblaze --json testdata/backblaze/backblaze_2018_st4000dm000/*.csv.gz
  prefail eval --format backblaze --split validate --config tuned.json --by-model *.csv
  prefail eval --frontier --plot frontier.svg testdata/backblaze/backblaze_2018_st4000dm000/*.csv.gz`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s: give at least one FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.splitSet = cmd.Flags().Changed("split")
			return a.runEval(cmd.Context(), &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "backblaze", "input format: backblaze (Drive Stats CSV, plain or .gz)")
	fl.StringVar(&f.rule, "rule", "detector", "what to score: detector, "+strings.Join(ruleNames, ", "))
	fl.StringVar(&f.split, "split", "all", "drives to score: all, tune (even FNV-1a hash of the serial), validate (odd); with --frontier a comma-separated list (default tune,validate)")
	fl.BoolVar(&f.byModel, "by-model", false, "also report each drive model on its own")
	fl.BoolVar(&f.json, "json", false, "print one JSON document")
	fl.StringVar(&f.config, "config", "", "detector configuration `FILE` (JSON over the defaults)")
	fl.BoolVar(&f.sort, "sort", false, "accept files not sorted by date (each such file is read whole)")
	fl.IntVar(&f.workers, "workers", 0, "detector shards (default: the number of CPUs)")
	fl.IntVar(&f.resamples, "resamples", 1000, "bootstrap resamples")
	fl.Uint64Var(&f.seed, "seed", evaluation.DefaultSeed, "bootstrap seed")
	fl.BoolVar(&f.frontier, "frontier", false, "sweep the detector's alarm threshold and every rule family's k: recall against healthy drives flagged per year, on each half")
	fl.StringVar(&f.plot, "plot", "", "with --frontier: also draw the frontiers into `FILE`, .svg or .png")
	return cmd
}

// evalOutput is eval's JSON document.
type evalOutput struct {
	Format  string            `json:"format"`
	Files   []string          `json:"files"`
	Rule    string            `json:"rule"`
	Split   string            `json:"split"`
	Read    backblaze.Stats   `json:"read"`
	Overall evaluation.Report `json:"overall"`
	ByModel []modelReport     `json:"by_model,omitempty"`
}

type modelReport struct {
	Model string `json:"model"`
	evaluation.Report
}

// evalResult is what evaluate computes, before rendering.
type evalResult = evalOutput

func (a *app) runEval(ctx context.Context, f *evalFlags, files []string) error {
	if f.frontier || f.plot != "" {
		return a.runEvalFrontier(ctx, f, files)
	}
	res, err := evaluate(ctx, f, files)
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return renderEval(a.stdout, res)
}

// evaluate replays the files and scores the rule or detector.
func evaluate(ctx context.Context, f *evalFlags, files []string) (*evalResult, error) {
	if err := checkFormat(f.format); err != nil {
		return nil, err
	}
	var rule evaluation.Rule
	var cfg *detector.Config
	if f.rule == "detector" {
		c, err := loadDetectorConfig(f.config)
		if err != nil {
			return nil, err
		}
		cfg = &c
	} else {
		var ok bool
		if rule, ok = evaluation.RuleByName(f.rule); !ok {
			return nil, usagef("--rule %q: want detector or one of the baselines", f.rule)
		}
		if f.config != "" {
			return nil, usagef("--config applies to --rule detector only")
		}
	}
	switch f.split {
	case "all", "tune", "validate":
	default:
		return nil, usagef("--split %q: want all, tune or validate", f.split)
	}

	tr := evaluation.NewTracker()
	// inSplit caches each drive's half: 0 not yet hashed, 1 in, 2 out.
	var inSplit []uint8
	keep := func(row *backblaze.Row) bool {
		if f.split == "all" {
			return true
		}
		for row.Drive >= len(inSplit) {
			inSplit = append(inSplit, 0)
		}
		if inSplit[row.Drive] == 0 {
			inSplit[row.Drive] = 2
			if evaluation.Split(row.Serial) == f.split {
				inSplit[row.Drive] = 1
			}
		}
		return inSplit[row.Drive] == 1
	}
	var bound *evaluation.BoundRule
	var alarmErr error
	stats, err := replayBackblaze(ctx, replayOptions{files: files, sort: f.sort, labels: true, cfg: cfg, workers: f.workers, keep: keep,
		columns: func(cols []backblaze.Column) {
			names := make([]string, len(cols))
			for i, c := range cols {
				names[i] = c.Name
			}
			b := rule.Bind(names)
			bound = &b
		}},
		func(day time.Time, rows []backblaze.Row, events []detector.Event) error {
			d := evaluation.DayOf(day)
			for i := range rows {
				row := &rows[i]
				tr.Row(row.Drive, row.Serial, row.Model, d, row.Failure)
				if cfg == nil {
					tr.RuleDay(row.Drive, d, bound.Alarm(row.Values))
				}
			}
			for i := range events {
				ev := &events[i]
				if isAlarm(ev) {
					if err := tr.Alarm(ev.Component.ID, evaluation.DayOf(ev.Time), ev.Type == detector.EventRaised); err != nil && alarmErr == nil {
						alarmErr = err
					}
				}
			}
			return alarmErr
		})
	if err != nil {
		return nil, err
	}
	opts := evaluation.Options{Resamples: f.resamples, Seed: f.seed}
	drives := tr.Drives()
	out := &evalOutput{Format: f.format, Files: files, Rule: f.rule, Split: f.split, Read: stats}
	if out.Overall, err = evaluation.Evaluate(drives, opts); err != nil {
		return nil, err
	}
	if f.byModel {
		models, groups := evaluation.ByModel(drives)
		for i, m := range models {
			rep, err := evaluation.Evaluate(groups[i], opts)
			if err != nil {
				return nil, err
			}
			out.ByModel = append(out.ByModel, modelReport{Model: m, Report: rep})
		}
	}
	return out, nil
}

// isAlarm: a raised or escalated event of severity warning or critical.
func isAlarm(ev *detector.Event) bool {
	return (ev.Type == detector.EventRaised || ev.Type == detector.EventEscalated) &&
		(ev.Severity == model.SeverityWarning || ev.Severity == model.SeverityCritical)
}

func renderEval(w io.Writer, res *evalResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "prefail eval: rule %s, split %s, %s rows from %d file(s)\n\n", res.Rule, res.Split, thousands(res.Read.Rows), res.Read.Files)
	renderReport(&b, "all drives", &res.Overall)
	for _, m := range res.ByModel {
		b.WriteString("\n")
		renderReport(&b, "model "+m.Model, &m.Report)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderReport(b *strings.Builder, title string, r *evaluation.Report) {
	fmt.Fprintf(b, "%s: %s drives (%s failed, %s healthy), %s .. %s (%d days), %.0f healthy drive-years\n",
		title, thousands(r.Drives), thousands(r.Failed), thousands(r.Healthy), r.First, r.Last, r.SpanDays, r.HealthyDriveYears)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  recall@\tdetected\teligible\trecall\t95%% CI\t\n")
	for _, rc := range r.Recall {
		fmt.Fprintf(tw, "  %dd\t%d\t%d\t%s\t%s\t\n", rc.Days, rc.Detected, rc.Eligible, pct(rc.Recall), ci(rc.CI))
	}
	tw.Flush()
	fmt.Fprintf(b, "  healthy drives flagged: %d of %d (%s), %s per year, 95%% CI %s; %s per observed drive-year\n",
		r.HealthyFlagged, r.Healthy, pct(r.HealthyFlaggedFraction), pct(r.HealthyFlagRate), ci(r.HealthyFlagRateCI), pct(r.HealthyFlaggedPerDriveYear))
	fmt.Fprintf(b, "  new-onset alarm episodes on healthy drives: %d, %s per 100 drive-years, 95%% CI %s\n", r.NewOnsetEpisodes, num(r.NewOnsetPer100DriveYears), rateCI(r.NewOnsetCI))
	if lt := r.LeadTime; lt != nil {
		d := func(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }
		fmt.Fprintf(b, "  lead time of the %d failures alarmed in time (days): min %s, p10 %s, p25 %s, median %s, p75 %s, p90 %s, max %s\n",
			lt.N, d(lt.Min), d(lt.P10), d(lt.P25), d(lt.Median), d(lt.P75), d(lt.P90), d(lt.Max))
	} else {
		b.WriteString("  no failure alarmed in time\n")
	}
}

func pct(f evaluation.Fraction) string {
	if math.IsNaN(float64(f)) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(f))
}

func num(f evaluation.Fraction) string {
	if math.IsNaN(float64(f)) {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(f))
}

func ci(iv evaluation.Interval) string {
	if math.IsNaN(float64(iv.Low)) {
		return "-"
	}
	return fmt.Sprintf("[%.1f, %.1f]", 100*float64(iv.Low), 100*float64(iv.High))
}

// rateCI prints an interval of a rate that is not a fraction (episodes
// per 100 drive-years).
func rateCI(iv evaluation.Interval) string {
	if math.IsNaN(float64(iv.Low)) {
		return "-"
	}
	return fmt.Sprintf("[%.2f, %.2f]", float64(iv.Low), float64(iv.High))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
