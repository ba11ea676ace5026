package plot

import (
	"fmt"
	"image"
	"strings"
)

// The font: a bitmap font of the printable ASCII characters (space to ~),
// each glyph fontWidth × fontHeight pixels on a cell of cellWidth ×
// fontHeight. Rows 0..6 hold capitals and digits (row 6 is the baseline);
// rows 7 and 8 hold descenders (g, j, p, q, y, the comma and the
// underscore). Any other rune is drawn as a hollow box.
const (
	fontWidth  = 5
	fontHeight = 9
	// capHeight is the height of capitals and digits: rows 0..6.
	capHeight = 7
	cellWidth = fontWidth + 1
	firstChar = ' '
	lastChar  = '~'
)

// fontBlock is 16 consecutive characters drawn side by side: glyph i is
// columns 6i..6i+4 of every row, '#' for ink, '.' for paper.
type fontBlock struct {
	chars string
	rows  [fontHeight]string
}

// fontBlocks is the font's source, readable as pictures. Blocks are in
// character order from firstChar; init checks every row.
var fontBlocks = []fontBlock{
	{" !\"#$%&'()*+,-./", [fontHeight]string{
		//       !     "     #     $     %     &     '     (     )     *     +     ,     -     .     /
		"..... ..#.. .#.#. .#.#. ..#.. ##... .##.. ..#.. ...#. .#... ..... ..... ..... ..... ..... ....#",
		"..... ..#.. .#.#. .#.#. .#### ##..# #..#. ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..... ..... ....#",
		"..... ..#.. ..... ##### #.#.. ...#. #.#.. .#... .#... ...#. #.#.# ..#.. ..... ..... ..... ...#.",
		"..... ..#.. ..... .#.#. .###. ..#.. .#... ..... .#... ...#. .###. ##### ..... ##### ..... ..#..",
		"..... ..#.. ..... ##### ..#.# .#... #.#.# ..... .#... ...#. #.#.# ..#.. ..... ..... ..... .#...",
		"..... ..... ..... .#.#. ####. #..## #..#. ..... ..#.. ..#.. ..#.. ..#.. .##.. ..... .##.. #....",
		"..... ..#.. ..... .#.#. ..#.. ...## .##.# ..... ...#. .#... ..... ..... ..#.. ..... .##.. #....",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .#... ..... ..... .....",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
	}},
	{"0123456789:;<=>?", [fontHeight]string{
		// 0     1     2     3     4     5     6     7     8     9     :     ;     <     =     >     ?
		".###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###. ..... ..... ...#. ..... .#... .###.",
		"#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...# .##.. .##.. ..#.. ..... ..#.. #...#",
		"#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...# .##.. .##.. .#... ##### ...#. ....#",
		"#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .#### ..... ..... #.... ..... ....# ...#.",
		"##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....# .##.. .##.. .#... ##### ...#. ..#..",
		"#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#. .##.. ..#.. ..#.. ..... ..#.. .....",
		".###. .###. ##### .###. ...#. .###. .###. .#... .###. .##.. ..... .#... ...#. ..... .#... ..#..",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
	}},
	{"@ABCDEFGHIJKLMNO", [fontHeight]string{
		// @     A     B     C     D     E     F     G     H     I     J     K     L     M     N     O
		".###. .###. ####. .###. ###.. ##### ##### .###. #...# .###. ..### #...# #.... #...# #...# .###.",
		"#...# #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.## #...# #...#",
		"....# #...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.# ##..# #...#",
		".##.# ##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.# #.#.# #...#",
		"#.#.# #...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...# #..## #...#",
		"#.#.# #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...# #...# #...#",
		".###. #...# ####. .###. ###.. ##### #.... .#### #...# .###. .##.. #...# ##### #...# #...# .###.",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
	}},
	{"PQRSTUVWXYZ[\\]^_", [fontHeight]string{
		// P     Q     R     S     T     U     V     W     X     Y     Z     [     \     ]     ^     _
		"####. .###. ####. .#### ##### #...# #...# #...# #...# #...# ##### .###. #.... .###. ..#.. .....",
		"#...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....# .#... #.... ...#. .#.#. .....",
		"#...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#. .#... .#... ...#. #...# .....",
		"####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#.. .#... ..#.. ...#. ..... .....",
		"#.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#... .#... ...#. ...#. ..... .....",
		"#.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #.... .#... ....# ...#. ..... .....",
		"#.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. ##### .###. ....# .###. ..... .....",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... #####",
		"..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
	}},
	{"`abcdefghijklmno", [fontHeight]string{
		// `     a     b     c     d     e     f     g     h     i     j     k     l     m     n     o
		".#... ..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#. #.... .##.. ..... ..... .....",
		"..#.. ..... #.... ..... ....# ..... .#..# ..... #.... ..... ..... #.... ..#.. ..... ..... .....",
		"..... .###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#. #.##. .###.",
		"..... ....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.# ##..# #...#",
		"..... .#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.# #...# #...#",
		"..... #...# #...# #...# #...# #.... .#... #...# #...# ..#.. ...#. #.#.. ..#.. #.#.# #...# #...#",
		"..... .#### ####. .###. .#### .###. .#... .#### #...# .###. ...#. #..#. .###. #.#.# #...# .###.",
		"..... ..... ..... ..... ..... ..... ..... ....# ..... ..... #..#. ..... ..... ..... ..... .....",
		"..... ..... ..... ..... ..... ..... ..... .###. ..... ..... .##.. ..... ..... ..... ..... .....",
	}},
	{"pqrstuvwxyz{|}~", [fontHeight]string{
		// p     q     r     s     t     u     v     w     x     y     z     {     |     }     ~
		"..... ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ...#. ..#.. .#... .....",
		"..... ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ..#.. ..#.. ..#.. .....",
		"####. .#### #.##. .#### ###.. #...# #...# #...# #...# #...# ##### ..#.. ..#.. ..#.. .#...",
		"#...# #...# ##..# #.... .#... #...# #...# #...# .#.#. #...# ...#. .#... ..#.. ...#. #.#.#",
		"#...# #...# #.... .###. .#... #...# #...# #.#.# ..#.. #...# ..#.. ..#.. ..#.. ..#.. ...#.",
		"#...# #...# #.... ....# .#..# #..## .#.#. #.#.# .#.#. #...# .#... ..#.. ..#.. ..#.. .....",
		"####. .#### #.... ####. ..##. .##.# ..#.. .#.#. #...# .#### ##### ...#. ..#.. .#... .....",
		"#.... ....# ..... ..... ..... ..... ..... ..... ..... ....# ..... ..... ..... ..... .....",
		"#.... ....# ..... ..... ..... ..... ..... ..... ..... .###. ..... ..... ..... ..... .....",
	}},
}

