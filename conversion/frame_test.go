package conversion_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// frameFor builds the frame of format fm with deterministic field values.
func frameFor(fm *conversion.Format, version uint8, payload []byte) *conversion.Frame {
	f := &conversion.Frame{CommunityVersion: version, Community: testCID, Format: fm, GlobalTime: 42, Payload: payload}
	if d, ok := fm.Policies.Resolution.(policy.DynamicResolution); ok {
		f.ResolutionIndex = uint8(len(d.Policies) - 1)
	}
	if policy.HasSequence(fm.Policies.Distribution) {
		f.Sequence = 7
	}
	return f
}

// sameFrame compares the decoded frame with the one that was encoded.
func sameFrame(t *testing.T, got, want *conversion.Frame) {
	t.Helper()
	if got.CommunityVersion != want.CommunityVersion || got.Community != want.Community || got.Format != want.Format {
		t.Errorf("header: got (%d, %v, %p), want (%d, %v, %p)", got.CommunityVersion, got.Community, got.Format, want.CommunityVersion, want.Community, want.Format)
	}
	if got.ResolutionIndex != want.ResolutionIndex || got.GlobalTime != want.GlobalTime || got.Sequence != want.Sequence {
		t.Errorf("fields: got (%d, %d, %d), want (%d, %d, %d)", got.ResolutionIndex, got.GlobalTime, got.Sequence, want.ResolutionIndex, want.GlobalTime, want.Sequence)
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("payload: got %x, want %x", got.Payload, want.Payload)
	}
	if len(got.Authors) != len(want.Authors) {
		t.Fatalf("got %d authors, want %d", len(got.Authors), len(want.Authors))
	}
	for i := range got.Authors {
		g, w := got.Authors[i], want.Authors[i]
		if g.ID != w.ID || g.Scheme != w.Scheme || (g.Key == nil) != (w.Key == nil) || (g.Key != nil && !g.Key.Equal(w.Key)) {
			t.Errorf("author %d: got %+v, want %+v", i, g, w)
		}
	}
	if len(got.Signatures) != len(want.Signatures) {
		t.Fatalf("got %d signatures, want %d", len(got.Signatures), len(want.Signatures))
	}
	for i := range got.Signatures {
		if !bytes.Equal(got.Signatures[i], want.Signatures[i]) {
			t.Errorf("signature %d differs", i)
		}
	}
}

// TestRoundTripAllCombinations encodes, decodes and re-encodes a frame of
// every valid policy combination, with Ed25519 and Ed448 authors.
func TestRoundTripAllCombinations(t *testing.T) {
	formats := allFormats(t)
	codec := mustCodec(t, testCID, mustConversion(t, 1, formats...))
	authorSets := map[string][]*keys.PrivateKey{
		"ed25519": {aliceEd25519, bobEd25519},
		"ed448":   {aliceEd448, bobEd448},
		"mixed":   {aliceEd448, bobEd25519},
	}
	count := 0
	for _, fm := range formats {
		for _, name := range []string{"ed25519", "ed448", "mixed"} {
			members := authorSets[name][:policy.Members(fm.Policies.Authentication)]
			for _, payload := range [][]byte{nil, []byte("payload bytes")} {
				want := frameFor(fm, 1, payload)
				pkt := signFrame(t, codec, want, members, nil)
				count++

				got, err := codec.Decode(pkt)
				if err != nil {
					t.Fatalf("%s/%s: Decode: %v", fm.Policies, name, err)
				}
				want.Packet, want.BodyLen = pkt, len(pkt)-conversion.SignatureSize(want.Authors)
				sameFrame(t, got, want)
				if got.BodyLen != want.BodyLen || !bytes.Equal(got.Packet, pkt) {
					t.Errorf("%s: BodyLen %d, want %d", fm.Policies, got.BodyLen, want.BodyLen)
				}
				if got.MessageID() != fm.ID {
					t.Errorf("MessageID() = %d, want %d", got.MessageID(), fm.ID)
				}
				again, err := codec.Encode(got)
				if err != nil {
					t.Fatalf("%s/%s: Encode(Decode(p)): %v", fm.Policies, name, err)
				}
				if !bytes.Equal(again, pkt) {
					t.Fatalf("%s/%s: Encode(Decode(p)) != p\n got %x\nwant %x", fm.Policies, name, again, pkt)
				}
				if err := signatureCheck(got); err != nil {
					t.Errorf("%s/%s: signature check: %v", fm.Policies, name, err)
				}
				if cid, ok := conversion.PeekCommunity(pkt); !ok || cid != testCID {
					t.Errorf("PeekCommunity = %v, %v", cid, ok)
				}
				// The packet length is the sum of the fields.
				wantLen := conversion.HeaderSize + len(payload) + 8 + conversion.SignatureSize(want.Authors)
				for _, a := range want.Authors {
					if policy.Encoding(fm.Policies.Authentication) == policy.EncodeID {
						wantLen += conversion.MemberIDSize
					} else {
						wantLen += a.Scheme.BinaryPublicKeySize()
					}
				}
				if _, ok := fm.Policies.Resolution.(policy.DynamicResolution); ok {
					wantLen++
				}
				if policy.HasSequence(fm.Policies.Distribution) {
					wantLen += 4
				}
				if len(pkt) != wantLen {
					t.Errorf("%s/%s: packet is %d bytes, want %d", fm.Policies, name, len(pkt), wantLen)
				}
			}
		}
	}
	if count != len(formats)*6 || len(formats) != 114 {
		t.Errorf("round-tripped %d frames of %d formats, want 6 × 114", count, len(formats))
	}
}

