// Package lan lets peers on one LAN find each other with no tracker and no
// bootstrap list (IPv8's LAN discovery, the gossip protocol's seed-less
// start): each node that opts in (by calling Run) multicasts a small beacon
// naming the communities it serves, and a node that hears a beacon for a
// community it has joined adds the sender as a discovered candidate, so its
// walker sends it one introduction request. A beacon is never answered on
// the multicast group and nothing is sent in proportion to it: a forged or
// flooded beacon costs at most one candidate (one introduction request) per
// source per interval, and is counted.
//
// # Wire format
//
//	"DGLB" | version 1 | nonce (8) | port (2) | n (1) | n × community id (20)
//
// Big-endian, exact length, 1 ≤ n ≤ MaxCommunities, port ≠ 0. The nonce
// is random per process; a node ignores its own beacons by it.
package lan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// MaxCommunities is the most community ids one beacon carries (the rest of
// a node's communities are left out).
const MaxCommunities = 32

const (
	magic   = "DGLB"
	version = 1
	header  = len(magic) + 1 + 8 + 2 + 1
)

// ErrMalformed: a packet is not a valid beacon.
var ErrMalformed = errors.New("lan: malformed beacon")

// Beacon is what a node announces on the LAN.
type Beacon struct {
	Nonce       uint64
	Port        uint16
	Communities []keys.CommunityID
}

// AppendBinary encodes b; it refuses an empty or too long list and port 0.
func (b Beacon) AppendBinary(dst []byte) ([]byte, error) {
	if n := len(b.Communities); n == 0 || n > MaxCommunities || b.Port == 0 {
		return dst, fmt.Errorf("%w: %d communities, port %d", ErrMalformed, n, b.Port)
	}
	dst = append(dst, magic...)
	dst = append(dst, version)
	dst = binary.BigEndian.AppendUint64(dst, b.Nonce)
	dst = binary.BigEndian.AppendUint16(dst, b.Port)
	dst = append(dst, byte(len(b.Communities)))
	for _, c := range b.Communities {
		dst = append(dst, c[:]...)
	}
	return dst, nil
}

// Decode parses a beacon strictly. It never panics.
func Decode(p []byte) (Beacon, error) {
	var b Beacon
	if len(p) < header || string(p[:4]) != magic || p[4] != version {
		return b, ErrMalformed
	}
	b.Nonce = binary.BigEndian.Uint64(p[5:])
	b.Port = binary.BigEndian.Uint16(p[13:])
	n := int(p[15])
	if n == 0 || n > MaxCommunities || b.Port == 0 || len(p) != header+20*n {
		return Beacon{}, ErrMalformed
	}
	b.Communities = make([]keys.CommunityID, n)
	for i := range n {
		copy(b.Communities[i][:], p[header+20*i:])
	}
	return b, nil
}

// Limiter allows one event per source per interval and remembers at most
// max sources; it reads no clock.
type Limiter struct {
	interval time.Duration
	max      int
	last     map[netip.AddrPort]time.Time
}

// NewLimiter returns a limiter of one event per source per interval,
// tracking at most max sources.
func NewLimiter(interval time.Duration, max int) *Limiter {
	return &Limiter{interval: interval, max: max, last: map[netip.AddrPort]time.Time{}}
}

// Allow reports whether src may cause an event at now, and records it. When
// max sources are tracked, expired ones are forgotten first; if none has
// expired the new source is refused (a flood of forged sources then costs
// nothing until the interval passes).
func (l *Limiter) Allow(now time.Time, src netip.AddrPort) bool {
	if t, ok := l.last[src]; ok && now.Sub(t) < l.interval {
		return false
	}
	if _, ok := l.last[src]; !ok && len(l.last) >= l.max {
		for a, t := range l.last {
			if now.Sub(t) >= l.interval {
				delete(l.last, a)
			}
		}
		if len(l.last) >= l.max {
			return false
		}
	}
	l.last[src] = now
	return true
}
