package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// otReceiver is a webhook receiver: it records each request and answers
// as told.
type otReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []otRequest
	answer func(call int, w http.ResponseWriter, r *http.Request)
}

type otRequest struct {
	at     time.Time
	method string
	header http.Header
	ids    []string
}

func newOTReceiver(t testing.TB, answer func(call int, w http.ResponseWriter, r *http.Request)) *otReceiver {
	rc := &otReceiver{t: t, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otReceiver) serve(w http.ResponseWriter, r *http.Request) {
	req := otRequest{at: time.Now(), method: r.Method, header: r.Header.Clone()}
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			rc.t.Errorf("receiver: bad line %q: %v", sc.Text(), err)
		}
		req.ids = append(req.ids, ev.ID)
	}
	rc.mu.Lock()
	call := len(rc.reqs)
	rc.reqs = append(rc.reqs, req)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(call, w, r)
	}
}

func (rc *otReceiver) requests() []otRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func TestWebhookOutputPostsBatchesAsJSONLines(t *testing.T) {
	rc := newOTReceiver(t, nil)
	o, err := NewWebhookOutput(rc.srv.URL+"/hook", WithWebhookMaxBatch(2),
		WithWebhookHeader("Authorization", "Bearer tok-123"), WithWebhookHeader("X-Tenant", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if n := otDeliver(t, o, otEvents(0, 5)); n != 5 {
		t.Errorf("delivered %d", n)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (batches of 2)", len(reqs))
	}
	var ids []string
	for _, r := range reqs {
		if r.method != http.MethodPost || r.header.Get("Content-Type") != "application/x-ndjson" ||
			r.header.Get("Authorization") != "Bearer tok-123" || r.header.Get("X-Tenant") != "t1" {
			t.Errorf("request %s %v", r.method, r.header)
		}
		ids = append(ids, r.ids...)
	}
	if !slices.Equal(ids, otIDs(otEvents(0, 5))) {
		t.Errorf("received %v", ids)
	}
}

func TestWebhookOutputRetryAfterSecondsIsHonoured(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newOTReceiver(t, func(call int, w http.ResponseWriter, _ *http.Request) {
				if call == 0 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(code)
				}
			})
			o, err := NewWebhookOutput(rc.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			box := newOTOutbox(t)
			last := box.add(otEvents(0, 3)...)
			// A backoff of milliseconds: only Retry-After makes it wait a second.
			d := NewDispatcher(box, []Output{o}, WithDispatchBackoff(10*time.Millisecond, 10*time.Millisecond),
				WithDispatchPoll(time.Hour))
			otRun(t, d)
			otWait(t, 10*time.Second, "delivery", func() bool { return box.cursor("webhook") == last })
			reqs := rc.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second || gap > 5*time.Second {
				t.Errorf("retried %s after Retry-After: 1", gap)
			}
			if st := d.Stats()[0]; st.Failures != 1 || !strings.Contains(st.LastError, "retry after 1s") {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

func TestWebhookOutputRetryAfterDate(t *testing.T) {
	rc := newOTReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	o, err := NewWebhookOutput(rc.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	n, err := o.Deliver(context.Background(), otEvents(0, 2))
	ra, ok := errors.AsType[*RetryAfterError](err)
	if n != 0 || !ok {
		t.Fatalf("Deliver: %d, %v", n, err)
	}
	if ra.Delay < time.Second || ra.Delay > 3*time.Second { // the date has a second's resolution
		t.Errorf("delay %s, want about 3s", ra.Delay)
	}
	if se, ok := errors.AsType[*WebhookStatusError](err); !ok || se.StatusCode != 503 || se.Rejected() {
		t.Errorf("status error: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "120": 2 * time.Minute, " 7 ": 7 * time.Second,
		"Sun, 01 Mar 2026 12:00:30 GMT": 30 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0, // past
		"99999999999999999999":          -1,
		"-5":                            -1, "soon": -1, "": -1, "1.5": -1,
	} {
		got, ok := parseRetryAfter(v, now)
		if want < 0 {
			if ok {
				t.Errorf("%q: %s, want no value", v, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("%q: %s %v, want %s", v, got, ok, want)
		}
	}
}

func TestWebhookOutputTwoFailuresThenSuccess(t *testing.T) {
	rc := newOTReceiver(t, func(call int, w http.ResponseWriter, _ *http.Request) {
		if call < 2 {
			http.Error(w, "backend down", http.StatusInternalServerError)
		}
	})
	o, err := NewWebhookOutput(rc.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	box := newOTOutbox(t)
	last := box.add(otEvents(0, 4)...)
	d := NewDispatcher(box, []Output{o}, WithDispatchBackoff(20*time.Millisecond, 100*time.Millisecond),
		WithDispatchPoll(time.Hour))
	otRun(t, d)
	otWait(t, 10*time.Second, "delivery", func() bool { return box.cursor("webhook") == last })
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if !slices.Equal(r.ids, otIDs(otEvents(0, 4))) {
			t.Errorf("request %d carried %v", i, r.ids)
		}
	}
	st := d.Stats()[0]
	if st.Delivered != 4 || st.Failures != 2 || st.Failing != 0 ||
		!strings.Contains(st.LastError, "500 Internal Server Error: backend down") {
		t.Errorf("stats: %+v", st)
	}
}

func TestWebhookOutputDoesNotFollowRedirects(t *testing.T) {
	var elsewhere sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		elsewhere.Store(r.URL.Path, true)
	}))
	defer other.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		rc := newOTReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/stolen?k=v", code)
		})
		o, err := NewWebhookOutput(rc.srv.URL + "/hook")
		if err != nil {
			t.Fatal(err)
		}
		n, err := o.Deliver(context.Background(), otEvents(0, 2))
		o.Close()
		if n != 0 || err == nil || !strings.Contains(err.Error(), "redirected") ||
			!strings.Contains(err.Error(), other.URL+"/stolen") || strings.Contains(err.Error(), "k=v") {
			t.Errorf("%d: Deliver: %d, %v", code, n, err)
		}
		if len(rc.requests()) != 1 {
			t.Errorf("%d: %d requests to the receiver", code, len(rc.requests()))
		}
	}
	elsewhere.Range(func(k, _ any) bool {
		t.Errorf("the other origin received %v", k)
		return true
	})
}

func TestWebhookOutputReadsResponsesBounded(t *testing.T) {
	// A 2xx whose body never ends: the batch is delivered, without
	// waiting for the end.
	rc := newOTReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := strings.Repeat("x", 32<<10)
		for range 8 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never ends by itself
	})
	o, err := NewWebhookOutput(rc.srv.URL, WithWebhookTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	start := time.Now()
	if n := otDeliver(t, o, otEvents(0, 1)); n != 1 {
		t.Errorf("delivered %d", n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: the body was read to its (absent) end", el)
	}

	// A rejection with a huge body: a bounded excerpt, the header's value
	// redacted from it.
	const secret = "Bearer sekr1t-value"
	rc2 := newOTReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad auth header: "+r.Header.Get("Authorization")+"\n")
		_, _ = io.WriteString(w, strings.Repeat("y", 10<<20))
	})
	o2, err := NewWebhookOutput(rc2.srv.URL+"/hook?token=q-secret", WithWebhookHeader("Authorization", secret))
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	_, err = o2.Deliver(context.Background(), otEvents(0, 1))
	se, ok := errors.AsType[*WebhookStatusError](err)
	if !ok || !se.Rejected() {
		t.Fatalf("Deliver: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"rejected", "400 Bad Request", "retried", "bad auth header: [redacted]", rc2.srv.URL + "/hook"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "sekr1t") || strings.Contains(msg, "q-secret") || len(msg) > 1024 {
		t.Errorf("error leaks or is unbounded (%d bytes): %.300s", len(msg), msg)
	}
}

func TestWebhookOutputRejectionIsRetriedNotDropped(t *testing.T) {
	var fixed sync.Mutex
	accept := false
	rc := newOTReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		fixed.Lock()
		defer fixed.Unlock()
		if !accept {
			http.Error(w, "no such hook", http.StatusNotFound)
		}
	})
	o, err := NewWebhookOutput(rc.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	box := newOTOutbox(t)
	last := box.add(otEvents(0, 2)...)
	d := NewDispatcher(box, []Output{o}, WithDispatchBackoff(10*time.Millisecond, 20*time.Millisecond),
		WithDispatchPoll(time.Hour))
	otRun(t, d)
	otWait(t, 5*time.Second, "three rejections", func() bool { return d.Stats()[0].Failures >= 3 })
	if c := box.cursor("webhook"); c != 0 {
		t.Fatalf("a rejected batch was confirmed (cursor %d)", c)
	}
	if st := d.Stats()[0]; !strings.Contains(st.LastError, "rejected the events with 404 Not Found") {
		t.Errorf("last error: %s", st.LastError)
	}
	fixed.Lock()
	accept = true // the receiver is fixed
	fixed.Unlock()
	otWait(t, 5*time.Second, "delivery once fixed", func() bool { return box.cursor("webhook") == last })
}

