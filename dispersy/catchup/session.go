package catchup

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// session is the initiating side of one reconciliation with one peer: one
// reconcile.Reconciler per scope, all run in the same round trips (after a
// first round that checks all the scopes together with one fingerprint).
type session struct {
	peer     netip.AddrPort
	id       uint16
	recs     []*reconcile.Reconciler // per scope; nil once that scope is done
	consumed []int                   // per scope: needs handed to the transfer
	pulled   []int                   // per scope: need ranges handed to the transfer
	round    uint16
	sent     []part              // this round's messages, for retransmission
	replies  map[[2]uint8][]byte // (index, part) -> reply
	parts    []int               // per request message: parts announced (0: none yet)
	sentAt   time.Time
	deadline time.Time
	tries    int
	idle     int // rounds in a row that found no new id
}

// part is one message of a round: a scope's reconcile message.
type part struct {
	k   int
	msg []byte
}

// maxSessions bounds the sessions of a community at once.
const maxSessions = 3

// maxSessionTries is how many times a round is sent before the peer is
// given up for Options.Backoff.
const maxSessionTries = 3

// rcfg is the reconcile configuration: messages fit one datagram with the
// frame (header, global time) and the payload's own header.
func (st *state) rcfg() reconcile.Config {
	budget := st.x.e.Config().MaxDatagram - conversion.HeaderSize - 8 - reconcileHeader
	return reconcile.Config{MaxMessageBytes: max(budget, reconcile.MinMessageBytes),
		MaxMessagesPerRound: st.x.o.MessagesPerRound, MaxRounds: st.x.o.MaxRounds,
		RangePull: !st.x.o.ListIDs}
}

// rto is the timeout of a round or a request (RFC 6298): the smoothed
// round trip plus four deviations, at least four round trips and 100 ms,
// doubled per timeout since the last fresh sample, at most 5 s. Without the
// doubling a path that slows down (a receive queue filling) never yields a
// sample again: every round and request expires and is asked again.
func (st *state) rto() time.Duration {
	d := time.Second
	if st.rtt > 0 {
		d = max(4*st.rtt, st.rtt+4*st.rttvar, 100*time.Millisecond)
	}
	return min(d<<st.slow, 5*time.Second)
}

// minRTTWindow is how long the least round trip stands for the path's
// (BBR's 10 s): after a route change to a longer path the window may grow
// again.
const minRTTWindow = 10 * time.Second

// sample feeds a round trip measured on a first try (Karn's rule).
func (st *state) sample(d time.Duration) {
	if now := st.now(); st.minRTT == 0 || d <= st.minRTT || now.Sub(st.minAt) > minRTTWindow {
		st.minRTT, st.minAt = d, now
	}
	if st.rtt == 0 {
		st.rtt, st.rttvar = d, d/2
	} else {
		st.rttvar = (3*st.rttvar + (st.rtt - d).Abs()) / 4
		st.rtt = (7*st.rtt + d) / 8
	}
	st.slow = 0
}

// timedOut doubles rto after a timeout of something sent at sent, once per
// backoff: what was sent before the last doubling does not double it again.
func (st *state) timedOut(sent time.Time) {
	if sent.Before(st.slowAt) || st.rto() >= 5*time.Second {
		return
	}
	st.slow++
	st.slowAt = st.now()
}

func (st *state) now() time.Time { return st.x.e.Now() }

