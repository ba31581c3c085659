package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/agent/eventschema"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// steppedClock is a simulated clock that only the test moves, one step
// at a time, once every target has been scanned at the current time (see
// stepUntil): the agent's clock and its wait between rounds, and the mock
// BMCs' scenario time, all read it, so that a run sees the same
// simulated times however loaded the machine is, and a killed agent
// loses no simulated time. A child process reads it from file.
type steppedClock struct {
	start time.Time // the scenario's start
	ns    atomic.Int64
	file  string // when set, every step is also written here
}

func newSteppedClock(start time.Time, file string) *steppedClock {
	c := &steppedClock{start: start, file: file}
	c.set(start)
	return c
}

func (c *steppedClock) now() time.Time         { return time.Unix(0, c.ns.Load()).UTC() }
func (c *steppedClock) elapsed() time.Duration { return c.now().Sub(c.start) }

func (c *steppedClock) set(t time.Time) {
	c.ns.Store(t.UnixNano())
	if c.file != "" {
		tmp := c.file + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.FormatInt(t.UnixNano(), 10)), 0o600); err == nil {
			_ = os.Rename(tmp, c.file)
		}
	}
}

// fileClock reads the time a steppedClock writes to path.
func fileClock(path string) func() time.Time {
	return func() time.Time {
		b, err := os.ReadFile(path)
		if err != nil {
			return time.Time{}
		}
		ns, _ := strconv.ParseInt(string(b), 10, 64)
		return time.Unix(0, ns).UTC()
	}
}

// clockWait is the agent's wait on a simulated clock: until the clock
// reads until, polled.
func clockWait(now func() time.Time) func(context.Context, time.Time) bool {
	return func(ctx context.Context, until time.Time) bool {
		for now().Before(until) {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(2 * time.Millisecond):
			}
		}
		return true
	}
}

// stepUntil moves the clock by step until end, each time once the agent
// serving metricsURL has committed a scan of every target at the current
// time (its scan counters moved, or a new process counted its first), and
// calls onStep (if set) after each step.
func stepUntil(t *testing.T, ctx context.Context, c *steppedClock, metricsURL string, targets []string, step time.Duration, end time.Time, onStep func(time.Time)) {
	t.Helper()
	prev := map[string]string{}
	for c.now().Before(end) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			cur, err := scanCounts(ctx, metricsURL, targets)
			if err == nil {
				moved := true
				for _, tg := range targets {
					if cur[tg] == "" || cur[tg] == prev[tg] {
						moved = false
					}
				}
				if moved {
					prev = cur
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("at %s the agent did not scan every target within 30 s: %v %v", c.now(), cur, err)
			}
			time.Sleep(3 * time.Millisecond)
		}
		c.set(c.now().Add(step))
		if onStep != nil {
			onStep(c.now())
		}
	}
}

// scanCounts reads each target's scan counter off /metrics, tagged with
// the process's start time (a restarted agent counts from zero again).
func scanCounts(ctx context.Context, metricsURL string, targets []string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var start string
	counts := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "process_start_time_seconds "); ok {
			start = v
			continue
		}
		if !strings.HasPrefix(line, "prefail_scans_total{") {
			continue
		}
		for _, tg := range targets {
			if strings.Contains(line, `target="`+tg+`"`) {
				f := strings.Fields(line)
				counts[tg] = f[len(f)-1]
			}
		}
	}
	for tg, n := range counts {
		counts[tg] = start + "/" + n
	}
	return counts, sc.Err()
}

// scenarioBMC is a mock BMC playing a scenario on a testClock, with a
// switch that takes it off the network, and counts of its logins.
type scenarioBMC struct {
	name   string
	mock   *redfishmock.Server
	srv    *httptest.Server
	down   atomic.Bool
	logins atomic.Int32
}

func startScenarioBMC(t *testing.T, name string, clock *steppedClock, opts ...redfishmock.Option) *scenarioBMC {
	return startScenarioBMCAt(t, "", name, clock, opts...)
}

// startScenarioBMCAt is startScenarioBMC on a given address ("": any
// free port), for runs that must name the same targets.
func startScenarioBMCAt(t *testing.T, addr, name string, clock *steppedClock, opts ...redfishmock.Option) *scenarioBMC {
	t.Helper()
	sc, err := redfishmock.EmbeddedScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := sc.BaseTree()
	if err != nil {
		t.Fatal(err)
	}
	b := &scenarioBMC{name: name, mock: redfishmock.New(tree, append([]redfishmock.Option{redfishmock.WithScenario(sc)}, opts...)...)}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close() // no answer at all
					return
				}
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/SessionService/Sessions") {
			b.logins.Add(1)
		}
		b.mock.SetTime(clock.elapsed())
		b.mock.ServeHTTP(w, r)
	}))
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		b.srv.Listener.Close()
		b.srv.Listener = ln
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

// readEventFile reads a JSON Lines event file, checked against the
// published schema.
func readEventFile(t *testing.T, path string) []agent.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	eventschema.CheckLines(t, b)
	var out []agent.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev agent.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, ev)
	}
	return out
}

