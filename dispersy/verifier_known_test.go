package dispersy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// receiveChecked hands pkts to n through its Verifier, as a Node does.
func receiveChecked(t *testing.T, n *scNode, m *scMember, pkts ...[]byte) []dispersy.Inbound {
	t.Helper()
	ins := make([]dispersy.Inbound, len(pkts))
	for i, p := range pkts {
		ins[i] = dispersy.Inbound{Addr: m.addr, Data: p}
		n.eng.Verifier().Check(&ins[i])
	}
	if err := n.eng.ReceiveInbound(n.h.now, ins); err != nil {
		t.Fatal(err)
	}
	n.collect()
	return ins
}

// badSig returns pkt with its signature's last byte flipped.
func badSig(pkt []byte) []byte {
	b := slices.Clone(pkt)
	b[len(b)-1] ^= 1
	return b
}

// A packet the engine stored is known to its Verifier: the copy that comes
// again is dropped as a duplicate without a signature check. The proof: a
// stored packet with a broken signature (put in the store behind the
// engine's back) comes back as a duplicate, not as a bad signature.
func TestVerifierKnownDuplicateSkipsSignatureCheck(t *testing.T) {
	h := newScHarness(t)
	store := dt.NewMemStore()
	n := h.newNode("N", scWithStore(store))
	x := scFakeMember("X", 1)
	p := scCraft(t, n.c, dt.FullSyncText, x.key, 10, 0, dt.Text{Text: "one"})
	if ins := receiveChecked(t, n, x, p); ins[0].Known() {
		t.Fatal("a new packet is known")
	}
	if got := n.count(dt.FullSyncText.ID()); got != 1 {
		t.Fatalf("stored %d, want 1", got)
	}
	if ins := receiveChecked(t, n, x, p); !ins[0].Known() {
		t.Fatal("the engine's commit did not make the stored packet known")
	}
	if d := n.dropped(dispersy.DropDuplicate); d != 1 {
		t.Errorf("DropDuplicate %d, want 1", d)
	}

	forged := badSig(scCraft(t, n.c, dt.FullSyncText, x.key, 11, 0, dt.Text{Text: "two"}))
	var b dispersy.Batch
	b.Put(dispersy.Record{Community: scCID, Member: x.key.Public().ID(), GlobalTime: 11, MessageID: dt.FullSyncText.ID(), Hash: dispersy.PacketHash(forged), Packet: forged})
	if err := store.Apply(&b); err != nil {
		t.Fatal(err)
	}
	n.eng.Verifier().RememberStored(forged)
	receiveChecked(t, n, x, forged)
	if d, bad := n.dropped(dispersy.DropDuplicate), n.dropped(dispersy.DropBadSignature); d != 2 || bad != 0 {
		t.Errorf("known stored packet: DropDuplicate %d, DropBadSignature %d; want 2, 0 (no signature check)", d, bad)
	}
	if got := n.overlay.Handled[dt.FullSyncText.ID()]; len(got) != 1 {
		t.Errorf("handled %v, want only the first packet", got)
	}
}

// Copies of one packet that reach the Verifier before the first is stored
// (a push and a pull at once, in one batch or two) are verified once: the
// others are byte-identical, so their signatures are too. A forgery with
// the same key (other bytes) is verified, and dropped for it; the engine
// keeps one copy and drops the others as duplicates.
func TestVerifierSameBytesVerifiedOnce(t *testing.T) {
	h := newScHarness(t)
	n := h.newNode("N")
	x := scFakeMember("X", 1)
	p := scCraft(t, n.c, dt.FullSyncText, x.key, 10, 0, dt.Text{Text: "pushed and pulled"})
	receiveChecked(t, n, x, p, slices.Clone(p), badSig(p))
	receiveChecked(t, n, x, slices.Clone(p)) // a later batch: stored, known
	want := dispersy.VerifierStats{Verified: 2, Known: 1, Same: 1}
	if got := n.eng.Verifier().Stats(); got != want {
		t.Errorf("Verifier.Stats %+v, want %+v", got, want)
	}
	if got := n.storedTimes(dt.FullSyncText.ID()); !slices.Equal(got, []uint64{10}) {
		t.Errorf("stored %v, want [10]", got)
	}
	if d, bad := n.dropped(dispersy.DropDuplicate), n.dropped(dispersy.DropBadSignature); d != 2 || bad != 1 {
		t.Errorf("DropDuplicate %d, DropBadSignature %d; want 2, 1", d, bad)
	}
	if got := n.overlay.Handled[dt.FullSyncText.ID()]; len(got) != 1 {
		t.Errorf("handled %v, want one copy", got)
	}
}