// walked starts a session (its first round is a check: one fingerprint)
// with a proven peer we just exchanged a walk with.
func (st *state) walked(addr netip.AddrPort, gt uint64) {
	now := st.now()
	if len(st.checked)+len(st.backoff) > maxBuckets {
		// Bounded memory under churn: forget expired backoffs and the
		// times of past checks (they only delay a re-check).
		clear(st.checked)
		for a, t := range st.backoff {
			if !now.Before(t) {
				delete(st.backoff, a)
			}
		}
	}
	busy := slices.ContainsFunc(st.sessions, func(s *session) bool { return s.peer == addr })
	// One session at a time, or more (other holders for the transfer to
	// spread over) while ids are still missing.
	limit := 1
	if st.tr.active() {
		limit = maxSessions
	}
	if busy || len(st.sessions) >= limit || !st.x.e.Proven(addr) || now.Before(st.backoff[addr]) {
		return
	}
	if t, ok := st.checked[addr]; ok && now.Sub(t) < st.x.o.CheckInterval {
		return
	}
	own := st.c.GlobalTime()
	if farBehind(gt, own, st.x.o.RangeMax) {
		// Our clock is more than twice the peer's (a joiner, a node back
		// from a long absence): it holds little that we lack, and it
		// reconciles with us itself; our session would walk its whole
		// difference to learn nothing, in datagrams on its download.
		return
	}
	// A peer whose clock is more than twice ours holds much that we lack:
	// the check of all scopes together would only say that they differ,
	// so the first session checks each scope at once. (Peers in sync may
	// differ by a few global times: TestIdleInSync.)
	st.startDiffer(addr, farBehind(own, gt, st.x.o.RangeMax) && !st.tr.active() && len(st.sessions) == 0)
}

// farBehind reports whether a clock at behind is far behind one at ahead:
// less than half of it, by more than one range request's worth (n).
func farBehind(behind, ahead uint64, n int) bool {
	return ahead/2 > behind && ahead-behind > uint64(n)
}

// start opens a session with addr: its first round is a check of all the
// scopes together (or of the one scope).
func (st *state) start(addr netip.AddrPort) { st.startDiffer(addr, false) }

// recruit starts sessions, up to maxSessions, with the other proven
// verified candidates not reconciled since the transfer began, so that the
// transfer finds every holder of what is missing and spreads over them;
// and walks (Community.Probe) to the candidates others introduced us to,
// so that a joiner that knows one holder soon knows several: the probe's
// response starts a session (Walked).
func (st *state) recruit() {
	now := st.now()
	for _, cand := range st.c.Table().Candidates(now) {
		if len(st.sessions) >= maxSessions || !st.tr.active() {
			return
		}
		a := cand.Sock()
		if t, ok := st.checked[a]; (ok && !t.Before(st.tr.since)) || now.Before(st.backoff[a]) ||
			slices.ContainsFunc(st.sessions, func(s *session) bool { return s.peer == a }) {
			continue
		}
		if !st.x.e.Proven(a) || !cand.Verified(now) {
			// Only for a large transfer: a probe is one more walk.
			big := len(st.tr.pulls)+len(st.tr.preqs) > 0 || len(st.tr.wants) > 8*st.x.o.IDsPerRequest
			if t, ok := st.probed[a]; big && (!ok || now.Sub(t) >= time.Second) {
				if len(st.probed) >= maxBuckets {
					clear(st.probed)
				}
				st.probed[a] = now
				st.c.Probe(a)
			}
			continue
		}
		st.start(a)
	}
}

// startDiffer is start; with differ (the sets differ) the first round
// checks each scope.
func (st *state) startDiffer(addr netip.AddrPort, differ bool) {
	st.nextSess++
	s := &session{peer: addr, id: st.nextSess, recs: make([]*reconcile.Reconciler, len(st.scopes)), consumed: make([]int, len(st.scopes)), pulled: make([]int, len(st.scopes))}
	if len(st.scopes) > 1 && !differ {
		// One fingerprint of all scopes together first: equal sets cost
		// one small datagram each way, whatever the number of scopes.
		msg, err := st.wholeCheck()
		if err != nil {
			return
		}
		st.sessions = append(st.sessions, s)
		st.x.stats.Sessions++
		st.sendRound(s, []part{{wholeScope, msg}})
		st.schedule()
		return
	}
	st.openScopes(s)
}

