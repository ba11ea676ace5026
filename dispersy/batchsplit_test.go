package dispersy_test

// Batch-independent outcomes (issue #12): receiving a set of packets must
// end in the same state whether they arrive in one batch, one at a time or
// in any split, and no remote packet may stop the engine.

import (
	"fmt"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// bsMaster is the batch-split community's master key.
var bsMaster = keys.DeriveKey(keys.Ed25519, []byte("dispersy-go batch-split community master"))

var bsCID = bsMaster.Public().CommunityID()

// The batch-split community's types: last-2, sequenced full sync and a
// linear (permission) full sync type, all undoable.
var (
	bsLast2 = dispersy.DefineMessage[dt.Text](dispersy.MessageSpec{ID: 1, Name: "last-2",
		Authentication: policy.MemberAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 128, HistorySize: 2},
		Destination:  policy.CommunityDestination{NodeCount: 10}})
	bsSeq = dispersy.DefineMessage[dt.Text](dispersy.MessageSpec{ID: 2, Name: "sequenced",
		Authentication: policy.MemberAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128, SequenceNumbers: true},
		Destination:  policy.CommunityDestination{NodeCount: 10}})
	bsLinear = dispersy.DefineMessage[dt.Text](dispersy.MessageSpec{ID: 3, Name: "linear",
		Authentication: policy.MemberAuthentication{}, Resolution: policy.LinearResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128},
		Destination:  policy.CommunityDestination{NodeCount: 10}})
	bsPruned = dispersy.DefineMessage[dt.Text](dispersy.MessageSpec{ID: 4, Name: "pruned",
		Authentication: policy.MemberAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128,
			Pruning: policy.GlobalTimePruning{Inactive: 10, Pruned: 20}},
		Destination: policy.CommunityDestination{NodeCount: 10}})
	bsTypes = []*dispersy.MessageType[dt.Text]{bsLast2, bsSeq, bsLinear, bsPruned}
)

// bsOverlay counts, per message key, Handle calls minus Undo calls, and
// records every call in order.
type bsOverlay struct {
	net   map[dispersy.MessageKey]int
	calls []string
}

func newBsOverlay() *bsOverlay { return &bsOverlay{net: map[dispersy.MessageKey]int{}} }

func (o *bsOverlay) Define(d *dispersy.Definition) {
	d.Master = bsMaster.Public()
	d.Name = "batch-split"
	for _, t := range bsTypes {
		dispersy.Register(d, t, dispersy.Handlers[dt.Text]{
			Handle: func(_ *dispersy.Context, batch []*dispersy.Message[dt.Text]) {
				for _, m := range batch {
					o.net[m.Key()]++
					o.calls = append(o.calls, fmt.Sprintf("handle %s", m.Payload.Text))
				}
			},
			Undo: func(_ *dispersy.Context, batch []*dispersy.Message[dt.Text]) {
				for _, m := range batch {
					o.net[m.Key()]--
					o.calls = append(o.calls, fmt.Sprintf("undo %s", m.Payload.Text))
				}
			},
		})
	}
}

// bsNode starts a node of the batch-split community in h.
func bsNode(h *scHarness, name string) (*scNode, *bsOverlay) {
	o := newBsOverlay()
	return h.newNode(name, scWithOverlay(o)), o
}

// TestUndoOfEvictedLastSyncInOneBatch is the "most severe" case: a
// member's last-2 messages at global times 13, 15 and 17 and its undo of
// the one at 13, in one batch. The message at 13 is evicted by the one at
// 17 in the same batch; undoing it must not stop the engine, and the
// outcome is the one of receiving the packets one at a time in the batch's
// canonical order (the undo waits for a target that is gone).
func TestUndoOfEvictedLastSyncInOneBatch(t *testing.T) {
	h := newScHarness(t)
	n, o := bsNode(h, "receiver")
	x := scFakeMember("x", 0)
	pkts := scTexts(t, n.c, bsLast2, x.key, "x", 13, 15, 17)
	undo := scCraft(t, n.c, dispersy.UndoOwnType, x.key, 18, 1, dispersy.UndoOwn{GlobalTime: 13})
	n.receive(x.addr, append(pkts, undo)...)
	if err := n.eng.Tick(h.now); err != nil {
		t.Fatalf("engine stopped: %v", err)
	}
	if got := bsTimes(t, n, bsLast2.ID()); fmt.Sprint(got) != "[15 17]" {
		t.Errorf("stored last-2 times %v, want [15 17]", got)
	}
	for k, v := range o.net {
		if v != 0 && v != 1 {
			t.Errorf("message %d: handle minus undo = %d", k.GlobalTime, v)
		}
	}
}

// TestUndoOfPrunedInSameFlush: a delayed undo resumes when its target
// arrives, in the same flush in which a newer message prunes the target.
// The undo must see the target as gone (the prune is in the write batch,
// not yet committed), not plan a write on a deleted message.
func TestUndoOfPrunedInSameFlush(t *testing.T) {
	h := newScHarness(t)
	n, _ := bsNode(h, "receiver")
	x := scFakeMember("x", 0)
	undo := scCraft(t, n.c, dispersy.UndoOwnType, x.key, 30, 1, dispersy.UndoOwn{GlobalTime: 5})
	n.receive(x.addr, undo)
	target := scCraft(t, n.c, bsPruned, x.key, 5, 0, dt.Text{Text: "x@5"})
	newer := scCraft(t, n.c, bsLast2, x.key, 26, 0, dt.Text{Text: "x@26"})
	n.receive(x.addr, target, newer)
	if err := n.eng.Tick(h.now); err != nil {
		t.Fatalf("engine stopped: %v", err)
	}
	if got := bsTimes(t, n, bsPruned.ID()); len(got) != 0 {
		t.Errorf("pruned type stores %v, want nothing", got)
	}
	if got := n.dropped(dispersy.DropStoreConflict); got != 0 {
		t.Errorf("%d stale writes left out, want none (the plan must see the prune)", got)
	}
}

// bsAllTypes are the ids of every synced type of the batch-split community.
var bsAllTypes = []uint8{dispersy.IDAuthorize, dispersy.IDRevoke, dispersy.IDUndoOwn, dispersy.IDUndoOther, 1, 2, 3, 4}

// bsRecords returns every stored message of the batch-split community,
// undone ones included, ascending by (global time, packet).
func bsRecords(tb testing.TB, n *scNode, types ...uint8) []dispersy.Record {
	tb.Helper()
	if len(types) == 0 {
		types = bsAllTypes
	}
	var out []dispersy.Record
	err := n.store.Replay(bsCID, types, func(r *dispersy.Record) bool {
		out = append(out, *r)
		return true
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// bsTimes returns the global times of the stored messages of type id.
func bsTimes(tb testing.TB, n *scNode, id uint8) []uint64 {
	var out []uint64
	for _, r := range bsRecords(tb, n, id) {
		out = append(out, r.GlobalTime)
	}
	return out
}
