package dispersy_test

// Batch-independent outcomes (issue #12): receiving a set of packets must
// end in the same state whether they arrive in one batch, one at a time or
// in any split, and no remote packet may stop the engine.

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
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

var bsSeeds = flag.Int("batchsplit.seeds", 0, "scenarios of TestBatchSplitProperty (0: 500, 100 with -short)")

// bsPacket is one crafted packet of a scenario and its description.
type bsPacket struct {
	from  netip.AddrPort
	data  []byte
	label string
}

// bsScenario crafts a random scenario: 2-4 members and the master, who
// authorizes and revokes the linear type, undoes others' messages and
// (rarely) a member that signs two messages with one sequence number or
// one global time. Every packet is created up front, in global-time order.
func bsScenario(tb testing.TB, c *dispersy.Community, rng *rand.Rand) []bsPacket {
	type member struct {
		name     string
		key      *keys.PrivateKey
		addr     netip.AddrPort
		seqs     map[uint8]uint32
		authed   bool
		delegate bool
		own      []bsOwn // messages an undo may name
	}
	master := &member{name: "M", key: bsMaster, addr: scFakeMember("M", 9).addr, seqs: map[uint8]uint32{}}
	var ms []*member
	for i := range 2 + rng.IntN(3) {
		f := scFakeMember(fmt.Sprintf("m%d", i), i)
		ms = append(ms, &member{name: f.name, key: f.key, addr: f.addr, seqs: map[uint8]uint32{}})
	}
	var out []bsPacket
	gt := uint64(1)
	next := func() uint64 { gt += 1 + uint64(rng.IntN(2)); return gt }
	add := func(m *member, pkt []byte, format string, args ...any) {
		out = append(out, bsPacket{from: m.addr, data: pkt, label: m.name + " " + fmt.Sprintf(format, args...)})
	}
	text := func(m *member, mt *dispersy.MessageType[dt.Text], g uint64, seq uint32, suffix string) {
		t := fmt.Sprintf("%s/%s@%d%s", m.name, mt.Name(), g, suffix)
		add(m, scCraft(tb, c, mt, m.key, g, seq, dt.Text{Text: t}), "%s gt=%d seq=%d %q", mt.Name(), g, seq, t)
		m.own = append(m.own, bsOwn{gt: g, undoable: mt != bsLast2})
	}
	grant := func(m *member, revoke bool) {
		g := next()
		// Permit, sometimes with Authorize (so m may delegate).
		p := dispersy.Permit
		if rng.IntN(2) == 0 {
			p |= dispersy.PermAuthorize
			// Once granted, m keeps delegating: it may not have seen the
			// revoke yet (a late revoke invalidates its authorizes).
			m.delegate = m.delegate || !revoke
		}
		grants := []dispersy.Grant{{Member: m.key.Public(), MessageType: bsLinear.ID(), Permission: p}}
		if revoke {
			master.seqs[dispersy.IDRevoke]++
			s := master.seqs[dispersy.IDRevoke]
			add(master, scCraft(tb, c, dispersy.RevokeType, bsMaster, g, s, dispersy.Revoke{Grants: grants}), "revoke %s gt=%d seq=%d", m.name, g, s)
		} else {
			master.seqs[dispersy.IDAuthorize]++
			s := master.seqs[dispersy.IDAuthorize]
			add(master, scCraft(tb, c, dispersy.AuthorizeType, bsMaster, g, s, dispersy.Authorize{Grants: grants}), "authorize %s gt=%d seq=%d", m.name, g, s)
		}
		m.authed = !revoke
	}
	steps := 6 + rng.IntN(10)
	for range steps {
		m := ms[rng.IntN(len(ms))]
		switch r := rng.IntN(100); {
		case r < 22:
			text(m, bsLast2, next(), 0, "")
		case r < 42:
			m.seqs[bsSeq.ID()]++
			text(m, bsSeq, next(), m.seqs[bsSeq.ID()], "")
		case r < 55:
			if !m.authed {
				grant(m, false)
			}
			text(m, bsLinear, next(), 0, "")
		case r < 66:
			if other := ms[rng.IntN(len(ms))]; m.delegate && other != m && r >= 59 {
				// A member with the authorize permission delegates: a
				// later revoke of it invalidates this authorize.
				g := next()
				m.seqs[dispersy.IDAuthorize]++
				s := m.seqs[dispersy.IDAuthorize]
				grants := []dispersy.Grant{{Member: other.key.Public(), MessageType: bsLinear.ID(), Permission: dispersy.Permit}}
				add(m, scCraft(tb, c, dispersy.AuthorizeType, m.key, g, s, dispersy.Authorize{Grants: grants}), "authorize %s gt=%d seq=%d", other.name, g, s)
				other.authed = true
				continue
			}
			grant(m, m.authed)
		case r < 78:
			if len(m.own) == 0 {
				continue
			}
			target := m.own[rng.IntN(len(m.own))].gt
			g := next()
			m.seqs[dispersy.IDUndoOwn]++
			s := m.seqs[dispersy.IDUndoOwn]
			add(m, scCraft(tb, c, dispersy.UndoOwnType, m.key, g, s, dispersy.UndoOwn{GlobalTime: target}), "undo-own of %d gt=%d seq=%d", target, g, s)
		case r < 88:
			// Undo-other names undoable targets only: when the target's
			// author is excluded before the undo arrives, its type is
			// unknown (docs/compatibility.md).
			own := slices.DeleteFunc(slices.Clone(m.own), func(o bsOwn) bool { return !o.undoable })
			if len(own) == 0 {
				continue
			}
			target := own[rng.IntN(len(own))].gt
			g := next()
			master.seqs[dispersy.IDUndoOther]++
			s := master.seqs[dispersy.IDUndoOther]
			add(master, scCraft(tb, c, dispersy.UndoOtherType, bsMaster, g, s, dispersy.UndoOther{Member: m.key.Public(), GlobalTime: target}),
				"undo-other of %s@%d gt=%d seq=%d", m.name, target, g, s)
		case r < 94:
			// Same sequence number, another message.
			if m.seqs[bsSeq.ID()] == 0 {
				continue
			}
			text(m, bsSeq, next(), 1+uint32(rng.IntN(int(m.seqs[bsSeq.ID()]))), " (again)")
		default:
			// Same global time, another last-2 message. (Not at the time
			// of a message of another type: see docs/compatibility.md.)
			var gts []uint64
			for _, p := range out {
				if p.from == m.addr && strings.Contains(p.label, " last-2 ") {
					var g uint64
					fmt.Sscanf(p.label[strings.Index(p.label, "gt=")+3:], "%d", &g)
					gts = append(gts, g)
				}
			}
			if len(gts) == 0 {
				continue
			}
			text(m, bsLast2, gts[rng.IntN(len(gts))], 0, " (again)")
		}
	}
	return out
}

