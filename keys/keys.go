package keys

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/cloudflare/circl/sign/ed448"
)

// Scheme identifies a signature scheme. Its value is the tag byte that
// starts every binary key and every member reference on the wire.
//
// WARNING: append only; values are on the wire and in stored keys.
type Scheme uint8

const (
	// Ed25519 is the default scheme: 32-byte keys, 64-byte signatures.
	Ed25519 Scheme = 1
	// Ed448 is the "high" scheme: 57-byte keys, 114-byte signatures.
	Ed448 Scheme = 2
)

// Schemes lists every scheme this package implements, in tag order.
func Schemes() []Scheme { return []Scheme{Ed25519, Ed448} }

// Valid reports whether s is a scheme this package implements.
func (s Scheme) Valid() bool { return s == Ed25519 || s == Ed448 }

// String returns the scheme's lower-case name ("ed25519", "ed448").
func (s Scheme) String() string {
	switch s {
	case Ed25519:
		return "ed25519"
	case Ed448:
		return "ed448"
	}
	return fmt.Sprintf("scheme(%d)", uint8(s))
}

// PublicKeySize is the length of the raw public key, without the tag byte.
// It is 0 for an invalid scheme.
func (s Scheme) PublicKeySize() int {
	switch s {
	case Ed25519:
		return ed25519.PublicKeySize
	case Ed448:
		return ed448.PublicKeySize
	}
	return 0
}

// SeedSize is the length of the raw private seed, without the tag byte.
// It is 0 for an invalid scheme.
func (s Scheme) SeedSize() int {
	switch s {
	case Ed25519:
		return ed25519.SeedSize
	case Ed448:
		return ed448.SeedSize
	}
	return 0
}

// SignatureSize is the length of one signature. It is 0 for an invalid scheme.
func (s Scheme) SignatureSize() int {
	switch s {
	case Ed25519:
		return ed25519.SignatureSize
	case Ed448:
		return ed448.SignatureSize
	}
	return 0
}

// BinaryPublicKeySize is the length of the binary public key form: the tag
// byte plus the raw key. It is 0 for an invalid scheme.
func (s Scheme) BinaryPublicKeySize() int {
	if !s.Valid() {
		return 0
	}
	return 1 + s.PublicKeySize()
}

// curveNames maps every accepted curve name onto a scheme. Dispersy's
// M2Crypto curves are gone; their aliases map onto the nearest scheme.
var curveNames = map[string]Scheme{
	"ed25519":    Ed25519,
	"curve25519": Ed25519, // Dispersy's libnacl curve signed with Ed25519
	"very-low":   Ed25519, // Dispersy: sect163k1
	"low":        Ed25519, // Dispersy: sect233k1
	"medium":     Ed25519, // Dispersy: sect409k1
	"high":       Ed448,   // Dispersy: sect571r1, used for master keys
	"ed448":      Ed448,
}

// CurveNames lists every name [SchemeByName] accepts, sorted.
func CurveNames() []string {
	names := make([]string, 0, len(curveNames))
	for n := range curveNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ErrUnknownCurve is returned by [SchemeByName] for a name it does not know.
var ErrUnknownCurve = errors.New("keys: unknown curve")

// SchemeByName maps a curve name (case-insensitive) onto a scheme: the plain
// names "ed25519" and "ed448", and Dispersy's names "curve25519", "very-low",
// "low", "medium" (all Ed25519) and "high" (Ed448).
func SchemeByName(name string) (Scheme, error) {
	if s, ok := curveNames[strings.ToLower(strings.TrimSpace(name))]; ok {
		return s, nil
	}
	return 0, fmt.Errorf("%w %q: valid names are %s", ErrUnknownCurve, name, strings.Join(CurveNames(), ", "))
}

// IDSize is the length of a member or community id.
const IDSize = 20

// MemberID identifies a member: the first 20 bytes of the SHA-256 of its
// binary public key (tag byte included).
type MemberID [IDSize]byte

// CommunityID identifies a community: the member id of its master key.
type CommunityID [IDSize]byte

// String returns the id in lower-case hex.
func (id MemberID) String() string { return hex.EncodeToString(id[:]) }

// String returns the id in lower-case hex.
func (id CommunityID) String() string { return hex.EncodeToString(id[:]) }

// IDOf returns the member id of a binary public key. It does not check that
// bin is a valid key.
func IDOf(bin []byte) MemberID {
	sum := sha256.Sum256(bin)
	var id MemberID
	copy(id[:], sum[:IDSize])
	return id
}

// Errors returned when parsing keys. Each wraps the reason in its message.
var (
	ErrBadKey    = errors.New("keys: malformed key")
	ErrBadScheme = errors.New("keys: unknown scheme tag")
)

// PublicKey is a member's public key. It is immutable and safe for
// concurrent use. The zero value is not a valid key; use [ParsePublicKey] or
// [PrivateKey.Public].
type PublicKey struct {
	scheme Scheme
	bin    []byte // tag byte + raw key; raw is bin[1:]
	id     MemberID
}

// ParsePublicKey parses the binary form: a scheme tag byte followed by the
// raw key of exactly that scheme's length. The input is copied.
func ParsePublicKey(bin []byte) (*PublicKey, error) {
	if len(bin) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	s := Scheme(bin[0])
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrBadScheme, bin[0])
	}
	if len(bin) != s.BinaryPublicKeySize() {
		return nil, fmt.Errorf("%w: %s public key is %d bytes, got %d", ErrBadKey, s, s.BinaryPublicKeySize(), len(bin))
	}
	b := slices.Clone(bin)
	return &PublicKey{scheme: s, bin: b, id: IDOf(b)}, nil
}

