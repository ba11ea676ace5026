package dispersy

import (
	"bytes"
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Receive processes one datagram from addr: it is a batch of one. Malformed,
// unauthorized or duplicate packets are dropped and counted; they never
// produce an error. A non-nil error is a local failure (the store) and
// stops the engine.
func (e *Engine) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	return e.ReceiveBatch(now, []Datagram{{Addr: from, Data: pkt}})
}

// ReceiveBatch processes datagrams that arrived together: their synced
// messages are committed in one store transaction before any handler sees
// them. Datagram.Addr is the source. The engine keeps references to the
// packets; callers must not modify them afterwards.
func (e *Engine) ReceiveBatch(now time.Time, dgrams []Datagram) error {
	if e.failed != nil {
		return e.failed
	}
	e.SetTime(now)
	for _, d := range dgrams {
		e.stats.Received++
		e.stats.ReceivedBytes += uint64(len(d.Data))
		if len(d.Data) > e.cfg.MaxDatagram {
			e.dropped(DropOversize, d.Addr, "datagram larger than MaxDatagram")
			continue
		}
		e.received(d.Addr, len(d.Data))
		e.ingest(d.Addr, d.Data, nil)
		if e.failed != nil {
			return e.failed
		}
	}
	return e.flush()
}

// ingest decodes and verifies one packet and queues the message in its
// community's inbox (or batch window), or drops or delays it. pre, when
// not nil, is a frame already decoded and verified by a Verifier.
func (e *Engine) ingest(from netip.AddrPort, pkt []byte, pre *conversion.Frame) {
	cid, ok := conversion.PeekCommunity(pkt)
	if !ok {
		if len(pkt) < conversion.HeaderSize {
			e.dropped(DropTooShort, from, "short packet")
		} else {
			e.dropped(DropBadVersion, from, "wire version")
		}
		return
	}
	c := e.communities[cid]
	if c == nil {
		c = e.autoLoad(cid)
	}
	if c == nil && e.cfg.Tracker {
		c = e.trackerCommunity(pkt)
	}
	if c == nil {
		e.unknownCommunity(from, cid)
		e.dropped(DropUnknownCommunity, from, "")
		return
	}
	c.stats.Received++
	m, v := c.decode(from, pkt, pre)
	switch v.kind {
	case verdictDrop:
		c.dropped(v.reason, from, v.detail)
		return
	case verdictDelay:
		c.delays.add(c, v.need, from, pkt, nil)
		return
	}
	if w := m.entry.spec.BatchWindow; w > 0 && !m.local {
		id := m.id()
		if c.windows[id] == nil {
			c.windows[id] = &batchWindow{due: e.now.Add(w)}
		}
		c.windows[id].msgs = append(c.windows[id].msgs, m)
		return
	}
	c.inbox = append(c.inbox, m)
}

func (e *Engine) dropped(r DropReason, from netip.AddrPort, detail string) {
	e.stats.Dropped[r]++
	if e.log.Debug().Enabled() {
		e.log.Debug().Str("reason", r.String()).Str("peer", from.String()).Str("detail", detail).Msg("dropped")
	}
}

// decode turns a packet into a message: frame, authors' keys, signatures,
// payload. A member encoded by id whose key is unknown delays the packet.
func (c *Community) decode(from netip.AddrPort, pkt []byte, pre *conversion.Frame) (*message, Verdict) {
	if c.refusesAfterDestroy(pkt) {
		c.notifyDestroyed(from, pkt)
		return nil, drop(DropDestroyed, "")
	}
	f := pre
	if f == nil {
		var err error
		f, err = c.def.codec.Decode(pkt)
		if err != nil {
			return nil, drop(dropForDecode(conversion.ReasonOf(err)), err.Error())
		}
	}
	entry := c.def.types[f.Format.ID]
	m := &message{entry: entry, frame: f, source: from, comm: c}
	if len(f.Authors) > 0 {
		m.authors = make([]*keys.PublicKey, len(f.Authors))
		for i, a := range f.Authors {
			k := a.Key
			if k == nil {
				var err error
				k, err = c.e.memberKey(a.ID)
				if err != nil {
					_ = c.e.fail(err)
					return nil, drop(DropUnknownMember, "store failure")
				}
				if k == nil {
					return nil, delay(need{kind: needIdentity, member: a.ID})
				}
				if k.Scheme() != a.Scheme {
					return nil, drop(DropBadKey, "scheme tag does not match the member's key")
				}
			}
			m.authors[i] = k
		}
		if pre == nil {
			if len(m.authors) == 2 {
				if !c.verifyDouble(entry, f, m.authors, -1) {
					return nil, drop(DropBadSignature, "")
				}
			} else if !m.authors[0].Verify(f.Body(), f.Signatures[0]) {
				return nil, drop(DropBadSignature, "")
			}
		}
	}
	p, err := entry.t.decodePayload(f.Payload)
	if err != nil {
		return nil, drop(dropForDecode(conversion.ReasonOf(err)), err.Error())
	}
	m.payload = p
	if policy.Synced(entry.spec.Distribution) {
		m.hash = PacketHash(pkt)
	}
	return m, Accept()
}

