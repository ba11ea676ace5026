package keys_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
)

// mustHex decodes a hex constant of the test.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex constant %q: %v", s, err)
	}
	return b
}

func TestSchemeSizes(t *testing.T) {
	tests := []struct {
		s                   keys.Scheme
		name                string
		valid               bool
		pub, seed, sig, bin int
	}{
		{keys.Ed25519, "ed25519", true, 32, 32, 64, 33},
		{keys.Ed448, "ed448", true, 57, 57, 114, 58},
		{0, "scheme(0)", false, 0, 0, 0, 0},
		{3, "scheme(3)", false, 0, 0, 0, 0},
		{255, "scheme(255)", false, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Valid(); got != tc.valid {
				t.Errorf("Valid() = %v, want %v", got, tc.valid)
			}
			if got := tc.s.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
			if got := tc.s.PublicKeySize(); got != tc.pub {
				t.Errorf("PublicKeySize() = %d, want %d", got, tc.pub)
			}
			if got := tc.s.SeedSize(); got != tc.seed {
				t.Errorf("SeedSize() = %d, want %d", got, tc.seed)
			}
			if got := tc.s.SignatureSize(); got != tc.sig {
				t.Errorf("SignatureSize() = %d, want %d", got, tc.sig)
			}
			if got := tc.s.BinaryPublicKeySize(); got != tc.bin {
				t.Errorf("BinaryPublicKeySize() = %d, want %d", got, tc.bin)
			}
		})
	}
	if got, want := keys.Schemes(), []keys.Scheme{keys.Ed25519, keys.Ed448}; !slices.Equal(got, want) {
		t.Errorf("Schemes() = %v, want %v", got, want)
	}
	// The tag values are on the wire: pin them.
	if keys.Ed25519 != 1 || keys.Ed448 != 2 {
		t.Errorf("scheme tags changed: Ed25519=%d Ed448=%d, want 1 and 2", keys.Ed25519, keys.Ed448)
	}
}

