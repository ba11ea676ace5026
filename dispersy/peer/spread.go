package peer

import (
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// Destination is one of the gossip seed's spread types: where a payload
// goes. Build one with Direct, Random or Broadcast.
type Destination struct {
	kind  uint8
	addrs []netip.AddrPort
	n     int
}

const (
	kindDirect uint8 = iota
	kindRandom
	kindBroadcast
)

// Direct sends to the given peers (the gossip seed's DIRECT).
func Direct(addrs ...netip.AddrPort) Destination {
	return Destination{kind: kindDirect, addrs: addrs}
}

// Random sends to n verified peers of the community chosen at random with
// the engine's random source (the gossip seed's RANDOM); fewer when fewer
// are verified.
func Random(n int) Destination { return Destination{kind: kindRandom, n: n} }

// Broadcast sends to every verified peer of the community (the gossip
// seed's BROADCAST).
func Broadcast() Destination { return Destination{kind: kindBroadcast} }

// Targets returns the addresses d stands for in c now.
func (d Destination) Targets(c *dispersy.Community) []netip.AddrPort {
	var cands []*walker.Candidate
	now := c.Engine().Now()
	switch d.kind {
	case kindDirect:
		return d.addrs
	case kindRandom:
		cands = c.Table().RandomVerified(now, d.n, nil, c.Engine().Rand())
	case kindBroadcast:
		cands = c.Table().Verified(now)
	}
	out := make([]netip.AddrPort, len(cands))
	for i, x := range cands {
		out[i] = x.Sock()
	}
	return out
}

// Spread sends payload as a message of type t to the peers d stands for,
// each once, without acknowledgement, and returns how many were targeted.
func Spread[T any](c *dispersy.Community, t *dispersy.MessageType[T], payload T, d Destination) (int, error) {
	to := d.Targets(c)
	if len(to) == 0 {
		return 0, nil
	}
	return len(to), Send(c, t, payload, to...)
}

// Spread sends req to the peers d stands for, each as its own call
// (Retries bounds the resends of an unacknowledged one), and calls done
// once per target with that target's answer or error. It returns the
// targets. A serve function that answers every request turns this into
// the gossip seed's acknowledged sends.
func (r *RPC[Req, Resp]) Spread(c *dispersy.Community, d Destination, req Req, timeout time.Duration, done func(to netip.AddrPort, resp Resp, err error), opts ...CallOption) ([]netip.AddrPort, error) {
	targets := d.Targets(c)
	for i, to := range targets {
		_, err := r.Call(c, to, req, timeout, func(resp Resp, _ Peer, err error) { done(to, resp, err) }, opts...)
		if err != nil {
			return targets[:i], err
		}
	}
	return targets, nil
}
