package dispersy

import (
	"encoding"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// MessageSpec is the static description of a message type: its wire id, its
// name and its four policies.
type MessageSpec struct {
	// ID is the message id byte, 1..191 for applications. It is part of the
	// wire protocol: never renumber or reuse it.
	ID uint8
	// Name identifies the type in logs, statistics and tools; unique within
	// a community.
	Name           string
	Authentication policy.Authentication
	Resolution     policy.Resolution
	Distribution   policy.Distribution
	Destination    policy.Destination
	// BatchWindow is how long incoming messages of this type are collected
	// before they are processed together; 0 processes every arrival at
	// once (Dispersy's BatchConfiguration.max_window).
	BatchWindow time.Duration
}

// Policies returns the spec's four policies as a policy.Set.
func (s MessageSpec) Policies() policy.Set {
	return policy.Set{Authentication: s.Authentication, Resolution: s.Resolution, Distribution: s.Distribution, Destination: s.Destination}
}

func (s MessageSpec) validate(builtin bool) error {
	var errs []error
	if builtin {
		if s.ID < conversion.FirstBuiltinID || s.ID > conversion.LastBuiltinID {
			errs = append(errs, fmt.Errorf("built-in id %d outside %d..%d", s.ID, conversion.FirstBuiltinID, conversion.LastBuiltinID))
		}
	} else if !conversion.IsUserID(s.ID) {
		errs = append(errs, fmt.Errorf("id %d is reserved: applications use %d..%d (%d..%d are built-in messages)",
			s.ID, conversion.FirstUserID, conversion.LastUserID, conversion.FirstBuiltinID, conversion.LastBuiltinID))
	}
	if s.Name == "" {
		errs = append(errs, fmt.Errorf("message id %d has no Name", s.ID))
	}
	if s.BatchWindow < 0 {
		errs = append(errs, fmt.Errorf("BatchWindow %v is negative", s.BatchWindow))
	}
	if err := policy.Check(s.Policies()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return &SpecError{Name: s.Name, ID: s.ID, Errs: errs}
}

// SpecError reports why a message spec or a community definition is
// invalid. Errs names every broken rule.
type SpecError struct {
	Name string
	ID   uint8
	Errs []error
}

func (e *SpecError) Error() string {
	s := fmt.Sprintf("dispersy: message %q (id %d) is invalid:", e.Name, e.ID)
	for _, err := range e.Errs {
		s += " " + err.Error() + ";"
	}
	return s[:len(s)-1]
}

// Unwrap returns the individual errors.
func (e *SpecError) Unwrap() []error { return e.Errs }

// payloadCodec is a message type's payload encoder and decoder, with the
// payload type erased.
type payloadCodec interface {
	decodePayload(p []byte) (any, error)
	encodePayload(dst []byte, v any) ([]byte, error)
}

// AnyMessageType is the type-erased view of a *MessageType[T]: everything
// the engine needs without knowing T.
type AnyMessageType interface {
	// Spec returns the type's static description.
	Spec() MessageSpec
	payloadCodec
	format() *conversion.Format
}

// MessageType is a message type with payloads of type T. Define one per
// type as a package-level variable with DefineMessage. It is immutable and
// safe for concurrent use.
type MessageType[T any] struct {
	spec   MessageSpec
	fmt    *conversion.Format
	decode func([]byte) (T, error)
	encode func([]byte, T) ([]byte, error)
}

// Spec returns the type's static description.
func (t *MessageType[T]) Spec() MessageSpec { return t.spec }

// ID returns the message id byte.
func (t *MessageType[T]) ID() uint8 { return t.spec.ID }

// Name returns the message name.
func (t *MessageType[T]) Name() string { return t.spec.Name }

func (t *MessageType[T]) format() *conversion.Format { return t.fmt }

func (t *MessageType[T]) decodePayload(p []byte) (any, error) { return t.decode(p) }

func (t *MessageType[T]) encodePayload(dst []byte, v any) ([]byte, error) {
	pv, ok := v.(T)
	if !ok {
		return dst, fmt.Errorf("dispersy: message %q: payload is %T, want %T", t.spec.Name, v, pv)
	}
	return t.encode(dst, pv)
}

// EncodePayload returns the wire bytes of payload p.
func (t *MessageType[T]) EncodePayload(p T) ([]byte, error) { return t.encode(nil, p) }

// DecodePayload decodes wire bytes into a payload. It accepts only canonical
// encodings: bytes that the payload's encoder reproduces exactly.
func (t *MessageType[T]) DecodePayload(b []byte) (T, error) { return t.decode(b) }

// Payload is the constraint on payload types: a value type whose pointer
// implements encoding.BinaryUnmarshaler and whose value implements
// encoding.BinaryAppender. UnmarshalBinary must reject trailing bytes
// (conversion.Reader.Finish does).
type Payload[T any] interface {
	*T
	encoding.BinaryUnmarshaler
}

// NewMessageType returns the message type described by spec with payloads
// of type T, or an error naming every rule the spec breaks. Applications
// use ids 1..191.
func NewMessageType[T encoding.BinaryAppender, PT Payload[T]](spec MessageSpec) (*MessageType[T], error) {
	return newMessageType[T, PT](spec, false)
}

// DefineMessage is NewMessageType for package-level variables: it panics if
// spec is invalid, like regexp.MustCompile, so a bad definition fails the
// first test run.
func DefineMessage[T encoding.BinaryAppender, PT Payload[T]](spec MessageSpec) *MessageType[T] {
	t, err := NewMessageType[T, PT](spec)
	if err != nil {
		panic(err)
	}
	return t
}

func newMessageType[T encoding.BinaryAppender, PT Payload[T]](spec MessageSpec, builtin bool) (*MessageType[T], error) {
	return newTypeFunc(spec, builtin,
		func(dst []byte, v T) ([]byte, error) { return v.AppendBinary(dst) },
		func(b []byte) (T, error) {
			var v T
			err := PT(&v).UnmarshalBinary(b)
			return v, err
		})
}

// NewMessageTypeFunc is NewMessageType with the payload's wire form given
// by encode and decode instead of T's methods, for a Go type with more than
// one wire form (dispersytest's split-payload type carries its text without
// a length prefix). decode must reject trailing bytes; a decoded payload
// must still re-encode to the same bytes.
func NewMessageTypeFunc[T any](spec MessageSpec, encode func(dst []byte, v T) ([]byte, error), decode func(b []byte) (T, error)) (*MessageType[T], error) {
	if encode == nil || decode == nil {
		return nil, fmt.Errorf("dispersy: message %q: NewMessageTypeFunc needs both an encode and a decode function", spec.Name)
	}
	return newTypeFunc(spec, false, encode, decode)
}

func newTypeFunc[T any](spec MessageSpec, builtin bool, encode func([]byte, T) ([]byte, error), decode func([]byte) (T, error)) (*MessageType[T], error) {
	if err := spec.validate(builtin); err != nil {
		return nil, err
	}
	t := &MessageType[T]{
		spec:   spec,
		fmt:    &conversion.Format{ID: spec.ID, Name: spec.Name, Policies: spec.Policies()},
		encode: encode,
	}
	t.decode = func(b []byte) (T, error) {
		v, err := decode(b)
		if err != nil {
			var zero T
			return zero, err
		}
		// Canonical check: a payload that decodes must re-encode to the same
		// bytes, so one message has one encoding (and one signature).
		again, err := encode(nil, v)
		if err == nil {
			err = conversion.CheckCanonical("payload", b, again)
		}
		if err != nil {
			var zero T
			return zero, &conversion.DecodeError{Reason: conversion.NonCanonical, Field: "payload", Detail: err.Error()}
		}
		return v, nil
	}
	return t, nil
}

// Message is one message of type T: created here or received.
type Message[T any] struct {
	Type    *MessageType[T]
	Payload T
	// Community is the community the message belongs to.
	Community keys.CommunityID
	// Authors are the signing members' keys: none, one, or two for
	// double-signed messages (the creator first).
	Authors    []*keys.PublicKey
	GlobalTime uint64
	// Sequence is the sequence number; 0 unless the type has them.
	Sequence uint32
	// Packet is the whole signed packet. It must not be modified.
	Packet []byte
	// Source is the address the message came from; the zero value for a
	// message created on this node, and for one read back from the store
	// (for those Local reports true: compare Author with the community's
	// Me to tell who created it).
	Source netip.AddrPort
	// Undone is set on a message read back from the store ([Messages]) that
	// was undone.
	Undone bool
}

// Local reports whether the message was created on this node (handlers see
// a node's own messages too; a reply handler skips them).
func (m *Message[T]) Local() bool { return !m.Source.IsValid() }

// Author returns the creator's member id; the zero id for unsigned messages.
func (m *Message[T]) Author() keys.MemberID {
	if len(m.Authors) == 0 {
		return keys.MemberID{}
	}
	return m.Authors[0].ID()
}

// Key returns the message's (creator, global time) key.
func (m *Message[T]) Key() MessageKey {
	return MessageKey{Member: m.Author(), GlobalTime: m.GlobalTime}
}

// Empty is the payload of message types that carry none.
type Empty struct{}

// AppendBinary implements encoding.BinaryAppender.
func (Empty) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler; p must be empty.
func (*Empty) UnmarshalBinary(p []byte) error {
	if len(p) != 0 {
		return &conversion.DecodeError{Reason: conversion.Trailing, Detail: fmt.Sprintf("%d bytes in an empty payload", len(p))}
	}
	return nil
}
