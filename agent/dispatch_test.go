package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// otEvent is the i-th test event: a stable id, a time i minutes after a
// fixed start.
func otEvent(i int) Event {
	return Event{
		Schema: EventSchema, ID: fmt.Sprintf("ev-%05d", i), Target: "bmc-1",
		Time: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Type: EventTargetUnreachable, Severity: model.SeverityCritical,
		Reason: ReasonNoAnswer, Message: fmt.Sprintf("event %d <&>", i),
	}
}

func otEvents(from, to int) []Event {
	var evs []Event
	for i := from; i < to; i++ {
		evs = append(evs, otEvent(i))
	}
	return evs
}

func otIDs(evs []Event) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	return ids
}

// otOutbox is an in-memory Outbox: events in sequence, a cursor per
// output; Confirm must move forward and stay within what was handed out.
type otOutbox struct {
	t       testing.TB
	mu      sync.Mutex
	entries []OutboxEntry
	cursors map[string]uint64
	// failConfirm makes the next n Confirm calls fail (the process
	// "killed" between the delivery and the confirm).
	failConfirm int
	failPending int
}

func newOTOutbox(t testing.TB) *otOutbox {
	return &otOutbox{t: t, cursors: map[string]uint64{}}
}

func (b *otOutbox) add(evs ...Event) (last uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		last = uint64(len(b.entries) + 1)
		b.entries = append(b.entries, OutboxEntry{Seq: last, Event: ev})
	}
	return last
}

func (b *otOutbox) Pending(output string, max int) ([]OutboxEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failPending > 0 {
		b.failPending--
		return nil, errors.New("outbox unreadable")
	}
	cur := b.cursors[output]
	var out []OutboxEntry
	for _, e := range b.entries {
		if e.Seq > cur && len(out) < max {
			out = append(out, e)
		}
	}
	return out, nil
}

func (b *otOutbox) Confirm(output string, seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failConfirm > 0 {
		b.failConfirm--
		return errors.New("store closed")
	}
	if seq <= b.cursors[output] || seq > uint64(len(b.entries)) {
		b.t.Errorf("confirm %s: seq %d with cursor %d and %d entries", output, seq, b.cursors[output], len(b.entries))
		return errors.New("bad confirm")
	}
	b.cursors[output] = seq
	return nil
}

func (b *otOutbox) cursor(output string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cursors[output]
}

// otOutput is a scripted output: it records what it got and fails as
// told.
type otOutput struct {
	name string
	mu   sync.Mutex
	got  []Event
	// calls records each Deliver's time.
	calls []time.Time
	// script gives Deliver's answer for call i (0-based); nil: deliver all.
	script func(call int, events []Event) (int, error)
}

func (o *otOutput) Name() string { return o.name }
func (o *otOutput) Close() error { return nil }

func (o *otOutput) Deliver(ctx context.Context, events []Event) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	call := len(o.calls)
	o.calls = append(o.calls, time.Now())
	n, err := len(events), error(nil)
	if o.script != nil {
		n, err = o.script(call, events)
	}
	if n > 0 {
		o.got = append(o.got, events[:n]...)
	}
	return n, err
}

func (o *otOutput) snapshot() ([]Event, []time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got), slices.Clone(o.calls)
}

