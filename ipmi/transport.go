package ipmi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goipmi "github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Network functions used by the reader (IPMI v2.0 §5.1, Table 5-1).
const (
	netFnChassis = types.NetFnChassisRequest // 0x00
	netFnSensor  = types.NetFnSensorEventRequest
	netFnApp     = types.NetFnAppRequest
	netFnStorage = types.NetFnStorageRequest
)

// exchanger sends one IPMI command and returns the response data after the
// completion code. A non-zero completion code is a *CompletionCodeError.
// It is the seam between the command files (pure packing/unpacking) and
// the session, so the commands are tested without a BMC.
type exchanger interface {
	exchange(ctx context.Context, netFn types.NetFn, cmd uint8, name string, data []byte) ([]byte, error)
}

// CompletionCodeError is a response whose completion code is not 00h
// (IPMI v2.0 §5.2, Table 5-2). errors.Is(err, ErrCompletionCode) holds.
type CompletionCodeError struct {
	Command string
	Code    uint8
}

func (e *CompletionCodeError) Error() string {
	return fmt.Sprintf("%s: completion code 0x%02x (%s)", e.Command, e.Code, completionCodeText(e.Code))
}

// Is makes errors.Is(err, ErrCompletionCode) true.
func (e *CompletionCodeError) Is(target error) bool { return target == ErrCompletionCode }

// completionCodeIs reports whether err carries completion code cc.
func completionCodeIs(err error, cc ...uint8) bool {
	var ce *CompletionCodeError
	if !errors.As(err, &ce) {
		return false
	}
	for _, c := range cc {
		if ce.Code == c {
			return true
		}
	}
	return false
}

// Completion codes the reader acts on (IPMI v2.0 Table 5-2, and the
// command-specific codes of §31.2, §33.12).
const (
	ccReservationCancelled = 0xC5 // reservation cancelled or invalid
	ccRequestDataLength    = 0xC7 // request data length invalid
	ccCannotReturnBytes    = 0xCA // cannot return number of requested data bytes
	ccNotPresent           = 0xCB // requested sensor, data, or record not present
	ccUnspecified          = 0xFF
	ccInvalidCommand       = 0xC1
	ccInsufficientPriv     = 0xD4
	ccSensorNotPresent     = 0xCB
	ccDestinationUnavail   = 0xD3
	ccNodeBusy             = 0xC0
	ccTimeout              = 0xC3
	ccOutOfSpace           = 0xC4
	ccParameterOutOfRange  = 0xC9
	ccCommandNotSupported  = 0xD5
	ccInvalidDataField     = 0xCC
	ccRequestTooLong       = 0xC8
)

func completionCodeText(cc uint8) string {
	switch cc {
	case ccNodeBusy:
		return "node busy"
	case ccInvalidCommand:
		return "invalid command"
	case ccTimeout:
		return "timeout while processing command"
	case ccOutOfSpace:
		return "out of space"
	case ccReservationCancelled:
		return "reservation cancelled or invalid"
	case ccRequestDataLength:
		return "request data length invalid"
	case ccParameterOutOfRange:
		return "parameter out of range"
	case ccCannotReturnBytes:
		return "cannot return number of requested data bytes"
	case ccNotPresent:
		return "requested sensor, data, or record not present"
	case ccDestinationUnavail:
		return "destination unavailable"
	case ccInsufficientPriv:
		return "insufficient privilege level"
	case ccCommandNotSupported:
		return "command not supported in present state"
	case ccUnspecified:
		return "unspecified error"
	}
	return "see IPMI v2.0 Table 5-2"
}

// session is one open connection to a BMC: a go-ipmi client whose UDP
// socket goes through a counting dialer, so every datagram the scan costs
// (session set-up, retries, keep-alives and close included) is counted.
type session struct {
	c        *goipmi.Client
	requests *atomic.Int64 // LAN: datagrams sent; open: commands
	lan      bool
	conn     *connHolder
	guard    *rmcpGuard // LAN only: checks the BMC's datagrams (rmcp_guard.go)
	// silent counts the exchanges in a row that got no usable reply; at
	// maxSilentExchanges the BMC is taken as gone and not asked again.
	silent int
}