// processOrder ranks message types so that what others depend on comes
// first: identities, then permissions, then ordinary messages by id, then
// undos, then destroy.
func processOrder(id uint8) int {
	switch id {
	case IDIdentity:
		return 0
	case IDAuthorize, IDRevoke, IDDynamicSettings:
		return 1
	case IDUndoOwn, IDUndoOther:
		return 3
	case IDDestroyCommunity:
		return 4
	}
	return 2
}

// processInbox checks every message in the inbox, adds the accepted synced
// ones to the engine's write batch and queues them for handling.
func (c *Community) processInbox() {
	msgs := c.inbox
	c.inbox = nil
	slices.SortStableFunc(msgs, func(a, b *message) int {
		if x := cmp.Compare(processOrder(a.id()), processOrder(b.id())); x != 0 {
			return x
		}
		if x := cmp.Compare(a.id(), b.id()); x != 0 {
			return x
		}
		if x := cmp.Compare(a.frame.GlobalTime, b.frame.GlobalTime); x != 0 {
			return x
		}
		return bytes.Compare(a.frame.Packet, b.frame.Packet)
	})
	if err := c.prefetch(msgs); err != nil {
		_ = c.e.fail(err)
		return
	}
	for _, m := range msgs {
		if c.refusesAfterDestroy(m.frame.Packet) {
			c.dropped(DropDestroyed, m.source, "")
			continue
		}
		v := c.check(m)
		switch v.kind {
		case verdictDrop:
			c.dropped(v.reason, m.source, v.detail)
			continue
		case verdictDelay:
			c.delays.add(c, v.need, m.source, m.frame.Packet, m)
			c.pending.provisional(m)
			continue
		}
		if c.e.failed != nil {
			return
		}
		c.accept(m)
	}
	c.delays.flushSends(c)
}

// prefetch looks up, in one Store.Lookup, which of the synced messages
// about to be checked are stored already: the duplicate check then costs a
// map lookup instead of a query per message.
func (c *Community) prefetch(msgs []*message) error {
	if c.stored == nil {
		c.stored = map[MessageKey]Record{}
	}
	clear(c.stored)
	keys := c.prefetchKeys[:0]
	for _, m := range msgs {
		if policy.Synced(m.entry.spec.Distribution) {
			keys = append(keys, m.key())
		}
	}
	c.prefetchKeys = keys
	if len(keys) == 0 {
		return nil
	}
	return c.e.store.Lookup(c.cid, keys, func(r *Record) { c.stored[r.Key()] = *r })
}

// destroyNotifyInterval is how often a peer that still talks to a destroyed
// community is sent the destroy message.
const destroyNotifyInterval = time.Minute

// notifyDestroyed sends the destroy message to a peer that sent us a packet
// for the destroyed community (unless it is the destroy message itself), at
// most once per destroyNotifyInterval per peer.
func (c *Community) notifyDestroyed(from netip.AddrPort, pkt []byte) {
	if c.destroyPacket == nil || !from.IsValid() || bytes.Equal(pkt, c.destroyPacket) {
		return
	}
	if c.destroyNotified == nil {
		c.destroyNotified = map[netip.AddrPort]time.Time{}
	}
	if t, ok := c.destroyNotified[from]; ok && c.e.now.Sub(t) < destroyNotifyInterval {
		return
	}
	if len(c.destroyNotified) >= c.e.cfg.Walker.MaxCandidates {
		clear(c.destroyNotified)
	}
	c.destroyNotified[from] = c.e.now
	c.e.send(from, c.destroyPacket)
}

