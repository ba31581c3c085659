package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// The NATS output publishes each event to a JetStream subject, one
// message per event (the event's JSON form), with the Nats-Msg-Id header
// set to the event's id: the stream drops a message whose id it has seen
// within its duplicate window, so an event handed over again (after a
// crash, a lost ack, a reconnect) is stored once. An event counts as
// delivered only once its PubAck came back (a duplicate's ack included).
//
// The connection reconnects forever in the background; while it is down,
// Deliver fails at once (publishes are not buffered in the client: the
// outbox is the buffer) and the dispatcher backs off.

// NATS output defaults.
const (
	DefaultNATSTimeout   = 10 * time.Second
	DefaultNATSDupWindow = 24 * time.Hour
	// natsShortDupWindow: a stream de-duplicating over less than this
	// cannot recognize an event sent again after a long outage.
	natsShortDupWindow = time.Hour
)

// NATSOption configures NewNATSOutput.
type NATSOption func(*natsConfig)

type natsConfig struct {
	name      string
	stream    string
	create    bool
	dupWindow time.Duration
	creds     string
	user      string
	password  string
	token     string
	caFile    string
	timeout   time.Duration
	reconnect time.Duration
	log       zerolog.Logger
}

// WithNATSName names the output ("nats" by default): the name of its
// cursor in the store.
func WithNATSName(name string) NATSOption { return func(c *natsConfig) { c.name = name } }

// WithNATSStream names the stream the subject must land in: every publish
// expects it (a subject bound to another stream is refused), and it is
// checked (or created, WithNATSCreateStream) at start. Without it, the
// stream is whatever stream takes the subject.
func WithNATSStream(stream string) NATSOption { return func(c *natsConfig) { c.stream = stream } }

// WithNATSCreateStream creates the stream (WithNATSStream, required) if it
// does not exist: file storage, the output's subject, duplicate window
// window (DefaultNATSDupWindow if 0). An existing stream is not changed.
func WithNATSCreateStream(window time.Duration) NATSOption {
	return func(c *natsConfig) { c.create, c.dupWindow = true, window }
}

// WithNATSCredsFile authenticates with a credentials file (JWT and nkey).
func WithNATSCredsFile(file string) NATSOption { return func(c *natsConfig) { c.creds = file } }

// WithNATSUserInfo authenticates with a user and password.
func WithNATSUserInfo(user, password string) NATSOption {
	return func(c *natsConfig) { c.user, c.password = user, password }
}

// WithNATSToken authenticates with a token.
func WithNATSToken(token string) NATSOption { return func(c *natsConfig) { c.token = token } }

// WithNATSCAFile verifies the server's TLS certificate against the PEM
// certificates in file (and requires TLS).
func WithNATSCAFile(file string) NATSOption { return func(c *natsConfig) { c.caFile = file } }

// WithNATSTimeout bounds the connection attempt and each publish's wait
// for its ack (default 10 s).
func WithNATSTimeout(d time.Duration) NATSOption { return func(c *natsConfig) { c.timeout = d } }

// WithNATSReconnectWait sets the wait between reconnection attempts
// (default 1 s, with the client's jitter).
func WithNATSReconnectWait(d time.Duration) NATSOption {
	return func(c *natsConfig) { c.reconnect = d }
}

// WithNATSLogger logs the connection's life (disconnected, reconnected,
// asynchronous errors) and a stream whose duplicate window is short.
// Default zerolog.Nop().
func WithNATSLogger(l zerolog.Logger) NATSOption { return func(c *natsConfig) { c.log = l } }

// NATSOutput publishes events to a NATS JetStream subject. It is safe for
// concurrent use.
type NATSOutput struct {
	name      string
	subject   string
	dest      string // the server URLs without user info
	create    bool
	dupWindow time.Duration
	timeout   time.Duration
	log       zerolog.Logger
	nc        *nats.Conn
	js        jetstream.JetStream

	mu      sync.Mutex // one Deliver at a time; guards stream, ensured
	stream  string
	ensured bool
}

