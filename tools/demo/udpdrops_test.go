package main

import "testing"

func TestParseUDPDrops(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 12 3 7 15 7 0\nUdpLite: InDatagrams RcvbufErrors\nUdpLite: 0 99\n"
	if n, ok := parseUDPDrops(snmp); !ok || n != 7 {
		t.Errorf("parseUDPDrops = %d, %v; want 7, true", n, ok)
	}
	for _, bad := range []string{"", "Udp: InDatagrams\nUdp: 5\n", "Udp: RcvbufErrors\nUdp: x\n"} {
		if _, ok := parseUDPDrops(bad); ok {
			t.Errorf("parseUDPDrops(%q) reported a count", bad)
		}
	}
}
