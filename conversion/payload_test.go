package conversion_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestReader runs each Reader method on inputs that succeed and that fail.
// Each row reads with read, which returns the values it got; want is their
// fmt rendering.
func TestReader(t *testing.T) {
	type R = conversion.Reader
	tests := []struct {
		name   string
		in     string
		read   func(r *R) []any
		want   []any
		reason conversion.Reason // of Finish; ReasonNone if it succeeds
		offset int               // error offset, or Offset() at the end on success
	}{
		{"uint8", "ab", func(r *R) []any { return []any{r.Uint8()} }, []any{uint8(0xab)}, 0, 1},
		{"uint8/empty", "", func(r *R) []any { return []any{r.Uint8()} }, []any{uint8(0)}, conversion.TooShort, 0},
		{"bool/0-1", "00 01", func(r *R) []any { return []any{r.Bool(), r.Bool()} }, []any{false, true}, 0, 2},
		{"bool/2", "01 02", func(r *R) []any { return []any{r.Bool(), r.Bool()} }, []any{true, false}, conversion.BadField, 1},
		{"bool/empty", "", func(r *R) []any { return []any{r.Bool()} }, []any{false}, conversion.TooShort, 0},
		{"uint16", "12 34", func(r *R) []any { return []any{r.Uint16()} }, []any{uint16(0x1234)}, 0, 2},
		{"uint16/short", "12", func(r *R) []any { return []any{r.Uint16()} }, []any{uint16(0)}, conversion.TooShort, 0},
		{"uint32", "de ad be ef", func(r *R) []any { return []any{r.Uint32()} }, []any{uint32(0xdeadbeef)}, 0, 4},
		{"uint32/short", "de ad be", func(r *R) []any { return []any{r.Uint32()} }, []any{uint32(0)}, conversion.TooShort, 0},
		{"uint64", "01 02 03 04 05 06 07 08", func(r *R) []any { return []any{r.Uint64()} }, []any{uint64(0x0102030405060708)}, 0, 8},
		{"uint64/short", "01 02 03 04 05 06 07", func(r *R) []any { return []any{r.Uint64()} }, []any{uint64(0)}, conversion.TooShort, 0},
		{"int64/negative", "ff ff ff ff ff ff ff fe", func(r *R) []any { return []any{r.Int64()} }, []any{int64(-2)}, 0, 8},
		{"int64/min", "80 00 00 00 00 00 00 00", func(r *R) []any { return []any{r.Int64()} }, []any{int64(math.MinInt64)}, 0, 8},
		{"bytes", "01 02 03", func(r *R) []any { return []any{r.Bytes(2), r.Bytes(0), r.Bytes(1)} }, []any{[]byte{1, 2}, []byte{}, []byte{3}}, 0, 3},
		{"bytes/short", "01 02 03", func(r *R) []any { return []any{r.Bytes(4)} }, []any{[]byte(nil)}, conversion.TooShort, 0},
		{"bytes/negative", "01", func(r *R) []any { return []any{r.Bytes(-1)} }, []any{[]byte(nil)}, conversion.TooShort, 0},
		{"fixed", "aa bb cc", func(r *R) []any {
			var d [3]byte
			r.Fixed(d[:])
			return []any{d}
		}, []any{[3]byte{0xaa, 0xbb, 0xcc}}, 0, 3},
		{"fixed/short", "aa bb", func(r *R) []any {
			d := [3]byte{9, 9, 9}
			r.Fixed(d[:])
			return []any{d}
		}, []any{[3]byte{9, 9, 9}}, conversion.TooShort, 0},
		{"bytes8", "02 61 62", func(r *R) []any { return []any{r.Bytes8()} }, []any{[]byte("ab")}, 0, 3},
		{"bytes8/empty", "00", func(r *R) []any { return []any{r.Bytes8()} }, []any{[]byte{}}, 0, 1},
		{"bytes8/short", "03 61 62", func(r *R) []any { return []any{r.Bytes8()} }, []any{[]byte(nil)}, conversion.TooShort, 1},
		{"bytes8/no-length", "", func(r *R) []any { return []any{r.Bytes8()} }, []any{[]byte(nil)}, conversion.TooShort, 0},
		{"bytes16", "00 02 61 62", func(r *R) []any { return []any{r.Bytes16()} }, []any{[]byte("ab")}, 0, 4},
		{"bytes16/short", "01 00 61", func(r *R) []any { return []any{r.Bytes16()} }, []any{[]byte(nil)}, conversion.TooShort, 2},
		{"bytes32", "00 00 00 01 61", func(r *R) []any { return []any{r.Bytes32()} }, []any{[]byte("a")}, 0, 5},
		{"bytes32/huge", "ff ff ff ff 61", func(r *R) []any { return []any{r.Bytes32()} }, []any{[]byte(nil)}, conversion.TooShort, 4},
		{"string8", "03 61 62 63", func(r *R) []any { return []any{r.String8()} }, []any{"abc"}, 0, 4},
		{"string8/utf8", "02 c3 a9", func(r *R) []any { return []any{r.String8()} }, []any{"é"}, 0, 3},
		{"string8/invalid-utf8", "02 c3 28", func(r *R) []any { return []any{r.String8()} }, []any{""}, conversion.BadField, 1},
		{"string8/truncated-rune", "01 c3", func(r *R) []any { return []any{r.String8()} }, []any{""}, conversion.BadField, 1},
		{"string8/short", "05 61", func(r *R) []any { return []any{r.String8()} }, []any{""}, conversion.TooShort, 1},
		{"string16", "00 02 68 69", func(r *R) []any { return []any{r.String16()} }, []any{"hi"}, 0, 4},
		{"string16/invalid-utf8", "61 00 01 ff", func(r *R) []any { return []any{r.Uint8(), r.String16()} }, []any{uint8(0x61), ""}, conversion.BadField, 3},
		{"string32", "00 00 00 00", func(r *R) []any { return []any{r.String32()} }, []any{""}, 0, 4},
		{"string32/invalid-utf8", "00 00 00 02 ed a0", func(r *R) []any { return []any{r.String32()} }, []any{""}, conversion.BadField, 4},
		{"count8", "02 00 01 00 02", func(r *R) []any { return []any{r.Count8(2)} }, []any{2}, conversion.Trailing, 1},
		{"count8/exact", "02 00 01 00 02", func(r *R) []any { return []any{r.Count8(2), r.Uint16(), r.Uint16()} }, []any{2, uint16(1), uint16(2)}, 0, 5},
		{"count8/too-many", "03 00 01 00 02", func(r *R) []any { return []any{r.Count8(2)} }, []any{0}, conversion.BadField, 1},
		{"count8/min-item-0-is-1", "02 aa", func(r *R) []any { return []any{r.Count8(0)} }, []any{0}, conversion.BadField, 1},
		{"count8/zero-empty", "00", func(r *R) []any { return []any{r.Count8(100)} }, []any{0}, 0, 1},
		{"count16", "00 03 01 02 03", func(r *R) []any { return []any{r.Count16(1), r.Rest()} }, []any{3, []byte{1, 2, 3}}, 0, 5},
		{"count16/too-many", "ff ff 01", func(r *R) []any { return []any{r.Count16(1)} }, []any{0}, conversion.BadField, 2},
		{"count32", "00 00 00 01 07", func(r *R) []any { return []any{r.Count32(1), r.Uint8()} }, []any{1, uint8(7)}, 0, 5},
		// A hostile count does not make the caller allocate: it is refused.
		{"count32/hostile", "ff ff ff ff 00 00", func(r *R) []any { return []any{r.Count32(1)} }, []any{0}, conversion.BadField, 4},
		{"count32/short", "00 00 01", func(r *R) []any { return []any{r.Count32(1)} }, []any{0}, conversion.TooShort, 0},
		{"rest", "01 02 03", func(r *R) []any { return []any{r.Uint8(), r.Rest(), r.Len()} }, []any{uint8(1), []byte{2, 3}, 0}, 0, 3},
		{"rest/empty", "", func(r *R) []any { return []any{r.Rest()} }, []any{[]byte{}}, 0, 0},
		{"len", "01 02 03", func(r *R) []any { return []any{r.Len(), r.Uint8(), r.Len()} }, []any{3, uint8(1), 2}, conversion.Trailing, 1},
		{"trailing", "01 02", func(r *R) []any { return []any{r.Uint8()} }, []any{uint8(1)}, conversion.Trailing, 1},
		{"invalid", "07", func(r *R) []any {
			v := r.Uint8()
			r.Invalid("level", "7 > 5")
			return []any{v, r.Len()}
		}, []any{uint8(7), 0}, conversion.BadField, 1},
		// Sticky: after the first failure every call returns its zero value
		// and the offset stays where it failed.
		{"sticky", "01 02 03 04 05 06 07 08 09", func(r *R) []any {
			a := r.Uint16()
			b := r.Uint64() // 7 left: fails at offset 2
			off := r.Offset()
			c := r.Uint8()
			d := r.Bytes(1)
			e := r.String8()
			r.Invalid("later", "ignored")
			f := r.Count8(1)
			return []any{a, b, off, c, d, e, f, r.Offset(), r.Len(), r.Rest()}
		}, []any{uint16(0x0102), uint64(0), 2, uint8(0), []byte(nil), "", 0, 2, 0, []byte(nil)}, conversion.TooShort, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := hx(t, tc.in)
			r := conversion.NewReader(in)
			got := tc.read(&r)
			if len(got) != len(tc.want) {
				t.Fatalf("read %d values, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !sameValue(got[i], tc.want[i]) {
					t.Errorf("value %d = %#v, want %#v", i, got[i], tc.want[i])
				}
			}
			err := r.Finish()
			if r.Offset() > len(in) {
				t.Errorf("Offset() %d beyond the input's %d bytes", r.Offset(), len(in))
			}
			if tc.reason == conversion.ReasonNone {
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				if r.Offset() != tc.offset {
					t.Errorf("Offset() = %d, want %d", r.Offset(), tc.offset)
				}
				return
			}
			var de *conversion.DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason || de.Offset != tc.offset {
				t.Fatalf("Finish = %v, want %v at offset %d", err, tc.reason, tc.offset)
			}
			if r.Err() != err || r.Finish() != err {
				t.Error("Err and a second Finish do not return the same first error")
			}
		})
	}
}

