package timeline

// A tiny datadriven DSL (in the style of cockroachdb/datadriven and
// tailscale tka's chaintest), with no external dependency. A script in
// testdata/*.txt is a sequence of blocks:
//
//	# comment
//	<command> key=value ...
//	----
//	<expected output, one or more lines>
//	<blank line>
//
// Comments and blank lines between blocks are kept by -rewrite, which
// regenerates every expected output: go test ./timeline -run TestScripts -rewrite
//
// Commands (member names are free words; "master" is the master unless
// `new master=` says otherwise; refs are written name@gt):
//
//	new [master=NAME] [settings=ID] TYPE=RES ...   RES: public | linear | P1/P2/... (dynamic)
//	authorize by=NAME gt=N to=A[,B] type=T[,U] perm=P[,Q] [tb=BYTES]
//	revoke    by=NAME gt=N to=A[,B] type=T[,U] perm=P[,Q] [tb=BYTES]
//	settings  by=NAME gt=N set=T:INDEX[,U:INDEX] [tb=BYTES]
//	batch     (then more insert commands on the following lines, before ----)
//	remove ref=NAME@N
//	propose authorize|revoke|settings ...           CheckPermissionMessage, no insert
//	valid ref=NAME@N                                Proof / Valid
//	allowed member=A type=T perm=P gt=N
//	check member=A[,B] type=T gt=N                  (member= empty: no signer)
//	resolution type=T gt=N
//	periods type=T from=N to=M                      Resolution over a range, merged
//	chain member=A[,B] type=T gt=N                  Check, then Proof recursively
//	messages                                        replay order with validity
//
// The grants of authorize and revoke are the cross product of to × type,
// each with the union of the perm bits.

import (
	"bufio"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt scripts")

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt scripts")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

// scriptBlock is one command block, or a run of pass-through lines.
type scriptBlock struct {
	line     int      // 1-based line of the first command line
	cmd      []string // command lines; nil for pass-through
	expected []string
	text     []string // pass-through lines
}

func parseScript(t *testing.T, path string) []scriptBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []scriptBlock
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	for {
		l, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			blocks = append(blocks, scriptBlock{text: []string{l}})
			continue
		}
		b := scriptBlock{line: n, cmd: []string{l}}
		for {
			l, ok = next()
			if !ok {
				t.Fatalf("%s:%d: command without ---- separator", path, b.line)
			}
			if l == "----" {
				break
			}
			b.cmd = append(b.cmd, l)
		}
		for {
			l, ok = next()
			if !ok || strings.TrimSpace(l) == "" {
				break
			}
			b.expected = append(b.expected, l)
		}
		blocks = append(blocks, b)
		if ok {
			blocks = append(blocks, scriptBlock{text: []string{""}})
		}
	}
	return blocks
}

