package dht

import (
	"bytes"
	"fmt"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

// Kind is the kind of a [Record]. Its value is the first byte of a record on
// the wire.
//
// WARNING: append only; values are on the wire.
type Kind uint8

// The record kinds.
const (
	// Owned is an owner-signed named value: key OwnedKey(owner, name); only
	// the owner can write it, the newest timestamp wins.
	Owned Kind = 1
	// Content is an immutable content-addressed value: key ContentKey(value).
	// It is not signed; its key proves it.
	Content Kind = 2
	// Tombstone is an owner-signed deletion of a named value: it replaces
	// the value (same key) and is kept until it expires, so an older copy of
	// the value cannot come back.
	Tombstone Kind = 3
)

// Valid reports whether k is a kind this package implements.
func (k Kind) Valid() bool { return k >= Owned && k <= Tombstone }

func (k Kind) signed() bool { return k == Owned || k == Tombstone }

func (k Kind) String() string {
	switch k {
	case Owned:
		return "owned"
	case Content:
		return "content"
	case Tombstone:
		return "tombstone"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record is a value of the DHT. Times are Unix milliseconds; Expires 0 means
// the record does not expire by itself (holders still bound how long they
// keep it). For Owned and Tombstone records the signature covers every other
// field; for Content records Expires is the storer's wish and unsigned.
type Record struct {
	Kind      Kind
	Owner     *keys.PublicKey // Owned, Tombstone
	Name      []byte          // Owned, Tombstone; at most 255 bytes
	Value     []byte          // Owned, Content; at most 65,535 bytes
	Timestamp int64           // Owned, Tombstone
	Expires   int64
	Signature []byte // Owned, Tombstone
}

// UnixMilli converts a time to the records' unit; the zero time is 0.
func UnixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// signedDomain starts the bytes an owner signs, so a record signature can
// never be taken for the signature of anything else.
const signedDomain = "dispersy-go/dht/record/v1\x00"

// SignedBytes returns the bytes the owner signs: a domain tag followed by
// the record's wire form without the signature.
func (r *Record) SignedBytes() ([]byte, error) {
	b := append([]byte(nil), signedDomain...)
	return r.appendUnsigned(b)
}

// NewOwned returns a named value signed by owner at ts, expiring at expires
// (the zero time for never).
func NewOwned(owner *keys.PrivateKey, name, value []byte, ts, expires time.Time) (*Record, error) {
	r := &Record{Kind: Owned, Owner: owner.Public(), Name: bytes.Clone(name), Value: bytes.Clone(value),
		Timestamp: UnixMilli(ts), Expires: UnixMilli(expires)}
	return r, r.sign(owner)
}

// NewTombstone returns owner's signed deletion of the value named name at ts,
// kept until expires (the zero time for never).
func NewTombstone(owner *keys.PrivateKey, name []byte, ts, expires time.Time) (*Record, error) {
	r := &Record{Kind: Tombstone, Owner: owner.Public(), Name: bytes.Clone(name),
		Timestamp: UnixMilli(ts), Expires: UnixMilli(expires)}
	return r, r.sign(owner)
}

// NewContent returns a content-addressed value, to be kept until expires
// (the zero time for as long as holders keep values).
func NewContent(value []byte, expires time.Time) *Record {
	return &Record{Kind: Content, Value: bytes.Clone(value), Expires: UnixMilli(expires)}
}

func (r *Record) sign(k *keys.PrivateKey) error {
	msg, err := r.SignedBytes()
	if err != nil {
		return err
	}
	r.Signature = k.Sign(msg)
	return nil
}

// Key returns the key the record belongs under: OwnedKey(Owner, Name) for
// owned values and tombstones, ContentKey(Value) for content. It is the zero
// id for a malformed record (an unknown kind, a signed kind without owner).
func (r *Record) Key() ID {
	switch {
	case r.Kind == Content:
		return ContentKey(r.Value)
	case r.Kind.signed() && r.Owner != nil:
		return OwnedKey(r.Owner, r.Name)
	}
	return ID{}
}

// Verify checks the owner's signature of an Owned or Tombstone record; a
// Content record has none and verifies. It reports false for a malformed
// record.
func (r *Record) Verify() bool {
	switch {
	case r.Kind == Content:
		return true
	case !r.Kind.signed() || r.Owner == nil:
		return false
	}
	msg, err := r.SignedBytes()
	return err == nil && r.Owner.Verify(msg, r.Signature)
}

// Size returns what the record counts against size limits and quotas: its
// name and value lengths.
func (r *Record) Size() int { return len(r.Name) + len(r.Value) }

// Equal reports whether r and o are the same record, byte for byte.
func (r *Record) Equal(o *Record) bool {
	a, err1 := r.AppendBinary(nil)
	b, err2 := o.AppendBinary(nil)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// ExpiredAt reports whether the record has expired at now.
func (r *Record) ExpiredAt(now time.Time) bool {
	return r.Expires != 0 && r.Expires <= UnixMilli(now)
}

// Reason is the verdict of [Policy.Accept] on a store. Its value is the
// code of a store refusal on the wire ([StoreResponse]).
//
// WARNING: append only; values are on the wire and in counters.
type Reason uint8

// The store verdicts.
const (
	// Accepted: store the record (it is new, or newer than the one held).
	Accepted Reason = iota
	// Duplicate: the same record is held; nothing changes except that a
	// content record's expiry may extend. Not an error.
	Duplicate
	// Malformed: an unknown kind, or a signed kind without an owner.
	Malformed
	// BadSignature: the owner's signature does not verify.
	BadSignature
	// KeyMismatch: the record does not belong under the key it was sent for.
	KeyMismatch
	// Expired: the record's expiry has passed.
	Expired
	// Superseded: the record held is newer (or wins the tie at the same
	// timestamp).
	Superseded
	// TooLarge: the name and value exceed the policy's MaxValueSize.
	TooLarge
	// QuotaExceeded: the storing peer's records would exceed PeerQuota.
	QuotaExceeded
	// BadToken: the store token is not one this node issued to the sender
	// at its address ([Tokens]); never returned by Accept.
	BadToken
	// RateLimited: the sender asked too much too fast; never returned by
	// Accept.
	RateLimited
)

var reasonNames = [...]string{"accepted", "duplicate", "malformed", "bad-signature", "key-mismatch", "expired", "superseded", "too-large", "quota-exceeded", "bad-token", "rate-limited"}

// Reasons lists every store verdict, in value order.
func Reasons() []Reason {
	out := make([]Reason, len(reasonNames))
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// Valid reports whether r is one of [Reasons].
func (r Reason) Valid() bool { return int(r) < len(reasonNames) }

func (r Reason) String() string {
	if r.Valid() {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Refused reports whether the verdict refuses the store.
func (r Reason) Refused() bool { return r != Accepted && r != Duplicate }

// The defaults of [Policy].
const (
	DefaultMaxValueSize = 1024
	DefaultPeerQuota    = 64 << 10
)

// Policy holds the limits of the store check. Zero fields take the defaults.
type Policy struct {
	// MaxValueSize bounds a record's name plus value (default 1,024 bytes,
	// so a store fits a UDP packet).
	MaxValueSize int
	// PeerQuota bounds the bytes one peer has stored at this node (default
	// 64 KiB).
	PeerQuota int
}

func (p Policy) withDefaults() Policy {
	if p.MaxValueSize <= 0 {
		p.MaxValueSize = DefaultMaxValueSize
	}
	if p.PeerQuota <= 0 {
		p.PeerQuota = DefaultPeerQuota
	}
	return p
}

// Accept is the store check: the verdict on storing incoming under key at
// now, given the record held under key (nil if none) and the bytes the
// storing peer already holds here (peerBytes, by [Record.Size]). Cheap
// checks come first, the signature last but before the comparison with the
// held record, so a forgery is always BadSignature. It is a pure function.
//
// Between two owner records of one key the later timestamp wins; at equal
// timestamps a tombstone wins over a value, and otherwise the greater
// signature (bytewise), so every holder converges on the same record
// whatever the order of arrival.
func (p Policy) Accept(existing, incoming *Record, key ID, now time.Time, peerBytes int) Reason {
	p = p.withDefaults()
	switch {
	case incoming == nil || !incoming.Kind.Valid() || (incoming.Kind.signed() && incoming.Owner == nil):
		return Malformed
	case incoming.Size() > p.MaxValueSize:
		return TooLarge
	case incoming.Key() != key:
		return KeyMismatch
	case incoming.ExpiredAt(now):
		return Expired
	case !incoming.Verify():
		return BadSignature
	}
	if existing != nil && !existing.ExpiredAt(now) && existing.Key() == key {
		if existing.Equal(incoming) {
			return Duplicate
		}
		if incoming.Kind == Content {
			// Same key, same value, another expiry: the held copy stays, its
			// expiry may extend (see HoldUntil).
			return Duplicate
		}
		if !Newer(incoming, existing) {
			return Superseded
		}
	}
	if peerBytes+incoming.Size() > p.PeerQuota {
		return QuotaExceeded
	}
	return Accepted
}

// Newer reports whether owner record a replaces owner record b of the same
// key: a later timestamp; at the same timestamp a tombstone over a value,
// then the bytewise greater signature.
func Newer(a, b *Record) bool {
	switch {
	case a.Timestamp != b.Timestamp:
		return a.Timestamp > b.Timestamp
	case a.Kind != b.Kind:
		return a.Kind == Tombstone
	}
	return bytes.Compare(a.Signature, b.Signature) > 0
}
