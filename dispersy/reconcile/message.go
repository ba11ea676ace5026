package reconcile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
)

// Version is the first byte of every message.
const Version = 0x01

// Mode says what a range of a message carries.
type Mode uint8

// The range modes. Values are part of the wire format (append-only).
const (
	// ModeSkip: nothing to do in this range.
	ModeSkip Mode = 0
	// ModeFingerprint: the sender's fingerprint of the range.
	ModeFingerprint Mode = 1
	// ModeIDList: every id the sender holds in the range, ascending bytewise.
	ModeIDList Mode = 2
)

// Range is one range of a message. Its lower bound is the previous range's
// upper bound ([Zero] for the first range).
type Range struct {
	Upper       Bound
	Mode        Mode
	Fingerprint Fingerprint // ModeFingerprint
	IDs         []ID        // ModeIDList, strictly ascending bytewise
}

// Message is a decoded reconcile message: consecutive ranges from [Zero] up to
// the last range's upper bound; what lies above it is skipped. A message with
// no range ends the reconciliation.
type Message struct {
	Ranges []Range
}

// The decoding errors: a closed set. Every error [Decode] returns is one of
// them (compare with errors.Is).
var (
	ErrTruncated = errors.New("reconcile: truncated message")
	ErrVersion   = errors.New("reconcile: unknown message version")
	ErrVarint    = errors.New("reconcile: overlong or overflowing varint")
	ErrBound     = errors.New("reconcile: malformed bound or bounds not ascending")
	ErrMode      = errors.New("reconcile: unknown range mode")
	ErrSkip      = errors.New("reconcile: consecutive or trailing skip range")
	ErrIDOrder   = errors.New("reconcile: id list not strictly ascending")
)

// DecodeErrors lists the closed set of decoding errors.
var DecodeErrors = []error{ErrTruncated, ErrVersion, ErrVarint, ErrBound, ErrMode, ErrSkip, ErrIDOrder}

// Minimum encoded sizes, used to bound allocations while decoding.
const (
	idSize = 16
	// maxBoundSize is the largest encoded bound: a 10-byte varint time, a
	// length byte and 16 id bytes.
	maxBoundSize = binary.MaxVarintLen64 + 1 + idSize
)

// appendBound appends the encoding of b after a bound at time prev.
func appendBound(dst []byte, prev uint64, b Bound) []byte {
	if isInf(b) {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, b.Time-prev+1)
	n := idSize
	for n > 0 && b.ID[n-1] == 0 {
		n--
	}
	dst = append(dst, byte(n))
	return append(dst, b.ID[:n]...)
}

func boundSize(prev uint64, b Bound) int {
	if isInf(b) {
		return 1
	}
	n := idSize
	for n > 0 && b.ID[n-1] == 0 {
		n--
	}
	return uvarintLen(b.Time-prev+1) + 1 + n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// rangeSize is the encoded size of r after a bound at time prev.
func rangeSize(prev uint64, r *Range) int {
	n := boundSize(prev, r.Upper) + 1
	switch r.Mode {
	case ModeFingerprint:
		n += len(r.Fingerprint)
	case ModeIDList:
		n += uvarintLen(uint64(len(r.IDs))) + idSize*len(r.IDs)
	}
	return n
}

func appendRange(dst []byte, prev uint64, r *Range) []byte {
	dst = appendBound(dst, prev, r.Upper)
	dst = append(dst, byte(r.Mode))
	switch r.Mode {
	case ModeFingerprint:
		dst = append(dst, r.Fingerprint[:]...)
	case ModeIDList:
		dst = binary.AppendUvarint(dst, uint64(len(r.IDs)))
		for i := range r.IDs {
			dst = append(dst, r.IDs[i][:]...)
		}
	}
	return dst
}

// Validate checks the canonical rules [Decode] enforces: bounds strictly
// ascending from [Zero], nothing after [Infinity], known modes, no Skip
// following a Skip or ending the message, id lists strictly ascending.
func (m *Message) Validate() error {
	prev := Zero
	for k := range m.Ranges {
		r := &m.Ranges[k]
		if isInf(prev) || r.Upper.Compare(prev) <= 0 || (isInf(r.Upper) && r.Upper != Infinity) {
			return ErrBound
		}
		switch r.Mode {
		case ModeSkip:
			if k == len(m.Ranges)-1 || (k > 0 && m.Ranges[k-1].Mode == ModeSkip) {
				return ErrSkip
			}
		case ModeFingerprint:
		case ModeIDList:
			for i := 1; i < len(r.IDs); i++ {
				if bytes.Compare(r.IDs[i-1][:], r.IDs[i][:]) >= 0 {
					return ErrIDOrder
				}
			}
		default:
			return ErrMode
		}
		prev = r.Upper
	}
	return nil
}

// AppendEncode appends the encoding of m to dst. It refuses a message that
// breaks the canonical rules ([Message.Validate]), so that what it writes
// decodes back to m.
func (m *Message) AppendEncode(dst []byte) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, Version)
	var prev uint64
	for k := range m.Ranges {
		dst = appendRange(dst, prev, &m.Ranges[k])
		prev = m.Ranges[k].Upper.Time
	}
	return dst, nil
}

