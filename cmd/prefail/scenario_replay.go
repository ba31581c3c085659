package main

// `prefail replay --scenario FILE|NAME [--interval 10m]`: replay a mock
// scenario (redfish/redfishtest, docs/mock-server.md) through the real
// Redfish reader and the detector, and print the detector's events as
// the JSON Lines of `prefail replay --format backblaze`.
//
// The pieces, for replay.go to wire in:
//
//   - addScenarioReplayFlags(cmd, &f) registers --scenario and --interval
//     on the replay command;
//   - (*app).replayScenario(ctx, name, interval, w, cfg) runs one replay
//     and writes every event (raised, escalated and cleared) to w;
//   - runScenario is the loop itself, for tests that also want the
//     snapshots (the BMC's own verdicts, to measure lead times).
//
// How a replay runs: the scenario's mock BMC is served over HTTP on
// loopback (httptest); the simulated clock is set (Server.SetTime) to 0,
// interval, 2*interval, ... up to the scenario's duration; at each step
// the real reader (redfish.New + Scan, one session kept across scans,
// $expand as the mock advertises it) scans it; the snapshot's Time is set
// to the scenario's wall time (start + t) and its Target to the
// scenario's name, and the detector observes it. Snapshots are a pure
// function of the simulated time (noise is seeded by time, log entries
// appear at fixed times), so the output is identical from run to run.
//
// Speed: a scan of the public-rackmount1 tree costs about 10 ms of CPU
// (JSON both ways: the mock's ~130 KB of $expand responses and the
// reader's decoding of them), so 30 days at 10-minute steps (4,320 scans)
// would take ~45 s on one core. Steps are therefore scanned by a few
// workers, each with its own mock server and reader session, and handed
// to the detector strictly in time order: the events are the same for
// any number of workers. On two cores a 30-day replay takes ~20 s.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// defaultScenarioInterval is a realistic scan interval for a BMC: often
// enough for hourly buckets to hold several samples, rare enough not to
// load the BMC.
const defaultScenarioInterval = 10 * time.Minute

// scenarioReplayFlags are replay's scenario options.
type scenarioReplayFlags struct {
	scenario string
	interval time.Duration
}

// addScenarioReplayFlags registers --scenario and --interval on cmd.
func addScenarioReplayFlags(cmd *cobra.Command, f *scenarioReplayFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "", "replay a mock scenario `NAME` (embedded) or FILE through the Redfish reader and the detector")
	fl.DurationVar(&f.interval, "interval", defaultScenarioInterval, "with --scenario, the simulated time between scans")
}

// replayScenario replays the scenario called name (embedded, or a file)
// with a scan every interval and writes each detector event to w as a
// JSON line.
func (a *app) replayScenario(ctx context.Context, name string, interval time.Duration, w io.Writer, cfg detector.Config) error {
	sc, err := loadScenario(name)
	if err != nil {
		return err
	}
	// A replay allocates and drops a scan's worth of JSON (~130 KB, both
	// sides) thousands of times and keeps little: collecting less often
	// takes a third off its time for ~30 MB more memory.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err = runScenario(ctx, sc, scenarioRun{interval: interval, cfg: cfg}, func(_ *model.Snapshot, events []detector.Event) error {
		for i := range events {
			if err := enc.Encode(replayEventOf(&events[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// scenarioRun are the settings of one scenario replay.
type scenarioRun struct {
	interval time.Duration
	cfg      detector.Config
	// workers scanning ahead of the detector (default: the CPUs, at most 4).
	workers int
}

// scenarioStep is one scan's result.
type scenarioStep struct {
	snap *model.Snapshot
	err  error
}

// runScenario replays sc and calls fn with each snapshot and the events
// it caused, in time order.
func runScenario(ctx context.Context, sc *redfishtest.Scenario, o scenarioRun, fn func(*model.Snapshot, []detector.Event) error) error {
	if o.interval <= 0 {
		return usagef("--interval must be positive")
	}
	tree, err := sc.BaseTree()
	if err != nil {
		return err
	}
	if err := sc.Check(tree); err != nil {
		return fmt.Errorf("scenario %s does not fit its base tree: %s", sc.Name, firstLines(err.Error(), 5))
	}
	det, err := detector.New(o.cfg)
	if err != nil {
		return err
	}
	steps := int(sc.Duration/o.interval) + 1
	workers := o.workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	workers = max(1, min(workers, steps))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([]chan scenarioStep, workers)
	for k := range outs {
		outs[k] = make(chan scenarioStep, 2)
		go scanSteps(ctx, sc, tree, k, workers, steps, o.interval, outs[k])
	}
	target := "scenario:" + sc.Name
	for i := range steps {
		var st scenarioStep
		select {
		case st = <-outs[i%workers]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if st.err != nil {
			return fmt.Errorf("scenario %s at %s: %w", sc.Name, formatSimDuration(time.Duration(i)*o.interval), st.err)
		}
		st.snap.Target = target
		st.snap.Time = sc.Start.Add(time.Duration(i) * o.interval).UTC()
		if err := fn(st.snap, det.Observe(st.snap)); err != nil {
			return err
		}
	}
	return nil
}

// scanSteps is one worker: its own mock server and reader session, scanning
// steps k, k+n, k+2n, ... in order.
func scanSteps(ctx context.Context, sc *redfishtest.Scenario, tree *redfishtest.Tree, k, n, steps int, interval time.Duration, out chan<- scenarioStep) {
	ts := redfishtest.NewServer(tree, redfishtest.WithScenario(sc))
	defer ts.Close()
	c, err := redfish.New(ts.URL, redfish.WithHTTPClient(ts.Client()),
		redfish.WithCredentials(redfishtest.DefaultUser, redfishtest.DefaultPassword))
	if err != nil {
		out <- scenarioStep{err: err}
		return
	}
	defer func() { _, _ = c.Close(context.WithoutCancel(ctx)) }()
	for i := k; i < steps; i += n {
		ts.Mock.SetTime(time.Duration(i) * interval)
		snap, err := c.Scan(ctx)
		select {
		case out <- scenarioStep{snap: snap, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}
