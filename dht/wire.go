package dht

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
)

// MsgType is the first byte of an encoded DHT message ([EncodeMessage]).
//
// WARNING: append only; values are on the wire.
type MsgType uint8

// The DHT messages. Requests are FindNode, FindValue and Store; the answers
// are Nodes (to FindNode, and to FindValue when the key is not held), Value
// (to FindValue), StoreResult (to Store) and Error (to any refused request).
// Matching an answer to its request is the transport's job (the engine's
// request/response helper), so no payload carries a request id.
const (
	TypeFindNode    MsgType = 1
	TypeFindValue   MsgType = 2
	TypeStore       MsgType = 3
	TypeNodes       MsgType = 4
	TypeValue       MsgType = 5
	TypeStoreResult MsgType = 6
	TypeError       MsgType = 7
	TypeIntroduce   MsgType = 8
	TypePuncture    MsgType = 9
)

// Message is a DHT payload.
type Message interface {
	Type() MsgType
	AppendBinary(b []byte) ([]byte, error)
}

// FindNode asks for the K contacts closest to Target the node knows.
type FindNode struct{ Target ID }

// FindValue asks for the record held under Key, or else the K closest
// contacts.
type FindValue struct{ Key ID }

// Store asks the node to hold Record under Key. Token is the store token
// the node gave the sender in an earlier Nodes answer ([Tokens]).
type Store struct {
	Key    ID
	Token  Token
	Record *Record
}

// Nodes answers FindNode and FindValue with contacts, and gives the asker a
// token for a Store.
type Nodes struct {
	Token    Token
	Contacts []Contact
}

// Value answers FindValue with the record held under the key.
type Value struct{ Record *Record }

// StoreResult answers Store with the verdict: Accepted, Duplicate, or why
// the store was refused.
type StoreResult struct {
	Key  ID
	Code Reason
}

// Error refuses a FindNode or FindValue (for example RateLimited).
type Error struct{ Code Reason }

// Introduce asks a node that has Target in its routing table to tell
// Target to send a packet to the asker (IPv8's DHT discovery: a node
// behind a NAT is reached through one that it keeps in touch with). The
// answer is Nodes without token: Target's contact when the request was
// relayed to it (as a Puncture), none when the node does not know Target,
// or Error{RateLimited}.
type Introduce struct{ Target ID }

// Puncture asks Target to send a packet to To (the source address of an
// Introduce the relaying node received), which opens Target's NAT towards
// To. The answer is an empty Nodes, or Error (Malformed: not addressed to
// this node; RateLimited). Its body is a contact: Target's id and To.
type Puncture struct {
	Target ID
	To     netip.AddrPort
}

// Type implements Message.
func (Introduce) Type() MsgType { return TypeIntroduce }

// Type implements Message.
func (Puncture) Type() MsgType { return TypePuncture }

// Type implements Message.
func (FindNode) Type() MsgType { return TypeFindNode }

// Type implements Message.
func (FindValue) Type() MsgType { return TypeFindValue }

// Type implements Message.
func (Store) Type() MsgType { return TypeStore }

// Type implements Message.
func (Nodes) Type() MsgType { return TypeNodes }

// Type implements Message.
func (Value) Type() MsgType { return TypeValue }

// Type implements Message.
func (StoreResult) Type() MsgType { return TypeStoreResult }

// Type implements Message.
func (Error) Type() MsgType { return TypeError }

// MaxContacts is the most contacts a Nodes answer carries.
const MaxContacts = 32

// Address families of a contact on the wire.
const (
	familyV4 = 4
	familyV6 = 6
)

// contactMinSize is the smallest encoded contact: id, family, IPv4, port.
const contactMinSize = IDSize + 1 + 4 + 2

var errBadContact = errors.New("dht: contact address must be a valid IP (no zone, not unspecified) with a non-zero port")

// ValidAddr reports whether a contact address can go on the wire: a valid
// IP without zone, not unspecified, with a non-zero port.
func ValidAddr(ap netip.AddrPort) bool {
	a := ap.Addr()
	return ap.IsValid() && a.Zone() == "" && !a.IsUnspecified() && ap.Port() != 0
}

func appendContact(w *conversion.Writer, c Contact) error {
	if !ValidAddr(c.Addr) {
		return fmt.Errorf("%w: %v", errBadContact, c.Addr)
	}
	a := c.Addr.Addr()
	w.Bytes(c.ID[:])
	if a.Is4() || a.Is4In6() {
		v4 := a.Unmap().As4()
		w.Uint8(familyV4)
		w.Bytes(v4[:])
	} else {
		v6 := a.As16()
		w.Uint8(familyV6)
		w.Bytes(v6[:])
	}
	w.Uint16(c.Addr.Port())
	return nil
}

