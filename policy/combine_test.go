package policy_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/policy"
)

// base is a valid set; rows change one policy of it.
func base() policy.Set {
	return policy.Set{
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Priority: policy.DefaultPriority},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	}
}

func with(f func(*policy.Set)) policy.Set {
	s := base()
	f(&s)
	return s
}

// brokenRules returns the rule names of every *RuleError in err, in order.
// It fails the test for any other error in the join.
func brokenRules(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var names []string
	for _, e := range errs {
		var re *policy.RuleError
		if !errors.As(e, &re) {
			t.Fatalf("Check returned %T %v, want *RuleError", e, e)
		}
		if !strings.Contains(re.Error(), re.Rule) {
			t.Errorf("error %q does not name its rule %q", re.Error(), re.Rule)
		}
		if re.Msg == "" {
			t.Errorf("rule %q has no message", re.Rule)
		}
		names = append(names, re.Rule)
	}
	return names
}

// TestCombinationRules is the combination table: every rule of
// policy.RuleNames() has at least one row that breaks it, and Check names
// exactly the rules each row breaks.
func TestCombinationRules(t *testing.T) {
	many := make([]policy.Resolution, 255)
	for i := range many {
		many[i] = policy.PublicResolution{}
	}
	tests := []struct {
		name string
		set  policy.Set
		want []string // the broken rules, in RuleNames order; nil = valid
	}{
		// Valid combinations.
		{"valid/member-fullsync", base(), nil},
		{"valid/member-fullsync-seq", with(func(s *policy.Set) {
			s.Distribution = policy.FullSyncDistribution{SequenceNumbers: true, Priority: 128}
		}), nil},
		{"valid/no-auth-direct-candidate", mkSet(policy.NoAuthentication{}, policy.PublicResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{}), nil},
		{"valid/no-auth-direct-community", mkSet(policy.NoAuthentication{}, policy.PublicResolution{}, policy.DirectDistribution{}, policy.CommunityDestination{}), nil},
		{"valid/member-by-id-direct-candidate", mkSet(policy.MemberAuthentication{Encoding: policy.EncodeID}, policy.LinearResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{}), nil},
		{"valid/double-lastsync", with(func(s *policy.Set) {
			s.Authentication = policy.DoubleMemberAuthentication{Encoding: policy.EncodeID}
			s.Distribution = policy.LastSyncDistribution{HistorySize: 1}
		}), nil},
		{"valid/double-fullsync-no-seq", with(func(s *policy.Set) { s.Authentication = policy.DoubleMemberAuthentication{} }), nil},
		{"valid/dynamic-public-linear", with(func(s *policy.Set) {
			s.Resolution = policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}}
		}), nil},
		{"valid/dynamic-254", with(func(s *policy.Set) { s.Resolution = policy.DynamicResolution{Policies: many[:254]} }), nil},
		{"valid/lastsync-history-65535", with(func(s *policy.Set) { s.Distribution = policy.LastSyncDistribution{HistorySize: 65535} }), nil},
		{"valid/pruning-1-2", with(func(s *policy.Set) {
			s.Distribution = policy.FullSyncDistribution{Pruning: policy.GlobalTimePruning{Inactive: 1, Pruned: 2}}
		}), nil},
		{"valid/no-pruning-value", with(func(s *policy.Set) {
			s.Distribution = policy.LastSyncDistribution{HistorySize: 3, Pruning: policy.NoPruning{}}
		}), nil},
		{"valid/random-desc", with(func(s *policy.Set) { s.Distribution = policy.FullSyncDistribution{Direction: policy.Random} }), nil},
		{"valid/node-count-0", with(func(s *policy.Set) { s.Destination = policy.CommunityDestination{} }), nil},

		// One or more rows per rule.
		{"authentication-required", with(func(s *policy.Set) { s.Authentication = nil }), []string{"authentication-required"}},
		{"resolution-required", with(func(s *policy.Set) { s.Resolution = nil }), []string{"resolution-required"}},
		{"distribution-required", with(func(s *policy.Set) { s.Distribution = nil }), []string{"distribution-required"}},
		{"destination-required", with(func(s *policy.Set) { s.Destination = nil }), []string{"destination-required"}},
		{"all-required", policy.Set{}, []string{"authentication-required", "resolution-required", "distribution-required", "destination-required"}},
		{"value-types/authentication", with(func(s *policy.Set) { s.Authentication = &policy.MemberAuthentication{} }), []string{"value-types"}},
		{"value-types/resolution", with(func(s *policy.Set) { s.Resolution = &policy.PublicResolution{} }), []string{"value-types"}},
		{"value-types/distribution", with(func(s *policy.Set) { s.Distribution = &policy.FullSyncDistribution{} }), []string{"value-types"}},
		{"value-types/destination", with(func(s *policy.Set) {
			s.Distribution = policy.DirectDistribution{}
			s.Destination = &policy.CommunityDestination{}
		}), []string{"value-types"}},
		{"value-types/pruning", with(func(s *policy.Set) {
			s.Distribution = policy.FullSyncDistribution{Pruning: &policy.GlobalTimePruning{Inactive: 1, Pruned: 2}}
		}), []string{"value-types"}},
		{"member-encoding/member", with(func(s *policy.Set) { s.Authentication = policy.MemberAuthentication{Encoding: 2} }), []string{"member-encoding"}},
		{"member-encoding/double", with(func(s *policy.Set) { s.Authentication = policy.DoubleMemberAuthentication{Encoding: 255} }), []string{"member-encoding"}},
		{"no-authentication-public", mkSet(policy.NoAuthentication{}, policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}}}, policy.DirectDistribution{}, policy.CandidateDestination{}),
			[]string{"no-authentication-public"}},
		{"no-authentication-direct/fullsync", mkSet(policy.NoAuthentication{}, policy.PublicResolution{}, policy.FullSyncDistribution{}, policy.CommunityDestination{}),
			[]string{"no-authentication-direct"}},
		{"no-authentication-direct/lastsync", mkSet(policy.NoAuthentication{}, policy.PublicResolution{}, policy.LastSyncDistribution{HistorySize: 1}, policy.CommunityDestination{}),
			[]string{"no-authentication-direct"}},
		{"linear-needs-member/linear", mkSet(policy.NoAuthentication{}, policy.LinearResolution{}, policy.DirectDistribution{}, policy.CandidateDestination{}),
			[]string{"no-authentication-public", "linear-needs-member"}},
		{"linear-needs-member/dynamic", mkSet(policy.NoAuthentication{}, policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}}, policy.DirectDistribution{}, policy.CandidateDestination{}),
			[]string{"no-authentication-public", "linear-needs-member"}},
		// With a closed set of destinations, a synced type without
		// CommunityDestination has CandidateDestination, so both rules break.
		{"sync-needs-community-destination/fullsync", with(func(s *policy.Set) { s.Destination = policy.CandidateDestination{} }),
			[]string{"sync-needs-community-destination", "candidate-destination-direct"}},
		{"candidate-destination-direct/lastsync", with(func(s *policy.Set) {
			s.Destination = policy.CandidateDestination{}
			s.Distribution = policy.LastSyncDistribution{HistorySize: 1}
		}), []string{"sync-needs-community-destination", "candidate-destination-direct"}},
		{"sequence-not-double", with(func(s *policy.Set) {
			s.Authentication = policy.DoubleMemberAuthentication{}
			s.Distribution = policy.FullSyncDistribution{SequenceNumbers: true}
		}), []string{"sequence-not-double"}},
		{"direction-valid/fullsync", with(func(s *policy.Set) { s.Distribution = policy.FullSyncDistribution{Direction: 3} }), []string{"direction-valid"}},
		{"direction-valid/lastsync", with(func(s *policy.Set) { s.Distribution = policy.LastSyncDistribution{Direction: 200, HistorySize: 1} }), []string{"direction-valid"}},
		{"history-size-positive/0", with(func(s *policy.Set) { s.Distribution = policy.LastSyncDistribution{} }), []string{"history-size-positive"}},
		{"history-size-positive/negative", with(func(s *policy.Set) { s.Distribution = policy.LastSyncDistribution{HistorySize: -5} }), []string{"history-size-positive"}},
		{"history-size-bounded", with(func(s *policy.Set) { s.Distribution = policy.LastSyncDistribution{HistorySize: 65536} }), []string{"history-size-bounded"}},
		{"pruning-thresholds/inactive-0", with(func(s *policy.Set) {
			s.Distribution = policy.FullSyncDistribution{Pruning: policy.GlobalTimePruning{Inactive: 0, Pruned: 10}}
		}), []string{"pruning-thresholds"}},
		{"pruning-thresholds/equal", with(func(s *policy.Set) {
			s.Distribution = policy.LastSyncDistribution{HistorySize: 1, Pruning: policy.GlobalTimePruning{Inactive: 10, Pruned: 10}}
		}), []string{"pruning-thresholds"}},
		{"pruning-thresholds/reversed", with(func(s *policy.Set) {
			s.Distribution = policy.FullSyncDistribution{Pruning: policy.GlobalTimePruning{Inactive: 20, Pruned: 10}}
		}), []string{"pruning-thresholds"}},
		{"dynamic-policies/empty", with(func(s *policy.Set) { s.Resolution = policy.DynamicResolution{} }), []string{"dynamic-policies"}},
		{"dynamic-policies/255", with(func(s *policy.Set) { s.Resolution = policy.DynamicResolution{Policies: many} }), []string{"dynamic-policies"}},
		{"dynamic-policies/nested", with(func(s *policy.Set) {
			s.Resolution = policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.DynamicResolution{Policies: []policy.Resolution{policy.LinearResolution{}}}}}
		}), []string{"dynamic-policies"}},
		{"dynamic-policies/nil", with(func(s *policy.Set) { s.Resolution = policy.DynamicResolution{Policies: []policy.Resolution{nil}} }), []string{"dynamic-policies"}},
		{"dynamic-policies/pointer", with(func(s *policy.Set) {
			s.Resolution = policy.DynamicResolution{Policies: []policy.Resolution{&policy.LinearResolution{}}}
		}), []string{"dynamic-policies"}},
		{"node-count", with(func(s *policy.Set) { s.Destination = policy.CommunityDestination{NodeCount: -1} }), []string{"node-count"}},

		// Several rules at once: Check reports them all.
		{"many", mkSet(policy.NoAuthentication{}, policy.LinearResolution{}, policy.LastSyncDistribution{}, policy.CandidateDestination{}),
			[]string{"no-authentication-public", "no-authentication-direct", "linear-needs-member", "sync-needs-community-destination", "candidate-destination-direct", "history-size-positive"}},
	}

	covered := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.Check(tc.set)
			got := brokenRules(t, err)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Check(%v) broke %q, want %q (error: %v)", tc.set, got, tc.want, err)
			}
			if tc.want != nil {
				// errors.As finds the first broken rule.
				var re *policy.RuleError
				if !errors.As(err, &re) || re.Rule != tc.want[0] {
					t.Errorf("errors.As found %v, want rule %q", re, tc.want[0])
				}
			}
			for _, r := range got {
				covered[r] = true
			}
		})
	}

	names := policy.RuleNames()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("rule name %q appears twice in RuleNames", n)
		}
		seen[n] = true
		if !covered[n] {
			t.Errorf("rule %q has no failing row in the combination table", n)
		}
	}
	for n := range covered {
		if !seen[n] {
			t.Errorf("Check reported rule %q, which RuleNames does not list", n)
		}
	}
}

