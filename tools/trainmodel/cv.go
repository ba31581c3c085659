package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
)

// crossValidate reports how the trainer's settings do on drives the model
// did not see, within the tune split: the tune drives are cut in two folds
// (by another bit of the split's hash), a model is trained on each and
// scores the other, and the frontiers of the out-of-fold scores are
// compared with the rules'. The validate split is never read.
func crossValidate(w io.Writer, ds *dataset, cfg detector.Config, o trainOptions, trees *gbdtOptions) error {
	nf := len(ds.names)
	logits := make([][]float64, len(ds.drives))
	for fold := range uint32(2) {
		var train, test []int
		for i, d := range ds.drives {
			if hash32(d.serial)>>1&1 == fold {
				test = append(test, i)
			} else {
				train = append(train, i)
			}
		}
		sub := make([]*driveData, len(train))
		for k, i := range train {
			sub[k] = ds.drives[i]
		}
		if trees != nil {
			f, err := trainForest(ds, sub, o, *trees)
			if err != nil {
				return err
			}
			for _, i := range test {
				d := ds.drives[i]
				logits[i] = make([]float64, len(d.days))
				for r := range d.days {
					logits[i][r] = f.logit(d, r, nf)
				}
			}
			continue
		}
		ft, err := trainModel(ds, sub, o)
		if err != nil {
			return err
		}
		if fold == 0 {
			fmt.Fprintf(w, "fold model: %d features, %d examples (%d positive), %d Newton iterations\n", len(ft.names), ft.examples, ft.positives, ft.iters)
			type wf struct {
				n string
				w float64
			}
			var ws []wf
			for k, n := range ft.names {
				ws = append(ws, wf{n, ft.weights[k]})
			}
			slices.SortFunc(ws, func(a, b wf) int { return int(math.Copysign(1, math.Abs(b.w)-math.Abs(a.w))) })
			for _, x := range ws[:min(len(ws), 20)] {
				fmt.Fprintf(w, "  %-40s %+.3f\n", x.n, x.w)
			}
		}
		for _, i := range test {
			d := ds.drives[i]
			logits[i] = make([]float64, len(d.days))
			for r := range d.days {
				logits[i][r] = ft.logit(d, r, nf, o.Clip)
			}
		}
	}
	pol := policyOf(cfg)
	base := evalDrives(ds.drives)
	budgets := []float64{0.005, 0.01, 0.02, 0.025, 0.05}
	opts := evaluation.SweepOptions{Options: evaluation.Options{Resamples: 200, Seed: evaluation.DefaultSeed}}
	at := func(t float64) evaluation.Policy { return pol.At(t) }
	var rows []evaluation.Frontier
	rulesTr := make([]evaluation.Trace, len(ds.drives))
	modelTr := make([]evaluation.Trace, len(ds.drives))
	for i, d := range ds.drives {
		rulesTr[i] = evaluation.Trace{Days: d.days, Scores: d.rules}
		s := make([]float64, len(d.days))
		for r := range s {
			s[r] = sigmoid(logits[i][r])
		}
		modelTr[i] = evaluation.Trace{Days: d.days, Scores: s}
	}
	fr, err := evaluation.Sweep("rules", "", base, rulesTr, at, false, []float64{pol.Degrading}, opts)
	if err != nil {
		return err
	}
	rows = append(rows, fr)
	if fr, err = evaluation.Sweep("model", "", base, modelTr, at, false, nil, opts); err != nil {
		return err
	}
	rows = append(rows, fr)
	for _, b := range []float64{0.005, 0.01, 0.02} {
		a := chooseAlarm(ds.drives, logits, pol, b, 1, o.MinScore)
		fr, err := evaluation.Sweep(fmt.Sprintf("combined a=%.2f (%.1f%%)", a, 100*b), "", base, combinedTraces(ds.drives, logits, a, 1, o.MinScore), at, false, []float64{pol.Degrading}, opts)
		if err != nil {
			return err
		}
		rows = append(rows, fr)
	}
	// The composition: the model's weight and alarm point, on a grid.
	quick := evaluation.SweepOptions{Options: evaluation.Options{Resamples: 1, Seed: evaluation.DefaultSeed}}
	for _, wt := range []float64{0.3, 0.45, 0.6, 0.8, 1} {
		for _, a := range []float64{-2, 0, 2, 4, 6, 8} {
			fr, err := evaluation.Sweep("", "", base, combinedTraces(ds.drives, logits, a, wt, o.MinScore), at, false, []float64{pol.Degrading}, quick)
			if err != nil {
				return err
			}
			sum := 0.0
			var cells []string
			for _, bu := range fr.AtBudget(budgets, 2) {
				if bu.Point != nil {
					v := float64(bu.Point.Report.Recall[2].Recall)
					sum += v
					cells = append(cells, fmt.Sprintf("%.1f", 100*v))
				} else {
					cells = append(cells, "-")
				}
			}
			d := fr.Default.Report
			fmt.Fprintf(w, "w=%.2f a=%+.1f: mean %.1f [%s] default %.2f%%/yr %.2f onsets r@7 %.1f%%\n", wt, a, 100*sum/float64(len(budgets)), strings.Join(cells, " "),
				100*float64(d.HealthyFlagRate), float64(d.NewOnsetPer100DriveYears), 100*float64(d.Recall[2].Recall))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "recall@7 (1/14/30)")
	for _, b := range budgets {
		fmt.Fprintf(tw, "\t<=%.1f%%", 100*b)
	}
	fmt.Fprintf(tw, "\tdefault: rate, onsets, r@7\t\n")
	for _, f := range rows {
		fmt.Fprintf(tw, "%s", f.Name)
		for _, bu := range f.AtBudget(budgets, 2) {
			if bu.Point == nil {
				fmt.Fprintf(tw, "\t-")
				continue
			}
			r := bu.Point.Report.Recall
			fmt.Fprintf(tw, "\t%.1f (%.0f/%.0f/%.0f)", 100*float64(r[2].Recall), 100*float64(r[1].Recall), 100*float64(r[3].Recall), 100*float64(r[4].Recall))
		}
		if d := f.Default; d != nil {
			fmt.Fprintf(tw, "\t%.2f%% %.2f %.1f%%", 100*float64(d.Report.HealthyFlagRate), float64(d.Report.NewOnsetPer100DriveYears), 100*float64(d.Report.Recall[2].Recall))
		}
		fmt.Fprintf(tw, "\t\n")
	}
	tw.Flush()
	fmt.Fprintln(w, strings.Repeat("-", 40))
	return nil
}
