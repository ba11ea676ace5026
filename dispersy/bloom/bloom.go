package bloom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// KeySize is the length of a key: the first 16 bytes of the SHA-256 of a
// packet (dispersy.Hash). Keys are uniform already, so the filter hashes
// nothing itself.
const KeySize = 16

// Limits on the wire parameters. A filter outside them is refused by [New]
// and [FromBytes] with an error wrapping [ErrParameters]; it never panics
// and never allocates more than MaxBytes.
const (
	// MaxK is the largest number of bit positions per key (k).
	MaxK = 32
	// MaxBytes is the largest bit array in bytes (m/8). 8 KiB is far above
	// anything that fits one datagram (about 1,060 bytes at the default
	// budget of 1,232) and small enough that a hostile size costs nothing.
	MaxBytes = 8192
	// MaxBits is MaxBytes in bits.
	MaxBits = MaxBytes * 8
)

// Mixing constants. They are part of the wire format: peers that disagree
// on them compute different bit positions. See the package documentation.
//
// WARNING: these values are on the wire; never change them.
const (
	// SaltMulA spreads the salt into the first key word (2^64/phi, the
	// golden-ratio constant of Fibonacci hashing and splitmix64).
	SaltMulA uint64 = 0x9E3779B97F4A7C15
	// SaltMulB spreads the salt into the second key word (xxHash64's
	// PRIME64_2).
	SaltMulB uint64 = 0xC2B2AE3D27D4EB4F
	// mix1 and mix2 are the multipliers of the splitmix64 finalizer
	// (Stafford's "Mix13" variant of MurmurHash3's fmix64).
	mix1 uint64 = 0xBF58476D1CE4E5B9
	mix2 uint64 = 0x94D049BB133111EB
)

// ErrParameters is wrapped by every error about invalid filter parameters
// (k, m, the bit array's length, a false-positive rate).
var ErrParameters = errors.New("bloom: invalid parameters")

// Filter is a salted bloom filter over 16-byte keys.
//
// The zero Filter is not usable; build one with [New] or [FromBytes].
// A Filter is not safe for concurrent use when one goroutine adds.
type Filter struct {
	bits []byte
	m    uint64 // number of bits, len(bits)*8
	k    int
	salt uint32
	sa   uint64 // uint64(salt) * SaltMulA
	sb   uint64 // uint64(salt) * SaltMulB
}

// New returns an empty filter of mBits bits with k positions per key and
// the given salt. mBits must be a positive multiple of 8 no larger than
// [MaxBits]; k must be in 1..[MaxK].
func New(mBits, k int, salt uint32) (*Filter, error) {
	if err := check(mBits, k); err != nil {
		return nil, err
	}
	return newFilter(make([]byte, mBits/8), k, salt), nil
}

// FromBytes rebuilds a filter from its bit array (as sent on the wire), k
// and salt. The bytes are copied; bits is not retained. It validates
// everything a peer could get wrong: 1 ≤ len(bits) ≤ [MaxBytes] and
// 1 ≤ k ≤ [MaxK]. Every bit pattern is a valid filter.
func FromBytes(bits []byte, k int, salt uint32) (*Filter, error) {
	if len(bits) == 0 || len(bits) > MaxBytes {
		return nil, fmt.Errorf("%w: bit array of %d bytes, want 1..%d", ErrParameters, len(bits), MaxBytes)
	}
	if err := check(len(bits)*8, k); err != nil {
		return nil, err
	}
	return newFilter(append([]byte(nil), bits...), k, salt), nil
}

func check(mBits, k int) error {
	var errs []error
	if mBits <= 0 || mBits%8 != 0 || mBits > MaxBits {
		errs = append(errs, fmt.Errorf("%w: m = %d bits, want a multiple of 8 in 8..%d", ErrParameters, mBits, MaxBits))
	}
	if k < 1 || k > MaxK {
		errs = append(errs, fmt.Errorf("%w: k = %d, want 1..%d", ErrParameters, k, MaxK))
	}
	return errors.Join(errs...)
}

func newFilter(b []byte, k int, salt uint32) *Filter {
	return &Filter{
		bits: b,
		m:    uint64(len(b)) * 8,
		k:    k,
		salt: salt,
		sa:   uint64(salt) * SaltMulA,
		sb:   uint64(salt) * SaltMulB,
	}
}

// mix64 is the splitmix64 finalizer: a bijection on 64-bit words with full
// avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= mix1
	x ^= x >> 27
	x *= mix2
	x ^= x >> 31
	return x
}

// hashes returns h1 and h2 for key under salt: the two base hashes of the
// Kirsch–Mitzenmacher scheme.
func hashes(key *[KeySize]byte, sa, sb uint64) (h1, h2 uint64) {
	h1 = mix64(binary.LittleEndian.Uint64(key[0:8]) ^ sa)
	h2 = mix64(binary.LittleEndian.Uint64(key[8:16])^sb) | 1
	return h1, h2
}

