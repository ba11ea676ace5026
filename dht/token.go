package dht

import (
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"net/netip"
	"time"
)

// TokenSize is the length of a store token.
const TokenSize = 16

// Token is a store token: proof that the storer received an answer at the
// address it stores from, so a Store with a spoofed source address is
// refused.
type Token [TokenSize]byte

// DefaultTokenRotation is how often [Tokens] changes its secret (IPv8: 300 s;
// a token stays valid for one to two rotations).
const DefaultTokenRotation = 5 * time.Minute

// secretSize is the length of a token secret.
const secretSize = 32

// Tokens issues and checks store tokens, IPv8's rotating scheme: a token is
// the HMAC-SHA-256 (truncated to 16 bytes) of the requester's node id and
// address under a secret that rotates every interval; the current and the
// previous secret are accepted. It does no I/O and reads no clock: time is
// an argument and fresh secrets are read from the random source it was given.
// A Tokens belongs to one goroutine.
type Tokens struct {
	rand      io.Reader
	interval  time.Duration
	cur, prev [secretSize]byte
	hasPrev   bool
	rotated   time.Time
}

// NewTokens returns a token issuer whose first secret starts at now.
// interval <= 0 means DefaultTokenRotation. It fails only when rand does.
func NewTokens(rand io.Reader, interval time.Duration, now time.Time) (*Tokens, error) {
	if interval <= 0 {
		interval = DefaultTokenRotation
	}
	t := &Tokens{rand: rand, interval: interval, rotated: now}
	if _, err := io.ReadFull(rand, t.cur[:]); err != nil {
		return nil, err
	}
	return t, nil
}

// Rotate replaces the secret if interval has passed since the last rotation
// at now; the old secret becomes the previous one. After two intervals
// without a call, both secrets are replaced. It fails only when the random
// source does; the secrets are then unchanged.
func (t *Tokens) Rotate(now time.Time) error {
	since := now.Sub(t.rotated)
	if since < t.interval {
		return nil
	}
	var next [secretSize]byte
	if _, err := io.ReadFull(t.rand, next[:]); err != nil {
		return err
	}
	if since >= 2*t.interval {
		// The current secret has been in use for two intervals: every token
		// of it is too old. Drop both.
		t.hasPrev = false
	} else {
		t.prev, t.hasPrev = t.cur, true
	}
	t.cur, t.rotated = next, now
	return nil
}

func mac(secret *[secretSize]byte, id ID, addr netip.AddrPort) Token {
	h := hmac.New(sha256.New, secret[:])
	h.Write(id[:])
	a := addr.Addr().Unmap().As16()
	h.Write(a[:])
	h.Write([]byte{byte(addr.Port() >> 8), byte(addr.Port())})
	var tok Token
	copy(tok[:], h.Sum(nil))
	return tok
}

// Issue returns the token for the node id at addr under the current secret
// (call Rotate first).
func (t *Tokens) Issue(id ID, addr netip.AddrPort) Token { return mac(&t.cur, id, addr) }

// Check reports whether tok is a token for id at addr under the current or
// the previous secret, in constant time per secret.
func (t *Tokens) Check(id ID, addr netip.AddrPort, tok Token) bool {
	c := mac(&t.cur, id, addr)
	ok := hmac.Equal(c[:], tok[:])
	if t.hasPrev {
		p := mac(&t.prev, id, addr)
		ok = hmac.Equal(p[:], tok[:]) || ok
	}
	return ok
}
