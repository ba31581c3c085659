package redfish

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish/schemas"
)

// The HTTP layer is ours, not gofish's APIClient: gofish v0.26.0 builds
// request URLs by string concatenation (endpoint+link: see origin.go),
// decodes the service root straight from the wire with no size bound,
// reads error bodies whole, and drops the response of a non-2xx answer,
// so a 503's Retry-After is lost. gofish still decodes Redfish error
// objects (schemas.ConstructError, in fromGofish).

// maxErrorBody bounds the body read from a non-2xx answer: enough for a
// Redfish error object with its @Message.ExtendedInfo.
const maxErrorBody = 64 << 10

// Retries of a 503 (a BMC busy or starting): at most maxRetries, each
// waiting the Retry-After the service asked for when it is at most
// maxRetryAfter and fits the deadline; a longer wait is the caller's
// business (the next round).
const (
	maxRetries    = 2
	maxRetryAfter = 10 * time.Second
	// defaultRetryAfter is the wait when a 503 names none.
	defaultRetryAfter = time.Second
)

// guardTransport is the last line of defence and the request counter:
// every request that would reach the wire, redirects included, must be
// on the target's origin, or it is refused here; the ones that pass are
// counted, so that Snapshot.Requests is what the BMC saw.
type guardTransport struct {
	next   http.RoundTripper
	origin origin
	n      atomic.Int64
}

func (t *guardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.origin.allows(r.URL) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &refusedError{ref: originKey(r.URL.Scheme, r.URL), why: "a request to another origin than " + t.origin.key}
	}
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// real transport: without it a closed Client would leave its keep-alive
// connections (and their goroutines) open for the idle timeout.
func (t *guardTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func newHTTPClient(cfg *config, o origin) (*http.Client, *guardTransport, error) {
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
			// A BMC that sends headers without end is cut off.
			MaxResponseHeaderBytes: 64 << 10,
			ForceAttemptHTTP2:      true,
		}
	}
	gt := &guardTransport{next: base, origin: o}
	// Our redirect policy always, whatever client was given: a caller's
	// CheckRedirect could follow a redirect off the origin.
	hc := &http.Client{Transport: gt, CheckRedirect: o.checkRedirect}
	if cfg.httpClient != nil {
		hc.Jar = cfg.httpClient.Jar
	}
	return hc, gt, nil
}

// response is a 2xx answer read whole (within the bounds).
type response struct {
	status int
	header http.Header
	body   []byte
}

// request makes one request to ref (resolved against the origin first)
// and reads the answer within the bounds: the body of a 2xx answer up to
// WithMaxResponseBytes and, when b is given, within the scan's memory
// budget; a non-2xx answer as an *Error. A 503 on a GET is retried (see
// maxRetries). hdrs are added to the request (authentication).
func (c *Client) request(ctx context.Context, method, ref string, payload []byte, hdrs map[string]string, b *budget) (*response, error) {
	u, err := c.origin.resolve(ref)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.requestOnce(ctx, method, u, ref, payload, hdrs, b)
		var e *Error
		if method != http.MethodGet || attempt >= maxRetries || !errors.As(err, &e) || e.StatusCode != http.StatusServiceUnavailable {
			return resp, err
		}
		wait, ok := retryAfter(e.RetryAfter, c.now())
		if !ok || wait > maxRetryAfter {
			return resp, err
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			return resp, err
		}
		c.cfg.logger.Debug().Str("url", ref).Dur("retry_after", wait).Msg("redfish: service unavailable, retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return resp, err
		case <-t.C:
		}
	}
}

func (c *Client) requestOnce(ctx context.Context, method string, target *url.URL, ref string, payload []byte, hdrs map[string]string, b *budget) (*response, error) {
	var reqBody io.Reader
	if payload != nil {
		reqBody = bytes.NewReader(payload)
	}
	// The URL is the one resolve built: printing it for NewRequest to
	// parse it again was 5% of a scan's CPU without $expand.
	req, err := http.NewRequestWithContext(ctx, method, "/", reqBody)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, ref, err)
	}
	u := *target
	u.Host = strings.TrimSuffix(u.Host, ":") // as NewRequest does
	req.URL, req.Host = &u, u.Host
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("User-Agent", "prefail")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdrs {
		req.Header.Set(k, v)
	}
	// The in-flight bound (WithMaxInFlight) holds until the body is read.
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s %s: %w", method, ref, context.Cause(ctx))
	}
	defer func() { <-c.sem }()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, ref, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		eb, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		e := fromGofish(method, ref, schemas.ConstructError(resp.StatusCode, eb))
		var re *Error
		if errors.As(e, &re) {
			re.RetryAfter = resp.Header.Get("Retry-After")
		}
		return nil, e
	}
	body, err := readBody(ctx, resp, c.cfg.maxResponseBytes, b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, ref, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// unwrapURLError drops net/http's *url.Error wrapper, which repeats the
// method and the whole URL: our messages name the path once.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readBody reads a response body within max bytes and the scan's memory
// (b, which may be nil: login and logout), reserving what it holds as it
// reads, and tells a body cut short from one too large. What it reserved
// stays reserved (the caller decodes the body and keeps the result until
// the scan ends, see budget.release); on error it is given back.
func readBody(ctx context.Context, resp *http.Response, max int64, b *budget) (body []byte, err error) {
	cl := resp.ContentLength
	if cl > max {
		return nil, fmt.Errorf("%w: the body is %s, over the %s bound on a response (WithMaxResponseBytes)", ErrTooLarge, sizeText(cl), sizeText(max))
	}
	var reserved int64
	buf := bytes.NewBuffer(b.buffer())
	defer func() {
		if err != nil && b != nil {
			b.give(reserved)
		}
	}()
	hold := func(n int64) error {
		if b == nil || n <= reserved {
			return nil
		}
		if err := b.reserve(ctx, n-reserved, fmt.Sprintf("a response body (%s read so far)", sizeText(int64(buf.Len())))); err != nil {
			return err
		}
		reserved = n
		return nil
	}
	if cl > 0 {
		if err := hold(cl + 1); err != nil {
			return nil, err
		}
		buf.Grow(int(cl) + 1)
	}
	for {
		if err := hold(int64(buf.Len()) + readChunk); err != nil {
			return nil, err
		}
		_, rerr := io.CopyN(buf, resp.Body, readChunk)
		if err := hold(int64(buf.Cap())); err != nil {
			return nil, err
		}
		if int64(buf.Len()) > max {
			return nil, fmt.Errorf("%w: the body is larger than the %s bound on a response (WithMaxResponseBytes)", ErrTooLarge, sizeText(max))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, io.ErrUnexpectedEOF) && cl > 0 {
				return nil, fmt.Errorf("%w: truncated body: the connection closed after %d of %d bytes", ErrMalformed, buf.Len(), cl)
			}
			return nil, fmt.Errorf("reading the body after %d bytes: %w", buf.Len(), rerr)
		}
	}
	// Exactly the buffer's capacity stays reserved: the caller tells the
	// budget whether it decoded the body or dropped it.
	if b != nil && reserved > int64(buf.Cap()) {
		b.give(reserved - int64(buf.Cap()))
		reserved = int64(buf.Cap())
	}
	return buf.Bytes(), nil
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3: seconds or an
// HTTP date); none means defaultRetryAfter.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultRetryAfter, true
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// sizeText prints a byte count for a person.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
