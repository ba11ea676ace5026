package walker

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// Contact is what one packet tells us about a peer.
type Contact struct {
	// Sock is the address the packet came from (or, for an introduced
	// peer, the address we will reach it at, see [Addresses.SockFor]).
	Sock netip.AddrPort
	// LAN and WAN are the addresses the peer reported for itself; the zero
	// AddrPort or 0.0.0.0:0 when it did not know. The table corrects them
	// with [Addresses.Estimate].
	LAN, WAN netip.AddrPort
	// Tunnel is true when the packet came through a tunnel.
	Tunnel bool
	// Connection is the connection type the peer reported.
	Connection ConnectionType
}

// Stats counts what a [Table] did. All counters only grow.
type Stats struct {
	// Created counts candidates added to the table.
	Created uint64
	// Merged counts duplicates folded into another candidate.
	Merged uint64
	// Rekeyed counts symmetric-NAT candidates moved to a new port.
	Rekeyed uint64
	// Evicted counts non-verified candidates dropped to make room.
	Evicted uint64
	// Refused counts candidates not created: the table was full of
	// verified candidates, the address was invalid, or it was our own.
	Refused uint64
	// Obsolete counts candidates removed by Cleanup.
	Obsolete uint64
	// KeepAlives counts candidates put on life support (one keep-alive
	// request each).
	KeepAlives uint64
	// Removed counts candidates removed by Remove.
	Removed uint64
	// Trimmed counts verified candidates dropped by Trim (MaxPeers).
	Trimmed uint64
}

// Table holds the candidates of one community (Dispersy
// Community._candidates plus the walker's selection methods).
//
// Candidates are kept in insertion order; every list a Table returns is in
// that order (or drawn from it with the caller's rng), never in map order.
// A Table withdraws the WAN vote of every candidate it removes (obsolete,
// merged, evicted, re-keyed or removed), so [Addresses] only counts votes of
// live candidates.
//
// Not safe for concurrent use: the engine goroutine owns it.
type Table struct {
	cfg   Config
	addrs *Addresses
	cands []*Candidate                  // insertion order
	index map[netip.AddrPort]*Candidate // lookup only; never iterated
	seq   uint64                        // last seq handed out
	rr    [2]uint64                     // introduce cursors: seq of the last walk / stumble candidate inspected
	stats Stats
}

// NewTable returns an empty table. addrs are this node's addresses, shared
// by the tables of all communities; the table uses them to estimate
// candidates' LAN and WAN addresses and to withdraw votes.
func NewTable(cfg Config, addrs *Addresses) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if addrs == nil {
		return nil, errors.New("walker: NewTable needs this node's Addresses (NewAddresses)")
	}
	return &Table{cfg: cfg, addrs: addrs, index: make(map[netip.AddrPort]*Candidate)}, nil
}

// Config returns the table's configuration.
func (t *Table) Config() Config { return t.cfg }

// Stats returns a snapshot of the counters.
func (t *Table) Stats() Stats { return t.stats }

// Len returns the number of candidates, of any category.
func (t *Table) Len() int { return len(t.cands) }

// Get returns the candidate at sock, or nil.
func (t *Table) Get(sock netip.AddrPort) *Candidate { return t.index[normalize(sock)] }

// All returns every candidate, in insertion order, whatever its category.
func (t *Table) All() []*Candidate { return slices.Clone(t.cands) }

// Candidates returns the walk, stumble and intro candidates at now, in
// insertion order (Dispersy dispersy_yield_candidates; discovered-only
// candidates are not included).
func (t *Table) Candidates(now time.Time) []*Candidate {
	var out []*Candidate
	for _, c := range t.cands {
		switch c.Category(now) {
		case CategoryWalk, CategoryStumble, CategoryIntro:
			out = append(out, c)
		}
	}
	return out
}

