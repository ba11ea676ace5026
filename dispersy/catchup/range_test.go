package catchup

import (
	"net/netip"
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

// lone is a world of one peer holding 10 messages, and its engine,
// catch-up extension and community state, for tests that drive the state
// directly.
func lone(t *testing.T) (*world, *dispersy.Engine, *ext, *state) {
	t.Helper()
	w := newWorldWith(t, worldOpts{seed: 1, holders: 1, msgs: 10, catchup: true, liar: -1}, nil)
	e := w.sim.Peers[0].Engine
	x := e.Extensions()[0].(*ext)
	return w, e, x, x.state(e.Community(debugCID))
}

// TestWiden: a pull whose request got a whole answer is split when the
// transfer has fewer pulls that may be asked than its window has room
// for: in the middle of its global times, or, when it spans the highest
// global time the engine accepts now, just below that limit; not after a
// partial answer (the holder's budget ran out), not with the window full,
// and not into parts expected to hold fewer than RangeMax items.
func TestWiden(t *testing.T) {
	_, _, _, st := lone(t)
	limit := st.acceptable()
	b := func(gt uint64) reconcile.Bound { return reconcile.Bound{Time: gt} }
	// The request asked from 936 and got 64 items up to 1000: one item per
	// global time, so a part must span 65 global times.
	r := &pullReq{lo: b(936), max: 64}
	full := Pull{N: 64}
	cases := []struct {
		name   string
		hi     reconcile.Bound
		cwnd   float64
		m      Pull
		peer   uint64 // the highest global time a walk response told
		splits []uint64
	}{
		{"middle", b(5000), 8, full, 0, []uint64{3000}},
		{"spans the limit", b(limit + 10_000), 8, full, 0, []uint64{limit - 65}},
		{"open above", reconcile.Infinity, 8, full, 4000, []uint64{2500}},
		{"partial answer", b(5000), 8, Pull{N: 30}, 0, nil},
		{"window full", b(5000), 1, full, 0, nil},
		{"too small", b(1100), 8, full, 0, nil},
	}
	for _, c := range cases {
		p := &pull{prio: 1, lo: b(1000), hi: c.hi}
		r.p = p
		st.tr.pulls, st.tr.cwnd, st.peerTime = []*pull{p}, c.cwnd, c.peer
		st.widen(p, r, c.m)
		var got []uint64
		for _, q := range st.tr.pulls[1:] {
			got = append(got, q.lo.Time)
			if q.hi != c.hi {
				t.Errorf("%s: the new pull ends at %v, want %v", c.name, q.hi, c.hi)
			}
		}
		if !slices.Equal(got, c.splits) {
			t.Errorf("%s: split at %v, want %v", c.name, got, c.splits)
		}
		if len(got) > 0 && p.hi != b(got[0]) {
			t.Errorf("%s: the pull ends at %v after the split at %d", c.name, p.hi, got[0])
		}
	}
	st.tr.pulls, st.tr.cwnd = nil, 4
}

// TestProbeRefusedIsTriedAgain: a probe the engine refuses (its rate
// limit for an unproven address) is not remembered as sent, so the next
// message from that address probes again. Remembered, it left a holder
// unable to prove a joiner whose messages it deferred, and the joiner's
// sessions with that holder timed out.
func TestProbeRefusedIsTriedAgain(t *testing.T) {
	w, e, _, st := lone(t)
	c := st.c
	stranger := netip.MustParseAddrPort("10.9.9.9:7759")
	if !c.Probe(stranger) {
		t.Fatal("the first probe of a new address was refused")
	}
	walks := e.Stats().Walks
	st.probe(stranger) // refused: one probe per period beyond the credit
	if e.Stats().Walks != walks {
		t.Fatal("a second probe within the period was sent")
	}
	if _, ok := st.probed[stranger]; ok {
		t.Fatal("a refused probe was remembered as sent")
	}
	if err := w.sim.Net.RunFor(11 * time.Second); err != nil {
		t.Fatal(err)
	}
	walks = e.Stats().Walks
	st.probe(stranger)
	if e.Stats().Walks != walks+1 {
		t.Fatal("no probe after the period")
	}
	if _, ok := st.probed[stranger]; !ok {
		t.Fatal("a probe sent was not remembered")
	}
}

// TestIndexStaleAfterCommunityDestroyed: the write that destroys a
// community (every message deleted but the proofs kept) marks its indexes
// stale, as a delete does; before, they went on offering the deleted
// messages.
func TestIndexStaleAfterCommunityDestroyed(t *testing.T) {
	_, e, x, st := lone(t)
	for _, s := range st.scopes {
		if _, err := st.index(s); err != nil {
			t.Fatal(err)
		}
	}
	x.Applied(e, []dispersy.Op{{Kind: dispersy.OpDeleteCommunityExcept, Community: debugCID}})
	for _, s := range st.scopes {
		if !s.dirty {
			t.Fatalf("scope %d: index not stale after the community's messages were deleted", s.prio)
		}
	}
}

// TestHoldSyncOnlyFarBehind: the walk's bloom sync is held only while a
// transfer runs on a node far behind its peers (a joiner); a node in the
// steady state keeps it, transfer or not (holding it there took a 50-peer
// run from 12 s to 22-59 s).
func TestHoldSyncOnlyFarBehind(t *testing.T) {
	_, _, x, st := lone(t)
	c := st.c
	own := c.GlobalTime()
	for _, k := range []struct {
		active   bool
		peerTime uint64
		want     bool
	}{
		{false, 100 * own, false},
		{true, own + 10, false},
		{true, 100*own + 1000, true},
	} {
		st.tr.pulls = nil
		if k.active {
			st.tr.pulls = []*pull{{prio: 1, lo: reconcile.Zero, hi: reconcile.Infinity}}
		}
		st.peerTime = k.peerTime
		if got := x.HoldSync(c); got != k.want {
			t.Errorf("transfer %v, own clock %d, peers' %d: HoldSync %v, want %v", k.active, own, k.peerTime, got, k.want)
		}
	}
	st.tr.pulls = nil
}
