package dispersy

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// Peer is one peer known to a community's walker, as the application and
// operators see it: where it is, who it is (when its member is known) and
// how it was last heard from.
type Peer struct {
	// Addr is the address packets to the peer go to.
	Addr netip.AddrPort
	// Member is the peer's member id; HasMember is false until a signed
	// message from that address named it.
	Member    keys.MemberID
	HasMember bool
	// Category is the peer's standing at the time it was read: walk and
	// stumble are verified peers, intro and discovered are only known.
	Category walker.Category
	// LastContact is the last time a packet from or about the peer changed
	// its standing.
	LastContact time.Time
	// GlobalTime is the Lamport time the peer last reported.
	GlobalTime uint64
}

// Verified reports whether the peer exchanged packets with us (walk or
// stumble).
func (p Peer) Verified() bool { return p.Category.Verified() }

// String names the peer: "member 1a2b3c4d5e6f… at 127.0.0.1:7000 (walk)", or
// "unknown member at …" before its member id is known.
func (p Peer) String() string {
	who := "unknown member"
	if p.HasMember {
		who = fmt.Sprintf("member %x…", p.Member[:6])
	}
	return fmt.Sprintf("%s at %s (%s)", who, p.Addr, p.Category)
}

func peerOf(now time.Time, c *walker.Candidate) Peer {
	mid, ok := c.Member()
	return Peer{
		Addr: c.Sock(), Member: mid, HasMember: ok,
		Category: c.Category(now), LastContact: c.LastSeen(),
		GlobalTime: c.GlobalTime(),
	}
}

// Peers returns the community's verified peers (walk and stumble), ordered
// by address. It reads engine state: call it on the engine's goroutine
// (from a handler or [Node.Do]), or use [Node.Peers].
func (c *Community) Peers() []Peer { return c.peers(true) }

func (c *Community) peers(verifiedOnly bool) []Peer {
	now := c.e.now
	var out []Peer
	for _, cand := range c.walk.table.All() {
		p := peerOf(now, cand)
		if p.Category == walker.CategoryNone || (verifiedOnly && !p.Verified()) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return a.Addr.Compare(b.Addr) })
	return out
}

// CommunitySnapshot is the state of one community at one moment, for
// status pages and metrics.
type CommunitySnapshot struct {
	ID keys.CommunityID
	// Overlay names the community: its Definition.Name, else its Overlay's Go type.
	Overlay    string
	GlobalTime uint64
	Destroyed  bool
	// Messages is the number of live messages of the community's synced
	// types that the store holds.
	Messages int
	// Delayed is the number of messages waiting for something they need.
	Delayed int
	// Peers holds every known peer whose category is not none, ordered by
	// address; PeersByCategory counts them by [walker.Category].
	Peers           []Peer
	PeersByCategory [5]int
	// Stats are the community's own cumulative counters since it was
	// loaded.
	Stats CommunityStats
}

// CommunityStats are one community's counters, since it was loaded: the
// per-community part of [Stats].
type CommunityStats struct {
	// Received counts packets addressed to the community (its id in the
	// header) that reached it.
	Received uint64
	// Stored counts its messages committed to the store.
	Stored uint64
	// Delayed counts its messages put on hold.
	Delayed uint64
	// Dropped counts its dropped packets and messages by reason.
	Dropped [dropReasonCount]uint64
}

// DroppedTotal returns the number of drops for every reason.
func (s CommunityStats) DroppedTotal() uint64 { return Stats{Dropped: s.Dropped}.DroppedTotal() }

// dropped counts a drop against the community and the engine (and reports
// a delayed message given up to the observers).
func (c *Community) dropped(r DropReason, from netip.AddrPort, detail string) {
	c.stats.Dropped[r]++
	c.e.dropped(r, from, detail)
	c.givenUp(r, from, detail)
}

// Snapshot is the state of an engine at one moment: its counters and its
// communities. It is a copy, safe to keep and read from any goroutine.
type Snapshot struct {
	// Time is the engine's time when the snapshot was taken.
	Time time.Time
	// Member is the node's own member id.
	Member keys.MemberID
	// Stats are the engine's cumulative counters.
	Stats Stats
	// Communities are the joined communities, in join order.
	Communities []CommunitySnapshot
	// Failed is the error that stopped the engine, or nil.
	Failed error
	// TrackerCommunities is the number of communities a tracker
	// (Config.Tracker) tracks; they are not in Communities.
	TrackerCommunities int
}

// Snapshot copies the engine's counters and the state of every community.
// It reads the store (message counts); an error is the store's.
func (e *Engine) Snapshot() (Snapshot, error) {
	s := Snapshot{Time: e.now, Member: e.me.Public().ID(), Stats: e.stats, Failed: e.failed}
	for _, c := range e.order {
		n, err := e.store.Count(c.cid, c.SyncedTypes())
		if err != nil {
			return Snapshot{}, fmt.Errorf("dispersy: snapshot of %s: %w", c, err)
		}
		cs := CommunitySnapshot{
			ID: c.cid, Overlay: cmp.Or(c.def.name, strings.TrimLeft(fmt.Sprintf("%T", c.overlay), "*")), GlobalTime: c.GlobalTime(),
			Destroyed: c.destroyed, Messages: n, Delayed: c.Delayed(),
			Peers: c.peers(false), Stats: c.stats,
		}
		for _, p := range cs.Peers {
			if int(p.Category) < len(cs.PeersByCategory) {
				cs.PeersByCategory[p.Category]++
			}
		}
		s.Communities = append(s.Communities, cs)
	}
	s.TrackerCommunities = len(e.trackers)
	return s, nil
}

// Snapshot returns the engine's snapshot, taken on its goroutine.
func (n *Node) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := n.Do(ctx, func(e *Engine) error {
		var err error
		s, err = e.Snapshot()
		return err
	})
	return s, err
}

// Peers returns the verified peers of community cid, taken on the engine's
// goroutine. It fails with [ErrUnknownCommunity] when the node has not
// joined cid.
func (n *Node) Peers(ctx context.Context, cid keys.CommunityID) ([]Peer, error) {
	var ps []Peer
	err := n.Do(ctx, func(e *Engine) error {
		c := e.Community(cid)
		if c == nil {
			return fmt.Errorf("%w: %s", ErrUnknownCommunity, cid)
		}
		ps = c.Peers()
		return nil
	})
	return ps, err
}
