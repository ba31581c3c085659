package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// TestScanJSONLinesStream: `scan --json` writes each target's line as it
// finishes, while a slow target is still being read; every target has
// exactly one line that parses alone.
func TestScanJSONLinesStream(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	releaseSlow := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseSlow)
	var fast []string
	for range 4 {
		fast = append(fast, newMockServer(t, "password"))
	}
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close() // nothing listens there now

	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	a := &app{stdout: pw, stderr: &stderr, lookupEnv: envFrom(map[string]string{envUsername: "admin", envPassword: "password"})}
	args := append([]string{"scan", "--json", "--timeout", "20s", "--concurrency", "8", slow.URL, refusedURL}, fast...)
	done := make(chan error, 1)
	go func() {
		err := a.run(context.Background(), args)
		pw.CloseWithError(io.EOF)
		done <- err
	}()

	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	seen := map[string]map[string]any{}
	for len(seen) < 5 && sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d is not JSON alone: %v\n%s", len(seen)+1, err, sc.Bytes())
		}
		target, _ := line["target"].(string)
		if _, dup := seen[target]; dup {
			t.Fatalf("%s has two lines", target)
		}
		seen[target] = line
	}
	// Five of six targets are in while the slow one still hangs.
	select {
	case err := <-done:
		t.Fatalf("the scan ended (%v) before the slow target was released: lines were held back", err)
	default:
	}
	if _, ok := seen[slow.URL]; ok {
		t.Fatal("the slow target answered before it was released")
	}
	releaseSlow()
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("last line: %v\n%s", err, sc.Bytes())
		}
		target, _ := line["target"].(string)
		if _, dup := seen[target]; dup {
			t.Fatalf("%s has two lines", target)
		}
		seen[target] = line
	}
	err := <-done
	if exitCode(err) != 1 {
		t.Errorf("exit %d (%v), want 1: two targets failed", exitCode(err), err)
	}
	if len(seen) != 6 {
		t.Fatalf("%d targets in the output, want 6", len(seen))
	}
	for target, line := range seen {
		if v, _ := line["schema_version"].(float64); v != 1 {
			t.Errorf("%s: schema_version %v", target, line["schema_version"])
		}
		if _, ok := line["risk"].(float64); !ok {
			t.Errorf("%s: no risk", target)
		}
		failed := target == slow.URL || target == refusedURL
		if e, _ := line["error"].(string); (e != "") != failed {
			t.Errorf("%s: error %q", target, e)
		}
		if !failed {
			snap, _ := line["snapshot"].(map[string]any)
			if comps, _ := snap["components"].([]any); len(comps) == 0 {
				t.Errorf("%s: no components", target)
			}
		}
	}
	// The summary goes to stderr, so that stdout stays JSON Lines.
	if s := stderr.String(); !strings.Contains(s, "fleet: 6 targets") || !strings.Contains(s, "4 scanned, 2 failed") || !strings.Contains(s, refusedURL) {
		t.Errorf("stderr has no summary:\n%s", s)
	}
}

// fleetFake is a fleet of fake BMCs for the CLI's scan: each target's
// snapshot by its endpoint.
func fleetFake(t *testing.T, snaps map[string]*model.Snapshot) scanFunc {
	return func(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
		s, ok := snaps[req.Endpoint]
		if !ok {
			return nil, errors.New("connection refused")
		}
		c := *s
		c.Target = req.Endpoint
		return &c, nil
	}
}

func fleetSnap(psu, fan model.Health, fanRPM float64) *model.Snapshot {
	lower := 1000.0
	return &model.Snapshot{Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Components: []model.Component{
		{Kind: model.KindPSU, ID: "/redfish/v1/Chassis/1/Power#/PowerSupplies/0", Name: "PSU 1", Health: psu},
		{Kind: model.KindFan, ID: "/redfish/v1/Chassis/1/Thermal#/Fans/0", Name: "Fan 1", Health: fan,
			Readings: []model.Reading{{Name: "speed", Value: &fanRPM, Unit: "RPM", Thresholds: &model.Thresholds{LowerCritical: &lower}}}},
	}}
}

