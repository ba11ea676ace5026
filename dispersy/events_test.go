package dispersy_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// TestEventsPeers: every peer reports the others as added once they
// exchanged packets, and a stopped peer as removed once its standing lapsed.
func TestEventsPeers(t *testing.T) {
	var log []string
	cfg := dispersytest.DefaultSimConfig(3)
	cfg.Engine.Events = &dispersy.Events{
		PeerAdded:   func(_ keys.CommunityID, p dispersy.Peer) { log = append(log, "added "+p.Addr.String()) },
		PeerRemoved: func(_ keys.CommunityID, p dispersy.Peer) { log = append(log, "removed "+p.Addr.String()) },
	}
	sim, err := dispersytest.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dispersytest.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(3); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	count := func(what string) map[string]int {
		n := map[string]int{}
		for _, l := range log {
			if a, ok := strings.CutPrefix(l, what+" "); ok {
				n[a]++
			}
		}
		return n
	}
	added := count("added")
	for _, p := range sim.Peers {
		if added[p.Addr.String()] != 2 {
			t.Errorf("peer %v added %d times, want by each of the 2 others once: %q", p.Addr, added[p.Addr.String()], log)
		}
	}
	if len(count("removed")) != 0 {
		t.Errorf("removed while all run: %q", log)
	}
	gone := sim.Peers[2]
	if err := sim.Stop(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	removed := count("removed")
	if removed[gone.Addr.String()] != 2 || len(removed) != 1 {
		t.Errorf("after stopping %v, removed %v, want it by both others", gone.Addr, removed)
	}
}

// TestEventsDelayAndFailure: a delayed message whose member never arrives
// is reported given up; a store failure is reported once.
func TestEventsDelayAndFailure(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []string
	cfg := dispersy.DefaultConfig()
	cfg.Events = &dispersy.Events{
		DelayGivenUp: func(_ keys.CommunityID, from netip.AddrPort, why dispersy.DropReason, need string) {
			events = append(events, fmt.Sprintf("given up %s %v %s", from, why, need))
		},
		EngineFailed: func(err error) { events = append(events, "failed: "+err.Error()) },
	}
	store := &failingStore{Store: dispersytest.NewMemStore()}
	bob, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte("bob")), store)
	if err != nil {
		t.Fatal(err)
	}
	bob.SetTime(now)
	if _, err := bob.Join(dispersytest.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	alice, err := dispersy.NewEngine(dispersy.DefaultConfig(), keys.DeriveKey(keys.Ed25519, []byte("alice")), dispersytest.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	alice.SetTime(now)
	ac, err := alice.Join(dispersytest.NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	m, err := dispersy.Create(ac, dispersytest.IDText, dispersytest.Text{Text: "who am I"}) // names alice by id only
	if err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("10.0.0.1:7000") // never answers the missing-identity requests
	if err := bob.Receive(now, from, m.Packet); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000 && len(events) == 0; i++ {
		d, ok := bob.NextDeadline()
		if !ok {
			break
		}
		bob.Ready()
		if err := bob.Tick(d); err != nil {
			t.Fatal(err)
		}
	}
	want := "given up 10.0.0.1:7000 delay-expired identity"
	if len(events) != 1 || events[0] != want {
		t.Fatalf("events %q, want %q", events, want)
	}

	store.fail = true
	if _, err := dispersy.Create(bob.Communities()[0], dispersytest.FullSyncText, dispersytest.Text{Text: "x"}); err == nil {
		t.Fatal("Create on a failing store succeeded")
	}
	_ = bob.Tick(bob.Now().Add(time.Minute))
	if len(events) != 2 || !strings.HasPrefix(events[1], "failed: ") || !strings.Contains(events[1], "disk on fire") {
		t.Errorf("events %q, want one failure", events)
	}
}

type failingStore struct {
	dispersy.Store
	fail bool
}

func (s *failingStore) Apply(b *dispersy.Batch) error {
	if s.fail {
		return errors.New("disk on fire")
	}
	return s.Store.Apply(b)
}

// otherMaster defines a community like the debug one under another master
// key: a peer misconfigured with the wrong key.
type otherMaster struct{ *dispersytest.DebugCommunity }

func (o otherMaster) Define(d *dispersy.Definition) {
	o.DebugCommunity.Define(d)
	d.Master = keys.DeriveKey(keys.Ed25519, []byte("another master")).Public()
}

// TestFirstContactLogs: a peer with another master key, a bootstrap peer
// that never answers and a community without peers are each logged once
// per interval, in words that say what to check; a node without bootstrap
// addresses (the first of an overlay) alone is told at info level.
func TestFirstContactLogs(t *testing.T) {
	var buf bytes.Buffer
	cfg := dispersytest.DefaultSimConfig(5)
	cfg.Engine.Logger = zerolog.New(&buf).Level(zerolog.InfoLevel)
	sim, err := dispersytest.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(2); err != nil {
		t.Fatal(err)
	}
	// Peer 0 (everyone's bootstrap) runs the community; peer 1 has the
	// wrong master key.
	if err := sim.Do(sim.Peers[0], func(e *dispersy.Engine) error {
		_, err := e.Join(dispersytest.NewDebugCommunity())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Do(sim.Peers[1], func(e *dispersy.Engine) error {
		_, err := e.Join(otherMaster{dispersytest.NewDebugCommunity()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	count := func(level, words string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, `"level":"`+level+`"`) && strings.Contains(l, words) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		level, words string
		n            int
	}{
		{"info", "uses another master key", 1},                // peer 0 about peer 1, rate-limited
		{"warn", "bootstrap peer did not answer", 1},          // peer 1 about peer 0, rate-limited
		{"warn", "Config.Bootstrap lists reachable peers", 1}, // peer 1, alone after a minute
		{"info", "waits for peers to contact it", 1},          // peer 0 has no bootstrap: not a warning
	} {
		if got := count(c.level, c.words); got != c.n {
			t.Errorf("%d %s lines with %q, want %d; log:\n%s", got, c.level, c.words, c.n, buf.String())
		}
	}
}
