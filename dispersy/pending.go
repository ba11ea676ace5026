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
	// trimmed holds the keys this batch's trims delete.
	trimmed map[MessageKey]bool
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
	gt     uint64
	packet []byte
	key    MessageKey
}

type histState struct {
	recs []histEntry // ascending by (gt, packet)
}

func (p *pendingState) reset() {
	clear(p.keys)
	clear(p.seqs)
	clear(p.hists)
	clear(p.trimmed)
}

func (p *pendingState) get(k MessageKey) *message {
	if p.keys == nil {
		return nil
	}
	return p.keys[k]
}

// add records an accepted synced message.
func (p *pendingState) add(m *message) {
	if p.keys == nil {
		p.keys = map[MessageKey]*message{}
	}
	p.keys[m.key()] = m
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
		if k.Member == member {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *message) int {
		return cmpKeyPacket(a.frame.GlobalTime, a.frame.Packet, b.frame.GlobalTime, b.frame.Packet)
	})
	return out
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
	h := &histState{recs: make([]histEntry, len(recs))}
	for i, r := range recs {
		h.recs[i] = histEntry{gt: r.GlobalTime, packet: r.Packet, key: r.Key()}
	}
	if p.hists == nil {
		p.hists = map[histKey]*histState{}
	}
	p.hists[k] = h
	return h, nil
}

// trim inserts an accepted message into its history and keeps the newest n.
func (p *pendingState) trim(m *message, n int) {
	h := p.hists[historyKey(m)]
	if h == nil {
		return
	}
	e := histEntry{gt: m.frame.GlobalTime, packet: m.frame.Packet, key: m.key()}
	i, _ := slices.BinarySearchFunc(h.recs, e, func(x, y histEntry) int {
		return cmpKeyPacket(x.gt, x.packet, y.gt, y.packet)
	})
	h.recs = slices.Insert(h.recs, i, e)
	if len(h.recs) > n {
		if p.trimmed == nil {
			p.trimmed = map[MessageKey]bool{}
		}
		for _, x := range h.recs[:len(h.recs)-n] {
			p.trimmed[x.key] = true
		}
		h.recs = slices.Delete(h.recs, 0, len(h.recs)-n)
	}
}