func runScript(t *testing.T, path string) {
	blocks := parseScript(t, path)
	e := newScriptEnv()
	var out strings.Builder
	for _, b := range blocks {
		if b.cmd == nil {
			for _, l := range b.text {
				out.WriteString(l + "\n")
			}
			continue
		}
		got := e.run(b.cmd)
		for _, l := range b.cmd {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n" + strings.Join(got, "\n") + "\n")
		if !*rewrite && !slices.Equal(got, b.expected) {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, b.line, strings.Join(b.cmd, " / "),
				strings.Join(got, "\n"), strings.Join(b.expected, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scriptEnv holds the timeline under test and the member names.
type scriptEnv struct {
	tl     *Timeline
	master string
	names  map[keys.MemberID]string
	kinds  map[Ref]Kind
}

func newScriptEnv() *scriptEnv {
	e := &scriptEnv{names: map[keys.MemberID]string{}, kinds: map[Ref]Kind{}}
	e.reset("master", 236, nil)
	return e
}

func (e *scriptEnv) reset(master string, settings uint8, res map[uint8]policy.Resolution) string {
	e.master = master
	e.kinds = map[Ref]Kind{}
	tl, err := New(Config{Master: e.id(master), SettingsType: settings, Resolutions: res})
	if err != nil {
		return "error: " + err.Error()
	}
	e.tl = tl
	return "ok"
}

// id maps a name to a stable member id.
func (e *scriptEnv) id(name string) keys.MemberID {
	sum := sha256.Sum256([]byte("timeline-test-member:" + name))
	var id keys.MemberID
	copy(id[:], sum[:])
	e.names[id] = name
	return id
}

func (e *scriptEnv) ref(r Ref) string {
	if n, ok := e.names[r.Author]; ok {
		return fmt.Sprintf("%s@%d", n, r.GlobalTime)
	}
	return r.String()
}

func (e *scriptEnv) refs(rs []Ref) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = e.ref(r)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (e *scriptEnv) parseRef(s string) (Ref, error) {
	name, gt, ok := strings.Cut(s, "@")
	if !ok {
		return Ref{}, fmt.Errorf("ref %q: want name@gt", s)
	}
	n, err := strconv.ParseUint(gt, 10, 64)
	if err != nil {
		return Ref{}, fmt.Errorf("ref %q: %v", s, err)
	}
	return Ref{Author: e.id(name), GlobalTime: n}, nil
}

// args is a parsed command line.
type args struct {
	cmd  string
	pos  []string
	kv   map[string]string
	used map[string]bool
}

func parseArgs(line string) args {
	f := strings.Fields(line)
	a := args{cmd: f[0], kv: map[string]string{}, used: map[string]bool{}}
	for _, w := range f[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	return a
}

func (a *args) get(k string) (string, bool) {
	a.used[k] = true
	v, ok := a.kv[k]
	return v, ok
}

func (a *args) must(k string) string {
	v, ok := a.get(k)
	if !ok {
		panic(scriptError(fmt.Sprintf("missing %s=", k)))
	}
	return v
}

func (a *args) uint(k string) uint64 {
	n, err := strconv.ParseUint(a.must(k), 10, 64)
	if err != nil {
		panic(scriptError(fmt.Sprintf("%s=: %v", k, err)))
	}
	return n
}

func (a *args) list(k string) []string {
	v := a.must(k)
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// unused reports keys nobody asked for, to catch typos in scripts.
func (a *args) unused() error {
	var bad []string
	for k := range a.kv {
		if !a.used[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("unknown arguments %v", bad)
	}
	return nil
}

type scriptError string

func parsePerm(s string) Permission {
	var p Permission
	for _, w := range strings.Split(s, ",") {
		switch w {
		case "permit":
			p |= Permit
		case "authorize":
			p |= Authorize
		case "revoke":
			p |= Revoke
		case "undo":
			p |= Undo
		default:
			n, err := strconv.ParseUint(w, 0, 8)
			if err != nil {
				panic(scriptError("perm: unknown permission " + w))
			}
			p |= Permission(n)
		}
	}
	return p
}

func parseType(s string) uint8 {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		panic(scriptError("type: " + err.Error()))
	}
	return uint8(n)
}

func resName(r policy.Resolution) string {
	switch r.(type) {
	case policy.PublicResolution:
		return "public"
	case policy.LinearResolution:
		return "linear"
	}
	return r.String()
}

func parseRes(s string) policy.Resolution {
	one := func(w string) policy.Resolution {
		switch w {
		case "public":
			return policy.PublicResolution{}
		case "linear":
			return policy.LinearResolution{}
		}
		panic(scriptError("unknown resolution " + w))
	}
	if !strings.Contains(s, "/") {
		return one(s)
	}
	var d policy.DynamicResolution
	for _, w := range strings.Split(s, "/") {
		d.Policies = append(d.Policies, one(w))
	}
	return d
}

func verdict(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func changeText(from uint64, changed bool) string {
	if !changed {
		return "unchanged"
	}
	return fmt.Sprintf("changed-from=%d", from)
}

// run executes one block and returns its output lines. A malformed command
// yields an "error: ..." line, which then shows up as a diff.
func (e *scriptEnv) run(lines []string) (out []string) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(scriptError)
			if !ok {
				panic(r)
			}
			out = []string{"error: " + string(msg)}
		}
	}()
	a := parseArgs(lines[0])
	if a.cmd == "batch" {
		var ms []Message
		for _, l := range lines[1:] {
			b := parseArgs(l)
			ms = append(ms, e.message(b.cmd, &b))
			if err := b.unused(); err != nil {
				return []string{"error: " + err.Error()}
			}
		}
		for _, m := range ms {
			if _, ok := e.kinds[m.Ref]; !ok {
				e.kinds[m.Ref] = m.Kind
			}
		}
		from, changed := e.tl.InsertBatch(ms)
		for _, m := range ms {
			ok, proof := e.tl.Proof(m.Ref)
			out = append(out, fmt.Sprintf("%s %s", e.ref(m.Ref), verdict(ok, "valid proof="+e.refs(proof), "invalid")))
		}
		return append(out, changeText(from, changed))
	}
	if len(lines) > 1 {
		return []string{"error: only batch takes several lines"}
	}
	out = e.exec(&a)
	if err := a.unused(); err != nil {
		return []string{"error: " + err.Error()}
	}
	return out
}

func (e *scriptEnv) message(kind string, a *args) Message {
	m := Message{Ref: Ref{Author: e.id(a.must("by")), GlobalTime: a.uint("gt")}}
	if tb, ok := a.get("tb"); ok {
		m.Tiebreak = []byte(tb)
	}
	switch kind {
	case "authorize", "revoke":
		m.Kind = KindAuthorize
		if kind == "revoke" {
			m.Kind = KindRevoke
		}
		perm := parsePerm(a.must("perm"))
		types := a.list("type")
		for _, to := range a.list("to") {
			for _, typ := range types {
				m.Grants = append(m.Grants, Grant{Member: e.id(to), Type: parseType(typ), Permission: perm})
			}
		}
	case "settings":
		m.Kind = KindDynamicSettings
		for _, s := range a.list("set") {
			typ, idx, ok := strings.Cut(s, ":")
			if !ok {
				panic(scriptError("set: want TYPE:INDEX"))
			}
			m.Settings = append(m.Settings, Setting{Type: parseType(typ), PolicyIndex: parseType(idx)})
		}
	default:
		panic(scriptError("unknown message kind " + kind))
	}
	return m
}

func (e *scriptEnv) members(a *args) []keys.MemberID {
	var ms []keys.MemberID
	for _, n := range a.list("member") {
		ms = append(ms, e.id(n))
	}
	return ms
}

func (e *scriptEnv) exec(a *args) []string {
	switch a.cmd {
	case "new":
		master := "master"
		if v, ok := a.get("master"); ok {
			master = v
		}
		settings := uint8(236)
		if v, ok := a.get("settings"); ok {
			settings = parseType(v)
		}
		res := map[uint8]policy.Resolution{}
		for k := range a.kv {
			if n, err := strconv.ParseUint(k, 10, 8); err == nil {
				res[uint8(n)] = parseRes(a.must(k))
			}
		}
		return strings.Split(e.reset(master, settings, res), "\n")

	case "authorize", "revoke", "settings":
		m := e.message(a.cmd, a)
		dup := slices.Contains(e.tl.Messages(), m.Ref)
		from, changed := e.tl.Insert(m)
		if !dup {
			e.kinds[m.Ref] = m.Kind
		}
		if dup {
			return []string{"duplicate " + changeText(from, changed)}
		}
		ok, proof := e.tl.Proof(m.Ref)
		return []string{verdict(ok, "valid proof="+e.refs(proof), "invalid") + " " + changeText(from, changed)}

	case "remove":
		r, err := e.parseRef(a.must("ref"))
		if err != nil {
			panic(scriptError(err.Error()))
		}
		from, changed := e.tl.Remove(r)
		delete(e.kinds, r)
		return []string{changeText(from, changed)}

	case "propose":
		if len(a.pos) != 1 {
			panic(scriptError("propose: want a kind: authorize, revoke or settings"))
		}
		ok, proof := e.tl.CheckPermissionMessage(e.message(a.pos[0], a))
		return []string{verdict(ok, "valid proof="+e.refs(proof), "invalid")}

	case "valid":
		r, err := e.parseRef(a.must("ref"))
		if err != nil {
			panic(scriptError(err.Error()))
		}
		ok, proof := e.tl.Proof(r)
		if ok != e.tl.Valid(r) {
			return []string{"error: Valid and Proof disagree"}
		}
		return []string{verdict(ok, "valid proof="+e.refs(proof), "invalid")}

	case "allowed":
		ok, proof := e.tl.Allowed(e.id(a.must("member")), parseType(a.must("type")), parsePerm(a.must("perm")), a.uint("gt"))
		return []string{verdict(ok, "allow", "deny") + " proof=" + e.refs(proof)}

	case "check":
		ok, proof := e.tl.Check(e.members(a), parseType(a.must("type")), a.uint("gt"))
		return []string{verdict(ok, "allow", "deny") + " proof=" + e.refs(proof)}

	case "resolution":
		r, idx, proof := e.tl.Resolution(parseType(a.must("type")), a.uint("gt"))
		return []string{fmt.Sprintf("%s index=%d proof=%s", resName(r), idx, e.refs(proof))}

	case "periods":
		typ := parseType(a.must("type"))
		from, to := a.uint("from"), a.uint("to")
		var out []string
		start, last := from, ""
		for gt := from; gt <= to+1; gt++ {
			cur := ""
			if gt <= to {
				r, _, proof := e.tl.Resolution(typ, gt)
				cur = resName(r) + " " + e.refs(proof)
			}
			if gt > from && cur != last {
				out = append(out, fmt.Sprintf("%d-%d %s", start, gt-1, last))
				start = gt
			}
			last = cur
		}
		return out

	case "chain":
		ok, proof := e.tl.Check(e.members(a), parseType(a.must("type")), a.uint("gt"))
		out := []string{verdict(ok, "allow", "deny") + " proof=" + e.refs(proof)}
		var walk func(rs []Ref, depth int)
		walk = func(rs []Ref, depth int) {
			for _, r := range rs {
				valid, p := e.tl.Proof(r)
				out = append(out, fmt.Sprintf("%s%s %s", strings.Repeat("  ", depth), e.ref(r),
					verdict(valid, "valid proof="+e.refs(p), "invalid")))
				walk(p, depth+1)
			}
		}
		walk(proof, 1)
		return out

	case "messages":
		var out []string
		for _, r := range e.tl.Messages() {
			out = append(out, fmt.Sprintf("%s %v %s", e.ref(r), e.kinds[r], verdict(e.tl.Valid(r), "valid", "invalid")))
		}
		if len(out) == 0 {
			out = []string{"(none)"}
		}
		return out
	}
	panic(scriptError("unknown command " + a.cmd))
}
