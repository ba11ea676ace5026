package catchup

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// serveReconcile answers one reconcile message of a peer's session
// (stateless: reconcile.Reconciler.RespondBatch on a fresh responder).
func (st *state) serveReconcile(from netip.AddrPort, p Reconcile) {
	if !st.x.e.Proven(from) {
		// The reply would mostly not fit the anti-amplification credit
		// (our introduction response to the same peer has used it): keep
		// the message, probe, and answer it when the probe's response
		// proves the peer (Walked), instead of letting the peer wait a
		// whole retry timeout (TestFirstRoundWithUnprovenHolder).
		st.x.stats.Unproven++
		st.probe(from)
		if len(st.deferred) >= maxDeferred {
			clear(st.deferred)
		}
		q := append(st.deferred[from], p)
		st.deferred[from] = q[max(0, len(q)-maxDeferredPerPeer):]
		return
	}
	if p.Scope == 0 {
		st.serveWholeCheck(from, p)
		return
	}
	s := st.scopeOf(p.Scope)
	if s == nil {
		return
	}
	ix, err := st.index(s)
	if err != nil {
		return
	}
	var replies [][]byte
	if st.x.o.lie {
		var fp reconcile.Fingerprint
		for i := range fp {
			fp[i] = byte(st.x.e.Rand().Uint32()) // the engine's source: runs stay reproducible
		}
		m := reconcile.Message{Ranges: []reconcile.Range{{Upper: reconcile.Infinity, Mode: reconcile.ModeFingerprint, Fingerprint: fp}}}
		b, _ := m.AppendEncode(nil)
		replies = [][]byte{b}
	} else {
		r, err := reconcile.NewResponder(ix, st.rcfg())
		if err == nil {
			replies, _, err = r.RespondBatch(p.Msg)
		}
		if err != nil || len(replies) > math.MaxUint8 {
			return
		}
	}
	st.x.stats.Answered++
	for j, m := range replies {
		st.sendReconcile(from, Reconcile{Reply: true, Session: p.Session, Round: p.Round, Index: p.Part, Part: uint8(j), Parts: uint8(len(replies)), Scope: p.Scope, Msg: m})
	}
}

// probe walks to an unproven peer whose message we cannot answer yet, at
// most once per second: a peer's round of several messages (one per
// scope) made one probe each, and each probe's response carried the
// peer's bloom filter, answered with a sync answer of packets that its
// transfer fetched again.
func (st *state) probe(a netip.AddrPort) {
	now := st.now()
	if t, ok := st.probed[a]; ok && now.Sub(t) < time.Second {
		return
	}
	if len(st.probed) >= maxBuckets {
		clear(st.probed)
	}
	// A probe the engine refused (its rate limit) is not remembered: the
	// next message tries again.
	if st.c.Probe(a) {
		st.probed[a] = now
	}
}

// bucket is one peer's upload budget: a token bucket of Options.UploadRate
// bytes per second, one second deep.
type bucket struct {
	at     time.Time
	tokens float64
}

