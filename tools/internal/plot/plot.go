package plot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Default sizes.
const (
	// DefaultWidth and DefaultHeight are the image size when Chart.Width
	// and Chart.Height are 0.
	DefaultWidth  = 960
	DefaultHeight = 600
	// DefaultScale is the text scale when Chart.Scale is 0: every font
	// pixel is a 2 × 2 square, so capitals are 14 pixels high.
	DefaultScale = 2
	// MinWidth and MinHeight are the smallest images Image draws.
	MinWidth  = 200
	MinHeight = 150
)

// Chart is a line chart: series of (x, y) points joined by straight lines,
// over axes with numbered ticks, a title and a legend. The zero Chart draws
// an empty frame; fill in what you need.
type Chart struct {
	// Title is drawn centred above the plot; empty for none.
	Title string
	// X and Y are the axes.
	X, Y Axis
	// Series are drawn in order (later ones on top) and listed in the
	// legend in the same order.
	Series []Series
	// Width and Height are the image size in pixels; 0 means
	// DefaultWidth × DefaultHeight. Each must be at least MinWidth ×
	// MinHeight.
	Width, Height int
	// Scale is the text scale (1 to 8); 0 means DefaultScale.
	Scale int
}

// Axis describes one axis.
type Axis struct {
	// Label is drawn along the axis (rotated for Y); empty for none.
	Label string
	// Min and Max fix the axis range when Min < Max. Otherwise the range
	// covers the data and is widened to whole tick steps.
	Min, Max float64
	// Exp10 labels a tick at v with the value of 10^v (for data already
	// on a log10 scale): ticks at -1, 0, 2 read "0.1", "1", "100".
	Exp10 bool
}

// Series is one line.
type Series struct {
	// Name is the series' legend entry; series without a name are left out
	// of the legend (the legend is left out when no series has one).
	Name string
	// X and Y are the points, in drawing order; they must have the same
	// length. A point with a NaN or infinite coordinate is skipped and
	// breaks the line.
	X, Y []float64
	// Color is the line colour; nil picks the next colour of Palette.
	Color color.Color
}

// Palette is the colours given, in order, to series without a Color
// (Tableau 10: distinguishable, also in greyscale print).
var Palette = []color.RGBA{
	{31, 119, 180, 255},  // blue
	{255, 127, 14, 255},  // orange
	{44, 160, 44, 255},   // green
	{214, 39, 40, 255},   // red
	{148, 103, 189, 255}, // purple
	{140, 86, 75, 255},   // brown
	{227, 119, 194, 255}, // pink
	{127, 127, 127, 255}, // grey
	{188, 189, 34, 255},  // olive
	{23, 190, 207, 255},  // cyan
}

// Fixed colour indices of basePalette.
const (
	ciPaper = iota
	ciInk
	ciGrid
	ciFrame
	ciFirstSeries
)

// basePalette holds the colours every chart uses; series colours follow.
var basePalette = color.Palette{
	ciPaper: color.RGBA{255, 255, 255, 255},
	ciInk:   color.RGBA{0, 0, 0, 255},
	ciGrid:  color.RGBA{225, 225, 225, 255},
	ciFrame: color.RGBA{90, 90, 90, 255},
}

// maxSeries bounds the number of series: each takes a palette entry.
const maxSeries = 256 - ciFirstSeries

