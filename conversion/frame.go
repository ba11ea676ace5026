package conversion

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// WireVersion is the first byte of every packet: the version of this frame
// layout. Python Dispersy used 0x00 and reserved 0xff, so its packets are
// rejected with BadVersion.
//
// Version history (append only):
//
//	0x01  dispersy-go wire v1 (this layout)
const WireVersion = 0x01

// Sizes of the fixed parts of the frame.
const (
	// PrefixSize is the wire version, the community version and the cid:
	// the part that selects a conversion.
	PrefixSize = 2 + keys.IDSize
	// HeaderSize is the prefix plus the message id.
	HeaderSize = PrefixSize + 1
	// MemberIDSize is a member encoded by id: the scheme tag and the mid.
	MemberIDSize = 1 + keys.IDSize
	// MaxGlobalTime is the largest global time a frame may carry (SQLite
	// integers are signed 64-bit).
	MaxGlobalTime = 1<<63 - 1
)

// Message ids. Applications use FirstUserID..LastUserID; the rest is
// reserved for the built-in messages.
//
// WARNING: append only; ids are on the wire.
const (
	FirstUserID     = 1
	LastUserID      = 191
	FirstBuiltinID  = 192
	LastBuiltinID   = 254
	ReservedID      = 255 // reserved for a future multi-byte id
	InvalidID       = 0
	FirstVersion    = 1   // first community version byte for applications
	LastVersion     = 254 // 0xff is reserved
	ReservedVersion = 255
)

// IsUserID reports whether id is free for application message types.
func IsUserID(id uint8) bool { return id >= FirstUserID && id <= LastUserID }

// Format is the wire description of one message type: its id, its name (for
// logs and tools) and its four policies. Formats are immutable once a
// Conversion holds them.
type Format struct {
	ID       uint8
	Name     string
	Policies policy.Set
}

// Conversion is one community version's table of message formats.
type Conversion struct {
	version uint8
	formats [256]*Format
	ids     []uint8 // defined ids, ascending
}

