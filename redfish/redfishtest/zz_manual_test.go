package redfishtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestZZManualShared(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	dirs, _ := filepath.Glob("/work/shared/data/redfish/*/*")
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		tree, err := LoadDir(d)
		if err != nil {
			t.Logf("%s: %v", d, err)
			continue
		}
		t.Logf("%s: %d resources, first %v", d, tree.Len(), tree.Paths()[:min(3, tree.Len())])
	}
}
