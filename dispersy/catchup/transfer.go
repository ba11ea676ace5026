package catchup

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// want is one id to fetch.
type want struct {
	id      reconcile.ID
	win     reconcile.Window
	prio    uint8
	holders []netip.AddrPort
	tries   int
	req     *request // outstanding in this request; nil: queued
	done    bool     // arrived or given up
}

// request is one dispersy-want in flight.
type request struct {
	peer     netip.AddrPort
	wants    []*want
	left     int
	deadline time.Time
	limit    time.Time // the request's full timeout
	sent     time.Time
}

// transfer is the paced, receiver-driven bulk transfer of the ids that
// reconciliation found missing: a window of outstanding requests that
// grows by one per window of answered requests and halves on a timeout
// (AIMD), in ascending global time within the highest priority first, over
// every peer known to hold the ids.
type transfer struct {
	wants  map[reconcile.ID]*want
	queue  []*want // queued, sorted when sorted is true
	sorted bool
	reqs   []*request
	cwnd   float64
	given  map[reconcile.ID]bool
	wake   bool      // pump at the next tick
	cut    time.Time // when the window last halved: at most once per timeout
	since  time.Time // when the current transfer began (wants went from none to some)

	pulls    []*pull // ranges to pull, sorted when psorted is true
	psorted  bool
	preqs    []*pullReq // dispersy-range requests in flight
	ssthresh float64    // slow start (pulls) below it
	psent    int        // range requests sent, and those lost, since pat
	plost    int
	pat      time.Time
	gaveUp   bool // something was given up: check again when the transfer ends
	// throttled: holders whose upload budget for us was spent, until when
	// they are not asked (range pulls).
	throttled map[netip.AddrPort]time.Time
}

// maxGiven bounds the remembered given-up ids.
const maxGiven = 1 << 16

func (t *transfer) init() {
	t.wants, t.given, t.cwnd, t.ssthresh = map[reconcile.ID]*want{}, map[reconcile.ID]bool{}, 4, 32
	t.throttled = map[netip.AddrPort]time.Time{}
}

// add records that holder has id (in window win of scope prio).
func (t *transfer) add(now time.Time, id reconcile.ID, win reconcile.Window, prio uint8, holder netip.AddrPort) {
	if t.given[id] {
		return
	}
	if !t.active() {
		t.since = now
	}
	if w := t.wants[id]; w != nil {
		if !slices.Contains(w.holders, holder) {
			w.holders = append(w.holders, holder)
		}
		return
	}
	w := &want{id: id, win: win, prio: prio, holders: []netip.AddrPort{holder}}
	t.wants[id] = w
	t.queue = append(t.queue, w)
	t.sorted = false
}

// arrived is called when a message with hash id is stored.
func (t *transfer) arrived(st *state, id reconcile.ID) {
	w := t.wants[id]
	if w == nil {
		return
	}
	delete(t.wants, id)
	w.done = true
	r := w.req
	if r == nil {
		return
	}
	st.x.stats.IDsReceived++
	if r.left--; r.left > 0 {
		// The answer's packets leave the holder back to back: once one
		// arrived, the rest are lost if none follows within about a round
		// trip. Do not hold the window for them, but do not give up on an
		// answer whose packets still trickle in (a receive queue working
		// through a backlog): asking again makes duplicates.
		r.deadline = st.now().Add(max(st.rtt, 50*time.Millisecond))
		if r.limit.Before(r.deadline) {
			r.deadline = r.limit
		}
		st.schedule()
	}
	if r.left == 0 {
		t.reqs = slices.DeleteFunc(t.reqs, func(x *request) bool { return x == r })
		t.grow(st)
		t.wake = true
		st.schedule()
	}
}

// deadline is the earliest request timeout, or the time a throttled pull
// may be asked again.
func (t *transfer) deadline(now time.Time) (time.Time, bool) {
	var d time.Time
	for _, r := range t.reqs {
		if d.IsZero() || r.deadline.Before(d) {
			d = r.deadline
		}
	}
	for _, r := range t.preqs {
		if d.IsZero() || r.deadline.Before(d) {
			d = r.deadline
		}
	}
	if w, ok := t.waiting(now); ok && (d.IsZero() || w.Before(d)) {
		d = w
	}
	return d, !d.IsZero()
}

