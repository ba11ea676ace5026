package timeline

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Timeline is the permission state of one community: the set of inserted
// permission messages and, derived from it by replay, who holds which
// permission at which global time and which resolution policy each dynamic
// type uses. See the package documentation for the rules.
//
// A Timeline is not safe for concurrent use; the engine goroutine owns it.
type Timeline struct {
	master       keys.MemberID
	settingsType uint8
	res          map[uint8]policy.Resolution

	// msgs holds every inserted message in replay order.
	// INVARIANT: sorted by compareOrder on key; refs unique.
	msgs  []*msg
	byRef map[Ref]*msg

	// perms holds, per (member, type, single permission bit), the effective
	// entries written by valid authorize and revoke messages.
	// INVARIANT: each history is sorted by strictly rising gt, no entry has
	// empty contribs, and the contribs of an entry are in replay order.
	perms map[permKey][]permEntry
	// settings holds, per dynamic message type, the entries written by
	// valid dynamic-settings messages; same invariants as perms.
	settings map[uint8][]setEntry
}

// msg is one inserted message plus what replay derived for it.
type msg struct {
	key orderKey
	m   Message // deep copy, owned by the Timeline

	valid bool
	proof []*msg // what made it valid, in replay order; nil for the master
	fresh bool   // inserted, not yet replayed

	// effects lists where a valid message wrote, so replay can retract it.
	permKeys []permKey
	setTypes []uint8
}

// permKey names one permission history.
type permKey struct {
	member keys.MemberID
	typ    uint8
	perm   Permission // exactly one bit
}

// contrib is one message's grant or revoke inside a permEntry.
type contrib struct {
	src    *msg
	revoke bool
}

// entry holds the contributions of the messages at one global time of a
// history, in replay order.
type entry[C sourced] struct {
	gt       uint64
	contribs []C
}

// sourced is a contribution: it names the message it came from.
type sourced interface{ source() *msg }

func (c contrib) source() *msg { return c.src }

// permEntry is the state of a key set at one global time. If any contrib
// revokes, the key is revoked at gt (rule 5); otherwise it is granted.
type permEntry = entry[contrib]

// setContrib is one dynamic-settings record inside a setEntry.
type setContrib struct {
	src   *msg
	index uint8
}

func (c setContrib) source() *msg { return c.src }

// setEntry holds the settings records for one type at one global time; the
// last contrib (in replay order) decides.
type setEntry = entry[setContrib]

// New returns an empty Timeline for the community cfg describes. It returns
// an error, listing every problem, if cfg.Validate does.
func New(cfg Config) (*Timeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Timeline{
		master:       cfg.Master,
		settingsType: cfg.SettingsType,
		res:          maps.Clone(cfg.Resolutions),
		byRef:        make(map[Ref]*msg),
		perms:        make(map[permKey][]permEntry),
		settings:     make(map[uint8][]setEntry),
	}, nil
}

// Len returns the number of inserted messages, valid or not.
func (t *Timeline) Len() int { return len(t.msgs) }

// Insert adds m to the set and replays every message from m's place in
// replay order on. A message whose Ref is already present is ignored (the
// engine must Remove the old one first if it replaces it). Insert copies m;
// the caller may reuse its slices.
//
// changed reports whether any answer of [Timeline.Allowed],
// [Timeline.Check], [Timeline.Resolution], [Timeline.CheckPermissionMessage]
// or of [Timeline.Valid] and [Timeline.Proof] for a message inserted before
// may differ from before; if so, changedFrom is a global time such that
// every such answer about a global time below it is unchanged. The engine
// re-checks its stored messages with global time ≥ changedFrom. An invalid
// message has no effect on anything else, so inserting one returns
// (0, false) and costs only its own validation.
//
// Insert panics, leaving t unchanged, if m.Kind is not a defined Kind:
// that is a programming error in the caller, not bad input.
func (t *Timeline) Insert(m Message) (changedFrom uint64, changed bool) {
	return t.InsertBatch([]Message{m})
}

