package dispersy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// Config tunes an Engine. Start from DefaultConfig; the zero Config is
// invalid. Every default names its origin (mostly Python Dispersy's
// constants). Validate reports every problem.
type Config struct {
	// Walker holds the walker's intervals and lifetimes (Dispersy's
	// constants): the step interval (one introduction request, and so at
	// most one bloom-filter sync round, per community per step), candidate
	// lifetimes, the introduction-request timeout and the table bound.
	Walker walker.Config
	// LocalAddr is the address peers on our LAN reach us at; the walker
	// reports it as our LAN address and starts its WAN estimate from it.
	// Node fills it from the endpoint when it is unset.
	LocalAddr netip.AddrPort
	// LocalSubnets are the networks of our interfaces: addresses inside them
	// are on our LAN. Empty: the address class decides (RFC 1918,
	// loopback, IPv6 ULA and link-local).
	LocalSubnets []netip.Prefix
	// MaxDatagram is the datagram budget in bytes. Created messages larger
	// than it are refused; bloom filters are sized so an introduction
	// request fits it. Default 1,232 (IPv6 minimum MTU minus headers);
	// Dispersy assumed 1,500 minus 68.
	MaxDatagram int
	// SyncBudget is how many bytes of packets one bloom-filter sync answer
	// may send; the packet that crosses it is still sent. Default 10 KiB
	// (eight datagrams): with 1,000 messages created at once on 1,000 peers
	// at 10 % loss it converged in 38 rounds against 53 with 5 KiB, at a
	// lower bytes ratio (1.42 against 1.57; docs/performance.md). Anti-amplification still caps an
	// answer to an unproven address at 3× the request. Dispersy:
	// dispersy_sync_response_limit = 5 KiB.
	SyncBudget int
	// SequenceBudget caps the bytes sent in answer to missing-sequence
	// requests from one requester per batch. Dispersy: 10 KiB.
	SequenceBudget int
	// AcceptableGlobalTimeRange is how far above max(own global time,
	// median of the verified candidates' global times) an incoming
	// message's global time may be. Dispersy: 10,000.
	AcceptableGlobalTimeRange uint64
	// BloomSync enables bloom-filter sync on walker steps. Dispersy:
	// dispersy_enable_bloom_filter_sync = true.
	BloomSync bool
	// SyncBothWays makes every introduction response carry the responder's
	// own bloom filter, which the requester answers, so one walk step syncs
	// in both directions (push-pull). Not in Python Dispersy, which only
	// pulled: false reproduces it.
	SyncBothWays bool
	// SkipCurve makes a walker step skip its bloom filter with a probability
	// that grows while filters go unanswered (Dispersy's _SKIP_CURVE_STEPS:
	// up to 90 % of the steps of an idle community). It saves a filter per
	// step when nothing changes, at the cost of noticing new messages late.
	// Dispersy: on. Default: off.
	SkipCurve bool
	// SyncStrategy chooses bloom-filter ranges. Dispersy's default is
	// LargestPivot.
	SyncStrategy SyncStrategy
	// BloomErrorRate is the bloom filter's target false-positive rate, which
	// sets its capacity. Dispersy: 0.01.
	BloomErrorRate float64
	// ForwardNew makes a node forward a synced message it has just
	// received, and did not hold, to this many random verified candidates,
	// once. 0 reproduces Dispersy, which forwarded only the messages it
	// created.
	ForwardNew int
	// ForwardWindow limits ForwardNew to messages whose global time is at
	// most this far below the community's global time, so old messages
	// caught up through sync are not pushed around. 0: no limit.
	ForwardWindow uint64
	// SignatureTimeout is how long a signature request for a double-signed
	// message waits for its response. Dispersy: 10 s.
	SignatureTimeout time.Duration
	// AmplificationFactor limits everything sent to an address that has
	// not proved it receives our packets (by answering one of our
	// introduction requests) to this many times the bytes received from
	// it, plus one small walker probe per 10 s; 0 disables the limit.
	// Default 3 (QUIC's rule); Python Dispersy had no limit.
	AmplificationFactor int
	// MaxTrackedAddresses bounds the per-address state kept against remote
	// input (anti-amplification credit, proven addresses, punctures sent).
	MaxTrackedAddresses int
	// Tracker makes the engine a bootstrap tracker: it answers introduction
	// requests for any community, creating in-memory tracker communities on
	// the fly (see tracker.go). Set BloomSync off too.
	Tracker bool
	// MaxTrackerCommunities bounds the tracker communities held at once.
	MaxTrackerCommunities int
	// DestroyFanout is how many random verified candidates a
	// destroy-community message is forwarded to, by its creator and by
	// every peer that receives it. Dispersy: CommunityDestination(50).
	DestroyFanout int
	// Bootstrap lists tracker addresses the walker falls back to when it
	// has no candidate (Dispersy's trackers).
	Bootstrap []netip.AddrPort
	// Extensions are attached to every community (see Extension): NewEngine
	// calls each factory once (a nil result attaches nothing). catchup.Enable
	// adds one. Default: none.
	Extensions []func(*Engine) Extension
	// DelayRetry is the first wait before a missing-* request for a delayed
	// message is sent again; each retry doubles it. Python Dispersy never
	// retried.
	DelayRetry time.Duration
	// DelayAttempts is how many requests are sent for one delayed message
	// before it is dropped (counted as DropDelayExpired; as
	// DropNotPermitted when it waited for a proof). Python Dispersy
	// sent 1 and dropped after 10 s.
	DelayAttempts int
	// MaxDelayed bounds the number of delayed messages held per community;
	// the oldest is dropped first (DropDelayOverflow).
	MaxDelayed int
	// MaxDelayedBytes bounds their total packet bytes per community.
	MaxDelayedBytes int
	// MaxKnownMembers bounds the in-memory cache of member keys; older
	// entries fall back to the store.
	MaxKnownMembers int
	// SequenceAnswerWindow: a missing-sequence answer sends each message
	// at most once per requester within this window, so overlapping
	// requests that arrive in separate datagrams are not answered twice.
	// Dispersy collected the requests for 0.1 s. 0 disables it.
	SequenceAnswerWindow time.Duration
	// Rand drives every random choice (walk targets, forwarding, sync
	// ranges, identifiers). nil: NewNode uses a ChaCha8 generator seeded
	// from crypto/rand; NewEngine (the simulator) seeds it from the member
	// id, so simulated runs are reproducible.
	Rand *rand.Rand
	// Logger receives structured logs. The zero value discards them.
	Logger zerolog.Logger
	// Events, when set, receives peer, delay and failure events (see
	// Events).
	Events *Events
}

