package dispersy_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// A member that signs two different messages with one sequence number is
// excluded: its messages are deleted (Undo handlers run), new ones refused,
// and a peer that sends one is sent the proof and reaches the same state.
func TestEquivocationSequence(t *testing.T) {
	n := newPnet(t, "A", "B", "C")
	a, b, c := n.node("A"), n.node("B"), n.node("C")
	var seq []*dispersy.Message[dt.Text]
	for i := range 3 {
		seq = append(seq, a.create(dt.SequenceText, fmt.Sprint("s", i+1), 0))
	}
	other := a.create(dt.FullSyncText, "other type", 0)
	for _, m := range seq {
		b.give(a, m.Packet)
		c.give(a, m.Packet)
	}
	b.give(a, other.Packet)
	c.give(a, other.Packet)

	// A second engine with A's key (a forked A) signs another #2.
	fork := newPnetSigner(t, a)
	fork.give(a, seq[0].Packet)
	fork.c.RaiseGlobalTime(seq[1].GlobalTime + 5)
	forged := mustPacket(t, fork, func() (*dispersy.Message[dt.Text], error) {
		return dispersy.Create(fork.c, dt.SequenceText, dt.Text{Text: "forked s2"})
	})
	if forged.Sequence != 2 {
		t.Fatalf("forged sequence %d", forged.Sequence)
	}

	b.give(fork, forged.Packet)
	if !b.c.Excluded(a.key.ID()) {
		t.Fatal("B did not exclude A")
	}
	if got := b.count(dt.SequenceText) + b.count(dt.FullSyncText); got != 0 {
		t.Fatalf("B still holds %d of A's messages", got)
	}
	if got := b.dc.Undone[dt.SequenceText.ID()]; len(got) != 3 {
		t.Fatalf("B's Undo handler saw %q, want A's 3 sequenced messages", got)
	}
	// A new message of A is refused.
	later := a.create(dt.FullSyncText, "after", 0)
	b.give(a, later.Packet)
	if ok, _ := b.stored(later.Key()); ok || b.dropped(dispersy.DropMalicious) == 0 {
		t.Fatal("B accepted a message of an excluded member")
	}
	// C, which has not seen the fork, sends B one of A's messages: B sends
	// the proof, and C excludes A too.
	c.give(a, later.Packet)
	b.give(c, later.Packet)
	proof := b.sent(c, 0)
	if len(proof) != 2 {
		t.Fatalf("B sent C %d packets, want the 2 of the proof", len(proof))
	}
	c.give(b, proof...)
	if !c.c.Excluded(a.key.ID()) {
		t.Fatal("C did not exclude A after the proof")
	}
	hb, _ := b.store.Count(b.c.ID(), b.c.SyncedTypes())
	hc, _ := c.store.Count(c.c.ID(), c.c.SyncedTypes())
	if hb != hc || hb != 0 {
		t.Fatalf("B holds %d synced messages, C %d: want the same (0)", hb, hc)
	}
	// The exclusion survives a restart.
	e2, err := dispersy.NewEngine(dispersy.DefaultConfig(), b.key, b.store)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e2.Join(dt.NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Excluded(a.key.ID()) {
		t.Fatal("exclusion lost on restart")
	}
}

// Two different messages of one member at one global time: excluded too.
func TestEquivocationGlobalTime(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	m := a.create(dt.FullSyncText, "one", 30)
	fork := newPnetSigner(t, a)
	fork.c.RaiseGlobalTime(29)
	forged := mustPacket(t, fork, func() (*dispersy.Message[dt.Text], error) {
		return dispersy.Create(fork.c, dt.FullSyncText, dt.Text{Text: "two"})
	})
	if forged.GlobalTime != m.GlobalTime {
		t.Fatalf("forged at %d, want %d", forged.GlobalTime, m.GlobalTime)
	}
	b.give(a, m.Packet)
	b.give(fork, forged.Packet)
	if !b.c.Excluded(a.key.ID()) {
		t.Fatal("B did not exclude A")
	}
	if ok, _ := b.stored(m.Key()); ok {
		t.Fatal("the excluded member's message is still stored")
	}
	// Identical copies and re-encodings are not equivocation.
	b2 := newPnet(t, "B2").node("B2")
	b2.give(a, m.Packet, m.Packet)
	if b2.c.Excluded(a.key.ID()) || !slices.Equal(b2.dc.Handled[dt.FullSyncText.ID()], []string{"one"}) {
		t.Fatal("a duplicate was taken for equivocation")
	}
}
