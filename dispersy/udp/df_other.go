//go:build !linux

package udp

import "syscall"

// setDontFragment does nothing outside Linux: the standard library has no
// portable constants for it. Datagrams may be fragmented by the kernel.
func setDontFragment(syscall.RawConn, bool) (bool, error) { return false, nil }
