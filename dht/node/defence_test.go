package node_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// evil speaks the DHT's messages with its own answers.
type evil struct {
	rpc *peer.RPC[node.Packet, node.Packet]
}

func newEvil(answer func(c *dispersy.Community, req dht.Message) dht.Message) *evil {
	e := &evil{}
	e.rpc, _ = peer.NewRPC[node.Packet, *node.Packet, node.Packet, *node.Packet](1, 2, "dht", func(ctx *dispersy.Context, _ peer.Peer, req node.Packet) (node.Packet, bool) {
		if answer == nil {
			return node.Packet{}, false
		}
		return node.Packet{M: answer(ctx.Community(), req.M)}, true
	})
	return e
}

func (e *evil) Define(d *dispersy.Definition) {
	d.Master = node.DefaultMaster
	d.Name = "dht"
	e.rpc.Register(d)
}

func (s *simNet) addEvil(e *evil) *dt.SimPeer {
	s.t.Helper()
	p, err := s.sim.AddPeer()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.sim.Do(p, func(en *dispersy.Engine) error { _, err := en.Join(e); return err }); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// call sends req from the evil peer p to addr (after a walker probe) and
// returns the answer.
func (s *simNet) call(p *dt.SimPeer, e *evil, to netip.AddrPort, req dht.Message) dht.Message {
	s.t.Helper()
	cid := node.DefaultMaster.CommunityID()
	if err := s.sim.Do(p, func(en *dispersy.Engine) error { en.Community(cid).Probe(to); return nil }); err != nil {
		s.t.Fatal(err)
	}
	s.run(time.Second)
	var got dht.Message
	done := false
	if err := s.sim.Do(p, func(en *dispersy.Engine) error {
		_, err := e.rpc.Call(en.Community(cid), to, node.Packet{M: req}, 2*time.Second, func(resp node.Packet, _ peer.Peer, err error) {
			got, done = resp.M, true
		})
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	if ok, err := s.sim.RunUntil(func() bool { return done }, 10*time.Millisecond, 10*time.Second); err != nil || !ok {
		s.t.Fatalf("no answer to %T: %v", req, err)
	}
	return got
}

// TestForgedStoreBlacklistsTheSender: a store whose signature does not
// verify is refused with BadSignature, its sender goes on the blacklist
// (and stays there across a restart), and its later requests are ignored.
func TestForgedStoreBlacklistsTheSender(t *testing.T) {
	s := newSimNet(t, 10, 0)
	e := newEvil(nil)
	p := s.addEvil(e)
	victim := s.sim.Peers[4]
	owner := dt.PeerKey(keys.Ed25519, 99, 1)
	rec, err := dht.NewOwned(owner, []byte("name"), []byte("value"), s.sim.Net.Now(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rec.Value = []byte("forged")
	nodes, ok := s.call(p, e, victim.Addr, dht.FindNode{Target: rec.Key()}).(dht.Nodes)
	if !ok {
		t.Fatal("no token")
	}
	res, ok := s.call(p, e, victim.Addr, dht.Store{Key: rec.Key(), Token: nodes.Token, Record: rec}).(dht.StoreResult)
	if !ok || res.Code != dht.BadSignature {
		t.Fatalf("forged store answered %+v", res)
	}
	forger := p.Key.Public().ID()
	blacklisted := func() bool {
		var b bool
		_ = s.sim.Do(victim, func(*dispersy.Engine) error { b = s.dhts[4].Blacklisted(forger); return nil })
		return b
	}
	if !blacklisted() {
		t.Fatal("the forger is not blacklisted")
	}
	s.restart(victim)
	if !blacklisted() {
		t.Fatal("the blacklist did not survive the restart")
	}
}

// TestWrongValueDemotesTheAnswerer: a node answering a find-value with a
// record of another key is blacklisted and out of the routing table, and
// the lookup does not return the wrong value.
func TestWrongValueDemotesTheAnswerer(t *testing.T) {
	s := newSimNet(t, 12, 0)
	other := dht.NewContent([]byte("some other value"), time.Time{})
	e := newEvil(func(c *dispersy.Community, req dht.Message) dht.Message {
		if _, ok := req.(dht.FindValue); ok {
			return dht.Value{Record: other}
		}
		return dht.Nodes{Contacts: []dht.Contact{{ID: dht.NodeIDOf(c.Me()), Addr: c.Engine().Config().LocalAddr}}}
	})
	p := s.addEvil(e)
	s.run(2 * time.Minute)
	key := dht.ContentKey([]byte("nobody stored this"))
	liar := p.Key.Public().ID()
	// Every node looks the value up: those that ask the liar blacklist it.
	caught := 0
	for i := 2; i < 12; i++ {
		if got, _, err := s.find(i, key); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("peer %d: find: %v, %v", i, got, err)
		}
		_ = s.sim.Do(s.sim.Peers[i], func(*dispersy.Engine) error {
			if s.dhts[i].Blacklisted(liar) {
				caught++
				if _, in := s.dhts[i].Server().Table.Get(dht.NodeID(liar)); in {
					t.Errorf("peer %d: the liar is still in the routing table", i)
				}
			}
			return nil
		})
	}
	if caught == 0 {
		t.Fatal("no node blacklisted the liar")
	}
	t.Logf("%d of 10 nodes blacklisted the liar", caught)
}

// burst sends every request of reqs at once from the evil peer p to addr
// (after one walker probe) and returns the answers, in order.
func (s *simNet) burst(p *dt.SimPeer, e *evil, to netip.AddrPort, reqs []dht.Message) []dht.Message {
	s.t.Helper()
	cid := node.DefaultMaster.CommunityID()
	if err := s.sim.Do(p, func(en *dispersy.Engine) error { en.Community(cid).Probe(to); return nil }); err != nil {
		s.t.Fatal(err)
	}
	s.run(time.Second)
	got := make([]dht.Message, len(reqs))
	left := len(reqs)
	if err := s.sim.Do(p, func(en *dispersy.Engine) error {
		for i, req := range reqs {
			if _, err := e.rpc.Call(en.Community(cid), to, node.Packet{M: req}, 2*time.Second, func(resp node.Packet, _ peer.Peer, err error) {
				got[i] = resp.M
				left--
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		s.t.Fatal(err)
	}
	if ok, err := s.sim.RunUntil(func() bool { return left == 0 }, 10*time.Millisecond, 10*time.Second); err != nil || !ok {
		s.t.Fatalf("%d of %d requests unanswered: %v", left, len(reqs), err)
	}
	return got
}

// TestPunctureRelaysAreLimited: a node relays an Introduce for a contact it
// knows (answering with the contact) and not for one it does not know; a
// requester asking too often is refused (RateLimited) and nothing more is
// relayed; a Puncture not addressed to the node is refused (Malformed), and
// one relaying node gets at most 5 punctures per 10 s.
func TestPunctureRelaysAreLimited(t *testing.T) {
	s := newSimNet(t, 12, 0)
	e := newEvil(nil)
	p := s.addEvil(e)
	s.run(30 * time.Second)
	relayer := s.sim.Peers[4]
	var known dht.Contact
	_ = s.sim.Do(relayer, func(*dispersy.Engine) error {
		for _, c := range s.dhts[4].Server().Table.Closest(dht.ID{}, 20) {
			if c.Addr != p.Addr {
				known = c
				break
			}
		}
		return nil
	})
	if !known.Addr.IsValid() {
		t.Fatal("the relayer knows nobody")
	}
	if m, ok := s.call(p, e, relayer.Addr, dht.Introduce{Target: dht.ContentKey([]byte("nobody"))}).(dht.Nodes); !ok || len(m.Contacts) != 0 {
		t.Fatalf("introduce of an unknown member answered %+v", m)
	}
	var reqs []dht.Message
	for range 8 {
		reqs = append(reqs, dht.Introduce{Target: known.ID})
	}
	got := s.burst(p, e, relayer.Addr, reqs)
	relayed, limited := 0, 0
	for _, m := range got {
		switch m := m.(type) {
		case dht.Nodes:
			if len(m.Contacts) != 1 || m.Contacts[0] != known {
				t.Fatalf("introduce answered %+v, want the contact %v", m, known)
			}
			relayed++
		case dht.Error:
			if m.Code != dht.RateLimited {
				t.Fatalf("introduce refused with %v", m.Code)
			}
			limited++
		default:
			t.Fatalf("introduce answered %T", m)
		}
	}
	st, _, _ := s.stats(4)
	// 5 per 10 s, one spent on the unknown member, refilled one per 2 s
	// over the probe's second.
	if relayed < 4 || relayed > 5 || relayed+limited != 8 || st.Relayed != uint64(relayed) || st.RelaysRefused != uint64(limited) {
		t.Fatalf("relayed %d, limited %d of 8 (stats %d relayed, %d refused); want 4 or 5 relayed", relayed, limited, st.Relayed, st.RelaysRefused)
	}

	target := s.sim.Peers[7]
	self := dht.NodeIDOf(target.Key.Public())
	if m, ok := s.call(p, e, target.Addr, dht.Puncture{Target: dht.ContentKey([]byte("someone else")), To: s.sim.Peers[2].Addr}).(dht.Error); !ok || m.Code != dht.Malformed {
		t.Fatalf("a puncture for another node answered %+v", m)
	}
	reqs = nil
	for range 7 {
		reqs = append(reqs, dht.Puncture{Target: self, To: s.sim.Peers[2].Addr})
	}
	got = s.burst(p, e, target.Addr, reqs)
	obeyed := 0
	for _, m := range got {
		if n, ok := m.(dht.Nodes); ok && len(n.Contacts) == 0 {
			obeyed++
		} else if m, ok := m.(dht.Error); !ok || m.Code != dht.RateLimited {
			t.Fatalf("puncture answered %+v", m)
		}
	}
	if st, _, _ := s.stats(7); obeyed != 5 || st.Punctures != 5 {
		t.Fatalf("%d of 7 punctures obeyed (stats %d), want 5", obeyed, st.Punctures)
	}
}
