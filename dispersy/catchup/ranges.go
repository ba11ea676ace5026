package catchup

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// pull is a key range [lo, hi) of the scope of priority prio where we held
// nothing and its holders have items (reconcile.Reconciler.NeedRanges): it
// is fetched with dispersy-range requests, each starting where the header
// of the previous answer ended, so one pull has at most one request
// without a header in flight, and may have several with one.
type pull struct {
	prio    uint8
	lo, hi  reconcile.Bound
	max     int // items per request: RangeMax, or a re-asked gap's size
	holders []netip.AddrPort
	tries   int
	busy    bool // a request at lo is in flight without its header
	hdrOnly bool // its packets came, its header was lost: ask for the header
	// notBefore: a throttled holder answered nothing; wait a little.
	notBefore time.Time
}

// pullReq is one dispersy-range request in flight.
type pullReq struct {
	p        *pull
	peer     netip.AddrPort
	lo, hi   reconcile.Bound // asked
	max      int
	hdrOnly  bool            // asked for the header alone
	last     bool            // the last item of the answer arrived
	tries    int             // the pull's tries when it was sent
	got      int             // items of [lo, hi) stored since it was sent
	hdr      bool            // the answer's header arrived:
	next     reconcile.Bound // the items sent are those in [lo, next)
	prefixes [][PrefixSize]byte
	sent     time.Time
	deadline time.Time
	retry    bool
}

// end is the upper bound of what r covers.
func (r *pullReq) end() reconcile.Bound {
	if r.hdr {
		return r.next
	}
	return r.hi
}

// active reports whether the transfer has anything to fetch.
func (t *transfer) active() bool { return len(t.wants) > 0 || len(t.pulls) > 0 || len(t.preqs) > 0 }

// addRange records that holder has items in [rb.Lo, rb.Hi) of scope prio
// where we have none: the parts already being pulled get holder as one
// more source, the rest becomes new pulls.
func (t *transfer) addRange(now time.Time, rb reconcile.RangeBounds, prio uint8, holder netip.AddrPort) {
	if !t.active() {
		t.since = now
	}
	type iv struct{ lo, hi reconcile.Bound }
	var cov []iv
	for _, p := range t.pulls {
		if p.prio == prio && p.lo.Less(rb.Hi) && rb.Lo.Less(p.hi) {
			if !slices.Contains(p.holders, holder) {
				p.holders = append(p.holders, holder)
			}
			cov = append(cov, iv{p.lo, p.hi})
		}
	}
	for _, r := range t.preqs {
		if r.p.prio == prio && r.lo.Less(rb.Hi) && rb.Lo.Less(r.end()) {
			cov = append(cov, iv{r.lo, r.end()})
		}
	}
	slices.SortFunc(cov, func(a, b iv) int { return a.lo.Compare(b.lo) })
	cur := rb.Lo
	add := func(lo, hi reconcile.Bound) {
		if lo.Less(hi) {
			t.pulls = append(t.pulls, &pull{prio: prio, lo: lo, hi: hi, holders: []netip.AddrPort{holder}})
			t.psorted = false
		}
	}
	for _, c := range cov {
		if cur.Less(c.lo) {
			add(cur, minBound(c.lo, rb.Hi))
		}
		if cur.Less(c.hi) {
			cur = c.hi
		}
	}
	add(cur, rb.Hi)
}

func minBound(a, b reconcile.Bound) reconcile.Bound {
	if a.Less(b) {
		return a
	}
	return b
}

// pulling reports whether a want of scope prio in window win may lie in a
// range being pulled: it waits for the pull (which fetches it anyway)
// instead of being asked for a second time.
func (t *transfer) pulling(prio uint8, win reconcile.Window) bool {
	in := func(lo, hi reconcile.Bound) bool {
		return lo.Time <= win.Hi && (win.Lo < hi.Time || (win.Lo == hi.Time && hi.ID != reconcile.ID{}))
	}
	for _, p := range t.pulls {
		if p.prio == prio && in(p.lo, p.hi) {
			return true
		}
	}
	for _, r := range t.preqs {
		if r.p.prio == prio && in(r.lo, r.end()) {
			return true
		}
	}
	return false
}

