package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// newMockServer serves the embedded tree over plain HTTP with the
// credentials admin/password and returns its URL.
func newMockServer(t *testing.T, password string) string {
	t.Helper()
	tree, err := redfishmock.Embedded(defaultMockTree)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(redfishmock.New(tree, redfishmock.WithCredentials("admin", password)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scan", "smart://x"}, 2, "smart://x: scheme not supported yet; supported: https, http, ipmi"},
		{[]string{"scan", "https://ok", "smart://bmc7:623"}, 2, "smart://bmc7:623: scheme not supported yet; supported: https, http, ipmi"},
		{[]string{"scan"}, 2, "no targets"},
		{[]string{"scan", "--password", "x", "https://bmc1"}, 2, "unknown flag: --password"},
		{[]string{"scan", "--concurrency", "0", "https://bmc1"}, 2, "--concurrency"},
		{[]string{"scan", "--timeout", "0s", "https://bmc1"}, 2, "--timeout"},
		{[]string{"scan", "--targets", "/nonexistent/targets.txt"}, 2, "/nonexistent/targets.txt"},
		{[]string{"scan", "--ca-file", "/nonexistent/ca.pem", "https://bmc1"}, 2, "--ca-file"},
		{[]string{"scan", "--password-file", "/nonexistent/pw", "https://bmc1"}, 1, "password file"},
		{[]string{"scan", "https://admin:hunter2@bmc1"}, 2, "credentials in the URL are not accepted"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{}, 2, "no command given"},
		{[]string{"--log-level", "loud", "version"}, 2, "--log-level"},
		{[]string{"demo", "--at", "13d"}, 2, "--at needs --scenario"},
		{[]string{"demo", "--tree", "no-such-tree"}, 2, "no such embedded tree"},
		{[]string{"mock", "a", "b"}, 2, "at most 1 argument"},
		{[]string{"version", "extra"}, 2, "at most 0 argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d (err %v); want %d", got, err, tt.code)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "prefail ") {
		t.Errorf("version: %q", stdout.String())
	}
}

func TestHelpNamesCommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"scan", "mock", "demo", "version"} {
		if !strings.Contains(stdout.String(), c) {
			t.Errorf("help lacks %q", c)
		}
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"scan", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "--password ") {
		t.Error("scan has a --password flag")
	}
}

// TestHangingTargetFake: a target that never answers times out with an
// error while the other targets' results are still reported.
func TestHangingTargetFake(t *testing.T) {
	fs := &fakeScanner{answer: map[string]func(context.Context) (*model.Snapshot, error){
		"https://hangs": func(ctx context.Context) (*model.Snapshot, error) {
			select {} // ignores ctx entirely: scanOne must stop waiting anyway
		},
		"https://fails": func(ctx context.Context) (*model.Snapshot, error) {
			return nil, errors.New("connection refused")
		},
	}}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, scanTarget: fs.scan, lookupEnv: envFrom(nil)}
	start := time.Now()
	err := a.run(context.Background(), []string{"scan", "--json-document", "--timeout", "300ms", "https://hangs", "https://fine", "https://fails"})
	// The deadline, then the grace a reader gets to log out and hand over
	// what it read.
	if took := time.Since(start); took > 300*time.Millisecond+agent.ReaderGrace+time.Second {
		t.Errorf("took %s", took)
	}
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "2 of 3 targets failed") {
		t.Errorf("err = %v", err)
	}
	doc := decodeReport(t, stdout.Bytes())
	if e := doc.Targets[0].Error; !strings.Contains(e, "timed out after 300ms") {
		t.Errorf("hanging target error = %q", e)
	}
	if doc.Targets[1].Error != "" || doc.Targets[1].Snapshot == nil || doc.Targets[1].Snapshot.Requests != 3 {
		t.Errorf("fine target: %+v", doc.Targets[1])
	}
	if e := doc.Targets[2].Error; e != "connection refused" {
		t.Errorf("failing target error = %q", e)
	}
}

// TestHangingTargetReal is the same against real HTTP servers: one that
// never answers and the mock.
func TestHangingTargetReal(t *testing.T) {
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) })
	mock := newMockServer(t, "password")

	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(map[string]string{envUsername: "admin", envPassword: "password"})}
	err := a.run(context.Background(), []string{"scan", "--json-document", "--timeout", "2s", hanging.URL, mock})
	if exitCode(err) != 1 {
		t.Errorf("err = %v; want exit 1", err)
	}
	doc := decodeReport(t, stdout.Bytes())
	if e := doc.Targets[0].Error; !strings.Contains(e, "timed out after 2s") {
		t.Errorf("hanging target error = %q", e)
	}
	if r := doc.Targets[1]; r.Error != "" || r.Snapshot == nil || len(r.Snapshot.Components) == 0 {
		t.Errorf("mock target: error %q, snapshot %v", r.Error, r.Snapshot != nil)
	}
}

type report struct {
	SchemaVersion int `json:"schema_version"`
	Targets       []struct {
		Target   string          `json:"target"`
		Error    string          `json:"error"`
		Snapshot *model.Snapshot `json:"snapshot"`
	} `json:"targets"`
}

