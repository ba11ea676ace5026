package payload

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// appendAddr writes an address: one length byte (0, 4 or 16), the address,
// and a 2-byte port. The invalid AddrPort encodes as length 0, port 0.
func appendAddr(w *conversion.Writer, a netip.AddrPort) {
	if !a.IsValid() {
		w.Uint8(0)
		w.Uint16(0)
		return
	}
	ip := a.Addr().Unmap()
	w.Bytes8(ip.AsSlice())
	w.Uint16(a.Port())
}

func readAddr(r *conversion.Reader) netip.AddrPort {
	b := r.Bytes8()
	port := r.Uint16()
	if r.Err() != nil {
		return netip.AddrPort{}
	}
	switch len(b) {
	case 0:
		if port != 0 {
			r.Invalid("address", "port without address")
		}
		return netip.AddrPort{}
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b)), port)
	case 16:
		a := netip.AddrFrom16([16]byte(b))
		if a.Is4In6() {
			r.Invalid("address", "IPv4-mapped IPv6 address; send plain IPv4")
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(a, port)
	}
	r.Invalid("address", fmt.Sprintf("address length %d", len(b)))
	return netip.AddrPort{}
}

// MissingIdentity is the payload of dispersy-missing-identity.
type MissingIdentity struct {
	Member keys.MemberID
}

// AppendBinary implements encoding.BinaryAppender.
func (p MissingIdentity) AppendBinary(b []byte) ([]byte, error) {
	return append(b, p.Member[:]...), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *MissingIdentity) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	r.Fixed(p.Member[:])
	return r.Finish()
}

// MissingSequence is the payload of dispersy-missing-sequence: member's
// messages of type MessageID with sequence numbers Low..High.
type MissingSequence struct {
	Member    keys.MemberID
	MessageID uint8
	Low, High uint32
}

// AppendBinary implements encoding.BinaryAppender. It requires
// 0 < Low <= High, as the decoder does.
func (p MissingSequence) AppendBinary(b []byte) ([]byte, error) {
	if p.Low == 0 || p.Low > p.High {
		return b, fmt.Errorf("payload: missing-sequence range %d..%d: need 0 < Low <= High", p.Low, p.High)
	}
	w := conversion.NewWriter(b)
	w.Bytes(p.Member[:])
	w.Uint8(p.MessageID)
	w.Uint32(p.Low)
	w.Uint32(p.High)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It requires
// 0 < Low <= High.
func (p *MissingSequence) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	r.Fixed(p.Member[:])
	p.MessageID = r.Uint8()
	p.Low = r.Uint32()
	p.High = r.Uint32()
	if r.Err() == nil && (p.Low == 0 || p.Low > p.High) {
		r.Invalid("sequence range", fmt.Sprintf("%d..%d", p.Low, p.High))
	}
	return r.Finish()
}

// MissingMessage is the payload of dispersy-missing-message: member's
// messages at the given global times (at least one).
type MissingMessage struct {
	Member      keys.MemberID
	GlobalTimes []uint64
}

// AppendBinary implements encoding.BinaryAppender. It requires at least
// one global time, as the decoder does.
func (p MissingMessage) AppendBinary(b []byte) ([]byte, error) {
	if len(p.GlobalTimes) == 0 {
		return b, errors.New("payload: missing-message names no global times")
	}
	w := conversion.NewWriter(b)
	w.Bytes(p.Member[:])
	w.Count16(len(p.GlobalTimes))
	for _, gt := range p.GlobalTimes {
		w.Uint64(gt)
	}
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *MissingMessage) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	r.Fixed(p.Member[:])
	n := r.Count16(8)
	if r.Err() == nil && n == 0 {
		r.Invalid("global times", "none")
	}
	p.GlobalTimes = make([]uint64, n)
	for i := range p.GlobalTimes {
		p.GlobalTimes[i] = r.Uint64()
	}
	return r.Finish()
}

// connectionBits maps a connection type onto bits 6-7 of the walker flags
// (Dispersy: 0x00 unknown, 0x80 public, 0xC0 symmetric NAT; 0x40 invalid).
//
// WARNING: the values are on the wire.
func connectionBits(c walker.ConnectionType) uint8 {
	switch c {
	case walker.ConnectionPublic:
		return 2
	case walker.ConnectionSymmetricNAT:
		return 3
	}
	return 0
}

const (
	flagAdvice = 0x01
	flagSync   = 0x02
	flagTunnel = 0x04
	flagMask   = 0xC0
)

