// Package plot draws simple line charts as PNG images with the standard
// library only: axes with numbered ticks and a light grid, a title, axis
// labels, several series in distinct colours and a legend. Text uses a
// small bitmap font embedded in the source (printable ASCII, 5 × 7 pixels
// plus descenders, scaled up by whole pixels).
//
// It exists for the documentation's figures (tools/simulate's coverage
// curves) and tests: no anti-aliasing, no log scales, no fonts to load.
// WriteSVG draws the same chart as vector graphics (text in the reader's
// sans-serif font). For a log axis, plot log10 of the data and set
// Axis.Exp10, so the ticks read 0.1, 1, 10.
//
// # Usage
//
//	c := &plot.Chart{
//		Title: "Coverage",
//		X:     plot.Axis{Label: "walk rounds"},
//		Y:     plot.Axis{Label: "fraction held", Min: 0, Max: 1},
//		Series: []plot.Series{
//			{Name: "ours", X: []float64{0, 1, 2}, Y: []float64{0.01, 0.5, 1}},
//			{Name: "dispersy", X: []float64{0, 1, 2, 3}, Y: []float64{0.01, 0.2, 0.7, 1}},
//		},
//	}
//	err := c.WritePNG(f)
//
// # Invariants
//
//   - Deterministic: the same Chart gives the same image, pixel for pixel,
//     and the same PNG bytes.
//   - Nothing is drawn outside the plot area but the frame, ticks, labels
//     and title; lines are clipped to the plot area, so values outside a
//     fixed axis range are cut, never wrapped.
//   - Non-finite values (NaN, ±Inf) are skipped; they break a line in two.
//   - The image is 8-bit paletted: white paper, black text, grey grid and
//     frame, one palette entry per series.
package plot
