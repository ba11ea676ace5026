package dispersy_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// pnet is a manual-delivery harness for the permission scenarios: engines on
// MemStores, a clock advanced by hand, and packets handed over explicitly,
// like Dispersy's DebugNode tests.
type pnet struct {
	t     *testing.T
	now   time.Time
	nodes []*pnode
}

type pnode struct {
	n     *pnet
	name  string
	addr  netip.AddrPort
	key   *keys.PrivateKey
	store *dt.MemStore
	e     *dispersy.Engine
	c     *dispersy.Community
	dc    *dt.DebugCommunity
	// inbox holds what others sent it, by sender, until delivered.
	outbox []dispersy.Datagram
}

var master = dt.DebugMaster

func newPnet(t *testing.T, names ...string) *pnet {
	t.Helper()
	n := &pnet{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i, name := range names {
		key := keys.DeriveKey(keys.Ed25519, []byte("pnode-"+name))
		if name == "MM" {
			key = master
		}
		cfg := dispersy.DefaultConfig()
		cfg.BloomSync = false
		cfg.AmplificationFactor = 0 // packets come from addresses that never answered a request
		cfg.LocalAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}), 6000)
		p := &pnode{n: n, name: name, addr: cfg.LocalAddr, key: key, store: dt.NewMemStore(), dc: dt.NewDebugCommunity()}
		e, err := dispersy.NewEngine(cfg, key, p.store)
		if err != nil {
			t.Fatal(err)
		}
		e.SetTime(n.now)
		c, err := e.Join(p.dc)
		if err != nil {
			t.Fatal(err)
		}
		p.e, p.c = e, c
		p.collect()
		p.outbox = nil // identities and the like
		n.nodes = append(n.nodes, p)
	}
	return n
}

func (n *pnet) node(name string) *pnode {
	for _, p := range n.nodes {
		if p.name == name {
			return p
		}
	}
	n.t.Fatalf("no node %q", name)
	return nil
}

// advance moves the clock and ticks every engine.
func (n *pnet) advance(d time.Duration) {
	n.now = n.now.Add(d)
	for _, p := range n.nodes {
		if err := p.e.Tick(n.now); err != nil {
			n.t.Fatal(err)
		}
		p.collect()
	}
}

func (p *pnode) collect() { p.outbox = append(p.outbox, p.e.Ready()...) }

// sent removes and returns p's outgoing packets to `to` of message id (0:
// any id).
func (p *pnode) sent(to *pnode, id uint8) [][]byte {
	var out [][]byte
	keep := p.outbox[:0]
	for _, d := range p.outbox {
		if d.Addr == to.addr && (id == 0 || d.Data[22] == id) {
			out = append(out, d.Data)
			continue
		}
		keep = append(keep, d)
	}
	p.outbox = keep
	return out
}

// give hands packets from `from` to p, in one batch.
func (p *pnode) give(from *pnode, pkts ...[]byte) {
	p.n.t.Helper()
	var ds []dispersy.Datagram
	for _, b := range pkts {
		ds = append(ds, dispersy.Datagram{Addr: from.addr, Data: b})
	}
	if err := p.e.ReceiveBatch(p.n.now, ds); err != nil {
		p.n.t.Fatal(err)
	}
	p.collect()
}

// exchange delivers everything p sent to q (of id; 0: any), and returns it.
func (p *pnode) deliver(q *pnode, id uint8) [][]byte {
	pk := p.sent(q, id)
	if len(pk) > 0 {
		q.give(p, pk...)
	}
	return pk
}

// do runs f at the harness time and collects output.
func (p *pnode) do(f func() error) {
	p.n.t.Helper()
	p.e.SetTime(p.n.now)
	if err := f(); err != nil {
		p.n.t.Fatal(err)
	}
	p.collect()
}

