// Package keys holds the signature schemes of dispersy-go, the binary and text
// forms of their keys, and member and community ids.
//
// Two schemes exist, both from github.com/cloudflare/circl: [Ed25519], the
// default (33-byte binary public key, 64-byte signature), and [Ed448], the
// "high" scheme for community master keys (58-byte binary public key,
// 114-byte signature). Python Dispersy's curve names map onto them through
// [SchemeByName]: "curve25519", "very-low", "low" and "medium" are Ed25519,
// "high" is Ed448; the plain names "ed25519" and "ed448" work too.
//
// Binary forms start with the scheme's tag byte ([Scheme] is that byte), so a
// new scheme can be added without a wire break:
//
//	public key:  tag (1 byte) | raw public key (Scheme.PublicKeySize bytes)
//	private key: tag (1 byte) | seed (Scheme.SeedSize bytes)
//
// A member id ([MemberID], "mid") is the first 20 bytes of the SHA-256 of the
// binary public key, tag byte included; a community id ([CommunityID], "cid")
// is the member id of the community's master key. Text forms are PEM blocks
// of type [PublicPEMType] and [PrivatePEMType] whose body is the binary form,
// or the lower-case hex of the binary form; tools/createkey prints both.
//
// # Usage
//
// Generate a key with [Generate] and crypto/rand, or derive a deterministic
// one for tests with [DeriveKey]; sign with [PrivateKey.Sign] and check with
// [PublicKey.Verify]:
//
//	k, err := keys.Generate(keys.Ed25519, rand.Reader)
//	sig := k.Sign(msg)
//	ok := k.Public().Verify(msg, sig)
//
// Parse keys that arrive from the network with [ParsePublicKey], and keys
// from configuration with [ParsePublicKeyText] or [MustParsePublicKey] (for
// a package-level community definition).
//
// # Invariants
//
//   - Parsing and verifying never panic, whatever the input: a key of the
//     wrong length or with an unknown tag is an error wrapping [ErrBadKey] or
//     [ErrBadScheme], and a signature of the wrong length, or one made by
//     another key or over other bytes, makes Verify return false.
//   - Every key value is immutable and safe for concurrent use. Slices
//     returned by Bytes must not be modified.
//   - Scheme tags and the id definition are on the wire and in stored keys:
//     they are append-only and never change.
package keys
