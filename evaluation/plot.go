package evaluation

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
)

// Panel is one chart of a plot: the frontiers of one set of drives.
type Panel struct {
	Title     string
	Frontiers []Frontier
}

// PlotOptions say what a plot shows.
type PlotOptions struct {
	// RecallDays is the horizon on the y axis (default 7).
	RecallDays int
	// MinRate and MaxRate bound the x axis, healthy drives flagged per
	// year on a log scale (default 0.1% .. 10%).
	MinRate, MaxRate float64
	// Marks are budgets drawn as dashed vertical lines (default 0.5%, 2%,
	// 5%).
	Marks []float64
	// Target, when its Rate is set, is a goal drawn as a cross: a recall
	// at a flag rate.
	Target struct{ Rate, Recall float64 }
	// MinOnsets and MaxOnsets bound the x axis of the second row, new
	// onsets per 100 healthy drive-years on a log scale (default 0.1 ..
	// 10).
	MinOnsets, MaxOnsets float64
	// OnsetTarget, when set, is a ceiling of new onsets per 100 drive-years
	// drawn as a dashed red line on the second row.
	OnsetTarget float64
}

// plotAxis is what a row of panels puts on its x axis (log scale): the
// first row the healthy drives flagged per year, the second the new
// onsets per 100 healthy drive-years, against the same recall.
type plotAxis struct {
	label    string
	min, max float64
	value    func(Report) float64
	tick     func(float64) string
	marks    []float64 // dashed grey lines
	what     string    // the value in words, for tooltips
	format   func(float64) string
	ceiling  float64 // > 0: a target drawn as a dashed red line
	target   struct{ x, recall float64 }
}

// plotAxes are the two rows' axes, from o (defaults applied).
func plotAxes(o PlotOptions) []plotAxis {
	rate := plotAxis{
		label: "healthy drives flagged per year (log scale)",
		min:   o.MinRate, max: o.MaxRate,
		value: func(r Report) float64 { return float64(r.HealthyFlagRate) },
		tick:  func(v float64) string { return trimFloat(100*v) + "%" },
		marks: o.Marks, what: "flagged per year", format: pctText,
	}
	rate.target.x, rate.target.recall = o.Target.Rate, o.Target.Recall
	onsets := plotAxis{
		label: "new onsets per 100 healthy drive-years (log scale)",
		min:   o.MinOnsets, max: o.MaxOnsets,
		value:   func(r Report) float64 { return float64(r.NewOnsetPer100DriveYears) },
		tick:    trimFloat,
		what:    "new onsets per 100 drive-years",
		format:  func(v float64) string { return trimFloat(math.Round(v*100) / 100) },
		ceiling: o.OnsetTarget,
	}
	return []plotAxis{rate, onsets}
}

// The plot's geometry, in SVG user units (a PNG scales them).
const (
	plotPanelW  = 560.0
	plotPanelH  = 400.0
	plotLeft    = 64.0
	plotRight   = 16.0
	plotTop     = 40.0
	plotBottom  = 56.0
	plotLegendH = 28.0
)

// plotColors are the frontiers' colours, in order (the detector first).
func plotColors() []string {
	return []string{"#000000", "#1f77b4", "#9467bd", "#d62728", "#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#17becf"}
}

// The canvas a plot is drawn on: SVG text (plotsvg below) or a PNG's
// pixels (plot_png.go). The plot's layout is computed once, in drawPlot.

// plotPoint is a point in user units.
type plotPoint struct{ X, Y float64 }

// plotStroke is how a line is drawn ("" colour: not at all).
type plotStroke struct {
	Color string
	Width float64 // 0: 1
	Dash  bool    // 4 on, 3 off
}

// plotMeta is what the SVG keeps of an element beyond its shape: a class,
// the frontier it draws and a tooltip. A PNG has no use for them.
type plotMeta struct{ Class, Frontier, Title string }

// plotText is how a label is written.
type plotText struct {
	Anchor string  // "start" (""), "middle", "end"
	Size   float64 // 0: 12
	Color  string  // "": black
	Rotate bool    // -90°, about its anchor point
}

type plotCanvas interface {
	begin(w, h float64, title string)
	group(class string)
	endGroup()
	rect(x, y, w, h float64, fill string, s plotStroke)
	// path draws a polyline (closed: a polygon), filled when fill is set,
	// at fillOpacity; pieces are separate polylines.
	path(pieces [][]plotPoint, closed bool, fill string, fillOpacity float64, s plotStroke, m plotMeta)
	circle(c plotPoint, r float64, s plotStroke, m plotMeta)
	text(x, y float64, s string, t plotText)
}

