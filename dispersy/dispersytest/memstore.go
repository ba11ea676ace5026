package dispersytest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// maxGlobalTime is the largest global time a Store accepts: SQLite integers
// are signed 64-bit (conversion.MaxGlobalTime).
const maxGlobalTime = 1<<63 - 1

// MemStore is an in-memory dispersy.Store with exactly the semantics of the
// SQLite store (database.Store): the same orderings and tie-breaks, the same
// errors, atomic batches. It is what large simulations use; the conformance
// suite TestStore proves the two agree.
//
// Per community it keeps a map by message key, one slice of all messages
// sorted by (global time, hash), and slices per message type and per
// (member, type) sorted by (global time, packet). Apply of new messages
// (which mostly arrive with rising global times) appends near the end of
// those slices; Has is a map lookup; Scan, Range and Count touch only what
// they return (Count is a counter).
//
// A batch is atomic through an undo log: each operation records how to
// revert itself, and a failing operation reverts every earlier one, in
// reverse order.
//
// A MemStore is not safe for concurrent use. Records passed to Apply are
// copied; records returned or passed to callbacks are copies the caller
// owns.
type MemStore struct {
	closed      bool
	members     map[keys.MemberID]dispersy.MemberRecord
	communities map[keys.CommunityID]*memCommunity
	options     map[string][]byte
	undo        []undoRec
}

var _ dispersy.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		members:     make(map[keys.MemberID]dispersy.MemberRecord),
		communities: make(map[keys.CommunityID]*memCommunity),
		options:     make(map[string][]byte),
	}
}

// memMsg is one stored message; the store owns rec and its slices.
type memMsg struct {
	rec dispersy.Record
}

// memCommunity holds one community's record, types and messages.
type memCommunity struct {
	rec   dispersy.CommunityRecord
	types []dispersy.TypeRecord // by id
	byKey map[dispersy.MessageKey]*memMsg
	// all: every message, by (global time, hash, member).
	all []*memMsg
	// byType: per type, by (global time, packet, member).
	byType map[uint8][]*memMsg
	// byMember: per creator and type, by (global time, packet, member).
	byMember map[keys.MemberID]map[uint8][]*memMsg
	// live counts the messages that are not undone, per type.
	live [256]int
}

func newMemCommunity(rec dispersy.CommunityRecord) *memCommunity {
	return &memCommunity{
		rec:      rec,
		byKey:    make(map[dispersy.MessageKey]*memMsg),
		byType:   make(map[uint8][]*memMsg),
		byMember: make(map[keys.MemberID]map[uint8][]*memMsg),
	}
}

