package redfish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/hostiletest"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// logoutGrace is how long past its deadline a scan may take: the logout,
// on a short context of its own.
const logoutGrace = 4 * time.Second

// hangMargin is how long past deadline + logoutGrace the test still waits
// for a scan before it gives up on it.
const hangMargin = 3 * time.Second

// hostileSentinels maps the cases' expected outcomes to the reader's errors.
var hostileSentinels = map[hostiletest.Sentinel]error{
	hostiletest.Refused:          redfish.ErrRefused,
	hostiletest.TooLarge:         redfish.ErrTooLarge,
	hostiletest.Malformed:        redfish.ErrMalformed,
	hostiletest.Unauthorized:     redfish.ErrUnauthorized,
	hostiletest.NoSessionService: redfish.ErrNoSessionService,
	hostiletest.NoComponents:     redfish.ErrNoComponents,
	hostiletest.Unavailable:      redfish.ErrUnavailable,
}

// lockedBuffer is the debug log: zerolog writes from the scan's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hostileSecret is a password that exists only in this test run.
func hostileSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "pw-" + hex.EncodeToString(b)
}

// cleanBaseline is what a scan of an unharmed public-rackmount1 reports.
type cleanBaseline struct {
	all      []string // every component id
	fansPSUs []string // the fans' and PSUs' ids
}

func scanBaseline(t *testing.T, secret string) cleanBaseline {
	t.Helper()
	tree, err := redfishmock.Embedded(hostiletest.Tree)
	if err != nil {
		t.Fatal(err)
	}
	ts := redfishtest.NewServer(tree, redfishmock.WithCredentials("admin", secret))
	defer ts.Close()
	snap, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", secret))
	if err != nil {
		t.Fatalf("baseline scan of a clean %s: %v", hostiletest.Tree, err)
	}
	var b cleanBaseline
	for _, c := range snap.Components {
		b.all = append(b.all, c.ID)
		if c.Kind == model.KindFan || c.Kind == model.KindPSU {
			b.fansPSUs = append(b.fansPSUs, c.ID)
		}
	}
	if len(b.fansPSUs) == 0 {
		t.Fatalf("baseline scan of %s reports no fan or PSU", hostiletest.Tree)
	}
	return b
}

// hostileResult is one scan of a hostile target.
type hostileResult struct {
	snap *model.Snapshot
	err  error
	took time.Duration
	log  string
}

func scanHostile(t *testing.T, h *hostiletest.Target, secret string) hostileResult {
	t.Helper()
	var logBuf lockedBuffer
	opts := []redfish.Option{
		redfish.WithCredentials("admin", secret),
		redfish.WithLogger(zerolog.New(&logBuf).Level(zerolog.DebugLevel)),
	}
	if h.Case.TLS.Trusted() {
		opts = append(opts, redfish.WithCAFile(h.CAFile))
	}
	if h.Case.BasicAuth {
		opts = append(opts, redfish.WithBasicAuth())
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Case.Timeout())
	defer cancel()
	type outcome struct {
		snap *model.Snapshot
		err  error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		snap, err := redfish.Scan(ctx, h.URL, opts...)
		done <- outcome{snap, err}
	}()
	// A reader that ignores its deadline must not hold up the suite: stop
	// waiting well past deadline + logout (the DEADLINE check reports it;
	// closing the target at cleanup makes the stray scan fail fast).
	var o outcome
	hang := time.NewTimer(h.Case.Timeout() + logoutGrace + hangMargin)
	defer hang.Stop()
	select {
	case o = <-done:
	case <-hang.C:
		o.err = fmt.Errorf("redfish.Scan did not return within %s", h.Case.Timeout()+logoutGrace+hangMargin)
	}
	snap, err := o.snap, o.err
	took := time.Since(start)
	// A reader that leaves a request running past its return must still
	// be caught touching the canary: wait (bounded) for the server to be
	// idle before the checks.
	for deadline := time.Now().Add(logoutGrace); h.Running() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return hostileResult{snap: snap, err: err, took: took, log: logBuf.String()}
}

// TestHostileBMC runs every hostile case through the one-shot redfish.Scan
// and checks, for every case, that nothing reached the canary or the
// downgrade listener, that no secret leaked into the snapshot, the error or
// the debug log, that the call kept to its deadline, that no session was
// left open, that no Authorization header was sent (Basic was not asked
// for), and then the case's own expectation.
func TestHostileBMC(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the canary listens on 127.0.0.2, which only Linux routes to lo without an alias")
	}
	secret := hostileSecret(t)
	base := scanBaseline(t, secret)
	for _, c := range hostiletest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			// The cases that make the reader decode megabytes are CPU
			// bound (several times over under -race): they run one at a
			// time, before the others, so that no deadline is missed for
			// want of a core.
			if c.RaceDeadline == 0 {
				t.Parallel()
			}
			h := hostiletest.Start(t, c, "admin", secret)
			r := scanHostile(t, h, secret)
			checkHostile(t, h, r)
			checkExpect(t, h, r, base)
			if t.Failed() {
				t.Logf("case %s: %s", c.Name, c.Doc)
				logOutcome(t, h, r)
			}
		})
	}
}

