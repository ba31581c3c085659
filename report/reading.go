package report

import (
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prefail/prefail/model"
)

// isMainReading reports whether name is one of the kind's main readings.
func isMainReading(k model.Kind, name string) bool {
	return slices.Contains(model.MainReadingNames(k), name)
}

// readingView is a reading as a row shows it: "5400 RPM", its nearest
// threshold "lower critical 1000", and a gauge of the value among its
// thresholds.
type readingView struct {
	Name      string // the reading's name when it is not the kind's first
	Value     string
	Threshold string
	Gauge     *gaugeView
}

func viewReading(c *model.Component) *readingView {
	r, ok := c.MainReading()
	if !ok {
		return nil
	}
	v := &readingView{}
	if mr := model.MainReadingNames(c.Kind); len(mr) == 0 || r.Name != mr[0] {
		v.Name = clip(r.Name, 60)
	}
	if r.Value == nil || !finite(*r.Value) {
		v.Value = "unavailable"
		return v
	}
	v.Value = formatValue(*r.Value, r.Unit)
	if r.Thresholds != nil {
		if label, tv, ok := nearestThreshold(*r.Value, r.Thresholds); ok {
			v.Threshold = label + " " + formatNumber(tv)
		}
		v.Gauge = newGauge(*r.Value, r.Thresholds)
	}
	return v
}

// threshold is one limit of a reading, named.
type threshold struct {
	label string
	class string // sev-warn or sev-crit
	v     float64
}

// thresholdsOf lists t's limits that are set and finite.
func thresholdsOf(t *model.Thresholds) []threshold {
	if t == nil {
		return nil
	}
	cands := []struct {
		label, class string
		v            *float64
	}{
		{"lower critical", "sev-crit", t.LowerCritical}, {"upper critical", "sev-crit", t.UpperCritical},
		{"lower warning", "sev-warn", t.LowerNonCritical}, {"upper warning", "sev-warn", t.UpperNonCritical},
		{"lower fatal", "sev-crit", t.LowerFatal}, {"upper fatal", "sev-crit", t.UpperFatal},
	}
	var out []threshold
	for _, c := range cands {
		if c.v != nil && finite(*c.v) {
			out = append(out, threshold{label: c.label, class: c.class, v: *c.v})
		}
	}
	return out
}

// nearestThreshold returns the limit closest to v.
func nearestThreshold(v float64, t *model.Thresholds) (string, float64, bool) {
	best, found := threshold{}, false
	bestD := math.Inf(1)
	for _, th := range thresholdsOf(t) {
		if d := math.Abs(v - th.v); d < bestD {
			best, bestD, found = th, d, true
		}
	}
	return best.label, best.v, found
}

// gaugeView draws a value among its thresholds. The gauge's width, in
// percent, is cut in five zones by four points: critical below LowCrit,
// warning up to LowWarn, ok up to HighWarn, warning up to HighCrit,
// critical beyond (a missing limit collapses its zone). The page's CSS
// paints the zones from these numbers, so a gauge costs a few bytes.
type gaugeView struct {
	LowCrit, LowWarn, HighWarn, HighCrit float64 // percent
	Marker                               float64 // percent
	Class                                string  // the zone the value is in: sev-ok, sev-warn, sev-crit
	Title                                string  // the limits, for a tooltip
}

// Style is the gauge's CSS variables. It is typed as trusted CSS because
// it is written here from five numbers and nothing else: one escaper call
// instead of ten, on a page of 20,000 gauges.
func (g *gaugeView) Style() template.CSS {
	b := make([]byte, 0, 64)
	for i, v := range []float64{g.LowCrit, g.LowWarn, g.HighWarn, g.HighCrit, g.Marker} {
		b = append(b, "--a:--b:--c:--d:--m:"[i*4:i*4+4]...)
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		b = append(b, "%;"...)
	}
	return template.CSS(b[:len(b)-1])
}

