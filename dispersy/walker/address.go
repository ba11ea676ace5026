package walker

import (
	"fmt"
	"net/netip"
)

// ConnectionType is what a peer believes about its own NAT (dispersy.md
// §5.5). It travels in introduction requests and responses; the engine's
// conversion maps it to and from the wire.
type ConnectionType uint8

// Connection types. The zero value is ConnectionUnknown.
const (
	// ConnectionUnknown: not enough votes, or votes that fit no rule.
	ConnectionUnknown ConnectionType = iota
	// ConnectionPublic: every voter sees one address, and it is our LAN
	// address: no NAT in between.
	ConnectionPublic
	// ConnectionSymmetricNAT: voters see different addresses, and each
	// address was seen from a single IP: the NAT maps every destination to
	// a new port.
	ConnectionSymmetricNAT
)

// String returns Dispersy's name for c.
func (c ConnectionType) String() string {
	switch c {
	case ConnectionUnknown:
		return "unknown"
	case ConnectionPublic:
		return "public"
	case ConnectionSymmetricNAT:
		return "symmetric-NAT"
	}
	return fmt.Sprintf("ConnectionType(%d)", uint8(c))
}

// Valid reports whether c is one of the defined connection types.
func (c ConnectionType) Valid() bool { return c <= ConnectionSymmetricNAT }

// IsLAN reports whether addr is a LAN address by its class alone:
//
//   - IPv4: the RFC 1918 ranges 10/8, 172.16/12 and 192.168/16, as Dispersy
//     (address_is_lan_without_netifaces); 169.254/16 link-local is not;
//   - IPv6: fc00::/7 (unique local, RFC 4193) and fe80::/10 (link-local);
//   - loopback (127/8 and ::1) on both: a loopback peer runs on this host,
//     so it is the closest LAN there is. Tests and local clusters run on
//     127.0.0.1; treating loopback as LAN makes such a peer's candidate use
//     its socket address as its LAN address, and its WAN votes are ignored
//     (it cannot know our WAN address), exactly as Dispersy behaved on
//     loopback, where 127.0.0.1 is inside the "lo" interface's subnet.
//
// IPv4-mapped IPv6 addresses are judged as IPv4. [Addresses.InLAN] uses
// IsLAN only when no LAN subnets were configured.
func IsLAN(addr netip.Addr) bool {
	a := addr.Unmap()
	if !a.IsValid() {
		return false
	}
	// IsPrivate is RFC 1918 for IPv4 and fc00::/7 for IPv6.
	return a.IsLoopback() || a.IsPrivate() || (a.Is6() && a.IsLinkLocalUnicast())
}

