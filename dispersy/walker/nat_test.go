package walker

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// natNode is the node of Dispersy's test_nat_detection: LAN 192.168.1.10
// on a /24, one community table.
type natNode struct {
	t   *testing.T
	a   *Addresses
	tbl *Table
	now time.Time
}

func newNATNode(t *testing.T) *natNode {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	return &natNode{t: t, a: a, tbl: newTable(t, a), now: t0}
}

// voteFrom creates a candidate at voter that never sent us anything (so it
// is obsolete, as in the Python test) and records its vote for addr.
func (n *natNode) voteFrom(voter, addr netip.AddrPort) {
	n.t.Helper()
	c, ok := n.tbl.Add(n.now, Contact{Sock: voter, LAN: voter, WAN: voter})
	if !ok {
		n.t.Fatalf("candidate %v refused", voter)
	}
	if c.Category(n.now) != CategoryNone {
		n.t.Fatalf("candidate %v is %v, want none", voter, c.Category(n.now))
	}
	if !n.a.Vote(voter, addr).Counted {
		n.t.Fatalf("vote from %v for %v ignored", voter, addr)
	}
}

func (n *natNode) want(conn ConnectionType, lanIsWAN bool) {
	n.t.Helper()
	if got := n.a.Connection(); got != conn {
		n.t.Fatalf("connection type %v, want %v (WAN %v, %d addresses voted)", got, conn, n.a.WAN(), n.a.NumAddresses())
	}
	if (n.a.LAN() == n.a.WAN()) != lanIsWAN {
		n.t.Fatalf("LAN %v, WAN %v: equal should be %v", n.a.LAN(), n.a.WAN(), lanIsWAN)
	}
}

// public: five voters from 140.0.0.3 see our LAN address.
func (n *natNode) public() {
	n.t.Helper()
	for i := range 5 {
		n.voteFrom(ap(fmt.Sprintf("140.0.0.3:%d", i+1)), n.a.LAN())
		n.want(ConnectionPublic, true) // one vote is enough
	}
}

// unknown: one voter from 140.0.0.2 sees us at 1.1.1.1:1.
func (n *natNode) unknown() {
	n.t.Helper()
	n.voteFrom(ap("140.0.0.2:1"), ap("1.1.1.1:1"))
	n.want(ConnectionUnknown, false)
}

// symmetric: five voters from 140.0.0.4 see us at 1.1.1.2 on a different
// port each.
func (n *natNode) symmetric() {
	n.t.Helper()
	for i := range 5 {
		n.voteFrom(ap(fmt.Sprintf("140.0.0.4:%d", i+1)), ap(fmt.Sprintf("1.1.1.2:%d", i+1)))
		if i > 0 { // two votes are needed
			n.want(ConnectionSymmetricNAT, false)
		}
	}
}

// clear removes the obsolete candidates, which withdraws every vote.
func (n *natNode) clear() {
	n.t.Helper()
	if res := n.tbl.Cleanup(n.now); len(res.Removed) == 0 {
		n.t.Fatal("cleanup removed nothing")
	}
	if n.a.NumVoters() != 0 || n.a.NumAddresses() != 0 {
		n.t.Fatalf("%d votes left after cleanup", n.a.NumVoters())
	}
}

// TestConnectionType is Dispersy's test_connection_type: public → unknown →
// public → symmetric → unknown → symmetric → public, votes vanishing with
// their obsolete candidates in between.
func TestConnectionType(t *testing.T) {
	n := newNATNode(t)
	n.public()
	n.clear()
	n.unknown()
	n.clear()
	n.public()
	n.clear()
	n.symmetric()
	n.clear()
	n.unknown()
	n.clear()
	n.symmetric()
	n.clear()
	n.public()
}

// TestSymmetricVote is Dispersy's test_symmetric_vote: two voters from one
// IP see two ports: symmetric NAT. After they are cleaned up, two voters
// from another IP that both see 1.0.0.1:1 give unknown.
func TestSymmetricVote(t *testing.T) {
	n := newNATNode(t)
	for i := range 2 {
		n.voteFrom(ap(fmt.Sprintf("140.0.0.2:%d", i+1)), ap(fmt.Sprintf("1.0.0.1:%d", i+1)))
	}
	n.want(ConnectionSymmetricNAT, false)
	if res := n.tbl.Cleanup(n.now); len(res.Removed) != 2 {
		t.Fatalf("cleanup removed %d, want 2", len(res.Removed))
	}
	for i := range 2 {
		n.voteFrom(ap(fmt.Sprintf("140.0.0.3:%d", i+1)), ap("1.0.0.1:1"))
	}
	n.want(ConnectionUnknown, false)
}

