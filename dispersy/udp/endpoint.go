package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy"
)

// Endpoint is a UDP socket that implements [dispersy.Endpoint].
//
// Send, LocalAddr, MaxDatagram, Stats and Close are safe for concurrent use.
// Receive must be called from one goroutine at a time (the node's reader):
// it reuses an internal buffer.
type Endpoint struct {
	conn  *net.UDPConn
	local netip.AddrPort
	max   int
	log   zerolog.Logger

	// scratch holds max+1 bytes; Receive reads into it when the caller's
	// buffer is not at least one byte larger than the limit.
	scratch []byte

	// Fixed after Listen.
	readBuffer, writeBuffer int
	dontFragment            bool

	c counters

	closeOnce sync.Once
	closeErr  error
}

var _ dispersy.Endpoint = (*Endpoint)(nil)

// counters are the live statistics behind Stats.
type counters struct {
	datagramsSent, bytesSent         atomic.Uint64
	datagramsReceived, bytesReceived atomic.Uint64
	oversizeSent, oversizeReceived   atomic.Uint64
	sendErrors, messageTooLong       atomic.Uint64
	receiveErrors                    atomic.Uint64
}

// Stats is a snapshot of an Endpoint's counters and socket settings.
type Stats struct {
	// DatagramsSent and BytesSent count datagrams the kernel accepted.
	DatagramsSent, BytesSent uint64
	// DatagramsReceived and BytesReceived count datagrams Receive returned.
	DatagramsReceived, BytesReceived uint64
	// OversizeSent counts datagrams Send refused because they exceed
	// MaxDatagram (nothing was sent).
	OversizeSent uint64
	// OversizeReceived counts datagrams Receive dropped because they exceed
	// MaxDatagram or the caller's buffer.
	OversizeReceived uint64
	// SendErrors counts datagrams the kernel refused; it includes
	// MessageTooLong.
	SendErrors uint64
	// MessageTooLong counts EMSGSIZE refusals: the datagram is larger than
	// the path MTU the kernel knows and DontFragment forbids fragmenting it.
	MessageTooLong uint64
	// ReceiveErrors counts transient receive errors (ECONNREFUSED,
	// ECONNRESET) that Receive skipped.
	ReceiveErrors uint64

	// ReadBuffer and WriteBuffer are the socket buffer sizes in bytes as
	// the kernel reports them (SO_RCVBUF, SO_SNDBUF); 0 where the platform
	// cannot report them. Linux reports twice the size it grants (the
	// other half is bookkeeping) and caps the grant at net.core.rmem_max /
	// wmem_max, so 4 MiB asked under a 4 MiB cap reads back as 8 MiB.
	ReadBuffer, WriteBuffer int
	// DontFragment reports whether the socket sets DF (IP_PMTUDISC_DO, and
	// IPV6_PMTUDISC_DO on IPv6 sockets). Linux only.
	DontFragment bool
}

// Listen opens a UDP endpoint on addr, given as host:port: "127.0.0.1:7759",
// "[::1]:0", ":7759", "localhost:0". Host names are resolved once. Port 0
// picks a free port; LocalAddr reports it. See [ListenAddrPort] for which
// address families the socket serves.
func Listen(addr string, cfg Config) (*Endpoint, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return listen(ap, addr, cfg)
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udp: listen on %q: %w; want host:port, e.g. 127.0.0.1:7759, [::]:7759 or :7759", addr, err)
	}
	ap := ua.AddrPort()
	if ua.IP == nil {
		ap = netip.AddrPortFrom(netip.Addr{}, uint16(ua.Port))
	}
	return listen(ap, addr, cfg)
}

// ListenAddrPort opens a UDP endpoint on addr.
//
// An IPv4 address, including 0.0.0.0, gives an IPv4-only socket (an
// IPv4-mapped IPv6 address counts as IPv4). A specific IPv6 address gives an
// IPv6-only socket. The unspecified IPv6 address [::] and an address whose
// Addr is the zero netip.Addr give a dual-stack socket where the platform
// supports it. Peers are always reported with plain IPv4 addresses for
// IPv4 traffic, never IPv4-mapped IPv6 ones.
func ListenAddrPort(addr netip.AddrPort, cfg Config) (*Endpoint, error) {
	return listen(addr, addr.String(), cfg)
}

