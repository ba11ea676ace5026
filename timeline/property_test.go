package timeline

// Property tests: the incremental Timeline against a naive reference that
// sorts the whole set and replays it from scratch after every change, over
// thousands of seeded random histories.
//
//	go test ./timeline -run Property                                  # 3000 histories (300 with -short)
//	go test ./timeline -run Property -timeline.histories=100000       # more
//	go test ./timeline -run Property -timeline.seed=7                 # other histories
//
// A failure prints the seed, the history index and the operations, so it
// replays exactly.

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var (
	flagHistories = flag.Int("timeline.histories", 0, "random histories for the property tests (0: 3000, or 300 with -short)")
	flagSeed      = flag.Uint64("timeline.seed", 1, "seed of the property tests' random histories")
)

// The world of the random histories: the master and three members, three
// message types plus the dynamic-settings type, global times 1..propMaxGT.
var (
	propMaster  = keys.MemberID{0xaa}
	propMembers = []keys.MemberID{propMaster, {0x01}, {0x02}, {0x03}}
	propNames   = map[keys.MemberID]string{propMaster: "M", {0x01}: "a", {0x02}: "b", {0x03}: "c"}
)

const (
	propSettingsType = 9
	propMaxGT        = 12
	propMaxMessages  = 40
)

func propConfig() Config {
	return Config{
		Master:       propMaster,
		SettingsType: propSettingsType,
		Resolutions: map[uint8]policy.Resolution{
			1:                policy.LinearResolution{},
			2:                policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}},
			3:                policy.DynamicResolution{Policies: []policy.Resolution{policy.LinearResolution{}, policy.PublicResolution{}}},
			propSettingsType: policy.LinearResolution{},
			// type 4 is missing: Public.
		},
	}
}

// grantTypes are the types random grants name; queryTypes those queries ask.
var (
	grantTypes = []uint8{1, 2, 3, propSettingsType}
	queryTypes = []uint8{1, 2, 3, 4, propSettingsType}
	queryPerms = []Permission{Permit, Authorize, Revoke, Undo, Permit | Authorize}
	querySets  = [][]keys.MemberID{
		{{0x01}}, {{0x02}}, {{0x03}}, {propMaster}, {{0x01}, {0x02}}, {propMaster, {0x03}}, nil,
	}
)

func histories(t *testing.T) int {
	switch {
	case *flagHistories > 0:
		return *flagHistories
	case testing.Short():
		return 300
	}
	return 3000
}

// ---- the naive reference ------------------------------------------------

type naiveEffect struct {
	member keys.MemberID
	typ    uint8
	bit    Permission
	gt     uint64
	revoke bool
	pos    int
}

type naiveSetting struct {
	typ   uint8
	index uint8
	gt    uint64
	pos   int
}

type naive struct {
	cfg   Config
	order []Message
	valid []bool
	proof [][]Ref
	perms []naiveEffect  // in replay order
	sets  []naiveSetting // in replay order
}

func naiveLess(a, b *Message) bool {
	if a.Ref.GlobalTime != b.Ref.GlobalTime {
		return a.Ref.GlobalTime < b.Ref.GlobalTime
	}
	if c := bytes.Compare(a.Tiebreak, b.Tiebreak); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.Ref.Author[:], b.Ref.Author[:]) < 0
}

// naiveReplay sorts set and replays it from scratch.
func naiveReplay(cfg Config, set []Message) *naive {
	n := &naive{cfg: cfg, order: slices.Clone(set)}
	sort.Slice(n.order, func(i, j int) bool { return naiveLess(&n.order[i], &n.order[j]) })
	for pos, m := range n.order {
		ok, proof := n.validate(m, pos)
		n.valid = append(n.valid, ok)
		n.proof = append(n.proof, n.refs(proof))
		if !ok {
			continue
		}
		if m.Kind == KindDynamicSettings {
			for _, s := range m.Settings {
				n.sets = append(n.sets, naiveSetting{s.Type, s.PolicyIndex, m.Ref.GlobalTime, pos})
			}
			continue
		}
		for _, g := range m.Grants {
			for _, bit := range []Permission{Permit, Authorize, Revoke, Undo} {
				if g.Permission&bit != 0 {
					n.perms = append(n.perms, naiveEffect{g.Member, g.Type, bit, m.Ref.GlobalTime, m.Kind == KindRevoke, pos})
				}
			}
		}
	}
	return n
}

