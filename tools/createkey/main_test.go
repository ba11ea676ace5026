package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
)

// block is one parsed key block of createkey's output.
type block struct {
	fields map[string]string // "name: value" lines
	pem    string            // the public-pem block
}

// parseOutput splits the output into blocks and parses each one. It fails
// the test on any line it does not understand.
func parseOutput(t *testing.T, out string) []block {
	t.Helper()
	var blocks []block
	for _, text := range strings.Split(strings.TrimSuffix(out, "\n"), "\n\n") {
		b := block{fields: map[string]string{}}
		lines := strings.Split(text, "\n")
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			if line == "public-pem:" {
				var pem strings.Builder
				for i++; i < len(lines); i++ {
					pem.WriteString(lines[i] + "\n")
					if strings.HasPrefix(lines[i], "-----END ") {
						break
					}
				}
				b.pem = pem.String()
				continue
			}
			name, value, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("line %q is not a \"name: value\" line", line)
			}
			if _, dup := b.fields[name]; dup {
				t.Fatalf("field %q appears twice in a block", name)
			}
			b.fields[name] = value
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// checkBlock checks one block against the curve it was asked for. It
// returns the public key. withPrivate says whether the block must carry the
// private key.
func checkBlock(t *testing.T, b block, curve string, withPrivate bool) *keys.PublicKey {
	t.Helper()
	required := []string{"curve", "scheme", "public", "mid", "signature", "go"}
	if withPrivate {
		required = append(required, "private")
	} else if _, ok := b.fields["private"]; ok {
		t.Error("the block shows the private key")
	}
	for _, f := range required {
		if _, ok := b.fields[f]; !ok {
			t.Fatalf("block lacks %q: %v", f, b.fields)
		}
	}
	scheme, err := keys.SchemeByName(curve)
	if err != nil {
		t.Fatal(err)
	}
	if b.fields["curve"] != curve {
		t.Errorf("curve: %q, want %q", b.fields["curve"], curve)
	}
	if want := scheme.String() + " (tag " + strconv.Itoa(int(scheme)) + ")"; b.fields["scheme"] != want {
		t.Errorf("scheme: %q, want %q", b.fields["scheme"], want)
	}
	pub, err := keys.ParsePublicKeyHex(b.fields["public"])
	if err != nil {
		t.Fatalf("public: %v", err)
	}
	if pub.Scheme() != scheme {
		t.Errorf("public key is %v, want %v", pub.Scheme(), scheme)
	}
	if pub.ID().String() != b.fields["mid"] {
		t.Errorf("mid %s, but the public key's id is %s", b.fields["mid"], pub.ID())
	}
	if want := strconv.Itoa(scheme.SignatureSize()) + " bytes"; b.fields["signature"] != want {
		t.Errorf("signature: %q, want %q", b.fields["signature"], want)
	}
	pemKey, err := keys.ParsePublicKeyText(b.pem)
	if err != nil {
		t.Fatalf("public-pem %q: %v", b.pem, err)
	}
	if !pemKey.Equal(pub) {
		t.Error("public-pem is another key than public")
	}
	// The go line is valid Go whose string holds the same key.
	goLine := b.fields["go"]
	lit, ok := strings.CutPrefix(goLine, "var Master = keys.MustParsePublicKey(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if !ok || !ok2 {
		t.Fatalf("go line %q is not a MustParsePublicKey declaration", goLine)
	}
	text, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("go line string %s: %v", lit, err)
	}
	if !keys.MustParsePublicKey(text).Equal(pub) {
		t.Error("the go line holds another key")
	}
	if withPrivate {
		priv, err := keys.ParsePrivateKeyHex(b.fields["private"])
		if err != nil {
			t.Fatalf("private: %v", err)
		}
		if !priv.Public().Equal(pub) {
			t.Error("private does not match public")
		}
		msg := []byte("createkey test")
		sig := priv.Sign(msg)
		if len(sig) != scheme.SignatureSize() || !pub.Verify(msg, sig) {
			t.Error("the printed keys do not sign and verify")
		}
	}
	return pub
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDefaultCurve(t *testing.T) {
	code, out, errOut := runCmd(t)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	blocks := parseOutput(t, out)
	if len(blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(blocks))
	}
	checkBlock(t, blocks[0], "ed25519", true)

	// crypto/rand: a second run gives another key.
	_, out2, _ := runCmd(t)
	if out == out2 {
		t.Error("two runs printed the same key")
	}
}

