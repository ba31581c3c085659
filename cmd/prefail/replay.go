package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/smart/backblaze"
)

// replayFlags are the replay command's options.
type replayFlags struct {
	format    string
	allEvents bool
	config    string
	sort      bool
	workers   int
	scn       scenarioReplayFlags // --scenario, --interval: scenario_replay.go
}

func (a *app) newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay --format backblaze FILE...",
		Short: "Replay recorded drive histories through the detector, day by day",
		Long: `Replay streams recorded SMART histories through the detector and prints the
events it raises, one JSON object per line.

--format backblaze reads Backblaze Drive Stats CSV files (plain or gzipped;
columns date, serial_number, model, capacity_bytes, smart_N_raw,
smart_N_normalized in any order and any subset). The files are merged by
date; each day becomes one snapshot of target "backblaze" at 00:00 UTC with
one drive per row, so the events of day D depend only on rows dated D or
earlier. The failure column is never read. Each file must be sorted by date;
--sort accepts files that are not (it reads such a file whole).

Each line has time, type (raised, escalated; cleared with --all-events),
component {kind, id, serial, model}, severity, state, previous, risk,
reasons and, when the detector has one, forecast.

Drives are independent, so the detector is sharded by drive over --workers
goroutines; the output is the same for any number of workers.

--scenario NAME|FILE replays a mock BMC scenario instead (see 'prefail mock
--scenario'; embedded: aging-server, fan-bearing-wear, ...): the mock is
scanned through the Redfish reader every --interval of simulated time (by
default the scenario's own interval) and every event (cleared ones
included) is printed in the same form, with the component's name. The
progress (simulated day, events so far) goes to stderr when it is a
terminal, or with --progress.`,
		Example: `  prefail replay --format backblaze testdata/backblaze/backblaze_2018_st4000dm000/*.csv.gz
  prefail replay --format backblaze --config tuned.json --all-events 2018-*.csv > events.jsonl
  prefail replay --scenario aging-server`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.scn.scenario != "" {
				if len(args) > 0 {
					return usagef("%s: --scenario takes no FILE", cmd.CommandPath())
				}
				return nil
			}
			if len(args) == 0 {
				return usagef("%s: give at least one FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.scn.scenario != "" {
				cfg, err := loadDetectorConfig(f.config)
				if err != nil {
					return err
				}
				return a.replayScenario(cmd.Context(), &f.scn, a.stdout, cfg)
			}
			return a.runReplay(cmd.Context(), &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "backblaze", "input format: backblaze (Drive Stats CSV, plain or .gz)")
	fl.BoolVar(&f.allEvents, "all-events", false, "also print cleared events")
	fl.StringVar(&f.config, "config", "", "detector configuration `FILE` (JSON over the defaults)")
	fl.BoolVar(&f.sort, "sort", false, "accept files not sorted by date (each such file is read whole)")
	fl.IntVar(&f.workers, "workers", 0, "detector shards (default: the number of CPUs)")
	addScenarioReplayFlags(cmd, &f.scn)
	return cmd
}

func checkFormat(format string) error {
	if format != "backblaze" {
		return usagef("--format %q: the only format is backblaze", format)
	}
	return nil
}

