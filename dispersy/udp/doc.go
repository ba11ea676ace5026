// Package udp is the real UDP transport: an [Endpoint] that implements
// [dispersy.Endpoint] on a net.UDPConn, for IPv4 and IPv6.
//
// It is kept out of package dispersy so the protocol core never imports
// net: the engine sees only the Endpoint interface, and the node runner
// moves datagrams between the two.
//
// # Usage
//
//	ep, err := udp.Listen(":7759", udp.DefaultConfig())
//	if err != nil {
//		return err // e.g. "udp: listen on :7759: the address is already in use; ..."
//	}
//	defer ep.Close()
//
//	// The reader goroutine (one only):
//	buf := make([]byte, ep.MaxDatagram()+1)
//	for {
//		n, from, err := ep.Receive(buf)
//		if errors.Is(err, dispersy.ErrEndpointClosed) {
//			return nil
//		}
//		if err != nil {
//			return err
//		}
//		deliver(from, bytes.Clone(buf[:n])) // buf is reused
//	}
//
//	// Any goroutine:
//	err = ep.Send(peer, pkt) // errors.Is(err, dispersy.ErrOversize) for a datagram over the budget
//
// Operators read [Endpoint.Stats]: datagrams and bytes each way, oversize
// datagrams refused and dropped, send errors, and the socket buffer sizes
// the kernel actually granted (Linux caps them at net.core.rmem_max and
// wmem_max; a capped buffer is also logged as a warning).
//
// # Invariants
//
//   - Addresses are netip.AddrPort. An IPv4 peer is always a plain IPv4
//     address, also on a dual-stack socket: IPv4-mapped IPv6 addresses are
//     unmapped on receive, on send and in LocalAddr.
//   - No datagram is ever truncated. Send refuses a datagram larger than
//     Config.MaxDatagram (an error wrapping dispersy.ErrOversize, counted).
//     Receive reads one byte more than the limit and checks MSG_TRUNC; a
//     datagram over MaxDatagram or over the caller's buffer is dropped,
//     counted, and Receive waits for the next one.
//   - On Linux the socket sets DF (IP_PMTUDISC_DO / IPV6_PMTUDISC_DO), so the
//     kernel never fragments: a datagram larger than the path MTU fails with
//     EMSGSIZE, which Send returns (wrapping dispersy.ErrOversize) and counts
//     in Stats.MessageTooLong. Elsewhere DF is not set (the standard library
//     has no portable option) and Stats.DontFragment is false.
//   - Close unblocks a pending Receive, which then returns an error wrapping
//     dispersy.ErrEndpointClosed, as do Send and Receive afterwards. Close is
//     idempotent.
//   - Receive is called from one goroutine at a time; everything else is safe
//     for concurrent use. The packet path does not allocate.
package udp
