package redfishmock

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testServer is a Server on a loopback port. (redfish/redfishtest's
// TestServer, which imports this package, cannot be used here.)
type testServer struct {
	URL  string
	Mock *Server
	HTTP *httptest.Server
}

// newServer starts a plain HTTP mock on 127.0.0.1. Close it when done.
func newServer(tree *Tree, opts ...Option) *testServer {
	m := New(tree, opts...)
	hs := httptest.NewUnstartedServer(m)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Start()
	return &testServer{URL: hs.URL, Mock: m, HTTP: hs}
}

func (ts *testServer) Close()               { ts.HTTP.Close() }
func (ts *testServer) Client() *http.Client { return ts.HTTP.Client() }

// writeFiles writes name -> content under a fresh temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// smallTree is a mockup-layout tree built to exercise $expand: references
// in Members, nested properties, arrays and Links, a fragment reference, a
// dangling one and a cycle.
func smallTree(t *testing.T) *Tree {
	t.Helper()
	dir := writeFiles(t, map[string]string{
		"index.json": `{"@odata.id":"/redfish/v1","Name":"Root","Things":{"@odata.id":"/redfish/v1/Things"},"@Redfish.Copyright":"(c)"}`,
		"Things/index.json": `{"@odata.id":"/redfish/v1/Things","Name":"Things","Members@odata.count":3,
			"Members":[{"@odata.id":"/redfish/v1/Things/A"},{"@odata.id":"/redfish/v1/Things/B"},{"@odata.id":"/redfish/v1/Things/C"}],"@Redfish.Copyright":"(c)"}`,
		"Things/A/index.json": `{"@odata.id":"/redfish/v1/Things/A","Id":"A","Value":1,
			"Child":{"@odata.id":"/redfish/v1/Things/C"},
			"Drives":[{"@odata.id":"/redfish/v1/Things/D1"},{"@odata.id":"/redfish/v1/Things/D2"}],
			"Links":{"Peer":{"@odata.id":"/redfish/v1/Things/B"},"Many":[{"@odata.id":"/redfish/v1/Things/D1"}]},
			"Frag":{"@odata.id":"/redfish/v1/Things/A#/Value"},
			"Dangling":{"@odata.id":"/redfish/v1/Nope"},
			"Self":{"@odata.id":"/redfish/v1/Things/A"},
			"NotARef":{"@odata.id":"/redfish/v1/Things/B","Extra":true},
			"@Redfish.Copyright":"(c)"}`,
		"Things/B/index.json":  `{"@odata.id":"/redfish/v1/Things/B","Id":"B","Links":{"Peer":{"@odata.id":"/redfish/v1/Things/A"}}}`,
		"Things/C/index.json":  `{"@odata.id":"/redfish/v1/Things/C","Id":"C","Sub":{"@odata.id":"/redfish/v1/Things/D1"},"Back":{"@odata.id":"/redfish/v1/Things/A"}}`,
		"Things/D1/index.json": `{"@odata.id":"/redfish/v1/Things/D1","Id":"D1","Reading":10}`,
		"Things/D2/index.json": `{"@odata.id":"/redfish/v1/Things/D2","Id":"D2","Reading":20}`,
		"Logs/index.json":      `{"@odata.id":"/redfish/v1/Logs","Members@odata.count":1,"Members":[{"@odata.id":"/redfish/v1/Logs/1"}]}`,
		"Logs/1/index.json":    `{"@odata.id":"/redfish/v1/Logs/1","Id":"1","Message":"boot"}`,
		"Broken/index.json":    `{"@odata.id":"/redfish/v1/Broken", "Reading": `,
		"notes.txt":            "not part of the tree",
	})
	tree, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

type response struct {
	*http.Response
	body []byte
}

// do sends a request and reads the whole response.
func do(t *testing.T, c *http.Client, method, url, body string, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{resp, b}
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v\n%s", r.Request.URL, err, r.body)
	}
	return m
}

// getJSON GETs url with Basic credentials and expects 200.
func getJSON(t *testing.T, ts *testServer, path string) map[string]any {
	t.Helper()
	r := do(t, ts.Client(), "GET", ts.URL+path, "", "Authorization", basic(DefaultUser, DefaultPassword))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200\n%s", path, r.StatusCode, r.body)
	}
	return r.json(t)
}

func basic(user, pw string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

// at walks a decoded JSON document by keys and array indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %v is not an object", path, v)
			}
			v, ok = m[k]
			if !ok {
				t.Fatalf("at %v: no member %q in %v", path, k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: %v is not an array of more than %d", path, v, k)
			}
			v = a[k]
		}
	}
	return v
}

// isExpanded reports whether v is an expanded resource rather than a bare
// reference.
func isExpanded(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) > 1 && m["@odata.id"] != nil
}

func extendedMessageID(t *testing.T, body map[string]any) string {
	t.Helper()
	id, _ := at(t, body, "error", "@Message.ExtendedInfo", 0, "MessageId").(string)
	return id
}
