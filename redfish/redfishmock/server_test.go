package redfishmock

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServiceRootNeedsNoAuth(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	for _, p := range []string{"/redfish/v1", "/redfish/v1/", "/redfish"} {
		r := do(t, ts.Client(), "GET", ts.URL+p, "")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if v := r.Header.Get("OData-Version"); v != "4.0" {
			t.Errorf("GET %s: OData-Version %q", p, v)
		}
		if r.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", p)
		}
	}
	root := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/", "").json(t)
	eq := at(t, root, "ProtocolFeaturesSupported", "ExpandQuery").(map[string]any)
	for _, k := range []string{"ExpandAll", "Levels", "Links", "NoLinks"} {
		if eq[k] != true {
			t.Errorf("ExpandQuery.%s = %v, want true", k, eq[k])
		}
	}
	if eq["MaxLevels"] != float64(MaxLevels) {
		t.Errorf("ExpandQuery.MaxLevels = %v", eq["MaxLevels"])
	}
	if at(t, root, "ProtocolFeaturesSupported", "TopSkipQuery") != true {
		t.Error("TopSkipQuery not advertised")
	}
}

func TestWithoutExpand(t *testing.T) {
	ts := newServer(smallTree(t), WithoutExpand())
	defer ts.Close()
	root := getJSON(t, ts, "/redfish/v1")
	eq := at(t, root, "ProtocolFeaturesSupported", "ExpandQuery").(map[string]any)
	for _, k := range []string{"ExpandAll", "Levels", "Links", "NoLinks"} {
		if eq[k] != false {
			t.Errorf("ExpandQuery.%s = %v, want false", k, eq[k])
		}
	}
	coll := getJSON(t, ts, "/redfish/v1/Things?$expand=*")
	if isExpanded(at(t, coll, "Members", 0)) {
		t.Error("$expand honoured with WithoutExpand")
	}
}

func TestUnauthorized(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	for _, hdr := range [][]string{nil, {"Authorization", basic("admin", "wrong")}, {"X-Auth-Token", "bogus"}} {
		r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", hdr...)
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%v: status %d, want 401", hdr, r.StatusCode)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="prefail-mock"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
		body := r.json(t)
		if got := at(t, body, "error", "code"); got != "Base.1.8.GeneralError" {
			t.Errorf("error.code %v", got)
		}
		if id := extendedMessageID(t, body); id != "Base.1.8.NoValidSession" {
			t.Errorf("MessageId %q", id)
		}
	}
}

func TestBasicAuthAndCredentials(t *testing.T) {
	ts := newServer(smallTree(t), WithCredentials("root", "calvin"))
	defer ts.Close()
	if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", "Authorization", basic("root", "calvin")); r.StatusCode != 200 {
		t.Errorf("configured credentials: %d", r.StatusCode)
	}
	if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", "Authorization", basic(DefaultUser, DefaultPassword)); r.StatusCode != 401 {
		t.Errorf("default credentials after WithCredentials: %d, want 401", r.StatusCode)
	}
	open := newServer(smallTree(t), WithoutAuth())
	defer open.Close()
	if r := do(t, open.Client(), "GET", open.URL+"/redfish/v1/Things", ""); r.StatusCode != 200 {
		t.Errorf("WithoutAuth: %d", r.StatusCode)
	}
}

func login(t *testing.T, ts *testServer, user, pw string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"UserName": user, "Password": pw})
	return do(t, ts.Client(), "POST", ts.URL+"/redfish/v1/SessionService/Sessions", string(body), "Content-Type", "application/json")
}

