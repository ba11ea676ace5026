package walker

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestWalker is the selection part of Dispersy's test_walker: 1, 2 or 22
// nodes, tunnelled or not, are known to the central node (they introduced
// themselves earlier) and send it introduction requests with advice in one
// batch. No node is introduced to itself; a tunnelled node is introduced to
// someone whenever there is anyone else; a non-tunnelled node is introduced
// only to non-tunnelled nodes, and to one whenever another exists.
func TestWalker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"one", []string{""}},
		{"two", []string{"", ""}},
		{"many", slices.Repeat([]string{""}, 22)},
		{"one_t", []string{"t"}},
		{"two_t", []string{"t", "t"}},
		{"many_t", slices.Repeat([]string{"t"}, 22)},
		{"two_mixed_a", []string{"", "t"}},
		{"many_mixed_a", slices.Repeat([]string{"", "t"}, 11)},
		{"two_mixed_b", []string{"t", ""}},
		{"many_mixed_b", slices.Repeat([]string{"t", ""}, 11)},
	} {
		t.Run(tc.name, func(t *testing.T) { checkWalker(t, tc.flags) })
	}
}

func checkWalker(t *testing.T, flags []string) {
	// The central node is public; the nodes sit behind their own public
	// addresses 1.0.0.i:7759, LAN 10.0.0.i:7759.
	a := newAddrs(t, "130.161.119.206:6421", "130.161.119.0/24")
	tbl := newTable(t, a)
	rng := newRand(uint64(len(flags)))
	type node struct {
		contact Contact
		tunnel  bool
	}
	var nodes []node
	tunnelled := map[netip.AddrPort]bool{} // lookup only
	nonTunnelled := 0
	for i, f := range flags {
		wan := ap(fmt.Sprintf("1.0.0.%d:7759", i+1))
		ct := Contact{Sock: wan, LAN: ap(fmt.Sprintf("10.0.0.%d:7759", i+1)), WAN: wan, Tunnel: f == "t"}
		nodes = append(nodes, node{ct, ct.Tunnel})
		tunnelled[wan] = ct.Tunnel
		if !ct.Tunnel {
			nonTunnelled++
		}
	}
	// Earlier: every node introduced itself (the test harness's first
	// introduction request).
	for i, n := range nodes {
		if _, ok := tbl.Stumble(t0, n.contact); !ok {
			t.Fatal("stumble refused")
		}
		tbl.Associate(n.contact.Sock, member(i+1))
	}
	// The batch: each request stumbles again, then asks for an
	// introduction.
	now := t0.Add(5 * time.Second)
	for _, n := range nodes {
		req, ok := tbl.Stumble(now, n.contact)
		if !ok {
			t.Fatal("stumble refused")
		}
		intro := tbl.Introduce(now, req, rng)
		if intro == req || (intro != nil && (intro.LAN() == n.contact.LAN || intro.WAN() == n.contact.WAN)) {
			t.Fatalf("%v introduced to itself", n.contact.Sock)
		}
		if n.tunnel {
			if len(nodes) > 1 && intro == nil {
				t.Fatalf("tunnelled %v got no introduction among %d nodes", n.contact.Sock, len(nodes))
			}
			if intro != nil {
				if _, known := tunnelled[intro.WAN()]; !known {
					t.Fatalf("introduced an unknown node %v", intro)
				}
			}
			continue
		}
		if nonTunnelled > 1 && intro == nil {
			t.Fatalf("%v got no introduction among %d non-tunnelled nodes", n.contact.Sock, nonTunnelled)
		}
		if intro != nil && tunnelled[intro.WAN()] {
			t.Fatalf("non-tunnelled %v introduced to tunnelled %v", n.contact.Sock, intro)
		}
	}
}

// TestIntroduceSymmetricNAT: two peers behind symmetric NATs with
// different WAN IPs are never introduced to each other; behind the same
// WAN IP they are.
func TestIntroduceSymmetricNAT(t *testing.T) {
	tbl := newTable(t, newAddrs(t, "130.161.119.206:6421", "130.161.119.0/24"))
	rng := newRand(2)
	sym := func(wan, lan string) *Candidate {
		c, ok := tbl.Stumble(t0, Contact{Sock: ap(wan), LAN: ap(lan), WAN: ap(wan), Connection: ConnectionSymmetricNAT})
		if !ok {
			t.Fatal("refused")
		}
		return c
	}
	x := sym("1.1.1.1:1000", "10.0.0.1:1")
	y := sym("2.2.2.2:1000", "10.0.0.2:1")
	for range 20 {
		if c := tbl.Introduce(t0, x, rng); c != nil {
			t.Fatalf("symmetric %v introduced to symmetric %v behind another IP", x, c)
		}
	}
	z := sym("1.1.1.1:2000", "10.0.0.3:1") // same NAT as x
	for range 20 {
		if c := tbl.Introduce(t0, x, rng); c != z {
			t.Fatalf("Introduce(x) = %v, want %v", c, z)
		}
	}
	// A public requester may meet anyone.
	p, _ := tbl.Stumble(t0, Contact{Sock: ap("3.3.3.3:1"), LAN: ap("3.3.3.3:1"), WAN: ap("3.3.3.3:1")})
	seen := map[*Candidate]bool{}
	for range 20 {
		seen[tbl.Introduce(t0, p, rng)] = true
	}
	if len(seen) != 3 || !seen[x] || !seen[y] || !seen[z] {
		t.Fatalf("public requester met %d candidates", len(seen))
	}
}

// TestIntroduceStrict: a candidate whose LAN or WAN is unknown is never
// introduced (it could not be reached), but can still be walked to.
func TestIntroduceStrict(t *testing.T) {
	tbl := newTable(t, newAddrs(t, "130.161.119.206:6421", "130.161.119.0/24"))
	c, _ := tbl.Stumble(t0, Contact{Sock: ap("4.4.4.4:1")}) // LAN unknown
	rng := newRand(4)
	if got := tbl.Introduce(t0, nil, rng); got != nil {
		t.Fatalf("introduced %v with an unknown LAN", got)
	}
	if got := tbl.NextWalk(t0, rng); got != c {
		t.Fatalf("NextWalk = %v, want %v", got, c)
	}
}

// TestConfigScaled: every duration keeps its ratio to the step interval,
// the result still validates, and the other fields are left alone.
func TestConfigScaled(t *testing.T) {
	d := DefaultConfig()
	s := d.Scaled(d.StepInterval / 10)
	if err := s.Validate(); err != nil {
		t.Fatalf("scaled config invalid: %v", err)
	}
	for _, tc := range []struct {
		name      string
		got, from time.Duration
	}{
		{"StepInterval", s.StepInterval, d.StepInterval},
		{"WalkLifetime", s.WalkLifetime, d.WalkLifetime},
		{"StumbleLifetime", s.StumbleLifetime, d.StumbleLifetime},
		{"IntroLifetime", s.IntroLifetime, d.IntroLifetime},
		{"DiscoveredLifetime", s.DiscoveredLifetime, d.DiscoveredLifetime},
		{"EligibleDelay", s.EligibleDelay, d.EligibleDelay},
		{"IntroRequestTimeout", s.IntroRequestTimeout, d.IntroRequestTimeout},
	} {
		if tc.got != tc.from/10 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.from/10)
		}
	}
	if s.MaxCandidates != d.MaxCandidates || s.MedianMinCandidates != d.MedianMinCandidates {
		t.Errorf("counts changed: %+v", s)
	}
	if d.Scaled(d.StepInterval) != d {
		t.Error("scaling by 1 changed the config")
	}
}
