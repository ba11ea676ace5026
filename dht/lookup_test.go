package dht

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestLookupInFlightLimit(t *testing.T) {
	self, target := idFrom(0xff), idFrom(0x00)
	var seeds []Contact
	for i := range 10 {
		seeds = append(seeds, contactOf(idFrom(byte(i+1))))
	}
	l := NewLookup(self, target, seeds, LookupConfig{K: 5}, t0)
	q := l.Next(t0)
	if !slices.Equal(idsOf(q), idsOf(seeds[:3])) {
		t.Fatalf("first queries %v, want the 3 closest seeds", idsOf(q))
	}
	if more := l.Next(t0); len(more) != 0 {
		t.Fatalf("sent %d more with 3 in flight", len(more))
	}
	// An answer from a node never asked is ignored.
	if l.OnNodes(seeds[9].ID, []Contact{contactOf(idFrom(0x00, 1))}, t0) {
		t.Fatal("unsolicited answer used")
	}
	if !l.OnNodes(q[0].ID, nil, t0) {
		t.Fatal("answer of an asked node not used")
	}
	if l.OnNodes(q[0].ID, nil, t0) {
		t.Fatal("second answer of one node used")
	}
	if next := l.Next(t0); len(next) != 1 || next[0].ID != seeds[3].ID {
		t.Fatalf("after one answer: %v, want the 4th seed", idsOf(next))
	}
	// A timeout frees a slot and the node is asked again (retry).
	l.OnTimeout(q[1].ID)
	if next := l.Next(t0); len(next) != 1 || next[0].ID != q[1].ID {
		t.Fatalf("after a timeout: %v, want a retry of %v", idsOf(next), q[1].ID)
	}
	// A late answer after the timeout still counts.
	got := l.Expire(t0.Add(DefaultRPCTimeout))
	if len(got) != 3 {
		t.Fatalf("expired %v, want 3 in flight", got)
	}
	if !l.OnNodes(q[2].ID, nil, t0.Add(DefaultRPCTimeout)) {
		t.Fatal("late answer not used")
	}
}

