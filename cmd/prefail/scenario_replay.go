package main

// `prefail replay --scenario FILE|NAME [--interval 10m] [--progress]`:
// replay a mock scenario (redfish/redfishmock, docs/mock-server.md)
// through the real Redfish reader and the detector, and print the
// detector's events as the JSON Lines of `prefail replay --format
// backblaze`.
//
// The pieces, for replay.go to wire in:
//
//   - addScenarioReplayFlags(cmd, &f) registers --scenario, --interval and
//     --progress on the replay command;
//   - (*app).replayScenario(ctx, &f, w, cfg) runs one replay and writes
//     every event (raised, escalated and cleared) to w, and the progress
//     to stderr;
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
//
// The interval is the scenario's own ("interval" in its file) unless
// --interval is given. Progress (simulated day / total, events so far)
// goes to stderr when it is a terminal, or with --progress; stdout only
// ever carries the JSON Lines.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// defaultScenarioInterval is the scan interval of a scenario that gives
// none: a realistic one for a BMC, often enough for hourly buckets to hold
// several samples, rare enough not to load the BMC.
const defaultScenarioInterval = 10 * time.Minute

// scenarioReplayFlags are replay's scenario options.
type scenarioReplayFlags struct {
	scenario string
	interval time.Duration
	progress bool
	// changed reports whether a flag was given on the command line.
	changed func(name string) bool
}

// addScenarioReplayFlags registers --scenario, --interval and --progress
// on cmd.
func addScenarioReplayFlags(cmd *cobra.Command, f *scenarioReplayFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "", "replay a mock scenario `NAME` (embedded) or FILE through the Redfish reader and the detector")
	fl.DurationVar(&f.interval, "interval", 0, "with --scenario, the simulated time between scans (default: the scenario's own interval, else 10m)")
	fl.BoolVar(&f.progress, "progress", false, "with --scenario, show the progress on stderr (default: when stderr is a terminal)")
	f.changed = fl.Changed
}

// given reports whether flag name was on the command line.
func (f *scenarioReplayFlags) given(name string) bool { return f.changed != nil && f.changed(name) }

// scanInterval is the replay's interval: --interval when given, else the
// scenario's own.
func (f *scenarioReplayFlags) scanInterval(sc *redfishmock.Scenario) time.Duration {
	switch {
	case f.given("interval"):
		return f.interval // runScenario refuses one that is not positive
	case sc.Interval > 0:
		return sc.Interval
	}
	return defaultScenarioInterval
}

// replayScenario replays the scenario f names (embedded, or a file) and
// writes each detector event to w as a JSON line; the progress goes to
// a.stderr when it is a terminal or with --progress.
func (a *app) replayScenario(ctx context.Context, f *scenarioReplayFlags, w io.Writer, cfg detector.Config) error {
	sc, err := loadScenario(f.scenario)
	if err != nil {
		return err
	}
	interval := f.scanInterval(sc)
	tty := isTerminal(a.stderr)
	show := tty
	if f.given("progress") {
		show = f.progress
	}
	var prog *replayProgress
	if show {
		prog = newReplayProgress(a.stderr, tty, sc, interval, a.clock)
	}
	// A replay allocates and drops a scan's worth of JSON (~130 KB, both
	// sides) thousands of times and keeps little: collecting less often
	// takes a third off its time for ~30 MB more memory.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err = runScenario(ctx, sc, scenarioRun{interval: interval, cfg: cfg}, func(snap *model.Snapshot, events []detector.Event) error {
		for i := range events {
			if err := enc.Encode(replayEventOf(&events[i])); err != nil {
				return err
			}
		}
		if prog != nil {
			prog.step(snap.Time.Sub(sc.Start), len(events))
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if prog != nil {
		prog.finish(err)
	}
	return err
}

// isTerminal reports whether w is a terminal (a character device: a
// redirection to /dev/null counts too, which is harmless).
func isTerminal(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// replayProgress shows a scenario replay's progress: on a terminal one
// line rewritten in place (at most every progressRedraw), elsewhere one
// line per simulated day; a summary line at the end.
type replayProgress struct {
	w        io.Writer
	tty      bool
	name     string
	total    time.Duration
	interval time.Duration
	now      func() time.Time
	began    time.Time
	drawn    time.Time // last redraw (terminal)
	day      int       // days reported (not a terminal)
	scans    int
	events   int
}

const progressRedraw = 200 * time.Millisecond

func newReplayProgress(w io.Writer, tty bool, sc *redfishmock.Scenario, interval time.Duration, now func() time.Time) *replayProgress {
	return &replayProgress{w: w, tty: tty, name: sc.Name, total: sc.Duration, interval: interval, now: now, began: now()}
}

// days renders a simulated duration in days.
func days(d time.Duration) float64 { return d.Hours() / 24 }

// step records one scan at simulated time sim that raised events events.
func (p *replayProgress) step(sim time.Duration, events int) {
	p.scans++
	p.events += events
	if p.tty {
		if now := p.now(); now.Sub(p.drawn) >= progressRedraw {
			p.drawn = now
			fmt.Fprintf(p.w, "\rreplay %s: day %.1f/%g, %d events, %s ", p.name, days(sim), days(p.total), p.events, now.Sub(p.began).Round(100*time.Millisecond))
		}
		return
	}
	// A line when a simulated day is complete: its last scan is done.
	if d := int(min(sim+p.interval, p.total) / (24 * time.Hour)); d > p.day {
		p.day = d
		fmt.Fprintf(p.w, "replay %s: day %d/%g, %d events, %s\n", p.name, d, days(p.total), p.events, p.now().Sub(p.began).Round(100*time.Millisecond))
	}
}

// finish ends the progress with a summary (or nothing more when err).
func (p *replayProgress) finish(err error) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	if err != nil {
		return
	}
	fmt.Fprintf(p.w, "replay %s: done, %g days in %d scans every %s, %d events, %s\n", p.name, days(p.total), p.scans, formatSimDuration(p.interval), p.events,
		p.now().Sub(p.began).Round(100*time.Millisecond))
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
func runScenario(ctx context.Context, sc *redfishmock.Scenario, o scenarioRun, fn func(*model.Snapshot, []detector.Event) error) error {
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
func scanSteps(ctx context.Context, sc *redfishmock.Scenario, tree *redfishmock.Tree, k, n, steps int, interval time.Duration, out chan<- scenarioStep) {
	mock := redfishmock.New(tree, redfishmock.WithScenario(sc))
	url, stop, err := serveLoopback(ctx, mock)
	if err != nil {
		out <- scenarioStep{err: err}
		return
	}
	defer stop()
	c, err := redfish.New(url, redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword))
	if err != nil {
		out <- scenarioStep{err: err}
		return
	}
	defer func() { _, _ = c.Close(context.WithoutCancel(ctx)) }()
	for i := k; i < steps; i += n {
		mock.SetTime(time.Duration(i) * interval)
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

// serveLoopback serves h over plain HTTP on a free port of 127.0.0.1 and
// returns its URL. The server outlives ctx (the reader deletes its session
// on a detached context) until stop, which shuts it down and waits for it.
func serveLoopback(ctx context.Context, h http.Handler) (url string, stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("mock server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = redfishmock.Serve(sctx, ln, h, nil)
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}
