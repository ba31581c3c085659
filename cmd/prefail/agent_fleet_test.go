package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/agent/prometheustest"
	"github.com/prefail/prefail/ipmi/ipmisim"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// The agent end to end, as a user runs it: `prefail agent` with a store,
// an event file and a metrics listener, over four mock Redfish BMCs
// playing scenarios (a fan wearing out, a busy healthy server, two idle
// healthy ones, one of which drops off the network for a while) and an
// ipmi_sim BMC whose PSU asserts a predictive failure midway, for four
// simulated weeks; a real Prometheus scrapes it.
func TestAgentFleetEndToEnd(t *testing.T) {
	withoutRace(t)
	if testing.Short() {
		t.Skip("-short: an end-to-end run of half a minute")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const step = 4 * time.Hour
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newSteppedClock(start, "")
	wear := startScenarioBMC(t, "fan-bearing-wear", clock)
	busy := startScenarioBMC(t, "healthy-busy", clock)
	idle := startScenarioBMC(t, "healthy-baseline", clock)
	flaky := startScenarioBMC(t, "healthy-baseline", clock)
	sim := ipmisim.StartT(t, "../../testdata/ipmi/boards/realserver")
	ipmiTarget := "ipmi://" + sim.Addr()
	all := []string{wear.srv.URL, busy.srv.URL, idle.srv.URL, flaky.srv.URL, ipmiTarget}

	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	// The agent as a user configures it: a YAML file (docs/agent.md).
	var targetLines strings.Builder
	for _, tg := range all {
		fmt.Fprintf(&targetLines, "  - url: %s\n", tg)
	}
	config := writeFile(t, dir, "prefail.yaml", fmt.Sprintf(`# the fleet of TestAgentFleetEndToEnd
interval: %s
intervals:
  ipmi: 12h            # IPMI BMCs are slow: a third as often
timeout: 10s
credentials:
  username_env: PREFAIL_USERNAME
  password_env: PREFAIL_PASSWORD
sdr_cache: sdr
targets:
%sstore:
  path: store
outputs:
  file:
    path: events.jsonl
listen: 127.0.0.1:0
`, step, targetLines.String()))
	listening := make(chan string, 1)
	var stderr syncBuffer
	a := &app{stdout: &syncBuffer{}, stderr: &stderr, now: clock.now, wait: clockWait(clock.now), onListen: func(u string) { listening <- u },
		lookupEnv: envFrom(map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword})}
	done := make(chan error, 1)
	go func() {
		done <- a.run(ctx, []string{"agent", "--config", config, "--log-level", "warn"})
	}()
	var metricsURL string
	select {
	case metricsURL = <-listening:
	case err := <-done:
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not listen")
	}
	u, _ := url.Parse(metricsURL)
	prom := prometheustest.Start(t, []string{u.Host}, time.Second)

	// Day 10: the flaky BMC drops off the network for three days; day
	// 12: PSU 1 of the IPMI board asserts a predictive failure (IPMI v2.0
	// Table 42-3, Power Supply offset 02h).
	stepUntil(t, ctx, clock, metricsURL, all[:4], step, start.Add(28*24*time.Hour+12*time.Hour), func(now time.Time) {
		switch now.Sub(start) {
		case 10 * 24 * time.Hour:
			flaky.down.Store(true)
		case 13 * 24 * time.Hour:
			flaky.down.Store(false)
		case 12 * 24 * time.Hour:
			if _, err := sim.Console(ctx, "sensor_set_bit 0x20 0 130 2 1 1"); err != nil {
				t.Error(err)
			}
		}
	})

	// Prometheus, through its HTTP API: the worn fan's risk ranks above
	// every healthy fan's.
	qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
	defer qcancel()
	worn := fmt.Sprintf(`max(prefail_component_risk{kind="fan",target=%q,component=%q})`, wear.srv.URL, fanWear)
	others := fmt.Sprintf(`max(prefail_component_risk{kind="fan",component!=%q})`, fanWear)
	wornVec, err := prom.WaitFor(qctx, worn, func(v prometheustest.Vector) bool { return len(v) == 1 && v[0].Value > 0 })
	if err != nil {
		t.Fatalf("Prometheus %s: %v\n%s", worn, err, prom.Log())
	}
	wornRisk := wornVec[0].Value
	otherRisk, err := prom.Query(qctx, others)
	if err != nil || len(otherRisk) != 1 {
		t.Fatalf("Prometheus %s: %v %v", others, otherRisk, err)
	}
	if wornRisk <= otherRisk[0].Value {
		t.Errorf("Prometheus: the worn fan's risk %.3f is not above the healthy fans' (max %.3f)", wornRisk, otherRisk[0].Value)
	}
	t.Logf("Prometheus: worn fan risk %.3f, healthy fans at most %.3f", wornRisk, otherRisk[0].Value)
	selRead := scrapeSum(t, metricsURL, "prefail_sel_entries_read_total", ipmiTarget)
	ipmiScans := scrapeSum(t, metricsURL, "prefail_scans_total", ipmiTarget)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the agent did not stop within 15 s of SIGTERM")
	}

	evs := readEventFile(t, events)
	byTarget := map[string][]agent.Event{}
	for _, ev := range evs {
		byTarget[ev.Target] = append(byTarget[ev.Target], ev)
	}
	t.Logf("events: %s", describe(evs))
	var lead time.Duration
	for _, ev := range byTarget[wear.srv.URL] {
		if ev.Component != nil && ev.Component.ID == fanWear && ev.Type == agent.EventRaised {
			lead = start.Add(fanWearCritical).Sub(ev.Time)
		}
	}
	if lead < 24*time.Hour {
		t.Errorf("the worn fan: raised %s before the BMC said Critical, want a day or more; events %s", lead, describe(byTarget[wear.srv.URL]))
	}
	for _, b := range []*scenarioBMC{busy, idle} {
		if len(byTarget[b.srv.URL]) != 0 {
			t.Errorf("healthy %s raised: %s", b.name, describe(byTarget[b.srv.URL]))
			for _, ev := range byTarget[b.srv.URL] {
				t.Logf("%s %s: %+v", ev.Time, ev.Type, ev.Reasons)
			}
		}
	}
	fl := byTarget[flaky.srv.URL]
	if len(fl) != 2 || fl[0].Type != agent.EventTargetUnreachable || fl[0].Reason != agent.ReasonNoAnswer || fl[1].Type != agent.EventTargetBack {
		t.Errorf("the flaky BMC: %s, want target_unreachable (no_answer) then target_back", describe(fl))
	}
	var psu bool
	for _, ev := range byTarget[ipmiTarget] {
		if ev.Component != nil && ev.Component.Kind == model.KindPSU && ev.Type == agent.EventRaised {
			psu = true
		} else {
			t.Errorf("the IPMI board raised %s", describe([]agent.Event{ev}))
		}
	}
	if !psu {
		t.Errorf("no PSU event from the IPMI board's predictive failure: %s", describe(byTarget[ipmiTarget]))
	}
	// One Redfish session per BMC for the whole run.
	for _, b := range []*scenarioBMC{wear, busy, idle, flaky} {
		if n := b.logins.Load(); n != 1 {
			t.Errorf("%s: %d logins over the run, want 1", b.name, n)
		}
		if n := b.mock.Sessions(); n != 0 {
			t.Errorf("%s: %d sessions left open after the agent stopped", b.name, n)
		}
	}
	// The SEL read incrementally: the entries read over the whole run are
	// the board's log once plus what was added, not once per scan.
	if ipmiScans < 50 || selRead > 30 {
		t.Errorf("IPMI: %v scans read %v SEL entries; want one per 12 h (over 50) and the log read once (at most 30 entries)", ipmiScans, selRead)
	}
	t.Logf("IPMI: %v scans, %v SEL entries read in all", ipmiScans, selRead)
}

// scrapeSum sums a metric's samples for a target from /metrics.
func scrapeSum(t *testing.T, base, name, target string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var sum float64
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `target="`+target+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
