// Package reconcile is range-based set reconciliation (RBSR) between two
// peers over the order (global time, packet hash): fingerprints of ranges,
// split into B sub-ranges where they differ, id lists where a range is small,
// recursively, until nothing mismatches (issue #13; the design follows
// Meyer's RBSR and Negentropy, written from their descriptions). It is pure:
// no I/O, no clock, no dependency beyond the standard library, and it does
// not import the engine. The engine wires it to a built-in message later.
//
// # The set and the index
//
// An [Item] is (Time, [ID]): a message's global time and its 16-byte packet
// hash. Items are ordered by time, then id bytewise. An [Index] holds a set
// of items in a B+ tree whose inner nodes keep, for every child, its count
// and the sum of its ids modulo 2^128 (a [Sum]); the Sum of the items below
// any bound is one descent ([Index.SumBelow]), and the Sum of a range the
// difference of two. Insert, Delete, Rank, At and the fingerprint of any
// range are O(log n); [Build] loads a sorted slice in O(n). At 1M items the
// index takes about 25 bytes per item after Build (see docs/performance.md).
//
// A [Fingerprint] is the first 16 bytes of SHA-256(sum ‖ uvarint(count)),
// sum written as 16 bytes little-endian.
//
// # The protocol
//
// The initiator ([NewInitiator]) covers its scope [lo, hi) (all items by
// default) with its first message: the scope split into Branch fingerprints,
// or its ids when it holds at most IDListThreshold items there. Each side
// then answers every range of the message it received, in order:
//
//   - Skip: nothing.
//   - Fingerprint: equal to its own fingerprint of the range → Skip;
//     otherwise, if it holds at most IDListThreshold items there, an IdList
//     of them; else the range split by its own items into Branch sub-ranges
//     of (almost) equal counts, each with its fingerprint.
//   - IdList: the initiator compares the list with its own items of the
//     range, records the ids it has that the peer lacks ([Reconciler.Have])
//     and those the peer has that it lacks ([Reconciler.Need]), and answers
//     Skip. The responder answers with its own IdList of the range (or Skip
//     when its ids there are the same).
//
// The session ends when the initiator's answer holds nothing but Skip. The
// responder keeps no state about the session ([Respond] is stateless).
//
// Every message fits MaxMessageBytes (1,000 by default: a 1,232-byte
// datagram minus 232 bytes for the Dispersy frame). A side that runs out of
// room stops where it is, lists a prefix of an IdList over a shortened range
// if that is where it stopped, and ends the message with one fingerprint of
// everything from there to the end of the ranges it was answering: the
// continuation, which the peer answers (splits) in the next round trip. So a
// large difference takes several datagrams, about one round trip per 1 KB of
// ids and fingerprints that must flow.
//
// With MaxMessagesPerRound > 1 a round trip carries several messages: the
// initiator writes up to that many ([Reconciler.InitiateBatch],
// [Reconciler.ReconcileBatch]), each a complete message that skips what the
// previous ones covered; the responder answers each with up to that many
// ([Reconciler.RespondBatch]); the initiator joins all the replies of a round
// (they cover disjoint spans, in any order) and answers them in one pass.
//
// With RangePull the initiator does not ask for the ids of a range where it
// holds nothing: it records the range ([Reconciler.NeedRanges]) for the
// caller to fetch whole, and answers Skip; its first message over an empty
// scope is a fingerprint, so the peer splits it. A responder splits a
// range where the initiator's fingerprint is that of no item wider: into
// one sub-range per IDListThreshold items, up to Branch² (an empty initiator
// learns 256 ranges of a peer's 100,000 items in one round trip, without
// one id on the wire). With RangeSplit n the initiator first sends such a
// range back n times as a fingerprint of nothing, so that the peer splits
// it again.
//
// # Limits
//
// A peer that lies (random fingerprints forever, lists of ids it does not
// have) costs an initiator at most MaxRounds round trips, each within the
// budget, and at most MaxIDs recorded differences and compared items; then
// the session ends with [ErrRoundLimit] or [ErrTooManyIDs], keeping what it
// found. A reply with non-skip ranges outside the scope ends it with
// [ErrOutOfScope]. A responder answers at most MaxRounds messages per
// [Reconciler] and at most MaxRanges ranges per message; its work per
// message is O(ranges · log n + budget).
//
// # Wire format
//
// The payload of the (future) reconcile message; its built-in message id is
// assigned when the engine integrates it. All integers are unsigned LEB128
// varints in their shortest form.
//
//	message = version:0x01 range*
//	range   = bound mode payload
//	bound   = 0x00                               (Infinity)
//	        | varint(time − prevTime + 1) len:byte id[0:len]
//	mode    = 0x00 Skip | 0x01 Fingerprint | 0x02 IdList
//	payload = (Skip) nothing
//	        | (Fingerprint) 16 bytes
//	        | (IdList) varint(count) count × 16-byte ids, strictly ascending
//
// A range covers [previous bound, its bound); the first starts at [Zero]
// (time 0, all-zero id), and what lies above the last bound is skipped.
// prevTime is the previous bound's time (0 for the first). A bound is the
// key (time, id[0:len] followed by zeros): len is 0..16 and id[len−1] is not
// zero, so each bound has one encoding. Bounds strictly ascend; nothing
// follows Infinity; a Skip neither follows a Skip nor ends the message. The
// time 2^64−1 is Infinity's: the Index refuses items with that time.
// [Decode] rejects every other input with one of [DecodeErrors], never
// panics and allocates in proportion to its input. testdata/golden.txt holds
// golden vectors; docs/wire-format.md has a worked example.
package reconcile