// WritePNG draws the chart and writes it to w as a PNG (8-bit paletted).
// The same Chart always gives the same bytes.
func (c *Chart) WritePNG(w io.Writer) error {
	img, err := c.Image()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// Image draws the chart. It fails when the chart cannot be drawn: a size or
// scale out of range, a series whose X and Y lengths differ, too many
// series.
func (c *Chart) Image() (*image.Paletted, error) {
	width, height, scale := c.Width, c.Height, c.Scale
	if width == 0 {
		width = DefaultWidth
	}
	if height == 0 {
		height = DefaultHeight
	}
	if scale == 0 {
		scale = DefaultScale
	}
	var errs []error
	if width < MinWidth || height < MinHeight || width > 1<<14 || height > 1<<14 {
		errs = append(errs, fmt.Errorf("plot: image size %d × %d is outside %d × %d .. 16384 × 16384", width, height, MinWidth, MinHeight))
	}
	if scale < 1 || scale > 8 {
		errs = append(errs, fmt.Errorf("plot: Scale %d is outside 1..8", scale))
	}
	if len(c.Series) > maxSeries {
		errs = append(errs, fmt.Errorf("plot: %d series; at most %d fit a chart", len(c.Series), maxSeries))
	}
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			errs = append(errs, fmt.Errorf("plot: series %d (%q) has %d x values and %d y values", i, s.Name, len(s.X), len(s.Y)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	pal := append(color.Palette(nil), basePalette...)
	for i, s := range c.Series {
		var col color.Color = Palette[i%len(Palette)]
		if s.Color != nil {
			col = s.Color
		}
		r, g, b, _ := col.RGBA()
		pal = append(pal, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255})
	}
	img := image.NewPaletted(image.Rect(0, 0, width, height), pal)

	xs, ys := c.collect()
	xr := axisRange(c.X, xs)
	yr := axisRange(c.Y, ys)

	// Layout: the plot area is what the title, tick labels and axis
	// labels leave.
	th := textHeight(scale)
	gap := 4 * scale
	top := gap * 2
	if c.Title != "" {
		top += th + gap
	}
	ticksY := yr.ticks(max(2, (height-top)/(th*4)))
	labelW := 0
	for _, t := range ticksY {
		labelW = max(labelW, textWidth(yr.format(t), scale))
	}
	left := gap*2 + labelW + gap
	if c.Y.Label != "" {
		left += th + gap
	}
	bottom := gap + th + gap
	if c.X.Label != "" {
		bottom += th + gap
	}
	bottom += gap
	right := gap*2 + textWidth("0000", scale)/2
	if width-right-left < 20 || height-bottom-top < 20 {
		return nil, fmt.Errorf("plot: %d × %d leaves no room for the plot at text scale %d", width, height, scale)
	}
	area := image.Rect(left, top, width-right, height-bottom)
	ticksX := xr.ticks(max(2, area.Dx()/(textWidth("0.000", scale)+4*gap)))

	px := func(x float64) float64 { return float64(area.Min.X) + (x-xr.lo)/(xr.hi-xr.lo)*float64(area.Dx()-1) }
	py := func(y float64) float64 { return float64(area.Max.Y-1) - (y-yr.lo)/(yr.hi-yr.lo)*float64(area.Dy()-1) }

	// Grid and ticks.
	for _, t := range ticksX {
		x := int(math.Round(px(t)))
		vline(img, x, area.Min.Y, area.Max.Y-1, ciGrid)
		vline(img, x, area.Max.Y, area.Max.Y+gap-1, ciFrame)
		s := xr.format(t)
		drawText(img, x-textWidth(s, scale)/2, area.Max.Y+gap+gap/2, s, ciInk, scale, false)
	}
	for _, t := range ticksY {
		y := int(math.Round(py(t)))
		hline(img, area.Min.X, area.Max.X-1, y, ciGrid)
		hline(img, area.Min.X-gap, area.Min.X-1, y, ciFrame)
		s := yr.format(t)
		drawText(img, area.Min.X-gap-gap/2-textWidth(s, scale), y-capHeight*scale/2, s, ciInk, scale, false)
	}
	// Frame.
	hline(img, area.Min.X, area.Max.X-1, area.Min.Y, ciFrame)
	hline(img, area.Min.X, area.Max.X-1, area.Max.Y-1, ciFrame)
	vline(img, area.Min.X, area.Min.Y, area.Max.Y-1, ciFrame)
	vline(img, area.Max.X-1, area.Min.Y, area.Max.Y-1, ciFrame)

	// Title and axis labels.
	if c.Title != "" {
		drawText(img, (width-textWidth(c.Title, scale))/2, gap*2, c.Title, ciInk, scale, false)
	}
	if c.X.Label != "" {
		drawText(img, area.Min.X+(area.Dx()-textWidth(c.X.Label, scale))/2, height-gap-th, c.X.Label, ciInk, scale, false)
	}
	if c.Y.Label != "" {
		drawText(img, gap*2, area.Min.Y+(area.Dy()+textWidth(c.Y.Label, scale))/2, c.Y.Label, ciInk, scale, true)
	}

	// Series, clipped to the inside of the frame; ink records what they
	// cover, for placing the legend.
	clip := rect{float64(area.Min.X + 1), float64(area.Min.Y + 1), float64(area.Max.X - 2), float64(area.Max.Y - 2)}
	ink := make([]bool, width*height)
	brush := max(1, scale) // line thickness in pixels
	for i, s := range c.Series {
		ci := uint8(ciFirstSeries + i)
		prev, have := [2]float64{}, false
		for j := range s.X {
			if !finite(s.X[j]) || !finite(s.Y[j]) {
				have = false
				continue
			}
			p := [2]float64{px(s.X[j]), py(s.Y[j])}
			if have {
				segment(img, ink, clip, prev, p, brush, ci)
			} else if j+1 == len(s.X) || !finite(s.X[j+1]) || !finite(s.Y[j+1]) {
				segment(img, ink, clip, p, p, brush+2, ci) // a lone point: a dot
			}
			prev, have = p, true
		}
	}

	c.legend(img, ink, area, scale, gap)
	return img, nil
}

// legend draws the legend box in the corner of area whose series ink it
// covers least (ties: top right, bottom right, top left, bottom left).
func (c *Chart) legend(img *image.Paletted, ink []bool, area image.Rectangle, scale, gap int) {
	var names []int
	w := 0
	for i, s := range c.Series {
		if s.Name != "" {
			names = append(names, i)
			w = max(w, textWidth(s.Name, scale))
		}
	}
	if len(names) == 0 {
		return
	}
	sample := 8 * scale // the line sample left of each name
	lineH := textHeight(scale) + gap
	bw := gap + sample + gap + w + gap
	bh := gap + len(names)*lineH
	margin := 2 * gap
	corners := []image.Point{
		{area.Max.X - margin - bw, area.Min.Y + margin}, // top right
		{area.Max.X - margin - bw, area.Max.Y - margin - bh},
		{area.Min.X + margin, area.Min.Y + margin},
		{area.Min.X + margin, area.Max.Y - margin - bh},
	}
	best, bestInk := corners[0], -1
	width := img.Rect.Dx()
	for _, p := range corners {
		r := image.Rectangle{p, p.Add(image.Pt(bw, bh))}.Intersect(img.Rect)
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if ink[y*width+x] {
					n++
				}
			}
		}
		if bestInk < 0 || n < bestInk {
			best, bestInk = p, n
		}
	}
	box := image.Rectangle{best, best.Add(image.Pt(bw, bh))}.Intersect(img.Rect)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			img.Pix[img.PixOffset(x, y)] = ciPaper
		}
	}
	hline(img, box.Min.X, box.Max.X-1, box.Min.Y, ciFrame)
	hline(img, box.Min.X, box.Max.X-1, box.Max.Y-1, ciFrame)
	vline(img, box.Min.X, box.Min.Y, box.Max.Y-1, ciFrame)
	vline(img, box.Max.X-1, box.Min.Y, box.Max.Y-1, ciFrame)
	for k, i := range names {
		y := best.Y + gap + k*lineH
		mid := y + capHeight*scale/2
		for t := range max(1, scale) {
			hline(img, best.X+gap, best.X+gap+sample-1, mid-max(1, scale)/2+t, uint8(ciFirstSeries+i))
		}
		drawText(img, best.X+gap+sample+gap, y, c.Series[i].Name, ciInk, scale, false)
	}
}