func TestSessionLifecycle(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	if r := login(t, ts, "admin", "nope"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad password: %d", r.StatusCode)
	}
	if r := do(t, ts.Client(), "POST", ts.URL+"/redfish/v1/SessionService/Sessions", "{not json"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed login: %d", r.StatusCode)
	}
	r := login(t, ts, DefaultUser, DefaultPassword)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	token, loc := r.Header.Get("X-Auth-Token"), r.Header.Get("Location")
	if token == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("login: token %q location %q", token, loc)
	}
	sess := r.json(t)
	if sess["@odata.id"] != loc || sess["UserName"] != DefaultUser {
		t.Errorf("session body %v", sess)
	}
	if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", "X-Auth-Token", token); r.StatusCode != 200 {
		t.Fatalf("GET with token: %d", r.StatusCode)
	}
	coll := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/SessionService/Sessions", "", "X-Auth-Token", token)
	if coll.StatusCode != 404 { // the small tree has no SessionService
		members := at(t, coll.json(t), "Members").([]any)
		if len(members) != 1 || at(t, members[0], "@odata.id") != loc {
			t.Errorf("session collection members %v", members)
		}
	}
	if r := do(t, ts.Client(), "GET", ts.URL+loc, "", "X-Auth-Token", token); r.StatusCode != 200 {
		t.Errorf("GET own session: %d", r.StatusCode)
	}
	if r := do(t, ts.Client(), "DELETE", ts.URL+loc, "", "X-Auth-Token", token); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", "X-Auth-Token", token); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token still works after logout: %d", r.StatusCode)
	}
	if n := ts.Mock.Sessions(); n != 0 {
		t.Errorf("%d sessions open after logout", n)
	}
}

func TestSessionCollectionListsOpenSessions(t *testing.T) {
	tree, err := Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(tree)
	defer ts.Close()
	r := login(t, ts, DefaultUser, DefaultPassword)
	loc := r.Header.Get("Location")
	coll := getJSON(t, ts, "/redfish/v1/SessionService/Sessions")
	members := at(t, coll, "Members").([]any)
	if len(members) != 1 || at(t, members[0], "@odata.id") != loc || coll["Members@odata.count"] != float64(1) {
		t.Errorf("Sessions collection %v, want just %s", coll, loc)
	}
}

func TestSessionLimit(t *testing.T) {
	ts := newServer(smallTree(t), WithMaxSessions(2))
	defer ts.Close()
	var locs []string
	for i := 0; i < 2; i++ {
		r := login(t, ts, DefaultUser, DefaultPassword)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("login %d: %d", i, r.StatusCode)
		}
		locs = append(locs, r.Header.Get("Location"))
	}
	r := login(t, ts, DefaultUser, DefaultPassword)
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third login: %d, want 503", r.StatusCode)
	}
	if id := extendedMessageID(t, r.json(t)); id != "Base.1.8.SessionLimitExceeded" {
		t.Errorf("MessageId %q", id)
	}
	if r := do(t, ts.Client(), "DELETE", ts.URL+locs[0], "", "Authorization", basic(DefaultUser, DefaultPassword)); r.StatusCode != 204 {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := login(t, ts, DefaultUser, DefaultPassword); r.StatusCode != http.StatusCreated {
		t.Errorf("login after a logout: %d", r.StatusCode)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	auth := []string{"Authorization", basic(DefaultUser, DefaultPassword)}
	r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Nope", "", auth...)
	if r.StatusCode != http.StatusNotFound || extendedMessageID(t, r.json(t)) != "Base.1.8.ResourceMissingAtURI" {
		t.Errorf("unknown path: %d %s", r.StatusCode, r.body)
	}
	for _, m := range []string{"PATCH", "PUT", "POST"} {
		if r := do(t, ts.Client(), m, ts.URL+"/redfish/v1/Things/A", "{}", auth...); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, r.StatusCode)
		}
	}
	if r := do(t, ts.Client(), "DELETE", ts.URL+"/redfish/v1/SessionService/Sessions/nosuch", "", auth...); r.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE unknown session: %d", r.StatusCode)
	}
}

