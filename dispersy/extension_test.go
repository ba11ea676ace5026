package dispersy_test

import (
	"bytes"
	"github.com/dispersy-go/dispersy/conversion"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/policy"
)

func extSpec(id uint8) dispersy.MessageSpec {
	return dispersy.MessageSpec{ID: id, Name: "ext-text", Authentication: policy.NoAuthentication{},
		Resolution: policy.PublicResolution{}, Distribution: policy.DirectDistribution{}, Destination: policy.CandidateDestination{}}
}

var extText = func() *dispersy.MessageType[dt.Text] {
	t, err := dispersy.NewExtensionType[dt.Text](extSpec(200))
	if err != nil {
		panic(err)
	}
	return t
}()

// recorder is an Extension that records what the engine tells it.
type recorder struct {
	e       *dispersy.Engine
	id      uint8 // the id its type claims (extText's, or a clashing one)
	applied []dispersy.Op
	walked  []netip.AddrPort
	got     []string
}

func (r *recorder) Define(d *dispersy.Definition) {
	t := extText
	if r.id != 200 {
		t, _ = dispersy.NewExtensionType[dt.Text](extSpec(r.id))
	}
	dispersy.Register(d, t, dispersy.Handlers[dt.Text]{Handle: func(_ *dispersy.Context, b []*dispersy.Message[dt.Text]) {
		for _, m := range b {
			if !m.Local() {
				r.got = append(r.got, m.Payload.Text)
			}
		}
	}})
}
func (r *recorder) Applied(_ *dispersy.Engine, ops []dispersy.Op) {
	r.applied = append(r.applied, ops...)
}
func (r *recorder) Walked(_ *dispersy.Community, a netip.AddrPort, _ uint64) {
	r.walked = append(r.walked, a)
}

func TestNewExtensionTypeIDs(t *testing.T) {
	if _, err := dispersy.NewExtensionType[dt.Text](extSpec(5)); err == nil {
		t.Fatal("an extension type with application id 5 was accepted")
	}
	if _, err := dispersy.NewMessageType[dt.Text](extSpec(200)); err == nil {
		t.Fatal("an application type with built-in id 200 was accepted")
	}
}

