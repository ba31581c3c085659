package redfish_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// The budget: a full scan of public-rackmount1 in at most 14 HTTP
// requests, login and logout included (gofish v0.26.0 alone: 81).
const rackmount1Budget = 14

func TestRackmount1RequestBudget(t *testing.T) {
	snap, ts := scanTree(t, embedded(t, "public-rackmount1"))
	if snap.Requests > rackmount1Budget {
		t.Errorf("scan took %d requests, budget %d:\n%s", snap.Requests, rackmount1Budget, strings.Join(ts.Mock.RequestLog(), "\n"))
	}
	if got := ts.Mock.Requests(); int64(snap.Requests) != got {
		t.Errorf("snapshot counts %d requests, server saw %d", snap.Requests, got)
	}
	log := ts.Mock.RequestLog()
	if !strings.HasPrefix(log[1], "POST /redfish/v1/SessionService/Sessions") {
		t.Errorf("second request %q, want the session login", log[1])
	}
	if !strings.HasPrefix(log[len(log)-1], "DELETE /redfish/v1/SessionService/Sessions/") {
		t.Errorf("last request %q, want the logout", log[len(log)-1])
	}
	t.Logf("public-rackmount1: %d requests", snap.Requests)
}

func TestRackmount1Verdicts(t *testing.T) {
	snap, _ := scanTree(t, embedded(t, "public-rackmount1"))

	bay1 := find(t, snap, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1")
	if bay1.Health != model.HealthWarning || bay1.Name != "Power Supply Bay 1" {
		t.Errorf("PSU Bay1: %s %q, want warning (predictive failure)", bay1.Health, bay1.Name)
	}
	if len(bay1.Conditions) == 0 || bay1.Conditions[0].MessageID != "Power.1.0.PowerSupplyPredictiveFailure" {
		t.Errorf("PSU Bay1 conditions %+v, want the PowerSupplyPredictiveFailure condition", bay1.Conditions)
	}
	if r, ok := bay1.Reading("input_power"); !ok || r.Value == nil || *r.Value != 937.4 {
		t.Errorf("PSU Bay1 input_power %+v, want 937.4 W from its PowerSupplyMetrics", r)
	}
	if bay1.Inventory.SerialNumber != "3488247" || bay1.Inventory.Model != "RKS-440DC" {
		t.Errorf("PSU Bay1 inventory %+v", bay1.Inventory)
	}
	if bay2 := find(t, snap, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay2"); bay2.Health != model.HealthAbsent {
		t.Errorf("PSU Bay2 health %s, want absent", bay2.Health)
	}
	fan := find(t, snap, "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1")
	if r, ok := fan.Reading("speed"); !ok || *r.Value != 2200 {
		t.Errorf("fan Bay1 speed %+v, want 2200 RPM", r)
	}
	if r, ok := fan.Reading("speed_percent"); !ok || r.Thresholds == nil || r.Thresholds.LowerCritical == nil {
		t.Errorf("fan Bay1 speed_percent %+v: want the thresholds of its sensor FanBay1", r)
	}
	// The fan's sensor is a reading of the fan, not a second fan.
	for _, c := range snap.Components {
		if c.ID == "/redfish/v1/Chassis/1U/Sensors/FanBay1" {
			t.Errorf("sensor FanBay1 reported as its own component")
		}
	}
	if snap.Worst() != model.HealthWarning {
		t.Errorf("worst health %s, want warning", snap.Worst())
	}
	if len(snap.Events) == 0 {
		t.Fatal("no events")
	}
	for _, e := range snap.Events {
		if len(e.Raw) == 0 || e.Source == "" || e.Message == "" {
			t.Errorf("event %+v lacks raw record, source or message", e)
		}
	}
	var psuGroup bool
	for _, g := range snap.Redundancy {
		if g.Kind == model.KindPSU {
			psuGroup = true
			if g.Redundant {
				t.Errorf("PSU group %+v: one PSU in warning and one absent is not redundant", g)
			}
		}
	}
	if !psuGroup {
		t.Error("no PSU redundancy group, reported or derived")
	}
}

// DMTF's own Redfish-Mockup-Server (every connection closed, no auth,
// $expand only on collections, sessions without tokens) and a service with
// no $expand must scan to the same result as our mock, only with more
// requests.
func TestSameResultWhateverTheServer(t *testing.T) {
	for _, name := range []string{"public-rackmount1", "public-tower"} {
		t.Run(name, func(t *testing.T) {
			want, _ := scanTree(t, embedded(t, name))
			for _, variant := range []struct {
				name string
				opt  redfishmock.Option
			}{
				{"dmtf-mockup-server", redfishmock.WithDMTFMockupServerBehaviour()},
				{"no-expand", redfishmock.WithoutExpand()},
			} {
				got, _ := scanTree(t, embedded(t, name), variant.opt)
				if a, b := fmtHealth(ids(want)), fmtHealth(ids(got)); a != b {
					t.Errorf("%s: components differ\nwant:\n%s\ngot:\n%s", variant.name, a, b)
				}
				if len(got.Events) != len(want.Events) {
					t.Errorf("%s: %d events, want %d", variant.name, len(got.Events), len(want.Events))
				}
				t.Logf("%s: %d requests (our mock with $expand: %d)", variant.name, got.Requests, want.Requests)
			}
		})
	}
}

// Each deliberately malformed telegraf response costs exactly the parts
// it holds: a warning names its URL, and the other resources still scan.
func TestMalformedResponsesAreWarnings(t *testing.T) {
	cases := map[string]string{
		"dell-r640-invalid-power":         "/redfish/v1/Chassis/System.Embedded.1/Power",
		"dell-r640-invalid-thermal":       "/redfish/v1/Chassis/System.Embedded.1/Thermal",
		"dell-r640-invalid-systems":       "/redfish/v1/Systems/System.Embedded.1",
		"dell-r640-invalid-chassis":       "/redfish/v1/Chassis/System.Embedded.1",
		"hpe-dl360-gen10-invalid-power":   "/redfish/v1/Chassis/1/Power",
		"hpe-dl360-gen10-invalid-thermal": "/redfish/v1/Chassis/1/Thermal",
		"hpe-dl360-gen10-invalid-systems": "/redfish/v1/Systems/1",
	}
	for dir, bad := range cases {
		t.Run(dir, func(t *testing.T) {
			tree, err := redfishmock.LoadDir(filepath.Join("..", "testdata", "redfish", "telegraf", dir))
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := scanTree(t, tree)
			found := false
			for _, w := range snap.Warnings {
				if w.Source == bad && strings.Contains(w.Message, "malformed response") {
					found = true
				}
			}
			if !found {
				t.Errorf("no malformed-response warning for %s in %+v", bad, snap.Warnings)
			}
			if len(snap.Components) < 2 {
				t.Errorf("only %d components: one bad resource lost the scan", len(snap.Components))
			}
		})
	}
}

func TestFaultsCostOnlyTheirResource(t *testing.T) {
	const sensors = "/redfish/v1/Chassis/1U/Sensors"
	for _, f := range []redfishmock.Fault{
		{Path: sensors, Kind: redfishmock.FaultUnavailable},
		{Path: sensors, Kind: redfishmock.FaultMalformed},
		{Path: sensors, Kind: redfishmock.FaultTruncated},
	} {
		t.Run(f.Kind.String(), func(t *testing.T) {
			ts := redfishtest.NewServer(embedded(t, "public-rackmount1"), redfishmock.WithFault(f), redfishmock.WithoutExpand())
			defer ts.Close()
			snap, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"))
			if err != nil {
				t.Fatal(err)
			}
			var w string
			for _, x := range snap.Warnings {
				if x.Source == sensors {
					w = x.Message
				}
			}
			if w == "" {
				t.Fatalf("no warning for %s: %+v", sensors, snap.Warnings)
			}
			if f.Kind == redfishmock.FaultUnavailable && !strings.Contains(w, "503") {
				t.Errorf("warning %q does not give the status", w)
			}
			if snap.Count(model.KindPSU) != 2 || snap.Count(model.KindFan) != 4 {
				t.Errorf("PSUs %d fans %d: the fault lost more than the sensors", snap.Count(model.KindPSU), snap.Count(model.KindFan))
			}
		})
	}
}

func TestAuthErrors(t *testing.T) {
	ts := redfishtest.NewServer(embedded(t, "public-rackmount1"))
	defer ts.Close()
	_, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "wrong"))
	if !errors.Is(err, redfish.ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	var re *redfish.Error
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), ts.URL) {
		t.Errorf("error %v: want a *redfish.Error with status 401 naming the target", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q leaks the password", err)
	}
	_, err = redfish.Scan(context.Background(), ts.URL) // no credentials at all
	if !errors.Is(err, redfish.ErrUnauthorized) {
		t.Errorf("no credentials: %v, want ErrUnauthorized", err)
	}
	_, err = redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"), redfish.WithBasicAuth())
	if err != nil {
		t.Errorf("basic auth: %v", err)
	}
}

