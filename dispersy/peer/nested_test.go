package peer_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/peer"
)

type gossipOv struct {
	seen map[string]bool
	rpc  *peer.RPC[dt.Text, dispersy.Empty]
}

func newGossipOv() *gossipOv {
	g := &gossipOv{seen: map[string]bool{}}
	g.rpc, _ = peer.NewRPC[dt.Text, *dt.Text, dispersy.Empty, *dispersy.Empty](1, 2, "data", func(ctx *dispersy.Context, _ peer.Peer, d dt.Text) (dispersy.Empty, bool) {
		g.spread(ctx.Community(), d)
		return dispersy.Empty{}, true
	})
	return g
}

func (g *gossipOv) Define(d *dispersy.Definition) { d.Master = master.Public(); g.rpc.Register(d) }

func (g *gossipOv) spread(c *dispersy.Community, d dt.Text) {
	if g.seen[d.Text] {
		return
	}
	g.seen[d.Text] = true
	_, _ = g.rpc.Spread(c, peer.Random(3), d, time.Second, func(_ netip.AddrPort, _ dispersy.Empty, _ error) {}, peer.Retries(2))
}

func TestGossipNested(t *testing.T) {
	sim, err := dt.NewSim(dt.DefaultSimConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	_ = sim.AddPeers(3)
	var ovs []*gossipOv
	_ = sim.JoinAll(func() dispersy.Overlay { o := newGossipOv(); ovs = append(ovs, o); return o })
	_ = sim.Net.RunFor(3 * time.Second)
	for i, p := range sim.Peers {
		t.Logf("peer %d verified %d", i, len(p.Engine.Community(cid).Table().Verified(sim.Net.Now())))
	}
	do(t, sim, 2, func(c *dispersy.Community) error { ovs[2].spread(c, dt.Text{Text: "hello"}); return nil })
	_ = sim.Net.RunFor(5 * time.Second)
	for i, o := range ovs {
		if !o.seen["hello"] {
			t.Errorf("peer %d did not get the data", i)
		}
	}
}
