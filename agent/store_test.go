package agent

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/prefail/prefail/model"
)

// withoutSync makes a store for tests of content, not durability: no
// fsync, no wait for a batch to fill.
func withoutSync() StoreOption {
	return func(c *storeConfig) { c.noSync, c.batchDelay = true, 0 }
}

func openTestStore(t testing.TB, dir string, opts ...StoreOption) *Store {
	t.Helper()
	s, err := OpenStore(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var storeT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday, 00:00

func storeEvent(target, id string, at time.Time) Event {
	return Event{Schema: EventSchema, ID: id, Target: target, Time: at, Type: EventTargetUnreachable,
		Severity: model.SeverityWarning, Reason: ReasonNoAnswer, Message: "no answer " + id}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if s.Path() != filepath.Join(dir, StoreFileName) {
		t.Errorf("Path() = %s", s.Path())
	}
	if err := s.SetOutputs([]string{"file"}); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.LoadTarget("bmc1"); rec != nil || err != nil {
		t.Fatalf("LoadTarget of an unknown target = %q, %v", rec, err)
	}
	events := []Event{storeEvent("bmc1", "e1", storeT0), storeEvent("bmc1", "e2", storeT0)}
	r := &Round{Target: "bmc1", Time: storeT0, Record: []byte(`{"round":1}`),
		Samples: []Sample{
			{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 5400},
			{Component: "fan/0", Reading: "speed", Unit: "%", Value: 41.5},
			{Component: "temperature/cpu0", Reading: "reading", Unit: "Cel", Value: -0.25},
			{Component: "voltage/12v", Reading: "reading", Unit: "V", Value: math.NaN()}, // not stored
		},
		Events: events}
	if err := s.Commit(r); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.LoadTarget("bmc1"); err != nil || string(rec) != `{"round":1}` {
		t.Errorf("LoadTarget = %q, %v", rec, err)
	}
	if ts, err := s.Targets(); err != nil || !cmp.Equal(ts, []string{"bmc1"}) {
		t.Errorf("Targets = %v, %v", ts, err)
	}
	if cs, err := s.Components("bmc1"); err != nil || !cmp.Equal(cs, []string{"fan/0", "temperature/cpu0"}) {
		t.Errorf("Components = %v, %v", cs, err)
	}
	got, err := s.History("bmc1", "", time.Time{}, storeT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pt := func(v float64) []Point { return []Point{{Time: storeT0, Value: v, Min: v, Max: v, N: 1}} }
	want := []Series{
		{Component: "fan/0", Reading: "speed", Unit: "%", Points: pt(41.5)},
		{Component: "fan/0", Reading: "speed", Unit: "RPM", Points: pt(5400)},
		{Component: "temperature/cpu0", Reading: "reading", Unit: "Cel", Points: pt(-0.25)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("History (-want +got):\n%s", d)
	}
	pend, err := s.Pending("file", 10)
	if err != nil {
		t.Fatal(err)
	}
	wantPend := []OutboxEntry{{Seq: 1, Event: events[0]}, {Seq: 2, Event: events[1]}}
	if d := cmp.Diff(wantPend, pend); d != "" {
		t.Errorf("Pending (-want +got):\n%s", d)
	}

	// A round without a record keeps the record; one at the same instant
	// merges its readings.
	r2 := &Round{Target: "bmc1", Time: storeT0, Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 5500}}}
	if err := s.Commit(r2); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.LoadTarget("bmc1"); string(rec) != `{"round":1}` {
		t.Errorf("record after a round without one = %q", rec)
	}
	got, _ = s.History("bmc1", "", storeT0, storeT0)
	if len(got) != 3 || got[1].Points[0].Value != 5500 || got[0].Points[0].Value != 41.5 {
		t.Errorf("after a second round at the same time: %+v", got)
	}
	if size, err := s.Size(); err != nil || size <= 0 {
		t.Errorf("Size = %d, %v", size, err)
	}
}

func TestStoreCommitInvalid(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "x.db"), withoutSync())
	for _, r := range []*Round{
		nil,
		{Time: storeT0},
		{Target: "t", Samples: []Sample{{Component: "fan/0", Reading: "speed", Value: 1}}}, // no time
		{Target: "t", Time: storeT0, Samples: []Sample{{Component: "", Reading: "speed", Value: 1}}},
		{Target: "t", Time: storeT0, Samples: []Sample{{Component: "fan/0", Reading: strings.Repeat("x", 5000), Value: 1}}},
	} {
		if err := s.Commit(r); err == nil || !strings.Contains(err.Error(), s.Path()) {
			t.Errorf("Commit(%+v) = %v, want an error naming the store", r, err)
		}
	}
}

