package dispersy

import (
	"errors"
	"net/netip"
)

// DefaultMaxDatagram is the default datagram budget in bytes: the IPv6
// minimum MTU (1280) minus the IPv6 (40) and UDP (8) headers. It survives
// tunnels and IPv6 paths without fragmentation (DNS Flag Day 2020).
const DefaultMaxDatagram = 1232

// Endpoint sends and receives datagrams for a Node. Implementations:
// dispersy/udp.Endpoint (real UDP) and the simulator's in-memory endpoints.
//
// Send and LocalAddr may be called from any goroutine. Receive is called
// from one goroutine only (the node's reader).
type Endpoint interface {
	// LocalAddr returns the address the endpoint is bound to.
	LocalAddr() netip.AddrPort
	// Send sends one datagram to to. It must not block on the network and
	// must not retain pkt after it returns. A datagram larger than the
	// endpoint's limit is refused with an error wrapping ErrOversize and
	// counted; it is never truncated.
	Send(to netip.AddrPort, pkt []byte) error
	// Receive blocks until a datagram arrives, copies it into buf and
	// returns its length and source. A datagram longer than the endpoint's
	// limit (or than buf) is dropped and counted inside Receive, never
	// returned truncated. After Close it returns an error wrapping
	// ErrEndpointClosed.
	Receive(buf []byte) (n int, from netip.AddrPort, err error)
	// Close stops the endpoint and unblocks Receive.
	Close() error
}

// Endpoint errors.
var (
	// ErrEndpointClosed: the endpoint was closed.
	ErrEndpointClosed = errors.New("dispersy: endpoint closed")
	// ErrOversize: a datagram exceeds the endpoint's size limit.
	ErrOversize = errors.New("dispersy: datagram exceeds the size limit")
)

// Datagram is one UDP payload and the peer address it came from or goes
// to. Data belongs to whoever holds the Datagram.
type Datagram struct {
	Addr netip.AddrPort
	Data []byte
}
