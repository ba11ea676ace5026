package keyfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/keys/keyfile"
)

func TestCreateThenLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "member.pem")
	k1, created, err := keyfile.LoadOrCreate(path, keys.Ed25519)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("created with mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := keyfile.LoadOrCreate(path, keys.Ed25519)
	if err != nil || created {
		t.Fatalf("load: created=%v err=%v", created, err)
	}
	if k1.ID() != k2.ID() {
		t.Fatal("loaded a different key than the one created")
	}
	// The file is the PEM text tools/createkey prints.
	b, _ := os.ReadFile(path)
	if k3, err := keys.ParsePrivateKeyText(string(b)); err != nil || k3.ID() != k1.ID() {
		t.Fatalf("file is not the key's PEM: %v", err)
	}
	if _, _, err := keyfile.LoadOrCreate(path, keys.Ed448); !errors.Is(err, keyfile.ErrSchemeMismatch) {
		t.Fatalf("other scheme: %v, want ErrSchemeMismatch", err)
	}
}

func TestInsecureModeRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits on Windows")
	}
	path := filepath.Join(t.TempDir(), "member.pem")
	k := keys.DeriveKey(keys.Ed25519, []byte("x"))
	if err := os.WriteFile(path, []byte(k.PEM()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // umask-proof
		t.Fatal(err)
	}
	if _, _, err := keyfile.LoadOrCreate(path, keys.Ed25519); !errors.Is(err, keyfile.ErrInsecureMode) {
		t.Fatalf("mode 0644: %v, want ErrInsecureMode", err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != k.PEM() {
		t.Fatal("the refused file was modified")
	}
}

func TestCorruptFile(t *testing.T) {
	for name, body := range map[string]string{
		"empty":     "",
		"garbage":   "not a key\n",
		"public":    keys.DeriveKey(keys.Ed25519, []byte("y")).Public().PEM(),
		"truncated": "-----BEGIN DISPERSY PRIVATE KEY-----\nAQID\n-----END DISPERSY PRIVATE KEY-----\n",
	} {
		path := filepath.Join(t.TempDir(), name+".pem")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, created, err := keyfile.LoadOrCreate(path, keys.Ed25519)
		if err == nil || created {
			t.Errorf("%s: created=%v err=%v, want an error", name, created, err)
			continue
		}
		if !errors.Is(err, keys.ErrBadKey) && !errors.Is(err, keys.ErrBadScheme) {
			t.Errorf("%s: %v, want keys.ErrBadKey", name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != body {
			t.Errorf("%s: the corrupt file was overwritten", name)
		}
	}
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "k.pem")
	if _, _, err := keyfile.LoadOrCreate(path, keys.Ed25519); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}