func TestExpandSubordinate(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()

	coll := getJSON(t, ts, "/redfish/v1/Things?$expand=.")
	if !isExpanded(at(t, coll, "Members", 0)) || at(t, coll, "Members", 1, "Id") != "B" {
		t.Fatalf("members not expanded: %v", coll["Members"])
	}
	if coll["Members@odata.count"] != float64(3) {
		t.Errorf("Members@odata.count %v", coll["Members@odata.count"])
	}
	if isExpanded(at(t, coll, "Members", 0, "Child")) {
		t.Error("level 1 expanded a member's own references")
	}

	a := getJSON(t, ts, "/redfish/v1/Things/A?$expand=.")
	if at(t, a, "Child", "Id") != "C" {
		t.Errorf("Child not expanded: %v", a["Child"])
	}
	if isExpanded(at(t, a, "Child", "Sub")) {
		t.Error("level 1 expanded two levels")
	}
	if at(t, a, "Drives", 1, "Reading") != float64(20) {
		t.Errorf("array of references not expanded: %v", a["Drives"])
	}
	if isExpanded(at(t, a, "Links", "Peer")) || isExpanded(at(t, a, "Links", "Many", 0)) {
		t.Error("$expand=. expanded references under Links")
	}
	for _, k := range []string{"Frag", "Dangling", "Self"} {
		if isExpanded(a[k]) || at(t, a, k, "@odata.id") == nil {
			t.Errorf("%s should stay a bare reference: %v", k, a[k])
		}
	}
	if _, ok := at(t, a, "NotARef").(map[string]any)["Id"]; ok {
		t.Error("an object with more than @odata.id was treated as a reference")
	}

	two := getJSON(t, ts, "/redfish/v1/Things/A?$expand=.($levels=2)")
	if at(t, two, "Child", "Sub", "Id") != "D1" {
		t.Errorf("level 2 did not expand Child.Sub: %v", two["Child"])
	}
	if isExpanded(at(t, two, "Child", "Back")) {
		t.Error("cycle back to the expanded resource was expanded")
	}
}

func TestExpandAllAndLinks(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	all := getJSON(t, ts, "/redfish/v1/Things/A?$expand=*")
	if at(t, all, "Links", "Peer", "Id") != "B" || at(t, all, "Links", "Many", 0, "Id") != "D1" {
		t.Errorf("$expand=* did not expand Links: %v", all["Links"])
	}
	if at(t, all, "Child", "Id") != "C" {
		t.Error("$expand=* did not expand Child")
	}
	links := getJSON(t, ts, "/redfish/v1/Things/A?$expand=~")
	if at(t, links, "Links", "Peer", "Id") != "B" {
		t.Errorf("$expand=~ did not expand Links: %v", links["Links"])
	}
	if isExpanded(links["Child"]) || isExpanded(at(t, links, "Drives", 0)) {
		t.Error("$expand=~ expanded a reference outside Links")
	}
	// Deep expansion over a cyclic graph terminates and never inlines a
	// resource inside itself.
	deep := getJSON(t, ts, "/redfish/v1/Things/A?$expand=*($levels=99)")
	if isExpanded(at(t, deep, "Links", "Peer", "Links", "Peer")) {
		t.Error("A -> B -> A cycle expanded")
	}
	if at(t, deep, "Child", "Sub", "Id") != "D1" {
		t.Error("levels=99 (capped at 6) did not expand two levels")
	}
	for _, bad := range []string{"x", "*($levels=0)", ".($levels=a)", "*(levels=2)", ""} {
		r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things/A?$expand="+bad, "", "Authorization", basic(DefaultUser, DefaultPassword))
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("$expand=%s: %d, want 400", bad, r.StatusCode)
		}
	}
}

func TestTopSkip(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	page := getJSON(t, ts, "/redfish/v1/Things?$top=2")
	if n := len(page["Members"].([]any)); n != 2 {
		t.Fatalf("$top=2 gave %d members", n)
	}
	if page["Members@odata.nextLink"] != "/redfish/v1/Things?$skip=2&$top=2" {
		t.Errorf("nextLink %v", page["Members@odata.nextLink"])
	}
	if page["Members@odata.count"] != float64(3) {
		t.Errorf("count %v, want the total 3", page["Members@odata.count"])
	}
	last := getJSON(t, ts, "/redfish/v1/Things?$skip=2&$top=2&$expand=.")
	if _, ok := last["Members@odata.nextLink"]; ok {
		t.Error("nextLink on the last page")
	}
	if at(t, last, "Members", 0, "Id") != "C" || len(last["Members"].([]any)) != 1 {
		t.Errorf("last page, expanded: %v", last["Members"])
	}
	past := getJSON(t, ts, "/redfish/v1/Things?$skip=10")
	if len(past["Members"].([]any)) != 0 {
		t.Error("$skip past the end should give no members")
	}
	for _, bad := range []string{"$top=-1", "$top=0", "$skip=x", "$skip=-2"} {
		r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things?"+bad, "", "Authorization", basic(DefaultUser, DefaultPassword))
		if r.StatusCode != http.StatusBadRequest || extendedMessageID(t, r.json(t)) != "Base.1.8.QueryParameterValueFormatError" {
			t.Errorf("%s: %d %s", bad, r.StatusCode, r.body)
		}
	}
}