// nextPull returns the first pull, in priority then key order, that may
// be asked now: not waiting after a throttled answer, and starting below
// limit (the global time above which the engine would refuse what it
// brings as from the future, see acceptable), unless it is the first
// pull, so that the transfer always goes on.
func (t *transfer) nextPull(now time.Time, limit uint64) *pull {
	if !t.psorted {
		slices.SortStableFunc(t.pulls, func(a, b *pull) int {
			if c := cmp.Compare(b.prio, a.prio); c != 0 {
				return c
			}
			return a.lo.Compare(b.lo)
		})
		t.psorted = true
	}
	for k, p := range t.pulls {
		if !p.busy && !now.Before(p.notBefore) && (k == 0 || p.lo.Time <= limit) {
			return p
		}
	}
	return nil
}

// acceptable is the highest global time the engine accepts now in the
// community (its rule: max(own clock, median of the verified candidates'
// clocks) + AcceptableGlobalTimeRange), less a margin for the items of
// one answer: ranges far above it wait until the clock, raised by what
// arrives, reaches them (pulling the whole history at once, the joiner
// dropped messages as future-global-time).
func (st *state) acceptable() uint64 {
	base := max(st.c.GlobalTime(), st.c.Table().MedianGlobalTime(st.now()))
	r := st.x.e.Config().AcceptableGlobalTimeRange
	return base + r - min(r/4, r)
}

// waiting is the earliest time a throttled pull may be asked again.
func (t *transfer) waiting(now time.Time) (time.Time, bool) {
	var at time.Time
	for _, p := range t.pulls {
		if !p.busy && now.Before(p.notBefore) && (at.IsZero() || p.notBefore.Before(at)) {
			at = p.notBefore
		}
	}
	return at, !at.IsZero()
}

// load is the requests in flight to peer.
func (t *transfer) load(peer netip.AddrPort) int {
	n := 0
	for _, r := range t.reqs {
		if r.peer == peer {
			n++
		}
	}
	for _, r := range t.preqs {
		if r.peer == peer && !r.hdr {
			n++
		}
	}
	return n
}

// dropPull removes p from the pulls (done or given up).
func (t *transfer) dropPull(p *pull) {
	t.pulls = slices.DeleteFunc(t.pulls, func(x *pull) bool { return x == p })
}

// sendPull sends the next request of p to the least loaded usable holder;
// false when p has none (it is given up: a later session finds the range
// again).
func (t *transfer) sendPull(st *state, p *pull) bool {
	now := st.now()
	var peer netip.AddrPort
	var until time.Time // the end of the earliest throttle of a holder
	best := -1
	for _, h := range p.holders {
		if now.Before(st.backoff[h]) {
			continue
		}
		if u, ok := t.throttled[h]; ok && (now.Before(u) || t.load(h) > 0) {
			// A holder that throttled us: nothing until its budget
			// refilled, then one request at a time until an answer
			// comes back whole (asked by every pull at once, it
			// answered one and refused the others).
			if poll := now.Add(max(st.rtt/2, 5*time.Millisecond)); u.Before(poll) {
				u = poll
			}
			if until.IsZero() || u.Before(until) {
				until = u
			}
			continue
		}
		if n := t.load(h); best < 0 || n < best {
			peer, best = h, n
		}
	}
	if !peer.IsValid() && !until.IsZero() {
		p.notBefore = until // every holder's budget is spent: wait
		return true
	}
	if !peer.IsValid() {
		t.dropPull(p)
		st.x.stats.RangesGivenUp++
		t.gaveUp = true
		return false
	}
	t.sendPullTo(st, p, peer, p.hdrOnly)
	return true
}

// sendPullTo sends the next request of p to peer; hdrOnly asks for the
// header alone.
func (t *transfer) sendPullTo(st *state, p *pull, peer netip.AddrPort, hdrOnly bool) {
	now := st.now()
	n := p.max
	if n <= 0 {
		n = st.x.o.RangeMax
	}
	r := &pullReq{p: p, peer: peer, lo: p.lo, hi: p.hi, max: n, hdrOnly: hdrOnly, tries: p.tries, sent: now, deadline: now.Add(st.rto()), retry: p.tries > 0}
	p.busy = true
	t.psent++
	t.preqs = append(t.preqs, r)
	msg := Pull{Scope: p.prio, N: n, Lo: p.lo, Hi: p.hi, HdrOnly: hdrOnly}
	if _, err := dispersy.Create(st.c, RangeType, msg, dispersy.To(peer)); err == nil {
		st.x.stats.Messages++
		st.x.stats.RangeRequests++
		b, _ := msg.AppendBinary(nil)
		st.x.stats.BytesSent += uint64(len(b))
	}
}

