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

// The plot's geometry, in SVG user units.
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

// PlotSVG draws the panels side by side: each frontier's recall at
// RecallDays against its healthy flag rate per year (log x), a line
// through its points and a band through their bootstrap intervals, its
// own threshold's point circled. Hand-written SVG, no script; the same
// input always gives the same bytes.
func PlotSVG(panels []Panel, o PlotOptions) []byte {
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
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">`+"\n", f1(w), f1(h), f1(w), f1(h))
	fmt.Fprintf(&b, "<title>recall@%dd against healthy drives flagged per year</title>\n", o.RecallDays)
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", f1(w), f1(h))
	for i, p := range panels {
		plotPanel(&b, p, o, plotPanelW*float64(i), yMax, colorOf)
	}
	// Legend, under the panels.
	x := plotLeft
	y := plotPanelH + plotLegendH/2
	for _, n := range names {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/>`, f1(x), f1(y), f1(x+18), f1(y), colorOf(n))
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", f1(x+22), f1(y+4), esc(n))
		x += 30 + 7*float64(len(n))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func plotPanel(b *bytes.Buffer, p Panel, o PlotOptions, x0, yMax float64, colorOf func(string) string) {
	left, top := x0+plotLeft, plotTop
	iw, ih := plotPanelW-plotLeft-plotRight, plotPanelH-plotTop-plotBottom
	lmin, lmax := math.Log10(o.MinRate), math.Log10(o.MaxRate)
	xOf := func(rate float64) float64 {
		l := math.Log10(math.Max(rate, o.MinRate))
		return left + iw*(math.Min(l, lmax)-lmin)/(lmax-lmin)
	}
	yOf := func(recall float64) float64 { return top + ih*(1-recall/yMax) }
	fmt.Fprintf(b, `<g class="panel"><text x="%s" y="%s" font-size="14" text-anchor="middle">%s</text>`+"\n", f1(left+iw/2), f1(top-16), esc(p.Title))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#888888"/>`+"\n", f1(left), f1(top), f1(iw), f1(ih))
	// Grid and ticks: recall every 10%, rate at 1-2-5 steps.
	for r := 0; r <= int(math.Round(yMax*10)); r++ {
		y := yOf(float64(r) / 10)
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eeeeee"/>`, f1(left), f1(y), f1(left+iw), f1(y))
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end">%d%%</text>`+"\n", f1(left-6), f1(y+4), 10*r)
	}
	for e := math.Floor(lmin); e <= lmax; e++ {
		for _, m := range []float64{1, 2, 5} {
			rate := m * math.Pow(10, e)
			if rate < o.MinRate*(1-1e-9) || rate > o.MaxRate*(1+1e-9) {
				continue
			}
			x := xOf(rate)
			fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eeeeee"/>`, f1(x), f1(top), f1(x), f1(top+ih))
			fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s%%</text>`+"\n", f1(x), f1(top+ih+16), trimFloat(100*rate))
		}
	}
	for _, m := range o.Marks {
		x := xOf(m)
		fmt.Fprintf(b, `<line class="mark" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999999" stroke-dasharray="4 3"/>`+"\n", f1(x), f1(top), f1(x), f1(top+ih))
	}
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">healthy drives flagged per year (log scale)</text>`+"\n", f1(left+iw/2), f1(top+ih+36))
	if g := o.Target; g.Rate > 0 {
		x, y := xOf(g.Rate), yOf(g.Recall)
		fmt.Fprintf(b, `<path class="target" d="M%s %sL%s %sM%s %sL%s %s" stroke="#d62728" stroke-width="2"><title>target: recall@%dd %s at %s flagged per year</title></path>`+"\n",
			f1(x-6), f1(y-6), f1(x+6), f1(y+6), f1(x-6), f1(y+6), f1(x+6), f1(y-6), o.RecallDays, pctText(g.Recall), pctText(g.Rate))
		fmt.Fprintf(b, `<text x="%s" y="%s" fill="#d62728">target</text>`+"\n", f1(x+8), f1(y-8))
	}
	fmt.Fprintf(b, `<text transform="translate(%s %s) rotate(-90)" text-anchor="middle">recall@%dd</text>`+"\n", f1(x0+16), f1(top+ih/2), o.RecallDays)
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
		c := colorOf(f.Name)
		// The band: the upper bounds left to right, the lower back.
		var band bytes.Buffer
		for i, pt := range pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&band, "%s%s %s ", cmd, f1(xOf(float64(pt.Report.HealthyFlagRate))), f1(yOf(ciOr(pt.Report.Recall[h].CI.High, pt.Report.Recall[h].Recall))))
		}
		for i := len(pts) - 1; i >= 0; i-- {
			pt := pts[i]
			fmt.Fprintf(&band, "L%s %s ", f1(xOf(float64(pt.Report.HealthyFlagRate))), f1(yOf(ciOr(pt.Report.Recall[h].CI.Low, pt.Report.Recall[h].Recall))))
		}
		fmt.Fprintf(b, `<path class="band" data-frontier="%s" d="%sZ" fill="%s" fill-opacity="0.12" stroke="none"/>`+"\n", esc(f.Name), band.String(), c)
		var line bytes.Buffer
		for i, pt := range pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&line, "%s%s %s ", cmd, f1(xOf(float64(pt.Report.HealthyFlagRate))), f1(yOf(float64(pt.Report.Recall[h].Recall))))
		}
		width := "1.5"
		if f.Name == "detector" {
			width = "2.5"
		}
		fmt.Fprintf(b, `<path class="frontier" data-frontier="%s" d="%s" fill="none" stroke="%s" stroke-width="%s"/>`+"\n", esc(f.Name), bytes.TrimSpace(line.Bytes()), c, width)
		if d := f.Default; d != nil && h < len(d.Report.Recall) && float64(d.Report.HealthyFlagRate) <= o.MaxRate {
			fmt.Fprintf(b, `<circle data-frontier="%s" cx="%s" cy="%s" r="4" fill="none" stroke="%s" stroke-width="1.5"><title>%s at its own threshold %s: recall@%dd %s, %s flagged per year</title></circle>`+"\n",
				esc(f.Name), f1(xOf(float64(d.Report.HealthyFlagRate))), f1(yOf(float64(d.Report.Recall[h].Recall))), c,
				esc(f.Name), trimFloat(d.Threshold), o.RecallDays, pctText(float64(d.Report.Recall[h].Recall)), pctText(float64(d.Report.HealthyFlagRate)))
		}
	}
	b.WriteString("</g>\n")
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
