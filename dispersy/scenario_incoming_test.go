package dispersy_test

// Dispersy's tests/test_identicalpayload.py, tests/test_signature.py and
// tests/test_classification.py (dispersy.md §9.3), plus the drop reasons of
// malformed and unwanted packets: what the engine keeps, what it drops and
// under which counter.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

func TestScenarioDropIdentical(t *testing.T) {
	// drop_identical: the same packet twice is stored once, whether the
	// copies come in separate batches or in one; the copy counts as a
	// duplicate and the handler sees the message once.
	for _, tc := range []struct {
		name     string
		together bool
	}{{"separate-batches", false}, {"one-batch", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			b := h.newNode("B")
			m := scFakeMember("M", 0)
			p := scCraft(t, b.c, dt.FullSyncText, m.key, 42, 0, dt.Text{Text: "Hello World #42"})
			if tc.together {
				b.receive(m.addr, p, p)
			} else {
				b.receiveEach(m.addr, p, p)
			}
			recs := b.records(dt.FullSyncText.ID())
			if len(recs) != 1 || !bytes.Equal(recs[0].Packet, p) {
				t.Fatalf("B stores %d full-sync-text, want exactly the one packet", len(recs))
			}
			if d := b.dropped(dispersy.DropDuplicate); d != 1 {
				t.Errorf("duplicate drops %d, want 1", d)
			}
			if got := b.overlay.Handled[dt.FullSyncText.ID()]; len(got) != 1 {
				t.Errorf("handler saw %d messages, want 1", len(got))
			}
		})
	}
}

// scVersioned is the debug community at community version 2 that still
// decodes version-1 packets of full-sync-text: a community in the middle of
// an upgrade, whose peers may send the same message in both encodings.
type scVersioned struct{ *dt.DebugCommunity }

func (v scVersioned) Define(d *dispersy.Definition) {
	v.DebugCommunity.Define(d)
	d.DecodeOlderVersion(1, dt.FullSyncText)
}

func TestScenarioDropIdenticalPayload(t *testing.T) {
	// drop_identical_payload: two encodings of the same message (same
	// member, global time and text; community version 1 and 2) arrive. Only
	// the binary-greater packet ends up stored, whichever order they arrive
	// in. (Dispersy got two encodings from ECDSA's random signatures;
	// Ed25519 signatures are deterministic, so the version byte differs
	// instead.)
	for _, tc := range []struct {
		name     string
		order    []int // 1: the version-1 packet, 2: the version-2 packet
		together bool
	}{
		{name: "smaller-first", order: []int{1, 2}},
		{name: "greater-first", order: []int{2, 1}},
		{name: "one-batch/smaller-first", order: []int{1, 2}, together: true},
		{name: "one-batch/greater-first", order: []int{2, 1}, together: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			ov := dt.NewDebugCommunity()
			ov.Version = 2
			b := h.newNode("B", scWithOverlay(scVersioned{ov}))
			m := scFakeMember("M", 0)
			text := dt.Text{Text: "Hello World #42"}
			p := map[int][]byte{
				1: scCraftVersion(t, b.c, 1, dt.FullSyncText, m.key, 42, 0, text),
				2: scCraftVersion(t, b.c, 2, dt.FullSyncText, m.key, 42, 0, text),
			}
			if bytes.Compare(p[2], p[1]) <= 0 {
				t.Fatal("test bug: the version-2 packet should be the binary-greater one")
			}
			var in [][]byte
			for _, i := range tc.order {
				in = append(in, p[i])
			}
			if tc.together {
				b.receive(m.addr, in...)
			} else {
				b.receiveEach(m.addr, in...)
			}
			recs := b.records(dt.FullSyncText.ID())
			if len(recs) != 1 {
				t.Fatalf("B stores %d full-sync-text, want 1", len(recs))
			}
			if !bytes.Equal(recs[0].Packet, p[2]) {
				t.Errorf("B stores the version-%d packet, want the binary-greater version-2 packet", recs[0].Packet[1])
			}
			if recs[0].Hash != dispersy.PacketHash(recs[0].Packet) {
				t.Errorf("the stored hash is not the hash of the stored packet")
			}
			if c := b.dropped(dispersy.DropConflict); c != 0 {
				t.Errorf("%d conflict drops: two encodings of one message are not a conflict", c)
			}
		})
	}
}

