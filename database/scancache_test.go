package database

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// TestConformanceKeyCache runs the Store conformance suite with the key
// cache built at the first Scan, so that every Scan after it is served
// from memory.
func TestConformanceKeyCache(t *testing.T) {
	defer func(n int) { scanCacheFirst = n }(scanCacheFirst)
	scanCacheFirst = 0
	dispersytest.TestStore(t, func(t *testing.T) dispersy.Store { return openTemp(t, Options{}) })
}

// scanAll returns the rows of q.
func scanAll(t *testing.T, s dispersy.Store, q dispersy.ScanQuery) []dispersy.ScanRow {
	t.Helper()
	out := []dispersy.ScanRow{}
	if err := s.Scan(q, func(r dispersy.ScanRow) bool { out = append(out, r); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestScanKeyCache: Scan from the cache gives what SQL gives (MemStore is
// the oracle), for random queries in both directions, with types, modulo
// classes and undone messages; the cache is built once the keys read
// through SQL reach the estimate, serves the scans after it without SQL,
// and an Apply makes the next Scan see the new state.
func TestScanKeyCache(t *testing.T) {
	defer func(n int) { scanCacheFirst = n }(scanCacheFirst)
	scanCacheFirst = 500
	s := openTemp(t, Options{})
	defer s.Close()
	mem := dispersytest.NewMemStore()
	defer mem.Close()
	both := func(b *dispersy.Batch) {
		t.Helper()
		for _, st := range []dispersy.Store{s, mem} {
			if err := st.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	var b dispersy.Batch
	other := keys.CommunityID{0x07}
	for _, c := range []keys.CommunityID{benchCID, other} {
		b.PutCommunity(dispersy.CommunityRecord{ID: c, Master: []byte("m"), Me: keys.MemberID{1}})
	}
	both(&b)
	rng := rand.New(rand.NewPCG(1, 1))
	buf := make([]byte, benchPacketSize*2000)
	put := func(from, to int) {
		b.Reset()
		for i := from; i < to; i++ {
			r := benchRecordOf(i, 7, buf[(i-from)*benchPacketSize:])
			r.MessageID = uint8(1 + i%3)
			if i%5 == 0 {
				r.Community = other
			}
			b.Put(r)
		}
		both(&b)
	}
	put(0, 2000)
	check := func(n int) {
		t.Helper()
		for range n {
			q := dispersy.ScanQuery{Community: benchCID, Types: []uint8{uint8(1 + rng.IntN(3))}, From: rng.Uint64N(1100), Descending: rng.IntN(2) == 0}
			if rng.IntN(2) == 0 {
				q.Types = append(q.Types, 1+q.Types[0]%3)
			}
			if rng.IntN(3) == 0 {
				q.Modulo, q.Offset = 2+rng.Uint64N(4), rng.Uint64N(9)
			}
			got, want := scanAll(t, s, q), scanAll(t, mem, q)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Scan(%+v): %d rows, MemStore %d", q, len(got), len(want))
			}
		}
	}
	check(1)
	if s.keysCached(benchCID) {
		t.Fatal("cached after one scan")
	}
	check(20)
	if !s.keysCached(benchCID) {
		t.Fatal("not cached after 20 scans without an Apply")
	}
	st := s.scans.comms[1]
	read := st.read
	check(50)
	if st.read != read {
		t.Fatalf("cached scans read %d keys through SQL", st.read-read)
	}
	// Undo some, add some: the next Scan sees them.
	b.Reset()
	for i := 0; i < 2000; i += 7 {
		if i%5 != 0 {
			r := benchRecordOf(i, 7, buf)
			b.SetUndone(benchCID, dispersy.MessageKey{Member: r.Member, GlobalTime: r.GlobalTime}, true, dispersy.MessageKey{Member: keys.MemberID{1}, GlobalTime: 5000})
		}
	}
	both(&b)
	if s.keysCached(benchCID) {
		t.Fatal("still cached after an Apply")
	}
	check(60)
	if !s.keysCached(benchCID) {
		t.Fatal("not cached again after 60 scans")
	}
	// A batch of puts only patches the cache: still cached, and right.
	put(2000, 2600)
	if !s.keysCached(benchCID) {
		t.Fatal("a batch of puts dropped the cache")
	}
	read = st.read
	check(30)
	if st = s.scans.comms[1]; st.read != read {
		t.Fatalf("scans after a patch read %d keys through SQL", st.read-read)
	}
	put(2600, 2700)
	check(30)
	// Many small batches of puts between two Scans: their keys wait and
	// are merged once, by the next Scan, without SQL.
	for i := 2700; i < 3200; i += 10 {
		put(i, i+10)
	}
	st = s.scans.comms[1]
	if !st.built || len(st.pending) != 400 { // 500 puts, a fifth in the other community
		t.Fatalf("after 50 small batches: built %v, %d keys pending, want 400", st.built, len(st.pending))
	}
	read = st.read
	check(30)
	if st = s.scans.comms[1]; st.read != read || len(st.pending) != 0 {
		t.Fatalf("scans after 50 small batches read %d keys through SQL, %d still pending", st.read-read, len(st.pending))
	}
	// Beyond scanPatchMax pending keys an Apply drops the cache.
	defer func(n int) { scanPatchMax = n }(scanPatchMax)
	scanPatchMax = 100
	put(3200, 3300)
	put(3300, 3400)
	if s.keysCached(benchCID) {
		t.Fatal("still cached with more than scanPatchMax keys pending")
	}
	check(30)
}

// TestScanKeyCacheBuildDuringWrites: a store that takes writes all the
// time (a peer catching up) still gets its cache built. A put-only Apply
// that commits during the build's read, before the read's snapshot or
// after it, leaves a built cache with exactly the live keys; a delete
// committing during the read leaves no cache.
func TestScanKeyCacheBuildDuringWrites(t *testing.T) {
	defer func(n int) { scanCacheFirst = n }(scanCacheFirst)
	scanCacheFirst = 0
	defer func() { testHookBuild, testHookCommitted = nil, nil }()
	for _, c := range []struct {
		name   string
		before bool // the Apply commits before the read (the read sees it)
		del    bool // the Apply deletes instead of putting
	}{{"put-seen-by-read", true, false}, {"put-after-read", false, false}, {"delete", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t, Options{})
			defer s.Close()
			mem := dispersytest.NewMemStore()
			defer mem.Close()
			buf := make([]byte, benchPacketSize*400)
			batch := func(from, to int, del bool) *dispersy.Batch {
				var b dispersy.Batch
				if from == 0 {
					b.PutCommunity(dispersy.CommunityRecord{ID: benchCID, Master: []byte("m"), Me: keys.MemberID{1}})
				}
				for i := from; i < to; i++ {
					r := benchRecordOf(i, 3, buf[(i-from)*benchPacketSize:])
					if del {
						b.Delete(benchCID, dispersy.MessageKey{Member: r.Member, GlobalTime: r.GlobalTime})
					} else {
						b.Put(r)
					}
				}
				return &b
			}
			for _, st := range []dispersy.Store{s, mem} {
				if err := st.Apply(batch(0, 200, false)); err != nil {
					t.Fatal(err)
				}
			}
			during := batch(200, 400, false)
			if c.del {
				during = batch(0, 100, true)
			}
			if err := mem.Apply(during); err != nil {
				t.Fatal(err)
			}
			applied := make(chan error, 1)
			committing := make(chan struct{})
			testHookCommitted = func() { close(committing) }
			testHookBuild = func(after bool) {
				if after == c.before {
					return
				}
				testHookBuild = nil
				go func() { applied <- s.Apply(during) }()
				<-committing // committed, and about to wait for the cache's lock
			}
			q := dispersy.ScanQuery{Community: benchCID, Types: []uint8{1, 2}}
			scanAll(t, s, q) // builds the cache, with the Apply in the middle
			testHookCommitted = nil
			if err := <-applied; err != nil {
				t.Fatal(err)
			}
			if got := s.keysCached(benchCID); got == c.del {
				t.Fatalf("cached = %v after a build overlapped by this Apply", got)
			}
			for _, q := range []dispersy.ScanQuery{q, {Community: benchCID, Types: []uint8{1}, From: 150, Descending: true}, {Community: benchCID, Types: []uint8{2}, Modulo: 3, Offset: 1}} {
				if got, want := scanAll(t, s, q), scanAll(t, mem, q); !reflect.DeepEqual(got, want) {
					t.Fatalf("Scan(%+v): %d rows, MemStore %d", q, len(got), len(want))
				}
			}
		})
	}
}
