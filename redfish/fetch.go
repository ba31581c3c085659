package redfish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// maxBody bounds one response body; a BMC that streams more is broken.
const maxBody = 64 << 20

// sessionsURI is fixed by DSP0266 ("The URI for the Sessions collection
// shall be /redfish/v1/SessionService/Sessions"). gofish v0.26.0 keeps the
// service root's link to it private, so we use the fixed URI.
const sessionsURI = "/redfish/v1/SessionService/Sessions"

// countingTransport counts every HTTP request that reaches the wire, so
// that Snapshot.Requests is what the BMC saw (logins and logouts included).
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

func newHTTPClient(cfg *config) (*http.Client, *countingTransport, error) {
	var base http.RoundTripper
	if cfg.httpClient != nil && cfg.httpClient.Transport != nil {
		base = cfg.httpClient.Transport
	} else {
		tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.tlsConfig != nil {
			tlsConf = cfg.tlsConfig.Clone()
		}
		if cfg.caFile != "" {
			pem, err := os.ReadFile(cfg.caFile)
			if err != nil {
				return nil, nil, fmt.Errorf("CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.caFile)
			}
			tlsConf.RootCAs = pool
		}
		if cfg.insecure {
			tlsConf.InsecureSkipVerify = true //nolint:gosec // explicit per-target choice (WithInsecure)
		}
		base = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: 15 * time.Second,
			// One BMC: keep a few connections alive and reuse them.
			MaxIdleConnsPerHost: cfg.maxInFlight,
			MaxConnsPerHost:     cfg.maxInFlight,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	ct := &countingTransport{next: base}
	hc := &http.Client{Transport: ct}
	if cfg.httpClient != nil {
		hc.CheckRedirect = cfg.httpClient.CheckRedirect
		hc.Jar = cfg.httpClient.Jar
	}
	return hc, ct, nil
}

// connect fetches the service root through gofish and keeps its client as
// our transport: gofish handles headers, the in-flight semaphore and the
// Redfish error object. Authentication is ours (see authHeaders).
func (c *Client) connect(ctx context.Context) error {
	hc, ct, err := newHTTPClient(&c.cfg)
	if err != nil {
		return err
	}
	api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint:   c.endpoint,
		HTTPClient: hc,
		// Our transport is already set up (TLS, keep-alive); gofish must not
		// rewrite it. Without ReuseConnections gofish sets Connection: close
		// on every request: a new TCP+TLS handshake per request.
		NoModifyTransport:     true,
		ReuseConnections:      true,
		MaxConcurrentRequests: int64(c.cfg.maxInFlight),
	})
	if err != nil {
		return fmt.Errorf("service root: %w", fromGofish(http.MethodGet, c.endpoint+"/redfish/v1/", err))
	}
	c.api, c.counter = api, ct
	f := api.Service.ProtocolFeaturesSupported
	c.features = features{
		expandAll: f.ExpandQuery.ExpandAll, noLinks: f.ExpandQuery.NoLinks,
		levels: f.ExpandQuery.Levels, maxLevels: int(f.ExpandQuery.MaxLevels),
		topSkip: f.TopSkipQuery,
	}
	return nil
}

type features struct {
	expandAll, noLinks, levels bool
	maxLevels                  int
	topSkip                    bool
}

// login opens a Redfish session. A service that answers without a token
// (DMTF's Redfish-Mockup-Server answers 204 with only a Location) is used
// with HTTP Basic instead.
func (c *Client) login(ctx context.Context) error {
	api := c.api.WithContext(ctx)
	auth, err := schemas.CreateSession(api, sessionsURI, c.cfg.username, c.cfg.password)
	if err != nil {
		e := fromGofish(http.MethodPost, sessionsURI, err)
		if errors.Is(e, ErrNotFound) || isStatus(e, http.StatusMethodNotAllowed) {
			// No session service: fall back to Basic on every request.
			c.authMu.Lock()
			c.cfg.basicAuth = true
			c.authMu.Unlock()
			return nil
		}
		return fmt.Errorf("login: %w", e)
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if auth.Token == "" {
		c.cfg.basicAuth = true
		c.sessionURL = auth.Session // still log out what was created
		return nil
	}
	c.token, c.sessionURL = auth.Token, auth.Session
	return nil
}

func isStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// authHeaders returns the headers that authenticate a request, and the
// session token they carry ("" for none).
func (c *Client) authHeaders() (map[string]string, string) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	switch {
	case c.token != "":
		return map[string]string{"X-Auth-Token": c.token}, c.token
	case c.cfg.username != "" && c.cfg.basicAuth:
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(c.cfg.username, c.cfg.password)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}, ""
	}
	return nil, ""
}

