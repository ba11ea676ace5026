package dispersy_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// missingProofs decodes the missing-proof requests p sent to q (removing
// them from p's outbox) as "member@gt" strings of the members' names.
func missingProofs(t *testing.T, p, q *pnode) []dispersy.MissingProof {
	t.Helper()
	var out []dispersy.MissingProof
	for _, pkt := range p.sent(q, dispersy.IDMissingProof) {
		out = append(out, scDecode(t, p.c, dispersy.MissingProofType, pkt).payload)
	}
	return out
}

// proofSetup has the master authorize A and C (permit on protected text)
// and X nothing; B knows none of it. It returns the three messages B is
// about to receive: X's forged one @30, A's @40 and C's @41.
func proofSetup(t *testing.T) (n *pnet, forged []byte, msgA, msgC *dispersy.Message[dt.Text]) {
	n = newPnet(t, "MM", "A", "B", "C", "X")
	mm, a, c, x := n.node("MM"), n.node("A"), n.node("C"), n.node("X")
	ga := mm.grant(a, dispersy.Permit, dt.ProtectedText)
	gc := mm.grant(c, dispersy.Permit, dt.ProtectedText)
	a.give(mm, ga.Packet, gc.Packet) // the master's sequence has no gap
	c.give(mm, ga.Packet, gc.Packet)
	forged = scCraft(t, x.c, dt.ProtectedText, x.key, 30, 0, dt.Text{Text: "forged by X"})
	msgA = a.create(dt.ProtectedText, "from A", 40)
	msgC = c.create(dt.ProtectedText, "from C", 41)
	return n, forged, msgA, msgC
}

// Every message delayed for a missing proof gets its own missing-proof
// request, sent to its own sender: an unprovable message that arrived
// first (X's) must not suppress the requests for A's and C's messages, and
// the retries ask each sender for its own message's proof, not for the
// first delayed message's.
func TestProofRequestPerMessage(t *testing.T) {
	n, forged, msgA, msgC := proofSetup(t)
	a, b, c, x := n.node("A"), n.node("B"), n.node("C"), n.node("X")
	b.give(x, forged)
	b.give(a, msgA.Packet)
	b.give(c, msgC.Packet)
	want := func(round string, p *pnode, member *pnode, gt uint64) {
		t.Helper()
		got := missingProofs(t, b, p)
		if len(got) != 1 || got[0].Member != member.key.ID() || got[0].GlobalTime != gt {
			t.Fatalf("%s: B asked %s for %d proofs %+v, want one for %s@%d", round, p.name, len(got), got, member.name, gt)
		}
	}
	want("first", x, x, 30)
	want("first", a, a, 40)
	want("first", c, c, 41)
	if b.e.Stats().Requests != 3 {
		t.Fatalf("B counted %d requests, want 3", b.e.Stats().Requests)
	}
	// The retries (no other candidate is known) go to the same senders and
	// ask for the same proofs.
	n.advance(dispersy.DefaultConfig().DelayRetry)
	want("retry", x, x, 30)
	want("retry", a, a, 40)
	want("retry", c, c, 41)
	// A answers; its message is stored, the others still wait.
	n.advance(0)
	a.give(b, scCraftMissingProof(t, b, a, 40))
	b.give(a, a.sent(b, dispersy.IDAuthorize)...)
	if ok, _ := b.stored(msgA.Key()); !ok {
		t.Fatal("A's message not stored after its proof arrived")
	}
	if b.c.Delayed() != 2 {
		t.Fatalf("B holds %d delayed messages, want 2 (X's and C's)", b.c.Delayed())
	}
	// The authorize for A woke every proof wait; C's message, still
	// unproven, waits on its own request, which is not restarted: the next
	// request to C comes with the backoff, not now.
	if got := missingProofs(t, b, c); len(got) != 0 {
		t.Fatalf("an unrelated proof re-sent %d requests to C", len(got))
	}
	n.advance(2 * dispersy.DefaultConfig().DelayRetry)
	want("second retry", c, c, 41)
	if got := b.dc.Handled[dt.ProtectedText.ID()]; !slices.Equal(got, []string{"from A"}) {
		t.Fatalf("B handled %q", got)
	}
}

// scCraftMissingProof is the missing-proof from `from` asking about
// member@gt.
func scCraftMissingProof(t *testing.T, from, member *pnode, gt uint64) []byte {
	t.Helper()
	p, err := dispersy.MissingProofType.EncodePayload(dispersy.MissingProof{Member: member.key.ID(), GlobalTime: gt})
	if err != nil {
		t.Fatal(err)
	}
	return craftUnsigned(t, from, dispersy.IDMissingProof, p)
}