// inflight is the window the requests in flight take: one per want
// request, and per range request its items over RangeMax (a re-asked gap
// of one item takes 1/64 of a slot).
func (t *transfer) inflight(st *state) float64 {
	n := float64(len(t.reqs))
	for _, r := range t.preqs {
		if r.hdrOnly {
			n += 1 / float64(st.x.o.RangeMax)
		} else {
			n += float64(r.max) / float64(st.x.o.RangeMax)
		}
	}
	return n
}

// grow opens the window after an answered request: slow start (one more
// request per answer) until the first loss, then one per window while the
// smoothed round trip stays within a quarter of the least one (TCP
// Vegas's rule: a longer one is a queue that the window already fills).
func (t *transfer) grow(st *state) {
	switch {
	case t.cwnd < t.ssthresh:
		t.cwnd++
	case st.rtt > st.minRTT+st.minRTT/4:
		// The round trip grew a quarter above the path's: the window
		// fills a queue already; growing it would only overflow it.
	default:
		t.cwnd += 1 / t.cwnd
	}
	t.cwnd = min(float64(st.x.o.MaxWindow), t.cwnd)
}

// onPullReply takes the header of an answer to one of our requests.
func (st *state) onPullReply(from netip.AddrPort, m Pull) {
	t := &st.tr
	i := slices.IndexFunc(t.preqs, func(r *pullReq) bool {
		return r.peer == from && !r.hdr && r.p.prio == m.Scope && r.lo == m.Lo
	})
	if i < 0 {
		return
	}
	r := t.preqs[i]
	if m.N > r.max || r.hi.Less(m.Hi) {
		return // not what we asked: the request times out
	}
	now := st.now()
	if !r.retry {
		st.sample(now.Sub(r.sent))
	}
	r.hdr, r.next, r.prefixes = true, m.Hi, m.Prefixes
	if !r.hdrOnly && (m.N == r.max || !m.Hi.Less(r.hi)) {
		delete(t.throttled, from) // a whole answer: its budget is back
	}
	p := r.p
	p.busy, p.lo, p.hdrOnly, p.tries = false, m.Hi, false, 0 // progress: a fresh start
	if m.N == 0 && m.Hi.Less(p.hi) {
		// Throttled: this holder's upload budget for us is spent. Ask
		// it nothing for a tenth of a second (the budget refills at
		// UploadRate per second), whatever the range: asked range by
		// range, a holder throttling 125 ranges was asked 125 times per
		// tenth of a second. The request took no window.
		if len(t.throttled) >= maxBuckets {
			clear(t.throttled)
		}
		t.throttled[from] = now.Add(100 * time.Millisecond)
		p.notBefore = now.Add(100 * time.Millisecond)
		t.preqs = slices.DeleteFunc(t.preqs, func(x *pullReq) bool { return x == r })
		t.wake = true
		st.schedule()
		return
	}
	if !p.lo.Less(p.hi) {
		t.dropPull(p)
	} else {
		st.widen(p, r, m)
	}
	r.deadline = now.Add(max(st.rtt, 50*time.Millisecond))
	if r.hdrOnly {
		// The packets came before: re-ask the gaps now.
		t.preqs = slices.DeleteFunc(t.preqs, func(x *pullReq) bool { return x == r })
		t.gaps(st, r)
	} else {
		st.pullCheck(r)
	}
	t.wake = true
	st.schedule()
}

