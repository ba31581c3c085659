package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// fetcher serves one scan: it remembers every resource it has seen, either
// fetched or found expanded inside another response, so each resource
// costs at most one request and none when $expand already delivered it.
type fetcher struct {
	c      *Client
	ctx    context.Context
	budget *budget

	mu       sync.Mutex
	cache    map[string]map[string]any
	failed   map[string]error
	inflight map[string]chan struct{}
	loginMu  sync.Mutex
	relogged bool
}

func newFetcher(ctx context.Context, c *Client) *fetcher {
	return &fetcher{c: c, ctx: ctx, budget: newBudget(c.cfg.memoryBudget, c.cfg.pool), cache: map[string]map[string]any{}, failed: map[string]error{}, inflight: map[string]chan struct{}{}}
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

// get returns the resource at id, from the cache or with one GET asking
// the service to expand `levels` levels below it.
func (f *fetcher) get(id string, levels int) (map[string]any, error) {
	key := normID(id)
	f.mu.Lock()
	m, ok := f.cache[key]
	f.mu.Unlock()
	if ok {
		return m, nil
	}
	return f.getFresh(key, f.expandQuery(levels), true)
}

// cached returns the resource at id if a response already delivered it.
func (f *fetcher) cached(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.cache[normID(id)]
	return m, ok
}

// getFresh always asks the service. whole says the answer is the complete
// resource (not one page of it) and may be cached under its id; what it
// expanded is indexed either way. A failure is remembered, so a missing
// resource costs one request per scan, not one per reference.
func (f *fetcher) getFresh(id, query string, whole bool) (map[string]any, error) {
	key := normID(id)
	req := key + "?" + query
	if err := f.ctx.Err(); err != nil {
		// Past the deadline every read fails at once: the walk ends
		// quickly with what it has (see scan.warnErr).
		return nil, fmt.Errorf("GET %s: %w", key, context.Cause(f.ctx))
	}
	f.mu.Lock()
	// The chassis, systems and managers walks run concurrently and meet at
	// shared resources (a drive linked from both): one request serves both.
	for {
		if err, failed := f.failed[req]; failed {
			f.mu.Unlock()
			return nil, err
		}
		wait, busy := f.inflight[req]
		if !busy {
			break
		}
		f.mu.Unlock()
		<-wait
		f.mu.Lock()
		if m, ok := f.cache[key]; ok && whole {
			f.mu.Unlock()
			return m, nil
		}
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
	f.index(m, true, false)
	if whole {
		// Cached under the id it was asked by, even if the body lacks an
		// @odata.id of its own (some captured BMC responses do).
		f.cache[key] = m
	}
	return m, nil
}

// index records the whole resources expanded inside v, so that later
// gets need no request. The response's own top object is cached by the
// caller, if whole. Only what is certainly the whole resource is cached:
// a member of an expanded collection (DSP0266 §7.3.4: $expand puts the
// member itself in place of its reference), or an object that is a
// Resource by its own properties (isWholeResource). Anything else with an
// @odata.id, such as a sensor excerpt that copies a few of the Sensor's
// properties (DSP0268 Sensor "excerpt"; GB300-class BMCs give them the
// Sensor's @odata.id), is not: cached, it would stand for the Sensor, or
// not, depending on which response arrived first.
func (f *fetcher) index(v any, top, member bool) {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["@odata.id"].(string); ok && !top && !strings.Contains(id, "#") && isExpanded(v) && (member || isWholeResource(v)) {
			key := normID(id)
			if _, seen := f.cache[key]; !seen {
				f.cache[key] = v
			}
		}
		for k, e := range v {
			if k == "Links" || strings.HasPrefix(k, "@") {
				continue
			}
			if list, ok := e.([]any); ok && k == "Members" {
				for _, m := range list {
					f.index(m, false, true)
				}
				continue
			}
			f.index(e, false, false)
		}
	case []any:
		for _, e := range v {
			f.index(e, false, false)
		}
	}
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
		f.budget.give(int64(cap(body)))
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
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
		return parseResource(body)
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
