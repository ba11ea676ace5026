package walker

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// Category is a candidate's standing at a given time, decided by its
// timestamps in this order (dispersy.md §5.1):
//
//	walk        now < last walk reply + WalkLifetime
//	stumble     now < last stumble    + StumbleLifetime
//	intro       now < last intro      + IntroLifetime
//	discovered  now < last discovered + DiscoveredLifetime
//	none        otherwise: obsolete, removed by Cleanup
type Category uint8

// Categories. The zero value is CategoryNone.
const (
	// CategoryNone: obsolete; the candidate is removed at the next
	// [Table.Cleanup] (unless it is kept alive).
	CategoryNone Category = iota
	// CategoryWalk: we walked to it and it answered.
	CategoryWalk
	// CategoryStumble: it walked to us.
	CategoryStumble
	// CategoryIntro: someone introduced it, or it punctured us.
	CategoryIntro
	// CategoryDiscovered: discovery or a tracker list named it.
	CategoryDiscovered
)

// String returns Dispersy's name for c.
func (c Category) String() string {
	switch c {
	case CategoryNone:
		return "none"
	case CategoryWalk:
		return "walk"
	case CategoryStumble:
		return "stumble"
	case CategoryIntro:
		return "intro"
	case CategoryDiscovered:
		return "discovered"
	}
	return fmt.Sprintf("Category(%d)", uint8(c))
}

// Verified reports whether c is walk or stumble: a peer that exchanged
// packets with us both ways (walk) or reached us itself (stumble). Only
// verified candidates are introduced, forwarded to, and counted for the
// global-time median.
func (c Category) Verified() bool { return c == CategoryWalk || c == CategoryStumble }

// Candidate is one peer known to a community's walker (Dispersy
// WalkCandidate).
//
// A Candidate belongs to its [Table]; it changes only through Table
// methods, and its accessors are read-only. A pointer stays valid (and
// keeps describing the same peer) until the table removes the candidate;
// after that it still reads the state it had when it was removed.
type Candidate struct {
	cfg *Config
	seq uint64 // insertion order in the table; the introduce cursor uses it

	sock, lan, wan netip.AddrPort
	tunnel         bool
	conn           ConnectionType

	lastWalk, lastWalkReply, lastStumble, lastIntro, lastDiscovered time.Time

	globalTime uint64
	member     keys.MemberID
	hasMember  bool

	keepAlive   bool
	lifeSupport bool
}

// Sock returns the address we send to and receive from.
func (c *Candidate) Sock() netip.AddrPort { return c.sock }

// LAN returns the peer's LAN address; the zero AddrPort when unknown.
func (c *Candidate) LAN() netip.AddrPort { return c.lan }

// WAN returns the peer's WAN address; the zero AddrPort when unknown.
func (c *Candidate) WAN() netip.AddrPort { return c.wan }

// Tunnel reports whether the peer's packets come through a tunnel (the
// FF FF FF FF prefix, dispersy.md §5.5).
func (c *Candidate) Tunnel() bool { return c.tunnel }

// Connection returns the connection type the peer reported.
func (c *Candidate) Connection() ConnectionType { return c.conn }

// LastWalk returns when we last sent it an introduction request; zero if
// never.
func (c *Candidate) LastWalk() time.Time { return c.lastWalk }

// LastWalkReply returns when it last answered one; zero if never or if the
// last request timed out.
func (c *Candidate) LastWalkReply() time.Time { return c.lastWalkReply }

// LastStumble returns when it last sent us an introduction request.
func (c *Candidate) LastStumble() time.Time { return c.lastStumble }

// LastIntro returns when it was last introduced to us or punctured us.
func (c *Candidate) LastIntro() time.Time { return c.lastIntro }

// LastDiscovered returns when discovery last named it.
func (c *Candidate) LastDiscovered() time.Time { return c.lastDiscovered }

