package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for content, want := range map[string]string{
		"s3cret\n":             "s3cret",
		"s3cret":               "s3cret",
		"s3cret\r\n":           "s3cret",
		" spaced pass \nx\n":   " spaced pass ",
		"first\nsecond line\n": "first",
	} {
		p := writeFile(t, dir, "p", content)
		got, err := readPasswordFile(ctx, p)
		if err != nil || got.Reveal() != want {
			t.Errorf("readPasswordFile(%q) = %q, %v; want %q", content, got.Reveal(), err, want)
		}
	}
	p := writeFile(t, dir, "empty", "\nhunter2\n")
	if _, err := readPasswordFile(ctx, p); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("empty first line: error = %v", err)
	}
	if _, err := readPasswordFile(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSecretNeverFormats(t *testing.T) {
	s := secret("hunter2")
	req := scanRequest{Endpoint: "https://x", Username: "u", Password: s}
	b, _ := json.Marshal(req)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, req, req, s, s, s), string(b),
	} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("secret leaked: %s", out)
		}
	}
}

func TestResolveCredentialsPrecedence(t *testing.T) {
	dir := t.TempDir()
	targetPW := writeFile(t, dir, "target.pass", "from-target-file\n")
	ctx := context.Background()
	full := credentialSources{
		flagUsername: "flag-user", flagPasswordFile: "flag.pass", flagPassword: "from-flag-file",
		envUsername: "env-user", envPassword: "from-env",
	}
	tests := []struct {
		name         string
		t            target
		src          credentialSources
		user, pw     string
		wantErr      string
		wantAnonymus bool
	}{
		{name: "target file wins", t: target{Where: "f:1", Username: "t-user", PasswordFile: targetPW}, src: full, user: "t-user", pw: "from-target-file"},
		{name: "flags beat env", t: target{Where: "argv"}, src: full, user: "flag-user", pw: "from-flag-file"},
		{name: "env", t: target{Where: "argv"}, src: credentialSources{envUsername: "env-user", envPassword: "from-env"}, user: "env-user", pw: "from-env"},
		{name: "env password, flag user", t: target{Where: "argv"}, src: credentialSources{flagUsername: "flag-user", envUsername: "env-user", envPassword: "from-env"}, user: "flag-user", pw: "from-env"},
		{name: "target user, env password", t: target{Where: "f:2", Username: "t-user"}, src: credentialSources{envPassword: "from-env"}, user: "t-user", pw: "from-env"},
		{name: "anonymous", t: target{Where: "argv"}},
		{name: "password without user", t: target{Where: "argv"}, src: credentialSources{envPassword: "from-env"}, wantErr: "a password (from PREFAIL_PASSWORD) but no username"},
		{name: "user without password", t: target{Where: "f:3", Username: "t-user"}, wantErr: `username "t-user" (from f:3 username=) but no password`},
		{name: "missing target password file", t: target{Where: "f:4", Username: "u", PasswordFile: filepath.Join(dir, "nope")}, src: full, wantErr: "f:4: password file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolveCredentials(ctx, &tt.t, tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v; want %q", err, tt.wantErr)
				}
				for _, pw := range []string{"from-env", "from-flag-file", "from-target-file"} {
					if strings.Contains(err.Error(), pw) {
						t.Errorf("error leaks the password: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Username != tt.user || c.Password.Reveal() != tt.pw {
				t.Errorf("got %q/%q; want %q/%q", c.Username, c.Password.Reveal(), tt.user, tt.pw)
			}
		})
	}
}

// fakeScanner records the requests it is given and answers from a table.
type fakeScanner struct {
	mu   sync.Mutex
	reqs map[string]scanRequest
	// answer, by endpoint; a nil entry blocks until ctx is done.
	answer map[string]func(ctx context.Context) (*model.Snapshot, error)
}

