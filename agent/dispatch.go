package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Dispatcher defaults.
const (
	DefaultDispatchBatch         = 256
	DefaultDispatchMinBackoff    = time.Second
	DefaultDispatchMaxBackoff    = 5 * time.Minute
	DefaultDispatchMaxRetryAfter = time.Hour
	DefaultDispatchPoll          = 15 * time.Second
	DefaultDispatchFlushTimeout  = 5 * time.Second
)

// DispatchOption configures NewDispatcher.
type DispatchOption func(*dispatchConfig)

type dispatchConfig struct {
	log           zerolog.Logger
	batch         int
	minBackoff    time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	poll          time.Duration
	flushTimeout  time.Duration
}

// WithDispatchLogger logs delivery failures (warn), recoveries (info) and
// deliveries (debug). Default zerolog.Nop().
func WithDispatchLogger(l zerolog.Logger) DispatchOption {
	return func(c *dispatchConfig) { c.log = l }
}

// WithDispatchBatch hands each output at most n events per Deliver
// (default DefaultDispatchBatch).
func WithDispatchBatch(n int) DispatchOption { return func(c *dispatchConfig) { c.batch = n } }

// WithDispatchBackoff sets the wait after a failed delivery: min for the
// first failure, doubling with each failure in a row up to max, with
// jitter (each wait is between half and all of it). Default 1 s to 5 min.
func WithDispatchBackoff(min, max time.Duration) DispatchOption {
	return func(c *dispatchConfig) { c.minBackoff, c.maxBackoff = min, max }
}

// WithDispatchMaxRetryAfter caps an output's "retry after" (default 1 h).
func WithDispatchMaxRetryAfter(d time.Duration) DispatchOption {
	return func(c *dispatchConfig) { c.maxRetryAfter = d }
}

// WithDispatchPoll sets how often a caught-up output looks at the outbox
// without being notified (default 15 s).
func WithDispatchPoll(d time.Duration) DispatchOption { return func(c *dispatchConfig) { c.poll = d } }

// WithDispatchFlushTimeout bounds Run's last delivery attempt after its
// context is done (default 5 s).
func WithDispatchFlushTimeout(d time.Duration) DispatchOption {
	return func(c *dispatchConfig) { c.flushTimeout = d }
}

// Dispatcher feeds the outputs from the outbox: each output has its own
// goroutine and its own cursor, so a slow or failing output holds up no
// other. An event is confirmed to the outbox for an output only once the
// output's Deliver returned it as delivered; an event delivered but not
// confirmed (a crash in between, a failed confirm) is handed over again,
// which the outputs de-duplicate by event id (the file output itself,
// NATS by Nats-Msg-Id, a webhook receiver by id).
//
// The dispatcher never closes the outputs: their owner does, after Run
// returned.
type Dispatcher struct {
	box  Outbox
	c    dispatchConfig
	outs []*dispatchOutput

	running atomic.Bool
}

// dispatchOutput is one output's delivery state.
type dispatchOutput struct {
	out  Output
	name string
	wake chan struct{}

	deliver sync.Mutex // one delivery at a time (Run's goroutine, Flush)

	mu    sync.Mutex // guards stats
	stats OutputStats
}

// OutputStats is an output's delivery state, for metrics and status.
type OutputStats struct {
	Name string
	// Delivered counts the events confirmed to the outbox since start
	// (events an output skipped as already delivered included).
	Delivered uint64
	// Failures counts failed delivery attempts (reading the outbox,
	// Deliver, confirming); Failing is how many of the last ones failed
	// in a row (0: the last attempt worked).
	Failures uint64
	Failing  int
	// LastError is the last failure's message, LastErrorAt its time.
	LastError   string
	LastErrorAt time.Time
	// LastDeliveredAt is when events were last confirmed.
	LastDeliveredAt time.Time
	// Cursor is the last sequence number confirmed.
	Cursor uint64
	// Pending is the number of events waiting for the output at the last
	// look at the outbox. It is exact if the outbox implements
	// PendingCounter or fewer than a batch wait; otherwise it is at least
	// the batch size.
	Pending int
	// Oldest is the time of the oldest event waiting (zero if none), and
	// Lag how long ago that was.
	Oldest time.Time
	Lag    time.Duration
	// RetryAt is when a failed output tries again (zero if it is not
	// waiting on a failure).
	RetryAt time.Time
}