// expire handles the requests that timed out: their missing ids go back
// to the queue (the holder that failed last), or are given up after
// MaxRetries. A request that got no answer at all halves the window (once
// per timeout period, as TCP halves once per window); one whose answer
// lost more than a quarter of its packets shrinks it by an eighth; one that
// lost fewer grows it like a complete answer: random loss on a path is not
// congestion, and shrinking on every lost packet would keep a lossy link
// at a window of one or two.
func (t *transfer) expire(st *state, now time.Time) {
	lost, partial := false, false
	t.reqs = slices.DeleteFunc(t.reqs, func(r *request) bool {
		if now.Before(r.deadline) {
			return false
		}
		switch {
		case r.left == len(r.wants):
			lost = true
			st.timedOut(r.sent)
		case 4*r.left > len(r.wants):
			partial = true
		default:
			// A few packets of the answer lost: the path's random loss,
			// not congestion; the request counts as answered.
			t.grow(st)
		}
		st.x.stats.Timeouts++
		for _, w := range r.wants {
			if w.done || w.req != r {
				continue
			}
			w.req = nil
			if w.tries++; w.tries > st.x.o.MaxRetries {
				w.done = true
				delete(t.wants, w.id)
				if len(t.given) >= maxGiven {
					clear(t.given)
				}
				t.given[w.id] = true
				st.x.stats.IDsGivenUp++
				t.gaveUp = true
				continue
			}
			if i := slices.Index(w.holders, r.peer); i >= 0 && len(w.holders) > 1 {
				w.holders = append(slices.Delete(w.holders, i, i+1), r.peer)
			}
			t.queue = append(t.queue, w)
			t.sorted = false
		}
		return true
	})
	pl, pp := t.expirePulls(st, now)
	lost, partial = lost || pl, partial || pp
	switch {
	case lost && now.Sub(t.cut) >= st.rto():
		t.cwnd = max(1, t.cwnd/2)
		t.ssthresh = t.cwnd
		t.cut = now
	case partial:
		t.cwnd = max(1, t.cwnd*7/8)
	}
}

// pump sends requests while the window has room.
func (t *transfer) pump(st *state) {
	t.wake = false
	if !t.sorted {
		t.queue = slices.DeleteFunc(t.queue, func(w *want) bool { return w.done || w.req != nil })
		slices.SortStableFunc(t.queue, func(a, b *want) int {
			if c := cmp.Compare(b.prio, a.prio); c != 0 {
				return c
			}
			return cmp.Compare(a.win.Lo, b.win.Lo)
		})
		t.sorted = true
	}
	now := st.now()
	n := st.x.o.IDsPerRequest
	scan := 0 // the wants before it are taken or wait for a pull (during this pump)
	limit := st.acceptable()
	for t.inflight(st) < t.cwnd {
		for len(t.queue) > 0 && (t.queue[0].done || t.queue[0].req != nil) {
			t.queue = t.queue[1:]
			scan = max(0, scan-1)
		}
		// The first want that no pull may fetch, and the first pull.
		var first *want
		at := 0
		for k := scan; k < len(t.queue); k++ {
			if w := t.queue[k]; !w.done && w.req == nil && !t.pulling(w.prio, w.win) {
				first, at = w, k
				break
			}
			scan = k + 1
		}
		if p := t.nextPull(now, limit); p != nil && (first == nil || p.prio > first.prio || (p.prio == first.prio && p.lo.Time <= first.win.Lo)) {
			t.sendPull(st, p)
			continue
		}
		if first == nil {
			return
		}
		peer := t.holder(st, first)
		if !peer.IsValid() {
			// No usable holder: give it up; a later session finds it again.
			first.done = true
			delete(t.wants, first.id)
			continue
		}
		r := &request{peer: peer, deadline: now.Add(st.rto()), sent: now}
		r.limit = r.deadline
		for k := at; k < len(t.queue) && k < at+8*n && len(r.wants) < n; k++ {
			w := t.queue[k]
			if !w.done && w.req == nil && w.prio == first.prio && slices.Contains(w.holders, peer) && !t.pulling(w.prio, w.win) {
				w.req = r
				r.wants = append(r.wants, w)
			}
		}
		r.left = len(r.wants)
		t.reqs = append(t.reqs, r)
		st.sendWant(r)
	}
}

// holder picks the holder of w with the fewest requests in flight that is
// not backed off.
func (t *transfer) holder(st *state, w *want) netip.AddrPort {
	var best netip.AddrPort
	bestN := -1
	now := st.now()
	for _, h := range w.holders {
		if now.Before(st.backoff[h]) {
			continue
		}
		n := t.load(h)
		if bestN < 0 || n < bestN {
			best, bestN = h, n
		}
	}
	return best
}

// sendWant sends r's dispersy-want: its ids grouped by window.
func (st *state) sendWant(r *request) {
	ws := slices.Clone(r.wants)
	slices.SortFunc(ws, func(a, b *want) int {
		if c := cmp.Compare(a.win.Lo, b.win.Lo); c != 0 {
			return c
		}
		if c := cmp.Compare(a.win.Hi, b.win.Hi); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	p := Want{Scope: ws[0].prio}
	for _, w := range ws {
		if g := len(p.Groups) - 1; g >= 0 && p.Groups[g].Lo == w.win.Lo && p.Groups[g].Hi == w.win.Hi {
			p.Groups[g].IDs = append(p.Groups[g].IDs, w.id)
			continue
		}
		p.Groups = append(p.Groups, WantGroup{Lo: w.win.Lo, Hi: w.win.Hi, IDs: []reconcile.ID{w.id}})
	}
	st.x.stats.IDsRequested += uint64(len(ws))
	if m, err := dispersy.Create(st.c, WantType, p, dispersy.To(r.peer)); err == nil {
		st.x.stats.Messages++
		b, _ := m.Payload.AppendBinary(nil)
		st.x.stats.BytesSent += uint64(len(b))
	}
}
