package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Default configuration values.
const (
	DefaultBranch = 16
	// DefaultMaxMessageBytes is the 1,232-byte datagram budget minus a
	// 232-byte allowance for the Dispersy frame around the payload (prefix,
	// member, distribution, signature).
	DefaultMaxMessageBytes = 1232 - 232
	DefaultMaxRounds       = 64
	DefaultMaxRanges       = 1024
	DefaultMaxIDs          = 1 << 16
	// MinMessageBytes is the smallest budget a Config accepts: room for a
	// few ranges next to the continuation reserve, so that every message
	// makes progress.
	MinMessageBytes = 256
)

// Config sets the protocol's parameters and a session's limits. The zero
// value of a field means its default.
type Config struct {
	// Branch is B, the number of sub-ranges a mismatching range is split
	// into (2..256, default 16).
	Branch int
	// IDListThreshold: a mismatching range where the sender holds at most
	// this many items is answered with their ids instead of being split
	// (>= Branch, default Branch).
	IDListThreshold int
	// MaxMessageBytes bounds every message this side writes (default
	// [DefaultMaxMessageBytes], at least [MinMessageBytes]). Ranges that do
	// not fit are folded into one fingerprint at the end of the message, a
	// continuation the peer answers in the next round trip.
	MaxMessageBytes int
	// MaxMessagesPerRound is how many messages (datagrams) an initiator's
	// [Reconciler.InitiateBatch] and [Reconciler.ReconcileBatch] may send in
	// one round trip, and a responder's [Reconciler.RespondBatch] in answer
	// to one message (default 1). Ranges are answered in one pass over a
	// round's messages, and only what does not fit in all of them becomes
	// a continuation, so large differences take fewer round trips.
	MaxMessagesPerRound int
	// MaxRounds bounds the round trips of a session (default 64): an
	// initiator sends at most this many messages, a responder answers at
	// most this many. Then the session ends with [ErrRoundLimit].
	MaxRounds int
	// MaxRanges bounds the ranges of a received message (default 1024).
	MaxRanges int
	// MaxIDs bounds the differences an initiator collects, and the items it
	// compares, in one session (default 65,536).
	MaxIDs int
	// RangePull makes the initiator not list ids where it holds nothing: a
	// fingerprint range of the peer where the initiator holds no item is
	// recorded ([Reconciler.NeedRanges]) and skipped, to be fetched whole
	// by range instead of id by id; [Reconciler.Check] of an empty scope
	// is a fingerprint, so the peer splits it.
	RangePull bool
	// RangeSplit is, with RangePull, how many round trips at the start of a
	// session send such a range back as a fingerprint (of nothing) so that
	// the peer splits it again into Branch sub-ranges, before ranges are
	// recorded (default 0: none; 1 makes an empty scope Branch² ranges).
	RangeSplit int
}

func (c Config) resolve() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Branch, DefaultBranch)
	def(&c.IDListThreshold, c.Branch)
	def(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&c.MaxMessagesPerRound, 1)
	def(&c.MaxRounds, DefaultMaxRounds)
	def(&c.MaxRanges, DefaultMaxRanges)
	def(&c.MaxIDs, DefaultMaxIDs)
	switch {
	case c.Branch < 2 || c.Branch > 256:
		return c, fmt.Errorf("reconcile: Branch %d not in 2..256", c.Branch)
	case c.IDListThreshold < c.Branch:
		return c, fmt.Errorf("reconcile: IDListThreshold %d below Branch %d", c.IDListThreshold, c.Branch)
	case c.MaxMessageBytes < MinMessageBytes:
		return c, fmt.Errorf("reconcile: MaxMessageBytes %d below %d", c.MaxMessageBytes, MinMessageBytes)
	case c.MaxRounds < 1 || c.MaxRanges < 1 || c.MaxIDs < 1 || c.MaxMessagesPerRound < 1:
		return c, errors.New("reconcile: MaxMessagesPerRound, MaxRounds, MaxRanges and MaxIDs must be positive")
	}
	return c, nil
}

// The session errors: a closed set. A session that returns one of them (or a
// decoding error) is over; what it found stays in Have and Need.
var (
	ErrRoundLimit    = errors.New("reconcile: round limit reached")
	ErrTooManyRanges = errors.New("reconcile: message has too many ranges")
	ErrTooManyIDs    = errors.New("reconcile: too many differences for one session")
	ErrOutOfScope    = errors.New("reconcile: reply covers a range outside the session's scope")
	ErrSessionOver   = errors.New("reconcile: session is over")
)

