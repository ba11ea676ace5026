package dispersy_test

// Dispersy's tests/test_sync.py (dispersy.md §9.3) against the engine: a
// node B holds messages, a requester A sends hand-made introduction requests
// carrying a sync range and an empty bloom filter, and the test checks
// exactly which packets B answers with, in which order.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/bloom"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// scSyncSetup starts B (with a sync budget that fits every answer) and a
// requester A, and gives B the packets from fake member M.
func scSyncSetup(t *testing.T, pkts ...[]byte) (h *scHarness, a, b *scNode, m *scMember) {
	t.Helper()
	h = newScHarness(t)
	b = h.newNode("B", scWithConfig(scBigSyncBudget))
	a = h.newNode("A")
	m = scFakeMember("M", 0)
	if len(pkts) > 0 {
		b.receive(m.addr, pkts...)
	}
	return h, a, b, m
}

// scAskSync sends B an introduction request from A (no advice) with sync s
// and returns B's answer packets to A, in send order.
func scAskSync(t *testing.T, a, b *scNode, s *dispersy.SyncRequest) [][]byte {
	t.Helper()
	b.discard()
	b.receive(a.addr, scIntroRequest(t, a.c, a.key, a.addr, b.addr, false, 1, s))
	out := b.take(a.addr)
	if other := b.take(a.addr); len(other) != 0 {
		t.Fatalf("B sent %d more packets", len(other))
	}
	return out
}

func TestScenarioSyncModulo(t *testing.T) {
	// B stores 30 full-sync-text @10..39; for every modulo 1..9 and offset,
	// a sync (1, 0, modulo, offset, empty bloom) returns exactly the
	// messages with (gt + offset) % modulo == 0, ascending.
	_, a, b, m := scSyncSetup(t)
	b.receive(m.addr, scTexts(t, b.c, dt.FullSyncText, m.key, "m", scSpan(10, 39)...)...)
	if got := b.count(dt.FullSyncText.ID()); got != 30 {
		t.Fatalf("B stores %d messages, want 30", got)
	}
	for modulo := uint16(1); modulo <= 9; modulo++ {
		for offset := uint16(0); offset < modulo; offset++ {
			t.Run(fmt.Sprintf("modulo=%d/offset=%d", modulo, offset), func(t *testing.T) {
				var want []uint64
				for gt := uint64(10); gt <= 39; gt++ {
					if (gt+uint64(offset))%uint64(modulo) == 0 {
						want = append(want, gt)
					}
				}
				got := scGlobalTimes(t, b.c, scAskSync(t, a, b, scSyncAll(t, 1, 0, modulo, offset)))
				if !slices.Equal(got, want) {
					t.Errorf("answer global times %v, want %v", got, want)
				}
			})
		}
	}
}

func TestScenarioSyncRange(t *testing.T) {
	// time_low 1..10 × time_high 20..29: exactly the messages in [low,
	// high].
	_, a, b, m := scSyncSetup(t)
	b.receive(m.addr, scTexts(t, b.c, dt.FullSyncText, m.key, "m", scSpan(10, 39)...)...)
	for low := uint64(1); low <= 10; low++ {
		for high := uint64(20); high <= 29; high++ {
			t.Run(fmt.Sprintf("low=%d/high=%d", low, high), func(t *testing.T) {
				want := scSpan(max(low, 10), high)
				got := scGlobalTimes(t, b.c, scAskSync(t, a, b, scSyncAll(t, low, high, 1, 0)))
				if !slices.Equal(got, want) {
					t.Errorf("answer global times %v, want %v", got, want)
				}
			})
		}
	}
}

// scIsSorted reports whether v is strictly ascending (asc) or strictly
// descending.
func scIsSorted(v []uint64, asc bool) bool {
	for i := 1; i < len(v); i++ {
		if asc && v[i] <= v[i-1] || !asc && v[i] >= v[i-1] {
			return false
		}
	}
	return true
}

