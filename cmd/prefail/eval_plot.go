package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/prefail/prefail/evaluation"
)

// runEvalFrontier is eval --frontier [--plot FILE.svg].
func (a *app) runEvalFrontier(ctx context.Context, f *evalFlags, files []string) error {
	res, err := runFrontier(ctx, f, files, nil)
	if err != nil {
		return err
	}
	if f.plot != "" {
		if err := writePlot(f.plot, res); err != nil {
			return err
		}
	}
	if f.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	_, err = io.WriteString(a.stdout, renderFrontier(res))
	return err
}

// writePlot draws the frontiers of every half into one SVG file.
func writePlot(path string, res *frontierOutput) error {
	var panels []evaluation.Panel
	for _, sf := range res.Splits {
		panels = append(panels, evaluation.Panel{
			Title:     fmt.Sprintf("%s: %d drives, %d failed", sf.Split, sf.Drives, sf.Failed),
			Frontiers: sf.Frontiers})
	}
	o := evaluation.PlotOptions{RecallDays: 7}
	// The target: recall@7d of 45% within 2% flagged per year.
	o.Target.Rate, o.Target.Recall = 0.02, 0.45
	svg := evaluation.PlotSVG(panels, o)
	if err := os.WriteFile(path, svg, 0o644); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}
