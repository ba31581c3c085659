package report_test

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/report"
	"github.com/prefail/prefail/report/chromiumtest"
)

// screenshotPath is the screenshot docs/report.md shows.
const screenshotPath = "../docs/img/fleet-report.png"

// maxScreenshotBytes bounds the screenshot kept in the repository.
const maxScreenshotBytes = 400 << 10

// TestChromium renders the report of a realistic fleet and loads it in a
// real headless Chromium: it must render with no console error, no
// exception, no dialog and no request but the file itself; show the
// servers in ranked order, the failing fan with its reason and forecast,
// the hostile fan name as text, and a chart line per series. With
// -update it also writes the screenshot docs/report.md shows.
func TestChromium(t *testing.T) {
	in := realisticFleet(t)
	var buf bytes.Buffer
	if err := report.WriteHTML(context.Background(), &buf, in); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "fleet.html")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browser, err := chromiumtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := browser.Close(); err != nil {
			t.Error(err)
		}
	}()

	t.Run("fleet", func(t *testing.T) {
		degradedRows := "#server-1 table.comp tbody tr:first-child td"
		hostileSection := "#" + anchorOf(t, in, hostileServer)
		p, err := browser.Load(ctx, file, chromiumtest.Texts(
			"h1", "#ranking tbody td.target a", degradedRows,
			"#server-1 h3 .target", hostileSection+" table.comp tbody td:nth-child(2)", "img", "script",
			"#server-1 svg", "#server-1 svg path.line", "#about-to-fail li", "#inventory tr.due",
		))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Console {
			if m.Level == "error" || m.Level == "warning" {
				t.Errorf("console: %s", m)
			}
		}
		for _, e := range p.Exceptions {
			t.Errorf("exception: %s", e)
		}
		if len(p.Dialogs) > 0 {
			t.Errorf("dialogs opened: %q", p.Dialogs)
		}
		if ext := p.ExternalRequests(); len(ext) > 0 {
			t.Errorf("requests beyond the file: %q", ext)
		}
		if len(p.Requests) == 0 {
			t.Error("no request seen at all, not even the page's: the check above proves nothing")
		}

		if diff := gocmp.Diff([]string{"Rack 7, dc1"}, p.Texts["h1"]); diff != "" {
			t.Errorf("title (-want +got):\n%s", diff)
		}
		// Ranked: the worst component risk first, then the worst health,
		// failed scans (health unknown) before healthy servers of equal risk.
		if diff := gocmp.Diff(expectedRanking(in), p.Texts["#ranking tbody td.target a"]); diff != "" {
			t.Errorf("ranking (-want +got):\n%s", diff)
		}
		if got := p.Texts["#server-1 h3 .target"]; len(got) != 1 || got[0] != degradedServer {
			t.Errorf("first section %q, want %s", got, degradedServer)
		}
		row := strings.Join(p.Texts[degradedRows], " | ")
		for _, want := range []string{degradedFan, "ok", "90%", "failing", "5200 RPM", "lower warning 810", degradedReason, "speed reaches 630 RPM in about 6 days (4 days to 10 days), on 2026-03-20"} {
			if !strings.Contains(row, want) {
				t.Errorf("the failing fan's row %q lacks %q", row, want)
			}
		}
		if about := strings.Join(p.Texts["#about-to-fail li"], "\n"); !strings.Contains(about, degradedServer) || !strings.Contains(about, degradedFan+": failing (risk 90%)") {
			t.Errorf("about to fail: %q", about)
		}

		if !slices.ContainsFunc(p.Texts[hostileSection+" table.comp tbody td:nth-child(2)"], func(s string) bool { return s == hostileFanName }) {
			t.Errorf("the hostile fan name is not shown as text in %s: %q", hostileSection, p.Texts[hostileSection+" table.comp tbody td:nth-child(2)"])
		}
		if n := len(p.Texts["img"]); n != 0 {
			t.Errorf("%d <img> elements: a BMC's string became markup", n)
		}
		if n := len(p.Texts["script"]); n != 0 {
			t.Errorf("%d <script> elements", n)
		}

		if n := len(p.Texts["#server-1 svg"]); n != len(in.History[degradedServer]) {
			t.Errorf("%d charts, want one per series (%d)", n, len(in.History[degradedServer]))
		}
		if n := len(p.Texts["#server-1 svg path.line"]); n != len(in.History[degradedServer]) {
			t.Errorf("%d chart lines, want one per series (%d)", n, len(in.History[degradedServer]))
		}
		if n := len(p.Texts["#inventory tr.due"]); n == 0 {
			t.Error("no refresh-due inventory row highlighted")
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		p, err := browser.Load(ctx, file, chromiumtest.Viewport(1280, 900), chromiumtest.Screenshot())
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(p.Screenshot))
		if err != nil {
			t.Fatal(err)
		}
		if got := img.Bounds().Size(); got != (image.Point{1280, 900}) {
			t.Errorf("screenshot %v, want 1280x900", got)
		}
		if len(p.Screenshot) > maxScreenshotBytes {
			t.Errorf("screenshot of %d bytes, over %d", len(p.Screenshot), maxScreenshotBytes)
		}
		if colors := distinctColors(img, 64); colors < 16 {
			t.Errorf("the screenshot has %d colors: blank?", colors)
		}
		t.Logf("screenshot: %d bytes", len(p.Screenshot))
		if *update {
			if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(screenshotPath, p.Screenshot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// expectedRanking is the order the page must rank the fleet in, computed
// from the input: worst risk, then worst health (a failed scan is
// unknown), then failed first, then name.
func expectedRanking(in report.Input) []string {
	type key struct {
		name   string
		risk   float64
		health int
		failed bool
	}
	keys := make([]key, 0, len(in.Results))
	for _, r := range in.Results {
		k := key{name: r.Target, failed: r.Err != nil, health: model.HealthUnknown.Severity()}
		for _, a := range in.Assessments[r.Target] {
			k.risk = max(k.risk, a.Risk)
		}
		if r.Err == nil && r.Snapshot != nil {
			k.health = r.Snapshot.Worst().Severity()
		}
		keys = append(keys, k)
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		if c := cmp.Compare(b.risk, a.risk); c != 0 {
			return c
		}
		if c := cmp.Compare(b.health, a.health); c != 0 {
			return c
		}
		if a.failed != b.failed {
			if a.failed {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// anchorOf is the id of target's section: its rank.
func anchorOf(t *testing.T, in report.Input, target string) string {
	t.Helper()
	i := slices.Index(expectedRanking(in), target)
	if i < 0 {
		t.Fatalf("%s not in the fleet", target)
	}
	return "server-" + strconv.Itoa(i+1)
}

// distinctColors counts the distinct colors among up to limit, sampling
// every 7th pixel.
func distinctColors(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
