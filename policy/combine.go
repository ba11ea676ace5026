package policy

import (
	"errors"
	"fmt"
)

// Set is the four policies of one message type.
type Set struct {
	Authentication Authentication
	Resolution     Resolution
	Distribution   Distribution
	Destination    Destination
}

// RuleError reports a broken combination or value rule. Rule is the rule's
// short name (stable, for tests and docs); Error says what to change.
type RuleError struct {
	Rule string
	Msg  string
}

// Error returns "policy: RULE: MESSAGE".
func (e *RuleError) Error() string { return "policy: " + e.Rule + ": " + e.Msg }

// rule is one entry of the combination table. broken reports whether s
// violates the rule; it may assume the rules before it hold.
type rule struct {
	name   string
	msg    string
	broken func(s Set) bool
}

// rules are Dispersy's check_policy_combination (dispersy.md §1.5) plus the
// value checks Dispersy did with asserts. The order matters only for which
// error is reported first; Check reports every broken rule.
var rules = []rule{
	{"authentication-required", "Authentication is nil; use NoAuthentication, MemberAuthentication or DoubleMemberAuthentication",
		func(s Set) bool { return s.Authentication == nil }},
	{"resolution-required", "Resolution is nil; use PublicResolution, LinearResolution or DynamicResolution",
		func(s Set) bool { return s.Resolution == nil }},
	{"distribution-required", "Distribution is nil; use DirectDistribution, FullSyncDistribution or LastSyncDistribution",
		func(s Set) bool { return s.Distribution == nil }},
	{"destination-required", "Destination is nil; use CandidateDestination or CommunityDestination",
		func(s Set) bool { return s.Destination == nil }},
	{"value-types", "policies must be the package's value types (MemberAuthentication{}, not &MemberAuthentication{}); Pruning must be nil, NoPruning or GlobalTimePruning",
		func(s Set) bool { return !knownTypes(s) }},
	{"member-encoding", "member encoding must be EncodeKey or EncodeID",
		func(s Set) bool { return s.Authentication != nil && Encoding(s.Authentication) > EncodeID }},
	{"no-authentication-public", "NoAuthentication needs PublicResolution: an unsigned message cannot prove a permission",
		func(s Set) bool {
			_, noAuth := s.Authentication.(NoAuthentication)
			_, public := s.Resolution.(PublicResolution)
			return noAuth && s.Resolution != nil && !public
		}},
	{"no-authentication-direct", "NoAuthentication needs DirectDistribution: unsigned messages cannot be stored or synced",
		func(s Set) bool {
			_, noAuth := s.Authentication.(NoAuthentication)
			_, direct := s.Distribution.(DirectDistribution)
			return noAuth && s.Distribution != nil && !direct
		}},
	{"linear-needs-member", "LinearResolution (also inside DynamicResolution) needs MemberAuthentication or DoubleMemberAuthentication",
		func(s Set) bool {
			_, noAuth := s.Authentication.(NoAuthentication)
			return noAuth && usesLinear(s.Resolution)
		}},
	{"sync-needs-community-destination", "FullSyncDistribution and LastSyncDistribution need CommunityDestination",
		func(s Set) bool {
			_, community := s.Destination.(CommunityDestination)
			return Synced(s.Distribution) && s.Destination != nil && !community
		}},
	{"candidate-destination-direct", "CandidateDestination needs DirectDistribution",
		func(s Set) bool {
			_, candidate := s.Destination.(CandidateDestination)
			_, direct := s.Distribution.(DirectDistribution)
			return candidate && s.Distribution != nil && !direct
		}},
	{"sequence-not-double", "FullSyncDistribution with SequenceNumbers cannot use DoubleMemberAuthentication: a refused counter-signature would leave a gap",
		func(s Set) bool {
			_, double := s.Authentication.(DoubleMemberAuthentication)
			return double && HasSequence(s.Distribution)
		}},
	{"direction-valid", "Direction must be Ascending, Descending or Random",
		func(s Set) bool {
			d, _, _, ok := SyncParams(s.Distribution)
			return ok && d > Random
		}},
	{"history-size-positive", "LastSyncDistribution.HistorySize must be at least 1",
		func(s Set) bool {
			l, ok := s.Distribution.(LastSyncDistribution)
			return ok && l.HistorySize < 1
		}},
	{"history-size-bounded", "LastSyncDistribution.HistorySize must be at most 65535",
		func(s Set) bool {
			l, ok := s.Distribution.(LastSyncDistribution)
			return ok && l.HistorySize > 65535
		}},
	{"pruning-thresholds", "GlobalTimePruning needs 0 < Inactive < Pruned",
		func(s Set) bool {
			_, _, p, _ := SyncParams(s.Distribution)
			g, ok := p.(GlobalTimePruning)
			return ok && (g.Inactive == 0 || g.Inactive >= g.Pruned)
		}},
	{"dynamic-policies", "DynamicResolution needs 1 to 254 policies, each PublicResolution or LinearResolution",
		func(s Set) bool {
			d, ok := s.Resolution.(DynamicResolution)
			if !ok {
				return false
			}
			if len(d.Policies) < 1 || len(d.Policies) > 254 {
				return true
			}
			for _, p := range d.Policies {
				switch p.(type) {
				case PublicResolution, LinearResolution:
				default:
					return true
				}
			}
			return false
		}},
	{"node-count", "CommunityDestination.NodeCount must be >= 0",
		func(s Set) bool {
			c, ok := s.Destination.(CommunityDestination)
			return ok && c.NodeCount < 0
		}},
}

// RuleNames lists the names of every rule Check applies, in order.
func RuleNames() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// Check reports every rule that s breaks, joined; nil if s is a valid
// combination. Each error is a *RuleError.
func Check(s Set) error {
	var errs []error
	for _, r := range rules {
		if r.broken(s) {
			errs = append(errs, &RuleError{Rule: r.name, Msg: r.msg})
		}
	}
	return errors.Join(errs...)
}

// knownTypes reports whether every non-nil policy of s is one of the value
// types of this package. A pointer such as &MemberAuthentication{} also
// satisfies the interfaces (its method set includes the value's), but the
// type switches of this package and of the engine would not recognise it.
// Nil policies are reported by the *-required rules.
func knownTypes(s Set) bool {
	switch s.Authentication.(type) {
	case nil, NoAuthentication, MemberAuthentication, DoubleMemberAuthentication:
	default:
		return false
	}
	switch s.Resolution.(type) {
	case nil, PublicResolution, LinearResolution, DynamicResolution:
	default:
		return false
	}
	switch s.Distribution.(type) {
	case nil, DirectDistribution, FullSyncDistribution, LastSyncDistribution:
	default:
		return false
	}
	switch s.Destination.(type) {
	case nil, CandidateDestination, CommunityDestination:
	default:
		return false
	}
	_, _, p, _ := SyncParams(s.Distribution)
	switch p.(type) {
	case nil, NoPruning, GlobalTimePruning:
	default:
		return false
	}
	return true
}

// usesLinear reports whether r is or may become LinearResolution.
func usesLinear(r Resolution) bool {
	switch r := r.(type) {
	case LinearResolution:
		return true
	case DynamicResolution:
		for _, p := range r.Policies {
			if _, ok := p.(LinearResolution); ok {
				return true
			}
		}
	}
	return false
}

// String describes s on one line.
func (s Set) String() string {
	return fmt.Sprintf("%v, %v, %v, %v", s.Authentication, s.Resolution, s.Distribution, s.Destination)
}