func TestScenarioSyncOrder(t *testing.T) {
	// in_order, out_order, random_order: 30 messages of one direction, all
	// come back; ASC ascending, DESC descending, RANDOM neither.
	for _, tc := range []struct {
		name string
		mt   *dispersy.MessageType[dt.Text]
		asc  bool
		desc bool
	}{
		{"in_order", dt.ASCText, true, false},
		{"out_order", dt.DESCText, false, true},
		{"random_order", dt.RandomText, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, a, b, m := scSyncSetup(t)
			b.receive(m.addr, scTexts(t, b.c, tc.mt, m.key, "m", scSpan(10, 39)...)...)
			got := scGlobalTimes(t, b.c, scAskSync(t, a, b, scSyncAll(t, 1, 0, 1, 0)))
			if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, scSpan(10, 39)) {
				t.Fatalf("answer holds %v, want every global time 10..39 once", sorted)
			}
			if scIsSorted(got, true) != tc.asc || scIsSorted(got, false) != tc.desc {
				t.Errorf("%s answer order %v: ascending=%v descending=%v, want %v %v",
					tc.mt.Name(), got, scIsSorted(got, true), scIsSorted(got, false), tc.asc, tc.desc)
			}
		})
	}
}

func TestScenarioSyncMixedOrder(t *testing.T) {
	// 10 ASC, 10 DESC and 10 RANDOM messages, interleaved in global time:
	// ASC arrive ascending, DESC descending, RANDOM in neither order.
	types := []*dispersy.MessageType[dt.Text]{dt.ASCText, dt.DESCText, dt.RandomText}
	_, a, b, m := scSyncSetup(t)
	var pkts [][]byte
	for i, gt := range scSpan(10, 39) {
		pkts = append(pkts, scTexts(t, b.c, types[i%3], m.key, "m", gt)...)
	}
	b.receive(m.addr, pkts...)
	answer := scAskSync(t, a, b, scSyncAll(t, 1, 0, 1, 0))
	if len(answer) != 30 {
		t.Fatalf("answer has %d packets, want 30", len(answer))
	}
	byType := map[uint8][]uint64{}
	gts := scGlobalTimes(t, b.c, answer)
	for i, p := range answer {
		byType[scMsgID(p)] = append(byType[scMsgID(p)], gts[i])
	}
	for _, mt := range types {
		if n := len(byType[mt.ID()]); n != 10 {
			t.Errorf("%s: %d packets, want 10", mt.Name(), n)
		}
	}
	if v := byType[dt.ASCText.ID()]; !scIsSorted(v, true) {
		t.Errorf("ASC-text arrived in order %v, want ascending", v)
	}
	if v := byType[dt.DESCText.ID()]; !scIsSorted(v, false) {
		t.Errorf("DESC-text arrived in order %v, want descending", v)
	}
	if v := byType[dt.RandomText.ID()]; scIsSorted(v, true) || scIsSorted(v, false) {
		t.Errorf("RANDOM-text arrived in order %v, want neither ascending nor descending", v)
	}
}