func (f *fakeScanner) scan(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
	f.mu.Lock()
	if f.reqs == nil {
		f.reqs = map[string]scanRequest{}
	}
	f.reqs[req.Endpoint] = req
	ans := f.answer[req.Endpoint]
	f.mu.Unlock()
	if ans == nil {
		return &model.Snapshot{Target: req.Endpoint, Requests: 3, Components: []model.Component{
			{Kind: model.KindChassis, ID: "/redfish/v1/Chassis/1", Name: "Chassis", Health: model.HealthOK},
		}}, nil
	}
	return ans(ctx)
}

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestScanCredentialsEndToEnd checks which account and TLS settings each
// target of a real command line gets.
func TestScanCredentialsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bmc2.pass", "pw-bmc2\n")
	flagPW := writeFile(t, dir, "flag.pass", "pw-flag\n")
	ca := writeFile(t, dir, "ca.pem", "not checked here\n")
	targets := writeFile(t, dir, "bmcs.txt", strings.Join([]string{
		"https://bmc1",
		"https://bmc2 username=ops password-file=bmc2.pass ca-file=ca.pem",
		"https://bmc3 insecure=true basic-auth=true",
		"http://127.0.0.1:8000 username=mock",
	}, "\n"))
	fs := &fakeScanner{}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, scanTarget: fs.scan,
		lookupEnv: envFrom(map[string]string{envUsername: "env-user", envPassword: "pw-env"})}
	err := a.run(context.Background(), []string{"scan", "--targets", targets, "--password-file", flagPW, "--max-log-entries", "7", "--json-document"})
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, &stderr)
	}
	want := map[string]scanRequest{
		"https://bmc1":          {Endpoint: "https://bmc1", Username: "env-user", Password: "pw-flag", MaxLogEntries: 7, MaxInFlight: 4},
		"https://bmc2":          {Endpoint: "https://bmc2", Username: "ops", Password: "pw-bmc2", CAFile: ca, MaxLogEntries: 7, MaxInFlight: 4},
		"https://bmc3":          {Endpoint: "https://bmc3", Username: "env-user", Password: "pw-flag", Insecure: true, BasicAuth: true, MaxLogEntries: 7, MaxInFlight: 4},
		"http://127.0.0.1:8000": {Endpoint: "http://127.0.0.1:8000", Username: "mock", Password: "pw-flag", MaxLogEntries: 7, MaxInFlight: 4},
	}
	if diff := cmp.Diff(want, fs.reqs, cmp.Comparer(func(a, b secret) bool { return a == b })); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	for _, pw := range []string{"pw-flag", "pw-bmc2", "pw-env"} {
		if strings.Contains(stdout.String()+stderr.String(), pw) {
			t.Errorf("output contains password %q", pw)
		}
	}
}

func TestScanTLSFlagConflicts(t *testing.T) {
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", "x")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"scan", "--insecure", "--ca-file", ca, "https://bmc1"}, &stdout, &stderr)
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--insecure and --ca-file") {
		t.Errorf("err = %v (exit %d)", err, exitCode(err))
	}
	targets := writeFile(t, dir, "t.txt", "https://bmc1 insecure=true ca-file=ca.pem\n")
	fs := &fakeScanner{}
	a := &app{stdout: &stdout, stderr: &stderr, scanTarget: fs.scan, lookupEnv: envFrom(nil)}
	err = a.run(context.Background(), []string{"scan", "--json-document", "--targets", targets})
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "t.txt:1: insecure=true and ca-file= contradict each other") {
		t.Errorf("err = %v (exit %d): the targets file is refused before any scan", err, exitCode(err))
	}
}

// TestPasswordNeverPrinted runs scans with a known password from each
// source, at debug log level, against a BMC that rejects it, and against
// one that accepts it, and checks it appears in no output.
func TestPasswordNeverPrinted(t *testing.T) {
	const password = "Tr0ub4dor&3-never-print-me"
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"Base.1.0.NoValidSession","message":"bad credentials"}}`)
	}))
	defer rejecting.Close()
	accepting := newMockServer(t, password)

	dir := t.TempDir()
	pwFile := writeFile(t, dir, "pw", password+"\n")
	targets := writeFile(t, dir, "t.txt", fmt.Sprintf("%s username=admin password-file=%s\n%s username=admin password-file=pw basic-auth=true\n",
		rejecting.URL, pwFile, accepting))

	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"env", map[string]string{envUsername: "admin", envPassword: password}, []string{rejecting.URL, accepting}},
		{"password-file", map[string]string{envUsername: "admin"}, []string{"--password-file", pwFile, rejecting.URL, accepting}},
		{"targets file", nil, []string{"--targets", targets}},
		{"no username", map[string]string{envPassword: password}, []string{rejecting.URL}},
	}
	for _, c := range cases {
		for _, format := range [][]string{nil, {"--json-document"}} {
			t.Run(c.name+strings.Join(format, ""), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(c.env)}
				args := append([]string{"scan", "--log-level", "debug", "--timeout", "20s"}, format...)
				err := a.run(context.Background(), append(args, c.args...))
				all := stdout.String() + stderr.String() + fmt.Sprint(err)
				if strings.Contains(all, password) {
					t.Fatalf("the password appears in the output:\n%s", all)
				}
				if stdout.Len() == 0 && c.name != "no username" {
					t.Errorf("no output; err = %v", err)
				}
			})
		}
	}
}