// TestRoundTripExtremes checks the largest field values.
func TestRoundTripExtremes(t *testing.T) {
	many := make([]policy.Resolution, 254)
	for i := range many {
		many[i] = policy.PublicResolution{}
	}
	fm := &conversion.Format{ID: conversion.LastBuiltinID, Name: "extreme", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.DynamicResolution{Policies: many},
		Distribution:   policy.FullSyncDistribution{SequenceNumbers: true},
		Destination:    policy.CommunityDestination{},
	}}
	codec := mustCodec(t, testCID, mustConversion(t, conversion.LastVersion, fm))
	f := &conversion.Frame{CommunityVersion: conversion.LastVersion, Format: fm, ResolutionIndex: 253,
		GlobalTime: conversion.MaxGlobalTime, Sequence: ^uint32(0), Payload: bytes.Repeat([]byte{0xff}, 1000)}
	pkt := signFrame(t, codec, f, []*keys.PrivateKey{aliceEd25519}, nil)
	got, err := codec.Decode(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if got.ResolutionIndex != 253 || got.GlobalTime != conversion.MaxGlobalTime || got.Sequence != ^uint32(0) {
		t.Errorf("decoded %d %d %d", got.ResolutionIndex, got.GlobalTime, got.Sequence)
	}
	if again, err := codec.Encode(got); err != nil || !bytes.Equal(again, pkt) {
		t.Errorf("re-encode: %v", err)
	}
}

// reasonCase is one input that must be rejected with a given reason.
type reasonCase struct {
	name   string
	reason conversion.Reason
	offset int // -1: do not check
	err    func() error
}

