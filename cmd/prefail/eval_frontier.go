package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/smart/backblaze"
)

// The frontier (eval --frontier): one replay records, for every drive and
// row, the detector's risk (without the learned model), the learned
// model's score, and each rule family's statistic; the thresholds are then
// swept over those traces (evaluation.Sweep), each point with its
// bootstrap intervals, on each half of the drives.
//
// The learned model is one more reason of the detector's noisy-or, so the
// risk of the detector with the model is 1 - (1 - rules)(1 - model): the
// trace composes the two exactly as the detector's evaluate does, and the
// alarms are the detector's state machine replayed over it
// (evaluation.Hysteresis). TestEvalFrontierMatchesReplay checks the
// composition and the replayed state machine against the detector's own
// events.

// Predictor names in a frontier report.
const (
	predDetector = "detector"       // the configured detector (with the model when it is on)
	predRules    = "detector-rules" // the detector without the learned model
	predModel    = "model"          // the learned model's score alone
)

// frontierOutput is eval --frontier's JSON document.
type frontierOutput struct {
	Format string          `json:"format"`
	Files  []string        `json:"files"`
	Read   backblaze.Stats `json:"read"`
	// Model names the learned model (empty: off).
	Model   string    `json:"model,omitempty"`
	Budgets []float64 `json:"budgets"`
	// OnsetBudgets are the ceilings of new onsets per 100 healthy
	// drive-years the text report tabulates.
	OnsetBudgets []float64        `json:"onset_budgets"`
	Splits       []splitFrontiers `json:"splits"`
}

// splitFrontiers are the frontiers of one half of the drives.
type splitFrontiers struct {
	Split     string                `json:"split"`
	Drives    int                   `json:"drives"`
	Failed    int                   `json:"failed"`
	Healthy   int                   `json:"healthy"`
	Frontiers []evaluation.Frontier `json:"frontiers"`
}

// reportBudgets are the budgets the text report tabulates (flag rate per
// year).
func reportBudgets() []float64 { return []float64{0.005, 0.01, 0.02, 0.025, 0.05} }

// reportOnsetBudgets are the ceilings of new onsets per 100 healthy
// drive-years the text report tabulates (1 is the target).
func reportOnsetBudgets() []float64 { return []float64{0.5, 1, 2} }

// frontierTraces is what the replay records.
type frontierTraces struct {
	tr       *evaluation.Tracker
	names    []string // predictors, in report order
	traces   []*evaluation.Traces
	families []evaluation.Family
	policy   evaluation.Hysteresis
	model    *detector.DiskModel
}