// PendingCounter is an Outbox that can count an output's pending events
// cheaply; the dispatcher then reports exact OutputStats.Pending.
type PendingCounter interface {
	PendingCount(output string) (int, error)
}

// NewDispatcher returns a dispatcher of box's events to outputs. Each
// output's Name is its cursor in the outbox; two outputs with the same
// name make Run and Flush fail.
func NewDispatcher(box Outbox, outputs []Output, opts ...DispatchOption) *Dispatcher {
	c := dispatchConfig{log: zerolog.Nop(), batch: DefaultDispatchBatch,
		minBackoff: DefaultDispatchMinBackoff, maxBackoff: DefaultDispatchMaxBackoff,
		maxRetryAfter: DefaultDispatchMaxRetryAfter, poll: DefaultDispatchPoll,
		flushTimeout: DefaultDispatchFlushTimeout}
	for _, opt := range opts {
		opt(&c)
	}
	c.batch = max(c.batch, 1)
	c.minBackoff = max(c.minBackoff, time.Millisecond)
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	c.maxRetryAfter = max(c.maxRetryAfter, c.minBackoff)
	if c.poll <= 0 {
		c.poll = DefaultDispatchPoll
	}
	if c.flushTimeout <= 0 {
		c.flushTimeout = DefaultDispatchFlushTimeout
	}
	d := &Dispatcher{box: box, c: c}
	for _, out := range outputs {
		if out == nil {
			continue
		}
		name := out.Name()
		d.outs = append(d.outs, &dispatchOutput{out: out, name: name,
			wake: make(chan struct{}, 1), stats: OutputStats{Name: name}})
	}
	return d
}

// check refuses what would lose events silently: no outbox, two outputs
// sharing a cursor.
func (d *Dispatcher) check() error {
	if d.box == nil {
		return errors.New("dispatcher: no outbox")
	}
	seen := map[string]bool{}
	for _, o := range d.outs {
		if o.name == "" {
			return errors.New("dispatcher: an output has an empty name")
		}
		if seen[o.name] {
			return fmt.Errorf("dispatcher: two outputs are named %q (each needs its own cursor)", o.name)
		}
		seen[o.name] = true
	}
	return nil
}

// Notify tells the outputs that events were committed to the outbox. It
// never blocks; an output backing off after a failure keeps waiting.
func (d *Dispatcher) Notify() {
	for _, o := range d.outs {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is done, then makes a last attempt to deliver
// what is pending (bounded by the flush timeout) and returns nil. What
// is still pending stays in the outbox for the next start. It returns an
// error only if it cannot run (see NewDispatcher) or already runs.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("dispatcher: already running")
	}
	defer d.running.Store(false)
	var wg sync.WaitGroup
	for _, o := range d.outs {
		wg.Go(func() { d.run(ctx, o) })
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) run(ctx context.Context, o *dispatchOutput) {
	failing := 0
	poll := time.NewTimer(d.c.poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		more, err := d.step(ctx, o)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			failing++
			delay := d.retryDelay(err, failing)
			o.mu.Lock()
			o.stats.RetryAt = time.Now().Add(delay)
			o.mu.Unlock()
			d.c.log.Warn().Str("output", o.name).Err(err).Int("failures_in_a_row", failing).
				Dur("retry_in", delay).Msg("event delivery failed")
			if !dispatchSleep(ctx, delay) {
				break
			}
			continue
		}
		if failing > 0 {
			d.c.log.Info().Str("output", o.name).Int("failures_in_a_row", failing).Msg("event delivery works again")
			failing = 0
		}
		if more {
			continue
		}
		poll.Reset(d.c.poll) // (Go 1.23 timers: no stale tick after Reset)
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-poll.C:
		}
	}
	// The last attempt, on a context of its own.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.c.flushTimeout)
	defer cancel()
	if err := d.flushOne(fctx, o); err != nil {
		d.c.log.Warn().Str("output", o.name).Err(err).
			Msg("events left in the outbox at shutdown (delivered at the next start)")
	}
}

