package report_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ and docs/img/fleet-report.png")

func writeHTML(t testing.TB, in report.Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.WriteHTML(context.Background(), &buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestGolden compares the page of a small fixed fleet with
// testdata/golden/small.html (go test -update rewrites it).
func TestGolden(t *testing.T) {
	got := writeHTML(t, smallInput())
	path := filepath.Join("testdata", "golden", "small.html")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run TestGolden -update)", err)
	}
	// By line: a changed style rule is one line of diff, not a page.
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestDeterministic: the same input gives the same bytes (maps are
// iterated nowhere that shows).
func TestDeterministic(t *testing.T) {
	first := writeHTML(t, smallInput())
	for range 5 {
		if got := writeHTML(t, smallInput()); got != first {
			t.Fatal("two renderings of the same input differ")
		}
	}
}

// TestEscapesBMCStrings checks that what a BMC names its parts reaches the
// page as text: no element, attribute or script of its making.
func TestEscapesBMCStrings(t *testing.T) {
	page := writeHTML(t, smallInput())
	for _, bad := range []string{
		"<script>alert", "<img src=x", "</td></tr><tr><td>injected", `%"><script>`, "<b>weekly</b>", "\x00",
	} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	for _, escaped := range []string{
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34; &#39;single&#39;",
		"&lt;img src=x onerror=alert(1)&gt;",
		"&lt;/td&gt;&lt;/tr&gt;&lt;tr&gt;&lt;td&gt;injected",
		"Rack 7 &lt;b&gt;weekly&lt;/b&gt;",
	} {
		if !strings.Contains(page, escaped) {
			t.Errorf("the page lacks %q", escaped)
		}
	}
	if n := strings.Count(page, "<script"); n != 0 {
		t.Errorf("%d <script elements; the page has none of its own", n)
	}
	// An unrecognized health is unknown, never ok.
	if !strings.Contains(page, "unknown (bogus health)") {
		t.Error("a bogus health does not show as unknown")
	}
}

// TestHugeStringsClipped: a BMC's megabyte of name costs the page a line.
func TestHugeStringsClipped(t *testing.T) {
	in := smallInput()
	huge := strings.Repeat("A", 1<<20)
	snap := *in.Results[2].Snapshot
	snap.Components = append(snap.Components[:0:0], snap.Components...)
	snap.Components[0].Name = huge
	snap.Components[0].Location = huge
	snap.Warnings = append(snap.Warnings, model.Warning{Source: huge, Message: huge})
	in.Results[2].Snapshot = &snap
	in.Results[2].Target = huge
	in.Results[1].Err = errors.New(huge)
	page := writeHTML(t, in)
	if len(page) > 200<<10 {
		t.Errorf("page of %d bytes for a fleet of three", len(page))
	}
	if strings.Contains(page, strings.Repeat("A", 2001)) {
		t.Error("a huge string is not clipped")
	}
	if !strings.Contains(page, strings.Repeat("A", 100)+"…") {
		t.Error("a clipped string does not say so")
	}
}

// cancelingWriter cancels its context after the first write.
type cancelingWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.cancel()
	return len(p), nil
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := report.WriteHTML(ctx, &bytes.Buffer{}, smallInput())
	if !errors.Is(err, report.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want ErrCanceled wrapping context.Canceled", err)
	}

	// Canceled while writing a long page: it stops there.
	in := syntheticFleet(20, 100)
	full := len(writeHTML(t, in))
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	w := &cancelingWriter{cancel: cancel}
	err = report.WriteHTML(ctx, w, in)
	if !errors.Is(err, report.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want ErrCanceled wrapping context.Canceled", err)
	}
	if w.n >= full/2 {
		t.Errorf("wrote %d bytes of a %d-byte page after the cancel", w.n, full)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	err := report.WriteHTML(context.Background(), failingWriter{}, smallInput())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want the writer's", err)
	}
}

func TestEmptyInput(t *testing.T) {
	page := writeHTML(t, report.Input{})
	for _, want := range []string{"prefail fleet report", "0</b><span>servers scanned"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}