func TestWebhookOutputErrorsKeepSecretsOut(t *testing.T) {
	rc := newOTReceiver(t, nil)
	u := strings.Replace(rc.srv.URL, "http://", "http://user:pa55word@", 1) + "/p?api_key=k3y"
	rc.srv.Close() // nothing listens: a network error
	o, err := NewWebhookOutput(u, WithWebhookTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	_, err = o.Deliver(context.Background(), otEvents(0, 1))
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); strings.Contains(msg, "pa55word") || strings.Contains(msg, "k3y") || strings.Contains(msg, "user") ||
		!strings.Contains(msg, `webhook output "webhook"`) || !strings.Contains(msg, "/p") {
		t.Errorf("error: %s", msg)
	}
	for _, bad := range []string{"ftp://x/y", "http:///nohost", "://x"} {
		if _, err := NewWebhookOutput(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestWebhookOutputTLS(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { hits.Store(r.URL.Path, true) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	verified, err := NewWebhookOutput(srv.URL+"/ca", WithWebhookCAFile(caFile))
	if err != nil {
		t.Fatal(err)
	}
	defer verified.Close()
	otDeliver(t, verified, otEvents(0, 1))

	unverified, err := NewWebhookOutput(srv.URL + "/system-roots")
	if err != nil {
		t.Fatal(err)
	}
	defer unverified.Close()
	if _, err := unverified.Deliver(context.Background(), otEvents(0, 1)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed receiver against the system roots: %v", err)
	}

	insecure, err := NewWebhookOutput(srv.URL+"/insecure", WithWebhookInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	defer insecure.Close()
	otDeliver(t, insecure, otEvents(0, 1))
	for _, p := range []string{"/ca", "/insecure"} {
		if _, ok := hits.Load(p); !ok {
			t.Errorf("%s not received", p)
		}
	}
	if _, ok := hits.Load("/system-roots"); ok {
		t.Error("sent to an unverified receiver")
	}
	if _, err := NewWebhookOutput(srv.URL, WithWebhookCAFile(filepath.Join(t.TempDir(), "missing.pem"))); err == nil {
		t.Error("missing CA file: no error")
	}
}
