package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/smart/backblaze"
)

// frontierSet writes the failed drives' first 150 days with a third of
// them relabelled healthy (failure 0 on every row), so that a frontier has
// healthy drives with real counters to flag; flip also swaps every label.
func frontierSet(t *testing.T, dir, name string, flip bool) string {
	t.Helper()
	lines := firstDays(csvLines(t, bb2018Failed), 1, 150)
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		h := fnv.New32a()
		h.Write([]byte(f[0]))
		if h.Sum32()%3 == 0 {
			f[3] = "0"
		}
		if flip {
			f[3] = map[string]string{"0": "1", "1": "0"}[f[3]]
		}
		out = append(out, strings.Join(f, ","))
	}
	return writeLines(t, dir, name, out)
}

// configFile writes a detector configuration.
func configFile(t *testing.T, dir string, js string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("cfg%d.json", len(js)))
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The frontier's replayed state machine is the detector's: at several
// alarm thresholds, the alarms a trace gives each drive are those the
// detector's own events give it, drive by drive (first and last alarm,
// episodes). The detector runs without the learned model here, as the
// replay path does in this build (see docs/evaluation.md).
func TestEvalFrontierMatchesReplay(t *testing.T) {
	dir := t.TempDir()
	f := frontierSet(t, dir, "set.csv", false)
	off := configFile(t, dir, `{"disk": {"model": {"enabled": false}}}`)
	ft, _, err := recordFrontier(context.Background(), &evalFlags{format: "backblaze", rule: "detector", split: "all", config: off, workers: 2},
		[]string{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ft.model != nil || ft.names[0] != predDetector {
		t.Fatalf("model %v, predictors %v", ft.model, ft.names)
	}
	drives := ft.tr.Drives()
	traces := ft.traces[0].For(ft.tr)
	for _, deg := range []float64{0.5, 0.35, 0.65, 0.85} {
		pol := ft.policy.At(deg)
		cfgPath := configFile(t, dir, fmt.Sprintf(`{"watch": %g, "failing": %g, "kinds": {"drive": {"degrading": %g}}, "disk": {"model": {"enabled": false}}}`,
			pol.Watch, pol.Failing, pol.Degrading))
		cfg, err := loadDetectorConfig(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		tr := evaluation.NewTracker()
		_, err = replayBackblaze(context.Background(), replayOptions{files: []string{f}, labels: true, cfg: &cfg, workers: 2},
			func(day time.Time, rows []backblaze.Row, events []detector.Event) error {
				for i := range rows {
					tr.Row(rows[i].Drive, rows[i].Serial, rows[i].Model, evaluation.DayOf(day), rows[i].Failure)
				}
				for i := range events {
					if ev := &events[i]; isAlarm(ev) {
						if err := tr.Alarm(ev.Component.ID, evaluation.DayOf(ev.Time), ev.Type == detector.EventRaised); err != nil {
							return err
						}
					}
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		want := tr.Drives()
		got := evaluation.Apply(drives, traces, pol)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("degrading %g: (-detector's events +replayed traces)\n%s", deg, diff)
		}
		alarmed, healthy := 0, 0
		for _, d := range got {
			if d.Alarmed {
				alarmed++
				if !d.Failed {
					healthy++
				}
			}
		}
		if alarmed < 10 || healthy == 0 {
			t.Errorf("degrading %g: %d drives alarmed, %d healthy: the comparison checks little", deg, alarmed, healthy)
		}
	}
}

// The traces do not depend on the labels: flipping every failure label
// changes no score of any predictor.
func TestEvalFrontierIgnoresLabels(t *testing.T) {
	dir := t.TempDir()
	fl := &evalFlags{format: "backblaze", rule: "detector", split: "all", workers: 2}
	var scores [2][][]evaluation.Trace
	for i, flip := range []bool{false, true} {
		ft, _, err := recordFrontier(context.Background(), fl, []string{frontierSet(t, dir, fmt.Sprintf("set%d.csv", i), flip)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range ft.traces {
			scores[i] = append(scores[i], tr.For(ft.tr))
		}
	}
	if len(scores[0]) != 7 {
		t.Fatalf("%d predictors, want 7 (detector, detector-rules, model and four rule families)", len(scores[0]))
	}
	if diff := cmp.Diff(scores[0], scores[1], cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })); diff != "" {
		t.Errorf("labels changed the scores (-true +flipped)\n%s", diff)
	}
}

// eval --frontier --json --plot: every predictor on each half, points with
// intervals, the detector's default marked; the plot has a line per
// predictor drawn; the text report has the budget table.
func TestEvalFrontierCommand(t *testing.T) {
	dir := t.TempDir()
	f := frontierSet(t, dir, "set.csv", false)
	svg := filepath.Join(dir, "frontier.svg")
	out, err := runApp(t, "", "eval", "--frontier", "--json", "--resamples", "20", "--plot", svg, f)
	if err != nil {
		t.Fatal(err)
	}
	var res frontierOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	want := []string{"detector", "detector-rules", "model", "any5", "5or197", "growth7", "growth30"}
	if len(res.Splits) != 2 || res.Splits[0].Split != "tune" || res.Splits[1].Split != "validate" || res.Model != "disk-model-v1" {
		t.Fatalf("splits %+v, model %q", res.Splits, res.Model)
	}
	for _, sf := range res.Splits {
		var names []string
		for _, fr := range sf.Frontiers {
			names = append(names, fr.Name)
			if len(fr.Points) == 0 {
				t.Errorf("%s %s: no point", sf.Split, fr.Name)
			}
			for i := 1; i < len(fr.Points); i++ {
				if fr.Points[i].Report.HealthyFlagged < fr.Points[i-1].Report.HealthyFlagged {
					t.Errorf("%s %s: points out of order", sf.Split, fr.Name)
				}
			}
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: predictors %v, want %v", sf.Split, names, want)
		}
		if d := sf.Frontiers[0].Default; d == nil || d.Threshold != 0.5 || d.Report.Resamples != 20 {
			t.Errorf("%s: detector default %+v", sf.Split, d)
		}
		if sf.Drives != sf.Failed+sf.Healthy || sf.Healthy == 0 {
			t.Errorf("%s: %d drives, %d failed, %d healthy", sf.Split, sf.Drives, sf.Failed, sf.Healthy)
		}
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	drawn := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", svg, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			for _, a := range se.Attr {
				if a.Name.Local == "data-frontier" {
					drawn[a.Value] = true
				}
			}
		}
	}
	if !drawn["detector"] || !drawn["any5"] {
		t.Errorf("plot draws %v", drawn)
	}
	// The second row: recall against new onsets, with the ceiling.
	for _, s := range []string{"new onsets per 100 healthy drive-years (log scale)", "target: new onsets per 100 drive-years at most 1"} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("plot lacks %q", s)
		}
	}
	text, err := runApp(t, "", "eval", "--frontier", "--resamples", "10", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{"best recall@7d", "split tune", "split validate", "<= 2%/yr", "within a budget of new onsets per 100 healthy drive-years", "<= 1/100dy"}, want...) {
		if !strings.Contains(text, s) {
			t.Errorf("text report lacks %q", s)
		}
	}
	if _, err := runApp(t, "", "eval", "--frontier", "--rule", "backblaze", f); err == nil {
		t.Error("--frontier with --rule accepted")
	}
	// The plot as a PNG, by its name; another name is refused before the
	// replay, and nothing is written.
	pngPath := filepath.Join(dir, "frontier.png")
	if _, err := runApp(t, "", "eval", "--frontier", "--resamples", "10", "--plot", pngPath, f); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pngPath); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s: not a PNG (%v)", pngPath, err)
	}
	jpg := filepath.Join(dir, "frontier.jpg")
	if _, err := runApp(t, "", "eval", "--frontier", "--plot", jpg, f); err == nil || !strings.Contains(err.Error(), `want a file named .svg or .png, got ".jpg"`) {
		t.Errorf("--plot frontier.jpg: %v", err)
	}
	if _, err := os.Stat(jpg); !os.IsNotExist(err) {
		t.Errorf("%s written (%v)", jpg, err)
	}
}

// BenchmarkEvalFrontier2018 is eval --frontier on the 2018 set (both
// halves, every predictor, the bootstrap at 1000 resamples): run it with
//
//	go test ./cmd/prefail -run '^$' -bench EvalFrontier2018 -benchtime 1x
func BenchmarkEvalFrontier2018(b *testing.B) {
	for b.Loop() {
		if _, err := runFrontier(context.Background(), &evalFlags{format: "backblaze", rule: "detector", split: "all", resamples: 1000, seed: evaluation.DefaultSeed},
			[]string{bb2018Failed, bb2018Healthy}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