// cmpScan orders by (global time, hash, member): Scan's order.
func cmpScan(a, b *memMsg) int {
	if c := cmp.Compare(a.rec.GlobalTime, b.rec.GlobalTime); c != 0 {
		return c
	}
	if c := bytes.Compare(a.rec.Hash[:], b.rec.Hash[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.rec.Member[:], b.rec.Member[:])
}

// cmpPacket orders by (global time, packet, member): Range's, Replay's and
// History's order.
func cmpPacket(a, b *memMsg) int {
	if c := cmp.Compare(a.rec.GlobalTime, b.rec.GlobalTime); c != 0 {
		return c
	}
	if c := bytes.Compare(a.rec.Packet, b.rec.Packet); c != 0 {
		return c
	}
	return bytes.Compare(a.rec.Member[:], b.rec.Member[:])
}

func insertSorted(s []*memMsg, m *memMsg, f func(a, b *memMsg) int) []*memMsg {
	// Fast path: most messages arrive with the highest global time.
	if n := len(s); n == 0 || f(s[n-1], m) < 0 {
		return append(s, m)
	}
	i, _ := slices.BinarySearchFunc(s, m, f)
	return slices.Insert(s, i, m)
}

func removeSorted(s []*memMsg, m *memMsg, f func(a, b *memMsg) int) []*memMsg {
	i, found := slices.BinarySearchFunc(s, m, f)
	if !found || s[i] != m {
		panic("dispersytest: MemStore index out of sync")
	}
	return slices.Delete(s, i, i+1)
}

func (c *memCommunity) insert(m *memMsg) {
	r := &m.rec
	c.byKey[r.Key()] = m
	c.all = insertSorted(c.all, m, cmpScan)
	c.byType[r.MessageID] = insertSorted(c.byType[r.MessageID], m, cmpPacket)
	bt := c.byMember[r.Member]
	if bt == nil {
		bt = make(map[uint8][]*memMsg)
		c.byMember[r.Member] = bt
	}
	bt[r.MessageID] = insertSorted(bt[r.MessageID], m, cmpPacket)
	if !r.Undone {
		c.live[r.MessageID]++
	}
}

func (c *memCommunity) remove(m *memMsg) {
	r := &m.rec
	delete(c.byKey, r.Key())
	c.all = removeSorted(c.all, m, cmpScan)
	if s := removeSorted(c.byType[r.MessageID], m, cmpPacket); len(s) > 0 {
		c.byType[r.MessageID] = s
	} else {
		delete(c.byType, r.MessageID)
	}
	bt := c.byMember[r.Member]
	if s := removeSorted(bt[r.MessageID], m, cmpPacket); len(s) > 0 {
		bt[r.MessageID] = s
	} else {
		delete(bt, r.MessageID)
		if len(bt) == 0 {
			delete(c.byMember, r.Member)
		}
	}
	if !r.Undone {
		c.live[r.MessageID]--
	}
}

// history returns the messages of type msgID by member, or by the
// unordered pair {member, member2} when member2 is set, by (global time,
// packet, member). The slice is fresh; the messages are the store's.
func (c *memCommunity) history(msgID uint8, member, member2 keys.MemberID) []*memMsg {
	if member2 == (keys.MemberID{}) {
		return slices.Clone(c.byMember[member][msgID])
	}
	var out []*memMsg
	for _, m := range c.byMember[member][msgID] {
		if m.rec.Member2 == member2 {
			out = append(out, m)
		}
	}
	if member != member2 {
		for _, m := range c.byMember[member2][msgID] {
			if m.rec.Member2 == member {
				out = append(out, m)
			}
		}
		slices.SortFunc(out, cmpPacket)
	}
	return out
}

// undoKind names how to revert one change.
type undoKind uint8

const (
	undoInsert    undoKind = iota + 1 // remove m from c
	undoRemove                        // insert m into c
	undoUndone                        // restore m's undone state
	undoPacket                        // restore m's packet and hash
	undoMember                        // restore or delete a member
	undoCommunity                     // restore or delete a community
	undoTypes                         // restore a community's types
	undoOption                        // restore or delete an option
)

type undoRec struct {
	kind    undoKind
	c       *memCommunity
	m       *memMsg
	undone  bool
	by      dispersy.MessageKey
	packet  []byte
	hash    dispersy.Hash
	existed bool
	member  dispersy.MemberRecord
	crec    dispersy.CommunityRecord
	types   []dispersy.TypeRecord
	name    string
	value   []byte
}

func (s *MemStore) rollback() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := &s.undo[i]
		switch u.kind {
		case undoInsert:
			u.c.remove(u.m)
		case undoRemove:
			u.c.insert(u.m)
		case undoUndone:
			if u.m.rec.Undone != u.undone {
				if u.undone {
					u.c.live[u.m.rec.MessageID]--
				} else {
					u.c.live[u.m.rec.MessageID]++
				}
			}
			u.m.rec.Undone, u.m.rec.UndoneBy = u.undone, u.by
		case undoPacket:
			u.c.remove(u.m)
			u.m.rec.Packet, u.m.rec.Hash = u.packet, u.hash
			u.c.insert(u.m)
		case undoMember:
			if u.existed {
				s.members[u.member.ID] = u.member
			} else {
				delete(s.members, u.member.ID)
			}
		case undoCommunity:
			if u.existed {
				u.c.rec = u.crec
			} else {
				delete(s.communities, u.crec.ID)
			}
		case undoTypes:
			u.c.types = u.types
		case undoOption:
			if u.existed {
				s.options[u.name] = u.value
			} else {
				delete(s.options, u.name)
			}
		}
	}
	s.clearUndo()
}