// DefaultConfig returns the defaults: Dispersy's behaviour with its
// known failures fixed (retries, bounded delays, a safe datagram budget)
// and the sync improvements of this implementation switched on.
func DefaultConfig() Config {
	return Config{
		Walker:                    walker.DefaultConfig(),
		MaxDatagram:               DefaultMaxDatagram,
		SyncBudget:                10 * 1024, // Dispersy: 5 KiB (see DispersyConfig)
		SequenceBudget:            10 * 1024, // Dispersy missing-sequence cap
		AcceptableGlobalTimeRange: 10000,     // Dispersy dispersy_acceptable_global_time_range
		BloomSync:                 true,
		SyncBothWays:              true,
		SyncStrategy:              LargestPivot,
		BloomErrorRate:            0.01, // Dispersy
		ForwardNew:                0,
		DestroyFanout:             50,               // Dispersy dispersy-destroy-community node_count
		SignatureTimeout:          10 * time.Second, // Dispersy SignatureRequestCache
		AmplificationFactor:       3,                // QUIC, RFC 9000 §8
		MaxTrackedAddresses:       8192,
		MaxTrackerCommunities:     4096,
		DelayRetry:                2 * time.Second,
		DelayAttempts:             4,
		MaxDelayed:                4096,
		MaxDelayedBytes:           4 << 20,
		MaxKnownMembers:           65536,
		SequenceAnswerWindow:      100 * time.Millisecond, // Dispersy's missing-sequence batch
	}
}

