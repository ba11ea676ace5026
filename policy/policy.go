package policy

import "fmt"

// Authentication decides who signed a message. The set is closed:
// [NoAuthentication], [MemberAuthentication], [DoubleMemberAuthentication].
type Authentication interface {
	isAuthentication()
	fmt.Stringer
}

// MemberEncoding decides how a member appears on the wire.
type MemberEncoding uint8

const (
	// EncodeKey carries the member's full binary public key (33 bytes for
	// Ed25519). The receiver needs no identity round trip. The default.
	EncodeKey MemberEncoding = iota
	// EncodeID carries the scheme tag and the 20-byte member id (21 bytes).
	// A receiver that does not know the member delays the message and asks
	// for its identity.
	EncodeID
)

// String returns "key" or "id".
func (e MemberEncoding) String() string {
	switch e {
	case EncodeKey:
		return "key"
	case EncodeID:
		return "id"
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// NoAuthentication: the message is not signed and names no member. Only for
// public, direct messages.
type NoAuthentication struct{}

// MemberAuthentication: one member signs the message.
type MemberAuthentication struct {
	Encoding MemberEncoding
}

// DoubleMemberAuthentication: two members sign the message; the first is its
// creator. The second signature is obtained with a signature request.
type DoubleMemberAuthentication struct {
	Encoding MemberEncoding
}

func (NoAuthentication) isAuthentication()           {}
func (MemberAuthentication) isAuthentication()       {}
func (DoubleMemberAuthentication) isAuthentication() {}

// String returns the policy's name.
func (NoAuthentication) String() string { return "NoAuthentication" }

// String returns the policy's name and member encoding.
func (a MemberAuthentication) String() string {
	return "MemberAuthentication(" + a.Encoding.String() + ")"
}

// String returns the policy's name and member encoding.
func (a DoubleMemberAuthentication) String() string {
	return "DoubleMemberAuthentication(" + a.Encoding.String() + ")"
}

// Members returns how many members sign a message with authentication a:
// 0, 1 or 2.
func Members(a Authentication) int {
	switch a.(type) {
	case NoAuthentication:
		return 0
	case MemberAuthentication:
		return 1
	case DoubleMemberAuthentication:
		return 2
	}
	panic(fmt.Sprintf("policy: unknown authentication %T", a))
}

// Encoding returns the member encoding of a; EncodeKey for NoAuthentication.
func Encoding(a Authentication) MemberEncoding {
	switch a := a.(type) {
	case MemberAuthentication:
		return a.Encoding
	case DoubleMemberAuthentication:
		return a.Encoding
	}
	return EncodeKey
}

// Resolution decides who may create a message. The set is closed:
// [PublicResolution], [LinearResolution], [DynamicResolution].
type Resolution interface {
	isResolution()
	fmt.Stringer
}

// PublicResolution: any member may create the message.
type PublicResolution struct{}

// LinearResolution: only members holding the permit permission for the
// message type at the message's global time may create it.
type LinearResolution struct{}

// DynamicResolution switches between Public and Linear at run time with
// dispersy-dynamic-settings messages. Policies[0] is the default; the index
// of the policy the creator used is one byte on the wire, so the order is
// part of the protocol. A message type with dynamic resolution needs an Undo
// handler, because a settings change can undo stored messages.
type DynamicResolution struct {
	Policies []Resolution
}

func (PublicResolution) isResolution()  {}
func (LinearResolution) isResolution()  {}
func (DynamicResolution) isResolution() {}

// String returns the policy's name.
func (PublicResolution) String() string { return "PublicResolution" }

// String returns the policy's name.
func (LinearResolution) String() string { return "LinearResolution" }

// String returns the policy's name and its policies in wire order.
func (d DynamicResolution) String() string {
	s := "DynamicResolution("
	for i, p := range d.Policies {
		if i > 0 {
			s += ", "
		}
		s += p.String()
	}
	return s + ")"
}

// Direction is the order in which sync answers send a message type's
// messages.
type Direction uint8

const (
	// Ascending sends the oldest global time first. The default.
	Ascending Direction = iota
	// Descending sends the newest global time first.
	Descending
	// Random sends in an order drawn from the engine's random source.
	Random
)

// String returns Dispersy's name of the direction: "ASC", "DESC" or
// "RANDOM".
func (d Direction) String() string {
	switch d {
	case Ascending:
		return "ASC"
	case Descending:
		return "DESC"
	case Random:
		return "RANDOM"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// SyncPriorityThreshold: messages of a type with priority at or below it are
// never put in, or answered from, the bloom-filter sync; they are fetched on
// demand only (dispersy-identity has priority 16).
const SyncPriorityThreshold = 32

// DefaultPriority is Dispersy's advice for ordinary message types.
const DefaultPriority = 128

// Distribution decides how a message spreads and what is kept. The set is
// closed: [DirectDistribution], [FullSyncDistribution],
// [LastSyncDistribution].
type Distribution interface {
	isDistribution()
	fmt.Stringer
}

// DirectDistribution: sent once to its destination, never stored or synced.
type DirectDistribution struct{}

// FullSyncDistribution: every message is stored and synced to every member.
type FullSyncDistribution struct {
	Direction Direction
	// Priority orders sync answers (higher first); at or below
	// SyncPriorityThreshold the type is never bloom-synced.
	Priority uint8
	// SequenceNumbers makes each member's messages of this type a gapless
	// sequence 1, 2, 3… with rising global time.
	SequenceNumbers bool
	// Pruning drops old messages; nil means NoPruning.
	Pruning Pruning
}

// LastSyncDistribution: only the newest HistorySize messages per member (per
// member pair for double-signed messages) are kept and synced.
type LastSyncDistribution struct {
	Direction   Direction
	Priority    uint8
	HistorySize int
	Pruning     Pruning
}

func (DirectDistribution) isDistribution()   {}
func (FullSyncDistribution) isDistribution() {}
func (LastSyncDistribution) isDistribution() {}

// String returns the policy's name.
func (DirectDistribution) String() string { return "DirectDistribution" }

// String returns the policy's name and parameters.
func (d FullSyncDistribution) String() string {
	return fmt.Sprintf("FullSyncDistribution(%s, priority %d, sequence %t, %s)", d.Direction, d.Priority, d.SequenceNumbers, pruningString(d.Pruning))
}

// String returns the policy's name and parameters.
func (d LastSyncDistribution) String() string {
	return fmt.Sprintf("LastSyncDistribution(%s, priority %d, history %d, %s)", d.Direction, d.Priority, d.HistorySize, pruningString(d.Pruning))
}

// Synced reports whether d stores messages (FullSync or LastSync).
func Synced(d Distribution) bool {
	switch d.(type) {
	case FullSyncDistribution, LastSyncDistribution:
		return true
	}
	return false
}

// SyncParams returns the direction, priority and pruning of a synced
// distribution; ok is false for DirectDistribution.
func SyncParams(d Distribution) (dir Direction, priority uint8, pruning Pruning, ok bool) {
	switch d := d.(type) {
	case FullSyncDistribution:
		return d.Direction, d.Priority, d.Pruning, true
	case LastSyncDistribution:
		return d.Direction, d.Priority, d.Pruning, true
	}
	return 0, 0, nil, false
}

// BloomSynced reports whether messages of distribution d take part in the
// bloom-filter sync: synced, with priority above SyncPriorityThreshold.
func BloomSynced(d Distribution) bool {
	_, p, _, ok := SyncParams(d)
	return ok && p > SyncPriorityThreshold
}

// HasSequence reports whether d carries sequence numbers on the wire.
func HasSequence(d Distribution) bool {
	f, ok := d.(FullSyncDistribution)
	return ok && f.SequenceNumbers
}

// Pruning decides when stored messages of a type are dropped. The set is
// closed: [NoPruning] (also nil) and [GlobalTimePruning].
type Pruning interface {
	isPruning()
}

// NoPruning keeps messages forever.
type NoPruning struct{}

// GlobalTimePruning ages messages by global time. With d = community global
// time − message global time, a message is active if d < Inactive, inactive
// if Inactive ≤ d < Pruned, and pruned (deleted) if d ≥ Pruned. Incoming
// messages that are not active are dropped; sync answers send only active
// ones.
type GlobalTimePruning struct {
	Inactive uint64
	Pruned   uint64
}

func (NoPruning) isPruning()         {}
func (GlobalTimePruning) isPruning() {}

// PruneState is the age class of a message under GlobalTimePruning.
type PruneState uint8

const (
	// Active messages are accepted and sent in sync answers.
	Active PruneState = iota
	// Inactive messages are kept but neither accepted nor sent.
	Inactive
	// Pruned messages are deleted.
	Pruned
)

// String returns "active", "inactive" or "pruned".
func (s PruneState) String() string {
	switch s {
	case Active:
		return "active"
	case Inactive:
		return "inactive"
	case Pruned:
		return "pruned"
	}
	return fmt.Sprintf("prunestate(%d)", uint8(s))
}

// State classifies a message with global time gt when the community's global
// time is now.
func (p GlobalTimePruning) State(now, gt uint64) PruneState {
	if gt >= now {
		return Active
	}
	d := now - gt
	switch {
	case d < p.Inactive:
		return Active
	case d < p.Pruned:
		return Inactive
	}
	return Pruned
}

// PruneStateOf classifies gt under pruning p (nil or NoPruning: Active).
func PruneStateOf(p Pruning, now, gt uint64) PruneState {
	if g, ok := p.(GlobalTimePruning); ok {
		return g.State(now, gt)
	}
	return Active
}

func pruningString(p Pruning) string {
	if g, ok := p.(GlobalTimePruning); ok {
		return fmt.Sprintf("GlobalTimePruning(%d, %d)", g.Inactive, g.Pruned)
	}
	return "NoPruning"
}

// Destination decides where a newly created message goes. The set is
// closed: [CandidateDestination], [CommunityDestination].
type Destination interface {
	isDestination()
	fmt.Stringer
}

// CandidateDestination: sent to exactly the candidates given at creation.
type CandidateDestination struct{}

// CommunityDestination: sent at creation to up to NodeCount random verified
// candidates (plus any given explicitly). NodeCount 0: not pushed at all,
// only synced.
type CommunityDestination struct {
	NodeCount int
}

func (CandidateDestination) isDestination() {}
func (CommunityDestination) isDestination() {}

// String returns the policy's name.
func (CandidateDestination) String() string { return "CandidateDestination" }

// String returns the policy's name and node count.
func (d CommunityDestination) String() string {
	return fmt.Sprintf("CommunityDestination(%d)", d.NodeCount)
}
