package redfish_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// gate holds the GETs of a set of paths until `size` of them are waiting
// at once, or every one of them has arrived, then lets the waiting ones
// through together. A reader that makes those reads one after another
// never gets a batch together: its first read waits out the safety bound
// and the batch is recorded as timed out. It also records the most
// requests the server ever had in flight.
type gate struct {
	h       http.Handler
	size    int
	safety  time.Duration
	pending map[string]bool // gated paths not requested yet

	mu                 sync.Mutex
	waiting            []chan struct{}
	inFlight, maxSeen  int
	batches, timeouts  int
	gatedInOneBatch    []int
	requestedOutOfGate int
}

func newGate(h http.Handler, size int, paths []string) *gate {
	g := &gate{h: h, size: size, safety: 10 * time.Second, pending: map[string]bool{}}
	for _, p := range paths {
		g.pending[p] = true
	}
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.inFlight++
	g.maxSeen = max(g.maxSeen, g.inFlight)
	gated := r.Method == http.MethodGet && g.pending[r.URL.Path]
	var wait chan struct{}
	if gated {
		delete(g.pending, r.URL.Path)
		wait = make(chan struct{})
		g.waiting = append(g.waiting, wait)
		if len(g.waiting) == g.size || len(g.pending) == 0 {
			g.releaseLocked()
		}
	} else {
		g.requestedOutOfGate++
	}
	g.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-time.After(g.safety):
			g.mu.Lock()
			g.timeouts++
			g.releaseLocked()
			g.mu.Unlock()
		}
	}
	g.h.ServeHTTP(w, r)
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
}

func (g *gate) releaseLocked() {
	if len(g.waiting) == 0 {
		return
	}
	g.batches++
	g.gatedInOneBatch = append(g.gatedInOneBatch, len(g.waiting))
	for _, c := range g.waiting {
		close(c)
	}
	g.waiting = nil
}

// TestFollowUpReadsAtOnce: with $expand, after the three top collections
// the reads that depend on them (each log's entries, the PSU's metrics)
// are made at once, not one walk after another.
func TestFollowUpReadsAtOnce(t *testing.T) {
	follow := []string{
		"/redfish/v1/Systems/437XR1138R2/LogServices/Log1/Entries",
		"/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1/Metrics",
		"/redfish/v1/Managers/BMC/LogServices/Log/Entries",
	}
	g := newGate(redfishmock.New(embedded(t, "public-rackmount1")), len(follow), follow)
	hs := httptest.NewServer(g)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := redfish.Scan(ctx, hs.URL, redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timeouts > 0 || g.batches != 1 || len(g.pending) > 0 {
		t.Errorf("follow-up reads: %d batches %v, %d waited out the safety bound, %d never made; want all %d in one batch",
			g.batches, g.gatedInOneBatch, g.timeouts, len(g.pending), len(follow))
	}
	if len(snap.Events) == 0 || snap.Requests != 9 {
		t.Errorf("%d events, %d requests; want both logs read and the 9 requests of a scan with $expand", len(snap.Events), snap.Requests)
	}
}

// TestMembersAtOnceWithinInFlightBound: without $expand every member is
// its own GET; the 41 Sensors of public-rackmount1 go four at a time
// (WithMaxInFlight's default), never more requests in flight than that.
func TestMembersAtOnceWithinInFlightBound(t *testing.T) {
	tree := embedded(t, "public-rackmount1")
	body, ok := tree.Get("/redfish/v1/Chassis/1U/Sensors")
	if !ok {
		t.Fatal("no Sensors collection in public-rackmount1")
	}
	var coll struct {
		Members []struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := json.Unmarshal(body, &coll); err != nil {
		t.Fatal(err)
	}
	var sensors []string
	for _, m := range coll.Members {
		sensors = append(sensors, m.ID)
	}
	if len(sensors) < 8 {
		t.Fatalf("%d sensors in the tree; the test needs a collection of several batches", len(sensors))
	}
	const bound = 4
	g := newGate(redfishmock.New(tree, redfishmock.WithoutExpand()), bound, sensors)
	hs := httptest.NewServer(g)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := redfish.Scan(ctx, hs.URL, redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword), redfish.WithMaxInFlight(bound))
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timeouts > 0 || len(g.pending) > 0 {
		t.Errorf("sensor reads in batches %v: %d waited out the safety bound, %d never made; want batches of %d", g.gatedInOneBatch, g.timeouts, len(g.pending), bound)
	}
	if want := (len(sensors) + bound - 1) / bound; g.batches != want {
		t.Errorf("%d sensors read in %d batches %v, want %d", len(sensors), g.batches, g.gatedInOneBatch, want)
	}
	if g.maxSeen > bound {
		t.Errorf("%d requests in flight at once, over the bound of %d", g.maxSeen, bound)
	}
	if snap.Requests != len(sensors)+g.requestedOutOfGate {
		t.Errorf("snapshot counts %d requests, the server saw %d", snap.Requests, len(sensors)+g.requestedOutOfGate)
	}
}

// TestChassisPartsAtOnce: without $expand, a chassis's sub-resources
// (environment, thermal and power subsystems, sensors, the legacy
// Thermal and Power) are independent reads: made at once, four at a time.
func TestChassisPartsAtOnce(t *testing.T) {
	parts := []string{"EnvironmentMetrics", "ThermalSubsystem", "PowerSubsystem", "Sensors", "Thermal", "Power"}
	var paths []string
	for _, p := range parts {
		paths = append(paths, "/redfish/v1/Chassis/1U/"+p)
	}
	const bound = 4
	g := newGate(redfishmock.New(embedded(t, "public-rackmount1"), redfishmock.WithoutExpand()), bound, paths)
	hs := httptest.NewServer(g)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := redfish.Scan(ctx, hs.URL, redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword), redfish.WithMaxInFlight(bound)); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timeouts > 0 || len(g.pending) > 0 || g.batches != 2 {
		t.Errorf("chassis parts read in batches %v, %d waited out the safety bound, %d never made; want batches of %d and %d",
			g.gatedInOneBatch, g.timeouts, len(g.pending), bound, len(paths)-bound)
	}
}
