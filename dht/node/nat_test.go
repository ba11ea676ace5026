package node_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// natBox puts a simulated peer behind an address-and-port-restricted NAT
// (RFC 4787's endpoint-dependent filtering; the mapping keeps the peer's
// address): a datagram from an address reaches the peer only when the peer
// sent to that address within holeLife. It counts what it let in and what
// it blocked, by source.
type natBox struct {
	m       dt.Machine
	net     *dt.Network
	hole    map[netip.AddrPort]time.Time
	heard   map[netip.AddrPort]int
	blocked map[netip.AddrPort]int
}

// holeLife is how long a NAT keeps a hole open without traffic out (UDP
// mappings last 30 s to a few minutes; the walker keeps the useful ones
// alive).
const holeLife = 2 * time.Minute

func behindNAT(t *testing.T, sim *dt.Sim, p *dt.SimPeer) *natBox {
	t.Helper()
	b := &natBox{m: p.Engine, net: sim.Net, hole: map[netip.AddrPort]time.Time{}, heard: map[netip.AddrPort]int{}, blocked: map[netip.AddrPort]int{}}
	if err := sim.Net.Replace(p.Addr, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *natBox) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	if t, ok := b.hole[from]; !ok || now.Sub(t) > holeLife {
		b.blocked[from]++
		return nil
	}
	b.heard[from]++
	return b.m.Receive(now, from, pkt)
}

func (b *natBox) Tick(now time.Time) error { return b.m.Tick(now) }

func (b *natBox) Ready() []dispersy.Datagram {
	out := b.m.Ready()
	for _, d := range out {
		b.hole[d.Addr] = b.net.Now()
	}
	return out
}

func (b *natBox) NextDeadline() (time.Time, bool) { return b.m.NextDeadline() }

// TestFindPeerPuncturesNAT: a target behind a NAT, which the requester
// (behind a NAT too) never met, is found through the nodes that keep in
// touch with it (they relay a puncture request; it punctures towards the
// requester) and then answers a direct query. Without the puncture step
// (the behaviour before it) the lookup only learns its address, its probe
// meets the NAT, and FindPeer fails.
func TestFindPeerPuncturesNAT(t *testing.T) {
	for _, puncture := range []bool{true, false} {
		name := map[bool]string{true: "puncture", false: "no-puncture"}[puncture]
		t.Run(name, func(t *testing.T) {
			// Seed 3: the walker does not happen to introduce the two before
			// the lookup reaches the target (checked below; with 80 peers
			// about half of the seeds let them meet first).
			s := newSimNetSeed(t, 3, 80, 0)
			tp := s.add()
			tbox := behindNAT(t, s.sim, tp)
			s.run(40 * time.Second) // the target joins: walker, self lookup
			rp := s.add()
			rbox := behindNAT(t, s.sim, rp)
			s.run(3 * time.Second) // the requester's walker meets the bootstrap peer
			if tbox.heard[rp.Addr] > 0 || rbox.heard[tp.Addr] > 0 {
				t.Fatalf("requester and target met before the test (%d, %d packets)", tbox.heard[rp.Addr], rbox.heard[tp.Addr])
			}
			if n := len(tbox.heard); n < 3 {
				t.Fatalf("the target heard from only %d peers: it did not join", n)
			}
			r := rp.Index
			node.SetNoPuncture(s.dhts[r], !puncture)
			var addr netip.AddrPort
			var ferr error
			if !s.do(r, 2*time.Minute, func(d *node.DHT, done func()) {
				d.FindPeerAsync(tp.Key.Public().ID(), func(a netip.AddrPort, err error) { addr, ferr = a, err; done() })
			}) {
				t.Fatal("FindPeer did not finish")
			}
			st, _, _ := s.stats(r)
			tst, _, _ := s.stats(tp.Index)
			relayed := 0
			for i := range s.dhts {
				x, _, _ := s.stats(i)
				relayed += int(x.Relayed)
			}
			t.Logf("FindPeer: %v, %v; requester introductions %d, punctured %d; relayed %d; target punctures %d refused %d; NAT blocked %d from the requester; requester heard %d blocked %d from the target", addr, ferr, st.Introductions, st.Punctured, relayed, tst.Punctures, tst.RelaysRefused, tbox.blocked[rp.Addr], rbox.heard[tp.Addr], rbox.blocked[tp.Addr])
			if tbox.blocked[rp.Addr] == 0 {
				t.Fatal("the requester's packets never met the target's NAT: the test does not test the NAT")
			}
			if puncture && (ferr != nil || addr != tp.Addr) {
				t.Fatalf("FindPeer = %v, %v; want %v", addr, ferr, tp.Addr)
			}
			if !puncture && ferr == nil {
				t.Fatalf("FindPeer without the puncture step found %v", addr)
			}
			if puncture && (st.Punctured != 1 || tst.Punctures == 0) {
				t.Fatalf("found without the puncture step? requester punctured %d, target punctures %d", st.Punctured, tst.Punctures)
			}
			if !puncture {
				return
			}
			// Reached: it answers a direct query (no probe needed now).
			var perr error
			if !s.do(r, time.Minute, func(d *node.DHT, done func()) {
				node.Ping(d, dht.Contact{ID: dht.NodeIDOf(tp.Key.Public()), Addr: tp.Addr}, func(err error) { perr = err; done() })
			}) {
				t.Fatal("the direct query did not finish")
			}
			if perr != nil {
				t.Fatalf("the target does not answer a direct query after FindPeer: %v", perr)
			}
		})
	}
}