// Verified returns the walk and stumble candidates at now, in insertion
// order (Dispersy dispersy_yield_verified_candidates).
func (t *Table) Verified(now time.Time) []*Candidate {
	var out []*Candidate
	for _, c := range t.cands {
		if c.Verified(now) {
			out = append(out, c)
		}
	}
	return out
}

// CountVerified returns the number of walk and stumble candidates at now.
func (t *Table) CountVerified(now time.Time) int {
	n := 0
	for _, c := range t.cands {
		if c.Verified(now) {
			n++
		}
	}
	return n
}

// Trim removes verified candidates while there are more than max of them
// (IPv8 max_peers): stumble candidates before walk candidates (a walk
// candidate answered us, so it proved its address; a request, which makes
// a stumble candidate, can come from a spoofed one), and within each the
// one heard from longest ago first (oldest last introduction response or
// request from it; ties go to the earlier inserted), which would expire
// first anyway. It never removes a
// candidate for which keep returns true (bootstrap addresses) nor one with
// an introduction request in flight (walked less than IntroRequestTimeout
// ago and not answered since). It withdraws their votes and returns them,
// in removal order. max ≤ 0: no cap.
func (t *Table) Trim(now time.Time, max int, keep func(*Candidate) bool) []*Candidate {
	if max <= 0 {
		return nil
	}
	var pool []*Candidate
	for _, c := range t.cands {
		if c.Verified(now) {
			pool = append(pool, c)
		}
	}
	excess := len(pool) - max
	if excess <= 0 {
		return nil
	}
	pool = slices.DeleteFunc(pool, func(c *Candidate) bool {
		pending := c.lastWalk.After(c.lastWalkReply) && now.Before(c.lastWalk.Add(t.cfg.IntroRequestTimeout))
		return pending || (keep != nil && keep(c))
	})
	heard := func(c *Candidate) time.Time {
		if c.lastStumble.After(c.lastWalkReply) {
			return c.lastStumble
		}
		return c.lastWalkReply
	}
	slices.SortStableFunc(pool, func(a, b *Candidate) int {
		if wa, wb := a.Category(now) == CategoryWalk, b.Category(now) == CategoryWalk; wa != wb {
			if wb {
				return -1
			}
			return 1
		}
		return heard(a).Compare(heard(b))
	})
	out := pool[:min(excess, len(pool))]
	for _, c := range out {
		t.drop(c)
		t.stats.Trimmed++
	}
	return out
}

// Add creates a candidate with no timestamps, or updates the addresses of
// an existing one, and returns it (Dispersy create_candidate). Such a
// candidate is obsolete until an event marks it, so the next Cleanup
// removes it; Add exists for bootstrapping and tests. ok is false when the
// candidate was refused (invalid or own address, or a full table).
func (t *Table) Add(now time.Time, ct Contact) (c *Candidate, ok bool) {
	return t.createOrUpdate(now, ct, false)
}

// Walk records that we are sending an introduction request to the
// candidate at sock (Dispersy WalkCandidate.walk). It reports whether the
// candidate exists.
func (t *Table) Walk(now time.Time, sock netip.AddrPort) bool {
	c := t.Get(sock)
	if c == nil {
		return false
	}
	c.lastWalk = now
	return true
}

// WalkResponse records an introduction response from ct.Sock with the
// addresses it reported for itself: the candidate is created or updated
// and enters the walk category (Dispersy on_introduction_response:
// create_or_update_walkcandidate, walk_response). A response ends life
// support. Duplicates of the candidate are merged into it.
func (t *Table) WalkResponse(now time.Time, ct Contact) (c *Candidate, ok bool) {
	c, ok = t.createOrUpdate(now, ct, true)
	if !ok {
		return nil, false
	}
	c.lastWalkReply = now
	c.lifeSupport = false
	t.MergeDuplicates(c)
	return c, true
}

