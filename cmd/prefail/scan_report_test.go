package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/report/chromiumtest"
)

// TestScanHTMLReport: `scan --html FILE --store DIR` writes a report a
// real headless Chromium renders with no error and no request beyond the
// file: the servers ranked, the failed one with its reason, the parts'
// inventory, and charts of the readings the agent's store kept.
func TestScanHTMLReport(t *testing.T) {
	bmc := newSwitchableBMC(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	dir := filepath.Join(t.TempDir(), "store")
	env := map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}
	if err := a.run(context.Background(), []string{"watch", "--state", dir, "--rounds", "4", "--interval", "10ms", bmc.srv.URL}); err != nil {
		t.Fatalf("watch: %v\n%s", err, stderr.String())
	}
	file := filepath.Join(t.TempDir(), "fleet.html")
	stdout.Reset()
	stderr.Reset()
	a = &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}
	err := a.run(context.Background(), []string{"scan", "--json", "--html", file, "--store", dir, bmc.srv.URL, downURL})
	if exitCode(err) != 1 {
		t.Fatalf("scan: exit %d (%v), want 1 (one target down)\n%s", exitCode(err), err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 2 {
		t.Errorf("%d JSON lines beside the report, want 2", n)
	}
	html, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("Content-Security-Policy")) {
		t.Error("the report has no Content-Security-Policy")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browser, err := chromiumtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer browser.Close()
	p, err := browser.Load(ctx, file, chromiumtest.Texts("#ranking tbody td.target a", "#ranking tbody tr", "#inventory tbody tr", "svg path.line", "img", "script"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("the page has errors: %q", errs)
	}
	if ext := p.ExternalRequests(); len(ext) > 0 {
		t.Errorf("requests beyond the file: %q", ext)
	}
	ranked := p.Texts["#ranking tbody td.target a"]
	if !slices.Contains(ranked, bmc.srv.URL) || !slices.Contains(ranked, downURL) {
		t.Errorf("ranking %q lacks a target", ranked)
	}
	if rows := strings.Join(p.Texts["#ranking tbody tr"], "\n"); !strings.Contains(rows, "connection refused") {
		t.Errorf("the down target's reason is not in the ranking:\n%s", rows)
	}
	// The capture's parts (PSUs, fans, drives...) are in the inventory.
	if n := len(p.Texts["#inventory tbody tr"]); n < 5 {
		t.Errorf("%d inventory rows", n)
	}
	// Four rounds of the agent: the riskiest parts' readings over time.
	if n := len(p.Texts["svg path.line"]); n == 0 {
		t.Error("no chart drawn from the store's history")
	}
	if n := len(p.Texts["img"]) + len(p.Texts["script"]); n != 0 {
		t.Errorf("%d img/script elements in a report with none", n)
	}

	// Without --html, --store is refused (it would be ignored).
	if err := (&app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}).run(context.Background(), []string{"scan", "--store", dir, bmc.srv.URL}); exitCode(err) != 2 {
		t.Errorf("--store without --html: %v, want a usage error", err)
	}
}
