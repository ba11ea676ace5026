package dht

import (
	"net/netip"
	"slices"
	"time"
)

// maxAlts bounds the alternative addresses a lookup keeps per node.
const maxAlts = 2

// The defaults of [LookupConfig].
const (
	DefaultAlpha         = 3
	DefaultRPCTimeout    = 5 * time.Second
	DefaultLookupTimeout = time.Minute
	DefaultRetries       = 2
)

// LookupConfig tunes a [Lookup]. Zero fields take the defaults.
type LookupConfig struct {
	// Alpha is the number of queries in flight (default 3).
	Alpha int
	// K is the number of closest nodes the lookup converges on (default 20).
	K int
	// RPCTimeout is how long [Lookup.Expire] waits for an answer (default
	// 5 s).
	RPCTimeout time.Duration
	// Timeout bounds the whole lookup (default 1 min).
	Timeout time.Duration
	// Retries is how many times a node that timed out is asked again before
	// it counts as failed (default 2; negative means none).
	Retries int
	// MaxBadIntroductions is how many of the nodes an answerer introduced
	// may fail, more than answered, before the answerer is distrusted: the
	// nodes only it introduced and nobody has asked yet are dropped
	// (default 3).
	MaxBadIntroductions int
	// FinalRound gives the nodes that failed, closer than the K-th that
	// answered, one more attempt before a lookup ends without a value
	// (a find-value lookup about to answer "not found"): under loss a
	// holder can fail every attempt of the first rounds.
	FinalRound bool
	// Quorum is how many value answers a find-value lookup collects before
	// it ends (default 1). With more than one, an owner record's newest
	// version wins ([Newer]) and [Lookup.Stale] names the nodes that
	// answered with an older one.
	Quorum int
}