// TestLookupTermination runs lookups on small simulated networks with
// honest and adversarial nodes: every lookup ends, and where honest nodes
// can reach the target's neighbourhood it ends Converged on the true K
// closest.
func TestLookupTermination(t *testing.T) {
	const k = DefaultK
	type adversary func(n *simNet, self ID) answerFunc
	far := func(n *simNet, self ID) answerFunc {
		return func(target ID) ([]Contact, *Record) {
			var out []Contact
			for range k { // ids sharing no bit with the target: maximally far, nonexistent
				id := randID(n.rng)
				id[0] = target[0] ^ 0x80 | (id[0] & 0x7f)
				out = append(out, contactOf(id))
			}
			return out, nil
		}
	}
	itself := func(n *simNet, self ID) answerFunc {
		return func(ID) ([]Contact, *Record) { return []Contact{contactOf(self)}, nil }
	}
	fakeClose := func(n *simNet, self ID) answerFunc {
		return func(target ID) ([]Contact, *Record) {
			var out []Contact
			for i := range 200 { // nonexistent ids next to the target; only K are read
				id := target
				id[19] ^= byte(i + 1)
				id[18] ^= byte(n.rng.Uint32())
				out = append(out, contactOf(id))
			}
			return out, nil
		}
	}
	realFar := func(n *simNet, self ID) answerFunc {
		return func(target ID) ([]Contact, *Record) {
			all := slices.Clone(n.ids)
			slices.SortFunc(all, func(a, b ID) int { return -CmpDistance(target, a, b) })
			var out []Contact
			for _, id := range all[:k] { // the farthest real nodes
				out = append(out, contactOf(id))
			}
			return out, nil
		}
	}
	tests := []struct {
		name      string
		nodes     int
		share     float64 // of nodes that are adversaries
		adv       adversary
		loss      float64
		wantExact bool // result must be the true K closest
		// refused: the adversaries' answers list themselves and are
		// refused, so the true K closest are the honest ones, and a lookup
		// among adversaries only may end with no result.
		refused bool
	}{
		{name: "honest", nodes: 150, wantExact: true},
		{name: "honest with loss", nodes: 150, loss: 0.1},
		{name: "30% answer with themselves", nodes: 150, share: 0.3, adv: itself, wantExact: true, refused: true},
		{name: "30% answer with far nonexistent nodes", nodes: 150, share: 0.3, adv: far, wantExact: true},
		{name: "30% answer with far real nodes", nodes: 150, share: 0.3, adv: realFar, wantExact: true},
		{name: "30% answer with nonexistent nodes next to the target", nodes: 150, share: 0.3, adv: fakeClose, wantExact: true},
		{name: "all but one answer with themselves", nodes: 60, share: 0.98, adv: itself, refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newSimNet(uint64(len(tc.name)), 0)
			n.build(t, tc.nodes)
			honest := slices.Clone(n.ids)
			if tc.adv != nil {
				nAdv := int(tc.share * float64(len(n.ids)))
				for _, id := range n.ids[len(n.ids)-nAdv:] {
					n.override[id] = tc.adv(n, id)
				}
				honest = n.ids[:len(n.ids)-nAdv]
			}
			n.loss = tc.loss
			queries := 0
			defer func() { t.Logf("%.1f queries per lookup", float64(queries)/40) }()
			for range 40 {
				origin := honest[n.rng.IntN(len(honest))]
				target := randID(n.rng)
				l := n.lookup(origin, target, false)
				if !l.Done() || l.Status() == TimedOut || (len(l.Result()) == 0 && !tc.refused) {
					t.Fatalf("lookup ended %v with %d results", l.Status(), len(l.Result()))
				}
				queries += l.Queries()
				if l.Queries() > 10*k {
					t.Errorf("lookup sent %d queries", l.Queries())
				}
				for _, id := range l.Distrusted() {
					if n.override[id] == nil && tc.loss == 0 {
						t.Errorf("honest node %v distrusted", id)
					}
				}
				if !tc.wantExact {
					continue
				}
				others := slices.DeleteFunc(slices.Clone(n.ids), func(id ID) bool { return id == origin })
				want := naiveClosest(others, target, k)
				if tc.refused {
					// Answers hold K contacts, so a lookup sees the honest
					// nodes among the K closest (and sometimes a few more).
					want = slices.DeleteFunc(want, func(id ID) bool { return n.override[id] != nil })
					got := idsOf(l.Result())
					if len(got) < len(want) || !slices.Equal(got[:len(want)], want) || slices.ContainsFunc(got, func(id ID) bool { return n.override[id] != nil }) {
						t.Fatalf("%v: result\n%v\nwant first\n%v", l.Status(), got, want)
					}
					continue
				}
				if got := idsOf(l.Result()); !slices.Equal(got, want) {
					t.Fatalf("%v: result\n%v\nwant\n%v", l.Status(), got, want)
				}
				if l.Status() != Converged {
					t.Fatalf("status %v, want converged", l.Status())
				}
			}
		})
	}
}

func TestLookupEnds(t *testing.T) {
	silent := []Contact{contactOf(idFrom(1)), contactOf(idFrom(2))}
	tests := []struct {
		name        string
		seeds       []Contact
		cfg         LookupConfig
		wantStatus  Status
		wantQueries int
	}{
		{name: "no seeds", cfg: LookupConfig{}, wantStatus: Exhausted},
		{name: "only the own id", seeds: []Contact{contactOf(idFrom(0xee))}, wantStatus: Exhausted},
		{name: "silent seeds, retried twice", seeds: silent, wantStatus: Exhausted, wantQueries: 6},
		{name: "silent seeds, no retry", seeds: silent, cfg: LookupConfig{Retries: -1}, wantStatus: Exhausted, wantQueries: 2},
		{name: "overall timeout first", seeds: silent, cfg: LookupConfig{Timeout: 7 * time.Second}, wantStatus: TimedOut, wantQueries: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLookup(idFrom(0xee), idFrom(0), tc.seeds, tc.cfg, t0)
			now := t0
			for i := 0; !l.Done(); i++ {
				if i > 100 {
					t.Fatal("lookup does not end")
				}
				l.Next(now)
				now = now.Add(DefaultRPCTimeout)
				l.Expire(now)
			}
			if l.Status() != tc.wantStatus || l.Queries() != tc.wantQueries {
				t.Fatalf("ended %v after %d queries, want %v after %d", l.Status(), l.Queries(), tc.wantStatus, tc.wantQueries)
			}
			if l.Next(now) != nil {
				t.Fatal("Next after the end")
			}
		})
	}
}

