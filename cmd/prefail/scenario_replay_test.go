package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

const (
	chassis1U = "/redfish/v1/Chassis/1U"
	fanBay1   = chassis1U + "/ThermalSubsystem/Fans/Bay1"
	fanCPU2   = chassis1U + "/ThermalSubsystem/Fans/CPU2"
	psuBay1   = chassis1U + "/PowerSubsystem/PowerSupplies/Bay1"
	psuBay2   = chassis1U + "/PowerSubsystem/PowerSupplies/Bay2"
	rail12V   = chassis1U + "/Sensors/PS1Out12V"
	cpu1Temp  = chassis1U + "/Sensors/CPU1Temp"
)

// scenarioCase is what the detector must make of one scenario.
type scenarioCase struct {
	name string
	// targets must each be warned (a raised event) at least minLead
	// before the BMC itself first reports them Critical, in one episode.
	targets []string
	// after may raise only once the first target is Critical at the BMC
	// (consequences: the survivor of a redundant pair, a rail that steps
	// down with its PSU, the chassis of a server that went down).
	after []string
	// healthy: no event at all.
	healthy bool
	// afterWarning lets the after components raise from the BMC's first
	// Warning on a target (the incident has begun: a PSU at its caution
	// threshold leaves its partner one failure from an outage).
	afterWarning bool
}

var scenarioCases = []scenarioCase{
	{name: "healthy-baseline", healthy: true},
	{name: "healthy-busy", healthy: true},
	{name: "aging-server", targets: []string{fanBay1, psuBay1}, after: []string{rail12V, chassis1U}},
	{name: "fan-bearing-wear", targets: []string{fanBay1}},
	{name: "fan-sudden-stop", targets: []string{fanCPU2}},
	{name: "psu-output-sag-efficiency", targets: []string{psuBay1, rail12V}},
	{name: "psu-intermittent-input-loss", targets: []string{psuBay1}, after: []string{psuBay2}},
	{name: "clogged-filter", targets: []string{cpu1Temp}},
	{name: "redundant-psu-loss", targets: []string{psuBay1}, after: []string{psuBay2}},
	// A one-fan chassis: no sibling to read the load off, so the fan is
	// judged at comparable temperature (detector/fan_thermal.go).
	{name: "lone-fan-healthy", healthy: true},
	{name: "lone-fan-bearing-wear", targets: []string{fanBay1}},
}

const minLead = 24 * time.Hour

// scenarioTestInterval is the scan interval of the scenario tests. A scan
// of the mock costs ~12 ms of CPU (~60 ms under the race detector), and
// the scenarios add up to 254 simulated days: at the CLI's 10 minutes
// that is 36,600 scans, minutes of CPU. The tests scan hourly (every 2 h
// under -race), which the detector's hourly buckets handle; set
// PREFAIL_SCENARIO_INTERVAL=10m to run them at the CLI's default.
func scenarioTestInterval(t *testing.T) time.Duration {
	if v := os.Getenv("PREFAIL_SCENARIO_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("PREFAIL_SCENARIO_INTERVAL=%q: %v", v, err)
		}
		return d
	}
	if raceEnabled {
		return 2 * time.Hour
	}
	return time.Hour
}

// withoutRace: the scenario replays are thousands of scans through the
// real reader and the detector, five times slower under the race
// detector, and their concurrency is the replay engine's, which
// TestScenarioReplayDeterministic covers under -race. .ci/run runs them in
// a step of their own without -race (never skipped there).
func withoutRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("-race: the scenario replays run in their own step of .ci/run, without -race")
	}
}

// componentStory is what happened to one component in a replay.
type componentStory struct {
	name          string
	firstCritical time.Time // first snapshot where the BMC says Critical
	firstWarning  time.Time // first snapshot where the BMC says Warning or worse
	events        []detector.Event
}

func (s *componentStory) raised() []detector.Event {
	var out []detector.Event
	for _, e := range s.events {
		if e.Type == detector.EventRaised {
			out = append(out, e)
		}
	}
	return out
}

