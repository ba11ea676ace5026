package policy_test

import (
	"testing"

	"github.com/dispersy-go/dispersy/policy"
)

func TestMembersAndEncoding(t *testing.T) {
	tests := []struct {
		a       policy.Authentication
		members int
		enc     policy.MemberEncoding
		str     string
	}{
		{policy.NoAuthentication{}, 0, policy.EncodeKey, "NoAuthentication"},
		{policy.MemberAuthentication{}, 1, policy.EncodeKey, "MemberAuthentication(key)"},
		{policy.MemberAuthentication{Encoding: policy.EncodeID}, 1, policy.EncodeID, "MemberAuthentication(id)"},
		{policy.DoubleMemberAuthentication{}, 2, policy.EncodeKey, "DoubleMemberAuthentication(key)"},
		{policy.DoubleMemberAuthentication{Encoding: policy.EncodeID}, 2, policy.EncodeID, "DoubleMemberAuthentication(id)"},
	}
	for _, tc := range tests {
		t.Run(tc.str, func(t *testing.T) {
			if got := policy.Members(tc.a); got != tc.members {
				t.Errorf("Members = %d, want %d", got, tc.members)
			}
			if got := policy.Encoding(tc.a); got != tc.enc {
				t.Errorf("Encoding = %v, want %v", got, tc.enc)
			}
			if got := tc.a.String(); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
		})
	}
	if got := policy.MemberEncoding(9).String(); got != "encoding(9)" {
		t.Errorf("MemberEncoding(9).String() = %q", got)
	}
	// A pointer is not one of the closed set's values: Members panics
	// (programmer error), and Check rejects it first (rule value-types).
	defer func() {
		if recover() == nil {
			t.Error("Members(&MemberAuthentication{}) did not panic")
		}
	}()
	policy.Members(&policy.MemberAuthentication{})
}

func TestDistributionHelpers(t *testing.T) {
	prune := policy.GlobalTimePruning{Inactive: 5, Pruned: 9}
	tests := []struct {
		name          string
		d             policy.Distribution
		synced, bloom bool
		seq           bool
		dir           policy.Direction
		priority      uint8
		pruning       policy.Pruning
		str           string
	}{
		{"direct", policy.DirectDistribution{}, false, false, false, 0, 0, nil, "DirectDistribution"},
		{"full", policy.FullSyncDistribution{Direction: policy.Descending, Priority: 128, SequenceNumbers: true, Pruning: prune},
			true, true, true, policy.Descending, 128, prune,
			"FullSyncDistribution(DESC, priority 128, sequence true, GlobalTimePruning(5, 9))"},
		{"full-threshold", policy.FullSyncDistribution{Priority: policy.SyncPriorityThreshold},
			true, false, false, policy.Ascending, 32, nil,
			"FullSyncDistribution(ASC, priority 32, sequence false, NoPruning)"},
		{"full-above-threshold", policy.FullSyncDistribution{Priority: policy.SyncPriorityThreshold + 1},
			true, true, false, policy.Ascending, 33, nil,
			"FullSyncDistribution(ASC, priority 33, sequence false, NoPruning)"},
		{"last-identity-like", policy.LastSyncDistribution{Priority: 16, HistorySize: 1},
			true, false, false, policy.Ascending, 16, nil,
			"LastSyncDistribution(ASC, priority 16, history 1, NoPruning)"},
		{"last", policy.LastSyncDistribution{Direction: policy.Random, Priority: 200, HistorySize: 9, Pruning: policy.NoPruning{}},
			true, true, false, policy.Random, 200, policy.NoPruning{},
			"LastSyncDistribution(RANDOM, priority 200, history 9, NoPruning)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.Synced(tc.d); got != tc.synced {
				t.Errorf("Synced = %v, want %v", got, tc.synced)
			}
			if got := policy.BloomSynced(tc.d); got != tc.bloom {
				t.Errorf("BloomSynced = %v, want %v", got, tc.bloom)
			}
			if got := policy.HasSequence(tc.d); got != tc.seq {
				t.Errorf("HasSequence = %v, want %v", got, tc.seq)
			}
			dir, pr, pruning, ok := policy.SyncParams(tc.d)
			if ok != tc.synced || dir != tc.dir || pr != tc.priority || pruning != tc.pruning {
				t.Errorf("SyncParams = %v %d %v %v, want %v %d %v %v", dir, pr, pruning, ok, tc.dir, tc.priority, tc.pruning, tc.synced)
			}
			if got := tc.d.String(); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
		})
	}
	if policy.Synced(nil) || policy.HasSequence(nil) || policy.BloomSynced(nil) {
		t.Error("a nil distribution reported as synced")
	}
}

