package catchup

import (
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// lacked is the bytes of the history a fresh joiner lacks: the packets
// peer 0 stores.
func (w *world) lacked() uint64 {
	var n uint64
	err := w.sim.Peers[0].Store.Replay(debugCID, w.types, func(r *dispersy.Record) bool {
		n += uint64(len(r.Packet))
		return true
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// TestRangePullEmptyJoiner: a fresh peer behind 5 holders of 5,000
// messages pulls key ranges instead of listing ids: it names almost no id
// (reconcile id lists and dispersy-want cost 32 bytes per id before), its
// sessions take a few round trips each, and it receives at most 10 % more
// bytes than the history it lacked. With ListIDs (the id-by-id path) the
// same join receives 15 % more and sends 16 bytes per id.
func TestRangePullEmptyJoiner(t *testing.T) {
	const msgs = 5000
	run := func(listIDs bool) (Stats, float64, time.Duration) {
		w := newWorldWith(t, worldOpts{seed: 1, holders: 5, msgs: msgs, catchup: true, liar: -1}, func(o *Options) { o.ListIDs = listIDs })
		p, took := w.join(time.Minute)
		if got := w.count(p); got != msgs {
			t.Fatalf("ListIDs %v: joiner holds %d of %d after %v", listIDs, got, msgs, took)
		}
		ps, _ := w.sim.Net.PeerStats(p.Addr)
		return w.stats(p), float64(ps.DeliveredBytes) / float64(w.lacked()), took
	}
	s, ratio, took := run(false)
	t.Logf("range pulls: %v, bytes ratio %.3f, %+v", took, ratio, s)
	if s.RangeItems < msgs*9/10 || s.IDsRequested > msgs/20 {
		t.Fatalf("%d items came by range, %d ids were asked for: the joiner listed ids", s.RangeItems, s.IDsRequested)
	}
	if s.Rounds > 6*s.Sessions {
		t.Fatalf("%d round trips in %d sessions", s.Rounds, s.Sessions)
	}
	if s.BytesSent > msgs*4 {
		t.Fatalf("the joiner sent %d bytes of catch-up messages for %d messages", s.BytesSent, msgs)
	}
	if ratio > 1.1 {
		t.Fatalf("the joiner received %.3f times the bytes it lacked", ratio)
	}
	l, lratio, ltook := run(true)
	t.Logf("ids listed: %v, bytes ratio %.3f, %+v", ltook, lratio, l)
	if lratio <= ratio || l.BytesSent <= 2*s.BytesSent {
		t.Fatalf("listing ids cost no more than range pulls: ratio %.3f vs %.3f, %d vs %d bytes sent", lratio, ratio, l.BytesSent, s.BytesSent)
	}
}

// TestRangeAnswerLost: the holders lose parts of their range answers (a
// header alone, whole answers, packets in the middle of answers): the
// joiner asks for the header again, asks the whole request again of
// another holder, or re-asks only the gaps, and ends with every message,
// with few items received twice.
func TestRangeAnswerLost(t *testing.T) {
	const msgs = 3000
	lose := func(k, item int) bool {
		switch {
		case k%7 == 3: // the header only
			return item < 0
		case k%11 == 5: // everything
			return true
		case k%5 == 1: // two packets in the middle
			return item == 7 || item == 8
		}
		return false
	}
	w := newWorldWith(t, worldOpts{seed: 2, holders: 4, msgs: msgs, catchup: true, liar: -1}, func(o *Options) { o.lose = lose })
	p, took := w.join(time.Minute)
	s := w.stats(p)
	dup := p.Engine.Stats().DroppedBy(dispersy.DropDuplicate)
	t.Logf("%d messages in %v; duplicates %d; %+v", w.count(p), took, dup, s)
	if got := w.count(p); got != msgs {
		t.Fatalf("joiner holds %d of %d after %v", got, msgs, took)
	}
	if s.Timeouts == 0 || s.RangeItems < msgs*9/10 {
		t.Fatalf("nothing was lost, or the range pulls did not bring the messages: %+v", s)
	}
	if dup > msgs/20 {
		t.Fatalf("%d duplicates: lost headers or packets made whole answers be asked again", dup)
	}
}

// TestRangeGivenUpFoundBySafetyNet: holders lose most of their range
// answers and the joiner gives ranges up after one retry; the fingerprint
// check at the following walk exchanges still finds what is missing.
func TestRangeGivenUpFoundBySafetyNet(t *testing.T) {
	const msgs = 2000
	w := newWorldWith(t, worldOpts{seed: 3, holders: 3, msgs: msgs, catchup: true, liar: -1}, func(o *Options) {
		o.MaxRetries = 1
		n := 0
		o.lose = func(k, item int) bool {
			if item < 0 {
				n++
			}
			return n <= 40 && k%2 == 0 // the first answers of each holder: every other lost
		}
	})
	p, took := w.join(5 * time.Minute)
	s := w.stats(p)
	t.Logf("%d messages in %v; %+v", w.count(p), took, s)
	if got := w.count(p); got != msgs {
		t.Fatalf("joiner holds %d of %d after %v", got, msgs, took)
	}
	if s.RangesGivenUp == 0 {
		t.Fatalf("no range was given up: the test tests nothing: %+v", s)
	}
}

// TestRangeFromUnprovenAddress: a dispersy-range request from an address
// that never answered our walk is not served (nor answered: the answer
// would amplify a spoofed request); the holder walks to it, and serves the
// request once the walk's response proved it.
func TestRangeFromUnprovenAddress(t *testing.T) {
	sim, p0, p1 := oneWayProof(t)
	for i := range 3 {
		if _, err := simCreate(sim, p0, "held "+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	req := Pull{Scope: 128, N: 64, Lo: reconcile.Zero, Hi: reconcile.Infinity}
	send := func() {
		t.Helper()
		if err := sim.Do(p1, func(e *dispersy.Engine) error {
			_, err := dispersy.Create(e.Community(debugCID), RangeType, req, dispersy.To(p0.Addr))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if err := sim.Net.RunFor(35 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	s := func(p *dt.SimPeer) Stats { x, _ := StatsOf(p.Engine); return x }
	held := func() int { return sim.Count(p1, debugCID, []uint8{dt.FullSyncText.ID()}) }
	if s(p0).Unproven != 1 || s(p0).PacketsServed != 0 || s(p0).RangesServed != 0 {
		t.Fatalf("holder: %+v, want the request counted as unproven and nothing served", s(p0))
	}
	if n := held(); n != 0 {
		t.Fatalf("the unproven requester got %d messages", n)
	}
	if err := sim.Net.RunFor(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !p0.Engine.Proven(p1.Addr) {
		t.Fatal("the holder did not walk to the unproven requester")
	}
	send()
	if err := sim.Net.RunFor(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if s(p0).RangesServed != 1 || s(p0).PacketsServed != 3 || held() != 3 {
		t.Fatalf("after the proof: holder %+v, requester holds %d", s(p0), held())
	}
}

// TestRangePullDeterministic: a join over range pulls from 8 holders (so
// several holders answer alike and are aliased) with loss is the same run
// twice with one seed.
func TestRangePullDeterministic(t *testing.T) {
	run := func() (Stats, time.Duration, uint64) {
		w := newWorld(t, worldOpts{seed: 16, holders: 8, msgs: 3000, catchup: true, liar: -1, loss: 0.05})
		p, took := w.join(time.Minute)
		ps, _ := w.sim.Net.PeerStats(p.Addr)
		return w.stats(p), took, ps.DeliveredBytes
	}
	a, ta, ba := run()
	b, tb, bb := run()
	t.Logf("%v, %d bytes; %+v", ta, ba, a)
	if a != b || ta != tb || ba != bb {
		t.Fatalf("two runs with one seed differ:\n%+v after %v, %d bytes\n%+v after %v, %d bytes", a, ta, ba, b, tb, bb)
	}
}

// TestNextPullWithinAcceptableTime: the pump does not start a range above
// the global times the joiner's engine accepts (pulling 16 ranges of a
// 100,000-message history at once, the latejoin joiner dropped 640
// messages as future-global-time), except the first range, so that the
// transfer always goes on; a throttled range waits.
func TestNextPullWithinAcceptableTime(t *testing.T) {
	var tr transfer
	tr.init()
	now := time.Unix(100, 0)
	for _, lo := range []uint64{5000, 100, 900, 20000} {
		tr.pulls = append(tr.pulls, &pull{prio: 128, lo: reconcile.Bound{Time: lo}, hi: reconcile.Bound{Time: lo + 50}})
	}
	order := func(limit uint64) []uint64 {
		var got []uint64
		for p := tr.nextPull(now, limit); p != nil; p = tr.nextPull(now, limit) {
			got = append(got, p.lo.Time)
			p.busy = true
		}
		for _, p := range tr.pulls {
			p.busy = false
		}
		return got
	}
	if got := order(1000); !slices.Equal(got, []uint64{100, 900}) {
		t.Fatalf("limit 1000: pulled %v, want [100 900]", got)
	}
	if got := order(50); !slices.Equal(got, []uint64{100}) {
		t.Fatalf("limit 50: pulled %v, want the first range alone", got)
	}
	if got := order(1 << 40); !slices.Equal(got, []uint64{100, 900, 5000, 20000}) {
		t.Fatalf("no limit: pulled %v", got)
	}
	tr.pulls[0].notBefore = now.Add(time.Millisecond) // sorted: lo 100
	if got := order(1 << 40); !slices.Equal(got, []uint64{900, 5000, 20000}) {
		t.Fatalf("first range throttled: pulled %v", got)
	}
}
