package dispersy_test

// Determinism (DESIGN.md §3): the same seed and the same calls give the same
// run, peer for peer, counter for counter; another seed gives another run.

import (
	"fmt"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// scSimResult is what one simulation run is compared by.
type scSimResult struct {
	stats   []dispersy.Stats
	digests [][32]byte
	counts  []int
	net     string
}

// scSimRun runs 20 peers with 10% loss: one minute of walking, 50 messages
// created across the peers, then five more minutes.
func scSimRun(t *testing.T, seed uint64) scSimResult {
	t.Helper()
	cfg := dt.DefaultSimConfig(seed)
	cfg.Network.Loss = 0.1
	sim, err := dt.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(20); err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		p := sim.Peers[(i*7)%20]
		err := sim.Do(p, func(e *dispersy.Engine) error {
			_, err := dispersy.Create(e.Community(scCID), dt.FullSyncText, dt.Text{Text: fmt.Sprint("message ", i)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Net.RunFor(5 * time.Minute); err != nil {
		t.Fatal(err)
	}
	var r scSimResult
	for _, p := range sim.Peers {
		r.stats = append(r.stats, p.Engine.Stats())
		hs, err := sim.Hashes(p, scCID, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.digests = append(r.digests, dt.Digest(hs))
		r.counts = append(r.counts, sim.Count(p, scCID, nil))
	}
	r.net = fmt.Sprintf("%+v", sim.Net.Stats())
	return r
}

func TestScenarioDeterminism(t *testing.T) {
	if testing.Short() {
		t.Skip("three 20-peer simulations")
	}
	a := scSimRun(t, 11)
	b := scSimRun(t, 11)
	for i := range a.stats {
		if a.stats[i] != b.stats[i] {
			t.Errorf("peer %d: stats differ between two runs with the same seed:\n%s\n---\n%s", i, a.stats[i].String(), b.stats[i].String())
		}
		if a.digests[i] != b.digests[i] {
			t.Errorf("peer %d: message digests differ between two runs with the same seed", i)
		}
	}
	if a.net != b.net {
		t.Errorf("network statistics differ between two runs with the same seed:\n%s\n%s", a.net, b.net)
	}
	// The run did something worth comparing: messages spread (full
	// convergence under loss is the simulator tests' business).
	spread := 0
	for _, n := range a.counts {
		if n > 0 {
			spread++
		}
	}
	t.Logf("messages held per peer: %v", a.counts)
	if spread < 20 {
		t.Errorf("only %d of 20 peers hold any message after 5 minutes: %v", spread, a.counts)
	}

	c := scSimRun(t, 12)
	sameStats, sameDigests := 0, 0
	for i := range a.stats {
		if a.stats[i] == c.stats[i] {
			sameStats++
		}
		if a.digests[i] == c.digests[i] {
			sameDigests++
		}
	}
	if sameStats == len(a.stats) {
		t.Errorf("another seed gave identical per-peer stats")
	}
	if sameDigests == len(a.digests) {
		t.Errorf("another seed gave identical message digests")
	}
}
