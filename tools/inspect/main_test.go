package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/examples/chat"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var (
	chatMaster   = keys.DeriveKey(keys.Ed25519, []byte("inspect test chat master"))
	customMaster = keys.DeriveKey(keys.Ed25519, []byte("inspect test custom master"))
	// me signs in the debug and custom communities; in the chat community
	// the engine signs with chatMaster.
	me = keys.DeriveKey(keys.Ed448, []byte("inspect test member"))

	chatCID   = chatMaster.Public().CommunityID()
	debugCID  = dispersytest.DebugMaster.Public().CommunityID()
	customCID = customMaster.Public().CommunityID()
)

// The custom community is one this tool has no definition for: its
// packets get the generic, inferred dump.
var (
	customSeq = dispersy.DefineMessage[dispersytest.Text](dispersy.MessageSpec{
		ID: 7, Name: "custom-sequence",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128, SequenceNumbers: true},
		Destination:    policy.CommunityDestination{NodeCount: 1},
	})
	customByID = dispersy.DefineMessage[dispersytest.Text](dispersy.MessageSpec{
		ID: 8, Name: "custom-by-id",
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeID},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Direction: policy.Descending, Priority: 100},
		Destination:    policy.CommunityDestination{NodeCount: 1},
	})
)

type customOverlay struct{}

func (customOverlay) Define(d *dispersy.Definition) {
	d.Master = customMaster.Public()
	d.Name = "custom-test"
	dispersy.Register(d, customSeq, dispersy.Handlers[dispersytest.Text]{})
	dispersy.Register(d, customByID, dispersy.Handlers[dispersytest.Text]{})
}

// fixture is a store file written by a real engine.
type fixture struct {
	path string
	// gts of some messages, for the packet command.
	say1, announce, identity, debugByID, customSeq2, customByID uint64
	// grant and revoke are real permission messages; raw is a record whose
	// packet no definition decodes.
	grant, revoke, raw uint64
}

