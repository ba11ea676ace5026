package dispersytest

import (
	"fmt"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

func TestMemStoreConformance(t *testing.T) {
	TestStore(t, func(t *testing.T) dispersy.Store { return NewMemStore() })
}

// benchRecords returns n records of 200-byte packets from 1,000 creators
// taking turns, two per global time.
func benchRecords(cid keys.CommunityID, from, n int) []dispersy.Record {
	out := make([]dispersy.Record, n)
	for i := range out {
		k := from + i
		m := keys.MemberID{byte(k % 1000 >> 8), byte(k % 1000)}
		p := make([]byte, 200)
		copy(p, fmt.Sprintf("message %d", k))
		out[i] = dispersy.Record{Community: cid, Member: m, GlobalTime: uint64(1 + k/2), MessageID: uint8(1 + k%2),
			Hash: dispersy.PacketHash(p), Packet: p}
	}
	return out
}

// BenchmarkMemStoreBatch stores batches of 1,000 messages (what a
// simulated peer does when sync answers arrive).
func BenchmarkMemStoreBatch(b *testing.B) {
	s := NewMemStore()
	var batch dispersy.Batch
	batch.PutCommunity(dispersy.CommunityRecord{ID: c1})
	if err := s.Apply(&batch); err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(c1, 0, 1000*b.N)
	b.ResetTimer()
	for i := range b.N {
		batch.Reset()
		for _, r := range recs[i*1000 : (i+1)*1000] {
			batch.Put(r)
		}
		if err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkMemStoreHas(b *testing.B) {
	s := NewMemStore()
	var batch dispersy.Batch
	batch.PutCommunity(dispersy.CommunityRecord{ID: c1})
	recs := benchRecords(c1, 0, 100_000)
	for _, r := range recs {
		batch.Put(r)
	}
	if err := s.Apply(&batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		k := recs[i%len(recs)].Key()
		if i%2 == 1 {
			k.GlobalTime += 1 << 20
		}
		if ok, _ := s.Has(c1, k); ok != (i%2 == 0) {
			b.Fatal("wrong answer")
		}
	}
}
