package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// The ideal time of a fleet scan is the latency of the requests one BMC
// cannot overlap, per wave of BMCs. That chain is measured on one BMC
// scanned alone by the same binary: every request it made, with when it
// began and ended at the mock and what the mock answered, and for each
// the earlier answers it needed:
//
//   - the service root needs nothing (it is served anonymously);
//   - the login needs the service root, when one was asked for before
//     it: prefail sends the password only to a service whose root
//     answered (redfish/hostiletest, body-200MB-root), although DSP0266
//     fixes the Sessions URI;
//   - any other GET needs the login (if one was made before it), the root
//     when it uses a query the root advertises ($expand, $top, $skip),
//     and the answer that named its path (a link, a Members entry), or an
//     earlier answer for the same path (the next page of a log);
//   - the logout needs every request that ended before it.
//
// The chain is the longest path through these dependencies, taking for
// each request the shallowest answer that named it: the fewest rounds in
// which a reader could have made the same requests. rounds is what the
// reader took: the longest sequence of requests each begun after the
// previous one ended.

// exchange is one request the probe mock answered.
type exchange struct {
	method, path, query string
	begin, end          time.Duration
	body                []byte
}

// probeResult is the probe's measurement.
type probeResult struct {
	requests    int
	chain       int
	rounds      int
	unexplained int
	wall        time.Duration
}

func probeCriticalPath(ctx context.Context, tree *redfishmock.Tree, opts []redfishmock.Option, child scanner) (probeResult, error) {
	rec := &recorder{h: redfishmock.New(tree, opts...), t0: time.Now()}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return probeResult{}, err
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	file := filepath.Join(child.dir, "probe.txt")
	if err := os.WriteFile(file, []byte("http://"+ln.Addr().String()+"\n"), 0o600); err != nil {
		return probeResult{}, err
	}
	res, err := child.scan(ctx, file, 1)
	if err != nil {
		return probeResult{}, err
	}
	if res.targets != 1 || res.failed != 0 {
		return probeResult{}, fmt.Errorf("the probe scan reported %d targets, %d failed", res.targets, res.failed)
	}
	ex := rec.exchanges()
	chain, unexplained := criticalPath(ex)
	return probeResult{requests: len(ex), chain: chain, rounds: rounds(ex), unexplained: unexplained, wall: res.wall}, nil
}

// criticalPath returns the length of the longest chain of dependent
// requests (see above), and how many requests no earlier answer named.
func criticalPath(ex []exchange) (chain, unexplained int) {
	depth := make([]int, len(ex))
	before := func(i, j int) bool { return ex[j].end <= ex[i].begin } // j ended before i began
	for i, e := range ex {
		switch {
		case isRoot(e.path) && e.method == http.MethodGet:
			depth[i] = 1
		case isLogin(e):
			d := 0
			for j := range ex {
				if j != i && before(i, j) && isRoot(ex[j].path) && ex[j].method == http.MethodGet {
					d = max(d, depth[j])
				}
			}
			depth[i] = d + 1
		case e.method == http.MethodDelete:
			d := 0
			for j := range ex {
				if j != i && before(i, j) {
					d = max(d, depth[j])
				}
			}
			depth[i] = d + 1
		default:
			need, named := 0, -1
			for j := range ex {
				if j == i || !before(i, j) || depth[j] == 0 {
					continue
				}
				switch {
				case isLogin(ex[j]):
					need = max(need, depth[j])
				case isRoot(ex[j].path) && strings.Contains(e.query, "$"):
					need = max(need, depth[j])
				}
				if ex[j].path == e.path || names(ex[j].body, e.path) {
					if named < 0 || depth[j] < named {
						named = depth[j]
					}
				}
			}
			if named < 0 {
				unexplained++
				for j := range ex {
					if j != i && before(i, j) {
						named = max(named, depth[j])
					}
				}
			}
			depth[i] = max(need, named) + 1
		}
		chain = max(chain, depth[i])
	}
	return chain, unexplained
}

// rounds is the longest sequence of requests each begun after the one
// before it ended: the rounds the reader actually took.
func rounds(ex []exchange) int {
	r := make([]int, len(ex))
	longest := 0
	for i := range ex {
		r[i] = 1
		for j := range ex {
			if j != i && ex[j].end <= ex[i].begin && ex[j].begin < ex[i].begin {
				r[i] = max(r[i], r[j]+1)
			}
		}
		longest = max(longest, r[i])
	}
	return longest
}

func isRoot(p string) bool {
	p = strings.TrimRight(p, "/")
	return p == "/redfish/v1" || p == "/redfish"
}

func isLogin(e exchange) bool {
	return e.method == http.MethodPost && strings.TrimRight(e.path, "/") == "/redfish/v1/SessionService/Sessions"
}

// names reports whether body names path as a JSON string (a link).
func names(body []byte, path string) bool {
	p := strings.TrimRight(path, "/")
	return bytes.Contains(body, []byte(`"`+p+`"`)) || bytes.Contains(body, []byte(`"`+p+`/"`))
}

// recorder records every exchange through it, in the order they began.
// Requests are ordered by begin time, so each one's dependencies (which
// ended before it began) come before it.
type recorder struct {
	h  http.Handler
	t0 time.Time

	mu  sync.Mutex
	log []exchange
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	begin := time.Since(rec.t0)
	cw := &capture{ResponseWriter: w}
	rec.h.ServeHTTP(cw, r)
	end := time.Since(rec.t0)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.log = append(rec.log, exchange{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, begin: begin, end: end, body: cw.body.Bytes()})
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := append([]exchange(nil), rec.log...)
	// Appended when they ended; dependencies are decided by begin time.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].begin < out[j-1].begin; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// capture keeps a copy of the body written.
type capture struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}