// SyncRequest is the bloom-filter sync part of an introduction request (or,
// in this implementation, response): "send me what you hold in this range
// and modulo class that is not in this filter".
type SyncRequest struct {
	// Low and High bound the global time; High 0 means "up to your global
	// time".
	Low, High uint64
	// Modulo and Offset select the messages with (gt + Offset) % Modulo == 0.
	Modulo, Offset uint16
	// K is the number of bloom hash functions, Salt the filter's salt.
	K    uint8
	Salt uint32
	// Bloom is the filter's bit array (see docs/wire-format.md).
	Bloom []byte
}

// check reports why the wire rules refuse s (readSync's checks), or nil.
func (s *SyncRequest) check() error {
	var why string
	switch {
	case s.Low == 0:
		why = "time low is 0"
	case s.High != 0 && s.High < s.Low:
		why = fmt.Sprintf("time high %d below time low %d", s.High, s.Low)
	case s.Modulo == 0:
		why = "modulo is 0"
	case s.Offset >= s.Modulo:
		why = fmt.Sprintf("offset %d not below modulo %d", s.Offset, s.Modulo)
	case s.K == 0:
		why = "bloom has 0 functions"
	case len(s.Bloom) == 0:
		why = "empty bloom filter"
	default:
		return nil
	}
	return errors.New("payload: sync request: " + why)
}

func appendSync(w *conversion.Writer, s *SyncRequest) {
	w.Uint64(s.Low)
	w.Uint64(s.High)
	w.Uint16(s.Modulo)
	w.Uint16(s.Offset)
	w.Uint8(s.K)
	w.Uint32(s.Salt)
	w.Bytes(s.Bloom)
}

func readSync(r *conversion.Reader) *SyncRequest {
	s := &SyncRequest{}
	s.Low = r.Uint64()
	s.High = r.Uint64()
	s.Modulo = r.Uint16()
	s.Offset = r.Uint16()
	s.K = r.Uint8()
	s.Salt = r.Uint32()
	if r.Err() != nil {
		return nil
	}
	switch {
	case s.Low == 0:
		r.Invalid("sync", "time low is 0")
	case s.High != 0 && s.High < s.Low:
		r.Invalid("sync", fmt.Sprintf("time high %d below time low %d", s.High, s.Low))
	case s.Modulo == 0:
		r.Invalid("sync", "modulo is 0")
	case s.Offset >= s.Modulo:
		r.Invalid("sync", fmt.Sprintf("offset %d not below modulo %d", s.Offset, s.Modulo))
	case s.K == 0:
		r.Invalid("sync", "bloom has 0 functions")
	case r.Len() == 0:
		r.Invalid("sync", "empty bloom filter")
	}
	s.Bloom = r.Rest()
	return s
}

func appendFlags(w *conversion.Writer, flags uint8, ct walker.ConnectionType) {
	w.Uint8(flags | connectionBits(ct)<<6)
}

func readFlags(r *conversion.Reader, allowed uint8) (uint8, walker.ConnectionType) {
	f := r.Uint8()
	if r.Err() != nil {
		return 0, 0
	}
	var ct walker.ConnectionType
	switch f >> 6 {
	case 1:
		r.Invalid("flags", "connection type bits 01 are invalid")
	case 2:
		ct = walker.ConnectionPublic
	case 3:
		ct = walker.ConnectionSymmetricNAT
	}
	if f&^(allowed|flagMask) != 0 {
		r.Invalid("flags", fmt.Sprintf("unknown flag bits 0x%02x", f&^(allowed|flagMask)))
	}
	return f &^ flagMask, ct
}

// IntroductionRequest is the payload of dispersy-introduction-request.
type IntroductionRequest struct {
	// Destination is the address the request is sent to, as the sender
	// sees it: the receiver votes for its WAN address with it.
	Destination netip.AddrPort
	// SourceLAN and SourceWAN are the sender's own address estimates.
	SourceLAN, SourceWAN netip.AddrPort
	// Advice asks the receiver to introduce another peer.
	Advice         bool
	ConnectionType walker.ConnectionType
	// Identifier matches the response and the puncture to the request.
	Identifier uint16
	// Sync is the optional bloom-filter sync request.
	Sync *SyncRequest
}

