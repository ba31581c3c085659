package redfish

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// A BMC is hostile until proven otherwise: every URL the reader requests
// comes from the BMC itself (@odata.id links, Members@odata.nextLink, the
// login's Location header, redirects), and one that points elsewhere would
// carry the session token, or the password, to another host. So every
// reference is resolved here against the target's origin (RFC 6454: scheme,
// host and port) and refused unless it stays on it; the transport checks
// every request again (guardTransport), and redirects are checked by
// checkRedirect. Nothing is ever glued onto the endpoint as a string:
// gofish v0.26.0 builds request URLs as endpoint+link, so a link such as
// "@evil:443/x" turned "https://bmc" into "https://bmc@evil:443/x".

// origin is a target's scheme, host and port.
type origin struct {
	scheme string // "https" or "http"
	host   string // as given (what the Host header and TLS name carry)
	key    string // lower-case host:port with the port always explicit, for comparison
}

// parseOrigin reads an endpoint "https://host[:port]". A path other than
// "/", a query, a fragment or userinfo is refused: the Redfish root is
// fixed by DSP0266, and credentials are options, not part of the URL.
func parseOrigin(endpoint string) (origin, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return origin{}, fmt.Errorf("redfish endpoint %q: %w", endpoint, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return origin{}, fmt.Errorf("redfish endpoint %q: want https://host[:port] or http://host:port", endpoint)
	case u.User != nil:
		return origin{}, fmt.Errorf("redfish endpoint %s://%s: user info in the URL is not accepted (give credentials as options)", u.Scheme, u.Host)
	case u.Host == "" || u.Hostname() == "":
		return origin{}, fmt.Errorf("redfish endpoint %q: no host", endpoint)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "":
		return origin{}, fmt.Errorf("redfish endpoint %q: want https://host[:port] without a path (the service root /redfish/v1 is fixed)", endpoint)
	}
	return origin{scheme: u.Scheme, host: u.Host, key: originKey(u.Scheme, u)}, nil
}

// originKey is scheme://host:port, lower-case, with the default port made
// explicit, so that "https://BMC" and "https://bmc:443" compare equal.
func originKey(scheme string, u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// String is the origin as a URL prefix, for messages.
func (o origin) String() string { return o.scheme + "://" + o.host }

// allows reports whether a request to u stays on the origin.
func (o origin) allows(u *url.URL) bool {
	return u != nil && u.User == nil && u.Opaque == "" && originKey(u.Scheme, u) == o.key
}

// resolve turns a reference the service gave into the URL to request: an
// absolute path ("/redfish/v1/Chassis/1"), or an absolute URL on the
// origin itself. Anything else is refused with a *refusedError (errors.Is
// ErrRefused): another scheme, host or port (https to http included), a
// scheme-relative "//host/...", userinfo, and relative paths such as
// "@host:port/x" (Redfish references are absolute paths, DSP0266 §6.3).
func (o origin) resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, &refusedError{ref: ref, why: "not a valid URL"}
	}
	switch {
	case u.User != nil:
		return nil, &refusedError{ref: "", why: "the link carries user info"}
	case u.Opaque != "":
		return nil, &refusedError{ref: ref, why: "not a URL of this service"}
	case u.Scheme != "" || u.Host != "":
		scheme := u.Scheme
		if scheme == "" {
			scheme = o.scheme
		}
		if k := originKey(scheme, u); k != o.key {
			// Only the origin is named: the rest of the link is the
			// BMC's and may carry anything.
			return nil, &refusedError{ref: k, why: "another origin than " + o.key}
		}
	case !strings.HasPrefix(u.Path, "/"):
		return nil, &refusedError{ref: ref, why: "not an absolute path"}
	}
	return &url.URL{Scheme: o.scheme, Host: o.host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}, nil
}

// refusedError is a reference or redirect the reader would not follow.
type refusedError struct {
	ref string
	why string
}

func (e *refusedError) Error() string {
	if e.ref == "" {
		return "refused a link: " + e.why
	}
	return fmt.Sprintf("refused link %s: %s", quoteRef(e.ref), e.why)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *refusedError) Is(target error) bool { return target == ErrRefused }

// quoteRef quotes a reference for a message, cut short: it comes from the
// BMC and may be anything.
func quoteRef(ref string) string {
	return fmt.Sprintf("%q", truncate(ref, 80))
}

// maxRedirects bounds the redirects followed for one request.
const maxRedirects = 3

// checkRedirect is the http.Client redirect policy: only GETs are
// redirected (a login POST answered 307 would re-send the password), only
// within the origin, at most maxRedirects times.
func (o origin) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if m := via[0].Method; m != "GET" {
		return &refusedError{ref: req.URL.Path, why: "a redirect of a " + m + " (following it would re-send the request body)"}
	}
	if !o.allows(req.URL) {
		return &refusedError{ref: originKey(req.URL.Scheme, req.URL), why: "a redirect to another origin than " + o.key}
	}
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRefused, maxRedirects)
	}
	return nil
}
