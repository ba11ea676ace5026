package dispersy

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
	"github.com/dispersy-go/dispersy/timeline"
)

// permissionTypes are the message types the timeline is built from.
var permissionTypes = []uint8{IDDynamicSettings, IDRevoke, IDAuthorize}

// maxProofPackets caps the packets one missing-proof answer sends.
const maxProofPackets = 64

// initTimeline builds the community's timeline from the stored permission
// messages, replayed in (global time, packet) order.
func (c *Community) initTimeline() error {
	res := map[uint8]policy.Resolution{}
	for _, id := range c.def.ids {
		res[id] = c.def.types[id].spec.Resolution
	}
	tl, err := timeline.New(timeline.Config{Master: c.def.master.ID(), SettingsType: IDDynamicSettings, Resolutions: res})
	if err != nil {
		return fmt.Errorf("dispersy: timeline: %w", err)
	}
	c.tl = tl
	var msgs []timeline.Message
	err = c.e.store.Replay(c.cid, permissionTypes, func(r *Record) bool {
		// Inactive (undone) ones too: validity is a function of the set.
		if m := c.decodeRecord(r); m != nil {
			if tm, ok := c.timelineMessage(m); ok {
				msgs = append(msgs, tm)
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	c.tl.InsertBatch(msgs)
	var destroyed bool
	err = c.e.store.Replay(c.cid, []uint8{IDDestroyCommunity}, func(r *Record) bool {
		destroyed = true
		c.destroyPacket = r.Packet
		return false
	})
	c.destroyed = destroyed
	return err
}

// decodeRecord decodes a stored packet into a message; nil if it no longer
// decodes (it was stored by an older definition) or its authors are unknown.
func (c *Community) decodeRecord(r *Record) *message {
	f, err := c.def.codec.Decode(r.Packet)
	if err != nil {
		return nil
	}
	entry := c.def.types[f.Format.ID]
	p, err := entry.t.decodePayload(f.Payload)
	if err != nil {
		return nil
	}
	m := &message{entry: entry, frame: f, payload: p, hash: r.Hash, comm: c}
	for _, a := range f.Authors {
		k := a.Key
		if k == nil {
			if k, err = c.e.memberKey(a.ID); err != nil || k == nil {
				return nil
			}
		}
		m.authors = append(m.authors, k)
	}
	return m
}

// timelineMessage converts a permission message for the timeline.
func (c *Community) timelineMessage(m *message) (timeline.Message, bool) {
	tm := timeline.Message{Ref: timeline.Ref{Author: m.author(), GlobalTime: m.frame.GlobalTime}, Tiebreak: m.frame.Packet}
	grants := func(gs []Grant) {
		for _, g := range gs {
			tm.Grants = append(tm.Grants, timeline.Grant{Member: g.Member.ID(), Type: g.MessageType, Permission: g.Permission})
		}
	}
	switch p := m.payload.(type) {
	case Authorize:
		tm.Kind = timeline.KindAuthorize
		grants(p.Grants)
	case Revoke:
		tm.Kind = timeline.KindRevoke
		grants(p.Grants)
	case DynamicSettings:
		tm.Kind = timeline.KindDynamicSettings
		for _, s := range p.Settings {
			tm.Settings = append(tm.Settings, timeline.Setting{Type: s.MessageType, PolicyIndex: s.PolicyIndex})
		}
	default:
		return tm, false
	}
	return tm, true
}

// memberIDs returns the ids of a message's authors.
func memberIDs(ks []*keys.PublicKey) []keys.MemberID {
	out := make([]keys.MemberID, len(ks))
	for i, k := range ks {
		out[i] = k.ID()
	}
	return out
}

// checkPermission decides whether the timeline allows m. A message that is
// not (yet) allowed waits for a proof: the proof may simply not have
// arrived.
func (c *Community) checkPermission(m *message) Verdict {
	gt := m.frame.GlobalTime
	m.inactive = false
	switch m.id() {
	case IDAuthorize, IDRevoke, IDDynamicSettings:
		if v := c.checkGrants(m); v.kind != verdictAccept {
			return v
		}
		tm, _ := c.timelineMessage(m)
		ok, _ := c.tl.CheckPermissionMessage(tm)
		m.inactive = !ok && !m.local && c.revokedFor(tm)
		if !ok && !m.inactive {
			return delay(need{kind: needProof, member: m.author(), globalTime: gt})
		}
		return Accept()
	case IDUndoOwn, IDUndoOther:
		// The undo checks need the target: see checkUndo.
		return Accept()
	}
	switch m.entry.spec.Resolution.(type) {
	case policy.PublicResolution:
		return Accept()
	case policy.LinearResolution, policy.DynamicResolution:
		if ok, _ := c.tl.Check(memberIDs(m.authors), m.id(), gt); ok {
			return Accept()
		}
		if !m.local && c.permitRevoked(m) {
			// As on the peers that stored it before the revoke: stored
			// undone by the permission change, never handled.
			m.inactive = true
			return Accept()
		}
		if _, dyn := m.entry.spec.Resolution.(policy.DynamicResolution); dyn && !m.local && m.source.IsValid() {
			// A sender that used another policy may lack our settings:
			// send it the ones in effect (Dispersy §6.5).
			_, _, proof := c.tl.Resolution(m.id(), gt)
			c.sendRefs(m.source, proof)
		}
		return delay(need{kind: needProof, member: m.author(), globalTime: gt})
	}
	panic("dispersy: unknown resolution")
}

// revokedFor reports whether a revoke took from the author of permission
// message tm a permission tm needs at its global time. Such a message was
// valid on the peers that stored it before the revoke arrived: it is
// stored inactive (undone, out of sync, still in the timeline and in its
// author's sequence) on every peer, so none waits behind its sequence
// number and all end equal (docs/compatibility.md).
func (c *Community) revokedFor(tm timeline.Message) bool {
	need, types := timeline.Authorize, []uint8(nil)
	switch tm.Kind {
	case timeline.KindRevoke:
		need = timeline.Revoke
	case timeline.KindDynamicSettings:
		need, types = timeline.Permit, []uint8{IDDynamicSettings}
	}
	for _, g := range tm.Grants {
		types = append(types, g.Type)
	}
	for _, t := range types {
		if ok, proof := c.tl.Allowed(tm.Ref.Author, t, need, tm.Ref.GlobalTime); !ok && len(proof) > 0 {
			return true
		}
	}
	return false
}

// permitRevoked reports whether a revoke ended the Permit on m's type of
// one of m's authors at m's global time.
func (c *Community) permitRevoked(m *message) bool {
	for _, a := range m.authors {
		if ok, proof := c.tl.Allowed(a.ID(), m.id(), timeline.Permit, m.frame.GlobalTime); !ok && len(proof) > 0 {
			return true
		}
	}
	return false
}

// recheckPermissionMessages stores permission messages from global time
// from on inactive (undone) when the timeline no longer holds them valid,
// and live again when it does. No handler runs: they are built-in.
func (c *Community) recheckPermissionMessages(from uint64) {
	var flip []*message
	for _, m := range c.pending.keys {
		if !c.pending.gone[m.key()] && slices.Contains(permissionTypes, m.id()) &&
			c.tl.Valid(timeline.Ref{Author: m.author(), GlobalTime: m.frame.GlobalTime}) == m.inactive {
			flip = append(flip, m)
		}
	}
	slices.SortFunc(flip, func(a, b *message) int {
		return cmpKeyPacket(a.frame.GlobalTime, a.frame.Packet, b.frame.GlobalTime, b.frame.Packet)
	})
	for _, m := range flip {
		m.inactive = !m.inactive
		c.e.batch.SetUndone(c.cid, m.key(), m.inactive, MessageKey{})
	}
	for _, id := range permissionTypes {
		err := c.e.store.Range(RangeQuery{Community: c.cid, MessageID: id, Low: max(from, 1), High: conversion.MaxGlobalTime, IncludeUndone: true}, func(r *Record) bool {
			if c.gone(r) || c.pending.get(r.Key()) != nil {
				return true
			}
			if valid := c.tl.Valid(timeline.Ref{Author: r.Member, GlobalTime: r.GlobalTime}); valid == r.Undone {
				c.e.batch.SetUndone(c.cid, r.Key(), !valid, MessageKey{})
			}
			return true
		})
		if err != nil {
			_ = c.e.fail(err)
			return
		}
	}
}

// checkGrants rejects grants the community cannot honour: unknown target
// types, targets without member authentication, undo on types that cannot
// be undone (Dispersy checked these in its decoder).
func (c *Community) checkGrants(m *message) Verdict {
	var gs []Grant
	switch p := m.payload.(type) {
	case Authorize:
		gs = p.Grants
	case Revoke:
		gs = p.Grants
	case DynamicSettings:
		for _, s := range p.Settings {
			e := c.def.types[s.MessageType]
			if e == nil {
				return drop(DropInvalidRequest, fmt.Sprintf("settings for unknown message type %d", s.MessageType))
			}
			d, ok := e.spec.Resolution.(policy.DynamicResolution)
			if !ok || int(s.PolicyIndex) >= len(d.Policies) {
				return drop(DropInvalidRequest, fmt.Sprintf("settings for type %d: not dynamic or index out of range", s.MessageType))
			}
		}
		return Accept()
	}
	for _, g := range gs {
		e := c.def.types[g.MessageType]
		if e == nil {
			return drop(DropInvalidRequest, fmt.Sprintf("grant on unknown message type %d", g.MessageType))
		}
		if _, none := e.spec.Authentication.(policy.NoAuthentication); none {
			return drop(DropInvalidRequest, fmt.Sprintf("grant on unsigned message type %d", g.MessageType))
		}
		if g.Permission.Has(timeline.Undo) && !c.undoable(e) {
			return drop(DropInvalidRequest, fmt.Sprintf("undo grant on type %d, which cannot be undone", g.MessageType))
		}
		c.e.remember(g.Member)
	}
	return Accept()
}

// undoable reports whether messages of a type can be undone: application
// types with an Undo handler whose messages their distribution never
// deletes (full sync without global-time pruning). An undo of a message
// that a last-sync history evicted, or pruning deleted, would be stored by
// the peers that held the target and wait forever on the others
// (docs/compatibility.md, "Batch-independent outcomes").
func (c *Community) undoable(e *typeEntry) bool {
	if e == nil || e.builtin || e.undo == nil {
		return false
	}
	d, ok := e.spec.Distribution.(policy.FullSyncDistribution)
	if !ok {
		return false
	}
	_, pruned := d.Pruning.(policy.GlobalTimePruning)
	return !pruned
}

// resolutionIndex returns the index of the dynamic resolution policy in
// effect for type id at global time gt, by our timeline.
func (c *Community) resolutionIndex(id uint8, d policy.DynamicResolution, gt uint64) uint8 {
	_, idx, _ := c.tl.Resolution(id, gt)
	return uint8(idx)
}

// acceptPermission applies an accepted permission message to the timeline
// and schedules the re-check of stored messages whose answer may change.
func (c *Community) acceptPermission(m *message) {
	tm, ok := c.timelineMessage(m)
	if !ok {
		return
	}
	if from, changed := c.tl.Insert(tm); changed {
		c.scheduleRecheck(from)
	}
}

func (c *Community) scheduleRecheck(from uint64) {
	if !c.recheck || from < c.recheckFrom {
		c.recheckFrom = from
	}
	c.recheck = true
}

// runRecheck re-checks the stored messages of permission-dependent types
// from the scheduled global time on: messages no longer allowed are undone
// (their Undo handler runs), messages allowed again are redone (their
// Handle handler runs again). Undo-other messages whose author lost the
// undo permission stop undoing their target. It adds the changes to the
// engine's write batch.
func (c *Community) runRecheck() {
	from := c.recheckFrom
	c.recheck = false
	c.recheckPermissionMessages(from)
	for _, id := range c.def.ids {
		e := c.def.types[id]
		linear := false
		switch e.spec.Resolution.(type) {
		case policy.LinearResolution, policy.DynamicResolution:
			linear = true
		}
		if id == IDDynamicSettings || id == IDDestroyCommunity || (!linear && id != IDUndoOther) || !policy.Synced(e.spec.Distribution) {
			continue
		}
		var recs []Record
		err := c.e.store.Range(RangeQuery{Community: c.cid, MessageID: id, Low: max(from, 1), High: conversion.MaxGlobalTime, IncludeUndone: true}, func(r *Record) bool {
			recs = append(recs, *r)
			return true
		})
		if err != nil {
			_ = c.e.fail(err)
			return
		}
		for i := range recs {
			r := &recs[i]
			if c.gone(r) {
				continue // deleted in this batch
			}
			if id == IDUndoOther {
				c.recheckUndoOther(r)
				continue
			}
			if _, ok := c.pending.undos[r.Key()]; ok || r.Undone && r.UndoneBy != (MessageKey{}) {
				continue // undone by an undo message (maybe of this batch): stays undone
			}
			members := []keys.MemberID{r.Member}
			if r.Double() {
				members = append(members, r.Member2)
			}
			ok, _ := c.tl.Check(members, id, r.GlobalTime)
			switch {
			case !ok && !r.Undone:
				c.e.batch.SetUndone(c.cid, r.Key(), true, MessageKey{})
				c.undone = append(c.undone, *r)
			case ok && r.Undone:
				c.e.batch.SetUndone(c.cid, r.Key(), false, MessageKey{})
				c.redone = append(c.redone, *r)
			}
		}
	}
}

// undoTarget decodes an undo message's target key.
func undoTarget(m *message) MessageKey {
	switch p := m.payload.(type) {
	case UndoOwn:
		return MessageKey{Member: m.author(), GlobalTime: p.GlobalTime}
	case UndoOther:
		return MessageKey{Member: p.Member.ID(), GlobalTime: p.GlobalTime}
	}
	return MessageKey{}
}

// recheckUndoOther re-evaluates one stored undo-other after a permission
// change: an undo whose author no longer held the undo permission at its
// global time stops undoing its target, and one allowed again resumes.
func (c *Community) recheckUndoOther(r *Record) {
	m := c.decodeRecord(r)
	if m == nil {
		return
	}
	target := undoTarget(m)
	trec, ok, err := c.e.store.Get(c.cid, target)
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	if !ok || c.gone(&trec) {
		return
	}
	allowed, _ := c.tl.Allowed(r.Member, trec.MessageID, timeline.Undo, r.GlobalTime)
	switch {
	case !allowed && !r.Undone:
		c.e.batch.SetUndone(c.cid, r.Key(), true, MessageKey{})
		if trec.Undone && trec.UndoneBy == r.Key() {
			c.e.batch.SetUndone(c.cid, target, false, MessageKey{})
			c.redone = append(c.redone, trec)
		}
	case allowed && r.Undone && r.UndoneBy == (MessageKey{}):
		c.e.batch.SetUndone(c.cid, r.Key(), false, MessageKey{})
		if !trec.Undone {
			c.e.batch.SetUndone(c.cid, target, true, r.Key())
			c.undone = append(c.undone, trec)
		}
	}
}

// checkUndo checks an undo-own or undo-other: the target must exist (else
// it is fetched), be older, be of an undoable type, and (undo-other) the
// author must hold the undo permission on its type. Duplicate undos of one
// target are resolved so every peer keeps the same one: the binary-lowest
// undo wins, the others are stored undone by it.
func (c *Community) checkUndo(m *message) Verdict {
	m.undo = nil // a resumed message is decided afresh
	target := undoTarget(m)
	if target.GlobalTime >= m.frame.GlobalTime {
		return drop(DropInvalidRequest, "undo target is not older than the undo")
	}
	var trec Record
	if p := c.pending.get(target); p != nil {
		trec = p.record()
	} else {
		r, ok, err := c.e.store.Get(c.cid, target)
		if err != nil {
			_ = c.e.fail(err)
			return drop(DropInvalidRequest, "store failure")
		}
		if (!ok || c.gone(&r)) && c.Excluded(target.Member) {
			return c.undoOfExcluded(m)
		}
		if !ok || c.gone(&r) {
			// Not stored, or deleted in this batch (a newer last-sync
			// message evicted it): as if the undo came after the commit.
			return delay(need{kind: needMessage, member: target.Member, globalTime: target.GlobalTime})
		}
		trec = r
	}
	if !c.undoable(c.def.types[trec.MessageID]) {
		return drop(DropInvalidRequest, "the target's type cannot be undone")
	}
	if m.id() == IDUndoOther {
		if ok, _ := c.tl.Allowed(m.author(), trec.MessageID, timeline.Undo, m.frame.GlobalTime); !ok {
			return delay(need{kind: needProof, member: m.author(), globalTime: m.frame.GlobalTime})
		}
	}
	if by, ok := c.pending.undos[target]; ok {
		// Undone by an undo of this batch: decide as if it were stored.
		trec.Undone, trec.UndoneBy = true, by
	}
	m.undo = &undoPlan{target: trec}
	if trec.Undone && trec.UndoneBy != (MessageKey{}) && trec.UndoneBy != m.key() {
		var prev Record
		ok := false
		if p := c.pending.get(trec.UndoneBy); p != nil {
			prev, ok = p.record(), true
		} else {
			r, found, err := c.e.store.Get(c.cid, trec.UndoneBy)
			if err != nil {
				_ = c.e.fail(err)
				return drop(DropInvalidRequest, "store failure")
			}
			prev, ok = r, found && !c.gone(&r)
		}
		if ok && bytes.Compare(prev.Packet, m.frame.Packet) <= 0 {
			// The stored undo wins: keep this one, undone by it, and tell
			// the sender.
			m.undo.loser, m.undo.winner = true, prev.Key()
			if !m.local && m.source.IsValid() {
				c.e.send(m.source, prev.Packet)
			}
		} else if ok {
			m.undo.supersedes = prev.Key()
		}
	}
	return Accept()
}

// undoLosers returns the keys of the undos stored undone by (or pending
// and losing to) one of winners, which undo targets with global times of
// at least low, ordered by key. Undo-owns are searched only when own is
// set: they are that member's.
func (c *Community) undoLosers(winners map[MessageKey]bool, low uint64, own *keys.MemberID) ([]MessageKey, error) {
	var out []MessageKey
	for _, m := range c.pending.keys {
		if u := m.undo; u != nil && u.loser && winners[u.winner] && !c.pending.gone[m.key()] {
			out = append(out, m.key())
		}
	}
	collect := func(r *Record) bool {
		if r.Undone && winners[r.UndoneBy] && !c.gone(r) && !slices.Contains(out, r.Key()) {
			out = append(out, r.Key())
		}
		return true
	}
	err := c.e.store.Range(RangeQuery{Community: c.cid, MessageID: IDUndoOther, Low: low + 1, High: conversion.MaxGlobalTime, IncludeUndone: true}, collect)
	if err != nil {
		return nil, err
	}
	if own != nil {
		recs, err := c.e.store.History(c.cid, IDUndoOwn, *own, keys.MemberID{})
		if err != nil {
			return nil, err
		}
		for i := range recs {
			collect(&recs[i])
		}
	}
	slices.SortFunc(out, func(x, y MessageKey) int {
		return cmpKeyPacket(x.GlobalTime, x.Member[:], y.GlobalTime, y.Member[:])
	})
	return out, nil
}

// undoOfExcluded decides an undo-other whose target's author was excluded
// (its messages deleted): it is stored without effect, as it is on a peer
// that stored it before the exclusion deleted the target. The target's
// type is gone with it, so the author must hold the undo permission on
// some undoable type at the undo's global time.
func (c *Community) undoOfExcluded(m *message) Verdict {
	gt := m.frame.GlobalTime
	for _, id := range c.def.ids {
		if c.undoable(c.def.types[id]) {
			if ok, _ := c.tl.Allowed(m.author(), id, timeline.Undo, gt); ok {
				return Accept()
			}
		}
	}
	return delay(need{kind: needProof, member: m.author(), globalTime: gt})
}

// undoPlan is what accepting an undo message changes.
type undoPlan struct {
	target     Record
	loser      bool       // another undo of the target wins; this one is stored undone
	winner     MessageKey // the winning undo (loser)
	supersedes MessageKey // the undo this one replaces (it wins)
}

// acceptUndo adds an accepted undo's effects to the write batch.
func (c *Community) acceptUndo(m *message) {
	u := m.undo
	if u == nil {
		return
	}
	if u.loser {
		c.e.batch.SetUndone(c.cid, m.key(), true, u.winner)
		return
	}
	if u.supersedes != (MessageKey{}) {
		// The earlier winner and its losers are now undone by this one:
		// every peer ends with the same records, whatever the order.
		losers, err := c.undoLosers(map[MessageKey]bool{u.supersedes: true}, u.target.GlobalTime, &u.target.Member)
		if err != nil {
			_ = c.e.fail(err)
			return
		}
		for _, k := range append(losers, u.supersedes) {
			c.e.batch.SetUndone(c.cid, k, true, m.key())
		}
	}
	c.e.batch.SetUndone(c.cid, u.target.Key(), true, m.key())
	if c.pending.undos == nil {
		c.pending.undos = map[MessageKey]MessageKey{}
	}
	c.pending.undos[u.target.Key()] = m.key()
	if !u.target.Undone {
		c.undone = append(c.undone, u.target)
	}
}

// sendRefs sends the stored packets named by refs to an address.
func (c *Community) sendRefs(to netip.AddrPort, refs []timeline.Ref) {
	for _, ref := range refs {
		r, ok, err := c.e.store.Get(c.cid, MessageKey{Member: ref.Author, GlobalTime: ref.GlobalTime})
		if err != nil {
			_ = c.e.fail(err)
			return
		}
		if ok {
			c.e.send(to, r.Packet)
		}
	}
}

// proofChain returns the permission messages that justify a stored
// message, following each proof's own proof up to the master, at most
// maxProofPackets of them, in a deterministic order.
func (c *Community) proofChain(r *Record) []timeline.Ref {
	var first []timeline.Ref
	switch r.MessageID {
	case IDAuthorize, IDRevoke, IDDynamicSettings:
		first = []timeline.Ref{{Author: r.Member, GlobalTime: r.GlobalTime}}
	case IDUndoOther:
		m := c.decodeRecord(r)
		if m == nil {
			return nil
		}
		t, ok, err := c.e.store.Get(c.cid, undoTarget(m))
		if err != nil || !ok {
			return nil
		}
		_, first = c.tl.Allowed(r.Member, t.MessageID, timeline.Undo, r.GlobalTime)
	default:
		members := []keys.MemberID{r.Member}
		if r.Double() {
			members = append(members, r.Member2)
		}
		_, first = c.tl.Check(members, r.MessageID, r.GlobalTime)
	}
	seen := map[timeline.Ref]bool{}
	var out []timeline.Ref
	queue := slices.Clone(first)
	for len(queue) > 0 && len(out) < maxProofPackets {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		out = append(out, ref)
		_, next := c.tl.Proof(ref)
		queue = append(queue, next...)
	}
	return out
}

// answerMissingProof sends the proof chain of the asked message. A
// destroyed community answers from what the destroy kept (the destroy and
// its proof chain), and a request for anything else with the destroy.
func (c *Community) answerMissingProof(m *message) {
	p := m.payload.(MissingProof)
	r, ok, err := c.e.store.Get(c.cid, MessageKey(p))
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	if !ok {
		if c.destroyed {
			c.notifyDestroyed(m.source, m.frame.Packet)
		}
		return
	}
	c.sendRefs(m.source, c.proofChain(&r))
}

// sendMissingProof asks for the proof that a member may create a message.
func (c *Community) sendMissingProof(n need, to netip.AddrPort) {
	c.sendDirect(MissingProofType, MissingProof{Member: n.member, GlobalTime: n.globalTime}, to)
}

// refusesAfterDestroy reports whether the community refuses pkt because it
// was destroyed: after a destroy it handles missing-proof requests only, so
// that a peer lacking the authorize behind the destroy can get it and
// destroy too (docs/compatibility.md).
func (c *Community) refusesAfterDestroy(pkt []byte) bool {
	return c.destroyed && (len(pkt) < conversion.HeaderSize || pkt[conversion.HeaderSize-1] != IDMissingProof)
}

// destroy hard-kills the community after a destroy message was stored:
// everything but the destroy message, its proof chain and the identities
// of the members involved is deleted, and the community accepts nothing
// else from now on.
func (c *Community) destroy(m *message) {
	if c.destroyed {
		return
	}
	r := m.record()
	keep := []MessageKey{r.Key()}
	members := map[keys.MemberID]bool{r.Member: true}
	for _, ref := range c.proofChain(&r) {
		keep = append(keep, MessageKey{Member: ref.Author, GlobalTime: ref.GlobalTime})
		members[ref.Author] = true
	}
	ids := make([]keys.MemberID, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b keys.MemberID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		hist, err := c.e.store.History(c.cid, IDIdentity, id, keys.MemberID{})
		if err != nil {
			_ = c.e.fail(err)
			return
		}
		for _, h := range hist {
			keep = append(keep, h.Key())
		}
	}
	c.e.batch.DeleteCommunityExcept(c.cid, keep)
	c.destroyed = true
	c.destroyPacket = m.frame.Packet
	c.delays = delayQueue{}
	c.delays.init()
	// The destroy message spreads epidemically: forward it on.
	for _, a := range c.walk.randomVerified(c.e.cfg.DestroyFanout, []netip.AddrPort{m.source}) {
		c.e.send(a, m.frame.Packet)
	}
	c.e.log.Info().Hex("cid", c.cid[:4]).Msg("community destroyed")
}

// queueUndone hands deleted or undone messages to the application's Undo
// handlers after the commit.
func (c *Community) queueUndone(recs []Record) {
	c.undone = append(c.undone, recs...)
}

// runUndone calls the Undo handlers of the queued undone records and the
// Handle handlers of the redone ones, grouped by type in queue order.
func (c *Community) runUndone() {
	undone, redone := c.undone, c.redone
	c.undone, c.redone = nil, nil
	c.callGrouped(undone, func(e *typeEntry) func(*Context, []*message) { return e.undo })
	c.callGrouped(redone, func(e *typeEntry) func(*Context, []*message) { return e.handle })
}

func (c *Community) callGrouped(recs []Record, pick func(*typeEntry) func(*Context, []*message)) {
	var group []*message
	flush := func() {
		if len(group) > 0 {
			if h := pick(group[0].entry); h != nil && !group[0].entry.builtin {
				h(c.ctx, group)
			}
			group = nil
		}
	}
	for i := range recs {
		m := c.decodeRecord(&recs[i])
		if m == nil {
			continue
		}
		if len(group) > 0 && group[0].entry != m.entry {
			flush()
		}
		group = append(group, m)
	}
	flush()
}

// Allowed reports whether member holds permission p on message type t at
// the community's current global time.
func (c *Community) Allowed(member keys.MemberID, t AnyMessageType, p Permission) bool {
	ok, _ := c.tl.Allowed(member, t.Spec().ID, p, c.GlobalTime()+1)
	return ok
}

// Timeline returns the community's permission timeline (read-only use).
func (c *Community) Timeline() *timeline.Timeline { return c.tl }

// Grants returns grants of permission p on each of types to member.
func Grants(member *keys.PublicKey, p Permission, types ...AnyMessageType) []Grant {
	out := make([]Grant, len(types))
	for i, t := range types {
		out[i] = Grant{Member: member, MessageType: t.Spec().ID, Permission: p}
	}
	return out
}

// Authorize grants permissions, signed by our member (or the signer given
// with WithSigner). Our member must hold the authorize permission on every
// target type.
func (c *Community) Authorize(grants []Grant, opts ...CreateOption) (*Message[Authorize], error) {
	return Create(c, AuthorizeType, Authorize{Grants: grants}, opts...)
}

// Revoke revokes permissions. Our member must hold the revoke permission on
// every target type.
func (c *Community) Revoke(grants []Grant, opts ...CreateOption) (*Message[Revoke], error) {
	return Create(c, RevokeType, Revoke{Grants: grants}, opts...)
}

// SetResolution switches the DynamicResolution of type t to policy index
// from the next global time on (dispersy-dynamic-settings).
func (c *Community) SetResolution(t AnyMessageType, index uint8, opts ...CreateOption) (*Message[DynamicSettings], error) {
	return Create(c, DynamicSettingsType, DynamicSettings{Settings: []Setting{{MessageType: t.Spec().ID, PolicyIndex: index}}}, opts...)
}

// Destroy hard-kills the community: every peer that receives the message
// deletes everything but it and its proof, and accepts nothing else.
func (c *Community) Destroy(opts ...CreateOption) error {
	_, err := Create(c, DestroyCommunityType, DestroyCommunity{}, opts...)
	return err
}

// UndoMessage undoes the stored message key: with undo-own when our member
// created it, undo-other otherwise (which needs the undo permission on the
// target's type: without it the error wraps ErrNotPermitted). Undoing
// a message that is already undone by an undo message returns that undo's
// packet instead of creating another (two undos of one message look
// malicious).
func (c *Community) UndoMessage(key MessageKey, opts ...CreateOption) ([]byte, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	r, ok, err := c.e.store.Get(c.cid, key)
	if err != nil {
		return nil, c.e.fail(err)
	}
	if !ok {
		return nil, fmt.Errorf("dispersy: UndoMessage: %w: %s@%d", ErrNotFound, key.Member, key.GlobalTime)
	}
	if r.Undone && r.UndoneBy != (MessageKey{}) {
		u, ok, err := c.e.store.Get(c.cid, r.UndoneBy)
		if err != nil {
			return nil, c.e.fail(err)
		}
		if ok {
			return u.Packet, nil
		}
	}
	if !c.undoable(c.def.types[r.MessageID]) {
		return nil, fmt.Errorf("dispersy: UndoMessage: messages of type %d cannot be undone (the type needs an Undo handler)", r.MessageID)
	}
	if key.Member == c.me.ID() {
		m, err := Create(c, UndoOwnType, UndoOwn{GlobalTime: key.GlobalTime}, opts...)
		if err != nil {
			return nil, err
		}
		return m.Packet, nil
	}
	k, err := c.e.memberKey(key.Member)
	if err != nil {
		return nil, c.e.fail(err)
	}
	if k == nil {
		return nil, fmt.Errorf("dispersy: UndoMessage: the key of member %s is unknown", key.Member)
	}
	m, err := Create(c, UndoOtherType, UndoOther{Member: k, GlobalTime: key.GlobalTime}, opts...)
	if err != nil {
		return nil, err
	}
	return m.Packet, nil
}

// CreateCommunity joins a new community whose master private key the
// caller holds (overlay's Definition.Master must be master's public key),
// and has the master sign an authorize granting our member every
// permission the community's types need: permit, authorize and revoke on
// every Linear or Dynamic type (plus undo where the type can be undone),
// and authorize, revoke and undo on public synced types with an Undo
// handler (Dispersy create_community). It is idempotent: the master signs
// only the grants our member does not hold yet, so the admin calls it on
// every start (nothing after the first, the new types' grants after an
// upgrade that added types).
func (e *Engine) CreateCommunity(overlay Overlay, master *keys.PrivateKey, opts ...JoinOption) (*Community, error) {
	c, err := e.Join(overlay, opts...)
	if err != nil {
		return nil, err
	}
	if !c.def.master.Equal(master.Public()) {
		_ = e.Leave(c.cid)
		return nil, fmt.Errorf("dispersy: CreateCommunity: the master key does not match Definition.Master")
	}
	if c.me.ID() == master.ID() {
		return c, nil
	}
	var grants []Grant
	me := c.me.Public()
	for _, id := range c.def.ids {
		t := c.def.types[id]
		var p Permission
		switch t.spec.Resolution.(type) {
		case policy.LinearResolution, policy.DynamicResolution:
			if id == IDUndoOther {
				continue
			}
			p = Permit | PermAuthorize | PermRevoke
		default:
			if !c.undoable(t) {
				continue
			}
			p = PermAuthorize | PermRevoke
		}
		if c.undoable(t) {
			p |= PermUndo
		}
		if ok, _ := c.tl.Allowed(me.ID(), id, p, c.GlobalTime()+1); ok {
			continue // held already: CreateCommunity again after a restart
		}
		grants = append(grants, Grant{Member: me, MessageType: id, Permission: p})
	}
	if len(grants) > 0 {
		if _, err := c.Authorize(grants, WithSigner(master)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// seqFor returns the next sequence number of signer for type id: ours from
// the counter, another signer's (the master's) from the store, so that
// several admins signing as the master do not collide through a guess
// (Dispersy counted rows).
func (c *Community) seqFor(signer *keys.PrivateKey, id uint8) (uint32, error) {
	if signer.ID() == c.me.ID() {
		return c.seqs[id] + 1, nil
	}
	seq, _, err := c.e.store.LastSequence(c.cid, signer.ID(), id)
	if err != nil {
		return 0, err
	}
	if seq == math.MaxUint32 {
		return 0, fmt.Errorf("dispersy: sequence numbers of type %d exhausted", id)
	}
	return seq + 1, nil
}
