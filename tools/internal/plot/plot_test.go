package plot

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestFontComplete(t *testing.T) {
	seen := map[[fontHeight]uint8]rune{}
	for c := rune(firstChar); c <= lastChar; c++ {
		g := *glyph(c)
		ink := 0
		for _, row := range g {
			if row >= 1<<fontWidth {
				t.Errorf("%q: a row is wider than %d pixels", c, fontWidth)
			}
			for b := row; b != 0; b &= b - 1 {
				ink++
			}
		}
		if (c == ' ') != (ink == 0) {
			t.Errorf("%q has %d pixels of ink", c, ink)
		}
		if prev, dup := seen[g]; dup {
			t.Errorf("%q and %q have the same glyph", prev, c)
		}
		seen[g] = c
		if g == boxGlyph {
			t.Errorf("%q looks like the missing-glyph box", c)
		}
	}
	// Descenders live in rows 7 and 8 only for these.
	for c := rune(firstChar); c <= lastChar; c++ {
		g := glyph(c)
		desc := g[capHeight] != 0 || g[capHeight+1] != 0
		if want := strings.ContainsRune("gjpqy,_", c); desc != want {
			t.Errorf("%q: descender %v, want %v", c, desc, want)
		}
	}
	if glyph('é') != &boxGlyph || glyph('\n') != &boxGlyph {
		t.Error("runes outside printable ASCII should draw the box")
	}
}