// Enumeration of the policy values, shared with the round-trip tests in
// conversion (which keep their own copy: test code is not importable).

func authentications() []policy.Authentication {
	return []policy.Authentication{
		policy.NoAuthentication{},
		policy.MemberAuthentication{Encoding: policy.EncodeKey},
		policy.MemberAuthentication{Encoding: policy.EncodeID},
		policy.DoubleMemberAuthentication{Encoding: policy.EncodeKey},
		policy.DoubleMemberAuthentication{Encoding: policy.EncodeID},
	}
}

func resolutions() []policy.Resolution {
	return []policy.Resolution{
		policy.PublicResolution{},
		policy.LinearResolution{},
		policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}},
		policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}}},
	}
}

func distributions() []policy.Distribution {
	prune := policy.GlobalTimePruning{Inactive: 10, Pruned: 20}
	var out []policy.Distribution
	out = append(out, policy.DirectDistribution{})
	for _, seq := range []bool{false, true} {
		for _, p := range []policy.Pruning{nil, prune} {
			out = append(out, policy.FullSyncDistribution{Priority: 128, SequenceNumbers: seq, Pruning: p})
		}
	}
	for _, p := range []policy.Pruning{nil, prune} {
		out = append(out, policy.LastSyncDistribution{Priority: 128, HistorySize: 1, Pruning: p})
	}
	return out
}