// PlotSVG draws the panels side by side, in two rows: each frontier's
// recall at RecallDays against its healthy flag rate per year (first row)
// and against its new onsets per 100 healthy drive-years (second row),
// both on a log x axis, a line through its points and a band through
// their bootstrap intervals, its own threshold's point circled.
// Hand-written SVG, no script; the same input always gives the same
// bytes.
func PlotSVG(panels []Panel, o PlotOptions) []byte {
	var c plotSVG
	drawPlot(&c, panels, o)
	c.b.WriteString("</svg>\n")
	return c.b.Bytes()
}

// drawPlot lays the panels out on c.
func drawPlot(c plotCanvas, panels []Panel, o PlotOptions) {
	if o.RecallDays == 0 {
		o.RecallDays = 7
	}
	if o.MinRate <= 0 {
		o.MinRate = 0.001
	}
	if o.MaxRate <= o.MinRate {
		o.MaxRate = 0.1
	}
	if o.Marks == nil {
		o.Marks = []float64{0.005, 0.02, 0.05}
	}
	if o.MinOnsets <= 0 {
		o.MinOnsets = 0.1
	}
	if o.MaxOnsets <= o.MinOnsets {
		o.MaxOnsets = 10
	}
	axes := plotAxes(o)
	var names []string
	for _, p := range panels {
		for _, f := range p.Frontiers {
			if !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	colors := plotColors()
	colorOf := func(name string) string { return colors[slices.Index(names, name)%len(colors)] }
	// The recall axis ends a step above the highest interval drawn (at
	// least 50%): the upper half of a 0-100% axis is mostly empty.
	top := math.Max(0.5, o.Target.Recall)
	for _, p := range panels {
		for _, f := range p.Frontiers {
			for _, pt := range f.Points {
				for _, r := range pt.Report.Recall {
					if r.Days != o.RecallDays {
						continue
					}
					for _, ax := range axes {
						if ax.value(pt.Report) <= ax.max {
							top = math.Max(top, ciOr(r.CI.High, r.Recall))
						}
					}
				}
			}
		}
	}
	yMax := math.Min(1, math.Floor(top*10+1e-9)/10+0.1)

	w := plotPanelW * float64(max(1, len(panels)))
	h := plotPanelH*float64(len(axes)) + plotLegendH
	c.begin(w, h, fmt.Sprintf("recall@%dd against healthy drives flagged per year and against new onsets per 100 drive-years", o.RecallDays))
	for row, ax := range axes {
		for i, p := range panels {
			plotPanel(c, p, o, ax, plotPanelW*float64(i), plotPanelH*float64(row), yMax, colorOf)
		}
	}
	// Legend, under the panels.
	x := plotLeft
	y := plotPanelH*float64(len(axes)) + plotLegendH/2
	for _, n := range names {
		c.path([][]plotPoint{{{x, y}, {x + 18, y}}}, false, "", 0, plotStroke{Color: colorOf(n), Width: 2}, plotMeta{})
		c.text(x+22, y+4, n, plotText{})
		x += 30 + 7*float64(len(n))
	}
}

// plotPanel draws one panel at (x0, y0): p's frontiers, recall against
// ax.
func plotPanel(c plotCanvas, p Panel, o PlotOptions, ax plotAxis, x0, y0, yMax float64, colorOf func(string) string) {
	left, top := x0+plotLeft, y0+plotTop
	iw, ih := plotPanelW-plotLeft-plotRight, plotPanelH-plotTop-plotBottom
	lmin, lmax := math.Log10(ax.min), math.Log10(ax.max)
	xOf := func(v float64) float64 {
		l := math.Log10(math.Max(v, ax.min))
		return left + iw*(math.Min(l, lmax)-lmin)/(lmax-lmin)
	}
	yOf := func(recall float64) float64 { return top + ih*(1-recall/yMax) }
	seg := func(x1, y1, x2, y2 float64, s plotStroke, m plotMeta) {
		c.path([][]plotPoint{{{x1, y1}, {x2, y2}}}, false, "", 0, s, m)
	}
	grid := plotStroke{Color: "#eeeeee"}
	c.group("panel")
	c.text(left+iw/2, top-16, p.Title, plotText{Anchor: "middle", Size: 14})
	c.rect(left, top, iw, ih, "", plotStroke{Color: "#888888"})
	// Grid and ticks: recall every 10%, rate at 1-2-5 steps.
	for r := 0; r <= int(math.Round(yMax*10)); r++ {
		y := yOf(float64(r) / 10)
		seg(left, y, left+iw, y, grid, plotMeta{})
		c.text(left-6, y+4, fmt.Sprintf("%d%%", 10*r), plotText{Anchor: "end"})
	}
	for e := math.Floor(lmin); e <= lmax; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < ax.min*(1-1e-9) || v > ax.max*(1+1e-9) {
				continue
			}
			x := xOf(v)
			seg(x, top, x, top+ih, grid, plotMeta{})
			c.text(x, top+ih+16, ax.tick(v), plotText{Anchor: "middle"})
		}
	}
	for _, m := range ax.marks {
		x := xOf(m)
		seg(x, top, x, top+ih, plotStroke{Color: "#999999", Dash: true}, plotMeta{Class: "mark"})
	}
	c.text(left+iw/2, top+ih+36, ax.label, plotText{Anchor: "middle"})
	if g := ax.target; g.x > 0 {
		x, y := xOf(g.x), yOf(g.recall)
		c.path([][]plotPoint{{{x - 6, y - 6}, {x + 6, y + 6}}, {{x - 6, y + 6}, {x + 6, y - 6}}}, false, "", 0,
			plotStroke{Color: "#d62728", Width: 2},
			plotMeta{Class: "target", Title: fmt.Sprintf("target: recall@%dd %s at %s %s", o.RecallDays, pctText(g.recall), ax.format(g.x), ax.what)})
		c.text(x+8, y-8, "target", plotText{Color: "#d62728"})
	}
	if g := ax.ceiling; g > 0 {
		x := xOf(g)
		seg(x, top, x, top+ih, plotStroke{Color: "#d62728", Width: 1.5, Dash: true},
			plotMeta{Class: "target", Title: fmt.Sprintf("target: %s at most %s", ax.what, ax.format(g))})
		c.text(x+4, top+14, "target", plotText{Color: "#d62728"})
	}
	c.text(x0+16, top+ih/2, fmt.Sprintf("recall@%dd", o.RecallDays), plotText{Anchor: "middle", Rotate: true})
	for _, f := range p.Frontiers {
		h := -1
		var pts []Point
		for _, pt := range f.Points {
			v := ax.value(pt.Report)
			if v > ax.max*(1+1e-9) || math.IsNaN(v) {
				continue
			}
			if h < 0 {
				h = slices.IndexFunc(pt.Report.Recall, func(r Recall) bool { return r.Days == o.RecallDays })
				if h < 0 {
					break
				}
			}
			if math.IsNaN(float64(pt.Report.Recall[h].Recall)) {
				continue
			}
			pts = append(pts, pt)
		}
		if len(pts) == 0 {
			continue
		}
		// Points come in order of flag rate; new onsets mostly follow it,
		// but not always (one drive's two episodes): draw left to right.
		slices.SortStableFunc(pts, func(a, b Point) int { return cmp.Compare(ax.value(a.Report), ax.value(b.Report)) })
		col := colorOf(f.Name)
		// The band: the upper bounds left to right, the lower back.
		var band, line []plotPoint
		for _, pt := range pts {
			r := pt.Report.Recall[h]
			band = append(band, plotPoint{xOf(ax.value(pt.Report)), yOf(ciOr(r.CI.High, r.Recall))})
			line = append(line, plotPoint{xOf(ax.value(pt.Report)), yOf(float64(r.Recall))})
		}
		for i := len(pts) - 1; i >= 0; i-- {
			r := pts[i].Report.Recall[h]
			band = append(band, plotPoint{xOf(ax.value(pts[i].Report)), yOf(ciOr(r.CI.Low, r.Recall))})
		}
		c.path([][]plotPoint{band}, true, col, 0.12, plotStroke{}, plotMeta{Class: "band", Frontier: f.Name})
		width := 1.5
		if f.Name == "detector" {
			width = 2.5
		}
		c.path([][]plotPoint{line}, false, "", 0, plotStroke{Color: col, Width: width}, plotMeta{Class: "frontier", Frontier: f.Name})
		if d := f.Default; d != nil && h < len(d.Report.Recall) && ax.value(d.Report) <= ax.max {
			c.circle(plotPoint{xOf(ax.value(d.Report)), yOf(float64(d.Report.Recall[h].Recall))}, 4,
				plotStroke{Color: col, Width: 1.5},
				plotMeta{Frontier: f.Name, Title: fmt.Sprintf("%s at its own threshold %s: recall@%dd %s, %s %s",
					f.Name, trimFloat(d.Threshold), o.RecallDays, pctText(float64(d.Report.Recall[h].Recall)), ax.format(ax.value(d.Report)), ax.what)})
		}
	}
	c.endGroup()
}