// sameValue compares two read values, telling nil and empty slices apart.
func sameValue(a, b any) bool {
	ab, aok := a.([]byte)
	bb, bok := b.([]byte)
	if aok || bok {
		return aok && bok && bytes.Equal(ab, bb) && (ab == nil) == (bb == nil)
	}
	return a == b
}

// TestReaderAliasing: slices alias the input, with their capacity capped so
// that appending to one cannot overwrite the bytes after it.
func TestReaderAliasing(t *testing.T) {
	in := []byte{2, 'a', 'b', 'c', 'd'}
	r := conversion.NewReader(in)
	b := r.Bytes8()
	if cap(b) != 2 {
		t.Errorf("cap = %d, want 2", cap(b))
	}
	in[1] = 'z'
	if b[0] != 'z' {
		t.Error("Bytes8 does not alias the input")
	}
	_ = append(b, 'x')
	if in[3] != 'c' {
		t.Error("appending to a read slice overwrote the input")
	}
}

// TestWriter checks the bytes of every Writer method.
func TestWriter(t *testing.T) {
	type W = conversion.Writer
	tests := []struct {
		name  string
		write func(w *W)
		want  string
	}{
		{"uint8", func(w *W) { w.Uint8(0xab) }, "ab"},
		{"bool", func(w *W) { w.Bool(true); w.Bool(false) }, "01 00"},
		{"uint16", func(w *W) { w.Uint16(0x1234) }, "12 34"},
		{"uint32", func(w *W) { w.Uint32(0xdeadbeef) }, "de ad be ef"},
		{"uint64", func(w *W) { w.Uint64(0x0102030405060708) }, "01 02 03 04 05 06 07 08"},
		{"int64", func(w *W) { w.Int64(-2) }, "ff ff ff ff ff ff ff fe"},
		{"bytes", func(w *W) { w.Bytes([]byte{1, 2}); w.Bytes(nil) }, "01 02"},
		{"bytes8", func(w *W) { w.Bytes8([]byte("ab")); w.Bytes8(nil) }, "02 61 62 00"},
		{"bytes16", func(w *W) { w.Bytes16([]byte("ab")) }, "00 02 61 62"},
		{"bytes32", func(w *W) { w.Bytes32([]byte("a")) }, "00 00 00 01 61"},
		{"string8", func(w *W) { w.String8("é") }, "02 c3 a9"},
		{"string16", func(w *W) { w.String16("hi") }, "00 02 68 69"},
		{"string32", func(w *W) { w.String32("") }, "00 00 00 00"},
		{"count8", func(w *W) { w.Count8(255) }, "ff"},
		{"count16", func(w *W) { w.Count16(65535) }, "ff ff"},
		{"count32", func(w *W) { w.Count32(7) }, "00 00 00 07"},
		{"bytes8/max", func(w *W) { w.Bytes8(make([]byte, 255)) }, "ff" + strings.Repeat(" 00", 255)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := conversion.NewWriter([]byte{0xee})
			tc.write(&w)
			got, err := w.Finish()
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			want := append([]byte{0xee}, hx(t, tc.want)...)
			if !bytes.Equal(got, want) {
				t.Errorf("wrote % x, want % x", got, want)
			}
			if w.Len() != len(want) {
				t.Errorf("Len() = %d, want %d", w.Len(), len(want))
			}
		})
	}
}