// check runs the framework's checks for one message, then the
// application's.
func (c *Community) check(m *message) Verdict {
	spec := m.entry.spec
	if v := c.checkMalicious(m); v.kind != verdictAccept {
		return v
	}
	var v Verdict
	switch d := spec.Distribution.(type) {
	case policy.DirectDistribution:
		v = c.checkDirect(m)
	case policy.FullSyncDistribution:
		v = c.checkSynced(m, d.Pruning)
		if v.kind == verdictAccept && d.SequenceNumbers {
			v = c.checkSequence(m)
		}
	case policy.LastSyncDistribution:
		v = c.checkSynced(m, d.Pruning)
		if v.kind == verdictAccept {
			v = c.checkHistory(m, d.HistorySize)
		}
	default:
		panic("dispersy: unknown distribution")
	}
	if v.kind != verdictAccept {
		return v
	}
	if v = c.checkPermission(m); v.kind != verdictAccept {
		return v
	}
	if m.entry.builtin {
		v = c.checkBuiltin(m)
	} else if m.entry.check != nil {
		v = m.entry.check(c.ctx, m)
	}
	if v.kind == verdictAccept && m.afterDelayed {
		s := m.frame.Sequence
		return delay(need{kind: needSequence, member: m.author(), msgID: m.id(), low: s - 1, high: s - 1, quiet: true})
	}
	return v
}

// checkDirect records the sender's clock for the acceptable-global-time
// median (Dispersy's DirectDistribution.check_batch).
func (c *Community) checkDirect(m *message) Verdict {
	c.walk.reportGlobalTime(m.source, m.frame.GlobalTime)
	return Accept()
}

// checkSynced applies the rules every synced distribution shares: the
// acceptable global time, pruning, duplicates and conflicts.
func (c *Community) checkSynced(m *message, pruning policy.Pruning) Verdict {
	gt := m.frame.GlobalTime
	if gt > c.acceptableGlobalTime() {
		return drop(DropFutureGlobalTime, "")
	}
	if policy.PruneStateOf(pruning, c.GlobalTime(), gt) != policy.Active {
		return drop(DropPruned, "")
	}
	key := m.key()
	if p := c.pending.get(key); p != nil {
		if bytes.Equal(p.frame.Packet, m.frame.Packet) {
			return drop(DropDuplicate, "in batch")
		}
		if sameMessage(p.frame, m.frame) {
			// Two encodings of one message in one batch: keep the
			// binary-greater, as for a stored one.
			if bytes.Compare(m.frame.Packet, p.frame.Packet) > 0 {
				c.e.batch.ReplacePacket(m.record())
				c.pending.keys[key] = m
			}
			return drop(DropDuplicate, "another encoding of a message in this batch")
		}
		if r := p.record(); lastSyncPair(m, &r) {
			return c.lastSyncConflict(m, &r)
		}
		if m.author() != c.def.master.ID() {
			c.noteEquivocation(m, func() *Record { r := p.record(); return &r }())
			return drop(DropMalicious, "another message with the same member and global time in this batch")
		}
		return drop(DropConflict, "another master message with the same global time in this batch")
	}
	rec, ok := c.stored[key]
	if !ok || c.gone(&rec) {
		return Accept()
	}
	if bytes.Equal(rec.Packet, m.frame.Packet) {
		c.onDuplicate(m, &rec)
		return drop(DropDuplicate, "")
	}
	if c.samePayload(&rec, m) {
		// The same message with other bytes (another encoding of the same
		// member, another community version): every peer keeps the
		// binary-greater packet (Dispersy §1.3, comparing the whole packet).
		if bytes.Compare(m.frame.Packet, rec.Packet) > 0 {
			r := m.record()
			r.Undone, r.UndoneBy = rec.Undone, rec.UndoneBy
			c.e.batch.ReplacePacket(r)
			return drop(DropDuplicate, "replaced by the binary-greater packet")
		}
		return drop(DropDuplicate, "binary-smaller copy of a stored message")
	}
	if lastSyncPair(m, &rec) {
		return c.lastSyncConflict(m, &rec)
	}
	if m.author() == c.def.master.ID() {
		// The master is never excluded; of two master messages at one
		// global time, every peer keeps the binary-lower one.
		if bytes.Compare(m.frame.Packet, rec.Packet) < 0 {
			// Replace the stored one: delete it (out of the timeline too)
			// and accept this one in its place.
			c.deleteRecords([]Record{rec})
			return Accept()
		}
		c.e.send(m.source, rec.Packet)
		return drop(DropConflict, "the stored master message is binary-lower")
	}
	c.noteEquivocation(m, &rec)
	return drop(DropMalicious, "another message with the same member and global time is stored")
}

