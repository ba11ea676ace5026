package main

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/dispersy-go/dispersy/dispersy"
)

// lossyEndpoint is a dispersy.Endpoint decorator that drops each outgoing
// datagram with probability loss, so the demo shows the protocol
// recovering from loss on a loopback network that loses nothing. It counts
// what the node tried to send.
type lossyEndpoint struct {
	dispersy.Endpoint
	loss float64

	mu  sync.Mutex // guards rng: Send may be called from any goroutine
	rng *rand.Rand

	datagrams, bytes, dropped atomic.Uint64
	// received and receivedBytes count the datagrams Receive returned.
	received, receivedBytes atomic.Uint64

	// blackout, once set, drops every datagram (a test hook: a run that
	// got ready and then cannot deliver).
	blackout atomic.Bool
}

var _ dispersy.Endpoint = (*lossyEndpoint)(nil)

// newLossy wraps ep. loss is in [0, 1); rng decides which datagrams drop.
func newLossy(ep dispersy.Endpoint, loss float64, rng *rand.Rand) *lossyEndpoint {
	return &lossyEndpoint{Endpoint: ep, loss: loss, rng: rng}
}

// Send implements dispersy.Endpoint: it counts the datagram, then drops it
// with probability loss (reporting success, as a lossy network would) or
// passes it on.
func (l *lossyEndpoint) Send(to netip.AddrPort, pkt []byte) error {
	l.datagrams.Add(1)
	l.bytes.Add(uint64(len(pkt)))
	if l.blackout.Load() {
		l.dropped.Add(1)
		return nil
	}
	if l.loss > 0 {
		l.mu.Lock()
		drop := l.rng.Float64() < l.loss
		l.mu.Unlock()
		if drop {
			l.dropped.Add(1)
			return nil
		}
	}
	return l.Endpoint.Send(to, pkt)
}

// Receive implements dispersy.Endpoint: it passes the call on and counts
// what arrived.
func (l *lossyEndpoint) Receive(buf []byte) (int, netip.AddrPort, error) {
	n, from, err := l.Endpoint.Receive(buf)
	if err == nil {
		l.received.Add(1)
		l.receivedBytes.Add(uint64(n))
	}
	return n, from, err
}