// IsValid reports whether ap can be a peer's address: an IP that is not
// unspecified (0.0.0.0, ::), and a port above 0 (Dispersy is_valid_address).
// It also refuses multicast addresses and the IPv4 broadcast address
// 255.255.255.255, which Dispersy accepted: a peer must not be able to make
// us send walker traffic to a group address.
func IsValid(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	return a.IsValid() && !a.IsUnspecified() && ap.Port() != 0 &&
		!a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// normalize returns ap with an IPv4-mapped IPv6 address unmapped, or the
// zero AddrPort ("unknown", 0.0.0.0:0 on the wire) when ap is not valid.
func normalize(ap netip.AddrPort) netip.AddrPort {
	if !IsValid(ap) {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// MaxVoters bounds the number of voters [Addresses] remembers. Votes from
// new voters beyond it are ignored (and counted) until old ones are
// withdrawn, so spoofed sources cannot grow memory without bound.
const MaxVoters = 4096

// Addresses holds this node's own addresses: the LAN address (given), the
// WAN address (estimated by majority vote of the peers that report where
// they see us, dispersy.md §5.5) and the resulting [ConnectionType].
// One Addresses serves every community of a node.
//
// Not safe for concurrent use: the engine goroutine owns it.
type Addresses struct {
	lan, wan netip.AddrPort
	subnets  []netip.Prefix
	conn     ConnectionType
	// ballots holds the distinct voted addresses in the order they were
	// first voted for; voter maps a voter to its current vote (lookup only,
	// never iterated).
	ballots []ballot
	voter   map[netip.AddrPort]netip.AddrPort
	stats   AddressStats
}

type ballot struct {
	addr   netip.AddrPort
	voters []netip.AddrPort // in voting order
}

// AddressStats counts what [Addresses] did with the votes it was given.
type AddressStats struct {
	// Votes counts votes recorded.
	Votes uint64
	// IgnoredInvalid counts votes for an invalid address or from an
	// invalid voter.
	IgnoredInvalid uint64
	// IgnoredLAN counts votes from voters inside our LAN, who cannot see
	// our WAN address.
	IgnoredLAN uint64
	// IgnoredFull counts votes from new voters refused because MaxVoters
	// voters were already remembered.
	IgnoredFull uint64
	// Withdrawn counts votes removed by Unvote or replaced by a newer
	// vote of the same voter.
	Withdrawn uint64
	// WANChanges counts switches of the WAN estimate.
	WANChanges uint64
}

// NewAddresses returns the addresses of a node whose LAN address is lan.
// The WAN estimate starts equal to lan (Dispersy: "Initial WAN address: the
// LAN address") and the connection type starts unknown.
//
// subnets are the networks of our interfaces (the runner reads them from
// the system); an address inside one of them is on our LAN. With no
// subnets, [IsLAN] decides, as Dispersy did when netifaces failed.
func NewAddresses(lan netip.AddrPort, subnets ...netip.Prefix) (*Addresses, error) {
	lan = normalize(lan)
	if !lan.IsValid() {
		return nil, fmt.Errorf("walker: LAN address %v is not valid: give the address and port peers on our LAN reach us at (not 0.0.0.0, port > 0)", lan)
	}
	a := &Addresses{lan: lan, wan: lan, voter: make(map[netip.AddrPort]netip.AddrPort)}
	for _, p := range subnets {
		if !p.IsValid() {
			return nil, fmt.Errorf("walker: LAN subnet %v is not a valid prefix", p)
		}
		a.subnets = append(a.subnets, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	return a, nil
}

// unmappedBits converts the prefix length of an IPv4-mapped prefix
// (::ffff:a.b.c.d/n, n ≥ 96) to its IPv4 length.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// LAN returns our LAN address.
func (a *Addresses) LAN() netip.AddrPort { return a.lan }

// WAN returns our current WAN estimate.
func (a *Addresses) WAN() netip.AddrPort { return a.wan }

// Connection returns our connection type as the votes describe it.
func (a *Addresses) Connection() ConnectionType { return a.conn }

// Stats returns a snapshot of the vote counters.
func (a *Addresses) Stats() AddressStats { return a.stats }

// SetLAN replaces our LAN address (for a roaming device, or after the
// runner re-read the interfaces because the WAN estimate changed) and
// re-evaluates the connection type. An invalid address is refused.
func (a *Addresses) SetLAN(lan netip.AddrPort) error {
	lan = normalize(lan)
	if !lan.IsValid() {
		return fmt.Errorf("walker: LAN address %v is not valid", lan)
	}
	a.lan = lan
	a.recompute()
	return nil
}

// InLAN reports whether addr is on our LAN: inside one of the configured
// subnets, or, when none were configured, [IsLAN].
func (a *Addresses) InLAN(addr netip.Addr) bool {
	addr = addr.Unmap()
	if len(a.subnets) == 0 {
		return IsLAN(addr)
	}
	for _, p := range a.subnets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// IsSelf reports whether ap is our LAN address or our WAN estimate.
func (a *Addresses) IsSelf(ap netip.AddrPort) bool {
	ap = normalize(ap)
	return ap.IsValid() && (ap == a.lan || ap == a.wan)
}

// Estimate corrects the LAN and WAN addresses a peer reported about itself
// with the socket address its packet came from (Dispersy
// estimate_lan_and_wan_addresses, §5.4 step 2): if sock is on our LAN, the
// peer's LAN address is sock; otherwise its WAN address is sock. The other
// address is kept as reported; an invalid one comes back as the zero
// AddrPort ("unknown").
func (a *Addresses) Estimate(sock, lan, wan netip.AddrPort) (estLAN, estWAN netip.AddrPort) {
	sock, lan, wan = normalize(sock), normalize(lan), normalize(wan)
	if !sock.IsValid() {
		return lan, wan
	}
	if a.InLAN(sock.Addr()) {
		return sock, wan
	}
	return lan, sock
}

// SockFor returns the address to send to for a peer with the given LAN and
// WAN addresses: its LAN address when it is behind the same public IP as
// we are (same NAT), else its WAN address (Dispersy §5.4 steps 5 and 6).
// When the chosen address is unknown it falls back to the other one; when
// both are unknown it returns the zero AddrPort.
func (a *Addresses) SockFor(lan, wan netip.AddrPort) netip.AddrPort {
	lan, wan = normalize(lan), normalize(wan)
	if wan.IsValid() && wan.Addr() == a.wan.Addr() && lan.IsValid() {
		return lan
	}
	if wan.IsValid() {
		return wan
	}
	return lan
}

// VoteResult says what a vote did.
type VoteResult struct {
	// Counted is true when the vote was recorded, false when it was
	// ignored (invalid address or voter, voter inside our LAN, too many
	// voters).
	Counted bool
	// WANChanged is true when the vote switched our WAN estimate. The
	// engine then removes our own LAN and WAN addresses from every
	// candidate table (Dispersy wan_address_vote), and the runner may
	// re-read the LAN address and call SetLAN.
	WANChanged bool
}

// Vote records that voter (the socket address of the peer that told us)
// sees us at addr, the destination address of its introduction request or
// response. A voter has one vote: a new vote first withdraws its old one,
// even when the new vote is then ignored. The WAN estimate switches to addr
// only when addr has strictly more votes than the current estimate, so two
// equally voted addresses do not make it alternate. The connection type is
// re-evaluated after every vote.
func (a *Addresses) Vote(voter, addr netip.AddrPort) VoteResult {
	voter = normalize(voter)
	addr = normalize(addr)
	if voter.IsValid() {
		a.unvote(voter)
	}
	var res VoteResult
	switch {
	case !voter.IsValid() || !addr.IsValid():
		a.stats.IgnoredInvalid++
	case a.InLAN(voter.Addr()):
		// A voter on our LAN sees our LAN address, not our WAN address.
		a.stats.IgnoredLAN++
	case len(a.voter) >= MaxVoters:
		a.stats.IgnoredFull++
	default:
		a.voter[voter] = addr
		b := a.ballot(addr)
		if b == nil {
			a.ballots = append(a.ballots, ballot{addr: addr})
			b = &a.ballots[len(a.ballots)-1]
		}
		b.voters = append(b.voters, voter)
		a.stats.Votes++
		res.Counted = true
		if addr != a.wan && len(b.voters) > a.Votes(a.wan) {
			a.wan = addr
			a.stats.WANChanges++
			res.WANChanged = true
		}
	}
	a.recompute()
	return res
}

// Unvote withdraws voter's vote, if any (Dispersy wan_address_unvote), and
// re-evaluates the connection type. It reports whether there was a vote.
// The WAN estimate itself stays until another address out-votes it.
func (a *Addresses) Unvote(voter netip.AddrPort) bool {
	ok := a.unvote(normalize(voter))
	if ok {
		a.recompute()
	}
	return ok
}

func (a *Addresses) unvote(voter netip.AddrPort) bool {
	addr, ok := a.voter[voter]
	if !ok {
		return false
	}
	delete(a.voter, voter)
	a.stats.Withdrawn++
	for i := range a.ballots {
		b := &a.ballots[i]
		if b.addr != addr {
			continue
		}
		for j, v := range b.voters {
			if v == voter {
				b.voters = append(b.voters[:j], b.voters[j+1:]...)
				break
			}
		}
		if len(b.voters) == 0 {
			a.ballots = append(a.ballots[:i], a.ballots[i+1:]...)
		}
		break
	}
	return true
}

func (a *Addresses) ballot(addr netip.AddrPort) *ballot {
	for i := range a.ballots {
		if a.ballots[i].addr == addr {
			return &a.ballots[i]
		}
	}
	return nil
}

// Votes returns the number of voters that currently see us at addr.
func (a *Addresses) Votes(addr netip.AddrPort) int {
	if b := a.ballot(normalize(addr)); b != nil {
		return len(b.voters)
	}
	return 0
}

// NumVoters returns the number of voters with a current vote.
func (a *Addresses) NumVoters() int { return len(a.voter) }

// NumAddresses returns the number of distinct addresses voted for.
func (a *Addresses) NumAddresses() int { return len(a.ballots) }

// recompute applies the rules of dispersy.md §5.5 to the current votes:
//   - public: exactly one address is voted for and it is our LAN address
//     (Dispersy compared the LAN address with the WAN estimate, which stays
//     where it was when voters are withdrawn: after the voters for another
//     address expired it said unknown though every remaining vote named our
//     LAN address, and public though the only remaining vote named another);
//   - symmetric-NAT: more than one address is voted for, and every address
//     was reported by voters from a single IP;
//   - unknown: everything else, including one address reported from more
//     than one IP when several addresses are voted for.
func (a *Addresses) recompute() {
	switch {
	case len(a.ballots) == 1 && a.ballots[0].addr == a.lan:
		a.conn = ConnectionPublic
	case len(a.ballots) > 1:
		a.conn = ConnectionSymmetricNAT
		for _, b := range a.ballots {
			for _, v := range b.voters[1:] {
				if v.Addr() != b.voters[0].Addr() {
					// One NAT mapping reached from more than one IP: not
					// a symmetric NAT.
					a.conn = ConnectionUnknown
				}
			}
		}
	default:
		a.conn = ConnectionUnknown
	}
}
