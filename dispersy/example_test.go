package dispersy_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// Two engines driven by hand: the caller owns the clock and the network.
// It hands every datagram an engine produced (Ready) to its destination
// (Receive), and when nothing is in flight jumps the clock to the earliest
// deadline an engine asked for (NextDeadline, Tick). This loop is what
// dispersy.Node does on real time with a UDP socket, and what
// dispersytest.Network does on virtual time for thousands of peers.
//
// Bob creates a message before anyone knows him; Alice, who knows Bob's
// address, walks to him and her bloom filter brings the message back.
func ExampleEngine() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cid := dispersytest.DebugMaster.Public().CommunityID()
	type peer struct {
		name string
		eng  *dispersy.Engine
		c    *dispersy.Community
		ov   *dispersytest.DebugCommunity
	}
	peers := map[netip.AddrPort]*peer{}
	start := func(name, addr string, seed uint64) *peer {
		cfg := dispersy.DefaultConfig()
		cfg.LocalAddr = netip.MustParseAddrPort(addr)
		cfg.Rand = rand.New(rand.NewPCG(seed, 0))
		me := keys.DeriveKey(keys.Ed25519, []byte(name))
		eng, err := dispersy.NewEngine(cfg, me, dispersytest.NewMemStore())
		if err != nil {
			panic(err)
		}
		eng.SetTime(now) // API calls use the engine's clock
		p := &peer{name: name, eng: eng, ov: dispersytest.NewDebugCommunity()}
		if p.c, err = eng.Join(p.ov); err != nil {
			panic(err)
		}
		peers[cfg.LocalAddr] = p
		return p
	}
	alice := start("alice", "10.0.0.1:7759", 1)
	bob := start("bob", "10.0.0.2:7759", 2)
	alice.c.AddCandidate(netip.MustParseAddrPort("10.0.0.2:7759"))
	if _, err := dispersy.Create(bob.c, dispersytest.FullSyncText, dispersytest.Text{Text: "hello"}); err != nil {
		panic(err)
	}

	names := map[uint8]string{}
	for _, s := range alice.c.Types() {
		names[s.ID] = s.Name
	}
	order := []*peer{alice, bob} // never range over a map: the order must not change
	for step := 0; len(alice.ov.Handled[dispersytest.FullSyncText.ID()]) == 0 && step < 100; step++ {
		sent := false
		for _, from := range order {
			for _, d := range from.eng.Ready() {
				to := peers[d.Addr]
				fmt.Printf("%s -> %s: %s\n", from.name, to.name, names[d.Data[22]]) // byte 22: the message id
				if err := to.eng.Receive(now, from.eng.Config().LocalAddr, d.Data); err != nil {
					panic(err) // only local failures (the store) are errors
				}
				sent = true
			}
		}
		if sent {
			continue
		}
		next := time.Time{} // nothing in flight: jump to the earliest deadline
		for _, p := range order {
			if d, ok := p.eng.NextDeadline(); ok && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		now = next
		for _, p := range order {
			if d, ok := p.eng.NextDeadline(); ok && !d.After(now) {
				if err := p.eng.Tick(now); err != nil {
					panic(err)
				}
			}
		}
	}
	fmt.Println("alice handled:", alice.ov.Handled[dispersytest.FullSyncText.ID()])
	n, err := alice.eng.Store().Count(cid, alice.c.SyncedTypes())
	fmt.Println("alice stores:", n, "message", err)
	// Output:
	// alice -> bob: dispersy-introduction-request
	// bob -> alice: dispersy-introduction-response
	// bob -> alice: full-sync-text
	// alice handled: [hello]
	// alice stores: 1 message <nil>
}

// Three peers on the deterministic simulator: virtual time, an in-memory
// store per peer, a network with latency. Peer 0 is everyone's bootstrap
// address; peer 2 creates a message, and the walk and the bloom-filter sync
// carry it to the other two. The same seed gives the same run, event for
// event, so a failing test is replayed exactly.
func Example_simulator() {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(1))
	if err != nil {
		panic(err)
	}
	var overlays []*dispersytest.DebugCommunity // one per peer, in peer order
	err = sim.JoinAll(func() dispersy.Overlay {
		ov := dispersytest.NewDebugCommunity()
		overlays = append(overlays, ov)
		return ov
	})
	if err != nil {
		panic(err)
	}
	if err := sim.AddPeers(3); err != nil {
		panic(err)
	}
	cid := dispersytest.DebugMaster.Public().CommunityID()
	err = sim.Do(sim.Peers[2], func(e *dispersy.Engine) error {
		_, err := dispersy.Create(e.Community(cid), dispersytest.FullSyncText, dispersytest.Text{Text: "hello"})
		return err
	})
	if err != nil {
		panic(err)
	}
	start := sim.Net.Now()
	if err := sim.RunUntilConverged(cid, nil, 1, time.Hour); err != nil {
		panic(err)
	}
	for i, ov := range overlays {
		fmt.Printf("peer %d handled %v\n", i, ov.Handled[dispersytest.FullSyncText.ID()])
	}
	fmt.Println("converged within a minute of virtual time:", sim.Net.Now().Sub(start) < time.Minute)
	// Output:
	// peer 0 handled [hello]
	// peer 1 handled [hello]
	// peer 2 handled [hello]
	// converged within a minute of virtual time: true
}