func TestScenarioSyncPriorityOrder(t *testing.T) {
	// 10 each at priority 200, 150 and 100, interleaved in global time:
	// they arrive strictly grouped, high, then medium, then low.
	types := []*dispersy.MessageType[dt.Text]{dt.LowText, dt.HighText, dt.MediumText}
	_, a, b, m := scSyncSetup(t)
	var pkts [][]byte
	for i, gt := range scSpan(10, 39) {
		pkts = append(pkts, scTexts(t, b.c, types[i%3], m.key, "m", gt)...)
	}
	b.receive(m.addr, pkts...)
	answer := scAskSync(t, a, b, scSyncAll(t, 1, 0, 1, 0))
	var ids []uint8
	for _, p := range answer {
		ids = append(ids, scMsgID(p))
	}
	var want []uint8
	for _, mt := range []*dispersy.MessageType[dt.Text]{dt.HighText, dt.MediumText, dt.LowText} {
		for range 10 {
			want = append(want, mt.ID())
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("answer message ids %v, want %v (high, medium, low)", ids, want)
	}
}

func TestScenarioSyncLast1(t *testing.T) {
	// last-1: @10 is stored; @11 replaces it; @9 is dropped and @11 is sent
	// back to the sender as proof that @9 is outdated.
	_, _, b, m := scSyncSetup(t)
	p9, p10, p11 := scCraft(t, b.c, dt.Last1Text, m.key, 9, 0, dt.Text{Text: "9"}),
		scCraft(t, b.c, dt.Last1Text, m.key, 10, 0, dt.Text{Text: "10"}),
		scCraft(t, b.c, dt.Last1Text, m.key, 11, 0, dt.Text{Text: "11"})

	b.receive(m.addr, p10)
	if got := b.storedTimes(dt.Last1Text.ID()); !slices.Equal(got, []uint64{10}) {
		t.Fatalf("after @10: stored %v, want [10]", got)
	}
	b.receive(m.addr, p11)
	if got := b.storedTimes(dt.Last1Text.ID()); !slices.Equal(got, []uint64{11}) {
		t.Fatalf("after @11: stored %v, want [11]", got)
	}
	b.discard()
	before := b.dropped(dispersy.DropHistory)
	b.receive(m.addr, p9)
	if got := b.storedTimes(dt.Last1Text.ID()); !slices.Equal(got, []uint64{11}) {
		t.Fatalf("after @9: stored %v, want [11]", got)
	}
	if d := b.dropped(dispersy.DropHistory) - before; d != 1 {
		t.Errorf("@9 counted %d history drops, want 1", d)
	}
	back := b.take(m.addr)
	if len(back) != 1 || !bytes.Equal(back[0], p11) {
		t.Errorf("B sent %d packets back to the sender of @9, want exactly the @11 packet", len(back))
	}
}

func TestScenarioSyncLast9(t *testing.T) {
	// last-9: 9 messages arrive out of order and are all kept; older ones
	// are dropped; 16 newer ones each evict the oldest, leaving exactly the
	// newest 9.
	_, _, b, m := scSyncSetup(t)
	give := func(gt uint64) []byte {
		p := scCraft(t, b.c, dt.Last9Text, m.key, gt, 0, dt.Text{Text: fmt.Sprint("last-9 @", gt)})
		b.receive(m.addr, p)
		return p
	}
	var kept []uint64
	for _, gt := range []uint64{21, 20, 28, 27, 22, 23, 24, 26, 25} {
		give(gt)
		kept = append(kept, gt)
		slices.Sort(kept)
		if got := b.storedTimes(dt.Last9Text.ID()); !slices.Equal(got, kept) {
			t.Fatalf("after @%d: stored %v, want %v", gt, got, kept)
		}
	}
	for _, gt := range []uint64{11, 12, 13, 19, 18, 17} {
		before := b.dropped(dispersy.DropHistory)
		give(gt)
		if got := b.storedTimes(dt.Last9Text.ID()); !slices.Equal(got, kept) {
			t.Fatalf("after old @%d: stored %v, want %v", gt, got, kept)
		}
		if d := b.dropped(dispersy.DropHistory) - before; d != 1 {
			t.Errorf("old @%d: %d history drops, want 1", gt, d)
		}
	}
	b.discard() // history 9 sends nothing back; checked below
	for _, gt := range []uint64{30, 35, 37, 31, 32, 34, 33, 36, 38, 45, 44, 43, 42, 41, 40, 39} {
		give(gt)
		kept = append(kept[1:], gt)
		slices.Sort(kept)
		if got := b.storedTimes(dt.Last9Text.ID()); !slices.Equal(got, kept) {
			t.Fatalf("after newer @%d: stored %v, want %v", gt, got, kept)
		}
	}
	if want := scSpan(37, 45); !slices.Equal(kept, want) {
		t.Fatalf("test bug: final expectation %v, want %v", kept, want)
	}
	if out := b.take(m.addr); len(out) != 0 {
		t.Errorf("B sent %d packets to the member; a history-9 type sends nothing back", len(out))
	}
}

func TestScenarioSyncBloomFilters(t *testing.T) {
	// The bloom filter is what makes sync incremental: a request whose
	// filter holds the hashes of the even global times gets exactly the
	// odd ones back (a 1 KiB filter for 15 keys has no false positive
	// here; the salt is fixed, so the run is deterministic).
	_, a, b, m := scSyncSetup(t)
	pkts := scTexts(t, b.c, dt.FullSyncText, m.key, "m", scSpan(10, 39)...)
	b.receive(m.addr, pkts...)
	f, err := bloom.New(8*1024, 7, 12345)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for i, p := range pkts {
		if gt := uint64(10 + i); gt%2 == 0 {
			f.Add([bloom.KeySize]byte(dispersy.PacketHash(p)))
		} else {
			want = append(want, gt)
		}
	}
	s := &dispersy.SyncRequest{Low: 1, Modulo: 1, K: uint8(f.K()), Salt: f.Salt(), Bloom: f.Bytes()}
	if got := scGlobalTimes(t, b.c, scAskSync(t, a, b, s)); !slices.Equal(got, want) {
		t.Errorf("answer global times %v, want the odd ones %v", got, want)
	}
}

func TestScenarioSyncBudget(t *testing.T) {
	// Dispersy §4.4: an answer stops once its packets reach the budget
	// (Config.SyncBudget, 5 KiB by default); the packet that crosses it is
	// still sent. The packets sent are the first ones in answer order.
	h := newScHarness(t)
	b := h.newNode("B")
	a := h.newNode("A")
	m := scFakeMember("M", 0)
	pkts := scTexts(t, b.c, dt.FullSyncText, m.key, "a somewhat longer text to fill the budget sooner", scSpan(10, 109)...)
	b.receive(m.addr, pkts...)
	budget := b.eng.Config().SyncBudget
	got := scAskSync(t, a, b, scSyncAll(t, 1, 0, 1, 0))
	total := 0
	for _, p := range got {
		total += len(p)
	}
	if len(got) == 0 || total < budget || total-len(got[len(got)-1]) >= budget {
		t.Errorf("answer of %d packets, %d bytes: want the first packets up to and including the one crossing %d bytes", len(got), total, budget)
	}
	if !scPacketsEqual(got, pkts[:len(got)]) {
		t.Errorf("the answer is not the lowest global times in ascending order")
	}
}

func TestScenarioSequenceBudget(t *testing.T) {
	// Missing-sequence answers stop at Config.SequenceBudget (10 KiB, as
	// Dispersy), the crossing packet included, in sequence order.
	h := newScHarness(t)
	b := h.newNode("B")
	m := scFakeMember("M", 0)
	var pkts [][]byte
	for i := range 120 {
		pkts = append(pkts, scCraft(t, b.c, dt.SequenceText, m.key, uint64(11+i), uint32(i+1), dt.Text{Text: fmt.Sprintf("sequence message number %03d", i+1)}))
	}
	b.receive(m.addr, pkts...)
	q := scFakeMember("Q", 1)
	b.receive(q.addr, scCraft(t, b.c, dispersy.MissingSequenceType, nil, 1, 0,
		dispersy.MissingSequence{Member: m.key.ID(), MessageID: dt.SequenceText.ID(), Low: 1, High: 120}))
	got := b.take(q.addr)
	budget := b.eng.Config().SequenceBudget
	total := 0
	for _, p := range got {
		total += len(p)
	}
	if len(got) == 0 || total < budget || total-len(got[len(got)-1]) >= budget {
		t.Errorf("answer of %d packets, %d bytes: want packets up to and including the one crossing %d bytes", len(got), total, budget)
	}
	if !scPacketsEqual(got, pkts[:len(got)]) {
		t.Errorf("the answer is not #1.. in sequence order")
	}
}

func TestScenarioSyncBothWays(t *testing.T) {
	// One walker step between two engines that each hold 10 messages the
	// other lacks. With Dispersy's parameters (pull only) the walker A
	// gets B's messages and B gets nothing; with the default
	// configuration B's introduction response carries B's own bloom
	// filter, A answers it, and both end with all 20.
	for _, tc := range []struct {
		name    string
		cfg     func() dispersy.Config
		bGetsAs bool
	}{{"dispersy-pull-only", dispersy.DispersyConfig, false}, {"default-push-pull", dispersy.DefaultConfig, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			set := func(c *dispersy.Config) {
				base := tc.cfg()
				base.LocalAddr, base.Rand = c.LocalAddr, c.Rand
				*c = base
			}
			a := h.newNode("A", scWithConfig(set))
			b := h.newNode("B", scWithConfig(set))
			ma, mb := scFakeMember("MA", 0), scFakeMember("MB", 1)
			a.receive(ma.addr, scTexts(t, a.c, dt.FullSyncText, ma.key, "a", scSpan(10, 19)...)...)
			b.receive(mb.addr, scTexts(t, b.c, dt.FullSyncText, mb.key, "b", scSpan(20, 29)...)...)
			a.c.AddCandidate(b.addr)
			h.advance(a.eng.Config().Walker.StepInterval)
			a.tick()
			b.receive(a.addr, a.take(b.addr)...)
			a.receive(b.addr, b.take(a.addr)...)
			b.receive(a.addr, a.take(b.addr)...)
			// B had not proved its address: A's filter followed B's
			// response, and B's answer to it comes now.
			a.receive(b.addr, b.take(a.addr)...)
			if n := a.count(dt.FullSyncText.ID()); n != 20 {
				t.Errorf("A holds %d messages after one step, want 20", n)
			}
			want := 10
			if tc.bGetsAs {
				want = 20
			}
			if n := b.count(dt.FullSyncText.ID()); n != want {
				t.Errorf("B holds %d messages after one step, want %d", n, want)
			}
		})
	}
}

