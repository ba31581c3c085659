package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// switchableBMC serves public-rackmount1 through a mode that a test
// changes between runs: healthy, down (every connection closed without an
// answer), empty (no chassis, system or manager), or without managers.
type switchableBMC struct {
	mu   sync.Mutex
	mode string
	mock *redfishmock.Server
	srv  *httptest.Server
}

func newSwitchableBMC(t *testing.T) *switchableBMC {
	t.Helper()
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	b := &switchableBMC{mode: "healthy", mock: redfishmock.New(tree)}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *switchableBMC) set(mode string) {
	b.mu.Lock()
	b.mode = mode
	b.mu.Unlock()
}

func (b *switchableBMC) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	mode := b.mode
	b.mu.Unlock()
	p := r.URL.Path
	top := func(prefixes ...string) bool {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
	}
	switch {
	case mode == "down":
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusBadGateway)
		return
	case mode == "empty" && top("/redfish/v1/Systems", "/redfish/v1/Chassis", "/redfish/v1/Managers"),
		mode == "no-managers" && top("/redfish/v1/Managers"):
		http.NotFound(w, r)
		return
	}
	b.mock.ServeHTTP(w, r)
}

// logins counts the session logins the BMC saw.
func (b *switchableBMC) logins() int {
	n := 0
	for _, l := range b.mock.RequestLog() {
		if strings.HasPrefix(l, "POST /redfish/v1/SessionService/Sessions") {
			n++
		}
	}
	return n
}

type targetEventLine struct {
	Target, Type, Severity, Reason, Message string
	Missing                                 []string
}

func watchOnce(t *testing.T, env map[string]string, args ...string) []targetEventLine {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}
	if err := a.run(context.Background(), args); err != nil {
		t.Fatalf("watch: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), env[envPassword]) {
		t.Error("the password appears in the output")
	}
	var out []targetEventLine
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var ev targetEventLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if strings.HasPrefix(ev.Type, "target_") {
			out = append(out, ev)
		}
	}
	return out
}

// A BMC that stops answering, answers with nothing, or answers without a
// kind of part it showed before raises target_unreachable with the
// reason, once per episode (across restarts too), and target_back when it
// answers in full again; a healthy round raises nothing.
func TestWatchTargetUnreachableAndBack(t *testing.T) {
	bmc := newSwitchableBMC(t)
	env := map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword}
	state := filepath.Join(t.TempDir(), "state.db")
	args := []string{"watch", "--interval", "10ms", "--rounds", "1", "--timeout", "5s", "--state", state, bmc.srv.URL}

	steps := []struct {
		mode   string
		want   string // "" none, else type/reason
		detail string
	}{
		{"healthy", "", ""},
		{"down", "target_unreachable/no_answer", ""},
		{"down", "", "the same episode, after a restart"},
		{"healthy", "target_back/answering", ""},
		{"empty", "target_unreachable/no_components", ""},
		{"healthy", "target_back/answering", ""},
		{"no-managers", "target_unreachable/missing_parts", "bmc"},
		{"no-managers", "", ""},
		{"healthy", "target_back/answering", ""},
		{"healthy", "", ""},
	}
	for i, st := range steps {
		bmc.set(st.mode)
		evs := watchOnce(t, env, args...)
		var got string
		if len(evs) > 1 {
			t.Fatalf("step %d (%s): %d target events, want at most 1: %+v", i, st.mode, len(evs), evs)
		}
		if len(evs) == 1 {
			got = evs[0].Type + "/" + evs[0].Reason
			if evs[0].Target != bmc.srv.URL || evs[0].Message == "" {
				t.Errorf("step %d: event %+v", i, evs[0])
			}
			if st.detail != "" && !strings.Contains(strings.Join(evs[0].Missing, ","), st.detail) {
				t.Errorf("step %d: missing %v, want %s", i, evs[0].Missing, st.detail)
			}
		}
		if got != st.want {
			t.Errorf("step %d (%s %s): event %q, want %q", i, st.mode, st.detail, got, st.want)
		}
	}
	if n := bmc.mock.Sessions(); n != 0 {
		t.Errorf("%d sessions left open on the BMC", n)
	}
}

// The agent keeps one Redfish session per BMC for the whole run (not one
// per round) and deletes it on the way out.
func TestWatchOneSessionPerRun(t *testing.T) {
	bmc := newSwitchableBMC(t)
	env := map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword}
	evs := watchOnce(t, env, "watch", "--interval", "10ms", "--rounds", "4", bmc.srv.URL)
	if len(evs) != 0 {
		t.Errorf("target events on a healthy BMC: %+v", evs)
	}
	if n := bmc.logins(); n != 1 {
		t.Errorf("%d logins over 4 rounds, want 1", n)
	}
	if n := bmc.mock.Sessions(); n != 0 {
		t.Errorf("%d sessions left open on the BMC after the run", n)
	}
}

// --state in a directory that does not exist yet: created at start. One
// that cannot be created: an error before the first round, so no round's
// events are printed and then lost.
func TestWatchStateDirectory(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "new", "sub", "state.db")
	if _, err := runApp(t, "", "watch", "--interval", "10ms", "--rounds", "1", "--state", state, "--smartctl", healthyCapture); err != nil {
		t.Fatalf("watch with a new state directory: %v", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state not written: %v", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runApp(t, "", "watch", "--interval", "10ms", "--rounds", "1", "--state", filepath.Join(blocker, "state.db"), "--smartctl", failingCapture)
	if err == nil || !strings.Contains(err.Error(), "--state") {
		t.Errorf("state under a regular file: err = %v", err)
	}
	if out != "" {
		t.Errorf("events printed although the state cannot be saved:\n%s", out)
	}
}