// recordFrontier replays the files and records the traces.
func recordFrontier(ctx context.Context, f *evalFlags, files []string, sources []backblaze.Source) (*frontierTraces, backblaze.Stats, error) {
	cfg, err := loadDetectorConfig(f.config)
	if err != nil {
		return nil, backblaze.Stats{}, err
	}
	if f.config == "" {
		// The learned model is off by default (it does not beat the
		// rules yet); the frontier is where it is compared with them, so
		// it is on here unless a --config says otherwise.
		cfg.Disk.Model.Enabled = true
	}
	kc := cfg.Kinds[model.KindDrive]
	ft := &frontierTraces{tr: evaluation.NewTracker(), families: evaluation.Families(),
		policy: evaluation.Hysteresis{Watch: cfg.Watch, Degrading: cfg.DegradingFor(model.KindDrive), Failing: cfg.Failing, Hysteresis: cfg.Hysteresis,
			Confirm: kc.Confirm, ClearAfterDays: kc.ClearAfter.D().Hours() / 24}}
	weight := cfg.Disk.Model.Weight
	if cfg.Disk.Model.Enabled {
		ft.model = cfg.Disk.Model.Model()
	}
	ft.names = []string{predDetector}
	if ft.model != nil {
		ft.names = append(ft.names, predRules, predModel)
	}
	for _, fam := range ft.families {
		ft.names = append(ft.names, fam.Name)
	}
	ft.traces = make([]*evaluation.Traces, len(ft.names))
	for i := range ft.traces {
		ft.traces[i] = &evaluation.Traces{}
	}
	// The detector runs without the model: its score is composed here.
	rulesCfg := cfg
	rulesCfg.Disk.Model.Enabled = false

	splits, err := frontierSplits(f)
	if err != nil {
		return nil, backblaze.Stats{}, err
	}
	var keep func(*backblaze.Row) bool
	if len(splits) == 1 {
		keep, _ = splitFilter(splits[0])
	}
	var sh *shards
	var stats []*evaluation.Statistic
	var hist []*detector.DriveHistory
	histories := detector.NewDriveHistories(cfg)
	var histCols []int // columns a drive history reads
	var cols []backblaze.Column
	defer func() {
		if sh != nil {
			sh.close()
		}
	}()
	var setupErr error
	st, err := replayBackblaze(ctx, replayOptions{files: files, sources: sources, sort: f.sort, labels: true, keep: keep,
		columns: func(cs []backblaze.Column) {
			cols = cs
			names := make([]string, len(cs))
			for i, c := range cs {
				names[i] = c.Name
			}
			for _, fam := range ft.families {
				stats = append(stats, fam.Bind(names))
			}
			if ft.model != nil {
				want := ft.model.Readings()
				for i, n := range names {
					if slices.Contains(want, n) {
						histCols = append(histCols, i)
					}
				}
			}
			sh, setupErr = newShards(rulesCfg, f.workers, cs)
		}},
		func(day time.Time, rows []backblaze.Row, _ []detector.Event) error {
			if setupErr != nil {
				return setupErr
			}
			sh.observe(day, rows)
			d := evaluation.DayOf(day)
			n := len(sh.workers)
			for i := range rows {
				row := &rows[i]
				ft.tr.Row(row.Drive, row.Serial, row.Model, d, row.Failure)
				risk, _ := sh.workers[row.Drive%n].det.Risk("backblaze", row.Serial)
				combined := risk
				if ft.model != nil {
					for row.Drive >= len(hist) {
						hist = append(hist, nil)
					}
					h := hist[row.Drive]
					if h == nil {
						h = histories.New()
						hist[row.Drive] = h
					}
					for _, k := range histCols {
						if v := row.Values[k]; !math.IsNaN(v) {
							h.Add(day, cols[k].Name, v)
						}
					}
					s := h.ModelScore(ft.model, weight, day)
					combined = 1 - (1-risk)*(1-s)
					ft.traces[1].Add(row.Drive, d, risk)
					ft.traces[2].Add(row.Drive, d, s)
				}
				ft.traces[0].Add(row.Drive, d, combined)
				off := len(ft.names) - len(ft.families)
				for k, stat := range stats {
					ft.traces[off+k].Add(row.Drive, d, stat.Score(row.Drive, d, row.Values))
				}
			}
			return nil
		})
	if err == nil {
		err = setupErr
	}
	return ft, st, err
}

// splitFilter keeps the rows of one half (nil: every row).
func splitFilter(split string) (func(*backblaze.Row) bool, error) {
	switch split {
	case "all":
		return nil, nil
	case "tune", "validate":
	default:
		return nil, usagef("--split %q: want all, tune or validate", split)
	}
	// in caches each drive's half: 0 not yet hashed, 1 in, 2 out.
	var in []uint8
	return func(row *backblaze.Row) bool {
		for row.Drive >= len(in) {
			in = append(in, 0)
		}
		if in[row.Drive] == 0 {
			in[row.Drive] = 2
			if evaluation.Split(row.Serial) == split {
				in[row.Drive] = 1
			}
		}
		return in[row.Drive] == 1
	}, nil
}

// frontierSplits are the sets --frontier reports: both halves unless
// --split names others (a comma-separated list of tune, validate, all).
func frontierSplits(f *evalFlags) ([]string, error) {
	if !f.splitSet {
		return []string{"tune", "validate"}, nil
	}
	var out []string
	for _, s := range strings.Split(f.split, ",") {
		switch s {
		case "all", "tune", "validate":
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		default:
			return nil, usagef("--split %q: want tune, validate or all, comma-separated", s)
		}
	}
	return out, nil
}

