package dht

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestCommonPrefixLenAndRandomInBucket(t *testing.T) {
	for _, tc := range []struct {
		a, b ID
		want int
	}{
		{idFrom(0x00), idFrom(0x80), 0},
		{idFrom(0x00), idFrom(0x01), 7},
		{idFrom(0xff, 0x00), idFrom(0xff, 0x10), 11},
		{idFrom(1, 2, 3), idFrom(1, 2, 3), IDBits},
	} {
		if got := CommonPrefixLen(tc.a, tc.b); got != tc.want {
			t.Errorf("CommonPrefixLen(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	self := randID(rng)
	for p := range IDBits {
		if got := CommonPrefixLen(self, RandomInBucket(self, p, rngReader{rng})); got != p {
			t.Fatalf("RandomInBucket(self, %d) shares %d bits", p, got)
		}
	}
}

func TestDistanceOrder(t *testing.T) {
	target := idFrom(0x10)
	a, b := idFrom(0x11), idFrom(0x30)
	if !Closer(target, a, b) || Closer(target, b, a) || Closer(target, a, a) {
		t.Fatal("Closer disagrees with XOR distance")
	}
	if CmpDistance(target, a, b) != -1 || CmpDistance(target, b, a) != 1 || CmpDistance(target, a, a) != 0 {
		t.Fatal("CmpDistance disagrees with XOR distance")
	}
	if got := a.Xor(b); got != idFrom(0x21) {
		t.Fatalf("Xor = %v", got)
	}
}

// TestTableSeen drives a table with K = 2 through sequences of sightings,
// failures and removals. The own id is 0x00..; ids starting with bit 1 share
// no bit with it (bucket 0 once the table has split).
func TestTableSeen(t *testing.T) {
	self := idFrom(0x00)
	cfg := TableConfig{K: 2, CacheSize: 2, MaxFailures: 2}
	far1, far2, far3, far4 := idFrom(0x80), idFrom(0x90), idFrom(0xa0), idFrom(0xb0)
	type step struct {
		op       string // "seen", "fail", "remove"
		id       ID
		want     SeenResult
		wantPing ID // zero: no ping asked
		removed  bool
	}
	tests := []struct {
		name       string
		steps      []step
		wantBucket map[ID]bool // ids that must be in a bucket (true) or absent (false)
		wantLen    int
	}{
		{
			name:    "own id is ignored",
			steps:   []step{{op: "seen", id: self, want: Ignored}},
			wantLen: 0,
		},
		{
			name:       "a contact whose address cannot go on the wire is ignored",
			steps:      []step{{op: "seen-bad-addr", id: far1, want: Ignored}},
			wantBucket: map[ID]bool{far1: false},
			wantLen:    0,
		},
		{
			name: "new contacts are added, a known one updated",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "seen", id: far2, want: Added},
				{op: "seen", id: far1, want: Updated},
			},
			wantBucket: map[ID]bool{far1: true, far2: true},
			wantLen:    2,
		},
		{
			name: "full far bucket caches and asks to ping the least recently seen, once",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "seen", id: far2, want: Added},
				{op: "seen", id: idFrom(0x01), want: Added}, // splits: far ids are bucket 0
				{op: "seen", id: far3, want: Cached, wantPing: far1},
				{op: "seen", id: far4, want: Cached}, // check of far1 outstanding
			},
			wantBucket: map[ID]bool{far1: true, far2: true, far3: false, far4: false},
			wantLen:    3,
		},
		{
			name: "the pinged contact answers: it stays, the next check pings the other",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "seen", id: far2, want: Added},
				{op: "seen", id: idFrom(0x01), want: Added},
				{op: "seen", id: far3, want: Cached, wantPing: far1},
				{op: "seen", id: far1, want: Updated},
				{op: "seen", id: far4, want: Cached, wantPing: far2},
			},
			wantBucket: map[ID]bool{far1: true, far2: true, far3: false, far4: false},
			wantLen:    3,
		},
		{
			name: "repeated failures remove the contact and promote the freshest cached one",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "seen", id: far2, want: Added},
				{op: "seen", id: idFrom(0x01), want: Added},
				{op: "seen", id: far3, want: Cached, wantPing: far1},
				{op: "seen", id: far4, want: Cached},
				{op: "fail", id: far1},
				{op: "fail", id: far1, removed: true},
			},
			wantBucket: map[ID]bool{far1: false, far2: true, far3: false, far4: true},
			wantLen:    3,
		},
		{
			name: "a success in between clears the failures",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "fail", id: far1},
				{op: "seen", id: far1, want: Updated},
				{op: "fail", id: far1},
			},
			wantBucket: map[ID]bool{far1: true},
			wantLen:    1,
		},
		{
			name: "failures without a replacement still remove",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "fail", id: far1},
				{op: "fail", id: far1, removed: true},
			},
			wantBucket: map[ID]bool{far1: false},
			wantLen:    0,
		},
		{
			name: "remove promotes a cached contact",
			steps: []step{
				{op: "seen", id: far1, want: Added},
				{op: "seen", id: far2, want: Added},
				{op: "seen", id: idFrom(0x01), want: Added},
				{op: "seen", id: far3, want: Cached, wantPing: far1},
				{op: "remove", id: far2, removed: true},
			},
			wantBucket: map[ID]bool{far1: true, far2: false, far3: true},
			wantLen:    3,
		},
		{
			name: "the own bucket splits instead of caching",
			steps: []step{
				{op: "seen", id: idFrom(0x01), want: Added},
				{op: "seen", id: idFrom(0x02), want: Added},
				{op: "seen", id: idFrom(0x04), want: Added},
				{op: "seen", id: idFrom(0x08), want: Added},
			},
			wantBucket: map[ID]bool{idFrom(0x01): true, idFrom(0x02): true, idFrom(0x04): true, idFrom(0x08): true},
			wantLen:    4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := NewTable(self, cfg, t0)
			now := t0
			for i, s := range tc.steps {
				now = now.Add(time.Second)
				switch s.op {
				case "seen":
					res, ping, need := tab.Seen(contactOf(s.id), now)
					if res != s.want {
						t.Fatalf("step %d: Seen(%v) = %v, want %v", i, s.id, res, s.want)
					}
					if need != (s.wantPing != ID{}) || (need && ping.ID != s.wantPing) {
						t.Fatalf("step %d: ping %v %v, want %v", i, need, ping.ID, s.wantPing)
					}
				case "seen-bad-addr":
					for _, a := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:1"), netip.MustParseAddrPort("10.0.0.1:0"), netip.MustParseAddrPort("[fe80::1%eth0]:1")} {
						if res, _, _ := tab.Seen(Contact{ID: s.id, Addr: a}, now); res != s.want {
							t.Fatalf("step %d: Seen(%v at %v) = %v, want %v", i, s.id, a, res, s.want)
						}
					}
				case "fail":
					if got := tab.Failed(s.id); got != s.removed {
						t.Fatalf("step %d: Failed(%v) removed = %v, want %v", i, s.id, got, s.removed)
					}
				case "remove":
					if got := tab.Remove(s.id); got != s.removed {
						t.Fatalf("step %d: Remove(%v) = %v", i, s.id, got)
					}
				}
			}
			for id, in := range tc.wantBucket {
				if _, ok := tab.Get(id); ok != in {
					t.Errorf("%v in a bucket: %v, want %v", id, ok, in)
				}
			}
			if tab.Len() != tc.wantLen || len(tab.Contacts()) != tc.wantLen {
				t.Errorf("Len %d, Contacts %d, want %d", tab.Len(), len(tab.Contacts()), tc.wantLen)
			}
		})
	}
}