func TestLookupValueAndCache(t *testing.T) {
	target := idFrom(0x00)
	a, b, c := contactOf(idFrom(0x01)), contactOf(idFrom(0x02)), contactOf(idFrom(0x04))
	l := NewLookup(idFrom(0xff), target, []Contact{a, b, c}, LookupConfig{}, t0)
	l.Next(t0)
	l.OnNodes(a.ID, nil, t0)
	rec := NewContent([]byte("x"), time.Time{})
	l.OnValue(c.ID, rec)
	if l.Status() != FoundValue || l.Value() != rec || l.Hops() != 1 {
		t.Fatalf("status %v value %v hops %d", l.Status(), l.Value(), l.Hops())
	}
	if at, ok := l.CacheAt(); !ok || at.ID != a.ID {
		t.Fatalf("cache at %v %v, want the closest node that answered without it", at.ID, ok)
	}
	if l.OnNodes(b.ID, nil, t0) {
		t.Fatal("answer used after the end")
	}
}

// TestLookupQuorum collects three value answers: the newest owner record
// wins whatever the order, the holder of the older one is stale, and a
// lookup with fewer values than the quorum still ends with the value.
func TestLookupQuorum(t *testing.T) {
	exp := t0.Add(time.Hour)
	old := mustOwned(t, alice, "n", "old", t0, exp)
	cur := mustOwned(t, alice, "n", "new", t0.Add(time.Second), exp)
	a, b, c, d := contactOf(idFrom(0x01)), contactOf(idFrom(0x02)), contactOf(idFrom(0x04)), contactOf(idFrom(0x08))
	l := NewLookup(idFrom(0xff), idFrom(0), []Contact{a, b, c, d}, LookupConfig{Quorum: 3}, t0)
	l.Next(t0)
	l.OnValue(a.ID, cur)
	l.OnValue(b.ID, old)
	if l.Done() {
		t.Fatal("ended before the quorum")
	}
	l.Next(t0)
	l.OnNodes(d.ID, nil, t0)
	l.OnValue(c.ID, cur)
	if l.Status() != FoundValue || !l.Value().Equal(cur) {
		t.Fatalf("status %v value %q, want the newest", l.Status(), l.Value().Value)
	}
	if st := idsOf(l.Stale()); len(st) != 1 || st[0] != b.ID {
		t.Fatalf("stale %v, want the holder of the old version", st)
	}
	if at, ok := l.CacheAt(); !ok || at.ID != d.ID {
		t.Fatalf("cache at %v", at.ID)
	}

	// Fewer values than the quorum and nobody left: FoundValue anyway.
	l = NewLookup(idFrom(0xff), idFrom(0), []Contact{a, b}, LookupConfig{Quorum: 3}, t0)
	l.Next(t0)
	l.OnValue(a.ID, old)
	l.OnNodes(b.ID, nil, t0)
	l.Next(t0)
	if l.Status() != FoundValue || !l.Value().Equal(old) {
		t.Fatalf("status %v, want found-value with one value", l.Status())
	}
}

