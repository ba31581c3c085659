package evaluation

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// plotPanels are two panels of two frontiers each, from sweepSet.
func plotPanels(t *testing.T) []Panel {
	t.Helper()
	drives, traces := sweepSet()
	h := detectorPolicy()
	o := SweepOptions{Budgets: DefaultBudgets(), Options: Options{Resamples: 50, Seed: 1}}
	det, err := Sweep("detector", "", drives, traces, func(t float64) Policy { return h.At(t) }, false, []float64{0.5}, o)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := Sweep("any5", "", drives, traces, func(t float64) Policy { return Above{K: t} }, true, []float64{0}, o)
	if err != nil {
		t.Fatal(err)
	}
	return []Panel{{Title: "tune <hand-made>", Frontiers: []Frontier{det, rule}}, {Title: "validate", Frontiers: []Frontier{det, rule}}}
}

// The plot is well-formed XML with, per panel, one line and one band per
// frontier, and the same bytes as its golden file (go test -update
// rewrites it).
func TestPlotSVG(t *testing.T) {
	svg := PlotSVG(plotPanels(t), PlotOptions{})
	dec := xml.NewDecoder(bytes.NewReader(svg))
	lines, bands := map[string]int{}, map[string]int{}
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		if se.Name.Local != "path" {
			continue
		}
		var class, name string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "class":
				class = a.Value
			case "data-frontier":
				name = a.Value
			}
		}
		switch class {
		case "frontier":
			lines[name]++
		case "band":
			bands[name]++
		}
	}
	want := map[string]int{"detector": 2, "any5": 2}
	if root != "svg" || !cmp.Equal(want, lines) || !cmp.Equal(want, bands) {
		t.Errorf("root %q, lines %v, bands %v; want a line and a band per frontier per panel", root, lines, bands)
	}
	golden := filepath.Join("testdata", "frontier.svg")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, svg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want2, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want2), string(svg)); diff != "" {
		t.Errorf("%s (-want +got)\n%s", golden, diff)
	}
}
