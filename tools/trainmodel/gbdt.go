package main

import (
	"math"
	"slices"
)

// Gradient-boosted trees over the same features and examples, to check in
// cross-validation (-cv -kind trees) whether a model that finds
// interactions and thresholds on its own does better than the shipped
// logistic regression. On the 2018 tune split it does not
// (docs/evaluation.md), so the detector runs only the logistic model; the
// trees stay here so that the comparison can be run again on other data.
//
// The fit is the usual one: splits on at most Bins quantile bins per
// feature (missing values in a bin of their own, sent left), leaf values
// by one Newton step on the weighted log-loss, shrunk by LR.

// gbdtOptions are the trees' settings.
type gbdtOptions struct {
	Trees, Depth, Bins, MinLeaf int
	LR, L2                      float64
}

func defaultGBDTOptions() gbdtOptions {
	return gbdtOptions{Trees: 100, Depth: 3, Bins: 32, MinLeaf: 100, LR: 0.05, L2: 1}
}

// treeNode is a split (Feature >= 0) or a leaf (Feature -1, Value).
type treeNode struct {
	Feature   int     // index in forest.cols; -1 leaf
	Threshold float64 // go left when x <= Threshold or missing
	Left      int
	Right     int
	Value     float64
}

// forest is a trained ensemble: its logit is base plus a leaf of each tree.
type forest struct {
	cols  []int
	base  float64
	trees [][]treeNode
}

// logit is the forest's logit of drive d's row i.
func (f *forest) logit(d *driveData, i, nf int) float64 {
	x := func(k int) float64 { return d.feature(i, f.cols[k], nf) }
	z := f.base
	for _, t := range f.trees {
		z += treeValue(t, x)
	}
	return z
}

// trainForest fits boosted trees on the drives' examples (the same
// examples and hard-negative mining as trainModel).
func trainForest(ds *dataset, drives []*driveData, o trainOptions, g gbdtOptions) (*forest, error) {
	nf := len(ds.names)
	base := baseExamples(drives, o)
	cols, err := featureColumns(ds, o)
	if err != nil {
		return nil, err
	}
	f := &forest{cols: cols}
	exs := slices.Clone(base)
	for round := 0; ; round++ {
		f.trees = nil
		fitForest(f, drives, exs, nf, g)
		if round >= o.MineRounds {
			break
		}
		exs = mineHardNegatives(drives, base, o, func(d *driveData, i int) float64 { return f.logit(d, i, nf) })
	}
	return f, nil
}

// fitForest boosts g.Trees trees on the examples into f.
func fitForest(f *forest, drives []*driveData, exs []example, nf int, g gbdtOptions) {
	n, d := len(exs), len(f.cols)
	bins := min(max(g.Bins, 1), 254) // bin 0 is missing; a byte holds the rest
	w := balancedWeights(exs)
	y := make([]float64, n)
	for r, e := range exs {
		if e.y {
			y[r] = 1
		}
	}
	// Bins: quantile cut points per feature; bin 0 is missing.
	x := make([]float64, n*d)
	for r, e := range exs {
		for k, j := range f.cols {
			x[r*d+k] = drives[e.d].feature(e.i, j, nf)
		}
	}
	cuts := make([][]float64, d)
	bin := make([]uint8, n*d)
	vals := make([]float64, 0, n)
	for k := range d {
		vals = vals[:0]
		for r := range n {
			if v := x[r*d+k]; !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		slices.Sort(vals)
		vals = slices.Compact(vals)
		var c []float64
		if len(vals) <= bins {
			c = slices.Clone(vals) // vals is reused for the next feature
		} else {
			for b := 1; b <= bins; b++ {
				v := vals[min(len(vals)-1, b*len(vals)/bins)]
				if len(c) == 0 || v > c[len(c)-1] {
					c = append(c, v)
				}
			}
		}
		cuts[k] = c
		for r := range n {
			v := x[r*d+k]
			if math.IsNaN(v) {
				bin[r*d+k] = 0
				continue
			}
			b, _ := slices.BinarySearch(c, v) // c[b] >= v
			bin[r*d+k] = uint8(b + 1)
		}
	}
	// Base score: the weighted log-odds.
	var sw, sy float64
	for r := range n {
		sw += w[r]
		sy += w[r] * y[r]
	}
	p0 := min(max(sy/sw, 1e-6), 1-1e-6)
	f.base = math.Log(p0 / (1 - p0))
	z := make([]float64, n)
	for r := range z {
		z[r] = f.base
	}
	grad, hess := make([]float64, n), make([]float64, n)
	idx := make([]int, n)
	for range g.Trees {
		for r := range n {
			p := sigmoid(z[r])
			grad[r] = w[r] * (p - y[r])
			hess[r] = w[r] * p * (1 - p)
		}
		for r := range idx {
			idx[r] = r
		}
		var t []treeNode
		var grow func(rows []int, depth int) int
		grow = func(rows []int, depth int) int {
			var G, H float64
			for _, r := range rows {
				G += grad[r]
				H += hess[r]
			}
			me := len(t)
			t = append(t, treeNode{Feature: -1, Value: -g.LR * G / (H + g.L2)})
			if depth >= g.Depth || len(rows) < 2*g.MinLeaf {
				return me
			}
			best, bk, bb := 0.0, -1, 0
			parent := G * G / (H + g.L2)
			hg := make([]float64, 256)
			hh := make([]float64, 256)
			hc := make([]int, 256)
			for k := range d {
				clear(hg)
				clear(hh)
				clear(hc)
				for _, r := range rows {
					b := bin[r*d+k]
					hg[b] += grad[r]
					hh[b] += hess[r]
					hc[b]++
				}
				var lg, lh float64
				lc := 0
				for b := 0; b <= len(cuts[k]); b++ {
					lg += hg[b]
					lh += hh[b]
					lc += hc[b]
					if lc < g.MinLeaf || len(rows)-lc < g.MinLeaf {
						continue
					}
					rg, rh := G-lg, H-lh
					gain := lg*lg/(lh+g.L2) + rg*rg/(rh+g.L2) - parent
					if gain > best+1e-12 {
						best, bk, bb = gain, k, b
					}
				}
			}
			if bk < 0 {
				return me
			}
			var left, right []int
			for _, r := range rows {
				if int(bin[r*d+bk]) <= bb {
					left = append(left, r)
				} else {
					right = append(right, r)
				}
			}
			th := math.Inf(-1) // bb == 0: only missing goes left
			if bb > 0 {
				th = cuts[bk][bb-1]
			}
			t[me].Feature, t[me].Threshold = bk, th
			l := grow(left, depth+1)
			rr := grow(right, depth+1)
			t[me].Left, t[me].Right = l, rr
			return me
		}
		grow(idx, 0)
		for r := range n {
			z[r] += treeValue(t, func(k int) float64 { return x[r*d+k] })
		}
		f.trees = append(f.trees, t)
	}
}

// treeValue is the leaf value x falls in.
func treeValue(t []treeNode, x func(k int) float64) float64 {
	n := 0
	for t[n].Feature >= 0 {
		v := x(t[n].Feature)
		if math.IsNaN(v) || v <= t[n].Threshold {
			n = t[n].Left
		} else {
			n = t[n].Right
		}
	}
	return t[n].Value
}