func TestSessionLimit(t *testing.T) {
	ts := redfishtest.NewServer(embedded(t, "public-rackmount1"), redfishmock.WithFault(redfishmock.Fault{Kind: redfishmock.FaultSessionLimit}))
	defer ts.Close()
	_, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"))
	if !errors.Is(err, redfish.ErrSessionLimit) || !strings.Contains(err.Error(), "SessionLimitExceeded") {
		t.Fatalf("got %v, want ErrSessionLimit naming SessionLimitExceeded", err)
	}
}

func TestTLS(t *testing.T) {
	ts := redfishtest.NewTLSServer(embedded(t, "public-rackmount1"))
	defer ts.Close()
	ctx := context.Background()
	creds := redfish.WithCredentials("admin", "password")
	if _, err := redfish.Scan(ctx, ts.URL, creds); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed certificate accepted by default: %v", err)
	}
	ca, err := ts.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redfish.Scan(ctx, ts.URL, creds, redfish.WithCAFile(ca)); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	if _, err := redfish.Scan(ctx, ts.URL, creds, redfish.WithInsecure()); err != nil {
		t.Errorf("insecure: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := redfish.Scan(ctx, ts.URL, creds, redfish.WithCAFile(bad)); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad CA file: %v, want an error naming it", err)
	}
}