// TestLookupDistrust: an answerer whose introductions all fail is
// distrusted and the rest of what it alone introduced is dropped unasked
// (asked only when nobody else is left); a dropped node that an honest
// answerer also names is asked at once.
func TestLookupDistrust(t *testing.T) {
	target := idFrom(0x00)
	liar := contactOf(idFrom(0x40))
	l := NewLookup(idFrom(0xff), target, []Contact{liar}, LookupConfig{Retries: -1, Alpha: 1}, t0)
	l.Next(t0)
	var fakes []Contact
	for i := range 6 {
		fakes = append(fakes, contactOf(idFrom(0x00, byte(i+1))))
	}
	real := contactOf(idFrom(0x00, 0x10)) // the liar also names one real node, farther than the fakes
	l.OnNodes(liar.ID, append(slices.Clone(fakes), real), t0)
	for range 3 { // three fakes time out one by one (α = 1, no retry)
		q := l.Next(t0)
		if len(q) != 1 {
			t.Fatalf("queries %v", idsOf(q))
		}
		l.OnTimeout(q[0].ID)
	}
	if d := l.Distrusted(); len(d) != 1 || d[0] != liar.ID {
		t.Fatalf("distrusted %v, want the liar", d)
	}
	// The other fakes and the real node were dropped unasked. With nobody
	// else left they are asked after all, closest first, rather than the
	// lookup giving up (under churn honest answerers introduce dead nodes
	// too): the real node is found.
	for range 3 {
		q := l.Next(t0)
		if len(q) != 1 || !slices.Contains(idsOf(fakes), q[0].ID) {
			t.Fatalf("after distrust: queries %v, status %v, want a dropped fake", idsOf(q), l.Status())
		}
		l.OnTimeout(q[0].ID)
	}
	if q := l.Next(t0); len(q) != 1 || q[0].ID != real.ID {
		t.Fatalf("after the fakes: queries %v, status %v, want the real node", idsOf(q), l.Status())
	}
	l.OnNodes(real.ID, nil, t0)
	if l.Next(t0); l.Status() != Exhausted || len(l.Result()) != 2 || l.Result()[0].ID != real.ID {
		t.Fatalf("status %v, result %v", l.Status(), idsOf(l.Result()))
	}

	// Again, but an honest seed answers first and names the real node too.
	honest := contactOf(idFrom(0x80))
	l = NewLookup(idFrom(0xff), target, []Contact{liar, honest}, LookupConfig{Retries: -1, Alpha: 1}, t0)
	l.Next(t0)
	l.OnNodes(liar.ID, append(slices.Clone(fakes), real), t0)
	for range 3 {
		l.OnTimeout(l.Next(t0)[0].ID)
	}
	// Only the honest seed is left to ask; it names the real node.
	if q := l.Next(t0); len(q) != 1 || q[0].ID != honest.ID {
		t.Fatalf("after distrust: %v, want the honest seed", idsOf(q))
	}
	l.OnNodes(honest.ID, []Contact{real}, t0)
	if q := l.Next(t0); len(q) != 1 || q[0].ID != real.ID {
		t.Fatalf("real node vouched for by an honest answerer not asked: %v", idsOf(q))
	}
}

// TestLookupAlternativeAddress: the first answerer to name a node gives a
// wrong address; the lookup tries the address another answerer gave once
// the first fails, and reaches the node.
func TestLookupAlternativeAddress(t *testing.T) {
	target := idFrom(0x00)
	liar, honest := contactOf(idFrom(0x40)), contactOf(idFrom(0x80))
	node := contactOf(idFrom(0x00, 0x01))
	wrong := Contact{ID: node.ID, Addr: netip.MustParseAddrPort("192.0.2.99:9")}
	for _, order := range []string{"liar first", "honest after the failure"} {
		l := NewLookup(idFrom(0xff), target, []Contact{liar, honest}, LookupConfig{Retries: -1}, t0)
		l.Next(t0) // both seeds
		l.OnNodes(liar.ID, []Contact{wrong}, t0)
		if order == "liar first" {
			l.OnNodes(honest.ID, []Contact{node}, t0)
		}
		q := l.Next(t0)
		if len(q) != 1 || q[0] != wrong {
			t.Fatalf("%s: first query %v, want the node at the first address given", order, q)
		}
		l.OnTimeout(node.ID)
		if order != "liar first" {
			l.OnNodes(honest.ID, []Contact{node}, t0)
		}
		q = l.Next(t0)
		if len(q) != 1 || q[0] != node {
			t.Fatalf("%s: after the failure %v, want the node at the other address", order, q)
		}
		l.OnNodes(node.ID, nil, t0)
		if res := l.Result(); len(res) == 0 || res[0] != node {
			t.Fatalf("%s: result %v", order, res)
		}
	}
}

