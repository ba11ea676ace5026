package dispersy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// TestNodePeersUDP: two nodes on loopback UDP find each other, and
// Node.Peers names the other's member and address; peer events arrive for
// it too.
func TestNodePeersUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a wait budget, not an assertion
	defer cancel()
	type node struct {
		n     *dispersy.Node
		key   *keys.PrivateKey
		added chan dispersy.Peer
	}
	start := func(name string, bootstrap *dispersy.Node) node {
		ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		cfg := dispersy.DefaultNodeConfig()
		cfg.Engine.Walker = walker.DefaultConfig().Scaled(200 * time.Millisecond)
		cfg.Engine.LocalAddr = ep.LocalAddr()
		if bootstrap != nil {
			cfg.Engine.Bootstrap = append(cfg.Engine.Bootstrap, bootstrap.Endpoint().LocalAddr())
		}
		added := make(chan dispersy.Peer, 16)
		cfg.Engine.Events = &dispersy.Events{PeerAdded: func(_ keys.CommunityID, p dispersy.Peer) {
			select {
			case added <- p:
			default:
			}
		}}
		key := keys.DeriveKey(keys.Ed25519, []byte(name))
		n, err := dispersy.NewNode(cfg, key, dispersytest.NewMemStore(), ep)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- n.Run(context.Background()) }()
		t.Cleanup(func() {
			_ = n.Close()
			if err := <-done; err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		})
		if _, err := n.Join(ctx, dispersytest.NewDebugCommunity()); err != nil {
			t.Fatal(err)
		}
		return node{n, key, added}
	}
	a := start("udp alice", nil)
	b := start("udp bob", a.n)
	cid := dispersytest.DebugMaster.Public().CommunityID()
	for _, x := range []struct{ me, other node }{{a, b}, {b, a}} {
		var ps []dispersy.Peer
		for len(ps) == 0 || !ps[0].HasMember {
			select {
			case <-ctx.Done():
				t.Fatalf("no peer with a member: %v", ps)
			case <-time.After(50 * time.Millisecond):
			}
			var err error
			if ps, err = x.me.n.Peers(ctx, cid); err != nil {
				t.Fatal(err)
			}
		}
		p := ps[0]
		other := x.other.key.ID()
		if len(ps) != 1 || p.Member != other || p.Addr != x.other.n.Endpoint().LocalAddr() || !p.Verified() {
			t.Errorf("peers %v, want the other node %x at %v", ps, other[:6], x.other.n.Endpoint().LocalAddr())
		}
		if !strings.Contains(p.String(), "member ") || !strings.Contains(p.String(), p.Addr.String()) {
			t.Errorf("String() = %q", p.String())
		}
		select {
		case ev := <-x.me.added:
			if ev.Addr != p.Addr {
				t.Errorf("PeerAdded for %v, want %v", ev.Addr, p.Addr)
			}
		case <-ctx.Done():
			t.Fatal("no PeerAdded event")
		}
	}
	if _, err := a.n.Peers(ctx, keys.CommunityID{1}); err == nil {
		t.Error("Peers of a community not joined succeeded")
	}
}