// TestWriterErrors: values that do not fit their length prefix, and invalid
// UTF-8, set a sticky error; the first one is kept.
func TestWriterErrors(t *testing.T) {
	type W = conversion.Writer
	big8, big16 := make([]byte, 256), make([]byte, 65536)
	tests := []struct {
		name  string
		write func(w *W)
		want  string
	}{
		{"bytes8", func(w *W) { w.Bytes8(big8) }, "Bytes8: 256 bytes exceed 255"},
		{"bytes16", func(w *W) { w.Bytes16(big16) }, "Bytes16: 65536 bytes exceed 65535"},
		{"string8/long", func(w *W) { w.String8(string(big8)) }, "String8: 256 bytes exceed 255"},
		{"string16/long", func(w *W) { w.String16(string(big16)) }, "String16: 65536 bytes exceed 65535"},
		{"string8/utf8", func(w *W) { w.String8("\xff") }, "String8: invalid UTF-8"},
		{"string16/utf8", func(w *W) { w.String16("a\xc3") }, "String16: invalid UTF-8"},
		{"string32/utf8", func(w *W) { w.String32("\xed\xa0\x80") }, "String32: invalid UTF-8"},
		{"count8/big", func(w *W) { w.Count8(256) }, "Count8: 256 out of range"},
		{"count8/negative", func(w *W) { w.Count8(-1) }, "Count8: -1 out of range"},
		{"count16/big", func(w *W) { w.Count16(65536) }, "Count16: 65536 out of range"},
		{"count16/negative", func(w *W) { w.Count16(-1) }, "Count16: -1 out of range"},
		{"count32/big", func(w *W) { w.Count32(1 << 32) }, "Count32: 4294967296 out of range"},
		{"count32/negative", func(w *W) { w.Count32(-5) }, "Count32: -5 out of range"},
		{"sticky", func(w *W) { w.Count8(300); w.Uint8(1); w.String8("\xff") }, "Count8: 300 out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := conversion.NewWriter(nil)
			tc.write(&w)
			_, err := w.Finish()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Finish error %v, want %q", err, tc.want)
			}
			// A failed field writes nothing of itself.
			if strings.HasPrefix(tc.name, "count") || strings.HasSuffix(tc.name, "utf8") || strings.HasSuffix(tc.name, "long") {
				if w.Len() != 0 {
					t.Errorf("a refused field wrote %d bytes", w.Len())
				}
			}
		})
	}
}

