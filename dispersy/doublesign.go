package dispersy

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/requestcache"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// The signature request and response messages (dispersy.md §1.1).
var (
	// SignatureRequestType carries a double-signed message that its creator
	// signed, to the second member.
	SignatureRequestType = mustBuiltin[SignatureRequest](MessageSpec{
		ID: IDSignatureRequest, Name: "dispersy-signature-request",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// SignatureResponseType carries it back with the second signature.
	SignatureResponseType = mustBuiltin[SignatureResponse](MessageSpec{
		ID: IDSignatureResponse, Name: "dispersy-signature-response",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
)

// SignatureRequest is the payload of dispersy-signature-request.
type SignatureRequest struct {
	Identifier uint16
	// Packet is the double-signed message with its creator's signature and
	// an all-zero placeholder for the second.
	Packet []byte
}

// SignatureResponse is the payload of dispersy-signature-response.
type SignatureResponse struct {
	Identifier uint16
	// Packet is the message as the second member signed it (possibly with
	// a modified payload, then without the creator's signature).
	Packet []byte
}

func appendIDPacket(b []byte, id uint16, pkt []byte) ([]byte, error) {
	if len(pkt) < conversion.HeaderSize {
		return b, fmt.Errorf("dispersy: signature request or response carries %d bytes, too short for a message (%d at least)", len(pkt), conversion.HeaderSize)
	}
	w := conversion.NewWriter(b)
	w.Uint16(id)
	w.Bytes(pkt)
	return w.Finish()
}

func readIDPacket(b []byte) (uint16, []byte, error) {
	r := conversion.NewReader(b)
	id := r.Uint16()
	pkt := r.Rest()
	if r.Err() == nil && len(pkt) < conversion.HeaderSize {
		r.Invalid("packet", "too short for a message")
	}
	return id, pkt, r.Finish()
}

// AppendBinary implements encoding.BinaryAppender.
func (p SignatureRequest) AppendBinary(b []byte) ([]byte, error) {
	return appendIDPacket(b, p.Identifier, p.Packet)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *SignatureRequest) UnmarshalBinary(b []byte) (err error) {
	p.Identifier, p.Packet, err = readIDPacket(b)
	return err
}

// AppendBinary implements encoding.BinaryAppender.
func (p SignatureResponse) AppendBinary(b []byte) ([]byte, error) {
	return appendIDPacket(b, p.Identifier, p.Packet)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *SignatureResponse) UnmarshalBinary(b []byte) (err error) {
	p.Identifier, p.Packet, err = readIDPacket(b)
	return err
}

const sigPrefix = "signature-request"

// maxSignatureRequests bounds the outstanding signature requests.
const maxSignatureRequests = 1024

// SignatureResult reports how a signature request ended.
type SignatureResult[T any] struct {
	// Message is the message the second member signed: the original or
	// modified by it. Nil when the request timed out.
	Message *Message[T]
	// Modified reports whether the second member changed any byte of the
	// message (with a SplitPayload, also bytes after the creator's part).
	Modified bool
	// TimedOut reports that no valid response arrived in time.
	TimedOut bool
}

// sigRequest is an outstanding signature request on the creator's side.
type sigRequest struct {
	entry    *typeEntry
	original *message
	to       netip.AddrPort
	// respond is called once: with the response, or with nil on timeout. It
	// returns whether to sign, store and send the message.
	respond func(ctx *Context, m *message, modified bool) bool
}

// CreateDoubleSigned starts a message of double-signed type t: our member
// signs it as its creator and asks the member with key other, at address
// to, for the second signature. When the response arrives, or after
// Config.SignatureTimeout, done is called exactly once; if it returns true
// for a signed response, the message is completed, stored, handled and
// sent like any created message. done runs on the engine's goroutine.
func CreateDoubleSigned[T any](c *Community, t *MessageType[T], payload T, other *keys.PublicKey, to netip.AddrPort, done func(ctx *Context, r SignatureResult[T]) bool) error {
	if err := c.usable(); err != nil {
		return err
	}
	entry, err := c.entryFor(t)
	if err != nil {
		return err
	}
	if _, ok := entry.spec.Authentication.(policy.DoubleMemberAuthentication); !ok {
		return fmt.Errorf("dispersy: CreateDoubleSigned: message %q is not double-signed", entry.spec.Name)
	}
	if other == nil || other.Equal(c.me.Public()) {
		return errors.New("dispersy: CreateDoubleSigned needs the other member's key, not ours")
	}
	m, err := c.buildDouble(entry, payload, other, 0)
	if err != nil {
		return err
	}
	if v := c.checkPermission(m); v.kind != verdictAccept {
		return fmt.Errorf("%w: %q at global time %d", ErrNotPermitted, entry.spec.Name, m.frame.GlobalTime)
	}
	req := &sigRequest{entry: entry, original: m, to: to}
	req.respond = func(ctx *Context, got *message, modified bool) bool {
		if got == nil {
			return done(ctx, SignatureResult[T]{TimedOut: true})
		}
		return done(ctx, SignatureResult[T]{Message: typed(t, got), Modified: modified})
	}
	id, err := c.sigs().Add(c.e.now, sigPrefix, c.e.cfg.SignatureTimeout, req)
	if err != nil {
		return fmt.Errorf("dispersy: too many outstanding signature requests: %w", err)
	}
	c.sendDirect(SignatureRequestType, SignatureRequest{Identifier: id, Packet: m.frame.Packet}, to)
	if !c.e.flushing {
		return c.e.flush()
	}
	return nil
}

func (c *Community) sigs() *requestcache.Cache[*sigRequest] {
	if c.sigReqs == nil {
		c.sigReqs = requestcache.New[*sigRequest](c.e.rng, maxSignatureRequests)
	}
	return c.sigReqs
}

// signedLen returns how many body bytes author i of a double-signed frame
// signs: the whole body, except that with a SplitPayload the creator signs
// only the header, the fields and the payload's first split bytes.
func (c *Community) signedLen(e *typeEntry, f *conversion.Frame, i int) int {
	if i == 0 && e.split != nil {
		n := e.split(f.Payload)
		if n < 0 || n > len(f.Payload) {
			return -1
		}
		return f.BodyLen - len(f.Payload) + n
	}
	return f.BodyLen
}

// verifyDouble checks the signatures of a double-signed frame, split-aware.
// allowEmpty accepts an all-zero placeholder in place of author emptyOK.
func (c *Community) verifyDouble(e *typeEntry, f *conversion.Frame, authors []*keys.PublicKey, emptyOK int) bool {
	for i, k := range authors {
		sig := f.Signatures[i]
		if i == emptyOK && conversion.IsEmptySignature(sig) {
			continue
		}
		n := c.signedLen(e, f, i)
		if n < 0 || !k.Verify(f.Packet[:n], sig) {
			return false
		}
	}
	return true
}

// buildDouble builds a double-signed message: we sign as the first member
// and leave a zero placeholder for other. gt 0 claims the next global time.
func (c *Community) buildDouble(entry *typeEntry, payload any, other *keys.PublicKey, gt uint64) (*message, error) {
	placeholder := &placeholderSigner{pub: other}
	return c.buildSigned(entry, payload, []*keys.PublicKey{c.me.Public(), other}, []signer{c.me, placeholder}, gt, 0)
}

// signer signs a message body; placeholderSigner writes zeros.
type signer interface {
	AppendSign(dst, msg []byte) []byte
}

type placeholderSigner struct{ pub *keys.PublicKey }

func (p *placeholderSigner) AppendSign(dst, _ []byte) []byte {
	return append(dst, make([]byte, p.pub.SignatureSize())...)
}

// buildSigned encodes a message with the given authors and sequence number
// and signs author i's part with signers[i]. gt 0 takes the next global time
// (synced types) or the current one (direct types).
func (c *Community) buildSigned(entry *typeEntry, payload any, authors []*keys.PublicKey, signers []signer, gt uint64, seq uint32) (*message, error) {
	spec := entry.spec
	conv, format, ok := c.def.codec.EncodingFor(spec.ID)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, spec.Name)
	}
	f := &conversion.Frame{CommunityVersion: conv.Version(), Community: c.cid, Format: format, Sequence: seq}
	for _, a := range authors {
		f.Authors = append(f.Authors, conversion.AuthorOf(a))
	}
	switch {
	case gt != 0:
		f.GlobalTime = gt
	case policy.Synced(spec.Distribution):
		f.GlobalTime = c.GlobalTime() + 1
	default:
		f.GlobalTime = c.GlobalTime()
	}
	if d, ok := spec.Resolution.(policy.DynamicResolution); ok {
		f.ResolutionIndex = c.resolutionIndex(spec.ID, d, f.GlobalTime)
	}
	pl, err := entry.t.encodePayload(nil, payload)
	if err != nil {
		return nil, fmt.Errorf("dispersy: encoding %q payload: %w", spec.Name, err)
	}
	f.Payload = pl
	body, err := conversion.AppendBody(nil, conv, c.cid, f)
	if err != nil {
		return nil, fmt.Errorf("dispersy: encoding %q: %w", spec.Name, err)
	}
	size := len(body) + conversion.SignatureSize(f.Authors)
	if size > c.e.cfg.MaxDatagram {
		return nil, fmt.Errorf("%w: %q is %d bytes, the budget is %d", ErrTooLarge, spec.Name, size, c.e.cfg.MaxDatagram)
	}
	f.BodyLen = len(body)
	f.Payload = body[len(body)-len(pl):]
	f.Packet = body
	pkt := make([]byte, len(body), size)
	copy(pkt, body)
	for i, s := range signers {
		n := c.signedLen(entry, f, i)
		if n < 0 {
			return nil, fmt.Errorf("dispersy: SplitPayload of %q returned an offset outside the payload", spec.Name)
		}
		pkt = s.AppendSign(pkt, body[:n])
	}
	return c.frameMessage(entry, pkt, authors, payload)
}

// frameMessage wraps a complete packet as a local message.
func (c *Community) frameMessage(entry *typeEntry, pkt []byte, authors []*keys.PublicKey, payload any) (*message, error) {
	f, err := c.def.codec.Decode(pkt)
	if err != nil {
		return nil, fmt.Errorf("dispersy: a message we built does not decode: %w", err)
	}
	m := &message{entry: entry, frame: f, authors: authors, payload: payload, local: true, comm: c}
	if policy.Synced(entry.spec.Distribution) {
		m.hash = PacketHash(pkt)
	}
	return m, nil
}

// checkSignatureRequest is the second member's side: the request must carry
// a message of a double-signed type that names us as its second member,
// signed by its first member.
func (c *Community) checkSignatureRequest(m *message) Verdict {
	p := m.payload.(SignatureRequest)
	sub, v := c.decodeSub(p.Packet)
	if v.kind != verdictAccept {
		return v
	}
	if len(sub.authors) != 2 || sub.authors[1].ID() != c.me.ID() {
		return drop(DropInvalidRequest, "nothing to sign: we are not the second member")
	}
	if !c.verifyDouble(sub.entry, sub.frame, sub.authors, 1) || conversion.IsEmptySignature(sub.frame.Signatures[0]) {
		return drop(DropBadSignature, "signature request not signed by its creator")
	}
	if sub.entry.allow == nil {
		return drop(DropRejected, "no AllowSignature handler for this type")
	}
	return Accept()
}

// decodeSub decodes a message carried inside a signature request or
// response: it must be a double-signed type of this community.
func (c *Community) decodeSub(pkt []byte) (*message, Verdict) {
	f, err := c.def.codec.Decode(pkt)
	if err != nil {
		return nil, drop(dropForDecode(conversion.ReasonOf(err)), err.Error())
	}
	entry := c.def.types[f.Format.ID]
	if _, ok := entry.spec.Authentication.(policy.DoubleMemberAuthentication); !ok {
		return nil, drop(DropInvalidRequest, "not a double-signed message")
	}
	authors := make([]*keys.PublicKey, len(f.Authors))
	for i, a := range f.Authors {
		k := a.Key
		if k == nil {
			if k, err = c.e.memberKey(a.ID); err != nil || k == nil {
				return nil, drop(DropUnknownMember, "")
			}
		}
		authors[i] = k
	}
	pl, err := entry.t.decodePayload(f.Payload)
	if err != nil {
		return nil, drop(dropForDecode(conversion.ReasonOf(err)), err.Error())
	}
	return &message{entry: entry, frame: f, authors: authors, payload: pl, comm: c}, Accept()
}

// answerSignatureRequest asks the application whether to sign, and sends
// the (possibly modified) message back with our signature.
func (c *Community) answerSignatureRequest(m *message) {
	p := m.payload.(SignatureRequest)
	sub, v := c.decodeSub(p.Packet)
	if v.kind != verdictAccept {
		return
	}
	payload, ok := sub.entry.allow(c.ctx, sub)
	if !ok {
		return
	}
	first := &fixedSigner{sig: sub.frame.Signatures[0]}
	out, err := c.buildSigned(sub.entry, payload, sub.authors, []signer{first, c.me}, sub.frame.GlobalTime, 0)
	if err != nil {
		c.e.log.Debug().Err(err).Msg("signature response")
		return
	}
	if !bytes.Equal(c.body0(out), c.body0(sub)) {
		// The payload changed under the creator's signature: it no longer
		// holds, so send a placeholder; the creator signs again if it
		// agrees.
		zero := make([]byte, len(sub.frame.Signatures[0]))
		copy(out.frame.Packet[out.frame.BodyLen:], zero)
	}
	c.sendDirect(SignatureResponseType, SignatureResponse{Identifier: p.Identifier, Packet: out.frame.Packet}, m.source)
}

// body0 is the part of a double-signed message its creator signs.
func (c *Community) body0(m *message) []byte {
	n := c.signedLen(m.entry, m.frame, 0)
	if n < 0 {
		return nil
	}
	return m.frame.Packet[:n]
}

// fixedSigner writes a signature made earlier.
type fixedSigner struct{ sig []byte }

func (s *fixedSigner) AppendSign(dst, _ []byte) []byte { return append(dst, s.sig...) }

// checkSignatureResponse is the creator's side: the response must match an
// outstanding request, keep the type, the creator and the global time, and
// carry a valid signature by the second member.
func (c *Community) checkSignatureResponse(m *message) Verdict {
	p := m.payload.(SignatureResponse)
	req, ok := c.sigs().Get(sigPrefix, p.Identifier)
	if !ok {
		return drop(DropUnexpected, "signature response without a request")
	}
	sub, v := c.decodeSub(p.Packet)
	if v.kind != verdictAccept {
		return v
	}
	o := req.original
	switch {
	case sub.entry != o.entry:
		return drop(DropInvalidRequest, "signature response changed the message type")
	case len(sub.authors) != 2 || !sub.authors[0].Equal(o.authors[0]) || !sub.authors[1].Equal(o.authors[1]):
		return drop(DropInvalidRequest, "signature response changed the members")
	case sub.frame.GlobalTime != o.frame.GlobalTime:
		return drop(DropInvalidRequest, "signature response changed the global time")
	case conversion.IsEmptySignature(sub.frame.Signatures[1]) || !c.verifyDouble(sub.entry, sub.frame, sub.authors, 0):
		return drop(DropBadSignature, "signature response not signed by the second member")
	}
	return Accept()
}

// handleSignatureResponse completes a double-signed message the second
// member signed, if the application agrees.
func (c *Community) handleSignatureResponse(m *message) {
	p := m.payload.(SignatureResponse)
	req, ok := c.sigs().Pop(sigPrefix, p.Identifier)
	if !ok {
		return
	}
	c.e.prove(m.source)
	sub, v := c.decodeSub(p.Packet)
	if v.kind != verdictAccept {
		return
	}
	// Modified: any byte of the message changed, not only the creator's
	// part (a split payload lets the second member append after it).
	modified := !bytes.Equal(sub.frame.Body(), req.original.frame.Body())
	sub.local = true
	if !req.respond(c.ctx, sub, modified) {
		return
	}
	// Sign our part: the creator's signature is the first one.
	pkt := bytes.Clone(sub.frame.Packet)
	if conversion.IsEmptySignature(sub.frame.Signatures[0]) {
		sig := c.me.Sign(pkt[:c.signedLen(sub.entry, sub.frame, 0)])
		copy(pkt[sub.frame.BodyLen:], sig)
	}
	done, err := c.frameMessage(sub.entry, pkt, sub.authors, sub.payload)
	if err != nil {
		return
	}
	if policy.Synced(done.entry.spec.Distribution) {
		if err := c.commitLocal(done); err != nil {
			return
		}
	} else {
		c.e.stats.Created++
	}
	c.deliverLocal(done, []netip.AddrPort{req.to})
}

// expireSignatures reports timed-out signature requests, once each.
func (c *Community) expireSignatures(now time.Time) {
	if c.sigReqs == nil {
		return
	}
	for _, x := range c.sigReqs.Expire(now) {
		x.Value.respond(c.ctx, nil, true)
	}
}
