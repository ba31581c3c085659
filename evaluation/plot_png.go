package evaluation

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// PlotPNG draws the plot of PlotSVG as a PNG, two pixels per SVG unit,
// for where an SVG does not show (chat, tickets, mail). Shapes are
// anti-aliased (golang.org/x/image/vector); text is the 7x13 bitmap font
// scaled up, so the PNG is for looking at, the SVG for print.
func PlotPNG(panels []Panel, o PlotOptions) ([]byte, error) {
	c := &plotPNG{scale: 2}
	drawPlot(c, panels, o)
	var b bytes.Buffer
	if err := png.Encode(&b, c.img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plotPNG draws on an RGBA image; coordinates are SVG units times scale.
type plotPNG struct {
	scale float64
	img   *image.RGBA
	z     vector.Rasterizer
}

func (c *plotPNG) begin(w, h float64, _ string) {
	c.img = image.NewRGBA(image.Rect(0, 0, int(math.Ceil(w*c.scale)), int(math.Ceil(h*c.scale))))
	draw.Draw(c.img, c.img.Bounds(), image.White, image.Point{}, draw.Src)
}

func (c *plotPNG) group(string) {}

func (c *plotPNG) endGroup() {}

func (c *plotPNG) rect(x, y, w, h float64, fill string, s plotStroke) {
	corners := []plotPoint{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}
	if fill != "" {
		c.fill([][]plotPoint{corners}, pngColor(fill, 1))
	}
	c.stroke(append(corners, corners[0]), s)
}

func (c *plotPNG) path(pieces [][]plotPoint, closed bool, fill string, fillOpacity float64, s plotStroke, _ plotMeta) {
	if fill != "" {
		op := fillOpacity
		if op <= 0 || op > 1 {
			op = 1
		}
		c.fill(pieces, pngColor(fill, op))
	}
	for _, p := range pieces {
		if closed && len(p) > 0 {
			p = append(p[:len(p):len(p)], p[0])
		}
		c.stroke(p, s)
	}
}

func (c *plotPNG) circle(p plotPoint, r float64, s plotStroke, _ plotMeta) {
	pts := make([]plotPoint, 33)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / 32
		pts[i] = plotPoint{p.X + r*math.Cos(a), p.Y + r*math.Sin(a)}
	}
	c.stroke(pts, s)
}

// fill rasterizes the polygons (pixel coordinates within their bounding
// box: a rasterizer the size of the image for every shape would cost a
// pass over the whole image each).
func (c *plotPNG) fill(polys [][]plotPoint, col color.Color) {
	box := image.Rectangle{}
	first := true
	for _, poly := range polys {
		for _, p := range poly {
			q := image.Rect(int(math.Floor(p.X*c.scale)), int(math.Floor(p.Y*c.scale)), int(math.Ceil(p.X*c.scale))+1, int(math.Ceil(p.Y*c.scale))+1)
			if first {
				box, first = q, false
			} else {
				box = box.Union(q)
			}
		}
	}
	box = box.Intersect(c.img.Bounds())
	if first || box.Empty() {
		return
	}
	c.z.Reset(box.Dx(), box.Dy())
	ox, oy := float64(box.Min.X), float64(box.Min.Y)
	for _, poly := range polys {
		if len(poly) < 3 {
			continue
		}
		for i, p := range poly {
			x, y := float32(p.X*c.scale-ox), float32(p.Y*c.scale-oy)
			if i == 0 {
				c.z.MoveTo(x, y)
			} else {
				c.z.LineTo(x, y)
			}
		}
		c.z.ClosePath()
	}
	c.z.Draw(c.img, box, image.NewUniform(col), image.Point{})
}

// stroke draws the polyline as one quadrilateral per segment (dashed: per
// dash) and a disc at each joint, all wound the same way so that their
// overlaps do not cancel.
func (c *plotPNG) stroke(pts []plotPoint, s plotStroke) {
	if s.Color == "" || len(pts) < 2 {
		return
	}
	hw := s.Width / 2
	if hw <= 0 {
		hw = 0.5
	}
	var polys [][]plotPoint
	quad := func(a, b plotPoint) {
		dx, dy := b.X-a.X, b.Y-a.Y
		l := math.Hypot(dx, dy)
		if l == 0 {
			return
		}
		nx, ny := -dy/l*hw, dx/l*hw
		polys = append(polys, []plotPoint{{a.X + nx, a.Y + ny}, {b.X + nx, b.Y + ny}, {b.X - nx, b.Y - ny}, {a.X - nx, a.Y - ny}})
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if !s.Dash {
			quad(a, b)
			if i < len(pts)-1 && hw > 0.6 {
				disc := make([]plotPoint, 8)
				for k := range disc {
					ang := -2 * math.Pi * float64(k) / 8 // the quads' winding
					disc[k] = plotPoint{b.X + hw*math.Cos(ang), b.Y + hw*math.Sin(ang)}
				}
				polys = append(polys, disc)
			}
			continue
		}
		l := math.Hypot(b.X-a.X, b.Y-a.Y)
		for t := 0.0; t < l; t += 7 {
			e := math.Min(t+4, l)
			quad(plotPoint{a.X + (b.X-a.X)*t/l, a.Y + (b.Y-a.Y)*t/l}, plotPoint{a.X + (b.X-a.X)*e/l, a.Y + (b.Y-a.Y)*e/l})
		}
	}
	c.fill(polys, pngColor(s.Color, 1))
}

// text writes s in the 7x13 bitmap font, scaled by a whole factor to about
// the size asked for; the anchor and the -90° rotation are SVG's.
func (c *plotPNG) text(x, y float64, s string, t plotText) {
	if s == "" {
		return
	}
	face := basicfont.Face7x13
	size := t.Size
	if size == 0 {
		size = 12
	}
	k := max(1, int(math.Round(c.scale*size/13)))
	w := font.MeasureString(face, s).Ceil()
	mask := image.NewAlpha(image.Rect(0, 0, w, face.Height))
	d := font.Drawer{Dst: mask, Src: image.Opaque, Face: face, Dot: fixed.P(0, face.Ascent)}
	d.DrawString(s)
	// Scaled (and turned): the glyphs' pixels, k x k each.
	tw, th := w*k, face.Height*k
	shift := 0
	switch t.Anchor {
	case "middle":
		shift = tw / 2
	case "end":
		shift = tw
	}
	px, py := int(math.Round(x*c.scale)), int(math.Round(y*c.scale))
	var big *image.Alpha
	var at image.Point
	if t.Rotate {
		// Reading upwards: the text's x runs up, its y (down) to the right.
		big = image.NewAlpha(image.Rect(0, 0, th, tw))
		for yy := range tw {
			for xx := range th {
				big.SetAlpha(xx, yy, mask.AlphaAt((tw-1-yy)/k, xx/k))
			}
		}
		at = image.Pt(px-face.Ascent*k, py-(tw-shift))
	} else {
		big = image.NewAlpha(image.Rect(0, 0, tw, th))
		for yy := range th {
			for xx := range tw {
				big.SetAlpha(xx, yy, mask.AlphaAt(xx/k, yy/k))
			}
		}
		at = image.Pt(px-shift, py-face.Ascent*k)
	}
	col := color.Color(color.Black)
	if t.Color != "" {
		col = pngColor(t.Color, 1)
	}
	r := big.Bounds().Add(at)
	draw.DrawMask(c.img, r, image.NewUniform(col), image.Point{}, big, image.Point{}, draw.Over)
}

// pngColor reads "#rrggbb" (anything else is black) at an opacity.
func pngColor(s string, opacity float64) color.NRGBA {
	c := color.NRGBA{A: uint8(math.Round(255 * opacity))}
	if len(s) == 7 && s[0] == '#' {
		if v, err := strconv.ParseUint(s[1:], 16, 32); err == nil {
			c.R, c.G, c.B = uint8(v>>16), uint8(v>>8), uint8(v)
		}
	}
	return c
}
