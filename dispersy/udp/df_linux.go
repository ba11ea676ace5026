package udp

import (
	"fmt"
	"syscall"
)

// setDontFragment sets IP_PMTUDISC_DO: the kernel sets DF on every IPv4
// packet and never fragments locally; a datagram larger than the known path
// MTU fails with EMSGSIZE. IPv6 sockets get IPV6_PMTUDISC_DO, plus the IPv4
// option for the IPv4 traffic of a dual-stack socket (best effort: an
// IPv6-only socket may refuse it).
func setDontFragment(rc syscall.RawConn, ipv6 bool) (bool, error) {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if !ipv6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DO)
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MTU_DISCOVER, syscall.IPV6_PMTUDISC_DO)
		if serr == nil {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DO)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return false, fmt.Errorf("setsockopt MTU_DISCOVER: %w", err)
	}
	return true, nil
}