func TestScenarioSignature(t *testing.T) {
	// invalid_public_key: the key bytes of a by-key packet are replaced;
	// invalid_signature: the signature bytes are replaced. Both are dropped
	// (bad key or bad signature), counted, and nothing is stored.
	h := newScHarness(t)
	b := h.newNode("B")
	m := scFakeMember("M", 0)
	good := scCraft(t, b.c, dt.FullSyncText, m.key, 10, 0, dt.Text{Text: "signed"})
	keyOff := conversion.HeaderSize
	keyLen := m.key.Public().Scheme().BinaryPublicKeySize()
	sigLen := m.key.Public().SignatureSize()
	fill := func(p []byte, from, to int) []byte {
		q := bytes.Clone(p)
		for i := from; i < to; i++ {
			q[i] = 'I'
		}
		return q
	}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		reasons []dispersy.DropReason
	}{
		{"invalid-public-key", fill(good, keyOff+1, keyOff+keyLen), []dispersy.DropReason{dispersy.DropBadKey, dispersy.DropBadSignature}},
		{"invalid-key-scheme", fill(good, keyOff, keyOff+1), []dispersy.DropReason{dispersy.DropBadKey}},
		{"other-member-key", func() []byte {
			q := bytes.Clone(good)
			copy(q[keyOff:], scKey("X").Public().Bytes())
			return q
		}(), []dispersy.DropReason{dispersy.DropBadSignature}},
		{"invalid-signature", fill(good, len(good)-sigLen, len(good)), []dispersy.DropReason{dispersy.DropBadSignature}},
		{"flipped-payload-bit", func() []byte {
			q := bytes.Clone(good)
			q[len(q)-sigLen-1] ^= 0x01
			return q
		}(), []dispersy.DropReason{dispersy.DropBadSignature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.eng.Stats()
			b.receive(m.addr, tc.pkt)
			after := b.eng.Stats()
			var hit []string
			for _, r := range dispersy.DropReasons() {
				if d := after.DroppedBy(r) - before.DroppedBy(r); d != 0 {
					hit = append(hit, fmt.Sprintf("%v×%d", r, d))
				}
			}
			if after.DroppedTotal()-before.DroppedTotal() != 1 || len(hit) != 1 {
				t.Fatalf("drops %v, want exactly one of %v", hit, tc.reasons)
			}
			ok := false
			for _, r := range tc.reasons {
				ok = ok || after.DroppedBy(r)-before.DroppedBy(r) == 1
			}
			if !ok {
				t.Errorf("dropped as %v, want one of %v", hit, tc.reasons)
			}
			if n := b.count(dt.FullSyncText.ID()); n != 0 {
				t.Errorf("B stores %d messages, want 0", n)
			}
		})
	}
	// The untouched packet is accepted: the drops above are the edits'.
	b.receive(m.addr, good)
	if n := b.count(dt.FullSyncText.ID()); n != 1 {
		t.Errorf("the valid packet: B stores %d messages, want 1", n)
	}
}

func TestScenarioClassificationAutoLoad(t *testing.T) {
	// enable_autoload: with an overlay registered for the community's
	// classification and auto-load on, leave the community, then a
	// full-sync-text for it arrives: the community loads again and stores
	// the message. disable_autoload: joined with auto-load off, nothing
	// loads, the packet is dropped as for an unknown community.
	for _, tc := range []struct {
		name     string
		join     []dispersy.JoinOption
		register bool
		loads    bool
	}{
		{"enable_autoload", nil, true, true},
		{"disable_autoload", []dispersy.JoinOption{dispersy.WithoutAutoLoad()}, true, false},
		{"no-registered-overlay", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			var loaded []*dt.DebugCommunity
			opts := []scNodeOption{scWithJoin(tc.join...)}
			if tc.register {
				opts = append(opts, scBeforeJoin(func(e *dispersy.Engine) {
					e.RegisterOverlay("debug", func() dispersy.Overlay {
						d := dt.NewDebugCommunity()
						loaded = append(loaded, d)
						return d
					})
				}))
			}
			b := h.newNode("B", opts...)
			m := scFakeMember("M", 0)
			pkt := scCraft(t, b.c, dt.FullSyncText, m.key, 10, 0, dt.Text{Text: "wake up"})
			if err := b.eng.Leave(scCID); err != nil {
				t.Fatal(err)
			}
			if b.eng.Community(scCID) != nil {
				t.Fatal("the community is still loaded after Leave")
			}
			b.receive(m.addr, pkt)
			c := b.eng.Community(scCID)
			if (c != nil) != tc.loads {
				t.Fatalf("community loaded: %v, want %v", c != nil, tc.loads)
			}
			n := b.count(dt.FullSyncText.ID())
			if tc.loads {
				if n != 1 {
					t.Errorf("B stores %d messages after auto-load, want 1", n)
				}
				if len(loaded) != 1 || !slices.Equal(loaded[0].Handled[dt.FullSyncText.ID()], []string{"wake up"}) {
					t.Errorf("the auto-loaded overlay did not handle the message once (%d overlays made)", len(loaded))
				}
				if c.Me().ID() != b.key.ID() {
					t.Errorf("auto-loaded community signs as %v, want the member it was joined with", c.Me().ID())
				}
				return
			}
			if n != 0 {
				t.Errorf("B stores %d messages, want 0", n)
			}
			if d := b.dropped(dispersy.DropUnknownCommunity); d != 1 {
				t.Errorf("unknown-community drops %d, want 1", d)
			}
			if len(loaded) != 0 {
				t.Errorf("%d overlays were made, want none", len(loaded))
			}
		})
	}
}