func TestEveryCurve(t *testing.T) {
	curves := keys.CurveNames()
	code, out, errOut := runCmd(t, curves...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	blocks := parseOutput(t, out)
	if len(blocks) != len(curves) {
		t.Fatalf("%d blocks for %d curves", len(blocks), len(curves))
	}
	seen := map[string]bool{}
	for i, c := range curves {
		pub := checkBlock(t, blocks[i], c, true)
		if seen[pub.String()] {
			t.Errorf("curve %s repeats a key", c)
		}
		seen[pub.String()] = true
	}
	// Names are case-insensitive and printed in lower case.
	code, out, _ = runCmd(t, "-seed", "x", "HIGH")
	if code != 0 {
		t.Fatalf("HIGH: exit %d", code)
	}
	checkBlock(t, parseOutput(t, out)[0], "high", true)
}

func TestSeedIsDeterministic(t *testing.T) {
	_, a, _ := runCmd(t, "-seed", "s", "ed25519", "high")
	_, b, _ := runCmd(t, "-seed", "s", "ed25519", "high")
	_, c, _ := runCmd(t, "-seed", "other", "ed25519", "high")
	if a != b {
		t.Error("-seed output differs between runs")
	}
	if a == c {
		t.Error("different seeds gave the same keys")
	}
	// The key of block i is DeriveKey(scheme, "<seed>/<i>").
	blocks := parseOutput(t, a)
	want := keys.DeriveKey(keys.Ed448, []byte("s/1")).Public()
	if blocks[1].fields["public"] != want.String() {
		t.Errorf("second key %s, want %s", blocks[1].fields["public"], want)
	}
}

func TestOutAndRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	code, out, errOut := runCmd(t, "-out", dir, "-seed", "file", "high", "ed25519")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	blocks := parseOutput(t, out)
	if len(blocks) != 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	for i, curve := range []string{"high", "ed25519"} {
		// With -out the private key is in the file only, never on stdout.
		pub := checkBlock(t, blocks[i], curve, false)
		file := filepath.Join(dir, pub.ID().String()+".key")
		if blocks[i].fields["file"] != file {
			t.Errorf("file: %q, want %q", blocks[i].fields["file"], file)
		}
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", file, st.Mode().Perm())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := keys.ParsePrivateKeyText(string(data))
		if err != nil {
			t.Fatalf("key file: %v", err)
		}
		if !priv.Public().Equal(pub) {
			t.Error("the key file holds another key than the one printed")
		}
		if strings.Contains(out, hex.EncodeToString(priv.Bytes())) || strings.Contains(out, strings.TrimSpace(priv.PEM())) {
			t.Error("-out printed the private key on stdout")
		}

		// -read prints the same public information, without the private key.
		code, rout, rerr := runCmd(t, "-read", file)
		if code != 0 || rerr != "" {
			t.Fatalf("-read: exit %d, stderr %q", code, rerr)
		}
		rb := parseOutput(t, rout)
		if len(rb) != 1 {
			t.Fatalf("-read printed %d blocks", len(rb))
		}
		got := checkBlock(t, rb[0], priv.Scheme().String(), false)
		if !got.Equal(pub) || rb[0].fields["file"] != file {
			t.Errorf("-read shows key %s from %q, want %s", got, rb[0].fields["file"], pub)
		}
	}

	// The same keys again: the first file exists, so nothing is overwritten.
	file := filepath.Join(dir, parseOutput(t, out)[0].fields["mid"]+".key")
	before, _ := os.ReadFile(file)
	if err := os.WriteFile(file, append(before, '\n'), 0o600); err != nil { // mark it
		t.Fatal(err)
	}
	code, out2, errOut := runCmd(t, "-out", dir, "-seed", "file", "high")
	if code != 1 {
		t.Errorf("second -out: exit %d, want 1", code)
	}
	if !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, file) {
		t.Errorf("second -out: stderr %q does not say that %s exists", errOut, file)
	}
	if out2 != "" {
		t.Errorf("second -out printed a key: %q", out2)
	}
	after, _ := os.ReadFile(file)
	if !bytes.Equal(after, append(before, '\n')) {
		t.Error("the existing key file was changed")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.key")
	if err := os.WriteFile(large, bytes.Repeat([]byte("A"), maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing", []string{"-read", filepath.Join(dir, "nope.key")}, 1, "no such file"},
		{"garbage", []string{"-read", bad}, 1, "malformed key"},
		{"too-large", []string{"-read", large}, 1, "not a key file"},
		{"pem-without-out", []string{"-pem", "high"}, 2, "-pem needs -out DIR"},
		{"with-curve", []string{"-read", bad, "high"}, 2, "-read takes no curve names"},
		{"with-out", []string{"-read", bad, "-out", dir}, 2, "-read takes no curve names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}

// TestReadPublicKeyFile: -read accepts a public key file (PEM), as a
// script that received a community's public key would hold it, and prints
// the same public information as for the private key file.
func TestReadPublicKeyFile(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []keys.Scheme{keys.Ed25519, keys.Ed448} {
		k := keys.DeriveKey(s, []byte("public file"))
		file := filepath.Join(dir, s.String()+".pub")
		if err := os.WriteFile(file, []byte(k.Public().PEM()), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, "-read", file)
		if code != 0 || errOut != "" {
			t.Fatalf("%s: exit %d, stderr %q", s, code, errOut)
		}
		blocks := parseOutput(t, out)
		if len(blocks) != 1 {
			t.Fatalf("%s: %d blocks", s, len(blocks))
		}
		if got := checkBlock(t, blocks[0], s.String(), false); !got.Equal(k.Public()) || blocks[0].fields["file"] != file {
			t.Errorf("%s: -read shows key %s from %q, want %s from %s", s, got, blocks[0].fields["file"], k.Public(), file)
		}
	}
}

// TestPEMFlag: -pem prints the public PEM alone, one block per key, so a
// script can redirect it into a file without editing the output; the
// private key goes to -out only.
func TestPEMFlag(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "-out", dir, "-pem", "-seed", "pem", "high", "ed25519")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var want strings.Builder
	for i, s := range []keys.Scheme{keys.Ed448, keys.Ed25519} {
		k := keys.DeriveKey(s, fmt.Appendf(nil, "pem/%d", i))
		want.WriteString(k.Public().PEM())
		data, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if priv, err := keys.ParsePrivateKeyText(string(data)); err != nil || !priv.Public().Equal(k.Public()) {
			t.Errorf("%s: the key file does not hold the printed key (%v)", s, err)
		}
	}
	if out != want.String() {
		t.Fatalf("-pem printed\n%s\nwant exactly the public PEMs\n%s", out, want.String())
	}
	// Each block parses on its own: the output of one key is a public key file.
	first, _, _ := strings.Cut(out, "-----END DISPERSY PUBLIC KEY-----\n")
	first += "-----END DISPERSY PUBLIC KEY-----\n"
	if _, err := keys.ParsePublicKeyText(first); err != nil {
		t.Errorf("the first block does not parse: %v", err)
	}

	// -read with -pem: the public PEM of a private or a public key file.
	k := keys.DeriveKey(keys.Ed448, []byte("pem/0"))
	privFile := filepath.Join(dir, k.ID().String()+".key")
	pubFile := filepath.Join(dir, "master.pub")
	if err := os.WriteFile(pubFile, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{privFile, pubFile} {
		code, got, errOut := runCmd(t, "-read", file, "-pem")
		if code != 0 || errOut != "" || got != k.Public().PEM() {
			t.Errorf("-read %s -pem: exit %d, stderr %q, stdout %q; want %q", file, code, errOut, got, k.Public().PEM())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Run("unknown-curve", func(t *testing.T) {
		code, out, errOut := runCmd(t, "ed25519", "sect571r1")
		if code != 2 || out != "" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		if !strings.Contains(errOut, `unknown curve "sect571r1"`) {
			t.Errorf("stderr %q does not name the curve", errOut)
		}
		for _, n := range keys.CurveNames() {
			if !strings.Contains(errOut, n) {
				t.Errorf("stderr %q does not list %q", errOut, n)
			}
		}
	})
	t.Run("unknown-flag", func(t *testing.T) {
		code, out, errOut := runCmd(t, "-bogus")
		if code != 2 || out != "" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		if !strings.Contains(errOut, "-bogus") || !strings.Contains(errOut, "usage: createkey") {
			t.Errorf("stderr %q lacks the error or the usage", errOut)
		}
	})
	t.Run("help", func(t *testing.T) {
		for _, h := range []string{"-h", "-help", "--help"} {
			code, out, errOut := runCmd(t, h)
			if code != 0 || errOut != "" {
				t.Fatalf("%s: exit %d, stderr %q", h, code, errOut)
			}
			for _, want := range []string{"usage: createkey", "-out DIR", "-read FILE", "-pem", strings.Join(keys.CurveNames(), ", ")} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: usage lacks %q", h, want)
				}
			}
			if strings.Contains(out, "-seed") {
				t.Errorf("%s: usage shows the hidden -seed flag", h)
			}
		}
	})
}

// The output format, with a fixed seed (real keys come from crypto/rand).
func Example() {
	run([]string{"-seed", "example", "curve25519"}, os.Stdout, os.Stdout)
	// Output:
	// curve: curve25519
	// scheme: ed25519 (tag 1)
	// public: 016dda5dd016a82bb851c15dba96268ea45488c5f01d1f868fead47475b07c7594
	// private: 015a9a6fc597492e3e2034bd52b999f337e161f79322352a7b0f6867d22f9b7354
	// mid: 1622c40d2c0b2debfa83208dc7720ad6997bee85
	// signature: 64 bytes
	// public-pem:
	// -----BEGIN DISPERSY PUBLIC KEY-----
	// AW3aXdAWqCu4UcFdupYmjqRUiMXwHR+Gj+rUdHWwfHWU
	// -----END DISPERSY PUBLIC KEY-----
	// go: var Master = keys.MustParsePublicKey("-----BEGIN DISPERSY PUBLIC KEY-----\nAW3aXdAWqCu4UcFdupYmjqRUiMXwHR+Gj+rUdHWwfHWU\n-----END DISPERSY PUBLIC KEY-----\n")
}
