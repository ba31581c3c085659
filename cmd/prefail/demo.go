package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/redfish/redfishmock"
)

type demoFlags struct {
	tree     string
	scenario string
	at       string
	json     bool
	timeout  time.Duration
}

func (a *app) newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan an embedded mock BMC: no hardware, no configuration",
		Long: `Demo starts the embedded mock BMC on 127.0.0.1 over TLS with a freshly
generated certificate, scans it exactly as 'prefail scan' would (certificate
verified against that certificate, session login with the mock's well-known
credentials ` + defaultMockUsername + `/` + defaultMockPassword + `), prints the result and stops.

With --scenario NAME --at 13d it shows the scenario's server at simulated
day 13 (e.g. --scenario aging-server --at 13d).`,
		Example: `  prefail demo
  prefail demo --scenario aging-server --at 13d
  prefail demo --tree public-tower --json`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDemo(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tree, "tree", "", "embedded tree `NAME` (default "+defaultMockTree+", or the scenario's base)")
	fl.StringVar(&f.scenario, "scenario", "", "replay an embedded scenario `NAME` (or a scenario file)")
	fl.StringVar(&f.at, "at", "", "with --scenario, the simulated time to show (e.g. 13d, 36h)")
	fl.BoolVar(&f.json, "json", false, "print one JSON document (see docs/json-schema.md)")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "time limit for the scan")
	return cmd
}

func (a *app) runDemo(ctx context.Context, f *demoFlags) error {
	at, err := parseSimDuration(f.at)
	if err != nil {
		return usagef("--at: %v", err)
	}
	if f.at != "" && f.scenario == "" {
		return usagef("--at needs --scenario")
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	sc, err := loadScenario(f.scenario)
	if err != nil {
		return err
	}
	tree, what, err := loadTree(nil, f.tree, sc)
	if err != nil {
		return err
	}
	opts := []redfishmock.Option{redfishmock.WithCredentials(defaultMockUsername, defaultMockPassword)}
	if sc != nil {
		if err := sc.Check(tree); err != nil {
			return fmt.Errorf("scenario %s does not fit %s: %s", f.scenario, what, firstLines(err.Error(), 5))
		}
		opts = append(opts, redfishmock.WithScenario(sc))
	}
	srv := redfishmock.New(tree, opts...)
	if sc != nil {
		srv.SetTime(at)
	}

	cert, pem, err := redfishmock.SelfSignedCert("127.0.0.1", "localhost")
	if err != nil {
		return fmt.Errorf("generating a certificate: %w", err)
	}
	dir, err := os.MkdirTemp("", "prefail-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, pem, 0o644); err != nil {
		return err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- redfishmock.Serve(sctx, ln, srv, &cert) }()
	defer func() {
		stop()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			a.log.Warn().Err(err).Msg("demo mock stopped with an error")
		}
	}()

	endpoint := "https://" + ln.Addr().String()
	note := ""
	if sc != nil {
		note = fmt.Sprintf(", scenario %s at %s", f.scenario, formatSimDuration(at))
	}
	fmt.Fprintf(a.stderr, "demo: mock BMC serving %s%s at %s; scanning it with TLS verified against its generated certificate and a session login as %s\n",
		what, note, endpoint, defaultMockUsername)

	req := scanRequest{
		Endpoint:      endpoint,
		Username:      defaultMockUsername,
		Password:      defaultMockPassword,
		CAFile:        caPath,
		MaxLogEntries: 100,
	}
	t := &target{Endpoint: endpoint, Where: "demo"}
	results := a.scanAll(ctx, []*target{t}, 1, f.timeout,
		func(context.Context, *target) (scanRequest, error) { return req, nil })
	if err := a.render(results, f.json); err != nil {
		return err
	}
	return failures(results)
}
