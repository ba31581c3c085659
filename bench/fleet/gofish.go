package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish"

	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// gofishResult is the gofish baseline's measurement.
type gofishResult struct {
	wall   time.Duration
	failed int
}

// gofishFleet walks every BMC with gofish v0.26.0's own API, concurrency
// BMCs at a time, as redfish/bench_test.go's gofishScan does: the plain
// traversal a user of gofish would write, reading the same health
// resources as prefail (no $expand: gofish's AutoExpand is off by
// default).
func gofishFleet(ctx context.Context, urls []string, concurrency, inFlight int) (gofishResult, error) {
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range min(concurrency, len(urls)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) || ctx.Err() != nil {
					return
				}
				if gofishScan(ctx, urls[i], inFlight) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return gofishResult{}, err
	}
	return gofishResult{wall: time.Since(start), failed: int(failed.Load())}, nil
}

// gofishScan reads one BMC the way a gofish user would
// (redfishtest.GofishWalk).
func gofishScan(ctx context.Context, url string, inFlight int) error {
	return redfishtest.GofishWalk(ctx, gofish.ClientConfig{
		Endpoint: url, Username: redfishmock.DefaultUser, Password: redfishmock.DefaultPassword,
		MaxConcurrentRequests: int64(inFlight), ReuseConnections: true,
	})
}