func (s *MemStore) clearUndo() {
	clear(s.undo) // drop references for the garbage collector
	s.undo = s.undo[:0]
}

// Apply performs every operation of b in order; if one fails, it reverts
// the earlier ones and returns a *dispersy.OpError.
func (s *MemStore) Apply(b *dispersy.Batch) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	s.clearUndo()
	for i := range b.Ops {
		op := &b.Ops[i]
		if err := s.apply(op); err != nil {
			s.rollback()
			return &dispersy.OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}
	s.clearUndo()
	return nil
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func (s *MemStore) apply(op *dispersy.Op) error {
	switch op.Kind {
	case dispersy.OpPutMember:
		m := op.Member
		old, existed := s.members[m.ID]
		rec := dispersy.MemberRecord{ID: m.ID, PublicKey: cloneBytes(m.PublicKey), PrivateKey: cloneBytes(m.PrivateKey)}
		if existed {
			if rec.PublicKey == nil {
				rec.PublicKey = old.PublicKey
			}
			if rec.PrivateKey == nil {
				rec.PrivateKey = old.PrivateKey
			}
		}
		s.undo = append(s.undo, undoRec{kind: undoMember, member: old, existed: existed})
		if !existed {
			s.undo[len(s.undo)-1].member.ID = m.ID
		}
		s.members[m.ID] = rec
	case dispersy.OpPutCommunity:
		rec := op.CommunityRecord
		rec.Master = cloneBytes(rec.Master)
		if c := s.communities[rec.ID]; c != nil {
			s.undo = append(s.undo, undoRec{kind: undoCommunity, c: c, crec: c.rec, existed: true})
			c.rec = rec
		} else {
			s.undo = append(s.undo, undoRec{kind: undoCommunity, crec: rec})
			s.communities[rec.ID] = newMemCommunity(rec)
		}
	case dispersy.OpPutTypes:
		c := s.communities[op.Community]
		if c == nil {
			return fmt.Errorf("types of community %s: %w", op.Community, dispersy.ErrNoCommunityRecord)
		}
		types := slices.Clone(op.Types)
		slices.SortFunc(types, func(a, b dispersy.TypeRecord) int { return cmp.Compare(a.ID, b.ID) })
		for i := 1; i < len(types); i++ {
			if types[i].ID == types[i-1].ID {
				return fmt.Errorf("types of community %s: message id %d listed twice", op.Community, types[i].ID)
			}
		}
		s.undo = append(s.undo, undoRec{kind: undoTypes, c: c, types: c.types})
		c.types = types
	case dispersy.OpPut:
		return s.put(op)
	case dispersy.OpReplacePacket:
		r := &op.Record
		if err := checkRecordCommunity(op); err != nil {
			return err
		}
		c, m := s.find(r.Community, r.Key())
		if m == nil {
			return fmt.Errorf("replace packet of %s: %w", keyString(r.Community, r.Key()), dispersy.ErrNotFound)
		}
		s.undo = append(s.undo, undoRec{kind: undoPacket, c: c, m: m, packet: m.rec.Packet, hash: m.rec.Hash})
		c.remove(m)
		m.rec.Packet, m.rec.Hash = cloneBytes(r.Packet), r.Hash
		c.insert(m)
	case dispersy.OpDelete:
		if c, m := s.find(op.Community, op.Key); m != nil {
			c.remove(m)
			s.undo = append(s.undo, undoRec{kind: undoRemove, c: c, m: m})
		}
	case dispersy.OpSetUndone:
		if op.Undone && op.By.GlobalTime > maxGlobalTime {
			return fmt.Errorf("undone by global time %d: %w", op.By.GlobalTime, errGlobalTimeRange)
		}
		c, m := s.find(op.Community, op.Key)
		if m == nil {
			return fmt.Errorf("set undone of %s: %w", keyString(op.Community, op.Key), dispersy.ErrNotFound)
		}
		s.undo = append(s.undo, undoRec{kind: undoUndone, c: c, m: m, undone: m.rec.Undone, by: m.rec.UndoneBy})
		if m.rec.Undone != op.Undone {
			if op.Undone {
				c.live[m.rec.MessageID]--
			} else {
				c.live[m.rec.MessageID]++
			}
		}
		m.rec.Undone, m.rec.UndoneBy = op.Undone, dispersy.MessageKey{}
		if op.Undone {
			m.rec.UndoneBy = op.By
		}
	case dispersy.OpTrim:
		if op.Keep < 0 {
			return fmt.Errorf("trim keeps %d messages: Keep must be >= 0", op.Keep)
		}
		c := s.communities[op.Community]
		if c == nil {
			return nil
		}
		h := c.history(op.MessageID, op.Key.Member, op.Member2)
		for _, m := range h[:max(0, len(h)-op.Keep)] {
			c.remove(m)
			s.undo = append(s.undo, undoRec{kind: undoRemove, c: c, m: m})
		}
	case dispersy.OpPrune:
		c := s.communities[op.Community]
		if c == nil {
			return nil
		}
		list := c.byType[op.MessageID]
		above := func(bound uint64) int {
			n, _ := slices.BinarySearchFunc(list, bound, func(m *memMsg, gt uint64) int {
				if m.rec.GlobalTime <= gt {
					return -1
				}
				return 1
			})
			return n
		}
		lo, hi := above(op.After), above(op.Key.GlobalTime)
		for _, m := range slices.Clone(list[lo:max(lo, hi)]) {
			c.remove(m)
			s.undo = append(s.undo, undoRec{kind: undoRemove, c: c, m: m})
		}
	case dispersy.OpDeleteCommunityExcept:
		c := s.communities[op.Community]
		if c == nil {
			return nil
		}
		keep := make(map[dispersy.MessageKey]bool, len(op.KeepKeys))
		for _, k := range op.KeepKeys {
			keep[k] = true
		}
		for _, m := range slices.Clone(c.all) {
			if !keep[m.rec.Key()] {
				c.remove(m)
				s.undo = append(s.undo, undoRec{kind: undoRemove, c: c, m: m})
			}
		}
	case dispersy.OpSetOption:
		old, existed := s.options[op.Name]
		s.undo = append(s.undo, undoRec{kind: undoOption, name: op.Name, value: old, existed: existed})
		s.options[op.Name] = bytes.Clone(op.Value)
	default:
		return fmt.Errorf("unknown operation kind %d", uint8(op.Kind))
	}
	return nil
}

// errGlobalTimeRange: a global time above 2^63-1 cannot be stored.
var errGlobalTimeRange = errors.New("global time above 2^63-1 (conversion.MaxGlobalTime)")

func checkRecordCommunity(op *dispersy.Op) error {
	if op.Community != op.Record.Community {
		return fmt.Errorf("op community %s differs from record community %s: build ops with Batch methods", op.Community, op.Record.Community)
	}
	return nil
}

func keyString(cid keys.CommunityID, k dispersy.MessageKey) string {
	return fmt.Sprintf("community %s member %s global time %d", cid, k.Member, k.GlobalTime)
}

func (s *MemStore) put(op *dispersy.Op) error {
	r := &op.Record
	if err := checkRecordCommunity(op); err != nil {
		return err
	}
	if r.GlobalTime > maxGlobalTime {
		return fmt.Errorf("put global time %d: %w", r.GlobalTime, errGlobalTimeRange)
	}
	if r.Undone && r.UndoneBy.GlobalTime > maxGlobalTime {
		return fmt.Errorf("put undone by global time %d: %w", r.UndoneBy.GlobalTime, errGlobalTimeRange)
	}
	c := s.communities[r.Community]
	if c == nil {
		return fmt.Errorf("put in community %s: %w", r.Community, dispersy.ErrNoCommunityRecord)
	}
	if _, ok := c.byKey[r.Key()]; ok {
		return fmt.Errorf("put %s: %w", keyString(r.Community, r.Key()), dispersy.ErrExists)
	}
	m := &memMsg{rec: *r}
	m.rec.Packet = cloneBytes(r.Packet)
	if !m.rec.Undone {
		m.rec.UndoneBy = dispersy.MessageKey{}
	}
	c.insert(m)
	s.undo = append(s.undo, undoRec{kind: undoInsert, c: c, m: m})
	return nil
}

func (s *MemStore) find(cid keys.CommunityID, key dispersy.MessageKey) (*memCommunity, *memMsg) {
	c := s.communities[cid]
	if c == nil {
		return nil, nil
	}
	return c, c.byKey[key]
}

// copyRec returns a copy of m's record the caller owns.
func copyRec(m *memMsg) dispersy.Record {
	r := m.rec
	r.Packet = bytes.Clone(m.rec.Packet)
	if r.Packet == nil {
		r.Packet = []byte{}
	}
	return r
}

// Get returns the message (cid, key).
func (s *MemStore) Get(cid keys.CommunityID, key dispersy.MessageKey) (dispersy.Record, bool, error) {
	if s.closed {
		return dispersy.Record{}, false, dispersy.ErrStoreClosed
	}
	if _, m := s.find(cid, key); m != nil {
		return copyRec(m), true, nil
	}
	return dispersy.Record{}, false, nil
}

// Lookup calls fn for each stored message of cid whose key is in keys.
func (s *MemStore) Lookup(cid keys.CommunityID, list []dispersy.MessageKey, fn func(*dispersy.Record)) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	for _, k := range list {
		if _, m := s.find(cid, k); m != nil {
			r := copyRec(m)
			fn(&r)
		}
	}
	return nil
}