func TestLoadFontRejectsBadArt(t *testing.T) {
	saved := fontBlocks
	defer func() {
		fontBlocks = saved
		if err := loadFont(); err != nil {
			t.Fatal(err)
		}
	}()
	for _, tc := range []struct {
		name string
		edit func(b []fontBlock)
		want string
	}{
		{"short row", func(b []fontBlock) { b[1].rows[3] = b[1].rows[3][1:] }, "columns"},
		{"bad pixel", func(b []fontBlock) { b[2].rows[0] = "x" + b[2].rows[0][1:] }, "neither"},
		{"no gap", func(b []fontBlock) { r := []byte(b[0].rows[0]); r[5] = '.'; b[0].rows[0] = string(r) }, "no space"},
		{"out of order", func(b []fontBlock) { b[3].chars = "Q" + b[3].chars[1:] }, "want"},
		{"missing block", func(b []fontBlock) {}, "ends at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := slices.Clone(saved)
			if tc.name == "missing block" {
				b = b[:len(b)-1]
			}
			tc.edit(b)
			fontBlocks = b
			err := loadFont()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadFont() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	got := renderText("0.5g")
	// Each glyph is 5 columns wide with a 1-column gap; no trailing gap.
	want := "" +
		".###........#####......\n" +
		"#...#.......#..........\n" +
		"#..##.......####...####\n" +
		"#.#.#...........#.#...#\n" +
		"##..#...........#.#...#\n" +
		"#...#..##...#...#.#...#\n" +
		".###...##....###...####\n" +
		"......................#\n" +
		"...................###.\n"
	if got != want {
		t.Errorf("renderText(\"0.5g\") =\n%s\nwant\n%s", got, want)
	}
	if textWidth("", 3) != 0 || textWidth("ab", 1) != 11 || textWidth("ab", 2) != 22 || textWidth("é", 1) != 5 {
		t.Error("textWidth: wrong widths")
	}
	if textHeight(2) != 18 {
		t.Errorf("textHeight(2) = %d", textHeight(2))
	}
}

// TestVerticalText: vertical text is horizontal text turned a quarter turn
// counter-clockwise.
func TestVerticalText(t *testing.T) {
	const s = "Ay1"
	w, h := textWidth(s, 2), textHeight(2)
	horiz := image.NewPaletted(image.Rect(0, 0, w, h), basePalette)
	drawText(horiz, 0, 0, s, ciInk, 2, false)
	vert := image.NewPaletted(image.Rect(0, 0, h, w), basePalette)
	drawText(vert, 0, w, s, ciInk, 2, true)
	for y := range h {
		for x := range w {
			// (x, y) in the horizontal text lands at (y, w-1-x).
			if a, b := horiz.ColorIndexAt(x, y), vert.ColorIndexAt(y, w-1-x); a != b {
				t.Fatalf("pixel (%d,%d): horizontal %d, vertical %d", x, y, a, b)
			}
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		axis   Axis
		data   []float64
		n      int
		want   []string
		lo, hi float64
	}{
		{"fixed unit", Axis{Min: 0, Max: 1}, []float64{5}, 5, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}, 0, 1},
		{"fixed unit, fewer", Axis{Min: 0, Max: 1}, nil, 4, []string{"0.0", "0.5", "1.0"}, 0, 1},
		{"fixed unit, many", Axis{Min: 0, Max: 1}, nil, 10, []string{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"}, 0, 1},
		{"rounds", Axis{}, []float64{0, 4}, 9, []string{"0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"}, 0, 4},
		{"many rounds", Axis{}, []float64{0, 117}, 9, []string{"0", "20", "40", "60", "80", "100", "120"}, 0, 120},
		{"tiny", Axis{}, []float64{0.0001, 0.0004}, 3, []string{"0.0001", "0.0002", "0.0003", "0.0004"}, 0.0001, 0.0004},
		{"tiny, fewer", Axis{}, []float64{0.0001, 0.0004}, 2, []string{"0.0000", "0.0002", "0.0004"}, 0, 0.0004},
		{"auto widened", Axis{}, []float64{0.3, 9.7}, 5, []string{"0", "2", "4", "6", "8", "10"}, 0, 10},
		{"auto negative", Axis{}, []float64{-3, 4}, 4, []string{"-4", "-2", "0", "2", "4"}, -4, 4},
		{"single value", Axis{}, []float64{7}, 4, []string{"0", "5", "10", "15"}, 0, 15},
		{"no data", Axis{}, nil, 2, []string{"0.0", "0.5", "1.0"}, 0, 1},
		{"fixed off-grid", Axis{Min: 0.05, Max: 0.95}, nil, 4, []string{"0.2", "0.4", "0.6", "0.8"}, 0.05, 0.95},
		{"min not below max: auto", Axis{Min: 2, Max: 2}, []float64{0, 50}, 5, []string{"0", "10", "20", "30", "40", "50"}, 0, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := axisRange(tc.axis, tc.data)
			var got []string
			for _, v := range s.ticks(tc.n) {
				got = append(got, s.format(v))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ticks = %v, want %v", got, tc.want)
			}
			if math.Abs(s.lo-tc.lo) > 1e-9 || math.Abs(s.hi-tc.hi) > 1e-9 {
				t.Errorf("range [%v, %v], want [%v, %v]", s.lo, s.hi, tc.lo, tc.hi)
			}
		})
	}
}

func TestClipLine(t *testing.T) {
	r := rect{0, 0, 10, 10}
	for _, tc := range []struct {
		name   string
		a, b   [2]float64
		ok     bool
		ca, cb [2]float64
	}{
		{"inside", [2]float64{1, 1}, [2]float64{9, 9}, true, [2]float64{1, 1}, [2]float64{9, 9}},
		{"crossing", [2]float64{-10, 5}, [2]float64{20, 5}, true, [2]float64{0, 5}, [2]float64{10, 5}},
		{"diagonal out", [2]float64{-5, -5}, [2]float64{5, 5}, true, [2]float64{0, 0}, [2]float64{5, 5}},
		{"outside", [2]float64{11, 0}, [2]float64{20, 10}, false, [2]float64{}, [2]float64{}},
		{"parallel outside", [2]float64{-1, 0}, [2]float64{-1, 10}, false, [2]float64{}, [2]float64{}},
		{"far away", [2]float64{-1e12, 5}, [2]float64{1e12, 5}, true, [2]float64{0, 5}, [2]float64{10, 5}},
	} {
		ca, cb, ok := clipLine(r, tc.a, tc.b)
		if ok != tc.ok || (ok && (!near(ca, tc.ca) || !near(cb, tc.cb))) {
			t.Errorf("%s: clipLine = %v %v %v, want %v %v %v", tc.name, ca, cb, ok, tc.ca, tc.cb, tc.ok)
		}
	}
}

func near(a, b [2]float64) bool { return math.Abs(a[0]-b[0]) < 1e-9 && math.Abs(a[1]-b[1]) < 1e-9 }

func testChart() *Chart {
	return &Chart{
		Title: "Coverage: 1000 peers",
		X:     Axis{Label: "walk rounds"},
		Y:     Axis{Label: "fraction held", Min: 0, Max: 1},
		Series: []Series{
			{Name: "ours", X: []float64{0, 1, 2, 3, 4}, Y: []float64{0, 0.3, 0.8, 0.95, 1}},
			{Name: "dispersy", X: []float64{0, 2, 4, 6, 8}, Y: []float64{0, 0.1, 0.4, 0.9, 1}},
		},
	}
}

// count returns how many pixels of img have colour index ci inside r.
func count(img *image.Paletted, r image.Rectangle, ci uint8) int {
	n := 0
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.ColorIndexAt(x, y) == ci {
				n++
			}
		}
	}
	return n
}

func TestImage(t *testing.T) {
	c := testChart()
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect != image.Rect(0, 0, DefaultWidth, DefaultHeight) {
		t.Errorf("image is %v", img.Rect)
	}
	if len(img.Palette) != ciFirstSeries+2 {
		t.Errorf("palette has %d colours, want %d", len(img.Palette), ciFirstSeries+2)
	}
	if img.Palette[ciFirstSeries] != Palette[0] || img.Palette[ciFirstSeries+1] != Palette[1] {
		t.Errorf("series colours %v, %v, want the first two of Palette", img.Palette[ciFirstSeries], img.Palette[ciFirstSeries+1])
	}
	// "ours" ends at x = 4, half way; "dispersy" spans the whole width.
	for i, wantRight := range []bool{false, true} {
		ci := uint8(ciFirstSeries + i)
		area := frame(t, img)
		mid := (area.Min.X + area.Max.X) / 2
		left := count(img, image.Rect(0, 0, mid-2, DefaultHeight), ci)
		right := count(img, image.Rect(mid+2, 0, area.Max.X, DefaultHeight), ci)
		// The legend's line samples sit in a corner; leave them out.
		right -= count(img, legendBox(t, img, area), ci)
		if left < 300 || (right > 0) != wantRight {
			t.Errorf("series %d: %d pixels left of the middle, %d right", i, left, right)
		}
	}
	if n := count(img, img.Rect, ciInk); n < 500 {
		t.Errorf("only %d pixels of text", n)
	}
	if n := count(img, img.Rect, ciGrid); n < 1000 {
		t.Errorf("only %d pixels of grid", n)
	}
	// The title is centred in the top rows.
	if n := count(img, image.Rect(0, 0, DefaultWidth, 8+textHeight(DefaultScale)+8), ciInk); n < 100 {
		t.Errorf("title: %d pixels of ink at the top", n)
	}

	// Determinism: the same chart gives the same bytes.
	var a, b bytes.Buffer
	if err := c.WritePNG(&a); err != nil {
		t.Fatal(err)
	}
	if err := testChart().WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two identical charts gave different PNGs")
	}
	dec, err := png.Decode(&a)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Bounds() != img.Rect {
		t.Errorf("decoded PNG is %v", dec.Bounds())
	}
	if got := color.RGBAModel.Convert(dec.At(0, 0)); got != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("corner pixel %v, want white paper", got)
	}
}

