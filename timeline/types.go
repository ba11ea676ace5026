package timeline

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Permission is a set of permission bits on one message type. The bit
// values are Dispersy's and appear on the wire in authorize and revoke
// payloads.
//
// WARNING: append only; values are on the wire.
type Permission uint8

const (
	// Permit allows creating messages of the type (LinearResolution).
	Permit Permission = 0x01
	// Authorize allows granting permissions on the type to others.
	Authorize Permission = 0x02
	// Revoke allows revoking permissions on the type from others.
	Revoke Permission = 0x04
	// Undo allows undoing other members' messages of the type
	// (dispersy-undo-other).
	Undo Permission = 0x08

	// AllPermissions is the union of every defined bit.
	AllPermissions = Permit | Authorize | Revoke | Undo
)

// permissionBits lists the single bits in wire order.
var permissionBits = [...]Permission{Permit, Authorize, Revoke, Undo}

// Valid reports whether p is a non-empty set of defined bits.
func (p Permission) Valid() bool { return p != 0 && p&^AllPermissions == 0 }

// Has reports whether every bit of q is set in p.
func (p Permission) Has(q Permission) bool { return p&q == q }

// String names the bits joined by "+" ("permit+authorize"); undefined bits
// appear in hex, and the empty set is "none".
func (p Permission) String() string {
	if p == 0 {
		return "none"
	}
	var parts []string
	for _, b := range permissionBits {
		if p&b != 0 {
			parts = append(parts, b.name())
		}
	}
	if rest := p &^ AllPermissions; rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	return strings.Join(parts, "+")
}

func (p Permission) name() string {
	switch p {
	case Permit:
		return "permit"
	case Authorize:
		return "authorize"
	case Revoke:
		return "revoke"
	case Undo:
		return "undo"
	}
	return fmt.Sprintf("0x%02x", uint8(p))
}

// Kind is the kind of a permission message.
type Kind uint8

const (
	// KindAuthorize is dispersy-authorize: it grants its Grants.
	KindAuthorize Kind = iota + 1
	// KindRevoke is dispersy-revoke: it revokes its Grants.
	KindRevoke
	// KindDynamicSettings is dispersy-dynamic-settings: it switches the
	// DynamicResolution policy of the types in its Settings.
	KindDynamicSettings
)

// Valid reports whether k is one of the three defined kinds.
func (k Kind) Valid() bool { return k >= KindAuthorize && k <= KindDynamicSettings }

// String returns "authorize", "revoke" or "dynamic-settings".
func (k Kind) String() string {
	switch k {
	case KindAuthorize:
		return "authorize"
	case KindRevoke:
		return "revoke"
	case KindDynamicSettings:
		return "dynamic-settings"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Ref names a permission message: its author and global time. Dispersy
// stores at most one message per (member, global time) in a community, so a
// Ref is unique within a community.
type Ref struct {
	Author     keys.MemberID
	GlobalTime uint64
}

// String returns "<author hex>@<global time>".
func (r Ref) String() string { return fmt.Sprintf("%v@%d", r.Author, r.GlobalTime) }

// Grant is one (member, message type, permissions) triplet of an authorize
// or revoke message. Permission may hold several bits, as on the wire.
type Grant struct {
	Member     keys.MemberID
	Type       uint8
	Permission Permission
}

// Setting is one record of a dynamic-settings message: from the next
// global time on, message type Type resolves with
// DynamicResolution.Policies[PolicyIndex].
type Setting struct {
	Type        uint8
	PolicyIndex uint8
}

// Message is one permission message as the timeline sees it. The engine
// builds it from a decoded, signature-checked authorize, revoke or
// dynamic-settings packet.
type Message struct {
	Kind Kind
	Ref  Ref
	// Tiebreak orders messages that share a global time; the engine passes
	// the message's packet, so every peer orders them alike. Messages are
	// replayed in (GlobalTime, Tiebreak, Author) order, bytes compared
	// lexicographically.
	Tiebreak []byte
	// Grants are the triplets of an authorize or revoke; ignored for
	// KindDynamicSettings.
	Grants []Grant
	// Settings are the records of a dynamic-settings; ignored for
	// KindAuthorize and KindRevoke.
	Settings []Setting
}

// Config describes the community the timeline serves.
type Config struct {
	// Master is the community's master member. It is always allowed
	// everything and needs no proof. Required (non-zero).
	Master keys.MemberID
	// SettingsType is the message type id of dispersy-dynamic-settings
	// (236 in Dispersy). A dynamic-settings message is valid only if its
	// author holds Permit on this type.
	SettingsType uint8
	// Resolutions maps a message type id to its resolution policy; a type
	// that is missing resolves as policy.PublicResolution. New copies the
	// map.
	Resolutions map[uint8]policy.Resolution
}

// Validate reports every problem with c, joined; nil if c is usable.
func (c Config) Validate() error {
	var errs []error
	if c.Master == (keys.MemberID{}) {
		errs = append(errs, errors.New("timeline: Config.Master is zero; set it to the community's master member id"))
	}
	// Sorted iteration keeps the error text deterministic.
	for typ := range 256 {
		r, ok := c.Resolutions[uint8(typ)]
		if !ok {
			continue
		}
		switch r := r.(type) {
		case policy.PublicResolution, policy.LinearResolution:
		case policy.DynamicResolution:
			if len(r.Policies) < 1 || len(r.Policies) > 254 {
				errs = append(errs, fmt.Errorf("timeline: type %d: DynamicResolution needs 1 to 254 policies, has %d", typ, len(r.Policies)))
			}
			for i, p := range r.Policies {
				switch p.(type) {
				case policy.PublicResolution, policy.LinearResolution:
				default:
					errs = append(errs, fmt.Errorf("timeline: type %d: DynamicResolution policy %d is %v; use PublicResolution or LinearResolution", typ, i, p))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("timeline: type %d: resolution is %v; use PublicResolution, LinearResolution or DynamicResolution", typ, r))
		}
	}
	return errors.Join(errs...)
}

// orderKey is a message's place in replay order.
type orderKey struct {
	gt       uint64
	tiebreak []byte
	author   keys.MemberID
}

// compareOrder orders by global time, then tiebreak bytes, then author.
// Refs are unique, so distinct messages never compare equal.
func compareOrder(a, b *orderKey) int {
	if c := cmp.Compare(a.gt, b.gt); c != 0 {
		return c
	}
	if c := bytes.Compare(a.tiebreak, b.tiebreak); c != 0 {
		return c
	}
	return bytes.Compare(a.author[:], b.author[:])
}