// ParsePublicKeyHex parses the hex of the binary form, as createkey prints it.
func ParsePublicKeyHex(s string) (*PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return ParsePublicKey(b)
}

// Scheme returns the key's signature scheme.
func (k *PublicKey) Scheme() Scheme { return k.scheme }

// Bytes returns the binary form (tag byte + raw key). The caller must not
// modify the returned slice.
func (k *PublicKey) Bytes() []byte { return k.bin }

// ID returns the member id of the key.
func (k *PublicKey) ID() MemberID { return k.id }

// CommunityID returns the id of the community whose master key this is.
func (k *PublicKey) CommunityID() CommunityID { return CommunityID(k.id) }

// SignatureSize returns the length of a signature made with the matching
// private key.
func (k *PublicKey) SignatureSize() int { return k.scheme.SignatureSize() }

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return k != nil && o != nil && string(k.bin) == string(o.bin)
}

// Verify reports whether sig is a valid signature of msg by k. It never
// panics: a signature of the wrong length, or a key that does not decode to
// a curve point, is simply invalid.
func (k *PublicKey) Verify(msg, sig []byte) bool {
	// NB: the zero PublicKey has scheme 0 and no bytes; checking the scheme
	// and the key length first keeps k.bin[1:] in range.
	if k == nil || !k.scheme.Valid() || len(k.bin) != k.scheme.BinaryPublicKeySize() || len(sig) != k.scheme.SignatureSize() {
		return false
	}
	raw := k.bin[1:]
	switch k.scheme {
	case Ed25519:
		return ed25519.Verify(ed25519.PublicKey(raw), msg, sig)
	case Ed448:
		return ed448.Verify(ed448.PublicKey(raw), msg, sig, "")
	}
	return false
}

// String returns the hex of the binary form.
func (k *PublicKey) String() string { return hex.EncodeToString(k.bin) }

// PrivateKey is a member's signing key. It is immutable and safe for
// concurrent use.
type PrivateKey struct {
	pub  *PublicKey
	bin  []byte // tag byte + seed
	ed   ed25519.PrivateKey
	ed4  ed448.PrivateKey
	seed []byte
}

// Generate returns a new private key of scheme s, reading randomness from r.
func Generate(s Scheme, r io.Reader) (*PrivateKey, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrBadScheme, uint8(s))
	}
	seed := make([]byte, s.SeedSize())
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("keys: reading randomness: %w", err)
	}
	return newFromSeed(s, seed), nil
}

// DeriveKey returns the key of scheme s derived deterministically from an
// arbitrary seed (hashed with SHA-512 to the scheme's seed size). It is meant
// for tests and simulations: the same seed always gives the same key. It
// panics if s is not a valid scheme (a programming error).
func DeriveKey(s Scheme, seed []byte) *PrivateKey {
	if !s.Valid() {
		panic(fmt.Sprintf("keys: DeriveKey with invalid scheme %d", uint8(s)))
	}
	sum := sha512.Sum512(seed)
	return newFromSeed(s, sum[:s.SeedSize()])
}

// ParsePrivateKey parses the binary form: a scheme tag byte followed by the
// scheme's seed. The input is copied.
func ParsePrivateKey(bin []byte) (*PrivateKey, error) {
	if len(bin) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	s := Scheme(bin[0])
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrBadScheme, bin[0])
	}
	if len(bin) != 1+s.SeedSize() {
		return nil, fmt.Errorf("%w: %s private key is %d bytes, got %d", ErrBadKey, s, 1+s.SeedSize(), len(bin))
	}
	return newFromSeed(s, slices.Clone(bin[1:])), nil
}

// ParsePrivateKeyHex parses the hex of the binary form.
func ParsePrivateKeyHex(s string) (*PrivateKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return ParsePrivateKey(b)
}

func newFromSeed(s Scheme, seed []byte) *PrivateKey {
	k := &PrivateKey{seed: seed, bin: append([]byte{byte(s)}, seed...)}
	var raw []byte
	switch s {
	case Ed25519:
		k.ed = ed25519.NewKeyFromSeed(seed)
		raw = k.ed.Public().(ed25519.PublicKey)
	case Ed448:
		k.ed4 = ed448.NewKeyFromSeed(seed)
		raw = k.ed4.Public().(ed448.PublicKey)
	}
	pb := append([]byte{byte(s)}, raw...)
	k.pub = &PublicKey{scheme: s, bin: pb, id: IDOf(pb)}
	return k
}

// Public returns the matching public key.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Scheme returns the key's signature scheme.
func (k *PrivateKey) Scheme() Scheme { return k.pub.scheme }

// ID returns the member id of the key.
func (k *PrivateKey) ID() MemberID { return k.pub.id }

// Bytes returns the binary form (tag byte + seed). The caller must not
// modify the returned slice. It is secret.
func (k *PrivateKey) Bytes() []byte { return k.bin }

// Sign returns the signature of msg.
func (k *PrivateKey) Sign(msg []byte) []byte { return k.AppendSign(nil, msg) }

// AppendSign appends the signature of msg to dst and returns the result.
// msg and dst must not overlap beyond len(dst).
func (k *PrivateKey) AppendSign(dst, msg []byte) []byte {
	switch k.pub.scheme {
	case Ed25519:
		return append(dst, ed25519.Sign(k.ed, msg)...)
	case Ed448:
		return append(dst, ed448.Sign(k.ed4, msg, "")...)
	}
	panic("keys: private key with invalid scheme")
}