func readContact(r *conversion.Reader) Contact {
	var c Contact
	r.Fixed(c.ID[:])
	var a netip.Addr
	switch fam := r.Uint8(); fam {
	case familyV4:
		var b [4]byte
		r.Fixed(b[:])
		a = netip.AddrFrom4(b)
	case familyV6:
		var b [16]byte
		r.Fixed(b[:])
		a = netip.AddrFrom16(b)
		if a.Is4In6() {
			r.Invalid("contact", "IPv4-mapped address sent as IPv6")
		}
	default:
		if r.Err() == nil {
			r.Invalid("contact", fmt.Sprintf("address family %d", fam))
		}
	}
	port := r.Uint16()
	if r.Err() != nil {
		return Contact{}
	}
	if a.IsUnspecified() || port == 0 {
		r.Invalid("contact", "unspecified address or port 0")
	}
	c.Addr = netip.AddrPortFrom(a, port)
	return c
}

// readKey reads a binary public key (tag byte + raw key).
func readKey(r *conversion.Reader) *keys.PublicKey {
	tag := r.Uint8()
	if r.Err() != nil {
		return nil
	}
	s := keys.Scheme(tag)
	if !s.Valid() {
		r.Invalid("owner", fmt.Sprintf("unknown scheme tag %d", tag))
		return nil
	}
	raw := r.Bytes(s.PublicKeySize())
	if raw == nil {
		return nil
	}
	k, err := keys.ParsePublicKey(append([]byte{tag}, raw...))
	if err != nil {
		r.Invalid("owner", err.Error())
		return nil
	}
	return k
}

var errBadRecord = errors.New("dht: malformed record")

// appendUnsigned writes the record without its signature.
func (r *Record) appendUnsigned(b []byte) ([]byte, error) {
	if r == nil || !r.Kind.Valid() {
		return b, fmt.Errorf("%w: kind %v", errBadRecord, r.kindOrZero())
	}
	if r.Timestamp < 0 || r.Expires < 0 {
		return b, fmt.Errorf("%w: negative time", errBadRecord)
	}
	w := conversion.NewWriter(b)
	w.Uint8(uint8(r.Kind))
	switch r.Kind {
	case Content:
		if len(r.Name) != 0 || r.Owner != nil || r.Timestamp != 0 || len(r.Signature) != 0 {
			return b, fmt.Errorf("%w: a content record has only a value and an expiry", errBadRecord)
		}
		w.Int64(r.Expires)
		w.Bytes16(r.Value)
	default:
		if r.Owner == nil {
			return b, fmt.Errorf("%w: %v record without owner", errBadRecord, r.Kind)
		}
		if r.Kind == Tombstone && len(r.Value) != 0 {
			return b, fmt.Errorf("%w: a tombstone has no value", errBadRecord)
		}
		w.Bytes(r.Owner.Bytes())
		w.Bytes8(r.Name)
		w.Int64(r.Timestamp)
		w.Int64(r.Expires)
		if r.Kind == Owned {
			w.Bytes16(r.Value)
		}
	}
	return w.Finish()
}

func (r *Record) kindOrZero() Kind {
	if r == nil {
		return 0
	}
	return r.Kind
}

// AppendBinary implements encoding.BinaryAppender: the record's wire form.
// A signed record's signature must have its scheme's size (an unsigned
// record cannot be encoded).
func (r *Record) AppendBinary(b []byte) ([]byte, error) {
	out, err := r.appendUnsigned(b)
	if err != nil {
		return b, err
	}
	if r.Kind.signed() {
		if len(r.Signature) != r.Owner.SignatureSize() {
			return b, fmt.Errorf("%w: signature is %d bytes, want %d", errBadRecord, len(r.Signature), r.Owner.SignatureSize())
		}
		out = append(out, r.Signature...)
	}
	return out, nil
}

func readTime(r *conversion.Reader, field string) int64 {
	v := r.Int64()
	if v < 0 {
		r.Invalid(field, "negative")
	}
	return v
}

func readRecord(r *conversion.Reader) *Record {
	rec := &Record{Kind: Kind(r.Uint8())}
	if r.Err() != nil {
		return nil
	}
	switch rec.Kind {
	case Content:
		rec.Expires = readTime(r, "expires")
		rec.Value = r.Bytes16()
	case Owned, Tombstone:
		rec.Owner = readKey(r)
		rec.Name = r.Bytes8()
		rec.Timestamp = readTime(r, "timestamp")
		rec.Expires = readTime(r, "expires")
		if rec.Kind == Owned {
			rec.Value = r.Bytes16()
		}
		if rec.Owner != nil {
			rec.Signature = r.Bytes(rec.Owner.SignatureSize())
		}
	default:
		r.Invalid("kind", fmt.Sprintf("unknown record kind %d", uint8(rec.Kind)))
	}
	if r.Err() != nil {
		return nil
	}
	return rec
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler, strictly: every
// accepted input re-encodes to the same bytes. It does not verify the
// signature ([Record.Verify], [Policy.Accept]). The record aliases b.
func (r *Record) UnmarshalBinary(b []byte) error {
	rd := conversion.NewReader(b)
	rec := readRecord(&rd)
	if err := rd.Finish(); err != nil {
		return err
	}
	*r = *rec
	return nil
}

// AppendBinary implements Message.
func (m FindNode) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Target[:]...), nil }

