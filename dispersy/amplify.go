package dispersy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
)

// Anti-amplification (QUIC's rule, RFC 9000 §8): to an address that has not
// proved it receives what we send, the engine sends at most
// Config.AmplificationFactor times the bytes it received from that address.
// An address proves itself by answering one of our introduction requests
// (the response echoes the random identifier we sent there).
//
// The rule sits in Engine.send, which every outgoing datagram passes:
// answers, walker requests, puncture requests and punctures, pushes,
// missing-* requests. Beyond its credit, an unproven address may get one
// probe per probePeriod: a small walker packet (an introduction request
// without bloom filter, a puncture request or a puncture), which is how the
// walk reaches a peer it was introduced to. A configured bootstrap address
// may always get bloom-less introduction requests (one per community per
// walker step). So a victim whose address an attacker spoofs or names
// receives from each node at most 3x what arrived in its name plus one
// probe per 10 s (issue #12; docs/security.md).
//
// Without the rule a spoofed introduction request of ~200 bytes made a
// Dispersy peer send up to 5 KiB of sync answer to a victim (dispersy.md
// §11.3), and the walker then walked to the victim with full bloom filters.

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
	proven map[netip.AddrPort]time.Time  // proof time
	order  []netip.AddrPort              // credit insertion order, for the bound
	probed map[netip.AddrPort]sendWindow // probes beyond the credit
	preq   map[netip.AddrPort]sendWindow // puncture requests per peer
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

// probePeriod limits how often one address is sent a probe (a puncture, a
// puncture request or a bloom-less introduction request) beyond what its
// credit allows, and how often one target gets a puncture on another peer's
// request: a peer can name any address.
const probePeriod = 10 * time.Second

// maxProbe bounds a probe's size: a walker packet without bloom filter
// (about 150 bytes with Ed25519 keys, 260 with Ed448), or an introduction
// request with a filter filling the rest (probeSync).
const maxProbe = 320

// admit applies the anti-amplification rule to one outgoing datagram and
// records what it lets through.
func (e *Engine) admit(to netip.AddrPort, pkt []byte) bool {
	if e.cfg.AmplificationFactor == 0 || e.Proven(to) {
		return true
	}
	if c := e.amp.credit[to]; c != nil && c.sent+uint64(len(pkt)) <= uint64(e.cfg.AmplificationFactor)*c.recv {
		c.sent += uint64(len(pkt))
		return true
	}
	if len(pkt) > maxProbe || len(pkt) <= conversion.PrefixSize {
		return false
	}
	switch pkt[conversion.PrefixSize] {
	case IDIntroductionRequest:
		if slices.Contains(e.cfg.Bootstrap, to) {
			return true
		}
	case IDPunctureRequest, IDPuncture:
	default:
		return false
	}
	return allowEvery(&e.amp.probed, to, e.now, probePeriod, 1, e.cfg.MaxTrackedAddresses)
}

// sendWindow counts what went to one address since start.
type sendWindow struct {
	start time.Time
	n     int
}

// allowEvery reports whether something may go to addr now: at most n
// times per period, recorded in *last (bounded to bound addresses: when
// full of recent ones it refuses).
func allowEvery(last *map[netip.AddrPort]sendWindow, addr netip.AddrPort, now time.Time, period time.Duration, n, bound int) bool {
	if *last == nil {
		*last = map[netip.AddrPort]sendWindow{}
	}
	m := *last
	w, ok := m[addr]
	if ok && now.Sub(w.start) < period {
		if w.n >= n {
			return false
		}
		m[addr] = sendWindow{w.start, w.n + 1}
		return true
	}
	if !ok && len(m) >= bound {
		for k, w := range m {
			if now.Sub(w.start) >= period {
				delete(m, k)
			}
		}
		if len(m) >= bound {
			return false
		}
	}
	m[addr] = sendWindow{now, 1}
	return true
}

// allowPuncture reports whether a puncture may go to target now, on
// another peer's request.
func (c *Community) allowPuncture(target netip.AddrPort) bool {
	return allowEvery(&c.punctured, target, c.e.now, probePeriod, 1, c.e.cfg.MaxTrackedAddresses)
}

// maxPunctureRequests caps the puncture requests sent to one peer per
// walker step interval: an honest node introduces one peer to a few walkers
// per step, a flood of introduction requests must not be multiplied into
// one puncture request each.
const maxPunctureRequests = 8

// allowPunctureRequest reports whether a puncture request may go to peer now.
func (e *Engine) allowPunctureRequest(peer netip.AddrPort) bool {
	return allowEvery(&e.amp.preq, peer, e.now, e.cfg.Walker.StepInterval, maxPunctureRequests, e.cfg.MaxTrackedAddresses)
}
