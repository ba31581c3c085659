package redfish

import (
	"crypto/tls"
	"net/http"

	"github.com/rs/zerolog"
)

// Option configures a Client. Options are applied once, by New.
type Option func(*config)

type config struct {
	username, password string
	basicAuth          bool
	tlsConfig          *tls.Config
	caFile             string
	insecure           bool
	httpClient         *http.Client
	maxLogEntries      int
	maxInFlight        int
	expand             bool
	logger             zerolog.Logger
	maxResponseBytes   int64
	memoryBudget       int64
	maxMembers         int
	pool               *MemoryPool
}

func defaultConfig() config {
	return config{
		maxLogEntries: 100,
		maxInFlight:   4,
		expand:        true,
		logger:        zerolog.Nop(),
		// The largest real responses (a $expand of a big server's Sensors,
		// 100 expanded log entries) are a few MiB.
		maxResponseBytes: 8 << 20,
		// Five times the largest real server in testdata (an HPE iLO 7
		// GPU server: about 7 MiB decoded, every resource and log).
		memoryBudget: 32 << 20,
		maxMembers:   2000,
	}
}

// WithCredentials sets the account used to log in. Without it the client
// reads only what the service serves anonymously.
func WithCredentials(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithBasicAuth sends HTTP Basic credentials on every request instead of
// opening a Redfish session.
func WithBasicAuth() Option { return func(c *config) { c.basicAuth = true } }

// WithCAFile trusts the PEM certificates in path (in addition to none: the
// system roots are replaced) when verifying the BMC's certificate.
func WithCAFile(path string) Option { return func(c *config) { c.caFile = path } }

// WithTLSConfig sets the TLS configuration used to reach the BMC.
func WithTLSConfig(t *tls.Config) Option { return func(c *config) { c.tlsConfig = t } }

// WithInsecure turns off verification of the BMC's TLS certificate. It is
// an explicit, per-target choice: verification is on by default.
func WithInsecure() Option { return func(c *config) { c.insecure = true } }

// WithHTTPClient uses hc for all requests (its transport's TLS settings win
// over WithCAFile/WithInsecure).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithMaxLogEntries bounds how many of the newest entries are read from each
// log service (default 100; 0 skips logs).
func WithMaxLogEntries(n int) Option { return func(c *config) { c.maxLogEntries = n } }

// WithMaxInFlight bounds the requests in flight to one BMC (default 4):
// the reads that do not depend on each other go at once up to it. A
// service without $expand costs a request per resource (public-rackmount1:
// 82), so this bound, not the depth of the tree, sets its scan time.
func WithMaxInFlight(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxInFlight = n
		}
	}
}

// WithoutExpand never sends $expand, even when the service advertises it.
func WithoutExpand() Option { return func(c *config) { c.expand = false } }

// WithLogger logs requests and decisions at debug level. The default logs nothing.
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxResponseBytes bounds one response body (default 8 MiB), the
// service root included; a larger one is refused (ErrTooLarge) without
// being read further.
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxResponseBytes = n
		}
	}
}

// WithMemoryBudget bounds the memory one scan may hold in responses
// (default 32 MiB: bodies while read, then an estimate of their decoded
// form from the JSON values in them). Past it, further reads fail with ErrTooLarge and the scan
// reports what it had.
func WithMemoryBudget(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.memoryBudget = n
		}
	}
}

// WithMaxMembers bounds the members read from one collection (default
// 2000); the rest are skipped with a warning.
func WithMaxMembers(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxMembers = n
		}
	}
}
