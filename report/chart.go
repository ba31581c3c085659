package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/model"
)

// Chart geometry, in SVG user units: the plot sits right of the value
// labels and above the time labels.
const (
	chartWidth  = 360
	chartHeight = 150
	plotLeft    = 46
	plotRight   = 352
	plotTop     = 10
	plotBottom  = 124
)

// chartView is one reading of one component over time, drawn as an SVG
// line chart. Paths are built here from numbers only.
type chartView struct {
	Title      string // component name
	Reading    string // reading name and unit
	Line       string // path of the means
	Band       string // path of the min-max envelope, when points are aggregates
	Thresholds []chartRule
	YTicks     []chartTick
	XStart     string
	XEnd       string
	Last       string // the newest value
	Points     int    // points drawn
	Merged     bool   // points were merged to fit maxChartPoints
	Width      int
	Height     int
	PlotLeft   int
	PlotRight  int
	PlotTop    int
	PlotBottom int
}

type chartRule struct {
	Y      float64
	Label  string
	Class  string
	LabelX float64 // where its label goes; no label when it would overlap another
	Anchor string  // the label's text-anchor
	Shown  bool
}

type chartTick struct {
	Y     float64
	Label string
}

// chartPoint is a point as drawn.
type chartPoint struct {
	t         time.Time
	v, lo, hi float64
	n         int
}

// cleanPoints keeps the points with a finite value, in time order, with
// Min and Max made consistent with the value (a point built by hand may
// leave them zero).
func cleanPoints(pts []agent.Point) []chartPoint {
	out := make([]chartPoint, 0, len(pts))
	for _, p := range pts {
		if !finite(p.Value) || p.Time.IsZero() {
			continue
		}
		lo, hi := p.Min, p.Max
		if !finite(lo) || lo > p.Value || (lo == 0 && hi == 0) {
			lo = p.Value
		}
		if !finite(hi) || hi < p.Value {
			hi = p.Value
		}
		out = append(out, chartPoint{t: p.Time, v: p.Value, lo: lo, hi: hi, n: max(p.N, 1)})
	}
	if !slices.IsSortedFunc(out, func(a, b chartPoint) int { return a.t.Compare(b.t) }) {
		slices.SortStableFunc(out, func(a, b chartPoint) int { return a.t.Compare(b.t) })
	}
	return out
}

// mergePoints merges consecutive points into at most limit: the mean
// weighted by the readings, the lowest min and the highest max.
func mergePoints(pts []chartPoint, limit int) []chartPoint {
	if len(pts) <= limit {
		return pts
	}
	out := make([]chartPoint, 0, limit)
	for i := range limit {
		a, b := i*len(pts)/limit, (i+1)*len(pts)/limit
		m := pts[a]
		sum, n := m.v*float64(m.n), m.n
		for _, p := range pts[a+1 : b] {
			sum += p.v * float64(p.n)
			n += p.n
			m.lo, m.hi = math.Min(m.lo, p.lo), math.Max(m.hi, p.hi)
		}
		m.v, m.n = sum/float64(n), n
		if !finite(m.v) { // sums of huge values overflow
			m.v = pts[a].v
		}
		out = append(out, m)
	}
	return out
}

