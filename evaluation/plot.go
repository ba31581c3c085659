package evaluation

import (
	"bytes"
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

// PlotSVG draws the panels side by side: each frontier's recall at
// RecallDays against its healthy flag rate per year (log x), a line
// through its points and a band through their bootstrap intervals, its
// own threshold's point circled. Hand-written SVG, no script; the same
// input always gives the same bytes.
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
					if r.Days == o.RecallDays && float64(pt.Report.HealthyFlagRate) <= o.MaxRate {
						top = math.Max(top, ciOr(r.CI.High, r.Recall))
					}
				}
			}
		}
	}
	yMax := math.Min(1, math.Floor(top*10+1e-9)/10+0.1)

	w := plotPanelW * float64(max(1, len(panels)))
	h := plotPanelH + plotLegendH
	c.begin(w, h, fmt.Sprintf("recall@%dd against healthy drives flagged per year", o.RecallDays))
	for i, p := range panels {
		plotPanel(c, p, o, plotPanelW*float64(i), yMax, colorOf)
	}
	// Legend, under the panels.
	x := plotLeft
	y := plotPanelH + plotLegendH/2
	for _, n := range names {
		c.path([][]plotPoint{{{x, y}, {x + 18, y}}}, false, "", 0, plotStroke{Color: colorOf(n), Width: 2}, plotMeta{})
		c.text(x+22, y+4, n, plotText{})
		x += 30 + 7*float64(len(n))
	}
}

func plotPanel(c plotCanvas, p Panel, o PlotOptions, x0, yMax float64, colorOf func(string) string) {
	left, top := x0+plotLeft, plotTop
	iw, ih := plotPanelW-plotLeft-plotRight, plotPanelH-plotTop-plotBottom
	lmin, lmax := math.Log10(o.MinRate), math.Log10(o.MaxRate)
	xOf := func(rate float64) float64 {
		l := math.Log10(math.Max(rate, o.MinRate))
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
			rate := m * math.Pow(10, e)
			if rate < o.MinRate*(1-1e-9) || rate > o.MaxRate*(1+1e-9) {
				continue
			}
			x := xOf(rate)
			seg(x, top, x, top+ih, grid, plotMeta{})
			c.text(x, top+ih+16, trimFloat(100*rate)+"%", plotText{Anchor: "middle"})
		}
	}
	for _, m := range o.Marks {
		x := xOf(m)
		seg(x, top, x, top+ih, plotStroke{Color: "#999999", Dash: true}, plotMeta{Class: "mark"})
	}
	c.text(left+iw/2, top+ih+36, "healthy drives flagged per year (log scale)", plotText{Anchor: "middle"})
	if g := o.Target; g.Rate > 0 {
		x, y := xOf(g.Rate), yOf(g.Recall)
		c.path([][]plotPoint{{{x - 6, y - 6}, {x + 6, y + 6}}, {{x - 6, y + 6}, {x + 6, y - 6}}}, false, "", 0,
			plotStroke{Color: "#d62728", Width: 2},
			plotMeta{Class: "target", Title: fmt.Sprintf("target: recall@%dd %s at %s flagged per year", o.RecallDays, pctText(g.Recall), pctText(g.Rate))})
		c.text(x+8, y-8, "target", plotText{Color: "#d62728"})
	}
	c.text(x0+16, top+ih/2, fmt.Sprintf("recall@%dd", o.RecallDays), plotText{Anchor: "middle", Rotate: true})
	for _, f := range p.Frontiers {
		h := -1
		var pts []Point
		for _, pt := range f.Points {
			rate := float64(pt.Report.HealthyFlagRate)
			if rate > o.MaxRate*(1+1e-9) || math.IsNaN(rate) {
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
		col := colorOf(f.Name)
		// The band: the upper bounds left to right, the lower back.
		var band, line []plotPoint
		for _, pt := range pts {
			r := pt.Report.Recall[h]
			band = append(band, plotPoint{xOf(float64(pt.Report.HealthyFlagRate)), yOf(ciOr(r.CI.High, r.Recall))})
			line = append(line, plotPoint{xOf(float64(pt.Report.HealthyFlagRate)), yOf(float64(r.Recall))})
		}
		for i := len(pts) - 1; i >= 0; i-- {
			r := pts[i].Report.Recall[h]
			band = append(band, plotPoint{xOf(float64(pts[i].Report.HealthyFlagRate)), yOf(ciOr(r.CI.Low, r.Recall))})
		}
		c.path([][]plotPoint{band}, true, col, 0.12, plotStroke{}, plotMeta{Class: "band", Frontier: f.Name})
		width := 1.5
		if f.Name == "detector" {
			width = 2.5
		}
		c.path([][]plotPoint{line}, false, "", 0, plotStroke{Color: col, Width: width}, plotMeta{Class: "frontier", Frontier: f.Name})
		if d := f.Default; d != nil && h < len(d.Report.Recall) && float64(d.Report.HealthyFlagRate) <= o.MaxRate {
			c.circle(plotPoint{xOf(float64(d.Report.HealthyFlagRate)), yOf(float64(d.Report.Recall[h].Recall))}, 4,
				plotStroke{Color: col, Width: 1.5},
				plotMeta{Frontier: f.Name, Title: fmt.Sprintf("%s at its own threshold %s: recall@%dd %s, %s flagged per year",
					f.Name, trimFloat(d.Threshold), o.RecallDays, pctText(float64(d.Report.Recall[h].Recall)), pctText(float64(d.Report.HealthyFlagRate)))})
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
