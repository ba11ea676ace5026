package dispersy_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// ingestBatch is the number of messages per ReceiveBatch (one store
// transaction), as the issue asks.
const ingestBatch = 1000

// msgSource creates fresh full-sync-text messages (≈ 300-byte packets with a
// 200-byte text) signed by a rotating set of authors.
type msgSource struct {
	authors []*dispersy.Community
	next    int
	n       int
}

func newMsgSource(tb testing.TB, authors int) *msgSource {
	tb.Helper()
	s := &msgSource{}
	for i := range authors {
		cfg := dispersy.DefaultConfig()
		cfg.BloomSync = false
		e, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "ingest-author-%d", i)), dt.NewMemStore())
		if err != nil {
			tb.Fatal(err)
		}
		e.SetTime(time.Unix(1e9, 0))
		c, err := e.Join(dt.NewDebugCommunity())
		if err != nil {
			tb.Fatal(err)
		}
		s.authors = append(s.authors, c)
	}
	return s
}

var text200 = strings.Repeat("x", 200)

// batch returns n new packets.
func (s *msgSource) batch(tb testing.TB, n int) []dispersy.Datagram {
	tb.Helper()
	out := make([]dispersy.Datagram, n)
	for i := range out {
		c := s.authors[s.next%len(s.authors)]
		s.next++
		s.n++
		m, err := dispersy.Create(c, dt.FullSyncText, dt.Text{Text: text200[:190] + fmt.Sprintf("%010d", s.n)})
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = dispersy.Datagram{Addr: netip.MustParseAddrPort("10.0.0.2:7759"), Data: m.Packet}
	}
	return out
}

// newIngestEngine returns an engine on a fresh SQLite file, joined to the
// debug community, whose handler counts messages.
func newIngestEngine(b *testing.B) (*dispersy.Engine, *dt.DebugCommunity) { return newIngestEngineT(b) }

func newIngestEngineT(b testing.TB) (*dispersy.Engine, *dt.DebugCommunity) {
	b.Helper()
	st, err := database.Open(filepath.Join(b.TempDir(), "ingest.db"), database.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return newIngestEngineOn(b, st)
}

// newIngestEngineOn is newIngestEngineT on a given store.
func newIngestEngineOn(b testing.TB, st dispersy.Store) (*dispersy.Engine, *dt.DebugCommunity) {
	b.Helper()
	cfg := dispersy.DefaultConfig()
	cfg.BloomSync = false
	e, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte("ingest-receiver")), st)
	if err != nil {
		b.Fatal(err)
	}
	e.SetTime(time.Unix(1e9, 0))
	dc := dt.NewDebugCommunity()
	if _, err := e.Join(dc); err != nil {
		b.Fatal(err)
	}
	return e, dc
}

// BenchmarkIngest measures the whole receive path for batches of 1,000
// full-sync messages on one core: decode, verify, check, store in SQLite
// (one transaction per batch) and hand to the handler. Its sub-benchmark
// Verify is a plain Ed25519 verify loop over the same packets, so
// verify-ns/ingest-ns is the fraction of the time spent verifying (goal ≥
// 0.8). Parallel pre-verifies on every core with the engine's Verifier.
// SerialMemStore is Serial on the in-memory store: the engine's own share,
// without SQLite.
func BenchmarkIngest(b *testing.B) {
	src := newMsgSource(b, 50)
	serial := func(b *testing.B, e *dispersy.Engine, dc *dt.DebugCommunity) {
		now := time.Unix(1e9, 0)
		for b.Loop() {
			b.StopTimer()
			batch := src.batch(b, ingestBatch)
			b.StartTimer()
			now = now.Add(time.Millisecond)
			if err := e.ReceiveBatch(now, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := len(dc.Handled[dt.FullSyncText.ID()]); got != b.N*ingestBatch {
			b.Fatalf("handled %d of %d", got, b.N*ingestBatch)
		}
		b.ReportMetric(float64(b.N*ingestBatch)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ingestBatch), "ns/msg")
	}
	b.Run("Serial", func(b *testing.B) {
		e, dc := newIngestEngine(b)
		serial(b, e, dc)
	})
	b.Run("SerialMemStore", func(b *testing.B) {
		e, dc := newIngestEngineOn(b, dt.NewMemStore())
		serial(b, e, dc)
	})
	b.Run("Verify", func(b *testing.B) {
		// The reference: verifying the same kind of packets, nothing else.
		batch := src.batch(b, ingestBatch)
		c := src.authors[0]
		frames := make([]*conversion.Frame, len(batch))
		for i, d := range batch {
			f, err := c.Codec().Decode(d.Data)
			if err != nil {
				b.Fatal(err)
			}
			frames[i] = f
		}
		for b.Loop() {
			for _, f := range frames {
				if !f.Authors[0].Key.Verify(f.Body(), f.Signatures[0]) {
					b.Fatal("bad signature")
				}
			}
		}
		b.ReportMetric(float64(b.N*ingestBatch)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ingestBatch), "ns/msg")
	})
	b.Run("Parallel", func(b *testing.B) {
		e, dc := newIngestEngine(b)
		v := e.Verifier()
		workers := runtime.GOMAXPROCS(0)
		now := time.Unix(1e9, 0)
		for b.Loop() {
			b.StopTimer()
			batch := src.batch(b, ingestBatch)
			ins := make([]dispersy.Inbound, len(batch))
			for i, d := range batch {
				ins[i] = dispersy.Inbound{Addr: d.Addr, Data: d.Data}
			}
			b.StartTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(ins) {
							return
						}
						v.Check(&ins[i])
					}
				})
			}
			wg.Wait()
			now = now.Add(time.Millisecond)
			if err := e.ReceiveInbound(now, ins); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := len(dc.Handled[dt.FullSyncText.ID()]); got != b.N*ingestBatch {
			b.Fatalf("handled %d of %d", got, b.N*ingestBatch)
		}
		b.ReportMetric(float64(b.N*ingestBatch)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ingestBatch), "ns/msg")
	})
}
