package chromiumtest_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/report/chromiumtest"
)

// TestLoadSeesWhatThePageDoes loads a page that does everything a report
// must never do (logs an error, throws, opens an alert, fetches an image
// from a server) and checks that the helper reports each: a clean result
// from it means something only if it can see these.
func TestLoadSeesWhatThePageDoes(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "bad.html")
	html := `<!DOCTYPE html><html><head><title>t</title><link rel="icon" href="data:,"></head><body>
<h1 id="h">Hello <b>there</b></h1><p class="x">one</p><p class="x">two</p>
<svg><text class="x">three</text></svg>
<img src="` + srv.URL + `/pixel.png">
<script>console.log("hello", 42); console.error("boom"); alert("hi");</script>
<script>throw new Error("uncaught!")</script>
</body></html>`
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := chromiumtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}()
	p, err := b.Load(ctx, file, chromiumtest.Texts("#h", ".x", "#missing"), chromiumtest.Viewport(400, 300), chromiumtest.Screenshot())
	if err != nil {
		t.Fatal(err)
	}

	if !slices.ContainsFunc(p.Console, func(m chromiumtest.ConsoleMessage) bool {
		return m.Level == "log" && m.Text == "hello 42"
	}) {
		t.Errorf("console.log not seen: %v", p.Console)
	}
	if !slices.ContainsFunc(p.Errors(), func(s string) bool { return strings.Contains(s, "boom") }) {
		t.Errorf("console.error not among the errors: %v", p.Errors())
	}
	if len(p.Exceptions) != 1 || !strings.Contains(p.Exceptions[0], "uncaught!") {
		t.Errorf("exceptions %q, want the uncaught one", p.Exceptions)
	}
	if diff := cmp.Diff([]string{"hi"}, p.Dialogs); diff != "" {
		t.Errorf("dialogs (-want +got):\n%s", diff)
	}
	if p.Requests[0] != p.URL {
		t.Errorf("first request %q, want the page %q", p.Requests[0], p.URL)
	}
	if diff := cmp.Diff([]string{srv.URL + "/pixel.png"}, p.ExternalRequests()); diff != "" {
		t.Errorf("external requests (-want +got):\n%s", diff)
	}
	if hits.Load() == 0 {
		t.Error("the image server saw no request")
	}
	want := map[string][]string{"#h": {"Hello there"}, ".x": {"one", "two", "three"}, "#missing": {}}
	if diff := cmp.Diff(want, p.Texts); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
	img, err := png.Decode(bytes.NewReader(p.Screenshot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 400 || got.Y != 300 {
		t.Errorf("screenshot %v, want 400x300", got)
	}

	missing := filepath.Join(dir, "missing.html")
	if _, err := b.Load(ctx, missing); err == nil || !strings.Contains(err.Error(), "missing.html") {
		t.Errorf("loading a missing file: %v, want an error naming it", err)
	}
}

func TestMissingChromium(t *testing.T) {
	_, err := chromiumtest.Start(context.Background(), chromiumtest.WithExecPath(filepath.Join(t.TempDir(), "no-chromium")))
	if !errors.Is(err, chromiumtest.ErrNoChromium) {
		t.Fatalf("err %v, want ErrNoChromium", err)
	}
	if !strings.Contains(err.Error(), "no-chromium") {
		t.Errorf("error %q does not name the path", err)
	}
}