// create makes a debug message at global time gt (0: the next one).
func (p *pnode) create(t *dispersy.MessageType[dt.Text], text string, gt uint64, opts ...dispersy.CreateOption) *dispersy.Message[dt.Text] {
	p.n.t.Helper()
	var m *dispersy.Message[dt.Text]
	p.do(func() error {
		if gt > 0 {
			p.c.RaiseGlobalTime(gt - 1)
		}
		var err error
		m, err = dispersy.Create(p.c, t, dt.Text{Text: text}, opts...)
		return err
	})
	if gt > 0 && m.GlobalTime != gt {
		p.n.t.Fatalf("%s created %q at gt %d, want %d", p.name, text, m.GlobalTime, gt)
	}
	return m
}

// stored reports whether p stores the message key, and whether it is undone.
func (p *pnode) stored(key dispersy.MessageKey) (ok, undone bool) {
	r, ok, err := p.store.Get(p.c.ID(), key)
	if err != nil {
		p.n.t.Fatal(err)
	}
	return ok, r.Undone
}

func (p *pnode) count(t *dispersy.MessageType[dt.Text]) int {
	n, err := p.store.Count(p.c.ID(), []uint8{t.ID()})
	if err != nil {
		p.n.t.Fatal(err)
	}
	return n
}

func (p *pnode) dropped(r dispersy.DropReason) uint64 {
	s := p.e.Stats()
	return s.DroppedBy(r)
}

// grant has the master sign an authorize of permission perm on types to
// member, created on p (which holds or borrows the master key).
func (p *pnode) grant(to *pnode, perm dispersy.Permission, ts ...dispersy.AnyMessageType) *dispersy.Message[dispersy.Authorize] {
	p.n.t.Helper()
	var m *dispersy.Message[dispersy.Authorize]
	p.do(func() (err error) {
		m, err = p.c.Authorize(dispersy.Grants(to.key.Public(), perm, ts...), dispersy.WithSigner(master))
		return err
	})
	return m
}

// test_timeline delay_by_proof: a Linear message from a member whose
// authorize B has not seen waits; B asks its sender for the proof
// (missing-proof), and stores the message once the authorize arrives.
func TestTimelineDelayByProof(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	auth := a.grant(a, dispersy.Permit|dispersy.PermAuthorize, dt.ProtectedText)
	msg := a.create(dt.ProtectedText, "protected", 42)

	b.give(a, msg.Packet)
	if ok, _ := b.stored(msg.Key()); ok {
		t.Fatal("B stored a Linear message without the proof")
	}
	reqs := b.sent(a, dispersy.IDMissingProof)
	if len(reqs) != 1 {
		t.Fatalf("B sent %d missing-proof requests, want 1", len(reqs))
	}
	a.give(b, reqs...)
	proofs := a.sent(b, dispersy.IDAuthorize)
	if len(proofs) != 1 || string(proofs[0]) != string(auth.Packet) {
		t.Fatalf("A answered the missing-proof with %d authorize packets, want its one authorize", len(proofs))
	}
	b.give(a, proofs...)
	if ok, undone := b.stored(msg.Key()); !ok || undone {
		t.Fatalf("after the proof B stores the message: %v (undone %v), want stored and live", ok, undone)
	}
	if got := b.dc.Handled[dt.ProtectedText.ID()]; !slices.Equal(got, []string{"protected"}) {
		t.Fatalf("B handled %q", got)
	}
}

// test_timeline missing_authorize_proof: a missing-proof for the authorize
// itself (signed by the master) is answered with that authorize, whose chain
// ends at the master.
func TestTimelineMissingAuthorizeProof(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	auth := a.grant(a, dispersy.Permit, dt.ProtectedText)
	var req []byte
	b.do(func() error {
		p, err := dispersy.MissingProofType.EncodePayload(dispersy.MissingProof{Member: master.ID(), GlobalTime: auth.GlobalTime})
		if err != nil {
			return err
		}
		req = craftUnsigned(t, b, dispersy.IDMissingProof, p)
		return nil
	})
	a.give(b, req)
	got := a.sent(b, dispersy.IDAuthorize)
	if len(got) != 1 || string(got[0]) != string(auth.Packet) {
		t.Fatalf("got %d packets, want the authorize", len(got))
	}
}