// AppendBinary implements Message.
func (m Introduce) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Target[:]...), nil }

// AppendBinary implements Message.
func (m Puncture) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	if err := appendContact(&w, Contact{ID: m.Target, Addr: m.To}); err != nil {
		return b, err
	}
	return w.Finish()
}

// AppendBinary implements Message.
func (m FindValue) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Key[:]...), nil }

// AppendBinary implements Message.
func (m Store) AppendBinary(b []byte) ([]byte, error) {
	out := append(append(b, m.Key[:]...), m.Token[:]...)
	out, err := m.Record.AppendBinary(out)
	if err != nil {
		return b, err
	}
	return out, nil
}

// AppendBinary implements Message.
func (m Nodes) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Contacts) > MaxContacts {
		return b, fmt.Errorf("dht: %d contacts exceed %d", len(m.Contacts), MaxContacts)
	}
	w := conversion.NewWriter(append(b, m.Token[:]...))
	w.Count8(len(m.Contacts))
	for _, c := range m.Contacts {
		if err := appendContact(&w, c); err != nil {
			return b, err
		}
	}
	return w.Finish()
}

// AppendBinary implements Message.
func (m Value) AppendBinary(b []byte) ([]byte, error) { return m.Record.AppendBinary(b) }

// AppendBinary implements Message.
func (m StoreResult) AppendBinary(b []byte) ([]byte, error) {
	if !m.Code.Valid() {
		return b, fmt.Errorf("dht: store result code %d", uint8(m.Code))
	}
	return append(append(b, m.Key[:]...), uint8(m.Code)), nil
}

// AppendBinary implements Message.
func (m Error) AppendBinary(b []byte) ([]byte, error) {
	if !m.Code.Valid() || !m.Code.Refused() {
		return b, fmt.Errorf("dht: error code %v is not a refusal", m.Code)
	}
	return append(b, uint8(m.Code)), nil
}

func readCode(r *conversion.Reader) Reason {
	c := Reason(r.Uint8())
	if r.Err() == nil && !c.Valid() {
		r.Invalid("code", fmt.Sprintf("unknown code %d", uint8(c)))
	}
	return c
}

// decodeBody reads the payload of a message of type t.
func decodeBody(t MsgType, r *conversion.Reader) Message {
	switch t {
	case TypeFindNode:
		var m FindNode
		r.Fixed(m.Target[:])
		return m
	case TypeFindValue:
		var m FindValue
		r.Fixed(m.Key[:])
		return m
	case TypeStore:
		var m Store
		r.Fixed(m.Key[:])
		r.Fixed(m.Token[:])
		m.Record = readRecord(r)
		return m
	case TypeNodes:
		var m Nodes
		r.Fixed(m.Token[:])
		n := r.Count8(contactMinSize)
		if n > MaxContacts {
			r.Invalid("contacts", fmt.Sprintf("%d contacts exceed %d", n, MaxContacts))
			n = 0
		}
		for range n {
			m.Contacts = append(m.Contacts, readContact(r))
		}
		return m
	case TypeValue:
		return Value{Record: readRecord(r)}
	case TypeStoreResult:
		var m StoreResult
		r.Fixed(m.Key[:])
		m.Code = readCode(r)
		return m
	case TypeIntroduce:
		var m Introduce
		r.Fixed(m.Target[:])
		return m
	case TypePuncture:
		c := readContact(r)
		return Puncture{Target: c.ID, To: c.Addr}
	case TypeError:
		m := Error{Code: readCode(r)}
		if r.Err() == nil && !m.Code.Refused() {
			r.Invalid("code", fmt.Sprintf("%v is not a refusal", m.Code))
		}
		return m
	}
	r.Invalid("type", fmt.Sprintf("unknown message type %d", uint8(t)))
	return nil
}

// EncodeMessage returns the wire form of m: its type byte, then its payload.
func EncodeMessage(m Message) ([]byte, error) {
	return m.AppendBinary([]byte{uint8(m.Type())})
}

// DecodeMessage decodes the wire form of a message, strictly: every input
// it accepts re-encodes with EncodeMessage to the same bytes, and every
// rejection is a *conversion.DecodeError. Byte slices in the result alias b.
// Signatures are not verified here.
func DecodeMessage(b []byte) (Message, error) {
	r := conversion.NewReader(b)
	t := MsgType(r.Uint8())
	if err := r.Err(); err != nil {
		return nil, err
	}
	m := decodeBody(t, &r)
	if err := r.Finish(); err != nil {
		return nil, err
	}
	return m, nil
}