// Flush delivers everything pending now, each output in turn with its
// own goroutine, without waiting on backoffs; it returns when every
// output is caught up, failed once, or ctx is done (the errors joined).
// It is safe to call while Run runs.
func (d *Dispatcher) Flush(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	errs := make([]error, len(d.outs))
	var wg sync.WaitGroup
	for i, o := range d.outs {
		wg.Go(func() { errs[i] = d.flushOne(ctx, o) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Dispatcher) flushOne(ctx context.Context, o *dispatchOutput) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("output %q: %w", o.name, err)
		}
		more, err := d.step(ctx, o)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// step hands o one batch: it reads the outbox, delivers and confirms what
// was delivered. more says that more may be pending.
func (d *Dispatcher) step(ctx context.Context, o *dispatchOutput) (more bool, err error) {
	o.deliver.Lock()
	defer o.deliver.Unlock()
	entries, err := d.box.Pending(o.name, d.c.batch)
	if err != nil {
		return false, d.failed(ctx, o, fmt.Errorf("output %q: read the outbox: %w", o.name, err))
	}
	full := len(entries) == d.c.batch
	d.setPending(o, len(entries), entries, full)
	if len(entries) == 0 {
		d.succeeded(o, 0, 0)
		return false, nil
	}
	events := make([]Event, len(entries))
	for i := range entries {
		events[i] = entries[i].Event
	}
	n, derr := o.out.Deliver(ctx, events)
	n = min(max(n, 0), len(entries))
	if derr == nil && n == 0 {
		derr = fmt.Errorf("output %q delivered none of %d events and gave no reason", o.name, len(entries))
	}
	if n > 0 {
		seq := entries[n-1].Seq
		if err := d.box.Confirm(o.name, seq); err != nil {
			// Delivered but not confirmed: handed over again, and
			// de-duplicated by the output (or its receiver) by id.
			return false, d.failed(ctx, o, errors.Join(derr,
				fmt.Errorf("output %q: delivered %d events but could not confirm them to the outbox: %w", o.name, n, err)))
		}
		d.c.log.Debug().Str("output", o.name).Int("events", n).Uint64("seq", seq).Msg("events delivered")
		d.succeeded(o, n, seq)
		d.setPending(o, len(entries)-n, entries[n:], full)
	}
	if derr != nil {
		return false, d.failed(ctx, o, derr)
	}
	return n < len(entries) || full, nil
}

// setPending records what waits for o: n events, the first of waiting
// (if any). n is exact unless the read filled a batch (more may wait):
// then the outbox counts them, if it can.
func (d *Dispatcher) setPending(o *dispatchOutput, n int, waiting []OutboxEntry, full bool) {
	if pc, ok := d.box.(PendingCounter); ok && full {
		if c, err := pc.PendingCount(o.name); err == nil {
			n = c
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Pending = n
	o.stats.Oldest = time.Time{}
	if len(waiting) > 0 {
		o.stats.Oldest = waiting[0].Event.Time
	}
}

func (d *Dispatcher) succeeded(o *dispatchOutput, n int, seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n > 0 {
		o.stats.Delivered += uint64(n)
		o.stats.LastDeliveredAt = time.Now()
		o.stats.Cursor = seq
	}
	o.stats.Failing = 0
	o.stats.RetryAt = time.Time{}
}

// failed records err (unless it is only ctx ending) and returns it.
func (d *Dispatcher) failed(ctx context.Context, o *dispatchOutput, err error) error {
	if ctx.Err() != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Failures++
	o.stats.Failing++
	o.stats.LastError = err.Error()
	o.stats.LastErrorAt = time.Now()
	return err
}

// retryDelay is the wait after the failing-th failure in a row: the
// output's own "retry after" (capped), or the backoff with jitter.
func (d *Dispatcher) retryDelay(err error, failing int) time.Duration {
	if ra, ok := errors.AsType[*RetryAfterError](err); ok {
		return min(max(ra.Delay, d.c.minBackoff), d.c.maxRetryAfter)
	}
	b := d.c.minBackoff
	for i := 1; i < failing && b < d.c.maxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.c.maxBackoff)
	half := b / 2
	return half + rand.N(b-half+1)
}

// Stats returns each output's delivery state, in the outputs' order.
func (d *Dispatcher) Stats() []OutputStats {
	now := time.Now()
	out := make([]OutputStats, len(d.outs))
	for i, o := range d.outs {
		o.mu.Lock()
		s := o.stats
		o.mu.Unlock()
		if s.Pending > 0 && !s.Oldest.IsZero() {
			s.Lag = max(now.Sub(s.Oldest), 0)
		}
		out[i] = s
	}
	return out
}

// dispatchSleep waits d; false if ctx ended first.
func dispatchSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
