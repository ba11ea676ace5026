package udp

import (
	"context"
	"net/netip"
	"testing"
)

// Resolve returns only addresses of the endpoint's family: an IPv4 socket
// cannot send to ::1, so "localhost" gives 127.0.0.1 only.
func TestResolveFamily(t *testing.T) {
	e, err := Listen("127.0.0.1:0", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	got, err := e.Resolve(ctx, "localhost:6421")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		if !a.Addr().Is4() || a.Port() != 6421 {
			t.Errorf("Resolve(localhost:6421) on an IPv4 socket gave %v", a)
		}
	}
	if len(got) == 0 || got[0] != netip.MustParseAddrPort("127.0.0.1:6421") {
		t.Errorf("Resolve(localhost:6421) = %v, want 127.0.0.1:6421", got)
	}
	for _, bad := range []string{"[::1]:6421", "localhost", "localhost:0", "localhost:70000"} {
		if a, err := e.Resolve(ctx, bad); err == nil {
			t.Errorf("Resolve(%q) = %v on an IPv4 socket, want an error", bad, a)
		}
	}
}
