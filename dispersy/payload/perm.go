package payload

import (
	"errors"
	"fmt"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/timeline"
)

// Grant is one member's permissions on one message type.
type Grant struct {
	// Member is the member's public key (the payload carries the key, so
	// receivers learn it without an identity round trip).
	Member      *keys.PublicKey
	MessageType uint8
	Permission  timeline.Permission
}

// Authorize is the payload of dispersy-authorize: grants, grouped by member
// on the wire.
type Authorize struct {
	Grants []Grant
}

// Revoke is the payload of dispersy-revoke: the same layout as Authorize.
type Revoke struct {
	Grants []Grant
}

// errNilMember is returned when encoding a grant or an undo without a
// member key.
var errNilMember = errors.New("payload: a grant or undo names no member key")

// appendGrants writes grants grouped by consecutive member: Count8 of
// members, each a binary key and Count8 of (type id, permission bits). Like
// the decoder, it requires at least one grant, and valid permission bits.
func appendGrants(b []byte, gs []Grant) ([]byte, error) {
	if len(gs) == 0 {
		return b, errors.New("payload: an authorize or revoke needs at least one grant")
	}
	w := conversion.NewWriter(b)
	type group struct {
		key *keys.PublicKey
		gs  []Grant
	}
	var groups []group
	for _, g := range gs {
		if g.Member == nil {
			return b, errNilMember
		}
		if !g.Permission.Valid() {
			return b, fmt.Errorf("payload: grant on message %d has permission bits 0x%02x: want a non-empty combination of Permit, PermAuthorize, PermRevoke and PermUndo", g.MessageType, uint8(g.Permission))
		}
		if n := len(groups); n > 0 && groups[n-1].key.Equal(g.Member) {
			groups[n-1].gs = append(groups[n-1].gs, g)
			continue
		}
		groups = append(groups, group{key: g.Member, gs: []Grant{g}})
	}
	w.Count8(len(groups))
	for _, gr := range groups {
		w.Bytes(gr.key.Bytes())
		w.Count8(len(gr.gs))
		for _, g := range gr.gs {
			w.Uint8(g.MessageType)
			w.Uint8(uint8(g.Permission))
		}
	}
	return w.Finish()
}

// readKey reads a binary public key (tag byte + raw key).
func readKey(r *conversion.Reader) *keys.PublicKey {
	if r.Len() < 1 {
		r.Bytes(1)
		return nil
	}
	tag := r.Uint8()
	s := keys.Scheme(tag)
	if !s.Valid() {
		r.Invalid("member key", fmt.Sprintf("unknown scheme tag %d", tag))
		return nil
	}
	raw := r.Bytes(s.PublicKeySize())
	if raw == nil {
		return nil
	}
	k, err := keys.ParsePublicKey(append([]byte{tag}, raw...))
	if err != nil {
		r.Invalid("member key", err.Error())
		return nil
	}
	return k
}

func readGrants(r *conversion.Reader) []Grant {
	n := r.Count8(1 + 32 + 1)
	if r.Err() == nil && n == 0 {
		r.Invalid("grants", "no members")
	}
	var out []Grant
	var prev *keys.PublicKey
	for range n {
		k := readKey(r)
		if k != nil && prev != nil && prev.Equal(k) {
			r.Invalid("grants", "the same member in two consecutive groups")
		}
		prev = k
		m := r.Count8(2)
		if r.Err() == nil && m == 0 {
			r.Invalid("grants", "member without permissions")
		}
		for range m {
			t := r.Uint8()
			p := timeline.Permission(r.Uint8())
			if r.Err() == nil && !p.Valid() {
				r.Invalid("permission", fmt.Sprintf("bits 0x%02x", uint8(p)))
			}
			out = append(out, Grant{Member: k, MessageType: t, Permission: p})
		}
	}
	return out
}

// AppendBinary implements encoding.BinaryAppender.
func (p Authorize) AppendBinary(b []byte) ([]byte, error) { return appendGrants(b, p.Grants) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *Authorize) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Grants = readGrants(&r)
	return r.Finish()
}

// AppendBinary implements encoding.BinaryAppender.
func (p Revoke) AppendBinary(b []byte) ([]byte, error) { return appendGrants(b, p.Grants) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *Revoke) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Grants = readGrants(&r)
	return r.Finish()
}

// UndoOwn is the payload of dispersy-undo-own: the global time of the
// author's own message to undo.
type UndoOwn struct {
	GlobalTime uint64
}