// LastSeen returns the latest of its timestamps; zero if none is set.
func (c *Candidate) LastSeen() time.Time {
	t := c.lastWalk
	for _, u := range [...]time.Time{c.lastWalkReply, c.lastStumble, c.lastIntro, c.lastDiscovered} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// GlobalTime returns the highest global time the peer reported to us.
func (c *Candidate) GlobalTime() uint64 { return c.globalTime }

// Member returns the member id associated with the peer, if any.
func (c *Candidate) Member() (keys.MemberID, bool) { return c.member, c.hasMember }

// KeepAlive reports whether the candidate is kept alive (see
// [Table.SetKeepAlive]).
func (c *Candidate) KeepAlive() bool { return c.keepAlive }

// OnLifeSupport reports whether the candidate timed out once and is being
// kept for one more lifetime while a keep-alive request is answered.
func (c *Candidate) OnLifeSupport() bool { return c.lifeSupport }

// within reports whether now is in [ts, ts+life) — or before ts, when the
// clock handed to us went backwards. A zero ts is never within.
func within(ts time.Time, life time.Duration, now time.Time) bool {
	return !ts.IsZero() && now.Before(ts.Add(life))
}

// Category returns the candidate's category at now.
func (c *Candidate) Category(now time.Time) Category {
	switch {
	case within(c.lastWalkReply, c.cfg.WalkLifetime, now):
		return CategoryWalk
	case within(c.lastStumble, c.cfg.StumbleLifetime, now):
		return CategoryStumble
	case within(c.lastIntro, c.cfg.IntroLifetime, now):
		return CategoryIntro
	case within(c.lastDiscovered, c.cfg.DiscoveredLifetime, now):
		return CategoryDiscovered
	}
	return CategoryNone
}

// Verified reports whether the candidate is walk or stumble at now.
func (c *Candidate) Verified(now time.Time) bool { return c.Category(now).Verified() }

// EligibleForWalk reports whether we may walk to the candidate at now: it
// has a category, and our last walk to it is at least EligibleDelay ago.
// (Dispersy compared the category with the string "none", which never
// matched, so obsolete candidates counted as eligible; fixed here.)
func (c *Candidate) EligibleForWalk(now time.Time) bool {
	return c.Category(now) != CategoryNone && c.walkDelayOver(now)
}

// walkDelayOver reports whether our last walk to the candidate is at least
// EligibleDelay ago (or never happened).
func (c *Candidate) walkDelayOver(now time.Time) bool {
	return c.lastWalk.IsZero() || !now.Before(c.lastWalk.Add(c.cfg.EligibleDelay))
}

// stamp returns the timestamp that orders candidates of category cat for
// walk selection (the oldest goes first): Dispersy uses last walk for walk
// candidates, and the category's own timestamp for the others.
func (c *Candidate) stamp(cat Category) time.Time {
	switch cat {
	case CategoryWalk:
		return c.lastWalk
	case CategoryStumble:
		return c.lastStumble
	case CategoryIntro:
		return c.lastIntro
	case CategoryDiscovered:
		return c.lastDiscovered
	}
	return time.Time{}
}

// strict reports whether both LAN and WAN are known: only such candidates
// are introduced to others (Dispersy _iter_category(strict=True)).
func (c *Candidate) strict() bool { return c.lan.IsValid() && c.wan.IsValid() }

// update applies what a packet told us about the peer. A known address is
// replaced only by a valid one: a peer that reports 0.0.0.0:0 does not
// erase what we knew, and an address we did not know is learned (dispersy.md
// §11.4 reports WalkCandidate.update's condition inverted: it overwrote only
// addresses that were already non-zero). A peer that reports an unknown
// connection type with equal LAN and WAN addresses is public (as Dispersy).
func (c *Candidate) update(tunnel bool, lan, wan netip.AddrPort, conn ConnectionType) {
	c.tunnel = tunnel
	if lan.IsValid() {
		c.lan = lan
	}
	if wan.IsValid() {
		c.wan = wan
	}
	if !conn.Valid() {
		conn = ConnectionUnknown
	}
	if conn == ConnectionUnknown && lan.IsValid() && lan == wan {
		conn = ConnectionPublic
	}
	c.conn = conn
}

// merge folds other (a duplicate of the same peer) into c.
func (c *Candidate) merge(o *Candidate) {
	latest := func(a *time.Time, b time.Time) {
		if b.After(*a) {
			*a = b
		}
	}
	latest(&c.lastWalk, o.lastWalk)
	latest(&c.lastWalkReply, o.lastWalkReply)
	latest(&c.lastStumble, o.lastStumble)
	latest(&c.lastIntro, o.lastIntro)
	latest(&c.lastDiscovered, o.lastDiscovered)
	c.globalTime = max(c.globalTime, o.globalTime)
	if !c.hasMember && o.hasMember {
		c.member, c.hasMember = o.member, true
	}
	c.keepAlive = c.keepAlive || o.keepAlive
}

// sameMember reports whether both candidates are associated with the same
// member id.
func (c *Candidate) sameMember(o *Candidate) bool {
	return c.hasMember && o.hasMember && c.member == o.member
}

// String formats the candidate as Dispersy did: {sock} when sock, LAN and
// WAN agree, {lan wan} otherwise.
func (c *Candidate) String() string {
	if c.sock == c.lan && c.sock == c.wan {
		return "{" + c.sock.String() + "}"
	}
	return "{" + c.lan.String() + " " + c.wan.String() + "}"
}