func (n *naive) refs(pos []int) []Ref {
	if len(pos) == 0 {
		return nil
	}
	slices.Sort(pos)
	pos = slices.Compact(pos)
	out := make([]Ref, len(pos))
	for i, p := range pos {
		out[i] = n.order[p].Ref
	}
	return out
}

// holds decides one bit from the effects of the messages before upto.
func (n *naive) holds(member keys.MemberID, typ uint8, bit Permission, gt uint64, upto int) (bool, []int) {
	if member == n.cfg.Master {
		return true, nil
	}
	found, best := false, uint64(0)
	for _, e := range n.perms {
		if e.pos < upto && e.member == member && e.typ == typ && e.bit == bit && e.gt <= gt && (!found || e.gt > best) {
			found, best = true, e.gt
		}
	}
	if !found {
		return false, nil
	}
	rev := false
	for _, e := range n.perms {
		if e.pos < upto && e.member == member && e.typ == typ && e.bit == bit && e.gt == best && e.revoke {
			rev = true
		}
	}
	var pos []int
	for _, e := range n.perms {
		if e.pos < upto && e.member == member && e.typ == typ && e.bit == bit && e.gt == best && e.revoke == rev {
			pos = append(pos, e.pos)
		}
	}
	return !rev, pos
}

func (n *naive) validate(m Message, pos int) (bool, []int) {
	var need Permission
	var types []uint8
	switch m.Kind {
	case KindAuthorize, KindRevoke:
		if len(m.Grants) == 0 {
			return false, nil
		}
		for _, g := range m.Grants {
			if g.Permission == 0 || g.Permission&^0x0f != 0 {
				return false, nil
			}
			types = append(types, g.Type)
		}
		need = Authorize
		if m.Kind == KindRevoke {
			need = Revoke
		}
	case KindDynamicSettings:
		if len(m.Settings) == 0 {
			return false, nil
		}
		for _, s := range m.Settings {
			d, ok := n.cfg.Resolutions[s.Type].(policy.DynamicResolution)
			if !ok || int(s.PolicyIndex) >= len(d.Policies) {
				return false, nil
			}
		}
		types = []uint8{n.cfg.SettingsType}
		need = Permit
	}
	if m.Ref.Author == n.cfg.Master {
		return true, nil
	}
	var proof []int
	for _, typ := range types {
		ok, p := n.holds(m.Ref.Author, typ, need, m.Ref.GlobalTime, pos)
		if !ok {
			return false, nil
		}
		proof = append(proof, p...)
	}
	return true, proof
}

func (n *naive) resolution(typ uint8, gt uint64) (policy.Resolution, int, []int) {
	r, ok := n.cfg.Resolutions[typ]
	if !ok {
		return policy.PublicResolution{}, 0, nil
	}
	d, ok := r.(policy.DynamicResolution)
	if !ok {
		return r, 0, nil
	}
	idx, pos := 0, -1
	for _, s := range n.sets {
		if s.typ == typ && s.gt < gt {
			idx, pos = int(s.index), s.pos
		}
	}
	if pos < 0 {
		return d.Policies[0], 0, nil
	}
	return d.Policies[idx], idx, []int{pos}
}

// ---- queries --------------------------------------------------------------

type query struct {
	kind    byte // 'a' Allowed, 'c' Check, 'r' Resolution
	members []keys.MemberID
	typ     uint8
	perm    Permission
	gt      uint64
}

func (q query) String() string {
	var ms []string
	for _, m := range q.members {
		ms = append(ms, propNames[m])
	}
	return fmt.Sprintf("%c members=%v type=%d perm=%v gt=%d", q.kind, ms, q.typ, q.perm, q.gt)
}

type answer struct {
	ok    bool
	res   string
	idx   int
	proof []Ref
}

func (a answer) equal(b answer) bool {
	return a.ok == b.ok && a.res == b.res && a.idx == b.idx && slices.Equal(a.proof, b.proof)
}

func (a answer) String() string {
	var ps []string
	for _, r := range a.proof {
		ps = append(ps, fmt.Sprintf("%s@%d", propNames[r.Author], r.GlobalTime))
	}
	return fmt.Sprintf("ok=%t res=%s idx=%d proof=%v", a.ok, a.res, a.idx, ps)
}

