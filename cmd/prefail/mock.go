package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// The embedded mock's defaults. These are a mock's well-known credentials,
// not a secret: they exist so that the demo and the mock work with no setup.
const (
	defaultMockTree     = "public-rackmount1"
	defaultMockUsername = "admin"
	defaultMockPassword = "password"
)

type mockFlags struct {
	listen       string
	tls          bool
	certOut      string
	username     string
	passwordFile string
	noAuth       bool
	noExpand     bool
	latency      time.Duration
	scenario     string
	at           string
	dmtfCompat   bool
	tree         string
}

func (a *app) newMockCmd() *cobra.Command {
	var f mockFlags
	cmd := &cobra.Command{
		Use:   "mock [DIR]",
		Short: "Serve a mock Redfish BMC (a mockup directory or an embedded tree)",
		Long: `Mock serves a Redfish resource tree over HTTP(S) until interrupted, for trying
scan out and for tests: a DMTF mockup directory or flat capture (DIR), or an
embedded tree (--tree; default ` + defaultMockTree + `).

It binds loopback by default. With --tls it generates a self-signed
certificate and writes it as PEM to a printed path, so that
'prefail scan --ca-file PATH' verifies it. With --scenario the served values
change over simulated time, which advances at the scenario's speed from the
moment the mock starts (plus --at).

Credentials default to ` + defaultMockUsername + ` / ` + defaultMockPassword + ` (the mock's well-known pair); --password-file
sets another password, --no-auth serves without authentication.`,
		Example: `  prefail mock --tls
  prefail mock --scenario aging-server --at 10d
  prefail mock ./my-capture --listen 127.0.0.1:8443 --tls --cert-out ./mock-ca.pem`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runMock(cmd.Context(), args, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8000", "`ADDR` to listen on (host:port; port 0 picks a free one)")
	fl.BoolVar(&f.tls, "tls", false, "serve HTTPS with a generated self-signed certificate")
	fl.StringVar(&f.certOut, "cert-out", "", "with --tls, write the certificate PEM to `FILE` (default: a temporary file, removed on exit)")
	fl.StringVar(&f.username, "username", defaultMockUsername, "account the mock accepts")
	fl.StringVar(&f.passwordFile, "password-file", "", "password the mock accepts, first line of `FILE` (default \""+defaultMockPassword+"\")")
	fl.BoolVar(&f.noAuth, "no-auth", false, "serve without authentication")
	fl.BoolVar(&f.noExpand, "no-expand", false, "do not support $expand")
	fl.DurationVar(&f.latency, "latency", 0, "delay every response by this much")
	fl.StringVar(&f.scenario, "scenario", "", "replay a scenario: a scenario `FILE` or an embedded scenario NAME")
	fl.StringVar(&f.at, "at", "", "with --scenario, start at this simulated time (e.g. 13d, 36h)")
	fl.BoolVar(&f.dmtfCompat, "dmtf-compat", false, "behave like the DMTF Redfish-Mockup-Server (e.g. no sessions)")
	fl.StringVar(&f.tree, "tree", "", "serve the embedded tree `NAME` (default "+defaultMockTree+", or the scenario's base)")
	return cmd
}

func (a *app) runMock(ctx context.Context, args []string, f *mockFlags) error {
	if len(args) == 1 && f.tree != "" {
		return usagef("give a DIR or --tree, not both")
	}
	if f.noAuth && (f.passwordFile != "" || f.username != defaultMockUsername) {
		return usagef("--no-auth and --username/--password-file contradict each other")
	}
	if f.latency < 0 {
		return usagef("--latency must not be negative")
	}
	if f.certOut != "" && !f.tls {
		return usagef("--cert-out needs --tls")
	}
	at, err := parseSimDuration(f.at)
	if err != nil {
		return usagef("--at: %v", err)
	}
	if f.at != "" && f.scenario == "" {
		return usagef("--at needs --scenario")
	}
	sc, err := loadScenario(f.scenario)
	if err != nil {
		return err
	}
	tree, what, err := loadTree(args, f.tree, sc)
	if err != nil {
		return err
	}
	password := defaultMockPassword
	pwHint := defaultMockPassword
	if f.passwordFile != "" {
		p, err := readPasswordFile(ctx, f.passwordFile)
		if err != nil {
			return err
		}
		password, pwHint = p.Reveal(), "the password in "+f.passwordFile
	}

	var opts []redfishmock.Option
	if f.noAuth {
		opts = append(opts, redfishmock.WithoutAuth())
	} else {
		opts = append(opts, redfishmock.WithCredentials(f.username, password))
	}
	if f.noExpand {
		opts = append(opts, redfishmock.WithoutExpand())
	}
	if f.latency > 0 {
		opts = append(opts, redfishmock.WithLatency(f.latency))
	}
	if f.dmtfCompat {
		opts = append(opts, redfishmock.WithDMTFMockupServerBehaviour())
	}
	if sc != nil {
		if err := sc.Check(tree); err != nil {
			return fmt.Errorf("scenario %s does not fit %s: %s", f.scenario, what, firstLines(err.Error(), 5))
		}
		opts = append(opts, redfishmock.WithScenario(sc))
	}
	srv := redfishmock.New(tree, opts...)
	var handler http.Handler = srv
	if sc != nil {
		handler = newSimClock(srv, sc, at, time.Now)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		fmt.Fprintf(a.stderr, "warning: listening on %s, reachable from other machines: the mock serves made-up data to anyone with its well-known credentials\n", addr)
	}

	scheme := "http"
	var cert *tls.Certificate
	caPath := ""
	if f.tls {
		c, pem, err := redfishmock.SelfSignedCert(certHosts(f.listen)...)
		if err != nil {
			return fmt.Errorf("generating a certificate: %w", err)
		}
		cert, scheme = &c, "https"
		caPath = f.certOut
		if caPath == "" {
			dir, err := os.MkdirTemp("", "prefail-mock-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			caPath = filepath.Join(dir, "ca.pem")
		}
		if err := os.WriteFile(caPath, pem, 0o644); err != nil {
			return fmt.Errorf("writing the certificate: %w", err)
		}
	}
	url := scheme + "://" + addr.String()

	fmt.Fprintf(a.stdout, "prefail mock: serving %s\n", what)
	if sc != nil {
		fmt.Fprintf(a.stdout, "scenario %s: simulated time starts at %s and runs %gx real time\n", f.scenario, formatSimDuration(at), speedOf(sc))
	}
	fmt.Fprintf(a.stdout, "listening on %s\n", url)
	scanHint := "prefail scan"
	if f.tls {
		fmt.Fprintf(a.stdout, "certificate (PEM): %s\n", caPath)
		scanHint += " --ca-file " + caPath
	}
	switch {
	case f.noAuth:
		fmt.Fprintln(a.stdout, "credentials: none needed (--no-auth)")
	case f.passwordFile != "":
		fmt.Fprintf(a.stdout, "credentials: %s / %s\n", f.username, pwHint)
		scanHint = "PREFAIL_USERNAME=" + f.username + " " + scanHint + " --password-file " + f.passwordFile
	default:
		fmt.Fprintf(a.stdout, "credentials: %s / %s (the mock's well-known default)\n", f.username, pwHint)
		scanHint = "PREFAIL_USERNAME=" + f.username + " PREFAIL_PASSWORD=" + pwHint + " " + scanHint
	}
	fmt.Fprintf(a.stdout, "try: %s %s\n", scanHint, url)
	fmt.Fprintln(a.stdout, "stop with Ctrl-C")
	if a.onListen != nil {
		a.onListen(url)
	}
	a.log.Info().Str("url", url).Msg("mock serving")

	err = redfishmock.Serve(ctx, ln, handler, cert)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

func speedOf(sc *redfishmock.Scenario) float64 {
	if sc.Speed <= 0 {
		return 1
	}
	return sc.Speed
}

// certHosts are the names the generated certificate is valid for: the
// loopback names, plus the --listen host when it names one.
func certHosts(listen string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	h, _, err := net.SplitHostPort(listen)
	if err != nil || h == "" {
		return hosts
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			hosts = append(hosts, name)
		}
		return hosts
	}
	for _, x := range hosts {
		if x == h {
			return hosts
		}
	}
	return append(hosts, h)
}

// loadScenario loads --scenario: a file if one exists at that path, else an
// embedded scenario by name. Empty means none.
func loadScenario(nameOrFile string) (*redfishmock.Scenario, error) {
	if nameOrFile == "" {
		return nil, nil
	}
	if st, err := os.Stat(nameOrFile); err == nil && !st.IsDir() {
		return redfishmock.LoadScenarioFile(nameOrFile)
	}
	sc, err := redfishmock.EmbeddedScenario(nameOrFile)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("--scenario %s: neither a file nor an embedded scenario (embedded: %s)",
			nameOrFile, strings.Join(redfishmock.EmbeddedScenarioNames(), ", "))}
	}
	return sc, nil
}

// loadTree picks the tree to serve: DIR, else --tree, else the scenario's
// base, else the default embedded tree. It also says what it loaded.
func loadTree(args []string, name string, sc *redfishmock.Scenario) (*redfishmock.Tree, string, error) {
	switch {
	case len(args) == 1:
		t, err := redfishmock.LoadDir(args[0])
		if err != nil {
			return nil, "", err
		}
		return t, "mockup directory " + args[0], nil
	case name == "" && sc != nil:
		t, err := sc.BaseTree()
		if err != nil {
			return nil, "", err
		}
		return t, "the scenario's base tree " + sc.Base, nil
	}
	if name == "" {
		name = defaultMockTree
	}
	t, err := redfishmock.Embedded(name)
	if err != nil {
		return nil, "", &usageError{err: fmt.Errorf("--tree %s: no such embedded tree (embedded: %s)",
			name, strings.Join(redfishmock.EmbeddedNames(), ", "))}
	}
	return t, "embedded tree " + name, nil
}

// simClock advances the mock's simulated time with the wall clock at the
// scenario's speed: before each request, it sets the time to
// start + speed × (time since the mock started). It never goes back.
type simClock struct {
	srv   *redfishmock.Server
	sc    *redfishmock.Scenario
	start time.Duration
	t0    time.Time
	now   func() time.Time

	mu   sync.Mutex
	last time.Duration
}

func newSimClock(srv *redfishmock.Server, sc *redfishmock.Scenario, start time.Duration, now func() time.Time) *simClock {
	c := &simClock{srv: srv, sc: sc, start: start, t0: now(), now: now, last: start}
	srv.SetTime(start)
	return c
}

func (c *simClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	t := c.start + c.sc.SimTime(c.now().Sub(c.t0))
	if t > c.last {
		c.last = t
		c.srv.SetTime(t)
	}
	c.mu.Unlock()
	c.srv.ServeHTTP(w, r)
}

// parseSimDuration parses a simulated time such as "13d", "1d12h", "36h"
// or "90m" (time.ParseDuration plus a leading day count). Empty is 0.
func parseSimDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	m := regexp.MustCompile(`^(\d+(?:\.\d+)?)d(.*)$`).FindStringSubmatch(s)
	if m == nil {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q: want a duration such as 13d, 1d12h or 36h", s)
		}
		return d, nil
	}
	days, err := strconv.ParseFloat(m[1], 64)
	if err != nil || days > 100000 {
		return 0, fmt.Errorf("%q: bad day count", s)
	}
	d := time.Duration(days * 24 * float64(time.Hour))
	if m[2] != "" {
		rest, err := time.ParseDuration(m[2])
		if err != nil || rest < 0 {
			return 0, fmt.Errorf("%q: want a duration such as 13d, 1d12h or 36h", s)
		}
		d += rest
	}
	return d, nil
}

// formatSimDuration prints d as days and a remainder ("13d", "1d12h0m0s").
func formatSimDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d < day {
		return d.String()
	}
	days := d / day
	rest := d % day
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

// firstLines keeps the first n lines of a long message.
func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... and %d more", len(lines)-n)
}
