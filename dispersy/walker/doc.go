// Package walker is the candidate side of Dispersy's NAT-traversing random
// walk (dispersy.md §5): the per-community candidate [Table] with its
// categories, the choice of whom to walk to ([Table.NextWalk]) and whom to
// introduce ([Table.Introduce]), keep-alive, and this node's own address
// and NAT type estimate ([Addresses]).
//
// The package is pure: time comes in as an argument, randomness from the
// caller's *rand.Rand, nothing reads a clock or touches the network, and
// every list comes out in insertion order (or drawn from it with the rng),
// never in map order. The engine sends the packets; this package decides.
//
// # Categories
//
// A candidate's category at time now follows from its timestamps, checked
// in this order (Dispersy candidate.py):
//
//	category    condition                                   default
//	walk        now < last walk reply + WalkLifetime        57.5 s  CANDIDATE_WALK_LIFETIME
//	stumble     now < last stumble    + StumbleLifetime     57.5 s  CANDIDATE_STUMBLE_LIFETIME
//	intro       now < last intro      + IntroLifetime       27.5 s  CANDIDATE_INTRO_LIFETIME
//	discovered  now < last discovered + DiscoveredLifetime  57.5 s  CANDIDATE_DISCOVERED_LIFETIME
//	none        otherwise: obsolete, removed by Cleanup
//
// Most NATs close a hole 60 s after the last packet (30 s for unsolicited
// traffic); the lifetimes stay 2.5 s below. Walk and stumble candidates are
// "verified": they are introduced to others, receive forwarded messages,
// and feed the global-time median. The other constants, all in [Config]:
// EligibleDelay 27.5 s (CANDIDATE_ELIGIBLE_DELAY, minimum time between two
// walks to one candidate), IntroRequestTimeout 10.5 s
// (IntroductionRequestCache), StepInterval 5 s (TAKE_STEP_INTERVAL),
// MedianMinCandidates 5, and MaxCandidates 1,024 (new: a bound on the
// table).
//
// # Events
//
// The engine reports what happened; each call updates one candidate (Walk
// and WalkTimeout only a known one; the others create it if needed):
//
//	we send an introduction request      Table.Walk
//	an introduction response arrives     Table.WalkResponse   (walk)
//	it does not arrive within 10.5 s     Table.WalkTimeout    (leaves walk)
//	an introduction request arrives      Table.Stumble        (stumble)
//	a response introduces someone        Table.Intro          (intro)
//	a puncture arrives                   Table.Puncture       (intro)
//	discovery or a tracker list names it Table.Discovered     (discovered)
//
// Creating or updating goes through [Addresses.Estimate] (§5.4 step 2): a
// packet from inside our LAN fixes the peer's LAN address to its source,
// one from outside fixes its WAN address. A symmetric-NAT candidate that
// reappears from a new port with the same LAN address is moved there.
// Stumble and WalkResponse then merge duplicates: other candidates with the
// same WAN IP and the same LAN address ([Table.MergeDuplicates]).
//
// # Selection
//
// [Table.NextWalk] (§5.2) takes, per category, the eligible candidate that
// has waited longest, then draws r1, r2: r1 ≤ 0.475 prefers walk, r1 ≤ 0.95
// prefers stumble or intro (r2 < 0.5: stumble first), otherwise discovered;
// each choice falls back to the other categories. With all four present
// the shares are 47.5 / 23.75 / 23.75 / 5 %.
//
// [Table.Introduce] (§5.3) goes round-robin over the walk and the stumble
// candidates whose LAN and WAN are both known, starting with either 50/50,
// and skips the requester itself, tunnelled candidates for a non-tunnelled
// requester, and symmetric-NAT candidates behind another IP than a
// symmetric-NAT requester. [Table.RandomVerified] draws the targets of a
// community-destination message.
//
// # Keep-alive
//
// [Table.SetKeepAlive] marks a candidate the application wants to keep
// (Tribler/dispersy#548). When it times out, [Table.Cleanup] keeps its last
// category for one more lifetime and returns it in
// [CleanupResult.KeepAlive]: send it one introduction request without bloom
// filter and without advice. A response ends this life support; a second
// timeout (or a [Table.WalkTimeout] of that request) removes it.
//
// # Addresses and NAT type
//
// [Addresses] starts with WAN = LAN. Peers vote with the destination
// address of their requests and responses, one vote per voter socket
// address; votes from our LAN and for invalid addresses are ignored; the
// WAN estimate moves only to an address with strictly more votes. The
// connection type is public when exactly one address is voted for and it
// equals our LAN address, symmetric-NAT when several are and each was seen
// from a single IP, unknown otherwise. A table withdraws the vote of every
// candidate it removes; the connection type follows the votes that remain
// (the WAN estimate stays until another address out-votes it). The engine
// reports it as Engine.Connection.
//
// "LAN" means inside one of the subnets given to [NewAddresses]; with none,
// [IsLAN]: RFC 1918 for IPv4, fc00::/7 and fe80::/10 for IPv6, and loopback
// for both. Loopback counts as LAN because a peer on 127.0.0.1 runs on this
// host: its candidate uses its socket address as LAN address and its WAN
// votes are ignored, which is also what Dispersy did on loopback, where
// 127.0.0.1 is inside the "lo" interface's subnet. Local clusters and tests
// on 127.0.0.1 therefore see every peer as "same NAT" and reach it at its
// socket address.
//
// # Pace
//
// Not in Dispersy (IPv8's walk target and maximum peers, issues #16, #17):
// [Config.NextStep] gives the wait before the next step from the verified
// count: FastStepInterval (1 s) with none, SlowStepInterval (20 s) once
// WalkTarget (10) is reached and nothing new arrives (kept while at least
// half the target remain), StepInterval otherwise. [Table.Trim] drops the
// verified candidates above MaxPeers (30), stumble before walk candidates
// and the one heard from longest ago first, never a bootstrap address or a candidate with a request in
// flight.
//
// # Fixed Dispersy quirks
//
//   - is_eligible_for_walk compared the category with the string "none"
//     while obsolete candidates have the category None, so they counted as
//     eligible; [Candidate.EligibleForWalk] requires a real category.
//   - WalkCandidate.update's condition is inverted (§11.4: it overwrote
//     only addresses that were already non-zero); here a reported LAN or
//     WAN address replaces the stored one exactly when the reported one is
//     valid, so unknown addresses are learned and 0.0.0.0:0 never erases
//     what we knew.
//   - filter_duplicate_candidate merged candidates whose LAN address was
//     unknown (0.0.0.0:0), i.e. every such peer behind one NAT; here both
//     addresses must be known, and candidates of different members are
//     never merged.
//   - The candidate table had no bound; spoofed requests could grow it
//     without limit. MaxCandidates evicts the oldest non-verified candidate
//     or refuses a new one, and [Addresses] remembers at most [MaxVoters]
//     voters.
//   - is_valid_address accepted multicast and broadcast addresses;
//     [IsValid] refuses them, so a peer cannot aim our walker traffic at a
//     group.
//
// # Usage
//
//	addrs, err := walker.NewAddresses(lanAddr, lanSubnets...)
//	tbl, err := walker.NewTable(walker.DefaultConfig(), addrs)
//
//	// at every step:
//	res := tbl.Cleanup(now)          // send keep-alives for res.KeepAlive
//	tbl.Trim(now, cfg.MaxPeers, isBootstrap)
//	if c := tbl.NextWalk(now, rng); c != nil {
//		tbl.Walk(now, c.Sock())      // and send the introduction request
//	}
//	next := now.Add(cfg.NextStep(tbl.CountVerified(now), fruitful, slowed))
//
//	// an introduction request arrived from src:
//	c, ok := tbl.Stumble(now, walker.Contact{Sock: src, LAN: p.LAN, WAN: p.WAN, ...})
//	if ok {
//		if addrs.Vote(src, p.Destination).WANChanged { /* remove own addresses */ }
//		intro := tbl.Introduce(now, c, rng) // nil: respond with 0.0.0.0:0
//	}
//
// # Invariants
//
//   - Every candidate's socket address is its LAN or its WAN address, is
//     valid, is not one of ours, and is unique in its table.
//   - A Table and an Addresses are not safe for concurrent use; the engine
//     goroutine owns them. Candidates change only through Table methods.
//   - Remote input never panics and never returns an error: an unusable
//     address is refused (ok == false) and counted in [Stats].
package walker