// NewConversion returns the conversion for community-version byte version
// holding formats. It rejects reserved versions, invalid or duplicate ids,
// duplicate names and invalid policy combinations.
func NewConversion(version uint8, formats ...*Format) (*Conversion, error) {
	if version < FirstVersion || version > LastVersion {
		return nil, fmt.Errorf("conversion: community version %d is reserved; use %d..%d", version, FirstVersion, LastVersion)
	}
	c := &Conversion{version: version}
	names := map[string]uint8{}
	var errs []error
	for _, f := range formats {
		switch {
		case f == nil:
			errs = append(errs, errors.New("conversion: nil format"))
			continue
		case f.ID == InvalidID || f.ID == ReservedID:
			errs = append(errs, fmt.Errorf("conversion: message %q: id %d is reserved", f.Name, f.ID))
			continue
		case c.formats[f.ID] != nil:
			errs = append(errs, fmt.Errorf("conversion: message %q: id %d already used by %q", f.Name, f.ID, c.formats[f.ID].Name))
			continue
		}
		if f.Name == "" {
			errs = append(errs, fmt.Errorf("conversion: message id %d has no name", f.ID))
		} else if other, dup := names[f.Name]; dup {
			errs = append(errs, fmt.Errorf("conversion: message name %q used by ids %d and %d", f.Name, other, f.ID))
		}
		names[f.Name] = f.ID
		if err := policy.Check(f.Policies); err != nil {
			errs = append(errs, fmt.Errorf("conversion: message %q: %w", f.Name, err))
		}
		c.formats[f.ID] = f
		c.ids = append(c.ids, f.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(c.ids)
	return c, nil
}

// Version returns the community-version byte.
func (c *Conversion) Version() uint8 { return c.version }

// Format returns the format of message id, or nil.
func (c *Conversion) Format(id uint8) *Format { return c.formats[id] }

// IDs returns the defined message ids in ascending order.
func (c *Conversion) IDs() []uint8 { return slices.Clone(c.ids) }

// Codec encodes and decodes the packets of one community: it holds the
// community's conversions. Decoding picks the conversion by the
// community-version byte; encoding uses the newest conversion (the last
// given) that defines the message. A Codec is immutable and safe for
// concurrent use.
type Codec struct {
	community keys.CommunityID
	convs     []*Conversion // in the order given; the last is the newest
	byVersion [256]*Conversion
}

// NewCodec returns the codec of community cid with conversions, oldest
// first. Versions must be distinct.
func NewCodec(cid keys.CommunityID, conversions ...*Conversion) (*Codec, error) {
	if len(conversions) == 0 {
		return nil, errors.New("conversion: a community needs at least one conversion")
	}
	c := &Codec{community: cid}
	for _, cv := range conversions {
		if cv == nil {
			return nil, errors.New("conversion: nil conversion")
		}
		if c.byVersion[cv.version] != nil {
			return nil, fmt.Errorf("conversion: community version %d given twice", cv.version)
		}
		c.byVersion[cv.version] = cv
		c.convs = append(c.convs, cv)
	}
	return c, nil
}

// Community returns the community id.
func (c *Codec) Community() keys.CommunityID { return c.community }

// Conversions returns the conversions, oldest first.
func (c *Codec) Conversions() []*Conversion { return slices.Clone(c.convs) }

// Newest returns the conversion used for encoding.
func (c *Codec) Newest() *Conversion { return c.convs[len(c.convs)-1] }

// EncodingFor returns the newest conversion that defines message id, and
// its format; ok is false if none does.
func (c *Codec) EncodingFor(id uint8) (conv *Conversion, f *Format, ok bool) {
	for i := len(c.convs) - 1; i >= 0; i-- {
		if f := c.convs[i].formats[id]; f != nil {
			return c.convs[i], f, true
		}
	}
	return nil, nil, false
}

// Author is one signing member as the frame names it.
type Author struct {
	// ID is the member id: carried on the wire (EncodeID) or derived from
	// Key (EncodeKey).
	ID keys.MemberID
	// Scheme is the member's signature scheme (the tag byte).
	Scheme keys.Scheme
	// Key is the member's public key when the frame carries it (EncodeKey),
	// nil when the frame carries only the id.
	Key *keys.PublicKey
}

// AuthorOf returns the Author for a known key.
func AuthorOf(k *keys.PublicKey) Author { return Author{ID: k.ID(), Scheme: k.Scheme(), Key: k} }

// Frame is one decoded packet: the header fields, the raw payload and the
// signatures. Payload, Signatures and Packet alias the decoded bytes.
type Frame struct {
	CommunityVersion uint8
	Community        keys.CommunityID
	Format           *Format
	// Authors holds 0, 1 or 2 members, per the format's authentication.
	Authors []Author
	// ResolutionIndex is the DynamicResolution policy index the creator
	// used; 0 for other resolutions.
	ResolutionIndex uint8
	GlobalTime      uint64
	// Sequence is the sequence number; 0 unless the distribution is
	// FullSync with SequenceNumbers.
	Sequence uint32
	Payload  []byte
	// Signatures holds one signature per author, in author order.
	Signatures [][]byte
	// Packet is the whole packet.
	Packet []byte
	// BodyLen is the length of the signed part: everything before the
	// first signature.
	BodyLen int
}

// Body returns the signed part of the packet.
func (f *Frame) Body() []byte { return f.Packet[:f.BodyLen] }

// MessageID returns the message id byte.
func (f *Frame) MessageID() uint8 { return f.Format.ID }

// PeekCommunity returns the community id of a packet without decoding it;
// ok is false if the packet is too short or has another wire version.
func PeekCommunity(pkt []byte) (cid keys.CommunityID, ok bool) {
	if len(pkt) < HeaderSize || pkt[0] != WireVersion {
		return cid, false
	}
	copy(cid[:], pkt[2:PrefixSize])
	return cid, true
}

// Decode parses pkt strictly. It checks lengths, the prefix, the message id,
// keys and field values; it does not verify signatures (see [Frame.Verify])
// and does not decode the payload (see [CheckCanonical]). It never panics. The returned frame
// aliases pkt.
func (c *Codec) Decode(pkt []byte) (*Frame, error) {
	bad := func(reason Reason, off int, field, detail string) (*Frame, error) {
		return nil, &DecodeError{Reason: reason, Offset: off, Field: field, Detail: detail}
	}
	if len(pkt) < HeaderSize {
		return bad(TooShort, len(pkt), "header", fmt.Sprintf("%d bytes, need %d", len(pkt), HeaderSize))
	}
	if pkt[0] != WireVersion {
		return bad(BadVersion, 0, "wire version", fmt.Sprintf("0x%02x", pkt[0]))
	}
	if string(pkt[2:PrefixSize]) != string(c.community[:]) {
		return bad(UnknownCommunity, 2, "community id", "")
	}
	conv := c.byVersion[pkt[1]]
	if conv == nil {
		return bad(UnknownConversion, 1, "community version", fmt.Sprintf("%d", pkt[1]))
	}
	format := conv.formats[pkt[HeaderSize-1]]
	if format == nil {
		return bad(UnknownMessage, HeaderSize-1, "message id", fmt.Sprintf("%d", pkt[HeaderSize-1]))
	}
	f := &Frame{
		CommunityVersion: pkt[1],
		Community:        c.community,
		Format:           format,
		Packet:           pkt,
	}
	off := HeaderSize
	p := format.Policies

	// Authentication.
	n := policy.Members(p.Authentication)
	sigLen := 0
	if n > 0 {
		f.Authors = make([]Author, n)
		for i := range n {
			a, used, err := decodeAuthor(pkt[off:], policy.Encoding(p.Authentication))
			if err != nil {
				err.Offset += off
				return nil, err
			}
			f.Authors[i] = a
			off += used
			sigLen += a.Scheme.SignatureSize()
		}
	}

	// Resolution.
	if d, ok := p.Resolution.(policy.DynamicResolution); ok {
		if off >= len(pkt) {
			return bad(TooShort, off, "resolution index", "")
		}
		if int(pkt[off]) >= len(d.Policies) {
			return bad(BadField, off, "resolution index", fmt.Sprintf("%d of %d policies", pkt[off], len(d.Policies)))
		}
		f.ResolutionIndex = pkt[off]
		off++
	}

	// Destination: no field in wire v1.

	// Distribution: every distribution carries the global time.
	if len(pkt)-off < 8 {
		return bad(TooShort, off, "global time", "")
	}
	f.GlobalTime = binary.BigEndian.Uint64(pkt[off:])
	if f.GlobalTime == 0 || f.GlobalTime > MaxGlobalTime {
		return bad(BadField, off, "global time", fmt.Sprintf("%d outside 1..2^63-1", f.GlobalTime))
	}
	off += 8
	if policy.HasSequence(p.Distribution) {
		if len(pkt)-off < 4 {
			return bad(TooShort, off, "sequence number", "")
		}
		f.Sequence = binary.BigEndian.Uint32(pkt[off:])
		if f.Sequence == 0 {
			return bad(BadField, off, "sequence number", "0")
		}
		off += 4
	}

	// Payload and signatures.
	if len(pkt)-off < sigLen {
		return bad(TooShort, off, "signature", fmt.Sprintf("%d bytes left, signatures need %d", len(pkt)-off, sigLen))
	}
	f.BodyLen = len(pkt) - sigLen
	f.Payload = pkt[off:f.BodyLen:f.BodyLen]
	if n > 0 {
		f.Signatures = make([][]byte, n)
		s := f.BodyLen
		for i, a := range f.Authors {
			l := a.Scheme.SignatureSize()
			f.Signatures[i] = pkt[s : s+l : s+l]
			s += l
		}
	}
	return f, nil
}

func decodeAuthor(b []byte, enc policy.MemberEncoding) (Author, int, *DecodeError) {
	if len(b) < 1 {
		return Author{}, 0, &DecodeError{Reason: TooShort, Field: "member"}
	}
	s := keys.Scheme(b[0])
	if !s.Valid() {
		return Author{}, 0, &DecodeError{Reason: BadKey, Field: "member", Detail: fmt.Sprintf("unknown scheme tag %d", b[0])}
	}
	switch enc {
	case policy.EncodeID:
		if len(b) < MemberIDSize {
			return Author{}, 0, &DecodeError{Reason: TooShort, Field: "member id"}
		}
		var a Author
		a.Scheme = s
		copy(a.ID[:], b[1:MemberIDSize])
		return a, MemberIDSize, nil
	default:
		l := s.BinaryPublicKeySize()
		if len(b) < l {
			return Author{}, 0, &DecodeError{Reason: TooShort, Field: "member key"}
		}
		k, err := keys.ParsePublicKey(b[:l])
		if err != nil {
			return Author{}, 0, &DecodeError{Reason: BadKey, Field: "member key", Detail: err.Error()}
		}
		return AuthorOf(k), l, nil
	}
}

// AppendBody appends the signed part of a frame to dst: the header, the
// policy fields and f.Payload, using conversion conv. It uses
// f.Format, f.Authors, f.ResolutionIndex, f.GlobalTime, f.Sequence and
// f.Payload, and checks them as Decode would.
func AppendBody(dst []byte, conv *Conversion, cid keys.CommunityID, f *Frame) ([]byte, error) {
	format := f.Format
	if format == nil || conv.formats[format.ID] != format {
		return dst, errors.New("conversion: frame format is not part of the conversion")
	}
	p := format.Policies
	n := policy.Members(p.Authentication)
	if len(f.Authors) != n {
		return dst, fmt.Errorf("conversion: message %q needs %d authors, got %d", format.Name, n, len(f.Authors))
	}
	if f.GlobalTime == 0 || f.GlobalTime > MaxGlobalTime {
		return dst, fmt.Errorf("conversion: global time %d outside 1..2^63-1", f.GlobalTime)
	}
	dst = append(dst, WireVersion, conv.version)
	dst = append(dst, cid[:]...)
	dst = append(dst, format.ID)
	enc := policy.Encoding(p.Authentication)
	for _, a := range f.Authors {
		// NB: the signature lengths come from a.Scheme, the key bytes from
		// a.Key; if they disagreed the packet would decode differently.
		if a.Key != nil && (a.Key.Scheme() != a.Scheme || a.Key.ID() != a.ID) {
			return dst, fmt.Errorf("conversion: author %s: ID and Scheme do not match Key %s; build authors with conversion.AuthorOf", a.ID, a.Key.ID())
		}
		switch enc {
		case policy.EncodeID:
			if !a.Scheme.Valid() {
				return dst, fmt.Errorf("conversion: author %s has invalid scheme %d", a.ID, a.Scheme)
			}
			dst = append(dst, byte(a.Scheme))
			dst = append(dst, a.ID[:]...)
		default:
			if a.Key == nil {
				return dst, fmt.Errorf("conversion: message %q encodes members by key; author %s has none", format.Name, a.ID)
			}
			dst = append(dst, a.Key.Bytes()...)
		}
	}
	if d, ok := p.Resolution.(policy.DynamicResolution); ok {
		if int(f.ResolutionIndex) >= len(d.Policies) {
			return dst, fmt.Errorf("conversion: resolution index %d of %d policies", f.ResolutionIndex, len(d.Policies))
		}
		dst = append(dst, f.ResolutionIndex)
	}
	dst = binary.BigEndian.AppendUint64(dst, f.GlobalTime)
	if policy.HasSequence(p.Distribution) {
		if f.Sequence == 0 {
			return dst, errors.New("conversion: sequence number 0")
		}
		dst = binary.BigEndian.AppendUint32(dst, f.Sequence)
	}
	return append(dst, f.Payload...), nil
}

// SignatureSize returns the total length of the signatures a frame with
// these authors carries.
func SignatureSize(authors []Author) int {
	n := 0
	for _, a := range authors {
		n += a.Scheme.SignatureSize()
	}
	return n
}

// Encode returns the whole packet of f: AppendBody with the conversion of
// f.CommunityVersion, then f.Signatures, each of which must have its
// author's signature length. It is the inverse of Decode.
func (c *Codec) Encode(f *Frame) ([]byte, error) {
	conv := c.byVersion[f.CommunityVersion]
	if conv == nil {
		return nil, fmt.Errorf("conversion: no conversion for community version %d", f.CommunityVersion)
	}
	out, err := AppendBody(nil, conv, c.community, f)
	if err != nil {
		return nil, err
	}
	if len(f.Signatures) != len(f.Authors) {
		return nil, fmt.Errorf("conversion: %d signatures for %d authors", len(f.Signatures), len(f.Authors))
	}
	for i, s := range f.Signatures {
		if len(s) != f.Authors[i].Scheme.SignatureSize() {
			return nil, fmt.Errorf("conversion: signature %d is %d bytes, want %d", i, len(s), f.Authors[i].Scheme.SignatureSize())
		}
		out = append(out, s...)
	}
	return out, nil
}

// Verify checks every signature of f: Signatures[i] must be a valid
// signature of [Frame.Body] by Authors[i].Key. A frame whose members are
// encoded by id carries no keys: set Authors[i].Key to the key of the member
// with id Authors[i].ID before calling Verify. It returns nil, or a
// *DecodeError with reason BadKey (an author without a key, or whose key
// does not match its ID and Scheme) or BadSignature (at the offset of the
// first signature that fails). An all-zero placeholder signature (see
// [IsEmptySignature]) fails like any other; check a double-signed frame that
// still waits for its second signature with [Frame.VerifyAuthor].
func (f *Frame) Verify() error {
	off := f.BodyLen
	for i, a := range f.Authors {
		if a.Key == nil || a.Key.ID() != a.ID || a.Key.Scheme() != a.Scheme {
			return &DecodeError{Reason: BadKey, Offset: off, Field: "signature", Detail: fmt.Sprintf("author %d (%s) has no matching key", i, a.ID)}
		}
		if !f.VerifyAuthor(i) {
			return &DecodeError{Reason: BadSignature, Offset: off, Field: "signature", Detail: fmt.Sprintf("signature %d of %d", i+1, len(f.Authors))}
		}
		off += a.Scheme.SignatureSize()
	}
	return nil
}

// VerifyAuthor reports whether Signatures[i] is a valid signature of
// [Frame.Body] by Authors[i].Key. It is false if i is out of range or the
// author has no key.
func (f *Frame) VerifyAuthor(i int) bool {
	if i < 0 || i >= len(f.Authors) || i >= len(f.Signatures) || f.Authors[i].Key == nil {
		return false
	}
	if f.BodyLen < 0 || f.BodyLen > len(f.Packet) {
		return false
	}
	return f.Authors[i].Key.Verify(f.Body(), f.Signatures[i])
}

// CheckCanonical returns nil if reencoded equals data, and otherwise a
// *DecodeError with reason NonCanonical at the first offset where they
// differ. A payload decoder calls it with the bytes it decoded and the
// encoding of the value it decoded them into, so that one message has one
// encoding (and one signature). field names the part being checked
// ("payload").
func CheckCanonical(field string, data, reencoded []byte) error {
	if string(data) == string(reencoded) {
		return nil
	}
	i := 0
	for i < len(data) && i < len(reencoded) && data[i] == reencoded[i] {
		i++
	}
	return &DecodeError{Reason: NonCanonical, Offset: i, Field: field, Detail: fmt.Sprintf("%d bytes re-encode to %d bytes that differ at offset %d", len(data), len(reencoded), i)}
}

// IsEmptySignature reports whether sig is all zero bytes: the placeholder a
// double-signed message carries for a signature not yet made.
func IsEmptySignature(sig []byte) bool {
	for _, b := range sig {
		if b != 0 {
			return false
		}
	}
	return true
}
