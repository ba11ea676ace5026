package database

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
)

// Issue #12: a store another process holds is refused at once, with an
// error that says so, instead of two writers failing later with "message
// already stored".
func TestOpenHeldByAnotherProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no process lock on this platform (docs/usage.md)")
	}
	path := filepath.Join(t.TempDir(), "db")
	release := startLockChild(t, "store", path)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a store another process holds succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another process") || !strings.Contains(err.Error(), "held by process ") {
		t.Fatalf("Open = %v, want ErrInUse naming the other process", err)
	}
	release()
	released = true
	// The lock dies with its holder.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the other process stopped: %v", err)
	}
	s.Close()
}

// The lock is per Open: a second Open in the same process is refused too,
// Close releases it, and a read-only Open (tools/inspect) takes no lock.
func TestOpenTwiceInOneProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no process lock on this platform (docs/usage.md)")
	}
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	setupOne(t, s)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if b, err := os.ReadFile(lockName(path)); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q (%v), want our pid", b, err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a held store: %v", err)
	}
	if ok, err := ro.Has(testCID, dispersy.MessageKey{Member: testMember, GlobalTime: 1}); err != nil || !ok {
		t.Errorf("read-only Has = %v, %v; want true", ok, err)
	}
	var b dispersy.Batch
	b.SetOption("x", []byte("y"))
	if err := ro.Apply(&b); err == nil {
		t.Error("Apply on a read-only store succeeded")
	}
	ro.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); err == nil {
		t.Error("read-only Open of a missing file succeeded")
	}
}

// Issue #14: the store holds the member's private key, so its files are
// created 0600 (whatever the umask allows beyond that), and a store others
// can read is refused.
func TestStoreFilesPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	setupOne(t, s) // a write: the -wal and -shm files exist now
	for _, name := range append(storeFiles(path), lockName(path)) {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(name), perm)
		}
	}
	s.Close()

	// A -wal left by a crash of an older version (not a valid log here:
	// SQLite ignores it once it may open the store).
	if err := os.WriteFile(path+"-wal", []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		if err := os.Chmod(name, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err = Open(path, Options{})
		if err == nil {
			s.Close()
			t.Fatalf("Open with %s readable by others succeeded", filepath.Base(name))
		}
		if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "chmod 600 "+name) {
			t.Fatalf("Open = %v, want ErrPermissions telling to chmod %s", err, name)
		}
		if err := os.Chmod(name, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after chmod 600: %v", err)
	}
	s.Close()

	// Empty files hold no secret yet: they are made private and used.
	empty := filepath.Join(t.TempDir(), "empty.db")
	for _, name := range []string{empty, empty + "-wal"} {
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if s, err = Open(empty, Options{}); err != nil {
		t.Fatalf("Open of an empty 0644 file: %v", err)
	}
	setupOne(t, s)
	for _, name := range storeFiles(empty) {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s after Open of an empty 0644 file: %v; want mode 0600", filepath.Base(name), err)
		}
	}
	s.Close()
}