// WalkTimeout records that our introduction request to sock got no
// response within IntroRequestTimeout (Dispersy walk_response(-1)): the
// candidate leaves the walk category at once. A candidate on life support
// whose keep-alive request times out this way is removed by the next
// Cleanup. It reports whether the candidate exists.
func (t *Table) WalkTimeout(sock netip.AddrPort) bool {
	c := t.Get(sock)
	if c == nil {
		return false
	}
	c.lastWalkReply = time.Time{}
	return true
}

// Stumble records an introduction request from ct.Sock (§5.4 step 2): the
// candidate is created or updated with the estimated LAN and WAN addresses
// and enters the stumble category, and duplicates of it (same WAN IP and
// same LAN address) are merged into it. The caller then votes with the
// request's destination address ([Addresses.Vote]) and may ask
// [Table.Introduce] for someone to introduce. A request ends life support.
func (t *Table) Stumble(now time.Time, ct Contact) (c *Candidate, ok bool) {
	c, ok = t.createOrUpdate(now, ct, true)
	if !ok {
		return nil, false
	}
	c.lastStumble = now
	c.lifeSupport = false
	t.MergeDuplicates(c)
	return c, true
}

// Intro records that an introduction response named the peer, or that it
// punctured us: the candidate is created or updated and enters the intro
// category (Dispersy intro). For an introduced peer, ct.Sock is
// [Addresses.SockFor] of the addresses in the response.
func (t *Table) Intro(now time.Time, ct Contact) (c *Candidate, ok bool) {
	c, ok = t.createOrUpdate(now, ct, true)
	if !ok {
		return nil, false
	}
	c.lastIntro = now
	return c, true
}

// Puncture records a puncture from ct.Sock; it is [Table.Intro] (Dispersy
// on_puncture marks the sender intro).
func (t *Table) Puncture(now time.Time, ct Contact) (c *Candidate, ok bool) {
	return t.Intro(now, ct)
}

// Discovered records a peer named by discovery or a tracker list: the
// candidate is created if needed and enters the discovered category
// (Dispersy add_discovered_candidate). An existing symmetric-NAT candidate
// is not re-keyed, and an unknown LAN or WAN address is taken to be Sock.
func (t *Table) Discovered(now time.Time, ct Contact) (c *Candidate, ok bool) {
	sock := normalize(ct.Sock)
	if !normalize(ct.LAN).IsValid() {
		ct.LAN = sock
	}
	if !normalize(ct.WAN).IsValid() {
		ct.WAN = sock
	}
	c, ok = t.createOrUpdate(now, ct, false)
	if !ok {
		return nil, false
	}
	c.lastDiscovered = now
	return c, true
}

// SetGlobalTime records that the peer at sock reported global time gt; the
// candidate keeps the highest value it reported. It reports whether the
// candidate exists.
func (t *Table) SetGlobalTime(sock netip.AddrPort, gt uint64) bool {
	c := t.Get(sock)
	if c == nil {
		return false
	}
	c.globalTime = max(c.globalTime, gt)
	return true
}

// Associate records that the peer at sock is member mid (learned from a
// signed introduction request or response). It reports whether the
// candidate exists.
func (t *Table) Associate(sock netip.AddrPort, mid keys.MemberID) bool {
	c := t.Get(sock)
	if c == nil {
		return false
	}
	c.member, c.hasMember = mid, true
	return true
}

// SetKeepAlive turns keep-alive on or off for the candidate at sock
// (Dispersy set_keepalive, Tribler/dispersy#548). When a kept-alive
// candidate times out, Cleanup does not remove it: it keeps its last
// category for one more lifetime ("life support") and is returned in
// [CleanupResult.KeepAlive] so the engine sends it one introduction request
// without bloom filter and without advice. A response (or a request from
// the peer) ends life support; a second timeout without one removes it.
// It reports whether the candidate exists.
func (t *Table) SetKeepAlive(sock netip.AddrPort, on bool) bool {
	c := t.Get(sock)
	if c == nil {
		return false
	}
	c.keepAlive = on
	if !on {
		c.lifeSupport = false
	}
	return true
}

