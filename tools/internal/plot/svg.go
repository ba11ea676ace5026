package plot

import (
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
)

// WriteSVG draws the chart as an SVG document on w: the same chart as
// WritePNG (axes with numbered ticks, grid, title, axis labels, legend,
// series in Palette colours), as vector graphics with text in the
// reader's sans-serif font. The same Chart always gives the same bytes.
func (c *Chart) WriteSVG(w io.Writer) error {
	width, height := c.Width, c.Height
	if width == 0 {
		width = DefaultWidth
	}
	if height == 0 {
		height = DefaultHeight
	}
	var errs []error
	if width < MinWidth || height < MinHeight || width > 1<<14 || height > 1<<14 {
		errs = append(errs, fmt.Errorf("plot: image size %d × %d is outside %d × %d .. 16384 × 16384", width, height, MinWidth, MinHeight))
	}
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			errs = append(errs, fmt.Errorf("plot: series %d (%q) has %d x values and %d y values", i, s.Name, len(s.X), len(s.Y)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	xs, ys := c.collect()
	xr := axisRange(c.X, xs)
	yr := axisRange(c.Y, ys)

	const fs = 14.0 // font size
	charW := fs * 0.6
	top, bottom, left, right := 16.0, 3*fs+8, 24.0, 24.0
	if c.Title != "" {
		top += fs + 12
	}
	ticksY := yr.ticks(max(2, int(float64(height)-top)/(4*int(fs))))
	labelW := 0.0
	for _, t := range ticksY {
		labelW = max(labelW, float64(len(yr.format(t)))*charW)
	}
	left += labelW + 8
	if c.Y.Label != "" {
		left += fs + 8
	}
	x0, y0, x1, y1 := left, top, float64(width)-right, float64(height)-bottom
	if x1-x0 < 20 || y1-y0 < 20 {
		return fmt.Errorf("plot: %d × %d leaves no room for the plot", width, height)
	}
	ticksX := xr.ticks(max(2, int((x1-x0)/(charW*6+16))))
	px := func(x float64) float64 { return x0 + (x-xr.lo)/(xr.hi-xr.lo)*(x1-x0) }
	py := func(y float64) float64 { return y1 - (y-yr.lo)/(yr.hi-yr.lo)*(y1-y0) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%g">`+"\n", width, height, width, height, fs)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	for _, t := range ticksX {
		x := f(px(t))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e1e1e1"/>`+"\n", x, f(y0), x, f(y1))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5a5a5a"/>`+"\n", x, f(y1), x, f(y1+5))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", x, f(y1+5+fs), html.EscapeString(xr.format(t)))
	}
	for _, t := range ticksY {
		y := f(py(t))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e1e1e1"/>`+"\n", f(x0), y, f(x1), y)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5a5a5a"/>`+"\n", f(x0-5), y, f(x0), y)
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", f(x0-8), y, html.EscapeString(yr.format(t)))
	}
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#5a5a5a"/>`+"\n", f(x0), f(y0), f(x1-x0), f(y1-y0))
	if c.Title != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="%g">%s</text>`+"\n", f(float64(width)/2), f(16+fs), fs+2, html.EscapeString(c.Title))
	}
	if c.X.Label != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", f((x0+x1)/2), f(float64(height)-10), html.EscapeString(c.X.Label))
	}
	if c.Y.Label != "" {
		cx, cy := 16+fs/2, (y0+y1)/2
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" transform="rotate(-90 %s %s)">%s</text>`+"\n", f(cx), f(cy), f(cx), f(cy), html.EscapeString(c.Y.Label))
	}
	fmt.Fprintf(&b, `<clipPath id="area"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n", f(x0), f(y0), f(x1-x0), f(y1-y0))
	named := 0
	for i, s := range c.Series {
		col := seriesColor(s, i)
		var pts []string
		flush := func() {
			if len(pts) == 1 {
				fmt.Fprintf(&b, `<circle cx="%s" r="3" fill="%s" clip-path="url(#area)"/>`+"\n", strings.Replace(pts[0], ",", `" cy="`, 1), col)
			} else if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" clip-path="url(#area)"/>`+"\n", strings.Join(pts, " "), col)
			}
			pts = pts[:0]
		}
		for j := range s.X {
			if !finite(s.X[j]) || !finite(s.Y[j]) {
				flush()
				continue
			}
			pts = append(pts, f(px(s.X[j]))+","+f(py(s.Y[j])))
		}
		flush()
		if s.Name != "" {
			named++
		}
	}
	// The legend, in the corner of the area its box covers the fewest
	// points of the lines in (ties: top right, bottom right, top left,
	// bottom left, as WritePNG).
	if named > 0 {
		longest := 0
		for _, s := range c.Series {
			longest = max(longest, len(s.Name))
		}
		lw, lh := 40+float64(longest)*charW, float64(named)*(fs+6)+8
		corners := [][2]float64{{x1 - 10 - lw, y0 + 10}, {x1 - 10 - lw, y1 - 10 - lh}, {x0 + 10, y0 + 10}, {x0 + 10, y1 - 10 - lh}}
		best, bestN := 0, -1
		for k, cn := range corners {
			n := 0
			in := func(x, y float64) {
				if x >= cn[0] && x <= cn[0]+lw && y >= cn[1] && y <= cn[1]+lh {
					n++
				}
			}
			for _, s := range c.Series {
				for j := range s.X {
					if !finite(s.X[j]) || !finite(s.Y[j]) {
						continue
					}
					x, y := px(s.X[j]), py(s.Y[j])
					in(x, y)
					if j > 0 && finite(s.X[j-1]) && finite(s.Y[j-1]) {
						// Sample the segment, so long lines count too.
						xp, yp := px(s.X[j-1]), py(s.Y[j-1])
						for q := 1; q < 16; q++ {
							f := float64(q) / 16
							in(xp+(x-xp)*f, yp+(y-yp)*f)
						}
					}
				}
			}
			if bestN < 0 || n < bestN {
				best, bestN = k, n
			}
		}
		lx, ly := corners[best][0], corners[best][1]
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#fff" fill-opacity="0.9" stroke="#5a5a5a"/>`+"\n", f(lx), f(ly), f(lw), f(lh))
		k := 0
		for i, s := range c.Series {
			if s.Name == "" {
				continue
			}
			y := ly + 4 + float64(k)*(fs+6) + (fs+6)/2
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/>`+"\n", f(lx+6), f(y), f(lx+28), f(y), seriesColor(s, i))
			fmt.Fprintf(&b, `<text x="%s" y="%s" dominant-baseline="middle">%s</text>`+"\n", f(lx+34), f(y), html.EscapeString(s.Name))
			k++
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// seriesColor returns series i's colour as #rrggbb.
func seriesColor(s Series, i int) string {
	if s.Color != nil {
		r, g, bl, _ := s.Color.RGBA()
		return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, bl>>8)
	}
	p := Palette[i%len(Palette)]
	return fmt.Sprintf("#%02x%02x%02x", p.R, p.G, p.B)
}
