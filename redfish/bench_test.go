package redfish_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"

	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// BenchmarkScan measures one full one-shot scan (login, walk, logout) of
// an embedded capture through the mock server over loopback HTTP, and
// reports the requests each scan costs.
//
//	go test ./redfish -run '^$' -bench . -benchmem
func BenchmarkScan(b *testing.B) {
	for _, name := range []string{"public-rackmount1", "public-tower"} {
		tree, err := redfishmock.Embedded(name)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []struct {
			name string
			opts []redfishmock.Option
		}{
			{"expand", nil},
			{"dmtf-mockup-server", []redfishmock.Option{redfishmock.WithDMTFMockupServerBehaviour()}},
		} {
			b.Run(name+"/prefail/"+mode.name, func(b *testing.B) {
				ts := redfishtest.NewServer(tree, mode.opts...)
				defer ts.Close()
				b.ReportAllocs()
				var requests int
				for b.Loop() {
					snap, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"))
					if err != nil {
						b.Fatal(err)
					}
					requests = snap.Requests
				}
				b.ReportMetric(float64(requests), "requests/scan")
			})
			b.Run(name+"/gofish/"+mode.name, func(b *testing.B) {
				ts := redfishtest.NewServer(tree, mode.opts...)
				defer ts.Close()
				b.ReportAllocs()
				var requests int64
				for b.Loop() {
					ts.Mock.ResetRequests()
					gofishScan(b, ts.URL)
					requests = ts.Mock.Requests()
				}
				b.ReportMetric(float64(requests), "requests/scan")
			})
		}
	}
}

// gofishScan reads the same health resources with gofish's own API
// (redfishtest.GofishWalk): the baseline the issue measures.
func gofishScan(b *testing.B, url string) {
	if err := redfishtest.GofishWalk(context.Background(), gofish.ClientConfig{Endpoint: url, Username: "admin", Password: "password"}); err != nil {
		b.Fatal(err)
	}
}

// fleetBMCs and fleetWorkers shape BenchmarkFleet: the 1,000 BMCs,
// 64 scanned at once.
const (
	fleetBMCs    = 1000
	fleetWorkers = 64
	fleetLatency = 50 * time.Millisecond
)

// BenchmarkFleet scans 1,000 mock BMCs (public-rackmount1, 50 ms per
// response, over loopback HTTP) 64 at a time with one-shot scans sharing a
// memory pool, as prefail scan does: one op is the whole fleet. The mocks
// share their rendered replies (redfishmock.WithReplyCache) so that the
// profile is the reader's. For the figures the issue asks for:
//
//	go test ./redfish -run '^$' -bench Fleet -benchtime 1x -cpuprofile cpu.out -memprofile mem.out
func BenchmarkFleet(b *testing.B) {
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts []redfishmock.Option
	}{
		{"expand", nil},
		{"no-expand", []redfishmock.Option{redfishmock.WithoutExpand()}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			opts := append([]redfishmock.Option{redfishmock.WithLatency(fleetLatency), redfishmock.WithReplyCache(redfishmock.NewReplyCache())}, mode.opts...)
			servers := make([]*redfishtest.TestServer, fleetBMCs)
			for i := range servers {
				servers[i] = redfishtest.NewServer(tree, opts...)
				defer servers[i].Close()
			}
			pool := redfish.NewMemoryPool(256 << 20)
			b.ReportAllocs()
			var requests atomic.Int64
			for b.Loop() {
				requests.Store(0)
				var next atomic.Int64
				var wg sync.WaitGroup
				for range fleetWorkers {
					wg.Go(func() {
						for i := int(next.Add(1) - 1); i < len(servers); i = int(next.Add(1) - 1) {
							snap, err := redfish.Scan(context.Background(), servers[i].URL,
								redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword), redfish.WithMemoryPool(pool))
							if err != nil {
								b.Error(err)
								return
							}
							requests.Add(int64(snap.Requests))
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(requests.Load())/fleetBMCs, "requests/bmc")
		})
	}
}
