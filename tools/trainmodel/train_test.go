package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/smart/backblaze"
)

var update = flag.Bool("update", false, "rewrite testdata/small-model.json")

const (
	failedFile  = "../../testdata/backblaze/backblaze_2018_st4000dm000/failed_drives.csv.gz"
	healthyFile = "../../testdata/backblaze/backblaze_2018_st4000dm000/healthy_drives_sample.csv.gz"
	shippedFile = "../../detector/diskmodel/disk-model-v1.json"
)

// smallSet is the failed drives' first days with a third of them
// relabelled healthy (failure 0 on every row): a set small enough to
// train on in a test, with healthy drives that carry real counters.
func smallSet(t testing.TB, days int) []string {
	t.Helper()
	f, err := os.Open(failedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	seen, prev := 0, ""
	for sc.Scan() {
		l := sc.Text()
		if len(lines) == 0 {
			lines = append(lines, l)
			continue
		}
		fields := strings.Split(l, ",")
		if fields[1] != prev {
			seen, prev = seen+1, fields[1]
		}
		if seen > days {
			break
		}
		h := fnv.New32a()
		h.Write([]byte(fields[0]))
		if h.Sum32()%3 == 0 {
			fields[3] = "0"
		}
		lines = append(lines, strings.Join(fields, ","))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func sourceOf(name string, lines []string) []backblaze.Source {
	return []backblaze.Source{{Name: name, R: strings.NewReader(strings.Join(lines, "\n") + "\n")}}
}

func readLines(t testing.TB, lines []string, labels bool) *dataset {
	t.Helper()
	ds, err := readDataset(context.Background(), sourceOf("small.csv", lines), readOptions{split: "tune", cfg: detector.DefaultConfig(), labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// The training rows are causal: the features and rules' risk of a row
// do not change when every later row is changed; and they never read the
// failure label.
func TestDatasetCausal(t *testing.T) {
	lines := smallSet(t, 80)
	const cut = "2018-02-10" // rows after it are perturbed
	perturbed := []string{lines[0]}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[1] > cut && !strings.Contains(f[1], "/") {
			for k := 4; k < len(f); k++ {
				if v, err := parseFloat(f[k]); err == nil {
					f[k] = formatFloat(v*7 + 13)
				}
			}
		}
		perturbed = append(perturbed, strings.Join(f, ","))
	}
	a, b := readLines(t, lines, true), readLines(t, perturbed, true)
	unlabelled := readLines(t, lines, false)
	if len(a.drives) != len(b.drives) || len(a.drives) < 20 {
		t.Fatalf("%d and %d drives", len(a.drives), len(b.drives))
	}
	nf := len(a.names)
	compared, differ := 0, 0
	for i, da := range a.drives {
		db, du := b.drives[i], unlabelled.drives[i]
		if !cmp.Equal(da.feats, du.feats, cmp.Comparer(same32)) || !cmp.Equal(da.rules, du.rules) {
			t.Errorf("%s: features differ with the labels unread", da.serial)
		}
		for r, day := range da.days {
			if day.String() > cut {
				if r < len(db.days) && !slicesEqual32(da.feats[r*nf:(r+1)*nf], db.feats[r*nf:(r+1)*nf]) {
					differ++
				}
				continue
			}
			compared++
			if !slicesEqual32(da.feats[r*nf:(r+1)*nf], db.feats[r*nf:(r+1)*nf]) || da.rules[r] != db.rules[r] {
				t.Fatalf("%s on %s: features or risk changed when later rows did", da.serial, day)
			}
		}
	}
	if compared < 500 || differ == 0 {
		t.Errorf("%d rows compared, %d later rows differ: the test checks little", compared, differ)
	}
}

func same32(a, b float32) bool { return a == b || math.IsNaN(float64(a)) && math.IsNaN(float64(b)) }

func slicesEqual32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !same32(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Newton's method finds the coefficients a logistic model was drawn from
// (within sampling error), and the same bits twice.
func TestFitLogistic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 20000, 3
	truth := []float64{1.5, -2, 0}
	x := make([]float64, n*d)
	y := make([]bool, n)
	w := make([]float64, n)
	for i := range n {
		z := -1.0
		for j := range d {
			x[i*d+j] = rng.NormFloat64()
			z += truth[j] * x[i*d+j]
		}
		y[i] = rng.Float64() < sigmoid(z)
		w[i] = 1
	}
	b0, beta, iters, err := fitLogistic(x, d, y, w, 0.01, 50)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(b0+1) > 0.1 || iters > 20 {
		t.Errorf("intercept %v after %d iterations, want -1", b0, iters)
	}
	for j := range d {
		if math.Abs(beta[j]-truth[j]) > 0.1 {
			t.Errorf("beta[%d] = %v, want %v", j, beta[j], truth[j])
		}
	}
	b0b, betab, _, _ := fitLogistic(x, d, y, w, 0.01, 50)
	if b0b != b0 || !cmp.Equal(beta, betab) {
		t.Error("two fits differ")
	}
}

// Training on a small set gives its golden model file, byte for byte
// (go test -update rewrites it), and the file reads back as a model.
func TestTrainSmallGolden(t *testing.T) {
	ds := readLines(t, smallSet(t, 120), true)
	o := defaultTrainOptions()
	data, err := trainFile(ds, detector.DefaultConfig(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := trainFile(readLines(t, smallSet(t, 120), true), detector.DefaultConfig(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Error("two trainings differ")
	}
	golden := filepath.Join("testdata", "small-model.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(data)); diff != "" {
		t.Errorf("%s (-want +got)\n%s", golden, diff)
	}
	m, err := detector.ParseDiskModel(golden, data)
	if err != nil || m.Training.Split != "tune" || m.Training.Failed == 0 || m.Training.Drives <= m.Training.Failed {
		t.Errorf("model %+v: %v", m, err)
	}
}

// Retraining from the tune split of the 2018 set reproduces the shipped
// model file byte for byte. It reads 70 MB of CSV and trains (about 8 s,
// a minute under the race detector): skipped with -short and -race.
func TestTrainReproducesShippedModel(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("the full retraining: without -short and -race")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-check", "-out", shippedFile, failedFile, healthyFile}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "reproduced") {
		t.Errorf("output %q", out.String())
	}
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