// otWait polls cond until it holds or d passed.
func otWait(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// otRun runs d until the test ends; the returned func stops it and waits.
func otRun(t testing.TB, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestDispatchDeliversToEachOutputIndependently(t *testing.T) {
	box := newOTOutbox(t)
	good := &otOutput{name: "good"}
	bad := &otOutput{name: "bad", script: func(int, []Event) (int, error) { return 0, errors.New("down") }}
	d := NewDispatcher(box, []Output{good, bad}, WithDispatchBatch(4), WithDispatchPoll(time.Hour),
		WithDispatchBackoff(time.Hour, time.Hour))
	otRun(t, d)
	last := box.add(otEvents(0, 10)...)
	d.Notify()
	otWait(t, 5*time.Second, "the good output to catch up", func() bool { return box.cursor("good") == last })
	otWait(t, 5*time.Second, "the bad output to fail", func() bool { return d.Stats()[1].Failures == 1 })
	got, _ := good.snapshot()
	if !slices.Equal(otIDs(got), otIDs(otEvents(0, 10))) {
		t.Errorf("good got %v", otIDs(got))
	}
	if c := box.cursor("bad"); c != 0 {
		t.Errorf("bad output's cursor moved to %d", c)
	}
	st := d.Stats()
	if st[0].Name != "good" || st[0].Delivered != 10 || st[0].Failures != 0 || st[0].Pending != 0 || st[0].Lag != 0 {
		t.Errorf("good stats: %+v", st[0])
	}
	if st[1].Name != "bad" || st[1].Delivered != 0 || st[1].Failures != 1 || st[1].Failing != 1 ||
		!strings.Contains(st[1].LastError, "down") || st[1].Pending != 4 || st[1].RetryAt.IsZero() ||
		st[1].Oldest != otEvent(0).Time || st[1].Lag < time.Since(otEvent(0).Time)-time.Minute {
		t.Errorf("bad stats: %+v", st[1])
	}
}

func TestDispatchNotifyWakesACaughtUpOutput(t *testing.T) {
	box := newOTOutbox(t)
	out := &otOutput{name: "o"}
	d := NewDispatcher(box, []Output{out}, WithDispatchPoll(time.Hour))
	otRun(t, d)
	for round := range 3 {
		time.Sleep(20 * time.Millisecond) // let it go idle
		last := box.add(otEvent(round))
		d.Notify() // the poll is an hour away: only Notify delivers
		otWait(t, 10*time.Second, "the notified delivery", func() bool { return box.cursor("o") == last })
	}
}

func TestDispatchPollsWithoutNotify(t *testing.T) {
	box := newOTOutbox(t)
	out := &otOutput{name: "o"}
	d := NewDispatcher(box, []Output{out}, WithDispatchPoll(50*time.Millisecond))
	otRun(t, d)
	time.Sleep(20 * time.Millisecond)
	last := box.add(otEvents(0, 3)...)
	otWait(t, 2*time.Second, "the polled delivery", func() bool { return box.cursor("o") == last })
}

func TestDispatchBackoffDoublesWithJitter(t *testing.T) {
	box := newOTOutbox(t)
	box.add(otEvents(0, 2)...)
	const base = 40 * time.Millisecond
	out := &otOutput{name: "o", script: func(call int, evs []Event) (int, error) {
		if call < 4 {
			return 0, fmt.Errorf("failure %d", call)
		}
		return len(evs), nil
	}}
	d := NewDispatcher(box, []Output{out}, WithDispatchBackoff(base, 200*time.Millisecond), WithDispatchPoll(time.Hour))
	otRun(t, d)
	otWait(t, 5*time.Second, "delivery after 4 failures", func() bool { return box.cursor("o") == 2 })
	_, calls := out.snapshot()
	if len(calls) != 5 {
		t.Fatalf("%d calls, want 5", len(calls))
	}
	// Waits: base, 2·base, 4·base, then capped at 200ms; each at least
	// half of it (the upper bounds, exact in TestDispatchRetryDelay, get
	// scheduling slack here).
	for i, want := range []time.Duration{base, 2 * base, 4 * base, 200 * time.Millisecond} {
		gap := calls[i+1].Sub(calls[i])
		if gap < want/2 || gap > want+2*time.Second {
			t.Errorf("wait %d: %s, want between %s and %s", i, gap, want/2, want)
		}
	}
	st := d.Stats()[0]
	if st.Failures != 4 || st.Failing != 0 || st.Delivered != 2 || !st.RetryAt.IsZero() || st.LastError != "failure 3" {
		t.Errorf("stats: %+v", st)
	}
}

func TestDispatchHonoursRetryAfterCapped(t *testing.T) {
	box := newOTOutbox(t)
	box.add(otEvents(0, 1)...)
	out := &otOutput{name: "o", script: func(call int, evs []Event) (int, error) {
		switch call {
		case 0:
			return 0, &RetryAfterError{Delay: 300 * time.Millisecond, Err: errors.New("busy")}
		case 1:
			return 0, &RetryAfterError{Delay: 10 * time.Hour, Err: errors.New("very busy")}
		}
		return len(evs), nil
	}}
	d := NewDispatcher(box, []Output{out}, WithDispatchBackoff(time.Millisecond, time.Millisecond),
		WithDispatchMaxRetryAfter(500*time.Millisecond), WithDispatchPoll(time.Hour))
	otRun(t, d)
	otWait(t, 5*time.Second, "delivery", func() bool { return box.cursor("o") == 1 })
	_, calls := out.snapshot()
	if g := calls[1].Sub(calls[0]); g < 300*time.Millisecond || g > 3*time.Second {
		t.Errorf("waited %s after Retry-After 300ms", g)
	}
	if g := calls[2].Sub(calls[1]); g < 500*time.Millisecond || g > 3*time.Second {
		t.Errorf("waited %s after Retry-After 10h capped at 500ms", g)
	}
}

func TestDispatchPartialDeliveryConfirmsThePrefix(t *testing.T) {
	box := newOTOutbox(t)
	last := box.add(otEvents(0, 11)...)
	// Two at a time, and every third call one then an error.
	out := &otOutput{name: "o", script: func(call int, evs []Event) (int, error) {
		if call%3 == 2 {
			return 1, errors.New("broke after one")
		}
		return min(2, len(evs)), nil
	}}
	d := NewDispatcher(box, []Output{out}, WithDispatchBatch(5), WithDispatchBackoff(time.Millisecond, time.Millisecond))
	if err := d.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "broke after one") {
		t.Fatalf("Flush: %v", err)
	}
	for range 20 {
		if box.cursor("o") == last {
			break
		}
		_ = d.Flush(context.Background())
	}
	got, _ := out.snapshot()
	if !slices.Equal(otIDs(got), otIDs(otEvents(0, 11))) {
		t.Errorf("delivered %v", otIDs(got)) // each once, in order: nothing confirmed was handed over again
	}
}

func TestDispatchNothingDeliveredWithoutErrorIsAFailure(t *testing.T) {
	box := newOTOutbox(t)
	box.add(otEvents(0, 2)...)
	out := &otOutput{name: "o", script: func(int, []Event) (int, error) { return 0, nil }}
	d := NewDispatcher(box, []Output{out})
	err := d.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "delivered none of 2") {
		t.Fatalf("Flush: %v", err)
	}
	if st := d.Stats()[0]; st.Failures != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestDispatchFlushDeliversEverythingPending(t *testing.T) {
	box := newOTOutbox(t)
	last := box.add(otEvents(0, 10)...)
	a, b := &otOutput{name: "a"}, &otOutput{name: "b"}
	d := NewDispatcher(box, []Output{a, b}, WithDispatchBatch(3))
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*otOutput{a, b} {
		got, calls := o.snapshot()
		if !slices.Equal(otIDs(got), otIDs(otEvents(0, 10))) || len(calls) != 4 {
			t.Errorf("%s: %d calls, got %v", o.name, len(calls), otIDs(got))
		}
		if box.cursor(o.name) != last {
			t.Errorf("%s: cursor %d", o.name, box.cursor(o.name))
		}
	}
}

func TestDispatchLastFlushWhenRunStops(t *testing.T) {
	box := newOTOutbox(t)
	out := &otOutput{name: "o"}
	d := NewDispatcher(box, []Output{out}, WithDispatchPoll(time.Hour))
	stop := otRun(t, d)
	time.Sleep(20 * time.Millisecond) // idle, waiting for a Notify that never comes
	last := box.add(otEvents(0, 5)...)
	stop()
	if box.cursor("o") != last {
		t.Errorf("cursor %d after Run returned, want %d", box.cursor("o"), last)
	}
}

func TestDispatchLastFlushIsBounded(t *testing.T) {
	box := newOTOutbox(t)
	box.add(otEvents(0, 1)...)
	out := &otOutput{name: "o", script: func(int, []Event) (int, error) { return 0, errors.New("down") }}
	d := NewDispatcher(box, []Output{out}, WithDispatchBackoff(time.Hour, time.Hour),
		WithDispatchFlushTimeout(100*time.Millisecond))
	stop := otRun(t, d)
	otWait(t, 2*time.Second, "the first failure", func() bool { return d.Stats()[0].Failures == 1 })
	start := time.Now()
	stop() // the output is backing off for an hour: Run still returns, after one last attempt
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Run took %s to return", el)
	}
	if _, calls := out.snapshot(); len(calls) != 2 {
		t.Errorf("%d calls, want 2 (one failure, one last attempt)", len(calls))
	}
}

