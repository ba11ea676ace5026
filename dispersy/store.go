package dispersy

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/dispersy-go/dispersy/dispersy/syncrange"
	"github.com/dispersy-go/dispersy/keys"
)

// HashSize is the length of a packet hash.
const HashSize = syncrange.HashSize

// Hash identifies a packet: the first 16 bytes of the SHA-256 of the whole
// packet. Bloom filters hold hashes, not packets.
type Hash = syncrange.Hash

// PacketHash returns the hash of a packet.
func PacketHash(pkt []byte) Hash {
	sum := sha256.Sum256(pkt)
	var h Hash
	copy(h[:], sum[:HashSize])
	return h
}

// MessageKey names a stored message within a community: its creator and its
// global time. At most one message per key is stored.
type MessageKey struct {
	Member     keys.MemberID
	GlobalTime uint64
}

// Record is one stored (synced) message.
type Record struct {
	Community keys.CommunityID
	// Member is the creator: the first author.
	Member     keys.MemberID
	GlobalTime uint64
	// MessageID is the message type's id byte.
	MessageID uint8
	// Sequence is the sequence number; 0 when the type has none.
	Sequence uint32
	// Member2 is the second author of a double-signed message; the zero id
	// for single-signed messages. Last-sync history of double-signed types
	// is kept per unordered pair {Member, Member2}.
	Member2 keys.MemberID
	// Undone is true once an undo message or a permission change undid the
	// message. UndoneBy names the undo message; it is the zero key when a
	// permission or settings change undid it.
	Undone   bool
	UndoneBy MessageKey
	// Hash is PacketHash(Packet).
	Hash   Hash
	Packet []byte
}

// Key returns the record's message key.
func (r *Record) Key() MessageKey { return MessageKey{Member: r.Member, GlobalTime: r.GlobalTime} }

// Double reports whether the record is double-signed.
func (r *Record) Double() bool { return r.Member2 != (keys.MemberID{}) }

// MemberRecord is one known member.
type MemberRecord struct {
	ID keys.MemberID
	// PublicKey is the binary public key. Storing a record without one
	// (a member known only by id) never erases one stored earlier.
	PublicKey []byte
	// PrivateKey is the binary private key, only for our own members; nil
	// otherwise. Storing a record without a private key never erases one
	// stored earlier.
	PrivateKey []byte
}

// CommunityRecord is one community this node has joined.
type CommunityRecord struct {
	ID keys.CommunityID
	// Master is the master member's binary public key.
	Master []byte
	// Me is the member this node signs with in the community.
	Me keys.MemberID
	// AutoLoad: load the community when a packet for it arrives.
	AutoLoad bool
	// Classification names the overlay definition, for auto-load.
	Classification string
}

// TypeRecord describes one synced message type of a community, as stored
// for inspection tools.
type TypeRecord struct {
	ID        uint8
	Name      string
	Priority  uint8
	Direction uint8 // policy.Direction
	// Unkeyed says the engine never reads this type by member: no History,
	// Trim or LastSequence (full-sync types without sequence numbers). A
	// store may leave such messages out of its per-member index; those
	// reads must still be correct for the type, only slower.
	Unkeyed bool
}

// The store's sync queries (package syncrange).
type (
	// ScanQuery selects live (not undone) messages of some types.
	ScanQuery = syncrange.ScanQuery
	// ScanRow is one row of a scan.
	ScanRow = syncrange.ScanRow
	// RangeQuery selects the messages of one type in a global-time range.
	RangeQuery = syncrange.RangeQuery
)

