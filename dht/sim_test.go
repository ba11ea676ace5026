package dht

import (
	"slices"
	"testing"
	"time"
)

// TestSimulatedLookups builds a network of routing tables connected by
// function calls, with 10% of all messages lost, and runs node lookups and
// value lookups from random nodes: every lookup must end, find the closest
// node, and nearly all of the K closest; hop counts are logged and bounded
// (issue 15's goal: p50 <= 3, p99 <= 6 at 1,000 nodes, 10% loss).
func TestSimulatedLookups(t *testing.T) {
	size, lookups := 1000, 1000
	if testing.Short() {
		size, lookups = 200, 200
	}
	n := newSimNet(15, 0)
	n.build(t, size) // join without loss, so the tables are realistic
	n.loss = 0.10
	k := DefaultK

	var hops []int
	closest, recall, queries := 0, 0, 0
	for range lookups {
		origin := n.ids[n.rng.IntN(len(n.ids))]
		target := randID(n.rng)
		l := n.lookup(origin, target, false)
		// Exhausted: every node near the target was asked and one of the
		// K closest never answered (lost twice); the result is still the
		// best there is.
		if st := l.Status(); (st != Converged && st != Exhausted) || len(l.Result()) == 0 {
			t.Fatalf("lookup of %v from %v ended %v with %d results", target, origin, st, len(l.Result()))
		}
		want := naiveClosest(slices.DeleteFunc(slices.Clone(n.ids), func(id ID) bool { return id == origin }), target, k)
		got := idsOf(l.Result())
		if got[0] == want[0] {
			closest++
		}
		for _, id := range want {
			if slices.Contains(got, id) {
				recall++
			}
		}
		hops = append(hops, l.Hops())
		queries += l.Queries()
	}
	p50, p99 := percentile(hops, 0.50), percentile(hops, 0.99)
	t.Logf("%d nodes, 10%% loss, %d node lookups: closest found %d/%d, K-closest recall %.4f, hops p50 %d p99 %d max %d, %.1f queries/lookup",
		size, lookups, closest, lookups, float64(recall)/float64(lookups*k), p50, p99, slices.Max(hops), float64(queries)/float64(lookups))
	if p50 > 3 || p99 > 6 {
		t.Errorf("hops p50 %d p99 %d, want <= 3 and <= 6", p50, p99)
	}
	if float64(closest) < 0.99*float64(lookups) {
		t.Errorf("closest node found in %d of %d lookups, want >= 99%%", closest, lookups)
	}
	if float64(recall) < 0.95*float64(lookups*k) {
		t.Errorf("K-closest recall %d of %d, want >= 95%%", recall, lookups*k)
	}

	// Values: each stored on the K closest of its key (as a store after a
	// lookup would), then found from random nodes.
	found := 0
	var vhops []int
	for i := range lookups {
		rec := NewContent([]byte{byte(i), byte(i >> 8), 'v'}, time.Time{})
		key := rec.Key()
		for _, id := range naiveClosest(n.ids, key, k) {
			if n.values[id] == nil {
				n.values[id] = map[ID]*Record{}
			}
			n.values[id][key] = rec
		}
		origin := n.ids[n.rng.IntN(len(n.ids))]
		l := n.lookup(origin, key, true)
		if l.Status() == FoundValue && l.Value().Equal(rec) {
			found++
			vhops = append(vhops, l.Hops())
		}
	}
	t.Logf("%d value lookups: found %d, hops p50 %d p99 %d", lookups, found, percentile(vhops, 0.5), percentile(vhops, 0.99))
	if float64(found) < 0.999*float64(lookups) {
		t.Errorf("values found %d of %d, want >= 99.9%%", found, lookups)
	}
}