// wholeScope is the part index of a check of all scopes together (scope 0
// on the wire: no bloom-synced type has priority 0).
const wholeScope = -1

// wholeCheck is the one-fingerprint message of the union of the scopes.
func (st *state) wholeCheck() ([]byte, error) {
	var sum reconcile.Sum
	for _, sc := range st.scopes {
		ix, err := st.index(sc)
		if err != nil {
			return nil, err
		}
		sum = sum.Plus(ix.Total())
	}
	m := reconcile.Message{Ranges: []reconcile.Range{{Upper: reconcile.Infinity, Mode: reconcile.ModeFingerprint, Fingerprint: sum.Fingerprint()}}}
	return m.AppendEncode(nil)
}

// openScopes sends the first round of every scope: its check.
func (st *state) openScopes(s *session) {
	var first []part
	for k, sc := range st.scopes {
		ix, err := st.index(sc)
		var msg []byte
		if err == nil {
			s.recs[k], err = reconcile.NewInitiator(ix, reconcile.Zero, reconcile.Infinity, st.rcfg())
		}
		if err == nil {
			msg, err = s.recs[k].Check()
		}
		if err != nil {
			return
		}
		first = append(first, part{k, msg})
	}
	if !slices.Contains(st.sessions, s) {
		st.sessions = append(st.sessions, s)
		st.x.stats.Sessions++
	}
	st.sendRound(s, first)
	st.schedule()
}

// scopeByte is the wire scope of part k.
func (st *state) scopeByte(k int) uint8 {
	if k == wholeScope {
		return 0
	}
	return st.scopes[k].prio
}

// sendRound sends the messages of the next round.
func (st *state) sendRound(s *session, msgs []part) {
	s.round++
	s.sent, s.tries = msgs, 0
	st.transmit(s)
}

// transmit sends (again) the current round's messages.
//
// A retry keeps the replies that arrived and resends only the messages
// whose replies are incomplete: the responder answers the same message the
// same way, and at 5 % loss a round of 16 messages with up to 16 replies
// each almost never arrives whole (TestLossAndReorderDuringTransfer).
func (st *state) transmit(s *session) {
	if s.tries == 0 {
		s.replies = map[[2]uint8][]byte{}
		s.parts = make([]int, len(s.sent))
	}
	s.sentAt = st.now()
	s.deadline = s.sentAt.Add(st.rto())
	s.tries++
	for i, m := range s.sent {
		if s.whole(i) {
			continue
		}
		st.sendReconcile(s.peer, Reconcile{Session: s.id, Round: s.round, Part: uint8(i), Parts: uint8(len(s.sent)), Scope: st.scopeByte(m.k), Msg: m.msg})
	}
}

func (st *state) sendReconcile(to netip.AddrPort, r Reconcile) {
	if _, err := dispersy.Create(st.c, ReconcileType, r, dispersy.To(to)); err == nil {
		st.x.stats.Messages++
		st.x.stats.BytesSent += uint64(len(r.Msg) + reconcileHeader)
	}
}

// whole reports whether every reply to the round's message i arrived.
func (s *session) whole(i int) bool {
	for j := range s.parts[i] {
		if _, ok := s.replies[[2]uint8{uint8(i), uint8(j)}]; !ok {
			return false
		}
	}
	return s.parts[i] != 0
}

