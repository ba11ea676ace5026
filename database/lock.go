package database

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrInUse: another process (or another Open in this process) has the
// store file open. Open fails at once with it instead of letting two
// writers race on one member's sequence numbers.
var ErrInUse = errors.New("database: store is in use by another process (or another Open in this process): stop the other program or use another file")

// ErrPermissions: the store file (or its -wal or -shm file) can be read or
// written by other users. It holds the member's private key.
var ErrPermissions = errors.New("database: store file is accessible to other users and holds the member's private key")

// lockName returns the lock file of the store at path.
func lockName(path string) string { return path + ".lock" }

// storeFiles are the files SQLite keeps for the database at path.
func storeFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// createPrivate creates the database file at path with mode 0600 when it
// does not exist, so that SQLite (which gives -wal and -shm the database's
// mode) never creates a store others can read.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("database: create %s: %w", path, err)
	}
	return nil
}

// checkPrivate refuses a store whose files other users may read or write.
// Files that hold nothing secret (empty ones, a fresh store, the -shm
// index) are made private instead.
func checkPrivate(path string, fresh bool) error {
	if runtime.GOOS == "windows" { // no Unix mode bits: ACLs decide
		return nil
	}
	var open []string
	var modes []string
	for _, name := range storeFiles(path) {
		fi, err := os.Stat(name)
		if err != nil {
			continue // -wal and -shm exist only while the store is open
		}
		// -shm holds only the WAL index (no page content); the probe's
		// read-only connection may have just created it with the
		// database file's mode.
		private := fresh || fi.Size() == 0 || name == path+"-shm"
		if perm := fi.Mode().Perm(); perm&0o077 != 0 && private {
			if err := os.Chmod(name, 0o600); err != nil {
				return fmt.Errorf("database: make %s private: %w", name, err)
			}
		} else if perm&0o077 != 0 {
			open = append(open, name)
			modes = append(modes, fmt.Sprintf("%s %#o", filepath.Base(name), perm))
		}
	}
	if open == nil {
		return nil
	}
	return fmt.Errorf("%w (%s): run chmod 600 %s, and treat the key as exposed if others could read it",
		ErrPermissions, strings.Join(modes, ", "), strings.Join(open, " "))
}
