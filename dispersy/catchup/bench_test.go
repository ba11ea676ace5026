package catchup

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
	"github.com/dispersy-go/dispersy/keys"
)

var benchCID = keys.CommunityID{0xca, 0x7c}

// benchStore returns a SQLite store (a file in a temporary directory)
// holding n messages of 200 bytes, two per global time, one type.
func benchStore(b *testing.B, n int) *database.Store {
	b.Helper()
	s, err := database.Open(filepath.Join(b.TempDir(), "bench.db"), database.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var batch dispersy.Batch
	batch.PutCommunity(dispersy.CommunityRecord{ID: benchCID, Master: []byte("bench master"), Me: keys.MemberID{1}})
	batch.PutTypes(benchCID, []dispersy.TypeRecord{{ID: 1, Name: "note", Priority: 128, Unkeyed: true}})
	if err := s.Apply(&batch); err != nil {
		b.Fatal(err)
	}
	batch.Reset()
	for i := range n {
		p := make([]byte, 200)
		binary.BigEndian.PutUint64(p, uint64(i))
		var m keys.MemberID
		binary.BigEndian.PutUint32(m[:], uint32(i%1000)+1)
		batch.Put(dispersy.Record{Community: benchCID, Member: m, GlobalTime: uint64(1 + i/2), MessageID: 1, Hash: dispersy.PacketHash(p), Packet: p})
		if batch.Len() == 10000 || i == n-1 {
			if err := s.Apply(&batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	return s
}

// BenchmarkBuildIndexFromStore is the index a community builds at load
// (BuildIndex: one Scan of the SQLite store, then reconcile.Build).
//
//	go test ./dispersy/catchup -run '^$' -bench BuildIndexFromStore -benchtime 3x
func BenchmarkBuildIndexFromStore(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.ResetTimer()
			for b.Loop() {
				ix, err := BuildIndex(s, benchCID, []uint8{1})
				if err != nil || ix.Len() != n {
					b.Fatalf("index of %d items (%v), want %d", ix.Len(), err, n)
				}
			}
		})
	}
}

// BenchmarkIndexUpdate is the work of one stored message on a 1M-item
// index (Applied: Insert), and of its removal.
func BenchmarkIndexUpdate(b *testing.B) {
	items := make([]reconcile.Item, 1_000_000)
	for i := range items {
		items[i].Time = uint64(1 + i)
		binary.BigEndian.PutUint64(items[i].ID[:], uint64(i))
	}
	ix, err := reconcile.Build(items)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		it := reconcile.Item{Time: uint64(1 + i%1_000_000)}
		binary.BigEndian.PutUint64(it.ID[:], uint64(i)|1<<63)
		ix.Insert(it)
		ix.Delete(it)
		i += 7919
	}
}
