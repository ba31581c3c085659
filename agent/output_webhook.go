package agent

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
	"time"
	"unicode"
)

// The webhook output POSTs events as JSON Lines: each request carries a
// batch of up to the max batch size events (Content-Type
// application/x-ndjson, one event per line, in order). A batch is one
// request because events come in bursts (a round, a recovering outage)
// and one request per event would multiply the receiver's load and the
// time to catch up; a receiver that wants one event at a time sets the
// max batch size to 1.
//
// Delivery is at least once: a batch whose response is lost (a timeout
// after the receiver stored it) is sent again, so a receiver
// de-duplicates by the events' "id".
//
// Responses:
//   - 2xx: the batch is delivered.
//   - 429 or 503 with Retry-After (seconds or an HTTP date): a
//     *RetryAfterError, the dispatcher waits that long.
//   - 408, 429/503 without Retry-After, other 5xx, network errors,
//     timeouts: an error, the dispatcher backs off and retries.
//   - 3xx: not followed (events never go anywhere but the configured
//     URL): an error naming the redirect, retried with backoff.
//   - other 4xx: a *WebhookStatusError that says the receiver rejected
//     the batch (a wrong URL, header or credential, most likely). The
//     batch is not dropped: dropping would lose events silently, so it
//     is retried with backoff until the receiver is fixed, and the error
//     (in the logs and OutputStats.LastError) says so.
//
// Response bodies are read up to 64 KiB (an excerpt goes into the error,
// the values of the configured headers redacted from it).

// Webhook output defaults and bounds.
const (
	DefaultWebhookTimeout  = 30 * time.Second
	DefaultWebhookMaxBatch = 100
	webhookMaxBody         = 64 << 10
	webhookMaxExcerpt      = 512
)

// WebhookOption configures NewWebhookOutput.
type WebhookOption func(*webhookConfig)

type webhookConfig struct {
	name     string
	timeout  time.Duration
	header   http.Header
	caFile   string
	insecure bool
	maxBatch int
}

// WithWebhookName names the output ("webhook" by default): the name of
// its cursor in the store, so two webhooks need two names.
func WithWebhookName(name string) WebhookOption { return func(c *webhookConfig) { c.name = name } }

// WithWebhookTimeout bounds each request, response body included
// (default 30 s).
func WithWebhookTimeout(d time.Duration) WebhookOption {
	return func(c *webhookConfig) { c.timeout = d }
}

// WithWebhookHeader adds a header to every request (an Authorization
// token, an API key). Values are treated as secrets: never logged, and
// redacted from the response excerpts put into errors.
func WithWebhookHeader(key, value string) WebhookOption {
	return func(c *webhookConfig) { c.header.Add(key, value) }
}

// WithWebhookCAFile verifies an https receiver against the PEM
// certificates in file only (instead of the system's roots).
func WithWebhookCAFile(file string) WebhookOption { return func(c *webhookConfig) { c.caFile = file } }

// WithWebhookInsecureSkipVerify does not verify an https receiver's
// certificate (testing only: anyone on the path can read the events and
// the headers).
func WithWebhookInsecureSkipVerify(skip bool) WebhookOption {
	return func(c *webhookConfig) { c.insecure = skip }
}

// WithWebhookMaxBatch sends at most n events per request (default 100).
func WithWebhookMaxBatch(n int) WebhookOption { return func(c *webhookConfig) { c.maxBatch = n } }

// WebhookOutput POSTs events to a URL as JSON Lines. It is safe for
// concurrent use.
type WebhookOutput struct {
	name      string
	url       string // as given (may hold secrets: never in an error)
	dest      string // the URL for errors: no user info, no query
	timeout   time.Duration
	header    http.Header
	secrets   []string
	maxBatch  int
	transport *http.Transport
	client    *http.Client
}