// TestClipping: values outside a fixed range never draw outside the plot
// area (the frame's inside).
func TestClipping(t *testing.T) {
	c := &Chart{
		Y: Axis{Min: 0, Max: 1},
		Series: []Series{{
			Name: "wild",
			X:    []float64{0, 1, 2, 3, 4, 5},
			Y:    []float64{-5, 0.5, 50, math.NaN(), 0.5, 1e300},
		}},
	}
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	// Find the frame: the plot area's grey border, from the middle row.
	ci := uint8(ciFirstSeries)
	area := frame(t, img)
	inside := count(img, area, ci)
	if total := count(img, img.Rect, ci); total < 100 || total != inside {
		t.Errorf("%d series pixels, %d of them inside the plot area", total, inside)
	}
	// The NaN breaks the line; the huge values are clipped at the top
	// and bottom of the plot area.
	top := count(img, image.Rect(area.Min.X, area.Min.Y, area.Max.X, area.Min.Y+3), ci)
	bottom := count(img, image.Rect(area.Min.X, area.Max.Y-3, area.Max.X, area.Max.Y), ci)
	if top == 0 || bottom == 0 {
		t.Errorf("clipped lines: %d pixels at the top edge, %d at the bottom", top, bottom)
	}
}

// frame returns the plot area of a drawn chart, frame included: the
// frame's left edge is the first frame-coloured pixel of the middle row
// (left of it lie only tick labels, in ink), its right edge the last; the
// run of frame-coloured pixels through the middle of the left edge gives
// the top and bottom.
func frame(t *testing.T, img *image.Paletted) image.Rectangle {
	t.Helper()
	midY := img.Rect.Dy() / 2
	x0, x1 := -1, -1
	for x := 0; x < img.Rect.Dx(); x++ {
		if img.ColorIndexAt(x, midY) == ciFrame {
			if x0 < 0 {
				x0 = x
			}
			x1 = x
		}
	}
	if x0 < 0 {
		t.Fatal("no frame found")
	}
	y0, y1 := midY, midY
	for y0 > 0 && img.ColorIndexAt(x0, y0-1) == ciFrame {
		y0--
	}
	for y1 < img.Rect.Dy()-1 && img.ColorIndexAt(x0, y1+1) == ciFrame {
		y1++
	}
	// The x tick at the left edge continues the frame downward; the
	// bottom edge is the lowest row where the frame runs sideways.
	for y1 > y0 && img.ColorIndexAt(x0+1, y1) != ciFrame {
		y1--
	}
	return image.Rect(x0, y0, x1+1, y1+1)
}

