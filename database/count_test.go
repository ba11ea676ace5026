package database

import (
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
)

// TestCountCachedUntilWrite: a status page asks Count every second; while
// nothing is written the answer comes from the cache (no SQL), and every
// kind of write (put, delete, prune) is seen by the next Count.
func TestCountCachedUntilWrite(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	setupOne(t, s)
	count := func(want int) {
		t.Helper()
		if n, err := s.Count(testCID, []uint8{1}); err != nil || n != want {
			t.Fatalf("Count = %d, %v; want %d", n, err, want)
		}
	}
	count(1)
	before := s.countSQL.Load()
	for range 10 {
		count(1)
	}
	if got := s.countSQL.Load() - before; got != 0 {
		t.Fatalf("10 Counts without a write read SQL %d times, want 0", got)
	}
	if n, err := s.Count(testCID, []uint8{1, 2}); err != nil || n != 1 {
		t.Fatalf("Count of types 1,2 = %d, %v", n, err)
	}
	if got := s.countSQL.Load() - before; got != 1 {
		t.Fatalf("another type set read SQL %d times, want 1", got)
	}
	var b dispersy.Batch
	for gt := uint64(2); gt <= 5; gt++ {
		b.Put(testRecord(gt))
	}
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	count(5)
	b.Reset()
	b.Delete(testCID, dispersy.MessageKey{Member: testMember, GlobalTime: 3})
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	count(4)
	b.Reset()
	b.Prune(testCID, 1, 4)
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	count(1)
}

// BenchmarkCount100k is what a status page costs the engine per sample at
// 100,000 stored messages: a count read through SQL (a write came in
// since the last one) against one answered from the cache (idle).
func BenchmarkCount100k(b *testing.B) {
	s := openTemp(b, Options{})
	defer s.Close()
	benchCommunity(b, s)
	fillBench(b, s, 0, 100_000, 10_000)
	types := []uint8{1, 2} // benchRecord alternates the two
	for _, c := range []struct {
		name  string
		write bool
	}{{"after-write", true}, {"idle", false}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if c.write {
					s.scans.invalidate()
				}
				if n, err := s.Count(benchCID, types); err != nil || n != 100_000 {
					b.Fatalf("Count = %d, %v", n, err)
				}
			}
		})
	}
}
