package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/prefail/prefail/evaluation"
)

// syntheticSet is 40 failed and 160 healthy drives of 60 days with two
// features: "signal" climbs over a failed drive's last 20 days (and is
// missing on one drive in ten), "noise" is noise.
func syntheticSet() *dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &dataset{names: []string{"signal", "noise"}}
	for n := range 200 {
		d := &driveData{serial: fmt.Sprintf("S%03d", n), failed: n < 40}
		for i := range 60 {
			d.days = append(d.days, evaluation.Day(17500+i))
			sig := rng.Float64()
			if d.failed && i >= 40 {
				sig += float64(i-39) / 4
			}
			if n%10 == 3 {
				sig = math.NaN()
			}
			d.feats = append(d.feats, float32(sig), float32(rng.NormFloat64()))
			d.rules = append(d.rules, 0)
		}
		ds.drives = append(ds.drives, d)
		ds.rows += len(d.days)
	}
	return ds
}

// The trees learn the signal and not the noise: the first split is on it,
// a failed drive's last day scores above every healthy drive's worst day
// (missing drives aside), and training twice gives the same trees.
func TestTrainForest(t *testing.T) {
	ds := syntheticSet()
	o := defaultTrainOptions()
	o.Features, o.MineRounds = nil, 1
	g := gbdtOptions{Trees: 30, Depth: 2, Bins: 16, MinLeaf: 10, LR: 0.2, L2: 1}
	f, err := trainForest(ds, ds.drives, o, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.trees) != g.Trees || f.trees[0][0].Feature != 0 {
		t.Fatalf("%d trees, first split on feature %d, want %d trees split first on signal", len(f.trees), f.trees[0][0].Feature, g.Trees)
	}
	worstHealthy := math.Inf(-1)
	for _, d := range ds.drives {
		if d.failed || math.IsNaN(d.feature(0, 0, 2)) {
			continue
		}
		for i := range d.days {
			worstHealthy = math.Max(worstHealthy, f.logit(d, i, 2))
		}
	}
	for _, d := range ds.drives {
		if !d.failed || math.IsNaN(d.feature(0, 0, 2)) {
			continue
		}
		if z := f.logit(d, len(d.days)-1, 2); z <= worstHealthy {
			t.Errorf("%s: last day's logit %.3f, not above the worst healthy day's %.3f", d.serial, z, worstHealthy)
		}
	}
	again, err := trainForest(ds, ds.drives, o, g)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, again) {
		t.Error("training twice gave different trees")
	}
	o.Features = []string{"no-such"}
	if _, err := trainForest(ds, ds.drives, o, g); err == nil {
		t.Error("an unknown feature accepted")
	}
}