// newGauge places v among t's limits: the critical limits (else the
// fatal ones) and the non-critical ones.
func newGauge(v float64, t *model.Thresholds) *gaugeView {
	ths := thresholdsOf(t)
	if len(ths) == 0 {
		return nil
	}
	lo, hi := v, v
	for _, th := range ths {
		lo, hi = math.Min(lo, th.v), math.Max(hi, th.v)
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(v), 1)
	}
	// Readings that cannot go below zero, and come near it (a fan's
	// RPM), start at zero, so that the zone below a limit shows its size.
	if lo >= 0 && lo < span {
		lo, hi = 0, hi+span*0.15
	} else {
		lo, hi = lo-span*0.15, hi+span*0.15
	}
	pos := func(x float64) float64 {
		p := 100 * (x - lo) / (hi - lo)
		if !finite(p) {
			p = 50
		}
		return round1(math.Max(0, math.Min(100, p)))
	}
	first := func(ps ...*float64) *float64 {
		for _, p := range ps {
			if p != nil && finite(*p) {
				return p
			}
		}
		return nil
	}
	lowCrit, lowWarn := first(t.LowerCritical, t.LowerFatal), first(t.LowerNonCritical)
	highWarn, highCrit := first(t.UpperNonCritical), first(t.UpperCritical, t.UpperFatal)

	g := &gaugeView{LowCrit: 0, LowWarn: 0, HighWarn: 100, HighCrit: 100, Marker: pos(v), Class: "sev-ok"}
	if lowCrit != nil {
		g.LowCrit = pos(*lowCrit)
	}
	if lowWarn != nil {
		g.LowWarn = pos(*lowWarn)
	}
	g.LowWarn = math.Max(g.LowWarn, g.LowCrit)
	if highCrit != nil {
		g.HighCrit = pos(*highCrit)
	}
	if highWarn != nil {
		g.HighWarn = pos(*highWarn)
	}
	g.HighWarn = math.Max(g.LowWarn, math.Min(g.HighWarn, g.HighCrit))
	g.HighCrit = math.Max(g.HighCrit, g.HighWarn)
	switch {
	case lowCrit != nil && v < *lowCrit, highCrit != nil && v > *highCrit:
		g.Class = "sev-crit"
	case lowWarn != nil && v < *lowWarn, highWarn != nil && v > *highWarn:
		g.Class = "sev-warn"
	}
	labels := make([]string, 0, len(ths))
	for _, th := range ths {
		labels = append(labels, th.label+" "+formatNumber(th.v))
	}
	g.Title = strings.Join(labels, ", ")
	return g
}

func formatValue(v float64, unit string) string {
	unit = clip(unit, 20)
	switch unit {
	case "":
		return formatNumber(v)
	case "Cel":
		return formatNumber(v) + " °C"
	case "%":
		return formatNumber(v) + "%"
	}
	return formatNumber(v) + " " + unit
}

// unitText is a unit as the page writes it after a number.
func unitText(unit string) string {
	switch unit = clip(unit, 20); unit {
	case "Cel":
		return "°C"
	}
	return unit
}

func formatNumber(v float64) string {
	if !finite(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	a := math.Abs(v)
	var r float64
	switch {
	case a >= 1e9:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case a >= 1000:
		r = math.Round(v)
	case a >= 100:
		r = math.Round(v*10) / 10
	case a >= 1:
		r = math.Round(v*100) / 100
	case a == 0:
		return "0" // not "-0"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64) // 0.004, not 0
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// formatPercent is a risk in [0,1] as a whole percent.
func formatPercent(f float64) string {
	if !finite(f) {
		return "?"
	}
	return strconv.Itoa(int(math.Round(clamp01(f)*100))) + "%"
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func clamp01(f float64) float64 {
	if !finite(f) {
		return 0
	}
	return math.Max(0, math.Min(1, f))
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// clip makes a string from a BMC fit for a line of the page: control
// characters and runs of spaces become one space, invalid UTF-8 becomes
// U+FFFD, and it is cut at max runes with an ellipsis. It does not
// escape: html/template does.
func clip(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				r = '\uFFFD'
			}
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if n >= max {
			b.WriteString("…")
			return b.String()
		}
		if space {
			if n+1 >= max {
				b.WriteString("…")
				return b.String()
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if !unicode.IsPrint(r) && r != '\uFFFD' {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