func TestScenarioDrops(t *testing.T) {
	// Malformed and unwanted packets: each is dropped under its reason,
	// counted once, and nothing is stored.
	h := newScHarness(t)
	b := h.newNode("B")
	m := scFakeMember("M", 0)
	good := scCraft(t, b.c, dt.FullSyncText, m.key, 10, 0, dt.Text{Text: "ok"})
	gt := b.c.GlobalTime()
	acceptable := gt + dispersy.DefaultConfig().AcceptableGlobalTimeRange
	edit := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	other := keys.DeriveKey(keys.Ed25519, []byte("another community")).Public().CommunityID()

	// A payload with bytes after the text, signed, so only the payload
	// decoder can object.
	pl, err := dt.FullSyncText.EncodePayload(dt.Text{Text: "trailing"})
	if err != nil {
		t.Fatal(err)
	}
	trailing := scCraftRaw(t, scCID, b.c.Codec().Newest(), dt.FullSyncText.ID(), m.key, 11, 0, append(pl, 0xEE))
	// A payload whose text length runs past its end, signed.
	short := scCraftRaw(t, scCID, b.c.Codec().Newest(), dt.FullSyncText.ID(), m.key, 12, 0, []byte{0x00, 0x20, 'a', 'b'})
	// A Python Dispersy packet: wire version 0x00.
	python := edit(func(p []byte) []byte { p[0] = 0; return p })

	for _, tc := range []struct {
		name   string
		pkt    []byte
		reason dispersy.DropReason
	}{
		{"empty", nil, dispersy.DropTooShort},
		{"truncated-10", good[:10], dispersy.DropTooShort},
		{"truncated-header", good[:conversion.HeaderSize-1], dispersy.DropTooShort},
		{"truncated-after-header", good[:conversion.HeaderSize], dispersy.DropTooShort},
		{"truncated-in-key", good[:conversion.HeaderSize+10], dispersy.DropTooShort},
		{"truncated-in-global-time", good[:conversion.HeaderSize+33+4], dispersy.DropTooShort},
		{"truncated-signature", good[:conversion.HeaderSize+33+8+10], dispersy.DropTooShort},
		{"python-wire-version", python, dispersy.DropBadVersion},
		{"unknown-community", edit(func(p []byte) []byte { copy(p[2:], other[:]); return p }), dispersy.DropUnknownCommunity},
		{"unknown-community-version", edit(func(p []byte) []byte { p[1] = 9; return p }), dispersy.DropUnknownConversion},
		{"unknown-message-id", edit(func(p []byte) []byte { p[conversion.HeaderSize-1] = 150; return p }), dispersy.DropUnknownMessage},
		{"trailing-payload-bytes", trailing, dispersy.DropTrailing},
		{"truncated-payload", short, dispersy.DropTooShort},
		{"global-time-zero", scCraftZeroGT(t, b, m), dispersy.DropBadField},
		{"future-global-time", scCraft(t, b.c, dt.FullSyncText, m.key, acceptable+1, 0, dt.Text{Text: "future"}), dispersy.DropFutureGlobalTime},
		{"far-future-global-time", scCraft(t, b.c, dt.FullSyncText, m.key, conversion.MaxGlobalTime, 0, dt.Text{Text: "far future"}), dispersy.DropFutureGlobalTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.eng.Stats()
			b.receive(m.addr, tc.pkt)
			after := b.eng.Stats()
			if d := after.DroppedBy(tc.reason) - before.DroppedBy(tc.reason); d != 1 {
				var hit []string
				for _, r := range dispersy.DropReasons() {
					if d := after.DroppedBy(r) - before.DroppedBy(r); d != 0 {
						hit = append(hit, fmt.Sprintf("%v×%d", r, d))
					}
				}
				t.Errorf("drops %v, want %v×1", hit, tc.reason)
			}
			if d := after.DroppedTotal() - before.DroppedTotal(); d != 1 {
				t.Errorf("%d drops in total, want 1", d)
			}
			if after.Received-before.Received != 1 {
				t.Errorf("Received grew by %d, want 1", after.Received-before.Received)
			}
			if n := b.count(b.c.SyncedTypes()...); n != 0 {
				t.Errorf("B stores %d messages, want 0", n)
			}
			if out := b.take(m.addr); len(out) != 0 {
				t.Errorf("B answered a dropped packet with %d packets", len(out))
			}
		})
	}

	// The acceptable global time itself is still accepted, and a duplicate
	// of a stored message is dropped as a duplicate.
	edge := scCraft(t, b.c, dt.FullSyncText, m.key, acceptable, 0, dt.Text{Text: "edge"})
	b.receive(m.addr, edge)
	if got := b.storedTimes(dt.FullSyncText.ID()); !slices.Equal(got, []uint64{acceptable}) {
		t.Fatalf("message at the acceptable global time %d: stored %v", acceptable, got)
	}
	before := b.dropped(dispersy.DropDuplicate)
	b.receive(m.addr, edge)
	if d := b.dropped(dispersy.DropDuplicate) - before; d != 1 {
		t.Errorf("duplicate drops %d, want 1", d)
	}
}

