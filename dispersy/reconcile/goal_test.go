package reconcile

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

var universe struct {
	sync.Once
	items []Item
}

// universeItems returns n sorted items of the fixed universe (cached).
func universeItems(n int) []Item {
	universe.Do(func() {
		universe.items = make([]Item, 1_001_000)
		for k := range universe.items {
			universe.items[k] = mkItem(k)
		}
		slices.SortFunc(universe.items, Item.Compare)
	})
	return universe.items[:n]
}

// pairOf is pair over the cached universe: n common items and d differing
// ones, alternately missing from each side.
func pairOf(t testing.TB, n, d int, tail bool, seed uint64) (a, b *Index, onlyA, onlyB []Item) {
	all := universeItems(n + d)
	drop := make(map[int]bool, d)
	r := rand.New(rand.NewPCG(seed, 9))
	for len(drop) < d {
		k := r.IntN(len(all))
		if tail {
			k = len(all) - 1 - len(drop)
		}
		drop[k] = true
	}
	as, bs := make([]Item, 0, n+d), make([]Item, 0, n+d)
	side := 0
	for k, it := range all {
		switch {
		case !drop[k]:
			as, bs = append(as, it), append(bs, it)
		case side%2 == 0:
			as, onlyA = append(as, it), append(onlyA, it)
			side++
		default:
			bs, onlyB = append(bs, it), append(onlyB, it)
			side++
		}
	}
	var err error
	if a, err = Build(as); err != nil {
		t.Fatal(err)
	}
	if b, err = Build(bs); err != nil {
		t.Fatal(err)
	}
	return a, b, onlyA, onlyB
}

// goalBound is log_B(N/d) + 2, the round-trip goal of issue #13.
func goalBound(n, d, B int) float64 {
	return math.Log(float64(n)/float64(max(d, 1)))/math.Log(float64(B)) + 2
}

// TestGoalFigures measures the goals of issue #13 at N = 1,000,000 (100,000
// with -short): round trips and bytes each way for d = 0, 1, 10, 100, 1000,
// tail and random, with the default 1,000-byte message budget (one message
// per round trip, and 16: catch-up's MessagesPerRound) and with no budget.
// Asserted: every session finds exactly the symmetric difference; equal
// sets take one round trip of one message each way; d differences take at
// most log_B(N/d) + 2 round trips with no budget, and with 16 messages per
// round trip up to d = 100. Run with -v to see the table
// (docs/performance.md).
func TestGoalFigures(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	unlimited := Config{MaxMessageBytes: math.MaxInt32, MaxRounds: 1 << 20, MaxRanges: math.MaxInt32, MaxIDs: math.MaxInt32}
	datagram := Config{MaxRounds: 1 << 20}
	batch := Config{MaxRounds: 1 << 20, MaxMessagesPerRound: 16}
	t.Logf("N = %d, B = %d, id-list threshold = %d", n, DefaultBranch, DefaultBranch)
	t.Logf("%-6s %-7s %-9s %6s %6s %9s %9s %7s %7s %6s %6s", "d", "pattern", "budget", "rounds", "goal", "bytes a→b", "bytes b→a", "max a→b", "max b→a", "msgs→", "msgs←")
	for _, d := range []int{0, 1, 10, 100, 1000} {
		for _, tail := range []bool{true, false} {
			if d == 0 && !tail {
				continue
			}
			pattern := map[bool]string{true: "tail", false: "random"}[tail]
			a, b, onlyA, onlyB := pairOf(t, n, d, tail, uint64(d))
			for _, c := range []struct {
				name string
				cfg  Config
			}{{"1000 B", datagram}, {"16x1000 B", batch}, {"none", unlimited}} {
				var res result
				if c.cfg.MaxMessagesPerRound > 1 {
					res = simulateBatch(t, a, b, c.cfg, 1)
				} else {
					res = simulate(t, a, b, Zero, Infinity, c.cfg)
				}
				checkDiff(t, res, onlyA, onlyB)
				goal := goalBound(n, d, DefaultBranch)
				t.Logf("%-6d %-7s %-9s %6d %6.2f %9d %9d %7d %7d %6d %6d", d, pattern, c.name, res.rounds, goal,
					res.bytesAB, res.bytesBA, res.maxAB, res.maxBA, res.messagesAB, res.messagesBA)
				if d == 0 && (res.rounds != 1 || res.messagesAB != 1 || res.messagesBA != 1 || res.maxAB > DefaultMaxMessageBytes) {
					t.Errorf("equal sets: %d round trips, %d/%d messages, largest %d bytes", res.rounds, res.messagesAB, res.messagesBA, res.maxAB)
				}
				if (c.name == "none" || c.name == "16x1000 B" && d <= 100) && float64(res.rounds) > goal {
					t.Errorf("d=%d %s: %d round trips, goal %.2f", d, pattern, res.rounds, goal)
				}
			}
		}
	}
}

// TestBranchFigures measures the choice of B (and of the id-list threshold,
// kept equal to B) at N = 1M (100,000 with -short) for 1 and 100 scattered
// and 100 clustered differences under the default budget; every session
// must find the symmetric difference. Run with -v for the table.
func TestBranchFigures(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	t.Logf("%-4s %-7s %3s %6s %9s %9s", "d", "pattern", "B", "rounds", "bytes a→b", "bytes b→a")
	for _, c := range []struct {
		d    int
		tail bool
	}{{1, false}, {100, false}, {100, true}} {
		a, b, onlyA, onlyB := pairOf(t, n, c.d, c.tail, 100)
		for _, B := range []int{4, 8, 16, 32, 64} {
			res := simulate(t, a, b, Zero, Infinity, Config{Branch: B, MaxRounds: 1 << 20})
			checkDiff(t, res, onlyA, onlyB)
			t.Logf("%-4d %-7s %3d %6d %9d %9d", c.d, map[bool]string{true: "tail", false: "random"}[c.tail], B, res.rounds, res.bytesAB, res.bytesBA)
		}
	}
}
