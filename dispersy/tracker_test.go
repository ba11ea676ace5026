package dispersy_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// A tracker answers introduction requests for a community it has never
// heard of, introduces its peers to each other, and drops the community
// after three idle checks.
func TestTrackerCommunities(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tcfg := dispersy.DefaultConfig()
	tcfg.Tracker = true
	tcfg.BloomSync = false
	tcfg.LocalAddr = netip.MustParseAddrPort("10.5.0.1:6421")
	tr, err := dispersy.NewEngine(tcfg, keys.DeriveKey(keys.Ed25519, []byte("tracker")), dt.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	tr.SetTime(now)
	peer := func(i byte) (*dispersy.Engine, netip.AddrPort) {
		cfg := dispersy.DefaultConfig()
		cfg.LocalAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 5, 0, 10 + i}), 7000)
		cfg.Bootstrap = []netip.AddrPort{tcfg.LocalAddr}
		e, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte{i}), dt.NewMemStore())
		if err != nil {
			t.Fatal(err)
		}
		e.SetTime(now)
		if _, err := e.Join(dt.NewDebugCommunity()); err != nil {
			t.Fatal(err)
		}
		return e, cfg.LocalAddr
	}
	a, aAddr := peer(1)
	b, bAddr := peer(2)
	// Both walk (to the tracker: their only candidate).
	step := func(e *dispersy.Engine, from netip.AddrPort) []dispersy.Datagram {
		now = now.Add(6 * time.Second)
		if err := e.Tick(now); err != nil {
			t.Fatal(err)
		}
		var toTracker []dispersy.Datagram
		for _, d := range e.Ready() {
			if d.Addr == tcfg.LocalAddr {
				toTracker = append(toTracker, d)
			}
		}
		if len(toTracker) != 1 || toTracker[0].Data[22] != dispersy.IDIntroductionRequest {
			t.Fatalf("%v sent %d packets to the tracker, want one introduction request", from, len(toTracker))
		}
		if err := tr.Receive(now, from, toTracker[0].Data); err != nil {
			t.Fatal(err)
		}
		return tr.Ready()
	}
	step(a, aAddr)
	if tr.TrackerCommunities() != 1 {
		t.Fatalf("tracker holds %d communities, want 1", tr.TrackerCommunities())
	}
	out := step(b, bAddr)
	var resp []byte
	for _, d := range out {
		if d.Addr == bAddr && d.Data[22] == dispersy.IDIntroductionResponse {
			resp = d.Data
		}
	}
	if resp == nil {
		t.Fatal("the tracker did not answer B")
	}
	p, err := dispersy.IntroductionResponseType.DecodePayload(resp[23+33+8 : len(resp)-64])
	if err != nil {
		t.Fatal(err)
	}
	if p.IntroducedLAN != aAddr && p.IntroducedWAN != aAddr {
		t.Fatalf("the tracker introduced %v/%v to B, want A %v", p.IntroducedLAN, p.IntroducedWAN, aAddr)
	}
	// Idle: after three checks without verified candidates, it is gone.
	for range 4 {
		now = now.Add(181 * time.Second)
		if err := tr.Tick(now); err != nil {
			t.Fatal(err)
		}
	}
	if tr.TrackerCommunities() != 0 {
		t.Fatalf("idle tracker community not dropped: %d", tr.TrackerCommunities())
	}
	// The tracker never stored anything.
	if n, _ := tr.Store().Communities(); len(n) != 0 {
		t.Fatalf("the tracker stored %d communities", len(n))
	}
}
