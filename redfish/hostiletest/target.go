// Package hostiletest serves hostile and broken Redfish services, to prove
// that a reader neither leaks credentials to another origin, nor goes blind
// or runs out of memory when a BMC misbehaves.
//
// Each Case is one misbehaviour (a redirect to another host, a 200 MB body,
// a login that answers 307, ...) with what a correct reader does about it
// (Expect). Start runs a case as a Target: a hostile Redfish server on
// 127.0.0.1 that serves the embedded public-rackmount1 tree for everything
// the case does not override (so that partial results can be checked),
// with sessions of its own (random tokens, counted), plus two Sinks that
// must never be contacted: a canary on 127.0.0.2 (Linux routes all of
// 127/8 to lo) and a plain-HTTP "downgrade" listener on another port of
// 127.0.0.1.
//
// The package imports only the standard library and redfishtest; it never
// imports the reader, so that the expectations are data (Sentinel names)
// that the reader's tests map to its error values.
package hostiletest

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// Paths of the Redfish service the cases use.
const (
	ServiceRoot = "/redfish/v1"
	Sessions    = "/redfish/v1/SessionService/Sessions"
	// Tree is the embedded tree every Target serves underneath.
	Tree = "public-rackmount1"
	// CanaryAddr is the loopback address the canary listens on.
	CanaryAddr = "127.0.0.2"
)

// maxRequestLog bounds a Target's request log.
const maxRequestLog = 1 << 17

// closeGrace bounds how long Close waits for running handlers.
const closeGrace = 5 * time.Second

// Target is one running Case: the hostile server and its two sinks.
type Target struct {
	Case Case
	// URL is the hostile server's base URL ("http://127.0.0.1:PORT" or
	// "https://127.0.0.1:PORT").
	URL string
	// Host is "127.0.0.1:PORT".
	Host string
	// Canary listens on 127.0.0.2; Downgrade is plain HTTP on 127.0.0.1.
	// Neither may ever be contacted.
	Canary, Downgrade *Sink
	// CAFile is the PEM file of the certificate the hostile server
	// presents (TLS cases only): the CA a client must trust for it. The
	// client is given it only when Case.TLS.Trusted().
	CAFile string
	// User and Password are the account the server accepts.
	User, Password string

	tree *redfishmock.Server
	srv  *http.Server
	stop chan struct{}
	dir  string

	running atomic.Int64

	mu        sync.Mutex
	requests  int
	logins    int
	created   int
	deleted   int
	authHdrs  int
	log       []string
	logLost   int
	sessions  map[string]string // session id -> token
	tokens    map[string]string // token -> session id
	issued    []string          // every token ever issued
	counters  map[string]int
	closeOnce sync.Once
}

// Start runs c with the account user/password and closes it when tb's test
// ends. It fails tb if the servers cannot start (on Linux every 127/8
// address is local; elsewhere 127.0.0.2 may need an alias).
func Start(tb testing.TB, c Case, user, password string) *Target {
	tb.Helper()
	t, err := New(c, user, password)
	if err != nil {
		tb.Fatalf("hostiletest: case %s: %v", c.Name, err)
	}
	tb.Cleanup(t.Close)
	return t
}

// New runs c with the account user/password. Close it when done.
func New(c Case, user, password string) (*Target, error) {
	tree, err := redfishmock.Embedded(Tree)
	if err != nil {
		return nil, err
	}
	t := &Target{
		Case: c, User: user, Password: password,
		tree:     redfishmock.New(tree, redfishmock.WithoutAuth()),
		stop:     make(chan struct{}),
		sessions: map[string]string{},
		tokens:   map[string]string{},
		counters: map[string]int{},
	}
	ok := false
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	if t.Canary, err = newSink(CanaryAddr + ":0"); err != nil {
		return nil, fmt.Errorf("canary (Linux routes 127/8 to lo; elsewhere add an alias for %s): %w", CanaryAddr, err)
	}
	if t.Downgrade, err = newSink("127.0.0.1:0"); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hostiletest: listen: %w", err)
	}
	t.Host = ln.Addr().String()
	t.srv = &http.Server{
		Handler:           t,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if c.TLS == PlainHTTP {
		t.URL = "http://" + t.Host
		go func() { _ = t.srv.Serve(ln) }()
	} else {
		host := "127.0.0.1"
		if c.TLS == TLSWrongName || c.TLS == TLSWrongNameTrusted {
			host = "bmc.invalid"
		}
		cert, certPEM, err := redfishmock.SelfSignedCert(host)
		if err != nil {
			ln.Close()
			return nil, err
		}
		if t.dir, err = os.MkdirTemp("", "hostiletest-"); err != nil {
			ln.Close()
			return nil, fmt.Errorf("hostiletest: %w", err)
		}
		t.CAFile = filepath.Join(t.dir, "ca.pem")
		if err := os.WriteFile(t.CAFile, certPEM, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("hostiletest: %w", err)
		}
		t.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		t.URL = "https://" + t.Host
		go func() { _ = t.srv.ServeTLS(ln, "", "") }()
	}
	ok = true
	return t, nil
}