// A chain master → A (authorize) → C (permit): a missing-proof for C's
// message returns both links.
func TestTimelineProofChain(t *testing.T) {
	n := newPnet(t, "A", "B", "C")
	a, b, c := n.node("A"), n.node("B"), n.node("C")
	a1 := a.grant(a, dispersy.Permit|dispersy.PermAuthorize, dt.ProtectedText)
	var a2 *dispersy.Message[dispersy.Authorize]
	a.do(func() (err error) {
		a2, err = a.c.Authorize(dispersy.Grants(c.key.Public(), dispersy.Permit, dt.ProtectedText))
		return err
	})
	c.give(a, a1.Packet, a2.Packet)
	msg := c.create(dt.ProtectedText, "from C", 0)
	if ok, _ := c.stored(msg.Key()); !ok {
		t.Fatal("C could not store its own message")
	}
	b.give(c, msg.Packet)
	reqs := b.sent(c, dispersy.IDMissingProof)
	if len(reqs) != 1 {
		t.Fatalf("%d missing-proof requests", len(reqs))
	}
	c.give(b, reqs...)
	proofs := c.sent(b, dispersy.IDAuthorize)
	if len(proofs) != 2 {
		t.Fatalf("C answered with %d authorizes, want the chain of 2", len(proofs))
	}
	b.give(c, proofs...)
	if ok, _ := b.stored(msg.Key()); !ok {
		t.Fatal("B did not store C's message after the chain")
	}
}

// craftUnsigned builds a packet of an unsigned built-in type with payload p,
// as p's node would send it (the frame of the newest conversion).
func craftUnsigned(t *testing.T, p *pnode, id uint8, payload []byte) []byte {
	t.Helper()
	conv, format, ok := p.c.Codec().EncodingFor(id)
	if !ok {
		t.Fatalf("no encoding for %d", id)
	}
	f := &dispersyFrame{version: conv.Version(), format: format.ID, gt: p.c.GlobalTime(), payload: payload}
	return f.encode(p.c.ID())
}

// dispersyFrame encodes an unsigned direct frame: the header, the global
// time and the payload (NoAuthentication, no resolution or sequence).
type dispersyFrame struct {
	version, format uint8
	gt              uint64
	payload         []byte
}

func (f *dispersyFrame) encode(cid keys.CommunityID) []byte {
	b := []byte{0x01, f.version}
	b = append(b, cid[:]...)
	b = append(b, f.format)
	for i := 7; i >= 0; i-- {
		b = append(b, byte(f.gt>>(8*i)))
	}
	return append(b, f.payload...)
}

// test_undo self_undo_own: 10 messages, then 10 undo-own: all undone, the
// undos stored, the Undo handler called for each.
func TestUndoOwn(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	var msgs []*dispersy.Message[dt.Text]
	for i := range 10 {
		msgs = append(msgs, a.create(dt.FullSyncText, fmt.Sprint("m", i), 0))
	}
	var undos [][]byte
	for _, m := range msgs {
		a.do(func() error {
			u, err := a.c.UndoMessage(m.Key())
			undos = append(undos, u)
			return err
		})
	}
	for _, m := range msgs {
		if ok, undone := a.stored(m.Key()); !ok || !undone {
			t.Fatalf("A: %v stored %v undone %v", m.Key(), ok, undone)
		}
	}
	if len(a.dc.Undone[dt.FullSyncText.ID()]) != 10 {
		t.Fatalf("A's Undo handler saw %d messages, want 10", len(a.dc.Undone[dt.FullSyncText.ID()]))
	}
	// B gets everything: the messages, then the undos.
	for _, m := range msgs {
		b.give(a, m.Packet)
	}
	b.give(a, undos...)
	for _, m := range msgs {
		if ok, undone := b.stored(m.Key()); !ok || !undone {
			t.Fatalf("B: %v stored %v undone %v", m.Key(), ok, undone)
		}
	}
	if got := b.count(dt.FullSyncText); got != 0 {
		t.Fatalf("B counts %d live messages, want 0", got)
	}
	if len(b.dc.Undone[dt.FullSyncText.ID()]) != 10 {
		t.Fatalf("B's Undo handler saw %d", len(b.dc.Undone[dt.FullSyncText.ID()]))
	}
	// self_attempt_undo_twice: a second undo returns the same packet.
	a.do(func() error {
		u, err := a.c.UndoMessage(msgs[0].Key())
		if string(u) != string(undos[0]) {
			t.Error("undoing twice made a new undo")
		}
		return err
	})
}

