package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// Agent watches targets over time: every interval it scans the targets
// that are due, scores each snapshot with the target's detector, commits
// the round to the store and hands the events to the outputs.
type Agent struct {
	o options

	mu      sync.Mutex // targets, order
	targets map[string]*targetRun
	order   []string

	box    Outbox
	mem    *memOutbox // the outbox when there is no store
	disp   *Dispatcher
	rounds atomic.Int64
	// fatal is the first error that must stop the agent (the store
	// refused a commit: going on would raise events it cannot keep).
	fatal atomic.Pointer[error]
}

type options struct {
	interval    time.Duration
	timeout     time.Duration
	concurrency int
	detector    detector.Config
	store       *Store
	metrics     *Metrics
	outputs     []Output
	readers     ReaderFactory
	memory      *redfish.MemoryPool
	log         zerolog.Logger
	now         func() time.Time
	rounds      int
	prepare     func(context.Context, *Target) error
	wait        func(context.Context, time.Time) bool
	jitter      float64
}

// Option configures an Agent.
type Option func(*options)

// WithInterval sets the time between the starts of two rounds (default
// 60 s); a target's own Interval overrides it.
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithTimeout bounds each target's scan (default 60 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithConcurrency sets how many targets are scanned at once (default 16).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithDetectorConfig sets the detector's configuration (default
// detector.DefaultConfig()).
func WithDetectorConfig(c detector.Config) Option { return func(o *options) { o.detector = c } }

// WithStore keeps the detector's state, the readings history and the
// event outbox in s, so that a restart resumes where the agent stopped.
// Without a store, events are delivered from memory and forgotten.
func WithStore(s *Store) Option { return func(o *options) { o.store = s } }

// WithMetrics records every scan and verdict in m (served by m.Handler).
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithOutputs sets where events go.
func WithOutputs(outs ...Output) Option { return func(o *options) { o.outputs = outs } }

// WithReaders replaces NewReader (tests, other sources).
func WithReaders(f ReaderFactory) Option { return func(o *options) { o.readers = f } }

// WithMemoryPool bounds the Redfish responses all scans hold at once.
func WithMemoryPool(p *redfish.MemoryPool) Option { return func(o *options) { o.memory = p } }

// WithLogger logs the agent's work (default: nothing).
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock events and disk snapshots are stamped with.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithPrepare completes each target before its reader is built, and
// again after each SetTargets (credentials read from a file: an edited
// password file is read at a reload). Its error is the target's result.
func WithPrepare(f func(context.Context, *Target) error) Option {
	return func(o *options) { o.prepare = f }
}

// WithWait replaces the wait between rounds: wait(ctx, until) returns
// once the agent's clock (WithClock) reads until, or false when ctx ended
// first. A simulated clock needs its own wait; the default is a timer.
func WithWait(wait func(ctx context.Context, until time.Time) bool) Option {
	return func(o *options) { o.wait = wait }
}

// WithJitter spreads the scans of a round over up to fraction (0..1) of
// the interval, each target at its own fixed offset (a hash of its
// endpoint), so that a thousand BMCs are not all asked in the same
// second and the agent's load is even.
func WithJitter(fraction float64) Option { return func(o *options) { o.jitter = fraction } }

// WithRounds stops Run after n rounds (0: until its context ends).
func WithRounds(n int) Option { return func(o *options) { o.rounds = n } }

// targetRun is one target's life in the agent.
type targetRun struct {
	ep   string // the endpoint: the target's name, fixed
	kind string
	// spec is the target as given (guarded by the agent's mu); stale
	// says it changed since t was prepared from it.
	spec  Target
	stale atomic.Bool
	busy  sync.Mutex // one scan at a time; held across scan and commit
	// scanning is true while the reader's Scan runs, which may be after
	// scanWith gave up on it (past its deadline): the reader is not used
	// again until then.
	scanning atomic.Bool
	// t is the prepared target the reader was built with.
	t      Target
	reader Reader
	det    *detector.Detector
	rec    targetRecord
	// last is when its last scan was due (zero: never in this run);
	// interval is the prepared target's own (zero: the agent's); both
	// guarded by the agent's mu.
	last     time.Time
	interval time.Duration
}

// every is the target's interval, prepared or as given (zero: the
// agent's); a.mu held.
func (tr *targetRun) every() time.Duration {
	if tr.interval > 0 {
		return tr.interval
	}
	return tr.spec.Interval
}

// targetRecord is what the store keeps of a target between rounds and
// restarts, committed with the round's readings and events.
type targetRecord struct {
	Version  int             `json:"version"`
	Detector json.RawMessage `json:"detector,omitempty"`
	Status   targetStatus    `json:"status"`
	// Episodes numbers each component's episodes ("kind/id") and the
	// target's own unreachable episodes (""): the events' ids.
	Episodes map[string]int `json:"episodes,omitempty"`
	// Cursor is the reader's (IPMI: the SEL cursor).
	Cursor json.RawMessage `json:"cursor,omitempty"`
	Time   time.Time       `json:"time"`
}

const recordVersion = 1

// New returns an agent for targets. It restores each target's state
// from the store, if any; it makes no request.
func New(targets []*Target, opts ...Option) (*Agent, error) {
	o := options{interval: 60 * time.Second, timeout: 60 * time.Second, concurrency: 16,
		detector: detector.DefaultConfig(), readers: NewReader, log: zerolog.Nop(), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.interval <= 0:
		return nil, fmt.Errorf("agent: the interval must be positive, got %s", o.interval)
	case o.timeout <= 0:
		return nil, fmt.Errorf("agent: the timeout must be positive, got %s", o.timeout)
	case o.concurrency < 1:
		return nil, fmt.Errorf("agent: the concurrency must be at least 1, got %d", o.concurrency)
	case o.jitter < 0 || o.jitter > 1:
		return nil, fmt.Errorf("agent: the jitter must be between 0 and 1, got %g", o.jitter)
	}
	if err := o.detector.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if o.wait == nil {
		now := o.now
		o.wait = func(ctx context.Context, until time.Time) bool { return sleep(ctx, until.Sub(now())) }
	}
	a := &Agent{o: o, targets: map[string]*targetRun{}}
	if o.store != nil {
		a.box = o.store
		names := make([]string, len(o.outputs))
		for i, out := range o.outputs {
			names[i] = out.Name()
		}
		if err := o.store.SetOutputs(names); err != nil {
			return nil, err
		}
	} else {
		a.mem = newMemOutbox(o.outputs)
		a.box = a.mem
	}
	a.disp = NewDispatcher(a.box, o.outputs, WithDispatchLogger(o.log))
	if err := a.SetTargets(targets); err != nil {
		return nil, err
	}
	return a, nil
}

// SetTargets replaces the agent's targets (a reload): a target kept with
// the same settings keeps its reader (and session) and state; a target
// whose settings changed gets a new reader and keeps its state; a target
// no longer named is closed and forgotten by the metrics (its history
// stays in the store).
func (a *Agent) SetTargets(targets []*Target) error {
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t.Endpoint] {
			return fmt.Errorf("agent: target %s is named twice", t.Endpoint)
		}
		seen[t.Endpoint] = true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[string]*targetRun, len(targets))
	order := make([]string, 0, len(targets))
	for _, t := range targets {
		if t.Endpoint == "" {
			return errors.New("agent: a target without an endpoint")
		}
		order = append(order, t.Endpoint)
		if tr, ok := a.targets[t.Endpoint]; ok {
			// Prepared again at its next scan; the reader (and its
			// session) is kept unless the settings changed.
			tr.spec = *t
			tr.stale.Store(true)
			next[t.Endpoint] = tr
			continue
		}
		tr, err := a.restore(t)
		if err != nil {
			return err
		}
		next[t.Endpoint] = tr
	}
	for ep, tr := range a.targets {
		if next[ep] == nil {
			go func() {
				tr.busy.Lock()
				defer tr.busy.Unlock()
				if tr.reader != nil {
					_ = tr.reader.Close(context.Background())
				}
			}()
			if a.o.metrics != nil {
				a.o.metrics.ForgetTarget(ep)
			}
		}
	}
	a.targets, a.order = next, order
	return nil
}