func TestPruneState(t *testing.T) {
	p := policy.GlobalTimePruning{Inactive: 10, Pruned: 20}
	tests := []struct {
		now, gt uint64
		want    policy.PruneState
	}{
		{100, 100, policy.Active},
		{100, 150, policy.Active}, // a message from the future is active
		{100, 91, policy.Active},  // d = 9 < 10
		{100, 90, policy.Inactive},
		{100, 81, policy.Inactive}, // d = 19
		{100, 80, policy.Pruned},   // d = 20
		{100, 1, policy.Pruned},
		{0, 0, policy.Active},
		{^uint64(0), 0, policy.Pruned},
	}
	for _, tc := range tests {
		if got := p.State(tc.now, tc.gt); got != tc.want {
			t.Errorf("State(now %d, gt %d) = %v, want %v", tc.now, tc.gt, got, tc.want)
		}
		if got := policy.PruneStateOf(p, tc.now, tc.gt); got != tc.want {
			t.Errorf("PruneStateOf(now %d, gt %d) = %v, want %v", tc.now, tc.gt, got, tc.want)
		}
		for _, none := range []policy.Pruning{nil, policy.NoPruning{}} {
			if got := policy.PruneStateOf(none, tc.now, tc.gt); got != policy.Active {
				t.Errorf("PruneStateOf(%v) = %v, want active", none, got)
			}
		}
	}
	for s, want := range map[policy.PruneState]string{policy.Active: "active", policy.Inactive: "inactive", policy.Pruned: "pruned", 7: "prunestate(7)"} {
		if got := s.String(); got != want {
			t.Errorf("PruneState(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{policy.Ascending.String(), "ASC"},
		{policy.Descending.String(), "DESC"},
		{policy.Random.String(), "RANDOM"},
		{policy.Direction(3).String(), "direction(3)"},
		{policy.PublicResolution{}.String(), "PublicResolution"},
		{policy.LinearResolution{}.String(), "LinearResolution"},
		{policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}}.String(),
			"DynamicResolution(PublicResolution, LinearResolution)"},
		{policy.CandidateDestination{}.String(), "CandidateDestination"},
		{policy.CommunityDestination{NodeCount: 10}.String(), "CommunityDestination(10)"},
		{base().String(), "MemberAuthentication(key), PublicResolution, FullSyncDistribution(ASC, priority 128, sequence false, NoPruning), CommunityDestination(10)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}

// TestProtocolConstants pins values that are on the wire or in stored data.
func TestProtocolConstants(t *testing.T) {
	if policy.EncodeKey != 0 || policy.EncodeID != 1 {
		t.Errorf("member encodings changed: key=%d id=%d", policy.EncodeKey, policy.EncodeID)
	}
	if policy.Ascending != 0 || policy.Descending != 1 || policy.Random != 2 {
		t.Errorf("directions changed: %d %d %d", policy.Ascending, policy.Descending, policy.Random)
	}
	if policy.SyncPriorityThreshold != 32 || policy.DefaultPriority != 128 {
		t.Errorf("priority constants changed: %d %d", policy.SyncPriorityThreshold, policy.DefaultPriority)
	}
}
