// Package keyfile keeps a member's private key in a PEM file: load it, or
// create it (mode 0600) when it is missing, in one call — IPv8's
// ConfigBuilder.add_key(alias, curve, file). It is a package of its own
// because package keys, part of the sans-I/O core, imports no os.
//
// The file holds one "DISPERSY PRIVATE KEY" PEM block (keys.PrivateKey.PEM),
// the same text tools/createkey prints. On Unix a key file that group or
// others may read or write is refused (like ssh does): the key is the
// member's identity.
package keyfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/dispersy-go/dispersy/keys"
)

// Errors. Each is wrapped with the path; test with errors.Is.
var (
	// ErrInsecureMode: group or others have access to the key file. Fix it
	// with chmod 600.
	ErrInsecureMode = errors.New("keyfile: key file is accessible to group or others (chmod 600 it)")
	// ErrSchemeMismatch: the file holds a key of another scheme than asked.
	ErrSchemeMismatch = errors.New("keyfile: key file holds a key of another scheme")
)

// Mode is the permission a created key file gets.
const Mode fs.FileMode = 0o600

// LoadOrCreate returns the private key stored in the PEM file at path. If
// the file does not exist it generates a key of scheme s, writes it there
// with mode 0600 (never replacing a file created meanwhile) and returns it
// with created true. A file that exists but is corrupt, of another scheme,
// or (on Unix) readable by group or others is an error; it is never
// overwritten. The directory must exist.
func LoadOrCreate(path string, s keys.Scheme) (k *keys.PrivateKey, created bool, err error) {
	k, err = Load(path)
	if err == nil {
		if k.Scheme() != s {
			return nil, false, fmt.Errorf("%w: %s holds %s, want %s", ErrSchemeMismatch, path, k.Scheme(), s)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k, err = keys.Generate(s, rand.Reader)
	if err != nil {
		return nil, false, err
	}
	if err := write(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use its key.
			return LoadOrCreate(path, s)
		}
		return nil, false, err
	}
	return k, true, nil
}

// Load reads the private key from the PEM (or hex) file at path, refusing a
// file that group or others may access (on Unix).
func Load(path string) (*keys.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureMode, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	k, err := keys.ParsePrivateKeyText(string(b))
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	return k, nil
}

// write creates path exclusively with mode 0600 and the key's PEM text.
func write(path string, k *keys.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Mode)
	if err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	if _, err := f.WriteString(k.PEM()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyfile: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyfile: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("keyfile: writing %s: %w", path, err)
	}
	return nil
}
