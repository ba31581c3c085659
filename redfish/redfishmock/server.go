package redfishmock

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	sessionService    = "/redfish/v1/SessionService"
	sessionCollection = "/redfish/v1/SessionService/Sessions"
	authRealm         = `Basic realm="prefail-mock"`
	// maxRequestLog bounds the request log of a long-running mock; the
	// oldest half is dropped when it fills.
	maxRequestLog = 1 << 16
	// maxExpansions bounds the resources inlined into one response, since
	// $expand=*($levels=6) over a densely linked tree grows exponentially.
	maxExpansions = 5000
	// slowBodyPieces is how many writes FaultSlowBody spreads a body over.
	slowBodyPieces    = 16
	defaultSlowBody   = 2 * time.Second
	retryAfterSeconds = 1
)

// Server serves a Tree as a Redfish service. It implements http.Handler and
// is safe for concurrent use.
type Server struct {
	tree *Tree
	opts options

	requests atomic.Int64

	mu        sync.Mutex
	log       []string
	now       time.Duration // simulated time
	sessions  map[string]*session
	tokens    map[string]string // token -> session id
	faultHits []int

	docs sync.Map // path -> decodedDoc: the tree's bodies, decoded once
}

type session struct {
	id, token, user string
	created         time.Time
}

// New returns a Server for tree.
func New(tree *Tree, opts ...Option) *Server {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Server{
		tree:      tree,
		opts:      o,
		sessions:  map[string]*session{},
		tokens:    map[string]string{},
		faultHits: make([]int, len(o.faults)),
	}
}

// Requests returns the number of requests received (all methods, including
// refused and faulted ones) since start or ResetRequests.
func (s *Server) Requests() int64 { return s.requests.Load() }

// ResetRequests zeroes the request count and empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests.Store(0)
	s.log = nil
}

// RequestLog returns "METHOD /path?rawquery" for each request, in order.
func (s *Server) RequestLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// SetTime sets the scenario's simulated time (time since scenario start).
func (s *Server) SetTime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = d
}

// Time returns the simulated time set by SetTime.
func (s *Server) Time() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// RunClock advances the simulated time from the wall clock until ctx is
// done: every tick, SetTime(start + elapsed*speed), where start is the time
// set when RunClock was called. It is what a live scenario replay runs.
func (s *Server) RunClock(ctx context.Context, speed float64, tick time.Duration) error {
	if speed <= 0 || tick <= 0 {
		return fmt.Errorf("redfishmock: RunClock: speed %v and tick %v must be positive", speed, tick)
	}
	base, began := s.Time(), time.Now()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticker.C:
			s.SetTime(base + time.Duration(float64(now.Sub(began))*speed))
		}
	}
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) record(r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests.Add(1)
	if len(s.log) >= maxRequestLog {
		s.log = append(s.log[:0], s.log[len(s.log)/2:]...)
	}
	s.log = append(s.log, line)
}

// reply is a response before it is written, so a fault can mangle it.
type reply struct {
	status      int
	body        []byte
	contentType string
	etag        string // computed from body when empty
}

func jsonReply(status int, body []byte) reply {
	return reply{status: status, body: body, contentType: "application/json"}
}

func errorReply(status int, msgID, message, resolution string, args ...string) reply {
	return jsonReply(status, errorBody(msgID, message, resolution, args...))
}

// trimPath normalizes a request path (already URL-decoded by net/http).
func trimPath(p string) string {
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	if p == "" {
		return "/"
	}
	return p
}