// newChart draws s, with r's thresholds as rules when known. It returns
// nil when s has no point to draw.
func newChart(title string, s agent.Series, r *model.Reading) *chartView {
	pts := cleanPoints(s.Points)
	if len(pts) == 0 {
		return nil
	}
	merged := len(pts) > maxChartPoints
	pts = mergePoints(pts, maxChartPoints)

	c := &chartView{
		Title: title, Points: len(pts), Merged: merged,
		Width: chartWidth, Height: chartHeight,
		PlotLeft: plotLeft, PlotRight: plotRight, PlotTop: plotTop, PlotBottom: plotBottom,
	}
	c.Reading = clip(s.Reading, 60)
	if u := unitText(s.Unit); u != "" {
		c.Reading += " (" + u + ")"
	}
	last := pts[len(pts)-1]
	c.Last = formatValue(last.v, s.Unit)

	// Value range: the points' envelope, and the limits that matter
	// (critical and warning; the fatal ones only when no other is given),
	// so that the distance to the limit shows.
	lo, hi := math.Inf(1), math.Inf(-1)
	spread := false
	for _, p := range pts {
		lo, hi = math.Min(lo, p.lo), math.Max(hi, p.hi)
		spread = spread || p.hi > p.lo
	}
	var rules []threshold
	if r != nil {
		all := thresholdsOf(r.Thresholds)
		for _, th := range all {
			if !strings.Contains(th.label, "fatal") {
				rules = append(rules, th)
			}
		}
		if len(rules) == 0 {
			rules = all
		}
	}
	for _, th := range rules {
		lo, hi = math.Min(lo, th.v), math.Max(hi, th.v)
	}
	if hi-lo < 1e-9*math.Max(1, math.Abs(hi)) {
		pad := math.Max(math.Abs(hi)*0.05, 1)
		lo, hi = lo-pad, hi+pad
	} else {
		pad := (hi - lo) * 0.06
		lo, hi = lo-pad, hi+pad
	}
	if !finite(hi - lo) { // values near the float limits
		lo, hi = -math.MaxFloat64/4, math.MaxFloat64/4
	}

	t0, t1 := pts[0].t, pts[len(pts)-1].t
	span := t1.Sub(t0)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return (plotLeft + plotRight) / 2
		}
		return plotLeft + (plotRight-plotLeft)*float64(t.Sub(t0))/float64(span)
	}
	y := func(v float64) float64 {
		f := (v - lo) / (hi - lo)
		if !finite(f) {
			f = 0.5
		}
		return plotBottom - (plotBottom-plotTop)*math.Max(0, math.Min(1, f))
	}

	var line strings.Builder
	line.Grow(len(pts) * 14)
	for i, p := range pts {
		if i == 0 {
			line.WriteByte('M')
		} else {
			line.WriteByte('L')
		}
		line.WriteString(coord(x(p.t)))
		line.WriteByte(' ')
		line.WriteString(coord(y(p.v)))
	}
	if len(pts) == 1 {
		line.WriteString("h0.01") // a dot, drawn by the round line cap
	}
	c.Line = line.String()

	if spread {
		var band strings.Builder
		band.Grow(len(pts) * 28)
		for i, p := range pts {
			if i == 0 {
				band.WriteByte('M')
			} else {
				band.WriteByte('L')
			}
			band.WriteString(coord(x(p.t)) + " " + coord(y(p.hi)))
		}
		for _, p := range slices.Backward(pts) {
			band.WriteString("L" + coord(x(p.t)) + " " + coord(y(p.lo)))
		}
		band.WriteByte('Z')
		c.Band = band.String()
	}

	for _, th := range rules {
		c.Thresholds = append(c.Thresholds, chartRule{Y: round1(y(th.v)), Label: th.label + " " + formatNumber(th.v), Class: th.class})
	}
	placeRuleLabels(c.Thresholds)
	for _, v := range niceTicks(lo, hi, 4) {
		c.YTicks = append(c.YTicks, chartTick{Y: round1(y(v)), Label: formatNumber(v)})
	}
	layout := "2006-01-02 15:04"
	if span >= 72*time.Hour {
		layout = "2006-01-02"
	}
	c.XStart, c.XEnd = t0.UTC().Format(layout), t1.UTC().Format(layout)
	return c
}

// ruleLabelGap is the least vertical distance between two rule labels on
// the same side, in SVG units (the labels are 10 units high).
const ruleLabelGap = 11

// placeRuleLabels puts each threshold's label at the right end of its
// line, or at the left end when another label is too close, or nowhere
// (the line keeps its title) when both ends are taken.
func placeRuleLabels(rules []chartRule) {
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rules[a].Y, rules[b].Y) })
	var right, left []float64
	free := func(taken []float64, y float64) bool {
		for _, t := range taken {
			if math.Abs(t-y) < ruleLabelGap {
				return false
			}
		}
		return true
	}
	for _, i := range order {
		r := &rules[i]
		switch {
		case free(right, r.Y):
			r.LabelX, r.Anchor, r.Shown = plotRight, "end", true
			right = append(right, r.Y)
		case free(left, r.Y):
			r.LabelX, r.Anchor, r.Shown = plotLeft+4, "start", true
			left = append(left, r.Y)
		}
	}
}

// coord is a coordinate with one decimal: enough for a chart a few
// hundred units wide, and short.
func coord(f float64) string { return strconv.FormatFloat(round1(f), 'f', -1, 64) }

// niceTicks returns about n round values within [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !finite(span) || span <= 0 || n < 1 {
		return nil
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if !finite(step) || step <= 0 {
		return nil
	}
	var out []float64
	// Multiples of step, not sums: no 0.30000000000000004, and zero is 0.
	for k := math.Ceil(lo / step); k*step <= hi && len(out) <= n+1; k++ {
		out = append(out, k*step)
	}
	return out
}