func askTimeline(tl *Timeline, q query) answer {
	switch q.kind {
	case 'a':
		ok, p := tl.Allowed(q.members[0], q.typ, q.perm, q.gt)
		return answer{ok: ok, proof: p}
	case 'c':
		ok, p := tl.Check(q.members, q.typ, q.gt)
		return answer{ok: ok, proof: p}
	}
	r, idx, p := tl.Resolution(q.typ, q.gt)
	return answer{res: r.String(), idx: idx, proof: p}
}

func askNaive(n *naive, q query) answer {
	switch q.kind {
	case 'a':
		if !q.perm.Valid() {
			return answer{}
		}
		var grants, revokes []int
		ok := true
		for _, bit := range []Permission{Permit, Authorize, Revoke, Undo} {
			if q.perm&bit == 0 {
				continue
			}
			yes, p := n.holds(q.members[0], q.typ, bit, q.gt, len(n.order))
			if yes {
				grants = append(grants, p...)
			} else {
				ok = false
				revokes = append(revokes, p...)
			}
		}
		if ok {
			return answer{ok: true, proof: n.refs(grants)}
		}
		return answer{proof: n.refs(revokes)}
	case 'c':
		r, _, sp := n.resolution(q.typ, q.gt)
		if _, linear := r.(policy.LinearResolution); !linear {
			return answer{ok: true, proof: n.refs(sp)}
		}
		if len(q.members) == 0 {
			return answer{proof: n.refs(sp)}
		}
		var grants, revokes []int
		ok := true
		for _, m := range q.members {
			yes, p := n.holds(m, q.typ, Permit, q.gt, len(n.order))
			if yes {
				grants = append(grants, p...)
			} else {
				ok = false
				revokes = append(revokes, p...)
			}
		}
		if ok {
			return answer{ok: true, proof: n.refs(append(grants, sp...))}
		}
		return answer{proof: n.refs(append(revokes, sp...))}
	}
	r, idx, p := n.resolution(q.typ, q.gt)
	return answer{res: r.String(), idx: idx, proof: n.refs(p)}
}

// grid returns every query over the random histories' world.
func grid() []query {
	var qs []query
	for gt := uint64(0); gt <= propMaxGT+1; gt++ {
		for _, typ := range queryTypes {
			for _, m := range propMembers {
				for _, p := range queryPerms {
					qs = append(qs, query{kind: 'a', members: []keys.MemberID{m}, typ: typ, perm: p, gt: gt})
				}
			}
			for _, ms := range querySets {
				qs = append(qs, query{kind: 'c', members: ms, typ: typ, gt: gt})
			}
			qs = append(qs, query{kind: 'r', typ: typ, gt: gt})
		}
	}
	return qs
}

// ---- random histories --------------------------------------------------------

type opKind byte

const (
	opInsert opKind = iota
	opBatch
	opRemove
	opDuplicate
)

type op struct {
	kind opKind
	msgs []Message
	ref  Ref
}

func msgString(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s@%d tb=%x", m.Kind, propNames[m.Ref.Author], m.Ref.GlobalTime, m.Tiebreak)
	for _, g := range m.Grants {
		fmt.Fprintf(&b, " %s/%d/%v", propNames[g.Member], g.Type, g.Permission)
	}
	for _, s := range m.Settings {
		fmt.Fprintf(&b, " set %d:%d", s.Type, s.PolicyIndex)
	}
	return b.String()
}

func (o op) String() string {
	switch o.kind {
	case opRemove:
		return fmt.Sprintf("remove %s@%d", propNames[o.ref.Author], o.ref.GlobalTime)
	case opBatch:
		var s []string
		for _, m := range o.msgs {
			s = append(s, msgString(m))
		}
		return "batch {" + strings.Join(s, "; ") + "}"
	case opDuplicate:
		return "duplicate " + msgString(o.msgs[0])
	}
	return "insert " + msgString(o.msgs[0])
}