// fanWear is the fan the fan-bearing-wear scenario wears out.
const fanWear = "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1"

// fanWearCritical is when the scenario's BMC first says Critical.
var fanWearCritical = 27*24*time.Hour + 20*time.Hour

// SIGHUP reloads the targets: a new target is scanned from the next
// round, a removed one is logged out, and the targets kept keep their
// session (one login for the whole run).
func TestAgentReloadTargets(t *testing.T) {
	bmc1, bmc2 := newSwitchableBMC(t), newSwitchableBMC(t)
	dir := t.TempDir()
	targets := writeFile(t, dir, "bmcs.txt", bmc1.srv.URL+"\n")
	hup := make(chan struct{})
	var stdout, stderr syncBuffer
	a := &app{stdout: &stdout, stderr: &stderr, hangups: hup,
		lookupEnv: envFrom(map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.run(ctx, []string{"agent", "--targets", targets, "--stdout", "--interval", "20ms", "--timeout", "5s"})
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s\n%s", what, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("bmc1 scanned", func() bool { return bmc1.mock.Requests() > 20 })
	writeFile(t, dir, "bmcs.txt", bmc1.srv.URL+"\n"+bmc2.srv.URL+"\n")
	hup <- struct{}{}
	waitFor("bmc2 scanned after the reload", func() bool { return bmc2.mock.Requests() > 20 })
	writeFile(t, dir, "bmcs.txt", bmc2.srv.URL+"\n")
	hup <- struct{}{}
	waitFor("bmc1 logged out after its removal", func() bool { return bmc1.mock.Sessions() == 0 })
	before := bmc1.mock.Requests()
	time.Sleep(200 * time.Millisecond)
	if after := bmc1.mock.Requests(); after != before {
		t.Errorf("bmc1 still scanned after its removal: %d requests", after-before)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	if n1, n2 := bmc1.logins(), bmc2.logins(); n1 != 1 || n2 != 1 {
		t.Errorf("logins: bmc1 %d, bmc2 %d; want 1 each (sessions kept across reloads)", n1, n2)
	}
	if n := bmc2.mock.Sessions(); n != 0 {
		t.Errorf("bmc2: %d sessions left open after the agent stopped", n)
	}
	// The capture's PSU Bay1 reports a predictive failure: one event per
	// BMC, none raised again by a reload.
	evs := eventschema.CheckLines(t, []byte(stdout.String()))
	if len(evs) != 2 || evs[0]["target"] == evs[1]["target"] {
		t.Errorf("events: want one per BMC (PSU Bay1's predictive failure):\n%s", stdout.String())
	}
}

// `prefail history` reads what the agent recorded: the target's
// components, and one fan's speed at every scan.
func TestHistoryCommand(t *testing.T) {
	bmc := newSwitchableBMC(t)
	dir := filepath.Join(t.TempDir(), "store")
	env := map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}
	if err := a.run(context.Background(), []string{"watch", "--state", dir, "--rounds", "3", "--interval", "10ms", bmc.srv.URL}); err != nil {
		t.Fatalf("watch: %v\n%s", err, stderr.String())
	}
	list, err := runApp(t, "", "history", "--store", dir, bmc.srv.URL)
	if err != nil || !strings.Contains(list, "fan//redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1") {
		t.Fatalf("history (the list): %v\n%s", err, list)
	}
	out, err := runApp(t, "", "history", "--store", dir, "--json", "--reading", "speed", bmc.srv.URL, "Fans/Bay1")
	if err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	var ans historyAnswer
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans.Series) != 1 || ans.Series[0].Reading != "speed" || len(ans.Series[0].Points) != 3 || ans.Series[0].Points[0].Value <= 0 {
		t.Errorf("the fan's speed history: %+v, want 3 points", ans.Series)
	}
	if _, err := runApp(t, "", "history", "--store", dir, bmc.srv.URL, "Bay"); err == nil {
		t.Error("an ambiguous or unknown component was accepted")
	}
}

// The agent's command line refuses what cannot work, before any scan.
func TestAgentUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "interval: 60s\nintervall: 5m\ntargets:\n  - url: https://bmc1\n")
	sample := writeFile(t, dir, "sample.yaml", "targets:\n  - url: https://bmc1\n    password_file: missing.pass\n")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "https://bmc1"}, "the agent would tell nobody"},
		{[]string{"agent", "--stdout", "--interval", "0s", "https://bmc1"}, "--interval must be positive"},
		{[]string{"agent", "--config", bad}, "bad.yaml:2"},
		{[]string{"agent", "--check-config"}, "--check-config needs --config"},
		{[]string{"agent", "--config", sample, "--check-config"}, "password_file"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want it to say %q", tt.args, err, tt.want)
		}
	}
	out, err := runApp(t, "", "agent", "--print-sample-config")
	if err != nil || !strings.Contains(out, "targets:") {
		t.Fatalf("--print-sample-config: %v", err)
	}
	if _, err := agent.ParseConfig("sample.yaml", []byte(out)); err != nil {
		t.Errorf("the printed sample does not parse: %v", err)
	}
}