// InsertBatch inserts every message of ms as [Timeline.Insert] does, but
// replays only once, from the lowest insertion point: use it to load a
// stored timeline or a batch of incoming messages in any order. Within ms,
// the first message with a given Ref wins. The result is as for Insert,
// over the whole batch.
func (t *Timeline) InsertBatch(ms []Message) (changedFrom uint64, changed bool) {
	for i := range ms {
		if !ms[i].Kind.Valid() {
			panic(fmt.Sprintf("timeline: Insert of a message with undefined kind %v; set Kind to KindAuthorize, KindRevoke or KindDynamicSettings", ms[i].Kind))
		}
	}
	var fresh []*msg
	for i := range ms {
		m := &ms[i]
		if _, dup := t.byRef[m.Ref]; dup {
			continue
		}
		nm := newMsg(m)
		t.byRef[m.Ref] = nm
		fresh = append(fresh, nm)
	}
	if len(fresh) == 0 {
		return 0, false
	}
	var first int
	if len(fresh) == 1 {
		nm := fresh[0]
		first = t.search(&nm.key)
		t.msgs = slices.Insert(t.msgs, first, nm)
		// An invalid message has no effect, so nothing after it can change:
		// skip the replay. This is the cheap path for unauthorized spam.
		if ok, _ := t.validate(nm, &nm.key); !ok {
			nm.fresh = false
			return 0, false
		}
	} else {
		t.msgs = append(t.msgs, fresh...)
		slices.SortFunc(t.msgs, func(a, b *msg) int { return compareOrder(&a.key, &b.key) })
		first = slices.IndexFunc(t.msgs, func(x *msg) bool { return x.fresh })
	}
	return t.replay(first, &t.msgs[first].key, nil)
}

// Remove deletes the message named by ref from the set (for example a
// message deleted by a destroy-community) and replays from its place. The
// result is as for [Timeline.Insert]; an unknown ref is a no-op.
func (t *Timeline) Remove(ref Ref) (changedFrom uint64, changed bool) {
	m, ok := t.byRef[ref]
	if !ok {
		return 0, false
	}
	i := t.search(&m.key)
	t.msgs = slices.Delete(t.msgs, i, i+1)
	delete(t.byRef, ref)
	if !m.valid {
		return 0, false // it had no effect: nothing after it changes
	}
	return t.replay(i, &m.key, m)
}

// search returns the index of the first message not ordered before k.
func (t *Timeline) search(k *orderKey) int {
	i, _ := slices.BinarySearchFunc(t.msgs, k, func(x *msg, k *orderKey) int { return compareOrder(&x.key, k) })
	return i
}

func newMsg(m *Message) *msg {
	c := Message{
		Kind:     m.Kind,
		Ref:      m.Ref,
		Tiebreak: slices.Clone(m.Tiebreak),
	}
	switch m.Kind {
	case KindAuthorize, KindRevoke:
		c.Grants = slices.Clone(m.Grants)
	case KindDynamicSettings:
		c.Settings = slices.Clone(m.Settings)
	}
	return &msg{
		key:   orderKey{gt: m.Ref.GlobalTime, tiebreak: c.Tiebreak, author: m.Ref.Author},
		m:     c,
		fresh: true,
	}
}

// replay retracts the effects of every message ordered at or after
// boundary (t.msgs[i:], plus removed if not nil), then re-validates and
// re-applies t.msgs[i:] in order. It reports the lowest global time of a
// message whose effects appeared, disappeared or may have changed.
//
// Cost: O(s·g·log h) for s messages from i on with g grants each over
// histories of length h, plus the slice insert.
func (t *Timeline) replay(i int, boundary *orderKey, removed *msg) (changedFrom uint64, changed bool) {
	note := func(gt uint64) {
		if !changed || gt < changedFrom {
			changedFrom = gt
		}
		changed = true
	}
	suffix := t.msgs[i:]
	if removed != nil && removed.valid {
		t.retract(removed, boundary)
		note(removed.key.gt)
	}
	for _, m := range suffix {
		if m.valid {
			t.retract(m, boundary)
		}
	}
	for _, m := range suffix {
		was, fresh := m.valid, m.fresh
		m.valid, m.proof = t.validate(m, nil)
		m.fresh = false
		m.permKeys, m.setTypes = m.permKeys[:0], m.setTypes[:0]
		if m.valid {
			t.apply(m)
		}
		// A valid message always has an effect (validate refuses empty
		// ones), so a fresh valid message changes answers from its global
		// time on. Messages whose validity did not flip have the same
		// effects as before; only their proofs may differ, and only because
		// of an earlier noted message.
		// NB: a flip is always caused by an earlier fresh or removed valid
		// message, already noted at a global time no higher than the flip's,
		// so noting flips never lowers changedFrom today; it is kept so the
		// contract does not rest on that argument.
		if (fresh && m.valid) || (!fresh && was != m.valid) {
			note(m.key.gt)
		}
	}
	return changedFrom, changed
}