func TestServesBytesUnmodifiedAndBrokenJSON(t *testing.T) {
	tree := smallTree(t)
	ts := newServer(tree)
	defer ts.Close()
	want, _ := tree.Get("/redfish/v1/Things/D1")
	r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things/D1", "", "Authorization", basic(DefaultUser, DefaultPassword))
	if string(r.body) != string(want) {
		t.Errorf("body changed:\n%s\nwant\n%s", r.body, want)
	}
	broken, _ := tree.Get("/redfish/v1/Broken")
	r = do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Broken?$expand=*", "", "Authorization", basic(DefaultUser, DefaultPassword))
	if r.StatusCode != 200 || string(r.body) != string(broken) {
		t.Errorf("broken capture: %d %q", r.StatusCode, r.body)
	}
}

func TestFlatLayout(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"_redfish_v1.json":                  `{"@odata.id":"/redfish/v1/","Chassis":{"@odata.id":"/redfish/v1/Chassis/"}}`,
		"_redfish_v1_Chassis_Node_1_A.json": `{"@odata.id":"/redfish/v1/Chassis/Node_1_A","Id":"Node_1_A"}`,
		"_redfish_v1_Chassis.json":          `{"Members":[{"@odata.id":"/redfish/v1/Chassis/Node_1_A"}]}`,
		"_redfish_v1_Chassis_1_Power.json":  `{"broken": `,
		"README.md":                         "capture notes",
	})
	tree, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/redfish/v1", "/redfish/v1/Chassis", "/redfish/v1/Chassis/1/Power", "/redfish/v1/Chassis/Node_1_A"}
	if got := tree.Paths(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("paths %v, want %v", got, want)
	}
	ts := newServer(tree)
	defer ts.Close()
	coll := getJSON(t, ts, "/redfish/v1/Chassis/?$expand=.")
	if at(t, coll, "Members", 0, "Id") != "Node_1_A" {
		t.Errorf("expanded member %v", coll["Members"])
	}
}

func TestTallLayoutAndTrailingSlashIDs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"redfish/v1/index.json":             `{"@odata.id":"/redfish/v1/","Chassis":{"@odata.id":"/redfish/v1/Chassis/"}}`,
		"redfish/v1/Chassis/index.json":     `{"@odata.id":"/redfish/v1/Chassis/","Members":[{"@odata.id":"/redfish/v1/Chassis/1/"}]}`,
		"redfish/v1/Chassis/1/index.json":   `{"@odata.id":"/redfish/v1/Chassis/1/","Id":"1"}`,
		"redfish/v1/Chassis/A B/index.json": `{"@odata.id":"/redfish/v1/Chassis/A%20B","Id":"A B"}`,
	})
	tree, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tree.Get("/redfish/v1/Chassis/1/"); !ok {
		t.Fatal("trailing-slash spelling not found")
	}
	if _, ok := tree.Get("/redfish/v1/Chassis/A%20B"); !ok {
		t.Fatal("URL-encoded spelling not found")
	}
	ts := newServer(tree)
	defer ts.Close()
	for _, p := range []string{"/redfish/v1/Chassis/1", "/redfish/v1/Chassis/1/", "/redfish/v1/Chassis/A%20B"} {
		getJSON(t, ts, p)
	}
	coll := getJSON(t, ts, "/redfish/v1/Chassis/?$expand=*")
	if at(t, coll, "Members", 0, "Id") != "1" {
		t.Errorf("trailing-slash reference not expanded: %v", coll["Members"])
	}
}

func TestLoadErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"something.json": `{}`})
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "service root") {
		t.Errorf("dir without a service root: %v", err)
	}
	if _, err := LoadDir(dir + "/missing"); err == nil {
		t.Error("missing dir loaded")
	}
	if _, err := Embedded("no-such-tree"); err == nil {
		t.Error("unknown embedded tree loaded")
	}
	if _, err := Embedded("../scenarios"); err == nil {
		t.Error("path traversal in Embedded accepted")
	}
}