func decodeReport(t *testing.T, b []byte) report {
	t.Helper()
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, b)
	}
	return r
}

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startMock runs `prefail mock args...` and returns its stdout once it
// prints the URL it listens on, and the function that stops it.
func startMock(t *testing.T, args ...string) (url string, stdout *syncBuffer, stopMock func() error) {
	url, stdout, _, stopMock = startMockStderr(t, args...)
	return url, stdout, stopMock
}

func startMockStderr(t *testing.T, args ...string) (url string, stdout, stderr *syncBuffer, stopMock func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"mock"}, args...), stdout, stderr) }()
	re := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("mock exited: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("mock did not start\nstdout: %s\nstderr: %s", stdout, stderr)
		}
	}
	var once sync.Once
	var stopErr error
	stopMock = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				stopErr = errors.New("mock did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stopMock() })
	return url, stdout, stderr, stopMock
}

func getServiceRoot(t *testing.T, client *http.Client, url string) map[string]any {
	t.Helper()
	resp, err := client.Get(url + "/redfish/v1/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET service root: %s\n%s", resp.Status, body)
	}
	var root map[string]any
	if err := json.Unmarshal(body, &root); err != nil {
		t.Fatalf("service root: %v", err)
	}
	return root
}

func TestMockServesServiceRoot(t *testing.T) {
	url, stdout, stop := startMock(t, "--listen", "127.0.0.1:0")
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("url = %q", url)
	}
	root := getServiceRoot(t, http.DefaultClient, url)
	if root["@odata.id"] != "/redfish/v1" && root["@odata.id"] != "/redfish/v1/" {
		t.Errorf("service root @odata.id = %v", root["@odata.id"])
	}
	if !strings.Contains(stdout.String(), "credentials: admin / password") {
		t.Errorf("no credentials hint:\n%s", stdout)
	}
	if err := stop(); err != nil {
		t.Errorf("mock returned %v after interrupt", err)
	}
}

func TestMockTLSAndPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "mock-secret-42\n")
	url, stdout, stop := startMock(t, "--listen", "127.0.0.1:0", "--tls", "--password-file", pw, "--tree", "public-tower")
	if strings.Contains(stdout.String(), "mock-secret-42") {
		t.Errorf("mock printed the password from the file:\n%s", stdout)
	}
	m := regexp.MustCompile(`certificate \(PEM\): (\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no certificate path printed:\n%s", stdout)
	}
	pem, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("certificate file holds no PEM certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	getServiceRoot(t, client, url)

	// And scan verifies it with --ca-file.
	var sout, serr bytes.Buffer
	a := &app{stdout: &sout, stderr: &serr, lookupEnv: envFrom(map[string]string{envUsername: "admin"})}
	err = a.run(context.Background(), []string{"scan", "--ca-file", m[1], "--password-file", pw, url})
	if strings.Contains(sout.String()+serr.String(), "mock-secret-42") {
		t.Error("scan printed the password")
	}
	if err != nil {
		t.Errorf("scan with --ca-file: %v\n%s%s", err, &sout, &serr)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestScanTLSWithoutCAHints(t *testing.T) {
	url, stdout, _ := startMock(t, "--listen", "127.0.0.1:0", "--tls")
	_ = stdout
	var sout, serr bytes.Buffer
	a := &app{stdout: &sout, stderr: &serr, lookupEnv: envFrom(map[string]string{envUsername: "admin", envPassword: "password"})}
	err := a.run(context.Background(), []string{"scan", url})
	if exitCode(err) != 1 {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(sout.String(), "--ca-file") || !strings.Contains(sout.String(), "insecure=true") {
		t.Errorf("a TLS verification failure must suggest --ca-file / insecure=true:\n%s", &sout)
	}
}

func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"demo"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	var psu string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Power Supply Bay 1") {
			psu = l
			break
		}
	}
	if psu == "" {
		t.Fatalf("demo output does not name PSU \"Power Supply Bay 1\":\n%s", out)
	}
	if regexp.MustCompile(`\sok\s`).MatchString(psu) {
		t.Errorf("Power Supply Bay 1 shows ok: %q", psu)
	}
	m := regexp.MustCompile(`requests: (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no request count in:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("requests: %d", n)
	}
}

func TestDemoJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"demo", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo --json: %v\n%s", err, &stderr)
	}
	doc := decodeReport(t, stdout.Bytes())
	if len(doc.Targets) != 1 || doc.Targets[0].Snapshot == nil {
		t.Fatalf("report: %+v", doc)
	}
	s := doc.Targets[0].Snapshot
	if s.Requests < 1 {
		t.Errorf("requests = %d", s.Requests)
	}
	found := false
	for _, c := range s.Components {
		if c.Kind == model.KindPSU && c.Name == "Power Supply Bay 1" {
			found = true
			if c.Health == model.HealthOK {
				t.Errorf("PSU Bay 1 health ok")
			}
		}
	}
	if !found {
		t.Error("no PSU named Power Supply Bay 1")
	}
}

func TestDemoScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"demo", "--scenario", "aging-server", "--at", "13d"}, &stdout, &stderr)
	if !strings.Contains(stderr.String(), "aging-server at 13d") {
		t.Errorf("stderr does not say which scenario and time:\n%s", &stderr)
	}
	if err != nil {
		t.Fatalf("demo --scenario: %v\n%s%s", err, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "requests: ") {
		t.Errorf("no scan output:\n%s", &stdout)
	}
}

// TestMockScenarioClockAdvances checks that --scenario makes simulated time
// run at the scenario's speed from --at.
func TestSimClock(t *testing.T) {
	tree, err := redfishmock.Embedded(defaultMockTree)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := redfishmock.EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	sc.Speed = 3600
	srv := redfishmock.New(tree, redfishmock.WithScenario(sc), redfishmock.WithoutAuth())
	now := time.Unix(0, 0)
	clock := newSimClock(srv, sc, 24*time.Hour, func() time.Time { return now })
	if got := srv.Time(); got != 24*time.Hour {
		t.Errorf("start time %s", got)
	}
	now = now.Add(2 * time.Second)
	rec := httptest.NewRecorder()
	clock.ServeHTTP(rec, httptest.NewRequest("GET", "/redfish/v1/", nil))
	if got := srv.Time(); got != 26*time.Hour {
		t.Errorf("after 2s at 3600x: %s; want 26h", got)
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status %d", rec.Code)
	}
}

func TestTargetsFileFormatDocumented(t *testing.T) {
	// The README documents the targets file; keep its example parseable.
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	in, block := false, []string{}
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```targets"):
			in = true
		case in && strings.HasPrefix(l, "```"):
			in = false
		case in:
			block = append(block, l)
		}
	}
	if len(block) == 0 {
		t.Fatal("README.md has no ```targets block")
	}
	ts, err := parseTargets(context.Background(), strings.NewReader(strings.Join(block, "\n")), "README.md", "")
	if err != nil || len(ts) == 0 {
		t.Fatalf("README targets example: %v (%d targets)", err, len(ts))
	}
}

func TestScanConcurrencyBound(t *testing.T) {
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	slow := func(ctx context.Context) (*model.Snapshot, error) {
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return &model.Snapshot{Requests: 1, Components: []model.Component{{Kind: model.KindFan, ID: "fan1", Health: model.HealthOK}}}, nil
	}
	fs := &fakeScanner{answer: map[string]func(context.Context) (*model.Snapshot, error){}}
	args := []string{"scan", "--concurrency", "3"}
	for i := range 10 {
		u := fmt.Sprintf("https://bmc%d", i)
		fs.answer[u] = slow
		args = append(args, u)
	}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, scanTarget: fs.scan, lookupEnv: envFrom(nil)}
	if err := a.run(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	if maxInFlight != 3 {
		t.Errorf("max in flight %d; want 3", maxInFlight)
	}
	if n := strings.Count(stdout.String(), "== https://bmc"); n != 10 {
		t.Errorf("%d targets reported; want 10", n)
	}
}

func TestScanInterrupted(t *testing.T) {
	fs := &fakeScanner{answer: map[string]func(context.Context) (*model.Snapshot, error){
		"https://bmc1": func(ctx context.Context) (*model.Snapshot, error) { <-ctx.Done(); return nil, ctx.Err() },
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, scanTarget: fs.scan, lookupEnv: envFrom(nil)}
	err := a.run(ctx, []string{"scan", "https://bmc1"})
	if exitCode(err) != 1 || !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("err %v, stdout:\n%s", err, &stdout)
	}
}

func TestMockNonLoopbackWarns(t *testing.T) {
	_, _, stderr, stop := startMockStderr(t, "--listen", "0.0.0.0:0")
	if !strings.Contains(stderr.String(), "warning: listening on") || !strings.Contains(stderr.String(), "reachable from other machines") {
		t.Errorf("no warning for a non-loopback address:\n%s", stderr)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
	_, _, stderr, _ = startMockStderr(t, "--listen", "127.0.0.1:0")
	if strings.Contains(stderr.String(), "warning") {
		t.Errorf("warning on loopback:\n%s", stderr)
	}
}

func TestMockNoAuth(t *testing.T) {
	get := func(url string) int {
		resp, err := http.Get(url + "/redfish/v1/Systems")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	url, stdout, _ := startMock(t, "--listen", "127.0.0.1:0", "--no-auth", "--no-expand", "--dmtf-compat", "--latency", "1ms")
	if code := get(url); code != http.StatusOK {
		t.Errorf("--no-auth: GET Systems = %d", code)
	}
	if !strings.Contains(stdout.String(), "credentials: none needed") {
		t.Errorf("stdout:\n%s", stdout)
	}
	url, _, _ = startMock(t, "--listen", "127.0.0.1:0")
	if code := get(url); code != http.StatusUnauthorized {
		t.Errorf("default: GET Systems without credentials = %d; want 401", code)
	}
}
