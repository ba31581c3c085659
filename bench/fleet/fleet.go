package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// bmcsPerAddress spreads the listeners over loopback addresses
// (127.0.0.1, 127.0.0.2, ...): each listener holds an ephemeral port of
// its address, and the ephemeral range (about 28,000 ports) is shared with
// the scan's outgoing connections.
const bmcsPerAddress = 4000

// fleet is N mock BMCs, each a redfishmock.Server behind its own
// http.Server on its own loopback port.
type fleet struct {
	mocks   []*redfishmock.Server
	servers []*http.Server
	urls    []string
}

func startFleet(ctx context.Context, n int, tree *redfishmock.Tree, opts []redfishmock.Option) (*fleet, error) {
	f := &fleet{}
	quiet := log.New(discard{}, "", 0)
	for i := range n {
		m := redfishmock.New(tree, opts...)
		addr := fmt.Sprintf("127.0.0.%d:0", 1+i/bmcsPerAddress)
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("listening for BMC %d on %s: %w", i, addr, err)
		}
		srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quiet}
		go func() { _ = srv.Serve(ln) }()
		f.mocks = append(f.mocks, m)
		f.servers = append(f.servers, srv)
		f.urls = append(f.urls, "http://"+ln.Addr().String())
	}
	return f, nil
}

func (f *fleet) close() {
	for _, s := range f.servers {
		_ = s.Close()
	}
}

type requestCounts struct {
	total, min, max int64
}

// requests sums what the mocks counted (every request they received).
func (f *fleet) requests() requestCounts {
	var c requestCounts
	for i, m := range f.mocks {
		n := m.Requests()
		c.total += n
		if i == 0 || n < c.min {
			c.min = n
		}
		c.max = max(c.max, n)
	}
	return c
}

func (f *fleet) resetRequests() {
	for _, m := range f.mocks {
		m.ResetRequests()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