// cutHistory removes from h the contributions ordered at or after
// boundary, and the entries left empty.
func cutHistory[C sourced](h []entry[C], boundary *orderKey) []entry[C] {
	j := sort.Search(len(h), func(x int) bool { return h[x].gt >= boundary.gt })
	keep := j
	if j < len(h) && h[j].gt == boundary.gt {
		c := h[j].contribs
		n := sort.Search(len(c), func(x int) bool { return compareOrder(&c[x].source().key, boundary) >= 0 })
		if n > 0 {
			clear(c[n:])
			h[j].contribs = c[:n]
			keep = j + 1
		}
	}
	clear(h[keep:])
	return h[:keep]
}

// retract removes from every history m wrote to the contributions ordered
// at or after boundary (m's own among them).
func (t *Timeline) retract(m *msg, boundary *orderKey) {
	for _, k := range m.permKeys {
		if h := cutHistory(t.perms[k], boundary); len(h) == 0 {
			delete(t.perms, k)
		} else {
			t.perms[k] = h
		}
	}
	for _, typ := range m.setTypes {
		if h := cutHistory(t.settings[typ], boundary); len(h) == 0 {
			delete(t.settings, typ)
		} else {
			t.settings[typ] = h
		}
	}
}

// apply writes the effects of the valid message m, which must be ordered
// after every message already applied.
func (t *Timeline) apply(m *msg) {
	gt := m.key.gt
	switch m.m.Kind {
	case KindAuthorize, KindRevoke:
		revoke := m.m.Kind == KindRevoke
		for _, g := range m.m.Grants {
			for _, bit := range permissionBits {
				if g.Permission&bit == 0 {
					continue
				}
				k := permKey{member: g.Member, typ: g.Type, perm: bit}
				h := t.perms[k]
				if n := len(h); n > 0 && h[n-1].gt == gt {
					h[n-1].contribs = append(h[n-1].contribs, contrib{src: m, revoke: revoke})
				} else {
					h = append(h, permEntry{gt: gt, contribs: []contrib{{src: m, revoke: revoke}}})
				}
				t.perms[k] = h
				m.permKeys = append(m.permKeys, k)
			}
		}
	case KindDynamicSettings:
		for _, s := range m.m.Settings {
			h := t.settings[s.Type]
			if n := len(h); n > 0 && h[n-1].gt == gt {
				h[n-1].contribs = append(h[n-1].contribs, setContrib{src: m, index: s.PolicyIndex})
			} else {
				h = append(h, setEntry{gt: gt, contribs: []setContrib{{src: m, index: s.PolicyIndex}}})
			}
			t.settings[s.Type] = h
			m.setTypes = append(m.setTypes, s.Type)
		}
	}
}

// validate reports whether m is valid against the current state (rule 3)
// and which messages prove it. With a non-nil limit, only contributions of
// messages ordered before limit count (for a message not yet inserted).
func (t *Timeline) validate(m *msg, limit *orderKey) (bool, []*msg) {
	var need Permission
	var buf [8]uint8
	types := buf[:0] // distinct target types; order does not matter
	switch m.m.Kind {
	case KindAuthorize, KindRevoke:
		if len(m.m.Grants) == 0 {
			return false, nil
		}
		for _, g := range m.m.Grants {
			if !g.Permission.Valid() {
				return false, nil
			}
			if !slices.Contains(types, g.Type) {
				types = append(types, g.Type)
			}
		}
		need = Authorize
		if m.m.Kind == KindRevoke {
			need = Revoke
		}
	case KindDynamicSettings:
		if len(m.m.Settings) == 0 {
			return false, nil
		}
		for _, s := range m.m.Settings {
			d, ok := t.res[s.Type].(policy.DynamicResolution)
			if !ok || int(s.PolicyIndex) >= len(d.Policies) {
				return false, nil
			}
		}
		types = append(types, t.settingsType)
		need = Permit
	default:
		return false, nil
	}
	if m.key.author == t.master {
		return true, nil
	}
	var proof []*msg
	for _, typ := range types {
		c, ok := t.lookup(permKey{member: m.key.author, typ: typ, perm: need}, m.key.gt, limit)
		if !ok || revoked(c) {
			return false, nil
		}
		for _, x := range c {
			proof = append(proof, x.src)
		}
	}
	return true, sortMsgs(proof)
}

