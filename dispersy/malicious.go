package dispersy

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/timeline"
)

// An equivocating member (one that signed two different messages with the
// same sequence number, or the same global time) is excluded from the
// community, the same way on every peer:
//
//   - the two packets are kept as proof (in the store's options, not in
//     the synced messages);
//   - every message of that member in the community is deleted, and the
//     application's Undo handlers see them go;
//   - its messages are refused from then on (DropMalicious);
//   - a peer that sends us one of its messages is sent the proof, so it
//     reaches the same state.
//
// Deleting the whole history, rather than refusing only new messages, is
// what keeps peers identical: a peer that learns of the equivocation later
// would otherwise keep messages the others refused.
//
// NB: an honest member that loses its store and creates messages before
// its old ones synced back re-uses sequence numbers and global times, and
// is excluded. A member that lost its store should use a new key.

// proofNotifyInterval limits how often one peer is sent a proof.
const proofNotifyInterval = time.Minute

func maliciousOption(cid keys.CommunityID) string { return "malicious:" + hex.EncodeToString(cid[:]) }

// loadMalicious reads the community's excluded members.
func (c *Community) loadMalicious() error {
	v, ok, err := c.e.store.Option(maliciousOption(c.cid))
	if err != nil || !ok {
		return err
	}
	for len(v) >= keys.IDSize+4 {
		var mid keys.MemberID
		copy(mid[:], v)
		v = v[keys.IDSize:]
		var pkts [2][]byte
		for i := range pkts {
			if len(v) < 2 {
				return nil
			}
			n := int(binary.BigEndian.Uint16(v))
			if len(v) < 2+n {
				return nil
			}
			pkts[i] = bytes.Clone(v[2 : 2+n])
			v = v[2+n:]
		}
		c.maliciousSet()[mid] = pkts
	}
	return nil
}

func (c *Community) maliciousSet() map[keys.MemberID][2][]byte {
	if c.malicious == nil {
		c.malicious = map[keys.MemberID][2][]byte{}
	}
	return c.malicious
}

// Excluded reports whether member was caught equivocating in the community.
func (c *Community) Excluded(member keys.MemberID) bool {
	_, ok := c.malicious[member]
	return ok
}

// checkMalicious refuses messages of an excluded member and sends their
// sender the proof.
func (c *Community) checkMalicious(m *message) Verdict {
	if len(c.malicious) == 0 {
		return Accept()
	}
	for _, a := range m.authors {
		proof, ok := c.malicious[a.ID()]
		if !ok {
			continue
		}
		if !m.local && m.source.IsValid() && !slices.ContainsFunc(proof[:], func(p []byte) bool { return bytes.Equal(p, m.frame.Packet) }) {
			c.sendProof(m.source, proof)
		}
		return drop(DropMalicious, "")
	}
	return Accept()
}

func (c *Community) sendProof(to netip.AddrPort, proof [2][]byte) {
	if c.proofNotified == nil {
		c.proofNotified = map[netip.AddrPort]time.Time{}
	}
	if t, ok := c.proofNotified[to]; ok && c.e.now.Sub(t) < proofNotifyInterval {
		return
	}
	if len(c.proofNotified) >= c.e.cfg.Walker.MaxCandidates {
		clear(c.proofNotified)
	}
	c.proofNotified[to] = c.e.now
	c.e.send(to, proof[0])
	c.e.send(to, proof[1])
}

// noteEquivocation excludes the author of m, which conflicts with the
// stored record (same sequence number or same global time, other content).
// It deletes the member's messages (in the write batch) and stores the
// proof.
func (c *Community) noteEquivocation(m *message, stored *Record) {
	mid := m.author()
	if _, ok := c.malicious[mid]; ok {
		return
	}
	a, b := stored.Packet, m.frame.Packet
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	c.maliciousSet()[mid] = [2][]byte{bytes.Clone(a), bytes.Clone(b)}
	c.e.log.Info().Hex("cid", c.cid[:4]).Str("mid", mid.String()).Msg("member excluded: it signed two messages with one sequence number or global time")

	var v []byte
	ids := make([]keys.MemberID, 0, len(c.malicious))
	for id := range c.malicious {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y keys.MemberID) int { return bytes.Compare(x[:], y[:]) })
	for _, id := range ids {
		p := c.malicious[id]
		v = append(v, id[:]...)
		for _, pkt := range p {
			v = binary.BigEndian.AppendUint16(v, uint16(len(pkt)))
			v = append(v, pkt...)
		}
	}
	c.e.batch.SetOption(maliciousOption(c.cid), v)

	// Delete its messages: stored ones and those of this batch.
	var doomed []Record
	for _, id := range c.def.ids {
		hist, err := c.e.store.History(c.cid, id, mid, keys.MemberID{})
		if err != nil {
			_ = c.e.fail(err)
			return
		}
		for _, r := range hist {
			// Skip what this batch deleted or replaced already.
			if !c.gone(&r) && c.pending.get(r.Key()) == nil {
				doomed = append(doomed, r)
			}
		}
	}
	for _, p := range c.pending.byMember(mid) {
		doomed = append(doomed, p.record())
	}
	c.pending.forget(mid)
	c.deleteRecords(doomed)
	c.releaseLosers(doomed)
	c.resumeWaitingOn(mid)
}

