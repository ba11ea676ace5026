package dispersy_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// ampSink is a simulated address that never answers and counts what it
// receives, per sender.
type ampSink struct {
	bytes, pkts int
	from        map[netip.AddrPort]int // datagrams per sender
	ids         map[uint8]int          // datagrams per message id
}

func newAmpSink() *ampSink {
	return &ampSink{from: map[netip.AddrPort]int{}, ids: map[uint8]int{}}
}

func (s *ampSink) Receive(_ time.Time, from netip.AddrPort, pkt []byte) error {
	s.bytes += len(pkt)
	s.pkts++
	s.from[from]++
	if len(pkt) > conversion.PrefixSize {
		s.ids[pkt[conversion.PrefixSize]]++
	}
	return nil
}
func (s *ampSink) Tick(time.Time) error                        { return nil }
func (s *ampSink) Ready() []dispersy.Datagram                  { return nil }
func (s *ampSink) NextDeadline() (deadline time.Time, ok bool) { return time.Time{}, false }

// ampProbe is the largest datagram a node may send an address that has not
// proven itself, beyond its credit, once per 10 s: a puncture or an
// introduction request without bloom filter or with a probe-sized one: at most 320 bytes (amplify.go maxProbe).
const ampProbe = 320

// ampSim is a debug-community simulation of n honest peers, each holding a
// few messages, that walked for a minute; victim is an address that counts
// what reaches it and never answers.
func ampSim(t *testing.T, n int) (*dt.Sim, *ampSink, netip.AddrPort) {
	t.Helper()
	sim := newDebugSim(t, 11, n, 0)
	for i, p := range sim.Peers {
		for j := range 5 {
			if _, err := simCreate(t, sim, p, dt.FullSyncText, "a text that makes the packets longer "+string(rune('a'+i))+string(rune('a'+j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sim.Net.RunFor(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	victim := netip.MustParseAddrPort("10.99.0.1:7759")
	sink := newAmpSink()
	if err := sim.Net.Add(victim, sink); err != nil {
		t.Fatal(err)
	}
	return sim, sink, victim
}

// Issue #12: one spoofed introduction request per node, with the source
// address of a victim that never answers, must not bring the victim more
// than 3 times the spoofed bytes plus one probe per node per 10 s, summed
// over every node: no walk with a full-size bloom filter, no stream of
// punctures toward it.
func TestAmplificationSpoofedRequestThroughWalker(t *testing.T) {
	sim, sink, victim := ampSim(t, 6)
	attacker := keys.DeriveKey(keys.Ed25519, []byte("spoofer"))
	c := sim.Peers[0].Engine.Community(debugCID)
	spoofed := 0
	for i, p := range sim.Peers {
		pkt := scIntroRequest(t, c, attacker, victim, p.Addr, true, uint16(100+i), scSyncAll(t, 1, 0, 1, 0))
		sim.Net.Inject(victim, p.Addr, pkt)
		spoofed += len(pkt)
	}
	const window = 60 * time.Second
	if err := sim.Net.RunFor(window); err != nil {
		t.Fatal(err)
	}
	bound := 3*spoofed + len(sim.Peers)*int(window/(10*time.Second)+1)*ampProbe
	t.Logf("spoofed %d bytes; the victim received %d bytes in %d datagrams from %d nodes (bound %d); by id %v",
		spoofed, sink.bytes, sink.pkts, len(sink.from), bound, sink.ids)
	if sink.bytes > bound {
		t.Errorf("the victim received %d bytes for %d spoofed bytes, over the bound %d (3x plus one probe per node per 10 s)", sink.bytes, spoofed, bound)
	}
	for from, n := range sink.from {
		if n > 3+int(window/(10*time.Second)+1) {
			t.Errorf("%v sent the victim %d datagrams in %v", from, n, window)
		}
	}
}

// Issue #12, reflection: an attacker names the victim as its own LAN and WAN
// address in requests it really sends (from its own address); honest nodes
// must not walk to, or puncture toward, the victim more than one probe per
// node per 10 s, though the victim sent nothing.
func TestAmplificationReflectionThroughIntroductions(t *testing.T) {
	sim, sink, victim := ampSim(t, 6)
	attackerAddr := netip.MustParseAddrPort("10.98.0.1:7759")
	if err := sim.Net.Add(attackerAddr, newAmpSink()); err != nil {
		t.Fatal(err)
	}
	attacker := keys.DeriveKey(keys.Ed25519, []byte("reflector"))
	c := sim.Peers[0].Engine.Community(debugCID)
	const window = 60 * time.Second
	id := uint16(100)
	for at := time.Duration(0); at < window; at += 5 * time.Second {
		for _, p := range sim.Peers {
			id++
			sim.Net.Inject(attackerAddr, p.Addr, scIntroRequest(t, c, attacker, victim, p.Addr, true, id, scSyncAll(t, 1, 0, 1, 0)))
		}
		if err := sim.Net.RunFor(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	bound := len(sim.Peers) * int(window/(10*time.Second)+1) * ampProbe
	t.Logf("the victim (silent) received %d bytes in %d datagrams from %d nodes (bound %d); by id %v", sink.bytes, sink.pkts, len(sink.from), bound, sink.ids)
	if sink.bytes > bound {
		t.Errorf("the silent victim received %d bytes, over one probe per node per 10 s (%d)", sink.bytes, bound)
	}
}

// Issue #12: a flood of introduction requests from one address must not
// make the node send one puncture request per flood request to the honest
// peer it introduces: puncture requests are capped per target.
func TestAmplificationPunctureRequestFlood(t *testing.T) {
	h := newScHarness(t)
	n := h.newNode("N")
	p := scFakeMember("P", 1)
	n.receive(p.addr, scIntroRequest(t, n.c, p.key, p.addr, n.addr, false, 1, nil))
	n.discard()
	x := scFakeMember("X", 2)
	var ds []dispersy.Datagram
	for i := range 2000 {
		ds = append(ds, dispersy.Datagram{Addr: x.addr, Data: scIntroRequest(t, n.c, x.key, x.addr, n.addr, true, uint16(10+i), nil)})
	}
	for i := 0; i < len(ds); i += 200 {
		n.receiveBatch(ds[i : i+200])
	}
	got := len(n.take(p.addr, dispersy.IDPunctureRequest))
	t.Logf("2,000 introduction requests in one instant: %d puncture requests to the introduced peer", got)
	if got == 0 || got > 8 {
		t.Errorf("N sent %d puncture requests to P for 2,000 requests in one instant, want 1 to 8", got)
	}
	if n.dropped(dispersy.DropRateLimited) == 0 {
		t.Error("the capped puncture requests were not counted")
	}
	// A step later, P may be introduced with a puncture request again.
	h.advance(n.eng.Config().Walker.StepInterval)
	n.receive(x.addr, scIntroRequest(t, n.c, x.key, x.addr, n.addr, true, 9, nil))
	if got := len(n.take(p.addr, dispersy.IDPunctureRequest)); got != 1 {
		t.Errorf("after a step interval: %d puncture requests to P, want 1", got)
	}
}

// Issue #12: Receive enforces Config.MaxDatagram itself, not only the UDP
// endpoint: a larger datagram is dropped and counted as oversize, and
// earns no answer.
func TestReceiveOversizeDatagram(t *testing.T) {
	h := newScHarness(t)
	n := h.newNode("N")
	x := scFakeMember("X", 1)
	pkt := scIntroRequest(t, n.c, x.key, x.addr, n.addr, true, 1, nil)
	big := append(pkt, make([]byte, n.eng.Config().MaxDatagram)...)
	n.receive(x.addr, big)
	if d := n.dropped(dispersy.DropOversize); d != 1 {
		t.Errorf("oversize drops %d, want 1", d)
	}
	if got := n.take(x.addr); len(got) != 0 {
		t.Errorf("N answered an oversize datagram with %d datagrams", len(got))
	}
	if r := n.eng.Stats().Received; r != 1 {
		t.Errorf("Stats.Received %d, want 1 (the oversize datagram arrived)", r)
	}
	// Through ReceiveInbound (the Verifier's path) too.
	if err := n.eng.ReceiveInbound(h.now, []dispersy.Inbound{{Addr: x.addr, Data: big}}); err != nil {
		t.Fatal(err)
	}
	if d := n.dropped(dispersy.DropOversize); d != 2 {
		t.Errorf("oversize drops through ReceiveInbound %d, want 2", d)
	}
}

// Engine.Connection reports the walker's verdict on our NAT from where
// peers see us: unknown with no votes, public when the peers outside our
// LAN see us at our LAN address, symmetric NAT when each sees another
// address.
func TestEngineConnection(t *testing.T) {
	h := newScHarness(t)
	pub := netip.MustParseAddrPort("5.5.5.5:7759")
	n := h.newNode("N", scWithConfig(func(c *dispersy.Config) { c.LocalAddr = pub }))
	if got := n.eng.Connection(); got != walker.ConnectionUnknown {
		t.Fatalf("before any vote: %v, want unknown", got)
	}
	x, y := scFakeMember("X", 1), scFakeMember("Y", 2)
	fromX, fromY := netip.MustParseAddrPort("8.8.8.8:7759"), netip.MustParseAddrPort("9.9.9.9:7759")
	n.receive(fromX, scIntroRequest(t, n.c, x.key, fromX, pub, false, 1, nil))
	if got := n.eng.Connection(); got != walker.ConnectionPublic {
		t.Errorf("a peer outside sees us at our LAN address: %v, want public", got)
	}
	n.receive(fromX, scIntroRequest(t, n.c, x.key, fromX, netip.MustParseAddrPort("5.5.5.5:40001"), false, 2, nil))
	n.receive(fromY, scIntroRequest(t, n.c, y.key, fromY, netip.MustParseAddrPort("5.5.5.5:40002"), false, 3, nil))
	if got := n.eng.Connection(); got != walker.ConnectionSymmetricNAT {
		t.Errorf("each peer sees us at another port: %v, want symmetric-NAT", got)
	}
}

// A configured bootstrap address never answered us, yet every walker step
// without candidates must reach it: bloom-less introduction requests to it
// are not held to one probe per 10 s.
func TestAmplificationBootstrapRequestsGoOut(t *testing.T) {
	h := newScHarness(t)
	tracker := netip.MustParseAddrPort("10.77.0.1:7759")
	n := h.newNode("N", scWithConfig(func(c *dispersy.Config) {
		c.AmplificationFactor = 3
		c.Bootstrap = []netip.AddrPort{tracker}
	}))
	step := n.eng.Config().Walker.StepInterval
	sent := 0
	for range 4 {
		h.advance(step)
		n.tick()
		for _, p := range n.take(tracker, dispersy.IDIntroductionRequest) {
			sent++
			if len(p) > ampProbe {
				t.Errorf("a %d-byte request to the unproven bootstrap address", len(p))
			}
		}
	}
	if sent != 4 {
		t.Errorf("%d introduction requests to the bootstrap address in 4 steps of %v, want 4", sent, step)
	}
	if d := n.dropped(dispersy.DropAmplification); d != 0 {
		t.Errorf("%d datagrams refused", d)
	}
}
