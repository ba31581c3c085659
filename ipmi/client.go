package ipmi

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// Client reads one BMC over IPMI. Each Scan opens a session, reads the
// sensors (with thresholds), the SEL entries added since the previous
// scan, the chassis status and the FRU inventory, and closes the session.
// Between scans the Client keeps the SDR repository (checked against the
// BMC's repository timestamps on every scan), the SEL cursor and the
// unpaired SEL assertions. A Client is not safe for concurrent Scans.
type Client struct {
	target string // "host:port", or "open" for the in-band interface
	host   string
	port   int
	cfg    config
	now    func() time.Time

	cache      *sdrCache
	selCursor  *SELCursor
	openEvents []model.Event // assertions not yet paired, for pairing across scans
}

// New returns a client for target "host[:port]" (port 623 when omitted;
// ignored for the open interface). It makes no request.
func New(target string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	c := &Client{cfg: cfg, now: time.Now}
	if cfg.iface == InterfaceOpen {
		c.target = "open"
		return c, nil
	}
	if cfg.iface == InterfaceLANPlus && !supportedCipherSuite(cfg.cipherSuite) {
		return nil, fmt.Errorf("ipmi %s: cipher suite %d: %w: go-ipmi v0.9.1 marks every in-session packet encrypted and authenticated, so only suites 3, 8, 12 and 17 work", target, cfg.cipherSuite, ErrUnsupported)
	}
	host, port, err := splitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("ipmi target %q: %w", target, err)
	}
	c.host, c.port = host, port
	c.target = net.JoinHostPort(host, strconv.Itoa(port))
	return c, nil
}

func splitHostPort(target string) (string, int, error) {
	if target == "" {
		return "", 0, fmt.Errorf("empty host")
	}
	if !strings.Contains(target, ":") || (strings.Count(target, ":") > 1 && !strings.HasPrefix(target, "[")) {
		return strings.Trim(target, "[]"), DefaultPort, nil
	}
	h, p, err := net.SplitHostPort(target)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if h == "" {
		return "", 0, fmt.Errorf("empty host")
	}
	return h, port, nil
}

// Target is the "host:port" the client reads.
func (c *Client) Target() string { return c.target }

// SELCursor returns where the last scan stopped reading the SEL (nil
// before the first scan), to be saved and restored with WithSELCursor.
func (c *Client) SELCursor() *SELCursor {
	if c.selCursor == nil {
		return nil
	}
	cur := *c.selCursor
	return &cur
}

// SetSELCursor makes the next scan read only SEL entries after cur.
func (c *Client) SetSELCursor(cur *SELCursor) {
	if cur == nil {
		c.selCursor = nil
		return
	}
	v := *cur
	c.selCursor = &v
}

// Scan is the one-shot form: a new Client, one scan.
func Scan(ctx context.Context, target string, opts ...Option) (*model.Snapshot, error) {
	c, err := New(target, opts...)
	if err != nil {
		return nil, err
	}
	return c.Scan(ctx)
}
