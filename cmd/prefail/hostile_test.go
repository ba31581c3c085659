//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefail/prefail/redfish/hostiletest"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// Bounds of the hostile fleet run (TestHostileFleetCLI).
const (
	// hostileFleetTimeout is the run's --timeout.
	hostileFleetTimeout = 5 * time.Second
	// hostileLogout is what a reader may take past a target's deadline to
	// log out and hand over what it read (redfish: a 3 s detached context).
	hostileLogout = 4 * time.Second
	// hostileFleetBound bounds the whole run at the default concurrency
	// (8). Every target either fails fast (a refusal, a 503, a TLS error,
	// a body cut at the cap) or runs into its deadline (the slow loris,
	// and on a slow machine the 100,000 members and the big bodies); those
	// are fewer than 8, so they run side by side, each for at most
	// timeout + logout, while the fast targets cycle through the other
	// slots. The bound is one such window plus a margin for the fast
	// targets and for -race: timeout + logout + 6 s = 15 s.
	hostileFleetBound = hostileFleetTimeout + hostileLogout + 6*time.Second
)

func hostilePassword(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "pw-" + hex.EncodeToString(b)
}

// hostileTargetLine is the targets-file line that scans h as its case
// means: its CA when the client is to trust it, Basic auth when asked for.
func hostileTargetLine(h *hostiletest.Target) string {
	line := h.URL
	if h.Case.TLS.Trusted() {
		line += " ca-file=" + h.CAFile
	}
	if h.Case.BasicAuth {
		line += " basic-auth=true"
	}
	return line + "   # " + h.Case.Name
}