// TestHostileBasicAuthNeverReachesCanary: with WithBasicAuth, the Basic
// header goes to the target only, never to the canary a redirect names.
func TestHostileBasicAuthNeverReachesCanary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the canary listens on 127.0.0.2, which only Linux routes to lo without an alias")
	}
	c, ok := hostiletest.Lookup("basic-auth-redirect-to-canary")
	if !ok {
		t.Fatal("no case basic-auth-redirect-to-canary")
	}
	secret := hostileSecret(t)
	h := hostiletest.Start(t, c, "admin", secret)
	r := scanHostile(t, h, secret)
	if hits := h.Canary.Hits(); hits.Credentialed > 0 || !hits.Untouched() {
		t.Errorf("Basic credentials: the canary got %s; a redirect to another origin must not be followed, with or without credentials", hits)
	}
	if st := h.Stats(); st.Authorization == 0 {
		t.Errorf("WithBasicAuth: the target never got an Authorization header (%d requests): the test did not exercise Basic auth", st.Requests)
	}
	if t.Failed() {
		logOutcome(t, h, r)
	}
}

// checkHostile checks what every case must keep.
func checkHostile(t *testing.T, h *hostiletest.Target, r hostileResult) {
	t.Helper()
	c := h.Case
	if r.snap == nil {
		t.Errorf("no snapshot (error %v): the scan must return what it had, even on failure", r.err)
	}
	if hits := h.Canary.Hits(); !hits.Untouched() {
		t.Errorf("CANARY: the canary on %s got %s: a link, Location or redirect outside the target's origin was followed", h.Canary.Host, hits)
	}
	if hits := h.Downgrade.Hits(); !hits.Untouched() {
		t.Errorf("DOWNGRADE: the plain-HTTP listener on %s got %s: the reader left the target's origin (https to http or another port)", h.Downgrade.Host, hits)
	}
	checkNoSecrets(t, h, r)
	if limit := c.Timeout() + logoutGrace; r.took > limit {
		t.Errorf("DEADLINE: the scan took %s; its deadline was %s, and a logout may add at most %s", r.took.Round(time.Millisecond), c.Timeout(), logoutGrace)
	}
	st := h.Stats()
	if open := st.Open(); open != c.Want.OpenSessions {
		t.Errorf("SESSIONS: %d session(s) left open on the BMC (%d created, %d deleted); want %d", open, st.Created, st.Deleted, c.Want.OpenSessions)
	}
	if !c.BasicAuth && st.Authorization > 0 {
		t.Errorf("BASIC: %d request(s) carried an Authorization header though Basic auth was not configured (WithBasicAuth): the password was sent", st.Authorization)
	}
	if bound := c.LoginBound(); st.Logins > bound {
		t.Errorf("LOGINS: %d login POSTs; want at most %d", st.Logins, bound)
	}
	if r.snap != nil {
		seen := map[string]int{}
		for _, comp := range r.snap.Components {
			seen[comp.ID]++
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("DUPLICATE: component %s reported %d times", id, n)
			}
		}
	}
}

// checkNoSecrets: the password (also as Basic credentials) and every token
// the BMC issued appear nowhere in the snapshot, the error or the log.
func checkNoSecrets(t *testing.T, h *hostiletest.Target, r hostileResult) {
	t.Helper()
	var snapJSON []byte
	if r.snap != nil {
		var err error
		if snapJSON, err = json.Marshal(r.snap); err != nil {
			t.Fatalf("marshal snapshot: %v", err)
		}
	}
	errText := ""
	if r.err != nil {
		errText = r.err.Error()
	}
	for i, s := range h.Secrets() {
		what := "the password"
		switch {
		case i == 1:
			what = "the Basic credentials (base64 of user:password)"
		case i > 1:
			what = fmt.Sprintf("session token #%d", i-1)
		}
		if bytes.Contains(snapJSON, []byte(s)) {
			t.Errorf("LEAK: %s appears in the snapshot's JSON", what)
		}
		if strings.Contains(errText, s) {
			t.Errorf("LEAK: %s appears in the error text", what)
		}
		if strings.Contains(r.log, s) {
			t.Errorf("LEAK: %s appears in the debug log", what)
		}
	}
}