// TestLookupFinalRound: with FinalRound, a find-value lookup about to end
// without a value asks the close nodes that failed once more, and finds
// the value a holder that lost every earlier attempt holds; without it the
// lookup ends without the value.
func TestLookupFinalRound(t *testing.T) {
	target := idFrom(0x00)
	holder, other := contactOf(idFrom(0x01)), contactOf(idFrom(0x80))
	rec := NewContent([]byte("v"), time.Time{})
	for _, final := range []bool{false, true} {
		l := NewLookup(idFrom(0xff), target, []Contact{holder, other}, LookupConfig{Retries: -1, FinalRound: final}, t0)
		for _, c := range l.Next(t0) {
			if c.ID == holder.ID {
				l.OnTimeout(c.ID) // lost
			} else {
				l.OnNodes(c.ID, nil, t0)
			}
		}
		q := l.Next(t0)
		if !final {
			if len(q) != 0 || l.Status() != Exhausted || l.FinalRound() {
				t.Fatalf("without a final round: queries %v, status %v", idsOf(q), l.Status())
			}
			continue
		}
		if len(q) != 1 || q[0].ID != holder.ID || !l.FinalRound() {
			t.Fatalf("final round: queries %v, status %v", idsOf(q), l.Status())
		}
		l.OnValue(holder.ID, rec)
		if l.Status() != FoundValue {
			t.Fatalf("status %v after the final round's answer", l.Status())
		}
	}
}

// TestLookupRevivesCloseDropped: an honest answerer distrusted because its
// first introductions failed (loss, churn) had its other introductions
// dropped unasked; before converging on farther nodes the lookup asks the
// dropped ones closer than the K-th answerer.
func TestLookupRevivesCloseDropped(t *testing.T) {
	target := idFrom(0x00)
	a, b, c := contactOf(idFrom(0x80)), contactOf(idFrom(0x81)), contactOf(idFrom(0x82))
	near := contactOf(idFrom(0x20))
	dead := []Contact{contactOf(idFrom(0x10, 1)), contactOf(idFrom(0x10, 2))}
	l := NewLookup(idFrom(0xff), target, []Contact{a, b, c}, LookupConfig{K: 3, Alpha: 1, Retries: -1, MaxBadIntroductions: 2}, t0)
	l.OnNodes(l.Next(t0)[0].ID, append(slices.Clone(dead), near), t0) // a answers
	for range 2 {
		l.OnTimeout(l.Next(t0)[0].ID) // the two dead ones: a is distrusted, near dropped
	}
	for _, x := range []Contact{b, c} {
		if q := l.Next(t0); len(q) != 1 || q[0].ID != x.ID {
			t.Fatalf("queries %v, status %v, want %v", idsOf(q), l.Status(), x.ID)
		}
		l.OnNodes(x.ID, nil, t0)
	}
	q := l.Next(t0)
	if len(q) != 1 || q[0].ID != near.ID {
		t.Fatalf("queries %v, status %v: want the dropped near node asked before converging", idsOf(q), l.Status())
	}
	l.OnNodes(near.ID, nil, t0)
	if l.Next(t0); l.Status() != Converged || l.Result()[0].ID != near.ID {
		t.Fatalf("status %v, result %v", l.Status(), idsOf(l.Result()))
	}
}

// TestLookupRefusesSelfListingAnswers: an answer listing its own sender
// (what a node answering every query with itself sends; an honest node's
// table never holds itself) is not used: the sender is neither in the
// result nor asked again, it is distrusted, and the honest node behind it
// takes its place among the K closest.
func TestLookupRefusesSelfListingAnswers(t *testing.T) {
	self, target := idFrom(0xff), idFrom(0x00)
	liar, a, b := contactOf(idFrom(0x01)), contactOf(idFrom(0x02)), contactOf(idFrom(0x04))
	l := NewLookup(self, target, []Contact{liar, a, b}, LookupConfig{K: 2}, t0)
	askedLiar := false
	for !l.Done() {
		q := l.Next(t0)
		if len(q) == 0 && !l.Done() {
			t.Fatal("lookup stuck")
		}
		for _, c := range q {
			if c.ID == liar.ID {
				if askedLiar {
					t.Fatal("the liar was asked again")
				}
				askedLiar = true
				if l.OnNodes(liar.ID, []Contact{liar}, t0) {
					t.Fatal("a self-listing answer was used")
				}
				continue
			}
			l.OnNodes(c.ID, nil, t0)
		}
	}
	if !askedLiar {
		t.Fatal("the closest seed was never asked")
	}
	if got := idsOf(l.Result()); !slices.Equal(got, []ID{a.ID, b.ID}) {
		t.Fatalf("result %v, want the two honest nodes", got)
	}
	if got := l.Distrusted(); !slices.Equal(got, []ID{liar.ID}) {
		t.Fatalf("distrusted %v, want the liar", got)
	}
}