func TestDMTFMockupServerBehaviour(t *testing.T) {
	ts := newServer(smallTree(t), WithDMTFMockupServerBehaviour())
	defer ts.Close()
	c := ts.Client()

	r := do(t, c, "GET", ts.URL+"/redfish/v1/Things", "")
	if r.StatusCode != 200 {
		t.Fatalf("no auth expected: %d", r.StatusCode)
	}
	if !r.Close {
		t.Error("response without Connection: close")
	}
	if _, ok := r.json(t)["@Redfish.Copyright"]; ok {
		t.Error("@Redfish.Copyright not stripped")
	}
	if reused := connReused(t, c, ts.URL+"/redfish/v1/Things/A"); reused {
		t.Error("connection reused; redfishMockupServer.py closes each one")
	}

	r = login(t, ts, "anyone", "anything")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("X-Auth-Token") != "" || len(r.body) != 0 {
		t.Errorf("login: %d token %q body %q, want 204 without token or body", r.StatusCode, r.Header.Get("X-Auth-Token"), r.body)
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Errorf("Location %q", loc)
	}
	if r := do(t, c, "DELETE", ts.URL+loc, ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("logout: %d", r.StatusCode)
	}

	coll := do(t, c, "GET", ts.URL+"/redfish/v1/Things?$expand=.($levels=3)", "").json(t)
	if at(t, coll, "Members", 0, "Id") != "A" {
		t.Errorf("collection members not expanded: %v", coll["Members"])
	}
	if isExpanded(at(t, coll, "Members", 0, "Child")) {
		t.Error("expanded below the members despite DMTF behaviour")
	}
	if _, ok := at(t, coll, "Members", 0).(map[string]any)["@Redfish.Copyright"]; ok {
		t.Error("@Redfish.Copyright not stripped from expanded member")
	}
	page := do(t, c, "GET", ts.URL+"/redfish/v1/Things?$skip=1&$top=1&$expand=*", "").json(t)
	if at(t, page, "Members", 0, "Id") != "B" || page["Members@odata.nextLink"] != "/redfish/v1/Things?$skip=2&$top=1" {
		t.Errorf("$skip/$top with $expand: %v", page)
	}
	if r := do(t, c, "GET", ts.URL+"/redfish/v1/Things?$expand=whatever", ""); r.StatusCode != 200 || !isExpanded(at(t, r.json(t), "Members", 0)) {
		t.Errorf("any $expand value expands members: %d %s", r.StatusCode, r.body)
	}
	a := do(t, c, "GET", ts.URL+"/redfish/v1/Things/A?$expand=*", "").json(t)
	if isExpanded(a["Child"]) {
		t.Error("$expand on a non-collection honoured")
	}
	root := do(t, c, "GET", ts.URL+"/redfish/v1", "").json(t)
	if _, ok := root["ProtocolFeaturesSupported"]; ok {
		t.Error("service root rewritten in DMTF mode")
	}
}