// test_undo node_undo_other: the master grants A undo on full-sync-text; B
// creates 10 messages and A undoes them with undo-other.
func TestUndoOther(t *testing.T) {
	n := newPnet(t, "A", "B", "C")
	a, b, c := n.node("A"), n.node("B"), n.node("C")
	g := a.grant(a, dispersy.PermUndo, dt.FullSyncText)
	var msgs []*dispersy.Message[dt.Text]
	for i := range 10 {
		m := b.create(dt.FullSyncText, fmt.Sprint("b", i), 0)
		msgs = append(msgs, m)
		a.give(b, m.Packet)
	}
	var undos [][]byte
	for _, m := range msgs {
		a.do(func() error {
			u, err := a.c.UndoMessage(m.Key())
			undos = append(undos, u)
			return err
		})
	}
	// C learns the grant, the messages and the undos (in a worst order:
	// undos first: they wait for their targets and the proof).
	c.give(a, undos...)
	for _, m := range msgs {
		if ok, _ := c.stored(m.Key()); ok {
			t.Fatal("C stored a target it was never sent")
		}
	}
	c.give(a, g.Packet)
	for _, m := range msgs {
		c.give(b, m.Packet)
	}
	for _, m := range msgs {
		if ok, undone := c.stored(m.Key()); !ok || !undone {
			t.Fatalf("C: %v stored %v undone %v", m.Key(), ok, undone)
		}
	}
	// Without the permission, undo-other is refused at creation.
	c.do(func() error {
		k := b.create(dt.FullSyncText, "b-extra", 0)
		c.give(b, k.Packet)
		if _, err := c.c.UndoMessage(k.Key()); err == nil {
			t.Error("C undid another member's message without the undo permission")
		}
		return nil
	})
}

// test_undo node_resolve_undo_twice: two undo-own of one message; B ends
// with both stored, the binary-lower one live and the other undone by it,
// and sends the lower one back to a sender of the higher one.
func TestUndoResolveTwice(t *testing.T) {
	n := newPnet(t, "A", "B", "C")
	a, b, c := n.node("A"), n.node("B"), n.node("C")
	m := a.create(dt.FullSyncText, "target", 10)
	u1 := mustPacket(t, a, func() (*dispersy.Message[dispersy.UndoOwn], error) {
		return dispersy.Create(a.c, dispersy.UndoOwnType, dispersy.UndoOwn{GlobalTime: m.GlobalTime})
	})
	// A creates a second undo-own of the same message directly (the API's
	// UndoMessage would return the first): @12 #2.
	u2 := mustPacket(t, a, func() (*dispersy.Message[dispersy.UndoOwn], error) {
		return dispersy.Create(a.c, dispersy.UndoOwnType, dispersy.UndoOwn{GlobalTime: m.GlobalTime})
	})
	if u1.Sequence != 1 || u2.Sequence != 2 {
		t.Fatalf("undo sequence numbers %d, %d", u1.Sequence, u2.Sequence)
	}
	lower, higher := u1, u2
	if string(u2.Packet) < string(u1.Packet) {
		lower, higher = u2, u1
	}
	for _, order := range [][]*dispersy.Message[dispersy.UndoOwn]{{lower, higher}, {higher, lower}} {
		nn := newPnet(t, "X")
		x := nn.node("X")
		x.give(a, m.Packet)
		x.give(c, order[0].Packet)
		x.give(c, order[1].Packet)
		// Sequence numbers make #1 take effect first whatever the arrival
		// order (#2 waits for #1), so the second undo always loses and X
		// sends the winner back to its sender.
		if got := x.sent(c, dispersy.IDUndoOwn); len(got) != 1 || string(got[0]) != string(lower.Packet) {
			t.Fatalf("X sent %d undos back, want the lower one", len(got))
		}
		if _, undone := x.stored(m.Key()); !undone {
			t.Fatal("target not undone")
		}
		r, _, _ := x.store.Get(x.c.ID(), m.Key())
		if r.UndoneBy != lower.Key() {
			t.Fatalf("target undone by %v, want the lower undo %v", r.UndoneBy, lower.Key())
		}
		if _, undone := x.stored(lower.Key()); undone {
			t.Fatal("the lower undo is undone")
		}
		hr, ok, _ := x.store.Get(x.c.ID(), higher.Key())
		if !ok || !hr.Undone || hr.UndoneBy != lower.Key() {
			t.Fatalf("the higher undo: stored %v undone %v by %v", ok, hr.Undone, hr.UndoneBy)
		}
	}
	_ = b
}