func randomMessage(r *rand.Rand, ref Ref) Message {
	m := Message{Ref: ref}
	if n := r.IntN(3); n > 0 {
		m.Tiebreak = make([]byte, n)
		for i := range m.Tiebreak {
			m.Tiebreak[i] = byte(r.IntN(3))
		}
	}
	switch x := r.IntN(100); {
	case x < 45:
		m.Kind = KindAuthorize
	case x < 75:
		m.Kind = KindRevoke
	default:
		m.Kind = KindDynamicSettings
	}
	if m.Kind == KindDynamicSettings {
		for range 1 + r.IntN(2) {
			s := Setting{Type: uint8(2 + r.IntN(2)), PolicyIndex: uint8(r.IntN(2))}
			if r.IntN(20) == 0 { // malformed: not dynamic, or index out of range
				s = Setting{Type: uint8(r.IntN(2)), PolicyIndex: 2}
			}
			m.Settings = append(m.Settings, s)
		}
		return m
	}
	grants := 1
	if x := r.IntN(100); x >= 60 {
		grants = 2 + x/85
	}
	for range grants {
		g := Grant{
			Member: propMembers[1+r.IntN(3)],
			Type:   grantTypes[r.IntN(len(grantTypes))],
		}
		if r.IntN(10) == 0 {
			g.Member = propMaster
		}
		switch x := r.IntN(100); {
		case ref.Author == propMaster && x < 40:
			g.Permission = Permit | Authorize | Revoke | Permission(r.IntN(2)*int(Undo))
		case x < 70:
			g.Permission = permissionBits[r.IntN(4)]
		case x < 97:
			g.Permission = Permission(1 + r.IntN(15))
		default:
			g.Permission = Permission(r.IntN(2) * 0x10) // malformed
		}
		m.Grants = append(m.Grants, g)
	}
	return m
}

// randomOps draws up to propMaxMessages messages with unique refs and an
// order of operations over them: single inserts, batches, removals and
// duplicate inserts.
func randomOps(r *rand.Rand) []op {
	n := 1 + r.IntN(propMaxMessages)
	used := map[Ref]bool{}
	var msgs []Message
	for len(msgs) < n {
		var ref Ref
		if r.IntN(100) < 35 {
			ref.Author = propMaster
		} else {
			ref.Author = propMembers[1+r.IntN(3)]
		}
		ref.GlobalTime = uint64(1 + r.IntN(propMaxGT))
		if ref.Author == propMaster && r.IntN(2) == 0 {
			ref.GlobalTime = uint64(1 + r.IntN(propMaxGT/2)) // roots early, so chains form
		}
		if used[ref] {
			if len(used) >= 4*propMaxGT {
				break
			}
			continue
		}
		used[ref] = true
		msgs = append(msgs, randomMessage(r, ref))
	}
	r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	var ops []op
	var present []Ref
	for i := 0; i < len(msgs); {
		switch x := r.IntN(100); {
		case x < 8 && len(present) > 0:
			k := r.IntN(len(present))
			ops = append(ops, op{kind: opRemove, ref: present[k]})
			present = slices.Delete(present, k, k+1)
			continue
		case x < 13 && len(present) > 0:
			d := randomMessage(r, present[r.IntN(len(present))])
			ops = append(ops, op{kind: opDuplicate, msgs: []Message{d}})
			continue
		case x < 28:
			k := min(len(msgs)-i, 2+r.IntN(4))
			ops = append(ops, op{kind: opBatch, msgs: msgs[i : i+k]})
			for _, m := range msgs[i : i+k] {
				present = append(present, m.Ref)
			}
			i += k
		default:
			ops = append(ops, op{kind: opInsert, msgs: msgs[i : i+1]})
			present = append(present, msgs[i].Ref)
			i++
		}
	}
	return ops
}

// ---- the property ------------------------------------------------------------

// TestPropertyReplay checks, after every operation of every random history:
// the replay order, Valid and Proof of every message, CheckPermissionMessage
// against the validity the message gets once inserted, a sample of
// Allowed/Check/Resolution answers against the naive reference, and the
// changedFrom contract (answers about global times below changedFrom, and
// Valid/Proof of messages below it, are unchanged; nothing changes if
// changed is false). After the last operation it compares the whole grid.
func TestPropertyReplay(t *testing.T) {
	all := grid()
	cfg := propConfig()
	n := histories(t)
	// History h is always drawn from seed (flagSeed, h), so sharding does
	// not change which histories run.
	const shards = 4
	for s := range shards {
		t.Run(fmt.Sprintf("shard%d", s), func(t *testing.T) {
			t.Parallel()
			for h := s; h < n; h += shards {
				r := rand.New(rand.NewPCG(*flagSeed, uint64(h)))
				ops := randomOps(r)
				if msg := runHistory(cfg, all, r, ops); msg != "" {
					var b strings.Builder
					for i, o := range ops {
						fmt.Fprintf(&b, "\n  %2d: %v", i, o)
					}
					t.Fatalf("seed %d history %d: %s\noperations:%s", *flagSeed, h, msg, b.String())
				}
			}
		})
	}
}