// releaseLosers makes the losing undos of deleted targets live again:
// with the target gone, every undo of it is stored without effect, as on a
// peer that learns of the exclusion before the undos arrive. (The
// excluded member's own undos are deleted with the rest.)
func (c *Community) releaseLosers(doomed []Record) {
	winners := map[MessageKey]bool{}
	low := uint64(math.MaxUint64)
	for _, r := range doomed {
		winner := r.UndoneBy
		if w, ok := c.pending.undos[r.Key()]; ok {
			winner = w
		}
		if winner != (MessageKey{}) {
			winners[winner] = true
			low = min(low, r.GlobalTime)
		}
	}
	if len(winners) == 0 {
		return
	}
	losers, err := c.undoLosers(winners, low, nil)
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	for _, k := range losers {
		c.e.batch.SetUndone(c.cid, k, false, MessageKey{})
	}
}

// resumeWaitingOn re-checks the delayed messages that wait for a message
// of an excluded member (an undo of it): that message will never be
// stored, and they are decided as on a peer that stored them before the
// exclusion.
func (c *Community) resumeWaitingOn(mid keys.MemberID) {
	var gts []uint64
	for k := range c.delays.byKey {
		if k.kind == needMessage && k.member == mid {
			gts = append(gts, k.globalTime)
		}
	}
	slices.Sort(gts)
	for _, gt := range gts {
		c.delays.resume(c, need{kind: needMessage, member: mid, globalTime: gt})
	}
}

// deleteRecords deletes stored (or pending) messages: the deletes go into
// the write batch, permission messages leave the timeline (stored messages
// are re-checked), and the Undo handlers see the live ones go (an undone
// message's Undo handler ran already: Handle minus Undo calls per message
// stays 0 or 1).
func (c *Community) deleteRecords(recs []Record) {
	live := recs[:0:0]
	for _, r := range recs {
		if _, undone := c.pending.undos[r.Key()]; !r.Undone && !undone {
			live = append(live, r)
		}
		c.e.batch.Delete(c.cid, r.Key())
		c.pending.remove(r.Key())
		switch r.MessageID {
		case IDAuthorize, IDRevoke, IDDynamicSettings:
			if from, changed := c.tl.Remove(timeline.Ref{Author: r.Member, GlobalTime: r.GlobalTime}); changed {
				c.scheduleRecheck(from)
			}
		}
	}
	c.queueUndone(live)
}

// masterConflict resolves two master messages with one sequence number the
// way Dispersy did, since the master cannot be excluded (two admins
// signing as the master can collide): the lower (global time, packet)
// wins on every peer; a peer holding the loser deletes it and the master's
// later messages of that type (they come back through sync if they still
// fit), and the sender of the loser is sent the winner.
func (c *Community) masterConflict(m *message, stored *Record) Verdict {
	if cmpKeyPacket(stored.GlobalTime, stored.Packet, m.frame.GlobalTime, m.frame.Packet) < 0 {
		c.e.send(m.source, stored.Packet)
		return drop(DropSequence, "master sequence conflict: the stored message wins")
	}
	var doomed []Record
	prev := seqState{}
	err := c.e.store.BySequence(c.cid, m.author(), m.id(), 1, math.MaxUint32, func(r *Record) bool {
		if r.GlobalTime >= stored.GlobalTime {
			doomed = append(doomed, *r)
		} else {
			prev = seqState{seq: r.Sequence, gt: r.GlobalTime}
		}
		return true
	})
	if err != nil {
		_ = c.e.fail(err)
		return drop(DropSequence, "store failure")
	}
	c.deleteRecords(doomed)
	if prev.seq+1 != m.frame.Sequence {
		return drop(DropSequence, "master sequence conflict with a gap")
	}
	if c.pending.seqs == nil {
		c.pending.seqs = map[seqKey]*seqState{}
	}
	c.pending.seqs[seqKey{m.author(), m.id()}] = &prev
	return Accept()
}