// restore builds a target's run from its record in the store.
func (a *Agent) restore(t *Target) (*targetRun, error) {
	tr := &targetRun{ep: t.Endpoint, kind: t.Kind(), spec: *t, rec: targetRecord{Version: recordVersion, Episodes: map[string]int{}}}
	tr.stale.Store(true)
	var saved []byte
	if a.o.store != nil {
		var err error
		if saved, err = a.o.store.LoadTarget(t.Endpoint); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Endpoint, err)
		}
	}
	if saved == nil {
		d, err := detector.New(a.o.detector)
		if err != nil {
			return nil, err
		}
		tr.det = d
		return tr, nil
	}
	if err := json.Unmarshal(saved, &tr.rec); err != nil {
		return nil, fmt.Errorf("%s: stored state: %w", t.Endpoint, err)
	}
	if tr.rec.Version != recordVersion {
		return nil, fmt.Errorf("%s: stored state version %d, this build reads %d", t.Endpoint, tr.rec.Version, recordVersion)
	}
	if tr.rec.Episodes == nil {
		tr.rec.Episodes = map[string]int{}
	}
	var err error
	if len(tr.rec.Detector) > 0 {
		tr.det, err = detector.Restore(a.o.detector, tr.rec.Detector)
	} else {
		tr.det, err = detector.New(a.o.detector)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Endpoint, err)
	}
	tr.rec.Detector = nil // kept in the detector; marshalled again at commit
	return tr, nil
}

