package dht

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkTableClosest: the 20 closest of a random target in a table that
// saw 100,000 random nodes (K = 20).
func BenchmarkTableClosest(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	tab := NewTable(randID(rng), TableConfig{}, t0)
	for range 100000 {
		tab.Seen(contactOf(randID(rng)), t0)
	}
	targets := make([]ID, 1024)
	for i := range targets {
		targets[i] = randID(rng)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if len(tab.Closest(targets[i%len(targets)], DefaultK)) != DefaultK {
			b.Fatal("short")
		}
	}
	b.ReportMetric(float64(tab.Len()), "contacts")
}

// BenchmarkAcceptOwned: the store check of a new Ed25519 owner record
// (dominated by the signature check).
func BenchmarkAcceptOwned(b *testing.B) {
	rec := mustOwned(b, alice, "name", string(make([]byte, 200)), t0, t0.Add(time.Hour))
	key := rec.Key()
	b.ReportAllocs()
	for b.Loop() {
		if (Policy{}).Accept(nil, rec, key, t0, 0) != Accepted {
			b.Fatal("refused")
		}
	}
}

// BenchmarkDecodeStore: decoding a Store of an Ed25519 owner record with a
// 200-byte value.
func BenchmarkDecodeStore(b *testing.B) {
	rec := mustOwned(b, alice, "name", string(make([]byte, 200)), t0, t0.Add(time.Hour))
	pkt, err := EncodeMessage(Store{Key: rec.Key(), Record: rec})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := DecodeMessage(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
