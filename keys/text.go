package keys

import (
	"encoding/pem"
	"fmt"
	"strings"
)

// PEM block types of the text forms. The block body is the binary form.
const (
	PublicPEMType  = "DISPERSY PUBLIC KEY"
	PrivatePEMType = "DISPERSY PRIVATE KEY"
)

// MarshalText returns the PEM text of the public key, the form a user pastes
// into a community definition.
func (k *PublicKey) MarshalText() ([]byte, error) {
	return pem.EncodeToMemory(&pem.Block{Type: PublicPEMType, Bytes: k.bin}), nil
}

// PEM returns the PEM text of the public key as a string.
func (k *PublicKey) PEM() string {
	b, _ := k.MarshalText()
	return string(b)
}

// PEM returns the PEM text of the private key. It is secret.
func (k *PrivateKey) PEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: PrivatePEMType, Bytes: k.bin}))
}

// ParsePublicKeyText parses a public key in PEM text or in hex of the binary
// form, whichever s holds. Surrounding white space is ignored.
func ParsePublicKeyText(s string) (*PublicKey, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "-----") {
		return ParsePublicKeyHex(s)
	}
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	if b.Type != PublicPEMType {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrBadKey, b.Type, PublicPEMType)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: text after the PEM block", ErrBadKey)
	}
	return ParsePublicKey(b.Bytes)
}

// ParsePrivateKeyText parses a private key in PEM text or in hex of the
// binary form, whichever s holds.
func ParsePrivateKeyText(s string) (*PrivateKey, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "-----") {
		return ParsePrivateKeyHex(s)
	}
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	if b.Type != PrivatePEMType {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrBadKey, b.Type, PrivatePEMType)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: text after the PEM block", ErrBadKey)
	}
	return ParsePrivateKey(b.Bytes)
}

// MustParsePublicKey is [ParsePublicKeyText] for package-level community
// definitions: it panics if s is not a valid key.
func MustParsePublicKey(s string) *PublicKey {
	k, err := ParsePublicKeyText(s)
	if err != nil {
		panic(err)
	}
	return k
}
