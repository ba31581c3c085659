package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/redfish/redfishmock"
)

const (
	envCrashChild = "PREFAIL_CRASH_CHILD_ARGS"
	envCrashClock = "PREFAIL_CRASH_CLOCK_FILE"
)

// TestAgentCrashChild is the agent process of TestAgentCrashRecovery: it
// runs `prefail agent` with the arguments and the simulated clock (a
// file) the parent gives it, until killed (or SIGTERM).
func TestAgentCrashChild(t *testing.T) {
	raw := os.Getenv(envCrashChild)
	if raw == "" {
		t.Skip("the agent process of TestAgentCrashRecovery; not a test of its own")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	now := fileClock(os.Getenv(envCrashClock))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv, now: now, wait: clockWait(now)}
	if err := a.run(ctx, args); err != nil {
		t.Fatalf("agent: %v", err)
	}
}

// crashRun is what one scenario run of the agent left.
type crashRun struct {
	events []agent.Event
	store  string
	target string // the BMC whose fan wears out
	kills  int
}

const crashStep = 4 * time.Hour

// The agent killed with SIGKILL at 20 random moments over a four-week
// scenario run (a fan wearing out on one BMC, a busy healthy server on
// another) delivers to its event file exactly the events of an
// uninterrupted run, by id, none twice; the store opens cleanly after
// every kill; and the history has no gap: every simulated step is there.
func TestAgentCrashRecovery(t *testing.T) {
	withoutRace(t)
	// Both runs watch the same targets (the ids name them): BMCs on the
	// same two ports.
	addrs := []string{freeLoopbackAddr(t), freeLoopbackAddr(t)}
	ref := runCrashScenario(t, addrs, 0)
	got := runCrashScenario(t, addrs, 20)
	if got.kills < 20 {
		t.Errorf("only %d kills happened during the run", got.kills)
	}
	ids := func(evs []agent.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	gotIDs := ids(got.events)
	seen := map[string]bool{}
	for _, id := range gotIDs {
		if seen[id] {
			t.Errorf("event %s delivered twice to the file", id)
		}
		seen[id] = true
	}
	refIDs := ids(ref.events)
	slices.Sort(refIDs)
	slices.Sort(gotIDs)
	if !slices.Equal(refIDs, slices.Compact(gotIDs)) {
		t.Errorf("events after 20 kills differ from the uninterrupted run's:\nuninterrupted: %s\nkilled:        %s", describe(ref.events), describe(got.events))
	}
	// The uninterrupted run itself saw the wear coming.
	var raised bool
	for _, ev := range ref.events {
		if ev.Component != nil && ev.Component.ID == fanWear && ev.Type == agent.EventRaised {
			raised = true
			if lead := fanWearCritical - ev.Time.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); lead < 24*time.Hour {
				t.Errorf("the worn fan was raised %s before the BMC said Critical; want a day or more", lead)
			}
		}
	}
	if !raised {
		t.Errorf("no raised event for the worn fan: %s", describe(ref.events))
	}
	// History: every step of the killed run is in the store.
	store, err := agent.OpenStore(got.store)
	if err != nil {
		t.Fatalf("the store after the run: %v", err)
	}
	defer store.Close()
	series, err := store.History(got.target, "fan/"+fanWear, time.Time{}, time.Now().AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var speed *agent.Series
	for i := range series {
		if series[i].Reading == "speed" {
			speed = &series[i]
		}
	}
	if speed == nil || len(speed.Points) < 150 {
		t.Fatalf("the worn fan's speed history has %d points; want one per step", len(speed.Points))
	}
	for i := 1; i < len(speed.Points); i++ {
		if gap := speed.Points[i].Time.Sub(speed.Points[i-1].Time); gap > crashStep {
			t.Errorf("history gap of %s at %s", gap, speed.Points[i-1].Time)
		}
	}
	t.Logf("uninterrupted: %d events; killed %d times: %d events, %d fan speed points", len(ref.events), got.kills, len(got.events), len(speed.Points))
}

func describe(evs []agent.Event) string {
	var parts []string
	for _, ev := range evs {
		what := ev.Target
		if ev.Component != nil {
			what = string(ev.Component.Kind) + " " + ev.Component.Name
		}
		parts = append(parts, fmt.Sprintf("%s %s %s (%s)", ev.Time.Format("01-02T15"), ev.Type, what, ev.ID[:8]))
	}
	return strings.Join(parts, "; ")
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runCrashScenario runs the agent in a child process over the scenario,
// killing it with SIGKILL kills times at random moments, restarting it
// each time.
func runCrashScenario(t *testing.T, addrs []string, kills int) crashRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newSteppedClock(start, filepath.Join(dir, "clock"))
	// Killed agents cannot log out: their sessions stay open on the BMC
	// until it drops them, as on a real one.
	wear := startScenarioBMCAt(t, addrs[0], "fan-bearing-wear", clock, redfishmock.WithMaxSessions(64))
	busy := startScenarioBMCAt(t, addrs[1], "healthy-busy", clock, redfishmock.WithMaxSessions(64))
	defer wear.srv.Close()
	defer busy.srv.Close()
	targets := writeFile(t, dir, "bmcs.txt", wear.srv.URL+"\n"+busy.srv.URL+"\n")
	run := crashRun{store: filepath.Join(dir, "store"), target: wear.srv.URL}
	events := filepath.Join(dir, "events.jsonl")
	listen := freeLoopbackAddr(t)
	args, _ := json.Marshal([]string{"agent", "--targets", targets, "--store", run.store, "--events", events, "--listen", listen,
		"--interval", crashStep.String(), "--timeout", "10s", "--log-level", "error"})
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAgentCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashChild+"="+string(args), envCrashClock+"="+clock.file,
			envUsername+"="+redfishmock.DefaultUser, envPassword+"="+redfishmock.DefaultPassword)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	cmd := startChild()
	stepped := make(chan struct{})
	go func() {
		defer close(stepped)
		stepUntil(t, ctx, clock, "http://"+listen, []string{wear.srv.URL, busy.srv.URL}, crashStep, start.Add(28*24*time.Hour+12*time.Hour), nil)
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for run.kills < kills {
		// At random moments: during a scan, a commit, a delivery, between
		// rounds.
		select {
		case <-stepped:
			t.Fatalf("the run ended after %d of %d kills", run.kills, kills)
		case <-time.After(time.Duration(100+rng.IntN(400)) * time.Millisecond):
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		run.kills++
		s, err := agent.OpenStore(run.store)
		if err != nil {
			t.Fatalf("kill %d: the store does not open: %v", run.kills, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		cmd = startChild()
	}
	<-stepped
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the agent after SIGTERM: %v", err)
	}
	run.events = readEventFile(t, events)
	return run
}