// lastSyncPair reports whether m and rec, two messages with one key, are
// of one last-sync type.
func lastSyncPair(m *message, rec *Record) bool {
	_, last := m.entry.spec.Distribution.(policy.LastSyncDistribution)
	return last && rec.MessageID == m.id()
}

// lastSyncConflict resolves two messages of one member, one last-sync type
// and one global time: the binary-lower packet is kept, and nobody is
// excluded. A last-sync history may have evicted the first copy before
// the second arrives, so the conflict is not seen on every peer; this rule
// ends the same on all of them (docs/compatibility.md).
func (c *Community) lastSyncConflict(m *message, rec *Record) Verdict {
	if bytes.Compare(m.frame.Packet, rec.Packet) > 0 {
		if !m.local && m.source.IsValid() {
			c.e.send(m.source, rec.Packet)
		}
		return drop(DropConflict, "a binary-lower last-sync message with the same member and global time is kept")
	}
	c.pending.unhistory(rec)
	c.deleteRecords([]Record{*rec})
	return Accept()
}

// samePayload reports whether a stored record and an incoming message are
// the same message in different bytes.
func (c *Community) samePayload(rec *Record, m *message) bool {
	f, err := c.def.codec.Decode(rec.Packet)
	return err == nil && sameMessage(f, m.frame)
}

// sameMessage reports whether two frames carry the same message (type,
// authors, global time, sequence number, resolution index and payload),
// whatever their encodings (community version, member encoding).
func sameMessage(a, b *conversion.Frame) bool {
	if a.Format.ID != b.Format.ID || a.GlobalTime != b.GlobalTime || a.Sequence != b.Sequence ||
		a.ResolutionIndex != b.ResolutionIndex || len(a.Authors) != len(b.Authors) {
		return false
	}
	for i := range a.Authors {
		if a.Authors[i].ID != b.Authors[i].ID {
			return false
		}
	}
	return bytes.Equal(a.Payload, b.Payload)
}

// onDuplicate answers a peer that sent us a message we already hold: when
// it is undone, the peer evidently lacks the undo, so we send it.
func (c *Community) onDuplicate(m *message, rec *Record) {
	if !rec.Undone || rec.UndoneBy == (MessageKey{}) || m.local {
		return
	}
	undo, ok, err := c.e.store.Get(c.cid, rec.UndoneBy)
	if ok && (rec.MessageID == IDUndoOwn || rec.MessageID == IDUndoOther) && undo.UndoneBy != (MessageKey{}) {
		// A losing undo names its target: send the winning undo.
		undo, ok, err = c.e.store.Get(c.cid, undo.UndoneBy)
	}
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	if ok {
		c.e.send(m.source, undo.Packet)
	}
}

// checkSequence enforces gapless sequence numbers per (member, type) with
// rising global time (Dispersy §4.7).
func (c *Community) checkSequence(m *message) Verdict {
	st, err := c.pending.sequence(c, m.author(), m.id())
	if err != nil {
		_ = c.e.fail(err)
		return drop(DropSequence, "store failure")
	}
	s, gt := m.frame.Sequence, m.frame.GlobalTime
	switch {
	case s > st.seq+1:
		return delay(need{kind: needSequence, member: m.author(), msgID: m.id(), low: st.seq + 1, high: s - 1})
	case s == st.seq+1:
		if gt <= st.gt {
			return drop(DropSequence, "higher sequence number with a lower global time")
		}
		m.afterDelayed = st.provisional
		return Accept()
	}
	return c.sequenceConflict(m)
}

// sequenceConflict handles a message whose sequence number is already
// taken: an identical copy is a duplicate; otherwise the lower (global
// time, packet) wins everywhere, and the peer holding the loser is sent the
// winner.
func (c *Community) sequenceConflict(m *message) Verdict {
	var stored *Record
	err := c.e.store.BySequence(c.cid, m.author(), m.id(), m.frame.Sequence, m.frame.Sequence, func(r *Record) bool {
		rr := *r
		stored = &rr
		return false
	})
	if err != nil {
		_ = c.e.fail(err)
		return drop(DropSequence, "store failure")
	}
	if stored == nil || c.gone(stored) {
		// The number is taken by a message of this batch: decide as if
		// that one were stored. When it is a delayed one (provisional),
		// wait for it, as this message would after it.
		p := c.pending.bySequence(m.author(), m.id(), m.frame.Sequence)
		if p == nil {
			s := m.frame.Sequence
			return delay(need{kind: needSequence, member: m.author(), msgID: m.id(), low: s, high: s, quiet: true})
		}
		r := p.record()
		stored = &r
	}
	if bytes.Equal(stored.Packet, m.frame.Packet) {
		c.onDuplicate(m, stored)
		return drop(DropDuplicate, "")
	}
	if m.author() == c.def.master.ID() {
		return c.masterConflict(m, stored)
	}
	// Two messages with one sequence number: the author equivocated (an
	// honest member never reuses one). It is excluded on every peer that
	// sees both, and they learn it from each other (see malicious.go).
	c.noteEquivocation(m, stored)
	return drop(DropMalicious, "two messages with one sequence number")
}

