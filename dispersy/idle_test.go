package dispersy_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// Issue #12: an idle tracker and an idle node cost ~0% CPU. On virtual
// time that means: every Tick moves NextDeadline past now (the Network
// stops the run with a MachineError otherwise) and the number of Tick calls
// stays bounded while nothing happens. The tracker here used to report the
// walker step deadline of its tracker communities, which never walk, so
// once the first peer's community passed that instant every Tick left the
// deadline in the past: a runner on real time spun a core.
func TestIdleTrackerAndNodeTickRarely(t *testing.T) {
	net, err := dt.NewNetwork(dt.NetworkConfig{LinkConfig: dt.LinkConfig{Latency: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	trAddr := dt.PeerAddr(0)
	tcfg := dispersy.DefaultConfig()
	tcfg.Tracker = true
	tcfg.BloomSync = false
	tcfg.LocalAddr = trAddr
	tr, err := dispersy.NewEngine(tcfg, keys.DeriveKey(keys.Ed25519, []byte("idle tracker")), dt.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	tr.SetTime(net.Now())
	if err := net.Add(trAddr, tr); err != nil {
		t.Fatal(err)
	}
	var peers []netip.AddrPort
	for i := 1; i <= 2; i++ {
		cfg := dispersy.DefaultConfig()
		cfg.LocalAddr = dt.PeerAddr(i)
		cfg.Bootstrap = []netip.AddrPort{trAddr}
		e, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte{'i', byte(i)}), dt.NewMemStore())
		if err != nil {
			t.Fatal(err)
		}
		e.SetTime(net.Now())
		if _, err := e.Join(dt.NewDebugCommunity()); err != nil {
			t.Fatal(err)
		}
		if err := net.Add(cfg.LocalAddr, e); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, cfg.LocalAddr)
	}
	ticks := func(a netip.AddrPort) uint64 {
		s, _ := net.PeerStats(a)
		return s.Ticks
	}
	// Ten virtual minutes with two peers walking through the tracker (and
	// then to each other): each node has one peer besides the tracker.
	const window = 10 * time.Minute
	if err := net.RunFor(window); err != nil {
		t.Fatalf("with peers: %v", err)
	}
	if tr.TrackerCommunities() != 1 {
		t.Fatalf("tracker holds %d communities, want 1", tr.TrackerCommunities())
	}
	// A walker steps every 5 s and each request times out once: a node
	// ticks a few times per step at most. 2 per second is generous.
	limit := uint64(2 * window / time.Second)
	for _, a := range append([]netip.AddrPort{trAddr}, peers...) {
		t.Logf("%v: %d ticks in %v", a, ticks(a), window)
		if n := ticks(a); n > limit {
			t.Errorf("%v ticked %d times in %v with one peer, want <= %d", a, n, window, limit)
		}
	}
	// The peers leave; the tracker idles, drops its community after three
	// idle checks, and then has no timer at all.
	for _, a := range peers {
		if err := net.Remove(a); err != nil {
			t.Fatal(err)
		}
	}
	before := ticks(trAddr)
	if err := net.RunFor(2 * window); err != nil {
		t.Fatalf("after the peers left: %v", err)
	}
	t.Logf("idle tracker: %d ticks in %v", ticks(trAddr)-before, 2*window)
	if n := ticks(trAddr) - before; n > 20 {
		t.Errorf("idle tracker ticked %d times in %v, want <= 20 (one check per 180 s)", n, 2*window)
	}
	if tr.TrackerCommunities() != 0 {
		t.Errorf("idle tracker still holds %d communities", tr.TrackerCommunities())
	}
	if d, ok := tr.NextDeadline(); ok {
		t.Errorf("idle tracker with no community still wants a tick at %v", d)
	}
}