// Has reports whether the message (cid, key) is stored.
func (s *MemStore) Has(cid keys.CommunityID, key dispersy.MessageKey) (bool, error) {
	if s.closed {
		return false, dispersy.ErrStoreClosed
	}
	_, m := s.find(cid, key)
	return m != nil, nil
}

// ByGlobalTimes returns member's messages at the given global times,
// ascending, each once.
func (s *MemStore) ByGlobalTimes(cid keys.CommunityID, member keys.MemberID, gts []uint64) ([]dispersy.Record, error) {
	if s.closed {
		return nil, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil {
		return nil, nil
	}
	sorted := slices.Clone(gts)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var out []dispersy.Record
	for _, gt := range sorted {
		if m := c.byKey[dispersy.MessageKey{Member: member, GlobalTime: gt}]; m != nil {
			out = append(out, copyRec(m))
		}
	}
	return out, nil
}

// BySequence calls fn for member's messages of type msgID with sequence
// numbers in [lo, hi], ascending by (sequence, global time, packet).
func (s *MemStore) BySequence(cid keys.CommunityID, member keys.MemberID, msgID uint8, lo, hi uint32, fn func(*dispersy.Record) bool) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil || lo > hi {
		return nil
	}
	var sel []*memMsg
	for _, m := range c.byMember[member][msgID] {
		if m.rec.Sequence >= lo && m.rec.Sequence <= hi {
			sel = append(sel, m)
		}
	}
	slices.SortStableFunc(sel, func(a, b *memMsg) int { return cmp.Compare(a.rec.Sequence, b.rec.Sequence) })
	for _, m := range sel {
		r := copyRec(m)
		if !fn(&r) {
			break
		}
	}
	return nil
}