// cmpKeyPacket orders two messages by (global time, packet).
func cmpKeyPacket(gtA uint64, pa []byte, gtB uint64, pb []byte) int {
	if x := cmp.Compare(gtA, gtB); x != 0 {
		return x
	}
	return bytes.Compare(pa, pb)
}

// checkHistory keeps only the newest n messages per member (per member
// pair for double-signed types) of a last-sync type.
func (c *Community) checkHistory(m *message, n int) Verdict {
	h, err := c.pending.history(c, m)
	if err != nil {
		_ = c.e.fail(err)
		return drop(DropHistory, "store failure")
	}
	if len(h.recs) < n {
		return Accept()
	}
	oldest := h.recs[0]
	if cmpKeyPacket(m.frame.GlobalTime, m.frame.Packet, oldest.gt, oldest.packet) < 0 {
		if n == 1 && !m.local {
			// Dispersy sends the newest message back as proof that the
			// sender's is outdated.
			c.e.send(m.source, h.recs[len(h.recs)-1].packet)
		}
		return drop(DropHistory, "older than the kept history")
	}
	return Accept()
}

// accept adds a checked message to the write batch (when synced) and the
// handling queue.
func (c *Community) accept(m *message) {
	spec := m.entry.spec
	if policy.Synced(spec.Distribution) {
		for _, a := range m.authors {
			c.e.rememberStored(a)
		}
		if s := m.frame.Sequence; s > 0 && m.author() == c.me.ID() && s > c.seqs[m.id()] {
			// Our own message came back (a restored store): never reuse
			// its sequence number.
			c.seqs[m.id()] = s
		}
		c.e.batch.Put(m.record())
		c.pending.add(m)
		if l, ok := spec.Distribution.(policy.LastSyncDistribution); ok {
			c.e.batch.Trim(c.cid, m.id(), m.author(), m.member2(), l.HistorySize)
			c.pending.trim(m, l.HistorySize)
		}
		c.acceptEffects(m)
		c.e.stats.Stored++
		c.stats.Stored++
	}
	c.e.queued = append(c.e.queued, m)
}

// acceptEffects adds what accepting a synced message changes beyond
// storing it: the timeline for permission messages, the target of an undo.
func (c *Community) acceptEffects(m *message) {
	switch m.id() {
	case IDAuthorize, IDRevoke, IDDynamicSettings:
		c.acceptPermission(m)
	case IDUndoOwn, IDUndoOther:
		c.acceptUndo(m)
	}
}

// rememberStored makes sure a member whose message is stored has a member
// record.
func (e *Engine) rememberStored(k *keys.PublicKey) {
	id := k.ID()
	if _, ok := e.storedMembers[id]; ok {
		return
	}
	e.batch.PutMember(MemberRecord{ID: id, PublicKey: k.Bytes()})
	if len(e.storedMembers) >= e.cfg.MaxKnownMembers {
		clear(e.storedMembers)
	}
	e.storedMembers[id] = struct{}{}
	e.remember(k)
}

