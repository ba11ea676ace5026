//go:build !unix

package udp

import (
	"errors"
	"syscall"
)

// msgTrunc is 0 where recvmsg has no MSG_TRUNC flag; Receive still detects
// truncation by reading one byte more than the limit.
const msgTrunc = 0

// wsaemsgsize is Windows' WSAEMSGSIZE: WSARecvMsg fails with it when the
// datagram was larger than the buffer (the syscall package does not export
// it).
const wsaemsgsize = syscall.Errno(10040)

// truncatedErr reports whether a receive error means "datagram larger than
// the buffer".
func truncatedErr(err error) bool { return errors.Is(err, wsaemsgsize) }

// socketBuffers reports 0 (unknown) where the sizes cannot be read back.
func socketBuffers(syscall.RawConn) (read, write int, err error) { return 0, 0, nil }
