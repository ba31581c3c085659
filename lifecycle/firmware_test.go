package lifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		c    int
		ok   bool
	}{
		{"1.10", "1.9", 1, true},
		{"1.9", "1.10", -1, true},
		{"1.2.0", "1.2.0", 0, true},
		{"1.2", "1.2.1", -1, true},
		{"P79 v1.95 (12/06/2019)", "P79 v1.45 (12/06/2017)", 1, true},
		{"GXA7", "gxa5", 1, true},
		{"007", "7", 0, true},
		{"99999999999999999999999", "100000000000000000000000", -1, true},
		{"A1", "1.0", 0, false},
		{"0x42a0", "0x4299", 0, false},
		{"1.0-beta", "1.0-rc", 0, false},
		{"0x42", "0x42a0", 0, false},
		{"1.10", "1.9.1", 1, true},
	} {
		c, ok := compareVersions(tt.a, tt.b)
		if c != tt.c || ok != tt.ok {
			t.Errorf("compareVersions(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, c, ok, tt.c, tt.ok)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		c    int
	}{
		{"Bay 2", "Bay 10", -1},
		{"DIMM10", "DIMM9", 1},
		{"PSU 1", "PSU 1", 0},
		{"Fan 01", "Fan 1", -1}, // equal as numbers: bytes decide, so the order is total
		{"a", "1", 1},
		{"", "x", -1},
	} {
		if c := naturalCompare(tt.a, tt.b); c != tt.c {
			t.Errorf("naturalCompare(%q, %q) = %d; want %d", tt.a, tt.b, c, tt.c)
		}
	}
}

// The firmware of a small fleet: versions per model, the majority, and
// the outliers (a minority, or older than the majority).
func TestFirmwareOutliers(t *testing.T) {
	b, err := NewBuilder(WithNow(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	fleet := []struct{ bmc, psu1, psu2, drive string }{
		{"2.1.0", "1.2.0", "1.2.0", "GXA7"},
		{"2.1.0", "1.2.0", "1.2.0", "GXA7"},
		{"2.0.9", "1.2.0", "1.1.9", "GXA7"},
		{"2.1.0", "1.3.0", "1.2.0", "GXA5"},
	}
	for i, f := range fleet {
		comp := func(kind model.Kind, id, modelName, fw string) model.Component {
			return model.Component{Kind: kind, ID: id, Health: model.HealthOK,
				Inventory: model.Inventory{Model: modelName, FirmwareVersion: fw, SerialNumber: id}}
		}
		snap := &model.Snapshot{Components: []model.Component{
			comp(model.KindBMC, "bmc", "iDRAC9", f.bmc),
			comp(model.KindPSU, "psu1", "DPS-800AB", f.psu1),
			comp(model.KindPSU, "psu2", "DPS-800AB", f.psu2),
			comp(model.KindDrive, "d0", "MZ7LH960", f.drive),
			comp(model.KindMemory, "dimm0", "HMA84GR7", ""), // no firmware: not counted
		}}
		if err := b.Add("https://bmc"+string(rune('1'+i)), snap); err != nil {
			t.Fatal(err)
		}
	}
	inv := b.Inventory()
	s := inv.Summary()
	wantModels := []FirmwareModel{
		{Kind: model.KindBMC, Model: "iDRAC9", Parts: 4, Versions: []FirmwareCount{{"2.1.0", 3}, {"2.0.9", 1}}, Majority: "2.1.0"},
		{Kind: model.KindPSU, Model: "DPS-800AB", Parts: 8, Versions: []FirmwareCount{{"1.2.0", 6}, {"1.3.0", 1}, {"1.1.9", 1}}, Majority: "1.2.0"},
		{Kind: model.KindDrive, Model: "MZ7LH960", Parts: 4, Versions: []FirmwareCount{{"GXA7", 3}, {"GXA5", 1}}, Majority: "GXA7"},
	}
	if diff := cmp.Diff(wantModels, s.Firmware); diff != "" {
		t.Errorf("firmware per model (-want +got):\n%s", diff)
	}
	wantOutliers := []FirmwareOutlier{
		{Kind: model.KindBMC, Model: "iDRAC9", Version: "2.0.9", Parts: 1, Of: 4, Majority: "2.1.0", MajorityParts: 3, Minority: true, Older: true},
		{Kind: model.KindPSU, Model: "DPS-800AB", Version: "1.1.9", Parts: 1, Of: 8, Majority: "1.2.0", MajorityParts: 6, Minority: true, Older: true},
		// Newer than the majority, but held by one PSU in eight.
		{Kind: model.KindPSU, Model: "DPS-800AB", Version: "1.3.0", Parts: 1, Of: 8, Majority: "1.2.0", MajorityParts: 6, Minority: true},
		{Kind: model.KindDrive, Model: "MZ7LH960", Version: "GXA5", Parts: 1, Of: 4, Majority: "GXA7", MajorityParts: 3, Minority: true, Older: true},
	}
	if diff := cmp.Diff(wantOutliers, s.FirmwareOutliers); diff != "" {
		t.Errorf("firmware outliers (-want +got):\n%s", diff)
	}
	flagged := map[string]bool{}
	for _, r := range inv.Rows() {
		if r.FirmwareOutlier {
			flagged[r.Target+" "+r.Component] = true
		}
	}
	wantFlagged := map[string]bool{"https://bmc3 bmc": true, "https://bmc3 psu2": true, "https://bmc4 psu1": true, "https://bmc4 d0": true}
	if diff := cmp.Diff(wantFlagged, flagged); diff != "" {
		t.Errorf("rows flagged as firmware outliers (-want +got):\n%s", diff)
	}
}