// Positions appends to dst the k bit positions of key in a filter of mBits
// bits with the given salt, in order i = 0..k-1, and returns the extended
// slice. It is the normative definition of the positions (see the package
// documentation); [Filter.Add] and [Filter.Has] compute the same values.
// It panics if mBits or k are out of range, like a slice index would.
func Positions(dst []uint64, key [KeySize]byte, mBits, k int, salt uint32) []uint64 {
	if err := check(mBits, k); err != nil {
		panic(err)
	}
	m := uint64(mBits)
	h1, h2 := hashes(&key, uint64(salt)*SaltMulA, uint64(salt)*SaltMulB)
	pos, step := h1%m, h2%m
	for range k {
		dst = append(dst, pos)
		pos += step
		if pos >= m {
			pos -= m
		}
	}
	return dst
}

// Add inserts key.
func (f *Filter) Add(key [KeySize]byte) {
	h1, h2 := hashes(&key, f.sa, f.sb)
	m := f.m
	// (h1 + i·h2) mod m, computed without overflow: both terms reduced
	// first, then one conditional subtraction per step.
	pos, step := h1%m, h2%m
	b := f.bits
	for range f.k {
		b[pos>>3] |= 1 << (pos & 7)
		pos += step
		if pos >= m {
			pos -= m
		}
	}
}

// Has reports whether key may be in the filter: false means certainly not,
// true means in the filter or a false positive.
func (f *Filter) Has(key [KeySize]byte) bool {
	h1, h2 := hashes(&key, f.sa, f.sb)
	m := f.m
	pos, step := h1%m, h2%m
	b := f.bits
	for range f.k {
		if b[pos>>3]&(1<<(pos&7)) == 0 {
			return false
		}
		pos += step
		if pos >= m {
			pos -= m
		}
	}
	return true
}

// Bytes returns a copy of the bit array as it goes on the wire: bit p is bit
// p mod 8 (least significant first) of byte p/8.
func (f *Filter) Bytes() []byte { return append([]byte(nil), f.bits...) }

// AppendBytes appends the bit array to dst and returns the extended slice;
// it lets an encoder write the filter without an intermediate copy.
func (f *Filter) AppendBytes(dst []byte) []byte { return append(dst, f.bits...) }

// K returns the number of bit positions per key.
func (f *Filter) K() int { return f.k }

// Bits returns m, the size of the filter in bits (always a multiple of 8).
func (f *Filter) Bits() int { return int(f.m) }

// Len returns the size of the bit array in bytes (m/8).
func (f *Filter) Len() int { return len(f.bits) }

// Salt returns the salt.
func (f *Filter) Salt() uint32 { return f.salt }

// Clear sets every bit to zero, keeping m, k and the salt.
func (f *Filter) Clear() { clear(f.bits) }

// BitsSet returns the number of bits set to one (Dispersy's bits_checked).
func (f *Filter) BitsSet() int {
	n := 0
	for _, b := range f.bits {
		n += bits.OnesCount8(b)
	}
	return n
}

// Capacity returns how many keys a filter of mBits bits holds before its
// false-positive rate exceeds fpRate when k is chosen optimally:
// n = ⌊m·(ln 2)² / |ln f|⌋ (Dispersy's get_capacity). It returns 0 when
// mBits ≤ 0 or fpRate is not in (0, 1).
func Capacity(mBits int, fpRate float64) int {
	if mBits <= 0 || !(fpRate > 0 && fpRate < 1) {
		return 0
	}
	return int(float64(mBits) * (math.Ln2 * math.Ln2) / math.Abs(math.Log(fpRate)))
}

// OptimalK returns the number of positions per key that minimises the
// false-positive rate of an mBits filter holding n keys: ⌈ln 2·m/n⌉
// (Dispersy's _get_k_functions), clamped to 1..[MaxK]. n ≤ 0 gives MaxK.
func OptimalK(mBits, n int) int {
	if n <= 0 {
		return MaxK
	}
	k := math.Ceil(math.Ln2 * float64(mBits) / float64(n))
	switch {
	case k < 1:
		return 1
	case k > MaxK:
		return MaxK
	}
	return int(k)
}

// BitsFor returns the size in bits (rounded up to a multiple of 8) of a
// filter that holds n keys at false-positive rate fpRate:
// ⌈n·|ln f| / (ln 2)² / 8⌉·8 (Dispersy's BloomFilter(f, n) constructor).
// The result may exceed [MaxBits]; [New] then refuses it. It returns 0 when
// n ≤ 0 or fpRate is not in (0, 1).
func BitsFor(n int, fpRate float64) int {
	if n <= 0 || !(fpRate > 0 && fpRate < 1) {
		return 0
	}
	m := float64(n) * math.Abs(math.Log(fpRate)) / (math.Ln2 * math.Ln2)
	return int(math.Ceil(m/8)) * 8
}

// FalsePositiveRate returns the expected false-positive rate of an mBits
// filter with k positions per key holding n keys: (1 − e^(−k·n/m))^k.
// It returns 1 when mBits ≤ 0 or k ≤ 0, and 0 when n ≤ 0.
func FalsePositiveRate(mBits, k, n int) float64 {
	if mBits <= 0 || k <= 0 {
		return 1
	}
	if n <= 0 {
		return 0
	}
	return math.Pow(1-math.Exp(-float64(k)*float64(n)/float64(mBits)), float64(k))
}
