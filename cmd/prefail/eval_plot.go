package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/prefail/prefail/evaluation"
)

// runEvalFrontier is eval --frontier [--plot FILE.svg|FILE.png].
func (a *app) runEvalFrontier(ctx context.Context, f *evalFlags, files []string) error {
	var draw plotter
	if f.plot != "" {
		var err error
		if draw, err = plotterFor(f.plot); err != nil {
			return err // before the replay, not after it
		}
	}
	res, err := runFrontier(ctx, f, files, nil)
	if err != nil {
		return err
	}
	if f.plot != "" {
		if err := writePlot(f.plot, draw, res); err != nil {
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

// plotter draws panels as a file's bytes.
type plotter func([]evaluation.Panel, evaluation.PlotOptions) ([]byte, error)

// plotterFor picks the drawing by the file name's extension.
func plotterFor(path string) (plotter, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		return func(p []evaluation.Panel, o evaluation.PlotOptions) ([]byte, error) {
			return evaluation.PlotSVG(p, o), nil
		}, nil
	case ".png":
		return evaluation.PlotPNG, nil
	default:
		return nil, fmt.Errorf("--plot %s: want a file named .svg or .png, got %q", path, ext)
	}
}

// writePlot draws the frontiers of every half into one file.
func writePlot(path string, draw plotter, res *frontierOutput) error {
	var panels []evaluation.Panel
	for _, sf := range res.Splits {
		panels = append(panels, evaluation.Panel{
			Title:     fmt.Sprintf("%s: %d drives, %d failed", sf.Split, sf.Drives, sf.Failed),
			Frontiers: sf.Frontiers})
	}
	o := evaluation.PlotOptions{RecallDays: 7}
	// The targets: recall@7d of 45% within 2% flagged per year,
	// and at most 1 new onset per 100 drive-years.
	o.Target.Rate, o.Target.Recall = 0.02, 0.45
	o.OnsetTarget = 1
	data, err := draw(panels, o)
	if err != nil {
		return fmt.Errorf("--plot %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}
