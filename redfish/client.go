// Package redfish reads a server's health from its BMC's Redfish service
// into the shared hardware model.
package redfish

import (
	"context"
	"errors"

	"github.com/prefail/prefail/model"
)

// Client reads one Redfish service. It keeps one session open across scans
// (log out with Close). A Client is safe for use by one scan at a time.
type Client struct {
	endpoint string
	cfg      config
}

// New returns a client for endpoint ("https://bmc.example:443"). It makes
// no request.
func New(endpoint string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return &Client{endpoint: endpoint, cfg: cfg}, nil
}

// Scan reads every chassis, system and manager of the service, logging in
// first if no session is open. Snapshot.Requests counts the HTTP requests
// this call made.
func (c *Client) Scan(ctx context.Context) (*model.Snapshot, error) {
	return nil, errors.New("redfish: not implemented")
}

// Close logs out of the session, if one is open, and returns the number of
// requests that took.
func (c *Client) Close(ctx context.Context) (int, error) {
	return 0, nil
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
