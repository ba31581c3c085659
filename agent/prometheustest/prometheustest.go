// Package prometheustest runs a real Prometheus server (the Debian
// prometheus package's /usr/bin/prometheus) for tests: it scrapes the
// given targets on loopback and answers PromQL through its HTTP API, so a
// test can check that what the agent exposes is scraped, parsed and
// queried the way an operator's Prometheus would.
//
// The prometheus binary is required: without it a test fails (it is not
// skipped), saying how to install it.
package prometheustest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is where Start looks for Prometheus when it is not on PATH.
const Binary = "/usr/bin/prometheus"

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is the server's base URL: http://127.0.0.1:port.
	URL string

	t      testing.TB
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // the process's exit status, once done
	log    *logBuffer
	client *http.Client
	stop   sync.Once
}

// Sample is one element of a query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Vector is a query's result: an instant vector, or a scalar as one
// sample without labels.
type Vector []Sample

// String prints the vector one sample a line, for failure messages.
func (v Vector) String() string {
	var b strings.Builder
	for _, s := range v {
		fmt.Fprintf(&b, "%v => %g\n", s.Labels, s.Value)
	}
	if b.Len() == 0 {
		return "(empty)\n"
	}
	return b.String()
}

// Start writes a configuration that scrapes scrapeTargets (host:port,
// path /metrics) every interval, starts Prometheus on a free port of
// 127.0.0.1 with its storage in a temporary directory, waits until it is
// ready, and stops it when the test ends. It fails the test if the
// prometheus binary is missing or does not get ready.
func Start(t testing.TB, scrapeTargets []string, interval time.Duration) *Prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		bin = Binary
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("prometheustest: the prometheus binary is not installed (%v): apt-get install prometheus; .ci/run installs it", err)
		}
	}
	if interval <= 0 {
		interval = time.Second
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(Config(scrapeTargets, interval)), 0o644); err != nil {
		t.Fatalf("prometheustest: %v", err)
	}

	// The free port is found by binding and releasing it, so another
	// process can take it in between: try again on a fresh port then.
	var last error
	for attempt := range 3 {
		p, err := start(t, bin, config, filepath.Join(dir, fmt.Sprintf("data%d", attempt)))
		if err == nil {
			return p
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("prometheustest: %v", last)
	return nil
}

// Config is the prometheus.yml Start writes.
func Config(scrapeTargets []string, interval time.Duration) string {
	timeout := interval * 8 / 10
	if timeout < time.Millisecond {
		timeout = interval
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %dms\n  scrape_timeout: %dms\n  evaluation_interval: %dms\n",
		interval.Milliseconds(), timeout.Milliseconds(), interval.Milliseconds())
	b.WriteString("scrape_configs:\n  - job_name: prefail\n    metrics_path: /metrics\n    static_configs:\n      - targets: [")
	for i, s := range scrapeTargets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	b.WriteString("]\n")
	return b.String()
}

func start(t testing.TB, bin, config, data string) (*Prometheus, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &Prometheus{
		URL:    "http://" + addr,
		t:      t,
		done:   make(chan struct{}),
		log:    &logBuffer{},
		client: &http.Client{Timeout: 10 * time.Second},
	}
	p.cmd = exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		resp, err := p.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("prometheus exited before it was ready (%v); its log:\n%s", p.err, p.log)
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("prometheus not ready at %s after 30s; its log:\n%s", p.URL, p.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s). It is called
// when the test ends; calling it earlier is fine.
func (p *Prometheus) Stop() {
	p.stop.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// Log returns what Prometheus logged so far.
func (p *Prometheus) Log() string { return p.log.String() }

// Query evaluates an instant PromQL query now (GET /api/v1/query). A
// result of another type than vector or scalar is an error.
func (p *Prometheus) Query(ctx context.Context, promql string) (Vector, error) {
	u := p.URL + "/api/v1/query?" + url.Values{"query": {promql}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: HTTP %d: %w: %.200s", promql, resp.StatusCode, err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", promql, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		v := make(Vector, 0, len(raw))
		for _, s := range raw {
			f, err := sampleValue(s.Value)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", promql, err)
			}
			v = append(v, Sample{Labels: s.Metric, Value: f})
		}
		return v, nil
	case "scalar":
		var raw [2]any
		if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		f, err := sampleValue(raw)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		return Vector{{Labels: map[string]string{}, Value: f}}, nil
	}
	return nil, fmt.Errorf("query %q: result type %q, want vector or scalar", promql, r.Data.ResultType)
}

// sampleValue decodes the API's [timestamp, "value"] pair.
func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v[1])
	}
	return strconv.ParseFloat(s, 64)
}

// WaitFor evaluates promql every 100 ms until cond accepts its result,
// and returns that result; when ctx ends first, it returns the last
// result and an error saying what it was.
func (p *Prometheus) WaitFor(ctx context.Context, promql string, cond func(Vector) bool) (Vector, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var (
		last    Vector
		lastErr error
	)
	for {
		v, err := p.Query(ctx, promql)
		if err == nil && cond(v) {
			return v, nil
		}
		if ctx.Err() == nil { // not the error of a query cut short
			last, lastErr = v, err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("waiting for %q: %w (last error: %v)", promql, ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("waiting for %q: %w; last result:\n%s", promql, ctx.Err(), last)
		case <-p.done:
			return last, fmt.Errorf("waiting for %q: prometheus exited (%v); its log:\n%s", promql, p.err, p.log)
		case <-tick.C:
		}
	}
}

// logBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads, bounded to its last 1 MiB.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len()+len(p) > 1<<20 {
		keep := b.buf.Bytes()[b.buf.Len()/2:]
		rest := append([]byte("[...]\n"), keep...)
		b.buf.Reset()
		b.buf.Write(rest)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
