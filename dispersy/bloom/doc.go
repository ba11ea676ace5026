// Package bloom is the salted, pre-hashed bloom filter that introduction
// requests carry for bloom-filter sync (dispersy.md §4.2–4.4). Its byte
// layout and bit positions are part of the wire format: two peers must set
// and test exactly the same bits.
//
// Keys are packet hashes (the first 16 bytes of the SHA-256 of a packet,
// dispersy.Hash), which are uniform already, so no hash function runs per
// key: the two base hashes of the Kirsch–Mitzenmacher scheme come from the
// key's two 64-bit halves, salted and mixed. Building a 1,000-key,
// 1,266-byte filter takes about 25 µs (see docs/performance.md).
//
// # Parameters
//
//   - k: positions per key, 1..[MaxK] (one byte on the wire);
//   - m: size in bits, a positive multiple of 8 up to [MaxBits]; on the
//     wire it is implicit, the length of the bit array times 8;
//   - salt: a uint32 chosen at random for every request, so that false
//     positives fall on different packets in each round (Python Dispersy's
//     one-byte "prefix", widened).
//
// # Bit positions (normative)
//
// All arithmetic is on unsigned 64-bit integers; "×" wraps modulo 2^64.
//
//	mix64(x):  x ^= x >> 30;  x ×= 0xBF58476D1CE4E5B9
//	           x ^= x >> 27;  x ×= 0x94D049BB133111EB
//	           x ^= x >> 31                  (the splitmix64 finalizer)
//	a  = LE64(key[0:8])  XOR (salt × 0x9E3779B97F4A7C15)
//	b  = LE64(key[8:16]) XOR (salt × 0xC2B2AE3D27D4EB4F)
//	h1 = mix64(a)
//	h2 = mix64(b) OR 1                       (odd, so the stride is never 0)
//	position_i = (h1 + i·h2) mod m,  i = 0 .. k−1
//
// LE64 reads eight bytes little-endian; salt is widened to 64 bits before
// the multiplication. The position sum is taken over the integers (not
// modulo 2^64): compute it as p_0 = h1 mod m, p_{i+1} = (p_i + h2 mod m)
// mod m, which is what [Positions] does.
//
// Bit p is bit p mod 8, least significant first, of byte p/8 (Python
// Dispersy's layout).
//
// Worked example (pinned by TestWorkedExample): key = 00 01 02 … 0f,
// salt = 1, m = 1024, k = 4 gives h1 = 0x89185a50cd990903,
// h2 = 0x8cfa65df43af3a1f, positions 259, 802, 321, 864, so bytes 32, 100,
// 40 and 108 of the 128-byte array become 0x08, 0x04, 0x02 and 0x01.
// testdata/golden.txt pins complete filters.
//
// # Usage
//
// The requester builds a filter over the packets of its sync range and
// sends (k, salt, Bytes()); the responder rebuilds it with [FromBytes] and
// sends back the packets whose hash is not in it:
//
//	m := 8 * bitArrayBytes                 // what fits the datagram budget
//	n := bloom.Capacity(m, 0.01)           // keys it holds at 1 % FP
//	f, err := bloom.New(m, bloom.OptimalK(m, n), rng.Uint32())
//	for _, h := range hashes[:min(n, len(hashes))] { f.Add(h) }
//
//	// responder, with the fields of the request:
//	g, err := bloom.FromBytes(bits, k, salt) // err: drop the request
//	for _, r := range candidates { if !g.Has(r.Hash) { send(r.Packet) } }
//
// # Invariants
//
//   - [FromBytes] accepts any bit pattern of a valid size and never panics
//     or allocates more than [MaxBytes] for remote input; invalid sizes
//     and k give an error wrapping [ErrParameters].
//   - Bytes(FromBytes(b, k, s)) == b, and a filter keeps m, k and the salt
//     for its whole life (Clear only zeroes the bits).
//   - Has never returns false for an added key.
//   - A Filter is not safe for concurrent use while keys are added.
package bloom
