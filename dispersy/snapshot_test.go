package dispersy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

func TestSnapshotAndPeers(t *testing.T) {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dispersytest.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(3); err != nil {
		t.Fatal(err)
	}
	for i, p := range sim.Peers {
		if err := sim.Do(p, func(e *dispersy.Engine) error {
			_, err := dispersy.Create(e.Communities()[0], dispersytest.FullSyncText, dispersytest.Text{Text: fmt.Sprint("note ", i)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e := sim.Peers[0].Engine
	s, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Communities) != 1 || s.Member != e.Me().ID() {
		t.Fatalf("snapshot: %d communities, member %x", len(s.Communities), s.Member)
	}
	cs := s.Communities[0]
	if cs.Overlay != "debug" { // DebugCommunity's Definition.Name
		t.Errorf("overlay name %q", cs.Overlay)
	}
	c := e.Communities()[0]
	if want := sim.Count(sim.Peers[0], c.ID(), nil); cs.Messages != want || want < 3 {
		t.Errorf("snapshot counts %d messages, the store %d", cs.Messages, want)
	}
	// One community: its counters are the engine's, but for packets that
	// named no community it knows.
	if cs.Stats.Stored != s.Stats.Stored || cs.Stats.Stored < 3 {
		t.Errorf("community stored %d, engine %d", cs.Stats.Stored, s.Stats.Stored)
	}
	if cs.Stats.Received == 0 || cs.Stats.Received > s.Stats.Received {
		t.Errorf("community received %d, engine %d", cs.Stats.Received, s.Stats.Received)
	}
	if cs.Stats.DroppedTotal() > s.Stats.DroppedTotal() || cs.Stats.Delayed > s.Stats.Delayed {
		t.Errorf("community stats %+v beyond the engine's %+v", cs.Stats, s.Stats)
	}
	peers := c.Peers()
	if len(peers) != 2 {
		t.Fatalf("verified peers = %d (%v), want the 2 others", len(peers), peers)
	}
	verified := cs.PeersByCategory[1] + cs.PeersByCategory[2]
	if verified != len(peers) {
		t.Errorf("snapshot counts %d verified peers, Peers() returns %d", verified, len(peers))
	}
	for _, p := range peers {
		if !p.Verified() || !p.Addr.IsValid() || p.LastContact.IsZero() {
			t.Errorf("peer %+v", p)
		}
		if p.HasMember && !strings.Contains(p.String(), "member ") {
			t.Errorf("String() = %q", p.String())
		}
	}
}