// Ready says whether the agent is ready (for /readyz): the first round
// is committed and the store took every round since.
func (a *Agent) Ready() error {
	if a.rounds.Load() == 0 {
		return errors.New("the first round has not finished")
	}
	if p := a.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// Run scans the targets every interval until ctx ends (or WithRounds
// rounds), delivering events as they are committed. When ctx ends during
// a round, the scans in flight finish (each within its timeout) and are
// committed: nothing read is lost. On the way out, every reader is
// closed (sessions deleted) and the outputs are given a last chance to
// take what is pending.
func (a *Agent) Run(ctx context.Context) error {
	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	var dwg sync.WaitGroup
	dwg.Go(func() { _ = a.disp.Run(dctx) })
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := a.disp.Flush(fctx); err != nil {
			a.o.log.Warn().Err(err).Msg("events left in the outbox at exit (delivered at the next start)")
		}
		cancel()
		stopDispatch()
		dwg.Wait()
		a.closeReaders(context.WithoutCancel(ctx))
	}()
	var compacted time.Time
	for {
		started := a.o.now()
		if err := a.Round(ctx); err != nil {
			return err
		}
		if now := a.o.now(); a.o.store != nil && now.Sub(compacted) >= time.Hour {
			// Retention: raw readings rolled into 5-minute and hourly
			// means as they age (by the agent's clock).
			if err := a.o.store.Compact(now); err != nil {
				a.o.log.Warn().Err(err).Msg("compacting the store")
			}
			compacted = now
		}
		if a.o.store != nil {
			if err := a.o.store.ReleaseMappedPages(); err != nil {
				a.o.log.Warn().Err(err).Msg("releasing the store's mapped pages")
			}
		}
		if n := a.o.rounds; n > 0 && a.rounds.Load() >= int64(n) {
			return nil
		}
		if !a.o.wait(ctx, started.Add(a.tick())) {
			return nil
		}
	}
}

// tick is the time between rounds: the shortest interval of any target.
func (a *Agent) tick() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.o.interval
	for _, tr := range a.targets {
		if iv := tr.every(); iv > 0 && iv < d {
			d = iv
		}
	}
	return d
}

// Round scans every target that is due once, at most the concurrency at
// a time, and commits each target's result as it comes. A target not
// started when ctx ends is left for the next run; one started finishes.
func (a *Agent) Round(ctx context.Context) error {
	a.mu.Lock()
	due := make([]*targetRun, 0, len(a.order))
	offs := make([]time.Duration, 0, len(a.order))
	now := a.o.now()
	for _, ep := range a.order {
		tr := a.targets[ep]
		iv := tr.every()
		if iv <= 0 {
			iv = a.o.interval
		}
		// A little slack: a round that started late must not skip a
		// target whose interval is the round's.
		if tr.last.IsZero() || now.Sub(tr.last) >= iv-iv/20 {
			tr.last = now
			due = append(due, tr)
			offs = append(offs, a.offset(tr))
		}
	}
	a.mu.Unlock()
	sem := make(chan struct{}, a.o.concurrency)
	var wg sync.WaitGroup
	scanCtx := context.WithoutCancel(ctx)
	for i, tr := range due {
		if a.o.jitter > 0 {
			off := offs[i]
			wg.Go(func() {
				if off > 0 && !a.o.wait(ctx, now.Add(off)) {
					return
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				a.scanTarget(scanCtx, tr)
			})
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			a.scanTarget(scanCtx, tr)
		})
	}
	wg.Wait()
	if p := a.fatal.Load(); p != nil {
		return *p
	}
	a.rounds.Add(1)
	a.observeOutputs()
	return nil
}

