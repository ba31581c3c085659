// Command agent measures the prefail agent at fleet scale: it serves N mock
// Redfish BMCs on loopback (each a real HTTP server with sessions, playing
// a healthy scenario with daily load cycles on the wall clock), runs the
// prefail binary as `prefail agent` against them in a child process, and
// reports the child's CPU (share of one core) and memory (RSS) after a
// warm-up, the requests per round, and the store's growth per BMC per day.
//
//	go run ./bench/agent -bmcs 500 -interval 60s -warmup 2 -rounds 5
//
// The BMCs run in this process, the agent in its own, so that the figures
// are the agent's alone (read from /proc/PID).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agent:", err)
		os.Exit(1)
	}
}

type config struct {
	bmcs     int
	interval time.Duration
	warmup   int
	rounds   int
	prefail  string
	scenario string
	keep     string
	extra    string
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var c config
	fs := flag.NewFlagSet("bench/agent", flag.ContinueOnError)
	fs.IntVar(&c.bmcs, "bmcs", 500, "mock BMCs to watch")
	fs.DurationVar(&c.interval, "interval", 60*time.Second, "the agent's round interval")
	fs.IntVar(&c.warmup, "warmup", 2, "rounds before measuring")
	fs.IntVar(&c.rounds, "rounds", 5, "rounds measured")
	fs.StringVar(&c.prefail, "prefail", "", "the prefail binary (default: built from this module)")
	fs.StringVar(&c.scenario, "scenario", "healthy-busy", "the embedded scenario every BMC plays")
	fs.StringVar(&c.keep, "dir", "", "work directory (default: a temporary one, removed)")
	fs.StringVar(&c.extra, "agent-flags", "", "more flags for prefail agent, space-separated (\"--concurrency 8 --memory-limit 96\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := c.keep
	if dir == "" {
		d, err := os.MkdirTemp("", "prefail-bench-agent-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if c.prefail == "" {
		c.prefail = filepath.Join(dir, "prefail")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.prefail, "./cmd/prefail")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building prefail (run from the module root): %w", err)
		}
	}
	sc, err := redfishmock.EmbeddedScenario(c.scenario)
	if err != nil {
		return err
	}
	tree, err := sc.BaseTree()
	if err != nil {
		return err
	}
	fleetCtx, stopFleet := context.WithCancel(ctx)
	defer stopFleet()
	var targets []string
	for i := 0; i < c.bmcs; i++ {
		m := redfishmock.New(tree, redfishmock.WithScenario(sc))
		// Each BMC a day apart in its story, so that the fleet is not in
		// lockstep; simulated time follows the wall clock.
		m.SetTime(time.Duration(i%30) * 24 * time.Hour)
		go func() { _ = m.RunClock(fleetCtx, 1, time.Second) }()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listening for BMC %d (raise ulimit -n?): %w", i, err)
		}
		srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		targets = append(targets, "http://"+ln.Addr().String())
	}
	targetsFile := filepath.Join(dir, "bmcs.txt")
	if err := os.WriteFile(targetsFile, []byte(strings.Join(targets, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	store := filepath.Join(dir, "store")
	agentArgs := append([]string{"agent", "--targets", targetsFile, "--store", store, "--events", filepath.Join(dir, "events.jsonl"),
		"--listen", listen, "--interval", c.interval.String(), "--log-level", "error"}, strings.Fields(c.extra)...)
	cmd := exec.CommandContext(ctx, c.prefail, agentArgs...)
	cmd.Env = append(os.Environ(), "PREFAIL_USERNAME="+redfishmock.DefaultUser, "PREFAIL_PASSWORD="+redfishmock.DefaultPassword)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid
	fmt.Fprintf(stdout, "agent pid %d watching %d mock BMCs (%s) every %s (flags: %q); warm-up %d rounds, then %d measured\n",
		pid, c.bmcs, c.scenario, c.interval, c.extra, c.warmup, c.rounds)

	metrics := "http://" + listen + "/metrics"
	// Progress is read off /metrics once per interval, as a Prometheus
	// scraping at the round interval would: a scrape of 500 BMCs' series
	// is itself work (about a second of CPU), part of the agent's cost.
	scrape := func() (scans, requests float64) {
		scans, _ = metricSum(ctx, metrics, "prefail_scans_total")
		requests, _ = metricSum(ctx, metrics, "prefail_bmc_requests_total")
		return scans, requests
	}
	// Warm-up: the first rounds (logins, first full reads, histories
	// starting), then a little more so that measuring starts between
	// rounds.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(c.warmup)*c.interval + c.interval/2):
	}
	scans0, req0 := scrape()
	if scans0 < float64(c.warmup*c.bmcs) {
		return fmt.Errorf("after the warm-up the agent had scanned %v times, want %d: too slow for this interval", scans0, c.warmup*c.bmcs)
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	size0 := dirSize(store)
	start := time.Now()
	// Sample the RSS every second for whole intervals.
	var rssMax, rssSum, rssN int64
	next := start.Add(c.interval)
	for i := 0; i < c.rounds; {
		rss, err := rssBytes(pid)
		if err == nil {
			rssMax = max(rssMax, rss)
			rssSum += rss
			rssN++
		}
		if time.Now().After(next) {
			scrape()
			next = next.Add(c.interval)
			i++
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	elapsed := time.Since(start)
	cpu1, err := cpuTime(pid)
	if err != nil {
		return err
	}
	size1 := dirSize(store)
	scans1, req1 := scrape()
	hwm, _ := statusField(pid, "VmHWM:")
	anon, _ := statusField(pid, "RssAnon:")
	file, _ := statusField(pid, "RssFile:")
	cpuShare := (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	perDay := float64(size1-size0) / float64(c.bmcs) / elapsed.Hours() * 24
	fmt.Fprintf(stdout, "measured %d rounds in %s\n", c.rounds, elapsed.Round(time.Second))
	fmt.Fprintf(stdout, "cpu: %.2f%% of one core (%s of CPU time)\n", 100*cpuShare, (cpu1 - cpu0).Round(time.Millisecond))
	fmt.Fprintf(stdout, "rss: mean %.0f MB, max %.0f MB (VmHWM since start %.0f MB); at the end %.0f MB anonymous, %.0f MB file pages (the store's mmap)\n",
		float64(rssSum)/float64(max(rssN, 1))/1e6, float64(rssMax)/1e6, float64(hwm)/1e6, float64(anon)/1e6, float64(file)/1e6)
	fmt.Fprintf(stdout, "scans: %.0f in the window (%d BMCs x %d rounds), %.1f requests per scan\n", scans1-scans0, c.bmcs, c.rounds, (req1-req0)/max(scans1-scans0, 1))
	fmt.Fprintf(stdout, "store: %d bytes now; growth %.0f bytes per BMC per day at this interval (bbolt grows in steps: run longer for a steadier figure)\n", size1, perDay)
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// metricSum sums a metric's samples in the Prometheus text format.
func metricSum(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, errors.New(name + " not served yet")
	}
	return sum, sc.Err()
}

// cpuTime is the process's user+system time (/proc/PID/stat fields 14, 15).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func rssBytes(pid int) (int64, error) { return statusField(pid, "VmRSS:") }

func statusField(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