func (c LookupConfig) withDefaults() LookupConfig {
	if c.Alpha <= 0 {
		c.Alpha = DefaultAlpha
	}
	if c.K <= 0 {
		c.K = DefaultK
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultLookupTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.MaxBadIntroductions <= 0 {
		c.MaxBadIntroductions = 3
	}
	if c.Quorum <= 0 {
		c.Quorum = 1
	}
	return c
}

type candState uint8

const (
	pending candState = iota
	inFlight
	responded
	failed
)

type cand struct {
	Contact
	state    candState
	hops     int // round trips from the lookup's origin to this node
	attempts int
	sentAt   time.Time
	value    *Record // the value it answered with
	// alts holds other addresses answerers gave for this id (at most
	// maxAlts), tried in turn when the current one fails: whoever names a
	// node first cannot make it unreachable with a wrong address.
	alts []netip.AddrPort
	// by lists the answerers that introduced this node (none for a seed).
	by []*cand
	// goodIntro and badIntro count the nodes this answerer introduced
	// that answered or failed.
	goodIntro, badIntro int
	distrusted          bool
}

// Status is the state of a [Lookup].
type Status uint8

// The statuses of a lookup.
const (
	// Running: the lookup has queries to send or answers to wait for.
	Running Status = iota
	// Converged: the K closest nodes that answered are closer than every
	// node left to ask.
	Converged
	// FoundValue: a node answered with a value (find-value lookups).
	FoundValue
	// Exhausted: every known node was asked and fewer than K answered
	// (possibly none).
	Exhausted
	// TimedOut: the overall timeout passed first.
	TimedOut
)

var statusNames = [...]string{"running", "converged", "found-value", "exhausted", "timed-out"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(?)"
}

// Lookup is an iterative Kademlia lookup as a state machine: it does no I/O
// and reads no clock. [Lookup.Next] returns the nodes to query now (at most
// Alpha in flight); the caller sends the queries and reports each outcome
// with [Lookup.OnNodes], [Lookup.OnValue] or [Lookup.OnTimeout] (or lets
// [Lookup.Expire] time them out). The lookup ends when the K closest nodes
// that answered are closer than every node not yet asked, when a value
// arrives, when nobody is left to ask, or at the overall timeout. A Lookup
// belongs to one goroutine.
//
// Answers are hints: a node that answers with itself, with far nodes or with
// nodes that do not exist only adds candidates that are never closer than
// the honest ones it competes with, or that time out and are dropped; the
// lookup still converges on the closest nodes that answer.
type Lookup struct {
	self, target ID
	cfg          LookupConfig
	cands        []*cand // by distance to target, closest first
	byID         map[ID]*cand
	inFlight     int
	deadline     time.Time
	status       Status
	value        *Record
	valueFrom    *cand
	values       int
	queries      int
	final        bool // in the final round
	revivedClose bool // the close nodes dropped unasked were revived
}

// NewLookup starts a lookup of target by the node self from the seed
// contacts (typically its table's Closest(target, K)) at now.
func NewLookup(self, target ID, seeds []Contact, cfg LookupConfig, now time.Time) *Lookup {
	l := &Lookup{self: self, target: target, cfg: cfg.withDefaults(), byID: map[ID]*cand{}}
	l.deadline = now.Add(l.cfg.Timeout)
	for _, c := range seeds {
		l.add(c, nil)
	}
	return l
}

// add learns c from the answer of by (nil for a seed).
func (l *Lookup) add(c Contact, by *cand) {
	if c.ID == l.self {
		return
	}
	hops := 1
	if by != nil {
		hops = by.hops + 1
	}
	if old := l.byID[c.ID]; old != nil {
		old.hops = min(old.hops, hops)
		if by != nil && !slices.Contains(old.by, by) {
			old.by = append(old.by, by)
		}
		if old.state == failed && old.attempts == 0 && (by == nil || !by.distrusted) {
			old.state = pending // dropped unasked, now vouched for by another
		}
		if c.Addr != old.Addr && !slices.Contains(old.alts, c.Addr) && len(old.alts) < maxAlts {
			old.alts = append(old.alts, c.Addr)
			if old.state == failed && old.attempts > 0 {
				l.nextAddr(old)
			}
		}
		return
	}
	n := &cand{Contact: c, hops: hops}
	if by != nil {
		n.by = []*cand{by}
	}
	i, _ := slices.BinarySearchFunc(l.cands, c.ID, func(e *cand, id ID) int { return CmpDistance(l.target, e.ID, id) })
	l.cands = slices.Insert(l.cands, i, n)
	l.byID[c.ID] = n
}

// Target returns the id looked up.
func (l *Lookup) Target() ID { return l.target }

// Status returns the lookup's state.
func (l *Lookup) Status() Status { return l.status }

// Done reports whether the lookup has ended.
func (l *Lookup) Done() bool { return l.status != Running }

// Queries returns the number of queries sent so far, retries included.
func (l *Lookup) Queries() int { return l.queries }

// Next returns the nodes to query at now and marks them in flight. It
// returns nil when there is nothing to send now: the lookup has ended, or
// Alpha queries are in flight, or it waits for answers from the K closest.
func (l *Lookup) Next(now time.Time) []Contact {
	l.update(now)
	if l.status != Running {
		return nil
	}
	var out []Contact
	seen := 0
	for _, c := range l.cands {
		if seen == l.cfg.K || l.inFlight == l.cfg.Alpha {
			break
		}
		if c.state == failed {
			continue
		}
		seen++
		if c.state == pending {
			c.state, c.sentAt = inFlight, now
			c.attempts++
			l.inFlight++
			l.queries++
			out = append(out, c.Contact)
		}
	}
	return out
}

// update ends the lookup when its condition holds.
func (l *Lookup) update(now time.Time) {
	if l.status != Running {
		return
	}
	if !now.Before(l.deadline) {
		l.status = TimedOut
		return
	}
	seen, waiting := 0, false
	for _, c := range l.cands {
		if seen == l.cfg.K {
			break
		}
		if c.state == failed {
			continue
		}
		seen++
		if c.state != responded {
			waiting = true
			break
		}
	}
	switch {
	case waiting:
	case l.value != nil:
		l.status = FoundValue // fewer than Quorum values, nobody left to ask
	case !l.revivedClose && l.reviveClose():
		l.revivedClose = true
	case l.cfg.FinalRound && !l.final && l.reviveFailed():
		l.final = true // one more attempt for the close nodes that failed
	case seen == l.cfg.K:
		l.status = Converged
	case l.revive():
		// Nodes dropped unasked because a distrusted answerer introduced
		// them are asked after all before the lookup gives up: under churn
		// honest answerers introduce dead nodes too.
	default:
		l.status = Exhausted
	}
}

// reviveClose makes up to K nodes dropped unasked (introduced only by
// distrusted answerers) that are closer than the K-th node that answered
// pending again, once per lookup, and reports whether there were any: loss
// and churn make honest answerers' introductions fail too, and without this
// a lookup converged on far nodes while every node near the target had
// been dropped. Bounded, so fake neighbours cost at most K more queries.
func (l *Lookup) reviveClose() bool {
	var drop []*cand
	answered := 0
	for _, c := range l.cands {
		if answered == l.cfg.K {
			break
		}
		switch {
		case c.state == responded:
			answered++
		case c.state == failed && c.attempts == 0 && len(drop) < l.cfg.K:
			drop = append(drop, c)
		}
	}
	if answered < l.cfg.K {
		return false // not converging: revive covers it
	}
	for _, c := range drop {
		c.state = pending
	}
	return len(drop) > 0
}

// reviveFailed gives the nodes that failed after being asked, closer than
// the K-th node that answered, one more attempt; it reports whether there
// were any.
func (l *Lookup) reviveFailed() bool {
	any, answered := false, 0
	for _, c := range l.cands {
		if answered == l.cfg.K {
			break
		}
		switch {
		case c.state == responded:
			answered++
		case c.state == failed && c.attempts > 0:
			c.state, c.attempts, any = pending, l.cfg.Retries, true
		}
	}
	return any
}

// FinalRound reports whether the lookup is in its final round (see
// LookupConfig.FinalRound).
func (l *Lookup) FinalRound() bool { return l.final }

// revive makes the nodes dropped unasked pending again and reports whether
// there were any.
func (l *Lookup) revive() bool {
	any := false
	for _, c := range l.cands {
		if c.state == failed && c.attempts == 0 {
			c.state, any = pending, true
		}
	}
	return any
}

// answer accepts an answer from id: a node in flight, or one that timed out
// before (a late answer still counts). It reports whether id was asked.
func (l *Lookup) answer(id ID) *cand {
	c := l.byID[id]
	if c == nil || c.attempts == 0 || c.state == responded || l.status != Running {
		return nil
	}
	if c.state == inFlight {
		l.inFlight--
	}
	c.state = responded
	for _, b := range c.by {
		b.goodIntro++
	}
	return c
}

// fail marks c failed and holds it against the answerers that introduced
// it: one with MaxBadIntroductions failed introductions, more than
// answered, is distrusted, and the nodes that only distrusted answerers
// introduced are dropped unasked.
func (l *Lookup) fail(c *cand) {
	c.state = failed
	for _, b := range c.by {
		b.badIntro++
		if !b.distrusted && b.badIntro >= l.cfg.MaxBadIntroductions && b.badIntro > b.goodIntro {
			b.distrusted = true
			for _, o := range l.cands {
				if o.state == pending && o.attempts == 0 && len(o.by) > 0 &&
					!slices.ContainsFunc(o.by, func(x *cand) bool { return !x.distrusted }) {
					o.state = failed
				}
			}
		}
	}
}

// Distrusted returns the answerers that introduced too many nodes that
// failed (see MaxBadIntroductions): candidates for demotion in the routing
// table.
func (l *Lookup) Distrusted() []ID {
	var out []ID
	for _, c := range l.cands {
		if c.distrusted {
			out = append(out, c.ID)
		}
	}
	return out
}

// OnNodes records that from answered with contacts at now. Only the first K
// contacts of an answer are used, and answers from nodes that were not asked
// are ignored; it reports whether the answer was used.
//
// An answer that lists its own sender is refused: an honest node never
// does (its routing table does not hold itself), while a node answering
// every query with itself would otherwise count as one of the closest
// nodes that answered, taking the place of an honest one in the result
// (and of a replica in a store). The sender counts as failed and
// distrusted ([Lookup.Distrusted]); its introducers are not held
// responsible (it exists and answers).
func (l *Lookup) OnNodes(from ID, contacts []Contact, now time.Time) bool {
	if slices.ContainsFunc(contacts, func(n Contact) bool { return n.ID == from }) {
		c := l.byID[from]
		if c == nil || c.attempts == 0 || c.state == responded || l.status != Running {
			return false
		}
		if c.state == inFlight {
			l.inFlight--
		}
		c.state, c.distrusted = failed, true
		l.update(now)
		return false
	}
	c := l.answer(from)
	if c == nil {
		return false
	}
	for _, n := range contacts[:min(len(contacts), l.cfg.K)] {
		l.add(n, c)
	}
	l.update(now)
	return true
}

// OnValue records that from answered with a value the caller verified (its
// key is the target). The lookup ends with FoundValue after Quorum values,
// or when nobody closer is left to ask.
func (l *Lookup) OnValue(from ID, v *Record) bool {
	c := l.answer(from)
	if c == nil {
		return false
	}
	c.value = v
	l.values++
	if l.value == nil || (v.Kind.signed() && l.value.Kind.signed() && Newer(v, l.value)) {
		l.value, l.valueFrom = v, c
	}
	if l.values >= l.cfg.Quorum {
		l.status = FoundValue
	}
	return true
}

// OnTimeout records that the query to id went unanswered: id is asked again
// up to Retries times, then counts as failed.
func (l *Lookup) OnTimeout(id ID) {
	c := l.byID[id]
	if c == nil || c.state != inFlight {
		return
	}
	l.inFlight--
	switch {
	case c.attempts > l.cfg.Retries && len(c.alts) > 0:
		l.nextAddr(c)
	case c.attempts > l.cfg.Retries:
		l.fail(c)
	default:
		c.state = pending
	}
}

// nextAddr switches c to its next alternative address, to be asked afresh.
func (l *Lookup) nextAddr(c *cand) {
	c.Addr, c.alts = c.alts[0], c.alts[1:]
	c.attempts, c.state = 0, pending
}

// Expire times out every query in flight for RPCTimeout or longer at now and
// returns the ids it timed out.
func (l *Lookup) Expire(now time.Time) []ID {
	var out []ID
	for _, c := range l.cands {
		if c.state == inFlight && now.Sub(c.sentAt) >= l.cfg.RPCTimeout {
			l.OnTimeout(c.ID)
			out = append(out, c.ID)
		}
	}
	l.update(now)
	return out
}

// InFlight returns the ids of the queries in flight.
func (l *Lookup) InFlight() []ID {
	var out []ID
	for _, c := range l.cands {
		if c.state == inFlight {
			out = append(out, c.ID)
		}
	}
	return out
}

// Result returns up to K nodes that answered, closest to the target first.
func (l *Lookup) Result() []Contact {
	var out []Contact
	for _, c := range l.cands {
		if len(out) == l.cfg.K {
			break
		}
		if c.state == responded {
			out = append(out, c.Contact)
		}
	}
	return out
}

// Value returns the value found, or nil.
func (l *Lookup) Value() *Record { return l.value }

// Hops returns the number of round trips from the origin to the node that
// answered with the value, or else to the closest node that answered (seeds
// are one hop): the depth of the lookup. It is 0 when nobody answered.
func (l *Lookup) Hops() int {
	if l.valueFrom != nil {
		return l.valueFrom.hops
	}
	for _, c := range l.cands {
		if c.state == responded {
			return c.hops
		}
	}
	return 0
}

// CacheAt returns the closest node that answered without the value, after a
// value was found: where Kademlia caches the value (with a lifetime from
// [CacheTTL]). ok is false when there is none.
func (l *Lookup) CacheAt() (c Contact, ok bool) {
	if l.value == nil {
		return Contact{}, false
	}
	for _, e := range l.cands {
		if e.state == responded && e.value == nil {
			return e.Contact, true
		}
	}
	return Contact{}, false
}

// Stale returns the nodes that answered with another record than the one
// [Lookup.Value] chose (an older version of an owner record): to be sent
// the newest in a store.
func (l *Lookup) Stale() []Contact {
	var out []Contact
	for _, e := range l.cands {
		if e.value != nil && e.value != l.value && !e.value.Equal(l.value) {
			out = append(out, e.Contact)
		}
	}
	return out
}