// widen splits the rest of p when the transfer has fewer range pulls that
// may be asked now than its window has room for. Its request r just got
// its header m. Each pull has one request without a
// header in flight at a time, so a joiner that learned few ranges (16
// where it held a few items) would otherwise fill its window only after
// reconciling them again; this way the pulls double per round trip, as
// the window does in slow start. Only after a full answer: a holder that
// sent fewer items than asked while the range goes on is at its upload
// budget or scan limit, and more requests would only be refused.
//
// The engine accepts global times up to acceptable, which rises with the
// highest one stored: a pull that spans that limit is split just below
// it, so that the next answer raises the limit by most of
// AcceptableGlobalTimeRange (split in the middle, the limit would rise by
// one answer per round trip and hold the transfer to that pace). Any other
// pull is split in the middle of its global times. The header tells how
// dense the range is: each part must be expected to hold RangeMax items.
// For a range open above, the highest global time a walk response told
// stands for its end.
func (st *state) widen(p *pull, r *pullReq, m Pull) {
	t := &st.tr
	from := r.lo.Time
	if p.max > 0 || m.N < r.max || p.lo.Time < from {
		return // a gap asked again, or a partial answer
	}
	limit := st.acceptable()
	n := 0
	for _, q := range t.pulls {
		if q.max == 0 && q.lo.Time <= limit {
			n++ // a pull that may be asked now
		}
	}
	if float64(n) >= t.cwnd {
		return
	}
	end := p.hi.Time
	if p.hi == reconcile.Infinity {
		end = st.peerTime + 1
	}
	// The global times that hold RangeMax items, at the answer's density.
	need := max(1, uint64(st.x.o.RangeMax)*(p.lo.Time-from+1)/uint64(m.N))
	var at uint64
	switch {
	case end > limit && limit > p.lo.Time+2*need:
		at = limit - need
	case min(end, limit) > p.lo.Time+2*need:
		at = p.lo.Time + (min(end, limit)-p.lo.Time)/2
	default:
		return
	}
	b := reconcile.Bound{Time: at}
	t.pulls = append(t.pulls, &pull{prio: p.prio, lo: b, hi: p.hi, holders: slices.Clone(p.holders)})
	p.hi = b
	t.psorted = false
}

// pullCheck ends r when we hold every item its header announced.
func (st *state) pullCheck(r *pullReq) bool {
	s := st.scopeOf(r.p.prio)
	if s == nil {
		return false
	}
	ix, err := st.index(s)
	if err != nil || ix.Rank(r.next)-ix.Rank(r.lo) < len(r.prefixes) {
		return false
	}
	t := &st.tr
	t.preqs = slices.DeleteFunc(t.preqs, func(x *pullReq) bool { return x == r })
	st.x.stats.RangeItems += uint64(len(r.prefixes))
	t.grow(st)
	t.wake = true
	return true
}

// pulled is called when item of scope s is stored: the request whose
// answer it belongs to may be complete, else it waits a little longer.
func (st *state) pulled(s *scope, it reconcile.Item) {
	for _, r := range st.tr.preqs {
		if r.p.prio != s.prio || it.Less(r.lo) || !it.Less(r.end()) {
			continue
		}
		r.got++
		if d := st.now().Add(max(st.rtt, 50*time.Millisecond)); d.After(r.deadline) && !r.last {
			r.deadline = d
		}
		if r.hdr && !st.pullCheck(r) {
			if n := len(r.prefixes); n > 0 && [PrefixSize]byte(it.ID[:PrefixSize]) == r.prefixes[n-1] {
				// The answer's last item: the holder sent its items in
				// order, so those still missing were lost, or overtaken
				// by it on the way: wait only the round trip's deviation
				// for them before re-asking, not a round trip.
				r.last = true
				r.deadline = st.now().Add(max(2*st.rttvar, st.rtt/4, 2*time.Millisecond))
			}
		}
		st.schedule()
		return
	}
}

// after is the least bound above it.
func after(it reconcile.Item) reconcile.Bound {
	for i := len(it.ID) - 1; i >= 0; i-- {
		if it.ID[i]++; it.ID[i] != 0 {
			return it
		}
	}
	return reconcile.Bound{Time: it.Time + 1}
}

