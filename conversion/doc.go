// Package conversion is the wire format of dispersy-go: the frame every
// packet shares, the versioned table of message formats of a community, and a
// bounds-checked reader and writer for payloads.
//
// A packet (wire v1, all integers big-endian; docs/wire-format.md draws every
// layout byte by byte):
//
//	+------+------+-----------+----+----------------+------------+---------+----------+---------+------------+
//	| 0x01 | cver | cid (20)  | id | authentication | resolution | gt (8)  | seq (4)  | payload | signatures |
//	+------+------+-----------+----+----------------+------------+---------+----------+---------+------------+
//	 wire   comm.  community   msg  0, 1 or 2        0 or 1 byte  global    only with  message   one per
//	 ver.   ver.   id          id   members          (dynamic     time      sequence   specific  author, over
//	                                (key or id)      index)                 numbers              every byte before
//
// The first byte, [WireVersion], is 0x01: Python Dispersy's packets start
// with 0x00 and are rejected with [BadVersion]. The community-version byte
// selects one of the community's conversions ([Conversion]); the message id
// selects a [Format] in it, whose four policies decide which fields follow.
// There is no destination field in wire v1.
//
// Message ids 1..191 ([FirstUserID]..[LastUserID]) are for applications,
// 192..254 ([FirstBuiltinID]..[LastBuiltinID]) for the built-in
// dispersy-* messages, which the engine assigns; 0 is invalid and 255 is
// reserved for a future multi-byte id. Community versions are 1..254.
//
// # Usage
//
// Describe each message type with a [Format], collect a community version's
// formats in a [Conversion], and the community's conversions, oldest first,
// in a [Codec]:
//
//	conv, err := conversion.NewConversion(1, &conversion.Format{ID: 1, Name: "text", Policies: set})
//	codec, err := conversion.NewCodec(cid, conv)
//
// To send, build a [Frame], append its signed part with [AppendBody], sign
// that with each author's key, put the signatures in the frame and call
// [Codec.Encode] (or append the signatures to the body yourself). To
// receive, [Codec.Decode] the packet, check the signatures with
// [Frame.Verify] and decode [Frame.Payload] with a [Reader]:
//
//	f, err := codec.Decode(pkt)          // err is a *DecodeError
//	err = f.Verify()                     // keys of id-encoded members must be filled in first
//	r := conversion.NewReader(f.Payload)
//	text := r.String16()
//	err = r.Finish()                     // ErrTrailing if bytes are left
//
// Payload encoders use a [Writer]; payload decoders confirm that the value
// they decoded re-encodes to the same bytes with [CheckCanonical].
//
// # Invariants
//
//   - Decoding never panics and never reads out of bounds, for any input.
//     Every rejection is a *DecodeError whose [Reason] is one of the closed
//     set [Reasons]; [ReasonOf] maps any error onto that set.
//   - Decoding is strict and canonical: a packet that [Codec.Decode] accepts
//     re-encodes with [Codec.Encode] to exactly the same bytes.
//   - A [Frame] returned by Decode aliases the packet; the packet must not be
//     modified while the frame is in use. [Reader] results alias the input.
//   - [Format], [Conversion] and [Codec] values are immutable once built and
//     safe for concurrent use; a Reader or Writer belongs to one goroutine.
//   - Wire constants (the version byte, the id ranges, the reasons) are
//     append-only; a wire v1 golden vector (testdata/frames-v1.txt) is never
//     edited once committed.
package conversion
