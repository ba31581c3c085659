package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefail/prefail/agent/eventschema"
	"github.com/prefail/prefail/agent/natstest"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// TestAgentConfigOutputs runs `prefail agent --config` with a webhook and
// a NATS JetStream output (Debian's nats-server) as a user would write
// them: the capture's PSU predictive failure reaches both, once each,
// with the same event id; the webhook's Authorization comes from the
// environment and is never in the file.
func TestAgentConfigOutputs(t *testing.T) {
	ns := natstest.Start(t)
	var (
		mu     sync.Mutex
		posted [][]byte
		auth   []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, body)
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	bmc := newSwitchableBMC(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "prefail.yaml", `targets:
  - url: `+bmc.srv.URL+`
    username_env: BMC_USER
    password_env: BMC_PASS
interval: 50ms
timeout: 5s
store:
  path: `+dir+`/store
outputs:
  webhook:
    url: `+hook.URL+`/prefail
    headers_env:
      Authorization: HOOK_AUTH
    timeout: 5s
  nats:
    url: `+ns.URL+`
    subject: prefail.events
    stream: PREFAIL
    create_stream: true
listen: ""
`)
	var stdout, stderr syncBuffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(map[string]string{
		"BMC_USER": redfishmock.DefaultUser, "BMC_PASS": redfishmock.DefaultPassword, "HOOK_AUTH": "Bearer s3cret"})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, []string{"agent", "--config", cfg}) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(posted)
		mu.Unlock()
		if n > 0 && len(natsEventIDs(t, ns.URL)) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the agent stopped: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no event at the webhook and in the stream within 20 s (webhook %d)\n%s", n, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few more rounds: nothing new must come
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	var hookIDs []string
	for i, body := range posted {
		for _, ev := range eventschema.CheckLines(t, body) {
			id, _ := ev["id"].(string)
			hookIDs = append(hookIDs, id)
		}
		if auth[i] != "Bearer s3cret" {
			t.Errorf("webhook POST %d: Authorization %q", i, auth[i])
		}
	}
	natsIDs := natsEventIDs(t, ns.URL)
	if len(hookIDs) != 1 || len(natsIDs) != 1 || hookIDs[0] != natsIDs[0] {
		t.Errorf("event ids: webhook %v, NATS %v; want the PSU's one event once at each", hookIDs, natsIDs)
	}
	if strings.Contains(stderr.String(), "s3cret") {
		t.Error("the webhook's secret is in the log")
	}
}

// natsEventIDs reads the ids of the events in the PREFAIL stream, checking
// that each message's Nats-Msg-Id is its event's id; none when the stream
// is not there yet.
func natsEventIDs(t *testing.T, url string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "PREFAIL")
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if h := m.Header.Get(jetstream.MsgIDHeader); h != ev.ID {
			t.Errorf("message %d: Nats-Msg-Id %q, event id %q", seq, h, ev.ID)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}