// Remove removes the candidate at sock, withdraws its vote and returns it;
// nil if there is none. The engine removes our own addresses this way
// after the WAN estimate changes.
func (t *Table) Remove(sock netip.AddrPort) *Candidate {
	c := t.Get(sock)
	if c == nil {
		return nil
	}
	t.drop(c)
	t.stats.Removed++
	return c
}

// CleanupResult lists what [Table.Cleanup] did.
type CleanupResult struct {
	// Removed are the obsolete candidates, removed from the table; their
	// votes were withdrawn.
	Removed []*Candidate
	// KeepAlive are the kept-alive candidates that timed out and were put
	// on life support: send each one introduction request without bloom
	// filter and without advice (and call Walk for it).
	KeepAlive []*Candidate
}

// Cleanup removes the candidates that are obsolete at now (category none)
// and withdraws their votes (Dispersy cleanup_candidates, which ran before
// every walk selection; call it before [Table.NextWalk]). Kept-alive
// candidates get life support once instead, see [Table.SetKeepAlive].
func (t *Table) Cleanup(now time.Time) CleanupResult {
	var res CleanupResult
	kept := t.cands[:0]
	for _, c := range t.cands {
		if c.Category(now) != CategoryNone {
			kept = append(kept, c)
			continue
		}
		if c.keepAlive && !c.lifeSupport {
			if cat := c.lastCategory(); cat != CategoryNone {
				c.revive(cat, now)
				c.lifeSupport = true
				t.stats.KeepAlives++
				res.KeepAlive = append(res.KeepAlive, c)
				kept = append(kept, c)
				continue
			}
		}
		delete(t.index, c.sock)
		t.addrs.Unvote(c.sock)
		t.stats.Obsolete++
		res.Removed = append(res.Removed, c)
	}
	clear(t.cands[len(kept):])
	t.cands = kept
	return res
}

// lastCategory returns the category whose lifetime ended last: the one the
// candidate held just before it became obsolete. Ties go to the category
// checked first.
func (c *Candidate) lastCategory() Category {
	best, end := CategoryNone, time.Time{}
	for _, x := range [...]struct {
		cat  Category
		ts   time.Time
		life time.Duration
	}{
		{CategoryWalk, c.lastWalkReply, c.cfg.WalkLifetime},
		{CategoryStumble, c.lastStumble, c.cfg.StumbleLifetime},
		{CategoryIntro, c.lastIntro, c.cfg.IntroLifetime},
		{CategoryDiscovered, c.lastDiscovered, c.cfg.DiscoveredLifetime},
	} {
		if x.ts.IsZero() {
			continue
		}
		if e := x.ts.Add(x.life); best == CategoryNone || e.After(end) {
			best, end = x.cat, e
		}
	}
	return best
}

// revive resets the timestamp of cat to now, so the candidate holds cat
// for one more lifetime.
func (c *Candidate) revive(cat Category, now time.Time) {
	switch cat {
	case CategoryWalk:
		c.lastWalkReply = now
	case CategoryStumble:
		c.lastStumble = now
	case CategoryIntro:
		c.lastIntro = now
	case CategoryDiscovered:
		c.lastDiscovered = now
	}
}

// MergeDuplicates folds into c every other candidate that is the same peer
// seen at another address: same WAN IP and same LAN address (Dispersy
// filter_duplicate_candidate, §5.4 step 2), removes them, withdraws their
// votes and returns them. Timestamps and global time take the latest of
// both. Two hardenings over Dispersy: c must know both its LAN and WAN
// address (an unknown 0.0.0.0:0 LAN would otherwise merge unrelated peers
// behind one NAT), and candidates associated with different members are
// never merged.
func (t *Table) MergeDuplicates(c *Candidate) []*Candidate {
	if c == nil || t.index[c.sock] != c || !c.strict() {
		return nil
	}
	var removed []*Candidate
	kept := t.cands[:0]
	for _, o := range t.cands {
		if o != c && o.wan.IsValid() && o.wan.Addr() == c.wan.Addr() && o.lan == c.lan &&
			!(c.hasMember && o.hasMember && c.member != o.member) {
			c.merge(o)
			delete(t.index, o.sock)
			t.addrs.Unvote(o.sock)
			t.stats.Merged++
			removed = append(removed, o)
			continue
		}
		kept = append(kept, o)
	}
	clear(t.cands[len(kept):])
	t.cands = kept
	return removed
}