// Close stops the servers: every streaming or trickling handler stops,
// every connection is closed. It waits (a bounded time) for the handlers.
func (t *Target) Close() {
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.srv != nil {
			_ = t.srv.Close()
		}
		if t.Canary != nil {
			t.Canary.close()
		}
		if t.Downgrade != nil {
			t.Downgrade.close()
		}
		deadline := time.Now().Add(closeGrace)
		for t.running.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if t.dir != "" {
			_ = os.RemoveAll(t.dir)
		}
	})
}

// Stats is what the hostile server saw.
type Stats struct {
	// Requests counts every request; Logins the POSTs to the Sessions
	// collection; Created and Deleted the sessions.
	Requests, Logins, Created, Deleted int
	// Authorization counts requests carrying an Authorization header.
	Authorization int
	// Log is "METHOD /path?query" per request, in order (bounded: LogLost
	// lines were dropped).
	Log     []string
	LogLost int
}

// Open is the number of sessions created and not deleted.
func (s Stats) Open() int { return s.Created - s.Deleted }

// Stats returns what the server saw so far.
func (t *Target) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Requests: t.requests, Logins: t.logins, Created: t.created, Deleted: t.deleted,
		Authorization: t.authHdrs, Log: append([]string(nil), t.log...), LogLost: t.logLost,
	}
}

// Secrets returns every string that must never appear in a snapshot, an
// error or a log: the password, the Basic credentials it would make, and
// every session token the server issued.
func (t *Target) Secrets() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []string{t.Password, base64.StdEncoding.EncodeToString([]byte(t.User + ":" + t.Password))}
	return append(out, t.issued...)
}

// Running returns the number of requests being handled right now.
func (t *Target) Running() int { return int(t.running.Load()) }

// Requested counts the requests of method whose path matches pattern
// (path.Match syntax, or an exact path; query ignored, trailing slash
// ignored).
func (t *Target) Requested(method, pattern string) int {
	n := 0
	for _, l := range t.Stats().Log {
		m, p, _ := strings.Cut(l, " ")
		if m != method {
			continue
		}
		p, _, _ = strings.Cut(p, "?")
		if matchPath(pattern, p) {
			n++
		}
	}
	return n
}

func matchPath(pattern, p string) bool {
	pattern, p = redfishmock.NormalizePath(pattern), redfishmock.NormalizePath(p)
	if pattern == p {
		return true
	}
	ok, err := path.Match(pattern, p)
	return err == nil && ok
}

// ServeHTTP counts and records r, lets the case answer it, and otherwise
// serves the tree with the server's own sessions.
func (t *Target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.running.Add(1)
	defer t.running.Add(-1)
	t.record(r)
	w.Header().Set("OData-Version", "4.0")
	if t.Case.Handle != nil && t.Case.Handle(t, w, r) {
		return
	}
	t.serveDefault(w, r)
}

func (t *Target) record(r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if r.Header.Get("Authorization") != "" {
		t.authHdrs++
	}
	if r.Method == http.MethodPost && redfishmock.NormalizePath(r.URL.Path) == Sessions {
		t.logins++
	}
	if len(t.log) < maxRequestLog {
		t.log = append(t.log, line)
	} else {
		t.logLost++
	}
}

// bump increments the case's counter name and returns its new value.
func (t *Target) bump(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counters[name]++
	return t.counters[name]
}

// serveDefault is a well-behaved BMC: sessions, the tree, 401 without a
// valid session (or Basic credentials, when the case accepts them).
func (t *Target) serveDefault(w http.ResponseWriter, r *http.Request) {
	p := redfishmock.NormalizePath(r.URL.Path)
	switch {
	case p == Sessions && r.Method == http.MethodPost:
		t.login(w, r)
	case strings.HasPrefix(p, Sessions+"/") && r.Method == http.MethodDelete:
		t.logout(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, redfishError("Base.1.0.OperationNotAllowed", "The HTTP method is not allowed on this resource."))
	case isOpen(p) || t.authorized(r):
		t.serveTree(w, r)
	default:
		unauthorized(w)
	}
}