// legendBox returns the legend's rectangle: the frame-coloured box inside
// the plot area (found from its corners' vertical edges).
func legendBox(t *testing.T, img *image.Paletted, area image.Rectangle) image.Rectangle {
	t.Helper()
	inner := area.Inset(2)
	box := image.Rectangle{}
	found := false
	for y := inner.Min.Y; y < inner.Max.Y; y++ {
		for x := inner.Min.X; x < inner.Max.X; x++ {
			if img.ColorIndexAt(x, y) == ciFrame {
				p := image.Rect(x, y, x+1, y+1)
				if !found {
					box, found = p, true
				} else {
					box = box.Union(p)
				}
			}
		}
	}
	if !found {
		t.Fatal("no legend box in the plot area")
	}
	return box
}

func TestLegendAvoidsLines(t *testing.T) {
	// A line along the top of the plot: the legend must go to a bottom
	// corner. And one along the bottom: it must go to a top corner.
	for _, tc := range []struct {
		y       float64
		wantTop bool
	}{{0.97, false}, {0.03, true}} {
		c := &Chart{
			Y:      Axis{Min: 0, Max: 1},
			Series: []Series{{Name: "flat line", X: []float64{0, 10}, Y: []float64{tc.y, tc.y}}},
		}
		img, err := c.Image()
		if err != nil {
			t.Fatal(err)
		}
		area := frame(t, img)
		mid := (area.Min.Y + area.Max.Y) / 2
		top := count(img, image.Rect(area.Min.X+1, area.Min.Y+1, area.Max.X-1, mid), ciInk)
		bottom := count(img, image.Rect(area.Min.X+1, mid, area.Max.X-1, area.Max.Y-1), ciInk)
		if gotTop := top > bottom; gotTop != tc.wantTop || top+bottom == 0 {
			t.Errorf("line at %v: legend text %d pixels in the top half, %d in the bottom half", tc.y, top, bottom)
		}
	}
}

func TestLonePointsAndEmpty(t *testing.T) {
	// A lone point (neighbours are NaN) is drawn as a dot.
	c := &Chart{Series: []Series{{X: []float64{0, 1, 2}, Y: []float64{math.NaN(), 5, math.Inf(1)}}}}
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	if n := count(img, img.Rect, ciFirstSeries); n < 4 {
		t.Errorf("lone point drew %d pixels", n)
	}
	// An empty chart draws a frame and no legend.
	img, err = (&Chart{}).Image()
	if err != nil {
		t.Fatal(err)
	}
	if count(img, img.Rect, ciFrame) == 0 {
		t.Error("empty chart has no frame")
	}
}

func TestImageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Chart
		want string
	}{
		{"lengths", Chart{Series: []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}}}, "2 x values and 1 y values"},
		{"too small", Chart{Width: 100, Height: 100}, "image size"},
		{"too large", Chart{Width: 1 << 15}, "image size"},
		{"scale", Chart{Scale: 9}, "Scale 9"},
		{"too many series", Chart{Series: make([]Series, maxSeries+1)}, "series; at most"},
		{"no room", Chart{Width: MinWidth, Height: MinHeight, Scale: 8, Title: "t", X: Axis{Label: "x"}, Y: Axis{Label: "y"}}, "no room"},
	} {
		_, err := tc.c.Image()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Image() = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if err := tc.c.WritePNG(&bytes.Buffer{}); err == nil {
			t.Errorf("%s: WritePNG succeeded", tc.name)
		}
	}
}

func TestCustomColour(t *testing.T) {
	c := &Chart{Series: []Series{{Name: "a", X: []float64{0, 1}, Y: []float64{0, 1}, Color: color.Gray{Y: 17}}}}
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Palette[ciFirstSeries]; got != (color.RGBA{17, 17, 17, 255}) {
		t.Errorf("series colour %v", got)
	}
}
