package dispersy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// delayed is one message held until something it needs arrives.
type delayed struct {
	key  need // normalized: what resolves it
	need need // exact: what was missing when it was delayed
	from netip.AddrPort
	pkt  []byte
	msg  *message // nil when the packet could not be decoded yet (unknown member)
	dead bool
}

// request is the outstanding missing-* request for one need key: it is
// retried with backoff, to other candidates when there are any, and gives
// up after Config.DelayAttempts.
type request struct {
	need     need
	attempts int
	next     time.Time
	sources  []netip.AddrPort // candidates that sent a message needing it
	asked    []netip.AddrPort
}

// delayQueue holds a community's delayed messages, bounded in count and
// bytes (oldest dropped first), and their requests.
type delayQueue struct {
	items    []*delayed // arrival order; dead entries are compacted away
	live     int
	bytes    int
	byKey    map[need][]*delayed
	requests map[need]*request
	reqOrder []need // creation order, for deterministic iteration
	outMsgs  []outMsg
}

func (q *delayQueue) init() {
	q.byKey = map[need][]*delayed{}
	q.requests = map[need]*request{}
}

// keyOf normalizes a need to what resolves it: a sequence need is resolved
// by any new message of the member and type (the message is re-checked and
// delayed again for what is still missing). A proof need keeps its member
// and global time: each delayed message gets its own missing-proof request
// to its own sender, and any permission message wakes every proof wait
// (resumeProofs).
func keyOf(n need) need {
	n.quiet = false
	if n.kind == needSequence {
		return need{kind: needSequence, member: n.member, msgID: n.msgID}
	}
	return n
}

// Delayed returns the number of messages waiting for something.
func (c *Community) Delayed() int { return c.delays.live }

// add delays a packet (msg is its decoded message, or nil).
func (q *delayQueue) add(c *Community, n need, from netip.AddrPort, pkt []byte, msg *message) {
	k := keyOf(n)
	for _, d := range q.byKey[k] {
		if !d.dead && slices.Equal(d.pkt, pkt) {
			d.need = n
			if msg != nil {
				d.msg = msg
			}
			q.request(c, n, from)
			return
		}
	}
	d := &delayed{key: k, need: n, from: from, pkt: pkt, msg: msg}
	q.items = append(q.items, d)
	q.byKey[k] = append(q.byKey[k], d)
	q.live++
	q.bytes += len(pkt)
	c.e.stats.Delayed++
	c.stats.Delayed++
	for q.live > c.e.cfg.MaxDelayed || q.bytes > c.e.cfg.MaxDelayedBytes {
		q.evictOldest(c)
	}
	if !d.dead && !n.quiet {
		q.request(c, n, from)
	}
}

func (q *delayQueue) evictOldest(c *Community) {
	for _, d := range q.items {
		if d.dead {
			continue
		}
		q.kill(d)
		c.dropped(DropDelayOverflow, d.from, d.need.kind.String())
		q.dropRequestIfIdle(d.key)
		return
	}
}

func (q *delayQueue) kill(d *delayed) {
	d.dead = true
	q.live--
	q.bytes -= len(d.pkt)
	list := slices.DeleteFunc(q.byKey[d.key], func(x *delayed) bool { return x == d })
	if len(list) == 0 {
		delete(q.byKey, d.key)
	} else {
		q.byKey[d.key] = list
	}
	if len(q.items) > 64 && q.live < len(q.items)/2 {
		q.items = slices.DeleteFunc(q.items, func(x *delayed) bool { return x.dead })
	}
}

func (q *delayQueue) dropRequestIfIdle(k need) {
	if len(q.byKey[k]) > 0 {
		return
	}
	if _, ok := q.requests[k]; ok {
		delete(q.requests, k)
		q.reqOrder = slices.DeleteFunc(q.reqOrder, func(x need) bool { return x == k })
	}
}

// request makes sure a request for n is outstanding, sending the first
// one now to the peer the message came from.
func (q *delayQueue) request(c *Community, n need, from netip.AddrPort) {
	k := keyOf(n)
	r := q.requests[k]
	if r != nil {
		if from.IsValid() && !slices.Contains(r.sources, from) {
			r.sources = append(r.sources, from)
		}
		if n.kind == needSequence && (n.low < r.need.low || n.high > r.need.high) {
			// A new gap, not part of the range already asked for: ask now.
			r.need = n
			r.attempts = 0
			r.asked = nil
			q.send(c, r)
		}
		return
	}
	r = &request{need: n}
	if from.IsValid() {
		r.sources = []netip.AddrPort{from}
	}
	q.requests[k] = r
	q.reqOrder = append(q.reqOrder, k)
	q.send(c, r)
}

// send sends one attempt of r: to a source not asked yet, else to a
// verified candidate not asked yet, else to the first source again.
func (q *delayQueue) send(c *Community, r *request) {
	var to netip.AddrPort
	for _, s := range r.sources {
		if !slices.Contains(r.asked, s) {
			to = s
			break
		}
	}
	if !to.IsValid() {
		for _, a := range c.walk.randomVerified(4, nil) {
			if !slices.Contains(r.asked, a) {
				to = a
				break
			}
		}
	}
	if !to.IsValid() && len(r.sources) > 0 {
		to = r.sources[0]
	}
	r.attempts++
	r.next = c.e.now.Add(c.e.cfg.DelayRetry << (r.attempts - 1))
	if !to.IsValid() {
		return
	}
	r.asked = append(r.asked, to)
	c.e.stats.Requests++
	if r.need.kind == needMessage {
		// Missing messages of one member asked of one peer in one go are
		// merged into one request (Dispersy's payload carries a list).
		q.outMsgs = append(q.outMsgs, outMsg{member: r.need.member, to: to, gt: r.need.globalTime})
		return
	}
	c.sendMissing(r.need, to)
}