// SessionErrors lists the closed set of session errors ([DecodeErrors] may
// be returned too).
var SessionErrors = []error{ErrRoundLimit, ErrTooManyRanges, ErrTooManyIDs, ErrOutOfScope, ErrSessionOver}

// reserve is the room every message keeps for its continuation: a pending
// skip and one fingerprint range, with bounds of the largest size.
const reserve = 2*(maxBoundSize+1) + len(Fingerprint{})

// Reconciler is one side of a reconciliation session over an [Index]. The
// initiator ([NewInitiator]) opens with [Reconciler.Initiate], feeds each
// reply to [Reconciler.Reconcile] and collects the differences in
// [Reconciler.Have] and [Reconciler.Need]; the responder ([NewResponder])
// answers every message with [Reconciler.Reconcile] and learns nothing (it
// keeps no state but counters, see also [Respond]). InitiateBatch,
// ReconcileBatch and RespondBatch do the same with several messages per
// round trip. The index may change between calls: each range is compared
// with the index as it is then, so the session reconciles a moving set and
// a change shows as a mismatch that a later round trip or session resolves.
// A Reconciler is not safe for concurrent use.
type Reconciler struct {
	ix        *Index
	cfg       Config
	initiator bool
	lo, hi    Bound // the initiator's scope
	rounds    int
	over      bool
	haveSet   map[Item]struct{}
	needSet   map[ID]struct{}
	have      []Item
	need      []ID
	needIn    []Window
	ranges    []RangeBounds

	// Byte counters of the session: messages written and read.
	BytesOut, BytesIn int
}

// NewInitiator returns the initiating side of a session reconciling the
// items of ix in [lo, hi) (use [Zero], [Infinity] for all).
func NewInitiator(ix *Index, lo, hi Bound, cfg Config) (*Reconciler, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if hi.Compare(lo) <= 0 {
		return nil, errors.New("reconcile: empty scope")
	}
	return &Reconciler{ix: ix, cfg: c, initiator: true, lo: lo, hi: hi,
		haveSet: map[Item]struct{}{}, needSet: map[ID]struct{}{}}, nil
}

// NewResponder returns the responding side of a session over ix.
func NewResponder(ix *Index, cfg Config) (*Reconciler, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Reconciler{ix: ix, cfg: c, lo: Zero, hi: Infinity}, nil
}

// Respond answers one message statelessly, as a fresh responder would.
func Respond(ix *Index, msg []byte, cfg Config) ([]byte, error) {
	r, err := NewResponder(ix, cfg)
	if err != nil {
		return nil, err
	}
	out, _, err := r.Reconcile(msg)
	return out, err
}

// Rounds returns the messages sent (initiator) or answered (responder).
func (s *Reconciler) Rounds() int { return s.rounds }

// Have returns the items this side holds that the peer lacks, in the order
// found (initiator only).
func (s *Reconciler) Have() []Item { return s.have }

// Need returns the ids the peer holds that this side lacks (initiator only).
func (s *Reconciler) Need() []ID { return s.need }

// Window is the global-time span [Lo, Hi] in which a needed id lies: the
// range of the peer's id list that named it (Hi is [Infinity]'s time when
// the range was open).
type Window struct{ Lo, Hi uint64 }

// NeedWindows returns, for each id of Need (same order), the span of global
// times in which the peer holds it, so a request for it can name where to
// look.
func (s *Reconciler) NeedWindows() []Window { return s.needIn }

// RangeBounds is a range [Lo, Hi) of the key space.
type RangeBounds struct{ Lo, Hi Bound }

// NeedRanges returns, with Config.RangePull, the ranges where the peer
// holds items and the initiator none, in the order found.
func (s *Reconciler) NeedRanges() []RangeBounds { return s.ranges }

// Check is Initiate as one fingerprint of the whole scope, when the
// initiator holds more than IDListThreshold items there (else it is
// Initiate): one small message that confirms equal sets in one round trip;
// the peer's reply splits the scope where they differ.
func (s *Reconciler) Check() ([]byte, error) {
	i, j := s.ix.Rank(s.lo), s.ix.Rank(s.hi)
	if j-i <= s.cfg.IDListThreshold && (j > i || !s.cfg.RangePull) {
		return s.Initiate()
	}
	if !s.initiator || s.rounds > 0 || s.over {
		return nil, ErrSessionOver
	}
	w := s.newWriter(1)
	w.skipTo(s.lo)
	w.put(&Range{Upper: s.hi, Mode: ModeFingerprint, Fingerprint: s.ix.Fingerprint(s.lo, s.hi)})
	s.rounds = 1
	return s.finish(w)[0], nil
}

