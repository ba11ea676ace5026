// Package policy holds the four policies that describe a message type, and
// the rules for combining them.
//
// Each policy is a closed set of value types, Dispersy's policy classes
// without their behaviour:
//
//   - [Authentication] (who signed it): [NoAuthentication],
//     [MemberAuthentication], [DoubleMemberAuthentication], each signing
//     member carried on the wire by key ([EncodeKey], the default) or by id
//     ([EncodeID]);
//   - [Resolution] (who may create it): [PublicResolution],
//     [LinearResolution], [DynamicResolution];
//   - [Distribution] (how it spreads, what is kept): [DirectDistribution],
//     [FullSyncDistribution] (optionally with sequence numbers),
//     [LastSyncDistribution], with a [Direction], a priority and a [Pruning]
//     ([NoPruning] or [GlobalTimePruning]);
//   - [Destination] (where a new message goes): [CandidateDestination],
//     [CommunityDestination].
//
// The engine and the wire format switch over these types exhaustively; the
// helpers [Members], [Encoding], [Synced], [SyncParams], [BloomSynced],
// [HasSequence] and [PruneStateOf] answer the questions they ask most.
//
// # Usage
//
// Put the four policies of a message type in a [Set] and check it once, when
// the type is defined:
//
//	s := policy.Set{
//		Authentication: policy.MemberAuthentication{},
//		Resolution:     policy.PublicResolution{},
//		Distribution:   policy.FullSyncDistribution{Priority: policy.DefaultPriority, SequenceNumbers: true},
//		Destination:    policy.CommunityDestination{NodeCount: 10},
//	}
//	if err := policy.Check(s); err != nil {
//		// err joins one *RuleError per broken rule
//	}
//
// [Check] applies Dispersy's check_policy_combination (dispersy.md §1.5) and
// the value checks Dispersy made with asserts. Every broken rule is a
// [*RuleError] whose Rule is one of [RuleNames]; errors.As finds the first,
// and the joined error's Unwrap() []error lists them all.
//
// # Invariants
//
//   - Policies are values: use MemberAuthentication{}, never
//     &MemberAuthentication{}. Check rejects pointers (rule "value-types"),
//     and a Set that passes Check never makes [Members] panic.
//   - The order of [DynamicResolution.Policies] is on the wire (the creator's
//     policy index is one byte): append, never reorder.
//   - The package is pure: no I/O, no clock, no randomness.
package policy