// A known hash whose packet is not stored (pruned, deleted, replaced, a
// collision) gets the full check: a good packet is stored and handled, a
// forged one is dropped for its signature.
func TestVerifierKnownButNotStoredIsChecked(t *testing.T) {
	h := newScHarness(t)
	n := h.newNode("N")
	x := scFakeMember("X", 1)
	good := scCraft(t, n.c, dt.FullSyncText, x.key, 10, 0, dt.Text{Text: "good"})
	forged := badSig(scCraft(t, n.c, dt.FullSyncText, x.key, 11, 0, dt.Text{Text: "forged"}))
	n.eng.Verifier().RememberStored(good)
	n.eng.Verifier().RememberStored(forged)
	ins := receiveChecked(t, n, x, good, forged)
	if !ins[0].Known() || !ins[1].Known() {
		t.Fatal("remembered packets are not known")
	}
	if got := n.storedTimes(dt.FullSyncText.ID()); !slices.Equal(got, []uint64{10}) {
		t.Errorf("stored %v, want [10]", got)
	}
	if bad := n.dropped(dispersy.DropBadSignature); bad != 1 {
		t.Errorf("DropBadSignature %d, want 1", bad)
	}
	if got := n.overlay.Handled[dt.FullSyncText.ID()]; len(got) != 1 {
		t.Errorf("handled %v, want the good packet", got)
	}
}

// The same packets through ReceiveInbound with every hash known and with
// none known give the same drops, the same store and the same handler
// calls.
func TestVerifierKnownSetChangesNoVerdict(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			h := newScHarness(t)
			a, b := h.newNode("A"), h.newNode("B")
			x := scFakeMember("X", 1)
			var pool [][]byte
			for gt := uint64(1); gt <= 30; gt++ {
				p := scCraft(t, a.c, dt.FullSyncText, x.key, gt, 0, dt.Text{Text: fmt.Sprint("m", gt)})
				pool = append(pool, p)
				if rng.IntN(3) == 0 { // a forgery with the key of a good one
					pool = append(pool, badSig(p))
				}
			}
			for range 8 {
				batch := make([][]byte, 1+rng.IntN(10))
				for i := range batch {
					batch[i] = pool[rng.IntN(len(pool))]
					a.eng.Verifier().RememberStored(batch[i]) // known to A, stored or not
				}
				receiveChecked(t, a, x, batch...)
				ins := make([]dispersy.Inbound, len(batch))
				for i, p := range batch {
					ins[i] = dispersy.Inbound{Addr: x.addr, Data: p}
				}
				if err := b.eng.ReceiveInbound(h.now, ins); err != nil {
					t.Fatal(err)
				}
			}
			sa, sb := a.eng.Stats(), b.eng.Stats()
			if sa.Dropped != sb.Dropped {
				t.Errorf("Dropped\n known %v\n plain %v", sa.Dropped, sb.Dropped)
			}
			if ra, rb := a.records(dt.FullSyncText.ID()), b.records(dt.FullSyncText.ID()); !slices.EqualFunc(ra, rb, func(p, q dispersy.Record) bool { return string(p.Packet) == string(q.Packet) }) {
				t.Errorf("stored %d vs %d records, or other packets", len(ra), len(rb))
			}
			if ha, hb := a.overlay.Handled[dt.FullSyncText.ID()], b.overlay.Handled[dt.FullSyncText.ID()]; !slices.Equal(ha, hb) {
				t.Errorf("handled\n known %v\n plain %v", ha, hb)
			}
		})
	}
}

// BenchmarkVerifierKnownDuplicate is stored packets coming again, in
// batches of 1 and 32, through the Node's two stages (Verifier.Check, then
// ReceiveInbound): "verify" is packets the verifier does not know as
// stored (each is verified, then dropped as a duplicate), "known" packets
// it does (hashed, then looked up in the store, one lookup per batch).
// The packets cycle through more than the verifier's cache of packets
// verified lately holds, so "verify" checks every one. Reported per
// packet.
func BenchmarkVerifierKnownDuplicate(b *testing.B) {
	for _, known := range []bool{false, true} {
		for _, size := range []int{1, 32} {
			name := map[bool]string{false: "verify", true: "known"}[known] + fmt.Sprintf("/batch=%d", size)
			b.Run(name, func(b *testing.B) {
				h := newScHarness(b)
				store := dt.NewMemStore()
				n := h.newNode("N", scWithStore(store))
				x := scFakeMember("X", 1)
				v := n.eng.Verifier()
				var batch dispersy.Batch
				pkts := make([][]byte, 8192)
				for i := range pkts {
					gt := uint64(10 + i)
					pkts[i] = scCraft(b, n.c, dt.FullSyncText, x.key, gt, 0, dt.Text{Text: "a chat line of ordinary length, say sixty bytes"})
					batch.Put(dispersy.Record{Community: scCID, Member: x.key.Public().ID(), GlobalTime: gt, MessageID: dt.FullSyncText.ID(), Hash: dispersy.PacketHash(pkts[i]), Packet: pkts[i]})
					if known {
						v.RememberStored(pkts[i])
					}
				}
				if err := store.Apply(&batch); err != nil {
					b.Fatal(err)
				}
				ins := make([]dispersy.Inbound, size)
				b.ReportAllocs()
				next := 0
				for b.Loop() {
					for i := range ins {
						ins[i] = dispersy.Inbound{Addr: x.addr, Data: pkts[next]}
						v.Check(&ins[i])
						next = (next + 1) % len(pkts)
					}
					if err := n.eng.ReceiveInbound(h.now, ins); err != nil {
						b.Fatal(err)
					}
				}
				if d := n.dropped(dispersy.DropDuplicate); d < uint64(b.N*size) {
					b.Fatalf("DropDuplicate %d after %d packets", d, b.N*size)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/packet")
			})
		}
	}
}
