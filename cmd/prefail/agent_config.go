package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/redfish"
)

// applyConfig takes the agent's settings from the config file where no
// flag was given: flags override the file.
func (a *app) applyConfig(c *agent.Config, f *agentFlags, cmd *cobra.Command) {
	fl := cmd.Flags()
	set := func(name string) bool { return fl.Changed(name) }
	if !set("interval") {
		f.interval = c.Interval
	}
	if !set("timeout") {
		f.scan.timeout = c.Timeout
	}
	if !set("concurrency") {
		f.scan.concurrency = c.Concurrency
	}
	if !set("store") && !set("state") {
		f.store = c.Store.Path
	}
	if !set("events") && c.Outputs.File != nil {
		f.events = c.Outputs.File.Path
	}
	if !set("stdout") && c.Outputs.Stdout {
		f.stdout = true
	}
	if !set("listen") {
		f.listen = c.Listen
	}
	if !set("max-log-entries") {
		f.scan.maxLogEntries = c.MaxLogEntries
	}
	if !set("memory-limit") {
		f.scan.memoryMiB = int(c.MemoryLimit >> 20)
	}
	if !set("sdr-cache") {
		f.scan.sdrCache = c.SDRCache
	}
	if !set("detector-config") {
		d := c.Detector
		f.detector = &d
	}
	if c.LogLevel != "" && !cmd.Root().PersistentFlags().Changed("log-level") {
		if lvl, err := zerolog.ParseLevel(c.LogLevel); err == nil {
			a.log = a.log.Level(lvl)
		}
	}
	a.memory = redfish.NewMemoryPool(int64(f.scan.memoryMiB) << 20)
}

// configPlan lists the config's targets and how each is prepared: its
// settings with the defaults applied, and its credentials read (from the
// environment or a file) when its reader is built.
func (a *app) configPlan(c *agent.Config) ([]*target, preparer, error) {
	if len(c.Targets) == 0 {
		return nil, nil, usagef("%s: no targets (targets: or targets_file:)", c.File)
	}
	byEndpoint := map[string]*agent.TargetConfig{}
	targets := make([]*target, 0, len(c.Targets))
	for i := range c.Targets {
		tc := &c.Targets[i]
		byEndpoint[tc.Endpoint()] = tc
		targets = append(targets, &target{Endpoint: tc.Endpoint(), Where: tc.Where})
	}
	prepare := func(ctx context.Context, t *target) (scanRequest, error) {
		tc := byEndpoint[t.Endpoint]
		req := *c.Target(tc)
		if tc.Interval == 0 {
			// Not the target's own: the kind's, or the agent's (which
			// --interval sets).
			req.Interval = c.Intervals[tc.Kind()]
		}
		if tc.Kind() == "smart" {
			return req, nil
		}
		user, pass, err := c.CredentialsOf(tc).Resolve(ctx, a.getenv)
		if err != nil {
			return req, fmt.Errorf("%s: %w", tc.Where, err)
		}
		req.Username, req.Password = user, pass
		switch {
		case strings.HasPrefix(req.Endpoint, "http://") && user != "" && !isLoopbackEndpoint(req.Endpoint):
			a.log.Warn().Str("target", req.Endpoint).Msg("sending credentials over plain HTTP")
		case strings.HasPrefix(req.Endpoint, "https://") && req.Insecure:
			a.log.Warn().Str("target", req.Endpoint).Msg("TLS certificate verification is off for this target")
		}
		return req, nil
	}
	return targets, prepare, nil
}

// configOutputs builds the webhook and NATS outputs the config names (the
// file and stdout outputs go through the flags' path).
func (a *app) configOutputs(ctx context.Context, c *agent.Config) ([]agent.Output, error) {
	var outs []agent.Output
	if w := c.Outputs.Webhook; w != nil {
		url := w.URL
		if w.URLEnv != "" {
			url = a.getenv(w.URLEnv)
			if url == "" {
				return outs, fmt.Errorf("%s: outputs.webhook.url_env: $%s is not set", c.File, w.URLEnv)
			}
		}
		opts := []agent.WebhookOption{agent.WithWebhookTimeout(w.Timeout)}
		for k, v := range w.Headers {
			opts = append(opts, agent.WithWebhookHeader(k, v))
		}
		for k, env := range w.HeadersEnv {
			v := a.getenv(env)
			if v == "" {
				return outs, fmt.Errorf("%s: outputs.webhook.headers_env: $%s (for %s) is not set", c.File, env, k)
			}
			opts = append(opts, agent.WithWebhookHeader(k, v))
		}
		if w.TLS.CAFile != "" {
			opts = append(opts, agent.WithWebhookCAFile(w.TLS.CAFile))
		}
		if w.TLS.Insecure {
			opts = append(opts, agent.WithWebhookInsecureSkipVerify(true))
		}
		o, err := agent.NewWebhookOutput(url, opts...)
		if err != nil {
			return outs, err
		}
		outs = append(outs, o)
	}
	if n := c.Outputs.NATS; n != nil {
		opts := []agent.NATSOption{agent.WithNATSStream(n.Stream), agent.WithNATSLogger(a.log)}
		if n.CreateStream {
			opts = append(opts, agent.WithNATSCreateStream(0))
		}
		if n.CredsFile != "" {
			opts = append(opts, agent.WithNATSCredsFile(n.CredsFile))
		}
		if n.CAFile != "" {
			opts = append(opts, agent.WithNATSCAFile(n.CAFile))
		}
		o, err := agent.NewNATSOutput(ctx, n.URL, n.Subject, opts...)
		if err != nil {
			return outs, err
		}
		outs = append(outs, o)
	}
	return outs, nil
}
