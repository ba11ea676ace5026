// Package payload holds the payloads of Dispersy's built-in messages and
// their binary codecs: the walker's introduction request and response,
// puncture request and puncture (with the bloom-filter SyncRequest), the
// missing-identity, missing-sequence, missing-message and missing-proof
// requests, and the permission messages authorize, revoke, undo-own,
// undo-other, destroy-community and dynamic-settings.
//
// Every type implements encoding.BinaryAppender and
// encoding.BinaryUnmarshaler. The codecs are pure and strict: a decoder
// accepts only the canonical encoding (whatever UnmarshalBinary accepts,
// AppendBinary reproduces byte for byte) and rejects anything else with a
// *conversion.DecodeError; an encoder refuses (with an error) every value
// its decoder would refuse, so it never produces bytes every peer drops.
// The byte layouts are in docs/wire-format.md ("Built-in payloads").
//
// Package dispersy re-exports these types under the same names (type
// aliases) and binds them to the built-in message types and ids; this
// package knows nothing of the engine.
package payload