// onReply takes one reply of the current round; when the round is
// complete it goes on.
func (st *state) onReply(from netip.AddrPort, p Reconcile) {
	i := slices.IndexFunc(st.sessions, func(s *session) bool { return s.peer == from })
	if i < 0 {
		return
	}
	s := st.sessions[i]
	if p.Session != s.id || p.Round != s.round || int(p.Index) >= len(s.sent) || p.Scope != st.scopeByte(s.sent[p.Index].k) {
		return // stale or not ours
	}
	if n := s.parts[p.Index]; n != 0 && n != int(p.Parts) {
		st.lied(s)
		return
	}
	s.parts[p.Index] = int(p.Parts)
	s.replies[[2]uint8{p.Index, p.Part}] = p.Msg
	byScope := make([][][]byte, len(st.scopes))
	if s.sent[0].k == wholeScope {
		byScope = make([][][]byte, 1) // one reply, handled below
	}
	for i, n := range s.parts {
		if n == 0 {
			return
		}
		for j := range n {
			r, ok := s.replies[[2]uint8{uint8(i), uint8(j)}]
			if !ok {
				return
			}
			k := max(s.sent[i].k, 0)
			byScope[k] = append(byScope[k], r)
		}
	}
	if s.tries == 1 {
		st.sample(st.now().Sub(s.sentAt))
	}
	st.x.stats.Rounds++
	if s.round == 1 && st.same(s, byScope) {
		return
	}
	if s.sent[0].k == wholeScope {
		// The answer to a check of all scopes: nothing (equal), else
		// reconcile scope by scope.
		if m, err := reconcile.Decode(p.Msg); err == nil && len(m.Ranges) == 0 {
			st.endSession(s, true)
		} else {
			st.openScopes(s)
		}
		st.schedule()
		return
	}
	var next []part
	found := false
	for k, replies := range byScope {
		if replies == nil || s.recs[k] == nil {
			continue
		}
		msgs, done, err := s.recs[k].ReconcileBatch(replies)
		found = st.takeNeeds(s, k) || found
		if errors.Is(err, reconcile.ErrTooManyIDs) || (errors.Is(err, reconcile.ErrRoundLimit) && s.idle == 0) {
			// A long but productive session (a difference above
			// reconcile's MaxIDs, ours or theirs, or MaxRounds round
			// trips): end it without blame; the next walk exchange goes
			// on from there.
			st.endSession(s, false)
			st.schedule()
			return
		}
		if err != nil {
			st.lied(s)
			st.schedule()
			return
		}
		if done {
			s.recs[k] = nil
		}
		for _, m := range msgs {
			next = append(next, part{k, m})
		}
	}
	switch {
	case found:
		s.idle = 0
		defer st.recruit()
	case !listsIDs(byScope):
		// Neither a new id nor a list of ids: only fingerprints, what a
		// liar sends forever. (A round that lists ids we meanwhile got
		// from another holder is progress on a moving set.)
		s.idle++
	}
	switch {
	case s.idle > st.x.o.MaxIdleRounds || len(next) > 255:
		st.lied(s)
	case len(next) == 0:
		st.endSession(s, true)
	default:
		st.sendRound(s, next)
	}
	st.schedule()
}

// takeNeeds hands the ids scope k found since the last call to the
// transfer and reports whether there were any.
func (st *state) takeNeeds(s *session, k int) bool {
	need, win := s.recs[k].Need(), s.recs[k].NeedWindows()
	prio := st.scopes[k].prio
	for i := s.consumed[k]; i < len(need); i++ {
		st.tr.add(st.now(), need[i], win[i], prio, s.peer)
	}
	found := len(need) > s.consumed[k]
	s.consumed[k] = len(need)
	rs := s.recs[k].NeedRanges()
	for i := s.pulled[k]; i < len(rs); i++ {
		st.tr.addRange(st.now(), rs[i], prio, s.peer)
	}
	found = found || len(rs) > s.pulled[k]
	s.pulled[k] = len(rs)
	st.tr.wake = st.tr.wake || found
	return found
}

// lied ends the session with a peer that broke the protocol or the round
// limit: it is not asked again for Options.Backoff.
func (st *state) lied(s *session) {
	st.x.stats.LyingPeers++
	st.backoff[s.peer] = st.now().Add(st.x.o.Backoff)
	st.endSession(s, false)
}

// endSession ends the session; ok: it completed.
func (st *state) endSession(s *session, ok bool) {
	if ok {
		st.checked[s.peer] = st.now()
	}
	st.sessions = slices.DeleteFunc(st.sessions, func(x *session) bool { return x == s })
}

