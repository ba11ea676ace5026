package catchup

import (
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// session is the initiating side of one reconciliation with one peer: one
// reconcile.Reconciler per scope, all run in the same round trips (the
// first round is one check message per scope).
type session struct {
	peer     netip.AddrPort
	id       uint16
	recs     []*reconcile.Reconciler // per scope; nil once that scope is done
	consumed []int                   // per scope: needs handed to the transfer
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

// maxSessionTries is how many times a round is sent before the peer is
// given up for Options.Backoff.
const maxSessionTries = 3

// rcfg is the reconcile configuration: messages fit one datagram with the
// frame (header, global time) and the payload's own header.
func (st *state) rcfg() reconcile.Config {
	budget := st.x.e.Config().MaxDatagram - conversion.HeaderSize - 8 - reconcileHeader
	return reconcile.Config{MaxMessageBytes: max(budget, reconcile.MinMessageBytes),
		MaxMessagesPerRound: st.x.o.MessagesPerRound, MaxRounds: st.x.o.MaxRounds}
}

// rto is the timeout of a round or a request: a few round trips.
func (st *state) rto() time.Duration {
	if st.rtt == 0 {
		return time.Second
	}
	return min(max(4*st.rtt, 100*time.Millisecond), 5*time.Second)
}

func (st *state) now() time.Time { return st.x.e.Now() }

// walked starts a session (its first round is a check: one fingerprint
// per scope) with a proven peer we just exchanged a walk with.
func (st *state) walked(addr netip.AddrPort) {
	now := st.now()
	if st.sess != nil || !st.x.e.Proven(addr) || now.Before(st.backoff[addr]) {
		return
	}
	if t, ok := st.checked[addr]; ok && now.Sub(t) < st.x.o.CheckInterval {
		return
	}
	st.nextSess++
	s := &session{peer: addr, id: st.nextSess, recs: make([]*reconcile.Reconciler, len(st.scopes)), consumed: make([]int, len(st.scopes))}
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
	st.sess = s
	st.x.stats.Sessions++
	st.sendRound(first)
	st.schedule()
}

// sendRound sends the messages of the next round.
func (st *state) sendRound(msgs []part) {
	s := st.sess
	s.round++
	s.sent, s.tries = msgs, 0
	st.transmit()
}

// transmit sends (again) the current round's messages.
func (st *state) transmit() {
	s := st.sess
	s.replies = map[[2]uint8][]byte{}
	s.parts = make([]int, len(s.sent))
	s.sentAt = st.now()
	s.deadline = s.sentAt.Add(st.rto())
	s.tries++
	for i, m := range s.sent {
		st.sendReconcile(s.peer, Reconcile{Session: s.id, Round: s.round, Part: uint8(i), Parts: uint8(len(s.sent)), Scope: st.scopes[m.k].prio, Msg: m.msg})
	}
}

func (st *state) sendReconcile(to netip.AddrPort, r Reconcile) {
	if _, err := dispersy.Create(st.c, ReconcileType, r, dispersy.To(to)); err == nil {
		st.x.stats.BytesSent += uint64(len(r.Msg) + reconcileHeader)
	}
}

// onReply takes one reply of the current round; when the round is
// complete it goes on.
func (st *state) onReply(from netip.AddrPort, p Reconcile) {
	s := st.sess
	if s == nil || from != s.peer || p.Session != s.id || p.Round != s.round || int(p.Index) >= len(s.sent) || p.Scope != st.scopes[s.sent[p.Index].k].prio {
		return // stale or not ours
	}
	if n := s.parts[p.Index]; n != 0 && n != int(p.Parts) {
		st.lied()
		return
	}
	s.parts[p.Index] = int(p.Parts)
	s.replies[[2]uint8{p.Index, p.Part}] = p.Msg
	byScope := make([][][]byte, len(st.scopes))
	for i, n := range s.parts {
		if n == 0 {
			return
		}
		for j := range n {
			r, ok := s.replies[[2]uint8{uint8(i), uint8(j)}]
			if !ok {
				return
			}
			k := s.sent[i].k
			byScope[k] = append(byScope[k], r)
		}
	}
	if s.tries == 1 {
		sample := st.now().Sub(s.sentAt)
		if st.rtt == 0 {
			st.rtt = sample
		} else {
			st.rtt = (7*st.rtt + sample) / 8
		}
	}
	st.x.stats.Rounds++
	var next []part
	found := false
	for k, replies := range byScope {
		if replies == nil || s.recs[k] == nil {
			continue
		}
		msgs, done, err := s.recs[k].ReconcileBatch(replies)
		found = st.takeNeeds(k) || found
		if err != nil {
			st.lied()
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
	if found {
		s.idle = 0
	} else {
		s.idle++
	}
	switch {
	case s.idle > st.x.o.MaxIdleRounds || len(next) > 255:
		st.lied()
	case len(next) == 0:
		st.endSession(true)
	default:
		st.sendRound(next)
	}
	st.schedule()
}

// takeNeeds hands the ids scope k found since the last call to the
// transfer and reports whether there were any.
func (st *state) takeNeeds(k int) bool {
	s := st.sess
	need, win := s.recs[k].Need(), s.recs[k].NeedWindows()
	prio := st.scopes[k].prio
	for i := s.consumed[k]; i < len(need); i++ {
		st.tr.add(need[i], win[i], prio, s.peer)
	}
	found := len(need) > s.consumed[k]
	s.consumed[k] = len(need)
	st.tr.wake = st.tr.wake || found
	return found
}

// lied ends the session with a peer that broke the protocol or the round
// limit: it is not asked again for Options.Backoff.
func (st *state) lied() {
	st.x.stats.LyingPeers++
	st.backoff[st.sess.peer] = st.now().Add(st.x.o.Backoff)
	st.endSession(false)
}

// endSession ends the session; ok: it completed.
func (st *state) endSession(ok bool) {
	if ok {
		st.checked[st.sess.peer] = st.now()
	}
	st.sess = nil
}

// sessionTimeout resends the round, or gives the peer up.
func (st *state) sessionTimeout() {
	s := st.sess
	st.x.stats.Timeouts++
	if s.tries >= maxSessionTries {
		st.backoff[s.peer] = st.now().Add(st.x.o.Backoff)
		st.endSession(false)
		return
	}
	st.transmit()
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
	if st.sess != nil {
		at = st.sess.deadline
	}
	if d, ok := st.tr.deadline(); ok && (at.IsZero() || d.Before(at)) {
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
	if st.sess != nil && !now.Before(st.sess.deadline) {
		st.sessionTimeout()
	}
	st.tr.expire(st, now)
	st.tr.pump(st)
	st.schedule()
	return nil
}
