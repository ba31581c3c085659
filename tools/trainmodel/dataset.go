package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/smart/backblaze"
)

// driveData is one drive of the training split: its features on each of
// its rows, computed causally (a row's features read only the rows up to
// it, through detector.DriveHistory, exactly as the detector's model
// does), and the detector's risk without the model on the same rows.
type driveData struct {
	serial string
	failed bool
	days   []evaluation.Day
	// feats holds len(days) rows of nf features each (NaN: missing).
	feats []float32
	// rules is the detector's risk (rules only) on each row.
	rules []float64
}

// failureDay is the drive's last row (docs/evaluation.md).
func (d *driveData) failureDay() evaluation.Day { return d.days[len(d.days)-1] }

// dataset is what training reads.
type dataset struct {
	names  []string // feature names (detector.DiskFeatureNames)
	drives []*driveData
	rows   int
	files  []string
}

// readOptions say which drives and days to read.
type readOptions struct {
	// split keeps the drives of one half ("tune", "validate"; "" all).
	split string
	// cfg is the detector's configuration: its drive history settings
	// and, with the model switched off, its rules' risk.
	cfg detector.Config
	// labels: false never reads the failure column (the causality tests
	// use it to show the features do not depend on it).
	labels bool
}

// readDataset replays the sources day by day and records every drive's
// features and the rules' risk on each of its rows.
func readDataset(ctx context.Context, srcs []backblaze.Source, o readOptions) (*dataset, error) {
	r, err := backblaze.NewReader(ctx, srcs, backblaze.ReaderOptions{WithLabels: o.labels})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cols := r.Columns()
	ds := &dataset{names: detector.DiskFeatureNames()}
	for _, s := range srcs {
		ds.files = append(ds.files, s.Name)
	}
	nf := len(ds.names)
	rulesCfg := o.cfg
	rulesCfg.Disk.Model.Enabled = false
	det, err := detector.New(rulesCfg)
	if err != nil {
		return nil, err
	}
	var byIndex []*driveData
	var hist []*detector.DriveHistory
	histories := detector.NewDriveHistories(o.cfg)
	var inSplit []int8 // 0 unknown, 1 in, -1 out
	buf := make([]float64, nf)
	snap := model.Snapshot{Target: "backblaze"}
	var readings []model.Reading
	var kept []*backblaze.Row
	for {
		day, rows, err := r.NextDay(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		kept = kept[:0]
		for i := range rows {
			row := &rows[i]
			for row.Drive >= len(inSplit) {
				inSplit = append(inSplit, 0)
				byIndex = append(byIndex, nil)
				hist = append(hist, nil)
			}
			if inSplit[row.Drive] == 0 {
				inSplit[row.Drive] = -1
				if o.split == "" || evaluation.Split(row.Serial) == o.split {
					inSplit[row.Drive] = 1
				}
			}
			if inSplit[row.Drive] == 1 {
				kept = append(kept, row)
			}
		}
		// The detector's snapshot of the day, as the replay builds it:
		// one drive per row, a reading per value present.
		readings = readings[:0]
		for _, row := range kept {
			for k, v := range row.Values {
				if !math.IsNaN(v) {
					readings = append(readings, model.Reading{Name: cols[k].Name, Value: &row.Values[k]})
				}
			}
		}
		snap.Time, snap.Components = day, snap.Components[:0]
		off := 0
		for _, row := range kept {
			start := off
			for _, v := range row.Values {
				if !math.IsNaN(v) {
					off++
				}
			}
			snap.Components = append(snap.Components, model.Component{Kind: model.KindDrive, ID: row.Serial,
				Inventory: model.Inventory{SerialNumber: row.Serial, Model: row.Model}, Readings: readings[start:off:off]})
		}
		det.Observe(&snap)
		d := evaluation.DayOf(day)
		for _, row := range kept {
			dd := byIndex[row.Drive]
			if dd == nil {
				dd = &driveData{serial: row.Serial}
				byIndex[row.Drive] = dd
				hist[row.Drive] = histories.New()
				ds.drives = append(ds.drives, dd)
			}
			h := hist[row.Drive]
			for k, v := range row.Values {
				if !math.IsNaN(v) {
					h.Add(day, cols[k].Name, v)
				}
			}
			if err := h.Features(day, buf); err != nil {
				return nil, err
			}
			for _, v := range buf {
				dd.feats = append(dd.feats, float32(v))
			}
			risk, _ := det.Risk("backblaze", row.Serial)
			dd.days = append(dd.days, d)
			dd.rules = append(dd.rules, risk)
			dd.failed = dd.failed || row.Failure
			ds.rows++
		}
	}
	// Sorted by serial: the order of the files does not matter.
	slices.SortFunc(ds.drives, func(a, b *driveData) int { return cmp.Compare(a.serial, b.serial) })
	return ds, nil
}

// feature returns feature j of row i of drive d.
func (d *driveData) feature(i, j, nf int) float64 { return float64(d.feats[i*nf+j]) }

// openSources opens files as sources (the caller closes them).
func openSources(paths []string) ([]backblaze.Source, func(), error) {
	var srcs []backblaze.Source
	var closers []io.Closer
	done := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	for _, p := range paths {
		f, err := openFile(p)
		if err != nil {
			done()
			return nil, nil, fmt.Errorf("trainmodel: %w", err)
		}
		closers = append(closers, f)
		srcs = append(srcs, backblaze.Source{Name: p, R: f})
	}
	return srcs, done, nil
}