// lookup returns the contributions of the entry that decides key k at
// global time gt: the newest entry at or before gt (rule 2: an entry at
// the same global time counts). With a non-nil limit, contributions of
// messages ordered at or after limit are ignored. ok is false if no entry
// decides.
func (t *Timeline) lookup(k permKey, gt uint64, limit *orderKey) (c []contrib, ok bool) {
	h := t.perms[k]
	i := sort.Search(len(h), func(x int) bool { return h[x].gt > gt })
	for ; i > 0; i-- {
		e := &h[i-1]
		c := e.contribs
		if limit != nil && e.gt == limit.gt {
			n := sort.Search(len(c), func(x int) bool { return compareOrder(&c[x].src.key, limit) >= 0 })
			c = c[:n]
		}
		if len(c) > 0 {
			return c, true
		}
	}
	return nil, false
}

// revoked reports whether an entry with contributions c is revoked: any
// revoke wins over any grant at the same global time (rule 5).
func revoked(c []contrib) bool {
	for _, x := range c {
		if x.revoke {
			return true
		}
	}
	return false
}

// holds decides one permission bit for member at gt and returns the
// messages that decide it: the grants if allowed, the revokes if a revoke
// denies it, nothing if no entry exists or member is the master.
func (t *Timeline) holds(member keys.MemberID, typ uint8, bit Permission, gt uint64) (bool, []*msg) {
	if member == t.master {
		return true, nil
	}
	c, ok := t.lookup(permKey{member: member, typ: typ, perm: bit}, gt, nil)
	if !ok {
		return false, nil
	}
	rev := revoked(c)
	out := make([]*msg, 0, len(c))
	for _, x := range c {
		if x.revoke == rev {
			out = append(out, x.src)
		}
	}
	return !rev, out
}

// sortMsgs sorts ms into replay order and drops duplicates, in place.
func sortMsgs(ms []*msg) []*msg {
	if len(ms) <= 1 {
		return ms
	}
	slices.SortFunc(ms, func(a, b *msg) int { return compareOrder(&a.key, &b.key) })
	return slices.Compact(ms)
}

// refs converts ms, already in replay order, to their refs; nil if empty.
func refs(ms []*msg) []Ref {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Ref, len(ms))
	for i, m := range ms {
		out[i] = m.m.Ref
	}
	return out
}

// Allowed reports whether member holds every permission bit of p on
// message type typ at global time gt, checked as Linear whatever typ's
// resolution: the newest entry for the (member, typ, bit) at or before gt
// decides, an entry at gt itself counts, and a revoke beats a grant at the
// same global time. The master is always allowed, with no proof. Allowed
// is false, with no proof, if p is empty or has undefined bits.
//
// Use it for undo-other (p = [Undo] on the target's type at the undo's own
// global time, rule 6) and wherever a single permission is asked for.
//
// When allowed, proof lists the authorize messages of the deciding entries;
// when denied, it lists the revoke messages that ended the permission (nil
// if it was never granted), so the engine can show a peer that still
// believes otherwise. Proofs are in replay order, without duplicates, and
// owned by the caller. Cost: O(log h) per bit for a history of h entries.
func (t *Timeline) Allowed(member keys.MemberID, typ uint8, p Permission, gt uint64) (allowed bool, proof []Ref) {
	if !p.Valid() {
		return false, nil
	}
	if member == t.master {
		return true, nil
	}
	var grants, revokes []*msg
	allowed = true
	for _, bit := range permissionBits {
		if p&bit == 0 {
			continue
		}
		ok, ms := t.holds(member, typ, bit, gt)
		if ok {
			grants = append(grants, ms...)
		} else {
			allowed = false
			revokes = append(revokes, ms...)
		}
	}
	if allowed {
		return true, refs(sortMsgs(grants))
	}
	return false, refs(sortMsgs(revokes))
}

// Resolution returns the resolution policy message type typ has at global
// time gt, from this timeline's view (the creator's policy index byte on
// the wire does not matter). For a type without DynamicResolution it is
// the configured policy (PublicResolution if none), index 0 and no proof.
// For DynamicResolution it is Policies[index] where index comes from the
// newest valid dynamic-settings for typ with a global time strictly below
// gt (the last one in replay order at that global time); proof is that
// message. Without one, it is Policies[0], index 0, no proof.
func (t *Timeline) Resolution(typ uint8, gt uint64) (res policy.Resolution, index int, proof []Ref) {
	r, ok := t.res[typ]
	if !ok {
		return policy.PublicResolution{}, 0, nil
	}
	d, ok := r.(policy.DynamicResolution)
	if !ok {
		return r, 0, nil
	}
	h := t.settings[typ]
	i := sort.Search(len(h), func(x int) bool { return h[x].gt >= gt })
	if i == 0 {
		return d.Policies[0], 0, nil
	}
	c := h[i-1].contribs[len(h[i-1].contribs)-1]
	return d.Policies[c.index], int(c.index), []Ref{c.src.m.Ref}
}

