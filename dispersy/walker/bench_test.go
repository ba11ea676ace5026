package walker

import (
	"net/netip"
	"testing"
	"time"
)

// fullTable returns a table of n stumble candidates on distinct public
// addresses.
func fullTable(b *testing.B, n int) *Table {
	tbl := newTable(b, newAddrs(b, self), func(c *Config) { c.MaxCandidates = n })
	for i := range n {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 1}), 7759)
		if _, ok := tbl.Stumble(t0, Contact{Sock: a, LAN: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 7759), WAN: a}); !ok {
			b.Fatal("refused")
		}
	}
	return tbl
}

// BenchmarkNextWalk: one walk selection over a table of 1,024 candidates
// (a full default table; a normal peer holds a few dozen).
func BenchmarkNextWalk(b *testing.B) {
	tbl := fullTable(b, 1024)
	rng := newRand(1)
	now := t0.Add(time.Second)
	for b.Loop() {
		if tbl.NextWalk(now, rng) == nil {
			b.Fatal("nil")
		}
	}
}

// BenchmarkIntroduce: one introduction choice over 1,024 candidates.
func BenchmarkIntroduce(b *testing.B) {
	tbl := fullTable(b, 1024)
	rng := newRand(1)
	req := tbl.All()[0]
	now := t0.Add(time.Second)
	for b.Loop() {
		if tbl.Introduce(now, req, rng) == nil {
			b.Fatal("nil")
		}
	}
}

// BenchmarkStumble: an introduction request from a known peer, including
// the duplicate scan, in a table of 1,024 candidates.
func BenchmarkStumble(b *testing.B) {
	tbl := fullTable(b, 1024)
	c := tbl.All()[512]
	ct := Contact{Sock: c.Sock(), LAN: c.LAN(), WAN: c.WAN()}
	now := t0.Add(time.Second)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tbl.Stumble(now, ct); !ok {
			b.Fatal("refused")
		}
	}
}
