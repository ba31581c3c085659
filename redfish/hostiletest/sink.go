package hostiletest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Sink is a listener that must never be contacted: the canary on another
// loopback address (127.0.0.2) or the plain-HTTP "downgrade" listener on
// another port of 127.0.0.1. It counts every TCP connection it accepts (so
// that a TLS handshake sent to its plain-HTTP port counts too) and every
// HTTP request that reaches it, and answers each with a 404.
type Sink struct {
	// URL is "http://ADDR:PORT".
	URL string
	// Host is "ADDR:PORT".
	Host string

	srv *http.Server
	ln  net.Listener

	mu    sync.Mutex
	conns int
	reqs  int
	auth  int // requests with an Authorization or X-Auth-Token header, or a password in the body
	log   []string
}

// maxSinkLog bounds the request log of a sink.
const maxSinkLog = 1000

func newSink(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hostiletest: listen on %s: %w", addr, err)
	}
	s := &Sink{Host: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	s.ln = &countingListener{Listener: ln, onAccept: func() {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
	}}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	// A login re-sent here carries the password in its JSON body, not in
	// a header: look there too.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	password := bytes.Contains(body, []byte(`"Password"`))
	s.mu.Lock()
	s.reqs++
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Auth-Token") != "" || password {
		s.auth++
	}
	if len(s.log) < maxSinkLog {
		line := r.Method + " " + r.URL.RequestURI()
		if r.Header.Get("Authorization") != "" {
			line += " [Authorization]"
		}
		if r.Header.Get("X-Auth-Token") != "" {
			line += " [X-Auth-Token]"
		}
		if password {
			line += " [Password in the body]"
		}
		s.log = append(s.log, line)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusNotFound, redfishError("Base.1.0.ResourceMissingAtURI", "canary: this server must never be contacted"))
}

// SinkHits is what a Sink received.
type SinkHits struct {
	// Conns counts accepted TCP connections, Requests HTTP requests, and
	// Credentialed the requests that carried an Authorization or
	// X-Auth-Token header or a "Password" in their body.
	Conns, Requests, Credentialed int
	// Log is "METHOD /uri [Authorization] [X-Auth-Token] [Password in the body]" per request.
	Log []string
}

// Untouched reports whether nothing at all reached the sink.
func (h SinkHits) Untouched() bool { return h.Conns == 0 && h.Requests == 0 }

func (h SinkHits) String() string {
	return fmt.Sprintf("%d connection(s), %d request(s), %d with credentials %q", h.Conns, h.Requests, h.Credentialed, h.Log)
}

// Hits returns what the sink received so far.
func (s *Sink) Hits() SinkHits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SinkHits{Conns: s.conns, Requests: s.reqs, Credentialed: s.auth, Log: append([]string(nil), s.log...)}
}

func (s *Sink) close() {
	_ = s.srv.Close()
}

// countingListener calls onAccept for every accepted connection.
type countingListener struct {
	net.Listener
	onAccept func()
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.onAccept()
	}
	return c, err
}