// Check decides whether a message of type typ at global time gt, signed by
// members (one, or two for double-signed messages), may exist under the
// type's resolution at gt ([Timeline.Resolution]):
//   - Public: allowed;
//   - Linear: every member holds [Permit] (as [Timeline.Allowed]); the
//     master always does. With no members it is denied: an unsigned
//     message cannot prove a permission.
//
// proof holds the dynamic-settings message that chose the policy, if any,
// plus, when allowed, the authorize messages behind each member's Permit,
// or, when denied, the revoke messages that ended a member's Permit. It is
// in replay order, without duplicates, and owned by the caller.
func (t *Timeline) Check(members []keys.MemberID, typ uint8, gt uint64) (allowed bool, proof []Ref) {
	res, _, sproof := t.Resolution(typ, gt)
	if _, linear := res.(policy.LinearResolution); !linear {
		return true, sproof
	}
	if len(members) == 0 {
		return false, sproof
	}
	var grants, revokes []*msg
	allowed = true
	for _, m := range members {
		ok, ms := t.holds(m, typ, Permit, gt)
		if ok {
			grants = append(grants, ms...)
		} else {
			allowed = false
			revokes = append(revokes, ms...)
		}
	}
	ms := grants
	if !allowed {
		ms = revokes
	}
	if len(sproof) == 1 {
		ms = append(ms, t.byRef[sproof[0]])
	}
	return allowed, refs(sortMsgs(ms))
}

// CheckPermissionMessage reports whether m would be valid if inserted: its
// author holds [Authorize] (for an authorize) or [Revoke] (for a revoke) on
// every target type, or [Permit] on the dynamic-settings type, at m's
// global time, counting only the messages ordered before m in replay
// order (rule 3). proof lists the messages that grant those permissions
// (nil for the master). It does not change t. After Insert(m), Valid and
// Proof for m.Ref give the same answer.
//
// A message with no grants or settings, a grant with an empty or undefined
// permission, or a setting for a type without DynamicResolution or with a
// policy index out of range is never valid.
//
// It panics if m.Kind is undefined, as Insert does.
func (t *Timeline) CheckPermissionMessage(m Message) (valid bool, proof []Ref) {
	if !m.Kind.Valid() {
		panic(fmt.Sprintf("timeline: CheckPermissionMessage of a message with undefined kind %v", m.Kind))
	}
	x := msg{key: orderKey{gt: m.Ref.GlobalTime, tiebreak: m.Tiebreak, author: m.Ref.Author}, m: m}
	ok, ms := t.validate(&x, &x.key)
	return ok, refs(ms)
}

// Valid reports whether the message named by ref is inserted and in
// effect: valid against the messages before it in replay order.
func (t *Timeline) Valid(ref Ref) bool {
	m, ok := t.byRef[ref]
	return ok && m.valid
}

// Proof reports whether the message named by ref is inserted and valid,
// and returns the messages that made it valid: the authorize messages that
// gave its author the permission it needed, in replay order (nil if the
// author is the master).
//
// This is the proof-chain contract: to answer a missing-proof request for
// a message, send the proof from [Timeline.Check] or [Timeline.Allowed],
// then, for each ref in it, the refs Proof returns, recursively. Every ref
// in a proof is ordered strictly before the message it proves, so the
// recursion ends, at messages authored by the master. Proof also covers
// the case where a revoke at the same global time later overrode the grant
// that made a message valid, which Allowed for the author no longer shows.
func (t *Timeline) Proof(ref Ref) (valid bool, proof []Ref) {
	m, ok := t.byRef[ref]
	if !ok || !m.valid {
		return false, nil
	}
	return true, refs(m.proof)
}

// Messages returns the refs of every inserted message, valid or not, in
// replay order. The slice is the caller's.
func (t *Timeline) Messages() []Ref {
	out := make([]Ref, len(t.msgs))
	for i, m := range t.msgs {
		out[i] = m.m.Ref
	}
	return out
}
