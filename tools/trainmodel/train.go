package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
)

// trainOptions are the trainer's settings; they are written into the
// model file's provenance.
type trainOptions struct {
	// Positives are the rows of failed drives from MinLead to Horizon days
	// before their failure day; the days before that are neither (a
	// failing drive's early days are not healthy ones), and every row of
	// a healthy drive is a negative.
	Horizon, MinLead int
	// L2 is the ridge penalty on the standardized weights.
	L2 float64
	// NegStride samples one healthy row in NegStride (by day, offset by
	// the serial's hash); MineRounds rounds of hard-negative mining then
	// add each healthy drive's MineTop highest-scoring rows, weighing
	// MineWeight per drive: a healthy drive is flagged by its worst day,
	// not its average one.
	NegStride, MineRounds, MineTop int
	MineWeight                     float64
	// MaxIter bounds Newton's iterations; Clip the standardized values.
	MaxIter int
	Clip    float64
	// Features restricts the inputs (empty: every feature that varies).
	Features []string
	// AlarmBudget: the alarm logit is set so that the detector with the
	// model (rules and model at Weight 1, degrading at the drives'
	// configured level) flags this rate of the training split's healthy
	// drives per year. MinScore is the model's floor.
	AlarmBudget float64
	MinScore    float64
}

func defaultTrainOptions() trainOptions {
	return trainOptions{Horizon: 30, MinLead: 0, L2: 30, NegStride: 4, MineRounds: 2, MineTop: 3, MineWeight: 1,
		MaxIter: 50, Clip: 8, Features: defaultFeatures(), AlarmBudget: 0.02, MinScore: 0.02}
}

// defaultFeatures are the media counters' features. The workload and
// temperature features are left out: in cross-validation within tune they
// only added false alarms (a healthy drive's busiest or hottest day is its
// own worst score); the age changed nothing there, and reading it would
// cost the detector a daily series per drive (docs/evaluation.md). The
// counters absent from the training data (184, 189, 199) are dropped by
// the trainer, having no variance there.
func defaultFeatures() []string {
	var out []string
	for _, n := range detector.DiskFeatureNames() {
		if strings.HasPrefix(n, "media.") && !strings.Contains(n, "_per_") || n == "smart_197_raw.drop_30d" {
			out = append(out, n)
			continue
		}
		for _, r := range []string{"smart_5_raw.", "smart_187_raw.", "smart_188_raw.", "smart_197_raw.", "smart_198_raw.", "smart_184_raw.", "smart_189_raw.", "smart_199_raw."} {
			if strings.HasPrefix(n, r) && !strings.Contains(n, "per_1000") && !strings.Contains(n, "drop") {
				out = append(out, n)
			}
		}
	}
	return out
}

// settings returns the options as the provenance writes them.
func (o trainOptions) settings() map[string]float64 {
	return map[string]float64{"horizon_days": float64(o.Horizon), "min_lead_days": float64(o.MinLead), "l2": o.L2,
		"negative_stride": float64(o.NegStride), "mine_rounds": float64(o.MineRounds), "mine_top": float64(o.MineTop),
		"mine_weight": o.MineWeight, "max_iterations": float64(o.MaxIter), "alarm_budget_per_year": o.AlarmBudget}
}

// example is one training row: drive d's row i.
type example struct {
	d, i int
	y    bool
	w    float64
}

// baseExamples are the examples before mining: every row of a failed
// drive from MinLead to Horizon days before its failure day (weighing 1
// per drive), and one row in NegStride of each healthy drive (1 per drive).
func baseExamples(drives []*driveData, o trainOptions) []example {
	var base []example
	for di, d := range drives {
		if d.failed {
			var pos []int
			fd := d.failureDay()
			for i, day := range d.days {
				if lead := int(fd - day); lead >= o.MinLead && lead <= o.Horizon {
					pos = append(pos, i)
				}
			}
			for _, i := range pos {
				base = append(base, example{d: di, i: i, y: true, w: 1 / float64(len(pos))})
			}
			continue
		}
		stride := max(o.NegStride, 1)
		off := int(hash32(d.serial) % uint32(stride))
		var neg []int
		for i := range d.days {
			if (i+off)%stride == 0 {
				neg = append(neg, i)
			}
		}
		for _, i := range neg {
			base = append(base, example{d: di, i: i, w: 1 / float64(len(neg))})
		}
	}
	return base
}

// featureColumns returns the dataset's columns of the requested
// features (all of them when none is named).
func featureColumns(ds *dataset, o trainOptions) ([]int, error) {
	if len(o.Features) == 0 {
		cols := make([]int, len(ds.names))
		for j := range cols {
			cols[j] = j
		}
		return cols, nil
	}
	var cols []int
	for _, n := range o.Features {
		j := slices.Index(ds.names, n)
		if j < 0 {
			return nil, fmt.Errorf("trainmodel: no feature %q", n)
		}
		cols = append(cols, j)
	}
	return cols, nil
}