// replayStories replays a scenario and gathers each component's story.
func replayStories(t *testing.T, sc *redfishmock.Scenario, interval time.Duration) (map[string]*componentStory, int) {
	t.Helper()
	stories := map[string]*componentStory{}
	story := func(id string) *componentStory {
		s := stories[id]
		if s == nil {
			s = &componentStory{}
			stories[id] = s
		}
		return s
	}
	scans := 0
	err := runScenario(context.Background(), sc, scenarioRun{interval: interval, cfg: detector.DefaultConfig(), workers: 2},
		func(snap *model.Snapshot, events []detector.Event) error {
			scans++
			for i := range snap.Components {
				c := &snap.Components[i]
				s := story(c.ID)
				s.name = c.Name
				if c.Health == model.HealthCritical && s.firstCritical.IsZero() {
					s.firstCritical = snap.Time
				}
				if (c.Health == model.HealthWarning || c.Health == model.HealthCritical) && s.firstWarning.IsZero() {
					s.firstWarning = snap.Time
				}
			}
			for _, e := range events {
				story(e.Component.ID).events = append(story(e.Component.ID).events, e)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return stories, scans
}

// TestScenarioLeadTimes replays every scenario through the real reader
// and the detector: each degradation is warned of at least a day before
// the BMC's own Critical, in one episode, with no false alarm before it,
// and the healthy servers raise nothing.
func TestScenarioLeadTimes(t *testing.T) {
	withoutRace(t)
	interval := scenarioTestInterval(t)
	// As the replay command does (a third off the time): the subtests run
	// after this function returns, so restore in Cleanup.
	old := debug.SetGCPercent(400)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	names := redfishmock.EmbeddedScenarioNames()
	for _, c := range scenarioCases {
		if !slices.Contains(names, c.name) {
			t.Errorf("scenario %s is not embedded", c.name)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(scenarioCases, func(c scenarioCase) bool { return c.name == n }) {
			t.Errorf("embedded scenario %s has no test case", n)
		}
	}
	for _, c := range scenarioCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sc, err := redfishmock.EmbeddedScenario(c.name)
			if err != nil {
				t.Fatal(err)
			}
			checkScenario(t, sc, c, interval)
		})
	}
}

// checkScenario replays sc and checks what the detector made of it
// against c: each target warned at least minLead before the BMC's own
// Critical, in one episode; nothing else raised but c.after, and those
// only once the incident began; a healthy scenario raises nothing.
func checkScenario(t *testing.T, sc *redfishmock.Scenario, c scenarioCase, interval time.Duration) {
	t.Helper()
	start := time.Now()
	stories, scans := replayStories(t, sc, interval)
	t.Logf("%d scans every %v in %v", scans, interval, time.Since(start).Round(time.Millisecond))
	ids := make([]string, 0, len(stories))
	for id := range stories {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := stories[id]
		for _, e := range s.events {
			t.Logf("  %s %s %s %s risk %.2f: %s", simDay(sc, e.Time), e.Type, e.State, shortID(id), e.Risk, firstReason(e))
		}
	}
	if c.healthy {
		for _, id := range ids {
			if n := len(stories[id].events); n > 0 {
				t.Errorf("healthy: %d event(s) on %s", n, id)
			}
		}
		return
	}
	firstCrit, incident := time.Time{}, time.Time{}
	for _, id := range c.targets {
		s := stories[id]
		if s == nil || s.firstCritical.IsZero() {
			t.Fatalf("%s: the BMC never reports it Critical: the scenario is broken", id)
		}
		if firstCrit.IsZero() || s.firstCritical.Before(firstCrit) {
			firstCrit = s.firstCritical
		}
		begun := s.firstCritical
		if c.afterWarning && !s.firstWarning.IsZero() {
			begun = s.firstWarning
		}
		if incident.IsZero() || begun.Before(incident) {
			incident = begun
		}
		raised := s.raised()
		if len(raised) == 0 {
			t.Errorf("%s: no warning at all (BMC Critical at %s)", shortID(id), simDay(sc, s.firstCritical))
			continue
		}
		lead := s.firstCritical.Sub(raised[0].Time)
		t.Logf("LEAD %s %s: first %s at %s, BMC Critical at %s: %.1f days ahead", c.name, shortID(id), raised[0].Severity,
			simDay(sc, raised[0].Time), simDay(sc, s.firstCritical), lead.Hours()/24)
		if lead < minLead {
			t.Errorf("%s: warned %v before the BMC's Critical, want >= %v", shortID(id), lead.Round(time.Minute), minLead)
		}
		if len(raised) != 1 {
			t.Errorf("%s: %d raised events, want one episode", shortID(id), len(raised))
		}
	}
	for _, id := range ids {
		if slices.Contains(c.targets, id) {
			continue
		}
		s := stories[id]
		raised := s.raised()
		if len(raised) > 1 {
			t.Errorf("%s: %d raised events: flapping", shortID(id), len(raised))
		}
		for _, e := range raised {
			if !slices.Contains(c.after, id) {
				t.Errorf("false alarm: %s %s at %s", shortID(id), e.State, simDay(sc, e.Time))
			} else if e.Time.Before(incident) {
				t.Errorf("%s raised at %s, before the incident (%s)", shortID(id), simDay(sc, e.Time), simDay(sc, incident))
			}
		}
	}
}

// TestScenarioReplayDeterministic: two replays print the same bytes, for
// any number of scan workers.
func TestScenarioReplayDeterministic(t *testing.T) {
	sc, err := redfishmock.EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	interval := 3 * time.Hour
	var outs []string
	for _, workers := range []int{1, 3} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		err := runScenario(context.Background(), sc, scenarioRun{interval: interval, cfg: detector.DefaultConfig(), workers: workers},
			func(_ *model.Snapshot, events []detector.Event) error {
				for i := range events {
					if err := enc.Encode(replayEventOf(&events[i])); err != nil {
						return err
					}
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, buf.String())
	}
	if outs[0] != outs[1] || outs[0] == "" {
		t.Errorf("replays differ or are empty:\n%s\n---\n%s", outs[0], outs[1])
	}
}

// TestReplayScenarioCommand runs `prefail replay --scenario` end to end.
func TestReplayScenarioCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"replay", "--scenario", "aging-server", "--interval", "2h"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{`"type":"raised"`, `"name":"Fan Bay 1"`, `"kind":"psu"`, `"reasons":[`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	for _, args := range [][]string{
		{"replay", "--scenario", "no-such-scenario"},
		{"replay", "--scenario", "aging-server", "some.csv"},
		{"replay", "--scenario", "aging-server", "--interval", "0s"},
	} {
		stdout.Reset()
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func simDay(sc *redfishmock.Scenario, t time.Time) string {
	return fmt.Sprintf("day %5.2f", t.Sub(sc.Start).Hours()/24)
}

func shortID(id string) string { return strings.TrimPrefix(id, chassis1U+"/") }

func firstReason(e detector.Event) string {
	if len(e.Reasons) == 0 {
		return ""
	}
	return e.Reasons[0].Text
}

// TestReplayScenarioProgress: --progress reports on stderr, by simulated
// day, and stdout carries only the JSON Lines, the same bytes as without.
func TestReplayScenarioProgress(t *testing.T) {
	var quiet, quietErr bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--scenario", "aging-server", "--interval", "6h"}, &quiet, &quietErr); err != nil {
		t.Fatalf("%v: %s", err, &quietErr)
	}
	if quietErr.Len() != 0 {
		t.Errorf("progress without --progress and with stderr not a terminal:\n%s", &quietErr)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--scenario", "aging-server", "--interval", "6h", "--progress"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, &stderr)
	}
	if stdout.String() != quiet.String() {
		t.Errorf("--progress changed stdout:\n%s\n---\n%s", &stdout, &quiet)
	}
	events := 0
	for line := range strings.Lines(stdout.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("stdout line is not JSON: %q", line)
		}
		events++
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 15 || !strings.HasPrefix(lines[0], "replay aging-server: day 1/14, ") || !strings.HasPrefix(lines[13], "replay aging-server: day 14/14, ") {
		t.Errorf("want a line per simulated day and a summary:\n%s", &stderr)
	}
	if want := fmt.Sprintf("replay aging-server: done, 14 days in 57 scans every 6h0m0s, %d events, ", events); !strings.HasPrefix(lines[len(lines)-1], want) {
		t.Errorf("last line %q, want %q...", lines[len(lines)-1], want)
	}
	// --progress=false silences it even on a terminal.
	stderr.Reset()
	if err := run(context.Background(), []string{"replay", "--scenario", "aging-server", "--interval", "24h", "--progress=false"}, &stdout, &stderr); err != nil || stderr.Len() != 0 {
		t.Errorf("--progress=false: %v %q", err, &stderr)
	}
}

// TestReplayScenarioInterval: a replay scans at the scenario's own
// interval unless --interval is given.
func TestReplayScenarioInterval(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	own := write("own.json", `{"name":"own","base":"public-rackmount1","duration":"2d","interval":"12h"}`)
	none := write("none.json", `{"name":"none","base":"public-rackmount1","duration":"2h"}`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", own}, "in 5 scans every 12h0m0s"},
		{[]string{"--scenario", own, "--interval", "24h"}, "in 3 scans every 1d"},
		{[]string{"--scenario", none}, "in 13 scans every 10m0s"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"replay", "--progress"}, c.args...), &stdout, &stderr); err != nil {
			t.Fatalf("%q: %v: %s", c.args, err, &stderr)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: stderr %q lacks %q", c.args, &stderr, c.want)
		}
	}
}

// TestReplayProgressTerminal: on a terminal the line is rewritten in
// place, at most every progressRedraw, then cleared for the summary.
func TestReplayProgressTerminal(t *testing.T) {
	sc, err := redfishmock.EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var buf bytes.Buffer
	p := newReplayProgress(&buf, true, sc, time.Hour, clock)
	for i := range 10 {
		now = now.Add(50 * time.Millisecond) // a redraw every 4 scans, the first at once
		p.step(time.Duration(i)*time.Hour, 1)
	}
	p.finish(nil)
	out := buf.String()
	if n := strings.Count(out, "\r"); n != 3+1 {
		t.Errorf("%d carriage returns, want 3 redraws and a clear:\n%q", n, out)
	}
	if !strings.Contains(out, "\rreplay aging-server: day 0.3/14, 9 events, 500ms ") || strings.Contains(out, "\n\r") {
		t.Errorf("redraws:\n%q", out)
	}
	if !strings.HasSuffix(out, "\r\033[Kreplay aging-server: done, 14 days in 10 scans every 1h0m0s, 10 events, 500ms\n") {
		t.Errorf("summary:\n%q", out)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []io.Writer{&bytes.Buffer{}, f, &lockedWriter{w: f}} {
		if isTerminal(w) {
			t.Errorf("%T is a terminal", w)
		}
	}
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer null.Close()
		if !isTerminal(&lockedWriter{w: null}) {
			t.Errorf("%s, a character device, is not taken for a terminal", os.DevNull)
		}
	}
}