// makeStore writes a store with three communities: chat (signed with the
// master key: lines, statuses, an announcement, one line undone), debug
// (a sequence and an id-encoded message) and custom (unknown to the tool),
// plus a grant, a revoke, and a raw record no definition decodes.
func makeStore(t *testing.T) fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	cfg := dispersy.DefaultConfig()
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	eng, err := dispersy.NewEngine(cfg, me, st)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetTime(time.Unix(1_700_000_000, 0))
	f := fixture{path: path}
	// gt checks a Create result and returns the message's global time.
	gt := func(m interface{ Key() dispersy.MessageKey }, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m.Key().GlobalTime
	}

	cc, err := eng.Join(chat.New(chatMaster.Public()), dispersy.WithMember(chatMaster))
	if err != nil {
		t.Fatal(err)
	}
	hist, err := st.History(chatCID, dispersy.IDIdentity, chatMaster.ID(), keys.MemberID{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("identity of the chat member: %v, %v", hist, err)
	}
	f.identity = hist[0].GlobalTime
	f.say1 = gt(chat.Say(cc, "alice", "hello\nworld"))
	gt(chat.Say(cc, "alice", "second"))
	undone := gt(chat.Say(cc, "alice", "to be undone"))
	gt(chat.SetStatus(cc, "busy"))
	gt(chat.SetStatus(cc, "free"))
	f.announce = gt(chat.Announce(cc, "rules"))
	f.grant = gt(cc.Authorize(dispersy.Grants(me.Public(), dispersy.Permit|dispersy.PermRevoke, chat.ModeratorType)))
	f.revoke = gt(cc.Revoke(dispersy.Grants(me.Public(), dispersy.PermRevoke, chat.ModeratorType)))

	dc, err := eng.Join(dispersytest.NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	gt(dispersy.Create(dc, dispersytest.SequenceText, dispersytest.Text{Text: "one"}))
	gt(dispersy.Create(dc, dispersytest.SequenceText, dispersytest.Text{Text: "two"}))
	f.debugByID = gt(dispersy.Create(dc, dispersytest.IDText, dispersytest.Text{Text: "by id"}))

	xc, err := eng.Join(customOverlay{})
	if err != nil {
		t.Fatal(err)
	}
	gt(dispersy.Create(xc, customSeq, dispersytest.Text{Text: "s1"}))
	f.customSeq2 = gt(dispersy.Create(xc, customSeq, dispersytest.Text{Text: "s2"}))
	f.customByID = gt(dispersy.Create(xc, customByID, dispersytest.Text{Text: "id"}))

	// Undo one chat line (by a permission change) and add a raw record that
	// no definition decodes, straight in the store.
	var b dispersy.Batch
	b.SetUndone(chatCID, dispersy.MessageKey{Member: chatMaster.ID(), GlobalTime: undone}, true, dispersy.MessageKey{})
	f.raw = 900
	pkt := []byte("raw permission packet 243")
	b.Put(dispersy.Record{Community: chatCID, Member: chatMaster.ID(), GlobalTime: f.raw, MessageID: dispersy.IDAuthorize, Sequence: 99,
		Hash: dispersy.PacketHash(pkt), Packet: pkt})
	if err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	return f
}

func inspect(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := inspect(t, args...)
	if code != exitOK || errs != "" {
		t.Fatalf("inspect %q: exit %d, stderr %q", args, code, errs)
	}
	return out
}

// wantLines fails unless every pattern matches some line of out.
func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		found := false
		for _, l := range lines {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line matches %q in:\n%s", p, out)
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestCommands(t *testing.T) {
	f := makeStore(t)
	before := fileSum(t, f.path)
	chatID, debugID, customID := chatCID.String(), debugCID.String(), customCID.String()
	ws := `\s+`

	t.Run("communities", func(t *testing.T) {
		for _, args := range [][]string{{f.path}, {f.path, "communities"}} {
			out := ok(t, args...)
			blocks := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
			if len(blocks) != 3 {
				t.Fatalf("%d community blocks, want 3:\n%s", len(blocks), out)
			}
			byCID := map[string]string{}
			var order []string
			for _, b := range blocks {
				id := strings.TrimPrefix(strings.SplitN(b, "\n", 2)[0], "community: ")
				byCID[id] = b
				order = append(order, id)
			}
			if !sortedStrings(order) {
				t.Errorf("communities not ordered by id: %v", order)
			}
			// chat: identity, 3 lines (1 undone), 1 status, 1 announcement,
			// a grant, a revoke and the raw record.
			wantLines(t, byCID[chatID],
				`^classification: chat$`,
				`^master: `+chatMaster.Public().String()+` \(ed25519\)$`,
				`^me: `+chatMaster.ID().String()+` \(ed25519, private key stored: yes\)$`,
				`^auto-load: yes$`,
				`^messages: 9 \(1 undone\)$`,
				`^max global time: 900$`)
			wantLines(t, byCID[debugID], `^classification: debug$`, `^me: `+me.ID().String()+` \(ed448, private key stored: yes\)$`, `^messages: 4 \(0 undone\)$`)
			wantLines(t, byCID[customID], `^classification: custom-test$`, `^messages: 4 \(0 undone\)$`)
		}
	})

	t.Run("types", func(t *testing.T) {
		out := ok(t, f.path, "types", chatID[:6])
		wantLines(t, out,
			`^ID`+ws+`NAME`+ws+`PRIORITY`+ws+`DIRECTION`+ws+`COUNT`+ws+`UNDONE$`,
			`^1`+ws+`message`+ws+`128`+ws+`ASC`+ws+`3`+ws+`1$`,
			`^2`+ws+`status`+ws+`128`+ws+`ASC`+ws+`1`+ws+`0$`,
			`^3`+ws+`moderator`+ws+`192`+ws+`ASC`+ws+`1`+ws+`0$`,
			`^248`+ws+`dispersy-identity`+ws+`16`+ws+`ASC`+ws+`1`+ws+`0$`,
			`^243 .*`+ws+`2`+ws+`0$`,
			`^242 .*`+ws+`1`+ws+`0$`)
		out = ok(t, f.path, "types", customID)
		wantLines(t, out, `^7`+ws+`custom-sequence`+ws+`128`+ws+`ASC`+ws+`2`+ws+`0$`, `^8`+ws+`custom-by-id`+ws+`100`+ws+`DESC`+ws+`1`+ws+`0$`)
	})

	t.Run("members", func(t *testing.T) {
		out := ok(t, f.path, "members")
		wantLines(t, out,
			`^MEMBER`+ws+`SCHEME`+ws+`PRIVATE KEY`+ws+`MESSAGES`+ws+`ROLES$`,
			`^`+chatMaster.ID().String()+ws+`ed25519`+ws+`yes`+ws+`9`+ws+`master of `+chatID[:8]+`, me in `+chatID[:8]+`$`,
			`^`+me.ID().String()+ws+`ed448`+ws+`yes`+ws+`8`+ws+`me in .*, me in `,
			`^`+dispersytest.DebugMaster.ID().String()+ws+`ed25519`+ws+`no`+ws+`0`+ws+`master of `+debugID[:8]+`$`)
		if n := strings.Count(out, "\n"); n != 5 {
			t.Errorf("%d lines, want a header and 4 members (3 masters, one of them also our member, and me):\n%s", n, out)
		}
	})

	t.Run("messages", func(t *testing.T) {
		out := ok(t, f.path, "messages", chatID)
		wantLines(t, out,
			`^GT`+ws+`TYPE`+ws+`MEMBER`+ws+`SEQ`+ws+`UNDONE`+ws+`SIZE$`,
			fmt.Sprintf(`^%d`+ws+`248 dispersy-identity`+ws+`%s`+ws+`-`+ws+`no`+ws+`\d+$`, f.identity, chatMaster.ID()),
			fmt.Sprintf(`^%d`+ws+`1 message`+ws+`%s`+ws+`-`+ws+`no`+ws+`\d+$`, f.say1, chatMaster.ID()),
			`^\d+`+ws+`1 message .*`+ws+`yes`+ws+`\d+$`,
			fmt.Sprintf(`^%d`+ws+`243 `+`.*`+ws+`1`+ws+`no`+ws+`\d+$`, f.grant),
			fmt.Sprintf(`^%d`+ws+`242 `+`.*`+ws+`1`+ws+`no`+ws+`\d+$`, f.revoke),
			`^900`+ws+`243 `+`.*`+ws+`99`+ws+`no`+ws+`\d+$`)
		if n := strings.Count(out, "\n"); n != 10 {
			t.Errorf("%d lines, want a header and 9 messages:\n%s", n, out)
		}
		gts := regexp.MustCompile(`(?m)^(\d+) `).FindAllStringSubmatch(out, -1)
		prev := uint64(0)
		for _, g := range gts {
			var gt uint64
			fmt.Sscan(g[1], &gt)
			if gt < prev {
				t.Errorf("messages not in global-time order:\n%s", out)
				break
			}
			prev = gt
		}
		for _, args := range [][]string{
			{"messages", debugID, "-type", "107", "-limit", "1"},
			{"messages", "-type", "107", debugID, "-limit", "1"},
			{"messages", "-limit", "1", "-type", "107", debugID[:10]},
		} {
			out := ok(t, append([]string{f.path}, args...)...)
			want := `^\d+` + ws + `107 sequence-text` + ws + me.ID().String() + ws + `1` + ws + `no` + ws + `\d+$`
			wantLines(t, out, want)
			if n := strings.Count(out, "\n"); n != 2 {
				t.Errorf("%q: %d lines, want a header and 1 message:\n%s", args, n, out)
			}
		}
	})

	t.Run("packet decoded with the chat definition", func(t *testing.T) {
		out := ok(t, f.path, "packet", chatID[:8], chatMaster.ID().String()[:8], fmt.Sprint(f.say1))
		key := regexp.QuoteMeta(chatMaster.Public().String())
		wantLines(t, out,
			`^type: 1 message$`, `^undone: no$`, `^size: \d+ bytes$`,
			`^message 1 "message" of the chat community: MemberAuthentication\(key\), PublicResolution, FullSyncDistribution`,
			`^0`+ws+`1`+ws+`wire version`+ws+`0x01$`,
			`^1`+ws+`1`+ws+`community version`+ws+`1$`,
			`^2`+ws+`20`+ws+`community id`+ws+chatID+`$`,
			`^22`+ws+`1`+ws+`message id`+ws+`1 \(message\)$`,
			`^23`+ws+`33`+ws+`author 1 key`+ws+key+` \(ed25519, mid `+chatMaster.ID().String()+`\)$`,
			fmt.Sprintf(`^56`+ws+`8`+ws+`global time`+ws+`%d$`, f.say1),
			`^64`+ws+`\d+`+ws+`payload`+ws+`[0-9a-f]+$`,
			`^64`+ws+`\d+`+ws+`payload \(decoded\)`+ws+`chat.Post\{Author:"alice", Text:"hello\\nworld"\}$`,
			`^\d+`+ws+`64`+ws+`signature 1`+ws+`\(valid\)$`)
		out = ok(t, f.path, "packet", chatID, chatMaster.ID().String(), fmt.Sprint(f.announce))
		wantLines(t, out, `LinearResolution`, `payload \(decoded\)`+ws+`chat.Status\{Text:"rules"\}$`, `signature 1`+ws+`\(valid\)$`)
		// A grant holds a key pointer: shown by its String, not its address.
		out = ok(t, f.path, "packet", chatID, chatMaster.ID().String(), fmt.Sprint(f.grant))
		wantLines(t, out, `payload \(decoded\)`+ws+`payload.Authorize\{Grants:\[\{Member:`+me.Public().String()+` MessageType:3 Permission:permit\+revoke\}\]\}$`)
		out = ok(t, f.path, "packet", chatID, chatMaster.ID().String(), fmt.Sprint(f.identity))
		wantLines(t, out, `^type: 248 dispersy-identity$`, `payload`+ws+`\(empty\)$`, `signature 1`+ws+`\(valid\)$`)
	})

	t.Run("packet decoded with the debug definition", func(t *testing.T) {
		out := ok(t, f.path, "packet", debugID, me.ID().String(), fmt.Sprint(f.debugByID))
		wantLines(t, out,
			`^message 113 "id-text" of the debug community`,
			`^23`+ws+`21`+ws+`author 1 id`+ws+me.ID().String()+` \(ed448\)$`,
			`^44`+ws+`8`+ws+`global time`,
			`payload \(decoded\)`+ws+`dispersytest.Text\{Text:"by id"\}$`,
			`^\d+`+ws+`114`+ws+`signature 1`+ws+`\(valid\)$`)
	})

	t.Run("packet of an unknown community is inferred", func(t *testing.T) {
		out := ok(t, f.path, "packet", customID, me.ID().String(), fmt.Sprint(f.customSeq2))
		wantLines(t, out,
			`^this tool does not know the definition of the "custom-test" community; generic dump:$`,
			`^22`+ws+`1`+ws+`message id`+ws+`7$`,
			`^23`+ws+`58`+ws+`author 1 key \(inferred\)`+ws+`[0-9a-f]+ \(ed448, mid `+me.ID().String()+`\)$`,
			fmt.Sprintf(`^81`+ws+`8`+ws+`global time \(inferred\)`+ws+`%d$`, f.customSeq2),
			`^89`+ws+`4`+ws+`sequence number \(inferred\)`+ws+`2$`,
			`^93`+ws+`\d+`+ws+`payload \(inferred\)`+ws+`[0-9a-f]+$`,
			`^\d+`+ws+`114`+ws+`signature 1 \(inferred\)`+ws+`\(valid\)$`)
		out = ok(t, f.path, "packet", customID, me.ID().String(), fmt.Sprint(f.customByID))
		wantLines(t, out,
			`^23`+ws+`21`+ws+`author 1 id \(inferred\)`+ws+me.ID().String()+` \(ed448\)$`,
			`^44`+ws+`8`+ws+`global time \(inferred\)`,
			`signature 1 \(inferred\)`+ws+`\(valid\)$`)
	})

	t.Run("packet the definition cannot decode", func(t *testing.T) {
		out := ok(t, f.path, "packet", chatID, chatMaster.ID().String(), fmt.Sprint(f.raw))
		wantLines(t, out,
			`^the chat definition does not decode this packet \(.+\); generic dump:$`,
			`^0`+ws+`1`+ws+`wire version`+ws+`0x72 \(not wire v1\)$`,
			`^23`+ws+`\d+`+ws+`unparsed`)
	})

	t.Run("timeline", func(t *testing.T) {
		out := ok(t, f.path, "timeline", chatID)
		wantLines(t, out,
			`^permission messages \(236 dispersy-dynamic-settings, 242 dispersy-revoke, 243 dispersy-authorize\) by global time:$`,
			fmt.Sprintf(`^gt %d  type 243 \S+  member `, f.grant)+chatMaster.ID().String()+`  seq 1  undone no  \d+ bytes  hash [0-9a-f]{32}$`,
			`^  grant `+me.ID().String()+` permit\+revoke on \d+ \S*moderator\S*$`,
			fmt.Sprintf(`^gt %d  type 242 `, f.revoke),
			`^  revoke `+me.ID().String()+` revoke on \d+ \S*moderator\S*$`,
			`^gt 900  type 243 \S+  member `+chatMaster.ID().String()+`  seq 99  undone no  \d+ bytes  hash [0-9a-f]{32}$`,
			`^  does not decode \(.+\); packet `+fmt.Sprintf("%x", "raw permission packet 243")+`$`)
		if strings.Index(out, fmt.Sprintf("gt %d ", f.grant)) > strings.Index(out, "gt 900") {
			t.Errorf("timeline not in global-time order:\n%s", out)
		}
		out = ok(t, f.path, "timeline", debugID)
		wantLines(t, out, `^\(none\)$`)
	})

	if fileSum(t, f.path) != before {
		t.Error("the store file changed while being inspected")
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// TestEmptyStore: a store with no community says so.
func TestEmptyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, path); out != path+" holds no community\n" {
		t.Fatalf("got %q", out)
	}
	if out := ok(t, path, "members"); strings.Count(out, "\n") != 1 {
		t.Fatalf("members of an empty store: %q, want the header only", out)
	}
}

// patched copies the closed store at src to a new file with the 4-byte
// big-endian header field at off set to v.
func patched(t *testing.T, src string, off int, v uint32) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(b[off:], v)
	dst := filepath.Join(t.TempDir(), "patched.db")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestBadFiles: a file the tool cannot read gives one sentence on stderr
// and exit status 1, and is neither created nor modified.
func TestBadFiles(t *testing.T) {
	f := makeStore(t)
	dir := t.TempDir()
	notSQLite := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notSQLite, bytes.Repeat([]byte("just some text\n"), 20), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	latest := uint32(database.SchemaVersion())
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.db"), "does not exist"},
		{"folder", dir, "is a folder, not a store file"},
		{"not SQLite", notSQLite, "is not a SQLite file, so not a dispersy-go store"},
		{"empty", empty, "is not a SQLite file"},
		{"newer schema", patched(t, f.path, userVersionOffset, latest+1), fmt.Sprintf("has store schema version %d, newer than this tool's %d", latest+1, latest)},
		{"older schema", patched(t, f.path, userVersionOffset, latest-1), "older than this tool's"},
		{"another application", patched(t, f.path, applicationIDOffset, 0x12345678), "SQLite file of another application (application id 0x12345678)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sum [32]byte
			if fi, err := os.Stat(tc.path); err == nil && !fi.IsDir() {
				sum = fileSum(t, tc.path)
			}
			code, out, errs := inspect(t, tc.path, "communities")
			if code != exitFail || out != "" {
				t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "inspect: ") || !strings.Contains(errs, tc.want) {
				t.Fatalf("stderr %q, want one line containing %q", errs, tc.want)
			}
			fi, err := os.Stat(tc.path)
			switch {
			case tc.name == "missing":
				if err == nil {
					t.Fatal("inspect created the missing file")
				}
			case !fi.IsDir():
				if fileSum(t, tc.path) != sum {
					t.Fatal("inspect modified the file")
				}
			}
		})
	}
}