// plotSVG writes the plot as SVG elements.
type plotSVG struct{ b bytes.Buffer }

func (c *plotSVG) begin(w, h float64, title string) {
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">`+"\n", f1(w), f1(h), f1(w), f1(h))
	fmt.Fprintf(&c.b, "<title>%s</title>\n", esc(title))
	fmt.Fprintf(&c.b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", f1(w), f1(h))
}

func (c *plotSVG) group(class string) { fmt.Fprintf(&c.b, `<g class="%s">`+"\n", esc(class)) }

func (c *plotSVG) endGroup() { c.b.WriteString("</g>\n") }

func (c *plotSVG) rect(x, y, w, h float64, fill string, s plotStroke) {
	fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n", f1(x), f1(y), f1(w), f1(h), orNone(fill), svgStroke(s))
}

func (c *plotSVG) path(pieces [][]plotPoint, closed bool, fill string, fillOpacity float64, s plotStroke, m plotMeta) {
	var d bytes.Buffer
	for _, pts := range pieces {
		for i, p := range pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s ", cmd, f1(p.X), f1(p.Y))
		}
	}
	dd := bytes.TrimSpace(d.Bytes())
	if closed {
		dd = append(dd, 'Z')
	}
	fmt.Fprintf(&c.b, `<path%s d="%s" fill="%s"`, svgMeta(m), dd, orNone(fill))
	if fill != "" && fillOpacity > 0 && fillOpacity < 1 {
		fmt.Fprintf(&c.b, ` fill-opacity="%s"`, trimFloat(fillOpacity))
	}
	c.b.WriteString(svgStroke(s))
	c.closeElement("path", m.Title)
}