// waitHostileQuiet waits (bounded) until no request is being served by
// any of the targets: a scan the CLI stopped waiting for may still be
// logging out, or (if broken) following a link to the canary.
func waitHostileQuiet(targets []*hostiletest.Target, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy := false
		for _, h := range targets {
			if h.Running() > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostileFleetCLI runs `prefail scan` once over every hostile case plus
// two healthy mock BMCs: the healthy ones are reported in full, the run
// fails (exit status 1), the password and the session tokens appear in
// neither stdout nor stderr (at debug level), nothing reaches a canary or
// a downgrade listener, and the whole run ends within hostileFleetBound.
func TestHostileFleetCLI(t *testing.T) {
	secret := hostilePassword(t)
	env := envFrom(map[string]string{envUsername: "admin", envPassword: secret})
	dir := t.TempDir()

	var hostile []*hostiletest.Target
	var lines []string
	for _, c := range hostiletest.Cases() {
		h := hostiletest.Start(t, c, "admin", secret)
		hostile = append(hostile, h)
		lines = append(lines, hostileTargetLine(h))
	}

	// Two healthy BMCs, and what a scan of each alone reports.
	healthy := map[string]int{} // URL -> components of a solo scan
	for _, name := range []string{"public-rackmount1", "public-tower"} {
		tree, err := redfishmock.Embedded(name)
		if err != nil {
			t.Fatal(err)
		}
		ts := redfishtest.NewServer(tree, redfishmock.WithCredentials("admin", secret))
		t.Cleanup(ts.Close)
		var out, errOut bytes.Buffer
		solo := &app{stdout: &out, stderr: &errOut, lookupEnv: env}
		if err := solo.run(context.Background(), []string{"scan", "--json-document", "--timeout", hostileFleetTimeout.String(), ts.URL}); err != nil {
			t.Fatalf("solo scan of healthy %s: %v\n%s", name, err, &errOut)
		}
		doc := decodeReport(t, out.Bytes())
		if len(doc.Targets) != 1 || doc.Targets[0].Snapshot == nil || len(doc.Targets[0].Snapshot.Components) == 0 {
			t.Fatalf("solo scan of healthy %s reported nothing: %s", name, &out)
		}
		healthy[ts.URL] = len(doc.Targets[0].Snapshot.Components)
		lines = append(lines, ts.URL+"   # healthy "+name)
	}
	file := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr syncBuffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: env}
	start := time.Now()
	err := a.run(context.Background(), []string{"scan", "--targets", file, "--timeout", hostileFleetTimeout.String(), "--json-document", "--log-level", "debug"})
	took := time.Since(start)

	if took > hostileFleetBound {
		t.Errorf("DEADLINE: the run over %d targets took %s; want at most %s (--timeout %s + logout %s + 6 s, default concurrency 8)",
			len(lines), took.Round(time.Millisecond), hostileFleetBound, hostileFleetTimeout, hostileLogout)
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("EXIT: exit status %d (err %v); want 1: hostile targets failed", code, err)
	}

	doc := decodeReport(t, []byte(stdout.String()))
	byTarget := map[string]int{}
	for i, r := range doc.Targets {
		byTarget[r.Target] = i
	}
	if len(doc.Targets) != len(lines) {
		t.Errorf("REPORT: %d targets reported; want %d", len(doc.Targets), len(lines))
	}
	for url, want := range healthy {
		i, ok := byTarget[url]
		if !ok {
			t.Errorf("HEALTHY: %s is missing from the report", url)
			continue
		}
		r := doc.Targets[i]
		got := 0
		if r.Snapshot != nil {
			got = len(r.Snapshot.Components)
		}
		if r.Error != "" || got != want {
			t.Errorf("HEALTHY: %s among hostile targets: %d components, error %q; a solo scan reports %d and no error", url, got, r.Error, want)
		}
	}
	for _, h := range hostile {
		i, ok := byTarget[h.URL]
		if !ok {
			t.Errorf("REPORT: hostile target %s (%s) is missing from the report", h.URL, h.Case.Name)
			continue
		}
		switch h.Case.Want.Err {
		case hostiletest.Either, hostiletest.Success:
		default:
			// The scan fails (a refused login, no components, a TLS
			// error, ...): the target must be reported as failed.
			if doc.Targets[i].Error == "" {
				t.Errorf("REPORT: %s (%s) is reported without an error; the scan must fail (%s)", h.URL, h.Case.Name, h.Case.Want.Err)
			}
		}
	}

	// A scan the CLI stopped waiting for may still be running: let the
	// servers go quiet before looking at what reached them.
	waitHostileQuiet(hostile, hostileLogout)
	out := stdout.String() + stderr.String()
	for _, h := range hostile {
		if hits := h.Canary.Hits(); !hits.Untouched() {
			t.Errorf("CANARY: %s: the canary got %s", h.Case.Name, hits)
		}
		if hits := h.Downgrade.Hits(); !hits.Untouched() {
			t.Errorf("DOWNGRADE: %s: the plain-HTTP listener got %s", h.Case.Name, hits)
		}
		st := h.Stats()
		if !h.Case.BasicAuth && st.Authorization > 0 {
			t.Errorf("BASIC: %s: %d request(s) carried an Authorization header; Basic auth was not configured", h.Case.Name, st.Authorization)
		}
		if st.Open() != h.Case.Want.OpenSessions {
			t.Errorf("SESSIONS: %s: %d session(s) left open (%d created, %d deleted); want %d", h.Case.Name, st.Open(), st.Created, st.Deleted, h.Case.Want.OpenSessions)
		}
		for i, s := range h.Secrets() {
			if i == 0 && strings.Contains(out, s) {
				t.Errorf("LEAK: the password appears in the output (%s)", h.Case.Name)
			} else if i == 1 && strings.Contains(out, s) {
				t.Errorf("LEAK: the Basic credentials appear in the output (%s)", h.Case.Name)
			} else if i > 1 && strings.Contains(out, s) {
				t.Errorf("LEAK: session token #%d issued by %s appears in the output", i-1, h.Case.Name)
			}
		}
	}
	if t.Failed() {
		t.Logf("run took %s, err %v", took.Round(time.Millisecond), err)
		for _, r := range doc.Targets {
			n := 0
			if r.Snapshot != nil {
				n = len(r.Snapshot.Components)
			}
			t.Logf("%s: %d components, error %q", r.Target, n, truncateHostile(r.Error, 240))
		}
	}
}

func truncateHostile(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Environment of the RSS helper process.
const (
	envHelper     = "GO_WANT_HELPER_PROCESS"
	envHelperArgs = "PREFAIL_HOSTILE_RSS_ARGS"
)

// TestHostileRSSHelper is not a test: it is the child process
// BenchmarkHostileRSS re-executes, running `prefail` with the arguments in
// $PREFAIL_HOSTILE_RSS_ARGS (credentials from the real environment), so
// that the child's peak RSS is the CLI's alone (the hostile servers run in
// the parent).
func TestHostileRSSHelper(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process for BenchmarkHostileRSS")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envHelperArgs)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "helper: bad %s: %v\n", envHelperArgs, err)
		os.Exit(3)
	}
	err := run(context.Background(), args, io.Discard, os.Stderr)
	os.Exit(exitCode(err))
}

// BenchmarkHostileRSS measures the peak resident memory of a `prefail scan`
// process (a child re-executing this test binary) against hostile BMCs.
// one-200MB-body: one target whose PSU metrics are a 200 MB body (target:
// peak_rss_MB <= 256). 30-hostile: 30 memory-hostile targets at once
// (--concurrency 30: 200 MB bodies, 200 MB service roots, three 60 MB
// collections, JSON value bombs, 100,000-member collections and slow
// lorises, five of each; target: peak_rss_MB <= 512). 30-healthy: 30
// healthy mock BMCs at once, for comparison. Run it with
//
//	go test ./cmd/prefail -run '^$' -bench BenchmarkHostileRSS -benchtime 1x
//
// Memory is only measured here, never asserted in unit tests.
func BenchmarkHostileRSS(b *testing.B) {
	secret := hostilePassword(b)
	var heavy []hostiletest.Case
	for _, c := range hostiletest.Cases() {
		if c.Heavy {
			heavy = append(heavy, c)
		}
	}
	if len(heavy) == 0 {
		b.Fatal("no heavy hostile case")
	}
	b.Run("one-200MB-body", func(b *testing.B) {
		c, ok := hostiletest.Lookup("body-200MB-subresource")
		if !ok {
			b.Fatal("no case body-200MB-subresource")
		}
		h := hostiletest.Start(b, c, "admin", secret)
		benchRSS(b, secret, []string{hostileTargetLine(h)}, 8)
	})
	b.Run("30-hostile", func(b *testing.B) {
		var lines []string
		for i := range 30 {
			h := hostiletest.Start(b, heavy[i%len(heavy)], "admin", secret)
			lines = append(lines, hostileTargetLine(h))
		}
		benchRSS(b, secret, lines, 30)
	})
	b.Run("30-healthy", func(b *testing.B) {
		tree, err := redfishmock.Embedded(hostiletest.Tree)
		if err != nil {
			b.Fatal(err)
		}
		var lines []string
		for range 30 {
			ts := redfishtest.NewServer(tree, redfishmock.WithCredentials("admin", secret))
			b.Cleanup(ts.Close)
			lines = append(lines, ts.URL)
		}
		benchRSS(b, secret, lines, 30)
	})
}

// BenchmarkHostileRSSByCase is the 30-hostile mix taken apart: 30 targets
// of one memory-heavy case at a time (--concurrency 30), to find which
// case a high peak in BenchmarkHostileRSS/30-hostile comes from.
//
//	go test ./cmd/prefail -run '^$' -bench BenchmarkHostileRSSByCase -benchtime 1x
func BenchmarkHostileRSSByCase(b *testing.B) {
	secret := hostilePassword(b)
	for _, c := range hostiletest.Cases() {
		if !c.Heavy {
			continue
		}
		b.Run(c.Name, func(b *testing.B) {
			var lines []string
			for range 30 {
				lines = append(lines, hostileTargetLine(hostiletest.Start(b, c, "admin", secret)))
			}
			benchRSS(b, secret, lines, 30)
		})
	}
}

// benchRSS runs `prefail scan --targets FILE --concurrency N --json` in a
// child process per iteration and reports the largest peak RSS.
func benchRSS(b *testing.B, secret string, lines []string, concurrency int) {
	b.Helper()
	file := filepath.Join(b.TempDir(), "targets.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	args, err := json.Marshal([]string{"scan", "--targets", file, "--timeout", hostileFleetTimeout.String(),
		"--concurrency", fmt.Sprint(concurrency), "--json-document", "--log-level", "error"})
	if err != nil {
		b.Fatal(err)
	}
	var peakKB int64
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostileRSSHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), envHelper+"=1", envHelperArgs+"="+string(args),
			envUsername+"=admin", envPassword+"="+secret)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			b.Fatalf("helper process: %v\n%s", err, truncateHostile(stderr.String(), 4000))
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatal("no rusage for the helper process")
		}
		peakKB = max(peakKB, ru.Maxrss) // kilobytes on Linux
	}
	b.ReportMetric(float64(peakKB)/1024, "peak_rss_MB")
}