// TestEveryReason produces every DecodeError reason from real inputs.
func TestEveryReason(t *testing.T) {
	byKey := &conversion.Format{ID: 10, Name: "by-key", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}},
		Distribution:   policy.FullSyncDistribution{SequenceNumbers: true, Priority: 128},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	}}
	byID := &conversion.Format{ID: 11, Name: "by-id", Policies: policy.Set{
		Authentication: policy.DoubleMemberAuthentication{Encoding: policy.EncodeID},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.DirectDistribution{},
		Destination:    policy.CandidateDestination{},
	}}
	codec := mustCodec(t, testCID, mustConversion(t, 1, byKey, byID))

	good := signFrame(t, codec, &conversion.Frame{CommunityVersion: 1, Format: byKey, ResolutionIndex: 1, GlobalTime: 5, Sequence: 1, Payload: []byte("x")},
		[]*keys.PrivateKey{aliceEd25519}, nil)
	goodID := signFrame(t, codec, &conversion.Frame{CommunityVersion: 1, Format: byID, GlobalTime: 5, Payload: []byte("y")},
		[]*keys.PrivateKey{aliceEd25519, bobEd448}, nil)
	const (
		keyOff = conversion.HeaderSize      // member key
		resOff = keyOff + 33                // resolution index
		gtOff  = resOff + 1                 // global time
		seqOff = gtOff + 8                  // sequence number
		payOff = seqOff + 4                 // payload
		idGt   = conversion.HeaderSize + 42 // by-id: global time after two 21-byte members
	)
	mod := func(p []byte, f func(b []byte) []byte) []byte { return f(slices.Clone(p)) }
	decode := func(p []byte) func() error {
		return func() error { _, err := codec.Decode(p); return err }
	}
	verify := func(p []byte, fill bool) func() error {
		return func() error {
			f, err := codec.Decode(p)
			if err != nil {
				return err
			}
			if fill {
				for i := range f.Authors {
					if k := keyring[f.Authors[i].ID]; k != nil {
						f.Authors[i].Key = k.Public()
					}
				}
			}
			return f.Verify()
		}
	}
	read := func(data []byte, f func(r *conversion.Reader)) func() error {
		return func() error {
			r := conversion.NewReader(data)
			f(&r)
			return r.Finish()
		}
	}

	cases := []reasonCase{
		{"too-short/empty", conversion.TooShort, 0, decode(nil)},
		{"too-short/header", conversion.TooShort, 22, decode(good[:22])},
		{"too-short/member-tag", conversion.TooShort, keyOff, decode(good[:keyOff])},
		{"too-short/member-key", conversion.TooShort, keyOff, decode(good[:keyOff+10])},
		{"too-short/member-id", conversion.TooShort, keyOff + 21, decode(goodID[:keyOff+21+5])},
		{"too-short/resolution", conversion.TooShort, resOff, decode(good[:resOff])},
		{"too-short/global-time", conversion.TooShort, gtOff, decode(good[:gtOff+7])},
		{"too-short/sequence", conversion.TooShort, seqOff, decode(good[:seqOff+3])},
		{"too-short/signature", conversion.TooShort, payOff, decode(good[:payOff+63])},
		{"too-short/reader", conversion.TooShort, 1, read([]byte{1, 2}, func(r *conversion.Reader) { r.Uint8(); r.Uint16() })},
		{"trailing/reader", conversion.Trailing, 1, read([]byte{1, 2}, func(r *conversion.Reader) { r.Uint8() })},
		{"bad-version/python-dispersy", conversion.BadVersion, 0, decode(mod(good, func(b []byte) []byte { b[0] = 0x00; return b }))},
		{"bad-version/ff", conversion.BadVersion, 0, decode(mod(good, func(b []byte) []byte { b[0] = 0xff; return b }))},
		{"bad-version/02", conversion.BadVersion, 0, decode(mod(good, func(b []byte) []byte { b[0] = 0x02; return b }))},
		{"unknown-community", conversion.UnknownCommunity, 2, decode(mod(good, func(b []byte) []byte { b[21] ^= 1; return b }))},
		{"unknown-conversion", conversion.UnknownConversion, 1, decode(mod(good, func(b []byte) []byte { b[1] = 2; return b }))},
		{"unknown-message/undefined", conversion.UnknownMessage, 22, decode(mod(good, func(b []byte) []byte { b[22] = 12; return b }))},
		{"unknown-message/0", conversion.UnknownMessage, 22, decode(mod(good, func(b []byte) []byte { b[22] = 0; return b }))},
		{"unknown-message/255", conversion.UnknownMessage, 22, decode(mod(good, func(b []byte) []byte { b[22] = 255; return b }))},
		{"bad-key/tag-by-key", conversion.BadKey, keyOff, decode(mod(good, func(b []byte) []byte { b[keyOff] = 9; return b }))},
		{"bad-key/tag-by-id", conversion.BadKey, keyOff + 21, decode(mod(goodID, func(b []byte) []byte { b[keyOff+21] = 0; return b }))},
		{"bad-key/verify-without-key", conversion.BadKey, -1, verify(goodID, false)},
		{"bad-signature/flipped", conversion.BadSignature, payOff + 1, verify(mod(good, func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), false)},
		{"bad-signature/second", conversion.BadSignature, len(goodID) - 114, verify(mod(goodID, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), true)},
		{"bad-signature/payload", conversion.BadSignature, payOff + 1, verify(mod(good, func(b []byte) []byte { b[payOff] = 'z'; return b }), false)},
		{"bad-field/resolution-index", conversion.BadField, resOff, decode(mod(good, func(b []byte) []byte { b[resOff] = 2; return b }))},
		{"bad-field/global-time-0", conversion.BadField, gtOff, decode(mod(good, func(b []byte) []byte { copy(b[gtOff:], make([]byte, 8)); return b }))},
		{"bad-field/global-time-2^63", conversion.BadField, gtOff, decode(mod(good, func(b []byte) []byte { binary.BigEndian.PutUint64(b[gtOff:], 1<<63); return b }))},
		{"bad-field/global-time-by-id", conversion.BadField, idGt, decode(mod(goodID, func(b []byte) []byte { binary.BigEndian.PutUint64(b[idGt:], ^uint64(0)); return b }))},
		{"bad-field/sequence-0", conversion.BadField, seqOff, decode(mod(good, func(b []byte) []byte { copy(b[seqOff:], make([]byte, 4)); return b }))},
		{"bad-field/bool", conversion.BadField, 0, read([]byte{2}, func(r *conversion.Reader) { r.Bool() })},
		{"bad-field/utf8", conversion.BadField, 1, read([]byte{1, 0xff}, func(r *conversion.Reader) { _ = r.String8() })},
		{"bad-field/count", conversion.BadField, 1, read([]byte{3, 0, 0}, func(r *conversion.Reader) { r.Count8(1) })},
		{"bad-field/invalid", conversion.BadField, 1, read([]byte{7}, func(r *conversion.Reader) {
			if r.Uint8() > 5 {
				r.Invalid("level", "above 5")
			}
		})},
		{"bad-payload/decoder-error", conversion.BadPayload, -1, func() error {
			return decodeLevel([]byte{1})
		}},
		{"non-canonical/unsorted-set", conversion.NonCanonical, 1, func() error {
			return decodeSortedSet([]byte{3, 9, 4, 5})
		}},
	}
	runReasonCases(t, cases)

	// Every reason is produced by at least one case.
	seen := map[conversion.Reason]bool{}
	for _, c := range cases {
		seen[c.reason] = true
	}
	for _, r := range conversion.Reasons() {
		if !seen[r] {
			t.Errorf("no test input produces reason %v", r)
		}
	}

	// The valid packets really are valid.
	for _, p := range [][]byte{good, goodID} {
		f, err := codec.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := signatureCheck(f); err != nil {
			t.Errorf("valid packet: %v", err)
		}
	}
}