// EncodedSize returns the length of m's encoding.
func (m *Message) EncodedSize() int {
	n := 1
	var prev uint64
	for k := range m.Ranges {
		n += rangeSize(prev, &m.Ranges[k])
		prev = m.Ranges[k].Upper.Time
	}
	return n
}

// Decode parses a message strictly: there is exactly one encoding of each
// message, and any other input gets an error from [DecodeErrors]. It never
// panics and allocates at most in proportion to len(b).
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) == 0 {
		return m, ErrTruncated
	}
	if b[0] != Version {
		return m, ErrVersion
	}
	d := decoder{b: b[1:]}
	var prev uint64
	for len(d.b) > 0 {
		var r Range
		t, err := d.uvarint()
		if err != nil {
			return Message{}, err
		}
		if t == 0 {
			r.Upper = Infinity
		} else {
			if t-1 > MaxTime-prev {
				return Message{}, ErrBound
			}
			r.Upper.Time = prev + t - 1
			n, err := d.byte()
			if err != nil {
				return Message{}, err
			}
			if n > idSize {
				return Message{}, ErrBound
			}
			p, err := d.take(int(n))
			if err != nil {
				return Message{}, err
			}
			if n > 0 && p[n-1] == 0 {
				return Message{}, ErrBound // trailing zero: not the shortest prefix
			}
			copy(r.Upper.ID[:], p)
		}
		mode, err := d.uvarint()
		if err != nil {
			return Message{}, err
		}
		if mode > uint64(ModeIDList) {
			return Message{}, ErrMode
		}
		r.Mode = Mode(mode)
		switch r.Mode {
		case ModeFingerprint:
			p, err := d.take(len(r.Fingerprint))
			if err != nil {
				return Message{}, err
			}
			copy(r.Fingerprint[:], p)
		case ModeIDList:
			cnt, err := d.uvarint()
			if err != nil {
				return Message{}, err
			}
			if cnt > uint64(len(d.b)/idSize) {
				return Message{}, ErrTruncated
			}
			r.IDs = make([]ID, cnt)
			for i := range r.IDs {
				p, _ := d.take(idSize)
				copy(r.IDs[i][:], p)
			}
		}
		m.Ranges = append(m.Ranges, r)
		prev = r.Upper.Time
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

type decoder struct{ b []byte }

func (d *decoder) uvarint() (uint64, error) {
	x, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		return 0, ErrTruncated
	case n < 0:
		return 0, ErrVarint
	case n > 1 && d.b[n-1] == 0:
		return 0, ErrVarint // overlong: a shorter encoding exists
	}
	d.b = d.b[n:]
	return x, nil
}

func (d *decoder) byte() (byte, error) {
	if len(d.b) == 0 {
		return 0, ErrTruncated
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c, nil
}

func (d *decoder) take(n int) ([]byte, error) {
	if len(d.b) < n {
		return nil, ErrTruncated
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p, nil
}

// sortIDs sorts ids bytewise (the order of an id list).
func sortIDs(ids []ID) {
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
}

// AppendBound appends the encoding of b as the first bound of a message
// (after time 0): what other messages (catch-up's range pulls) use to name
// a bound in the same shortest form.
func AppendBound(dst []byte, b Bound) []byte { return appendBound(dst, 0, b) }

// ReadBound decodes a bound written by [AppendBound] at the start of b and
// returns it with the bytes it took; it refuses what AppendBound would not
// write (overlong varint, trailing zero in the id prefix).
func ReadBound(b []byte) (Bound, int, error) {
	d := decoder{b: b}
	t, err := d.uvarint()
	if err != nil {
		return Bound{}, 0, err
	}
	if t == 0 {
		return Infinity, len(b) - len(d.b), nil
	}
	if t-1 > MaxTime {
		return Bound{}, 0, ErrBound
	}
	out := Bound{Time: t - 1}
	n, err := d.byte()
	if err != nil {
		return Bound{}, 0, err
	}
	if n > idSize {
		return Bound{}, 0, ErrBound
	}
	p, err := d.take(int(n))
	if err != nil {
		return Bound{}, 0, err
	}
	if n > 0 && p[n-1] == 0 {
		return Bound{}, 0, ErrBound
	}
	copy(out.ID[:], p)
	return out, len(b) - len(d.b), nil
}
