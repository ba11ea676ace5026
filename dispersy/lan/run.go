package lan

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// DefaultGroup is the multicast group and port beacons go to (an
// organisation-local IPv4 group).
var DefaultGroup = netip.MustParseAddrPort("239.255.42.99:7760")

// Config configures Run.
type Config struct {
	// Group is the multicast group and port; the zero value means
	// DefaultGroup.
	Group netip.AddrPort
	// Interface is the network interface to listen on; nil lets the
	// system choose.
	Interface *net.Interface
	// Interval is the time between two beacons, and the rate limit: one
	// candidate per source IP address per Interval. 0 means 1 s.
	Interval time.Duration
	// MaxSources bounds the sources the rate limiter remembers. 0 means
	// 1,024.
	MaxSources int
}

// Stats counts what Run saw and did. Read it with Discovery.Stats.
type Stats struct {
	// Sent counts beacons sent; Received counts datagrams received on
	// the group.
	Sent, Received uint64
	// Malformed counts datagrams that are not beacons or come from an
	// unusable source address; Own counts our own beacons (multicast loops
	// back).
	Malformed, Own uint64
	// RateLimited counts beacons ignored because their source was heard
	// less than an interval ago (or too many sources are tracked).
	RateLimited uint64
	// Unknown counts beacons naming no community this node has joined.
	Unknown uint64
	// Introduced counts sources added as candidates (one introduction
	// request each, by the walker).
	Introduced uint64
}

// Discovery is a running LAN discovery; see Run.
type Discovery struct {
	sent, received, malformed, own, limited, unknown, introduced atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (d *Discovery) Stats() Stats {
	return Stats{Sent: d.sent.Load(), Received: d.received.Load(), Malformed: d.malformed.Load(), Own: d.own.Load(),
		RateLimited: d.limited.Load(), Unknown: d.unknown.Load(), Introduced: d.introduced.Load()}
}

// Start begins LAN discovery for node: it joins the multicast group,
// announces the node's joined communities every interval, and adds the
// senders of beacons for those communities as candidates. It runs until
// ctx is done. The node must be running (its Run started).
func Start(ctx context.Context, node *dispersy.Node, cfg Config) (*Discovery, error) {
	if !cfg.Group.IsValid() {
		cfg.Group = DefaultGroup
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = 1024
	}
	recv, err := net.ListenMulticastUDP("udp4", cfg.Interface, net.UDPAddrFromAddrPort(cfg.Group))
	if err != nil {
		return nil, err
	}
	send, err := net.ListenUDP("udp4", nil)
	if err != nil {
		recv.Close()
		return nil, err
	}
	var nb [8]byte
	_, _ = crand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	port := node.Endpoint().LocalAddr().Port()
	d := &Discovery{}
	go func() {
		<-ctx.Done()
		recv.Close()
		send.Close()
	}()
	go d.listen(ctx, recv, node, nonce, cfg)
	go func() {
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			var cids []keys.CommunityID
			_ = node.Do(ctx, func(e *dispersy.Engine) error {
				for _, c := range e.Communities() {
					if len(cids) < MaxCommunities {
						cids = append(cids, c.ID())
					}
				}
				return nil
			})
			if pkt, err := (Beacon{Nonce: nonce, Port: port, Communities: cids}).AppendBinary(nil); err == nil {
				if _, err := send.WriteToUDPAddrPort(pkt, cfg.Group); err == nil {
					d.sent.Add(1)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return d, nil
}

func (d *Discovery) listen(ctx context.Context, conn *net.UDPConn, node *dispersy.Node, nonce uint64, cfg Config) {
	lim := NewLimiter(cfg.Interval, cfg.MaxSources)
	buf := make([]byte, 2048)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		d.received.Add(1)
		b, err := Decode(buf[:n])
		switch {
		case err != nil:
			d.malformed.Add(1)
			continue
		case b.Nonce == nonce:
			d.own.Add(1)
			continue
		}
		target := netip.AddrPortFrom(src.Addr().Unmap(), b.Port)
		if a := target.Addr(); a.IsUnspecified() || a.IsMulticast() {
			d.malformed.Add(1) // no address to introduce ourselves to
			continue
		}
		// One candidate per source address per interval, whatever ports
		// its beacons claim or come from.
		if !lim.Allow(time.Now(), netip.AddrPortFrom(target.Addr(), 0)) {
			d.limited.Add(1)
			continue
		}
		shared := false
		_ = node.Do(ctx, func(e *dispersy.Engine) error {
			for _, cid := range b.Communities {
				if c := e.Community(cid); c != nil {
					c.AddCandidate(target)
					shared = true
				}
			}
			return nil
		})
		if shared {
			d.introduced.Add(1)
		} else {
			d.unknown.Add(1)
		}
	}
}