// observeOutputs puts the outputs' delivery and the outbox in the
// metrics, once a round.
func (a *Agent) observeOutputs() {
	m := a.o.metrics
	if m == nil {
		return
	}
	for _, st := range a.disp.Stats() {
		m.SetOutputStats(st.Name, st.Delivered, st.Failures, st.Pending)
	}
	if s := a.o.store; s != nil {
		if n, err := s.OutboxLen(); err == nil {
			m.SetOutbox(n, s.DroppedEvents())
		}
	} else {
		m.SetOutbox(a.mem.stats())
	}
}

// offset is a target's fixed place in the round under WithJitter
// (a.mu held).
func (a *Agent) offset(tr *targetRun) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(tr.ep))
	iv := tr.every()
	if iv <= 0 {
		iv = a.o.interval
	}
	return time.Duration(float64(h.Sum32()) / (1 << 32) * a.o.jitter * float64(iv))
}

// scanTarget scans one target with its kept reader and commits what it
// produced.
func (a *Agent) scanTarget(ctx context.Context, tr *targetRun) {
	if !tr.busy.TryLock() {
		a.o.log.Warn().Str("target", tr.ep).Msg("the previous scan of this target is still running; skipped this round")
		return
	}
	defer tr.busy.Unlock()
	if tr.scanning.Load() {
		a.o.log.Warn().Str("target", tr.ep).Msg("the previous scan of this target has not returned yet, past its deadline; skipped this round")
		return
	}
	var res Result
	if err := a.ready(ctx, tr); err != nil {
		res = Result{Target: tr.ep, Kind: tr.kind, Err: err}
	} else {
		tr.scanning.Store(true)
		res = scanWith(ctx, tr.reader, &tr.t, a.o.timeout, a.o.log, func() { tr.scanning.Store(false) })
	}
	if res.Err != nil {
		a.o.log.Warn().Str("target", res.Target).Err(res.Err).Msg("scan failed")
	}
	if err := a.commit(tr, &res); err != nil {
		err = fmt.Errorf("%s: the store refused the round: %w", tr.ep, err)
		a.fatal.CompareAndSwap(nil, &err)
	}
}

// ready prepares the target if its spec changed and builds its reader if
// it has none or its settings changed (the old one closed: a Redfish
// session deleted). tr.busy is held.
func (a *Agent) ready(ctx context.Context, tr *targetRun) error {
	if tr.stale.Swap(false) {
		a.mu.Lock()
		t := tr.spec
		a.mu.Unlock()
		if a.o.prepare != nil {
			if err := a.o.prepare(ctx, &t); err != nil {
				tr.stale.Store(true) // try again next round
				return err
			}
		}
		a.mu.Lock()
		tr.interval = t.Interval
		a.mu.Unlock()
		if tr.reader != nil && t.settings() != tr.t.settings() {
			old := tr.reader
			tr.reader = nil
			go old.Close(context.WithoutCancel(ctx))
		}
		tr.t = t
	}
	if tr.reader != nil {
		return nil
	}
	r, err := a.o.readers(&tr.t, ReaderEnv{Log: a.o.log, Memory: a.o.memory, Now: a.o.now})
	if err != nil {
		return err
	}
	if cr, ok := r.(CursorReader); ok {
		if err := cr.SetCursor(tr.rec.Cursor); err != nil {
			return err
		}
	}
	tr.reader = r
	return nil
}