func runReasonCases(t *testing.T, cases []reasonCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatalf("accepted, want %v", c.reason)
			}
			if got := conversion.ReasonOf(err); got != c.reason {
				t.Fatalf("reason %v (%v), want %v", got, err, c.reason)
			}
			var de *conversion.DecodeError
			if c.reason != conversion.BadPayload {
				if !errors.As(err, &de) {
					t.Fatalf("%T is not a *DecodeError", err)
				}
				if c.offset >= 0 && de.Offset != c.offset {
					t.Errorf("offset %d, want %d (%v)", de.Offset, c.offset, err)
				}
				if !strings.Contains(err.Error(), c.reason.String()) {
					t.Errorf("message %q does not name the reason", err)
				}
				if !errors.Is(err, sentinelOf(c.reason)) {
					t.Errorf("errors.Is(err, sentinel of %v) is false", c.reason)
				}
				for _, r := range conversion.Reasons() {
					if r != c.reason && errors.Is(err, sentinelOf(r)) {
						t.Errorf("errors.Is also matches %v", r)
					}
				}
			}
		})
	}
}

func sentinelOf(r conversion.Reason) error {
	return map[conversion.Reason]error{
		conversion.TooShort:          conversion.ErrTooShort,
		conversion.Trailing:          conversion.ErrTrailing,
		conversion.BadVersion:        conversion.ErrBadVersion,
		conversion.UnknownCommunity:  conversion.ErrUnknownCommunity,
		conversion.UnknownConversion: conversion.ErrUnknownConversion,
		conversion.UnknownMessage:    conversion.ErrUnknownMessage,
		conversion.BadKey:            conversion.ErrBadKey,
		conversion.BadSignature:      conversion.ErrBadSignature,
		conversion.BadField:          conversion.ErrBadField,
		conversion.BadPayload:        conversion.ErrBadPayload,
		conversion.NonCanonical:      conversion.ErrNonCanonical,
	}[r]
}

// errLevel is a payload decoder's own error (not a *DecodeError).
var errLevel = errors.New("level: must be at least 2")

// decodeLevel is a payload decoder that returns its own error type, which
// ReasonOf maps to BadPayload.
func decodeLevel(p []byte) error {
	r := conversion.NewReader(p)
	v := r.Uint8()
	if err := r.Finish(); err != nil {
		return err
	}
	if v < 2 {
		return errLevel
	}
	return nil
}

// decodeSortedSet decodes a set of bytes, encoded as a count and the members
// in ascending order. Its decoder accepts any order, so it must confirm the
// canonical form by re-encoding, as every payload decoder does.
func decodeSortedSet(p []byte) error {
	r := conversion.NewReader(p)
	n := r.Count8(1)
	set := make([]byte, 0, n)
	for range n {
		set = append(set, r.Uint8())
	}
	if err := r.Finish(); err != nil {
		return err
	}
	slices.Sort(set)
	w := conversion.NewWriter(nil)
	w.Count8(len(set))
	w.Bytes(set)
	again, err := w.Finish()
	if err != nil {
		return err
	}
	return conversion.CheckCanonical("payload", p, again)
}

func TestCheckCanonical(t *testing.T) {
	tests := []struct {
		data, again []byte
		offset      int
	}{
		{[]byte{1, 2, 3}, []byte{1, 2, 3}, -1},
		{nil, []byte{}, -1},
		{[]byte{1, 2, 3}, []byte{1, 2, 4}, 2},
		{[]byte{1, 2, 3}, []byte{1, 2}, 2},
		{[]byte{1}, []byte{1, 0}, 1},
		{[]byte{9}, []byte{1}, 0},
	}
	for _, tc := range tests {
		err := conversion.CheckCanonical("payload", tc.data, tc.again)
		if tc.offset < 0 {
			if err != nil {
				t.Errorf("CheckCanonical(%x, %x) = %v, want nil", tc.data, tc.again, err)
			}
			continue
		}
		var de *conversion.DecodeError
		if !errors.As(err, &de) || de.Reason != conversion.NonCanonical || de.Offset != tc.offset || de.Field != "payload" {
			t.Errorf("CheckCanonical(%x, %x) = %v, want non-canonical at %d", tc.data, tc.again, err, tc.offset)
		}
	}
	if err := decodeSortedSet([]byte{3, 4, 5, 9}); err != nil {
		t.Errorf("canonical set rejected: %v", err)
	}
}

