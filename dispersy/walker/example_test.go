package walker_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// One walker step and one incoming introduction request, on engine time.
func Example() {
	addrs, err := walker.NewAddresses(netip.MustParseAddrPort("192.168.1.10:7759"),
		netip.MustParsePrefix("192.168.1.0/24"))
	if err != nil {
		panic(err)
	}
	tbl, err := walker.NewTable(walker.DefaultConfig(), addrs)
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// A tracker list names a peer: it is walkable, in category discovered.
	tracker := netip.MustParseAddrPort("130.161.119.206:6421")
	tbl.Discovered(now, walker.Contact{Sock: tracker})
	tbl.Cleanup(now)
	if c := tbl.NextWalk(now, rng); c != nil {
		tbl.Walk(now, c.Sock())
		fmt.Println("walk to", c.Sock(), "category", c.Category(now))
	}

	// The tracker answers; it saw us at 5.6.7.8:40000.
	c, _ := tbl.WalkResponse(now.Add(time.Second), walker.Contact{Sock: tracker, LAN: tracker, WAN: tracker})
	res := addrs.Vote(tracker, netip.MustParseAddrPort("5.6.7.8:40000"))
	fmt.Println(c.Category(now.Add(time.Second)), "WAN changed:", res.WANChanged, "now", addrs.WAN(), addrs.Connection())

	// A peer behind another NAT sends us an introduction request and asks
	// to be introduced to someone: we introduce the tracker.
	src := netip.MustParseAddrPort("9.9.9.9:1234")
	p, _ := tbl.Stumble(now.Add(2*time.Second), walker.Contact{Sock: src,
		LAN: netip.MustParseAddrPort("10.0.0.5:7759"), WAN: netip.AddrPort{}})
	fmt.Println("stumble", p.Sock(), "LAN", p.LAN(), "WAN", p.WAN())
	fmt.Println("introduce", tbl.Introduce(now.Add(2*time.Second), p, rng).Sock())
	// Output:
	// walk to 130.161.119.206:6421 category discovered
	// walk WAN changed: true now 5.6.7.8:40000 unknown
	// stumble 9.9.9.9:1234 LAN 10.0.0.5:7759 WAN 9.9.9.9:1234
	// introduce 130.161.119.206:6421
}
