package database

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/bloom"
	"github.com/dispersy-go/dispersy/policy"
)

// BenchmarkWalkStep is the store's share of one walker step between two
// peers that hold the same messages (an idle overlay): the requester
// chooses a sync range and fills a bloom filter with its hashes, as
// Community.newSyncRequestRoom does; the responder reads the filter and
// answers with what it lacks (nothing), as Community.answerSync does. The
// history sizes show whether the idle cost grows with the history.
// warmup-ms is the untimed time the steps took until the key cache
// (scancache.go) was built, which they pay once per idle period.
//
//	go test ./database -run '^$' -bench WalkStep -benchtime 2s -count 3
func BenchmarkWalkStep(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			s, w := walkStore(b, n)
			defer s.Close()
			// The steady state of an idle overlay: the steps until the
			// key cache is built (when it pays off) are not timed.
			warm := time.Now()
			for i := 0; i < 1000 && !s.keysCached(benchCID); i++ {
				w.step()
			}
			b.ReportMetric(float64(time.Since(warm).Milliseconds()), "warmup-ms")
			w.keys, w.sent = 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w.step()
			}
			b.ReportMetric(float64(w.keys)/float64(b.N), "keys/op")
			b.ReportMetric(float64(w.sent)/float64(b.N), "packets/op")
		})
	}
}

// BenchmarkWalkStepWhileStoring is a walker step of a peer that holds
// 100,000 messages and stores 24 more before each step (a peer catching
// up, answering its holders' bloom requests; the Apply is not timed):
// "merged" is the key cache
// as it is (an Apply's keys wait for the next Scan), "dropped" drops the
// cache at every Apply (scanPatchMax 0: every step reads through SQL, as
// above 65,536 keys before the cache merged lazily).
//
//	go test ./database -run '^$' -bench WalkStepWhileStoring -benchtime 200x -count 3
func BenchmarkWalkStepWhileStoring(b *testing.B) {
	const n, per = 100_000, 24
	for _, c := range []struct {
		name  string
		patch int
	}{{"merged", scanPatchMax}, {"dropped", 0}} {
		b.Run(c.name, func(b *testing.B) {
			defer func(v int) { scanPatchMax = v }(scanPatchMax)
			scanPatchMax = c.patch
			s, w := walkStore(b, n)
			defer s.Close()
			for i := 0; i < 1000 && !s.keysCached(benchCID); i++ {
				w.step()
			}
			next := n
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer() // the Apply is the same in both
				fillBench(b, s, next, next+per, per)
				next += per
				b.StartTimer()
				w.step()
			}
		})
	}
}

// walkStep is the store's share of one walker step (BenchmarkWalkStep).
type walkStep struct {
	step       func()
	keys, sent int
}

// walkStore opens a store in a temporary file holding n messages, and
// the walk step against it.
func walkStore(b *testing.B, n int) (*Store, *walkStep) {
	s, err := Open(filepath.Join(b.TempDir(), "walk.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchCommunity(b, s)
	fillBench(b, s, 0, n, 1000)
	return s, newWalkStep(b, s, n)
}

func newWalkStep(b *testing.B, s *Store, n int) *walkStep {
	cfg := dispersy.DefaultConfig()
	// A request's filter fills the datagram beside an Ed25519 introduction
	// request's other fields (about 150 bytes).
	mBits := min(cfg.MaxDatagram-150, bloom.MaxBytes) * 8
	capacity := bloom.Capacity(mBits, cfg.BloomErrorRate)
	k := bloom.OptimalK(mBits, capacity)
	order := []dispersy.SyncTypeOrder{{ID: 1, Priority: 200, Direction: policy.Ascending}, {ID: 2, Priority: 128, Direction: policy.Random}}
	maxGT := uint64(n / 2)
	p := dispersy.RangeParams{Community: benchCID, Types: []uint8{1, 2}, Capacity: capacity,
		GlobalTime: maxGT, Acceptable: maxGT + 1000, Strategy: dispersy.LargestPivot}
	rng := rand.New(rand.NewPCG(1, 2))
	w := &walkStep{}
	w.step = func() {
		r, err := dispersy.ChooseSyncRange(s, p, rng)
		if err != nil {
			b.Fatal(err)
		}
		p.StoredCount = r.StoredCount
		f, err := bloom.New(mBits, k, rng.Uint32())
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range r.Hashes {
			f.Add([bloom.KeySize]byte(h))
		}
		w.keys += len(r.Hashes)
		got, err := bloom.FromBytes(f.Bytes(), f.K(), f.Salt())
		if err != nil {
			b.Fatal(err)
		}
		packets, err := dispersy.AnswerSync(s, dispersy.AnswerParams{Community: benchCID, Types: order,
			Low: r.Low, High: r.High, Modulo: r.Modulo, Offset: r.Offset, Budget: cfg.SyncBudget,
			Has: func(h dispersy.Hash) bool { return got.Has([bloom.KeySize]byte(h)) }}, rng)
		if err != nil {
			b.Fatal(err)
		}
		w.sent += len(packets)
	}
	return w
}