// TestScanFleetSummary: the table ends with the fleet: parts counted by
// kind and health, servers ranked by risk, the failed ones with reasons.
func TestScanFleetSummary(t *testing.T) {
	snaps := map[string]*model.Snapshot{
		"https://bmc-ok":       fleetSnap(model.HealthOK, model.HealthOK, 5400),
		"https://bmc-psu-dead": fleetSnap(model.HealthCritical, model.HealthOK, 5400),
		"https://bmc-fan-low":  fleetSnap(model.HealthOK, model.HealthWarning, 1050),
		"https://bmc-a-ok":     fleetSnap(model.HealthOK, model.HealthOK, 5300),
	}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(nil), scanTarget: fleetFake(t, snaps)}
	err := a.run(context.Background(), []string{"scan", "https://bmc-ok", "https://bmc-fan-low", "https://bmc-psu-dead", "https://bmc-a-ok", "https://bmc-gone"})
	if exitCode(err) != 1 {
		t.Errorf("exit %d (%v), want 1", exitCode(err), err)
	}
	out := stdout.String()
	i := strings.Index(out, "fleet: 5 targets")
	if i < 0 {
		t.Fatalf("no summary after the tables:\n%s", out)
	}
	sum := out[i:]
	t.Logf("summary:\n%s", sum)
	for _, want := range []string{"4 scanned, 1 failed", "psu", "(1 critical, 3 ok)", "fan", "(1 warning, 3 ok)", "2 of 4 at risk or not ok", "the source reports critical", "Fan 1", "the source reports warning", "failed (1):", "https://bmc-gone", "connection refused"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	// Ranked: the dead PSU, then the warning fan; the healthy servers
	// are only counted.
	dead, low := strings.Index(sum, "bmc-psu-dead"), strings.Index(sum, "bmc-fan-low")
	if dead < 0 || low < 0 || dead > low {
		t.Errorf("servers not ranked by risk (psu-dead at %d, fan-low at %d):\n%s", dead, low, sum)
	}
	if strings.Contains(sum, "bmc-ok") || strings.Contains(sum, "bmc-a-ok") {
		t.Errorf("healthy servers listed in the ranking:\n%s", sum)
	}
	// Every table is still there, in the order given.
	if a, b := strings.Index(out, "== https://bmc-ok"), strings.Index(out, "== https://bmc-gone"); a < 0 || b < a {
		t.Errorf("tables missing or out of order:\n%s", out)
	}
	if strings.Contains(stderr.String(), "scanning:") {
		t.Errorf("a progress bar on a stderr that is not a terminal:\n%s", stderr.String())
	}
}

// TestScanProgressBar: on a terminal, a bar with done, failed and
// remaining; in a pipe, or with --quiet, nothing of it.
func TestScanProgressBar(t *testing.T) {
	snaps := map[string]*model.Snapshot{}
	var args []string
	for i := range 12 {
		ep := fmt.Sprintf("https://bmc-%02d", i)
		if i != 5 {
			snaps[ep] = fleetSnap(model.HealthOK, model.HealthOK, 5400)
		}
		args = append(args, ep)
	}
	run := func(stderr io.Writer, extra ...string) (string, error) {
		var stdout bytes.Buffer
		// Scans long enough for the bar to be redrawn (at most every
		// 100 ms) while they run: 4 waves of 3.
		fake := fleetFake(t, snaps)
		slow := func(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
			time.Sleep(80 * time.Millisecond)
			return fake(ctx, req)
		}
		a := &app{stdout: &stdout, stderr: stderr, lookupEnv: envFrom(nil), scanTarget: slow}
		err := a.run(context.Background(), append(append([]string{"scan", "--json", "--concurrency", "3"}, extra...), args...))
		return stdout.String(), err
	}
	onTerminal := func(extra ...string) string {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		var got bytes.Buffer
		copied := make(chan struct{})
		go func() { _, _ = io.Copy(&got, ptmx); close(copied) }()
		out, err := run(tty, extra...)
		if exitCode(err) != 1 {
			t.Errorf("exit %d (%v)", exitCode(err), err)
		}
		if n := strings.Count(out, "\n"); n != 12 {
			t.Errorf("%d JSON lines on stdout, want 12", n)
		}
		tty.Close()
		<-copied // EIO once the terminal's other side is closed
		return got.String()
	}
	term := onTerminal()
	t.Logf("terminal: %q", term)
	// The bar as it was drawn before the summary: done of total, failed,
	// remaining, a percentage and the ETA.
	bar, _, _ := strings.Cut(term, "fleet:")
	for _, want := range []string{"scanning: 0 failed, 12 remaining", "(0/12)"} {
		if !strings.Contains(bar, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, bar)
		}
	}
	if !regexp.MustCompile(`scanning: 1 failed, \d+ remaining +\d+% \|[^|]*\| \(([1-9]|1[0-2])/12\)`).MatchString(bar) {
		t.Errorf("the bar was not redrawn with the failed target and the count done:\n%q", bar)
	}
	if quiet := onTerminal("--quiet"); strings.Contains(quiet, "scanning:") || strings.Contains(quiet, "fleet:") {
		t.Errorf("--quiet on a terminal shows:\n%q", quiet)
	}
	var pipe bytes.Buffer
	if _, err := run(&pipe); exitCode(err) != 1 {
		t.Errorf("exit %d (%v)", exitCode(err), err)
	}
	if strings.Contains(pipe.String(), "scanning:") || strings.Contains(pipe.String(), "\r") {
		t.Errorf("a pipe got the progress bar:\n%q", pipe.String())
	}
	if !strings.Contains(pipe.String(), "fleet: 12 targets") {
		t.Errorf("a pipe's stderr has no summary:\n%s", pipe.String())
	}
	// A file is not a terminal either.
	f, err := os.Create(t.TempDir() + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if isTTY(f) || !isTTY(tty) || !isTTY(&lockedWriter{w: tty}) {
		t.Error("isTTY wrong about a file or a terminal")
	}
}

