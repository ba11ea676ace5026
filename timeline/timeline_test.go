package timeline

import (
	"slices"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var (
	tMaster = keys.MemberID{0xaa}
	tAlice  = keys.MemberID{0x01}
	tBob    = keys.MemberID{0x02}
)

func mustNew(t *testing.T, res map[uint8]policy.Resolution) *Timeline {
	t.Helper()
	tl, err := New(Config{Master: tMaster, SettingsType: 236, Resolutions: res})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func authorize(by keys.MemberID, gt uint64, to keys.MemberID, typ uint8, p Permission) Message {
	return Message{Kind: KindAuthorize, Ref: Ref{Author: by, GlobalTime: gt}, Grants: []Grant{{Member: to, Type: typ, Permission: p}}}
}

func TestNewValidates(t *testing.T) {
	dyn := func(ps ...policy.Resolution) policy.DynamicResolution { return policy.DynamicResolution{Policies: ps} }
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings, one per expected problem
	}{
		{"ok", Config{Master: tMaster, Resolutions: map[uint8]policy.Resolution{
			1: policy.PublicResolution{}, 2: policy.LinearResolution{}, 3: dyn(policy.PublicResolution{}, policy.LinearResolution{}),
		}}, nil},
		{"ok without resolutions", Config{Master: tMaster}, nil},
		{"zero master", Config{}, []string{"Config.Master is zero"}},
		{"nil resolution", Config{Master: tMaster, Resolutions: map[uint8]policy.Resolution{4: nil}},
			[]string{"type 4: resolution is <nil>"}},
		{"empty dynamic", Config{Master: tMaster, Resolutions: map[uint8]policy.Resolution{5: dyn()}},
			[]string{"type 5: DynamicResolution needs 1 to 254 policies, has 0"}},
		{"nested dynamic and zero master", Config{Resolutions: map[uint8]policy.Resolution{6: dyn(policy.PublicResolution{}, dyn(policy.PublicResolution{}))}},
			[]string{"Config.Master is zero", "type 6: DynamicResolution policy 1 is DynamicResolution(PublicResolution)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := New(tc.cfg)
			if len(tc.want) == 0 {
				if err != nil || tl == nil {
					t.Fatalf("New = %v, %v; want a timeline", tl, err)
				}
				return
			}
			if err == nil || tl != nil {
				t.Fatalf("New = %v, %v; want an error", tl, err)
			}
			if len(strings.Split(err.Error(), "\n")) != len(tc.want) {
				t.Errorf("error %q: want %d problems", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestConfigAndMessageAreCopied: the caller may reuse or change what it
// passed in; the timeline keeps its own copy.
func TestConfigAndMessageAreCopied(t *testing.T) {
	res := map[uint8]policy.Resolution{7: policy.LinearResolution{}}
	tl := mustNew(t, res)
	res[7] = policy.PublicResolution{}
	if ok, _ := tl.Check([]keys.MemberID{tAlice}, 7, 10); ok {
		t.Fatal("changing the caller's Resolutions map after New changed the timeline")
	}

	m := authorize(tMaster, 10, tAlice, 7, Permit)
	m.Tiebreak = []byte{1, 2, 3}
	tl.Insert(m)
	m.Grants[0].Member = tBob
	m.Tiebreak[0] = 9
	if ok, _ := tl.Allowed(tAlice, 7, Permit, 10); !ok {
		t.Error("alice lost permit after the caller reused the Grants slice")
	}
	if ok, _ := tl.Allowed(tBob, 7, Permit, 10); ok {
		t.Error("bob gained permit through the caller's Grants slice")
	}

	_, proof := tl.Allowed(tAlice, 7, Permit, 11)
	proof[0].GlobalTime = 99
	if _, again := tl.Allowed(tAlice, 7, Permit, 11); again[0].GlobalTime != 10 {
		t.Errorf("changing a returned proof changed the timeline: %v", again)
	}
}

func TestUndefinedKindPanics(t *testing.T) {
	tl := mustNew(t, nil)
	for name, f := range map[string]func(){
		"Insert":                 func() { tl.Insert(Message{Ref: Ref{Author: tMaster, GlobalTime: 1}}) },
		"InsertBatch":            func() { tl.InsertBatch([]Message{authorize(tMaster, 1, tAlice, 7, Permit), {Kind: 9}}) },
		"CheckPermissionMessage": func() { tl.CheckPermissionMessage(Message{}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "undefined kind") {
					t.Errorf("recovered %v, want a panic naming the undefined kind", r)
				}
			}()
			f()
		})
	}
	if tl.Len() != 0 {
		t.Errorf("Len = %d after refused inserts, want 0", tl.Len())
	}
	// The refused batch left nothing behind: its valid message inserts now.
	if _, changed := tl.Insert(authorize(tMaster, 1, tAlice, 7, Permit)); !changed || !tl.Valid(Ref{tMaster, 1}) {
		t.Error("a message of a refused batch was half inserted")
	}
}

// TestInsertReturns pins the (changedFrom, changed) results of the cases
// the engine relies on.
func TestInsertReturns(t *testing.T) {
	tl := mustNew(t, map[uint8]policy.Resolution{7: policy.LinearResolution{}})
	type step struct {
		name    string
		do      func() (uint64, bool)
		from    uint64
		changed bool
	}
	steps := []step{
		{"member authorize without rights", func() (uint64, bool) { return tl.Insert(authorize(tAlice, 30, tBob, 7, Permit)) }, 0, false},
		{"root grant below it validates it", func() (uint64, bool) { return tl.Insert(authorize(tMaster, 20, tAlice, 7, Authorize)) }, 20, true},
		{"duplicate ref", func() (uint64, bool) { return tl.Insert(authorize(tMaster, 20, tBob, 7, Permit)) }, 0, false},
		{"remove unknown", func() (uint64, bool) { return tl.Remove(Ref{Author: tBob, GlobalTime: 1}) }, 0, false},
		{"late revoke below both", func() (uint64, bool) {
			return tl.Insert(Message{Kind: KindRevoke, Ref: Ref{Author: tMaster, GlobalTime: 25}, Grants: []Grant{{tAlice, 7, Authorize}}})
		}, 25, true},
		{"remove the revoke", func() (uint64, bool) { return tl.Remove(Ref{Author: tMaster, GlobalTime: 25}) }, 25, true},
		{"empty batch", func() (uint64, bool) { return tl.InsertBatch(nil) }, 0, false},
	}
	for _, s := range steps {
		from, changed := s.do()
		if from != s.from || changed != s.changed {
			t.Errorf("%s: got (%d, %t), want (%d, %t)", s.name, from, changed, s.from, s.changed)
		}
	}
	if !tl.Valid(Ref{Author: tAlice, GlobalTime: 30}) {
		t.Error("alice@30 should be valid again after the revoke was removed")
	}
	if got, want := tl.Messages(), []Ref{{tMaster, 20}, {tAlice, 30}}; !slices.Equal(got, want) {
		t.Errorf("Messages = %v, want %v", got, want)
	}
}

func TestPermissionAndKindStrings(t *testing.T) {
	for p, want := range map[Permission]string{
		0: "none", Permit: "permit", Authorize | Undo: "authorize+undo", AllPermissions: "permit+authorize+revoke+undo",
		Permit | 0x30: "permit+0x30",
	} {
		if got := p.String(); got != want {
			t.Errorf("Permission(%#x).String() = %q, want %q", uint8(p), got, want)
		}
	}
	for p, want := range map[Permission]bool{0: false, Permit: true, AllPermissions: true, 0x10: false, Undo | 0x80: false} {
		if p.Valid() != want {
			t.Errorf("Permission(%#x).Valid() = %t", uint8(p), !want)
		}
	}
	if !(Permit | Undo).Has(Undo) || Permit.Has(Permit|Undo) {
		t.Error("Has is wrong")
	}
	for k, want := range map[Kind]string{KindAuthorize: "authorize", KindRevoke: "revoke", KindDynamicSettings: "dynamic-settings", 0: "kind(0)", 4: "kind(4)"} {
		if got := k.String(); got != want || k.Valid() != (k >= 1 && k <= 3) {
			t.Errorf("Kind(%d): %q valid=%t", k, got, k.Valid())
		}
	}
	// The wire values are Dispersy's.
	if Permit != 0x01 || Authorize != 0x02 || Revoke != 0x04 || Undo != 0x08 {
		t.Error("permission bits differ from Dispersy's wire values")
	}
	r := Ref{Author: keys.MemberID{0xab}, GlobalTime: 42}
	if got := r.String(); got != "ab00000000000000000000000000000000000000@42" {
		t.Errorf("Ref.String() = %q", got)
	}
}

// TestTiebreakThenAuthor: messages at one global time replay by tiebreak
// bytes, then by author id.
func TestTiebreakThenAuthor(t *testing.T) {
	tl := mustNew(t, nil)
	ms := []Message{
		{Kind: KindAuthorize, Ref: Ref{tBob, 5}, Tiebreak: []byte("a")},
		{Kind: KindAuthorize, Ref: Ref{tAlice, 5}, Tiebreak: []byte("b")},
		{Kind: KindAuthorize, Ref: Ref{tMaster, 5}, Tiebreak: []byte("a")},
		{Kind: KindAuthorize, Ref: Ref{tAlice, 4}, Tiebreak: []byte("z")},
	}
	tl.InsertBatch(ms)
	want := []Ref{{tAlice, 4}, {tBob, 5}, {tMaster, 5}, {tAlice, 5}}
	if got := tl.Messages(); !slices.Equal(got, want) {
		t.Errorf("Messages = %v, want %v", got, want)
	}
}
