package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fetcher serves one scan: every request it makes is made once, whichever
// walk asks for it, and each walk sees the resources through its view.
type fetcher struct {
	c      *Client
	ctx    context.Context
	budget *budget

	mu sync.Mutex
	// responses holds every answer by request (path and query): a walk
	// asking for what another walk asked for before gets the same answer
	// without a request.
	responses map[string]map[string]any
	failed    map[string]error
	inflight  map[string]chan struct{}
	loginMu   sync.Mutex
	relogged  bool
}

// view is what one walk of the tree knows: the resources it has seen,
// fetched or found expanded inside another response, over what the walk
// it was forked from knew at that moment. Walks run concurrently (see
// scan.together); each decides what to request from its own view only,
// which changes only when the walk itself reads, never with what another
// walk happened to read first. So the requests a scan makes, and what it
// reports, do not depend on which response came first: two scans of one
// server make the same requests.
type view struct {
	*fetcher
	parent *view

	mu    sync.Mutex
	cache map[string]map[string]any
}

// newRootView starts a scan: a fetcher and the view of its first walk.
func newRootView(ctx context.Context, c *Client) *view {
	f := &fetcher{c: c, ctx: ctx, budget: newBudget(c.cfg.memoryBudget, c.cfg.pool),
		responses: map[string]map[string]any{}, failed: map[string]error{}, inflight: map[string]chan struct{}{}}
	return &view{fetcher: f, cache: map[string]map[string]any{}}
}

// fork returns a view for a walk that starts from what v knows. v must not
// read while the fork's walk runs; absorb takes what the walk learnt.
func (v *view) fork() *view {
	return &view{fetcher: v.fetcher, parent: v, cache: map[string]map[string]any{}}
}

// absorb adds what a finished fork learnt to v; what v knew already wins.
func (v *view) absorb(child *view) {
	child.mu.Lock()
	learnt := child.cache
	child.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, m := range learnt {
		if _, seen := v.cache[k]; !seen {
			v.cache[k] = m
		}
	}
}

// expandQuery returns the $expand parameter for levels, or "" when the
// service does not support $expand (or it is switched off).
func (f *fetcher) expandQuery(levels int) string {
	ft := f.c.features
	if !f.c.cfg.expand || levels <= 0 {
		return ""
	}
	var q string
	switch {
	case ft.noLinks:
		q = "."
	case ft.expandAll:
		// "*" also follows Links, which multiplies the payload: one level only.
		q, levels = "*", 1
	default:
		return ""
	}
	if ft.levels {
		if ft.maxLevels > 0 && levels > ft.maxLevels {
			levels = ft.maxLevels
		}
		q += fmt.Sprintf("($levels=%d)", levels)
	}
	return "$expand=" + q
}

// get returns the resource at id, from the view or with one GET asking
// the service to expand `levels` levels below it.
func (v *view) get(id string, levels int) (map[string]any, error) {
	key := normID(id)
	if m, ok := v.lookup(key); ok {
		return m, nil
	}
	return v.getFresh(key, v.expandQuery(levels), true)
}

// cached returns the resource at id if a response already delivered it.
func (v *view) cached(id string) (map[string]any, bool) {
	return v.lookup(normID(id))
}

// lookup finds key in the view or in the views it was forked from.
func (v *view) lookup(key string) (map[string]any, bool) {
	for w := v; w != nil; w = w.parent {
		w.mu.Lock()
		m, ok := w.cache[key]
		w.mu.Unlock()
		if ok {
			return m, true
		}
	}
	return nil, false
}

// getFresh asks the service, unless this scan asked the same before.
// whole says the answer is the complete resource (not one page of it) and
// may be cached under its id; what it expanded is indexed either way. A
// failure is remembered, so a missing resource costs one request per
// scan, not one per reference.
func (v *view) getFresh(id, query string, whole bool) (map[string]any, error) {
	key := normID(id)
	m, err := v.request(key, query)
	if err != nil {
		return nil, err
	}
	v.index(m)
	if whole {
		// Cached under the id it was asked by, even if the body lacks an
		// @odata.id of its own (some captured BMC responses do).
		v.mu.Lock()
		v.cache[key] = m
		v.mu.Unlock()
	}
	return m, nil
}