// ServeHTTP serves one Redfish request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	h := w.Header()
	h.Set("OData-Version", "4.0")
	if s.opts.dmtf {
		// Like Python's BaseHTTPRequestHandler (HTTP/1.0): one request per
		// connection. net/http closes the connection after this response.
		h.Set("Connection", "close")
	}
	if s.opts.latency > 0 && !sleep(r.Context(), s.opts.latency) {
		return
	}
	p := trimPath(r.URL.Path)
	if !s.authorized(r, p) {
		h.Set("WWW-Authenticate", authRealm)
		s.write(w, r, errorReply(http.StatusUnauthorized, msgNoValidSession,
			"There is no valid session established with the implementation.",
			"Establish a session before attempting any operations, or send valid HTTP Basic credentials."), nil)
		return
	}
	fault := s.fault(r, p)
	if fault != nil {
		switch fault.Kind {
		case FaultUnavailable:
			h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
			s.write(w, r, errorReply(http.StatusServiceUnavailable, msgServiceTempUnavailable,
				fmt.Sprintf("The service is temporarily unavailable.  Retry in %d seconds.", retryAfterSeconds),
				"Wait for the indicated retry duration and retry the operation.", strconv.Itoa(retryAfterSeconds)), nil)
			return
		case FaultSessionLimit:
			s.write(w, r, sessionLimitReply(), nil)
			return
		}
	}
	var rep reply
	switch {
	case p == sessionCollection && r.Method == http.MethodPost:
		rep = s.login(w, r)
	case strings.HasPrefix(p, sessionCollection+"/") && r.Method == http.MethodDelete:
		rep = s.logout(p)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		rep = s.get(r, p)
	default:
		h.Set("Allow", "GET, HEAD")
		rep = errorReply(http.StatusMethodNotAllowed, msgOperationNotAllowed,
			"The HTTP method is not allowed on this resource.",
			"None.")
	}
	s.write(w, r, rep, fault)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// authorized reports whether r may proceed: DSP0266 leaves the service
// root, odata and $metadata open, and login itself needs no session.
func (s *Server) authorized(r *http.Request, p string) bool {
	if s.opts.noAuth || s.opts.dmtf {
		return true
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch p {
		case "/redfish", ServiceRoot, ServiceRoot + "/odata", ServiceRoot + "/$metadata":
			return true
		}
	}
	if p == sessionCollection && r.Method == http.MethodPost {
		return true
	}
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		s.mu.Lock()
		_, ok := s.tokens[tok]
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	if user, pw, ok := r.BasicAuth(); ok {
		return s.credentialsOK(user, pw)
	}
	return false
}

func (s *Server) credentialsOK(user, pw string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.user))
	p := subtle.ConstantTimeCompare([]byte(pw), []byte(s.opts.password))
	return u&p == 1
}

// fault returns the fault to inject into r, if one fires.
func (s *Server) fault(r *http.Request, p string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.opts.faults {
		f := &s.opts.faults[i]
		if !faultMatches(f, r, p) {
			continue
		}
		s.faultHits[i]++
		if f.Every <= 1 || s.faultHits[i]%f.Every == 0 {
			return f
		}
	}
	return nil
}

func faultMatches(f *Fault, r *http.Request, p string) bool {
	if f.Kind == FaultSessionLimit {
		if r.Method != http.MethodPost || p != sessionCollection {
			return false
		}
		if f.Path == "" {
			return true
		}
	}
	if f.Path == "" {
		return true
	}
	fp := trimPath(f.Path)
	if fp == p {
		return true
	}
	ok, err := path.Match(fp, p)
	return err == nil && ok
}