// newPnetSigner returns a second engine that signs with p's key (a
// restarted p without its store).
func newPnetSigner(t *testing.T, p *pnode) *pnode {
	t.Helper()
	cfg := dispersy.DefaultConfig()
	cfg.BloomSync = false
	cfg.AmplificationFactor = 0
	q := &pnode{n: p.n, name: p.name + "'", addr: netip.MustParseAddrPort("10.9.9.9:1"), key: p.key, store: dt.NewMemStore(), dc: dt.NewDebugCommunity()}
	e, err := dispersy.NewEngine(cfg, p.key, q.store)
	if err != nil {
		t.Fatal(err)
	}
	e.SetTime(p.n.now)
	if q.c, err = e.Join(q.dc); err != nil {
		t.Fatal(err)
	}
	q.e = e
	return q
}

func mustPacket[T any](t *testing.T, p *pnode, f func() (*dispersy.Message[T], error)) *dispersy.Message[T] {
	t.Helper()
	var m *dispersy.Message[T]
	p.do(func() (err error) { m, err = f(); return err })
	return m
}

// test_undo missing_message: undos for messages B does not have make B ask
// for them (missing-message); after delivery they are stored and undone.
func TestUndoMissingMessage(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	var msgs []*dispersy.Message[dt.Text]
	var undos [][]byte
	for i := range 10 {
		msgs = append(msgs, a.create(dt.FullSyncText, fmt.Sprint("m", i), 0))
	}
	for _, m := range msgs {
		a.do(func() error { u, err := a.c.UndoMessage(m.Key()); undos = append(undos, u); return err })
	}
	b.give(a, undos...)
	reqs := b.sent(a, dispersy.IDMissingMessage)
	var asked []uint64
	for _, r := range reqs {
		p, err := dispersy.MissingMessageType.DecodePayload(r[31:])
		if err != nil {
			t.Fatal(err)
		}
		asked = append(asked, p.GlobalTimes...)
	}
	var want []uint64
	for _, m := range msgs {
		want = append(want, m.GlobalTime)
	}
	if !slices.Equal(asked, want) {
		t.Fatalf("B's %d missing-message requests ask for %v, want %v", len(reqs), asked, want)
	}
	a.give(b, reqs...)
	answers := a.sent(b, dt.FullSyncText.ID())
	if len(answers) != 10 {
		t.Fatalf("A answered %d messages, want 10", len(answers))
	}
	b.give(a, answers...)
	for _, m := range msgs {
		if ok, undone := b.stored(m.Key()); !ok || !undone {
			t.Fatalf("B: %v stored %v undone %v", m.Key(), ok, undone)
		}
	}
}

