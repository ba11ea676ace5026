package database

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Benchmarks (numbers in docs/performance.md):
//
//	go test ./database -run '^$' -bench . -benchtime 3s
//
// BenchmarkBloomSelect1M and BenchmarkAnswerSync1M share one store of
// 1,000,000 messages, built once per run (it takes a while) in a temporary
// directory removed when the run ends. To keep it between runs, set
// DISPERSY_BENCH_STORE to a file path: it is built there once and reused.

var benchCID = keys.CommunityID{0xbe, 0x7c}

const benchPacketSize = 200

// benchRecord returns message i of a benchmark store: 1,000 members take
// turns, two messages per global time, two types, 200-byte packets.
func benchRecord(i int, buf []byte) dispersy.Record {
	return benchRecordOf(i, 1000, buf)
}

// benchRecordOf is benchRecord with the given number of creators taking
// turns (creators <= 1000 keeps (member, global time) unique).
func benchRecordOf(i, creators int, buf []byte) dispersy.Record {
	var m keys.MemberID
	binary.BigEndian.PutUint32(m[:], uint32(i%creators)+1)
	gt := uint64(1 + i/2)
	p := buf[:benchPacketSize]
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	h := dispersy.PacketHash(seed[:])
	for j := 0; j < len(p); j += len(h) {
		copy(p[j:], h[:]) // signature-like bytes
	}
	copy(p, fmt.Appendf(nil, "bench message %d ", i))
	return dispersy.Record{Community: benchCID, Member: m, GlobalTime: gt, MessageID: uint8(1 + i%2),
		Hash: dispersy.PacketHash(p), Packet: p}
}

// fillBench stores messages [from, to) of benchRecord in batches of size.
func fillBench(tb testing.TB, s dispersy.Store, from, to, size int) {
	tb.Helper()
	var b dispersy.Batch
	buf := make([]byte, size*benchPacketSize)
	for i := from; i < to; i++ {
		k := (i - from) % size
		b.Put(benchRecord(i, buf[k*benchPacketSize:]))
		if b.Len() == size || i == to-1 {
			if err := s.Apply(&b); err != nil {
				tb.Fatal(err)
			}
			b.Reset()
		}
	}
}

// benchCommunity declares the benchmark community and its two types, as
// the engine declares full-sync types without sequence numbers (unkeyed:
// out of the per-member index).
func benchCommunity(tb testing.TB, s dispersy.Store) { benchCommunityKeyed(tb, s, false) }

// benchCommunityKeyed is benchCommunity with the types declared keyed when
// keyed is set: every row in the per-member index, as for last-sync and
// sequenced types.
func benchCommunityKeyed(tb testing.TB, s dispersy.Store, keyed bool) {
	tb.Helper()
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: benchCID, Master: []byte("bench master"), Me: keys.MemberID{1}})
	b.PutTypes(benchCID, []dispersy.TypeRecord{{ID: 1, Name: "asc", Priority: 200, Unkeyed: !keyed}, {ID: 2, Name: "random", Priority: 128, Direction: uint8(policy.Random), Unkeyed: !keyed}})
	if err := s.Apply(&b); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkStoreBatch stores batches of 1,000 messages of 200 bytes.
// types=unkeyed are full-sync types without sequence numbers (most
// messages): out of the per-member index. types=keyed are last-sync or
// sequenced types: there the number of creators taking turns matters, as
// each batch touches one page of the per-member index per creator.
// checkpoint=1000 is SQLite's default WAL checkpoint interval, for
// comparison with ours (Options.CheckpointPages).
func BenchmarkStoreBatch(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		for _, creators := range []int{10, 100, 1000} {
			for _, checkpoint := range []int{1000, defaultCheckpoint} {
				if keyed && checkpoint != defaultCheckpoint {
					continue
				}
				types := map[bool]string{false: "unkeyed", true: "keyed"}[keyed]
				b.Run(fmt.Sprintf("types=%s/creators=%d/checkpoint=%d", types, creators, checkpoint), func(b *testing.B) {
					benchStoreBatch(b, keyed, creators, checkpoint)
				})
			}
		}
	}
}

func benchStoreBatch(b *testing.B, keyed bool, creators, checkpoint int) {
	s := openTemp(b, Options{CheckpointPages: checkpoint})
	defer s.Close()
	benchCommunityKeyed(b, s, keyed)
	const size = 1000
	var batch dispersy.Batch
	buf := make([]byte, size*benchPacketSize)
	next := 0
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		batch.Reset()
		for k := range size {
			batch.Put(benchRecordOf(next, creators, buf[k*benchPacketSize:]))
			next++
		}
		if err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkHave(b *testing.B) {
	s := openTemp(b, Options{})
	defer s.Close()
	benchCommunity(b, s)
	const n = 100_000
	fillBench(b, s, 0, n, 5000)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, benchPacketSize)
	b.ResetTimer()
	for i := range b.N {
		r := benchRecord(rng.IntN(n), buf)
		if i%2 == 1 { // half the checks miss
			r.GlobalTime += n
		}
		ok, err := s.Has(benchCID, r.Key())
		if err != nil || ok != (i%2 == 0) {
			b.Fatalf("Has = %v, %v", ok, err)
		}
	}
}