func sessionLimitReply() reply {
	return errorReply(http.StatusServiceUnavailable, msgSessionLimitExceeded,
		"The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.",
		"Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions (if supported).")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go >= 1.24)
	return hex.EncodeToString(b)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) reply {
	if s.opts.dmtf {
		w.Header().Set("Location", sessionCollection+"/"+randomHex(4))
		return reply{status: http.StatusNoContent}
	}
	var creds struct {
		UserName string `json:"UserName"`
		Password string `json:"Password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&creds); err != nil {
		return errorReply(http.StatusBadRequest, msgMalformedJSON,
			"The request body submitted was malformed JSON and could not be parsed by the receiving service.",
			"Ensure that the request body is valid JSON and resubmit the request.")
	}
	if !s.opts.noAuth && !s.credentialsOK(creds.UserName, creds.Password) {
		w.Header().Set("WWW-Authenticate", authRealm)
		return errorReply(http.StatusUnauthorized, msgUnauthorized,
			"While accessing the resource at '"+sessionCollection+"', the service received an authorization error 'invalid credentials'.",
			"Ensure that the appropriate access is provided for the service in order for it to access the URI.",
			sessionCollection, "invalid credentials")
	}
	s.mu.Lock()
	if s.opts.maxSessions > 0 && len(s.sessions) >= s.opts.maxSessions {
		s.mu.Unlock()
		return sessionLimitReply()
	}
	sess := &session{id: randomHex(8), token: randomHex(16), user: creds.UserName, created: time.Now().UTC()}
	s.sessions[sess.id] = sess
	s.tokens[sess.token] = sess.id
	s.mu.Unlock()
	loc := sessionCollection + "/" + sess.id
	w.Header().Set("X-Auth-Token", sess.token)
	w.Header().Set("Location", loc)
	return jsonReply(http.StatusCreated, mustJSON(sessionDoc(sess)))
}

func sessionDoc(sess *session) map[string]any {
	return map[string]any{
		"@odata.id":   sessionCollection + "/" + sess.id,
		"@odata.type": "#Session.v1_7_0.Session",
		"Id":          sess.id,
		"Name":        "User Session",
		"UserName":    sess.user,
		"CreatedTime": sess.created.Format(time.RFC3339),
	}
}

func mustJSON(v any) []byte {
	b, err := encodeJSON(v)
	if err != nil {
		return errorBody(msgGeneralError, err.Error(), "None.")
	}
	return b
}

func (s *Server) logout(p string) reply {
	if s.opts.dmtf {
		return reply{status: http.StatusNoContent}
	}
	id := strings.TrimPrefix(p, sessionCollection+"/")
	s.mu.Lock()
	sess, ok := s.sessions[id]
	if ok {
		delete(s.sessions, id)
		delete(s.tokens, sess.token)
	}
	s.mu.Unlock()
	if !ok {
		return notFound(p)
	}
	return reply{status: http.StatusNoContent}
}

func notFound(p string) reply {
	return errorReply(http.StatusNotFound, msgResourceMissingAtURI,
		"The resource at the URI '"+p+"' was not found.",
		"Place a valid resource at the URI or correct the URI and resubmit the request.", p)
}

// etagOf is a strong ETag for body.
func etagOf(body []byte) string {
	sum := fnv.New64a()
	sum.Write(body)
	return fmt.Sprintf(`"%016x"`, sum.Sum64())
}

// write sends rep, mangled by fault when one fired.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rep reply, fault *Fault) {
	h := w.Header()
	if rep.contentType == "" {
		rep.contentType = "application/json"
	}
	h.Set("Content-Type", rep.contentType)
	etag := rep.etag
	if etag == "" {
		etag = etagOf(rep.body)
	}
	h.Set("ETag", etag)
	if rep.status == http.StatusOK && r.Header.Get("If-None-Match") == etag && fault == nil {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := rep.body
	if rep.status == http.StatusNoContent {
		w.WriteHeader(rep.status)
		return
	}
	if fault != nil && fault.Kind == FaultMalformed {
		// Cut mid-document and append markup, as a BMC that crashed while
		// rendering might: certainly not JSON.
		body = append(append([]byte(nil), body[:len(body)/2]...), "<html><body>Internal error</body>"...)
		rep.status = http.StatusOK
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	if r.Method == http.MethodHead {
		return
	}
	switch {
	case fault != nil && fault.Kind == FaultTruncated:
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Closes the connection mid-body without a log line from net/http.
		panic(http.ErrAbortHandler)
	case fault != nil && fault.Kind == FaultSlowBody:
		delay := fault.Delay
		if delay <= 0 {
			delay = defaultSlowBody
		}
		piece := (len(body) + slowBodyPieces - 1) / slowBodyPieces
		for off := 0; off < len(body); off += piece {
			end := min(off+piece, len(body))
			if _, err := w.Write(body[off:end]); err != nil {
				return
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if end < len(body) && !sleep(r.Context(), delay/slowBodyPieces) {
				return
			}
		}
	default:
		_, _ = w.Write(body)
	}
}
