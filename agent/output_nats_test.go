package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefail/prefail/agent/natstest"
)

const (
	otNATSSubject = "prefail.events"
	otNATSStream  = "PREFAIL"
)

// otStreamIDs reads the whole stream through the JetStream API: the
// events' ids in stream order; it checks each message's Nats-Msg-Id.
func otStreamIDs(t testing.TB, url, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
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
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("message %d: %v: %q", seq, err, m.Data)
		}
		if h := m.Header.Get(jetstream.MsgIDHeader); h != ev.ID {
			t.Errorf("message %d: Nats-Msg-Id %q, event id %q", seq, h, ev.ID)
		}
		if m.Subject != otNATSSubject {
			t.Errorf("message %d on %q", seq, m.Subject)
		}
		ids = append(ids, ev.ID)
	}
	if uint64(len(ids)) != info.State.Msgs {
		t.Errorf("read %d messages, the stream says %d", len(ids), info.State.Msgs)
	}
	return ids
}

func otNATSOutput(t testing.TB, url string, opts ...NATSOption) *NATSOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o, err := NewNATSOutput(ctx, url, otNATSSubject, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func TestNATSOutputStreamHoldsEachEventOnce(t *testing.T) {
	srv := natstest.Start(t)
	o := otNATSOutput(t, srv.URL, WithNATSStream(otNATSStream), WithNATSCreateStream(0))
	if o.Name() != "nats" {
		t.Errorf("name %q", o.Name())
	}
	if n := otDeliver(t, o, otEvents(0, 5)); n != 5 {
		t.Errorf("delivered %d", n)
	}
	// The same events again (a lost confirm), with new ones.
	if n := otDeliver(t, o, otEvents(0, 7)); n != 7 {
		t.Errorf("delivered %d", n)
	}
	// And from another output (the agent restarted), after the server
	// restarted: the stream's duplicate window survives both.
	srv.Restart()
	o2 := otNATSOutput(t, srv.URL, WithNATSStream(otNATSStream), WithNATSCreateStream(0))
	if n := otDeliver(t, o2, otEvents(3, 8)); n != 5 {
		t.Errorf("delivered %d", n)
	}
	if ids := otStreamIDs(t, srv.URL, otNATSStream); !slices.Equal(ids, otIDs(otEvents(0, 8))) {
		t.Errorf("the stream holds %v", ids)
	}
	// The stream was created with a 24h duplicate window.
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), otNATSStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.Duplicates != 24*time.Hour || c.Storage != jetstream.FileStorage ||
		!slices.Equal(c.Subjects, []string{otNATSSubject}) {
		t.Errorf("stream config: %+v", c)
	}
}

func TestNATSDispatchSurvivesAServerRestart(t *testing.T) {
	srv := natstest.Start(t)
	o := otNATSOutput(t, srv.URL, WithNATSStream(otNATSStream), WithNATSCreateStream(time.Hour),
		WithNATSTimeout(2*time.Second), WithNATSReconnectWait(100*time.Millisecond))
	box := newOTOutbox(t)
	d := NewDispatcher(box, []Output{o}, WithDispatchBackoff(50*time.Millisecond, 300*time.Millisecond),
		WithDispatchPoll(time.Hour), WithDispatchBatch(4))
	otRun(t, d)

	box.add(otEvents(0, 5)...)
	d.Notify()
	otWait(t, 10*time.Second, "the first events", func() bool { return box.cursor("nats") == 5 })

	srv.Stop()
	last := box.add(otEvents(5, 15)...)
	d.Notify()
	otWait(t, 10*time.Second, "failures while the server is down", func() bool { return d.Stats()[0].Failures >= 2 })
	if c := box.cursor("nats"); c != 5 {
		t.Errorf("cursor moved to %d while the server was down", c)
	}
	srv.Restart()
	otWait(t, 30*time.Second, "delivery after the restart", func() bool { return box.cursor("nats") == last })

	if ids := otStreamIDs(t, srv.URL, otNATSStream); !slices.Equal(ids, otIDs(otEvents(0, 15))) {
		t.Errorf("the stream holds %v", ids)
	}
	st := d.Stats()[0]
	if st.Delivered != 15 || st.Failing != 0 || !strings.Contains(st.LastError, `nats output "nats"`) {
		t.Errorf("stats: %+v", st)
	}
}