// TestNotFound: asking for something the store does not hold is exit 1.
func TestNotFound(t *testing.T) {
	f := makeStore(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"types", "ffff"}, "holds no community with id ffff…"},
		{[]string{"packet", chatCID.String(), chatMaster.ID().String(), "99999"}, "holds no message of member " + chatMaster.ID().String() + " at global time 99999"},
		{[]string{"packet", chatCID.String(), "ffff", "1"}, "names no member with id ffff…"},
	}
	for _, tc := range tests {
		code, out, errs := inspect(t, append([]string{f.path}, tc.args...)...)
		if code != exitFail || out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	f := makeStore(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "no store file given"},
		{[]string{f.path, "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{f.path, "communities", "extra"}, "communities takes no arguments"},
		{[]string{f.path, "members", "extra"}, "members takes no arguments"},
		{[]string{f.path, "types"}, "types takes one community id"},
		{[]string{f.path, "types", "xyz"}, `"xyz" is not a community id`},
		{[]string{f.path, "types", strings.Repeat("a", 41)}, "is not a community id"},
		{[]string{f.path, "messages"}, "messages takes one community id"},
		{[]string{f.path, "messages", "aa", "bb"}, "messages takes one community id"},
		{[]string{f.path, "messages", "aa", "-type", "300"}, "-type 300 is not a message id"},
		{[]string{f.path, "messages", "aa", "-limit", "-1"}, "-limit -1 must be >= 0"},
		{[]string{f.path, "messages", "aa", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{f.path, "packet", "aa", "bb"}, "packet takes a community id, a member id and a global time"},
		{[]string{f.path, "packet", chatCID.String(), chatMaster.ID().String(), "x"}, `"x" is not a global time`},
		{[]string{f.path, "packet", chatCID.String(), chatMaster.ID().String(), "0"}, `"0" is not a global time`},
		{[]string{f.path, "packet", chatCID.String(), "zz", "1"}, `"zz" is not a member id`},
		{[]string{f.path, "timeline"}, "timeline takes one community id"},
	}
	for _, tc := range tests {
		code, out, errs := inspect(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, usageLine) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, %q and the usage line", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"store.db", "packet", "-h"}} {
		code, out, errs := inspect(t, args...)
		if code != exitOK || errs != "" {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errs)
		}
		for _, cmd := range []string{"communities", "types CID", "members", "messages CID [-type ID] [-limit N]", "packet CID MEMBER GT", "timeline CID"} {
			if !strings.Contains(out, cmd) {
				t.Errorf("%q: help lacks %q", args, cmd)
			}
		}
	}
}

// TestLiveStore: a store that a running engine holds open, with its recent
// transactions (the schema included) still in the write-ahead log, is
// read correctly, and stays usable for the engine.
func TestLiveStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.db")
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := dispersy.NewEngine(dispersy.DefaultConfig(), me, st)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetTime(time.Unix(1_700_000_000, 0))
	cc, err := eng.Join(chat.New(chatMaster.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chat.Say(cc, "bob", "first"); err != nil {
		t.Fatal(err)
	}
	if h, err := os.ReadFile(path); err == nil && len(h) >= sqliteHeaderSize {
		t.Logf("application id in the file itself: %#x (the log holds the current header)", binary.BigEndian.Uint32(h[applicationIDOffset:]))
	}
	wantLines(t, ok(t, path), `^classification: chat$`, `^messages: 2 \(0 undone\)$`)

	// The engine keeps writing; inspect sees the new message.
	if _, err := chat.Say(cc, "bob", "second"); err != nil {
		t.Fatal(err)
	}
	out := ok(t, path, "messages", chatCID.String(), "-type", "1")
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("%d lines, want a header and 2 messages:\n%s", n, out)
	}
}