// test_undo revoke_causing_undo, with this implementation's rule (Dispersy
// redid the message regardless of global times; see docs/compatibility.md):
// an undo-other counts if its author held the undo permission at the
// undo's global time. A revoke after the undo leaves it in force; a revoke
// before it (arriving later) cancels it, and the message is live again.
func TestRevokeCausingRedo(t *testing.T) {
	setup := func(t *testing.T, revokeAt, undoAt uint64) (n *pnet, mm, a, b *pnode, m *dispersy.Message[dt.Text], undo, revoke []byte) {
		n = newPnet(t, "MM", "A", "B")
		mm, a, b = n.node("MM"), n.node("A"), n.node("B")
		mm.c.RaiseGlobalTime(9)
		g := mustPacket(t, mm, func() (*dispersy.Message[dispersy.Authorize], error) {
			return mm.c.Authorize(dispersy.Grants(a.key.Public(), dispersy.PermUndo, dt.FullSyncText))
		})
		mm.c.RaiseGlobalTime(revokeAt - 1)
		r := mustPacket(t, mm, func() (*dispersy.Message[dispersy.Revoke], error) {
			return mm.c.Revoke(dispersy.Grants(a.key.Public(), dispersy.PermUndo, dt.FullSyncText))
		})
		if r.GlobalTime != revokeAt {
			t.Fatalf("revoke at %d", r.GlobalTime)
		}
		m = b.create(dt.FullSyncText, "b", 42)
		a.give(mm, g.Packet)
		a.give(b, m.Packet)
		a.c.RaiseGlobalTime(undoAt - 1)
		a.do(func() (err error) { undo, err = a.c.UndoMessage(m.Key()); return err })
		b.give(mm, g.Packet)
		b.give(a, undo)
		if _, undone := b.stored(m.Key()); !undone {
			t.Fatal("not undone before the revoke")
		}
		return n, mm, a, b, m, undo, r.Packet
	}
	t.Run("revoke after the undo", func(t *testing.T) {
		_, mm, _, b, m, _, revoke := setup(t, 100, 60)
		b.give(mm, revoke)
		if _, undone := b.stored(m.Key()); !undone {
			t.Fatal("a revoke after the undo redid the message")
		}
	})
	t.Run("revoke before the undo", func(t *testing.T) {
		_, mm, _, b, m, _, revoke := setup(t, 50, 60)
		b.give(mm, revoke)
		if _, undone := b.stored(m.Key()); undone {
			t.Fatal("the message is still undone after its undo's permission was revoked")
		}
		if got := b.dc.Handled[dt.FullSyncText.ID()]; len(got) != 2 {
			t.Fatalf("B's Handle saw %q, want the message twice (created, redone)", got)
		}
	})
}

// test_dynamicsettings: default Public; switching to Linear @42 applies from
// 43; a Public-period message is accepted, a Linear-period one without
// permit is not; switching back redoes/undoes stored messages.
func TestDynamicSettings(t *testing.T) {
	n := newPnet(t, "MM", "A", "B")
	mm, a, b := n.node("MM"), n.node("A"), n.node("B")
	m10 := a.create(dt.DynamicText, "public@10", 10)
	b.give(a, m10.Packet)
	if ok, _ := b.stored(m10.Key()); !ok {
		t.Fatal("default Public message not stored")
	}
	var lin *dispersy.Message[dispersy.DynamicSettings]
	mm.do(func() (err error) {
		mm.c.RaiseGlobalTime(41)
		lin, err = mm.c.SetResolution(dt.DynamicText, 1)
		return err
	})
	if lin.GlobalTime != 42 {
		t.Fatalf("settings at %d", lin.GlobalTime)
	}
	b.give(mm, lin.Packet)
	a2 := newPnetSigner(t, a)
	a2.c.RaiseGlobalTime(41)
	m42 := mustPacket(t, a2, func() (*dispersy.Message[dt.Text], error) {
		return dispersy.Create(a2.c, dt.DynamicText, dt.Text{Text: "public@42"})
	})
	if m42.GlobalTime != 42 {
		t.Fatalf("m42 at %d", m42.GlobalTime)
	}
	b.give(a, m42.Packet)
	if ok, _ := b.stored(m42.Key()); !ok {
		t.Fatal("a message at the settings' own global time must still be Public")
	}
	m43 := mustPacket(t, a2, func() (*dispersy.Message[dt.Text], error) {
		return dispersy.Create(a2.c, dt.DynamicText, dt.Text{Text: "public@43"})
	})
	b.give(a, m43.Packet)
	if ok, _ := b.stored(m43.Key()); ok {
		t.Fatal("a message in the Linear period was stored without permit")
	}
	// B asked A for the proof (and sent its settings back, since A's view
	// of the policy may lag).
	if len(b.sent(a, dispersy.IDMissingProof)) == 0 {
		t.Fatal("no missing-proof for the Linear-period message")
	}
	if got := b.sent(a, dispersy.IDDynamicSettings); len(got) != 1 {
		t.Fatalf("B sent %d dynamic-settings proofs back, want 1", len(got))
	}

	// change_resolution_undo: settings Linear@11 (held back) makes B's stored
	// Public message @25 undone; Public@21 redoes it.
	n2 := newPnet(t, "MM", "A", "B")
	mm, a, b = n2.node("MM"), n2.node("A"), n2.node("B")
	var l11, p21 *dispersy.Message[dispersy.DynamicSettings]
	mm.do(func() (err error) {
		mm.c.RaiseGlobalTime(10)
		if l11, err = mm.c.SetResolution(dt.DynamicText, 1); err != nil {
			return err
		}
		mm.c.RaiseGlobalTime(20)
		p21, err = mm.c.SetResolution(dt.DynamicText, 0)
		return err
	})
	m25 := a.create(dt.DynamicText, "public@25", 25)
	b.give(a, m25.Packet)
	if ok, undone := b.stored(m25.Key()); !ok || undone {
		t.Fatal("m25 not stored live")
	}
	b.give(mm, l11.Packet)
	if _, undone := b.stored(m25.Key()); !undone {
		t.Fatal("Linear@11 did not undo the Public message @25")
	}
	b.give(mm, p21.Packet)
	if _, undone := b.stored(m25.Key()); undone {
		t.Fatal("Public@21 did not redo the message @25")
	}
	if got := b.dc.Undone[dt.DynamicText.ID()]; len(got) != 1 {
		t.Fatalf("Undo handler saw %q", got)
	}
}

// test_destroycommunity hard_kill: a destroy by the master deletes
// everything else and the community accepts nothing more; a destroy by a
// member without permission is ignored.
func TestDestroyCommunity(t *testing.T) {
	n := newPnet(t, "MM", "A", "B")
	mm, a, b := n.node("MM"), n.node("A"), n.node("B")
	m := a.create(dt.FullSyncText, "before", 42)
	b.give(a, m.Packet)
	if b.count(dt.FullSyncText) != 1 {
		t.Fatal("message not stored")
	}
	// hard_kill_without_permission: A's own destroy is refused at creation,
	// and a forged one (A's key, no permission) waits for a proof forever.
	if err := a.c.Destroy(); err == nil {
		t.Fatal("A destroyed the community without permission")
	}
	var destroy []byte
	mm.do(func() error {
		if err := mm.c.Destroy(); err != nil {
			return err
		}
		for _, d := range mm.outbox {
			if d.Data[22] == dispersy.IDDestroyCommunity {
				destroy = d.Data
			}
		}
		return nil
	})
	if destroy == nil {
		// No verified candidates: take it from the store.
		var ok bool
		mm.store.Range(dispersy.RangeQuery{Community: mm.c.ID(), MessageID: dispersy.IDDestroyCommunity, Low: 1, High: 1 << 62}, func(r *dispersy.Record) bool {
			destroy, ok = r.Packet, true
			return false
		})
		if !ok {
			t.Fatal("no destroy message stored")
		}
	}
	b.give(mm, destroy)
	if !b.c.Destroyed() {
		t.Fatal("B's community not destroyed")
	}
	if got := b.count(dt.FullSyncText); got != 0 {
		t.Fatalf("B still holds %d messages", got)
	}
	after := a.create(dt.FullSyncText, "after", 0)
	b.give(a, after.Packet)
	if ok, _ := b.stored(after.Key()); ok {
		t.Fatal("a destroyed community stored a new message")
	}
	if b.dropped(dispersy.DropDestroyed) == 0 {
		t.Fatal("drop not counted as destroyed")
	}
	if got := b.sent(a, dispersy.IDDestroyCommunity); len(got) != 1 {
		t.Fatalf("B sent A the destroy message %d times, want 1", len(got))
	}
	// Restarting on the same store keeps it destroyed.
	e2, err := dispersy.NewEngine(dispersy.DefaultConfig(), b.key, b.store)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e2.Join(dt.NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Destroyed() {
		t.Fatal("destroyed state lost on restart")
	}
}

// test_double_signature: response, modified, split append, and no response
// (the callback fires once, on timeout).
func TestDoubleSignature(t *testing.T) {
	cases := []struct {
		typ          *dispersy.MessageType[dt.Text]
		text         string
		respond      bool
		wantText     string
		wantModified bool
		wantComplete bool
	}{
		{dt.DoubleText, "Allow=True", true, "Allow=True", false, true},
		{dt.DoubleText, "Allow=Modify", true, "MODIFIED", true, true},
		{dt.DoubleSplitText, "Allow=Append,", true, "Allow=Append,MODIFIED", true, true},
		{dt.DoubleText, "Allow=False", false, "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			n := newPnet(t, "A", "B")
			a, b := n.node("A"), n.node("B")
			var results []dispersy.SignatureResult[dt.Text]
			a.do(func() error {
				return dispersy.CreateDoubleSigned(a.c, tc.typ, dt.Text{Text: tc.text}, b.key.Public(), b.addr,
					func(_ *dispersy.Context, r dispersy.SignatureResult[dt.Text]) bool {
						results = append(results, r)
						return true
					})
			})
			reqs := a.deliver(b, dispersy.IDSignatureRequest)
			if len(reqs) != 1 {
				t.Fatalf("%d signature requests", len(reqs))
			}
			if got := b.dc.SignRequests; !slices.Equal(got, []string{tc.text}) {
				t.Fatalf("B's AllowSignature saw %q", got)
			}
			resp := b.deliver(a, dispersy.IDSignatureResponse)
			if !tc.respond {
				if len(resp) != 0 {
					t.Fatal("B answered a request it refuses")
				}
				n.advance(11 * time.Second)
				n.advance(11 * time.Second)
				if len(results) != 1 || !results[0].TimedOut {
					t.Fatalf("results %+v, want one timeout", results)
				}
				return
			}
			if len(resp) != 1 || len(results) != 1 {
				t.Fatalf("%d responses, %d results", len(resp), len(results))
			}
			r := results[0]
			if r.TimedOut || r.Modified != tc.wantModified || r.Message.Payload.Text != tc.wantText {
				t.Fatalf("result: timedout %v modified %v text %q", r.TimedOut, r.Modified, r.Message.Payload.Text)
			}
			done := a.sent(b, tc.typ.ID())
			if len(done) != 1 {
				t.Fatalf("A sent the completed message %d times", len(done))
			}
			// The completed message carries two valid signatures: B
			// accepts it as an ordinary received message.
			b.give(a, done...)
			if got := b.dc.Handled[tc.typ.ID()]; !slices.Equal(got, []string{tc.wantText}) {
				t.Fatalf("B handled %q", got)
			}
			n.advance(30 * time.Second)
			if len(results) != 1 {
				t.Fatal("the callback fired again after completion")
			}
		})
	}
}
