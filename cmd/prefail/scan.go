package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// scanFlags are the scan command's options.
type scanFlags struct {
	targetsFile   string
	json          bool
	timeout       time.Duration
	concurrency   int
	caFile        string
	insecure      bool
	username      string
	passwordFile  string
	maxLogEntries int
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
	cmd.Flags().BoolVar(&f.json, "json", false, "print one JSON document (see docs/json-schema.md)")
	return cmd
}

// addScanFlags registers the options of what to scan and how, shared by
// scan and watch.
func addScanFlags(fl *pflag.FlagSet, f *scanFlags) {
	fl.StringVar(&f.targetsFile, "targets", "", "read targets (and per-target settings) from `FILE`")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "time limit for each target's scan")
	fl.IntVar(&f.concurrency, "concurrency", 8, "targets scanned at the same time")
	fl.StringVar(&f.caFile, "ca-file", "", "verify BMC certificates against the CA certificates in `PEM` (instead of the system roots)")
	fl.BoolVar(&f.insecure, "insecure", false, "do not verify BMC certificates (explicit opt-out; prefer --ca-file)")
	fl.StringVar(&f.username, "username", "", "BMC account name (default $"+envUsername+")")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the BMC password from the first line of `FILE` (default $"+envPassword+")")
	fl.IntVar(&f.maxLogEntries, "max-log-entries", 100, "newest entries read from each log service (0: skip logs)")
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
type scanRequest struct {
	Endpoint      string
	Username      string
	Password      secret
	CAFile        string
	Insecure      bool
	BasicAuth     bool
	MaxLogEntries int
	// IPMI
	IPMIInterface string
	CipherSuite   int
	SDRCacheDir   string
}

// result is the outcome of scanning one target.
type result struct {
	Target   string
	Err      error
	Duration time.Duration
	Snapshot *model.Snapshot
}

func (a *app) runScan(ctx context.Context, args []string, f *scanFlags) error {
	targets, prepare, err := a.scanPlan(ctx, args, f)
	if err != nil {
		return err
	}
	results := a.scanAll(ctx, targets, f.concurrency, f.timeout, prepare)
	if err := a.render(results, f.json); err != nil {
		return err
	}
	return failures(results)
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
	a.diskScanner = a.diskScan(&f.disk, a.stdinReader)
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
			return scanRequest{Endpoint: t.Endpoint}, nil // no credentials, no TLS
		}
		return a.request(ctx, t, f, src)
	}
	return targets, prepare, nil
}

// failures returns an error counting the failed targets, or nil.
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

// scanAll scans the targets, at most concurrency at a time, each under its
// own timeout; prepare builds each target's request. Results come back in
// the targets' order; a target that fails or hangs has its error in its
// result and costs the others nothing.
func (a *app) scanAll(ctx context.Context, targets []*target, concurrency int, timeout time.Duration, prepare preparer) []result {
	results := make([]result, len(targets))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				results[i] = result{Target: t.Endpoint, Err: fmt.Errorf("not scanned: %w", context.Cause(ctx))}
				return
			}
			req, err := prepare(ctx, t)
			if err != nil {
				results[i] = result{Target: t.Endpoint, Err: err}
				return
			}
			results[i] = a.scanOne(ctx, req, timeout)
		})
	}
	wg.Wait()
	return results
}