// Initiate returns the first message: the scope split into Branch
// fingerprints (or the initiator's ids when it holds few items there).
func (s *Reconciler) Initiate() ([]byte, error) {
	out, err := s.initiate(1)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// InitiateBatch is [Reconciler.Initiate] with up to MaxMessagesPerRound
// messages: send them all, answer each with the responder, and give all the
// replies to [Reconciler.ReconcileBatch] together.
func (s *Reconciler) InitiateBatch() ([][]byte, error) { return s.initiate(s.cfg.MaxMessagesPerRound) }

func (s *Reconciler) initiate(msgs int) ([][]byte, error) {
	if !s.initiator || s.rounds > 0 || s.over {
		return nil, ErrSessionOver
	}
	w := s.newWriter(msgs)
	w.skipTo(s.lo)
	i, j := s.ix.Rank(s.lo), s.ix.Rank(s.hi)
	if at, stopped := s.emitMine(w, s.lo, s.hi, i, j, s.cfg.Branch); stopped {
		s.collapse(w, at, s.hi)
	}
	s.rounds = 1
	return s.finish(w), nil
}

// Reconcile processes a message from the peer. The initiator returns the next
// message, or done = true (and no message) when nothing mismatches any more;
// the responder always returns a reply, with done = true when the reply
// carries nothing for the initiator to answer. An error ends the session.
func (s *Reconciler) Reconcile(msg []byte) (reply []byte, done bool, err error) {
	var out [][]byte
	if s.initiator {
		out, done, err = s.batch([][]byte{msg}, 1)
	} else {
		out, done, err = s.respond(msg, 1)
	}
	if len(out) == 0 {
		return nil, done, err
	}
	return out[0], done, err
}

// ReconcileBatch is the initiator's [Reconciler.Reconcile] for a round trip
// of several messages: it takes the replies to all the messages of the
// previous round (in any order; several per message from
// [Reconciler.RespondBatch]) and returns up to MaxMessagesPerRound messages
// for the next, or done = true. The replies of a round may hold at most
// MaxRanges × MaxMessagesPerRound ranges together.
func (s *Reconciler) ReconcileBatch(replies [][]byte) (next [][]byte, done bool, err error) {
	return s.batch(replies, s.cfg.MaxMessagesPerRound)
}

// batch answers the replies of a round with up to msgs messages.
func (s *Reconciler) batch(replies [][]byte, msgs int) (next [][]byte, done bool, err error) {
	if !s.initiator || s.over || s.rounds == 0 {
		return nil, false, ErrSessionOver
	}
	next, done, err = s.reconcileBatch(replies, msgs)
	if err != nil || done {
		s.over = true
	}
	return next, done, err
}

// RespondBatch is the responder's [Reconciler.Reconcile] with up to
// MaxMessagesPerRound reply messages to the one message received, for an
// initiator that sends batches ([Reconciler.ReconcileBatch] takes the
// replies to all its messages of a round together). A responder writes at
// most MaxMessagesPerRound messages per message received: its amplification
// factor, which the caller must allow only toward verified peers.
func (s *Reconciler) RespondBatch(msg []byte) (replies [][]byte, done bool, err error) {
	if s.initiator {
		return nil, false, ErrSessionOver
	}
	return s.respond(msg, s.cfg.MaxMessagesPerRound)
}

func (s *Reconciler) respond(msg []byte, msgs int) ([][]byte, bool, error) {
	if s.over {
		return nil, false, ErrSessionOver
	}
	s.BytesIn += len(msg)
	m, err := s.decode(msg)
	if err == nil && s.rounds >= s.cfg.MaxRounds {
		err = ErrRoundLimit
	}
	if err != nil {
		s.over = true
		return nil, false, err
	}
	w := s.newWriter(msgs)
	if err := s.process(w, &m); err != nil {
		s.over = true
		return nil, false, err
	}
	s.rounds++
	return s.finish(w), w.ranges == 0, nil
}

func (s *Reconciler) decode(msg []byte) (Message, error) {
	m, err := Decode(msg)
	if err != nil {
		return Message{}, err
	}
	if len(m.Ranges) > s.cfg.MaxRanges {
		return Message{}, ErrTooManyRanges
	}
	return m, nil
}

func (s *Reconciler) reconcileBatch(replies [][]byte, msgs int) ([][]byte, bool, error) {
	parts := make([]Message, 0, len(replies))
	total := 0
	for _, b := range replies {
		s.BytesIn += len(b)
		m, err := s.decode(b)
		if err != nil {
			return nil, false, err
		}
		if total += len(m.Ranges); total > s.cfg.MaxRanges*s.cfg.MaxMessagesPerRound {
			return nil, false, ErrTooManyRanges
		}
		if len(m.Ranges) > 0 {
			parts = append(parts, m)
		}
	}
	m, err := join(parts)
	if err != nil {
		return nil, false, err
	}
	lo := Zero
	for k := range m.Ranges {
		r := &m.Ranges[k]
		if r.Mode != ModeSkip && (lo.Less(s.lo) || s.hi.Less(r.Upper)) {
			return nil, false, ErrOutOfScope
		}
		lo = r.Upper
	}
	w := s.newWriter(msgs)
	if err := s.process(w, &m); err != nil {
		return nil, false, err
	}
	if w.ranges == 0 {
		return nil, true, nil
	}
	if s.rounds >= s.cfg.MaxRounds {
		return nil, false, ErrRoundLimit
	}
	s.rounds++
	return s.finish(w), false, nil
}

// join puts the replies of one round back into one message: each covers
// its own span (after a leading skip), and the spans must not overlap.
func join(parts []Message) (Message, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	start := func(m *Message) Bound {
		if m.Ranges[0].Mode == ModeSkip {
			return m.Ranges[0].Upper
		}
		return Zero
	}
	slices.SortFunc(parts, func(a, b Message) int { return start(&a).Compare(start(&b)) })
	var out Message
	for k := range parts {
		rs := parts[k].Ranges
		if n := len(out.Ranges); n > 0 {
			end := out.Ranges[n-1].Upper
			switch c := start(&parts[k]).Compare(end); {
			case c < 0 || rs[0].Mode != ModeSkip:
				return Message{}, ErrOutOfScope // overlapping replies
			case c == 0:
				rs = rs[1:]
			}
		}
		out.Ranges = append(out.Ranges, rs...)
	}
	return out, nil
}

// finish returns the messages w wrote and counts their bytes.
func (s *Reconciler) finish(w *writer) [][]byte {
	out := w.done()
	for _, b := range out {
		s.BytesOut += len(b)
	}
	return out
}

// process answers every range of m up to its last non-skip range, writing to
// w; ranges that do not fit are folded into one continuation fingerprint.
func (s *Reconciler) process(w *writer, m *Message) error {
	last := -1
	for k := range m.Ranges {
		if m.Ranges[k].Mode != ModeSkip {
			last = k
		}
	}
	lo := Zero
	for k := 0; k <= last; k++ {
		r := &m.Ranges[k]
		var at Bound
		stopped := false
		switch r.Mode {
		case ModeSkip:
			w.skipTo(r.Upper)
		case ModeFingerprint:
			a, b := s.ix.SumBelow(lo), s.ix.SumBelow(r.Upper)
			switch {
			case b.Minus(a).Fingerprint() == r.Fingerprint:
				w.skipTo(r.Upper)
			case s.initiator && s.cfg.RangePull && a.Count == b.Count && s.rounds <= s.cfg.RangeSplit:
				// Empty here: the peer splits it once more.
				nr := Range{Upper: r.Upper, Mode: ModeFingerprint, Fingerprint: Sum{}.Fingerprint()}
				if !w.makeRoom(&nr) {
					at, stopped = lo, true
					break
				}
				w.put(&nr)
			case s.initiator && s.cfg.RangePull && a.Count == b.Count:
				s.ranges = append(s.ranges, RangeBounds{lo, r.Upper})
				w.skipTo(r.Upper)
			case !s.initiator && r.Fingerprint == emptyFingerprint:
				// The peer holds nothing here: split wider, so that it
				// learns small ranges (to pull, or to list) one round
				// trip sooner.
				at, stopped = s.emitMine(w, lo, r.Upper, int(a.Count), int(b.Count), s.wideBranch(int(b.Count-a.Count)))
			default:
				at, stopped = s.emitMine(w, lo, r.Upper, int(a.Count), int(b.Count), s.cfg.Branch)
			}
		case ModeIDList:
			if s.initiator {
				if err := s.diff(lo, r.Upper, r.IDs); err != nil {
					return err
				}
				w.skipTo(r.Upper)
			} else if a, b := s.ix.SumBelow(lo), s.ix.SumBelow(r.Upper); b.Minus(a) == SumOf(r.IDs) {
				w.skipTo(r.Upper) // same ids: nothing for the initiator to learn
			} else {
				at, stopped = s.emitIDs(w, lo, r.Upper, int(a.Count), int(b.Count))
			}
		}
		if stopped {
			s.collapse(w, at, m.Ranges[last].Upper)
			return nil
		}
		lo = r.Upper
	}
	return nil
}

// emitMine describes this side's items of ranks [i, j), which lie in
// [lo, hi), after a mismatch: their ids when few, else branch fingerprints.
// It returns stopped = true and the bound reached when the budget ran out.
func (s *Reconciler) emitMine(w *writer, lo, hi Bound, i, j, branch int) (Bound, bool) {
	n := j - i
	if n <= s.cfg.IDListThreshold {
		return s.emitIDs(w, lo, hi, i, j)
	}
	prefix := s.ix.PrefixSum(i)
	for b := range branch {
		e := i + splitEnd(n, branch, b)
		upper := hi
		if b < branch-1 {
			upper = minimalBound(s.ix.At(e-1), s.ix.At(e))
		}
		next := s.ix.PrefixSum(e)
		r := Range{Upper: upper, Mode: ModeFingerprint, Fingerprint: next.Minus(prefix).Fingerprint()}
		if !w.makeRoom(&r) {
			return lo, true
		}
		w.put(&r)
		lo, prefix = upper, next
	}
	return hi, false
}

// emptyFingerprint is the fingerprint of no item: a peer that sends it for
// a range holds nothing there.
var emptyFingerprint = Sum{}.Fingerprint()

// wideBranch is how many sub-ranges a responder splits n items into where
// the initiator holds none: one per IDListThreshold items, between Branch
// and Branch² (an empty joiner of 100,000 items learns 256 ranges in one
// round trip instead of two).
func (s *Reconciler) wideBranch(n int) int {
	return min(max(n/s.cfg.IDListThreshold, s.cfg.Branch), s.cfg.Branch*s.cfg.Branch)
}

// splitEnd returns the end, relative to the range's first rank, of sub-range
// b of a range of n items split into B: sub-range b holds ranks
// [n·b/B, n·(b+1)/B), so sizes differ by at most one.
func splitEnd(n, B, b int) int { return n * (b + 1) / B }

// emitIDs lists this side's items of ranks [i, j) in [lo, hi); when they do
// not all fit, it lists a prefix of them over a shortened range and goes on
// in the next message of the batch, and stops when the batch is full.
func (s *Reconciler) emitIDs(w *writer, lo, hi Bound, i, j int) (Bound, bool) {
	for {
		n := j - i
		k := n
		if !w.makeRoomFor(hi, uvarintLen(uint64(n))+idSize*n) {
			k = min(n, max(w.room()-(maxBoundSize+1+uvarintLen(uint64(n))), 0)/idSize)
			if k == 0 {
				return lo, true
			}
		}
		items := s.ix.AppendRanks(make([]Item, 0, k), i, i+k)
		upper := hi
		if k < n {
			upper = minimalBound(items[k-1], s.ix.At(i+k))
		}
		r := Range{Upper: upper, Mode: ModeIDList, IDs: make([]ID, k)}
		for x := range items {
			r.IDs[x] = items[x].ID
		}
		sortIDs(r.IDs)
		if !w.makeRoom(&r) {
			return lo, true
		}
		w.put(&r)
		if k == n || w.left == 0 {
			return upper, k < n
		}
		lo, i = upper, i+k
	}
}

// collapse ends a message that ran out of room: one fingerprint of this
// side's items in [at, end), which the peer answers in the next round trip.
func (s *Reconciler) collapse(w *writer, at, end Bound) {
	w.skipTo(at)
	if !at.Less(end) {
		return
	}
	r := Range{Upper: end, Mode: ModeFingerprint, Fingerprint: s.ix.Fingerprint(at, end)}
	w.last = true // the reserve was kept for this range
	w.makeRoom(&r)
	w.put(&r)
}

// diff compares the peer's complete id list of [lo, hi) with this side's
// items there and records the differences.
func (s *Reconciler) diff(lo, hi Bound, theirs []ID) error {
	i, j := s.ix.Rank(lo), s.ix.Rank(hi)
	if j-i > s.cfg.MaxIDs+len(theirs) {
		return ErrTooManyIDs
	}
	mine := s.ix.AppendRanks(nil, i, j)
	slices.SortFunc(mine, func(a, b Item) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	x, y := 0, 0
	for x < len(mine) || y < len(theirs) {
		c := 0
		switch {
		case x == len(mine):
			c = 1
		case y == len(theirs):
			c = -1
		default:
			c = bytes.Compare(mine[x].ID[:], theirs[y][:])
		}
		if len(s.have)+len(s.need) >= s.cfg.MaxIDs && c != 0 {
			return ErrTooManyIDs
		}
		switch {
		case c < 0:
			if _, ok := s.haveSet[mine[x]]; !ok {
				s.haveSet[mine[x]] = struct{}{}
				s.have = append(s.have, mine[x])
			}
			x++
		case c > 0:
			if _, ok := s.needSet[theirs[y]]; !ok {
				s.needSet[theirs[y]] = struct{}{}
				s.need = append(s.need, theirs[y])
				s.needIn = append(s.needIn, Window{lo.Time, hi.Time})
			}
			y++
		default:
			x++
			y++
		}
	}
	return nil
}

// writer builds up to a given number of messages within the budget each,
// merging consecutive skips and dropping a trailing one. The last message it
// may write keeps room for the continuation (reserve); every later message
// starts with a skip to where the previous one ended.
type writer struct {
	msgs     [][]byte // finished messages
	buf      []byte   // the message being written
	budget   int
	left     int    // messages that may still be started after buf
	last     bool   // collapse: the reserve is being used
	prevTime uint64 // time of the last bound written in buf
	pos      Bound  // upper bound of everything covered so far
	skipping bool   // a skip up to pos is pending
	ranges   int    // non-skip ranges written in all messages
	inBuf    int    // non-skip ranges written in buf
}

func (s *Reconciler) newWriter(msgs int) *writer {
	return &writer{buf: append(make([]byte, 0, 256), Version), budget: s.cfg.MaxMessageBytes, left: msgs - 1}
}

func (w *writer) skipTo(b Bound) {
	if w.pos.Less(b) {
		w.pos, w.skipping = b, true
	}
}

// room returns the bytes left in buf for the next range, pending skip
// included, after the reserve when buf is the last message.
func (w *writer) room() int {
	n := w.budget - len(w.buf)
	if w.skipping {
		n -= boundSize(w.prevTime, w.pos) + 1
	}
	if w.left == 0 && !w.last {
		n -= reserve
	}
	return n
}

func (w *writer) cost(upper Bound, payload int) int {
	prev := w.prevTime
	if w.skipping {
		prev = w.pos.Time
	}
	return boundSize(prev, upper) + 1 + payload
}

// makeRoomFor reports whether a range up to upper with payload bytes fits,
// starting the next message when it does not fit in this one.
func (w *writer) makeRoomFor(upper Bound, payload int) bool {
	if w.cost(upper, payload) <= w.room() {
		return true
	}
	if w.left == 0 || w.inBuf == 0 {
		return false
	}
	w.msgs = append(w.msgs, w.buf)
	w.buf, w.prevTime, w.inBuf = append(make([]byte, 0, 256), Version), 0, 0
	w.left--
	w.skipping = Zero.Less(w.pos)
	return w.cost(upper, payload) <= w.room()
}

func (w *writer) makeRoom(r *Range) bool {
	return w.makeRoomFor(r.Upper, rangeSize(0, r)-boundSize(0, r.Upper)-1)
}

func (w *writer) put(r *Range) {
	if w.skipping {
		w.buf = appendRange(w.buf, w.prevTime, &Range{Upper: w.pos, Mode: ModeSkip})
		w.prevTime, w.skipping = w.pos.Time, false
	}
	w.buf = appendRange(w.buf, w.prevTime, r)
	w.prevTime, w.pos = r.Upper.Time, r.Upper
	w.ranges++
	w.inBuf++
}

// done returns the messages: at least one (an empty message says "nothing
// more"), and no message without ranges after the first.
func (w *writer) done() [][]byte {
	if w.inBuf > 0 || len(w.msgs) == 0 {
		w.msgs = append(w.msgs, w.buf)
	}
	return w.msgs
}