func (c *plotSVG) circle(p plotPoint, r float64, s plotStroke, m plotMeta) {
	fmt.Fprintf(&c.b, `<circle%s cx="%s" cy="%s" r="%s" fill="none"%s`, svgMeta(m), f1(p.X), f1(p.Y), trimFloat(r), svgStroke(s))
	c.closeElement("circle", m.Title)
}

// closeElement ends an element, with a tooltip when it has one.
func (c *plotSVG) closeElement(name, title string) {
	if title == "" {
		c.b.WriteString("/>\n")
		return
	}
	fmt.Fprintf(&c.b, "><title>%s</title></%s>\n", esc(title), name)
}

func (c *plotSVG) text(x, y float64, s string, t plotText) {
	c.b.WriteString("<text")
	if t.Rotate {
		fmt.Fprintf(&c.b, ` transform="translate(%s %s) rotate(-90)"`, f1(x), f1(y))
	} else {
		fmt.Fprintf(&c.b, ` x="%s" y="%s"`, f1(x), f1(y))
	}
	if t.Size != 0 && t.Size != 12 {
		fmt.Fprintf(&c.b, ` font-size="%s"`, trimFloat(t.Size))
	}
	if t.Anchor != "" && t.Anchor != "start" {
		fmt.Fprintf(&c.b, ` text-anchor="%s"`, t.Anchor)
	}
	if t.Color != "" {
		fmt.Fprintf(&c.b, ` fill="%s"`, t.Color)
	}
	fmt.Fprintf(&c.b, ">%s</text>\n", esc(s))
}

func svgMeta(m plotMeta) string {
	var b bytes.Buffer
	if m.Class != "" {
		fmt.Fprintf(&b, ` class="%s"`, esc(m.Class))
	}
	if m.Frontier != "" {
		fmt.Fprintf(&b, ` data-frontier="%s"`, esc(m.Frontier))
	}
	return b.String()
}

func svgStroke(s plotStroke) string {
	if s.Color == "" {
		return ` stroke="none"`
	}
	out := fmt.Sprintf(` stroke="%s"`, s.Color)
	if s.Width != 0 && s.Width != 1 {
		out += fmt.Sprintf(` stroke-width="%s"`, trimFloat(s.Width))
	}
	if s.Dash {
		out += ` stroke-dasharray="4 3"`
	}
	return out
}

func orNone(color string) string {
	if color == "" {
		return "none"
	}
	return color
}

func ciOr(v Fraction, def Fraction) float64 {
	if math.IsNaN(float64(v)) {
		return float64(def)
	}
	return float64(v)
}

// f1 writes a coordinate with one decimal.
func f1(v float64) string { return trimFloat(math.Round(v*10) / 10) }

func trimFloat(v float64) string { return fmt.Sprintf("%.6g", v) }

func pctText(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
