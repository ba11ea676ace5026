package dispersy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// Events are callbacks for what happens inside an engine, set in
// Config.Events; nil fields are skipped. They run on the engine's goroutine,
// in a deterministic order, and must not block, create messages or call
// Node methods that wait for the engine (hand the event to a channel or a
// counter).
type Events struct {
	// PeerAdded: a peer of community cid became verified (walk or stumble:
	// it exchanged packets with us). Checked after every batch of work, so
	// peers added together are reported in address order.
	PeerAdded func(cid keys.CommunityID, p Peer)
	// PeerRemoved: a verified peer is no longer (it stopped answering and
	// its standing lapsed, or it left the candidate table); p is as it is
	// now.
	PeerRemoved func(cid keys.CommunityID, p Peer)
	// DelayGivenUp: a message waiting for something it needs (why is
	// DropDelayExpired or DropDelayOverflow, need names what it waited
	// for: "identity", "sequence", "message" or "proof") was dropped.
	DelayGivenUp func(cid keys.CommunityID, from netip.AddrPort, why DropReason, need string)
	// EngineFailed: a local failure (the store) stopped the engine; Run
	// returns the same error.
	EngineFailed func(err error)
}

// Diagnostics intervals: a first-contact problem is logged once per cause
// per logInterval; a community alone for noPeersAfter is one.
const (
	logInterval  = 5 * time.Minute
	noPeersAfter = time.Minute
)

// observeState is a community's part of the events and diagnostics.
type observeState struct {
	loaded time.Time               // first observed
	seen   map[netip.AddrPort]Peer // verified peers at the last observation
	logged map[string]time.Time    // cause -> last logged
}

// once reports whether cause may be logged now, and marks it logged.
func once(m *map[string]time.Time, cause string, now time.Time) bool {
	if last, ok := (*m)[cause]; ok && now.Sub(last) < logInterval {
		return false
	}
	if *m == nil {
		*m = map[string]time.Time{}
	}
	(*m)[cause] = now
	return true
}

// observe runs after every flush: peer events, and the warning for a
// community that has found no peer.
func (e *Engine) observe() {
	ev := e.cfg.Events
	for _, c := range e.order {
		o := &c.obs
		if o.loaded.IsZero() {
			o.loaded = e.now
		}
		watch := ev != nil && (ev.PeerAdded != nil || ev.PeerRemoved != nil)
		last, logged := o.logged["no peers"]
		alone := e.now.Sub(o.loaded) >= noPeersAfter && (!logged || e.now.Sub(last) >= logInterval) && !c.destroyed
		if alone && c.walk.table.CountVerified(e.now) == 0 && once(&o.logged, "no peers", e.now) {
			if len(e.cfg.Bootstrap) == 0 { // the first node (a tracker): others come to it
				e.log.Info().Hex("cid", c.cid[:4]).Dur("for", e.now.Sub(o.loaded)).Msg("community has no peers yet: this node has no Config.Bootstrap, so it waits for peers to contact it")
			} else {
				e.log.Warn().Hex("cid", c.cid[:4]).Dur("for", e.now.Sub(o.loaded)).Int("bootstrap", len(e.cfg.Bootstrap)).
					Msg("community has no verified peers: check that Config.Bootstrap lists reachable peers of this community, that the UDP port is open (firewall, NAT forwarding), and that the peers use the same master key")
			}
		}
		if !watch {
			continue
		}
		peers := c.Peers()
		now := make(map[netip.AddrPort]Peer, len(peers))
		for _, p := range peers {
			now[p.Addr] = p
			if _, ok := o.seen[p.Addr]; !ok && ev.PeerAdded != nil {
				ev.PeerAdded(c.cid, p)
			}
		}
		var gone []netip.AddrPort
		for a := range o.seen {
			if _, ok := now[a]; !ok {
				gone = append(gone, a)
			}
		}
		slices.SortFunc(gone, netip.AddrPort.Compare)
		for _, a := range gone {
			p := o.seen[a]
			if cand := c.walk.table.Get(a); cand != nil {
				p = peerOf(e.now, cand)
			}
			if ev.PeerRemoved != nil {
				ev.PeerRemoved(c.cid, p)
			}
		}
		o.seen = now
	}
}

// givenUp reports a dropped delayed message to the observers.
func (c *Community) givenUp(r DropReason, from netip.AddrPort, need string) {
	if ev := c.e.cfg.Events; ev != nil && ev.DelayGivenUp != nil && (r == DropDelayExpired || r == DropDelayOverflow) {
		ev.DelayGivenUp(c.cid, from, r, need)
	}
}

// notifyFailed reports the engine's failure to the observers.
func (e *Engine) notifyFailed() {
	if ev := e.cfg.Events; ev != nil && ev.EngineFailed != nil {
		ev.EngineFailed(e.failed)
	}
}

// walkTimedOut logs an introduction request to a bootstrap address that got
// no answer.
func (c *Community) walkTimedOut(to netip.AddrPort) {
	if !slices.Contains(c.e.cfg.Bootstrap, to) || !once(&c.obs.logged, "bootstrap "+to.String(), c.e.now) {
		return
	}
	c.e.log.Warn().Hex("cid", c.cid[:4]).Str("bootstrap", to.String()).Dur("timeout", c.e.cfg.Walker.IntroRequestTimeout).
		Msg("bootstrap peer did not answer an introduction request: check the address and port in Config.Bootstrap, that a peer of this community runs there, and that UDP to it is not filtered")
}

// unknownCommunity logs packets for a community this node has not joined.
// From a bootstrap address or a peer we walk to, it most likely means that
// peer defines our community with another master key.
func (e *Engine) unknownCommunity(from netip.AddrPort, cid keys.CommunityID) {
	if !once(&e.logged, "unknown community", e.now) {
		return
	}
	known := slices.Contains(e.cfg.Bootstrap, from)
	for _, c := range e.order {
		known = known || c.walk.table.Get(from) != nil
	}
	l := e.log.Info()
	if known {
		l = e.log.Warn()
	}
	l.Str("peer", from.String()).Hex("their_cid", cid[:4]).Int("joined", len(e.order)).
		Msg("packets name a community this node has not joined: if that peer should be in ours, it uses another master key (the community id is the master key's hash; both sides need the same Definition.Master)")
}