// isOpen: DSP0266 leaves the service root, odata and $metadata open.
func isOpen(p string) bool {
	switch p {
	case "/redfish", ServiceRoot, ServiceRoot + "/odata", ServiceRoot + "/$metadata":
		return true
	}
	return false
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="hostile"`)
	writeJSON(w, http.StatusUnauthorized, redfishError("Base.1.0.NoValidSession", "There is no valid session established with the implementation."))
}

// authorized reports whether r carries a live session token (or, for a
// case that accepts them, the right Basic credentials).
func (t *Target) authorized(r *http.Request) bool {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		t.mu.Lock()
		_, ok := t.tokens[tok]
		t.mu.Unlock()
		if ok {
			return true
		}
	}
	if user, pw, ok := r.BasicAuth(); ok && t.Case.BasicAuth {
		return subtle.ConstantTimeCompare([]byte(user+"\x00"+pw), []byte(t.User+"\x00"+t.Password)) == 1
	}
	return false
}

// session is a session the server created.
type session struct{ id, token string }

// newSession checks the credentials in a login POST and opens a session;
// it writes nothing. ok is false (and a 400/401 written) when refused.
func (t *Target) newSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	var creds struct{ UserName, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&creds); err != nil {
		writeJSON(w, http.StatusBadRequest, redfishError("Base.1.0.MalformedJSON", "The request body submitted was malformed JSON."))
		return session{}, false
	}
	if subtle.ConstantTimeCompare([]byte(creds.UserName+"\x00"+creds.Password), []byte(t.User+"\x00"+t.Password)) != 1 {
		unauthorized(w)
		return session{}, false
	}
	s := session{id: randomHex(8), token: randomHex(16)}
	t.mu.Lock()
	t.sessions[s.id] = s.token
	t.tokens[s.token] = s.id
	t.issued = append(t.issued, s.token)
	t.created++
	t.mu.Unlock()
	return s, true
}

// login is the well-behaved login: 201, X-Auth-Token, Location and body
// naming the session.
func (t *Target) login(w http.ResponseWriter, r *http.Request) {
	s, ok := t.newSession(w, r)
	if !ok {
		return
	}
	t.writeSession(w, s, s.uri(), s.uri())
}

func (s session) uri() string { return Sessions + "/" + s.id }

// writeSession answers a login with the session's token, the Location
// header loc and a body whose @odata.id is bodyID.
func (t *Target) writeSession(w http.ResponseWriter, s session, loc, bodyID string) {
	w.Header().Set("X-Auth-Token", s.token)
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, map[string]any{
		"@odata.id":   bodyID,
		"@odata.type": "#Session.v1_7_0.Session",
		"Id":          s.id,
		"Name":        "User Session",
		"UserName":    t.User,
	})
}

// logout deletes a session; it needs a live token (or Basic credentials
// when the case accepts them).
func (t *Target) logout(w http.ResponseWriter, r *http.Request) {
	if !t.authorized(r) {
		unauthorized(w)
		return
	}
	id := strings.TrimPrefix(redfishmock.NormalizePath(r.URL.Path), Sessions+"/")
	t.mu.Lock()
	tok, ok := t.sessions[id]
	if ok {
		delete(t.sessions, id)
		delete(t.tokens, tok)
		t.deleted++
	}
	t.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, redfishError("Base.1.0.ResourceMissingAtURI", "The resource at the URI '"+r.URL.Path+"' was not found."))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveTree answers r from the embedded tree (authentication already
// checked).
func (t *Target) serveTree(w http.ResponseWriter, r *http.Request) {
	t.tree.ServeHTTP(w, r)
}

// treeDoc returns the tree's answer to a GET of r's path and query,
// decoded (numbers kept as json.Number), or nil.
func (t *Target) treeDoc(r *http.Request) map[string]any {
	req := httptest.NewRequest(http.MethodGet, r.URL.RequestURI(), nil)
	rec := httptest.NewRecorder()
	t.tree.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil
	}
	d := json.NewDecoder(rec.Body)
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil
	}
	return m
}

// stopped reports whether the target is closing.
func (t *Target) stopped() <-chan struct{} { return t.stop }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redfishError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"@Message.ExtendedInfo": []any{map[string]any{"MessageId": code, "Message": msg, "Severity": "Critical"}},
	}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"Base.1.0.GeneralError","message":"encoding"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