func listen(ap netip.AddrPort, display string, cfg Config) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("udp: invalid Config: %w", err)
	}
	ip := ap.Addr().Unmap()
	network := "udp" // dual stack for the zero Addr and [::]
	var ua *net.UDPAddr
	switch {
	case !ip.IsValid():
		ua = &net.UDPAddr{Port: int(ap.Port())}
	case ip.Is4():
		network = "udp4"
		ua = net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, ap.Port()))
	default:
		if !ip.IsUnspecified() {
			network = "udp6"
		}
		ua = net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, ap.Port()))
	}
	conn, err := net.ListenUDP(network, ua)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("udp: listen on %s: the address is already in use; stop the process holding it or pick another port (0 picks a free one): %w", display, err)
		}
		return nil, fmt.Errorf("udp: listen on %s: %w", display, err)
	}
	e, err := newEndpoint(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("udp: listen on %s: %w", display, err)
	}
	return e, nil
}

func newEndpoint(conn *net.UDPConn, cfg Config) (*Endpoint, error) {
	if cfg.ReadBuffer > 0 {
		if err := conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
			return nil, fmt.Errorf("set ReadBuffer to %d bytes: %w", cfg.ReadBuffer, err)
		}
	}
	if cfg.WriteBuffer > 0 {
		if err := conn.SetWriteBuffer(cfg.WriteBuffer); err != nil {
			return nil, fmt.Errorf("set WriteBuffer to %d bytes: %w", cfg.WriteBuffer, err)
		}
	}
	la := conn.LocalAddr().(*net.UDPAddr)
	ipv6 := la.IP.To4() == nil
	local := unmap(la.AddrPort())

	e := &Endpoint{
		conn:    conn,
		local:   local,
		max:     cfg.MaxDatagram,
		scratch: make([]byte, cfg.MaxDatagram+1),
		log:     cfg.Logger.With().Str("component", "udp").Str("local", local.String()).Logger(),
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("access the socket: %w", err)
	}
	e.readBuffer, e.writeBuffer, err = socketBuffers(rc)
	if err != nil {
		return nil, fmt.Errorf("read back the socket buffer sizes: %w", err)
	}
	e.dontFragment, err = setDontFragment(rc, ipv6)
	if err != nil {
		// Not fatal: the endpoint still works, datagrams may fragment.
		e.log.Warn().Err(err).Msg("cannot set DF (IP_PMTUDISC_DO); datagrams larger than the path MTU may be fragmented")
	}

	e.log.Info().
		Int("max_datagram", e.max).
		Int("read_buffer", e.readBuffer).
		Int("write_buffer", e.writeBuffer).
		Bool("dont_fragment", e.dontFragment).
		Msg("udp endpoint listening")
	// Linux reports twice what it granted; compare against that.
	if cfg.ReadBuffer > 0 && e.readBuffer > 0 && e.readBuffer < cfg.ReadBuffer {
		e.log.Warn().Int("asked", cfg.ReadBuffer).Int("effective", e.readBuffer).
			Msg("socket read buffer capped by the kernel; raise net.core.rmem_max to absorb bursts")
	}
	if cfg.WriteBuffer > 0 && e.writeBuffer > 0 && e.writeBuffer < cfg.WriteBuffer {
		e.log.Warn().Int("asked", cfg.WriteBuffer).Int("effective", e.writeBuffer).
			Msg("socket write buffer capped by the kernel; raise net.core.wmem_max")
	}
	return e, nil
}

// LocalAddr returns the address the endpoint is bound to, with the port the
// kernel picked when Listen was given port 0. An IPv4 address is always a
// plain IPv4 address.
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.local }

// MaxDatagram returns the size limit in bytes (Config.MaxDatagram). A
// Receive buffer of at least MaxDatagram+1 bytes avoids a copy.
func (e *Endpoint) MaxDatagram() int { return e.max }

// Send sends pkt to to. It does not retain pkt. It blocks only while the
// socket's send buffer is full.
//
// A datagram larger than MaxDatagram is refused and counted with an error
// wrapping [dispersy.ErrOversize]; nothing is sent. A datagram the kernel
// refuses with EMSGSIZE (larger than the path MTU, DF set) is counted in
// SendErrors and MessageTooLong and its error also wraps
// dispersy.ErrOversize. After Close, Send returns an error wrapping
// [dispersy.ErrEndpointClosed]. An IPv4-mapped destination is sent as IPv4.
func (e *Endpoint) Send(to netip.AddrPort, pkt []byte) error {
	if len(pkt) > e.max {
		e.c.oversizeSent.Add(1)
		return fmt.Errorf("udp: send %d bytes to %s: %w (MaxDatagram %d); split the payload or raise Config.MaxDatagram",
			len(pkt), to, dispersy.ErrOversize, e.max)
	}
	to = unmap(to)
	n, err := e.conn.WriteToUDPAddrPort(pkt, to)
	if err != nil {
		switch {
		case errors.Is(err, net.ErrClosed):
			return fmt.Errorf("udp: send to %s: %w", to, dispersy.ErrEndpointClosed)
		case errors.Is(err, syscall.EMSGSIZE):
			e.c.sendErrors.Add(1)
			e.c.messageTooLong.Add(1)
			return fmt.Errorf("udp: send %d bytes to %s: larger than the path MTU (%w); lower Config.MaxDatagram: %w",
				len(pkt), to, dispersy.ErrOversize, err)
		default:
			e.c.sendErrors.Add(1)
			return fmt.Errorf("udp: send %d bytes to %s: %w", len(pkt), to, err)
		}
	}
	e.c.datagramsSent.Add(1)
	e.c.bytesSent.Add(uint64(n))
	return nil
}