func TestReasons(t *testing.T) {
	want := []string{"too-short", "trailing-bytes", "bad-version", "unknown-community", "unknown-conversion", "unknown-message",
		"bad-key", "bad-signature", "bad-field", "bad-payload", "non-canonical"}
	var got []string
	for i, r := range conversion.Reasons() {
		if int(r) != i+1 {
			t.Errorf("Reasons()[%d] = %d: the values are append-only and start at 1", i, r)
		}
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Reasons() = %q, want %q", got, want)
	}
	if conversion.ReasonNone.String() != "none" || conversion.Reason(200).String() != "reason(200)" {
		t.Errorf("String of none / out of range: %q %q", conversion.ReasonNone, conversion.Reason(200))
	}
	if conversion.ReasonOf(nil) != conversion.ReasonNone {
		t.Error("ReasonOf(nil) is not ReasonNone")
	}
	wrapped := errors.Join(errors.New("context"), &conversion.DecodeError{Reason: conversion.BadKey})
	if conversion.ReasonOf(wrapped) != conversion.BadKey {
		t.Error("ReasonOf does not look through wrapping")
	}
	e := &conversion.DecodeError{Reason: conversion.TooShort, Offset: 3, Field: "uint16", Detail: "need 2 bytes, 1 left"}
	if got := e.Error(); got != "conversion: too-short at offset 3 (uint16): need 2 bytes, 1 left" {
		t.Errorf("Error() = %q", got)
	}
	// A DecodeError with offset -1 is a sentinel; only a sentinel target
	// matches by reason alone.
	if s := conversion.ErrTooShort.(*conversion.DecodeError); s.Is(&conversion.DecodeError{Reason: conversion.TooShort, Offset: 3}) {
		t.Error("Is matched a non-sentinel target")
	}
}

// TestTamper flips every bit of signed packets: each flip makes either
// Decode fail or the signature check (see signatureCheck) fail.
//
// One kind of flip escapes both, by design: a flip of the message id that
// names an unsigned (NoAuthentication) type decodes as an unsigned message,
// whose former member, signature and payload bytes are now its global time
// and payload. Such a frame claims no member's signature, so it is worth no
// more than any unsigned packet an attacker can send anyway; the test
// accepts it only when the decoded type has no authors, and counts it.
func TestTamper(t *testing.T) {
	vecs := goldenVectors(t)
	codec := goldenCodec(t)
	tested, unsigned := 0, 0
	for _, v := range vecs {
		pkt := v.build(t, codec)
		f, err := codec.Decode(pkt)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if len(f.Authors) == 0 {
			continue // unsigned: nothing to tamper-proof
		}
		if v.placeholder {
			continue // the all-zero second signature never verifies
		}
		if err := signatureCheck(f); err != nil {
			t.Fatalf("%s: untampered packet fails the signature check: %v", v.name, err)
		}
		tested++
		bad := slices.Clone(pkt)
		for i := range len(pkt) * 8 {
			bad[i/8] ^= 1 << (i % 8)
			if f, err := codec.Decode(bad); err == nil {
				switch {
				case len(f.Authors) == 0 && i/8 == conversion.HeaderSize-1:
					unsigned++ // the id now names an unsigned type
				case signatureCheck(f) == nil:
					t.Errorf("%s: bit %d (byte %d) flipped: packet decodes and its signatures verify", v.name, i, i/8)
				}
			}
			bad[i/8] ^= 1 << (i % 8)
		}
	}
	if tested < 5 {
		t.Errorf("only %d signed vectors tampered with", tested)
	}
	t.Logf("%d signed vectors, every bit flipped; %d flips of the message id decoded as an unsigned message type", tested, unsigned)
}