// scanOne scans one target under its own timeout.
func (a *app) scanOne(ctx context.Context, req scanRequest, timeout time.Duration) result {
	start := time.Now()
	res := result{Target: req.Endpoint}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type outcome struct {
		snap *model.Snapshot
		err  error
	}
	done := make(chan outcome, 1)
	scan := a.scanTarget
	switch {
	case scan != nil:
	case isDiskEndpoint(req.Endpoint) && a.diskScanner != nil:
		scan = a.diskScanner
	case strings.HasPrefix(req.Endpoint, "ipmi://"):
		scan = a.ipmiScan
	default:
		scan = a.redfishScan
	}
	a.log.Info().Str("target", req.Endpoint).Msg("scanning")
	go func() {
		snap, err := scan(tctx, req)
		done <- outcome{snap, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-tctx.Done():
		// The readers honour ctx: give this one a moment to hand over
		// what it read and close its session, then stop waiting even if
		// it does not return.
		grace := time.NewTimer(readerGrace)
		select {
		case o = <-done:
		case <-grace.C:
			o.err = tctx.Err()
		}
		grace.Stop()
	}
	res.Duration = time.Since(start)
	res.Snapshot = o.snap
	if o.err != nil {
		res.Err = explainScanError(withoutTarget(o.err, req.Endpoint), tctx, ctx, timeout)
		a.log.Info().Str("target", req.Endpoint).Err(res.Err).Dur("took", res.Duration).Msg("scan failed")
		return res
	}
	if res.Snapshot == nil {
		res.Err = errors.New("reader returned no snapshot")
		return res
	}
	if len(res.Snapshot.Components) == 0 {
		// Whatever the reader: an answer with no part in it says nothing
		// about the server, and must not pass for a healthy one.
		res.Err = errors.New("the target answered but reported no component: its hardware health is unknown")
		a.log.Info().Str("target", req.Endpoint).Err(res.Err).Msg("scan failed")
		return res
	}
	a.log.Info().Str("target", req.Endpoint).Int("requests", res.Snapshot.Requests).Dur("took", res.Duration).Msg("scanned")
	return res
}

// withoutTarget drops the "TARGET: " a library error starts with: the
// result is reported under its target already, and saying it twice makes
// a long line longer. errors.Is still sees the whole chain.
func withoutTarget(err error, target string) error {
	msg, ok := strings.CutPrefix(err.Error(), target+": ")
	if !ok {
		return err
	}
	return &reworded{err: err, msg: msg}
}

// reworded is an error with the same chain and other words.
type reworded struct {
	err error
	msg string
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// readerGrace is how long past a target's deadline its scan is waited
// for: the reader's logout (redfish: 3 s on a detached context) and the
// hand-over of what it read.
const readerGrace = 4 * time.Second

// explainScanError turns the reader's error into one a person can act on.
func explainScanError(err error, tctx, parent context.Context, timeout time.Duration) error {
	switch {
	case errors.Is(err, redfish.ErrUnauthorized) || errors.Is(err, ipmi.ErrUnauthorized):
		return fmt.Errorf("%w (hint: check the username and password: $%s / $%s, --username / --password-file, or username= / password-file= in the targets file)", err, envUsername, envPassword)
	case parent.Err() != nil:
		return fmt.Errorf("interrupted: %w", err)
	case errors.Is(tctx.Err(), context.DeadlineExceeded) && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err)):
		return fmt.Errorf("timed out after %s (see --timeout): %w", timeout, err)
	case isTLSVerifyError(err):
		return fmt.Errorf("%w (hint: the BMC's certificate could not be verified: pass --ca-file PEM, or ca-file= in the targets file, with the CA that signed it; or, accepting the risk, --insecure / insecure=true for this target)", err)
	}
	return err
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func isTLSVerifyError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return true
	}
	// The reader may not wrap the transport's error.
	s := err.Error()
	return strings.Contains(s, "x509: ") || strings.Contains(s, "tls: failed to verify certificate")
}

// redfishScan reads one target with the Redfish reader: one shot (log
// in, scan, log out), or, when the app keeps clients (watch), with the
// target's long-lived client, whose session serves every round.
func (a *app) redfishScan(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
	opts := []redfish.Option{
		redfish.WithMemoryPool(a.memory),
		redfish.WithMaxLogEntries(req.MaxLogEntries),
		redfish.WithLogger(a.log.With().Str("target", req.Endpoint).Logger()),
	}
	if req.Username != "" {
		opts = append(opts, redfish.WithCredentials(req.Username, req.Password.reveal()))
	}
	if req.BasicAuth {
		opts = append(opts, redfish.WithBasicAuth())
	}
	if strings.HasPrefix(req.Endpoint, "https://") {
		switch {
		case req.Insecure:
			opts = append(opts, redfish.WithInsecure())
		case req.CAFile != "":
			opts = append(opts, redfish.WithCAFile(req.CAFile))
		}
	}
	if a.clients == nil {
		return redfish.Scan(ctx, req.Endpoint, opts...)
	}
	kc, err := a.clients.get(req, opts)
	if err != nil {
		return nil, err
	}
	if !kc.mu.TryLock() {
		return nil, errors.New("the previous round's scan of this target is still running")
	}
	defer kc.mu.Unlock()
	return kc.c.Scan(ctx)
}

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