// flush processes inboxes until nothing is left: checks, one commit per
// round, then handlers, global time, pruning and resumed delays.
func (e *Engine) flush() error {
	if e.flushing {
		return e.failed
	}
	e.flushing = true
	defer func() { e.flushing = false }()
	for e.failed == nil {
		worked := false
		for _, list := range [2][]*Community{e.order, e.trackerOrder} {
			for _, c := range list {
				if len(c.inbox) > 0 {
					worked = true
					c.processInbox()
				}
			}
		}
		if e.failed != nil {
			break
		}
		for _, c := range e.order {
			if c.recheck {
				worked = true
				c.runRecheck()
			}
		}
		if e.batch.Len() > 0 {
			worked = true
			if err := e.noteRemovals(&e.batch); err != nil {
				return e.fail(err)
			}
			if err := e.applyBatch(); err != nil {
				return e.fail(err)
			}
			e.applied(e.batch.Ops)
			e.verifier.committed(&e.batch)
			e.batch.Reset()
		}
		// The round is committed: what its checks saw pending (delayed
		// sequence numbers included) is stored or forgotten now.
		for _, list := range [2][]*Community{e.order, e.trackerOrder} {
			for _, c := range list {
				c.pending.reset()
			}
		}
		if len(e.queued) > 0 {
			worked = true
			q := e.queued
			e.queued = nil
			e.handle(q)
		}
		for _, c := range e.order {
			if len(c.undone) > 0 || len(c.redone) > 0 {
				worked = true
				c.runUndone()
			}
			if len(c.removals) > 0 {
				worked = true
				c.runRemoved()
			}
		}
		if !worked {
			break
		}
	}
	if e.failed == nil {
		e.observe()
	}
	return e.failed
}

// applyBatch commits the write batch. The checks plan every write against
// the store plus the batch, so a SetUndone or ReplacePacket of a message
// that is not stored is a stale plan, not a local failure: it is left out
// and counted (DropStoreConflict), and the rest is committed. Any other
// error is a local failure.
func (e *Engine) applyBatch() error {
	for {
		err := e.store.Apply(&e.batch)
		var oe *OpError
		if err == nil || !errors.As(err, &oe) || !errors.Is(oe.Err, ErrNotFound) ||
			(oe.Kind != OpSetUndone && oe.Kind != OpReplacePacket) || oe.Index >= len(e.batch.Ops) {
			return err
		}
		e.batch.Ops = slices.Delete(e.batch.Ops, oe.Index, oe.Index+1)
		e.log.Warn().Err(oe).Msg("write on a missing message left out")
		e.stats.Dropped[DropStoreConflict]++
	}
}

// handle runs after the commit: it clears the pending state, raises global
// times, calls handlers in order (grouped by community and type), forwards
// what must be forwarded and resumes delayed messages.
func (e *Engine) handle(q []*message) {
	for i := 0; i < len(q); {
		j := i + 1
		for j < len(q) && q[j].entry == q[i].entry && q[j].comm == q[i].comm {
			j++
		}
		group := q[i:j]
		i = j
		c := group[0].comm
		if c == nil || c.unloaded {
			continue
		}
		if policy.Synced(group[0].entry.spec.Distribution) {
			// One rise per group: pruning runs once for the highest time.
			var top uint64
			for _, m := range group {
				top = max(top, m.frame.GlobalTime)
				c.storedSync(m)
			}
			c.raiseGlobalTime(top)
		}
		live := group
		if slices.ContainsFunc(group, func(m *message) bool { return m.inactive }) {
			// Stored inactive (a revoke invalidated it): never handled.
			live = slices.DeleteFunc(slices.Clone(group), func(m *message) bool { return m.inactive })
		}
		e.stats.Handled += uint64(len(live))
		switch h := group[0].entry.handle; {
		case len(live) == 0:
		case group[0].entry.builtin:
			c.handleBuiltin(live)
		case h != nil:
			h(c.ctx, live)
		}
		if e.failed != nil {
			return
		}
		for _, m := range group {
			c.forwardReceived(m)
			c.delays.resolved(c, m)
		}
	}
}

// raiseGlobalTime raises the clock after a stored message and applies
// global-time pruning when it rises.
func (c *Community) raiseGlobalTime(gt uint64) {
	if gt <= c.globalTime {
		return
	}
	c.globalTime = gt
	c.prune()
}

// prune deletes messages of pruned types whose age reached the prune
// threshold (Dispersy: on every rise of the global time). Each type's step
// starts above the previous one's bound (prunedTo), so the store reads only
// the newly pruned global times; the first step after loading starts at 0.
func (c *Community) prune() {
	for _, id := range c.def.ids {
		_, _, p, ok := policy.SyncParams(c.def.types[id].spec.Distribution)
		if !ok {
			continue
		}
		g, ok := p.(policy.GlobalTimePruning)
		if !ok || c.globalTime < g.Pruned {
			continue
		}
		upTo := c.globalTime - g.Pruned
		if c.prunedTo == nil {
			c.prunedTo = make(map[uint8]uint64)
		}
		after, done := c.prunedTo[id]
		if done && upTo <= after {
			continue
		}
		c.e.batch.PruneRange(c.cid, id, after, upTo)
		c.prunedTo[id] = upTo
	}
}
