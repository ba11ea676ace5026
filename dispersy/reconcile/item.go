package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
)

// ID is a 16-byte item id: in dispersy-go the packet hash (the first 16 bytes
// of the SHA-256 of the packet, dispersy.Hash).
type ID [16]byte

// Item is one element of the reconciled set: a message's global time and id.
// Items are ordered by (Time, ID), ID compared bytewise. The order is also the
// key space of range bounds: a [Bound] is an Item.
type Item struct {
	Time uint64
	ID   ID
}

// Bound is a range bound: a range [lo, hi) holds the items i with
// lo <= i < hi. Any Item value is a bound; [Infinity] is above every item.
type Bound = Item

// MaxTime is the largest global time an [Index] accepts. The time 2^64−1 is
// reserved for [Infinity].
const MaxTime = math.MaxUint64 - 1

// Infinity is the bound above every item (time 2^64−1, zero id). Items with
// time 2^64−1 are refused by the [Index].
var Infinity = Bound{Time: math.MaxUint64}

// Zero is the bound below or equal to every item: (0, all-zero id).
var Zero = Bound{}

// Compare orders items by time, then id bytewise: −1, 0 or +1.
func (a Item) Compare(b Item) int {
	if a.Time != b.Time {
		if a.Time < b.Time {
			return -1
		}
		return 1
	}
	x, y := binary.BigEndian.Uint64(a.ID[:8]), binary.BigEndian.Uint64(b.ID[:8])
	if x == y {
		x, y = binary.BigEndian.Uint64(a.ID[8:]), binary.BigEndian.Uint64(b.ID[8:])
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Less reports whether a orders before b.
func (a Item) Less(b Item) bool { return a.Compare(b) < 0 }

// isInf reports whether b is [Infinity] (or any bound at time 2^64−1).
func isInf(b Bound) bool { return b.Time == math.MaxUint64 }

// Fingerprint identifies the content of a range: the first 16 bytes of
// SHA-256(sum ‖ uvarint(count)), where sum is the sum of the range's ids read
// as 128-bit little-endian integers, modulo 2^128, written as 16 bytes
// little-endian.
type Fingerprint [16]byte

// Sum is the aggregate of a set of ids: their count and their sum modulo
// 2^128. Sums of disjoint sets add; the sum of a sub-range is a difference of
// two prefix sums.
type Sum struct {
	Count  uint64
	Lo, Hi uint64 // the 128-bit sum, low and high halves
}

// Add adds one id to s.
func (s *Sum) Add(id *ID) {
	var c uint64
	s.Lo, c = bits.Add64(s.Lo, binary.LittleEndian.Uint64(id[:8]), 0)
	s.Hi, _ = bits.Add64(s.Hi, binary.LittleEndian.Uint64(id[8:]), c)
	s.Count++
}

// Sub removes one id from s.
func (s *Sum) Sub(id *ID) {
	var b uint64
	s.Lo, b = bits.Sub64(s.Lo, binary.LittleEndian.Uint64(id[:8]), 0)
	s.Hi, _ = bits.Sub64(s.Hi, binary.LittleEndian.Uint64(id[8:]), b)
	s.Count--
}

// Plus returns s + t.
func (s Sum) Plus(t Sum) Sum {
	var c uint64
	s.Lo, c = bits.Add64(s.Lo, t.Lo, 0)
	s.Hi, _ = bits.Add64(s.Hi, t.Hi, c)
	s.Count += t.Count
	return s
}

// Minus returns s − t.
func (s Sum) Minus(t Sum) Sum {
	var b uint64
	s.Lo, b = bits.Sub64(s.Lo, t.Lo, 0)
	s.Hi, _ = bits.Sub64(s.Hi, t.Hi, b)
	s.Count -= t.Count
	return s
}

// Fingerprint hashes s into the 16-byte fingerprint sent on the wire.
func (s Sum) Fingerprint() Fingerprint {
	var buf [16 + binary.MaxVarintLen64]byte
	binary.LittleEndian.PutUint64(buf[:8], s.Lo)
	binary.LittleEndian.PutUint64(buf[8:16], s.Hi)
	n := binary.PutUvarint(buf[16:], s.Count)
	h := sha256.Sum256(buf[:16+n])
	var fp Fingerprint
	copy(fp[:], h[:16])
	return fp
}

// SumOf returns the Sum of ids.
func SumOf(ids []ID) Sum {
	var s Sum
	for i := range ids {
		s.Add(&ids[i])
	}
	return s
}

// minimalBound returns the bound with the shortest encoding that separates a
// from b (a < b): a < bound <= b. It is b's time with no id when the times
// differ, else b's id cut after the first byte that differs from a's.
func minimalBound(a, b Item) Bound {
	if a.Time != b.Time {
		return Bound{Time: b.Time}
	}
	out := Bound{Time: b.Time}
	for i := range b.ID {
		out.ID[i] = b.ID[i]
		if a.ID[i] != b.ID[i] {
			break
		}
	}
	return out
}