// The shared store of 1,000,000 messages.
var bench1M struct {
	once sync.Once
	dir  string
	path string
	err  error
}

const bench1MCount = 1_000_000

func benchStore1M(b *testing.B) *Store {
	b.Helper()
	bench1M.once.Do(func() {
		start := time.Now()
		if p := os.Getenv("DISPERSY_BENCH_STORE"); p != "" {
			bench1M.path = p
			if _, err := os.Stat(p); err == nil {
				return // built by an earlier run
			}
		} else {
			bench1M.dir, bench1M.err = os.MkdirTemp("", "dispersy-bench1m")
			if bench1M.err != nil {
				return
			}
			bench1M.path = filepath.Join(bench1M.dir, "store.db")
		}
		s, err := Open(bench1M.path, Options{})
		if err != nil {
			bench1M.err = err
			return
		}
		benchCommunity(b, s)
		fillBench(b, s, 0, bench1MCount, 10_000)
		bench1M.err = s.Close()
		b.Logf("built a store of %d messages in %v", bench1MCount, time.Since(start).Round(time.Millisecond))
	})
	if bench1M.err != nil {
		b.Fatal(bench1M.err)
	}
	s, err := Open(bench1M.path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func removeBenchFixture() {
	if bench1M.dir != "" {
		os.RemoveAll(bench1M.dir)
	}
}

// Ed25519 bloom filter capacity (dispersy.md §4.2).
const benchCapacity = 1056

func bench1MParams(strategy dispersy.SyncStrategy) dispersy.RangeParams {
	maxGT := uint64(bench1MCount / 2)
	return dispersy.RangeParams{Community: benchCID, Types: []uint8{1, 2}, Capacity: benchCapacity,
		GlobalTime: maxGT, Acceptable: maxGT + 10000, Strategy: strategy, StoredCount: benchCapacity + 1}
}

func BenchmarkBloomSelect1M(b *testing.B) {
	s := benchStore1M(b)
	defer s.Close()
	for _, strategy := range []dispersy.SyncStrategy{dispersy.LargestPivot, dispersy.Modulo} {
		b.Run(strategy.String(), func(b *testing.B) {
			p := bench1MParams(strategy)
			rng := rand.New(rand.NewPCG(3, 4))
			hashes := 0
			b.ResetTimer()
			for range b.N {
				r, err := dispersy.ChooseSyncRange(s, p, rng)
				if err != nil {
					b.Fatal(err)
				}
				hashes += len(r.Hashes)
			}
			b.ReportMetric(float64(hashes)/float64(b.N), "hashes/op")
		})
	}
}

func BenchmarkAnswerSync1M(b *testing.B) {
	s := benchStore1M(b)
	defer s.Close()
	order := []dispersy.SyncTypeOrder{{ID: 1, Priority: 200, Direction: policy.Ascending}, {ID: 2, Priority: 128, Direction: policy.Random}}
	for _, tc := range []struct {
		name     string
		strategy dispersy.SyncStrategy
		missing  float64 // share of the range the requester lacks
	}{
		{"LargestPivot/missing-all", dispersy.LargestPivot, 1},
		{"LargestPivot/missing-5pct", dispersy.LargestPivot, 0.05},
		{"LargestPivot/missing-none", dispersy.LargestPivot, 0},
		{"Modulo/missing-5pct", dispersy.Modulo, 0.05},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// Requests as a peer holding the same store minus a share
			// would send them.
			rng := rand.New(rand.NewPCG(5, 6))
			type request struct {
				r   dispersy.SyncRequestRange
				has map[dispersy.Hash]bool
			}
			var reqs []request
			for range 16 {
				r, err := dispersy.ChooseSyncRange(s, bench1MParams(tc.strategy), rng)
				if err != nil {
					b.Fatal(err)
				}
				has := make(map[dispersy.Hash]bool, len(r.Hashes))
				for _, h := range r.Hashes {
					if rng.Float64() >= tc.missing {
						has[h] = true
					}
				}
				reqs = append(reqs, request{r, has})
			}
			sent := 0
			b.ResetTimer()
			for i := range b.N {
				q := reqs[i%len(reqs)]
				packets, err := dispersy.AnswerSync(s, dispersy.AnswerParams{Community: benchCID, Types: order,
					Low: q.r.Low, High: q.r.High, Modulo: q.r.Modulo, Offset: q.r.Offset, Budget: 5 * 1024,
					Has: func(h dispersy.Hash) bool { return q.has[h] }}, rng)
				if err != nil {
					b.Fatal(err)
				}
				sent += len(packets)
			}
			b.ReportMetric(float64(sent)/float64(b.N), "packets/op")
		})
	}
}
