// Command fleet measures `prefail scan` over a fleet of mock BMCs: it
// serves N mock Redfish BMCs on loopback in this process (each a real
// HTTP server on its own port, serving the embedded public-rackmount1 tree
// through redfishmock with L of latency on every response), runs the
// prefail binary as `prefail scan --targets FILE --json` in a child
// process, reads its output as it comes, and reports the wall time, the
// requests each BMC received, the child's peak RSS, and the ideal time:
// the requests on one BMC's critical path (see critical.go) x L x
// ceil(N / concurrency).
//
//	go run ./bench/fleet -n 1000 -latency 50ms
//	go run ./bench/fleet -n 1000 -latency 50ms -concurrency 128 -expand=false -gofish
//
// The last line reads exactly
//
//	wall=<s> ideal=<s> requests_per_bmc=<n> rss_mb=<n>
//
// The BMCs run in this process, the scan in its own, so that the RSS is
// the scan's alone; both share this machine's cores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fleet:", err)
		os.Exit(1)
	}
}

type config struct {
	n           int
	latency     time.Duration
	concurrency int // 0: the CLI's default
	expand      bool
	prefail     string
	gofish      bool
	gofishReqs  int
	dir         string
	tree        string
	timeout     time.Duration
	extra       string
	noCache     bool
	cpuProfile  string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("bench/fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 1000, "mock BMCs to scan")
	fs.DurationVar(&c.latency, "latency", 50*time.Millisecond, "latency of every mock response")
	fs.IntVar(&c.concurrency, "concurrency", 0, "prefail scan --concurrency (default: the CLI's own default, read from prefail scan --help)")
	fs.BoolVar(&c.expand, "expand", true, "mocks support $expand (false: like older iDRACs and Supermicros)")
	fs.StringVar(&c.prefail, "prefail", "", "the prefail binary (default: built from ./cmd/prefail)")
	fs.BoolVar(&c.gofish, "gofish", false, "also walk the same mocks with gofish v0.26.0 in this process, at the same concurrency")
	fs.IntVar(&c.gofishReqs, "gofish-in-flight", 4, "gofish's MaxConcurrentRequests per BMC (prefail's WithMaxInFlight default is 4)")
	fs.StringVar(&c.dir, "dir", "", "work directory (default: a temporary one, removed)")
	fs.StringVar(&c.tree, "tree", "public-rackmount1", "the embedded tree every mock serves")
	fs.DurationVar(&c.timeout, "timeout", 0, "prefail scan --timeout (default: the CLI's)")
	fs.StringVar(&c.extra, "scan-flags", "", "more flags for prefail scan, space-separated")
	fs.BoolVar(&c.noCache, "no-reply-cache", false, "every mock computes its own $expand replies (by default they share them: redfishmock.WithReplyCache)")
	fs.StringVar(&c.cpuProfile, "mock-cpuprofile", "", "write a CPU profile of this process (the mocks) during the fleet scan to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.n < 1 || c.latency < 0 || c.concurrency < 0 {
		return fmt.Errorf("-n must be at least 1, -latency and -concurrency not negative (got %d, %s, %d)", c.n, c.latency, c.concurrency)
	}
	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "prefail-bench-fleet-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if c.prefail == "" {
		c.prefail = filepath.Join(dir, "prefail")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.prefail, "./cmd/prefail")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building prefail (run from the module root): %w", err)
		}
	}
	concurrency, source := c.concurrency, "-concurrency"
	if concurrency == 0 {
		d, err := defaultConcurrency(ctx, c.prefail)
		if err != nil {
			return err
		}
		concurrency, source = d, "the CLI's default"
	}
	// Every BMC holds a listener and, while scanned, a few connections on
	// each side; the child inherits the limit.
	if err := raiseNoFile(uint64(c.n) + uint64(concurrency)*32 + 1024); err != nil {
		return err
	}
	tree, err := redfishmock.Embedded(c.tree)
	if err != nil {
		return err
	}
	var mockOpts []redfishmock.Option
	if c.latency > 0 {
		mockOpts = append(mockOpts, redfishmock.WithLatency(c.latency))
	}
	if !c.expand {
		mockOpts = append(mockOpts, redfishmock.WithoutExpand())
	}
	if !c.noCache {
		// The mocks share this machine's cores with the scan: without it
		// they spend as much CPU as the scan (9.9 s against 9.6 s for
		// 1,000 BMCs), rendering the same $expand replies a thousand times.
		mockOpts = append(mockOpts, redfishmock.WithReplyCache(redfishmock.NewReplyCache()))
	}
	child := scanner{bin: c.prefail, dir: dir, stderr: stderr, timeout: c.timeout, extra: strings.Fields(c.extra)}

	// The critical path, from one BMC scanned alone by the same binary.
	probe, err := probeCriticalPath(ctx, tree, mockOpts, child)
	if err != nil {
		return fmt.Errorf("probing one BMC: %w", err)
	}
	fmt.Fprintf(stdout, "one BMC alone: %d requests, critical path %d requests (the reader made them in %d rounds), %.3f s\n",
		probe.requests, probe.chain, probe.rounds, probe.wall.Seconds())
	if probe.unexplained > 0 {
		fmt.Fprintf(stdout, "  (%d requests named by no earlier response: counted as depending on everything before them)\n", probe.unexplained)
	}

	fleet, err := startFleet(ctx, c.n, tree, mockOpts)
	if err != nil {
		return err
	}
	defer fleet.close()
	fmt.Fprintf(stdout, "%d mock BMCs (%s, latency %s, $expand %v), concurrency %d (%s)\n", c.n, c.tree, c.latency, c.expand, concurrency, source)

	targetsFile := filepath.Join(dir, "bmcs.txt")
	if err := os.WriteFile(targetsFile, []byte(strings.Join(fleet.urls, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	self0 := selfCPU()
	res, err := child.scan(ctx, targetsFile, c.concurrency) // 0: the CLI's default
	mockCPU := selfCPU() - self0
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	requests := fleet.requests()
	perBMC := float64(requests.total) / float64(c.n)
	waves := (c.n + concurrency - 1) / concurrency
	ideal := time.Duration(probe.chain) * c.latency * time.Duration(waves)
	fmt.Fprintf(stdout, "prefail scan: %d targets in %.2f s (%s output, first target after %.2f s), %d failed; exit status %d\n",
		res.targets, res.wall.Seconds(), res.form, res.first.Seconds(), res.failed, res.exitCode)
	fmt.Fprintf(stdout, "requests: %.1f per BMC (min %d, max %d), %d in all\n", perBMC, requests.min, requests.max, requests.total)
	fmt.Fprintf(stdout, "child: peak RSS %.0f MB, CPU %.2f s user + %.2f s system; the mocks (this process) took %.2f s of CPU meanwhile\n",
		res.rssMB, res.user.Seconds(), res.sys.Seconds(), mockCPU.Seconds())
	fmt.Fprintf(stdout, "ideal: %d requests x %s x ceil(%d/%d) = %.2f s; wall/ideal = %.2f\n",
		probe.chain, c.latency, c.n, concurrency, ideal.Seconds(), res.wall.Seconds()/max(ideal.Seconds(), 1e-9))
	if res.targets != c.n {
		fmt.Fprintf(stdout, "WARNING: the output had %d targets, want %d\n", res.targets, c.n)
	}
	if c.gofish {
		fleet.resetRequests()
		g, err := gofishFleet(ctx, fleet.urls, concurrency, c.gofishReqs)
		if err != nil {
			return err
		}
		gr := fleet.requests()
		fmt.Fprintf(stdout, "gofish (in this process, %d BMCs at once, %d requests in flight each): wall=%.2f requests_per_bmc=%.1f failed=%d\n",
			concurrency, c.gofishReqs, g.wall.Seconds(), float64(gr.total)/float64(c.n), g.failed)
	}
	fmt.Fprintf(stdout, "wall=%.2f ideal=%.2f requests_per_bmc=%.1f rss_mb=%.0f\n", res.wall.Seconds(), ideal.Seconds(), perBMC, res.rssMB)
	return nil
}

// defaultConcurrency reads "--concurrency int ... (default N)" from
// prefail scan --help.
func defaultConcurrency(ctx context.Context, bin string) (int, error) {
	out, err := exec.CommandContext(ctx, bin, "scan", "--help").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s scan --help: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return parseDefaultConcurrency(string(out))
}

var concurrencyDefault = regexp.MustCompile(`--concurrency\b[^\n]*\(default (\d+)\)`)

func parseDefaultConcurrency(help string) (int, error) {
	m := concurrencyDefault.FindStringSubmatch(help)
	if m == nil {
		return 0, errors.New("prefail scan --help names no --concurrency default; give -concurrency")
	}
	return strconv.Atoi(m[1])
}

// selfCPU is this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and checks
// that need descriptors fit.
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE is %d, the fleet needs about %d descriptors: fewer BMCs (-n), or raise the hard limit (ulimit -Hn)", lim.Cur, need)
	}
	return nil
}
