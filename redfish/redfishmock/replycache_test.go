package redfishmock

import (
	"bytes"
	"net/http"
	"testing"
)

// Two servers sharing a reply cache serve the same bytes for the same
// $expand query, compute it once, and keep their own authentication,
// sessions and request counts.
func TestReplyCacheSharedByServers(t *testing.T) {
	tree, err := Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	cache := NewReplyCache()
	a := newServer(tree, WithReplyCache(cache))
	defer a.Close()
	b := newServer(tree, WithReplyCache(cache))
	defer b.Close()
	plain := newServer(tree)
	defer plain.Close()

	const q = "/redfish/v1/Chassis?$expand=.($levels=3)"
	auth := basic(DefaultUser, DefaultPassword)
	want := do(t, plain.Client(), "GET", plain.URL+q, "", "Authorization", auth)
	ra := do(t, a.Client(), "GET", a.URL+q, "", "Authorization", auth)
	rb := do(t, b.Client(), "GET", b.URL+q, "", "Authorization", auth)
	for name, r := range map[string]response{"first server": ra, "second server": rb} {
		if r.StatusCode != http.StatusOK || !bytes.Equal(r.body, want.body) {
			t.Errorf("%s: status %d, %d bytes; want the uncached server's %d bytes", name, r.StatusCode, len(r.body), len(want.body))
		}
		if got := r.Header.Get("ETag"); got != want.Header.Get("ETag") || got == "" {
			t.Errorf("%s: ETag %q, want the uncached server's %q", name, got, want.Header.Get("ETag"))
		}
	}
	if n := cache.Len(); n != 1 {
		t.Errorf("cache holds %d replies after one query on two servers, want 1", n)
	}
	if a.Mock.Requests() != 1 || b.Mock.Requests() != 1 {
		t.Errorf("requests counted: %d and %d, want 1 each", a.Mock.Requests(), b.Mock.Requests())
	}

	// A cached reply still needs credentials on each server.
	if r := do(t, b.Client(), "GET", b.URL+q, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("cached reply without credentials: status %d, want 401", r.StatusCode)
	}
	// Sessions are each server's own: never cached.
	if r := login(t, a, DefaultUser, DefaultPassword); r.StatusCode != http.StatusCreated {
		t.Fatalf("login on the first server: %d", r.StatusCode)
	}
	listA := getJSON(t, a, "/redfish/v1/SessionService/Sessions")
	listB := getJSON(t, b, "/redfish/v1/SessionService/Sessions")
	if got := len(at(t, listA, "Members").([]any)); got != 1 {
		t.Errorf("first server lists %d sessions, want 1", got)
	}
	if got := len(at(t, listB, "Members").([]any)); got != 0 {
		t.Errorf("second server lists %d sessions, want 0 (the first server's session leaked through the cache)", got)
	}
}

// A scenario's replies change with its clock: they are never cached.
func TestReplyCacheSkipsScenarios(t *testing.T) {
	sc, err := EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := sc.BaseTree()
	if err != nil {
		t.Fatal(err)
	}
	cache := NewReplyCache()
	ts := newServer(tree, WithScenario(sc), WithReplyCache(cache))
	defer ts.Close()
	_ = getJSON(t, ts, "/redfish/v1/Chassis?$expand=.($levels=3)")
	if n := cache.Len(); n != 0 {
		t.Errorf("a scenario's reply was cached (%d entries)", n)
	}
}