func (b *bucket) take(now time.Time, rate, n int) bool {
	if b.at.IsZero() {
		b.tokens = float64(rate)
	} else {
		b.tokens = min(float64(rate), b.tokens+now.Sub(b.at).Seconds()*float64(rate))
	}
	b.at = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// maxDeferred bounds the unproven peers whose reconcile message waits for
// their proof.
const maxDeferred = 64

// maxDeferredPerPeer bounds the messages kept per unproven peer: a round's
// parts (MessagesPerRound, 16 by default), the newest kept.
const maxDeferredPerPeer = 32

// serveDeferred answers the reconcile messages an unproven peer sent
// before its walk response proved it.
func (st *state) serveDeferred(addr netip.AddrPort) {
	ps := st.deferred[addr]
	delete(st.deferred, addr)
	for _, p := range ps {
		st.serveReconcile(addr, p)
	}
}

// maxBuckets bounds the upload budgets kept (only proven peers get one).
const maxBuckets = 4096

// onWant answers a dispersy-want with the stored packets it names, in
// ascending global time, within the peer's upload budget.
func (st *state) onWant(from netip.AddrPort, w Want) {
	if b, err := w.AppendBinary(nil); err == nil {
		st.x.stats.BytesReceived += uint64(len(b))
	}
	if !st.x.e.Proven(from) {
		st.x.stats.Unproven++
		st.probe(from)
		return
	}
	s := st.scopeOf(w.Scope)
	if s == nil {
		return
	}
	ix, err := st.index(s)
	if err != nil {
		return
	}
	// Find each group's ids in the index (at most MaxScan items examined in
	// all), then read their packets from the store over the span of global
	// times they cover.
	type pkt struct {
		gt   uint64
		data []byte
	}
	var out []pkt
	budget := st.x.o.MaxScan
	var items []reconcile.Item
	for _, g := range w.Groups {
		want := map[reconcile.ID]bool{}
		for _, id := range g.IDs {
			want[id] = true
		}
		i, j := ix.Rank(reconcile.Bound{Time: g.Lo}), ix.Len()
		if g.Hi < math.MaxUint64-1 {
			j = ix.Rank(reconcile.Bound{Time: g.Hi + 1})
		}
		j = min(j, i+budget)
		if j <= i {
			continue
		}
		budget -= j - i
		found := map[reconcile.ID]uint64{}
		lo, hi := uint64(math.MaxUint64), uint64(0)
		items = ix.AppendRanks(items[:0], i, j)
		for _, it := range items {
			if want[it.ID] {
				found[it.ID] = it.Time
				lo, hi = min(lo, it.Time), max(hi, it.Time)
			}
		}
		n := len(out)
		for _, id := range s.types {
			if len(found) == 0 || len(out)-n == len(found) {
				break
			}
			err := st.x.e.Store().Range(dispersy.RangeQuery{Community: st.c.ID(), MessageID: id, Low: lo, High: hi}, func(r *dispersy.Record) bool {
				if t, ok := found[reconcile.ID(r.Hash)]; ok && t == r.GlobalTime {
					out = append(out, pkt{r.GlobalTime, r.Packet})
				}
				return len(out)-n < len(found)
			})
			if err != nil {
				return
			}
		}
	}
	slices.SortStableFunc(out, func(a, b pkt) int { return cmp.Compare(a.gt, b.gt) })
	b := st.bucket(from)
	now := st.now()
	for _, p := range out {
		if !b.take(now, st.x.o.UploadRate, len(p.data)) {
			st.x.stats.Throttled++
			continue
		}
		if st.c.SendPacket(from, p.data) {
			st.x.stats.PacketsServed++
			st.x.stats.BytesSent += uint64(len(p.data))
		}
	}
}

// serveWholeCheck answers a check of all scopes together: an empty message
// when our union's fingerprint is the same, else ours.
func (st *state) serveWholeCheck(from netip.AddrPort, p Reconcile) {
	m, err := reconcile.Decode(p.Msg)
	if err != nil || len(m.Ranges) != 1 || m.Ranges[0].Mode != reconcile.ModeFingerprint || len(st.scopes) == 0 {
		return
	}
	mine, err := st.wholeCheck()
	if err != nil {
		return
	}
	reply := []byte{mine[0]} // the version byte alone: no range, nothing to do
	if ours, _ := reconcile.Decode(mine); st.x.o.lie || ours.Ranges[0].Fingerprint != m.Ranges[0].Fingerprint {
		reply = mine
	}
	st.x.stats.Answered++
	st.sendReconcile(from, Reconcile{Reply: true, Session: p.Session, Round: p.Round, Index: p.Part, Part: 0, Parts: 1, Scope: 0, Msg: reply})
}

// bucket is the upload budget of peer from (made on first use).
func (st *state) bucket(from netip.AddrPort) *bucket {
	b := st.budgets[from]
	if b == nil {
		if len(st.budgets) >= maxBuckets {
			clear(st.budgets)
		}
		b = &bucket{}
		st.budgets[from] = b
	}
	return b
}