// glyphs[c-firstChar][row] is the row's ink as bits, bit 4 the leftmost
// column.
var glyphs [lastChar - firstChar + 1][fontHeight]uint8

// boxGlyph is drawn for runes the font lacks.
var boxGlyph = [fontHeight]uint8{0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f}

func init() {
	if err := loadFont(); err != nil {
		panic(err)
	}
}

// loadFont fills glyphs from fontBlocks, checking their shape.
func loadFont() error {
	next := rune(firstChar)
	for bi, b := range fontBlocks {
		n := len(b.chars)
		for i, c := range b.chars {
			if c != next {
				return fmt.Errorf("plot: font block %d, character %d: %q, want %q", bi, i, c, next)
			}
			next++
		}
		for r, row := range b.rows {
			if len(row) != n*cellWidth-1 {
				return fmt.Errorf("plot: font block %d row %d: %d columns, want %d", bi, r, len(row), n*cellWidth-1)
			}
			for i := range n {
				var bits uint8
				for x := range fontWidth {
					switch row[i*cellWidth+x] {
					case '#':
						bits |= 1 << (fontWidth - 1 - x)
					case '.':
					default:
						return fmt.Errorf("plot: font block %d row %d column %d: %q is neither '#' nor '.'", bi, r, i*cellWidth+x, row[i*cellWidth+x])
					}
				}
				if i < n-1 && row[i*cellWidth+fontWidth] != ' ' {
					return fmt.Errorf("plot: font block %d row %d: no space after glyph %d", bi, r, i)
				}
				glyphs[b.chars[i]-firstChar][r] = bits
			}
		}
	}
	if next != lastChar+1 {
		return fmt.Errorf("plot: the font ends at %q, want %q", next-1, rune(lastChar))
	}
	return nil
}

// glyph returns the rows of r's glyph.
func glyph(r rune) *[fontHeight]uint8 {
	if r >= firstChar && r <= lastChar {
		return &glyphs[r-firstChar]
	}
	return &boxGlyph
}

// textWidth returns the width in pixels of s drawn at scale: one cell per
// rune, without the trailing gap.
func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n*cellWidth - 1) * scale
}

// textHeight returns the height of a line of text at scale, descenders
// included.
func textHeight(scale int) int { return fontHeight * scale }

// drawText draws s with its top-left corner at (x, y), each font pixel a
// scale × scale square of colour index ci. When vertical is set the text
// runs upward (rotated a quarter turn counter-clockwise) and (x, y) is the
// bottom-left corner of the rotated text: the top of the glyphs faces left.
func drawText(img *image.Paletted, x, y int, s string, ci uint8, scale int, vertical bool) {
	pen := 0
	for _, r := range s {
		g := glyph(r)
		for row := range fontHeight {
			bits := g[row]
			for col := range fontWidth {
				if bits&(1<<(fontWidth-1-col)) == 0 {
					continue
				}
				u, v := (pen+col)*scale, row*scale // position along and across the text
				for dy := range scale {
					for dx := range scale {
						if vertical {
							setIndex(img, x+v+dy, y-u-dx-1, ci)
						} else {
							setIndex(img, x+u+dx, y+v+dy, ci)
						}
					}
				}
			}
		}
		pen += cellWidth
	}
}

// setIndex sets one pixel if it is inside the image.
func setIndex(img *image.Paletted, x, y int, ci uint8) {
	if (image.Point{x, y}).In(img.Rect) {
		img.Pix[img.PixOffset(x, y)] = ci
	}
}

// renderText returns s drawn at scale 1 as lines of '#' and '.', for tests
// and debugging.
func renderText(s string) string {
	w, h := textWidth(s, 1), textHeight(1)
	if w == 0 {
		return ""
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), basePalette)
	drawText(img, 0, 0, s, 1, 1, false)
	var b strings.Builder
	for y := range h {
		for x := range w {
			if img.ColorIndexAt(x, y) != 0 {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