// loadDetectorConfig reads --config, or returns the defaults.
func loadDetectorConfig(path string) (detector.Config, error) {
	if path == "" {
		return detector.DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return detector.Config{}, err
	}
	defer f.Close()
	cfg, err := detector.LoadConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (a *app) runReplay(ctx context.Context, f *replayFlags, files []string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	cfg, err := loadDetectorConfig(f.config)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_, err = replayBackblaze(ctx, replayOptions{files: files, sort: f.sort, cfg: &cfg, workers: f.workers},
		func(day time.Time, rows []backblaze.Row, events []detector.Event) error {
			for i := range events {
				ev := &events[i]
				if ev.Type == detector.EventCleared && !f.allEvents {
					continue
				}
				if err := enc.Encode(replayEventOf(ev)); err != nil {
					return err
				}
			}
			return nil
		})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// replayEvent is one line of replay's output.
type replayEvent struct {
	Time      string             `json:"time"`
	Type      detector.EventType `json:"type"`
	Component replayComponent    `json:"component"`
	Severity  model.Severity     `json:"severity"`
	State     detector.State     `json:"state"`
	Previous  detector.State     `json:"previous"`
	Risk      float64            `json:"risk"`
	Reasons   []detector.Reason  `json:"reasons"`
	Forecast  *detector.Forecast `json:"forecast,omitempty"`
}

type replayComponent struct {
	Kind   model.Kind `json:"kind"`
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	Serial string     `json:"serial,omitempty"`
	Model  string     `json:"model,omitempty"`
}

func replayEventOf(ev *detector.Event) replayEvent {
	reasons := ev.Reasons
	if reasons == nil {
		reasons = []detector.Reason{}
	}
	return replayEvent{Time: ev.Time.UTC().Format(time.RFC3339), Type: ev.Type,
		Component: replayComponent{Kind: ev.Component.Kind, ID: ev.Component.ID, Name: ev.Component.Name, Serial: ev.Component.Serial, Model: ev.Component.Model},
		Severity:  ev.Severity, State: ev.State, Previous: ev.Previous, Risk: ev.Risk, Reasons: reasons, Forecast: ev.Forecast}
}

// replayOptions say what replayBackblaze reads and how.
type replayOptions struct {
	files []string
	// sources, when set, are read instead of files (tests).
	sources []backblaze.Source
	sort    bool
	// labels fills Row.Failure for the evaluator; the snapshots never
	// carry it.
	labels bool
	// cfg is the detector's configuration; nil replays without a
	// detector (the baseline rules only need the rows).
	cfg     *detector.Config
	workers int
	// keep, when set, drops the rows it returns false for before the
	// detector sees them (eval's --split).
	keep func(*backblaze.Row) bool
	// columns, when set, is told the files' SMART columns before the first day.
	columns func([]backblaze.Column)
}

// dayFunc receives each day: its rows (valid until it returns) and the
// detector's events of that day, in row order.
type dayFunc func(day time.Time, rows []backblaze.Row, events []detector.Event) error

// replayBackblaze streams the files day by day through the detector.
// Each day's snapshot holds only rows dated that day, and a day is
// handed to the detector only after every earlier day: causal by
// construction.
func replayBackblaze(ctx context.Context, o replayOptions, fn dayFunc) (backblaze.Stats, error) {
	ropts := backblaze.ReaderOptions{WithLabels: o.labels, Sort: o.sort}
	var r *backblaze.Reader
	var err error
	if o.sources != nil {
		r, err = backblaze.NewReader(ctx, o.sources, ropts)
	} else {
		r, err = backblaze.Open(ctx, o.files, ropts)
	}
	if err != nil {
		return backblaze.Stats{}, err
	}
	defer r.Close()
	if o.columns != nil {
		o.columns(r.Columns())
	}
	var sh *shards
	if o.cfg != nil {
		if sh, err = newShards(*o.cfg, o.workers, r.Columns()); err != nil {
			return r.Stats(), err
		}
		defer sh.close()
	}
	var kept []backblaze.Row
	for {
		day, rows, err := r.NextDay(ctx)
		if errors.Is(err, io.EOF) {
			return r.Stats(), nil
		}
		if err != nil {
			return r.Stats(), err
		}
		if o.keep != nil {
			kept = kept[:0]
			for i := range rows {
				if o.keep(&rows[i]) {
					kept = append(kept, rows[i])
				}
			}
			rows = kept
		}
		var events []detector.Event
		if sh != nil {
			events = sh.observe(day, rows)
		}
		if err := fn(day, rows, events); err != nil {
			return r.Stats(), err
		}
	}
}

// shards runs one detector per worker, each owning the drives whose
// index is its number modulo the worker count. The detector judges each
// drive on its own history (siblings matter only for fans), so sharding
// changes nothing but the wall time; TestReplayShardsAgree checks it.
type shards struct {
	workers []*shard
	wg      sync.WaitGroup
	out     []detector.Event
}

type shard struct {
	det   *detector.Detector
	b     snapshotBuilder
	index int
	n     int
	in    chan shardDay
	// events of the day with the row index each concerns.
	events []detector.Event
	rowOf  []int
}

type shardDay struct {
	day  time.Time
	rows []backblaze.Row
	done *sync.WaitGroup
}

func newShards(cfg detector.Config, n int, cols []backblaze.Column) (*shards, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &shards{}
	for i := range n {
		det, err := detector.New(cfg)
		if err != nil {
			return nil, err
		}
		w := &shard{det: det, b: snapshotBuilder{cols: cols}, index: i, n: n}
		s.workers = append(s.workers, w)
		if n > 1 {
			w.in = make(chan shardDay)
			go w.run()
		}
	}
	return s, nil
}

func (w *shard) run() {
	for d := range w.in {
		w.observe(d.day, d.rows)
		d.done.Done()
	}
}

// observe feeds the shard's rows of the day to its detector.
func (w *shard) observe(day time.Time, rows []backblaze.Row) {
	snap := w.b.build(day, rows, w.index, w.n)
	w.events = w.det.Observe(snap)
	w.rowOf = w.rowOf[:0]
	for i := range w.events {
		w.rowOf = append(w.rowOf, w.b.rowOfEvent(&w.events[i]))
	}
}

// observe runs the day on every shard and returns the events in the
// order of the rows (the order one detector would give).
func (s *shards) observe(day time.Time, rows []backblaze.Row) []detector.Event {
	if len(s.workers) == 1 {
		s.workers[0].observe(day, rows)
		return s.workers[0].events
	}
	s.wg.Add(len(s.workers))
	for _, w := range s.workers {
		w.in <- shardDay{day: day, rows: rows, done: &s.wg}
	}
	s.wg.Wait()
	type ref struct{ w, i int }
	var refs []ref
	for wi, w := range s.workers {
		for i := range w.events {
			refs = append(refs, ref{wi, i})
		}
	}
	slices.SortStableFunc(refs, func(a, b ref) int {
		return s.workers[a.w].rowOf[a.i] - s.workers[b.w].rowOf[b.i]
	})
	s.out = s.out[:0]
	for _, r := range refs {
		s.out = append(s.out, s.workers[r.w].events[r.i])
	}
	return s.out
}

func (s *shards) close() {
	for _, w := range s.workers {
		if w.in != nil {
			close(w.in)
		}
	}
}

// snapshotBuilder turns a day's rows into one snapshot, reusing its
// buffers from day to day (the detector copies what it keeps).
type snapshotBuilder struct {
	cols     []backblaze.Column
	snap     model.Snapshot
	readings []model.Reading
	rows     []int // component index -> row index
	byID     map[string]int
}

// build makes the snapshot of the rows of shard index (of n): target
// "backblaze", the day at 00:00 UTC, one drive per row, ID the serial
// number, a reading per SMART column present and not empty. Row.Failure is
// never read.
func (b *snapshotBuilder) build(day time.Time, rows []backblaze.Row, index, n int) *model.Snapshot {
	b.snap = model.Snapshot{Target: "backblaze", Time: day, Components: b.snap.Components[:0]}
	b.readings = b.readings[:0]
	b.rows = b.rows[:0]
	clear(b.byID)
	for i := range rows {
		row := &rows[i]
		if n > 1 && row.Drive%n != index {
			continue
		}
		for k := range row.Values {
			if !math.IsNaN(row.Values[k]) {
				b.readings = append(b.readings, model.Reading{Name: b.cols[k].Name, Value: &row.Values[k]})
			}
		}
		b.rows = append(b.rows, i)
	}
	// Readings are sliced only once complete: appending may move them.
	off := 0
	for _, i := range b.rows {
		row := &rows[i]
		start := off
		for k := range row.Values {
			if !math.IsNaN(row.Values[k]) {
				off++
			}
		}
		b.snap.Components = append(b.snap.Components, model.Component{Kind: model.KindDrive, ID: row.Serial,
			Source: row.File, Inventory: model.Inventory{SerialNumber: row.Serial, Model: row.Model, CapacityBytes: row.CapacityBytes},
			Readings: b.readings[start:off:off]})
	}
	return &b.snap
}

// rowOfEvent returns the index in the day's rows of the drive an event
// of the last built snapshot concerns.
func (b *snapshotBuilder) rowOfEvent(ev *detector.Event) int {
	if len(b.byID) == 0 { // built once per day, on the first event
		if b.byID == nil {
			b.byID = map[string]int{}
		}
		for i := range b.snap.Components {
			b.byID[b.snap.Components[i].ID] = i
		}
	}
	if i, ok := b.byID[ev.Component.ID]; ok {
		return b.rows[i]
	}
	return math.MaxInt
}