// AppendBinary implements encoding.BinaryAppender. A Sync the decoder
// would refuse is an error.
func (p IntroductionRequest) AppendBinary(b []byte) ([]byte, error) {
	if p.Sync != nil {
		if err := p.Sync.check(); err != nil {
			return b, err
		}
	}
	w := conversion.NewWriter(b)
	appendAddr(&w, p.Destination)
	appendAddr(&w, p.SourceLAN)
	appendAddr(&w, p.SourceWAN)
	var f uint8
	if p.Advice {
		f |= flagAdvice
	}
	if p.Sync != nil {
		f |= flagSync
	}
	appendFlags(&w, f, p.ConnectionType)
	w.Uint16(p.Identifier)
	if p.Sync != nil {
		appendSync(&w, p.Sync)
	}
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *IntroductionRequest) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Destination = readAddr(&r)
	p.SourceLAN = readAddr(&r)
	p.SourceWAN = readAddr(&r)
	f, ct := readFlags(&r, flagAdvice|flagSync)
	p.Advice = f&flagAdvice != 0
	p.ConnectionType = ct
	p.Identifier = r.Uint16()
	p.Sync = nil
	if f&flagSync != 0 {
		p.Sync = readSync(&r)
	}
	return r.Finish()
}

// IntroductionResponse is the payload of dispersy-introduction-response.
type IntroductionResponse struct {
	// Destination is the requester's address as the responder sees it.
	Destination netip.AddrPort
	// SourceLAN and SourceWAN are the responder's own address estimates.
	SourceLAN, SourceWAN netip.AddrPort
	// IntroducedLAN and IntroducedWAN are the introduced peer's addresses;
	// both invalid when nobody is introduced.
	IntroducedLAN, IntroducedWAN netip.AddrPort
	ConnectionType               walker.ConnectionType
	// IntroducedTunnel reports that the introduced peer is tunnelled.
	IntroducedTunnel bool
	Identifier       uint16
	// Sync, when set, asks the requester to answer the responder's own
	// bloom filter too, so one walk step syncs both ways (not in Python
	// Dispersy; see docs/compatibility.md).
	Sync *SyncRequest
}

// AppendBinary implements encoding.BinaryAppender. A Sync the decoder
// would refuse is an error.
func (p IntroductionResponse) AppendBinary(b []byte) ([]byte, error) {
	if p.Sync != nil {
		if err := p.Sync.check(); err != nil {
			return b, err
		}
	}
	w := conversion.NewWriter(b)
	appendAddr(&w, p.Destination)
	appendAddr(&w, p.SourceLAN)
	appendAddr(&w, p.SourceWAN)
	appendAddr(&w, p.IntroducedLAN)
	appendAddr(&w, p.IntroducedWAN)
	var f uint8
	if p.IntroducedTunnel {
		f |= flagTunnel
	}
	if p.Sync != nil {
		f |= flagSync
	}
	appendFlags(&w, f, p.ConnectionType)
	w.Uint16(p.Identifier)
	if p.Sync != nil {
		appendSync(&w, p.Sync)
	}
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *IntroductionResponse) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Destination = readAddr(&r)
	p.SourceLAN = readAddr(&r)
	p.SourceWAN = readAddr(&r)
	p.IntroducedLAN = readAddr(&r)
	p.IntroducedWAN = readAddr(&r)
	f, ct := readFlags(&r, flagTunnel|flagSync)
	p.IntroducedTunnel = f&flagTunnel != 0
	p.ConnectionType = ct
	p.Identifier = r.Uint16()
	p.Sync = nil
	if f&flagSync != 0 {
		p.Sync = readSync(&r)
	}
	return r.Finish()
}

// PunctureRequest is the payload of dispersy-puncture-request: "send a
// puncture to this walker".
type PunctureRequest struct {
	WalkerLAN, WalkerWAN netip.AddrPort
	Identifier           uint16
}

// AppendBinary implements encoding.BinaryAppender.
func (p PunctureRequest) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	appendAddr(&w, p.WalkerLAN)
	appendAddr(&w, p.WalkerWAN)
	w.Uint16(p.Identifier)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *PunctureRequest) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.WalkerLAN = readAddr(&r)
	p.WalkerWAN = readAddr(&r)
	p.Identifier = r.Uint16()
	return r.Finish()
}

// Puncture is the payload of dispersy-puncture.
type Puncture struct {
	SourceLAN, SourceWAN netip.AddrPort
	Identifier           uint16
}

// AppendBinary implements encoding.BinaryAppender.
func (p Puncture) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	appendAddr(&w, p.SourceLAN)
	appendAddr(&w, p.SourceWAN)
	w.Uint16(p.Identifier)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *Puncture) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.SourceLAN = readAddr(&r)
	p.SourceWAN = readAddr(&r)
	p.Identifier = r.Uint16()
	return r.Finish()
}