// NewWebhookOutput returns an output POSTing to rawURL (http or https).
// It makes no request.
func NewWebhookOutput(rawURL string, opts ...WebhookOption) (*WebhookOutput, error) {
	c := webhookConfig{name: "webhook", timeout: DefaultWebhookTimeout, header: http.Header{},
		maxBatch: DefaultWebhookMaxBatch}
	for _, opt := range opts {
		opt(&c)
	}
	dest := outputDest(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("webhook output %q: invalid URL %s", c.name, dest) // the parse error quotes the URL
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("webhook output %q (%s): the URL must be http or https", c.name, dest)
	case u.Host == "":
		return nil, fmt.Errorf("webhook output %q (%s): the URL has no host", c.name, dest)
	case c.name == "":
		return nil, fmt.Errorf("webhook output (%s): empty output name", dest)
	case c.timeout <= 0:
		return nil, fmt.Errorf("webhook output %q (%s): the timeout must be positive", c.name, dest)
	case c.maxBatch < 1:
		return nil, fmt.Errorf("webhook output %q (%s): the max batch size must be at least 1", c.name, dest)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("webhook output %q (%s): read the CA file: %w", c.name, dest, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("webhook output %q (%s): no PEM certificate in the CA file %s", c.name, dest, c.caFile)
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 2
	o := &WebhookOutput{name: c.name, url: rawURL, dest: dest, timeout: c.timeout, header: c.header,
		maxBatch: c.maxBatch, transport: tr}
	for _, vs := range c.header {
		for _, v := range vs {
			if len(v) >= 4 {
				o.secrets = append(o.secrets, v)
			}
		}
	}
	o.client = &http.Client{
		Transport: tr,
		// Never follow: the events go to the configured URL or nowhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return o, nil
}

// Name implements Output.
func (o *WebhookOutput) Name() string { return o.name }

// Deliver implements Output: the events in requests of up to the max
// batch size, in order; it returns at the first that fails.
func (o *WebhookOutput) Deliver(ctx context.Context, events []Event) (int, error) {
	done := 0
	for done < len(events) {
		end := min(done+o.maxBatch, len(events))
		var body bytes.Buffer
		for i := done; i < end; i++ {
			lo := body.Len()
			if err := jsonlAppendEvent(&body, &events[i]); err != nil {
				body.Truncate(lo)
				if i == done {
					return done, o.errorf("%w", err)
				}
				end = i // send the ones before it; the error comes back next time
				break
			}
		}
		if err := o.post(ctx, body.Bytes()); err != nil {
			return done, err
		}
		done = end
	}
	return done, nil
}

func (o *WebhookOutput) errorf(format string, args ...any) error {
	return fmt.Errorf("webhook output %q (%s): "+format, append([]any{o.name, o.dest}, args...)...)
}

func (o *WebhookOutput) post(parent context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(parent, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return o.errorf("build the request") // its error would quote the URL
	}
	for k, vs := range o.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "prefail-agent")
	}
	resp, err := o.client.Do(req)
	if err != nil {
		if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return o.errorf("no answer within %s: %w", o.timeout, o.scrub(err))
		}
		return o.errorf("%w", o.scrub(err))
	}
	defer resp.Body.Close()
	// Read bounded, so the connection can be reused; a longer body is
	// left unread (the connection is then closed).
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, webhookMaxBody))
	if rerr != nil && parent.Err() == nil && errors.Is(rerr, context.DeadlineExceeded) {
		rerr = fmt.Errorf("no complete answer within %s: %w", o.timeout, rerr)
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil // the batch is delivered, whatever the body
	case code >= 300 && code < 400:
		where := "no Location"
		if loc := resp.Header.Get("Location"); loc != "" {
			where = "to " + outputDest(o.resolve(loc))
		}
		return o.errorf("the receiver redirected (%s, %s), not followed: events are sent to the configured URL only; fix the URL",
			resp.Status, where)
	}
	excerpt := o.excerpt(data)
	if rerr != nil && excerpt == "" {
		excerpt = "(body unreadable: " + o.scrub(rerr).Error() + ")"
	}
	serr := &WebhookStatusError{Output: o.name, Dest: o.dest, StatusCode: code, Status: resp.Status, Body: excerpt}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return &RetryAfterError{Delay: d, Err: serr}
		}
	}
	return serr
}

// resolve makes a Location absolute against the configured URL.
func (o *WebhookOutput) resolve(loc string) string {
	base, err := url.Parse(o.url)
	if err != nil {
		return loc
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return base.ResolveReference(ref).String()
}

// scrub rewrites a *url.Error, which quotes the whole URL (user info,
// query), to name the destination only.
func (o *WebhookOutput) scrub(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s request: %w", strings.ToUpper(uerr.Op), uerr.Err)
	}
	return err
}

// excerpt is the start of a response body for an error message: printable
// text, the configured header values redacted.
func (o *WebhookOutput) excerpt(data []byte) string {
	s := string(data)
	for _, sec := range o.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == unicode.ReplacementChar:
			return -1
		case unicode.IsSpace(r):
			return ' '
		case !unicode.IsPrint(r):
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > webhookMaxExcerpt {
		cut := webhookMaxExcerpt
		for cut > 0 && !webhookRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func webhookRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Close implements Output: it closes idle connections.
func (o *WebhookOutput) Close() error {
	o.transport.CloseIdleConnections()
	return nil
}

// WebhookStatusError is a webhook receiver's answer other than 2xx or a
// redirect.
type WebhookStatusError struct {
	Output     string
	Dest       string // the URL without user info or query
	StatusCode int
	Status     string
	Body       string // an excerpt, header values redacted
}

// Rejected says the receiver refused the batch itself (a 4xx other than
// 408 and 429): retrying the same request will not help until the
// receiver or the configuration changes.
func (e *WebhookStatusError) Rejected() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

func (e *WebhookStatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webhook output %q (%s): ", e.Output, e.Dest)
	if e.Rejected() {
		fmt.Fprintf(&b, "the receiver rejected the events with %s (wrong URL, header or credential?); they stay in the outbox and are retried until it accepts them", e.Status)
	} else {
		fmt.Fprintf(&b, "the receiver answered %s", e.Status)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an
// HTTP-date (a date in the past is 0).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(n, maxSecs)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// outputDest is a URL (or a comma-separated list of them) as errors name
// it: scheme, host and path, without user info or query, which may hold
// credentials.
func outputDest(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			parts[i] = "(unparsable URL)"
			continue
		}
		parts[i] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	return strings.Join(parts, ",")
}
