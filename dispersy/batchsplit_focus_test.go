package dispersy_test

// One focused test per kind of batch dependence of issue #12; the property
// test (TestBatchSplitProperty) covers their combinations.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// bsSnapshot is a node's stored records, one line each.
func bsSnapshot(tb testing.TB, n *scNode) string {
	var b bytes.Buffer
	for _, r := range bsRecords(tb, n) {
		fmt.Fprintf(&b, "%d@%d %x undone=%v by=%d\n", r.MessageID, r.GlobalTime, r.Hash[:4], r.Undone, r.UndoneBy.GlobalTime)
	}
	return b.String()
}

// Two messages of one member with one sequence number in one batch are
// equivocation, as in separate batches: the member is excluded.
func TestSameSequenceInOneBatchIsEquivocation(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprint("batched=", batched), func(t *testing.T) {
			h := newScHarness(t)
			n, _ := bsNode(h, "receiver")
			x := scFakeMember("x", 0)
			a := scCraft(t, n.c, bsSeq, x.key, 5, 1, dt.Text{Text: "a"})
			b := scCraft(t, n.c, bsSeq, x.key, 6, 1, dt.Text{Text: "b"})
			if batched {
				n.receive(x.addr, a, b)
			} else {
				n.receiveEach(x.addr, a, b)
			}
			if !n.c.Excluded(x.key.ID()) {
				t.Error("the member is not excluded")
			}
			if got := bsRecords(t, n); len(got) != 0 {
				t.Errorf("%d messages of the excluded member stored", len(got))
			}
		})
	}
}

// Two undo-owns of one target in one batch: the binary-lower wins, as when
// they arrive apart, and the Undo handler runs once.
func TestTwoUndoOwnsInOneBatch(t *testing.T) {
	h := newScHarness(t)
	crafter, _ := bsNode(h, "crafter")
	x := scFakeMember("x", 0)
	target := scCraft(t, crafter.c, bsSeq, x.key, 5, 1, dt.Text{Text: "target"})
	u1 := scCraft(t, crafter.c, dispersy.UndoOwnType, x.key, 7, 1, dispersy.UndoOwn{GlobalTime: 5})
	u2 := scCraft(t, crafter.c, dispersy.UndoOwnType, x.key, 9, 2, dispersy.UndoOwn{GlobalTime: 5})
	lower := uint64(7)
	if bytes.Compare(u2, u1) < 0 {
		lower = 9
	}
	var want string
	for i, deliver := range []func(n *scNode){
		func(n *scNode) { n.receive(x.addr, u1, u2) },
		func(n *scNode) { n.receiveEach(x.addr, u1, u2) },
		func(n *scNode) { n.receiveEach(x.addr, u2, u1) },
	} {
		h := newScHarness(t)
		n, o := bsNode(h, "receiver")
		n.receive(x.addr, target)
		deliver(n)
		got := bsSnapshot(t, n)
		if i == 0 {
			want = got
		} else if got != want {
			t.Errorf("delivery %d stores\n%s, one batch stores\n%s", i, got, want)
		}
		for _, r := range bsRecords(t, n, bsSeq.ID()) {
			if !r.Undone || r.UndoneBy.GlobalTime != lower {
				t.Errorf("delivery %d: target undone=%v by @%d, want by the binary-lower undo @%d", i, r.Undone, r.UndoneBy.GlobalTime, lower)
			}
		}
		if undos := slices.Index(o.calls, "undo target"); undos < 0 || slices.Contains(o.calls[undos+1:], "undo target") {
			t.Errorf("delivery %d: handler calls %v, want one undo", i, o.calls)
		}
	}
}

// Overlapping missing-sequence requests of one requester in separate
// datagrams a few milliseconds apart are answered with each message once;
// after the window they are answered again.
func TestMissingSequenceAnsweredOncePerWindow(t *testing.T) {
	h := newScHarness(t)
	b := h.newNode("B")
	m := scFakeMember("M", 0)
	scSequenceSetup(t, b, m)
	q := scFakeMember("Q", 1)
	ask := func(lo, hi uint32) []uint32 {
		t.Helper()
		b.receive(q.addr, scCraft(t, b.c, dispersy.MissingSequenceType, nil, 1, 0,
			dispersy.MissingSequence{Member: m.key.ID(), MessageID: dt.SequenceText.ID(), Low: lo, High: hi}))
		return scSequences(t, b.c, b.take(q.addr))
	}
	if got := ask(1, 5); !slices.Equal(got, []uint32{1, 2, 3, 4, 5}) {
		t.Fatalf("first answer %v", got)
	}
	h.advance(5 * time.Millisecond)
	if got := ask(3, 8); !slices.Equal(got, []uint32{6, 7, 8}) {
		t.Errorf("overlapping request 5 ms later answered with %v, want [6 7 8]", got)
	}
	h.advance(dispersy.DefaultConfig().SequenceAnswerWindow)
	if got := ask(1, 2); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("request after the window answered with %v, want [1 2]", got)
	}
}