// scCraftZeroGT crafts a full-sync-text with global time 0, which
// conversion.AppendBody refuses: it edits a valid packet and re-signs it.
func scCraftZeroGT(t *testing.T, b *scNode, m *scMember) []byte {
	t.Helper()
	p := scCraft(t, b.c, dt.FullSyncText, m.key, 1, 0, dt.Text{Text: "zero"})
	sigLen := m.key.Public().SignatureSize()
	body := bytes.Clone(p[:len(p)-sigLen])
	off := conversion.HeaderSize + m.key.Public().Scheme().BinaryPublicKeySize()
	clear(body[off : off+8])
	return append(body, m.key.Sign(body)...)
}

func TestScenarioAcceptableGlobalTimeMedian(t *testing.T) {
	// §4.1: the acceptable global time is max(own global time, median of
	// the verified candidates' global times) + 10,000, where the median
	// counts only with more than 5 verified candidates. 5 candidates at
	// global time 50,000 do not move it; a 6th does.
	const peerGT = 50000
	for _, tc := range []struct {
		candidates int
		accepted   bool
	}{{5, false}, {6, true}} {
		t.Run(fmt.Sprint(tc.candidates, "-candidates"), func(t *testing.T) {
			h := newScHarness(t)
			b := h.newNode("B")
			for _, n := range scMembers(tc.candidates) {
				req := dispersy.IntroductionRequest{Destination: b.addr, SourceLAN: n.addr, SourceWAN: n.addr, Identifier: 1}
				b.receive(n.addr, scCraft(t, b.c, dispersy.IntroductionRequestType, n.key, peerGT, 0, req))
			}
			if v := len(b.c.Table().Verified(h.now)); v != tc.candidates {
				t.Fatalf("B has %d verified candidates, want %d", v, tc.candidates)
			}
			m := scFakeMember("M", 0)
			gt := uint64(peerGT + 10000)
			b.receive(m.addr, scCraft(t, b.c, dt.FullSyncText, m.key, gt, 0, dt.Text{Text: "far ahead"}))
			stored := b.count(dt.FullSyncText.ID()) == 1
			if stored != tc.accepted {
				t.Errorf("message at %d with %d candidates at %d: stored %v, want %v", gt, tc.candidates, peerGT, stored, tc.accepted)
			}
			if !tc.accepted && b.dropped(dispersy.DropFutureGlobalTime) != 1 {
				t.Errorf("future-global-time drops %d, want 1", b.dropped(dispersy.DropFutureGlobalTime))
			}
		})
	}
}