// TestConnectionRules covers the rules of §5.5 one by one.
func TestConnectionRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		votes [][2]string // voter, address
		want  ConnectionType
	}{
		{"no votes", nil, ConnectionUnknown},
		{"one address = LAN", [][2]string{{"8.8.8.8:1", "192.168.1.10:7759"}}, ConnectionPublic},
		{"one address ≠ LAN", [][2]string{{"8.8.8.8:1", "1.2.3.4:7759"}}, ConnectionUnknown},
		{"two addresses, one IP each", [][2]string{{"8.8.8.8:1", "1.2.3.4:1"}, {"9.9.9.9:1", "1.2.3.4:2"}}, ConnectionSymmetricNAT},
		{"two addresses, one seen from two IPs", [][2]string{
			{"8.8.8.8:1", "1.2.3.4:1"}, {"9.9.9.9:1", "1.2.3.4:1"}, {"7.7.7.7:1", "1.2.3.4:2"}}, ConnectionUnknown},
		{"two addresses, same-IP voters on several ports", [][2]string{
			{"8.8.8.8:1", "1.2.3.4:1"}, {"8.8.8.8:2", "1.2.3.4:1"}, {"9.9.9.9:1", "1.2.3.4:2"}}, ConnectionSymmetricNAT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
			for _, v := range tc.votes {
				a.Vote(ap(v[0]), ap(v[1]))
			}
			if got := a.Connection(); got != tc.want {
				t.Fatalf("connection %v, want %v", got, tc.want)
			}
		})
	}
}

// TestVoteRules: one vote per voter, strictly-more switching, ignored
// voters, and the WANChanged signal.
func TestVoteRules(t *testing.T) {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	x, y := ap("1.2.3.4:1"), ap("5.6.7.8:1")
	if r := a.Vote(ap("8.8.8.8:1"), x); !r.Counted || !r.WANChanged || a.WAN() != x {
		t.Fatalf("first vote: %+v, WAN %v", r, a.WAN())
	}
	// A tie does not switch.
	if r := a.Vote(ap("9.9.9.9:1"), y); r.WANChanged || a.WAN() != x {
		t.Fatalf("tie switched the WAN: %+v, WAN %v", r, a.WAN())
	}
	// Strictly more does.
	if r := a.Vote(ap("7.7.7.7:1"), y); !r.WANChanged || a.WAN() != y {
		t.Fatalf("majority did not switch: %+v, WAN %v", r, a.WAN())
	}
	// A voter's new vote replaces its old one.
	a.Vote(ap("9.9.9.9:1"), x)
	if a.Votes(x) != 2 || a.Votes(y) != 1 || a.NumVoters() != 3 || a.WAN() != x {
		t.Fatalf("votes x=%d y=%d voters=%d, WAN %v", a.Votes(x), a.Votes(y), a.NumVoters(), a.WAN())
	}
	// Ignored: voter in our LAN, invalid address, invalid voter. The
	// voter's previous vote is still withdrawn.
	for _, v := range [][2]netip.AddrPort{
		{ap("192.168.1.77:1"), x},
		{ap("9.9.9.9:1"), ap("0.0.0.0:0")},
		{netip.AddrPort{}, x},
		{ap("6.6.6.6:1"), ap("1.2.3.4:0")},
	} {
		if r := a.Vote(v[0], v[1]); r.Counted || r.WANChanged {
			t.Errorf("vote %v for %v counted", v[0], v[1])
		}
	}
	if a.Votes(x) != 1 {
		t.Fatalf("the ignored vote of 9.9.9.9 did not withdraw its old vote: x=%d", a.Votes(x))
	}
	st := a.Stats()
	if st.IgnoredLAN != 1 || st.IgnoredInvalid != 3 || st.Votes != 4 || st.WANChanges != 3 || st.Withdrawn != 2 {
		t.Fatalf("stats %+v", st)
	}
	if !a.Unvote(ap("8.8.8.8:1")) || a.Unvote(ap("8.8.8.8:1")) || a.Votes(x) != 0 {
		t.Fatal("Unvote")
	}
	if a.WAN() != x || a.Votes(y) != 1 {
		t.Fatal("unvoting changed the WAN estimate")
	}
}

// TestMaxVoters: new voters beyond MaxVoters are ignored until votes are
// withdrawn.
func TestMaxVoters(t *testing.T) {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	addr := ap("1.2.3.4:1")
	for i := range MaxVoters {
		v := netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 1}), 1)
		if !a.Vote(v, addr).Counted {
			t.Fatalf("vote %d ignored", i)
		}
	}
	if a.Vote(ap("30.0.0.1:1"), addr).Counted || a.Stats().IgnoredFull != 1 {
		t.Fatal("vote beyond MaxVoters counted")
	}
	// An existing voter may still change its vote.
	if !a.Vote(ap("20.0.0.1:1"), ap("1.2.3.4:2")).Counted {
		t.Fatal("an existing voter could not re-vote")
	}
	a.Unvote(ap("20.0.0.1:1"))
	if !a.Vote(ap("30.0.0.1:1"), addr).Counted {
		t.Fatal("vote refused after room was made")
	}
}