// logout deletes the session, if any.
func (c *Client) logout(ctx context.Context) error {
	if c.api == nil || c.sessionURL == "" {
		return nil
	}
	api := c.api.WithContext(ctx)
	url := c.sessionURL
	hdrs, _ := c.authHeaders()
	resp, err := api.DeleteWithHeaders(url, hdrs)
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	c.token, c.sessionURL = "", ""
	if err != nil {
		if e := fromGofish(http.MethodDelete, url, err); !errors.Is(e, ErrNotFound) {
			return e
		}
	}
	return nil
}

// fetcher serves one scan: it remembers every resource it has seen, either
// fetched or found expanded inside another response, so each resource
// costs at most one request and none when $expand already delivered it.
type fetcher struct {
	c   *Client
	ctx context.Context

	mu       sync.Mutex
	cache    map[string]map[string]any
	failed   map[string]error
	inflight map[string]chan struct{}
	loginMu  sync.Mutex
	relogged bool
}

func newFetcher(ctx context.Context, c *Client) *fetcher {
	return &fetcher{c: c, ctx: ctx, cache: map[string]map[string]any{}, failed: map[string]error{}, inflight: map[string]chan struct{}{}}
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
	f.index(m, false)
	if whole {
		// Cached under the id it was asked by, even if the body lacks an
		// @odata.id of its own (some captured BMC responses do).
		f.cache[key] = m
	}
	return m, nil
}

// index records every expanded resource inside v (an object with an
// @odata.id and other properties), so that later gets need no request.
// The response's own top object is cached by the caller, if whole.
func (f *fetcher) index(v any, self bool) {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["@odata.id"].(string); ok && self && !strings.Contains(id, "#") && isExpanded(v) {
			key := normID(id)
			if _, seen := f.cache[key]; !seen {
				f.cache[key] = v
			}
		}
		for k, e := range v {
			if k == "Links" || strings.HasPrefix(k, "@") {
				continue
			}
			f.index(e, true)
		}
	case []any:
		for _, e := range v {
			f.index(e, true)
		}
	}
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
	if errors.Is(err, ErrUnauthorized) && token != "" && f.relogin(token) {
		body, _, err = f.do(url)
	}
	if err != nil {
		return nil, err
	}
	m, err := parseResource(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: %v", url, ErrMalformed, err)
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

// relogin opens a new session after a request with token was refused,
// once per scan. Requests that fail concurrently with the same stale
// token wait for that one login and retry with the new token.
func (f *fetcher) relogin(stale string) bool {
	f.loginMu.Lock()
	defer f.loginMu.Unlock()
	if _, current := f.c.authHeaders(); current != stale {
		return true // another request already logged in again
	}
	if f.relogged {
		return false
	}
	f.relogged = true
	return f.c.login(f.ctx) == nil
}

func (f *fetcher) do(url string) ([]byte, string, error) {
	api := f.c.api.WithContext(f.ctx)
	hdrs, token := f.c.authHeaders()
	resp, err := api.GetWithHeaders(url, hdrs)
	if err != nil {
		e := fromGofish(http.MethodGet, url, err)
		var re *Error
		if errors.As(e, &re) && re.StatusCode == http.StatusServiceUnavailable && resp != nil {
			re.RetryAfter = resp.Header.Get("Retry-After")
		}
		return nil, token, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, token, fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if len(body) > maxBody {
		return nil, token, fmt.Errorf("GET %s: body larger than %d MiB", url, maxBody>>20)
	}
	return body, token, nil
}