func TestScenarioDropsRequests(t *testing.T) {
	// Built-in messages that are well formed but unwanted: each dropped
	// under its reason, counted once, unanswered.
	h := newScHarness(t)
	b := h.newNode("B")
	a := scFakeMember("A", 0)
	many := make([]uint64, 65)
	for i := range many {
		many[i] = uint64(i + 1)
	}
	aid := a.key.ID()
	hugeBloom := &dispersy.SyncRequest{Low: 1, Modulo: 1, K: 1, Salt: 1, Bloom: make([]byte, 8193)}
	for _, tc := range []struct {
		name   string
		pkt    []byte
		reason dispersy.DropReason
	}{
		{"request-from-self", scIntroRequest(t, b.c, b.key, a.addr, b.addr, true, 1, nil), dispersy.DropFromSelf},
		{"response-without-request", scCraft(t, b.c, dispersy.IntroductionResponseType, a.key, 1, 0,
			dispersy.IntroductionResponse{Destination: b.addr, SourceLAN: a.addr, SourceWAN: a.addr, Identifier: 77}), dispersy.DropUnexpected},
		{"puncture-without-request", scCraft(t, b.c, dispersy.PunctureType, a.key, 1, 0,
			dispersy.Puncture{SourceLAN: a.addr, SourceWAN: a.addr, Identifier: 77}), dispersy.DropUnexpected},
		{"puncture-request-toward-us", scCraft(t, b.c, dispersy.PunctureRequestType, nil, 1, 0,
			dispersy.PunctureRequest{WalkerLAN: b.addr, WalkerWAN: b.addr, Identifier: 1}), dispersy.DropInvalidAddress},
		{"puncture-request-toward-sender", scCraft(t, b.c, dispersy.PunctureRequestType, nil, 1, 0,
			dispersy.PunctureRequest{WalkerLAN: a.addr, WalkerWAN: a.addr, Identifier: 1}), dispersy.DropInvalidAddress},
		{"missing-message-too-many-times", scCraft(t, b.c, dispersy.MissingMessageType, nil, 1, 0,
			dispersy.MissingMessage{Member: a.key.ID(), GlobalTimes: many}), dispersy.DropInvalidRequest},
		{"missing-sequence-of-unsequenced-type", scCraft(t, b.c, dispersy.MissingSequenceType, nil, 1, 0,
			dispersy.MissingSequence{Member: a.key.ID(), MessageID: dt.FullSyncText.ID(), Low: 1, High: 2}), dispersy.DropInvalidRequest},
		{"missing-sequence-of-unknown-type", scCraft(t, b.c, dispersy.MissingSequenceType, nil, 1, 0,
			dispersy.MissingSequence{Member: a.key.ID(), MessageID: 190, Low: 1, High: 2}), dispersy.DropInvalidRequest},
		{"missing-sequence-reversed-range", scCraftRaw(t, scCID, b.c.Codec().Newest(), dispersy.IDMissingSequence, nil, 1, 0,
			append(append(slices.Clone(aid[:]), dt.SequenceText.ID()), 0, 0, 0, 5, 0, 0, 0, 2)), dispersy.DropBadField},
		// Larger than MaxDatagram: refused before it is decoded.
		{"bloom-too-large", scIntroRequest(t, b.c, a.key, a.addr, b.addr, false, 1, hugeBloom), dispersy.DropOversize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.eng.Stats()
			b.receive(a.addr, tc.pkt)
			after := b.eng.Stats()
			var hit []string
			for _, r := range dispersy.DropReasons() {
				if d := after.DroppedBy(r) - before.DroppedBy(r); d != 0 {
					hit = append(hit, fmt.Sprintf("%v×%d", r, d))
				}
			}
			if after.DroppedBy(tc.reason)-before.DroppedBy(tc.reason) != 1 || after.DroppedTotal()-before.DroppedTotal() != 1 {
				t.Errorf("drops %v, want %v×1", hit, tc.reason)
			}
			b.collect()
			if len(b.outbox) != 0 {
				t.Errorf("B sent %d packets in answer", len(b.outbox))
				b.discard()
			}
		})
	}
}
