package conversion_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/dispersy-go/dispersy/conversion"
)

// FuzzDecodeFrame decodes arbitrary bytes with the golden community's codec
// (two conversions, every authentication, dynamic resolution, sequence
// numbers). Decode must never panic, must reject with a closed-set reason,
// and anything it accepts must re-encode to identical bytes.
func FuzzDecodeFrame(f *testing.F) {
	codec := goldenCodec(f)
	for _, v := range goldenVectors(f) {
		pkt := v.build(f, codec)
		f.Add(pkt)
		// Random-ish prefixes: cut inside each field.
		for _, n := range []int{0, 1, 2, 22, 23, 24, 40, len(pkt) / 2, len(pkt) - 1} {
			if n <= len(pkt) {
				f.Add(pkt[:n])
			}
		}
	}
	f.Add([]byte{0x00, 0x01})                                      // Python Dispersy's version byte
	f.Add(append([]byte{0x01, 0x01}, make([]byte, 30)...))         // unknown community
	f.Add(bytes.Repeat([]byte{0xff}, 200))                         // all ones
	f.Add(append(append([]byte{0x01, 0x01}, testCID[:]...), 0x06)) // header only

	f.Fuzz(func(t *testing.T, pkt []byte) {
		in := bytes.Clone(pkt)
		fr, err := codec.Decode(pkt)
		if !bytes.Equal(in, pkt) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			r := conversion.ReasonOf(err)
			if r == conversion.ReasonNone || r == conversion.BadPayload || r.String() == "" || int(r) > len(conversion.Reasons()) {
				t.Fatalf("rejection with reason %v outside the closed set: %v", r, err)
			}
			if fr != nil {
				t.Fatal("a frame returned with an error")
			}
			return
		}
		again, err := codec.Encode(fr)
		if err != nil {
			t.Fatalf("accepted %x but Encode fails: %v", pkt, err)
		}
		if !bytes.Equal(again, pkt) {
			t.Fatalf("non-canonical: %x re-encodes to %x", pkt, again)
		}
		if fr.BodyLen+conversion.SignatureSize(fr.Authors) != len(pkt) || len(fr.Body()) != fr.BodyLen {
			t.Fatalf("BodyLen %d + signatures %d != %d", fr.BodyLen, conversion.SignatureSize(fr.Authors), len(pkt))
		}
		// Checking signatures of arbitrary frames must not panic either.
		_ = fr.Verify()
		for i := range fr.Authors {
			_ = fr.VerifyAuthor(i)
		}
	})
}

