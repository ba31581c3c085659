package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The testdata are real outputs of prefail scan --json over two mock BMCs
// and a closed port: JSON Lines (one object per target as it finishes)
// and, from before JSON Lines, one indented document.
func TestCountTargetsBothForms(t *testing.T) {
	for _, c := range []struct {
		file            string
		targets, failed int
		form            string
	}{
		{"scan-lines.jsonl", 3, 1, "JSON Lines"},
		{"scan-document.json", 2, 1, "document"},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		got, err := countTargets(bytes.NewReader(b), func() { seen++ })
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got.targets != c.targets || got.failed != c.failed || got.form != c.form || seen != c.targets {
			t.Errorf("%s: %d targets, %d failed, form %q, seen %d; want %d, %d, %q, %d",
				c.file, got.targets, got.failed, got.form, seen, c.targets, c.failed, c.form, c.targets)
		}
	}
}

func TestCountTargetsRejects(t *testing.T) {
	for name, out := range map[string]string{
		"not JSON":                 "prefail: something went wrong\n",
		"a line after JSON Lines":  `{"target":"http://a"}` + "\nnot a target\n",
		"a document without them":  "{\n  \"schema_version\": 1\n}\n",
		"a cut document":           "{\n  \"targets\": [\n",
		"an object with no target": `{"schema_version":1}` + "\n" + `{"x":1}` + "\n",
	} {
		if c, err := countTargets(strings.NewReader(out), func() {}); err == nil {
			t.Errorf("%s: no error (counted %+v)", name, c)
		}
	}
}

// FuzzCountTargets: whatever the child prints, the count is an error or
// a consistent count, never a panic.
func FuzzCountTargets(f *testing.F) {
	for _, name := range []string{"scan-lines.jsonl", "scan-document.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(`{"target":"a","error":"x"}` + "\n" + `{"target":"b"}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		seen := 0
		c, err := countTargets(bytes.NewReader(out), func() { seen++ })
		if err != nil {
			return
		}
		if c.failed > c.targets || seen != c.targets || (c.targets > 0 && c.form == "") {
			t.Fatalf("inconsistent count %+v, seen %d", c, seen)
		}
	})
}

func TestParseDefaultConcurrency(t *testing.T) {
	help := "Flags:\n      --concurrency int         targets scanned at the same time (BMCs are slow) (default 64)\n      --json   print\n"
	if n, err := parseDefaultConcurrency(help); err != nil || n != 64 {
		t.Errorf("got %d, %v; want 64", n, err)
	}
	if _, err := parseDefaultConcurrency("Flags:\n      --timeout duration   (default 1m0s)\n"); err == nil {
		t.Error("no --concurrency in the help, and no error")
	}
}

// A scan with $expand of public-rackmount1 as the mock sees it: the
// service root, the login, the three top collections at once, the three
// reads their answers name, the logout. ms is a time in milliseconds.
func rackmountExchanges(sequentialFollowUps bool) []exchange {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ex := []exchange{
		{method: "GET", path: "/redfish/v1/", begin: ms(0), end: ms(50), body: []byte(`{"Systems":{"@odata.id":"/redfish/v1/Systems"},"Chassis":{"@odata.id":"/redfish/v1/Chassis"},"Managers":{"@odata.id":"/redfish/v1/Managers"}}`)},
		{method: "POST", path: "/redfish/v1/SessionService/Sessions", begin: ms(51), end: ms(101)},
		{method: "GET", path: "/redfish/v1/Systems", query: "$expand=.($levels=3)", begin: ms(102), end: ms(152), body: []byte(`{"x":{"@odata.id": "/redfish/v1/Systems/1/LogServices/Log1/Entries"}}`)},
		{method: "GET", path: "/redfish/v1/Chassis", query: "$expand=.($levels=3)", begin: ms(102), end: ms(152), body: []byte(`{"x":{"@odata.id":"/redfish/v1/Chassis/1U/PowerSupplies/Bay1/Metrics"}}`)},
		{method: "GET", path: "/redfish/v1/Managers", query: "$expand=.($levels=3)", begin: ms(102), end: ms(152), body: []byte(`{"x":{"@odata.id":"/redfish/v1/Managers/BMC/LogServices/Log/Entries/"}}`)},
	}
	follow := []exchange{
		{method: "GET", path: "/redfish/v1/Systems/1/LogServices/Log1/Entries", query: "$top=100"},
		{method: "GET", path: "/redfish/v1/Chassis/1U/PowerSupplies/Bay1/Metrics"},
		{method: "GET", path: "/redfish/v1/Managers/BMC/LogServices/Log/Entries", query: "$top=100"},
	}
	at := 153
	for _, e := range follow {
		e.begin, e.end = ms(at), ms(at+50)
		if sequentialFollowUps {
			at += 51
		}
		ex = append(ex, e)
	}
	if !sequentialFollowUps {
		at += 51
	}
	return append(ex, exchange{method: "DELETE", path: "/redfish/v1/SessionService/Sessions/1", begin: ms(at), end: ms(at + 50)})
}

func TestCriticalPath(t *testing.T) {
	for _, c := range []struct {
		name       string
		sequential bool
		rounds     int
	}{
		{"follow-ups at once", false, 5},
		{"follow-ups one after another", true, 7},
	} {
		ex := rackmountExchanges(c.sequential)
		chain, unexplained := criticalPath(ex)
		if chain != 5 || unexplained != 0 {
			t.Errorf("%s: chain %d (%d unexplained), want 5: root, login, top collection, follow-up, logout", c.name, chain, unexplained)
		}
		if r := rounds(ex); r != c.rounds {
			t.Errorf("%s: %d rounds, want %d", c.name, r, c.rounds)
		}
	}
	// A read no earlier answer names depends on everything before it.
	ex := rackmountExchanges(false)
	ex[5].path = "/redfish/v1/Chassis/1U/Guessed"
	if chain, unexplained := criticalPath(ex); chain != 5 || unexplained != 1 {
		t.Errorf("guessed path: chain %d, %d unexplained; want 5 and 1", chain, unexplained)
	}
}

// A record read from its head (prefail's field order) and one whose
// fields come in another order (read whole) give the same answer.
func TestTargetLine(t *testing.T) {
	for line, want := range map[string]outputTarget{
		`{"schema_version":1,"target":"a","error":"refused","snapshot":{"x":[1]}}`: {Target: "a", Error: "refused"},
		`{"schema_version":1,"target":"a","duration_seconds":1,"snapshot":null}`:   {Target: "a"},
		`{"worst":"ok","error":"refused","target":"a"}`:                            {Target: "a", Error: "refused"},
		`{"snapshot":{"target":"inner"},"target":"a"}`:                             {Target: "a"},
	} {
		got, ok := targetLine([]byte(line))
		if !ok || got != want {
			t.Errorf("%s: %+v (ok %v), want %+v", line, got, ok, want)
		}
	}
	for _, line := range []string{`{"schema_version":1}`, `{"target":""}`, `{"target":"a"`, `[{"target":"a"}]`} {
		if got, ok := targetLine([]byte(line)); ok {
			t.Errorf("%s: read as %+v, want no target", line, got)
		}
	}
}
