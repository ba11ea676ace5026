package reconcile

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

const benchN = 1_000_000

// heapDelta returns the live heap growth caused by build, and its result.
func heapDelta[T any](build func() T) (T, uint64) {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	return v, m1.HeapAlloc - m0.HeapAlloc
}

// BenchmarkIndexBuild1M: Build from a sorted 1M-item slice (a store loaded
// at start-up); bytes/item is the index's live heap after the build.
func BenchmarkIndexBuild1M(b *testing.B) {
	items := universeItems(benchN)
	ix, bytes := heapDelta(func() *Index { ix, _ := Build(items); return ix })
	runtime.KeepAlive(ix)
	for b.Loop() {
		if _, err := Build(items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bytes)/benchN, "bytes/item")
}

// BenchmarkIndexRandomInsert1M: the index's memory after 1M inserts in random
// order (leaves split to between half and full), reported as bytes/item.
func BenchmarkIndexRandomInsert1M(b *testing.B) {
	items := universeItems(benchN)
	perm := rand.New(rand.NewPCG(1, 1)).Perm(benchN)
	for b.Loop() {
		ix, bytes := heapDelta(func() *Index {
			ix := &Index{}
			for _, k := range perm {
				ix.Insert(items[k])
			}
			return ix
		})
		runtime.KeepAlive(ix)
		b.ReportMetric(float64(bytes)/benchN, "bytes/item")
	}
}

// BenchmarkIndexInsert: one insert of a new item at a random place into a
// 1M index (when the prepared items run out they are deleted again outside
// the timer, so the index stays near 1M).
func BenchmarkIndexInsert(b *testing.B) {
	ix, _ := Build(universeItems(benchN))
	r := rand.New(rand.NewPCG(2, 2))
	fresh := make([]Item, 1<<16)
	for k := range fresh {
		fresh[k] = randItem(r, uint64(benchN))
	}
	k := 0
	for b.Loop() {
		if k == len(fresh) {
			b.StopTimer()
			for _, it := range fresh {
				ix.Delete(it)
			}
			k = 0
			b.StartTimer()
		}
		if !ix.Insert(fresh[k]) {
			b.Fatal("insert failed")
		}
		k++
	}
}

// BenchmarkIndexAppend: inserting new messages in key order at the end.
func BenchmarkIndexAppend(b *testing.B) {
	ix, _ := Build(universeItems(benchN))
	next := Item{Time: 1 << 40}
	for b.Loop() {
		next.Time++
		ix.Insert(next)
	}
}

// BenchmarkIndexDelete: one delete of a random present item from a 1M index
// (deleted items are put back when the list runs out, outside the timer).
func BenchmarkIndexDelete(b *testing.B) {
	items := universeItems(benchN)
	ix, _ := Build(items)
	perm := rand.New(rand.NewPCG(3, 3)).Perm(benchN)[:1<<16]
	k := 0
	for b.Loop() {
		if k == len(perm) {
			b.StopTimer()
			for _, p := range perm {
				ix.Insert(items[p])
			}
			k = 0
			b.StartTimer()
		}
		if !ix.Delete(items[perm[k]]) {
			b.Fatal("delete failed")
		}
		k++
	}
}

// BenchmarkRangeFingerprint: the fingerprint of a random key range of a 1M
// index (two ranks, two prefix sums, one SHA-256).
func BenchmarkRangeFingerprint(b *testing.B) {
	items := universeItems(benchN)
	ix, _ := Build(items)
	r := rand.New(rand.NewPCG(4, 4))
	bounds := make([][2]Bound, 1<<12)
	for k := range bounds {
		x, y := r.IntN(benchN), r.IntN(benchN)
		bounds[k] = [2]Bound{items[min(x, y)], items[max(x, y)]}
	}
	k := 0
	for b.Loop() {
		lh := bounds[k%len(bounds)]
		k++
		ix.Fingerprint(lh[0], lh[1])
	}
}

// BenchmarkReconcile: a whole session between two 1M-item indices (both
// sides' work), default configuration with no round limit.
func BenchmarkReconcile(b *testing.B) {
	for _, c := range []struct {
		name string
		d    int
	}{{"d=0", 0}, {"d=100-random", 100}, {"d=100-tail", 100}} {
		b.Run(c.name, func(b *testing.B) {
			x, y, _, _ := pairOf(b, benchN, c.d, c.name == "d=100-tail", 1)
			var res result
			for b.Loop() {
				res = simulate(b, x, y, Zero, Infinity, Config{MaxRounds: 1 << 20})
				if res.err != nil {
					b.Fatal(res.err)
				}
			}
			b.ReportMetric(float64(res.rounds), "roundtrips")
			b.ReportMetric(float64(res.bytesAB+res.bytesBA), "wirebytes")
		})
	}
}