// Store persists messages, members and communities. The engine is its only
// caller and calls it from one goroutine, so implementations need not be
// safe for concurrent use (the SQLite store is, for its read methods).
//
// Every read method sees the state after the last successful Apply. Slices
// in returned records belong to the caller. Callback methods stop when fn
// returns false; fn must not call the Store.
//
// Implementations: database.Store (SQLite) and dispersytest.MemStore. The
// conformance suite dispersytest.TestStore runs against both.
type Store interface {
	// Apply performs every operation of b, in order, in one transaction:
	// all of them or, on error, none.
	Apply(b *Batch) error

	// Get returns the message (cid, key); ok is false if none is stored.
	Get(cid keys.CommunityID, key MessageKey) (rec Record, ok bool, err error)
	// Has reports whether a message (cid, key) is stored.
	Has(cid keys.CommunityID, key MessageKey) (bool, error)
	// Lookup calls fn for each stored message of cid whose key is in keys
	// (in no particular order; keys missing from the store are skipped). The
	// engine checks a whole batch with it, instead of one Get per message.
	Lookup(cid keys.CommunityID, keys []MessageKey, fn func(*Record)) error
	// ByGlobalTimes returns the stored messages of member at the given
	// global times, ascending by global time; missing ones are skipped.
	ByGlobalTimes(cid keys.CommunityID, member keys.MemberID, gts []uint64) ([]Record, error)
	// BySequence calls fn for member's messages of type msgID with
	// sequence numbers in [lo, hi], ascending.
	BySequence(cid keys.CommunityID, member keys.MemberID, msgID uint8, lo, hi uint32, fn func(*Record) bool) error
	// LastSequence returns the highest sequence number and the highest
	// global time of member's messages of type msgID (0, 0 if none).
	LastSequence(cid keys.CommunityID, member keys.MemberID, msgID uint8) (seq uint32, gt uint64, err error)
	// History returns the stored messages of type msgID by member (by the
	// unordered pair {member, member2} when member2 is not the zero id),
	// ascending by (global time, packet).
	History(cid keys.CommunityID, msgID uint8, member, member2 keys.MemberID) ([]Record, error)
	// MaxGlobalTime returns the highest global time stored in cid (0 if
	// none).
	MaxGlobalTime(cid keys.CommunityID) (uint64, error)
	// SequenceCounters returns, for each message type, the highest sequence
	// number member has in cid; types without sequence numbers are absent.
	SequenceCounters(cid keys.CommunityID, member keys.MemberID) (map[uint8]uint32, error)
	// Replay calls fn for every stored message of the given types in cid,
	// undone ones included, ascending by (global time, packet); empty types
	// select nothing.
	Replay(cid keys.CommunityID, types []uint8, fn func(*Record) bool) error

	// Scan calls fn for live messages matching q, ordered by global time
	// and, within one global time, by hash; q.Descending reverses the whole
	// order.
	Scan(q ScanQuery, fn func(ScanRow) bool) error
	// Count returns the number of live messages of the given types in cid;
	// empty types count nothing.
	Count(cid keys.CommunityID, types []uint8) (int, error)
	// Range calls fn for the messages matching q, ordered by global time
	// and, within one global time, by packet (then creator, for identical
	// packets); q.Descending reverses the whole order.
	Range(q RangeQuery, fn func(*Record) bool) error

	// Member returns a member's record; ok is false if it is unknown.
	Member(id keys.MemberID) (rec MemberRecord, ok bool, err error)
	// Community returns a community's record; ok is false if unknown.
	Community(id keys.CommunityID) (rec CommunityRecord, ok bool, err error)
	// Communities returns every community record, ordered by id.
	Communities() ([]CommunityRecord, error)
	// Types returns the stored message types of a community, by id.
	Types(cid keys.CommunityID) ([]TypeRecord, error)
	// Option returns a stored option; ok is false if it is unset.
	Option(key string) (value []byte, ok bool, err error)

	// Close releases the store. Methods called after Close return
	// ErrStoreClosed.
	Close() error
}

// Errors a Store returns. Implementations wrap them with context.
var (
	// ErrStoreClosed: the store was closed.
	ErrStoreClosed = errors.New("dispersy: store closed")
	// ErrExists: a Put named a message key that is already stored.
	ErrExists = errors.New("dispersy: message already stored")
	// ErrNotFound: an operation named a message that is not stored.
	ErrNotFound = errors.New("dispersy: message not stored")
)

// OpKind is the kind of one Batch operation.
type OpKind uint8

const (
	// OpPutMember inserts or updates a member (Op.Member).
	OpPutMember OpKind = iota + 1
	// OpPutCommunity inserts or replaces a community (Op.CommunityRecord).
	OpPutCommunity
	// OpPutTypes replaces the message types of Op.Community (Op.Types).
	OpPutTypes
	// OpPut inserts Op.Record; ErrExists if its key is stored.
	OpPut
	// OpReplacePacket replaces the packet and hash of the stored message
	// with Op.Record's key; ErrNotFound if none.
	OpReplacePacket
	// OpDelete deletes the message Op.Key of Op.Community; deleting a
	// message that is not stored is not an error.
	OpDelete
	// OpSetUndone sets the undone state of message Op.Key: undone if
	// Op.Undone, with Op.By as the undo message; live again otherwise.
	// ErrNotFound if none.
	OpSetUndone
	// OpTrim keeps only the newest Op.Keep messages (by global time, then
	// packet) of type Op.MessageID by Op.Key.Member (by the pair {Member,
	// Op.Member2} when Member2 is set) and deletes the rest.
	OpTrim
	// OpPrune deletes the messages of type Op.MessageID with global time
	// <= Op.Key.GlobalTime and > Op.After. The engine prunes in steps as its
	// clock rises, and After (the previous step) keeps each step from
	// reading what an earlier one already deleted.
	OpPrune
	// OpDeleteCommunityExcept deletes every message of Op.Community except
	// those whose keys are in Op.Keep.
	OpDeleteCommunityExcept
	// OpSetOption sets option Op.Name to Op.Value.
	OpSetOption
)

// Op is one operation of a Batch. Which fields matter depends on Kind.
type Op struct {
	Kind            OpKind
	Community       keys.CommunityID
	Record          Record
	Member          MemberRecord
	CommunityRecord CommunityRecord
	Types           []TypeRecord
	Key             MessageKey
	MessageID       uint8
	Member2         keys.MemberID
	Keep            int
	KeepKeys        []MessageKey
	Undone          bool
	By              MessageKey
	Name            string
	Value           []byte
	// After is the exclusive lower global-time bound of OpPrune.
	After uint64
}

