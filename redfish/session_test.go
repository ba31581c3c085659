package redfish

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// A BMC that drops the session between two scans (reboot, idle timeout)
// answers 401: the client logs in again once, and the scan goes on.
func TestReloginAfterSessionLoss(t *testing.T) {
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	ts := redfishtest.NewServer(tree)
	defer ts.Close()
	ctx := context.Background()
	c, err := New(ts.URL, WithCredentials("admin", "password"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the session behind the client's back.
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+c.sessionURL, nil)
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("dropping the session: %v %v", err, resp)
	}
	resp.Body.Close()

	second, err := c.Scan(ctx)
	if err != nil {
		t.Fatalf("second scan after the session was dropped: %v", err)
	}
	if len(second.Components) != len(first.Components) {
		t.Errorf("second scan: %d components, first %d", len(second.Components), len(first.Components))
	}
	logins := 0
	for _, l := range ts.Mock.RequestLog() {
		if strings.HasPrefix(l, "POST /redfish/v1/SessionService/Sessions") {
			logins++
		}
	}
	if logins != 2 {
		t.Errorf("%d logins, want 2 (the first, and one after the 401)", logins)
	}
	// A third scan reuses the service root and the session: it costs two
	// requests less than the first (no root GET, no login).
	third, err := c.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third.Requests != first.Requests-2 {
		t.Errorf("third scan cost %d requests, want %d (the first's %d less root and login)", third.Requests, first.Requests-2, first.Requests)
	}
	if n, err := c.Close(ctx); err != nil || n != 1 {
		t.Errorf("logout: %d requests, %v", n, err)
	}
	if ts.Mock.Sessions() != 0 {
		t.Errorf("%d sessions left open on the BMC", ts.Mock.Sessions())
	}
}