type bsOwn struct {
	gt       uint64
	undoable bool
}

// bsState is what a delivery is compared by: the stored messages (key,
// packet hash, undone state), the excluded members, and the handler count
// (Handle minus Undo calls) of every message still stored.
func bsState(tb testing.TB, n *scNode, o *bsOverlay, pkts []bsPacket) string {
	var b strings.Builder
	live := map[dispersy.MessageKey]bool{}
	for _, r := range bsRecords(tb, n) {
		if r.MessageID < 128 && r.Undone && r.UndoneBy == (dispersy.MessageKey{}) {
			// Undone by a permission change: it exists only on the peers
			// that stored it before the change, which count as not holding
			// it (docs/compatibility.md); its handler count nets to 0.
			continue
		}
		fmt.Fprintf(&b, "stored %d %s@%d %x", r.MessageID, r.Member.String()[:6], r.GlobalTime, r.Hash[:4])
		if r.Undone {
			fmt.Fprintf(&b, " undone-by %s@%d", r.UndoneBy.Member.String()[:6], r.UndoneBy.GlobalTime)
		}
		b.WriteString("\n")
		if r.MessageID < 128 {
			live[r.Key()] = !r.Undone
		}
	}
	var names []string
	for _, p := range pkts {
		if name := strings.Fields(p.label)[0]; name != "M" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if n.c.Excluded(scKey(name).ID()) {
			fmt.Fprintf(&b, "excluded %s\n", name)
		}
	}
	var ks []dispersy.MessageKey
	for k := range o.net {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, bsCmpKey)
	for _, k := range ks {
		v := o.net[k]
		if v != 0 && v != 1 {
			fmt.Fprintf(&b, "handler count %s@%d = %d\n", k.Member.String()[:6], k.GlobalTime, v)
			continue
		}
		if l, ok := live[k]; ok && (v == 1) != l {
			fmt.Fprintf(&b, "handler count %s@%d = %d, live %v\n", k.Member.String()[:6], k.GlobalTime, v, l)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(live), bsCmpKey) {
		if live[k] && o.net[k] != 1 {
			fmt.Fprintf(&b, "stored live %s@%d never handled\n", k.Member.String()[:6], k.GlobalTime)
		}
	}
	if s := n.dropped(dispersy.DropStoreConflict); s != 0 {
		fmt.Fprintf(&b, "store conflicts %d\n", s)
	}
	return b.String()
}

func bsCmpKey(x, y dispersy.MessageKey) int {
	return cmp.Or(bytes.Compare(x.Member[:], y.Member[:]), cmp.Compare(x.GlobalTime, y.GlobalTime))
}

// bsDeliver feeds pkts to a fresh node in the given split (sizes of
// consecutive batches) and returns its state.
func bsDeliver(tb testing.TB, pkts []bsPacket, split []int) string {
	h := newScHarness(tb)
	n, o := bsNode(h, "receiver")
	i := 0
	for _, size := range split {
		ds := make([]dispersy.Datagram, 0, size)
		for _, p := range pkts[i : i+size] {
			ds = append(ds, dispersy.Datagram{Addr: p.from, Data: p.data})
		}
		i += size
		if err := n.eng.ReceiveBatch(h.now, ds); err != nil {
			return "engine stopped: " + err.Error()
		}
		n.discard()
	}
	return bsState(tb, n, o, pkts)
}

// bsDivergence delivers pkts as one batch, then in shuffled orders one at a
// time and in random splits; it returns a description of the first
// delivery whose state differs from the one batch's, or "".
func bsDivergence(tb testing.TB, pkts []bsPacket, seed uint64) string {
	want := bsDeliver(tb, pkts, []int{len(pkts)})
	rng := rand.New(rand.NewPCG(seed, 99))
	for try := range 6 {
		order := slices.Clone(pkts)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var split []int
		for left := len(order); left > 0; {
			k := 1
			if try%2 == 1 {
				k = 1 + rng.IntN(left)
			}
			split = append(split, k)
			left -= k
		}
		if got := bsDeliver(tb, order, split); got != want {
			var b strings.Builder
			fmt.Fprintf(&b, "one batch:\n%s\nsplit %v of the order:\n", want, split)
			for _, p := range order {
				fmt.Fprintf(&b, "  %s\n", p.label)
			}
			fmt.Fprintf(&b, "gives:\n%s", got)
			return b.String()
		}
	}
	return ""
}

// TestBatchSplitProperty: for random scenarios, one batch, one datagram at
// a time in any order, and random splits all end in the same state. A
// failing scenario is minimized (packets removed while it still fails) and
// printed.
func TestBatchSplitProperty(t *testing.T) {
	seeds := *bsSeeds
	if seeds == 0 {
		seeds = 500
		if testing.Short() {
			seeds = 100
		}
	}
	h := newScHarness(t)
	crafter, _ := bsNode(h, "crafter")
	for seed := range uint64(seeds) {
		pkts := bsScenario(t, crafter.c, rand.New(rand.NewPCG(seed, 1)))
		if bsDivergence(t, pkts, seed) == "" {
			continue
		}
		// Minimize: drop packets while some delivery still diverges.
		for i := len(pkts) - 1; i >= 0; i-- {
			fewer := slices.Delete(slices.Clone(pkts), i, i+1)
			if bsDivergence(t, fewer, seed) != "" {
				pkts = fewer
			}
		}
		var b strings.Builder
		for _, p := range pkts {
			fmt.Fprintf(&b, "  %s\n", p.label)
		}
		t.Fatalf("seed %d: the outcome depends on batching; minimal scenario:\n%s%s", seed, b.String(), bsDivergence(t, pkts, seed))
	}
}

// bsStaleStore deletes one message behind the engine's back just before
// the next commit: the engine planned a write on a message the store no
// longer has.
type bsStaleStore struct {
	*dt.MemStore
	drop *dispersy.MessageKey
}

func (s *bsStaleStore) Apply(b *dispersy.Batch) error {
	if s.drop != nil {
		var del dispersy.Batch
		del.Delete(bsCID, *s.drop)
		s.drop = nil
		if err := s.MemStore.Apply(&del); err != nil {
			return err
		}
	}
	return s.MemStore.Apply(b)
}

// TestStaleWriteIsAVerdict: a SetUndone that names a message the store no
// longer has is left out of the commit and counted (DropStoreConflict);
// the rest of the batch is committed and the engine runs on.
func TestStaleWriteIsAVerdict(t *testing.T) {
	store := &bsStaleStore{MemStore: dt.NewMemStore()}
	cfg := dispersy.DefaultConfig()
	cfg.LocalAddr = scAddr(0)
	cfg.Rand = rand.New(rand.NewPCG(1, 1))
	e, err := dispersy.NewEngine(cfg, scKey("receiver"), store)
	if err != nil {
		t.Fatal(err)
	}
	e.SetTime(scEpoch)
	c, err := e.Join(newBsOverlay())
	if err != nil {
		t.Fatal(err)
	}
	x := scFakeMember("x", 0)
	target := scCraft(t, c, bsSeq, x.key, 5, 1, dt.Text{Text: "target"})
	if err := e.Receive(scEpoch, x.addr, target); err != nil {
		t.Fatal(err)
	}
	store.drop = &dispersy.MessageKey{Member: x.key.ID(), GlobalTime: 5}
	undo := scCraft(t, c, dispersy.UndoOwnType, x.key, 7, 1, dispersy.UndoOwn{GlobalTime: 5})
	if err := e.Receive(scEpoch, x.addr, undo); err != nil {
		t.Fatalf("engine stopped: %v", err)
	}
	if got := e.Stats().DroppedBy(dispersy.DropStoreConflict); got != 1 {
		t.Errorf("store-conflict drops %d, want 1", got)
	}
	if ok, err := store.Has(bsCID, dispersy.MessageKey{Member: x.key.ID(), GlobalTime: 7}); err != nil || !ok {
		t.Errorf("the undo was not committed (%v, %v)", ok, err)
	}
}