func destinations() []policy.Destination {
	return []policy.Destination{policy.CandidateDestination{}, policy.CommunityDestination{NodeCount: 10}}
}

func allSets() []policy.Set {
	var out []policy.Set
	for _, a := range authentications() {
		for _, r := range resolutions() {
			for _, d := range distributions() {
				for _, dst := range destinations() {
					out = append(out, policy.Set{Authentication: a, Resolution: r, Distribution: d, Destination: dst})
				}
			}
		}
	}
	return out
}

// dispersyAllows restates Message.check_policy_combination (dispersy.md
// §1.5) independently of policy.Check, by type switches on the values:
//
//   - NoAuthentication → PublicResolution; Direct distribution.
//   - FullSync and LastSync → Member or DoubleMember authentication, and
//     CommunityDestination.
//   - FullSync with sequence numbers plus DoubleMember is forbidden.
//   - LinearResolution → Member or DoubleMember authentication.
//   - CandidateDestination → Direct distribution only.
//
// Dispersy's NoAuthentication check is isinstance(PublicResolution), so a
// DynamicResolution (even of Public only) is refused with NoAuthentication.
func dispersyAllows(s policy.Set) bool {
	_, noAuth := s.Authentication.(policy.NoAuthentication)
	_, double := s.Authentication.(policy.DoubleMemberAuthentication)
	_, public := s.Resolution.(policy.PublicResolution)
	linear := false
	switch r := s.Resolution.(type) {
	case policy.LinearResolution:
		linear = true
	case policy.DynamicResolution:
		for _, p := range r.Policies {
			if p == (policy.LinearResolution{}) {
				linear = true
			}
		}
	}
	_, direct := s.Distribution.(policy.DirectDistribution)
	full, isFull := s.Distribution.(policy.FullSyncDistribution)
	_, isLast := s.Distribution.(policy.LastSyncDistribution)
	_, candidate := s.Destination.(policy.CandidateDestination)
	_, community := s.Destination.(policy.CommunityDestination)

	switch {
	case noAuth && !public:
		return false
	case noAuth && !direct:
		return false
	case (isFull || isLast) && (noAuth || !community):
		return false
	case isFull && full.SequenceNumbers && double:
		return false
	case linear && noAuth:
		return false
	case candidate && !direct:
		return false
	}
	return true
}