// A message undone by its author and then deleted by the author's
// exclusion: the Undo handler runs once.
func TestUndoneThenExcludedUndoOnce(t *testing.T) {
	h := newScHarness(t)
	n, o := bsNode(h, "receiver")
	x := scFakeMember("x", 0)
	n.receive(x.addr, scCraft(t, n.c, bsSeq, x.key, 5, 1, dt.Text{Text: "target"}))
	n.receive(x.addr, scCraft(t, n.c, dispersy.UndoOwnType, x.key, 7, 1, dispersy.UndoOwn{GlobalTime: 5}))
	n.receive(x.addr, scCraft(t, n.c, bsSeq, x.key, 6, 1, dt.Text{Text: "forged"}))
	if !n.c.Excluded(x.key.ID()) {
		t.Fatal("the member is not excluded")
	}
	for k, v := range o.net {
		if v != 0 {
			t.Errorf("message @%d: handle minus undo = %d, want 0 (calls %v)", k.GlobalTime, v, o.calls)
		}
	}
}

// Two last-2 messages of one member at one global time: every arrival
// order keeps the binary-lower (or none, once newer ones evicted it) and
// excludes nobody, including when the first copy was evicted before the
// second arrived.
func TestLastSyncConflictEveryOrder(t *testing.T) {
	h := newScHarness(t)
	crafter, _ := bsNode(h, "crafter")
	x := scFakeMember("x", 0)
	a := scCraft(t, crafter.c, bsLast2, x.key, 13, 0, dt.Text{Text: "a"})
	a2 := scCraft(t, crafter.c, bsLast2, x.key, 13, 0, dt.Text{Text: "a-again"})
	newer := scTexts(t, crafter.c, bsLast2, x.key, "x", 15, 17)
	lower := a
	if bytes.Compare(a2, a) < 0 {
		lower = a2
	}
	for _, tc := range []struct {
		name string
		pkts [][]byte
		one  bool
		want [][]byte // the stored last-2 packets
	}{
		{"pair, one batch", [][]byte{a, a2}, true, [][]byte{lower}},
		{"pair, a first", [][]byte{a, a2}, false, [][]byte{lower}},
		{"pair, a2 first", [][]byte{a2, a}, false, [][]byte{lower}},
		{"all, one batch", [][]byte{a, a2, newer[0], newer[1]}, true, newer},
		{"first evicted", [][]byte{a, newer[0], newer[1], a2}, false, newer},
		{"second evicted", [][]byte{a2, newer[0], newer[1], a}, false, newer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			n, _ := bsNode(h, "receiver")
			if tc.one {
				n.receive(x.addr, tc.pkts...)
			} else {
				n.receiveEach(x.addr, tc.pkts...)
			}
			if n.c.Excluded(x.key.ID()) {
				t.Error("member excluded")
			}
			var got [][]byte
			for _, r := range bsRecords(t, n, bsLast2.ID()) {
				got = append(got, r.Packet)
			}
			if !scPacketsEqual(got, tc.want) {
				t.Errorf("stored %d packets, want %d (the binary-lower of the pair or the newer ones)", len(got), len(tc.want))
			}
		})
	}
}

