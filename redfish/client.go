// Package redfish reads a server's health from its BMC's Redfish service
// into the shared hardware model: every chassis (fans, temperatures, PSUs,
// voltages, power, drives), every system (memory, processors, storage) and
// every manager (the BMC itself and its logs).
//
// It is built on gofish for the transport, but decodes resources itself,
// leniently (see node.go), and walks the tree with as few requests as the
// service allows: one session reused over keep-alive connections, $expand
// where the service root advertises it, and a cache so that a resource
// delivered inside another response is never fetched again.
package redfish

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/stmcginnis/gofish"

	"github.com/prefail/prefail/model"
)

// Client reads one Redfish service. It keeps one session open across scans
// (log out with Close). A Client is safe for use by one scan at a time.
type Client struct {
	endpoint string
	cfg      config

	api        *gofish.APIClient
	counter    *countingTransport
	features   features
	authMu     sync.Mutex // guards token, sessionURL, cfg.basicAuth during a scan
	token      string
	sessionURL string
	now        func() time.Time
}

// New returns a client for endpoint ("https://bmc.example:443"). It makes
// no request.
func New(endpoint string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	endpoint = strings.TrimRight(endpoint, "/")
	if !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return nil, fmt.Errorf("redfish endpoint %q: want https://host[:port] or http://host:port", endpoint)
	}
	return &Client{endpoint: endpoint, cfg: cfg, now: time.Now}, nil
}

// Scan reads every chassis, system and manager of the service, logging in
// first if no session is open. Snapshot.Requests counts the HTTP requests
// this call made. What could not be read is in Snapshot.Warnings; an error
// is returned only when nothing could be read (service root unreachable,
// login refused).
func (c *Client) Scan(ctx context.Context) (*model.Snapshot, error) {
	var before int64
	if c.counter != nil {
		before = c.counter.n.Load()
	}
	snap := &model.Snapshot{Target: c.endpoint, Time: c.now().UTC(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
	count := func() {
		if c.counter != nil {
			snap.Requests = int(c.counter.n.Load() - before)
		}
	}
	if c.api == nil {
		if err := c.connect(ctx); err != nil {
			count()
			return snap, fmt.Errorf("%s: %w", c.endpoint, err)
		}
	}
	if _, tok := c.authHeaders(); c.cfg.username != "" && !c.cfg.basicAuth && tok == "" {
		if err := c.login(ctx); err != nil {
			count()
			return snap, fmt.Errorf("%s: %w", c.endpoint, err)
		}
	}

	s := &scan{f: newFetcher(ctx, c), cfg: &c.cfg, log: c.cfg.logger}
	s.run()
	count()

	snap.Components = s.components()
	snap.Redundancy = s.redundancy
	snap.Events = s.events
	if snap.Events == nil {
		snap.Events = []model.Event{}
	}
	snap.Warnings = append(snap.Warnings, s.warnings...)
	if len(snap.Components) == 0 && s.fatal != nil {
		return snap, fmt.Errorf("%s: %w", c.endpoint, s.fatal)
	}
	return snap, nil
}

// Close logs out of the session, if one is open, and returns the number of
// requests that took.
func (c *Client) Close(ctx context.Context) (int, error) {
	if c.counter == nil {
		return 0, nil
	}
	before := c.counter.n.Load()
	err := c.logout(ctx)
	if c.api != nil {
		c.api.HTTPClient.CloseIdleConnections()
	}
	return int(c.counter.n.Load() - before), err
}

// Scan is the one-shot form: log in, scan, log out. The snapshot's request
// count includes the logout.
func Scan(ctx context.Context, endpoint string, opts ...Option) (*model.Snapshot, error) {
	c, err := New(endpoint, opts...)
	if err != nil {
		return nil, err
	}
	snap, err := c.Scan(ctx)
	n, cerr := c.Close(ctx)
	if snap != nil {
		snap.Requests += n
		if cerr != nil {
			snap.Warnings = append(snap.Warnings, model.Warning{Source: endpoint, Message: "logout: " + cerr.Error()})
		}
	}
	return snap, err
}

// scan is the state of one walk of the tree. The three areas (chassis,
// systems, managers) are walked concurrently; the in-flight bound is
// gofish's semaphore (WithMaxInFlight).
type scan struct {
	f   *fetcher
	cfg *config
	log zerolog.Logger

	mu         sync.Mutex
	comps      []model.Component
	redundancy []model.RedundancyGroup
	events     []model.Event
	warnings   []model.Warning
	fatal      error
	seen       map[string]bool // component ids already reported
	// chassisDrives are read after the other walks (see run).
	chassisDrives []struct{ id, chassis string }
}