// A round that fails part way leaves nothing of itself: the event that
// cannot be encoded comes after the record and samples were written in
// the transaction.
func TestStoreCommitAtomic(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	if err := s.SetOutputs([]string{"o"}); err != nil {
		t.Fatal(err)
	}
	good := &Round{Target: "t", Time: storeT0, Record: []byte("1"),
		Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 1}},
		Events:  []Event{storeEvent("t", "a", storeT0)}}
	if err := s.Commit(good); err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	bad := storeEvent("t", "b", storeT0)
	bad.Risk = &nan // json cannot encode NaN
	err := s.Commit(&Round{Target: "t", Time: storeT0.Add(time.Minute), Record: []byte("2"),
		Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 2}, {Component: "fan/1", Reading: "speed", Unit: "RPM", Value: 2}},
		Events:  []Event{storeEvent("t", "b0", storeT0), bad}})
	if err == nil || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("Commit of an event json cannot encode = %v", err)
	}
	if rec, _ := s.LoadTarget("t"); string(rec) != "1" {
		t.Errorf("record = %q, want the first round's", rec)
	}
	if cs, _ := s.Components("t"); !cmp.Equal(cs, []string{"fan/0"}) {
		t.Errorf("components = %v: the failed round's column stayed", cs)
	}
	h, _ := s.History("t", "fan/0", time.Time{}, storeT0.Add(time.Hour))
	if len(h) != 1 || len(h[0].Points) != 1 {
		t.Errorf("history = %+v, want the first round's point only", h)
	}
	if n, _ := s.OutboxLen(); n != 1 {
		t.Errorf("outbox length %d, want 1", n)
	}
	// The next round's event gets the next seq: none was used up.
	if err := s.Commit(&Round{Target: "t", Time: storeT0.Add(2 * time.Minute), Events: []Event{storeEvent("t", "c", storeT0)}}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Pending("o", 10)
	if len(p) != 2 || p[1].Seq != 2 || p[1].Event.ID != "c" {
		t.Errorf("pending = %+v", p)
	}
}

func storeCommitEvents(t testing.TB, s *Store, ids ...string) {
	t.Helper()
	r := &Round{Target: "t", Time: storeT0}
	for _, id := range ids {
		r.Events = append(r.Events, storeEvent("t", id, storeT0))
	}
	if err := s.Commit(r); err != nil {
		t.Fatal(err)
	}
}

func pendingSeqs(t testing.TB, s *Store, output string, max int) []uint64 {
	t.Helper()
	p, err := s.Pending(output, max)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for i, e := range p {
		out = append(out, e.Seq)
		if e.Event.ID != fmt.Sprint(e.Seq) {
			t.Errorf("entry %d: seq %d holds event %q", i, e.Seq, e.Event.ID)
		}
	}
	return out
}

func seqRangeIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	return ids
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func storeOutboxLen(t testing.TB, s *Store) int {
	t.Helper()
	n, err := s.OutboxLen()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStoreOutboxTwoOutputs(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	if err := s.SetOutputs([]string{"fast", "slow"}); err != nil {
		t.Fatal(err)
	}
	storeCommitEvents(t, s, seqRangeIDs(1, 10)...)
	if got := pendingSeqs(t, s, "fast", 100); !cmp.Equal(got, seqRange(1, 10)) {
		t.Fatalf("fast pending %v", got)
	}
	if err := s.Confirm("fast", 10); err != nil {
		t.Fatal(err)
	}
	if n := storeOutboxLen(t, s); n != 10 {
		t.Errorf("outbox %d after one of two outputs confirmed, want 10", n)
	}
	if got := pendingSeqs(t, s, "fast", 100); len(got) != 0 {
		t.Errorf("fast pending %v after confirming all", got)
	}
	if got := pendingSeqs(t, s, "slow", 3); !cmp.Equal(got, seqRange(1, 3)) {
		t.Errorf("slow pending %v", got)
	}
	if err := s.Confirm("slow", 3); err != nil {
		t.Fatal(err)
	}
	if n := storeOutboxLen(t, s); n != 7 {
		t.Errorf("outbox %d, want 7", n)
	}
	// Moving a cursor back does nothing; past the last seq is an error,
	// as is an output that is not named.
	if err := s.Confirm("slow", 2); err != nil {
		t.Error(err)
	}
	if err := s.Confirm("slow", 11); err == nil {
		t.Error("Confirm past the last seq succeeded")
	}
	if err := s.Confirm("nats", 1); err == nil || !strings.Contains(err.Error(), "nats") {
		t.Errorf("Confirm of an unknown output = %v", err)
	}
	if _, err := s.Pending("nats", 1); err == nil {
		t.Error("Pending of an unknown output succeeded")
	}
	if got := pendingSeqs(t, s, "slow", 100); !cmp.Equal(got, seqRange(4, 10)) {
		t.Errorf("slow pending %v", got)
	}
	storeCommitEvents(t, s, seqRangeIDs(11, 12)...)
	if err := s.Confirm("slow", 12); err != nil {
		t.Fatal(err)
	}
	if n := storeOutboxLen(t, s); n != 2 {
		t.Errorf("outbox %d, want 2 (11, 12 wait for fast)", n)
	}
	if err := s.Confirm("fast", 12); err != nil {
		t.Fatal(err)
	}
	if n := storeOutboxLen(t, s); n != 0 {
		t.Errorf("outbox %d after both confirmed all", n)
	}
	// Seqs go on after everything was deleted.
	storeCommitEvents(t, s, "13")
	if got := pendingSeqs(t, s, "slow", 100); !cmp.Equal(got, []uint64{13}) {
		t.Errorf("slow pending %v", got)
	}
}

func TestStoreSetOutputs(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	// Nobody to deliver to: events are not kept.
	storeCommitEvents(t, s, "x")
	if n := storeOutboxLen(t, s); n != 0 {
		t.Errorf("outbox %d without outputs", n)
	}
	if err := s.SetOutputs([]string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	storeCommitEvents(t, s, seqRangeIDs(1, 5)...)
	if err := s.Confirm("a", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm("b", 2); err != nil {
		t.Fatal(err)
	}
	// b removed: it no longer holds 3..5 back.
	if err := s.SetOutputs([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	if n := storeOutboxLen(t, s); n != 0 {
		t.Errorf("outbox %d after removing the output holding it", n)
	}
	storeCommitEvents(t, s, seqRangeIDs(6, 8)...)
	// c is new: it gets everything still in the outbox; a keeps its cursor.
	if err := s.SetOutputs([]string{"a", "c", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, s, "c", 100); !cmp.Equal(got, seqRange(6, 8)) {
		t.Errorf("new output's pending %v, want 6..8", got)
	}
	if err := s.Confirm("a", 8); err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, s, "a", 100); len(got) != 0 {
		t.Errorf("a pending %v", got)
	}
	// b again: new again, it gets what is still there (6..8, which c holds).
	if err := s.SetOutputs([]string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, s, "b", 100); !cmp.Equal(got, seqRange(6, 8)) {
		t.Errorf("re-added output's pending %v, want 6..8", got)
	}
	for _, bad := range [][]string{{""}, {strings.Repeat("n", 300)}} {
		if err := s.SetOutputs(bad); err == nil {
			t.Errorf("SetOutputs(%q) succeeded", bad)
		}
	}
	if _, err := s.Pending("a", 0); err == nil {
		t.Error("Pending with max 0 succeeded")
	}
}

func TestStoreMaxOutbox(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, WithMaxOutbox(5), withoutSync())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetOutputs([]string{"o", "p"}); err != nil {
		t.Fatal(err)
	}
	storeCommitEvents(t, s, seqRangeIDs(1, 4)...)
	if err := s.Confirm("o", 2); err != nil {
		t.Fatal(err)
	}
	storeCommitEvents(t, s, seqRangeIDs(5, 8)...)
	if n, d := storeOutboxLen(t, s), s.DroppedEvents(); n != 5 || d != 3 {
		t.Errorf("outbox %d, dropped %d; want 5, 3", n, d)
	}
	if got := pendingSeqs(t, s, "o", 100); !cmp.Equal(got, seqRange(4, 8)) {
		t.Errorf("pending %v, want the newest 4..8", got)
	}
	// A round with more events than the bound keeps its newest.
	storeCommitEvents(t, s, seqRangeIDs(9, 20)...)
	if got := pendingSeqs(t, s, "p", 100); !cmp.Equal(got, seqRange(16, 20)) {
		t.Errorf("pending %v, want 16..20", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir) // the default bound now
	if d := s.DroppedEvents(); d != 15 {
		t.Errorf("dropped %d after reopening, want 15", d)
	}
	if got := pendingSeqs(t, s, "o", 100); !cmp.Equal(got, seqRange(16, 20)) {
		t.Errorf("pending %v after reopening", got)
	}
}

func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetOutputs([]string{"o", "p"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		at := storeT0.Add(time.Duration(i) * time.Minute)
		err := s.Commit(&Round{Target: "t" + strconv.Itoa(i%2), Time: at, Record: []byte(strconv.Itoa(i)),
			Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: float64(1000 + i)}},
			Events:  []Event{storeEvent("t", fmt.Sprint(i+1), at)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm("o", 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Targets(); err == nil {
		t.Error("Targets after Close succeeded")
	}

	s = openTestStore(t, dir)
	if ts, _ := s.Targets(); !cmp.Equal(ts, []string{"t0", "t1"}) {
		t.Errorf("targets %v", ts)
	}
	if rec, _ := s.LoadTarget("t0"); string(rec) != "2" {
		t.Errorf("t0 record %q", rec)
	}
	h, _ := s.History("t0", "0", time.Time{}, storeT0.Add(time.Hour))
	if len(h) != 1 || len(h[0].Points) != 2 || h[0].Points[1].Value != 1002 {
		t.Errorf("t0 history %+v", h)
	}
	if got := pendingSeqs(t, s, "o", 10); !cmp.Equal(got, []uint64{3}) {
		t.Errorf("o pending %v", got)
	}
	if got := pendingSeqs(t, s, "p", 10); !cmp.Equal(got, seqRange(1, 3)) {
		t.Errorf("p pending %v", got)
	}
}

func TestStoreDeleteTarget(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	for _, target := range []string{"a", "b"} {
		err := s.Commit(&Round{Target: target, Time: storeT0, Record: []byte("r"),
			Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 1}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteTarget("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTarget("never"); err != nil {
		t.Errorf("DeleteTarget of an unknown target: %v", err)
	}
	if ts, _ := s.Targets(); !cmp.Equal(ts, []string{"b"}) {
		t.Errorf("targets %v", ts)
	}
	if h, err := s.History("a", "", time.Time{}, storeT0.Add(time.Hour)); len(h) != 0 || err != nil {
		t.Errorf("deleted target's history %+v, %v", h, err)
	}
	if rec, _ := s.LoadTarget("a"); rec != nil {
		t.Errorf("deleted target's record %q", rec)
	}
	// A target with readings but no record is not listed, and goes once
	// its readings have aged out.
	if err := s.Commit(&Round{Target: "c", Time: storeT0, Samples: []Sample{{Component: "fan/0", Reading: "speed", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if ts, _ := s.Targets(); !cmp.Equal(ts, []string{"b"}) {
		t.Errorf("targets %v", ts)
	}
	if err := s.Compact(storeT0.Add(500 * 24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Components("c"); len(cs) != 0 {
		t.Errorf("aged-out target's components %v", cs)
	}
	if cs, _ := s.Components("b"); len(cs) != 0 {
		t.Errorf("b's aged-out components %v", cs)
	}
	if ts, _ := s.Targets(); !cmp.Equal(ts, []string{"b"}) {
		t.Errorf("targets %v after compaction (b has a record)", ts)
	}
	err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketTargets)).Bucket([]byte("c")) != nil {
			t.Error("aged-out target without a record still has a bucket")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStoreHistoryComponentMatch(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	err := s.Commit(&Round{Target: "t", Time: storeT0, Samples: []Sample{
		{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 1},
		{Component: "psu/0", Reading: "input", Unit: "W", Value: 2},
		{Component: "fan/Fan 2", Reading: "speed", Unit: "RPM", Value: 3},
		{Component: "drive/Bay/1", Reading: "temperature", Unit: "Cel", Value: 4},
	}})
	if err != nil {
		t.Fatal(err)
	}
	end := storeT0.Add(time.Hour)
	for q, want := range map[string]string{"fan/0": "fan/0", "Fan 2": "fan/Fan 2", "fan/Fan 2": "fan/Fan 2", "Bay/1": "drive/Bay/1"} {
		h, err := s.History("t", q, time.Time{}, end)
		if err != nil || len(h) != 1 || h[0].Component != want {
			t.Errorf("History(%q) = %+v, %v; want %s", q, h, err, want)
		}
	}
	if _, err := s.History("t", "0", time.Time{}, end); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("History of an id two components have = %v", err)
	}
	for _, q := range []string{"fan/9", "Fan", "2"} {
		if h, err := s.History("t", q, time.Time{}, end); len(h) != 0 || err != nil {
			t.Errorf("History(%q) = %+v, %v; want nothing", q, h, err)
		}
	}
	if h, _ := s.History("t", "", end, storeT0); len(h) != 0 {
		t.Errorf("History with from after to = %+v", h)
	}
}

// simReading is the value of series i at t in the simulations: whole
// numbers with noise (a fan, a temperature), some with decimals (a
// voltage), drifting slowly.
func storeSimReading(rng *rand.Rand, i int, t time.Time) float64 {
	hours := float64(t.Unix()%(30*86400)) / 3600
	switch i % 10 {
	case 0, 1, 2, 3: // temperatures, whole degrees
		return float64(35 + i%7 + int(hours/100) + rng.IntN(2))
	case 4, 5, 6: // fans, RPM
		return float64(5000 + 100*(i%5) + rng.IntN(120) - 60)
	case 7, 8: // voltages, 3 decimals
		return math.Round((12+float64(i%3)*0.1+rng.Float64()*0.06-0.03)*1000) / 1000
	default: // power, whole watts
		return float64(180 + rng.IntN(40))
	}
}

// TestStoreHistoryTiers commits readings for 10 days (every 15 minutes,
// then every 100 s for the last 3 days) with short retention and
// compaction every hour, and checks History against the means, minimums
// and maximums computed here from the readings.
func TestStoreHistoryTiers(t *testing.T) {
	ret := Retention{Raw: 3 * time.Hour, Minute5: 2 * 24 * time.Hour, Hourly: 5 * 24 * time.Hour}
	s := openTestStore(t, t.TempDir(), withoutSync(), WithRetention(ret))
	const series = 3
	type reading struct {
		t time.Time
		v [series]float64
	}
	var all []reading
	rng := rand.New(rand.NewPCG(1, 2))
	start := storeT0.Add(-3 * 24 * time.Hour).Add(17 * time.Second) // a Friday, off the grid
	end := start.Add(10 * 24 * time.Hour)
	nextCompact := start.Add(time.Hour)
	for at := start; at.Before(end); {
		var rd reading
		rd.t = at
		r := &Round{Target: "t", Time: at}
		for i := range series {
			rd.v[i] = storeSimReading(rng, i*4, at)
			r.Samples = append(r.Samples, Sample{Component: fmt.Sprintf("fan/%d", i), Reading: "speed", Unit: "RPM", Value: rd.v[i]})
		}
		all = append(all, rd)
		if err := s.Commit(r); err != nil {
			t.Fatal(err)
		}
		if !at.Before(nextCompact) {
			if err := s.Compact(at); err != nil {
				t.Fatal(err)
			}
			nextCompact = nextCompact.Add(time.Hour)
		}
		// Sparser where only hourly points will be left (it keeps the
		// test short under -race).
		if at.Before(end.Add(-3 * 24 * time.Hour)) {
			at = at.Add(900 * time.Second)
		} else {
			at = at.Add(100 * time.Second)
		}
	}
	now := all[len(all)-1].t
	if err := s.Compact(now); err != nil {
		t.Fatal(err)
	}

	// Where each tier begins, by the rules in Compact's comment.
	rawFrom := now.Add(-ret.Raw).Truncate(6 * time.Hour)
	m5From := now.Add(-ret.Minute5).Truncate(24 * time.Hour)
	h1From := now.Add(-ret.Hourly).Truncate(24 * time.Hour)
	expect := func(i int) []Point {
		var out []Point
		for _, rd := range all {
			var b time.Time
			switch {
			case !rd.t.Before(rawFrom):
				out = append(out, Point{Time: rd.t, Value: rd.v[i], Min: rd.v[i], Max: rd.v[i], N: 1})
				continue
			case !rd.t.Before(m5From):
				b = rd.t.Truncate(5 * time.Minute)
			case !rd.t.Before(h1From):
				b = rd.t.Truncate(time.Hour)
			default:
				continue
			}
			v := rd.v[i]
			if n := len(out); n > 0 && out[n-1].Time.Equal(b) {
				p := &out[n-1]
				p.Value += v // a sum until the end
				p.Min, p.Max, p.N = min(p.Min, v), max(p.Max, v), p.N+1
			} else {
				out = append(out, Point{Time: b, Value: v, Min: v, Max: v, N: 1})
			}
		}
		for j := range out {
			if out[j].Time.Before(rawFrom) {
				out[j].Value /= float64(out[j].N)
			}
		}
		return out
	}
	got, err := s.History("t", "", time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != series {
		t.Fatalf("%d series, want %d", len(got), series)
	}
	approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })
	tiers := map[int]int{}
	for i, sr := range got {
		want := expect(i)
		if d := cmp.Diff(want, sr.Points, approx); d != "" {
			t.Errorf("series %s (-want +got):\n%s", sr.Component, d)
		}
		for _, p := range sr.Points {
			tiers[p.N]++
		}
	}
	if tiers[1] == 0 || tiers[3] == 0 || tiers[4] == 0 {
		t.Errorf("points by readings per point %v: some tier is missing", tiers)
	}

	// A window in the middle of each tier, and one across all three.
	h1Mid := h1From.Add(30 * time.Hour).Add(20 * time.Minute)
	for _, w := range [][2]time.Time{
		{h1Mid, h1Mid.Add(3 * time.Hour)},
		{m5From.Add(10*time.Hour + 2*time.Minute), m5From.Add(11 * time.Hour)},
		{now.Add(-time.Hour), now},
		{h1Mid, now},
	} {
		h, err := s.History("t", "fan/1", w[0], w[1])
		if err != nil {
			t.Fatal(err)
		}
		var want []Point
		for _, p := range expect(1) {
			width := time.Duration(0)
			switch {
			case p.N > 1 && p.Time.Before(m5From):
				width = time.Hour - 1
			case p.N > 1 || p.Time.Before(rawFrom):
				width = 5*time.Minute - 1
			}
			if !p.Time.Add(width).Before(w[0]) && !p.Time.After(w[1]) {
				want = append(want, p)
			}
		}
		if len(h) != 1 {
			t.Fatalf("window %v: %d series", w, len(h))
		}
		if d := cmp.Diff(want, h[0].Points, approx); d != "" {
			t.Errorf("window %v (-want +got):\n%s", w, d)
		}
	}

	// A late reading for a 5-minute bucket already rolled is dropped,
	// not stored twice.
	late := rawFrom.Add(-time.Hour)
	if err := s.Commit(&Round{Target: "t", Time: late, Samples: []Sample{{Component: "fan/0", Reading: "speed", Unit: "RPM", Value: 1e6}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(now); err != nil {
		t.Fatal(err)
	}
	h, _ := s.History("t", "fan/0", late.Add(-10*time.Minute), late.Add(10*time.Minute))
	for _, p := range h[0].Points {
		if p.Max == 1e6 {
			t.Errorf("late reading kept: %+v", p)
		}
	}
}

// TestStoreHistory5000Components: a target with 5000 series, readings in
// every tier, answers for one component (by id alone) with its points.
func TestStoreHistory5000Components(t *testing.T) {
	const comps = 5000
	s := openTestStore(t, t.TempDir(), withoutSync())
	now := storeT0.Add(30 * 24 * time.Hour)
	var times []time.Time
	for d := 29; d >= 3; d -= 4 { // hourly tier: days 29..17, 5-minute: days 13..3
		times = append(times, now.Add(-time.Duration(d)*24*time.Hour))
	}
	for m := 60; m >= 0; m -= 20 { // raw
		times = append(times, now.Add(-time.Duration(m)*time.Minute))
	}
	val := func(c, j int) float64 { return float64(c*10 + j) }
	for j, at := range times {
		r := &Round{Target: "jbod", Time: at, Record: []byte("{}"), Samples: make([]Sample, comps)}
		for c := range comps {
			r.Samples[c] = Sample{Component: fmt.Sprintf("drive/%d", c), Reading: "temperature", Unit: "Cel", Value: val(c, j)}
		}
		if err := s.Commit(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(now); err != nil {
		t.Fatal(err)
	}
	const c = 4321
	h, err := s.History("jbod", strconv.Itoa(c), now.Add(-31*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Component != "drive/4321" {
		t.Fatalf("history %+v", h)
	}
	var want []Point
	for j, at := range times {
		v := val(c, j)
		switch age := now.Sub(at); {
		case age > 15*24*time.Hour:
			at = at.Truncate(time.Hour)
		case age > 2*24*time.Hour:
			at = at.Truncate(5 * time.Minute)
		}
		want = append(want, Point{Time: at, Value: v, Min: v, Max: v, N: 1})
	}
	if d := cmp.Diff(want, h[0].Points); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	all, err := s.History("jbod", "", now.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != comps || len(all[0].Points) != 4 {
		t.Errorf("all components: %d series", len(all))
	}
}

// TestStoreReusesPages: the pages a deleted target's readings held are
// reused, so a store whose data stays the same size stays the same size.
func TestStoreReusesPages(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	fill := func(target string) {
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range 288 { // 2 days every 10 minutes
			at := storeT0.Add(time.Duration(i) * 10 * time.Minute)
			r := &Round{Target: target, Time: at, Record: make([]byte, 2000)}
			for c := range 50 {
				r.Samples = append(r.Samples, Sample{Component: fmt.Sprintf("temperature/%d", c), Reading: "reading", Unit: "Cel", Value: storeSimReading(rng, c, at)})
			}
			if err := s.Commit(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("a")
	first, _ := s.Size()
	for _, target := range []string{"b", "c", "d"} {
		if err := s.DeleteTarget(string(rune(target[0] - 1))); err != nil {
			t.Fatal(err)
		}
		fill(target)
	}
	if last, _ := s.Size(); last > first+first/10 {
		t.Errorf("store grew from %d to %d bytes while holding the same data", first, last)
	}
}

func TestStoreLocked(t *testing.T) {
	t.Parallel() // it waits 2 s
	dir := t.TempDir()
	openTestStore(t, dir)
	start := time.Now()
	s2, err := OpenStore(dir)
	if err == nil {
		_ = s2.Close()
		t.Fatal("a second OpenStore of an open store succeeded")
	}
	if !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), filepath.Join(dir, StoreFileName)) {
		t.Errorf("error %q: want the path and that it is in use", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestStoreCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for name, data := range map[string][]byte{
		"random 64k": random(64 << 10),
		"random 100": random(100),
		"text":       []byte("not a database\n"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, StoreFileName)
			if err := os.WriteFile(file, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenStore(dir)
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenStore of a corrupt file succeeded")
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name %s", err, file)
			}
		})
	}
	t.Run("other bbolt file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(file, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("keys")); return err })
		_ = db.Close()
		if s, err := OpenStore(file); err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "not a prefail store") {
			if s != nil {
				_ = s.Close()
			}
			t.Errorf("OpenStore of another bbolt file = %v", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f")
		_ = os.WriteFile(file, nil, 0o600)
		if _, err := OpenStore(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("OpenStore of a file not named .db = %v", err)
		}
	})
}

// TestStoreDamagedPages: a store whose data pages were overwritten (the
// meta pages intact, so bbolt opens it) gives errors naming it, never a
// panic or a fault that would take the agent down.
func TestStoreDamagedPages(t *testing.T) {
	for seed := range 10 {
		dir := t.TempDir()
		s, err := OpenStore(dir, withoutSync())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetOutputs([]string{"o"}); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		for i := range 300 {
			at := storeT0.Add(time.Duration(i) * time.Minute)
			r := &Round{Target: fmt.Sprint("t", i%3), Time: at, Record: make([]byte, 500), Events: []Event{storeEvent("t", "x", at)}}
			for c := range 30 {
				r.Samples = append(r.Samples, Sample{Component: fmt.Sprintf("fan/%d", c), Reading: "speed", Value: storeSimReading(rng, c, at)})
			}
			if err := s.Commit(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Compact(storeT0.Add(3 * 24 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		pages := fi.Size() / 4096
		for range 3 {
			b := make([]byte, 4096)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			pg := 2 + rng.Int64N(pages-2) // not the meta pages
			if rng.IntN(2) == 0 {
				_, _ = f.WriteAt(b[:64], pg*4096+16+rng.Int64N(4000)) // the page header intact
			} else {
				_, _ = f.WriteAt(b, pg*4096)
			}
		}
		_ = f.Close()

		path := s.Path()
		check := func(err error) {
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("seed %d: error %q does not name the store", seed, err)
			}
		}
		s, err = OpenStore(dir, withoutSync())
		if check(err); err != nil {
			continue
		}
		_, err = s.Targets()
		check(err)
		for i := range 3 {
			_, err = s.History(fmt.Sprint("t", i), "", time.Time{}, storeT0.Add(99*24*time.Hour))
			check(err)
			_, err = s.LoadTarget(fmt.Sprint("t", i))
			check(err)
		}
		_, err = s.Pending("o", 1000)
		check(err)
		check(s.Commit(&Round{Target: "t1", Time: storeT0.Add(100 * time.Hour), Samples: []Sample{{Component: "fan/1", Reading: "speed", Value: 1}}}))
		check(s.Compact(storeT0.Add(10 * 24 * time.Hour)))
		_ = s.Close()
	}
}

func TestStoreDirectoryMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "store")
	openTestStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("store directory mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(dir, StoreFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file: %v, %v", fi, err)
	}
}

// The crash test: a child process commits rounds (and compacts and
// confirms) in a loop; it is killed with SIGKILL at random moments and
// the store must open cleanly with every round all there or not at all.

const (
	crashEnv      = "PREFAIL_STORE_CRASH_DIR"
	crashSeries   = 4
	crashEvents   = 2
	crashInterval = 10 * time.Minute
)

func crashRetention() StoreOption {
	return WithRetention(Retention{Raw: time.Hour, Minute5: 24 * time.Hour, Hourly: 10000 * time.Hour})
}

type crashRecord struct {
	Round int `json:"round"`
}

func TestHelperStoreWriter(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("the crash test's child process")
	}
	s, err := OpenStore(dir, crashRetention())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	if err := s.SetOutputs([]string{"o"}); err != nil {
		fail(err)
	}
	var rec crashRecord
	if b, err := s.LoadTarget("t"); err != nil {
		fail(err)
	} else if b != nil {
		if err := json.Unmarshal(b, &rec); err != nil {
			fail(err)
		}
	}
	for n := rec.Round + 1; ; n++ {
		at := storeT0.Add(time.Duration(n) * crashInterval)
		b, _ := json.Marshal(crashRecord{Round: n})
		r := &Round{Target: "t", Time: at, Record: b}
		for i := range crashSeries {
			r.Samples = append(r.Samples, Sample{Component: fmt.Sprintf("fan/%d", i), Reading: "speed", Unit: "RPM", Value: float64(n * (i + 1))})
		}
		for e := range crashEvents {
			r.Events = append(r.Events, storeEvent("t", fmt.Sprintf("%d-%d", n, e), at))
		}
		if err := s.Commit(r); err != nil {
			fail(err)
		}
		if n%7 == 0 {
			if err := s.Compact(at); err != nil {
				fail(err)
			}
		}
		if n%5 == 0 {
			if err := s.Confirm("o", uint64((n-2)*crashEvents)); err != nil {
				fail(err)
			}
		}
	}
}

func TestStoreCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	t.Parallel() // it mostly waits
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	maxRound := 0
	for kill := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStoreWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(300)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL
		err := cmd.Wait()
		if cmd.ProcessState.ExitCode() != -1 {
			t.Fatalf("kill %d: the writer ended by itself (%v): %s", kill, err, stderr.String())
		}
		n := checkCrashStore(t, dir)
		if n < maxRound {
			t.Fatalf("kill %d: round %d after round %d was committed", kill, n, maxRound)
		}
		maxRound = n
	}
	if maxRound < 20 {
		t.Errorf("only %d rounds committed in 20 runs", maxRound)
	}
	t.Logf("%d rounds committed across 20 kills", maxRound)
}

// checkCrashStore opens the store a killed writer left and checks it
// holds exactly the rounds its record says; it returns that number.
func checkCrashStore(t *testing.T, dir string) int {
	t.Helper()
	s, err := OpenStore(dir, crashRetention())
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer s.Close()
	err = s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rec crashRecord
	if b, err := s.LoadTarget("t"); err != nil {
		t.Fatal(err)
	} else if b != nil {
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
	}
	n := rec.Round

	// The outbox: seqs (head, last] all there, last = every round's events.
	var head, last uint64
	var got []OutboxEntry
	err = s.view(func(tx *bolt.Tx) error {
		head, last = getUint64(tx.Bucket([]byte(bucketMeta)), metaHead), tx.Bucket([]byte(bucketOutbox)).Sequence()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		if got, err = s.Pending("o", 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if last != uint64(n*crashEvents) {
		t.Fatalf("record says %d rounds, the outbox's last seq is %d", n, last)
	}
	if len(got) != int(last-head) {
		t.Fatalf("outbox (%d, %d] holds %d events", head, last, len(got))
	}
	for i, e := range got {
		seq := head + 1 + uint64(i)
		want := fmt.Sprintf("%d-%d", (seq-1)/crashEvents+1, (seq-1)%crashEvents)
		if e.Seq != seq || e.Event.ID != want {
			t.Fatalf("outbox entry %d: seq %d event %s, want seq %d event %s", i, e.Seq, e.Event.ID, seq, want)
		}
	}

	// The readings: every round's, once, across the tiers.
	h, err := s.History("t", "", time.Time{}, storeT0.Add(time.Duration(n+1)*crashInterval))
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 && len(h) != crashSeries {
		t.Fatalf("%d series after %d rounds", len(h), n)
	}
	for i, sr := range h {
		count, sum := 0, 0.0
		for _, p := range sr.Points {
			count += p.N
			sum += p.Value * float64(p.N)
		}
		wantSum := float64((i + 1) * n * (n + 1) / 2)
		if count != n || math.Abs(sum-wantSum) > 1e-6*wantSum {
			t.Fatalf("series %s: %d readings summing to %g after %d rounds, want %g", sr.Component, count, sum, n, wantSum)
		}
	}
	return n
}