func TestDispatchFailedConfirmRedeliversWithoutDuplicate(t *testing.T) {
	// The file output between a delivery and a failed confirm: the
	// events come again and the file still holds each once.
	box := newOTOutbox(t)
	last := box.add(otEvents(0, 7)...)
	box.failConfirm = 1
	path := t.TempDir() + "/events.jsonl"
	f, err := NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := NewDispatcher(box, []Output{f}, WithDispatchBatch(5))
	if err := d.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "could not confirm") {
		t.Fatalf("Flush: %v", err)
	}
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if box.cursor("file") != last {
		t.Errorf("cursor %d", box.cursor("file"))
	}
	if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 7))) {
		t.Errorf("file holds %v", ids)
	}
	if st := d.Stats()[0]; st.Delivered != 7 || st.Failures != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestDispatchPendingErrorIsAFailure(t *testing.T) {
	box := newOTOutbox(t)
	box.add(otEvents(0, 1)...)
	box.failPending = 1
	out := &otOutput{name: "o"}
	d := NewDispatcher(box, []Output{out}, WithDispatchBackoff(time.Millisecond, time.Millisecond), WithDispatchPoll(time.Hour))
	otRun(t, d)
	otWait(t, 2*time.Second, "delivery", func() bool { return box.cursor("o") == 1 })
	if st := d.Stats()[0]; st.Failures != 1 || !strings.Contains(st.LastError, "read the outbox") {
		t.Errorf("stats: %+v", st)
	}
}