// request returns the answer to GET key?query: made once per scan,
// whichever walks ask for it, at once or one after another.
func (f *fetcher) request(key, query string) (map[string]any, error) {
	req := key + "?" + query
	f.mu.Lock()
	for {
		if m, ok := f.responses[req]; ok {
			f.mu.Unlock()
			return m, nil
		}
		if err, failed := f.failed[req]; failed {
			f.mu.Unlock()
			return nil, err
		}
		if err := f.ctx.Err(); err != nil {
			f.mu.Unlock()
			// Past the deadline every read fails at once: the walk ends
			// quickly with what it has (see scan.warnErr).
			return nil, fmt.Errorf("GET %s: %w", key, context.Cause(f.ctx))
		}
		wait, busy := f.inflight[req]
		if !busy {
			break
		}
		f.mu.Unlock()
		<-wait
		f.mu.Lock()
	}
	done := make(chan struct{})
	f.inflight[req] = done
	f.mu.Unlock()

	m, err := f.fetch(key, query)

	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inflight, req)
	close(done)
	if err != nil {
		f.failed[req] = err
		return nil, err
	}
	f.responses[req] = m
	return m, nil
}

// index records in the view the whole resources expanded inside a
// response, so that later gets need no request; what the view (or one it
// was forked from) knows already is kept. The response's own top object
// is cached by the caller, if whole. Only what is certainly the whole
// resource is cached: a member of an expanded collection (DSP0266 §7.3.4:
// $expand puts the member itself in place of its reference), or an object
// that is a Resource by its own properties (isWholeResource). Anything
// else with an @odata.id, such as a sensor excerpt that copies a few of
// the Sensor's properties (DSP0268 Sensor "excerpt"; GB300-class BMCs give
// them the Sensor's @odata.id), is not: cached, it would stand for the
// Sensor, or not, depending on which response arrived first.
func (v *view) index(m map[string]any) {
	var found []map[string]any
	collectWhole(m, true, false, &found)
	for _, r := range found {
		key := normID(r["@odata.id"].(string))
		if _, seen := v.lookup(key); seen {
			continue
		}
		v.mu.Lock()
		if _, seen := v.cache[key]; !seen {
			v.cache[key] = r
		}
		v.mu.Unlock()
	}
}

// collectWhole appends to found the whole resources expanded inside x, in
// the order they appear (object keys sorted, so that the first of two
// copies of one resource is always the same one).
func collectWhole(x any, top, member bool, found *[]map[string]any) {
	switch x := x.(type) {
	case map[string]any:
		if id, ok := x["@odata.id"].(string); ok && !top && !strings.Contains(id, "#") && isExpanded(x) && (member || isWholeResource(x)) {
			*found = append(*found, x)
		}
		// Only objects and arrays can hold resources; most objects have
		// one or none, and need no sorting.
		var (
			first string
			n     int
			more  []string
		)
		for k, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				if k == "Links" || strings.HasPrefix(k, "@") {
					continue
				}
				if n == 0 {
					first = k
				} else {
					more = append(more, k)
				}
				n++
			}
		}
		switch n {
		case 0:
			return
		case 1:
			collectWholeIn(x, first, found)
			return
		}
		more = append(more, first)
		slices.Sort(more)
		for _, k := range more {
			collectWholeIn(x, k, found)
		}
	case []any:
		for _, e := range x {
			collectWhole(e, false, false, found)
		}
	}
}

// collectWholeIn is collectWhole of x[k]: the elements of Members are the
// collection's members.
func collectWholeIn(x map[string]any, k string, found *[]map[string]any) {
	if list, ok := x[k].([]any); ok && k == "Members" {
		for _, m := range list {
			collectWhole(m, false, true, found)
		}
		return
	}
	collectWhole(x[k], false, false, found)
}

