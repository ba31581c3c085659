package redfish_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// partCounts is one capture's row of testdata/golden/counts.json: the
// physical parts the reader reports.
type partCounts struct {
	Fans         int `json:"fans"`
	PSUs         int `json:"psus"`
	Drives       int `json:"physical_drives"`
	Temperatures int `json:"temperatures"`
}

// TestCaptureCounts pins, per capture, how many fans, PSUs, physical
// drives and temperatures are reported. The iLO, Cray and DMTF tower rows
// were checked by hand against the capture files (resources and legacy
// array entries counted); -update rewrites the file, and every number it
// changes needs that check again.
func TestCaptureCounts(t *testing.T) {
	golden := filepath.Join("testdata", "golden", "counts.json")
	got := map[string]partCounts{}
	for _, dir := range captureDirs(t) {
		rel, _ := filepath.Rel(filepath.Join("..", "testdata", "redfish"), dir)
		tree, err := redfishmock.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		snap, _ := scanTree(t, tree)
		got[filepath.ToSlash(rel)] = partCounts{
			Fans: snap.Count(model.KindFan), PSUs: snap.Count(model.KindPSU),
			Drives: snap.Count(model.KindDrive), Temperatures: snap.Count(model.KindTemperature),
		}
	}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./redfish -run TestCaptureCounts -update to create it)", err)
	}
	var want map[string]partCounts
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("part counts changed (-want +got); check every changed number against the capture by hand:\n%s", strings.TrimSpace(diff))
	}
}
