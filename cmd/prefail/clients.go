package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/prefail/prefail/redfish"
)

// redfishClients keeps one Redfish client per target for the agent, so
// that a BMC sees one login for the whole run instead of one per round
// (the reader logs in again by itself when the BMC drops the session).
// A target whose settings change (a targets file edited) gets a new
// client, and the old one is logged out.
type redfishClients struct {
	mu sync.Mutex
	m  map[string]*keptClient
}

type keptClient struct {
	mu       sync.Mutex // one scan at a time
	c        *redfish.Client
	settings string
}

func newRedfishClients() *redfishClients {
	return &redfishClients{m: map[string]*keptClient{}}
}

// get returns the target's client, creating it with opts on first use.
func (k *redfishClients) get(req scanRequest, opts []redfish.Option) (*keptClient, error) {
	// The settings a client was built with, the password among them
	// (revealed: a secret prints masked); this string is only compared,
	// never logged.
	settings := fmt.Sprintf("%s|%s|%s|%t|%t|%d", req.Username, req.Password.reveal(), req.CAFile, req.Insecure, req.BasicAuth, req.MaxLogEntries)
	k.mu.Lock()
	defer k.mu.Unlock()
	if kc, ok := k.m[req.Endpoint]; ok {
		if kc.settings == settings {
			return kc, nil
		}
		go kc.close(context.Background())
	}
	c, err := redfish.New(req.Endpoint, opts...)
	if err != nil {
		return nil, err
	}
	kc := &keptClient{c: c, settings: settings}
	k.m[req.Endpoint] = kc
	return kc, nil
}

func (kc *keptClient) close(ctx context.Context) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	_, _ = kc.c.Close(ctx)
}

// closeAll logs out of every session (each bounded by the reader's
// logout timeout, run concurrently).
func (k *redfishClients) closeAll(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var wg sync.WaitGroup
	for _, kc := range k.m {
		wg.Go(func() { kc.close(ctx) })
	}
	wg.Wait()
	clear(k.m)
}
