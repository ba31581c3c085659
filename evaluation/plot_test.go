package evaluation

import (
	"bytes"
	"encoding/xml"
	"flag"
	"image"
	"image/color"
	"image/png"
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

// The plot is well-formed XML with, per panel and row (flag rate, new
// onsets), one line and one band per frontier, and the same bytes as its
// golden file (go test -update rewrites it).
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
	want := map[string]int{"detector": 4, "any5": 4}
	if root != "svg" || !cmp.Equal(want, lines) || !cmp.Equal(want, bands) {
		t.Errorf("root %q, lines %v, bands %v; want a line and a band per frontier per panel and row", root, lines, bands)
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

// lineFrontier is a frontier through (rate, recall@7d) points, with a
// band of ±5 points; its new onsets per 100 drive-years are 100 times its
// rate (0.2 at 0.2%, 5 at 5%), so the second row draws the same line.
func lineFrontier(name string, pts ...[2]float64) Frontier {
	f := Frontier{Name: name}
	for _, p := range pts {
		r := Fraction(p[1])
		f.Points = append(f.Points, Point{Report: Report{HealthyFlagRate: Fraction(p[0]), NewOnsetPer100DriveYears: Fraction(100 * p[0]),
			Recall: []Recall{{Days: 7, Recall: r, CI: Interval{Low: r - 0.05, High: r + 0.05}}}}})
	}
	return f
}

// The PNG draws what the SVG does: twice its size, each frontier's line in
// its colour where the line runs (the detector rising from the lower left,
// any5 falling from the upper left), in both rows (against the flag rate,
// then against new onsets), white where nothing is, and the panel's title
// above it.
func TestPlotPNG(t *testing.T) {
	det := lineFrontier("detector", [2]float64{0.002, 0.1}, [2]float64{0.05, 0.4})
	rule := lineFrontier("any5", [2]float64{0.002, 0.4}, [2]float64{0.05, 0.1})
	b, err := PlotPNG([]Panel{{Title: "tune", Frontiers: []Frontier{det, rule}}}, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(2*560, 2*828) {
		t.Fatalf("size %v, want twice the SVG's 560 x 828", got)
	}
	// Pixels of exactly colour c within r (in SVG units).
	count := func(r image.Rectangle, c color.RGBA) int {
		n := 0
		for y := 2 * r.Min.Y; y < 2*r.Max.Y; y++ {
			for x := 2 * r.Min.X; x < 2*r.Max.X; x++ {
				if color.RGBAModel.Convert(img.At(x, y)) == c {
					n++
				}
			}
		}
		return n
	}
	black, blue := color.RGBA{0, 0, 0, 255}, color.RGBA{0x1f, 0x77, 0xb4, 255}
	// The first row's plot area is x 64..544, y 40..344; its left and
	// right thirds. The second row is the same, 400 lower.
	for _, row := range []struct {
		name string
		dy   int
	}{{"flag rate", 0}, {"new onsets", 400}} {
		lowLeft, highLeft := image.Rect(130, 200, 220, 330).Add(image.Pt(0, row.dy)), image.Rect(130, 60, 220, 190).Add(image.Pt(0, row.dy))
		lowRight, highRight := image.Rect(380, 200, 470, 330).Add(image.Pt(0, row.dy)), image.Rect(380, 60, 470, 190).Add(image.Pt(0, row.dy))
		for _, c := range []struct {
			name  string
			r     image.Rectangle
			col   color.RGBA
			drawn bool
		}{
			{"detector, lower left", lowLeft, black, true}, {"detector, upper right", highRight, black, true},
			{"detector, upper left", highLeft, black, false}, {"detector, lower right", lowRight, black, false},
			{"any5, upper left", highLeft, blue, true}, {"any5, lower right", lowRight, blue, true},
			{"any5, lower left", lowLeft, blue, false}, {"any5, upper right", highRight, blue, false},
		} {
			if n := count(c.r, c.col); (n > 50) != c.drawn {
				t.Errorf("%s row, %s: %d pixels of its colour, want drawn %v", row.name, c.name, n, c.drawn)
			}
		}
	}
	if n := count(image.Rect(66, 300, 100, 340), color.RGBA{255, 255, 255, 255}); n < 2*2*30*30 {
		t.Errorf("an empty corner has only %d white pixels", n)
	}
	if n := count(image.Rect(280, 8, 330, 30), black); n < 20 {
		t.Errorf("the title has %d black pixels", n)
	}
}