// A BMC that accepts the connection and never answers must cost the
// deadline, not a hang.
func TestHangingBMCRespectsDeadline(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := redfish.Scan(ctx, hang.URL, redfish.WithCredentials("admin", "password"))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("scan returned after %s, deadline was 300ms", d)
	}
}

// A slow body past the deadline is cut off too.
func TestSlowBodyRespectsDeadline(t *testing.T) {
	ts := redfishtest.NewServer(embedded(t, "public-rackmount1"),
		redfishmock.WithFault(redfishmock.Fault{Path: "/redfish/v1/Chassis", Kind: redfishmock.FaultSlowBody, Delay: 10 * time.Second}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	snap, _ := redfish.Scan(ctx, ts.URL, redfish.WithCredentials("admin", "password"))
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("scan took %s with a 500ms deadline", d)
	}
	if snap == nil {
		t.Fatal("no snapshot")
	}
}

// Bounded logs: a 1,000-entry log costs two requests and yields the newest
// N entries only.
func TestLogIsBoundedToNewestEntries(t *testing.T) {
	dir := t.TempDir()
	write := func(p, body string) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(p), "index.json")
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("", `{"@odata.id":"/redfish/v1/","@odata.type":"#ServiceRoot.v1_5_0.ServiceRoot","Managers":{"@odata.id":"/redfish/v1/Managers"}}`)
	write("Managers", `{"@odata.id":"/redfish/v1/Managers","Members":[{"@odata.id":"/redfish/v1/Managers/BMC"}]}`)
	write("Managers/BMC", `{"@odata.id":"/redfish/v1/Managers/BMC","@odata.type":"#Manager.v1_10_0.Manager","Name":"BMC","Status":{"State":"Enabled","Health":"OK"},"LogServices":{"@odata.id":"/redfish/v1/Managers/BMC/LogServices"}}`)
	write("Managers/BMC/LogServices", `{"@odata.id":"/redfish/v1/Managers/BMC/LogServices","Members":[{"@odata.id":"/redfish/v1/Managers/BMC/LogServices/SEL"}]}`)
	write("Managers/BMC/LogServices/SEL", `{"@odata.id":"/redfish/v1/Managers/BMC/LogServices/SEL","@odata.type":"#LogService.v1_1_0.LogService","Entries":{"@odata.id":"/redfish/v1/Managers/BMC/LogServices/SEL/Entries"}}`)
	var members []string
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 1000; i++ {
		id := fmt.Sprintf("/redfish/v1/Managers/BMC/LogServices/SEL/Entries/%d", i)
		members = append(members, fmt.Sprintf(`{"@odata.id":%q}`, id))
		code := "Assert"
		if i%2 == 0 {
			code = "Deassert"
		}
		write(fmt.Sprintf("Managers/BMC/LogServices/SEL/Entries/%d", i), fmt.Sprintf(
			`{"@odata.id":%q,"@odata.type":"#LogEntry.v1_4_0.LogEntry","Id":"%d","EntryType":"SEL","Severity":"Warning","Created":%q,"Message":"Fan %d lower critical","SensorType":"Fan","EntryCode":%q}`,
			id, i, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i, code))
	}
	write("Managers/BMC/LogServices/SEL/Entries", fmt.Sprintf(`{"@odata.id":"/redfish/v1/Managers/BMC/LogServices/SEL/Entries","Members@odata.count":1000,"Members":[%s]}`, strings.Join(members, ",")))
	tree, err := redfishmock.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := redfishtest.NewServer(tree)
	defer ts.Close()
	snap, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"), redfish.WithMaxLogEntries(50))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Events) != 50 {
		t.Fatalf("%d events, want the newest 50", len(snap.Events))
	}
	if first, last := snap.Events[0].ID, snap.Events[49].ID; first != "951" || last != "1000" {
		t.Errorf("events %s..%s, want 951..1000 (the newest)", first, last)
	}
	if snap.Events[49].Asserted == nil || *snap.Events[49].Asserted {
		t.Errorf("entry 1000 (Deassert) read as %v", snap.Events[49].Asserted)
	}
	entryRequests := 0
	for _, l := range ts.Mock.RequestLog() {
		if strings.Contains(l, "/Entries") {
			entryRequests++
		}
	}
	if entryRequests > 2 {
		t.Errorf("%d requests for the log, want at most 2:\n%s", entryRequests, strings.Join(ts.Mock.RequestLog(), "\n"))
	}
}

func TestBadEndpoint(t *testing.T) {
	if _, err := redfish.New("bmc.example:443"); err == nil || !strings.Contains(err.Error(), "bmc.example:443") {
		t.Errorf("endpoint without scheme: %v, want an error naming it", err)
	}
	// Nothing listens on this port: the error names the target.
	_, err := redfish.Scan(context.Background(), "http://127.0.0.1:1", redfish.WithCredentials("a", "b"))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable BMC: %v", err)
	}
}