// TestWriterReaderRoundTrip writes random values with every method and reads
// them back (a seeded model check).
func TestWriterReaderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		type op struct {
			kind int
			v    any
		}
		var ops []op
		w := conversion.NewWriter(nil)
		for range rng.IntN(20) {
			k := rng.IntN(13)
			switch k {
			case 0:
				v := uint8(rng.Uint32())
				w.Uint8(v)
				ops = append(ops, op{k, v})
			case 1:
				v := rng.IntN(2) == 1
				w.Bool(v)
				ops = append(ops, op{k, v})
			case 2:
				v := uint16(rng.Uint32())
				w.Uint16(v)
				ops = append(ops, op{k, v})
			case 3:
				v := rng.Uint32()
				w.Uint32(v)
				ops = append(ops, op{k, v})
			case 4:
				v := rng.Uint64()
				w.Uint64(v)
				ops = append(ops, op{k, v})
			case 5:
				v := rng.Int64() - rng.Int64()
				w.Int64(v)
				ops = append(ops, op{k, v})
			case 6, 7, 8:
				v := randBytes(rng, rng.IntN(300))
				if k == 6 {
					v = v[:min(len(v), 255)]
					w.Bytes8(v)
				} else if k == 7 {
					w.Bytes16(v)
				} else {
					w.Bytes32(v)
				}
				ops = append(ops, op{k, string(v)})
			case 9, 10, 11:
				v := randString(rng, rng.IntN(40))
				switch k {
				case 9:
					w.String8(v)
				case 10:
					w.String16(v)
				default:
					w.String32(v)
				}
				ops = append(ops, op{k, v})
			case 12:
				n := rng.IntN(4)
				w.Count16(n)
				for i := range n {
					w.Uint32(uint32(i))
				}
				ops = append(ops, op{k, n})
			}
		}
		data, err := w.Finish()
		if err != nil {
			t.Fatalf("iteration %d: Writer: %v", iter, err)
		}
		r := conversion.NewReader(data)
		for i, o := range ops {
			var got any
			switch o.kind {
			case 0:
				got = r.Uint8()
			case 1:
				got = r.Bool()
			case 2:
				got = r.Uint16()
			case 3:
				got = r.Uint32()
			case 4:
				got = r.Uint64()
			case 5:
				got = r.Int64()
			case 6:
				got = string(r.Bytes8())
			case 7:
				got = string(r.Bytes16())
			case 8:
				got = string(r.Bytes32())
			case 9:
				got = r.String8()
			case 10:
				got = r.String16()
			case 11:
				got = r.String32()
			case 12:
				n := r.Count16(4)
				for j := range n {
					if v := r.Uint32(); v != uint32(j) {
						t.Fatalf("iteration %d op %d: list item %d = %d", iter, i, j, v)
					}
				}
				got = n
			}
			if got != o.v {
				t.Fatalf("iteration %d op %d (kind %d): read %#v, wrote %#v", iter, i, o.kind, got, o.v)
			}
		}
		if err := r.Finish(); err != nil {
			t.Fatalf("iteration %d: Reader: %v", iter, err)
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randString(rng *rand.Rand, n int) string {
	runes := []rune{'a', 'z', '0', ' ', 'é', 'ß', '✓', '日', '😀', 0}
	var sb strings.Builder
	for range n {
		sb.WriteRune(runes[rng.IntN(len(runes))])
	}
	return sb.String()
}
