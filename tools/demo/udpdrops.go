package main

import (
	"os"
	"strconv"
	"strings"
)

// kernelUDPDrops returns the machine's count of UDP datagrams the kernel
// dropped because a socket's receive buffer was full (RcvbufErrors in
// /proc/net/snmp, Linux); ok is false where it cannot be read. It counts
// every process's sockets.
func kernelUDPDrops() (n uint64, ok bool) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, false
	}
	return parseUDPDrops(string(b))
}

// parseUDPDrops reads RcvbufErrors from the text of /proc/net/snmp: a
// "Udp:" line of names followed by a "Udp:" line of values.
func parseUDPDrops(snmp string) (uint64, bool) {
	var names []string
	for _, l := range strings.Split(snmp, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				v, err := strconv.ParseUint(f[i], 10, 64)
				return v, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}
