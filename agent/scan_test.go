package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// gatedReader blocks its scan until its gate opens, and counts the scans
// running at once.
type gatedReader struct {
	target        string
	gate          chan struct{}
	running, peak *atomic.Int32
	closed        *atomic.Int32
}

func (r *gatedReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-r.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.target == "http://bmc-3" {
		return nil, errors.New("connection refused")
	}
	return &model.Snapshot{Target: r.target, Components: []model.Component{{Kind: model.KindFan, ID: "f", Health: model.HealthOK}}}, nil
}

func (r *gatedReader) Close(context.Context) error { r.closed.Add(1); return nil }

func TestScanEachStreamsAndBounds(t *testing.T) {
	const n, conc = 40, 5
	var running, peak, closed atomic.Int32
	gates := map[string]chan struct{}{}
	var targets []*Target
	for i := range n {
		ep := fmt.Sprintf("http://bmc-%d", i)
		gates[ep] = make(chan struct{})
		targets = append(targets, &Target{Endpoint: ep})
	}
	factory := func(t *Target, _ ReaderEnv) (Reader, error) {
		return &gatedReader{target: t.Endpoint, gate: gates[t.Endpoint], running: &running, peak: &peak, closed: &closed}, nil
	}
	var (
		mu       sync.Mutex
		inFn     atomic.Int32
		overlaps atomic.Int32
		got      = map[int]Result{}
		order    []int
	)
	first := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ScanEach(context.Background(), targets, ScanOptions{Concurrency: conc, Timeout: 10 * time.Second, Readers: factory}, func(i int, r Result) {
			if inFn.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inFn.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			if _, dup := got[i]; dup {
				t.Errorf("target %d reported twice", i)
			}
			got[i] = r
			order = append(order, i)
			select {
			case first <- i:
			default:
			}
		})
	}()
	// Open target 2's gate alone: its result must arrive while the others
	// are still scanning (streamed, not held until the end).
	close(gates["http://bmc-2"])
	select {
	case i := <-first:
		if i != 2 {
			t.Fatalf("first result for target %d, want 2", i)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result streamed while the other targets were still scanning")
	}
	for ep, g := range gates {
		if ep != "http://bmc-2" {
			close(g)
		}
	}
	<-done
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	if p := peak.Load(); p > conc || p < 2 {
		t.Errorf("%d scans ran at once, want between 2 and %d", p, conc)
	}
	if o := overlaps.Load(); o != 0 {
		t.Errorf("fn called concurrently %d times", o)
	}
	if c := closed.Load(); c != n {
		t.Errorf("%d readers closed, want %d", c, n)
	}
	for i := range n {
		r := got[i]
		if r.Target != targets[i].Endpoint {
			t.Errorf("result %d is for %s", i, r.Target)
		}
		if (r.Err != nil) != (i == 3) {
			t.Errorf("target %d: err %v", i, r.Err)
		}
	}
}

func TestScanEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var targets []*Target
	for i := range 10 {
		targets = append(targets, &Target{Endpoint: fmt.Sprintf("http://bmc-%d", i)})
	}
	opened := 0
	res := Scan(ctx, targets, ScanOptions{Readers: func(*Target, ReaderEnv) (Reader, error) { opened++; return nil, errors.New("unreachable") }})
	for i, r := range res {
		if r.Target != targets[i].Endpoint || r.Err == nil || !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result %d: %s %v, want not scanned: context canceled", i, r.Target, r.Err)
		}
	}
	if opened != 0 {
		t.Errorf("%d readers made after the context ended", opened)
	}
}