// LastSequence returns the highest sequence number and global time of
// member's messages of type msgID, undone ones included.
func (s *MemStore) LastSequence(cid keys.CommunityID, member keys.MemberID, msgID uint8) (uint32, uint64, error) {
	if s.closed {
		return 0, 0, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil {
		return 0, 0, nil
	}
	list := c.byMember[member][msgID]
	if len(list) == 0 {
		return 0, 0, nil
	}
	var seq uint32
	for _, m := range list {
		seq = max(seq, m.rec.Sequence)
	}
	return seq, list[len(list)-1].rec.GlobalTime, nil
}

// History returns the messages of type msgID by member (or the pair),
// ascending by (global time, packet).
func (s *MemStore) History(cid keys.CommunityID, msgID uint8, member, member2 keys.MemberID) ([]dispersy.Record, error) {
	if s.closed {
		return nil, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil {
		return nil, nil
	}
	h := c.history(msgID, member, member2)
	if len(h) == 0 {
		return nil, nil
	}
	out := make([]dispersy.Record, len(h))
	for i, m := range h {
		out[i] = copyRec(m)
	}
	return out, nil
}

// MaxGlobalTime returns the highest global time stored in cid.
func (s *MemStore) MaxGlobalTime(cid keys.CommunityID) (uint64, error) {
	if s.closed {
		return 0, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil || len(c.all) == 0 {
		return 0, nil
	}
	return c.all[len(c.all)-1].rec.GlobalTime, nil
}

// SequenceCounters returns member's highest sequence number per type.
func (s *MemStore) SequenceCounters(cid keys.CommunityID, member keys.MemberID) (map[uint8]uint32, error) {
	if s.closed {
		return nil, dispersy.ErrStoreClosed
	}
	out := make(map[uint8]uint32)
	c := s.communities[cid]
	if c == nil {
		return out, nil
	}
	for t, list := range c.byMember[member] {
		var seq uint32
		for _, m := range list {
			seq = max(seq, m.rec.Sequence)
		}
		if seq > 0 {
			out[t] = seq
		}
	}
	return out, nil
}

// typeSet returns the set of types; ok is false when it is empty.
func typeSet(types []uint8) (set [256]bool, ok bool) {
	for _, t := range types {
		set[t] = true
		ok = true
	}
	return set, ok
}

// Replay calls fn for every message of the given types, undone ones
// included, ascending by (global time, packet).
func (s *MemStore) Replay(cid keys.CommunityID, types []uint8, fn func(*dispersy.Record) bool) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	set, ok := typeSet(types)
	if c == nil || !ok {
		return nil
	}
	var sel []*memMsg
	for t := range 256 {
		if set[t] {
			sel = append(sel, c.byType[uint8(t)]...)
		}
	}
	slices.SortFunc(sel, cmpPacket)
	for _, m := range sel {
		r := copyRec(m)
		if !fn(&r) {
			break
		}
	}
	return nil
}

// moduloMatch reports whether (gt + offset) % modulo == 0, computed
// without overflow; modulo 0 or 1 matches everything.
func moduloMatch(gt, modulo, offset uint64) bool {
	if modulo <= 1 {
		return true
	}
	return gt%modulo == (modulo-offset%modulo)%modulo
}

// Scan calls fn for live messages matching q by (global time, hash), or
// the reverse when q.Descending.
func (s *MemStore) Scan(q dispersy.ScanQuery, fn func(dispersy.ScanRow) bool) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	c := s.communities[q.Community]
	set, ok := typeSet(q.Types)
	if c == nil || !ok {
		return nil
	}
	emit := func(m *memMsg) bool {
		r := &m.rec
		if r.Undone || !set[r.MessageID] || !moduloMatch(r.GlobalTime, q.Modulo, q.Offset) {
			return true
		}
		return fn(dispersy.ScanRow{GlobalTime: r.GlobalTime, Hash: r.Hash})
	}
	if !q.Descending {
		i := firstAbove(c.all, q.From)
		for _, m := range c.all[i:] {
			if !emit(m) {
				return nil
			}
		}
		return nil
	}
	i := firstAbove(c.all, q.From+1)
	if q.From == ^uint64(0) {
		i = len(c.all)
	}
	for j := i - 1; j >= 0; j-- {
		if !emit(c.all[j]) {
			return nil
		}
	}
	return nil
}

// firstAbove returns the index of the first message of s (sorted by global
// time) with global time >= gt.
func firstAbove(s []*memMsg, gt uint64) int {
	i, _ := slices.BinarySearchFunc(s, gt, func(m *memMsg, gt uint64) int {
		if m.rec.GlobalTime < gt {
			return -1
		}
		return 1
	})
	return i
}

// Count returns the number of live messages of the given types.
func (s *MemStore) Count(cid keys.CommunityID, types []uint8) (int, error) {
	if s.closed {
		return 0, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil {
		return 0, nil
	}
	set, _ := typeSet(types)
	n := 0
	for t, in := range set {
		if in {
			n += c.live[t]
		}
	}
	return n, nil
}

// Range calls fn for the messages matching q by (global time, packet), or
// the reverse when q.Descending.
func (s *MemStore) Range(q dispersy.RangeQuery, fn func(*dispersy.Record) bool) error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	c := s.communities[q.Community]
	if c == nil || q.Low > q.High {
		return nil
	}
	list := c.byType[q.MessageID]
	lo := firstAbove(list, q.Low)
	hi := len(list)
	if q.High != ^uint64(0) {
		hi = firstAbove(list, q.High+1)
	}
	emit := func(m *memMsg) bool {
		if (m.rec.Undone && !q.IncludeUndone) || !moduloMatch(m.rec.GlobalTime, q.Modulo, q.Offset) {
			return true
		}
		r := copyRec(m)
		return fn(&r)
	}
	if !q.Descending {
		for _, m := range list[lo:hi] {
			if !emit(m) {
				return nil
			}
		}
		return nil
	}
	for j := hi - 1; j >= lo; j-- {
		if !emit(list[j]) {
			return nil
		}
	}
	return nil
}

// Member returns a member's record.
func (s *MemStore) Member(id keys.MemberID) (dispersy.MemberRecord, bool, error) {
	if s.closed {
		return dispersy.MemberRecord{}, false, dispersy.ErrStoreClosed
	}
	m, ok := s.members[id]
	if !ok {
		return dispersy.MemberRecord{}, false, nil
	}
	m.PublicKey, m.PrivateKey = cloneBytes(m.PublicKey), cloneBytes(m.PrivateKey)
	return m, true, nil
}

func copyCommunity(r dispersy.CommunityRecord) dispersy.CommunityRecord {
	r.Master = bytes.Clone(r.Master)
	if r.Master == nil {
		r.Master = []byte{}
	}
	return r
}

// Community returns a community's record.
func (s *MemStore) Community(id keys.CommunityID) (dispersy.CommunityRecord, bool, error) {
	if s.closed {
		return dispersy.CommunityRecord{}, false, dispersy.ErrStoreClosed
	}
	c := s.communities[id]
	if c == nil {
		return dispersy.CommunityRecord{}, false, nil
	}
	return copyCommunity(c.rec), true, nil
}

// Communities returns every community record, ordered by id.
func (s *MemStore) Communities() ([]dispersy.CommunityRecord, error) {
	if s.closed {
		return nil, dispersy.ErrStoreClosed
	}
	out := make([]dispersy.CommunityRecord, 0, len(s.communities))
	for _, c := range s.communities {
		out = append(out, copyCommunity(c.rec))
	}
	slices.SortFunc(out, func(a, b dispersy.CommunityRecord) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// Types returns the stored message types of a community, by id.
func (s *MemStore) Types(cid keys.CommunityID) ([]dispersy.TypeRecord, error) {
	if s.closed {
		return nil, dispersy.ErrStoreClosed
	}
	c := s.communities[cid]
	if c == nil || len(c.types) == 0 {
		return nil, nil
	}
	return slices.Clone(c.types), nil
}

// Option returns a stored option.
func (s *MemStore) Option(key string) ([]byte, bool, error) {
	if s.closed {
		return nil, false, dispersy.ErrStoreClosed
	}
	v, ok := s.options[key]
	if !ok {
		return nil, false, nil
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, true, nil
}

// Close releases the store; later calls, Close included, return
// dispersy.ErrStoreClosed.
func (s *MemStore) Close() error {
	if s.closed {
		return dispersy.ErrStoreClosed
	}
	s.closed = true
	s.members, s.communities, s.options, s.undo = nil, nil, nil, nil
	return nil
}