// maxSilentExchanges: after this many requests in a row without a usable
// reply (each already resent per WithRetries), the rest of the scan's
// requests fail at once instead of each waiting out its timeout.
const maxSilentExchanges = 3

// connHolder keeps the socket go-ipmi dialed, so it can be closed without
// go-ipmi's Close, which first sends Close Session and waits for it.
type connHolder struct {
	mu sync.Mutex
	c  net.Conn
}

func (h *connHolder) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		h.c.Close()
	}
}

// countingDialer is handed to go-ipmi as its "UDP proxy" (WithUDPProxy):
// go-ipmi dials once per client through it and we count the writes.
type countingDialer struct {
	n       *atomic.Int64
	timeout time.Duration
	hold    *connHolder
	guard   *rmcpGuard
}

func (d countingDialer) Dial(network, addr string) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, d.timeout)
	if err != nil {
		return nil, err
	}
	d.hold.mu.Lock()
	d.hold.c = c
	d.hold.mu.Unlock()
	return &countingConn{Conn: c, n: d.n, guard: d.guard}, nil
}

// countingConn counts the datagrams go-ipmi sends, and shows the guard
// every datagram both ways: what the guard refuses never reaches go-ipmi.
type countingConn struct {
	net.Conn
	n     *atomic.Int64
	guard *rmcpGuard
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	if c.guard != nil {
		c.guard.sent(b)
	}
	return c.Conn.Write(b)
}

// Read returns the next datagram the guard lets through; the socket's
// read deadline (set by go-ipmi) bounds the wait as before.
func (c *countingConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if err != nil || c.guard == nil || c.guard.check(b[:n]) {
			return n, err
		}
	}
}

// supportedCipherSuite reports whether go-ipmi v0.9.1 can run a session
// with the suite. go-ipmi v0.9.1 marks every in-session packet as
// encrypted and authenticated whatever suite was negotiated, so only
// suites with both an integrity and an AES confidentiality algorithm work
// (IPMI v2.0 §22.15.2, Table 22-20): 3, 8, 12 and 17. With suites 1 and 2
// the BMC rejects every command (ipmi_sim crashed on suite 2).
func supportedCipherSuite(id int) bool {
	switch id {
	case 3, 8, 12, 17:
		return true
	}
	return false
}

// openSession connects to the BMC per the reader's configuration.
func openSession(ctx context.Context, cfg *config, host string, port int) (*session, error) {
	n := &atomic.Int64{}
	switch cfg.iface {
	case InterfaceOpen:
		c, err := goipmi.NewOpenClient()
		if err != nil {
			return nil, err
		}
		c.WithTimeout(cfg.requestTimeout)
		if err := c.Connect(ctx); err != nil {
			return nil, fmt.Errorf("open /dev/ipmi0: %w", err)
		}
		return &session{c: c, requests: n}, nil
	case InterfaceLAN, InterfaceLANPlus:
	default:
		return nil, fmt.Errorf("interface %q: %w (use lanplus, lan or open)", cfg.iface, ErrUnsupported)
	}
	c, err := goipmi.NewClient(host, port, cfg.username, cfg.password)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	c.WithTimeout(cfg.requestTimeout)
	c.WithRetry(cfg.retries)
	hold := &connHolder{}
	guard := newRMCPGuard(cfg.password)
	c.WithUDPProxy(countingDialer{n: n, timeout: cfg.requestTimeout, hold: hold, guard: guard})
	if cfg.iface == InterfaceLAN {
		c.WithInterface(goipmi.InterfaceLan)
	} else {
		c.WithInterface(goipmi.InterfaceLanplus)
		// A configured suite skips go-ipmi's Get Channel Cipher Suites probe,
		// which BMCs that ignore it (ipmi_sim) answer with a ~5 s wait.
		c.WithCipherSuiteID(types.CipherSuiteID(cfg.cipherSuite))
	}
	s := &session{c: c, requests: n, lan: true, conn: hold, guard: guard}
	if err := c.Connect(ctx); err != nil {
		// No session to close: just release the socket. (go-ipmi's Close
		// would send Close Session and wait for an answer that a dead BMC
		// never gives, past the caller's deadline.)
		hold.close()
		return nil, classifyConnectError(err)
	}
	return s, nil
}

