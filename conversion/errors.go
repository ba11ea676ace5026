package conversion

import (
	"errors"
	"fmt"
)

// Reason is why a packet or payload was rejected. The set is closed so that
// statistics stay low-cardinality; a free-text detail may ride along in
// [DecodeError.Detail] for logs.
//
// WARNING: append only; the values appear in statistics and docs.
type Reason uint8

const (
	// ReasonNone is the zero value; no decode error carries it.
	ReasonNone Reason = iota
	// TooShort: the data ends before a field it must hold.
	TooShort
	// Trailing: bytes remain after the last field.
	Trailing
	// BadVersion: the first byte is not a wire version this code speaks
	// (Python Dispersy's 0x00 lands here).
	BadVersion
	// UnknownCommunity: no community with this id is loaded or known.
	UnknownCommunity
	// UnknownConversion: the community-version byte matches no conversion.
	UnknownConversion
	// UnknownMessage: the message id is not defined in the conversion.
	UnknownMessage
	// BadKey: a member reference or key does not parse.
	BadKey
	// BadSignature: a signature does not verify.
	BadSignature
	// BadField: a field holds a value the format forbids (a zero global
	// time, a sequence number of 0, a policy index out of range, invalid
	// UTF-8, a boolean other than 0 or 1, a count larger than the data).
	BadField
	// BadPayload: the payload decoder rejected the payload.
	BadPayload
	// NonCanonical: the packet decodes, but re-encoding it gives other
	// bytes, so two encodings would exist for one message.
	NonCanonical
)

var reasonNames = [...]string{
	ReasonNone:        "none",
	TooShort:          "too-short",
	Trailing:          "trailing-bytes",
	BadVersion:        "bad-version",
	UnknownCommunity:  "unknown-community",
	UnknownConversion: "unknown-conversion",
	UnknownMessage:    "unknown-message",
	BadKey:            "bad-key",
	BadSignature:      "bad-signature",
	BadField:          "bad-field",
	BadPayload:        "bad-payload",
	NonCanonical:      "non-canonical",
}

// Reasons lists every reason except ReasonNone, in value order.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonNames)-1)
	for r := TooShort; int(r) < len(reasonNames); r++ {
		out = append(out, r)
	}
	return out
}

// String returns the reason's stable short name ("too-short"...), as used
// in statistics.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// DecodeError reports why data was rejected and where.
type DecodeError struct {
	Reason Reason
	// Offset is the byte offset at which decoding failed.
	Offset int
	// Field names the field being decoded ("global time", "payload"...).
	Field string
	// Detail is free text for logs; it is not part of the closed set.
	Detail string
}

// Error returns the reason, the offset, the field and the detail.
func (e *DecodeError) Error() string {
	s := fmt.Sprintf("conversion: %s at offset %d", e.Reason, e.Offset)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes errors.Is(err, ErrX) match on the reason.
func (e *DecodeError) Is(target error) bool {
	t, ok := target.(*DecodeError)
	return ok && t.Offset == -1 && t.Reason == e.Reason
}

func sentinel(r Reason) *DecodeError { return &DecodeError{Reason: r, Offset: -1} }

// Sentinels for errors.Is: errors.Is(err, conversion.ErrTooShort) holds for
// any *DecodeError with that reason.
var (
	ErrTooShort          error = sentinel(TooShort)
	ErrTrailing          error = sentinel(Trailing)
	ErrBadVersion        error = sentinel(BadVersion)
	ErrUnknownCommunity  error = sentinel(UnknownCommunity)
	ErrUnknownConversion error = sentinel(UnknownConversion)
	ErrUnknownMessage    error = sentinel(UnknownMessage)
	ErrBadKey            error = sentinel(BadKey)
	ErrBadSignature      error = sentinel(BadSignature)
	ErrBadField          error = sentinel(BadField)
	ErrBadPayload        error = sentinel(BadPayload)
	ErrNonCanonical      error = sentinel(NonCanonical)
)

// ReasonOf returns the reason of err if it is (or wraps) a *DecodeError,
// and BadPayload for any other non-nil error (a payload decoder that
// returned its own error). It returns ReasonNone for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return BadPayload
}
