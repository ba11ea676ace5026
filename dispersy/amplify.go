package dispersy

import (
	"net/netip"
	"time"
)

// Anti-amplification (QUIC's rule, RFC 9000 §8): to an address that has not
// proved it receives what we send, the engine answers with at most
// Config.AmplificationFactor times the bytes it received from that address.
// An address proves itself by answering one of our introduction requests
// (the response echoes the random identifier we sent there). Messages we
// initiate (walker requests, missing-* requests, pushes of messages we
// create) are not limited: an attacker cannot trigger them at will.
//
// Without the rule a spoofed introduction request of ~200 bytes made a
// Dispersy peer send up to 5 KiB of sync answer to a victim (dispersy.md
// §11.3).

// creditEntry is what one unproven address may still be sent.
type creditEntry struct {
	recv, sent uint64
	last       time.Time
}

// creditTTL forgets an address's credit after this long without traffic.
const creditTTL = 2 * time.Minute

// amplifyState tracks received and sent bytes per unproven address, and
// which addresses proved they receive (until their proof expires).
type amplifyState struct {
	credit map[netip.AddrPort]*creditEntry
	proven map[netip.AddrPort]time.Time // proof time
	order  []netip.AddrPort             // credit insertion order, for the bound
}

func (a *amplifyState) init() {
	a.credit = map[netip.AddrPort]*creditEntry{}
	a.proven = map[netip.AddrPort]time.Time{}
}

// received counts bytes that arrived from an address.
func (e *Engine) received(from netip.AddrPort, n int) {
	if e.cfg.AmplificationFactor == 0 || !from.IsValid() {
		return
	}
	a := &e.amp
	c := a.credit[from]
	if c == nil || e.now.Sub(c.last) > creditTTL {
		if c == nil {
			if len(a.credit) >= e.cfg.MaxTrackedAddresses {
				a.evict(e.now)
			}
			a.order = append(a.order, from)
		}
		c = &creditEntry{}
		a.credit[from] = c
	}
	c.recv += uint64(n)
	c.last = e.now
}

// evict drops the oldest tracked addresses (and every stale one).
func (a *amplifyState) evict(now time.Time) {
	keep := a.order[:0]
	dropped := 0
	for _, addr := range a.order {
		c := a.credit[addr]
		if c == nil {
			continue
		}
		if dropped < len(a.order)/4+1 || now.Sub(c.last) > creditTTL {
			delete(a.credit, addr)
			dropped++
			continue
		}
		keep = append(keep, addr)
	}
	a.order = keep
}

// prove records that addr answered one of our requests.
func (e *Engine) prove(addr netip.AddrPort) {
	if e.cfg.AmplificationFactor == 0 {
		return
	}
	if len(e.amp.proven) >= e.cfg.MaxTrackedAddresses {
		for k, t := range e.amp.proven {
			if e.now.Sub(t) > e.cfg.Walker.WalkLifetime {
				delete(e.amp.proven, k)
			}
		}
		if len(e.amp.proven) >= e.cfg.MaxTrackedAddresses {
			clear(e.amp.proven)
		}
	}
	e.amp.proven[addr] = e.now
}

// Proven reports whether addr answered one of our introduction requests
// within the walk lifetime, so answers to it are not limited.
func (e *Engine) Proven(addr netip.AddrPort) bool {
	t, ok := e.amp.proven[addr]
	return ok && e.now.Sub(t) <= e.cfg.Walker.WalkLifetime
}

// allowance returns how many bytes may still be answered to addr (the
// datagram budget when it is proven or the limit is off).
func (e *Engine) allowance(to netip.AddrPort) int {
	if e.cfg.AmplificationFactor == 0 || e.Proven(to) {
		return e.cfg.MaxDatagram
	}
	c := e.amp.credit[to]
	if c == nil {
		return 0
	}
	limit := uint64(e.cfg.AmplificationFactor) * c.recv
	if c.sent >= limit {
		return 0
	}
	return int(min(limit-c.sent, uint64(e.cfg.MaxDatagram)))
}

// reply sends an answer to addr, within the anti-amplification limit for
// unproven addresses; the rest is dropped and counted (DropAmplification).
func (e *Engine) reply(to netip.AddrPort, pkt []byte) bool {
	if e.cfg.AmplificationFactor > 0 && !e.Proven(to) {
		c := e.amp.credit[to]
		if c == nil || c.sent+uint64(len(pkt)) > uint64(e.cfg.AmplificationFactor)*c.recv {
			e.stats.Dropped[DropAmplification]++
			return false
		}
		c.sent += uint64(len(pkt))
	}
	e.send(to, pkt)
	return true
}

// puncturePeriod limits how often one target address is sent a puncture
// on another peer's request: a puncture request can name any address.
const puncturePeriod = 10 * time.Second

// allowPuncture reports whether a puncture may go to target now.
func (c *Community) allowPuncture(target netip.AddrPort) bool {
	if c.punctured == nil {
		c.punctured = map[netip.AddrPort]time.Time{}
	}
	if t, ok := c.punctured[target]; ok && c.e.now.Sub(t) < puncturePeriod {
		return false
	}
	if len(c.punctured) >= c.e.cfg.MaxTrackedAddresses {
		for k, t := range c.punctured {
			if c.e.now.Sub(t) >= puncturePeriod {
				delete(c.punctured, k)
			}
		}
		if len(c.punctured) >= c.e.cfg.MaxTrackedAddresses {
			return false
		}
	}
	c.punctured[target] = c.e.now
	return true
}