// FuzzReader drives a small program of Reader calls from the input: the
// first byte is the program length n, the next n bytes are the calls (low
// nibble: the method; high nibble: an argument), the rest is the data. The
// Reader must never panic, never read out of bounds, never move its offset
// past the data, and must agree with a simple model of each call.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{3, 0x00, 0x01, 0x02, 0xab, 0x01, 0x12, 0x34})
	f.Add([]byte{2, 0x08, 0x0b, 0x02, 'h', 'i', 0x01, 0xff})
	f.Add([]byte{4, 0x0c, 0x1c, 0x2d, 0x0e, 0x03, 1, 2, 3, 0, 1, 9})
	f.Add([]byte{1, 0x0a, 0xff, 0xff, 0xff, 0xff})
	f.Add(append([]byte{5, 0x05, 0x06, 0x07, 0x4f, 0x09}, everyWriterPayload()...))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		n := min(int(in[0]), len(in)-1)
		prog, data := in[1:1+n], in[1+n:]
		r := conversion.NewReader(data)
		off := 0 // the model's offset
		failed := false
		failOff := -1 // the Reader's offset after its failure
		for i, op := range prog {
			before := r.Offset()
			arg := int(op >> 4)
			var used int // bytes the call consumes when it succeeds; -1: must fail
			left := len(data) - off
			need := func(k int) int {
				if k > left {
					return -1
				}
				return k
			}
			prefixed := func(size int) int {
				if size > left {
					return -1
				}
				var l uint64
				for _, b := range data[off : off+size] {
					l = l<<8 | uint64(b)
				}
				if l > uint64(left-size) {
					return -1
				}
				return size + int(l)
			}
			switch op & 0x0f {
			case 0:
				used = need(1)
				r.Uint8()
			case 1:
				used = need(1)
				if used == 1 && data[off] > 1 {
					used = -1
				}
				r.Bool()
			case 2:
				used = need(2)
				r.Uint16()
			case 3:
				used = need(4)
				r.Uint32()
			case 4:
				used = need(8)
				r.Uint64()
			case 5:
				used = need(arg)
				b := r.Bytes(arg)
				if b != nil && len(b) != arg {
					t.Fatalf("Bytes(%d) returned %d bytes", arg, len(b))
				}
			case 6:
				used = prefixed(1)
				r.Bytes8()
			case 7:
				used = prefixed(2)
				r.Bytes16()
			case 8, 9, 10:
				size := map[byte]int{8: 1, 9: 2, 10: 4}[op&0x0f]
				used = prefixed(size)
				if used > 0 && !utf8.Valid(data[off+size:off+used]) {
					used = -1
				}
				var s string
				switch size {
				case 1:
					s = r.String8()
				case 2:
					s = r.String16()
				default:
					s = r.String32()
				}
				if !utf8.ValidString(s) {
					t.Fatalf("String returned invalid UTF-8 %q", s)
				}
			case 11, 12, 13:
				size := map[byte]int{11: 1, 12: 2, 13: 4}[op&0x0f]
				minItem := max(arg, 1)
				used = need(size)
				if used > 0 {
					var c uint64
					for _, b := range data[off : off+size] {
						c = c<<8 | uint64(b)
					}
					if c > uint64((left-size)/minItem) {
						used = -1
					}
				}
				var c int
				switch size {
				case 1:
					c = r.Count8(arg)
				case 2:
					c = r.Count16(arg)
				default:
					c = r.Count32(arg)
				}
				if c*minItem > len(data)-r.Offset() && r.Err() == nil {
					t.Fatalf("count %d of %d-byte items exceeds the %d bytes left", c, minItem, len(data)-r.Offset())
				}
			case 14:
				used = left
				r.Rest()
			case 15:
				var d [3]byte
				used = need(3)
				r.Fixed(d[:])
			}
			if failed {
				used = 0 // sticky: nothing moves after the first failure
			}
			switch {
			case used < 0:
				if r.Err() == nil {
					t.Fatalf("op %d (0x%02x) at offset %d succeeded; the model says it fails", i, op, off)
				}
				failed = true
			case r.Err() != nil && !failed:
				t.Fatalf("op %d (0x%02x) at offset %d failed (%v); the model says it uses %d bytes", i, op, off, r.Err(), used)
			default:
				off += used
			}
			if failed {
				// The failing call may have consumed a length prefix (at
				// most 4 bytes); after that the offset never moves.
				if failOff < 0 {
					failOff = r.Offset()
					if failOff < before || failOff > before+4 {
						t.Fatalf("op %d: failed with offset %d, started at %d", i, failOff, before)
					}
				}
				if r.Offset() != failOff || r.Len() != 0 {
					t.Fatalf("op %d: offset moved from %d to %d after a failure", i, failOff, r.Offset())
				}
				if conversion.ReasonOf(r.Err()) == conversion.ReasonNone {
					t.Fatal("a failure without a reason")
				}
			} else if r.Offset() != off {
				t.Fatalf("op %d (0x%02x): offset %d, model %d", i, op, r.Offset(), off)
			}
			if r.Offset() < 0 || r.Offset() > len(data) {
				t.Fatalf("offset %d outside 0..%d", r.Offset(), len(data))
			}
		}
		err := r.Finish()
		if !failed && (err == nil) != (off == len(data)) {
			t.Fatalf("Finish = %v with %d of %d bytes read", err, off, len(data))
		}
	})
}
