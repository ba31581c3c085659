package redfishmock

import (
	"fmt"
	"time"
)

// Defaults of a Server.
const (
	DefaultUser        = "admin"
	DefaultPassword    = "password"
	DefaultMaxSessions = 16
	// MaxLevels is the deepest $levels the server honours (and advertises).
	MaxLevels = 6
)

// Option configures a Server. Options are applied once, by New.
type Option func(*options)

type options struct {
	user, password string
	noAuth         bool
	noExpand       bool
	latency        time.Duration
	faults         []Fault
	scenario       *Scenario
	maxSessions    int
	dmtf           bool
	replies        *ReplyCache
}

func defaultOptions() options {
	return options{user: DefaultUser, password: DefaultPassword, maxSessions: DefaultMaxSessions}
}

// WithCredentials sets the account accepted for sessions and Basic auth
// (default "admin" / "password").
func WithCredentials(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithoutAuth serves everything without credentials: no 401s at all.
// Sessions can still be created, with any credentials.
func WithoutAuth() Option { return func(o *options) { o.noAuth = true } }

// WithoutExpand ignores $expand and advertises ExpandQuery false in the
// service root, like the many BMCs that do not implement it.
func WithoutExpand() Option { return func(o *options) { o.noExpand = true } }

// WithLatency delays every response by d, to exercise client timeouts and
// concurrency.
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// WithFault injects a fault; it may be given several times. The first
// matching fault that fires on a request wins.
func WithFault(f Fault) Option { return func(o *options) { o.faults = append(o.faults, f) } }

// WithScenario changes served values over simulated time (see SetTime).
func WithScenario(sc *Scenario) Option { return func(o *options) { o.scenario = sc } }

// WithMaxSessions bounds open sessions (default 16); beyond it POST to the
// Sessions collection fails with SessionLimitExceeded. n <= 0 means no limit.
func WithMaxSessions(n int) Option { return func(o *options) { o.maxSessions = n } }

// WithDMTFMockupServerBehaviour reproduces DMTF's redfishMockupServer.py:
// no auth, sessions answered 204 without a token, Connection: close on
// every response, $expand only on collections and one level, the service
// root served as captured, @Redfish.Copyright stripped.
func WithDMTFMockupServerBehaviour() Option { return func(o *options) { o.dmtf = true } }

// WithReplyCache keeps the GET replies the server computes ($expand,
// $top/$skip, the service root) and their ETags in c, and serves them
// from it again: a fleet of mock BMCs in a benchmark, built from one tree
// with the same options, then pays for each distinct reply once instead
// of once per BMC, and the mocks' CPU does not crowd out the client
// measured on the same cores. Servers sharing c must serve the same tree with the same
// options. Replies that change over time (a scenario's, the sessions')
// are never cached; authentication, latency, faults and request counting
// stay per server.
func WithReplyCache(c *ReplyCache) Option { return func(o *options) { o.replies = c } }

// FaultKind is what an injected fault does to a response.
type FaultKind int

// The fault kinds.
const (
	// FaultUnavailable answers 503 with Retry-After and a Redfish error body.
	FaultUnavailable FaultKind = iota + 1
	// FaultSessionLimit fails POST to the Sessions collection with
	// SessionLimitExceeded.
	FaultSessionLimit
	// FaultTruncated sends half the body under a Content-Length for all of
	// it, then closes the connection.
	FaultTruncated
	// FaultSlowBody dribbles the body in small pieces over Fault.Delay.
	FaultSlowBody
	// FaultMalformed answers 200 with a body that is not valid JSON.
	FaultMalformed
)

func (k FaultKind) String() string {
	switch k {
	case FaultUnavailable:
		return "unavailable"
	case FaultSessionLimit:
		return "session-limit"
	case FaultTruncated:
		return "truncated"
	case FaultSlowBody:
		return "slow-body"
	case FaultMalformed:
		return "malformed"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault injects a failure into matching requests.
type Fault struct {
	// Path is an exact URL path (without query; trailing slash ignored) or
	// a path.Match pattern such as "/redfish/v1/Chassis/*/Power". Empty
	// matches every path (for FaultSessionLimit: the Sessions collection).
	Path string
	Kind FaultKind
	// Every fires the fault on every Nth matching request (0 or 1: always),
	// to test retries.
	Every int
	// Delay is the total time FaultSlowBody takes to send the body
	// (default 2s).
	Delay time.Duration
}