// commit scores the result and commits the round: the target's state,
// the readings and the events, in one transaction of the store.
func (a *Agent) commit(tr *targetRun, res *Result) error {
	now := a.o.now()
	var events []Event
	if ch := tr.rec.Status.observe(res); ch != nil {
		if ch.typ == EventTargetUnreachable {
			tr.rec.Episodes[""]++
		}
		events = append(events, targetEvent(tr.ep, ch, tr.rec.Episodes[""], now))
	}
	snap := res.Snapshot
	usable := res.Err == nil && snap != nil && len(snap.Components) > 0
	if usable {
		for _, ev := range tr.det.Observe(snap) {
			key := string(ev.Component.Kind) + "/" + ev.Component.ID
			if ev.Type == detector.EventRaised {
				tr.rec.Episodes[key]++
			}
			events = append(events, ComponentEvent(&ev, tr.rec.Episodes[key]))
		}
	}
	if cr, ok := tr.reader.(CursorReader); ok {
		tr.rec.Cursor = cr.Cursor()
	}
	if a.o.store == nil {
		a.mem.append(events)
		a.disp.Notify()
		a.observe(tr, res, usable)
		return nil
	}
	if !usable && len(events) == 0 {
		// A failed scan that changes nothing (the target was already
		// unreachable): the detector saw nothing, the status and
		// episodes are as committed; rewriting the whole state would
		// only cost.
		a.observe(tr, res, usable)
		return nil
	}
	state, err := tr.det.State()
	if err != nil {
		return err
	}
	tr.rec.Detector, tr.rec.Time = state, now
	rec, err := json.Marshal(&tr.rec)
	tr.rec.Detector = nil
	if err != nil {
		return err
	}
	round := &Round{Target: tr.ep, Time: now, Record: rec, Events: events}
	if usable {
		round.Time = snap.Time
		round.Samples = samplesOf(snap)
	}
	if err := a.o.store.Commit(round); err != nil {
		return err
	}
	a.disp.Notify()
	a.observe(tr, res, usable)
	return nil
}

// observe records a committed scan in the metrics: what they show is in
// the store.
func (a *Agent) observe(tr *targetRun, res *Result, usable bool) {
	m := a.o.metrics
	if m == nil {
		return
	}
	snap := res.Snapshot
	m.ObserveScan(tr.ep, tr.kind, res.Duration, requestsOf(snap), res.Err)
	if tr.kind == "ipmi" && usable {
		// The SEL entries this scan read: only those added since the
		// cursor, after the first.
		m.AddSELRead(tr.ep, len(snap.Events))
		var cur struct {
			Entries int `json:"entries"`
		}
		if json.Unmarshal(tr.rec.Cursor, &cur) == nil {
			m.SetSELEntries(tr.ep, cur.Entries)
		}
	}
	if usable {
		m.ObserveTarget(tr.ep, snap, tr.det.Assessments())
	} else {
		m.ObserveTarget(tr.ep, nil, nil)
	}
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func requestsOf(s *model.Snapshot) int {
	if s == nil {
		return 0
	}
	return s.Requests
}

// samplesOf lists a snapshot's readings for the history.
func samplesOf(s *model.Snapshot) []Sample {
	var out []Sample
	for i := range s.Components {
		c := &s.Components[i]
		for _, r := range c.Readings {
			if r.Value == nil {
				continue
			}
			out = append(out, Sample{Component: string(c.Kind) + "/" + c.ID, Reading: r.Name, Unit: r.Unit, Value: *r.Value})
		}
	}
	return out
}

// closeReaders closes every reader (Redfish sessions deleted), at once.
func (a *Agent) closeReaders(ctx context.Context) {
	a.mu.Lock()
	runs := make([]*targetRun, 0, len(a.targets))
	for _, tr := range a.targets {
		runs = append(runs, tr)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, tr := range runs {
		wg.Go(func() {
			tr.busy.Lock()
			defer tr.busy.Unlock()
			if tr.reader != nil {
				_ = tr.reader.Close(ctx)
				tr.reader = nil
			}
		})
	}
	wg.Wait()
}

// Targets lists the agent's targets, in the order given.
func (a *Agent) Targets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.order)
}

// Assessments returns a target's current verdicts.
func (a *Agent) Assessments(target string) []detector.Assessment {
	a.mu.Lock()
	tr := a.targets[target]
	a.mu.Unlock()
	if tr == nil {
		return nil
	}
	tr.busy.Lock()
	defer tr.busy.Unlock()
	return tr.det.Assessments()
}