// A message whose proof never comes is refused for lack of permission: once
// its requests run out it is counted under DropNotPermitted, not
// DropDelayExpired.
func TestProofWaitExpiresNotPermitted(t *testing.T) {
	n, forged, _, _ := proofSetup(t)
	b, x := n.node("B"), n.node("X")
	b.give(x, forged)
	if b.c.Delayed() != 1 {
		t.Fatalf("B holds %d delayed messages, want 1", b.c.Delayed())
	}
	for range 10 {
		n.advance(30 * time.Second)
	}
	if b.c.Delayed() != 0 {
		t.Fatalf("the forged message still waits (%d delayed)", b.c.Delayed())
	}
	if got := b.dropped(dispersy.DropNotPermitted); got != 1 {
		t.Fatalf("DropNotPermitted = %d, want 1", got)
	}
	if got := b.dropped(dispersy.DropDelayExpired); got != 0 {
		t.Fatalf("DropDelayExpired = %d, want 0", got)
	}
}

// UndoMessage of another member's message without the undo permission is
// refused with ErrNotPermitted (the target is stored: it is not a missing
// message).
func TestUndoMessageNotPermitted(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	m := b.create(dt.FullSyncText, "B's", 0)
	a.give(b, m.Packet)
	if ok, _ := a.stored(m.Key()); !ok {
		t.Fatal("A did not store B's message")
	}
	a.e.SetTime(n.now)
	_, err := a.c.UndoMessage(m.Key())
	if !errors.Is(err, dispersy.ErrNotPermitted) {
		t.Fatalf("UndoMessage without the undo permission: %v, want ErrNotPermitted", err)
	}
	if ok, undone := a.stored(m.Key()); !ok || undone {
		t.Fatalf("after the refused undo: stored %v undone %v", ok, undone)
	}
}

// A destroyed community still proves its destroy: B, which lacks the
// authorize that let A destroy the community, asks A (already destroyed)
// for the proof, gets it, and destroys its community too. Other requests
// are still answered with the destroy message only.
func TestDestroyedAnswersMissingProof(t *testing.T) {
	n := newPnet(t, "MM", "A", "B")
	mm, a, b := n.node("MM"), n.node("A"), n.node("B")
	auth := mm.grant(a, dispersy.Permit, dispersy.DestroyCommunityType)
	a.give(mm, auth.Packet)
	m := b.create(dt.FullSyncText, "before", 0)
	a.give(b, m.Packet)
	a.do(func() error { return a.c.Destroy() })
	if !a.c.Destroyed() {
		t.Fatal("A's community not destroyed")
	}
	var destroy []byte
	a.store.Range(dispersy.RangeQuery{Community: a.c.ID(), MessageID: dispersy.IDDestroyCommunity, Low: 1, High: 1 << 62}, func(r *dispersy.Record) bool {
		destroy = r.Packet
		return false
	})
	if destroy == nil {
		t.Fatal("A stores no destroy message")
	}
	a.outbox = nil
	b.give(a, destroy)
	if b.c.Destroyed() {
		t.Fatal("B destroyed its community without the proof")
	}
	reqs := b.sent(a, dispersy.IDMissingProof)
	if len(reqs) != 1 {
		t.Fatalf("B sent A %d missing-proof requests, want 1", len(reqs))
	}
	a.give(b, reqs...)
	proofs := a.sent(b, dispersy.IDAuthorize)
	if len(proofs) != 1 || string(proofs[0]) != string(auth.Packet) {
		t.Fatalf("destroyed A answered the missing-proof with %d authorize packets, want the authorize behind the destroy", len(proofs))
	}
	if got := a.sent(b, dispersy.IDDestroyCommunity); len(got) != 0 {
		t.Fatalf("A answered a missing-proof with the destroy message (%d)", len(got))
	}
	b.give(a, proofs...)
	if !b.c.Destroyed() {
		t.Fatal("B did not destroy its community after the proof arrived")
	}
	if got := b.count(dt.FullSyncText); got != 0 {
		t.Fatalf("B still holds %d messages", got)
	}
	// A missing-proof for a message the destroy deleted is answered with
	// the destroy message alone.
	a.give(b, scCraftMissingProof(t, b, b, m.GlobalTime))
	if got := a.sent(b, dispersy.IDDestroyCommunity); len(got) != 1 {
		t.Fatalf("A answered a missing-proof for a deleted message with %d destroy messages, want 1", len(got))
	}
	if got := a.sent(b, 0); len(got) != 0 {
		t.Fatalf("A answered a missing-proof for a deleted message with %d more packets", len(got))
	}
	// After a restart on the same store A still proves its destroy.
	cfg := dispersy.DefaultConfig()
	cfg.BloomSync = false
	cfg.AmplificationFactor = 0
	cfg.LocalAddr = a.addr
	e2, err := dispersy.NewEngine(cfg, a.key, a.store)
	if err != nil {
		t.Fatal(err)
	}
	e2.SetTime(n.now)
	if _, err := e2.Join(dt.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	e2.Ready()
	if err := e2.Receive(n.now, b.addr, reqs[0]); err != nil {
		t.Fatal(err)
	}
	var again [][]byte
	for _, d := range e2.Ready() {
		if d.Addr == b.addr && d.Data[22] == dispersy.IDAuthorize {
			again = append(again, d.Data)
		}
	}
	if len(again) != 1 || string(again[0]) != string(auth.Packet) {
		t.Fatalf("after a restart the destroyed A answered with %d authorize packets, want the one behind the destroy", len(again))
	}
}