// outMsg is one global time to ask a peer for in a merged missing-message.
type outMsg struct {
	member keys.MemberID
	to     netip.AddrPort
	gt     uint64
}

// flushSends sends the queued missing-message requests, merged per
// (member, peer), at most maxMissingMessageTimes global times each.
func (q *delayQueue) flushSends(c *Community) {
	if len(q.outMsgs) == 0 {
		return
	}
	out := q.outMsgs
	q.outMsgs = nil
	type key struct {
		member keys.MemberID
		to     netip.AddrPort
	}
	var order []key
	gts := map[key][]uint64{}
	for _, o := range out {
		k := key{o.member, o.to}
		if _, ok := gts[k]; !ok {
			order = append(order, k)
		}
		gts[k] = append(gts[k], o.gt)
	}
	for _, k := range order {
		list := gts[k]
		slices.Sort(list)
		list = slices.Compact(list)
		for len(list) > 0 {
			n := min(len(list), maxMissingMessageTimes)
			c.sendDirect(MissingMessageType, MissingMessage{Member: k.member, GlobalTimes: list[:n]}, k.to)
			list = list[n:]
		}
	}
}

// nextDeadline is the earliest retry.
func (q *delayQueue) nextDeadline() (time.Time, bool) {
	var d time.Time
	ok := false
	for _, k := range q.reqOrder {
		r := q.requests[k]
		if !ok || r.next.Before(d) {
			d, ok = r.next, true
		}
	}
	return d, ok
}

// tick retries due requests and expires those out of attempts, dropping the
// messages that waited for them.
func (q *delayQueue) tick(c *Community) error {
	now := c.e.now
	for _, k := range slices.Clone(q.reqOrder) {
		r := q.requests[k]
		if r == nil {
			continue
		}
		if len(q.byKey[k]) == 0 {
			q.dropRequestIfIdle(k)
			continue
		}
		if r.next.After(now) {
			continue
		}
		if r.attempts >= c.e.cfg.DelayAttempts {
			// A message still without a proof after every request is one
			// the timeline does not allow: refused, not merely late.
			reason := DropDelayExpired
			if k.kind == needProof {
				reason = DropNotPermitted
			}
			for _, d := range slices.Clone(q.byKey[k]) {
				q.kill(d)
				c.dropped(reason, d.from, d.need.kind.String())
			}
			q.dropRequestIfIdle(k)
			continue
		}
		q.send(c, r)
	}
	q.flushSends(c)
	return nil
}

// resolved is called for every message this node handled (received or
// created): delayed messages waiting for it go back into the inbox.
func (q *delayQueue) resolved(c *Community, m *message) {
	if len(q.requests) > 0 && len(m.authors) > 0 {
		// A message's own proof request ends when it is accepted (proof
		// requests outlive a resume: see resume).
		q.dropRequestIfIdle(need{kind: needProof, member: m.author(), globalTime: m.frame.GlobalTime})
	}
	if q.live == 0 {
		return
	}
	for _, a := range m.authors {
		q.resume(c, need{kind: needIdentity, member: a.ID()})
	}
	if m.frame.Sequence > 0 {
		q.resume(c, need{kind: needSequence, member: m.author(), msgID: m.id()})
	}
	if len(m.authors) > 0 {
		q.resume(c, need{kind: needMessage, member: m.author(), globalTime: m.frame.GlobalTime})
	}
	switch m.id() {
	case IDAuthorize, IDRevoke, IDDynamicSettings:
		q.resumeProofs(c)
	}
}

// resumeProofs re-checks every message waiting for a proof, in arrival
// order: a permission message may prove any of them.
func (q *delayQueue) resumeProofs(c *Community) {
	var ks []need
	seen := map[need]bool{}
	for _, d := range q.items {
		if !d.dead && d.key.kind == needProof && !seen[d.key] {
			seen[d.key] = true
			ks = append(ks, d.key)
		}
	}
	for _, k := range ks {
		q.resume(c, k)
	}
}

// resolvedMember is called when a member's key becomes known.
func (q *delayQueue) resolvedMember(c *Community, id keys.MemberID) {
	if q.live > 0 {
		q.resume(c, need{kind: needIdentity, member: id})
	}
}

func (q *delayQueue) resume(c *Community, k need) {
	list := q.byKey[k]
	if len(list) == 0 {
		return
	}
	list = slices.Clone(list)
	for _, d := range list {
		q.kill(d)
	}
	if k.kind != needSequence && k.kind != needProof {
		q.dropRequestIfIdle(k)
	}
	// A sequence request stays while its gap is being refilled, and a
	// proof request while proofs arrive: the resumed messages are checked
	// again and, if something is still missing, wait on the same request
	// (its backoff and attempts continue) instead of sending a new one for
	// each packet that arrives. tick drops it once nothing waits on it.
	for _, d := range list {
		c.e.stats.Resumed++
		if d.msg != nil {
			c.inbox = append(c.inbox, d.msg)
		} else {
			c.e.ingest(d.from, d.pkt, nil)
		}
	}
}