// runHistory runs one history and returns a description of the first
// failure, or "".
func runHistory(cfg Config, all []query, r *rand.Rand, ops []op) string {
	tl, err := New(cfg)
	if err != nil {
		return err.Error()
	}
	var set []Message
	for i, o := range ops {
		sample := make([]query, 48)
		for j := range sample {
			sample[j] = all[r.IntN(len(all))]
		}
		before := make([]answer, len(sample))
		for j, q := range sample {
			before[j] = askTimeline(tl, q)
		}
		type vp struct {
			valid bool
			proof []Ref
		}
		prev := map[Ref]vp{}
		for _, ref := range tl.Messages() {
			v, p := tl.Proof(ref)
			prev[ref] = vp{v, p}
		}

		var from uint64
		var changed bool
		var proposed *answer
		switch o.kind {
		case opInsert:
			ok, p := tl.CheckPermissionMessage(o.msgs[0])
			proposed = &answer{ok: ok, proof: p}
			from, changed = tl.Insert(o.msgs[0])
			set = append(set, o.msgs[0])
		case opBatch:
			from, changed = tl.InsertBatch(o.msgs)
			set = append(set, o.msgs...)
		case opRemove:
			from, changed = tl.Remove(o.ref)
			set = slices.DeleteFunc(set, func(m Message) bool { return m.Ref == o.ref })
			delete(prev, o.ref)
		case opDuplicate:
			from, changed = tl.Insert(o.msgs[0])
			if changed || from != 0 {
				return fmt.Sprintf("op %d: duplicate insert returned (%d, %t), want (0, false)", i, from, changed)
			}
		}
		below := func(gt uint64) bool { return !changed || gt < from }

		n := naiveReplay(cfg, set)
		got := tl.Messages()
		if len(got) != len(n.order) || tl.Len() != len(n.order) {
			return fmt.Sprintf("op %d: %d messages, naive has %d", i, len(got), len(n.order))
		}
		for j, m := range n.order {
			if got[j] != m.Ref {
				return fmt.Sprintf("op %d: replay order differs at %d: %v vs %v", i, j, got[j], m.Ref)
			}
			v, p := tl.Proof(m.Ref)
			if v != n.valid[j] || !slices.Equal(p, n.proof[j]) || tl.Valid(m.Ref) != v {
				return fmt.Sprintf("op %d: %s: Proof = %t %v, naive %t %v", i, msgString(m), v, p, n.valid[j], n.proof[j])
			}
			if old, ok := prev[m.Ref]; ok && below(m.Ref.GlobalTime) && (old.valid != v || !slices.Equal(old.proof, p)) {
				return fmt.Sprintf("op %d: changed=%t from=%d but Proof of %s went from %t %v to %t %v",
					i, changed, from, msgString(m), old.valid, old.proof, v, p)
			}
			if proposed != nil && m.Ref == o.msgs[0].Ref && (proposed.ok != v || !slices.Equal(proposed.proof, p)) {
				return fmt.Sprintf("op %d: CheckPermissionMessage said %v, inserted it is %t %v", i, *proposed, v, p)
			}
		}
		for j, q := range sample {
			a := askTimeline(tl, q)
			if w := askNaive(n, q); !a.equal(w) {
				return fmt.Sprintf("op %d: %v: timeline %v, naive %v", i, q, a, w)
			}
			if below(q.gt) && !a.equal(before[j]) {
				return fmt.Sprintf("op %d: changed=%t from=%d but %v went from %v to %v", i, changed, from, q, before[j], a)
			}
		}
	}
	n := naiveReplay(cfg, set)
	var allowed []query
	for _, q := range all {
		a, w := askTimeline(tl, q), askNaive(n, q)
		if !a.equal(w) {
			return fmt.Sprintf("final: %v: timeline %v, naive %v", q, a, w)
		}
		if a.ok && len(a.proof) > 0 {
			allowed = append(allowed, q)
		}
	}
	for range min(len(allowed), 8) {
		if msg := checkClosure(cfg, tl, set, allowed[r.IntN(len(allowed))]); msg != "" {
			return "final: " + msg
		}
	}
	return ""
}

