package redfish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// jitter delays every response by a random 0-2 ms, so that concurrent
// reads (the three top collections, members within WithMaxInFlight)
// finish in a different order on every scan.
type jitter struct {
	h  http.Handler
	mu chan struct{}
	r  *rand.Rand
}

func (j *jitter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu <- struct{}{}
	d := time.Duration(j.r.Int64N(int64(2 * time.Millisecond)))
	<-j.mu
	time.Sleep(d)
	j.h.ServeHTTP(w, r)
}

// determinismRuns is how many times each capture is scanned.
const determinismRuns = 10

// TestCapturesDeterministic scans every capture ten times through the
// real reader over the mock, with and without $expand, one to eight
// requests in flight and random latency on every response, and requires
// the same snapshot every time (its time, target and request count
// aside: fewer requests with $expand is the point of it). What a scan
// reports must not depend on which response came first.
func TestCapturesDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every capture ten times")
	}
	type tc struct {
		name string
		tree *redfishmock.Tree
	}
	var cases []tc
	for _, dir := range captureDirs(t) {
		rel, _ := filepath.Rel(filepath.Join("..", "testdata", "redfish"), dir)
		tree, err := redfishmock.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{rel, tree})
		if x, ok := withExcerptIDs(t, tree); ok {
			cases = append(cases, tc{rel + "+excerpt-ids", x})
		}
	}
	for _, c := range cases {
		rel, tree := c.name, c.tree
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			// Byte-identical within one mode. Across modes the parts are
			// only logged: warnings name the request that failed (with or
			// without its $expand query), and where the service replaced
			// a member's reference by a body without @odata.id (the HPE
			// telegraf captures) or by an error object (cray-csm/Intel
			// Chassis/RackMount), an expanded read cannot know the URI a
			// GET of each member uses as the id.
			first := map[bool][]byte{}
			var firstParts []byte
			for run := range determinismRuns {
				var mockOpts []redfishmock.Option
				opts := []redfish.Option{redfish.WithCredentials("admin", "password"), redfish.WithMaxInFlight(1 + run%3*4)}
				if run%2 == 1 {
					// Every other scan without $expand: each member is its own GET.
					if run%4 == 1 {
						mockOpts = append(mockOpts, redfishmock.WithoutExpand())
					} else {
						opts = append(opts, redfish.WithoutExpand())
					}
				}
				m := redfishmock.New(tree, mockOpts...)
				hs := httptest.NewServer(&jitter{h: m, mu: make(chan struct{}, 1), r: rand.New(rand.NewPCG(uint64(run), uint64(len(rel))))})
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				snap, err := redfish.Scan(ctx, hs.URL, opts...)
				cancel()
				hs.Close()
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				expand := run%2 == 0
				got, parts := canonical(t, snap)
				if firstParts == nil {
					firstParts = parts
				} else if string(parts) != string(firstParts) {
					t.Logf("run %d (%d in flight, expand=%v): the parts differ from run 0's:\n%s", run, 1+run%3*4, expand,
						cmp.Diff(string(firstParts), string(parts)))
				}
				if first[expand] == nil {
					first[expand] = got
				} else if string(got) != string(first[expand]) {
					t.Errorf("run %d (%d in flight, expand=%v) differs from the first scan in that mode:\n%s", run, 1+run%3*4, expand,
						cmp.Diff(string(first[expand]), string(got)))
				}
			}
		})
	}
}

// canonical is the snapshot's JSON with what legitimately varies between
// scans fixed (the time, the target's port, the request count), and the
// same without the warnings.
func canonical(t *testing.T, snap *model.Snapshot) (all, parts []byte) {
	t.Helper()
	c := *snap
	c.Time, c.Target, c.Requests = time.Time{}, "", 0
	all, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	c.Warnings = nil
	parts, err = json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return all, parts
}

// withExcerptIDs returns tree with an @odata.id, the DataSourceUri's, in
// every sensor excerpt ({"DataSourceUri": ..., "Reading": ...}), as a
// Supermicro GB300-class BMC serves its ThermalMetrics and
// EnvironmentMetrics: objects that look like the Sensor resource but
// carry a few of its properties. false when the tree has no excerpt.
func withExcerptIDs(t *testing.T, tree *redfishmock.Tree) (*redfishmock.Tree, bool) {
	t.Helper()
	bodies := map[string][]byte{}
	changed := false
	var stamp func(v any)
	stamp = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if src, ok := v["DataSourceUri"].(string); ok && v["@odata.id"] == nil {
				v["@odata.id"] = src
				changed = true
			}
			for _, e := range v {
				stamp(e)
			}
		case []any:
			for _, e := range v {
				stamp(e)
			}
		}
	}
	for _, p := range tree.Paths() {
		b, _ := tree.Get(p)
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			bodies[p] = b
			continue
		}
		stamp(v)
		nb, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		bodies[p] = nb
	}
	if !changed {
		return nil, false
	}
	x, err := redfishmock.NewTree(bodies)
	if err != nil {
		t.Fatal(err)
	}
	return x, true
}