func TestSchemeByName(t *testing.T) {
	tests := []struct {
		name string
		want keys.Scheme
	}{
		// Plain names.
		{"ed25519", keys.Ed25519},
		{"ed448", keys.Ed448},
		// Every Dispersy alias (dispersy.md §8.1).
		{"curve25519", keys.Ed25519},
		{"very-low", keys.Ed25519},
		{"low", keys.Ed25519},
		{"medium", keys.Ed25519},
		{"high", keys.Ed448},
		// Case and surrounding space do not matter.
		{"ED25519", keys.Ed25519},
		{" High ", keys.Ed448},
		{"Curve25519", keys.Ed25519},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.SchemeByName(tc.name)
			if err != nil {
				t.Fatalf("SchemeByName(%q): %v", tc.name, err)
			}
			if got != tc.want {
				t.Errorf("SchemeByName(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}

	for _, bad := range []string{"", "sect233k1", "NID_sect571r1", "ed2551", "rsa", "very low"} {
		t.Run("unknown/"+bad, func(t *testing.T) {
			s, err := keys.SchemeByName(bad)
			if !errors.Is(err, keys.ErrUnknownCurve) {
				t.Fatalf("SchemeByName(%q) = %v, %v; want ErrUnknownCurve", bad, s, err)
			}
			if s != 0 {
				t.Errorf("SchemeByName(%q) returned scheme %v with an error", bad, s)
			}
			// The error lists the valid names so a user can fix the input.
			for _, n := range keys.CurveNames() {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not list valid name %q", err, n)
				}
			}
		})
	}

	names := keys.CurveNames()
	want := []string{"curve25519", "ed25519", "ed448", "high", "low", "medium", "very-low"}
	if !slices.Equal(names, want) {
		t.Errorf("CurveNames() = %v, want %v", names, want)
	}
	for _, n := range names {
		if _, err := keys.SchemeByName(n); err != nil {
			t.Errorf("CurveNames lists %q but SchemeByName rejects it: %v", n, err)
		}
	}
}

// testKeys returns one deterministic key per scheme.
func testKeys() []*keys.PrivateKey {
	var out []*keys.PrivateKey
	for _, s := range keys.Schemes() {
		out = append(out, keys.DeriveKey(s, []byte("keys_test "+s.String())))
	}
	return out
}

func TestSignVerify(t *testing.T) {
	msg := []byte("dispersy-go sig!") // 16 bytes: 128 single-bit flips
	for _, k := range testKeys() {
		t.Run(k.Scheme().String(), func(t *testing.T) {
			pub := k.Public()
			sig := k.Sign(msg)
			if len(sig) != k.Scheme().SignatureSize() || len(sig) != pub.SignatureSize() {
				t.Fatalf("signature is %d bytes, want %d", len(sig), k.Scheme().SignatureSize())
			}
			if !pub.Verify(msg, sig) {
				t.Fatal("a fresh signature does not verify")
			}
			// EdDSA is deterministic: the same key and message give the same
			// signature, which the golden wire vectors rely on.
			if again := k.Sign(msg); !bytes.Equal(again, sig) {
				t.Errorf("signing twice gave different signatures")
			}
			// AppendSign appends and leaves the prefix alone.
			prefix := []byte{0xaa, 0xbb}
			app := k.AppendSign(slices.Clone(prefix), msg)
			if !bytes.Equal(app[:2], prefix) || !bytes.Equal(app[2:], sig) {
				t.Errorf("AppendSign = %x, want %x%x", app, prefix, sig)
			}

			// Every single-bit flip of the signature fails.
			for i := range len(sig) * 8 {
				bad := slices.Clone(sig)
				bad[i/8] ^= 1 << (i % 8)
				if pub.Verify(msg, bad) {
					t.Errorf("signature with bit %d flipped verifies", i)
				}
			}
			// Every single-bit flip of the message fails.
			for i := range len(msg) * 8 {
				bad := slices.Clone(msg)
				bad[i/8] ^= 1 << (i % 8)
				if pub.Verify(bad, sig) {
					t.Errorf("message with bit %d flipped verifies", i)
				}
			}
			// Wrong data, a prefix, an extension, no data.
			for _, other := range [][]byte{[]byte("other data"), msg[:len(msg)-1], append(slices.Clone(msg), 0), nil} {
				if pub.Verify(other, sig) {
					t.Errorf("signature verifies for wrong data %q", other)
				}
			}
			// Wrong-length signatures are simply invalid (no panic).
			for _, n := range []int{0, 1, len(sig) - 1, len(sig) + 1, 2 * len(sig)} {
				bad := make([]byte, n)
				copy(bad, sig)
				if pub.Verify(msg, bad) {
					t.Errorf("%d-byte signature verifies", n)
				}
			}
			if pub.Verify(msg, nil) {
				t.Error("nil signature verifies")
			}
			// Another key of the same scheme does not verify it.
			other := keys.DeriveKey(k.Scheme(), []byte("someone else")).Public()
			if other.Verify(msg, sig) {
				t.Error("signature verifies under another key")
			}
		})
	}

	// A signature of one scheme never verifies under the other (the lengths
	// differ, so this is the wrong-length path).
	ks := testKeys()
	if ks[1].Public().Verify(msg, ks[0].Sign(msg)) || ks[0].Public().Verify(msg, ks[1].Sign(msg)) {
		t.Error("a signature verified under a key of the other scheme")
	}

	// The zero and nil public keys verify nothing and do not panic.
	var zero keys.PublicKey
	var nilKey *keys.PublicKey
	for _, sig := range [][]byte{nil, {}, make([]byte, 64), make([]byte, 114)} {
		if zero.Verify(msg, sig) {
			t.Errorf("zero PublicKey verified a %d-byte signature", len(sig))
		}
		if nilKey.Verify(msg, sig) {
			t.Errorf("nil PublicKey verified a %d-byte signature", len(sig))
		}
	}
}

// TestVerifyBadKeyPoint checks keys that parse (right tag and length) but are
// not curve points: Verify returns false and does not panic.
func TestVerifyBadKeyPoint(t *testing.T) {
	for _, s := range keys.Schemes() {
		for _, fill := range []byte{0x00, 0xff, 0x01} {
			bin := bytes.Repeat([]byte{fill}, s.BinaryPublicKeySize())
			bin[0] = byte(s)
			k, err := keys.ParsePublicKey(bin)
			if err != nil {
				t.Fatalf("%v: ParsePublicKey(%x): %v", s, bin, err)
			}
			// A real signature by another key, and an all-zero one: both
			// must be rejected, or at least not panic.
			real := keys.DeriveKey(s, []byte("real")).Sign([]byte("x"))
			if k.Verify([]byte("x"), real) {
				t.Errorf("%v: key %x verified another key's signature", s, bin)
			}
			_ = k.Verify([]byte("x"), make([]byte, s.SignatureSize()))
		}
	}
}

func TestBinaryAndTextRoundTrip(t *testing.T) {
	msg := []byte("round trip")
	for _, k := range testKeys() {
		t.Run(k.Scheme().String(), func(t *testing.T) {
			pub := k.Public()
			if got, want := len(pub.Bytes()), k.Scheme().BinaryPublicKeySize(); got != want {
				t.Fatalf("public key is %d bytes, want %d", got, want)
			}
			if pub.Bytes()[0] != byte(k.Scheme()) || k.Bytes()[0] != byte(k.Scheme()) {
				t.Fatalf("binary forms do not start with the tag %d", k.Scheme())
			}
			if got, want := len(k.Bytes()), 1+k.Scheme().SeedSize(); got != want {
				t.Fatalf("private key is %d bytes, want %d", got, want)
			}
			if k.Scheme() != pub.Scheme() || k.ID() != pub.ID() {
				t.Fatalf("private and public disagree: %v/%v %v/%v", k.Scheme(), pub.Scheme(), k.ID(), pub.ID())
			}
			sig := k.Sign(msg)

			pubs := map[string]func() (*keys.PublicKey, error){
				"binary":    func() (*keys.PublicKey, error) { return keys.ParsePublicKey(pub.Bytes()) },
				"hex":       func() (*keys.PublicKey, error) { return keys.ParsePublicKeyHex(pub.String()) },
				"hex-space": func() (*keys.PublicKey, error) { return keys.ParsePublicKeyHex("  " + pub.String() + "\n") },
				"text-hex":  func() (*keys.PublicKey, error) { return keys.ParsePublicKeyText(pub.String()) },
				"text-pem":  func() (*keys.PublicKey, error) { return keys.ParsePublicKeyText(pub.PEM()) },
				"marshal": func() (*keys.PublicKey, error) {
					b, err := pub.MarshalText()
					if err != nil {
						return nil, err
					}
					return keys.ParsePublicKeyText(string(b))
				},
				"must": func() (*keys.PublicKey, error) { return keys.MustParsePublicKey("\n\t" + pub.PEM() + "\n"), nil },
			}
			for _, name := range sortedKeys(pubs) {
				got, err := pubs[name]()
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !got.Equal(pub) || got.ID() != pub.ID() || got.Scheme() != pub.Scheme() {
					t.Errorf("%s: got %v, want %v", name, got, pub)
				}
				if !got.Verify(msg, sig) {
					t.Errorf("%s: reloaded key does not verify", name)
				}
			}

			privs := map[string]func() (*keys.PrivateKey, error){
				"binary":   func() (*keys.PrivateKey, error) { return keys.ParsePrivateKey(k.Bytes()) },
				"hex":      func() (*keys.PrivateKey, error) { return keys.ParsePrivateKeyHex(hex.EncodeToString(k.Bytes())) },
				"text-hex": func() (*keys.PrivateKey, error) { return keys.ParsePrivateKeyText(hex.EncodeToString(k.Bytes())) },
				"text-pem": func() (*keys.PrivateKey, error) { return keys.ParsePrivateKeyText(k.PEM()) },
			}
			for _, name := range sortedKeys(privs) {
				got, err := privs[name]()
				if err != nil {
					t.Errorf("private %s: %v", name, err)
					continue
				}
				if !bytes.Equal(got.Bytes(), k.Bytes()) || !got.Public().Equal(pub) {
					t.Errorf("private %s: round trip changed the key", name)
				}
				if s := got.Sign(msg); !bytes.Equal(s, sig) || !pub.Verify(msg, s) {
					t.Errorf("private %s: reloaded key signs differently", name)
				}
			}

			if !strings.HasPrefix(pub.PEM(), "-----BEGIN "+keys.PublicPEMType+"-----\n") {
				t.Errorf("public PEM has the wrong header:\n%s", pub.PEM())
			}
			if !strings.HasPrefix(k.PEM(), "-----BEGIN "+keys.PrivatePEMType+"-----\n") {
				t.Errorf("private PEM has the wrong header:\n%s", k.PEM())
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestParsePublicKeyInputIsCopied checks that a parsed key does not alias the
// caller's buffer (packets are reused by the endpoint).
func TestParsePublicKeyInputIsCopied(t *testing.T) {
	k := testKeys()[0]
	buf := slices.Clone(k.Public().Bytes())
	pub, err := keys.ParsePublicKey(buf)
	if err != nil {
		t.Fatal(err)
	}
	buf[5] ^= 0xff
	if !pub.Equal(k.Public()) {
		t.Error("ParsePublicKey aliases its input")
	}
	pbuf := slices.Clone(k.Bytes())
	priv, err := keys.ParsePrivateKey(pbuf)
	if err != nil {
		t.Fatal(err)
	}
	pbuf[5] ^= 0xff
	if !bytes.Equal(priv.Bytes(), k.Bytes()) {
		t.Error("ParsePrivateKey aliases its input")
	}
}

func TestParseKeyErrors(t *testing.T) {
	ed := testKeys()[0]
	edPub := ed.Public().Bytes()
	long := append(slices.Clone(edPub), 0)
	tests := []struct {
		name  string
		parse func() error
		want  error
	}{
		{"public/empty", func() error { _, err := keys.ParsePublicKey(nil); return err }, keys.ErrBadKey},
		{"public/tag0", func() error { _, err := keys.ParsePublicKey(append([]byte{0}, edPub[1:]...)); return err }, keys.ErrBadScheme},
		{"public/tag3", func() error { _, err := keys.ParsePublicKey(append([]byte{3}, edPub[1:]...)); return err }, keys.ErrBadScheme},
		{"public/tag255", func() error { _, err := keys.ParsePublicKey([]byte{255}); return err }, keys.ErrBadScheme},
		{"public/tag-only", func() error { _, err := keys.ParsePublicKey([]byte{1}); return err }, keys.ErrBadKey},
		{"public/short", func() error { _, err := keys.ParsePublicKey(edPub[:32]); return err }, keys.ErrBadKey},
		{"public/long", func() error { _, err := keys.ParsePublicKey(long); return err }, keys.ErrBadKey},
		{"public/ed448-tag-ed25519-length", func() error {
			_, err := keys.ParsePublicKey(append([]byte{byte(keys.Ed448)}, edPub[1:]...))
			return err
		}, keys.ErrBadKey},
		{"public/ed25519-tag-ed448-length", func() error {
			b := make([]byte, 58)
			b[0] = byte(keys.Ed25519)
			_, err := keys.ParsePublicKey(b)
			return err
		}, keys.ErrBadKey},
		{"public-hex/odd", func() error { _, err := keys.ParsePublicKeyHex("012"); return err }, keys.ErrBadKey},
		{"public-hex/not-hex", func() error { _, err := keys.ParsePublicKeyHex("zz"); return err }, keys.ErrBadKey},
		{"public-hex/empty", func() error { _, err := keys.ParsePublicKeyHex(""); return err }, keys.ErrBadKey},
		{"public-text/no-block", func() error { _, err := keys.ParsePublicKeyText("-----BEGIN nothing"); return err }, keys.ErrBadKey},
		{"public-text/private-block", func() error { _, err := keys.ParsePublicKeyText(ed.PEM()); return err }, keys.ErrBadKey},
		{"public-text/trailing", func() error { _, err := keys.ParsePublicKeyText(ed.Public().PEM() + "junk"); return err }, keys.ErrBadKey},
		{"public-text/two-blocks", func() error {
			_, err := keys.ParsePublicKeyText(ed.Public().PEM() + ed.Public().PEM())
			return err
		}, keys.ErrBadKey},
		{"public-text/bad-body", func() error {
			_, err := keys.ParsePublicKeyText("-----BEGIN DISPERSY PUBLIC KEY-----\nAQID\n-----END DISPERSY PUBLIC KEY-----\n")
			return err
		}, keys.ErrBadKey},
		{"private/empty", func() error { _, err := keys.ParsePrivateKey(nil); return err }, keys.ErrBadKey},
		{"private/tag0", func() error { _, err := keys.ParsePrivateKey(append([]byte{0}, ed.Bytes()[1:]...)); return err }, keys.ErrBadScheme},
		{"private/short", func() error { _, err := keys.ParsePrivateKey(ed.Bytes()[:32]); return err }, keys.ErrBadKey},
		{"private/long", func() error { _, err := keys.ParsePrivateKey(append(slices.Clone(ed.Bytes()), 1)); return err }, keys.ErrBadKey},
		{"private-hex/bad", func() error { _, err := keys.ParsePrivateKeyHex("xyz"); return err }, keys.ErrBadKey},
		{"private-text/public-block", func() error { _, err := keys.ParsePrivateKeyText(ed.Public().PEM()); return err }, keys.ErrBadKey},
		{"private-text/no-block", func() error { _, err := keys.ParsePrivateKeyText("-----"); return err }, keys.ErrBadKey},
		{"private-text/trailing", func() error { _, err := keys.ParsePrivateKeyText(ed.PEM() + "x"); return err }, keys.ErrBadKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
		})
	}
}

func TestMustParsePublicKeyPanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, keys.ErrBadKey) {
			t.Errorf("MustParsePublicKey(bad) panicked with %v, want an ErrBadKey error", r)
		}
	}()
	keys.MustParsePublicKey("not a key")
	t.Error("MustParsePublicKey(bad) did not panic")
}

func TestDeriveKey(t *testing.T) {
	for _, s := range keys.Schemes() {
		a := keys.DeriveKey(s, []byte("seed"))
		b := keys.DeriveKey(s, []byte("seed"))
		c := keys.DeriveKey(s, []byte("seed2"))
		if !bytes.Equal(a.Bytes(), b.Bytes()) || !a.Public().Equal(b.Public()) {
			t.Errorf("%v: DeriveKey is not deterministic", s)
		}
		if a.Public().Equal(c.Public()) {
			t.Errorf("%v: different seeds gave the same key", s)
		}
		if a.Scheme() != s || a.Public().Scheme() != s {
			t.Errorf("%v: DeriveKey made a %v key", s, a.Scheme())
		}
		// The seed is SHA-512 of the input, cut to the scheme's seed size.
		sum := sha512.Sum512([]byte("seed"))
		want := append([]byte{byte(s)}, sum[:s.SeedSize()]...)
		if !bytes.Equal(a.Bytes(), want) {
			t.Errorf("%v: DeriveKey private form %x, want %x", s, a.Bytes(), want)
		}
	}
	if keys.DeriveKey(keys.Ed25519, nil).ID() == keys.DeriveKey(keys.Ed448, nil).ID() {
		t.Error("the two schemes derived the same id")
	}
	defer func() {
		if recover() == nil {
			t.Error("DeriveKey with an invalid scheme did not panic")
		}
	}()
	keys.DeriveKey(0, []byte("x"))
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestGenerate(t *testing.T) {
	boom := errors.New("no entropy")
	for _, s := range keys.Schemes() {
		if _, err := keys.Generate(s, failingReader{boom}); !errors.Is(err, boom) {
			t.Errorf("%v: Generate with a failing reader: %v, want it to wrap %v", s, err, boom)
		}
		if _, err := keys.Generate(s, bytes.NewReader(make([]byte, s.SeedSize()-1))); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%v: Generate with a short reader: %v, want io.ErrUnexpectedEOF", s, err)
		}
		// With a given seed, Generate equals parsing tag + seed.
		seed := bytes.Repeat([]byte{0x42}, s.SeedSize())
		k, err := keys.Generate(s, bytes.NewReader(seed))
		if err != nil {
			t.Fatalf("%v: Generate: %v", s, err)
		}
		p, err := keys.ParsePrivateKey(append([]byte{byte(s)}, seed...))
		if err != nil {
			t.Fatal(err)
		}
		if !k.Public().Equal(p.Public()) {
			t.Errorf("%v: Generate and ParsePrivateKey of the same seed differ", s)
		}
	}
	if _, err := keys.Generate(7, bytes.NewReader(make([]byte, 64))); !errors.Is(err, keys.ErrBadScheme) {
		t.Errorf("Generate(7): %v, want ErrBadScheme", err)
	}
}

func TestMemberID(t *testing.T) {
	for _, k := range testKeys() {
		bin := k.Public().Bytes()
		sum := sha256.Sum256(bin) // the independent computation
		var want keys.MemberID
		copy(want[:], sum[:20])
		if got := k.Public().ID(); got != want {
			t.Errorf("%v: ID() = %v, want %x", k.Scheme(), got, sum[:20])
		}
		if got := keys.IDOf(bin); got != want {
			t.Errorf("%v: IDOf = %v, want %v", k.Scheme(), got, want)
		}
		if got := k.Public().CommunityID(); got != keys.CommunityID(want) {
			t.Errorf("%v: CommunityID() = %v, want %v", k.Scheme(), got, want)
		}
		if got, wantS := k.ID().String(), hex.EncodeToString(sum[:20]); got != wantS {
			t.Errorf("MemberID.String() = %q, want %q", got, wantS)
		}
		if got, wantS := k.Public().CommunityID().String(), hex.EncodeToString(sum[:20]); got != wantS {
			t.Errorf("CommunityID.String() = %q, want %q", got, wantS)
		}
	}
	if keys.IDSize != 20 {
		t.Errorf("IDSize = %d, want 20", keys.IDSize)
	}
}

// TestKnownAnswer pins the key forms: the RFC 8032 test vectors go through
// our binary forms (so the plumbing to circl is right), and one DeriveKey
// seed per scheme pins the derivation, the tag and the id.
func TestKnownAnswer(t *testing.T) {
	rfc := []struct {
		s             keys.Scheme
		seed, pub, sg string
	}{
		{ // RFC 8032 §7.1 TEST 1 (empty message).
			keys.Ed25519,
			"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
		},
		{ // RFC 8032 §7.4 "Blank" (empty message, empty context).
			keys.Ed448,
			"6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
			"5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
			"533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600",
		},
	}
	for _, v := range rfc {
		k, err := keys.ParsePrivateKey(append([]byte{byte(v.s)}, mustHex(t, v.seed)...))
		if err != nil {
			t.Fatalf("%v: %v", v.s, err)
		}
		wantPub := append([]byte{byte(v.s)}, mustHex(t, v.pub)...)
		if !bytes.Equal(k.Public().Bytes(), wantPub) {
			t.Errorf("%v: RFC 8032 public key %x, want %x", v.s, k.Public().Bytes(), wantPub)
		}
		if sig := k.Sign(nil); !bytes.Equal(sig, mustHex(t, v.sg)) {
			t.Errorf("%v: RFC 8032 signature %x, want %s", v.s, sig, v.sg)
		}
		pub, err := keys.ParsePublicKey(wantPub)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Verify([]byte{}, mustHex(t, v.sg)) {
			t.Errorf("%v: RFC 8032 signature does not verify", v.s)
		}
	}

	pinned := []struct {
		s        keys.Scheme
		pub, mid string
	}{
		{keys.Ed25519,
			"01ed959f89d9a343c2504036cbf31ea54985290df3f0ea09692fe0196ebea05481",
			"244edeaae779425b1fb7d4d36dc1aaa130544c5c"},
		{keys.Ed448,
			"02378fb9da4423bf57da1a5be6e2dea2b998f960f27778cf1fb29dff0206cfc17a0e4a98f65c326b8686e30b66a9f357cfc0b875b2b32a8c0880",
			"3caac63038d73ef6d78a86a6d5164d31ebed36fb"},
	}
	for _, v := range pinned {
		k := keys.DeriveKey(v.s, []byte("dispersy-go known answer"))
		if got := k.Public().String(); got != v.pub {
			t.Errorf("%v: DeriveKey(\"dispersy-go known answer\") public %s, want %s", v.s, got, v.pub)
		}
		if got := k.ID().String(); got != v.mid {
			t.Errorf("%v: DeriveKey(\"dispersy-go known answer\") mid %s, want %s", v.s, got, v.mid)
		}
	}
}

func TestEqual(t *testing.T) {
	ks := testKeys()
	a, b := ks[0].Public(), ks[1].Public()
	again, _ := keys.ParsePublicKey(a.Bytes())
	var nilKey *keys.PublicKey
	tests := []struct {
		name string
		x, y *keys.PublicKey
		want bool
	}{
		{"same", a, a, true},
		{"reparsed", a, again, true},
		{"different", a, b, false},
		{"nil-left", nilKey, a, false},
		{"nil-right", a, nilKey, false},
		{"both-nil", nilKey, nilKey, false},
	}
	for _, tc := range tests {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzParsePublicKey checks that ParsePublicKey never panics, that accepted
// keys round-trip byte for byte and that Verify on them does not panic.
func FuzzParsePublicKey(f *testing.F) {
	for _, k := range testKeys() {
		f.Add(k.Public().Bytes())
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := keys.ParsePublicKey(b)
		if err != nil {
			if !errors.Is(err, keys.ErrBadKey) && !errors.Is(err, keys.ErrBadScheme) {
				t.Fatalf("error %v wraps neither ErrBadKey nor ErrBadScheme", err)
			}
			if k != nil {
				t.Fatal("a key returned with an error")
			}
			return
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatalf("accepted %x but Bytes() = %x", b, k.Bytes())
		}
		again, err := keys.ParsePublicKey(k.Bytes())
		if err != nil || !again.Equal(k) {
			t.Fatalf("re-parsing %x: %v", b, err)
		}
		if k.ID() != keys.IDOf(b) {
			t.Fatal("ID differs from IDOf of the input")
		}
		text, err := keys.ParsePublicKeyText(k.PEM())
		if err != nil || !text.Equal(k) {
			t.Fatalf("PEM round trip of %x: %v", b, err)
		}
		// Must not panic, whatever point (or non-point) the key holds.
		_ = k.Verify(b, make([]byte, k.SignatureSize()))
		_ = k.Verify(b, bytes.Repeat([]byte{0xff}, k.SignatureSize()))
	})
}
