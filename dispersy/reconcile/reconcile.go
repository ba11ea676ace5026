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
	// MaxRounds bounds the round trips of a session (default 64): an
	// initiator sends at most this many messages, a responder answers at
	// most this many. Then the session ends with [ErrRoundLimit].
	MaxRounds int
	// MaxRanges bounds the ranges of a received message (default 1024).
	MaxRanges int
	// MaxIDs bounds the differences an initiator collects, and the items it
	// compares, in one session (default 65,536).
	MaxIDs int
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
	case c.MaxRounds < 1 || c.MaxRanges < 1 || c.MaxIDs < 1:
		return c, errors.New("reconcile: MaxRounds, MaxRanges and MaxIDs must be positive")
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
// keeps no state but counters, see also [Respond]). The index must not
// change during a session. A Reconciler is not safe for concurrent use.
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

// Initiate returns the first message: the scope split into Branch
// fingerprints (or the initiator's ids when it holds few items there).
func (s *Reconciler) Initiate() ([]byte, error) {
	if !s.initiator || s.rounds > 0 || s.over {
		return nil, ErrSessionOver
	}
	w := s.newWriter()
	w.skipTo(s.lo)
	i, j := s.ix.Rank(s.lo), s.ix.Rank(s.hi)
	if at, stopped := s.emitMine(w, s.lo, s.hi, i, j); stopped {
		s.collapse(w, at, s.hi)
	}
	s.rounds = 1
	s.BytesOut += len(w.buf)
	return w.buf, nil
}

// Reconcile processes a message from the peer. The initiator returns the next
// message, or done = true (and no message) when nothing mismatches any more;
// the responder always returns a reply, with done = true when the reply
// carries nothing for the initiator to answer. An error ends the session.
func (s *Reconciler) Reconcile(msg []byte) (reply []byte, done bool, err error) {
	if s.over || (s.initiator && s.rounds == 0) {
		return nil, false, ErrSessionOver
	}
	s.BytesIn += len(msg)
	reply, done, err = s.reconcile(msg)
	if err != nil || (done && s.initiator) {
		s.over = true
	}
	return reply, done, err
}

func (s *Reconciler) reconcile(msg []byte) ([]byte, bool, error) {
	m, err := Decode(msg)
	if err != nil {
		return nil, false, err
	}
	if len(m.Ranges) > s.cfg.MaxRanges {
		return nil, false, ErrTooManyRanges
	}
	if !s.initiator && s.rounds >= s.cfg.MaxRounds {
		return nil, false, ErrRoundLimit
	}
	if s.initiator {
		lo := Zero
		for k := range m.Ranges {
			r := &m.Ranges[k]
			if r.Mode != ModeSkip && (lo.Less(s.lo) || s.hi.Less(r.Upper)) {
				return nil, false, ErrOutOfScope
			}
			lo = r.Upper
		}
	}
	w := s.newWriter()
	if err := s.process(w, &m); err != nil {
		return nil, false, err
	}
	if s.initiator {
		if w.ranges == 0 {
			return nil, true, nil
		}
		if s.rounds >= s.cfg.MaxRounds {
			return nil, false, ErrRoundLimit
		}
	}
	s.rounds++
	s.BytesOut += len(w.buf)
	return w.buf, w.ranges == 0, nil
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
			if b.Minus(a).Fingerprint() == r.Fingerprint {
				w.skipTo(r.Upper)
			} else {
				at, stopped = s.emitMine(w, lo, r.Upper, int(a.Count), int(b.Count))
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
// [lo, hi), after a mismatch: their ids when few, else Branch fingerprints.
// It returns stopped = true and the bound reached when the budget ran out.
func (s *Reconciler) emitMine(w *writer, lo, hi Bound, i, j int) (Bound, bool) {
	n := j - i
	if n <= s.cfg.IDListThreshold {
		return s.emitIDs(w, lo, hi, i, j)
	}
	prefix := s.ix.PrefixSum(i)
	for b := range s.cfg.Branch {
		e := i + splitEnd(n, s.cfg.Branch, b)
		upper := hi
		if b < s.cfg.Branch-1 {
			upper = minimalBound(s.ix.At(e-1), s.ix.At(e))
		}
		next := s.ix.PrefixSum(e)
		r := Range{Upper: upper, Mode: ModeFingerprint, Fingerprint: next.Minus(prefix).Fingerprint()}
		if !w.fits(&r, reserve) {
			return lo, true
		}
		w.put(&r)
		lo, prefix = upper, next
	}
	return hi, false
}

// splitEnd returns the end, relative to the range's first rank, of sub-range
// b of a range of n items split into B: sub-range b holds ranks
// [n·b/B, n·(b+1)/B), so sizes differ by at most one.
func splitEnd(n, B, b int) int { return n * (b + 1) / B }

// emitIDs lists this side's items of ranks [i, j) in [lo, hi); when they do
// not all fit, it lists a prefix of them over a shortened range and stops.
func (s *Reconciler) emitIDs(w *writer, lo, hi Bound, i, j int) (Bound, bool) {
	n := j - i
	room := w.budget - reserve - len(w.buf) - w.pendingCost() - (maxBoundSize + 1 + uvarintLen(uint64(n)))
	k := min(n, max(room, 0)/idSize)
	if k == 0 && n > 0 {
		return lo, true
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
	if !w.fits(&r, reserve) {
		return lo, true
	}
	w.put(&r)
	return upper, k < n
}

// collapse ends a message that ran out of room: one fingerprint of this
// side's items in [at, end), which the peer answers in the next round trip.
func (s *Reconciler) collapse(w *writer, at, end Bound) {
	w.skipTo(at)
	if !at.Less(end) {
		return
	}
	r := Range{Upper: end, Mode: ModeFingerprint, Fingerprint: s.ix.Fingerprint(at, end)}
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
			}
			y++
		default:
			x++
			y++
		}
	}
	return nil
}

// writer builds a message within the budget, merging consecutive skips and
// dropping a trailing one.
type writer struct {
	buf      []byte
	budget   int
	prevTime uint64 // time of the last written bound
	pos      Bound  // upper bound of everything covered so far
	skipping bool   // a skip up to pos is pending
	ranges   int    // non-skip ranges written
}

func (s *Reconciler) newWriter() *writer {
	return &writer{buf: append(make([]byte, 0, 256), Version), budget: s.cfg.MaxMessageBytes}
}

func (w *writer) skipTo(b Bound) {
	if w.pos.Less(b) {
		w.pos, w.skipping = b, true
	}
}

func (w *writer) pendingCost() int {
	if !w.skipping {
		return 0
	}
	return boundSize(w.prevTime, w.pos) + 1
}

func (w *writer) fits(r *Range, reserve int) bool {
	prev := w.prevTime
	if w.skipping {
		prev = w.pos.Time
	}
	return len(w.buf)+w.pendingCost()+rangeSize(prev, r)+reserve <= w.budget
}

func (w *writer) put(r *Range) {
	if w.skipping {
		w.buf = appendRange(w.buf, w.prevTime, &Range{Upper: w.pos, Mode: ModeSkip})
		w.prevTime, w.skipping = w.pos.Time, false
	}
	w.buf = appendRange(w.buf, w.prevTime, r)
	w.prevTime, w.pos = r.Upper.Time, r.Upper
	w.ranges++
}