// TestScanBMCRequests: --bmc-requests bounds the requests in flight to one
// BMC, whatever the fleet's concurrency.
func TestScanBMCRequests(t *testing.T) {
	tree, err := redfishmock.Embedded(defaultMockTree)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3} {
		var inFlight, peak atomic.Int32
		mock := redfishmock.New(tree, redfishmock.WithCredentials("admin", "password"), redfishmock.WithLatency(15*time.Millisecond))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			mock.ServeHTTP(w, r)
		}))
		var stdout, stderr bytes.Buffer
		a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(map[string]string{envUsername: "admin", envPassword: "password"})}
		err := a.run(context.Background(), []string{"scan", "--json", "--bmc-requests", fmt.Sprint(limit), "--max-log-entries", "50", srv.URL})
		srv.Close()
		if err != nil {
			t.Fatalf("--bmc-requests %d: %v\n%s", limit, err, stderr.String())
		}
		if p := peak.Load(); p > int32(limit) || (limit > 1 && p < 2) {
			t.Errorf("--bmc-requests %d: %d requests in flight at once", limit, p)
		}
	}
	if err := (&app{stdout: io.Discard, stderr: io.Discard, lookupEnv: envFrom(nil)}).run(context.Background(), []string{"scan", "--bmc-requests", "0", "https://bmc1"}); exitCode(err) != 2 {
		t.Errorf("--bmc-requests 0: %v, want a usage error", err)
	}
}

// errWriter fails every write, as a closed pipe does.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) { w.n++; return 0, errors.New("broken pipe") }

// TestScanJSONLinesStopsWhenTheReaderIsGone: once stdout refuses a line,
// the targets not yet started are not scanned.
func TestScanJSONLinesStopsWhenTheReaderIsGone(t *testing.T) {
	snaps := map[string]*model.Snapshot{}
	var args []string
	for i := range 40 {
		ep := fmt.Sprintf("https://bmc-%02d", i)
		snaps[ep] = fleetSnap(model.HealthOK, model.HealthOK, 5400)
		args = append(args, ep)
	}
	var scanned atomic.Int32
	fake := fleetFake(t, snaps)
	a := &app{stdout: &errWriter{}, stderr: io.Discard, lookupEnv: envFrom(nil), scanTarget: func(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
		scanned.Add(1)
		return fake(ctx, req)
	}}
	err := a.run(context.Background(), append([]string{"scan", "--json", "--concurrency", "2"}, args...))
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("err = %v, want the write error", err)
	}
	if n := scanned.Load(); n > 4 {
		t.Errorf("%d of 40 targets scanned after the output failed", n)
	}
}