// Batch is an ordered list of write operations applied atomically by
// Store.Apply. Build it with the methods; the zero value is empty.
type Batch struct {
	Ops []Op
}

// Len returns the number of operations.
func (b *Batch) Len() int { return len(b.Ops) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() { b.Ops = b.Ops[:0] }

// PutMember adds or updates a member.
func (b *Batch) PutMember(m MemberRecord) { b.Ops = append(b.Ops, Op{Kind: OpPutMember, Member: m}) }

// PutCommunity adds or replaces a community record.
func (b *Batch) PutCommunity(c CommunityRecord) {
	b.Ops = append(b.Ops, Op{Kind: OpPutCommunity, Community: c.ID, CommunityRecord: c})
}

// PutTypes replaces the stored message types of a community.
func (b *Batch) PutTypes(cid keys.CommunityID, types []TypeRecord) {
	b.Ops = append(b.Ops, Op{Kind: OpPutTypes, Community: cid, Types: types})
}

// Put inserts a message.
func (b *Batch) Put(r Record) {
	b.Ops = append(b.Ops, Op{Kind: OpPut, Community: r.Community, Record: r})
}

// ReplacePacket replaces the packet (and hash) of a stored message.
func (b *Batch) ReplacePacket(r Record) {
	b.Ops = append(b.Ops, Op{Kind: OpReplacePacket, Community: r.Community, Record: r})
}

// Delete deletes a message.
func (b *Batch) Delete(cid keys.CommunityID, key MessageKey) {
	b.Ops = append(b.Ops, Op{Kind: OpDelete, Community: cid, Key: key})
}

// SetUndone marks a message undone by the undo message by (the zero key
// for a permission change), or live again when undone is false.
func (b *Batch) SetUndone(cid keys.CommunityID, key MessageKey, undone bool, by MessageKey) {
	b.Ops = append(b.Ops, Op{Kind: OpSetUndone, Community: cid, Key: key, Undone: undone, By: by})
}

// Trim keeps the newest keep messages of type msgID by member (or the pair
// {member, member2} when member2 is not zero).
func (b *Batch) Trim(cid keys.CommunityID, msgID uint8, member, member2 keys.MemberID, keep int) {
	b.Ops = append(b.Ops, Op{Kind: OpTrim, Community: cid, MessageID: msgID, Key: MessageKey{Member: member}, Member2: member2, Keep: keep})
}

// Prune deletes messages of type msgID with global time <= upTo.
func (b *Batch) Prune(cid keys.CommunityID, msgID uint8, upTo uint64) {
	b.PruneRange(cid, msgID, 0, upTo)
}

// PruneRange deletes messages of type msgID with after < global time <=
// upTo: a step of pruning whose earlier steps deleted everything up to
// after.
func (b *Batch) PruneRange(cid keys.CommunityID, msgID uint8, after, upTo uint64) {
	b.Ops = append(b.Ops, Op{Kind: OpPrune, Community: cid, MessageID: msgID, Key: MessageKey{GlobalTime: upTo}, After: after})
}

// DeleteCommunityExcept deletes every message of cid but those in keep.
func (b *Batch) DeleteCommunityExcept(cid keys.CommunityID, keep []MessageKey) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteCommunityExcept, Community: cid, KeepKeys: keep})
}

// SetOption sets a named option.
func (b *Batch) SetOption(name string, value []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpSetOption, Name: name, Value: value})
}

// ErrNoCommunityRecord: an operation stored data for a community that has
// no community record. Apply a PutCommunity for it first (in the same batch
// or an earlier one).
var ErrNoCommunityRecord = errors.New("dispersy: store has no record of the community (apply PutCommunity first)")

// String returns the operation's name, as Batch's method that adds it.
func (k OpKind) String() string {
	switch k {
	case OpPutMember:
		return "PutMember"
	case OpPutCommunity:
		return "PutCommunity"
	case OpPutTypes:
		return "PutTypes"
	case OpPut:
		return "Put"
	case OpReplacePacket:
		return "ReplacePacket"
	case OpDelete:
		return "Delete"
	case OpSetUndone:
		return "SetUndone"
	case OpTrim:
		return "Trim"
	case OpPrune:
		return "Prune"
	case OpDeleteCommunityExcept:
		return "DeleteCommunityExcept"
	case OpSetOption:
		return "SetOption"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// OpError is the error Store.Apply returns when one operation of a batch
// fails; the whole batch was rolled back. Err wraps the cause (ErrExists,
// ErrNotFound, ErrNoCommunityRecord, a validation or a storage error).
type OpError struct {
	// Index is the failing operation's index in Batch.Ops.
	Index int
	// Kind is its kind.
	Kind OpKind
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *OpError) Error() string {
	return fmt.Sprintf("batch op %d (%s) failed, batch rolled back: %v", e.Index, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }
