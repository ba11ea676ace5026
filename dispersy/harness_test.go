package dispersy_test

// This file is the manual harness of the scenario tests (scenario_*_test.go),
// the Go counterpart of Python Dispersy's DebugNode tests: engines on
// in-memory stores, a virtual clock that only moves when a test moves it, and
// no network at all. A test takes the datagrams an engine produced
// (node.take), chooses which of them to hand to which engine (node.receive),
// and inspects stores, statistics and the decoded packets. Packets of
// "fake" members (a key without an engine) are crafted and signed with the
// public conversion API, so a test can give them any global time and
// sequence number.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/bloom"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// scCID is the debug community's id.
var scCID = dt.DebugMaster.Public().CommunityID()

// scEpoch is the harness's virtual time zero.
var scEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// scHarness owns the virtual clock and the nodes of one test.
type scHarness struct {
	t     testing.TB
	now   time.Time
	nodes []*scNode
	seed  uint64
}

// newScHarness returns a harness at scEpoch with no nodes.
func newScHarness(t testing.TB) *scHarness {
	return &scHarness{t: t, now: scEpoch, seed: 1}
}

// advance moves the virtual clock forward. Nothing runs by itself: engines
// see the new time at their next Receive, Tick or API call.
func (h *scHarness) advance(d time.Duration) { h.now = h.now.Add(d) }

// scAddr is the address of the i-th node: 10.0.x.y:7000+i, a LAN address
// (RFC 1918) like Dispersy's tests on one host.
func scAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i) + 1}), uint16(7000+i))
}

// scNode is one engine with its store, joined to one community.
type scNode struct {
	h       *scHarness
	name    string
	index   int
	addr    netip.AddrPort
	key     *keys.PrivateKey
	store   *dt.MemStore
	eng     *dispersy.Engine
	overlay *dt.DebugCommunity // nil when the node runs another overlay
	c       *dispersy.Community
	outbox  []dispersy.Datagram
}

// scNodeOptions are newNode's options.
type scNodeOptions struct {
	cfg     func(*dispersy.Config)
	overlay dispersy.Overlay
	join    []dispersy.JoinOption
	noJoin  bool
	before  func(*dispersy.Engine) // runs after NewEngine, before Join
	key     *keys.PrivateKey
	store   *dt.MemStore
}

// scNodeOption sets one of newNode's options.
type scNodeOption func(*scNodeOptions)

// scWithConfig adjusts the engine configuration (it starts from
// dispersy.DefaultConfig with LocalAddr and Rand set).
func scWithConfig(f func(*dispersy.Config)) scNodeOption {
	return func(o *scNodeOptions) { o.cfg = f }
}

// scWithOverlay joins overlay instead of a fresh DebugCommunity.
func scWithOverlay(ov dispersy.Overlay) scNodeOption {
	return func(o *scNodeOptions) { o.overlay = ov }
}

// scWithJoin passes options to Engine.Join.
func scWithJoin(opts ...dispersy.JoinOption) scNodeOption {
	return func(o *scNodeOptions) { o.join = opts }
}

// scBeforeJoin runs f on the engine before it joins.
func scBeforeJoin(f func(*dispersy.Engine)) scNodeOption {
	return func(o *scNodeOptions) { o.before = f }
}

// scWithKey makes the node sign with key instead of its name's key.
func scWithKey(k *keys.PrivateKey) scNodeOption {
	return func(o *scNodeOptions) { o.key = k }
}

// scWithStore runs the node on store (a restart when another node used it).
func scWithStore(s *dt.MemStore) scNodeOption {
	return func(o *scNodeOptions) { o.store = s }
}

// scKey is the deterministic key of a named member.
func scKey(name string) *keys.PrivateKey {
	return keys.DeriveKey(keys.Ed25519, []byte("scenario member "+name))
}

// newNode starts an engine at the next address, with a deterministic key
// and rng, and joins the debug community.
func (h *scHarness) newNode(name string, opts ...scNodeOption) *scNode {
	h.t.Helper()
	var o scNodeOptions
	for _, f := range opts {
		f(&o)
	}
	i := len(h.nodes)
	n := &scNode{h: h, name: name, index: i, addr: scAddr(i), key: scKey(name), store: dt.NewMemStore()}
	if o.key != nil {
		n.key = o.key
	}
	if o.store != nil {
		n.store = o.store
	}
	cfg := dispersy.DefaultConfig()
	cfg.LocalAddr = n.addr
	cfg.Rand = rand.New(rand.NewPCG(h.seed, uint64(i)+1))
	// Dispersy's scenarios hand engines requests from addresses that never
	// answered one of theirs; the anti-amplification limit would cut the
	// answers they check. The limit has its own tests.
	cfg.AmplificationFactor = 0
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	eng, err := dispersy.NewEngine(cfg, n.key, n.store)
	if err != nil {
		h.t.Fatalf("%s: NewEngine: %v", name, err)
	}
	n.eng = eng
	eng.SetTime(h.now)
	if o.before != nil {
		o.before(eng)
	}
	h.nodes = append(h.nodes, n)
	if o.noJoin {
		return n
	}
	ov := o.overlay
	if ov == nil {
		n.overlay = dt.NewDebugCommunity()
		ov = n.overlay
	} else if d, ok := ov.(*dt.DebugCommunity); ok {
		n.overlay = d
	}
	c, err := eng.Join(ov, o.join...)
	if err != nil {
		h.t.Fatalf("%s: Join: %v", name, err)
	}
	n.c = c
	n.collect()
	if len(n.outbox) != 0 {
		h.t.Fatalf("%s: joining sent %d datagrams, want none", name, len(n.outbox))
	}
	return n
}

func (n *scNode) String() string { return n.name }

// collect moves the engine's outbound datagrams to the node's outbox.
func (n *scNode) collect() {
	n.outbox = append(n.outbox, n.eng.Ready()...)
}

// take removes and returns the outbox packets addressed to to whose message
// id is one of ids (any id when ids is empty), in send order.
func (n *scNode) take(to netip.AddrPort, ids ...uint8) [][]byte {
	n.collect()
	var out [][]byte
	keep := n.outbox[:0]
	for _, d := range n.outbox {
		if d.Addr == to && (len(ids) == 0 || slices.Contains(ids, scMsgID(d.Data))) {
			out = append(out, d.Data)
			continue
		}
		keep = append(keep, d)
	}
	n.outbox = keep
	return out
}

// pendingOut returns the outbox packets to to with one of ids (any when
// empty) without removing them.
func (n *scNode) pendingOut(to netip.AddrPort, ids ...uint8) [][]byte {
	n.collect()
	var out [][]byte
	for _, d := range n.outbox {
		if d.Addr == to && (len(ids) == 0 || slices.Contains(ids, scMsgID(d.Data))) {
			out = append(out, d.Data)
		}
	}
	return out
}

// discard empties the outbox.
func (n *scNode) discard() {
	n.collect()
	n.outbox = nil
}

// receive hands pkts, all from from, to the engine in one batch.
func (n *scNode) receive(from netip.AddrPort, pkts ...[]byte) {
	n.h.t.Helper()
	ds := make([]dispersy.Datagram, len(pkts))
	for i, p := range pkts {
		ds[i] = dispersy.Datagram{Addr: from, Data: p}
	}
	n.receiveBatch(ds)
}

// receiveEach hands pkts to the engine one Receive call each.
func (n *scNode) receiveEach(from netip.AddrPort, pkts ...[]byte) {
	n.h.t.Helper()
	for _, p := range pkts {
		n.receive(from, p)
	}
}

// receiveBatch hands datagrams (Addr is the source) to the engine in one
// batch.
func (n *scNode) receiveBatch(ds []dispersy.Datagram) {
	n.h.t.Helper()
	if err := n.eng.ReceiveBatch(n.h.now, ds); err != nil {
		n.h.t.Fatalf("%s: ReceiveBatch: %v", n.name, err)
	}
	n.collect()
}

// tick runs the engine's timers at the harness's time.
func (n *scNode) tick() {
	n.h.t.Helper()
	if err := n.eng.Tick(n.h.now); err != nil {
		n.h.t.Fatalf("%s: Tick: %v", n.name, err)
	}
	n.collect()
}

// create makes a message of type mt on the node at the harness's time.
func (n *scNode) create(mt *dispersy.MessageType[dt.Text], text string, opts ...dispersy.CreateOption) *dispersy.Message[dt.Text] {
	n.h.t.Helper()
	n.eng.SetTime(n.h.now)
	m, err := dispersy.Create(n.c, mt, dt.Text{Text: text}, opts...)
	if err != nil {
		n.h.t.Fatalf("%s: Create %s: %v", n.name, mt.Name(), err)
	}
	n.collect()
	return m
}

// count returns how many live messages of the given types the node stores.
func (n *scNode) count(ids ...uint8) int {
	n.h.t.Helper()
	c, err := n.store.Count(scCID, ids)
	if err != nil {
		n.h.t.Fatalf("%s: Count: %v", n.name, err)
	}
	return c
}

// records returns the node's stored messages of type id (undone ones
// included), ascending by global time.
func (n *scNode) records(id uint8) []dispersy.Record {
	n.h.t.Helper()
	var out []dispersy.Record
	err := n.store.Range(dispersy.RangeQuery{Community: scCID, MessageID: id, Low: 1, High: conversion.MaxGlobalTime, IncludeUndone: true}, func(r *dispersy.Record) bool {
		rr := *r
		rr.Packet = slices.Clone(r.Packet)
		out = append(out, rr)
		return true
	})
	if err != nil {
		n.h.t.Fatalf("%s: Range: %v", n.name, err)
	}
	return out
}

// storedTimes returns the global times of the node's stored messages of
// type id, ascending.
func (n *scNode) storedTimes(id uint8) []uint64 {
	n.h.t.Helper()
	var out []uint64
	for _, r := range n.records(id) {
		out = append(out, r.GlobalTime)
	}
	return out
}

// dropped returns the node's drop counter for r.
func (n *scNode) dropped(r dispersy.DropReason) uint64 {
	s := n.eng.Stats()
	return s.DroppedBy(r)
}

// scMember is a fake member: a key (and an address to send from) without an
// engine. Its packets are crafted.
type scMember struct {
	name string
	key  *keys.PrivateKey
	addr netip.AddrPort
}

// scFakeMember returns member name with the i-th fake address
// (10.9.0.i+1:9000+i).
func scFakeMember(name string, i int) *scMember {
	return &scMember{name: name, key: scKey(name), addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i) + 1}), uint16(9000+i))}
}

// scMsgID returns a packet's message id byte (0 for a short packet).
func scMsgID(pkt []byte) uint8 {
	if len(pkt) < conversion.HeaderSize {
		return 0
	}
	return pkt[conversion.HeaderSize-1]
}

// scConversion returns community c's conversion for community-version byte
// v; 0 means the newest.
func scConversion(tb testing.TB, c *dispersy.Community, v uint8) *conversion.Conversion {
	tb.Helper()
	codec := c.Codec()
	if v == 0 {
		return codec.Newest()
	}
	for _, cv := range codec.Conversions() {
		if cv.Version() == v {
			return cv
		}
	}
	tb.Fatalf("community has no conversion for version %d", v)
	return nil
}

// scCraftRaw builds and signs a packet of message id in conversion conv with
// the given raw payload bytes. signer is nil for unsigned types. It is what
// Create does, with the global time and sequence number chosen by the
// caller.
func scCraftRaw(tb testing.TB, cid keys.CommunityID, conv *conversion.Conversion, id uint8, signer *keys.PrivateKey, gt uint64, seq uint32, payload []byte) []byte {
	tb.Helper()
	format := conv.Format(id)
	if format == nil {
		tb.Fatalf("conversion %d has no message id %d", conv.Version(), id)
	}
	f := &conversion.Frame{
		CommunityVersion: conv.Version(),
		Community:        cid,
		Format:           format,
		GlobalTime:       gt,
		Sequence:         seq,
		Payload:          payload,
	}
	if n := policy.Members(format.Policies.Authentication); n > 0 {
		if signer == nil {
			tb.Fatalf("message %q is signed: craft it with a signer", format.Name)
		}
		f.Authors = []conversion.Author{conversion.AuthorOf(signer.Public())}
	}
	body, err := conversion.AppendBody(nil, conv, cid, f)
	if err != nil {
		tb.Fatalf("craft %q: %v", format.Name, err)
	}
	pkt := slices.Clone(body)
	if len(f.Authors) > 0 {
		pkt = signer.AppendSign(pkt, body)
	}
	return pkt
}

// scCraft builds a packet of type mt with payload p in community c's newest
// conversion.
func scCraft[T any](tb testing.TB, c *dispersy.Community, mt *dispersy.MessageType[T], signer *keys.PrivateKey, gt uint64, seq uint32, p T) []byte {
	tb.Helper()
	return scCraftVersion(tb, c, 0, mt, signer, gt, seq, p)
}

// scCraftVersion is craft in the conversion of community-version byte v.
func scCraftVersion[T any](tb testing.TB, c *dispersy.Community, v uint8, mt *dispersy.MessageType[T], signer *keys.PrivateKey, gt uint64, seq uint32, p T) []byte {
	tb.Helper()
	pl, err := mt.EncodePayload(p)
	if err != nil {
		tb.Fatalf("encode %s payload: %v", mt.Name(), err)
	}
	return scCraftRaw(tb, c.ID(), scConversion(tb, c, v), mt.ID(), signer, gt, seq, pl)
}

// scTexts crafts one text message of type mt per global time, signed by
// signer, with text "<prefix>@<gt>".
func scTexts(tb testing.TB, c *dispersy.Community, mt *dispersy.MessageType[dt.Text], signer *keys.PrivateKey, prefix string, gts ...uint64) [][]byte {
	tb.Helper()
	out := make([][]byte, len(gts))
	for i, gt := range gts {
		out[i] = scCraft(tb, c, mt, signer, gt, 0, dt.Text{Text: fmt.Sprintf("%s@%d", prefix, gt)})
	}
	return out
}

// scSpan returns lo..hi inclusive.
func scSpan(lo, hi uint64) []uint64 {
	var out []uint64
	for g := lo; g <= hi; g++ {
		out = append(out, g)
	}
	return out
}

// scDecoded is one packet decoded by a community's codec.
type scDecoded[T any] struct {
	frame   *conversion.Frame
	payload T
}

// scDecode decodes pkt as a message of type mt in community c, failing the
// test when it is anything else.
func scDecode[T any](tb testing.TB, c *dispersy.Community, mt *dispersy.MessageType[T], pkt []byte) scDecoded[T] {
	tb.Helper()
	f, err := c.Codec().Decode(pkt)
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	if f.MessageID() != mt.ID() {
		tb.Fatalf("packet is message %d, want %s (%d)", f.MessageID(), mt.Name(), mt.ID())
	}
	p, err := mt.DecodePayload(f.Payload)
	if err != nil {
		tb.Fatalf("decode %s payload: %v", mt.Name(), err)
	}
	return scDecoded[T]{frame: f, payload: p}
}

// scGlobalTimes decodes the global times of pkts (any synced type).
func scGlobalTimes(tb testing.TB, c *dispersy.Community, pkts [][]byte) []uint64 {
	tb.Helper()
	out := make([]uint64, len(pkts))
	for i, p := range pkts {
		f, err := c.Codec().Decode(p)
		if err != nil {
			tb.Fatalf("decode: %v", err)
		}
		out[i] = f.GlobalTime
	}
	return out
}

// scSequences decodes the sequence numbers of pkts.
func scSequences(tb testing.TB, c *dispersy.Community, pkts [][]byte) []uint32 {
	tb.Helper()
	out := make([]uint32, len(pkts))
	for i, p := range pkts {
		f, err := c.Codec().Decode(p)
		if err != nil {
			tb.Fatalf("decode: %v", err)
		}
		out[i] = f.Sequence
	}
	return out
}

// scEmptyBloom returns the bytes of an empty bloom filter of nbytes bytes.
func scEmptyBloom(tb testing.TB, nbytes, k int, salt uint32) []byte {
	tb.Helper()
	f, err := bloom.New(8*nbytes, k, salt)
	if err != nil {
		tb.Fatalf("bloom.New: %v", err)
	}
	return f.Bytes()
}

// scIntroRequest crafts an introduction request from signer at from to to.
func scIntroRequest(tb testing.TB, c *dispersy.Community, signer *keys.PrivateKey, from, to netip.AddrPort, advice bool, id uint16, sync *dispersy.SyncRequest) []byte {
	tb.Helper()
	req := dispersy.IntroductionRequest{
		Destination: to,
		SourceLAN:   from,
		SourceWAN:   from,
		Advice:      advice,
		Identifier:  id,
		Sync:        sync,
	}
	return scCraft(tb, c, dispersy.IntroductionRequestType, signer, 1, 0, req)
}

// scSyncAll is a sync request for [low, high] (high 0: up to the responder's
// global time) in one modulo class, with an empty bloom filter.
func scSyncAll(tb testing.TB, low, high uint64, modulo, offset uint16) *dispersy.SyncRequest {
	tb.Helper()
	return &dispersy.SyncRequest{Low: low, High: high, Modulo: modulo, Offset: offset, K: 1, Salt: 7, Bloom: scEmptyBloom(tb, 8, 1, 7)}
}

// scBigSyncBudget lets a sync answer carry everything, as Dispersy's tests
// assume.
func scBigSyncBudget(c *dispersy.Config) { c.SyncBudget = 64 << 10 }

// scPacketsEqual reports whether two packet lists hold the same bytes in the
// same order.
func scPacketsEqual(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

// TestHarnessCraftMatchesCreate pins the harness: a crafted packet is
// byte-identical to the one the engine creates for the same member, type,
// global time and payload, so crafted packets test the same bytes real
// peers send.
func TestHarnessCraftMatchesCreate(t *testing.T) {
	h := newScHarness(t)
	a := h.newNode("A")
	for _, mt := range []*dispersy.MessageType[dt.Text]{dt.FullSyncText, dt.IDText, dt.SequenceText, dt.Last1Text} {
		gt := a.c.GlobalTime() + 1
		var seq uint32
		if policy.HasSequence(mt.Spec().Distribution) {
			seq = uint32(len(a.records(mt.ID()))) + 1
		}
		m := a.create(mt, "hello "+mt.Name())
		if m.GlobalTime != gt || m.Sequence != seq {
			t.Fatalf("%s: created at gt %d seq %d, want gt %d seq %d", mt.Name(), m.GlobalTime, m.Sequence, gt, seq)
		}
		got := scCraft(t, a.c, mt, a.key, gt, seq, dt.Text{Text: "hello " + mt.Name()})
		if !bytes.Equal(got, m.Packet) {
			t.Errorf("%s: crafted packet differs from the created one:\n crafted %x\n created %x", mt.Name(), got, m.Packet)
		}
	}
}