// classifyConnectError maps go-ipmi's session set-up failures to our
// categories, keeping its text (it names the step that failed).
func classifyConnectError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		strings.Contains(msg, "timed out"), strings.Contains(msg, "deadline"), strings.Contains(msg, "no matching IPMI response"):
		return fmt.Errorf("%w: session set-up: %v", ErrTimeout, err)
	case strings.Contains(msg, "rakp"), strings.Contains(msg, "RAKP"),
		strings.Contains(msg, "Unauthorized"), strings.Contains(msg, "password"),
		strings.Contains(msg, "unauthorized"), strings.Contains(msg, "name"):
		return fmt.Errorf("%w: session set-up: %v", ErrUnauthorized, err)
	}
	return fmt.Errorf("session set-up: %w", err)
}

// exchange implements exchanger over the go-ipmi client.
func (s *session) exchange(ctx context.Context, netFn types.NetFn, cmd uint8, name string, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrTimeout, err)
	}
	if err := s.goneErr(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !s.lan {
		s.requests.Add(1)
	}
	req := &goipmi.CommandRawRequest{NetFn: netFn, Cmd: cmd, Data: data, Name: name}
	res := &goipmi.CommandRawResponse{}
	err := s.c.Exchange(ctx, req, res)
	var (
		reply, sent ipmiHeader
		matched     bool
		drops       []string
		dropped     int
	)
	if s.guard != nil {
		reply, sent, matched, drops, dropped = s.guard.replyFor()
		// The guard's last request is this one unless go-ipmi's keep-alive
		// got in between.
		matched = matched && sent.cmd == cmd && sent.netFn == uint8(netFn)
	}
	// go-ipmi v0.9.1 matches a reply by sequence number and command only:
	// a reply of another network function would be taken for this one.
	if matched && reply.netFn != uint8(netFn)|1 {
		s.silent = 0
		return nil, fmt.Errorf("%s: %w: the reply has network function 0x%02x, want 0x%02x (a reply to another command)", name, ErrMalformed, reply.netFn, uint8(netFn)|1)
	}
	if err != nil {
		if re, ok := types.IsResponseError(err); ok {
			s.silent = 0
			if re.CompletionCode() == 0 {
				// go-ipmi's "unpack response failed": not a completion code.
				return nil, fmt.Errorf("%s: %w: %v", name, ErrMalformed, err)
			}
			return nil, &CompletionCodeError{Command: name, Code: uint8(re.CompletionCode())}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
			strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "deadline") {
			s.silent++
			if dropped > 0 {
				return nil, fmt.Errorf("%s: %w: no usable reply within the timeout; the BMC sent %w: %s", name, ErrTimeout, ErrMalformed, dropText(drops, dropped))
			}
			return nil, fmt.Errorf("%s: %w: %v", name, ErrTimeout, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.silent = 0
	return res.Response, nil
}

// goneErr is non-nil once the BMC is taken as gone (maxSilentExchanges).
func (s *session) goneErr() error {
	if s == nil || s.silent < maxSilentExchanges {
		return nil
	}
	return fmt.Errorf("%w: not sent, the BMC stopped answering (%d requests in a row got no usable reply)", ErrTimeout, s.silent)
}

// dropText says what the guard dropped, in plain words.
func dropText(drops []string, n int) string {
	t := strings.Join(drops, "; ")
	if n > len(drops) {
		t += fmt.Sprintf(" (and %d more)", n-len(drops))
	}
	return t
}

// close ends the session (Close Session, IPMI v2.0 §22.19), bounded by
// ctx. When ctx is already done (the BMC stopped answering), the socket is
// released without asking the BMC.
func (s *session) close(ctx context.Context) error {
	if s == nil || s.c == nil {
		return nil
	}
	if ctx.Err() != nil && s.conn != nil {
		s.conn.close()
		// With the socket closed and ctx done, go-ipmi's Close returns at
		// once; it must still run: go-ipmi v0.9.1 stops the session's
		// keep-alive goroutine only there (it would tick forever).
		_ = s.c.Close(ctx)
		return nil
	}
	return s.c.Close(ctx)
}