// A late revoke: the master revokes A's authorize permission at global
// time 8 after A authorized B (@10, A's authorize #1) and C (@12, #2). A
// peer that stored A's authorizes before the revoke and a peer that got the
// revoke first end equal: both keep them stored and inactive (undone), and
// neither waits behind A's sequence numbers.
func TestLateRevokeEveryOrder(t *testing.T) {
	h := newScHarness(t)
	crafter, _ := bsNode(h, "crafter")
	a, b, c := scFakeMember("a", 0), scFakeMember("b", 1), scFakeMember("c", 2)
	mAddr := scFakeMember("M", 9).addr
	grant := func(who *scMember, p dispersy.Permission) []dispersy.Grant {
		return []dispersy.Grant{{Member: who.key.Public(), MessageType: bsLinear.ID(), Permission: p}}
	}
	authA := scCraft(t, crafter.c, dispersy.AuthorizeType, bsMaster, 2, 1, dispersy.Authorize{Grants: grant(a, dispersy.Permit|dispersy.PermAuthorize)})
	revokeA := scCraft(t, crafter.c, dispersy.RevokeType, bsMaster, 8, 1, dispersy.Revoke{Grants: grant(a, dispersy.PermAuthorize)})
	authB := scCraft(t, crafter.c, dispersy.AuthorizeType, a.key, 10, 1, dispersy.Authorize{Grants: grant(b, dispersy.Permit)})
	authC := scCraft(t, crafter.c, dispersy.AuthorizeType, a.key, 12, 2, dispersy.Authorize{Grants: grant(c, dispersy.Permit)})
	var want string
	for i, revokeFirst := range []bool{false, true} {
		h := newScHarness(t)
		n, _ := bsNode(h, "receiver")
		n.receive(mAddr, authA)
		if revokeFirst {
			n.receive(mAddr, revokeA)
			n.receiveEach(a.addr, authB, authC)
		} else {
			n.receiveEach(a.addr, authB, authC)
			n.receive(mAddr, revokeA)
		}
		got := bsSnapshot(t, n)
		if i == 0 {
			want = got
		} else if got != want {
			t.Errorf("revoke first stores\n%s; revoke last stores\n%s", got, want)
		}
		recs := bsRecords(t, n, dispersy.IDAuthorize)
		if len(recs) != 3 {
			t.Fatalf("revokeFirst=%v: %d authorizes stored, want 3", revokeFirst, len(recs))
		}
		for _, r := range recs[1:] {
			if !r.Undone {
				t.Errorf("revokeFirst=%v: A's authorize @%d is live, want inactive", revokeFirst, r.GlobalTime)
			}
		}
		if d := n.c.Delayed(); d != 0 {
			t.Errorf("revokeFirst=%v: %d messages wait", revokeFirst, d)
		}
		if n.c.Allowed(b.key.ID(), bsLinear, dispersy.Permit) {
			t.Errorf("revokeFirst=%v: B holds the permission of an invalid authorize", revokeFirst)
		}
	}
}

// A linear message created after a revoke its author had not seen, and the
// author's undo of it: a peer that stored it before the revoke and a peer
// that got the revoke first end equal (stored, undone by the undo) and its
// handler count nets to 0; the author's undo sequence has no gap.
func TestRevokedMessageEveryOrder(t *testing.T) {
	h := newScHarness(t)
	crafter, _ := bsNode(h, "crafter")
	x := scFakeMember("x", 0)
	mAddr := scFakeMember("M", 9).addr
	grants := []dispersy.Grant{{Member: x.key.Public(), MessageType: bsLinear.ID(), Permission: dispersy.Permit}}
	auth := scCraft(t, crafter.c, dispersy.AuthorizeType, bsMaster, 2, 1, dispersy.Authorize{Grants: grants})
	revoke := scCraft(t, crafter.c, dispersy.RevokeType, bsMaster, 7, 1, dispersy.Revoke{Grants: grants})
	late := scCraft(t, crafter.c, bsLinear, x.key, 14, 0, dt.Text{Text: "late"})
	undo := scCraft(t, crafter.c, dispersy.UndoOwnType, x.key, 16, 1, dispersy.UndoOwn{GlobalTime: 14})
	var want string
	for i, order := range [][]dispersy.Datagram{
		{{Addr: mAddr, Data: auth}, {Addr: x.addr, Data: late}, {Addr: x.addr, Data: undo}, {Addr: mAddr, Data: revoke}},
		{{Addr: mAddr, Data: auth}, {Addr: mAddr, Data: revoke}, {Addr: x.addr, Data: late}, {Addr: x.addr, Data: undo}},
		{{Addr: mAddr, Data: auth}, {Addr: x.addr, Data: late}, {Addr: mAddr, Data: revoke}, {Addr: x.addr, Data: undo}},
	} {
		h := newScHarness(t)
		n, o := bsNode(h, "receiver")
		for _, d := range order {
			n.receiveBatch([]dispersy.Datagram{d})
		}
		got := bsSnapshot(t, n)
		if i == 0 {
			want = got
		} else if got != want {
			t.Errorf("order %d stores\n%s, order 0 stores\n%s", i, got, want)
		}
		if v := o.net[dispersy.MessageKey{Member: x.key.ID(), GlobalTime: 14}]; v != 0 {
			t.Errorf("order %d: handle minus undo = %d, want 0 (calls %v)", i, v, o.calls)
		}
		if d := n.c.Delayed(); d != 0 {
			t.Errorf("order %d: %d messages wait", i, d)
		}
	}
}