func TestDispatchRefusesSharedCursors(t *testing.T) {
	box := newOTOutbox(t)
	d := NewDispatcher(box, []Output{&otOutput{name: "x"}, &otOutput{name: "x"}})
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `two outputs are named "x"`) {
		t.Errorf("Run: %v", err)
	}
	if err := d.Flush(context.Background()); err == nil {
		t.Error("Flush: no error")
	}
}

func TestDispatchRunsOnce(t *testing.T) {
	d := NewDispatcher(newOTOutbox(t), []Output{&otOutput{name: "o"}})
	otRun(t, d)
	otWait(t, time.Second, "Run to start", func() bool { return d.running.Load() })
	if err := d.Run(context.Background()); err == nil {
		t.Error("a second Run: no error")
	}
}

// otCountingOutbox can count an output's pending events.
type otCountingOutbox struct{ *otOutbox }

func (b otCountingOutbox) PendingCount(output string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries) - int(b.cursors[output]), nil
}

func TestDispatchStatsPending(t *testing.T) {
	fail := func(call int, evs []Event) (int, error) {
		if call == 0 {
			return 1, errors.New("down after one")
		}
		return 0, errors.New("down")
	}
	for name, tc := range map[string]struct {
		box  Outbox
		want int
	}{
		"a full batch, no counter": {newOTOutbox(t), 2}, // at least: 3 read, 1 delivered
		"a full batch, counted":    {otCountingOutbox{newOTOutbox(t)}, 9},
	} {
		t.Run(name, func(t *testing.T) {
			var box *otOutbox
			switch b := tc.box.(type) {
			case *otOutbox:
				box = b
			case otCountingOutbox:
				box = b.otOutbox
			}
			box.add(otEvents(0, 10)...)
			d := NewDispatcher(tc.box, []Output{&otOutput{name: "o", script: fail}}, WithDispatchBatch(3))
			if err := d.Flush(context.Background()); err == nil {
				t.Fatal("Flush: no error")
			}
			st := d.Stats()[0]
			if st.Pending != tc.want || st.Delivered != 1 || st.Cursor != 1 || st.Oldest != otEvent(1).Time || st.Lag <= 0 {
				t.Errorf("stats: %+v", st)
			}
		})
	}
	// Fewer than a batch: exact without a counter.
	box := newOTOutbox(t)
	box.add(otEvents(0, 2)...)
	d := NewDispatcher(box, []Output{&otOutput{name: "o", script: func(int, []Event) (int, error) { return 0, errors.New("down") }}})
	_ = d.Flush(context.Background())
	if st := d.Stats()[0]; st.Pending != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestDispatchRetryDelay(t *testing.T) {
	d := NewDispatcher(newOTOutbox(t), nil, WithDispatchBackoff(time.Second, 5*time.Minute),
		WithDispatchMaxRetryAfter(time.Hour))
	for failing := 1; failing <= 14; failing++ {
		b := min(time.Second<<(failing-1), 5*time.Minute)
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 500 {
			w := d.retryDelay(errors.New("x"), failing)
			lo, hi = min(lo, w), max(hi, w)
		}
		if lo < b/2 || hi > b || hi-lo < b/4 { // within [b/2, b], and spread (jitter)
			t.Errorf("failure %d: waits in [%s, %s], want within [%s, %s] and spread", failing, lo, hi, b/2, b)
		}
	}
	for delay, want := range map[time.Duration]time.Duration{
		0: time.Second, 30 * time.Second: 30 * time.Second, 2 * time.Hour: time.Hour,
	} {
		err := fmt.Errorf("wrapped: %w", &RetryAfterError{Delay: delay, Err: errors.New("busy")})
		if got := d.retryDelay(err, 7); got != want {
			t.Errorf("retry after %s: waits %s, want %s", delay, got, want)
		}
	}
}
