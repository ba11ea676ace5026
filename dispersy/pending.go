package dispersy

import (
	"bytes"
	"slices"

	"github.com/dispersy-go/dispersy/keys"
)

// pendingState is what the messages accepted in the current flush change,
// before they are committed: checks within one batch must see each other
// (sequence numbers 1..5 arriving together, last-sync histories, duplicate
// keys). It is cleared after every commit.
type pendingState struct {
	keys  map[MessageKey]*message
	seqs  map[seqKey]*seqState
	hists map[histKey]*histState
	// gone holds the keys this flush deleted (trimmed, excluded, replaced)
	// before the commit: the store still returns them, but every check
	// must treat them as not stored, as it would after the commit.
	gone map[MessageKey]bool
	// undos maps the targets undone in this flush to their winning undo.
	undos map[MessageKey]MessageKey
}

type seqKey struct {
	member keys.MemberID
	id     uint8
}

type seqState struct {
	seq uint32
	gt  uint64
	// provisional: seq belongs to a message of this batch that was
	// delayed, not stored.
	provisional bool
}

// histKey names a last-sync history: one member, or an unordered pair.
type histKey struct {
	id   uint8
	a, b keys.MemberID
}

type histEntry struct {
	member keys.MemberID
	gt     uint64
	packet []byte
}

type histState struct {
	recs []histEntry // ascending by (gt, packet)
}

func (p *pendingState) reset() {
	clear(p.keys)
	clear(p.seqs)
	clear(p.hists)
	clear(p.gone)
	clear(p.undos)
}

// get returns the pending message with key k, nil when there is none or it
// was deleted again in this flush.
func (p *pendingState) get(k MessageKey) *message {
	if p.keys == nil || p.gone[k] {
		return nil
	}
	return p.keys[k]
}

// gone reports whether the stored message r was deleted in this flush:
// trimmed, excluded, replaced, or pruned by a step not committed yet.
func (c *Community) gone(r *Record) bool {
	if c.pending.gone[r.Key()] {
		return true
	}
	upTo, ok := c.prunedTo[r.MessageID]
	return ok && r.GlobalTime <= upTo
}

// remove records that the message with key k, stored or pending, was
// deleted in this flush.
func (p *pendingState) remove(k MessageKey) {
	if p.gone == nil {
		p.gone = map[MessageKey]bool{}
	}
	p.gone[k] = true
}

// add records an accepted synced message.
func (p *pendingState) add(m *message) {
	if p.keys == nil {
		p.keys = map[MessageKey]*message{}
	}
	p.keys[m.key()] = m
	delete(p.gone, m.key())
	if m.frame.Sequence > 0 {
		if p.seqs == nil {
			p.seqs = map[seqKey]*seqState{}
		}
		p.seqs[seqKey{m.author(), m.id()}] = &seqState{seq: m.frame.Sequence, gt: m.frame.GlobalTime}
	}
}

// sequence returns the highest sequence number and global time of member's
// messages of type id, committed or pending.
func (p *pendingState) sequence(c *Community, member keys.MemberID, id uint8) (seqState, error) {
	k := seqKey{member, id}
	if st := p.seqs[k]; st != nil {
		return *st, nil
	}
	seq, gt, err := c.e.store.LastSequence(c.cid, member, id)
	if err != nil {
		return seqState{}, err
	}
	if p.seqs == nil {
		p.seqs = map[seqKey]*seqState{}
	}
	st := &seqState{seq: seq, gt: gt}
	p.seqs[k] = st
	return *st, nil
}

// byMember returns the pending messages of member, ascending by global
// time.
func (p *pendingState) byMember(member keys.MemberID) []*message {
	var out []*message
	for k, m := range p.keys {
		if k.Member == member && !p.gone[k] {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *message) int {
		return cmpKeyPacket(a.frame.GlobalTime, a.frame.Packet, b.frame.GlobalTime, b.frame.Packet)
	})
	return out
}

// bySequence returns the pending message of member with type id and
// sequence number seq, or nil (there is at most one).
func (p *pendingState) bySequence(member keys.MemberID, id uint8, seq uint32) *message {
	for k, m := range p.keys {
		if k.Member == member && m.id() == id && m.frame.Sequence == seq && !p.gone[k] {
			return m
		}
	}
	return nil
}

// forget drops member's pending state.
func (p *pendingState) forget(member keys.MemberID) {
	for k := range p.keys {
		if k.Member == member {
			delete(p.keys, k)
		}
	}
	for k := range p.seqs {
		if k.member == member {
			delete(p.seqs, k)
		}
	}
	clear(p.hists)
}

// provisional records that a sequence-numbered message of this batch was
// delayed: the member's later messages in the batch pass the sequence check
// (so their own needs are found and requested now, as Dispersy did), but
// wait for it before they are stored.
func (p *pendingState) provisional(m *message) {
	if m.frame.Sequence == 0 {
		return
	}
	k := seqKey{m.author(), m.id()}
	if st := p.seqs[k]; st != nil && st.seq+1 != m.frame.Sequence {
		return
	}
	if p.seqs == nil {
		p.seqs = map[seqKey]*seqState{}
	}
	p.seqs[k] = &seqState{seq: m.frame.Sequence, gt: m.frame.GlobalTime, provisional: true}
}

func historyKey(m *message) histKey {
	a, b := m.author(), m.member2()
	if b != (keys.MemberID{}) && bytes.Compare(b[:], a[:]) < 0 {
		a, b = b, a
	}
	return histKey{id: m.id(), a: a, b: b}
}

// history returns the last-sync history m belongs to, committed plus
// pending.
func (p *pendingState) history(c *Community, m *message) (*histState, error) {
	k := historyKey(m)
	if h := p.hists[k]; h != nil {
		return h, nil
	}
	recs, err := c.e.store.History(c.cid, k.id, m.author(), m.member2())
	if err != nil {
		return nil, err
	}
	h := &histState{recs: make([]histEntry, 0, len(recs))}
	for _, r := range recs {
		if !c.gone(&r) { // deleted in this flush
			h.recs = append(h.recs, histEntry{member: r.Member, gt: r.GlobalTime, packet: r.Packet})
		}
	}
	if p.hists == nil {
		p.hists = map[histKey]*histState{}
	}
	p.hists[k] = h
	return h, nil
}

// unhistory removes a deleted message from its loaded last-sync history.
func (p *pendingState) unhistory(r *Record) {
	a, b := r.Member, r.Member2
	if b != (keys.MemberID{}) && bytes.Compare(b[:], a[:]) < 0 {
		a, b = b, a
	}
	if h := p.hists[histKey{id: r.MessageID, a: a, b: b}]; h != nil {
		h.recs = slices.DeleteFunc(h.recs, func(e histEntry) bool { return e.member == r.Member && e.gt == r.GlobalTime })
	}
}

// trim inserts an accepted message into its history and keeps the newest n.
func (p *pendingState) trim(m *message, n int) {
	h := p.hists[historyKey(m)]
	if h == nil {
		return
	}
	e := histEntry{member: m.author(), gt: m.frame.GlobalTime, packet: m.frame.Packet}
	i, _ := slices.BinarySearchFunc(h.recs, e, func(x, y histEntry) int {
		return cmpKeyPacket(x.gt, x.packet, y.gt, y.packet)
	})
	h.recs = slices.Insert(h.recs, i, e)
	if len(h.recs) > n {
		for _, old := range h.recs[:len(h.recs)-n] {
			p.remove(MessageKey{Member: old.member, GlobalTime: old.gt})
		}
		h.recs = slices.Delete(h.recs, 0, len(h.recs)-n)
	}
}
