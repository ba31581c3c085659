// Package redfish reads a server's health from its BMC's Redfish service
// into the shared hardware model: every chassis (fans, temperatures, PSUs,
// voltages, power, drives), every system (memory, processors, storage) and
// every manager (the BMC itself and its logs).
//
// It decodes resources itself, leniently (see node.go), and walks the tree
// with as few requests as the service allows: one session reused over
// keep-alive connections, $expand where the service root advertises it,
// and a cache so that a resource delivered inside another response is
// never fetched again. Reads that do not depend on each other (members,
// a chassis's sub-resources, logs, metrics) are made at once, within
// WithMaxInFlight, in a way that keeps the requests and the snapshot the
// same whichever response comes first (see view, scan.together).
package redfish

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/prefail/prefail/model"
)

// Client reads one Redfish service. It keeps one session open across scans
// (log out with Close). A Client is safe for use by one scan at a time.
//
// Every request goes to the endpoint's origin only (see origin.go), every
// response and every scan is bounded (WithMaxResponseBytes,
// WithMemoryBudget, WithMaxMembers), and Close always deletes the session.
type Client struct {
	endpoint string
	origin   origin
	cfg      config

	hc        *http.Client
	guard     *guardTransport
	sem       chan struct{} // requests in flight (WithMaxInFlight)
	connected bool
	features  features

	authMu     sync.Mutex // guards the session fields and pending
	token      string
	sessionURL string
	session    bool     // logged in (with or without a token)
	pending    []string // warnings from login, for the next snapshot
	now        func() time.Time
}

// New returns a client for endpoint ("https://bmc.example:443"). It makes
// no request.
func New(endpoint string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	o, err := parseOrigin(endpoint)
	if err != nil {
		return nil, err
	}
	return &Client{endpoint: o.String(), origin: o, cfg: cfg, now: time.Now, sem: make(chan struct{}, cfg.maxInFlight)}, nil
}

// requests is the number of requests made so far.
func (c *Client) requests() int64 {
	if c.guard == nil {
		return 0
	}
	return c.guard.n.Load()
}

// Scan reads every chassis, system and manager of the service, logging in
// first if no session is open. Snapshot.Requests counts the HTTP requests
// this call made. What could not be read is in Snapshot.Warnings. An error
// is returned when nothing could be read (service root unreachable, login
// refused), when the service yields no component at all (ErrNoComponents:
// its health is unknown, not ok), and when ctx ended the scan early; the
// snapshot is returned in every case, with what was read.
func (c *Client) Scan(ctx context.Context) (*model.Snapshot, error) {
	before := c.requests()
	snap := &model.Snapshot{Target: c.endpoint, Time: c.now().UTC(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
	finish := func(err error) (*model.Snapshot, error) {
		snap.Requests = int(c.requests() - before)
		c.authMu.Lock()
		for _, w := range c.pending {
			snap.Warnings = append(snap.Warnings, model.Warning{Source: c.endpoint, Message: w})
		}
		c.pending = nil
		c.authMu.Unlock()
		if err != nil {
			return snap, fmt.Errorf("%s: %w", c.endpoint, err)
		}
		return snap, nil
	}
	if !c.connected {
		if err := c.connect(ctx); err != nil {
			return finish(err)
		}
	}
	if !c.loggedIn() {
		if err := c.login(ctx); err != nil {
			return finish(err)
		}
	}

	s := &scan{f: newRootView(ctx, c), cfg: &c.cfg, log: c.cfg.logger, results: &results{}}
	s.run()
	// What the walk decoded is garbage once the snapshot is built.
	defer s.f.budget.release()

	snap.Components = s.components()
	snap.Redundancy = s.redundancy
	snap.Events = s.events
	if snap.Events == nil {
		snap.Events = []model.Event{}
	}
	snap.Warnings = append(snap.Warnings, s.warnings...)
	switch {
	case ctx.Err() != nil:
		return finish(fmt.Errorf("scan cut short with %d components read: %w", len(snap.Components), context.Cause(ctx)))
	case len(snap.Components) == 0 && s.fatal != nil:
		// The error says it; the warnings need not say it again.
		msg := s.fatal.Error()
		snap.Warnings = slices.DeleteFunc(snap.Warnings, func(w model.Warning) bool { return w.Message == msg })
		return finish(s.fatal)
	case len(snap.Components) == 0:
		return finish(fmt.Errorf("%w: the service answered but lists no chassis, system or manager: its hardware health is unknown", ErrNoComponents))
	}
	return finish(nil)
}

// Close logs out of the session, if one is open, and returns the number of
// requests that took. It runs even when ctx is already done (on a detached
// context bounded by a few seconds), so that no session is left open on
// the BMC, and closes the client's idle connections.
func (c *Client) Close(ctx context.Context) (int, error) {
	before := c.requests()
	err := c.logout(ctx)
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
	return int(c.requests() - before), err
}

// CloseIdleConnections closes the connections kept alive after the
// requests in flight, and keeps the session. A client kept between scans
// minutes apart (the agent) calls it after each scan: BMC web servers drop
// idle connections long before that anyway, and each one kept holds two
// goroutines and their buffers (about 40 KB): 20 MB for 500 BMCs.
func (c *Client) CloseIdleConnections() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// Scan is the one-shot form: log in, scan, log out (also when ctx ends
// the scan). The snapshot's request count includes the logout.
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
			snap.Warnings = append(snap.Warnings, model.Warning{Source: c.endpoint, Message: "logout: " + cerr.Error()})
		}
	}
	return snap, err
}

// scan is one walk of the tree: its view of what was read (see view), and
// the snapshot all the walks of one scan report into. The three top
// collections are read at once, then every part of the tree below them by
// walks of their own, concurrently, within the client's in-flight bound
// (WithMaxInFlight); the snapshot is built once everything is read.
type scan struct {
	f   *view
	cfg *config
	log zerolog.Logger
	*results
}

// results is what the walks of one scan report.
type results struct {
	mu         sync.Mutex
	comps      []model.Component
	redundancy []model.RedundancyGroup
	events     []model.Event
	warnings   []model.Warning
	fatal      error
	cut        int            // reads not made because the context ended
	seen       map[string]int // component id -> index in comps
	// chassisDrives are read after the other walks (see run).
	chassisDrives []struct{ id, chassis string }
}
