package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestWriteSVG(t *testing.T) {
	c := &Chart{
		Title: "a <title> & more",
		X:     Axis{Label: "seconds (log)", Exp10: true},
		Y:     Axis{Label: "held", Min: 0, Max: 100},
		Series: []Series{
			{Name: "fast", X: []float64{-2, -1, 0}, Y: []float64{0, 50, 100}},
			{Name: "slow", X: []float64{-2, 1, 2, 3}, Y: []float64{0, 10, 60, 100}},
			{X: []float64{1}, Y: []float64{40}}, // a lone point, no legend entry
		},
	}
	var a, b bytes.Buffer
	if err := c.WriteSVG(&a); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same chart gave two different SVGs")
	}
	var texts []string
	dec := xml.NewDecoder(bytes.NewReader(a.Bytes()))
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			inText = x.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(x))
			}
		case xml.EndElement:
			inText = false
		}
	}
	all := strings.Join(texts, "|")
	for _, w := range []string{"a <title> & more", "seconds (log)", "held", "fast", "slow", "|0.01|", "|0.1|", "|1|", "|10|", "|100|", "|1000|", "|100|"} {
		if !strings.Contains("|"+all+"|", w) {
			t.Errorf("SVG text %q missing from %q", w, all)
		}
	}
	s := a.String()
	if n := strings.Count(s, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2", n)
	}
	if n := strings.Count(s, "<circle"); n != 1 {
		t.Errorf("%d dots, want 1 (the lone point)", n)
	}
	if !strings.Contains(s, `stroke="#1f77b4"`) || !strings.Contains(s, `stroke="#ff7f0e"`) {
		t.Error("series are not in Palette colours")
	}
	bad := &Chart{Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}}
	if err := bad.WriteSVG(io.Discard); err == nil {
		t.Error("a series with 2 x and 1 y values was drawn")
	}
}

// TestSVGLegendAvoidsLines: the legend goes to the corner its box covers
// the fewest line points in, top right first.
func TestSVGLegendAvoidsLines(t *testing.T) {
	legendAt := func(c *Chart) (x, y float64) {
		var b bytes.Buffer
		if err := c.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, `fill-opacity="0.9"`) {
				var w, h float64
				if _, err := fmt.Sscanf(l, `<rect x="%g" y="%g" width="%g" height="%g"`, &x, &y, &w, &h); err != nil {
					t.Fatalf("legend box %q: %v", l, err)
				}
				return x, y
			}
		}
		t.Fatal("no legend box")
		return 0, 0
	}
	empty := &Chart{X: Axis{Min: 0, Max: 10}, Y: Axis{Min: 0, Max: 10}, Series: []Series{{Name: "a", X: []float64{0, 1}, Y: []float64{0, 1}}}}
	if x, y := legendAt(empty); x < DefaultWidth/2 || y > DefaultHeight/2 {
		t.Errorf("legend at (%v, %v), want top right when nothing is there", x, y)
	}
	topRight := &Chart{X: Axis{Min: 0, Max: 10}, Y: Axis{Min: 0, Max: 10}, Series: []Series{{Name: "a", X: []float64{0, 4, 10}, Y: []float64{0, 9.5, 9.5}}}}
	if x, y := legendAt(topRight); x < DefaultWidth/2 || y < DefaultHeight/2 {
		t.Errorf("legend at (%v, %v), want bottom right: a line runs along the top", x, y)
	}
}