// checkExpect checks the case's own expectation.
func checkExpect(t *testing.T, h *hostiletest.Target, r hostileResult, base cleanBaseline) {
	t.Helper()
	w := h.Case.Want
	switch w.Err {
	case hostiletest.Either:
	case hostiletest.Success:
		if r.err != nil {
			t.Errorf("ERROR: the scan failed: %v; want success (what could not be read is a warning)", r.err)
		}
	case hostiletest.TLSVerify:
		if r.err == nil || !isCertError(r.err) {
			t.Errorf("ERROR: %v; want a certificate verification error", r.err)
		}
	default:
		sentinel, ok := hostileSentinels[w.Err]
		if !ok {
			t.Fatalf("case names an unknown sentinel %q", w.Err)
		}
		if !errors.Is(r.err, sentinel) {
			t.Errorf("ERROR: %v; want errors.Is(err, redfish.%s)", r.err, w.Err)
		}
	}
	if w.ErrText != "" && (r.err == nil || !strings.Contains(r.err.Error(), w.ErrText)) {
		t.Errorf("ERROR TEXT: %v; want it to say %q", r.err, w.ErrText)
	}
	if w.WarningText != "" {
		found := false
		if r.snap != nil {
			for _, wn := range r.snap.Warnings {
				if hostiletest.WarningMatches(wn.Source+": "+wn.Message, w.WarningText) {
					found = true
					break
				}
			}
		}
		if !found {
			t.Errorf("WARNING: no snapshot warning says %q", w.WarningText)
		}
	}
	if w.Partial || w.Complete {
		want, what := base.fansPSUs, "fans and PSUs"
		if w.Complete {
			want, what = base.all, "components of a clean scan"
		}
		have := map[string]bool{}
		if r.snap != nil {
			for _, c := range r.snap.Components {
				have[c.ID] = true
			}
		}
		var missing []string
		for _, id := range want {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			t.Errorf("PARTIAL: %d of the %d %s of %s are missing: %v", len(missing), len(want), what, hostiletest.Tree, missing)
		}
	}
	st := h.Stats()
	if w.NoRequest && st.Requests > 0 {
		t.Errorf("TLS: the server's handler got %d request(s) %q; a certificate that fails verification must stop the client before any request", st.Requests, st.Log)
	}
	if w.MinDuration > 0 && r.took < w.MinDuration {
		t.Errorf("DURATION: the scan took %s; want at least %s (Retry-After was not honoured)", r.took.Round(time.Millisecond), w.MinDuration)
	}
	if w.MaxDuration > 0 && r.took > w.MaxDuration {
		t.Errorf("DURATION: the scan took %s; want at most %s", r.took.Round(time.Millisecond), w.MaxDuration)
	}
	for _, p := range w.MustRequest {
		if h.Requested("GET", p) == 0 {
			t.Errorf("VACUOUS: the reader never asked for %s, which this case attacks: the case tested nothing", p)
		}
	}
	for _, s := range w.NeverRequest {
		for _, l := range st.Log {
			if strings.Contains(l, s) {
				t.Errorf("REQUEST: %q was requested; nothing containing %q may be", l, s)
				break
			}
		}
	}
	pats := make([]string, 0, len(w.MaxGETs))
	for p := range w.MaxGETs {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	for _, p := range pats {
		if n := h.Requested("GET", p); n > w.MaxGETs[p] {
			t.Errorf("REQUESTS: %d GETs of %s; want at most %d", n, p, w.MaxGETs[p])
		}
	}
}

func isCertError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "x509: ") || strings.Contains(s, "tls: failed to verify certificate")
}

// logOutcome shows what happened, for a failed case.
func logOutcome(t *testing.T, h *hostiletest.Target, r hostileResult) {
	t.Helper()
	st := h.Stats()
	t.Logf("took %s, error: %v", r.took.Round(time.Millisecond), r.err)
	if r.snap != nil {
		t.Logf("%d components, %d requests", len(r.snap.Components), r.snap.Requests)
		for i, w := range r.snap.Warnings {
			if i == 10 {
				t.Logf("... %d more warnings", len(r.snap.Warnings)-i)
				break
			}
			t.Logf("warning: %s: %s", w.Source, truncateText(w.Message, 300))
		}
	}
	t.Logf("BMC: %d requests, %d logins, %d sessions created, %d deleted, %d Authorization headers", st.Requests, st.Logins, st.Created, st.Deleted, st.Authorization)
	for i, l := range st.Log {
		if i == 20 {
			t.Logf("... %d more requests", len(st.Log)-i)
			break
		}
		t.Logf("request: %s", truncateText(l, 200))
	}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