// isWholeResource reports whether an object embedded in a response is a
// resource (or a resource collection) rather than a piece of one: its
// @odata.type names a schema's own entity type ("#Sensor.v1_2_0.Sensor",
// "#SensorCollection.SensorCollection": CSDL names each resource's type
// after its namespace), and it is no excerpt (an excerpt names the
// resource it copies from by DataSourceUri). Array entries of legacy
// resources ("#Thermal.v1_4_0.Fan", Dell gives them URIs of their own)
// and untyped copies are not resources.
func isWholeResource(m map[string]any) bool {
	if _, excerpt := m["DataSourceUri"]; excerpt {
		return false
	}
	t, _ := m["@odata.type"].(string)
	parts := strings.Split(strings.TrimPrefix(t, "#"), ".")
	return len(parts) >= 2 && parts[0] != "" && parts[0] == parts[len(parts)-1]
}

// isExpanded tells an expanded resource from a bare reference: it carries
// more than @odata.* annotations.
func isExpanded(m map[string]any) bool {
	for k := range m {
		if !strings.HasPrefix(k, "@odata.") && !strings.HasPrefix(k, "@Redfish.") {
			return true
		}
	}
	return false
}

// fetch makes the GET. A 401 on a session re-logs in once (sessions expire
// on BMCs that reboot or time out idle sessions) and retries.
func (f *fetcher) fetch(id, query string) (map[string]any, error) {
	url := id
	if query != "" {
		url += "?" + query
	}
	body, token, err := f.do(url)
	// A request sent while another re-logged in (between the logout of
	// the refused session and the new login) went without a token: it
	// waits for that login and retries too.
	if errors.Is(err, ErrUnauthorized) && f.c.usesSessions() && f.relogin(token) {
		body, _, err = f.do(url)
	}
	if err != nil {
		return nil, err
	}
	m, err := f.decode(body)
	if err != nil {
		f.budget.dropped(body)
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	// Nothing decoded refers to the body's bytes (parseJSON copies).
	f.budget.decoded(body)
	if e, ok := m["error"].(map[string]any); ok && m["@odata.id"] == nil {
		// A Redfish error object answered with 200 (seen in captures of
		// Intel S2600 BMCs): it is not the resource.
		code, _ := e["code"].(string)
		msg, _ := e["message"].(string)
		return nil, fmt.Errorf("GET %s: %w: the body is a Redfish error object: %s", url, ErrMalformed, strings.TrimSpace(code+" "+truncate(msg, 200)))
	}
	return m, nil
}

// decode decodes a body within the scan's budget. A collection whose
// members would not fit is decoded as a stream, keeping the first
// WithMaxMembers members (the rest would be dropped anyway, see
// memberItems); anything else that would not fit is refused.
func (f *fetcher) decode(body []byte) (map[string]any, error) {
	what := fmt.Sprintf("decoding this %s body", sizeText(int64(len(body))))
	err := f.budget.reserve(f.ctx, decodeOverhead(body), what)
	if err == nil {
		return f.budget.parse(body)
	}
	if !errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	m, listed, kept, err2 := parseCollectionPrefix(body, f.c.cfg.maxMembers)
	if err2 != nil || listed <= kept {
		return nil, err
	}
	if err := f.budget.reserve(f.ctx, kept*(bytesPerValue+bytesPerObject)+int64(len(m))*bytesPerValue, what+" (its first members)"); err != nil {
		return nil, err
	}
	m[membersOmitted] = json.Number(strconv.FormatInt(listed-kept, 10))
	return m, nil
}

// relogin opens a new session after a request with token was refused,
// once per scan. Requests that fail concurrently with the same stale
// token wait for that one login and retry with the new token.
func (f *fetcher) relogin(stale string) bool {
	f.loginMu.Lock()
	defer f.loginMu.Unlock()
	if _, current := f.c.authHeaders(); current != stale && current != "" {
		return true // another request already logged in again
	}
	if f.relogged {
		return false
	}
	f.relogged = true
	// Delete the refused session first: a BMC that refuses a token it
	// still counts (a hostile one, or a confused one) would otherwise keep
	// one session per re-login until its table is full. When the session
	// is really gone, this answers 401 or 404, which is fine.
	_ = f.c.logout(f.ctx)
	return f.c.login(f.ctx) == nil
}

func (f *fetcher) do(url string) ([]byte, string, error) {
	hdrs, token := f.c.authHeaders()
	resp, err := f.c.request(f.ctx, http.MethodGet, url, nil, hdrs, f.budget)
	if err != nil {
		return nil, token, err
	}
	return resp.body, token, nil
}
