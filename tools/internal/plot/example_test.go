package plot_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"

	"github.com/dispersy-go/dispersy/tools/internal/plot"
)

func ExampleChart_WritePNG() {
	c := &plot.Chart{
		Title: "Coverage",
		X:     plot.Axis{Label: "walk rounds"},
		Y:     plot.Axis{Label: "fraction held", Min: 0, Max: 1},
		Series: []plot.Series{
			{Name: "ours", X: []float64{0, 1, 2, 3}, Y: []float64{0.01, 0.4, 0.9, 1}},
			{Name: "dispersy", X: []float64{0, 1, 2, 3, 4, 5}, Y: []float64{0.01, 0.1, 0.3, 0.6, 0.9, 1}},
		},
	}
	var buf bytes.Buffer // or an *os.File
	if err := c.WritePNG(&buf); err != nil {
		log.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d × %d PNG\n", cfg.Width, cfg.Height)
	// Output: 960 × 600 PNG
}