// Receive blocks until a datagram arrives, copies it into buf and returns
// its length and source. Call it from one goroutine at a time.
//
// A datagram longer than MaxDatagram or than buf is dropped, counted in
// OversizeReceived, and Receive waits for the next one: it never returns a
// truncated datagram. With len(buf) > MaxDatagram the kernel writes straight
// into buf; otherwise Receive reads into an internal buffer and copies.
// Transient errors (ECONNREFUSED, ECONNRESET) are counted and skipped.
// After Close, Receive returns an error wrapping [dispersy.ErrEndpointClosed];
// a Close from another goroutine unblocks it.
func (e *Endpoint) Receive(buf []byte) (int, netip.AddrPort, error) {
	if len(buf) == 0 {
		return 0, netip.AddrPort{}, errors.New("udp: Receive needs a non-empty buffer; use MaxDatagram()+1 bytes")
	}
	limit := min(e.max, len(buf))
	rb := e.scratch[:limit+1]
	direct := len(buf) > limit
	if direct {
		rb = buf[:limit+1]
	}
	for {
		n, _, flags, from, err := e.conn.ReadMsgUDPAddrPort(rb, nil)
		trunc := flags&msgTrunc != 0
		if err != nil && truncatedErr(err) {
			err, trunc = nil, true // Windows: counted as oversize below
		}
		if err != nil {
			switch {
			case errors.Is(err, net.ErrClosed):
				return 0, netip.AddrPort{}, fmt.Errorf("udp: receive on %s: %w", e.local, dispersy.ErrEndpointClosed)
			case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
				// An ICMP error for an earlier send; not about this read.
				e.c.receiveErrors.Add(1)
				e.log.Debug().Err(err).Msg("transient receive error skipped")
				continue
			default:
				return 0, netip.AddrPort{}, fmt.Errorf("udp: receive on %s: %w", e.local, err)
			}
		}
		from = unmap(from)
		if trunc || n > limit {
			e.c.oversizeReceived.Add(1)
			if ev := e.log.Debug(); ev.Enabled() {
				ev.Str("peer", from.String()).Int("limit", limit).Msg("oversize datagram dropped")
			}
			continue
		}
		if !direct {
			copy(buf, rb[:n])
		}
		e.c.datagramsReceived.Add(1)
		e.c.bytesReceived.Add(uint64(n))
		return n, from, nil
	}
}

// Close closes the socket and unblocks a pending Receive. It is idempotent:
// later calls do nothing and return the first call's result.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		if err := e.conn.Close(); err != nil {
			e.closeErr = fmt.Errorf("udp: close %s: %w", e.local, err)
		}
		e.log.Info().Msg("udp endpoint closed")
	})
	return e.closeErr
}

// Stats returns a snapshot of the endpoint's counters. Counters are read one
// by one, so a snapshot taken during traffic may be off by a datagram
// between fields.
func (e *Endpoint) Stats() Stats {
	return Stats{
		DatagramsSent:     e.c.datagramsSent.Load(),
		BytesSent:         e.c.bytesSent.Load(),
		DatagramsReceived: e.c.datagramsReceived.Load(),
		BytesReceived:     e.c.bytesReceived.Load(),
		OversizeSent:      e.c.oversizeSent.Load(),
		OversizeReceived:  e.c.oversizeReceived.Load(),
		SendErrors:        e.c.sendErrors.Load(),
		MessageTooLong:    e.c.messageTooLong.Load(),
		ReceiveErrors:     e.c.receiveErrors.Load(),
		ReadBuffer:        e.readBuffer,
		WriteBuffer:       e.writeBuffer,
		DontFragment:      e.dontFragment,
	}
}

// unmap turns an IPv4-mapped IPv6 address into a plain IPv4 one.
func unmap(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}
