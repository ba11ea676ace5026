package udp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Resolve looks up hostport ("host:port"; the host a name or a literal
// address) and returns the addresses this endpoint can send to: IPv4 ones
// for an IPv4 socket, IPv6 ones for a socket bound to a specific IPv6
// address, both for a dual-stack socket. It implements
// [dispersy.Resolver], with which a Node resolves
// NodeConfig.BootstrapHosts.
func (e *Endpoint) Resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("udp: resolve %q: %w", hostport, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("udp: resolve %q: port %q is not in 1..65535", hostport, ps)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("udp: resolve %q: %w", hostport, err)
	}
	local := e.local.Addr()
	var out []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap()
		switch {
		case local.Is4() && !ip.Is4(), local.Is6() && !local.IsUnspecified() && !ip.Is6():
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("udp: resolve %q: none of its addresses %v is of this endpoint's family (%v)", hostport, ips, e.local)
	}
	return out, nil
}