// expirePulls handles the requests that timed out. One without a header
// is asked again, another holder first, or, when its packets came and only
// the header was lost, asked again for the header alone; one with a header
// re-asks only its gaps. It reports lost when more than 15 % of the
// requests of the last timeout period got no answer at all (random loss of
// a few is the path's, not congestion), partial when an answer of 8 items
// or more lost more than a quarter of them.
func (t *transfer) expirePulls(st *state, now time.Time) (lost, partial bool) {
	t.preqs = slices.DeleteFunc(t.preqs, func(r *pullReq) bool {
		if now.Before(r.deadline) {
			return false
		}
		st.x.stats.Timeouts++
		p := r.p
		if !r.hdr {
			if r.got > 0 {
				p.hdrOnly = true // the holder answered: no holder rotation
			} else {
				t.plost++
				if r.retry {
					st.timedOut(r.sent)
				}
				if k := slices.Index(p.holders, r.peer); k >= 0 && len(p.holders) > 1 {
					p.holders = append(slices.Delete(p.holders, k, k+1), r.peer)
				}
			}
			p.busy = false
			if p.tries++; p.tries > st.x.o.MaxRetries {
				t.dropPull(p)
				st.x.stats.RangesGivenUp++
				t.gaveUp = true
			}
			return true
		}
		partial = t.gapsFound(st, r) || partial
		return true
	})
	if t.psent >= 32 && now.Sub(t.pat) >= st.rto() {
		lost = 100*t.plost > 15*t.psent
		t.psent, t.plost, t.pat = 0, 0, now
	}
	return lost, partial
}

// gapsFound re-asks r's gaps and reports whether they look like
// congestion: more than a quarter of an answer of 8 items or more lost
// (a small answer, a gap re-asked, that lost its packets says nothing of
// congestion); else the answer counts as answered.
func (t *transfer) gapsFound(st *state, r *pullReq) bool {
	if missing := t.gaps(st, r); 4*missing > len(r.prefixes) && len(r.prefixes) >= 8 {
		return true
	}
	t.grow(st)
	return false
}

// gaps re-asks the items r's header announced that we do not hold: each
// run of them between two items we hold becomes a pull of its own. It
// returns how many were missing.
func (t *transfer) gaps(st *state, r *pullReq) int {
	p := r.p
	s := st.scopeOf(p.prio)
	ix, err := st.index(s)
	if err != nil {
		return 0
	}
	holders := slices.Clone(p.holders)
	if k := slices.Index(holders, r.peer); k >= 0 && len(holders) > 1 {
		holders = append(slices.Delete(holders, k, k+1), r.peer)
	}
	held := map[[PrefixSize]byte]reconcile.Item{}
	for _, it := range ix.AppendRanks(nil, ix.Rank(r.lo), ix.Rank(r.next)) {
		held[[PrefixSize]byte(it.ID[:PrefixSize])] = it
	}
	missing := 0
	for a := 0; a < len(r.prefixes); {
		if has(held, r.prefixes[a]) {
			a++
			continue
		}
		b := a
		for b+1 < len(r.prefixes) && !has(held, r.prefixes[b+1]) {
			b++
		}
		lo, hi := r.lo, r.next
		if a > 0 {
			lo = after(held[r.prefixes[a-1]])
		}
		if b+1 < len(r.prefixes) {
			hi = held[r.prefixes[b+1]]
		}
		missing += b + 1 - a
		if lo.Less(hi) && r.tries < st.x.o.MaxRetries {
			t.pulls = append(t.pulls, &pull{prio: p.prio, lo: lo, hi: hi, max: b + 1 - a, holders: holders, tries: r.tries + 1})
			t.psorted = false
		} else {
			st.x.stats.RangesGivenUp++
			t.gaveUp = true
		}
		a = b + 1
	}
	st.x.stats.RangeItems += uint64(len(r.prefixes) - missing)
	return missing
}

func has(m map[[PrefixSize]byte]reconcile.Item, k [PrefixSize]byte) bool {
	_, ok := m[k]
	return ok
}