func TestNATSOutputStartsWhileTheServerIsDown(t *testing.T) {
	srv := natstest.Start(t)
	srv.Stop()
	o := otNATSOutput(t, srv.URL, WithNATSStream(otNATSStream), WithNATSCreateStream(0),
		WithNATSReconnectWait(100*time.Millisecond))
	_, err := o.Deliver(context.Background(), otEvents(0, 1))
	if err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("Deliver with the server down: %v", err)
	}
	srv.Restart()
	otWait(t, 20*time.Second, "a delivery", func() bool {
		n, err := o.Deliver(context.Background(), otEvents(0, 3))
		return err == nil && n == 3
	})
	if ids := otStreamIDs(t, srv.URL, otNATSStream); !slices.Equal(ids, otIDs(otEvents(0, 3))) {
		t.Errorf("the stream holds %v", ids)
	}
}

func TestNATSOutputRecreatesADeletedStream(t *testing.T) {
	srv := natstest.Start(t)
	o := otNATSOutput(t, srv.URL, WithNATSStream(otNATSStream), WithNATSCreateStream(0))
	otDeliver(t, o, otEvents(0, 2))
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(context.Background(), otNATSStream); err != nil {
		t.Fatal(err)
	}
	_, err = o.Deliver(context.Background(), otEvents(2, 3))
	if err == nil || !strings.Contains(err.Error(), "no stream answered") {
		t.Fatalf("Deliver to a deleted stream: %v", err)
	}
	otDeliver(t, o, otEvents(2, 3))
	if ids := otStreamIDs(t, srv.URL, otNATSStream); !slices.Equal(ids, []string{"ev-00002"}) {
		t.Errorf("the stream holds %v", ids)
	}
}

func TestNATSOutputRefusesAMissingStream(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	_, err := NewNATSOutput(ctx, srv.URL, otNATSSubject, WithNATSStream("NOPE"))
	if err == nil || !strings.Contains(err.Error(), "the stream NOPE does not exist") {
		t.Errorf("named stream missing: %v", err)
	}
	_, err = NewNATSOutput(ctx, srv.URL, otNATSSubject)
	if err == nil || !strings.Contains(err.Error(), "no stream takes the subject") {
		t.Errorf("no stream for the subject: %v", err)
	}
	// A stream made by someone else is found by its subject.
	otNATSOutput(t, srv.URL, WithNATSStream("THEIRS"), WithNATSCreateStream(0)).Close()
	o := otNATSOutput(t, srv.URL)
	otDeliver(t, o, otEvents(0, 1))
	if ids := otStreamIDs(t, srv.URL, "THEIRS"); !slices.Equal(ids, []string{"ev-00000"}) {
		t.Errorf("the stream holds %v", ids)
	}
	for _, bad := range []string{"", "a.*", "a.>", "a b"} {
		if _, err := NewNATSOutput(ctx, srv.URL, bad); err == nil {
			t.Errorf("subject %q: no error", bad)
		}
	}
	if _, err := NewNATSOutput(ctx, srv.URL, otNATSSubject, WithNATSCreateStream(0)); err == nil {
		t.Error("create without a stream name: no error")
	}
}

func TestNATSOutputAuthentication(t *testing.T) {
	const token = "t0ken-s3cret"
	srv := natstest.Start(t, "--auth", token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := NewNATSOutput(ctx, srv.URL, otNATSSubject, WithNATSStream(otNATSStream), WithNATSCreateStream(0))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("without the token: %v", err)
	}
	_, err = NewNATSOutput(ctx, srv.URL, otNATSSubject, WithNATSToken("wrong-"+token), WithNATSStream(otNATSStream))
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("with a wrong token: %v", err)
	}
	o := otNATSOutput(t, srv.URL, WithNATSToken(token), WithNATSStream(otNATSStream), WithNATSCreateStream(0))
	otDeliver(t, o, otEvents(0, 1))
	// A token in the URL never reaches an error message.
	inURL := strings.Replace(srv.URL, "nats://", "nats://"+token+"@", 1)
	o2 := otNATSOutput(t, inURL, WithNATSStream(otNATSStream), WithNATSTimeout(time.Second))
	srv.Stop()
	_, err = o2.Deliver(context.Background(), otEvents(1, 2))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "nats://127.0.0.1:") {
		t.Errorf("error with a token in the URL: %v", err)
	}
}