// DispersyConfig returns Python Dispersy's parameters: pull-only sync, no
// forwarding of received messages. The simulator's "-params dispersy".
func DispersyConfig() Config {
	c := DefaultConfig()
	c.SyncBothWays = false
	c.SkipCurve = true
	c.SyncBudget = 5 * 1024 // dispersy_sync_response_limit
	c.ForwardNew = 0
	c.Walker.WalkTarget, c.Walker.MaxPeers, c.Walker.FastStepInterval = 0, 0, 0 // every step, no cap, no fast start
	return c
}

// Validate reports every problem with c. It does not modify c.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := c.Walker.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxDatagram < 512 || c.MaxDatagram > 65507 {
		bad("MaxDatagram (%d) must be in 512..65507", c.MaxDatagram)
	}
	if c.SyncBudget < 1 {
		bad("SyncBudget (%d) must be >= 1", c.SyncBudget)
	}
	if c.SequenceBudget < 1 {
		bad("SequenceBudget (%d) must be >= 1", c.SequenceBudget)
	}
	if c.AcceptableGlobalTimeRange < 1 {
		bad("AcceptableGlobalTimeRange (%d) must be >= 1", c.AcceptableGlobalTimeRange)
	}
	if c.SyncStrategy != LargestPivot && c.SyncStrategy != Modulo {
		bad("SyncStrategy (%d) must be LargestPivot or Modulo", c.SyncStrategy)
	}
	if !(c.BloomErrorRate > 0 && c.BloomErrorRate < 1) {
		bad("BloomErrorRate (%v) must be in (0, 1)", c.BloomErrorRate)
	}
	if c.SignatureTimeout <= 0 {
		bad("SignatureTimeout (%v) must be > 0", c.SignatureTimeout)
	}
	if c.AmplificationFactor < 0 {
		bad("AmplificationFactor (%d) must be >= 0", c.AmplificationFactor)
	}
	if c.MaxTrackedAddresses < 16 {
		bad("MaxTrackedAddresses (%d) must be >= 16", c.MaxTrackedAddresses)
	}
	if c.Tracker && c.MaxTrackerCommunities < 1 {
		bad("MaxTrackerCommunities (%d) must be >= 1 for a tracker", c.MaxTrackerCommunities)
	}
	if c.DestroyFanout < 0 {
		bad("DestroyFanout (%d) must be >= 0", c.DestroyFanout)
	}
	if c.ForwardNew < 0 {
		bad("ForwardNew (%d) must be >= 0", c.ForwardNew)
	}
	if c.DelayRetry <= 0 {
		bad("DelayRetry (%v) must be > 0", c.DelayRetry)
	}
	if c.DelayAttempts < 1 {
		bad("DelayAttempts (%d) must be >= 1", c.DelayAttempts)
	}
	if c.MaxDelayed < 1 {
		bad("MaxDelayed (%d) must be >= 1", c.MaxDelayed)
	}
	if c.MaxDelayedBytes < c.MaxDatagram {
		bad("MaxDelayedBytes (%d) must be >= MaxDatagram (%d)", c.MaxDelayedBytes, c.MaxDatagram)
	}
	if c.MaxKnownMembers < 1 {
		bad("MaxKnownMembers (%d) must be >= 1", c.MaxKnownMembers)
	}
	if c.SequenceAnswerWindow < 0 {
		bad("SequenceAnswerWindow (%v) must be >= 0", c.SequenceAnswerWindow)
	}
	for i, a := range c.Bootstrap {
		if !a.IsValid() || a.Port() == 0 {
			bad("Bootstrap[%d] (%v) is not a valid address with a port", i, a)
		}
	}
	return errors.Join(errs...)
}