// NewNATSOutput connects to the NATS server(s) at url (comma-separated)
// and returns an output publishing to subject. Configuration errors
// (credentials refused, unreadable files, a missing stream that is not to
// be created) fail here; a server that does not answer yet does not: the
// connection keeps trying in the background and Deliver fails until it
// succeeds (the events wait in the outbox).
func NewNATSOutput(ctx context.Context, url, subject string, opts ...NATSOption) (*NATSOutput, error) {
	c := natsConfig{name: "nats", dupWindow: DefaultNATSDupWindow, timeout: DefaultNATSTimeout,
		reconnect: time.Second, log: zerolog.Nop()}
	for _, opt := range opts {
		opt(&c)
	}
	if c.dupWindow <= 0 {
		c.dupWindow = DefaultNATSDupWindow
	}
	o := &NATSOutput{name: c.name, subject: subject, dest: natsDest(url), create: c.create,
		dupWindow: c.dupWindow, timeout: c.timeout, log: c.log, stream: c.stream}
	switch {
	case c.name == "":
		return nil, fmt.Errorf("nats output (%s): empty output name", o.dest)
	case subject == "" || strings.ContainsAny(subject, "*> \t\r\n"):
		return nil, o.errorf("invalid subject %q (a literal subject is needed)", subject)
	case c.create && c.stream == "":
		return nil, o.errorf("creating the stream needs its name (WithNATSStream)")
	case c.timeout <= 0:
		return nil, o.errorf("the timeout must be positive")
	case c.reconnect <= 0:
		return nil, o.errorf("the reconnect wait must be positive")
	}
	if err := ctx.Err(); err != nil {
		return nil, o.errorf("connect: %w", err)
	}
	timeout := c.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(min(timeout, time.Until(dl)), time.Millisecond)
	}
	nopts := []nats.Option{
		nats.Name("prefail-agent"),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(c.reconnect),
		nats.ReconnectBufSize(-1), // fail while disconnected: the outbox is the buffer
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			o.log.Warn().Str("output", o.name).Str("server", o.dest).Err(err).Msg("nats: asynchronous error")
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			o.log.Warn().Str("output", o.name).Str("server", o.dest).Err(err).Msg("nats: disconnected")
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			o.log.Info().Str("output", o.name).Str("server", o.dest).Msg("nats: reconnected")
		}),
	}
	if c.creds != "" {
		nopts = append(nopts, nats.UserCredentials(c.creds))
	}
	if c.user != "" || c.password != "" {
		nopts = append(nopts, nats.UserInfo(c.user, c.password))
	}
	if c.token != "" {
		nopts = append(nopts, nats.Token(c.token))
	}
	if c.caFile != "" {
		nopts = append(nopts, nats.RootCAs(c.caFile))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		if !natsRetryable(err) {
			return nil, o.errorf("connect: %w", err)
		}
		// Not answering yet: keep trying in the background.
		o.log.Warn().Str("output", o.name).Str("server", o.dest).Err(err).
			Msg("nats: server not answering; connecting in the background")
		nc, err = nats.Connect(url, append(nopts, nats.RetryOnFailedConnect(true))...)
		if err != nil {
			return nil, o.errorf("connect: %w", err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, o.errorf("jetstream: %w", err)
	}
	o.nc, o.js = nc, js
	if nc.IsConnected() {
		o.mu.Lock()
		err := o.ensure(ctx)
		o.mu.Unlock()
		switch {
		case err != nil && natsTransient(err):
			// JetStream not ready yet: Deliver looks again.
			o.log.Warn().Str("output", o.name).Err(err).Msg("nats: stream not checked yet; checking at the first delivery")
		case err != nil:
			nc.Close()
			return nil, err
		}
	}
	return o, nil
}

// natsTransient says a JetStream error may go away by itself (a server
// starting, a leader election, a lost connection) rather than being
// configuration.
func natsTransient(err error) bool {
	if apiErr, ok := errors.AsType[*jetstream.APIError](err); ok && apiErr.Code == 503 {
		return true
	}
	for _, e := range []error{nats.ErrNoResponders, nats.ErrTimeout, context.DeadlineExceeded,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrNoStreamResponse, nats.ErrConnectionClosed,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// natsRetryable says a connection error may go away by itself (the
// server down or unreachable) rather than being configuration.
func natsRetryable(err error) bool {
	var nerr net.Error
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr)
}

func (o *NATSOutput) errorf(format string, args ...any) error {
	return fmt.Errorf("nats output %q (%s, subject %s): "+format, append([]any{o.name, o.dest, o.subject}, args...)...)
}

// Name implements Output.
func (o *NATSOutput) Name() string { return o.name }

// ensure checks that a stream takes the subject, creating it if asked
// to. Called with mu held.
func (o *NATSOutput) ensure(ctx context.Context) error {
	if o.ensured {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.stream == "" {
		name, err := o.js.StreamNameBySubject(ctx, o.subject)
		if err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return o.errorf("no stream takes the subject (create one, or name it and let the agent create it)")
			}
			return o.errorf("look up the stream: %w", err)
		}
		o.stream = name
	}
	s, err := o.js.Stream(ctx, o.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && o.create {
		s, err = o.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        o.stream,
			Description: "prefail events",
			Subjects:    []string{o.subject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  o.dupWindow,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = o.js.Stream(ctx, o.stream) // created meanwhile by another agent
		}
		if err != nil {
			return o.errorf("create the stream %s: %w", o.stream, err)
		}
		o.log.Info().Str("output", o.name).Str("stream", o.stream).Dur("duplicate_window", o.dupWindow).
			Msg("nats: stream created")
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return o.errorf("the stream %s does not exist (create it, or let the agent create it)", o.stream)
		}
		return o.errorf("look up the stream %s: %w", o.stream, err)
	}
	if w := s.CachedInfo().Config.Duplicates; w < natsShortDupWindow {
		o.log.Warn().Str("output", o.name).Str("stream", o.stream).Dur("duplicate_window", w).
			Msg("nats: the stream's duplicate window is short: an event sent again after a longer outage is stored twice")
	}
	o.ensured = true
	return nil
}

// Deliver implements Output: it publishes the events one after the
// other, each with its id as Nats-Msg-Id, and counts an event delivered
// once the stream acknowledged it.
func (o *NATSOutput) Deliver(ctx context.Context, events []Event) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.nc.IsConnected() {
		return 0, o.errorf("not connected (%s)", strings.ToLower(o.nc.Status().String()))
	}
	if err := o.ensure(ctx); err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	for i := range events {
		ev := &events[i]
		buf.Reset()
		if err := jsonlAppendEvent(&buf, ev); err != nil {
			return i, o.errorf("%w", err)
		}
		msg := &nats.Msg{Subject: o.subject, Data: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		_, err := o.js.PublishMsg(pctx, msg, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(o.stream))
		cancel()
		if err != nil {
			if errors.Is(err, jetstream.ErrNoStreamResponse) {
				o.ensured = false // gone? look again (and create it again) next time
				return i, o.errorf("publish event %s: no stream answered (stream %s deleted, or JetStream not ready): %w", ev.ID, o.stream, err)
			}
			return i, o.errorf("publish event %s: %w", ev.ID, err)
		}
	}
	return len(events), nil
}

// Close implements Output: it closes the connection.
func (o *NATSOutput) Close() error {
	o.nc.Close()
	return nil
}

// natsDest names NATS server URLs without user info (tokens and
// passwords ride in it).
func natsDest(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		parts[i] = p
	}
	return outputDest(strings.Join(parts, ","))
}
