package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
)

// agentFlags are the agent's (and watch's) options, on top of scan's.
type agentFlags struct {
	scan           scanFlags
	interval       time.Duration
	store          string
	events         string
	stdout         bool
	listen         string
	detectorConfig string
	rounds         int
	configFile     string
	printSample    bool
	checkConfig    bool
	// detector is the config file's detector configuration.
	detector *detector.Config
}

func (a *app) newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent [TARGET...]",
		Short: "Watch many servers: events to files and outputs, history in a store, metrics for Prometheus",
		Long: `Agent watches the targets (the same targets and options as scan: BMCs,
--local disks, smartctl) every --interval. Each target keeps one reader
for the whole run (one Redfish session; the IPMI SDR cache and SEL
cursor). Every scan is scored by the detector, and the target's state, its
readings and the events they raise are committed to the store (--store)
in one transaction; the events are then delivered to the outputs (--events
FILE as JSON Lines, --stdout) from the store's outbox, so that a crash
loses none and the file gets none twice. --listen serves Prometheus
metrics on /metrics, with /healthz and /readyz.

SIGHUP reads the targets file again (new targets are added, removed ones
closed; every other target keeps its session and state); SIGTERM or
SIGINT finishes the scans in flight, commits them and exits.

See docs/agent.md.`,
		Example: `  PREFAIL_USERNAME=admin PREFAIL_PASSWORD=... prefail agent --store /var/lib/prefail \
      --events /var/log/prefail/events.jsonl --listen 127.0.0.1:9464 --targets bmcs.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runAgent(cmd.Context(), args, &f, cmd)
		},
	}
	addScanFlags(cmd.Flags(), &f.scan)
	agentMemoryDefault(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.interval, "interval", 60*time.Second, "time between the starts of two rounds")
	fl.StringVar(&f.store, "store", "", "keep the history, state and outbox in `PATH` (a directory, or a FILE.db)")
	fl.StringVar(&f.events, "events", "", "append events to `FILE` as JSON Lines (rotated at 100 MiB, 5 files kept)")
	fl.BoolVar(&f.stdout, "stdout", false, "print events on standard output as JSON Lines")
	fl.StringVar(&f.listen, "listen", "", "serve /metrics, /healthz and /readyz on `ADDR` (e.g. 127.0.0.1:9464)")
	fl.StringVar(&f.detectorConfig, "detector-config", "", "detector configuration `FILE` (JSON over the defaults; see docs/detector.md)")
	fl.IntVar(&f.rounds, "rounds", 0, "stop after N rounds (0: run until stopped)")
	fl.StringVar(&f.configFile, "config", "", "read the agent's configuration from `FILE` (YAML, docs/agent.md); flags given override it")
	fl.BoolVar(&f.printSample, "print-sample-config", false, "print a commented sample configuration and exit")
	fl.BoolVar(&f.checkConfig, "check-config", false, "check --config (and the files it names) and exit")
	return cmd
}

// agentMemoryDefault lowers --memory-limit's and --concurrency's defaults
// for the agent to its config file's (agent.DefaultConfig): a scan of a
// fleet wants throughput, an agent at a 60 s interval a small, steady
// footprint (500 BMCs: 216 MB RSS at 48 MiB, 293 MB at 256).
func agentMemoryDefault(cmd *cobra.Command) {
	d := agent.DefaultConfig()
	for name, v := range map[string]string{"memory-limit": fmt.Sprint(d.MemoryLimit >> 20), "concurrency": fmt.Sprint(d.Concurrency)} {
		fl := cmd.Flags().Lookup(name)
		fl.DefValue = v
		_ = fl.Value.Set(v)
	}
}

// agentGCPercent is the agent's GOGC unless the environment sets one: its
// heap is mostly long-lived detector state, so collecting at 1.6x the live
// heap instead of 2x keeps 500 BMCs under 200 MB (bench/agent: 178 MB mean,
// 194 max, against 192 and 201) at the same CPU (6.7% of a core).
const agentGCPercent = 60

// runAgent runs the agent for agent and watch.
func (a *app) runAgent(ctx context.Context, args []string, f *agentFlags, cmd *cobra.Command) error {
	if f.printSample {
		_, err := a.stdout.Write(agent.SampleConfig())
		return err
	}
	storeFlag := "--store"
	if cmd.Name() == "watch" {
		storeFlag = "--state"
	}
	var cfgFile *agent.Config
	if f.configFile != "" {
		c, err := agent.LoadConfig(f.configFile)
		if err != nil {
			return &usageError{err: err}
		}
		if f.checkConfig {
			if err := c.CheckFiles(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.stdout, "%s: ok, %d targets\n", f.configFile, len(c.Targets))
			return err
		}
		cfgFile = c
		a.applyConfig(c, f, cmd)
	} else if f.checkConfig {
		return usagef("--check-config needs --config FILE")
	}
	if f.interval <= 0 {
		return usagef("--interval must be positive, got %s", f.interval)
	}
	if f.rounds < 0 {
		return usagef("--rounds must be 0 or more, got %d", f.rounds)
	}
	cfg := detector.DefaultConfig()
	if f.detector != nil {
		cfg = *f.detector
	}
	if f.detectorConfig != "" {
		var err error
		if cfg, err = loadDetectorConfig(f.detectorConfig); err != nil {
			return &usageError{err: err}
		}
	}
	configured := cfgFile != nil && (cfgFile.Outputs.Webhook != nil || cfgFile.Outputs.NATS != nil)
	if !f.stdout && f.events == "" && f.listen == "" && !configured {
		return usagef("the agent would tell nobody: give --events FILE, --stdout or --listen ADDR (and --store PATH to keep its state and history)")
	}
	plan := func() ([]*target, preparer, error) { return a.scanPlan(ctx, args, &f.scan) }
	if cfgFile != nil && len(args) == 0 && f.scan.targetsFile == "" && !f.scan.disk.local && len(f.scan.disk.disks) == 0 && len(f.scan.disk.smartctlExec) == 0 {
		loaded := false
		plan = func() ([]*target, preparer, error) {
			c := cfgFile
			if loaded {
				// A reload (SIGHUP) reads the file again; its targets
				// change, the rest of the running agent does not.
				fresh, err := agent.LoadConfig(cfgFile.File)
				if err != nil {
					return nil, nil, err
				}
				c = fresh
			}
			loaded = true
			return a.configPlan(c)
		}
	}
	targets, prepare, err := plan()
	if err != nil {
		return err
	}
	if a.getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(agentGCPercent))
	}
	opts := []agent.Option{
		agent.WithInterval(f.interval), agent.WithTimeout(f.scan.timeout), agent.WithConcurrency(f.scan.concurrency),
		agent.WithDetectorConfig(cfg), agent.WithMemoryPool(a.memory), agent.WithLogger(a.log), agent.WithClock(a.clock),
		agent.WithRounds(f.rounds), agent.WithReaders(a.readers()),
	}
	if a.wait != nil {
		opts = append(opts, agent.WithWait(a.wait))
	}
	if cfgFile != nil {
		opts = append(opts, agent.WithJitter(cfgFile.Jitter))
	}
	var store *agent.Store
	if f.store != "" {
		var sopts []agent.StoreOption
		if cfgFile != nil {
			r := cfgFile.Store.Retention
			sopts = append(sopts, agent.WithRetention(agent.Retention(r)))
		}
		var err error
		store, err = openStore(f.store, storeFlag, sopts...)
		if err != nil {
			return err
		}
		defer store.Close()
		opts = append(opts, agent.WithStore(store))
	}
	var outputs []agent.Output
	if f.stdout {
		outputs = append(outputs, agent.NewStreamOutput("stdout", a.stdout))
	}
	if f.events != "" {
		var fopts []agent.FileOption
		if cfgFile != nil && cfgFile.Outputs.File != nil && cfgFile.Outputs.File.Path == f.events {
			fopts = append(fopts, agent.WithMaxBytes(cfgFile.Outputs.File.MaxSize), agent.WithMaxFiles(cfgFile.Outputs.File.MaxFiles))
		}
		fo, err := agent.NewFileOutput(f.events, fopts...)
		if err != nil {
			return fmt.Errorf("--events: %w", err)
		}
		outputs = append(outputs, fo)
	}
	if cfgFile != nil {
		more, err := a.configOutputs(ctx, cfgFile)
		outputs = append(outputs, more...)
		if err != nil {
			for _, o := range outputs {
				_ = o.Close()
			}
			return err
		}
	}
	defer func() {
		for _, o := range outputs {
			if err := o.Close(); err != nil {
				a.log.Warn().Str("output", o.Name()).Err(err).Msg("closing the output")
			}
		}
	}()
	opts = append(opts, agent.WithOutputs(outputs...))

	// The targets' settings are resolved (credentials read) just before a
	// target's reader is built, and again after a reload.
	var mu sync.Mutex
	byEndpoint := map[string]*target{}
	specs := func(ts []*target) []*agent.Target {
		mu.Lock()
		defer mu.Unlock()
		clear(byEndpoint)
		out := make([]*agent.Target, len(ts))
		for i, t := range ts {
			byEndpoint[t.Endpoint] = t
			out[i] = &agent.Target{Endpoint: t.Endpoint}
		}
		return out
	}
	opts = append(opts, agent.WithPrepare(func(ctx context.Context, t *agent.Target) error {
		mu.Lock()
		src, p := byEndpoint[t.Endpoint], prepare
		mu.Unlock()
		if src == nil {
			return fmt.Errorf("%s: no longer a target", t.Endpoint)
		}
		r, err := p(ctx, src)
		if err != nil {
			return err
		}
		*t = r
		return nil
	}))

	var metrics *agent.Metrics
	if f.listen != "" {
		metrics = agent.NewMetrics()
		opts = append(opts, agent.WithMetrics(metrics))
	}
	ag, err := agent.New(specs(targets), opts...)
	if err != nil {
		return err
	}
	if metrics != nil {
		stop, err := a.serveMetrics(ctx, f.listen, metrics, ag, store)
		if err != nil {
			return err
		}
		defer stop()
	}
	stopReload := a.onReload(ctx, func() {
		ts, p, err := plan()
		if err != nil {
			a.log.Error().Err(err).Msg("reload: the targets were not changed")
			return
		}
		mu.Lock()
		prepare = p
		mu.Unlock()
		if err := ag.SetTargets(specs(ts)); err != nil {
			a.log.Error().Err(err).Msg("reload: the targets were not changed")
			return
		}
		a.log.Info().Int("targets", len(ts)).Msg("reloaded the targets")
	})
	defer stopReload()
	return ag.Run(ctx)
}

// onReload calls reload on every SIGHUP (or a.hangups in tests) until
// the returned stop is called.
func (a *app) onReload(ctx context.Context, reload func()) (stop func()) {
	ch := a.hangups
	var sig chan os.Signal
	if ch == nil {
		sig = make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGHUP)
		c := make(chan struct{}, 1)
		go func() {
			for range sig {
				select {
				case c <- struct{}{}:
				default: // a reload is pending already
				}
			}
			close(c)
		}()
		ch = c
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				reload()
			}
		}
	})
	return func() {
		close(done)
		if sig != nil {
			signal.Stop(sig)
			close(sig)
		}
		wg.Wait()
	}
}

// openStore opens the agent's store, creating its directory; a path that
// cannot be used is an error now, before the first round, not after a
// round whose events would then be lost.
func openStore(path, flag string, opts ...agent.StoreOption) (*agent.Store, error) {
	dir := path
	if filepath.Ext(path) == ".db" {
		dir = filepath.Dir(path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s %s: cannot create the directory: %w", flag, path, err)
	}
	s, err := agent.OpenStore(path, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return s, nil
}

// serveMetrics serves the metrics on addr until stop.
func (a *app) serveMetrics(ctx context.Context, addr string, m *agent.Metrics, ag *agent.Agent, store *agent.Store) (stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		a.log.Warn().Str("listen", ln.Addr().String()).Msg("metrics are served beyond this machine: they name every BMC and part; put a firewall or a proxy with authentication in front")
	}
	if a.onListen != nil {
		a.onListen("http://" + ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("/", m.Handler(ag.Ready))
	if store != nil {
		mux.Handle("GET /api/v1/history", historyHandler(store))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}