// TestTableSplitKeepsInvariant fills a table with random ids and checks
// the tree: every contact is in the bucket of its range, no bucket is over
// K, and the buckets near the own id keep every contact offered to them.
func TestTableSplitKeepsInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	self := randID(rng)
	tab := NewTable(self, TableConfig{K: 8}, t0)
	var all []ID
	for range 5000 {
		id := randID(rng)
		all = append(all, id)
		tab.Seen(contactOf(id), t0)
	}
	for i, b := range tab.buckets {
		if len(b.entries) > 8 {
			t.Fatalf("bucket %d holds %d", i, len(b.entries))
		}
		for _, e := range b.entries {
			if tab.BucketIndex(e.ID) != i {
				t.Fatalf("contact %v in bucket %d, its range is %d", e.ID, i, tab.BucketIndex(e.ID))
			}
		}
	}
	// The 8 closest to the own id are always kept: their buckets never fill
	// up before splitting.
	got := idsOf(tab.Closest(self, 8))
	if want := naiveClosest(all, self, 8); !slices.Equal(got, want) {
		t.Fatalf("closest to self %v, want %v", got, want)
	}
	if tab.NumBuckets() < 8 {
		t.Fatalf("only %d buckets after 5000 contacts", tab.NumBuckets())
	}
}

// TestClosestMatchesNaive is a property test: Closest agrees with sorting
// every contact of the table by distance, for random tables, targets and n.
func TestClosestMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		self := randID(rng)
		k := 1 + rng.IntN(20)
		tab := NewTable(self, TableConfig{K: k}, t0)
		for range rng.IntN(400) {
			id := randID(rng)
			if rng.IntN(3) == 0 { // some ids near self, so the tree is deep
				copy(id[:1+rng.IntN(4)], self[:])
			}
			tab.Seen(contactOf(id), t0)
		}
		ids := idsOf(tab.Contacts())
		for range 10 {
			target := randID(rng)
			if rng.IntN(2) == 0 {
				target = self
				target[19] ^= byte(rng.Uint32())
			}
			n := rng.IntN(len(ids) + 5)
			got := idsOf(tab.Closest(target, n))
			want := naiveClosest(ids, target, n)
			if n == 0 {
				want = nil
			}
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("trial %d: Closest(%v, %d) = %v, want %v", trial, target, n, got, want)
			}
		}
	}
}

func TestTableRefresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	self := randID(rng)
	cfg := TableConfig{K: 4, RefreshInterval: time.Hour}
	tab := NewTable(self, cfg, t0)
	for range 200 {
		tab.Seen(contactOf(randID(rng)), t0)
	}
	nb := tab.NumBuckets()
	if got := tab.Refresh(t0.Add(59*time.Minute), rngReader{rng}); len(got) != 0 {
		t.Fatalf("refresh before the interval: %v", got)
	}
	// A lookup into bucket 0 at 0:30 keeps it fresh at 1:00.
	tab.Touch(RandomInBucket(self, 0, rngReader{rng}), t0.Add(30*time.Minute))
	got := tab.Refresh(t0.Add(time.Hour), rngReader{rng})
	if len(got) != nb-1 {
		t.Fatalf("refresh at 1:00: %d targets, want %d (every bucket but the touched one)", len(got), nb-1)
	}
	seen := map[int]bool{}
	for _, id := range got {
		i := tab.BucketIndex(id)
		if i == 0 || seen[i] {
			t.Fatalf("target %v in bucket %d: touched or twice", id, i)
		}
		seen[i] = true
	}
	if got := tab.Refresh(t0.Add(time.Hour+time.Minute), rngReader{rng}); len(got) != 0 {
		t.Fatalf("refreshed buckets reported again at once: %v", got)
	}
	if got := tab.Refresh(t0.Add(90*time.Minute), rngReader{rng}); len(got) != 1 || tab.BucketIndex(got[0]) != 0 {
		t.Fatalf("at 1:30 only bucket 0 is due, got %v", got)
	}
}

// TestTableRandomOps applies random sightings, failures and removals and
// checks the table's invariants after every step: the count matches the
// buckets, every contact and cached contact sits in the bucket of its
// range, an id is in at most one place, no bucket or cache is over its
// bound, and a ping is asked only for a contact of a full bucket.
func TestTableRandomOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 20 {
		self := randID(rng)
		cfg := TableConfig{K: 1 + rng.IntN(6), CacheSize: 1 + rng.IntN(3), MaxFailures: 1 + rng.IntN(3)}
		tab := NewTable(self, cfg, t0)
		var pool []ID
		for range 60 {
			id := randID(rng)
			copy(id[:rng.IntN(3)], self[:])
			pool = append(pool, id)
		}
		now := t0
		for step := range 2000 {
			now = now.Add(time.Second)
			id := pool[rng.IntN(len(pool))]
			switch op := rng.IntN(10); {
			case op < 6:
				_, ping, need := tab.Seen(contactOf(id), now)
				if need {
					b := tab.buckets[tab.BucketIndex(ping.ID)]
					if len(b.entries) != cfg.K || b.entries[0].ID != ping.ID {
						t.Fatalf("trial %d step %d: ping of %v, not the head of a full bucket", trial, step, ping.ID)
					}
				}
			case op < 9:
				tab.Failed(id)
			default:
				tab.Remove(id)
			}
			where := map[ID]int{}
			n := 0
			for i, b := range tab.buckets {
				if len(b.entries) > cfg.K || len(b.cache) > cfg.CacheSize {
					t.Fatalf("trial %d step %d: bucket %d holds %d, cache %d", trial, step, i, len(b.entries), len(b.cache))
				}
				for _, e := range append(slices.Clone(b.entries), b.cache...) {
					if tab.BucketIndex(e.ID) != i || e.ID == self {
						t.Fatalf("trial %d step %d: %v in bucket %d", trial, step, e.ID, i)
					}
					where[e.ID]++
					if where[e.ID] > 1 {
						t.Fatalf("trial %d step %d: %v held twice", trial, step, e.ID)
					}
				}
				n += len(b.entries)
			}
			if n != tab.Len() {
				t.Fatalf("trial %d step %d: Len %d, buckets hold %d", trial, step, tab.Len(), n)
			}
		}
	}
}

func TestTableCountCloser(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	self := randID(rng)
	tab := NewTable(self, TableConfig{}, t0)
	for range 300 {
		tab.Seen(contactOf(randID(rng)), t0)
	}
	for range 50 {
		key := randID(rng)
		want := 0
		for _, c := range tab.Contacts() {
			if CmpDistance(key, c.ID, self) < 0 {
				want++
			}
		}
		if got := tab.CountCloser(key); got != want {
			t.Fatalf("CountCloser = %d, want %d", got, want)
		}
	}
	if tab.CountCloser(self) != 0 {
		t.Fatal("a contact is closer to the own id than the own id")
	}
}