// sessionTimeout resends the round, or gives the peer up.
func (st *state) sessionTimeout(s *session) {
	st.x.stats.Timeouts++
	if s.tries > 1 {
		st.timedOut(s.sentAt) // lost twice in a row: slow, not one lost datagram
	}
	if s.tries >= maxSessionTries {
		st.backoff[s.peer] = st.now().Add(st.x.o.Backoff)
		st.endSession(s, false)
		return
	}
	st.transmit(s)
}

// onReconcile handles a dispersy-reconcile message.
func (st *state) onReconcile(from netip.AddrPort, p Reconcile) {
	if p.Reply {
		st.onReply(from, p)
		return
	}
	st.serveReconcile(from, p)
}

// schedule sets the one catch-up timer of the community to its earliest
// deadline (none when idle).
func (st *state) schedule() {
	var at time.Time
	for _, s := range st.sessions {
		if at.IsZero() || s.deadline.Before(at) {
			at = s.deadline
		}
	}
	if d, ok := st.tr.deadline(st.now()); ok && (at.IsZero() || d.Before(at)) {
		at = d
	}
	if st.tr.wake {
		at = st.now()
	}
	st.c.CancelTask(timerName)
	if !at.IsZero() {
		_ = st.c.After(timerName, max(0, at.Sub(st.now())), st.tick)
	}
}

const timerName = "dispersy-catchup"

// tick runs the timeouts and the transfer's pump.
func (st *state) tick(*dispersy.Context) error {
	now := st.now()
	for _, s := range slices.Clone(st.sessions) {
		if !now.Before(s.deadline) {
			st.sessionTimeout(s)
		}
	}
	st.tr.expire(st, now)
	st.tr.pump(st)
	if st.tr.gaveUp && !st.tr.active() && len(st.sessions) == 0 {
		// What was given up may still be missing: check at once with a
		// proven peer instead of at the next walk exchange.
		st.tr.gaveUp = false
		for _, cand := range st.c.Table().Verified(now) {
			if a := cand.Sock(); st.x.e.Proven(a) && !now.Before(st.backoff[a]) {
				st.start(a)
				break
			}
		}
	}
	st.schedule()
	return nil
}

// listsIDs reports whether any reply lists ids.
func listsIDs(byScope [][][]byte) bool {
	for _, replies := range byScope {
		for _, r := range replies {
			m, err := reconcile.Decode(r)
			if err != nil {
				continue
			}
			for _, x := range m.Ranges {
				if x.Mode == reconcile.ModeIDList && len(x.IDs) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// same handles the first round's replies of s: a peer that answers our
// first message with the same bytes as a holder we are fetching from
// holds the same set (the answer is its whole fingerprint, or its split of
// the whole scope, whatever ours is): it becomes one more holder of all
// that holder's pulls and wants, and the session ends there, one round
// trip instead of a reconciliation per holder.
func (st *state) same(s *session, byScope [][][]byte) bool {
	h := sha256.New()
	_, _ = fmt.Fprint(h, s.sent[0].k)
	for _, rs := range byScope {
		for _, r := range rs {
			_, _ = fmt.Fprint(h, len(r))
			h.Write(r)
		}
	}
	d := [32]byte(h.Sum(nil))
	if st.firsts == nil || len(st.firsts) >= maxBuckets {
		st.firsts = map[netip.AddrPort][32]byte{}
	}
	st.firsts[s.peer] = d
	if !st.tr.active() {
		return false
	}
	found := false
	for a, x := range st.firsts { // every match: the result does not depend on the map's order
		if a != s.peer && x == d {
			found = st.tr.alias(a, s.peer) || found
		}
	}
	if found {
		st.endSession(s, true)
		st.tr.wake = true
		st.recruit()
		st.schedule()
	}
	return found
}