// TestExtensionHooks: an extension's type with a built-in id travels
// between peers; it hears of committed writes and of walk exchanges;
// SendPacket honours the anti-amplification credit; a type clashing with
// an engine's built-in id makes the join fail.
func TestExtensionHooks(t *testing.T) {
	cfg := dt.DefaultSimConfig(11)
	recs := map[*dispersy.Engine]*recorder{}
	cfg.Engine.Extensions = []func(*dispersy.Engine) dispersy.Extension{func(e *dispersy.Engine) dispersy.Extension {
		r := &recorder{e: e, id: 200}
		recs[e] = r
		return r
	}}
	sim := joinedSim(t, cfg, 2)
	if err := sim.Net.RunFor(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	p0, p1 := sim.Peers[0], sim.Peers[1]
	r0, r1 := recs[p0.Engine], recs[p1.Engine]
	if !slices.Contains(r1.walked, p0.Addr) || !p1.Engine.Proven(p0.Addr) {
		t.Fatalf("peer 1 walked to %v, want peer 0 (proven: %v)", r1.walked, p1.Engine.Proven(p0.Addr))
	}
	if got := p0.Engine.Extensions(); len(got) != 1 || got[0] != r0 {
		t.Fatalf("Extensions() = %v", got)
	}

	m, err := simCreateOn(sim, p0, "stored")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(r0.applied, func(op dispersy.Op) bool {
		return op.Kind == dispersy.OpPut && bytes.Equal(op.Record.Packet, m.Packet)
	}) {
		t.Fatal("the commit of a created message was not reported to Applied")
	}

	err = sim.Do(p1, func(e *dispersy.Engine) error {
		_, err := dispersy.Create(e.Community(debugCID), extText, dt.Text{Text: "hello 200"}, dispersy.To(p0.Addr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r0.got, []string{"hello 200"}) {
		t.Fatalf("peer 0's extension handler got %q", r0.got)
	}

	stranger := netip.MustParseAddrPort("10.200.0.1:7")
	err = sim.Do(p0, func(e *dispersy.Engine) error {
		before := e.Stats().Dropped[dispersy.DropAmplification]
		if e.Community(debugCID).SendPacket(stranger, m.Packet) {
			t.Error("SendPacket sent a packet to an address that never sent us anything")
		}
		if e.Stats().Dropped[dispersy.DropAmplification] != before+1 {
			t.Error("the refused packet was not counted as amplification")
		}
		if !e.Community(debugCID).SendPacket(p1.Addr, m.Packet) {
			t.Error("SendPacket refused a packet to a proven peer")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	clash := dt.DefaultSimConfig(12)
	clash.Engine.Extensions = []func(*dispersy.Engine) dispersy.Extension{func(e *dispersy.Engine) dispersy.Extension {
		return &recorder{e: e, id: dispersy.IDIntroductionRequest}
	}}
	cs, err := dt.NewSim(clash)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AddPeer(); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("an extension type on the introduction request's id: join error %v", err)
	}
}

// simCreateOn creates a full-sync debug message on p.
func simCreateOn(sim *dt.Sim, p *dt.SimPeer, text string) (*dispersy.Message[dt.Text], error) {
	var m *dispersy.Message[dt.Text]
	err := sim.Do(p, func(e *dispersy.Engine) (err error) {
		m, err = dispersy.Create(e.Community(debugCID), dt.FullSyncText, dt.Text{Text: text})
		return err
	})
	return m, err
}

// holdingRecorder is a recorder that holds its community's bloom sync
// while hold is set (SyncHolder) and records introduction requests
// (Requested).
type holdingRecorder struct {
	recorder
	hold      bool
	requested []netip.AddrPort
}

func (h *holdingRecorder) HoldSync(*dispersy.Community) bool { return h.hold }
func (h *holdingRecorder) Requested(_ *dispersy.Community, a netip.AddrPort, _ uint64) {
	h.requested = append(h.requested, a)
}

// TestSyncHolderAndRequested: while an extension holds a community's bloom
// sync, its introduction requests carry no bloom filter and a message the
// peer lacks does not come by bloom sync; released, the next walk brings
// it. The peer walked to hears of each request (Requested).
func TestSyncHolderAndRequested(t *testing.T) {
	cfg := dt.DefaultSimConfig(12)
	recs := map[*dispersy.Engine]*holdingRecorder{}
	cfg.Engine.Extensions = []func(*dispersy.Engine) dispersy.Extension{func(e *dispersy.Engine) dispersy.Extension {
		r := &holdingRecorder{recorder: recorder{e: e, id: 200}, hold: true}
		recs[e] = r
		return r
	}}
	var reqs [][]byte // introduction requests peer 1 sent
	var p1Addr netip.AddrPort
	cfg.Network.Trace = func(ev dt.Event) {
		if ev.Kind == dt.EventSend && ev.From == p1Addr && len(ev.Data) > conversion.PrefixSize && ev.Data[conversion.PrefixSize] == dispersy.IntroductionRequestType.ID() {
			reqs = append(reqs, slices.Clone(ev.Data))
		}
	}
	sim, err := dt.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(2); err != nil {
		t.Fatal(err)
	}
	p0, p1 := sim.Peers[0], sim.Peers[1]
	p1Addr = p1.Addr
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Created while the network is split: its push is lost, so only a
	// sync can bring it.
	if err := sim.Net.Partition([]netip.AddrPort{p0.Addr}, []netip.AddrPort{p1.Addr}); err != nil {
		t.Fatal(err)
	}
	if _, err := simCreateOn(sim, p0, "held back"); err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sim.Net.Heal()
	r0, r1 := recs[p0.Engine], recs[p1.Engine]
	r0.hold = false
	if err := sim.Net.RunFor(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	c1 := p1.Engine.Community(debugCID)
	if len(reqs) < 2 {
		t.Fatalf("peer 1 sent %d introduction requests in 22 s", len(reqs))
	}
	for _, pkt := range reqs {
		if scDecode(t, c1, dispersy.IntroductionRequestType, pkt).payload.Sync != nil {
			t.Fatal("an introduction request carried a bloom filter while the sync was held")
		}
	}
	if n := sim.Count(p1, debugCID, nil); n != 0 {
		t.Fatalf("peer 1 holds %d messages with its sync held", n)
	}
	if !slices.Contains(r0.requested, p1.Addr) {
		t.Fatal("peer 0's extension did not hear of peer 1's requests")
	}
	r1.hold = false
	if err := sim.Net.RunFor(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := sim.Count(p1, debugCID, nil); n != 1 {
		t.Fatalf("peer 1 holds %d messages after its sync was released, want 1", n)
	}
}
