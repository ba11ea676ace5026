package dispersy_test

import (
	"fmt"
	"github.com/dispersy-go/dispersy/conversion"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// idleRun runs peers idle peers (one community, peer 0 the bootstrap) for
// warm, then measures for span: it returns the bytes and walker requests
// sent per peer per virtual minute.
func idleRun(t testing.TB, peers int, warm, span time.Duration, tune func(*dispersy.Config)) (bytesPerMin, walksPerMin float64) {
	t.Helper()
	cfg := dt.DefaultSimConfig(7)
	tune(&cfg.Engine)
	sim := joinedSim(t, cfg, peers)
	if err := sim.Net.RunFor(warm); err != nil {
		t.Fatal(err)
	}
	walks := func() (n uint64) {
		for _, p := range sim.Peers {
			n += p.Engine.Stats().Walks
		}
		return n
	}
	b0, w0 := sim.Net.Stats().SentBytes, walks()
	if err := sim.Net.RunFor(span); err != nil {
		t.Fatal(err)
	}
	per := float64(peers) * span.Minutes()
	return float64(sim.Net.Stats().SentBytes-b0) / per, float64(walks()-w0) / per
}

// Issue #16: with a walk target, an idle community that reached it walks
// at SlowStepInterval; without one (WalkTarget 0) it walks every step.
func TestWalkTargetSlowsIdleWalk(t *testing.T) {
	run := func(target int) (float64, float64) {
		return idleRun(t, 60, 2*time.Minute, 10*time.Minute, func(c *dispersy.Config) {
			c.Walker.WalkTarget, c.Walker.MaxPeers = target, 0
		})
	}
	b0, w0 := run(0)
	b10, w10 := run(10)
	t.Logf("per peer per minute: target 0: %.0f B, %.1f walks; target 10: %.0f B, %.1f walks", b0, w0, b10, w10)
	if w0 < 11 { // 12 steps a minute at 5 s
		t.Errorf("target 0: %.1f walks per peer per minute, want about 12 (one per step)", w0)
	}
	if w10 > w0/2 || b10 > b0/2 {
		t.Errorf("target 10: %.1f walks and %.0f B per peer per minute, want at most half of target 0 (%.1f, %.0f)", w10, b10, w0, b0)
	}
}

// Issue #16: below the target the walker keeps its full step (and with no
// verified peer at all it steps faster, see TestFastStart...).
func TestWalkTargetBelowTargetKeepsStep(t *testing.T) {
	_, w := idleRun(t, 8, time.Minute, 10*time.Minute, func(c *dispersy.Config) {
		c.Walker.WalkTarget, c.Walker.MaxPeers = 50, 0 // never reached by 8 peers
	})
	if w < 11 {
		t.Errorf("below target: %.1f walks per peer per minute, want about 12 (one per 5 s step)", w)
	}
}

// Issue #16: above MaxPeers the walker drops verified candidates, so no
// table holds more than MaxPeers verified candidates right after a step
// beyond the protected ones (bootstrap, requests in flight).
func TestMaxPeersTrimsTables(t *testing.T) {
	cfg := dt.DefaultSimConfig(3)
	cfg.Engine.Walker.WalkTarget, cfg.Engine.Walker.MaxPeers = 0, 4
	sim := joinedSim(t, cfg, 40)
	if err := sim.Net.RunFor(5 * time.Minute); err != nil {
		t.Fatal(err)
	}
	var trimmed uint64
	for _, p := range sim.Peers {
		c := p.Engine.Communities()[0]
		trimmed += c.Table().Stats().Trimmed
	}
	if trimmed == 0 {
		t.Fatal("MaxPeers 4 in a 40-peer community: no candidate trimmed")
	}
	// Peer 0 is everyone's bootstrap: its table is the fullest.
	c := sim.Peers[0].Engine.Communities()[0]
	now := sim.Net.Now()
	if n := c.Table().CountVerified(now); n > 4+8 {
		t.Errorf("peer 0 holds %d verified candidates with MaxPeers 4", n)
	}
}

// firstVerified returns the virtual time peer 1 of a two-peer community
// (peer 0 its bootstrap) needs to verify its first candidate, when the
// network drops everything for its first 200 ms (the first step, taken
// at once, is lost: the bootstrap peer is still starting).
func firstVerified(t *testing.T, fast time.Duration) time.Duration {
	t.Helper()
	cfg := dt.DefaultSimConfig(11)
	cfg.Engine.Walker.FastStepInterval = fast
	sim := joinedSim(t, cfg, 2)
	start := sim.Net.Now()
	if err := sim.Net.Partition([]netip.AddrPort{sim.Peers[0].Addr}, []netip.AddrPort{sim.Peers[1].Addr}); err != nil {
		t.Fatal(err)
	}
	for range 600 {
		if sim.Net.Now().Sub(start) >= 200*time.Millisecond {
			sim.Net.Heal()
		}
		c := sim.Peers[1].Engine.Communities()[0]
		if c.Table().CountVerified(sim.Net.Now()) > 0 {
			return sim.Net.Now().Sub(start)
		}
		if err := sim.Net.RunFor(50 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("no verified candidate in 30 s")
	return 0
}

// Issue #17: a fresh peer steps at FastStepInterval until it has a
// verified peer, so it finds its first peer sooner than at StepInterval
// when its first step (taken at once, TestFirstStepAtOnce) is lost.
func TestFastStartFindsFirstPeerSooner(t *testing.T) {
	slow := firstVerified(t, 0)
	fast := firstVerified(t, time.Second)
	t.Logf("first verified peer after %v (no fast start) and %v (1 s fast start)", slow, fast)
	// The second step: one fast interval plus the random phase (< 1 s).
	if fast > 2500*time.Millisecond || fast >= slow {
		t.Errorf("fast start: first verified peer after %v, want ≤ 2.5 s and sooner than without (%v)", fast, slow)
	}
}

// A candidate added (LAN discovery) while the community has no verified
// peer is walked to at once, not at the next step.
func TestAddCandidateWalksNowWithoutPeers(t *testing.T) {
	cfg := dt.DefaultSimConfig(5)
	cfg.NoBootstrap = true
	cfg.Engine.Walker.FastStepInterval = 0
	sim := joinedSim(t, cfg, 2)
	if err := sim.Net.RunFor(6 * time.Second); err != nil { // past the first step: nothing to walk to
		t.Fatal(err)
	}
	p := sim.Peers[1]
	if err := sim.Do(p, func(e *dispersy.Engine) error {
		e.Communities()[0].AddCandidate(sim.Peers[0].Addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c := p.Engine.Communities()[0]
	if c.Table().CountVerified(sim.Net.Now()) == 0 {
		t.Error("candidate added without verified peers: not walked to within 0.5 s")
	}
}

// WithWalkTarget overrides the engine's walk target for one community.
func TestWithWalkTargetOverrides(t *testing.T) {
	cfg := dt.DefaultSimConfig(1)
	cfg.JoinOptions = []dispersy.JoinOption{dispersy.WithWalkTarget(3, 7)}
	sim := joinedSim(t, cfg, 1)
	got := sim.Peers[0].Engine.Communities()[0].Table().Config()
	if got.WalkTarget != 3 || got.MaxPeers != 7 {
		t.Errorf("WithWalkTarget(3, 7): table has WalkTarget %d, MaxPeers %d", got.WalkTarget, got.MaxPeers)
	}
}

// BenchmarkIdleTraffic200 measures issue #16's figure: the bytes and walk
// requests each peer of an idle 200-peer community sends per virtual
// minute (after 3 minutes of warm-up, over 10 minutes), without a walk
// target and with the default target of 10.
//
//	go test ./dispersy -run '^$' -bench IdleTraffic200 -benchtime 1x
func BenchmarkIdleTraffic200(b *testing.B) {
	for _, target := range []int{0, 10} {
		b.Run(fmt.Sprintf("target=%d", target), func(b *testing.B) {
			for range b.N {
				bytes, walks := idleRun(b, 200, 3*time.Minute, 10*time.Minute, func(c *dispersy.Config) {
					c.Walker.WalkTarget = target
				})
				b.ReportMetric(bytes, "B/peer/min")
				b.ReportMetric(walks, "walks/peer/min")
			}
		})
	}
}

// A community takes its first walk step at once, so a node reaches its
// bootstrap peer as soon as it starts; the second step comes at a random
// point of the interval after it, so peers started together do not walk
// in lock step.
func TestFirstStepAtOnce(t *testing.T) {
	cfg := dt.DefaultSimConfig(3)
	steps := map[netip.AddrPort][]time.Time{}
	cfg.Network.Trace = func(ev dt.Event) {
		if ev.Kind == dt.EventSend && len(ev.Data) > conversion.PrefixSize && ev.Data[conversion.PrefixSize] == dispersy.IntroductionRequestType.ID() {
			steps[ev.From] = append(steps[ev.From], ev.At)
		}
	}
	sim := joinedSim(t, cfg, 20)
	start := sim.Net.Now() // joining runs nothing: the first steps are still due
	if err := sim.Net.RunFor(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	var first, last time.Duration
	for _, p := range sim.Peers[1:] {
		s := steps[p.Addr]
		if len(s) < 2 {
			t.Fatalf("peer %d took %d walk steps in 3 s", p.Index, len(s))
		}
		if d := s[0].Sub(start); d > 10*time.Millisecond {
			t.Errorf("peer %d: first step after %v, want at once", p.Index, d)
		}
		// The second step (not the request that follows the first's
		// response with the bloom filter left out of it, 40 ms later).
		k := slices.IndexFunc(s, func(at time.Time) bool { return at.Sub(s[0]) >= 500*time.Millisecond })
		if k < 0 {
			t.Fatalf("peer %d: no second step", p.Index)
		}
		d := s[k].Sub(s[0])
		if first == 0 || d < first {
			first = d
		}
		last = max(last, d)
	}
	// The step after the first: FastStepInterval (1 s: no peer had
	// answered yet) plus a phase drawn from the first second.
	if first < time.Second || last >= 2*time.Second || last-first < 300*time.Millisecond {
		t.Errorf("second steps %v..%v after the first, want spread over [1 s, 2 s)", first, last)
	}
}
