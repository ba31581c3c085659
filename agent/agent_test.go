package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefail/prefail/agent/eventschema"
	"github.com/prefail/prefail/model"
)

// scriptedBMC is a fake target: each scan returns the next step of its
// script (a PSU's health, or an error), three simulated hours apart.
type scriptedBMC struct {
	mu      sync.Mutex
	steps   []string // "ok", "critical", "down"
	i       int
	start   time.Time
	opened  atomic.Int32
	closed  atomic.Int32
	scanned atomic.Int32
}

func (b *scriptedBMC) factory(t *Target, _ ReaderEnv) (Reader, error) {
	b.opened.Add(1)
	return &scriptedReader{b: b, target: t.Endpoint}, nil
}

type scriptedReader struct {
	b      *scriptedBMC
	target string
}

func (r *scriptedReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.scanned.Add(1)
	step := b.steps[min(b.i, len(b.steps)-1)]
	at := b.start.Add(time.Duration(b.i) * 3 * time.Hour)
	b.i++
	if step == "down" {
		return nil, errors.New("dial tcp: connection refused")
	}
	health := model.HealthOK
	if step == "critical" {
		health = model.HealthCritical
	}
	speed := 4200.0
	return &model.Snapshot{Target: r.target, Time: at, Requests: 7, Components: []model.Component{
		{Kind: model.KindPSU, ID: "/redfish/v1/Chassis/1/Power#/PowerSupplies/0", Name: "PSU 1", Health: health},
		{Kind: model.KindFan, ID: "/redfish/v1/Chassis/1/Thermal#/Fans/0", Name: "Fan 1", Health: model.HealthOK,
			Readings: []model.Reading{{Name: "speed", Value: &speed, Unit: "RPM"}}},
	}}, nil
}

func (r *scriptedReader) Close(context.Context) error { r.b.closed.Add(1); return nil }

// runAgent runs rounds of an agent over the store and event file.
func runRounds(t *testing.T, b *scriptedBMC, storePath, events string, rounds int) {
	t.Helper()
	store, err := OpenStore(storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out, err := NewFileOutput(events)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	a, err := New([]*Target{{Endpoint: "https://bmc1"}}, WithStore(store), WithOutputs(out), WithReaders(b.factory),
		WithInterval(time.Millisecond), WithRounds(rounds))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Ready() != nil {
		t.Errorf("not ready after %d rounds: %v", rounds, a.Ready())
	}
}

func readEvents(t *testing.T, path string) []Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	eventschema.CheckLines(t, b)
	var out []Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// One episode across restarts: raised once (not again after a restart
// from the store), cleared with the same episode's id family, the reader
// kept for a whole run and closed at its end.
func TestAgentEpisodeAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	storePath, events := filepath.Join(dir, "store"), filepath.Join(dir, "events.jsonl")
	b := &scriptedBMC{start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		steps: []string{"ok", "critical", "critical", "critical", "critical", "critical", "critical", "ok"}}
	runRounds(t, b, storePath, events, 3)
	evs := readEvents(t, events)
	if len(evs) != 1 || evs[0].Type != EventRaised || evs[0].Component == nil || evs[0].Component.Kind != model.KindPSU || evs[0].Severity != model.SeverityCritical {
		t.Fatalf("after 3 rounds: %+v, want one critical raised for the PSU", evs)
	}
	if b.opened.Load() != 1 || b.closed.Load() != 1 || b.scanned.Load() != 3 {
		t.Errorf("reader opened %d, closed %d, scans %d; want 1, 1, 3", b.opened.Load(), b.closed.Load(), b.scanned.Load())
	}
	runRounds(t, b, storePath, events, 4) // still critical: nothing new
	if evs := readEvents(t, events); len(evs) != 1 {
		t.Fatalf("after a restart, still critical: %d events, want 1: %+v", len(evs), evs)
	}
	b.mu.Lock()
	b.steps = append(b.steps, "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok")
	b.mu.Unlock()
	runRounds(t, b, storePath, events, 12)
	evs = readEvents(t, events)
	if len(evs) != 2 || evs[1].Type != EventCleared {
		t.Fatalf("after recovery: %+v, want raised then cleared", evs)
	}
	if evs[0].ID == evs[1].ID {
		t.Error("raised and cleared share an id")
	}
	// A second story on a fresh store produces the same ids: they are
	// stable, not random.
	b2 := &scriptedBMC{start: b.start.Add(time.Hour), steps: b.steps}
	dir2 := t.TempDir()
	runRounds(t, b2, filepath.Join(dir2, "store"), filepath.Join(dir2, "events.jsonl"), 8+len(b.steps))
	evs2 := readEvents(t, filepath.Join(dir2, "events.jsonl"))
	if len(evs2) != 2 || evs2[0].ID != evs[0].ID || evs2[1].ID != evs[1].ID {
		t.Errorf("the same story on another store: ids %v, want those of the first run", evs2)
	}
}

// A target that stops answering raises target_unreachable once, and
// target_back when it answers again with all its parts.
func TestAgentTargetUnreachableAndBack(t *testing.T) {
	dir := t.TempDir()
	b := &scriptedBMC{start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), steps: []string{"ok", "down", "down", "down", "ok"}}
	runRounds(t, b, filepath.Join(dir, "store"), filepath.Join(dir, "events.jsonl"), 5)
	evs := readEvents(t, filepath.Join(dir, "events.jsonl"))
	if len(evs) != 2 || evs[0].Type != EventTargetUnreachable || evs[0].Reason != ReasonNoAnswer || evs[1].Type != EventTargetBack {
		t.Fatalf("events %+v, want target_unreachable (no_answer) then target_back", evs)
	}
}

// A reload keeps a target's reader when its settings are the same, builds
// a new one when they changed, and closes the reader of a removed target.
func TestAgentSetTargets(t *testing.T) {
	b := &scriptedBMC{start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), steps: []string{"ok"}}
	var buf bytes.Buffer
	a, err := New([]*Target{{Endpoint: "https://bmc1"}}, WithReaders(b.factory), WithOutputs(NewStreamOutput("stdout", &buf)), WithInterval(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	round := func() {
		t.Helper()
		if err := a.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if err := a.SetTargets([]*Target{{Endpoint: "https://bmc1"}, {Endpoint: "https://bmc2"}}); err != nil {
		t.Fatal(err)
	}
	round()
	if n := b.opened.Load(); n != 2 {
		t.Errorf("%d readers opened after adding bmc2, want 2 (bmc1's kept)", n)
	}
	if err := a.SetTargets([]*Target{{Endpoint: "https://bmc1", Username: "other"}}); err != nil {
		t.Fatal(err)
	}
	round()
	deadline := time.Now().Add(2 * time.Second)
	for b.closed.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if o, c := b.opened.Load(), b.closed.Load(); o != 3 || c != 2 {
		t.Errorf("after bmc1's settings changed and bmc2 was removed: %d opened, %d closed; want 3 and 2", o, c)
	}
	if got := a.Targets(); len(got) != 1 || got[0] != "https://bmc1" {
		t.Errorf("targets %v", got)
	}
	if err := a.SetTargets([]*Target{{Endpoint: "https://x"}, {Endpoint: "https://x"}}); err == nil {
		t.Error("a target named twice was accepted")
	}
}