// collect returns every finite x and y value of the series.
func (c *Chart) collect() (xs, ys []float64) {
	for _, s := range c.Series {
		for j := range s.X {
			if finite(s.X[j]) && finite(s.Y[j]) {
				xs = append(xs, s.X[j])
				ys = append(ys, s.Y[j])
			}
		}
	}
	return xs, ys
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// span is an axis range; fixed ranges keep their bounds, automatic ones
// are widened to whole tick steps by ticks.
type span struct {
	lo, hi float64
	fixed  bool
	// decimals is how many decimals tick labels get (set by ticks).
	decimals int
	// exp10: labels show 10^v (Axis.Exp10).
	exp10 bool
}

// axisRange returns the range of an axis over the values vs.
func axisRange(a Axis, vs []float64) *span {
	if a.Min < a.Max && finite(a.Min) && finite(a.Max) {
		return &span{lo: a.Min, hi: a.Max, fixed: true, exp10: a.Exp10}
	}
	if len(vs) == 0 {
		return &span{lo: 0, hi: 1, exp10: a.Exp10}
	}
	lo, hi := vs[0], vs[0]
	for _, v := range vs[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo == hi {
		d := math.Max(math.Abs(lo)/2, 1)
		lo, hi = lo-d, hi+d
	}
	return &span{lo: lo, hi: hi, exp10: a.Exp10}
}

// ticks returns the tick values: the multiples of the smallest nice step
// (1, 2 or 5 × 10^k) that cuts the range into at most n intervals. An
// automatic range is first widened to whole steps.
func (s *span) ticks(n int) []float64 {
	n = max(n, 1)
	step := s.step(n)
	if !s.fixed {
		s.lo = math.Floor(s.lo/step+1e-9) * step
		s.hi = math.Ceil(s.hi/step-1e-9) * step
	}
	s.decimals = max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var out []float64
	for k := math.Ceil(s.lo/step - 1e-9); len(out) <= n+1; k++ {
		v := k * step
		if v > s.hi+step*1e-9 {
			break
		}
		if v == 0 {
			v = 0 // no "-0"
		}
		out = append(out, v)
	}
	return out
}

// step returns the smallest nice step giving at most n intervals.
func (s *span) step(n int) float64 {
	width := s.hi - s.lo
	if !(width > 0) || !finite(width) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(width/float64(n))))
	for _, dec := range []float64{p / 10, p, p * 10, p * 100} {
		for _, m := range []float64{1, 2, 5} {
			step := m * dec
			var intervals float64
			if s.fixed {
				intervals = math.Floor(s.hi/step+1e-9) - math.Ceil(s.lo/step-1e-9)
			} else {
				intervals = math.Ceil(s.hi/step-1e-9) - math.Floor(s.lo/step+1e-9)
			}
			if intervals <= float64(n) {
				return step
			}
		}
	}
	return p * 1000
}