// TestAddressInLAN is Dispersy's test_address_in_lan, extended to IPv6 and
// loopback.
func TestAddressInLAN(t *testing.T) {
	for _, tc := range []struct {
		addr string
		lan  bool
	}{
		{"192.168.1.5", true},
		{"192.168.0.0", true},
		{"192.168.255.255", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.0", true},
		{"172.31.255.255", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fe80::1", true},
		{"::1", true},
		{"192.169.1.5", false},
		{"11.0.0.1", false},
		{"9.255.255.255", false},
		{"192.0.0.7", false},
		{"172.32.0.0", false},
		{"172.15.255.255", false},
		{"169.254.1.1", false},
		{"8.8.8.8", false},
		{"130.161.119.206", false},
		{"2001:db8::1", false},
		{"fec0::1", false},
		{"::ffff:8.8.8.8", false},
	} {
		if got := IsLAN(netip.MustParseAddr(tc.addr)); got != tc.lan {
			t.Errorf("IsLAN(%s) = %v, want %v", tc.addr, got, tc.lan)
		}
	}
	if IsLAN(netip.Addr{}) {
		t.Error("IsLAN(zero) = true")
	}
}

// TestInLANSubnets: with subnets configured, InLAN uses them and not the
// address class; without, it falls back to IsLAN.
func TestInLANSubnets(t *testing.T) {
	a := newAddrs(t, "10.1.2.3:1", "10.1.2.0/24", "::ffff:192.168.7.0/120", "fd00:1::/64")
	for _, tc := range []struct {
		addr string
		in   bool
	}{
		{"10.1.2.200", true},
		{"10.1.3.1", false}, // RFC 1918, but not our subnet
		{"192.168.7.9", true},
		{"::ffff:192.168.7.9", true},
		{"fd00:1::5", true},
		{"fd00:2::5", false},
		{"127.0.0.1", false},
	} {
		if got := a.InLAN(netip.MustParseAddr(tc.addr)); got != tc.in {
			t.Errorf("InLAN(%s) = %v, want %v", tc.addr, got, tc.in)
		}
	}
	b := newAddrs(t, "10.1.2.3:1")
	if !b.InLAN(netip.MustParseAddr("172.16.0.1")) || b.InLAN(netip.MustParseAddr("8.8.8.8")) {
		t.Error("InLAN without subnets does not follow IsLAN")
	}
	if _, err := NewAddresses(ap("10.1.2.3:1"), netip.Prefix{}); err == nil {
		t.Error("NewAddresses accepted an invalid prefix")
	}
	for _, bad := range []netip.AddrPort{{}, ap("0.0.0.0:1"), ap("10.0.0.1:0")} {
		if _, err := NewAddresses(bad); err == nil || !strings.Contains(err.Error(), "LAN address") {
			t.Errorf("NewAddresses(%v) = %v", bad, err)
		}
		if err := b.SetLAN(bad); err == nil {
			t.Errorf("SetLAN(%v) accepted", bad)
		}
	}
}

// TestEstimateWithinLAN is Dispersy's test_estimate_addresses_within_LAN:
// a peer on our LAN reports LAN and WAN 0.0.0.0:0; its candidate gets
// sock = LAN = its address and keeps the WAN unknown. The response's
// destination address (sock) is its LAN address.
func TestEstimateWithinLAN(t *testing.T) {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	tbl := newTable(t, a)
	peer := ap("192.168.1.20:7759")
	zero := ap("0.0.0.0:0")
	c, ok := tbl.Stumble(t0, Contact{Sock: peer, LAN: zero, WAN: zero})
	if !ok {
		t.Fatal("refused")
	}
	if c.Sock() != peer || c.LAN() != peer || c.WAN().IsValid() {
		t.Fatalf("sock %v lan %v wan %v", c.Sock(), c.LAN(), c.WAN())
	}
	if got := tbl.Candidates(t0); len(got) != 1 || got[0] != c {
		t.Fatalf("candidates %v", got)
	}
	// From outside the LAN the WAN address is corrected instead.
	lan, wan := a.Estimate(ap("8.8.8.8:5"), ap("10.9.9.9:5"), zero)
	if lan != ap("10.9.9.9:5") || wan != ap("8.8.8.8:5") {
		t.Fatalf("estimate outside LAN: %v %v", lan, wan)
	}
	lan, wan = a.Estimate(netip.AddrPort{}, ap("10.9.9.9:5"), zero)
	if lan != ap("10.9.9.9:5") || wan.IsValid() {
		t.Fatalf("estimate with no sock: %v %v", lan, wan)
	}
}

// TestSockFor: behind our NAT (same WAN IP) a peer is reached at its LAN
// address, otherwise at its WAN address; unknown addresses fall back.
func TestSockFor(t *testing.T) {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	a.Vote(ap("8.8.8.8:1"), ap("5.5.5.5:7759"))
	for _, tc := range []struct{ lan, wan, want string }{
		{"192.168.1.20:1", "5.5.5.5:2", "192.168.1.20:1"}, // same NAT
		{"192.168.1.20:1", "6.6.6.6:2", "6.6.6.6:2"},      // elsewhere
		{"0.0.0.0:0", "5.5.5.5:2", "5.5.5.5:2"},           // same NAT, LAN unknown
		{"192.168.1.20:1", "0.0.0.0:0", "192.168.1.20:1"}, // WAN unknown
		{"0.0.0.0:0", "0.0.0.0:0", "invalid AddrPort"},
	} {
		if got := a.SockFor(ap(tc.lan), ap(tc.wan)); got.String() != tc.want {
			t.Errorf("SockFor(%s, %s) = %v, want %s", tc.lan, tc.wan, got, tc.want)
		}
	}
}

func TestIsValid(t *testing.T) {
	for _, tc := range []struct {
		ap    netip.AddrPort
		valid bool
	}{
		{ap("1.2.3.4:1"), true},
		{ap("192.168.1.1:65535"), true},
		{ap("[2001:db8::1]:7759"), true},
		{ap("127.0.0.1:1"), true},
		{netip.AddrPort{}, false},
		{ap("0.0.0.0:0"), false},
		{ap("0.0.0.0:7759"), false},
		{ap("1.2.3.4:0"), false},
		{ap("[::]:7759"), false},
		{ap("[::ffff:0.0.0.0]:7759"), false},
		{ap("224.0.0.1:7759"), false},
		{ap("255.255.255.255:7759"), false},
		{ap("[ff02::1]:7759"), false},
	} {
		if got := IsValid(tc.ap); got != tc.valid {
			t.Errorf("IsValid(%v) = %v, want %v", tc.ap, got, tc.valid)
		}
	}
	for c, name := range map[ConnectionType]string{ConnectionUnknown: "unknown", ConnectionPublic: "public",
		ConnectionSymmetricNAT: "symmetric-NAT", 7: "ConnectionType(7)"} {
		if c.String() != name {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
}

// TestSetLAN: a new LAN address re-evaluates the connection type.
func TestSetLAN(t *testing.T) {
	a := newAddrs(t, "192.168.1.10:7759", "192.168.1.0/24")
	a.Vote(ap("8.8.8.8:1"), ap("5.5.5.5:7759"))
	if a.Connection() != ConnectionUnknown {
		t.Fatal(a.Connection())
	}
	if err := a.SetLAN(ap("5.5.5.5:7759")); err != nil || a.Connection() != ConnectionPublic {
		t.Fatalf("SetLAN: %v, %v", err, a.Connection())
	}
	if !a.IsSelf(ap("5.5.5.5:7759")) || a.IsSelf(ap("5.5.5.5:7758")) || a.IsSelf(netip.AddrPort{}) {
		t.Fatal("IsSelf")
	}
}

// The connection type follows the votes that remain after voters are
// withdrawn (candidates expire), as the package doc says: public when the
// one address still voted for is our LAN address, whatever the (sticky)
// WAN estimate is; not public when the one remaining address is another.
func TestConnectionAfterVotersExpire(t *testing.T) {
	lan := ap("5.5.5.5:7759")
	other := ap("6.6.6.6:1000")
	voter := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{7, 7, 7, byte(i)}), 7759)
	}

	// Two voters see us at another address (the WAN estimate moves there),
	// one at our LAN address; the two expire.
	a := newAddrs(t, lan.String())
	a.Vote(voter(1), other)
	a.Vote(voter(2), other)
	a.Vote(voter(3), lan)
	if a.WAN() != other || a.Connection() != ConnectionUnknown {
		t.Fatalf("before expiry: WAN %v, %v", a.WAN(), a.Connection())
	}
	a.Unvote(voter(1))
	a.Unvote(voter(2))
	if got := a.Connection(); got != ConnectionPublic {
		t.Errorf("the remaining votes all name our LAN address: %v, want public", got)
	}

	// Two voters see us at our LAN address, one elsewhere; the two expire.
	b := newAddrs(t, lan.String())
	b.Vote(voter(1), lan)
	b.Vote(voter(2), lan)
	b.Vote(voter(3), other)
	b.Unvote(voter(1))
	b.Unvote(voter(2))
	if got := b.Connection(); got == ConnectionPublic {
		t.Errorf("the only remaining vote names %v, not our LAN address: %v, want not public", other, got)
	}
}