// mineHardNegatives returns the base examples and, for each healthy
// drive, its MineTop highest-scoring rows under score, weighing MineWeight
// per drive: a healthy drive is flagged by its worst day, not its average
// one.
func mineHardNegatives(drives []*driveData, base []example, o trainOptions, score func(d *driveData, i int) float64) []example {
	exs := slices.Clone(base)
	type scored struct {
		i int
		z float64
	}
	var top []scored
	for di, d := range drives {
		if d.failed {
			continue
		}
		top = top[:0]
		for i := range d.days {
			top = append(top, scored{i, score(d, i)})
		}
		slices.SortStableFunc(top, func(a, b scored) int { return cmp.Or(cmp.Compare(b.z, a.z), cmp.Compare(a.i, b.i)) })
		n := min(len(top), o.MineTop)
		for _, s := range top[:n] {
			exs = append(exs, example{d: di, i: s.i, w: o.MineWeight / float64(n)})
		}
	}
	return exs
}

// hash32 is the serial's FNV-1a hash (the split's).
func hash32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// fitted is a trained model before its alarm point is chosen.
type fitted struct {
	names     []string // the model's features
	cols      []int    // their columns in the dataset
	mean, sd  []float64
	intercept float64
	weights   []float64
	examples  int
	positives int
	iters     int
}

// trainModel fits the model on the drives given (the tune split).
func trainModel(ds *dataset, drives []*driveData, o trainOptions) (*fitted, error) {
	nf := len(ds.names)
	base := baseExamples(drives, o)
	// Columns: the requested features, of which those that vary.
	cols, err := featureColumns(ds, o)
	if err != nil {
		return nil, err
	}
	mean, sd := make([]float64, nf), make([]float64, nf)
	var keep []int
	for _, j := range cols {
		var s, ss float64
		n := 0
		for _, e := range base {
			v := drives[e.d].feature(e.i, j, nf)
			if math.IsNaN(v) {
				continue
			}
			s += v
			ss += float64(v * v)
			n++
		}
		if n == 0 {
			continue
		}
		m := s / float64(n)
		v := ss/float64(n) - float64(m*m)
		if v <= 1e-12 {
			continue
		}
		mean[j], sd[j] = round6(m), round6(math.Sqrt(v))
		keep = append(keep, j)
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("trainmodel: no feature varies")
	}
	ft := &fitted{cols: keep}
	for _, j := range keep {
		ft.names = append(ft.names, ds.names[j])
		ft.mean = append(ft.mean, mean[j])
		ft.sd = append(ft.sd, sd[j])
	}
	exs := slices.Clone(base)
	for round := 0; ; round++ {
		x, y, w := ft.matrix(ds, drives, exs, o.Clip)
		b0, beta, iters, err := fitLogistic(x, len(keep), y, w, o.L2, o.MaxIter)
		if err != nil {
			return nil, err
		}
		ft.intercept, ft.weights, ft.iters = round6(b0), beta, iters
		for j := range ft.weights {
			ft.weights[j] = round6(ft.weights[j])
		}
		ft.examples, ft.positives = len(exs), 0
		for _, e := range exs {
			if e.y {
				ft.positives++
			}
		}
		if round >= o.MineRounds {
			break
		}
		exs = mineHardNegatives(drives, base, o, func(d *driveData, i int) float64 { return ft.logit(d, i, nf, o.Clip) })
	}
	return ft, nil
}

// matrix builds the standardized design matrix, labels and weights; the
// negatives' weights are scaled to the positives' total.
func (ft *fitted) matrix(ds *dataset, drives []*driveData, exs []example, clip float64) ([]float64, []bool, []float64) {
	nf := len(ds.names)
	d := len(ft.cols)
	x := make([]float64, len(exs)*d)
	y := make([]bool, len(exs))
	for r, e := range exs {
		for k, j := range ft.cols {
			x[r*d+k] = ft.standard(k, drives[e.d].feature(e.i, j, nf), clip)
		}
		y[r] = e.y
	}
	return x, y, balancedWeights(exs)
}

// balancedWeights are the examples' weights with the negatives' scaled to
// the positives' total: failures are rare, and each side counts alike.
func balancedWeights(exs []example) []float64 {
	var pos, neg float64
	for _, e := range exs {
		if e.y {
			pos += e.w
		} else {
			neg += e.w
		}
	}
	w := make([]float64, len(exs))
	for r, e := range exs {
		w[r] = e.w
		if !e.y && neg > 0 {
			w[r] = e.w * pos / neg
		}
	}
	return w
}

// standard is feature k's standardized, clipped value (0: missing), as
// the detector computes it (DiskModel.contribution).
func (ft *fitted) standard(k int, v, clip float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return math.Max(-clip, math.Min(clip, (v-ft.mean[k])/ft.sd[k]))
}