func TestVerifyAuthor(t *testing.T) {
	fm := &conversion.Format{ID: 1, Name: "double", Policies: policy.Set{
		Authentication: policy.DoubleMemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.LastSyncDistribution{HistorySize: 1},
		Destination:    policy.CommunityDestination{},
	}}
	codec := mustCodec(t, testCID, mustConversion(t, 1, fm))
	// The second member has not signed yet: a placeholder of zeros.
	pkt := signFrame(t, codec, &conversion.Frame{CommunityVersion: 1, Format: fm, GlobalTime: 3},
		[]*keys.PrivateKey{aliceEd25519, bobEd25519}, []*keys.PrivateKey{aliceEd25519, nil})
	f, err := codec.Decode(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if !f.VerifyAuthor(0) || f.VerifyAuthor(1) || f.VerifyAuthor(2) || f.VerifyAuthor(-1) {
		t.Errorf("VerifyAuthor: 0=%v 1=%v 2=%v -1=%v, want true false false false", f.VerifyAuthor(0), f.VerifyAuthor(1), f.VerifyAuthor(2), f.VerifyAuthor(-1))
	}
	if conversion.IsEmptySignature(f.Signatures[0]) || !conversion.IsEmptySignature(f.Signatures[1]) {
		t.Error("IsEmptySignature wrong for a real signature or the placeholder")
	}
	if err := f.Verify(); conversion.ReasonOf(err) != conversion.BadSignature {
		t.Errorf("Verify with a placeholder signature: %v, want bad-signature", err)
	}
	// A key that does not match the author's id is refused before any
	// signature check.
	f.Authors[0].Key = bobEd25519.Public()
	if err := f.Verify(); conversion.ReasonOf(err) != conversion.BadKey {
		t.Errorf("Verify with a mismatched key: %v, want bad-key", err)
	}
	if conversion.IsEmptySignature([]byte{0, 0, 1}) || !conversion.IsEmptySignature(nil) {
		t.Error("IsEmptySignature")
	}
}

func TestPeekCommunity(t *testing.T) {
	pkt := make([]byte, conversion.HeaderSize)
	pkt[0] = conversion.WireVersion
	copy(pkt[2:], testCID[:])
	if cid, ok := conversion.PeekCommunity(pkt); !ok || cid != testCID {
		t.Errorf("PeekCommunity = %v, %v", cid, ok)
	}
	if _, ok := conversion.PeekCommunity(pkt[:conversion.HeaderSize-1]); ok {
		t.Error("PeekCommunity accepted a short packet")
	}
	pkt[0] = 0
	if _, ok := conversion.PeekCommunity(pkt); ok {
		t.Error("PeekCommunity accepted wire version 0")
	}
}

// TestSeveralConversions: a community with v1 and v2 decodes each packet with
// the conversion its version byte names and encodes with the newest one that
// defines the message.
func TestSeveralConversions(t *testing.T) {
	set1 := mkSet(policy.MemberAuthentication{}, policy.PublicResolution{}, policy.FullSyncDistribution{Priority: 128}, policy.CommunityDestination{NodeCount: 10})
	set2 := mkSet(policy.MemberAuthentication{Encoding: policy.EncodeID}, policy.PublicResolution{}, policy.FullSyncDistribution{Priority: 128, SequenceNumbers: true}, policy.CommunityDestination{NodeCount: 10})
	oldOnly := &conversion.Format{ID: 3, Name: "old", Policies: set1}
	text1 := &conversion.Format{ID: 1, Name: "text", Policies: set1}
	text2 := &conversion.Format{ID: 1, Name: "text", Policies: set2}
	newOnly := &conversion.Format{ID: 2, Name: "new", Policies: set2}
	v1 := mustConversion(t, 1, text1, oldOnly)
	v2 := mustConversion(t, 2, newOnly, text2)
	codec := mustCodec(t, testCID, v1, v2)

	if codec.Newest() != v2 || codec.Community() != testCID {
		t.Errorf("Newest = v%d, Community = %v", codec.Newest().Version(), codec.Community())
	}
	if cs := codec.Conversions(); len(cs) != 2 || cs[0] != v1 || cs[1] != v2 {
		t.Errorf("Conversions() = %v", cs)
	}
	if ids := v2.IDs(); !slices.Equal(ids, []uint8{1, 2}) {
		t.Errorf("v2.IDs() = %v, want sorted [1 2]", ids)
	}
	if v1.Format(1) != text1 || v2.Format(1) != text2 || v1.Format(2) != nil {
		t.Error("Conversion.Format lookups")
	}
	for _, tc := range []struct {
		id   uint8
		conv *conversion.Conversion
		f    *conversion.Format
	}{{1, v2, text2}, {2, v2, newOnly}, {3, v1, oldOnly}, {4, nil, nil}} {
		conv, f, ok := codec.EncodingFor(tc.id)
		if ok != (tc.conv != nil) || conv != tc.conv || f != tc.f {
			t.Errorf("EncodingFor(%d) = %v, %v, %v", tc.id, conv, f, ok)
		}
	}

	// The same message in both versions: different bytes, each decoded with
	// its own format.
	p1 := signFrame(t, codec, &conversion.Frame{CommunityVersion: 1, Format: text1, GlobalTime: 9, Payload: []byte("hi")}, []*keys.PrivateKey{aliceEd25519}, nil)
	p2 := signFrame(t, codec, &conversion.Frame{CommunityVersion: 2, Format: text2, GlobalTime: 9, Sequence: 1, Payload: []byte("hi")}, []*keys.PrivateKey{aliceEd25519}, nil)
	if p1[1] != 1 || p2[1] != 2 || len(p1) == len(p2) {
		t.Fatalf("version bytes %d %d, lengths %d %d", p1[1], p2[1], len(p1), len(p2))
	}
	for _, tc := range []struct {
		pkt []byte
		f   *conversion.Format
	}{{p1, text1}, {p2, text2}} {
		f, err := codec.Decode(tc.pkt)
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != tc.f || f.CommunityVersion != tc.pkt[1] || string(f.Payload) != "hi" {
			t.Errorf("v%d packet decoded with format %p (%s), want %p", tc.pkt[1], f.Format, f.Format.Policies, tc.f)
		}
		if err := signatureCheck(f); err != nil {
			t.Error(err)
		}
	}
	// A version the codec lacks.
	if _, err := mustCodec(t, testCID, v1).Decode(p2); conversion.ReasonOf(err) != conversion.UnknownConversion {
		t.Errorf("v2 packet on a v1-only codec: %v", err)
	}
	// Message 2 exists only in v2: a v1 packet with id 2 is unknown.
	bad := slices.Clone(p2)
	bad[1], bad[22] = 1, 2
	if _, err := codec.Decode(bad); conversion.ReasonOf(err) != conversion.UnknownMessage {
		t.Errorf("id 2 in v1: %v", err)
	}
}

func TestNewCodecErrors(t *testing.T) {
	v1 := mustConversion(t, 1)
	tests := []struct {
		name  string
		convs []*conversion.Conversion
		want  string
	}{
		{"none", nil, "at least one conversion"},
		{"nil", []*conversion.Conversion{v1, nil}, "nil conversion"},
		{"duplicate", []*conversion.Conversion{v1, mustConversion(t, 1)}, "version 1 given twice"},
	}
	for _, tc := range tests {
		if _, err := conversion.NewCodec(testCID, tc.convs...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewCodec error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestNewConversionRules(t *testing.T) {
	ok := mkSet(policy.NoAuthentication{}, policy.PublicResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{})
	bad := mkSet(policy.NoAuthentication{}, policy.LinearResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{})
	f := func(id uint8, name string, s policy.Set) *conversion.Format {
		return &conversion.Format{ID: id, Name: name, Policies: s}
	}
	tests := []struct {
		name    string
		version uint8
		formats []*conversion.Format
		want    []string // substrings of the error; nil = valid
	}{
		{"valid", 1, []*conversion.Format{f(1, "a", ok), f(191, "b", ok), f(192, "builtin", ok), f(254, "last", ok)}, nil},
		{"empty", 254, nil, nil},
		{"version-0", 0, nil, []string{"community version 0 is reserved"}},
		{"version-255", 255, nil, []string{"community version 255 is reserved"}},
		{"id-0", 1, []*conversion.Format{f(0, "zero", ok)}, []string{"id 0 is reserved"}},
		{"id-255", 1, []*conversion.Format{f(255, "multi", ok)}, []string{"id 255 is reserved"}},
		{"nil-format", 1, []*conversion.Format{nil}, []string{"nil format"}},
		{"duplicate-id", 1, []*conversion.Format{f(5, "a", ok), f(5, "b", ok)}, []string{`id 5 already used by "a"`}},
		{"duplicate-name", 1, []*conversion.Format{f(5, "a", ok), f(6, "a", ok)}, []string{`name "a" used by ids 5 and 6`}},
		{"no-name", 1, []*conversion.Format{f(5, "", ok)}, []string{"id 5 has no name"}},
		{"bad-policies", 1, []*conversion.Format{f(5, "lin", bad)}, []string{`message "lin"`, "linear-needs-member"}},
		{"everything", 1, []*conversion.Format{f(0, "z", ok), f(5, "", bad), f(5, "x", ok)},
			[]string{"id 0 is reserved", "id 5 has no name", "linear-needs-member", "id 5 already used"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := conversion.NewConversion(tc.version, tc.formats...)
			if tc.want == nil {
				if err != nil || c == nil || c.Version() != tc.version {
					t.Fatalf("NewConversion: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("NewConversion accepted the formats")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var re *policy.RuleError
			if tc.name == "bad-policies" && !errors.As(err, &re) {
				t.Error("the policy error is not reachable with errors.As")
			}
		})
	}
}

func TestIDRanges(t *testing.T) {
	for id := 0; id < 256; id++ {
		want := id >= 1 && id <= 191
		if got := conversion.IsUserID(uint8(id)); got != want {
			t.Errorf("IsUserID(%d) = %v, want %v", id, got, want)
		}
	}
	// Pin the registry: these values are on the wire.
	consts := []struct {
		name      string
		got, want int
	}{
		{"WireVersion", conversion.WireVersion, 0x01},
		{"InvalidID", conversion.InvalidID, 0},
		{"FirstUserID", conversion.FirstUserID, 1},
		{"LastUserID", conversion.LastUserID, 191},
		{"FirstBuiltinID", conversion.FirstBuiltinID, 192},
		{"LastBuiltinID", conversion.LastBuiltinID, 254},
		{"ReservedID", conversion.ReservedID, 255},
		{"FirstVersion", conversion.FirstVersion, 1},
		{"LastVersion", conversion.LastVersion, 254},
		{"ReservedVersion", conversion.ReservedVersion, 255},
		{"PrefixSize", conversion.PrefixSize, 22},
		{"HeaderSize", conversion.HeaderSize, 23},
		{"MemberIDSize", conversion.MemberIDSize, 21},
	}
	for _, c := range consts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if conversion.MaxGlobalTime != 1<<63-1 {
		t.Errorf("MaxGlobalTime = %d", uint64(conversion.MaxGlobalTime))
	}
}

func TestEncodeErrors(t *testing.T) {
	byKey := &conversion.Format{ID: 1, Name: "by-key", Policies: mkSet(
		policy.MemberAuthentication{}, policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}}},
		policy.FullSyncDistribution{SequenceNumbers: true}, policy.CommunityDestination{})}
	byID := &conversion.Format{ID: 2, Name: "by-id", Policies: mkSet(
		policy.MemberAuthentication{Encoding: policy.EncodeID}, policy.PublicResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{})}
	stranger := &conversion.Format{ID: 1, Name: "by-key", Policies: byKey.Policies}
	conv := mustConversion(t, 1, byKey, byID)
	codec := mustCodec(t, testCID, conv)
	alice := conversion.AuthorOf(aliceEd25519.Public())
	sig := make([]byte, 64)
	good := func() *conversion.Frame {
		return &conversion.Frame{CommunityVersion: 1, Format: byKey, Authors: []conversion.Author{alice}, GlobalTime: 1, Sequence: 1, Signatures: [][]byte{sig}}
	}
	tests := []struct {
		name   string
		change func(f *conversion.Frame)
		want   string
	}{
		{"valid", func(*conversion.Frame) {}, ""},
		{"unknown-version", func(f *conversion.Frame) { f.CommunityVersion = 3 }, "no conversion for community version 3"},
		{"nil-format", func(f *conversion.Frame) { f.Format = nil }, "not part of the conversion"},
		{"foreign-format", func(f *conversion.Frame) { f.Format = stranger }, "not part of the conversion"},
		{"no-authors", func(f *conversion.Frame) { f.Authors = nil }, "needs 1 authors, got 0"},
		{"gt-0", func(f *conversion.Frame) { f.GlobalTime = 0 }, "global time 0"},
		{"gt-2^63", func(f *conversion.Frame) { f.GlobalTime = 1 << 63 }, "global time 9223372036854775808"},
		{"no-key", func(f *conversion.Frame) { f.Authors[0].Key = nil }, "encodes members by key"},
		{"key-mismatch", func(f *conversion.Frame) { f.Authors[0].Scheme = keys.Ed448 }, "conversion.AuthorOf"},
		{"key-id-mismatch", func(f *conversion.Frame) { f.Authors[0].ID = bobEd25519.ID() }, "conversion.AuthorOf"},
		{"resolution-index", func(f *conversion.Frame) { f.ResolutionIndex = 1 }, "resolution index 1 of 1"},
		{"sequence-0", func(f *conversion.Frame) { f.Sequence = 0 }, "sequence number 0"},
		{"signature-count", func(f *conversion.Frame) { f.Signatures = nil }, "0 signatures for 1 authors"},
		{"signature-length", func(f *conversion.Frame) { f.Signatures = [][]byte{make([]byte, 63)} }, "signature 0 is 63 bytes, want 64"},
		{"by-id-bad-scheme", func(f *conversion.Frame) {
			f.Format, f.Sequence = byID, 0
			f.Authors = []conversion.Author{{ID: aliceEd25519.ID(), Scheme: 0}}
		}, "invalid scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.change(f)
			pkt, err := codec.Encode(f)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if _, err := codec.Decode(pkt); err != nil {
					t.Fatalf("Decode(Encode(f)): %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDecodeAliasesAndCopiesKeys checks the ownership rules: payload and
// signatures alias the packet (capped, so appending cannot overwrite the
// signatures), while keys are copies.
func TestDecodeAliasesAndCopiesKeys(t *testing.T) {
	codec := goldenCodec(t)
	v := goldenVectorByName(t, "member-by-key")
	pkt := v.build(t, codec)
	f, err := codec.Decode(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if cap(f.Payload) != len(f.Payload) {
		t.Errorf("payload capacity %d exceeds its length %d", cap(f.Payload), len(f.Payload))
	}
	_ = append(f.Payload, 0xee)
	if err := signatureCheck(f); err != nil {
		t.Errorf("appending to the payload changed the packet: %v", err)
	}
	key := f.Authors[0].Key
	pkt[conversion.HeaderSize+3] ^= 0xff
	if !key.Equal(aliceEd25519.Public()) {
		t.Error("the decoded key aliases the packet")
	}
}