// TestAllCombinations cross-checks Check over every combination of the
// enumerated policy values against the independent restatement above.
func TestAllCombinations(t *testing.T) {
	sets := allSets()
	if want := 5 * 4 * 7 * 2; len(sets) != want {
		t.Fatalf("enumerated %d combinations, want %d", len(sets), want)
	}
	valid := 0
	for _, s := range sets {
		err := policy.Check(s)
		if want := dispersyAllows(s); (err == nil) != want {
			t.Errorf("Check(%v) = %v, but Dispersy's rules say allowed=%t", s, err, want)
		}
		if err == nil {
			valid++
			// A valid set never makes the helpers panic.
			_ = policy.Members(s.Authentication)
		}
	}
	// Pin the count so a change in the rules is noticed here too.
	// Valid: NoAuth×Public×Direct×2 destinations = 2;
	// Member(key|id)×4 res×(Direct×2 + 6 synced×Community) = 2×4×8 = 64;
	// Double(key|id)×4 res×(Direct×2 + 4 synced without seq) = 2×4×6 = 48.
	if valid != 2+64+48 {
		t.Errorf("%d valid combinations, want %d", valid, 2+64+48)
	}
}

func ExampleCheck() {
	err := policy.Check(policy.Set{
		Authentication: policy.NoAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Priority: policy.DefaultPriority},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
	var re *policy.RuleError
	if errors.As(err, &re) {
		fmt.Println(re.Rule)
	}
	fmt.Println(err)
	// Output:
	// no-authentication-direct
	// policy: no-authentication-direct: NoAuthentication needs DirectDistribution: unsigned messages cannot be stored or synced
}

// mkSet builds a policy set from its four policies.
func mkSet(a policy.Authentication, r policy.Resolution, d policy.Distribution, dst policy.Destination) policy.Set {
	return policy.Set{Authentication: a, Resolution: r, Distribution: d, Destination: dst}
}