// connReused GETs url twice and reports whether the second request reused
// the first one's connection.
func connReused(t *testing.T, c *http.Client, url string) bool {
	t.Helper()
	var reused bool
	for i := 0; i < 2; i++ {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(DefaultUser, DefaultPassword)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return reused
}

func TestKeepAlive(t *testing.T) {
	ts := newServer(smallTree(t))
	defer ts.Close()
	if !connReused(t, ts.Client(), ts.URL+"/redfish/v1/Things/A") {
		t.Error("second request did not reuse the connection")
	}
}

func TestFaults(t *testing.T) {
	tree := smallTree(t)
	auth := []string{"Authorization", basic(DefaultUser, DefaultPassword)}

	t.Run("unavailable every 2nd", func(t *testing.T) {
		ts := newServer(tree, WithFault(Fault{Path: "/redfish/v1/Things/*", Kind: FaultUnavailable, Every: 2}))
		defer ts.Close()
		var codes []int
		for i := 0; i < 4; i++ {
			r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things/A/", "", auth...)
			codes = append(codes, r.StatusCode)
			if r.StatusCode == 503 {
				if r.Header.Get("Retry-After") == "" || extendedMessageID(t, r.json(t)) == "" {
					t.Errorf("503 without Retry-After or error body: %s", r.body)
				}
			}
		}
		if want := []int{200, 503, 200, 503}; !equalInts(codes, want) {
			t.Errorf("statuses %v, want %v", codes, want)
		}
		if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", auth...); r.StatusCode != 200 {
			t.Errorf("fault leaked to a non-matching path: %d", r.StatusCode)
		}
	})
	t.Run("session limit", func(t *testing.T) {
		ts := newServer(tree, WithFault(Fault{Kind: FaultSessionLimit}))
		defer ts.Close()
		r := login(t, ts, DefaultUser, DefaultPassword)
		if r.StatusCode != 503 || extendedMessageID(t, r.json(t)) != "Base.1.8.SessionLimitExceeded" {
			t.Errorf("login: %d %s", r.StatusCode, r.body)
		}
		if r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things", "", auth...); r.StatusCode != 200 {
			t.Errorf("session-limit fault hit a GET: %d", r.StatusCode)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		ts := newServer(tree, WithFault(Fault{Path: "/redfish/v1/Things/A", Kind: FaultTruncated}))
		defer ts.Close()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/redfish/v1/Things/A", nil)
		req.SetBasicAuth(DefaultUser, DefaultPassword)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read truncated body: %v (%d of %d bytes), want unexpected EOF", err, len(b), resp.ContentLength)
		}
		if int64(len(b)) >= resp.ContentLength {
			t.Errorf("got %d bytes of %d", len(b), resp.ContentLength)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		ts := newServer(tree, WithFault(Fault{Path: "/redfish/v1/Things/A", Kind: FaultSlowBody, Delay: 300 * time.Millisecond}))
		defer ts.Close()
		start := time.Now()
		r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things/A", "", auth...)
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("slow body took %v", d)
		}
		if !json.Valid(r.body) {
			t.Error("slow body is not the whole document")
		}
	})
	t.Run("malformed", func(t *testing.T) {
		ts := newServer(tree, WithFault(Fault{Path: "/redfish/v1/Things/A", Kind: FaultMalformed}))
		defer ts.Close()
		r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Things/A", "", auth...)
		if r.StatusCode != 200 || json.Valid(r.body) || int64(len(r.body)) != r.ContentLength {
			t.Errorf("malformed: %d valid=%v len %d/%d", r.StatusCode, json.Valid(r.body), len(r.body), r.ContentLength)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestCountingAndLog(t *testing.T) {
	ts := newServer(smallTree(t), WithFault(Fault{Path: "/redfish/v1/Things/B", Kind: FaultUnavailable}))
	defer ts.Close()
	c := ts.Client()
	do(t, c, "GET", ts.URL+"/redfish/v1/", "")
	do(t, c, "GET", ts.URL+"/redfish/v1/Things?$expand=.($levels=2)", "")                                    // 401
	do(t, c, "GET", ts.URL+"/redfish/v1/Things/B", "", "Authorization", basic(DefaultUser, DefaultPassword)) // fault
	do(t, c, "DELETE", ts.URL+"/redfish/v1/Things/A", "", "Authorization", basic(DefaultUser, DefaultPassword))
	if n := ts.Mock.Requests(); n != 4 {
		t.Errorf("Requests() = %d, want 4", n)
	}
	want := []string{"GET /redfish/v1/", "GET /redfish/v1/Things?$expand=.($levels=2)", "GET /redfish/v1/Things/B", "DELETE /redfish/v1/Things/A"}
	if got := ts.Mock.RequestLog(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RequestLog %q, want %q", got, want)
	}
	ts.Mock.ResetRequests()
	if ts.Mock.Requests() != 0 || len(ts.Mock.RequestLog()) != 0 {
		t.Error("ResetRequests did not reset")
	}
}

func TestLatencyAndETag(t *testing.T) {
	ts := newServer(smallTree(t), WithLatency(60*time.Millisecond))
	defer ts.Close()
	start := time.Now()
	r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1", "")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("latency %v, want >= 60ms", d)
	}
	etag := r.Header.Get("ETag")
	r2 := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1", "", "If-None-Match", etag)
	if r2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", r2.StatusCode)
	}
}

func TestSelfSignedCert(t *testing.T) {
	cert, _, err := SelfSignedCert("10.1.2.3", "bmc.example", "::1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if len(leaf.IPAddresses) != 2 || leaf.DNSNames[0] != "bmc.example" {
		t.Errorf("SANs: %v %v", leaf.IPAddresses, leaf.DNSNames)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 364*24*time.Hour || d > 367*24*time.Hour {
		t.Errorf("validity %v, want a year", d)
	}
	if err := leaf.VerifyHostname("bmc.example"); err != nil {
		t.Error(err)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var cert *tls.Certificate
		client := &http.Client{}
		scheme := "http"
		if useTLS {
			c, certPEM, err := SelfSignedCert("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			cert = &c
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(certPEM)
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			scheme = "https"
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, ln, New(smallTree(t)), cert) }()
		r := do(t, client, "GET", scheme+"://"+ln.Addr().String()+"/redfish/v1", "")
		if r.StatusCode != 200 {
			t.Errorf("tls=%v: %d", useTLS, r.StatusCode)
		}
		client.CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tls=%v: Serve returned %v", useTLS, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("tls=%v: Serve did not return after cancel", useTLS)
		}
	}
}

func TestConcurrentRequestsAndSetTime(t *testing.T) {
	sc, err := EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := sc.BaseTree()
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(tree, WithScenario(sc))
	defer ts.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				ts.Mock.SetTime(time.Duration(i*j) * time.Hour)
				getJSON(t, ts, "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans?$expand=.")
			}
		}()
	}
	wg.Wait()
	if n := ts.Mock.Requests(); n != 20 {
		t.Errorf("Requests() = %d, want 20", n)
	}
}