// format renders a tick value with the axis's decimals.
func (s *span) format(v float64) string {
	if s.exp10 {
		x := math.Pow(10, v)
		if x >= 1 && x < 1e15 {
			return strconv.FormatFloat(math.Round(x), 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', s.decimals, 64)
}

func hline(img *image.Paletted, x0, x1, y int, ci uint8) {
	for x := x0; x <= x1; x++ {
		setIndex(img, x, y, ci)
	}
}

func vline(img *image.Paletted, x, y0, y1 int, ci uint8) {
	for y := y0; y <= y1; y++ {
		setIndex(img, x, y, ci)
	}
}

// rect is a clip rectangle in pixel coordinates, bounds included.
type rect struct{ x0, y0, x1, y1 float64 }

// segment draws the line from a to b, clipped to clip, with a square brush
// of the given size, and marks the pixels in ink.
func segment(img *image.Paletted, ink []bool, clip rect, a, b [2]float64, brush int, ci uint8) {
	a, b, ok := clipLine(clip, a, b)
	if !ok {
		return
	}
	x0, y0 := int(math.Round(a[0])), int(math.Round(a[1]))
	x1, y1 := int(math.Round(b[0])), int(math.Round(b[1]))
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	width := img.Rect.Dx()
	lo := -(brush - 1) / 2
	for {
		for oy := lo; oy < lo+brush; oy++ {
			for ox := lo; ox < lo+brush; ox++ {
				x, y := x0+ox, y0+oy
				if float64(x) < clip.x0 || float64(x) > clip.x1 || float64(y) < clip.y0 || float64(y) > clip.y1 {
					continue
				}
				img.Pix[img.PixOffset(x, y)] = ci
				ink[y*width+x] = true
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// clipLine clips the segment a–b to r (Liang–Barsky); ok is false when
// nothing of it is inside.
func clipLine(r rect, a, b [2]float64) (ca, cb [2]float64, ok bool) {
	t0, t1 := 0.0, 1.0
	dx, dy := b[0]-a[0], b[1]-a[1]
	for _, pq := range [4][2]float64{
		{-dx, a[0] - r.x0}, {dx, r.x1 - a[0]},
		{-dy, a[1] - r.y0}, {dy, r.y1 - a[1]},
	} {
		p, q := pq[0], pq[1]
		if p == 0 {
			if q < 0 {
				return a, b, false
			}
			continue
		}
		t := q / p
		if p < 0 {
			if t > t1 {
				return a, b, false
			}
			t0 = max(t0, t)
		} else {
			if t < t0 {
				return a, b, false
			}
			t1 = min(t1, t)
		}
	}
	ca = [2]float64{a[0] + t0*dx, a[1] + t0*dy}
	cb = [2]float64{a[0] + t1*dx, a[1] + t1*dy}
	return ca, cb, true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