// onPull answers a dispersy-range request: the first items of the range,
// at most N and MaxScan, that the peer's upload budget allows; a header
// naming them, then their stored packets, in ascending order.
func (st *state) onPull(from netip.AddrPort, m Pull) {
	if b, err := m.AppendBinary(nil); err == nil {
		st.x.stats.BytesReceived += uint64(len(b))
	}
	if m.Reply {
		st.onPullReply(from, m)
		return
	}
	if !st.x.e.Proven(from) {
		st.x.stats.Unproven++
		st.probe(from)
		return
	}
	s := st.scopeOf(m.Scope)
	if s == nil {
		return
	}
	ix, err := st.index(s)
	if err != nil {
		return
	}
	i, j := ix.Rank(m.Lo), ix.Rank(m.Hi)
	k := min(j, i+m.N, i+st.x.o.MaxScan)
	items := ix.AppendRanks(nil, i, k)
	if m.HdrOnly {
		// The asker has the packets: the header alone, unbudgeted.
		reply := Pull{Reply: true, Scope: m.Scope, N: len(items), Lo: m.Lo, Hi: m.Hi}
		if k < j {
			reply.Hi = ix.At(k)
		}
		for _, it := range items {
			reply.Prefixes = append(reply.Prefixes, [PrefixSize]byte(it.ID[:PrefixSize]))
		}
		st.sendPullReply(from, reply)
		return
	}
	pkts := make([][]byte, len(items))
	if len(items) > 0 {
		at := map[reconcile.ID]int{}
		for x, it := range items {
			at[it.ID] = x
		}
		lo, hi, left := items[0].Time, items[len(items)-1].Time, len(items)
		for _, id := range s.types {
			err := st.x.e.Store().Range(dispersy.RangeQuery{Community: st.c.ID(), MessageID: id, Low: lo, High: hi}, func(rec *dispersy.Record) bool {
				if x, ok := at[reconcile.ID(rec.Hash)]; ok && items[x].Time == rec.GlobalTime && pkts[x] == nil {
					pkts[x] = rec.Packet
					left--
				}
				return left > 0
			})
			if err != nil || left == 0 {
				break
			}
		}
	}
	b := st.bucket(from)
	now := st.now()
	// The answer is the longest prefix the budget allows; an item the
	// store no longer has (a race with a prune) is left out of it.
	reply := Pull{Reply: true, Scope: m.Scope, Lo: m.Lo, Hi: m.Hi}
	var out [][]byte
	n := 0
	for ; n < len(items); n++ {
		if pkts[n] == nil {
			continue
		}
		if !b.take(now, st.x.o.UploadRate, len(pkts[n])) {
			st.x.stats.Throttled++
			break
		}
		out = append(out, pkts[n])
		reply.Prefixes = append(reply.Prefixes, [PrefixSize]byte(items[n].ID[:PrefixSize]))
	}
	switch {
	case n < len(items) && n == 0:
		reply.Hi = m.Lo
	case n < len(items):
		reply.Hi = items[n]
	case k < j:
		reply.Hi = ix.At(k)
	}
	reply.N = len(out)
	if !st.sendPullReply(from, reply) {
		return
	}
	for x, pk := range out {
		if st.x.o.lose != nil && st.x.o.lose(st.served, x) {
			continue
		}
		if st.c.SendPacket(from, pk) {
			st.x.stats.PacketsServed++
			st.x.stats.BytesSent += uint64(len(pk))
		}
	}
}

// alias makes b a holder of everything a holds for us; it reports whether
// a held anything.
func (t *transfer) alias(a, b netip.AddrPort) bool {
	found := false
	for _, p := range t.pulls {
		if slices.Contains(p.holders, a) {
			found = true
			if !slices.Contains(p.holders, b) {
				p.holders = append(p.holders, b)
			}
		}
	}
	for _, w := range t.wants {
		if slices.Contains(w.holders, a) {
			found = true
			if !slices.Contains(w.holders, b) {
				w.holders = append(w.holders, b)
			}
		}
	}
	return found
}

// sendPullReply sends the header of an answer to a dispersy-range request.
func (st *state) sendPullReply(to netip.AddrPort, reply Pull) bool {
	st.served++
	if st.x.o.lose != nil && st.x.o.lose(st.served, -1) {
		return true
	}
	if _, err := dispersy.Create(st.c, RangeType, reply, dispersy.To(to)); err != nil {
		return false
	}
	st.x.stats.Messages++
	st.x.stats.RangesServed++
	if hb, err := reply.AppendBinary(nil); err == nil {
		st.x.stats.BytesSent += uint64(len(hb))
	}
	return true
}