// MedianGlobalTime returns the median of the global times reported by the
// verified candidates at now (counting only those that reported one), when
// there are more than MedianMinCandidates of them, else 0. The engine
// bounds acceptable global times with it (dispersy.md §4.1:
// max(own, median) + 10,000). With an even count it is the upper median,
// as Dispersy's sorted(...)[len/2].
func (t *Table) MedianGlobalTime(now time.Time) uint64 {
	var gts []uint64
	for _, c := range t.cands {
		if c.globalTime > 0 && c.Verified(now) {
			gts = append(gts, c.globalTime)
		}
	}
	if len(gts) <= t.cfg.MedianMinCandidates {
		return 0
	}
	slices.Sort(gts)
	return gts[len(gts)/2]
}

// createOrUpdate is Dispersy's create_or_update_walkcandidate: estimate
// the addresses, find the candidate (re-keying a symmetric-NAT candidate
// that moved to a new port when rekey is set), update it or create it.
func (t *Table) createOrUpdate(now time.Time, ct Contact, rekey bool) (*Candidate, bool) {
	sock := normalize(ct.Sock)
	if !sock.IsValid() || t.addrs.IsSelf(sock) {
		t.stats.Refused++
		return nil, false
	}
	lan, wan := t.addrs.Estimate(sock, ct.LAN, ct.WAN)
	c := t.index[sock]
	if c == nil && rekey {
		c = t.movedSymmetric(sock, lan)
	}
	if c == nil {
		if !t.admit(now) {
			return nil, false
		}
		t.seq++
		c = &Candidate{cfg: &t.cfg, seq: t.seq, sock: sock}
		t.cands = append(t.cands, c)
		t.index[sock] = c
		t.stats.Created++
	}
	c.update(ct.Tunnel, lan, wan, ct.Connection)
	return c, true
}

// movedSymmetric finds a symmetric-NAT candidate with sock's IP whose LAN
// address is unknown or lan, and moves it to sock (Dispersy get_candidate
// with replace=True): a symmetric NAT gives the same peer a new port for
// every destination.
func (t *Table) movedSymmetric(sock, lan netip.AddrPort) *Candidate {
	for _, c := range t.cands {
		if c.conn == ConnectionSymmetricNAT && c.sock.Addr() == sock.Addr() &&
			(!c.lan.IsValid() || c.lan == lan) {
			delete(t.index, c.sock)
			t.addrs.Unvote(c.sock)
			c.sock = sock
			t.index[sock] = c
			t.stats.Rekeyed++
			return c
		}
	}
	return nil
}

// admit makes room for one new candidate: it reports true when the table
// has room, evicting the non-verified candidate seen longest ago if it is
// full, and false (counted as refused) when every candidate is verified.
func (t *Table) admit(now time.Time) bool {
	if len(t.cands) < t.cfg.MaxCandidates {
		return true
	}
	var victim *Candidate
	for _, c := range t.cands {
		if !c.Verified(now) && (victim == nil || c.LastSeen().Before(victim.LastSeen())) {
			victim = c
		}
	}
	if victim == nil {
		t.stats.Refused++
		return false
	}
	t.drop(victim)
	t.stats.Evicted++
	return true
}

// drop removes c from the table and withdraws its vote.
func (t *Table) drop(c *Candidate) {
	delete(t.index, c.sock)
	t.addrs.Unvote(c.sock)
	if i := slices.Index(t.cands, c); i >= 0 {
		t.cands = slices.Delete(t.cands, i, i+1)
	}
}
