//go:build unix

package udp

import "syscall"

// msgTrunc is the recvmsg flag saying the datagram was longer than the buffer.
const msgTrunc = syscall.MSG_TRUNC

// socketBuffers reads back the effective SO_RCVBUF and SO_SNDBUF sizes.
func socketBuffers(rc syscall.RawConn) (read, write int, err error) {
	var serr error
	err = rc.Control(func(fd uintptr) {
		read, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		if serr != nil {
			return
		}
		write, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	})
	if err == nil {
		err = serr
	}
	return read, write, err
}

// truncatedErr reports whether a receive error means "datagram larger than
// the buffer". Unix reports that with MSG_TRUNC instead.
func truncatedErr(error) bool { return false }