// errZeroGlobalTime is returned when encoding a payload that names global
// time 0, which no message has.
var errZeroGlobalTime = errors.New("payload: global time 0 names no message (global times start at 1)")

// AppendBinary implements encoding.BinaryAppender. GlobalTime must not be 0.
func (p UndoOwn) AppendBinary(b []byte) ([]byte, error) {
	if p.GlobalTime == 0 {
		return b, errZeroGlobalTime
	}
	w := conversion.NewWriter(b)
	w.Uint64(p.GlobalTime)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *UndoOwn) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.GlobalTime = r.Uint64()
	if r.Err() == nil && p.GlobalTime == 0 {
		r.Invalid("global time", "0")
	}
	return r.Finish()
}

// UndoOther is the payload of dispersy-undo-other: the member and global
// time of the message to undo.
type UndoOther struct {
	Member     *keys.PublicKey
	GlobalTime uint64
}

// AppendBinary implements encoding.BinaryAppender. Member must be set and
// GlobalTime must not be 0.
func (p UndoOther) AppendBinary(b []byte) ([]byte, error) {
	if p.Member == nil {
		return b, errNilMember
	}
	if p.GlobalTime == 0 {
		return b, errZeroGlobalTime
	}
	w := conversion.NewWriter(b)
	w.Bytes(p.Member.Bytes())
	w.Uint64(p.GlobalTime)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *UndoOther) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Member = readKey(&r)
	p.GlobalTime = r.Uint64()
	if r.Err() == nil && p.GlobalTime == 0 {
		r.Invalid("global time", "0")
	}
	return r.Finish()
}

// DestroyCommunity is the payload of dispersy-destroy-community. Only the
// hard kill exists (Dispersy never implemented the soft kill, 's').
type DestroyCommunity struct{}

const hardKill = 'h'

// AppendBinary implements encoding.BinaryAppender.
func (DestroyCommunity) AppendBinary(b []byte) ([]byte, error) { return append(b, hardKill), nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (*DestroyCommunity) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	if k := r.Uint8(); r.Err() == nil && k != hardKill {
		r.Invalid("degree", fmt.Sprintf("0x%02x: only the hard kill 'h' exists", k))
	}
	return r.Finish()
}

// Setting is one record of a dynamic-settings payload: from the next
// global time on, message type MessageType resolves with its
// DynamicResolution's Policies[PolicyIndex].
type Setting struct {
	MessageType uint8
	PolicyIndex uint8
}

// DynamicSettings is the payload of dispersy-dynamic-settings.
type DynamicSettings struct {
	Settings []Setting
}

// policyResolution is Dispersy's policy-type byte for resolution policies.
const policyResolution = 'r'

// AppendBinary implements encoding.BinaryAppender. It requires at least
// one setting, as the decoder does.
func (p DynamicSettings) AppendBinary(b []byte) ([]byte, error) {
	if len(p.Settings) == 0 {
		return b, errors.New("payload: dynamic-settings needs at least one setting")
	}
	w := conversion.NewWriter(b)
	w.Count8(len(p.Settings))
	for _, s := range p.Settings {
		w.Uint8(s.MessageType)
		w.Uint8(policyResolution)
		w.Uint8(s.PolicyIndex)
	}
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *DynamicSettings) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	n := r.Count8(3)
	if r.Err() == nil && n == 0 {
		r.Invalid("settings", "none")
	}
	p.Settings = make([]Setting, n)
	for i := range p.Settings {
		p.Settings[i].MessageType = r.Uint8()
		if k := r.Uint8(); r.Err() == nil && k != policyResolution {
			r.Invalid("settings", fmt.Sprintf("policy type 0x%02x: only 'r' (resolution) exists", k))
		}
		p.Settings[i].PolicyIndex = r.Uint8()
	}
	return r.Finish()
}

// MissingProof is the payload of dispersy-missing-proof: "why is member's
// message at GlobalTime allowed?".
type MissingProof struct {
	Member     keys.MemberID
	GlobalTime uint64
}

// AppendBinary implements encoding.BinaryAppender. GlobalTime must not be 0.
func (p MissingProof) AppendBinary(b []byte) ([]byte, error) {
	if p.GlobalTime == 0 {
		return b, errZeroGlobalTime
	}
	w := conversion.NewWriter(b)
	w.Bytes(p.Member[:])
	w.Uint64(p.GlobalTime)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *MissingProof) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	r.Fixed(p.Member[:])
	p.GlobalTime = r.Uint64()
	if r.Err() == nil && p.GlobalTime == 0 {
		r.Invalid("global time", "0")
	}
	return r.Finish()
}
