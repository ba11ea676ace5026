package conversion

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Reader decodes big-endian fields from a byte slice. It never reads past
// the end: after the first failure every method returns the zero value and
// [Reader.Finish] reports that failure. Slices it returns alias the input.
//
// Use it by value:
//
//	r := conversion.NewReader(p)
//	v.Text = r.String16()
//	v.Amount = r.Uint32()
//	return r.Finish()
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{buf: b} }

func (r *Reader) fail(reason Reason, field, detail string) {
	if r.err == nil {
		r.err = &DecodeError{Reason: reason, Offset: r.off, Field: field, Detail: detail}
	}
}

// take returns the next n bytes or nil after recording ErrTooShort.
func (r *Reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.off {
		r.fail(TooShort, field, fmt.Sprintf("need %d bytes, %d left", n, len(r.buf)-r.off))
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Offset returns how many bytes have been consumed.
func (r *Reader) Offset() int { return r.off }

// Len returns how many bytes remain (0 after an error).
func (r *Reader) Len() int {
	if r.err != nil {
		return 0
	}
	return len(r.buf) - r.off
}

// Finish returns the first error, or ErrTrailing if bytes remain unread.
func (r *Reader) Finish() error {
	if r.err == nil && r.off != len(r.buf) {
		r.err = &DecodeError{Reason: Trailing, Offset: r.off, Detail: fmt.Sprintf("%d bytes left", len(r.buf)-r.off)}
	}
	return r.err
}

// Invalid records a BadField error at the current offset (for checks the
// caller makes on decoded values). It keeps an earlier error.
func (r *Reader) Invalid(field, detail string) { r.fail(BadField, field, detail) }

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	b := r.take(1, "uint8")
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads one byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	v := r.Uint8()
	if v > 1 {
		r.off--
		r.fail(BadField, "bool", fmt.Sprintf("byte %d is not 0 or 1", v))
		return false
	}
	return v == 1
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() uint16 {
	b := r.take(2, "uint16")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() uint32 {
	b := r.take(4, "uint32")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64() uint64 {
	b := r.take(8, "uint64")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Int64 reads a big-endian two's-complement int64.
func (r *Reader) Int64() int64 { return int64(r.Uint64()) }

// Bytes reads exactly n bytes. The result aliases the input.
func (r *Reader) Bytes(n int) []byte { return r.take(n, "bytes") }

// Fixed fills dst from the next len(dst) bytes.
func (r *Reader) Fixed(dst []byte) {
	if b := r.take(len(dst), "fixed bytes"); b != nil {
		copy(dst, b)
	}
}

// Bytes8 reads a 1-byte length, then that many bytes.
func (r *Reader) Bytes8() []byte { return r.take(int(r.Uint8()), "bytes8") }

// Bytes16 reads a 2-byte length, then that many bytes.
func (r *Reader) Bytes16() []byte { return r.take(int(r.Uint16()), "bytes16") }

// Bytes32 reads a 4-byte length, then that many bytes.
func (r *Reader) Bytes32() []byte {
	n := r.Uint32()
	if uint64(n) > uint64(math.MaxInt) {
		r.fail(TooShort, "bytes32", "length overflows int")
		return nil
	}
	return r.take(int(n), "bytes32")
}

func (r *Reader) str(b []byte, field string) string {
	if b == nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.off -= len(b)
		r.fail(BadField, field, "invalid UTF-8")
		return ""
	}
	return string(b)
}

// String8 reads a 1-byte length and that many bytes of valid UTF-8.
func (r *Reader) String8() string { return r.str(r.Bytes8(), "string8") }

// String16 reads a 2-byte length and that many bytes of valid UTF-8.
func (r *Reader) String16() string { return r.str(r.Bytes16(), "string16") }

// String32 reads a 4-byte length and that many bytes of valid UTF-8.
func (r *Reader) String32() string { return r.str(r.Bytes32(), "string32") }

// count checks a list length against the bytes left: n items of at least
// minItem bytes each must fit, so a hostile count cannot make the caller
// allocate more than the packet justifies.
func (r *Reader) count(n uint64, minItem int, field string) int {
	if r.err != nil {
		return 0
	}
	if minItem < 1 {
		minItem = 1
	}
	if n > uint64(r.Len()/minItem) {
		r.fail(BadField, field, fmt.Sprintf("count %d of items of at least %d bytes exceeds the %d bytes left", n, minItem, r.Len()))
		return 0
	}
	return int(n)
}

// Count8 reads a 1-byte list length. minItem is the smallest encoded size of
// one item; a count that cannot fit in the remaining bytes is an error.
func (r *Reader) Count8(minItem int) int { return r.count(uint64(r.Uint8()), minItem, "count8") }

// Count16 reads a 2-byte list length; see Count8.
func (r *Reader) Count16(minItem int) int { return r.count(uint64(r.Uint16()), minItem, "count16") }

// Count32 reads a 4-byte list length; see Count8.
func (r *Reader) Count32(minItem int) int { return r.count(uint64(r.Uint32()), minItem, "count32") }

// Rest returns every remaining byte. The result aliases the input.
func (r *Reader) Rest() []byte { return r.take(r.Len(), "rest") }

// Writer appends big-endian fields to a byte slice. A value that cannot be
// encoded (a string longer than its length prefix allows) sets a sticky
// error that [Writer.Finish] returns.
//
// Use it by value:
//
//	w := conversion.NewWriter(b)
//	w.String16(v.Text)
//	w.Uint32(v.Amount)
//	return w.Finish()
type Writer struct {
	buf []byte
	err error
}

// NewWriter returns a Writer that appends to dst.
func NewWriter(dst []byte) Writer { return Writer{buf: dst} }

// Finish returns the appended bytes and the first error.
func (w *Writer) Finish() ([]byte, error) { return w.buf, w.err }

// Len returns the number of bytes written so far, dst included.
func (w *Writer) Len() int { return len(w.buf) }

func (w *Writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("conversion: "+format, args...)
	}
}

// Uint8 appends one byte.
func (w *Writer) Uint8(v uint8) { w.buf = append(w.buf, v) }

// Bool appends 1 for true and 0 for false.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// Uint16 appends a big-endian uint16.
func (w *Writer) Uint16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }

// Uint32 appends a big-endian uint32.
func (w *Writer) Uint32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }

// Uint64 appends a big-endian uint64.
func (w *Writer) Uint64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

// Int64 appends a big-endian two's-complement int64.
func (w *Writer) Int64(v int64) { w.Uint64(uint64(v)) }

// Bytes appends b as is (a fixed-size field).
func (w *Writer) Bytes(b []byte) { w.buf = append(w.buf, b...) }

// Bytes8 appends a 1-byte length and b; b must be at most 255 bytes.
func (w *Writer) Bytes8(b []byte) {
	if len(b) > math.MaxUint8 {
		w.fail("Bytes8: %d bytes exceed 255", len(b))
		return
	}
	w.Uint8(uint8(len(b)))
	w.Bytes(b)
}

// Bytes16 appends a 2-byte length and b; b must be at most 65535 bytes.
func (w *Writer) Bytes16(b []byte) {
	if len(b) > math.MaxUint16 {
		w.fail("Bytes16: %d bytes exceed 65535", len(b))
		return
	}
	w.Uint16(uint16(len(b)))
	w.Bytes(b)
}

// Bytes32 appends a 4-byte length and b.
func (w *Writer) Bytes32(b []byte) {
	if uint64(len(b)) > math.MaxUint32 {
		w.fail("Bytes32: %d bytes exceed 2^32-1", len(b))
		return
	}
	w.Uint32(uint32(len(b)))
	w.Bytes(b)
}

func (w *Writer) checkUTF8(s, field string) bool {
	if !utf8.ValidString(s) {
		w.fail("%s: invalid UTF-8", field)
		return false
	}
	return true
}

// String8 appends a 1-byte length and s, which must be valid UTF-8.
func (w *Writer) String8(s string) {
	if w.checkUTF8(s, "String8") {
		if len(s) > math.MaxUint8 {
			w.fail("String8: %d bytes exceed 255", len(s))
			return
		}
		w.Uint8(uint8(len(s)))
		w.buf = append(w.buf, s...)
	}
}

// String16 appends a 2-byte length and s, which must be valid UTF-8.
func (w *Writer) String16(s string) {
	if w.checkUTF8(s, "String16") {
		if len(s) > math.MaxUint16 {
			w.fail("String16: %d bytes exceed 65535", len(s))
			return
		}
		w.Uint16(uint16(len(s)))
		w.buf = append(w.buf, s...)
	}
}

// String32 appends a 4-byte length and s, which must be valid UTF-8.
func (w *Writer) String32(s string) {
	if w.checkUTF8(s, "String32") {
		w.Bytes32([]byte(s))
	}
}

// Count8 appends a 1-byte list length; n must be at most 255.
func (w *Writer) Count8(n int) {
	if n < 0 || n > math.MaxUint8 {
		w.fail("Count8: %d out of range", n)
		return
	}
	w.Uint8(uint8(n))
}

// Count16 appends a 2-byte list length; n must be at most 65535.
func (w *Writer) Count16(n int) {
	if n < 0 || n > math.MaxUint16 {
		w.fail("Count16: %d out of range", n)
		return
	}
	w.Uint16(uint16(n))
}

// Count32 appends a 4-byte list length.
func (w *Writer) Count32(n int) {
	if n < 0 || uint64(n) > math.MaxUint32 {
		w.fail("Count32: %d out of range", n)
		return
	}
	w.Uint32(uint32(n))
}
