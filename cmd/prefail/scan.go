package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// scanFlags are the scan command's options.
type scanFlags struct {
	targetsFile   string
	json          bool // JSON Lines, one target per line as it finishes
	jsonDocument  bool // one JSON document at the end
	quiet         bool // no progress bar, no summary on stderr
	html          string
	store         string // the agent's store: history for the report
	policy        string // the refresh policy of the report's inventory
	timeout       time.Duration
	concurrency   int
	caFile        string
	insecure      bool
	username      string
	passwordFile  string
	maxLogEntries int
	bmcRequests   int
	basicAuth     bool
	memoryMiB     int
	// IPMI
	ipmiInterface string
	cipherSuite   int
	sdrCache      string
	// Disks (SMART)
	disk diskFlags
}

func (a *app) newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [TARGET...]",
		Short: "Read the hardware health of one or more BMCs",
		Long: `Scan reads each target's hardware health and prints it, worst first.

TARGET is https://HOST[:PORT] (Redfish over TLS, certificate verified),
http://HOST:PORT (plain HTTP, for mocks) or ipmi://HOST[:PORT] (IPMI 2.0
lanplus, cipher suite 3, port 623 by default; --ipmi-interface lan for IPMI
1.5, open for this machine's own BMC through /dev/ipmi0).

Disks: --local reads this machine's SATA, SAS and NVMe disks (needs root:
SG_IO and NVMe admin commands need CAP_SYS_RAWIO / CAP_SYS_ADMIN); --disk
PATH reads only that device. A disk in standby is not woken unless
--wake-standby. --smartctl makes the arguments saved smartctl outputs
(JSON from smartctl --json, or the text of smartctl -a / -x; - reads
standard input); --smartctl-exec "ARGS" runs smartctl --json -x ARGS now,
for disks behind RAID controllers or USB bridges ("-d megaraid,0 /dev/sda").

IPMI scans keep each BMC's SDR repository in --sdr-cache, reused only while
the BMC's repository timestamps are unchanged.

Credentials: PREFAIL_USERNAME and PREFAIL_PASSWORD from the environment,
--username and --password-file (first line of the file), or per target in a
targets file. A password is never accepted on the command line.

Targets file: one target per line, '#' starts a comment, optional settings
after the URL as key=value: username=, password-file=, ca-file=,
insecure=true, basic-auth=true. Relative paths are relative to the file.

Exit status: 0 when every target was scanned (even with warnings), 1 when
any target failed, 2 on a usage error.`,
		Example: `  PREFAIL_USERNAME=admin PREFAIL_PASSWORD=... prefail scan https://bmc1.example.com
  PREFAIL_USERNAME=admin PREFAIL_PASSWORD=... prefail scan ipmi://10.0.0.7
  prefail scan --targets bmcs.txt --json > health.json
  prefail scan --ca-file bmc-ca.pem --username admin --password-file ~/.bmc-pass https://10.0.0.5
  sudo prefail scan --local
  prefail scan --smartctl saved/*.json saved/*.txt
  sudo prefail scan --smartctl-exec "-d megaraid,0 /dev/sda" --smartctl-exec "-d megaraid,1 /dev/sda"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), args, &f)
		},
	}
	addScanFlags(cmd.Flags(), &f)
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON Lines: one object per target as soon as it is done (see docs/json-schema.md)")
	cmd.Flags().BoolVar(&f.jsonDocument, "json-document", false, "print one JSON document with every target, in the order given, at the end")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar on a terminal, no fleet summary on stderr")
	cmd.Flags().StringVar(&f.html, "html", "", "also write a self-contained HTML report to `FILE` (docs/report.md)")
	cmd.Flags().StringVar(&f.store, "store", "", "with --html: the agent's store `PATH`, for readings over time and parts' first-seen dates")
	cmd.Flags().StringVar(&f.policy, "policy", "", "with --html: the refresh policy `FILE` of the report's inventory (default: docs/lifecycle.md)")
	return cmd
}

// addScanFlags registers the options of what to scan and how, shared by
// scan and watch.
func addScanFlags(fl *pflag.FlagSet, f *scanFlags) {
	fl.StringVar(&f.targetsFile, "targets", "", "read targets (and per-target settings) from `FILE`")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "time limit for each target's scan")
	fl.IntVar(&f.concurrency, "concurrency", agent.DefaultScanConcurrency, "targets scanned at the same time (BMCs are slow, not the CPU: many wait at once)")
	fl.StringVar(&f.caFile, "ca-file", "", "verify BMC certificates against the CA certificates in `PEM` (instead of the system roots)")
	fl.BoolVar(&f.insecure, "insecure", false, "do not verify BMC certificates (explicit opt-out; prefer --ca-file)")
	fl.StringVar(&f.username, "username", "", "BMC account name (default $"+envUsername+")")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the BMC password from the first line of `FILE` (default $"+envPassword+")")
	fl.IntVar(&f.maxLogEntries, "max-log-entries", 100, "newest entries read from each log service (0: skip logs)")
	fl.IntVar(&f.bmcRequests, "bmc-requests", 4, "requests in flight to one BMC at most (Redfish)")
	fl.BoolVar(&f.basicAuth, "basic-auth", false, "send HTTP Basic credentials on each request instead of opening a session")
	fl.IntVar(&f.memoryMiB, "memory-limit", 256, "MiB of BMC responses all scans may hold at once (each scan also at most 32 MiB); a scan past it waits for memory")
	fl.StringVar(&f.ipmiInterface, "ipmi-interface", "lanplus", "IPMI interface for ipmi:// targets: lanplus, lan or open (/dev/ipmi0)")
	fl.IntVar(&f.cipherSuite, "cipher-suite", 3, "RMCP+ cipher suite for lanplus (3, 8, 12 or 17)")
	fl.StringVar(&f.sdrCache, "sdr-cache", defaultSDRCacheDir(), "`DIR` for IPMI SDR caches (empty: no disk cache)")
	fl.BoolVar(&f.disk.local, "local", false, "read this machine's disks (SMART; needs root)")
	fl.StringArrayVar(&f.disk.disks, "disk", nil, "read only this local disk `PATH` (/dev/sda, /dev/nvme0); repeatable")
	fl.BoolVar(&f.disk.wakeStandby, "wake-standby", false, "read disks in standby too (spins them up)")
	fl.BoolVar(&f.disk.smartctl, "smartctl", false, "the arguments are saved smartctl outputs to import (JSON or text; - for standard input)")
	fl.StringArrayVar(&f.disk.smartctlExec, "smartctl-exec", nil, "run smartctl --json -x `ARGS` and import its output; repeatable")
	fl.StringVar(&f.disk.smartctlPath, "smartctl-path", "smartctl", "the smartctl `PROGRAM` --smartctl-exec runs")
}

// scanRequest is everything the reader is given for one target.
type scanRequest = agent.Target

// result is the outcome of scanning one target.
type result = agent.Result

func (a *app) runScan(ctx context.Context, args []string, f *scanFlags) error {
	if f.json && f.jsonDocument {
		return usagef("--json and --json-document: pick one")
	}
	targets, prepare, err := a.scanPlan(ctx, args, f)
	if err != nil {
		return err
	}
	rep, err := a.newScanReport(ctx, f)
	if err != nil {
		return err
	}
	defer rep.close()
	if a.getenv("GOGC") == "" {
		// A one-shot scan allocates and drops each BMC's decoded answers
		// and keeps little: collecting half as often takes 10-20% off its
		// CPU for 15-30 MB (bench/fleet, 1,000 BMCs). Not for the agent,
		// whose memory is its budget.
		defer debug.SetGCPercent(debug.SetGCPercent(200))
	}
	cfg := detector.DefaultConfig()
	started := a.clock()
	summary := newFleetSummary(started)
	bar := newScanProgress(a.stderr, len(targets), f.quiet || len(targets) < 2)
	// Each result is handed over as its target finishes: JSON Lines write
	// it and drop it; the table keeps its text; the document its result.
	var (
		lines    *jsonLinesWriter
		blocks   []string
		kept     []result
		writeErr error
		failed   int
	)
	switch {
	case f.json:
		lines = newJSONLinesWriter(a.stdout)
	case f.jsonDocument:
		kept = make([]result, len(targets))
	default:
		blocks = make([]string, len(targets))
	}
	// A reader gone (stdout closed) stops the scans not yet started.
	scanCtx, stopScans := context.WithCancel(ctx)
	defer stopScans()
	a.scanEach(scanCtx, targets, f.concurrency, f.timeout, prepare, func(i int, r result) {
		if r.Err != nil {
			failed++
		}
		as := assess(cfg, r.Snapshot)
		summary.add(r, as)
		rep.add(r, as)
		switch {
		case lines != nil:
			if writeErr == nil {
				if writeErr = lines.write(r, as); writeErr != nil {
					stopScans()
				}
			}
		case kept != nil:
			kept[i] = r
		default:
			blocks[i] = renderTarget(r)
		}
		bar.add(r.Err != nil)
	})
	bar.finish()
	if writeErr != nil {
		return fmt.Errorf("writing the results: %w", writeErr)
	}
	rep.warnings(a)
	if err := a.writeScanReport(ctx, rep); err != nil {
		return err
	}
	switch {
	case f.jsonDocument:
		if err := writeJSON(a.stdout, kept, a.clock()); err != nil {
			return err
		}
	case lines == nil:
		if _, err := io.WriteString(a.stdout, strings.Join(blocks, "\n")); err != nil {
			return err
		}
	}
	if len(targets) > 1 {
		// The table ends with the summary; JSON on stdout keeps stdout
		// JSON, the summary goes to stderr.
		out, sep := a.stdout, "\n"
		if f.json || f.jsonDocument {
			out, sep = a.stderr, ""
		}
		if !f.quiet || out == a.stdout {
			if _, err := io.WriteString(out, sep); err != nil {
				return err
			}
			if err := summary.write(out, a.clock()); err != nil {
				return err
			}
		}
	}
	return failuresOf(failed, len(targets), targets)
}

// preparer builds a target's scan request (credentials, TLS settings).
type preparer func(context.Context, *target) (scanRequest, error)

// scanPlan checks the scan flags and collects the targets, for scan and
// watch alike.
func (a *app) scanPlan(ctx context.Context, args []string, f *scanFlags) ([]*target, preparer, error) {
	switch {
	case f.timeout <= 0:
		return nil, nil, usagef("--timeout must be positive, got %s", f.timeout)
	case f.concurrency < 1:
		return nil, nil, usagef("--concurrency must be at least 1, got %d", f.concurrency)
	case f.bmcRequests < 1:
		return nil, nil, usagef("--bmc-requests must be at least 1, got %d", f.bmcRequests)
	case f.maxLogEntries < 0:
		return nil, nil, usagef("--max-log-entries must be 0 or more, got %d", f.maxLogEntries)
	case f.memoryMiB < 32:
		return nil, nil, usagef("--memory-limit must be at least 32 (MiB, one scan's budget), got %d", f.memoryMiB)
	case f.insecure && f.caFile != "":
		return nil, nil, usagef("--insecure and --ca-file contradict each other: pick one")
	}
	if err := checkIPMIInterface(f.ipmiInterface); err != nil {
		return nil, nil, usagef("--ipmi-interface: %v", err)
	}
	if f.caFile != "" {
		if _, err := os.Stat(f.caFile); err != nil {
			return nil, nil, usagef("--ca-file: %v", err)
		}
	}
	disks, args, err := diskTargets(args, &f.disk)
	if err != nil {
		return nil, nil, &usageError{err: err}
	}
	if len(args) == 0 && f.targetsFile == "" && len(disks) == 0 {
		return nil, nil, usagef("no targets: give TARGET arguments (https://HOST), --targets FILE, --local, or --smartctl FILE...")
	}
	targets, err := collectTargets(ctx, args, f.targetsFile)
	if err != nil {
		return nil, nil, &usageError{err: err}
	}
	if len(targets) == 0 && len(disks) == 0 {
		return nil, nil, usagef("%s: no targets in the file", f.targetsFile)
	}
	targets = append(targets, disks...)
	a.memory = redfish.NewMemoryPool(int64(f.memoryMiB) << 20)
	if a.getenv("GOMEMLIMIT") == "" {
		// Let the garbage collector work harder near the bound rather
		// than let the heap double past it (a soft limit; GOMEMLIMIT
		// set by the user wins).
		debug.SetMemoryLimit(int64(f.memoryMiB)<<20 + 128<<20)
	}
	src := credentialSources{flagUsername: f.username, flagPasswordFile: f.passwordFile}
	src.envUsername = a.getenv(envUsername)
	src.envPassword = secret(a.getenv(envPassword))
	if f.passwordFile != "" {
		if src.flagPassword, err = readPasswordFile(ctx, f.passwordFile); err != nil {
			return nil, nil, err
		}
		a.warnLoosePasswordFile(f.passwordFile)
	}
	prepare := func(ctx context.Context, t *target) (scanRequest, error) {
		if isDiskEndpoint(t.Endpoint) {
			// No credentials, no TLS.
			return scanRequest{Endpoint: t.Endpoint, Devices: f.disk.disks, WakeStandby: f.disk.wakeStandby,
				SmartctlPath: f.disk.smartctlPath, Stdin: a.stdinReader}, nil
		}
		return a.request(ctx, t, f, src)
	}
	return targets, prepare, nil
}

// failuresOf returns an error counting the failed targets, or nil.
func failuresOf(failed, total int, targets []*target) error {
	switch {
	case failed == 0:
		return nil
	case total == 1:
		return fmt.Errorf("%s: scan failed", targets[0].Endpoint)
	}
	return fmt.Errorf("%d of %d targets failed", failed, total)
}

// failures returns an error counting the failed results, or nil.
func failures(results []result) error {
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	if len(results) == 1 {
		return fmt.Errorf("%s: scan failed", results[0].Target)
	}
	return fmt.Errorf("%d of %d targets failed", failed, len(results))
}

func (a *app) render(results []result, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, results, a.clock())
	}
	return writeTable(a.stdout, results)
}

func (a *app) warnLoosePasswordFile(path string) {
	if passwordFileLooseMode(path) {
		a.log.Warn().Str("file", path).Msg("password file is readable by group or others; chmod 600 it")
	}
}

// request builds the reader's request for t from the per-target settings
// and the command-wide defaults.
func (a *app) request(ctx context.Context, t *target, f *scanFlags, src credentialSources) (scanRequest, error) {
	req := scanRequest{
		Endpoint:      t.Endpoint,
		CAFile:        f.caFile,
		Insecure:      f.insecure,
		BasicAuth:     f.basicAuth,
		MaxLogEntries: f.maxLogEntries,
		MaxInFlight:   f.bmcRequests,
	}
	if strings.HasPrefix(t.Endpoint, "ipmi://") {
		req.IPMIInterface, req.CipherSuite, req.SDRCacheDir = f.ipmiInterface, f.cipherSuite, f.sdrCache
		if t.Interface != "" {
			req.IPMIInterface = t.Interface
		}
		if t.CipherSuite != nil {
			req.CipherSuite = *t.CipherSuite
		}
	}
	if t.CAFile != "" {
		// A per-target CA overrides a command-wide --insecure.
		req.CAFile, req.Insecure = t.CAFile, false
	}
	if t.Insecure != nil {
		req.Insecure = *t.Insecure
	}
	if t.BasicAuth != nil {
		req.BasicAuth = *t.BasicAuth
	}
	if req.Insecure && t.CAFile != "" {
		return req, fmt.Errorf("%s: insecure=true and ca-file= contradict each other", t.Where)
	}
	if req.Insecure {
		req.CAFile = ""
	}
	https := strings.HasPrefix(t.Endpoint, "https://")
	if https && req.CAFile != "" {
		if _, err := os.Stat(req.CAFile); err != nil {
			return req, fmt.Errorf("ca-file: %w", err)
		}
	}
	if t.PasswordFile != "" {
		a.warnLoosePasswordFile(t.PasswordFile)
	}
	c, err := resolveCredentials(ctx, t, src)
	if err != nil {
		return req, err
	}
	req.Username, req.Password = c.Username, c.Password
	log := a.log.Debug().Str("target", t.Endpoint).Str("from", t.Where).Bool("insecure", req.Insecure).
		Str("ca_file", req.CAFile).Bool("basic_auth", req.BasicAuth)
	if c.Username != "" {
		log = log.Str("username", c.Username).Str("username_from", c.UsernameSource).Str("password_from", c.PasswordSource)
	}
	log.Msg("scan settings")
	isIPMI := strings.HasPrefix(t.Endpoint, "ipmi://")
	if isIPMI && req.IPMIInterface == "lan" && c.Username != "" && !isLoopbackEndpoint(t.Endpoint) {
		a.log.Warn().Str("target", t.Endpoint).Msg("IPMI 1.5 (interface lan) authenticates with MD5 or a plain password and does not encrypt; prefer lanplus")
	}
	if !https && !isIPMI && c.Username != "" && !isLoopbackEndpoint(t.Endpoint) {
		a.log.Warn().Str("target", t.Endpoint).Msg("sending credentials over plain HTTP")
	}
	if https && req.Insecure {
		a.log.Warn().Str("target", t.Endpoint).Msg("TLS certificate verification is off for this target")
	}
	return req, nil
}

// scanAll scans the targets once (agent.Scan: at most concurrency at a
// time, each under its own timeout, each reader closed after its scan);
// prepare builds each target's request. Results come back in the
// targets' order.
func (a *app) scanAll(ctx context.Context, targets []*target, concurrency int, timeout time.Duration, prepare preparer) []result {
	results := make([]result, len(targets))
	a.scanEach(ctx, targets, concurrency, timeout, prepare, func(i int, r result) { results[i] = r })
	return results
}

// scanEach is scanAll handing each result to fn as its target finishes
// (agent.ScanEach: calls never overlap).
func (a *app) scanEach(ctx context.Context, targets []*target, concurrency int, timeout time.Duration, prepare preparer, fn func(int, result)) {
	reqs := make([]*agent.Target, len(targets))
	from := make(map[*agent.Target]*target, len(targets))
	for i, t := range targets {
		reqs[i] = &agent.Target{Endpoint: t.Endpoint}
		from[reqs[i]] = t
	}
	agent.ScanEach(ctx, reqs, agent.ScanOptions{
		Concurrency: concurrency,
		Timeout:     timeout,
		Readers:     a.readers(),
		Env:         a.readerEnv(),
		Prepare: func(ctx context.Context, req *agent.Target) error {
			r, err := prepare(ctx, from[req])
			if err != nil {
				return err
			}
			*req = r
			return nil
		},
	}, fn)
}

// readerEnv is what the readers of this invocation share.
func (a *app) readerEnv() agent.ReaderEnv {
	return agent.ReaderEnv{Log: a.log, Memory: a.memory, Now: a.clock}
}

// readers builds each target's reader: the tests' fake scanner when set,
// the agent's readers otherwise.
func (a *app) readers() agent.ReaderFactory {
	if a.scanTarget == nil && a.now != nil {
		// The tests' clock (a simulated one) stamps every snapshot.
		return func(t *agent.Target, env agent.ReaderEnv) (agent.Reader, error) {
			r, err := agent.NewReader(t, env)
			if err != nil {
				return nil, err
			}
			if cr, ok := r.(agent.CursorReader); ok {
				return &clockCursorReader{CursorReader: cr, now: a.now}, nil
			}
			return &clockReader{Reader: r, now: a.now}, nil
		}
	}
	if a.scanTarget == nil {
		return agent.NewReader
	}
	return func(t *agent.Target, _ agent.ReaderEnv) (agent.Reader, error) {
		return &funcReader{scan: a.scanTarget, t: *t}, nil
	}
}

// clockReader stamps the snapshots of a reader with a clock of its own.
type clockReader struct {
	agent.Reader
	now func() time.Time
}

func (r *clockReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	s, err := r.Reader.Scan(ctx)
	if s != nil {
		s.Time = r.now().UTC()
	}
	return s, err
}

type clockCursorReader struct {
	agent.CursorReader
	now func() time.Time
}

func (r *clockCursorReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	s, err := r.CursorReader.Scan(ctx)
	if s != nil {
		s.Time = r.now().UTC()
	}
	return s, err
}

// funcReader is a reader made of a scan function (the tests' fakes).
type funcReader struct {
	scan scanFunc
	t    agent.Target
}

func (r *funcReader) Scan(ctx context.Context) (*model.Snapshot, error) { return r.scan(ctx, r.t) }
func (r *funcReader) Close(context.Context) error                       { return nil }

// isLoopbackEndpoint reports whether endpoint names this machine.
func isLoopbackEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