// checkClosure checks the proof contract for an allowed answer: following
// Proof from the answer's proof ends at messages by the master, every link
// is valid and ordered before what it proves, and a fresh timeline holding
// only that closure gives the same answer with the same proof (what a peer
// that asked for the missing proof will see).
func checkClosure(cfg Config, tl *Timeline, set []Message, q query) string {
	want := askTimeline(tl, q)
	byRef := map[Ref]Message{}
	for _, m := range set {
		byRef[m.Ref] = m
	}
	closure := map[Ref]bool{}
	var walk func(rs []Ref, below *Message) string
	walk = func(rs []Ref, below *Message) string {
		for _, ref := range rs {
			m := byRef[ref]
			if below != nil && !naiveLess(&m, below) {
				return fmt.Sprintf("%v: proof link %s is not ordered before %s", q, msgString(m), msgString(*below))
			}
			valid, p := tl.Proof(ref)
			if !valid {
				return fmt.Sprintf("%v: proof link %s is not valid", q, msgString(m))
			}
			if len(p) == 0 && ref.Author != cfg.Master {
				return fmt.Sprintf("%v: proof link %s by a member has an empty proof", q, msgString(m))
			}
			closure[ref] = true
			if msg := walk(p, &m); msg != "" {
				return msg
			}
		}
		return ""
	}
	if msg := walk(want.proof, nil); msg != "" {
		return msg
	}
	peer, err := New(cfg)
	if err != nil {
		return err.Error()
	}
	for _, m := range set { // set order: also checks order independence
		if closure[m.Ref] {
			peer.Insert(m)
		}
	}
	if got := askTimeline(peer, q); !got.equal(want) {
		return fmt.Sprintf("%v: with only the proof closure (%d messages) the answer is %v, want %v", q, len(closure), got, want)
	}
	return ""
}

// TestPropertyOrderIndependence inserts the same random sets one by one in
// several random orders, in replay order, and as one batch, and requires
// identical answers on the whole grid (rule 7), without the reference.
func TestPropertyOrderIndependence(t *testing.T) {
	all := grid()
	cfg := propConfig()
	n := max(histories(t)/10, 30)
	for h := range n {
		r := rand.New(rand.NewPCG(*flagSeed^0x5eed, uint64(h)))
		var set []Message
		for _, o := range randomOps(r) {
			if o.kind == opInsert || o.kind == opBatch {
				set = append(set, o.msgs...)
			}
		}
		build := func(order []Message, batch bool) *Timeline {
			tl, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if batch {
				tl.InsertBatch(order)
				return tl
			}
			for _, m := range order {
				tl.Insert(m)
			}
			return tl
		}
		sorted := slices.Clone(set)
		sort.Slice(sorted, func(i, j int) bool { return naiveLess(&sorted[i], &sorted[j]) })
		want := build(sorted, false)
		variants := []*Timeline{build(set, true)}
		for range 3 {
			shuffled := slices.Clone(set)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			variants = append(variants, build(shuffled, false))
		}
		for vi, tl := range variants {
			if !slices.Equal(tl.Messages(), want.Messages()) {
				t.Fatalf("history %d variant %d: replay order differs", h, vi)
			}
			for _, ref := range want.Messages() {
				v1, p1 := want.Proof(ref)
				v2, p2 := tl.Proof(ref)
				if v1 != v2 || !slices.Equal(p1, p2) {
					t.Fatalf("history %d variant %d: Proof(%v) = %t %v, sorted order gives %t %v", h, vi, ref, v2, p2, v1, p1)
				}
			}
			for _, q := range all {
				if a, w := askTimeline(tl, q), askTimeline(want, q); !a.equal(w) {
					t.Fatalf("history %d variant %d: %v = %v, sorted order gives %v", h, vi, q, a, w)
				}
			}
		}
	}
}
