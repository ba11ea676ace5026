package walker

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// t0 is an arbitrary engine time; tests never read the clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// newAddrs returns addresses for a node at lan, with optional subnets.
func newAddrs(t testing.TB, lan string, subnets ...string) *Addresses {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range subnets {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	a, err := NewAddresses(ap(lan), ps...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newTable(t testing.TB, a *Addresses, mutate ...func(*Config)) *Table {
	t.Helper()
	cfg := DefaultConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	tbl, err := NewTable(cfg, a)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// self is the node under test in the candidate tests: a public host, so
// the 127.0.0.1 candidates are neither it nor voters that count.
const self = "130.161.119.206:6421"

// member returns a distinct member id per n.
func member(n int) keys.MemberID {
	var m keys.MemberID
	m[0], m[1] = byte(n>>8), byte(n)
	m[19] = 0xAA
	return m
}

// contactAt is a candidate on 127.0.0.1:port whose LAN and WAN are both its
// socket address, as Dispersy's test_candidates created them.
func contactAt(port int, tunnel bool) Contact {
	a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	return Contact{Sock: a, LAN: a, WAN: a, Tunnel: tunnel}
}

// flagged creates one candidate per flag string (ports 1..n), as Dispersy's
// create_candidates did: no timestamps yet.
func flagged(t testing.TB, tbl *Table, allFlags []string) []*Candidate {
	t.Helper()
	var cs []*Candidate
	for i, flags := range allFlags {
		c, ok := tbl.Add(t0, contactAt(i+1, strings.Contains(flags, "t")))
		if !ok {
			t.Fatalf("Add candidate %d refused", i+1)
		}
		cs = append(cs, c)
	}
	return cs
}

// setTimestamps applies the flags at now (Dispersy set_timestamps):
//
//	w  we walked to it (no reply yet)
//	r  it replied to a walk
//	e  we walked to it EligibleDelay ago and it replied
//	s  it walked to us (stumble)
//	i  someone introduced it
//	d  discovery named it
func setTimestamps(t testing.TB, tbl *Table, cs []*Candidate, allFlags []string, now time.Time) {
	t.Helper()
	for i, flags := range allFlags {
		c := cs[i]
		ct := contactAt(i+1, strings.Contains(flags, "t"))
		ok := true
		if strings.Contains(flags, "w") {
			ok = ok && tbl.Walk(now, c.Sock())
		}
		if strings.Contains(flags, "r") {
			ok = ok && tbl.Associate(c.Sock(), member(i+1))
			_, ok2 := tbl.WalkResponse(now, ct)
			ok = ok && ok2
		}
		if strings.Contains(flags, "e") {
			ok = ok && tbl.Associate(c.Sock(), member(i+1))
			ok = ok && tbl.Walk(now.Add(-tbl.Config().EligibleDelay), c.Sock())
			_, ok2 := tbl.WalkResponse(now, ct)
			ok = ok && ok2
		}
		if strings.Contains(flags, "s") {
			ok = ok && tbl.Associate(c.Sock(), member(i+1))
			_, ok2 := tbl.Stumble(now, ct)
			ok = ok && ok2
		}
		if strings.Contains(flags, "i") {
			_, ok2 := tbl.Intro(now, ct)
			ok = ok && ok2
		}
		if strings.Contains(flags, "d") {
			_, ok2 := tbl.Discovered(now, ct)
			ok = ok && ok2
		}
		if !ok {
			t.Fatalf("candidate %d (%q): an update was refused", i+1, flags)
		}
		if tbl.Get(c.Sock()) != c {
			t.Fatalf("candidate %d (%q) was replaced or merged", i+1, flags)
		}
	}
}

// socks returns the sorted socket addresses of cs; nil entries become
// "none".
func socks(cs []*Candidate) []string {
	var out []string
	for _, c := range cs {
		if c == nil {
			out = append(out, "none")
			continue
		}
		out = append(out, c.Sock().String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func has(flags string, any string) bool { return strings.ContainsAny(flags, any) }
