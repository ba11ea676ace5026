package lan_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/lan"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

func TestBeaconRoundTripAndMalformed(t *testing.T) {
	cid := dt.DebugMaster.Public().CommunityID()
	b := lan.Beacon{Nonce: 7, Port: 7759, Communities: []keys.CommunityID{cid}}
	pkt, err := b.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lan.Decode(pkt)
	if err != nil || got.Nonce != 7 || got.Port != 7759 || len(got.Communities) != 1 || got.Communities[0] != cid {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	bad := [][]byte{nil, pkt[:len(pkt)-1], append(bytes.Clone(pkt), 0), []byte("DGLX" + string(pkt[4:]))}
	zeroPort := bytes.Clone(pkt)
	zeroPort[13], zeroPort[14] = 0, 0
	badVersion := bytes.Clone(pkt)
	badVersion[4] = 2
	zeroN := bytes.Clone(pkt[:16])
	zeroN[15] = 0
	bad = append(bad, zeroPort, badVersion, zeroN)
	for i := range pkt { // every truncation
		bad = append(bad, pkt[:i])
	}
	for i, p := range bad {
		if _, err := lan.Decode(p); !errors.Is(err, lan.ErrMalformed) {
			t.Errorf("case %d (%x): %v, want ErrMalformed", i, p, err)
		}
	}
	if _, err := (lan.Beacon{Port: 1}).AppendBinary(nil); err == nil {
		t.Error("a beacon with no community encoded")
	}
}

func FuzzDecode(f *testing.F) {
	pkt, _ := lan.Beacon{Nonce: 1, Port: 2, Communities: []keys.CommunityID{{1}}}.AppendBinary(nil)
	f.Add(pkt)
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := lan.Decode(p)
		if err != nil {
			return
		}
		again, err := b.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, p) {
			t.Fatalf("decoded %x does not re-encode: %x, %v", p, again, err)
		}
	})
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := lan.NewLimiter(time.Second, 2)
	a, b, c := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:1"), netip.MustParseAddrPort("10.0.0.3:1")
	if !l.Allow(t0, a) || l.Allow(t0.Add(500*time.Millisecond), a) || !l.Allow(t0.Add(time.Second), a) {
		t.Fatal("one event per source per interval")
	}
	if !l.Allow(t0.Add(time.Second), b) {
		t.Fatal("second source refused")
	}
	if l.Allow(t0.Add(time.Second), c) {
		t.Fatal("a third source was tracked past the bound")
	}
	if !l.Allow(t0.Add(2*time.Second), c) {
		t.Fatal("expired sources were not forgotten to make room")
	}
}

const netnsEnv = "DISPERSY_LAN_NETNS"

// TestLANDiscovery: two nodes with no tracker and no bootstrap address
// find each other by their beacons, over real multicast on loopback. The
// test re-runs itself in a network namespace of its own (unshare -n) with
// multicast enabled on its loopback, so the host's network is untouched;
// it skips where it cannot create one.
func TestLANDiscovery(t *testing.T) {
	if os.Getenv(netnsEnv) != "1" {
		if testing.Short() {
			t.Skip("-short")
		}
		script := `ip link set lo up && ip link set lo multicast on && ip route add 239.0.0.0/8 dev lo src 127.0.0.1 && exec "$0" -test.run '^TestLANDiscovery$' -test.v -test.count=1`
		cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), netnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil && (bytes.Contains(out, []byte("unshare:")) || errors.Is(err, exec.ErrNotFound)) {
			t.Skipf("cannot create a network namespace for the LAN test (needs unshare and CAP_SYS_ADMIN): %v\n%s", err, out)
		}
		t.Logf("in the namespace:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestLANDiscovery")) {
			t.Fatalf("the LAN test failed in its namespace: %v", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type node struct {
		n *dispersy.Node
		d *lan.Discovery
		a netip.AddrPort
	}
	start := func(i int) node {
		ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		n, err := dispersy.NewNode(dispersy.DefaultNodeConfig(), dt.PeerKey(keys.Ed25519, 1, i), dt.NewMemStore(), ep)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = n.Run(ctx) }()
		t.Cleanup(func() { n.Close(); <-done })
		if _, err := n.Join(ctx, dt.NewDebugCommunity()); err != nil {
			t.Fatal(err)
		}
		d, err := lan.Start(ctx, n, lan.Config{Interval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return node{n, d, ep.LocalAddr()}
	}
	a, b := start(0), start(1)
	began := time.Now()
	cid := dt.DebugMaster.Public().CommunityID()
	knows := func(x, y node) bool {
		found := false
		_ = x.n.Do(ctx, func(e *dispersy.Engine) error {
			for _, c := range e.Community(cid).Table().Verified(e.Now()) {
				found = found || c.Sock() == y.a
			}
			return nil
		})
		return found
	}
	deadline := time.Now().Add(30 * time.Second)
	for !knows(a, b) || !knows(b, a) {
		if time.Now().After(deadline) {
			sa, _ := a.n.Stats(ctx)
			sb, _ := b.n.Stats(ctx)
			t.Fatalf("no mutual verification within 30 s; stats a=%+v b=%+v\nengine a:\n%s\nengine b:\n%s", a.d.Stats(), b.d.Stats(), sa, sb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("verified each other after %v; stats a=%+v b=%+v", time.Since(began).Round(time.Millisecond), a.d.Stats(), b.d.Stats())
	if s := a.d.Stats(); s.Introduced == 0 || s.Own == 0 {
		t.Fatalf("a's stats %+v: want beacons introduced and its own looped back", s)
	}

	// A flood of forged beacons, each claiming another port, from one
	// source: at most one candidate per interval gets through.
	before, floodStart := a.d.Stats(), time.Now()
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const flood = 300
	for i := range flood {
		pkt, _ := lan.Beacon{Nonce: uint64(i), Port: uint16(20000 + i), Communities: []keys.CommunityID{cid}}.AppendBinary(nil)
		if _, err := conn.WriteToUDPAddrPort(pkt, lan.DefaultGroup); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = conn.WriteToUDPAddrPort([]byte("garbage"), lan.DefaultGroup)
	heard := func(s lan.Stats) uint64 { return s.Received - s.Own }
	for heard(a.d.Stats()) < heard(before)+flood+1 && time.Since(floodStart) < 3*time.Second {
		time.Sleep(20 * time.Millisecond) // multicast may drop some of the burst: then wait out the 3 s
	}
	after, elapsed := a.d.Stats(), time.Since(floodStart)
	intervals := uint64(elapsed/(200*time.Millisecond)) + 1
	if d := after.Introduced - before.Introduced; d > intervals {
		t.Fatalf("%d forged beacons introduced %d candidates in %v (%d intervals); want at most one per interval", flood, d, elapsed, intervals)
	}
	// Every datagram heard got exactly one verdict, and the flood was
	// mostly refused.
	sum := func(s lan.Stats) uint64 { return s.Own + s.Malformed + s.RateLimited + s.Unknown + s.Introduced }
	if after.Received-before.Received != sum(after)-sum(before) || after.RateLimited-before.RateLimited < (heard(after)-heard(before))/2 {
		t.Fatalf("flood stats before %+v after %+v", before, after)
	}
	t.Logf("flood of %d forged beacons: %d introduced, %d rate-limited in %v", flood, after.Introduced-before.Introduced, after.RateLimited-before.RateLimited, elapsed.Round(time.Millisecond))
}