// logit of drive d's row i.
func (ft *fitted) logit(d *driveData, i, nf int, clip float64) float64 {
	z := ft.intercept
	for k, j := range ft.cols {
		z += float64(ft.weights[k] * ft.standard(k, d.feature(i, j, nf), clip))
	}
	return z
}

// round6 rounds to 6 significant digits: what the file keeps, so that the
// model scored while training is the model shipped.
func round6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}

// modelFile is the model as the file writes it.
func (ft *fitted) modelFile(o trainOptions, alarm float64, prov detector.Provenance) *detector.DiskModel {
	m := &detector.DiskModel{Format: detector.DiskModelFormat, Name: "disk-model-v1", Kind: "logistic",
		Description: fmt.Sprintf("logistic regression: the odds that a drive fails within %d days, from its own SMART history (%s)",
			o.Horizon, featureGroups(ft.names)),
		HorizonDays: o.Horizon, Intercept: ft.intercept, Clip: o.Clip, AlarmLogit: round6(alarm), MinScore: o.MinScore,
		Explain: detector.ExplainConfig{MaxFeatures: 3, MinShare: 0.2}, Training: prov}
	for k, n := range ft.names {
		m.Features = append(m.Features, detector.ModelFeature{Name: n, Mean: ft.mean[k], Scale: ft.sd[k], Weight: ft.weights[k]})
	}
	return m
}

// encodeModel writes the model file: indented JSON, a newline at the end.
func encodeModel(m *detector.DiskModel) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// evalDrives returns the drives as the evaluation sees them (no alarms).
func evalDrives(drives []*driveData) []evaluation.Drive {
	out := make([]evaluation.Drive, len(drives))
	for i, d := range drives {
		out[i] = evaluation.Drive{Serial: d.serial, FirstSeen: d.days[0], LastSeen: d.days[len(d.days)-1], Rows: len(d.days), Failed: d.failed}
		if d.failed {
			out[i].FailureDay = d.failureDay()
		}
	}
	return out
}

// scoreOf is the model reason's score at a logit, as the detector gives
// it: weight x sigmoid(logit - alarm), nothing below the floor.
func scoreOf(z, alarm, weight, floor float64) float64 {
	s := weight * sigmoid(z-alarm)
	if s < floor {
		return 0
	}
	return s
}

// combinedTraces returns, per drive, the detector's risk with the model
// (rules and model composed as the detector's noisy-or does) at an alarm
// logit, from the logits of every row.
func combinedTraces(drives []*driveData, logits [][]float64, alarm, weight, floor float64) []evaluation.Trace {
	out := make([]evaluation.Trace, len(drives))
	for i, d := range drives {
		tr := evaluation.Trace{Days: d.days, Scores: make([]float64, len(d.days))}
		for r := range d.days {
			s := scoreOf(logits[i][r], alarm, weight, floor)
			tr.Scores[r] = 1 - (1-d.rules[r])*(1-s)
		}
		out[i] = tr
	}
	return out
}

// chooseAlarm returns the alarm logit at which the detector with the
// model, at its configured levels, flags at most the budget of the
// drives' healthy ones per year: the lowest such logit on a grid of
// 0.05, searched by bisection (flagging falls as the logit rises).
func chooseAlarm(drives []*driveData, logits [][]float64, pol evaluation.Hysteresis, budget, weight, floor float64) float64 {
	base := evalDrives(drives)
	within := func(a float64) bool {
		rep, err := evaluation.Evaluate(evaluation.Apply(base, combinedTraces(drives, logits, a, weight, floor), pol), evaluation.Options{Resamples: 1})
		if err != nil {
			return false
		}
		return float64(rep.HealthyFlagRate) <= budget
	}
	lo, hi := -20.0, 40.0 // in steps of 0.05: lo flags too many, hi few enough
	if !within(hi) {
		return hi
	}
	for hi-lo > 0.05+1e-9 {
		mid := math.Round((lo+hi)/2/0.05) * 0.05
		if mid <= lo || mid >= hi {
			break
		}
		if within(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// featureGroups says in words what the features read.
func featureGroups(names []string) string {
	var groups []string
	add := func(g string) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "media.") || strings.Contains(n, ".level") || strings.Contains(n, "grow") || strings.Contains(n, "change") || strings.Contains(n, "drop"):
			add("the media counters' levels, growth, first growth and changes")
		case strings.Contains(n, "age_years"):
			add("the drive's age")
		case strings.Contains(n, "per_day") || strings.Contains(n, "hours_per_day"):
			add("workload")
		case strings.HasPrefix(n, "smart_194") || strings.HasPrefix(n, "smart_190"):
			add("temperature")
		default:
			add("errors per unit of work")
		}
	}
	return strings.Join(groups, "; ")
}