// sweep sweeps every predictor on each set of drives.
func (ft *frontierTraces) sweep(splits []string, o evaluation.SweepOptions) ([]splitFrontiers, error) {
	drives := ft.tr.Drives()
	all := make([][]evaluation.Trace, len(ft.names))
	for i, t := range ft.traces {
		all[i] = t.For(ft.tr)
	}
	var out []splitFrontiers
	for _, split := range splits {
		var idx []int
		for i, d := range drives {
			if split == "all" || evaluation.Split(d.Serial) == split {
				idx = append(idx, i)
			}
		}
		sub := make([]evaluation.Drive, len(idx))
		sf := splitFrontiers{Split: split, Drives: len(idx)}
		for j, i := range idx {
			sub[j] = drives[i]
			if sub[j].Failed {
				sf.Failed++
			} else {
				sf.Healthy++
			}
		}
		for p, name := range ft.names {
			traces := make([]evaluation.Trace, len(idx))
			for j, i := range idx {
				traces[j] = all[p][i]
			}
			var fr evaluation.Frontier
			var err error
			if p < len(ft.names)-len(ft.families) {
				pol := ft.policy
				fr, err = evaluation.Sweep(name, predictorDescription(name, ft.model), sub, traces,
					func(t float64) evaluation.Policy { return pol.At(t) }, false, []float64{pol.Degrading}, o)
			} else {
				fam := ft.families[p-(len(ft.names)-len(ft.families))]
				var extra []float64
				if fam.Published != nil {
					extra = []float64{*fam.Published}
				}
				fr, err = evaluation.Sweep(name, fam.Description, sub, traces,
					func(t float64) evaluation.Policy { return evaluation.Above{K: t} }, true, extra, o)
			}
			if err != nil {
				return nil, err
			}
			sf.Frontiers = append(sf.Frontiers, fr)
		}
		out = append(out, sf)
	}
	return out, nil
}

func predictorDescription(name string, m *detector.DiskModel) string {
	switch name {
	case predDetector:
		if m != nil {
			return "the detector: its rules and the learned model " + m.Name + ", risk swept as the degrading level"
		}
		return "the detector's rules, risk swept as the degrading level"
	case predRules:
		return "the detector without the learned model"
	case predModel:
		return "the learned model " + m.Name + " alone (its reason's score), swept as the degrading level"
	}
	return name
}

// runFrontier is eval --frontier.
func runFrontier(ctx context.Context, f *evalFlags, files []string, sources []backblaze.Source) (*frontierOutput, error) {
	if err := checkFormat(f.format); err != nil {
		return nil, err
	}
	if f.rule != "detector" {
		return nil, usagef("--frontier sweeps the detector and every rule family: leave --rule out")
	}
	ft, stats, err := recordFrontier(ctx, f, files, sources)
	if err != nil {
		return nil, err
	}
	splits, err := frontierSplits(f)
	if err != nil {
		return nil, err
	}
	opts := evaluation.SweepOptions{Options: evaluation.Options{Resamples: f.resamples, Seed: f.seed}}
	out := &frontierOutput{Format: f.format, Files: files, Read: stats, Budgets: reportBudgets(), OnsetBudgets: reportOnsetBudgets()}
	if ft.model != nil {
		out.Model = ft.model.Name
	}
	if out.Splits, err = ft.sweep(splits, opts); err != nil {
		return nil, err
	}
	return out, nil
}