func TestRunClock(t *testing.T) {
	s := New(smallTree(t))
	s.SetTime(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.RunClock(ctx, 3600, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// At 3600x the clock moves an hour per wall second: no further than
	// the wall time RunClock actually ran (a loaded machine runs it past
	// the 120 ms deadline), and forward.
	ran := time.Since(start)
	if got := s.Time(); got <= time.Hour || got > time.Hour+3600*ran {
		t.Errorf("Time() = %v after %s at 3600x from 1h", got, ran)
	}
	if err := s.RunClock(t.Context(), 0, time.Second); err == nil {
		t.Error("speed 0 accepted")
	}
}

func TestNewTreeAndWith(t *testing.T) {
	if _, err := NewTree(map[string][]byte{"/redfish/v1/Chassis": []byte(`{}`)}); err == nil {
		t.Error("tree without a service root built")
	}
	tree, err := NewTree(map[string][]byte{
		"/redfish/v1/":        []byte(`{"@odata.id":"/redfish/v1/"}`),
		"/redfish/v1/Chassis": []byte(`{"Members":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	broken := tree.With("/redfish/v1/Chassis/1/Power/", []byte(`{"PowerControl": [`))
	if _, ok := tree.Get("/redfish/v1/Chassis/1/Power"); ok {
		t.Error("With modified the original tree")
	}
	if got := strings.Join(broken.Paths(), " "); got != "/redfish/v1 /redfish/v1/Chassis /redfish/v1/Chassis/1/Power" {
		t.Errorf("paths %s", got)
	}
	ts := newServer(broken)
	defer ts.Close()
	r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Chassis/1/Power", "", "Authorization", basic(DefaultUser, DefaultPassword))
	if r.StatusCode != 200 || string(r.body) != `{"PowerControl": [` {
		t.Errorf("malformed resource served as %d %q", r.StatusCode, r.body)
	}
}

func TestDMTFExpandDropsMissingMembers(t *testing.T) {
	tree, err := NewTree(map[string][]byte{
		"/redfish/v1":          []byte(`{}`),
		"/redfish/v1/Things":   []byte(`{"Members@odata.count":2,"Members":[{"@odata.id":"/redfish/v1/Things/1"},{"@odata.id":"/redfish/v1/Things/gone"}]}`),
		"/redfish/v1/Things/1": []byte(`{"@odata.id":"/redfish/v1/Things/1","Id":"1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	dmtf := newServer(tree, WithDMTFMockupServerBehaviour())
	defer dmtf.Close()
	coll := do(t, dmtf.Client(), "GET", dmtf.URL+"/redfish/v1/Things?$expand=.", "").json(t)
	if members := coll["Members"].([]any); len(members) != 1 || at(t, members[0], "Id") != "1" {
		t.Errorf("DMTF mode members %v, want only the existing one", members)
	}
	ours := newServer(tree)
	defer ours.Close()
	coll = getJSON(t, ours, "/redfish/v1/Things?$expand=.")
	if members := coll["Members"].([]any); len(members) != 2 || at(t, members[1], "@odata.id") != "/redfish/v1/Things/gone" {
		t.Errorf("members %v, want the dangling reference kept", members)
	}
}
