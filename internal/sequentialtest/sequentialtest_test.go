package sequentialtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean.go", "package p\n\nimport \"strings\"\n\nfunc F() string { return strings.ToUpper(\"x\") }\n")
	goStmt := write("go.go", "package p\n\nfunc G() {\n\tgo func() {}()\n}\n")
	syncImp := write("sync_test.go", "package p\n\nimport (\n\t\"sync\"\n\tatomic \"sync/atomic\"\n)\n\nvar mu sync.Mutex\nvar n atomic.Int64\n")
	broken := write("broken.go", "package p\n\nfunc {\n")

	if got := Check([]string{clean}); len(got) != 0 {
		t.Errorf("clean file: %q, want nothing", got)
	}
	got := Check([]string{clean, goStmt, syncImp, broken})
	want := []string{"go.go:4:2: go statement", "sync_test.go:4:2: imports sync", "sync_test.go:5:2: imports sync/atomic", "broken.go:3:6"}
	if len(got) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, goStmt) }) {
		t.Errorf("problems %q do not name the file %s", got, goStmt)
	}
}

// This package itself runs on one goroutine.
func TestRequireSelf(t *testing.T) { Require(t) }