// writeBestTable writes one row per frontier: its name, then a cell per
// budget (heads), the best point within it written by cell, or "-".
func writeBestTable(w io.Writer, frontiers []evaluation.Frontier, heads []string, best func(evaluation.Frontier) []evaluation.Budget, cell func(*evaluation.Report) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  predictor")
	for _, h := range heads {
		fmt.Fprintf(tw, "\t%s", h)
	}
	fmt.Fprintf(tw, "\t\n")
	for _, fr := range frontiers {
		fmt.Fprintf(tw, "  %s", fr.Name)
		for _, bu := range best(fr) {
			if bu.Point == nil {
				fmt.Fprintf(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s", cell(&bu.Point.Report))
		}
		fmt.Fprintf(tw, "\t\n")
	}
	tw.Flush()
}

// renderFrontier writes the text report: per half, the recall each
// predictor reaches within each budget of flags and of new onsets, then
// every point of every frontier.
func renderFrontier(res *frontierOutput) string {
	var b strings.Builder
	model := "off"
	if res.Model != "" {
		model = res.Model
	}
	fmt.Fprintf(&b, "prefail eval --frontier: %s rows from %d file(s); learned model %s\n", thousands(res.Read.Rows), res.Read.Files, model)
	horizons := []int{1, 7, 14, 30}
	for _, sf := range res.Splits {
		fmt.Fprintf(&b, "\nsplit %s: %s drives (%s failed, %s healthy)\n", sf.Split, thousands(sf.Drives), thousands(sf.Failed), thousands(sf.Healthy))
		fmt.Fprintf(&b, "best recall@7d (recall@1 / @14 / @30) within a budget of healthy drives flagged per year:\n")
		var heads []string
		for _, r := range res.Budgets {
			heads = append(heads, "<= "+pctShort(r)+"/yr")
		}
		writeBestTable(&b, sf.Frontiers, heads, func(fr evaluation.Frontier) []evaluation.Budget {
			return fr.AtBudget(res.Budgets, recallIndex(fr, 7))
		}, func(r *evaluation.Report) string {
			return fmt.Sprintf("%s (%s/%s/%s)", pct(recallAt(r, 7)), pctShort(float64(recallAt(r, 1))), pctShort(float64(recallAt(r, 14))), pctShort(float64(recallAt(r, 30))))
		})
		fmt.Fprintf(&b, "best recall@7d within a budget of new onsets per 100 healthy drive-years (among the thresholds above; flagged per year in parentheses):\n")
		heads = heads[:0]
		for _, c := range res.OnsetBudgets {
			heads = append(heads, "<= "+fmtThreshold(c)+"/100dy")
		}
		writeBestTable(&b, sf.Frontiers, heads, func(fr evaluation.Frontier) []evaluation.Budget {
			return fr.AtOnsetBudget(res.OnsetBudgets, recallIndex(fr, 7))
		}, func(r *evaluation.Report) string {
			return fmt.Sprintf("%s (%s)", pct(recallAt(r, 7)), pctShort(float64(r.HealthyFlagRate)))
		})
		for _, fr := range sf.Frontiers {
			fmt.Fprintf(&b, "\n  %s: %s\n", fr.Name, fr.Description)
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "  threshold\tflagged\tper year\t95%% CI\tonsets/100dy\t95%% CI\t")
			for _, h := range horizons {
				fmt.Fprintf(tw, "recall@%d\t", h)
			}
			fmt.Fprintf(tw, "recall@7 95%% CI\t\n")
			for i := range fr.Points {
				p := &fr.Points[i]
				r := &p.Report
				mark := ""
				if fr.Default != nil && fr.Default.Threshold == p.Threshold {
					mark = " *"
				}
				fmt.Fprintf(tw, "  %s%s\t%d\t%s\t%s\t%s\t%s\t", fmtThreshold(p.Threshold), mark, r.HealthyFlagged, pct(r.HealthyFlagRate), ci(r.HealthyFlagRateCI),
					num(r.NewOnsetPer100DriveYears), rateCI(r.NewOnsetCI))
				for _, h := range horizons {
					fmt.Fprintf(tw, "%s\t", pct(recallAt(r, h)))
				}
				fmt.Fprintf(tw, "%s\t\n", ci(recallCI(r, 7)))
			}
			tw.Flush()
		}
	}
	b.WriteString("\n* the predictor's own threshold (the configured degrading level; k = 0 for the published rules)\n")
	return b.String()
}

func recallIndex(fr evaluation.Frontier, days int) int {
	if len(fr.Points) == 0 {
		return 0
	}
	for i, rc := range fr.Points[0].Report.Recall {
		if rc.Days == days {
			return i
		}
	}
	return 0
}

func recallAt(r *evaluation.Report, days int) evaluation.Fraction {
	for _, rc := range r.Recall {
		if rc.Days == days {
			return rc.Recall
		}
	}
	return evaluation.Fraction(math.NaN())
}

func recallCI(r *evaluation.Report, days int) evaluation.Interval {
	for _, rc := range r.Recall {
		if rc.Days == days {
			return rc.CI
		}
	}
	return evaluation.Interval{Low: evaluation.Fraction(math.NaN()), High: evaluation.Fraction(math.NaN())}
}

// pctShort prints a fraction as a percentage with the digits it needs.
func pctShort(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return fmt.Sprintf("%.3g%%", 100*f)
}

func fmtThreshold(t float64) string {
	return fmt.Sprintf("%.6g", t)
}