func TestScenarioSyncLast9OneBatch(t *testing.T) {
	// last-9 with every message of TestScenarioSyncLast9 in one batch:
	// the newest 9 are kept.
	_, _, b, m := scSyncSetup(t)
	var pkts [][]byte
	for _, gt := range []uint64{21, 20, 28, 27, 22, 23, 24, 26, 25, 11, 12, 13, 19, 18, 17, 30, 35, 37, 31, 32, 34, 33, 36, 38, 45, 44, 43, 42, 41, 40, 39} {
		pkts = append(pkts, scCraft(t, b.c, dt.Last9Text, m.key, gt, 0, dt.Text{Text: fmt.Sprint("last-9 @", gt)}))
	}
	b.receive(m.addr, pkts...)
	if got := b.storedTimes(dt.Last9Text.ID()); !slices.Equal(got, scSpan(37, 45)) {
		t.Errorf("B stores %v, want 37..45", got)
	}
}

// TestScenarioSkipCurve: Dispersy skipped the bloom filter of a walker step
// with a probability that rose with every unanswered filter, up to 90 %
// (Config.SkipCurve, on in DispersyConfig). A walks to B, which holds
// everything A holds, so no filter is ever answered: with the curve A
// drops most of its filters, without it (the default) every step syncs.
func TestScenarioSkipCurve(t *testing.T) {
	const steps = 60
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("SkipCurve=%v", skip), func(t *testing.T) {
			h := newScHarness(t)
			a := h.newNode("A", scWithConfig(func(c *dispersy.Config) { c.SkipCurve = skip }))
			b := h.newNode("B")
			m := a.create(dt.FullSyncText, "shared")
			b.receive(a.addr, m.Packet)
			a.c.AddCandidate(b.addr)
			a.discard()
			b.discard()
			// A walks to the same candidate again once it is eligible.
			wc := a.eng.Config().Walker
			every := max(wc.StepInterval, wc.EligibleDelay) + time.Second
			synced := 0
			for range steps {
				h.advance(every)
				a.tick()
				reqs := a.take(b.addr, dispersy.IDIntroductionRequest)
				if len(reqs) != 1 {
					t.Fatalf("A sent %d introduction requests to B in one step, want 1", len(reqs))
				}
				if scDecode(t, a.c, dispersy.IntroductionRequestType, reqs[0]).payload.Sync != nil {
					synced++
				}
				b.receive(a.addr, reqs[0])
				for _, p := range b.take(a.addr) {
					a.receive(b.addr, p)
				}
				a.discard()
				b.tick()
				b.discard()
			}
			switch {
			case !skip && synced != steps:
				t.Errorf("without the skip curve %d of %d steps carried a filter, want all", synced, steps)
			case skip && (synced > steps/2 || synced == 0):
				// 11 unanswered filters reach the 90 % step of the curve.
				t.Errorf("with the skip curve %d of %d steps carried a filter, want some but at most half", synced, steps)
			}
			t.Logf("%d of %d steps carried a bloom filter", synced, steps)
		})
	}
}
