package database

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dispersy-go/dispersy/dispersy"
)

// Errors of this package. Store methods wrap them (and the driver's error)
// so that errors.Is works; the message says what to do.
var (
	// ErrLocked: another connection or process holds a lock on the
	// database for longer than Options.BusyTimeout.
	ErrLocked = errors.New("database: locked by another process or connection (busy timeout exceeded): stop the other program or use another file")
	// ErrFull: the disk, or the size cap Options.MaxPageCount, is full.
	// The failed batch was rolled back.
	ErrFull = errors.New("database: database or disk is full: free disk space or raise Options.MaxPageCount; the failed batch was rolled back")
	// ErrCorrupt: the file is damaged. Restore a backup, or move it away and
	// start empty (synced messages are fetched from peers again).
	ErrCorrupt = errors.New("database: file is corrupt: restore a backup, or move it away and start with an empty store (peers resend synced messages)")
	// ErrForeign: the file is not a dispersy-go database: not SQLite at all,
	// or SQLite with another application's schema. It was left untouched.
	ErrForeign = errors.New("database: file is not a dispersy-go store (left untouched): choose another path")
	// ErrTooOld: the file's schema is older than this code can upgrade
	// (a Python Dispersy database, for one). See VersionError.
	ErrTooOld = errors.New("database: schema too old to upgrade")
	// ErrTooNew: the file was written by a newer version of this package.
	// See VersionError.
	ErrTooNew = errors.New("database: schema newer than this code")
)

// VersionError reports a database whose schema version this code cannot
// open. It wraps ErrTooOld or ErrTooNew. The file was left untouched.
type VersionError struct {
	// Path is the database file.
	Path string
	// Found is the schema version in the file (PRAGMA user_version); for a
	// Python Dispersy database it is that database's own version number.
	Found int
	// Oldest and Latest are the versions this code opens: versions in
	// [Oldest, Latest) are upgraded to Latest on open.
	Oldest, Latest int
	// PythonDispersy is set when the file is a Python Dispersy database.
	PythonDispersy bool
	// Err is ErrTooOld or ErrTooNew.
	Err error
}

// Error implements error.
func (e *VersionError) Error() string {
	switch {
	case e.PythonDispersy:
		return fmt.Sprintf("database: %s is a Python Dispersy database (version %d); it cannot be upgraded (other keys, hashes and wire format): start with an empty file, peers resend synced messages", e.Path, e.Found)
	case errors.Is(e.Err, ErrTooNew):
		return fmt.Sprintf("database: %s has schema version %d, newer than this code's %d: upgrade this program (the file was left untouched)", e.Path, e.Found, e.Latest)
	default:
		return fmt.Sprintf("database: %s has schema version %d, older than the oldest this code upgrades (%d): open it with an older release first, or start empty", e.Path, e.Found, e.Oldest)
	}
}

// Unwrap returns ErrTooOld or ErrTooNew.
func (e *VersionError) Unwrap() error { return e.Err }

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// classify wraps a driver error with this package's sentinel for its kind,
// keeping the driver error in the chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", ErrLocked, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", ErrFull, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w", ErrForeign, err)
	}
	return err
}

// fail returns the error a read method reports: ErrStoreClosed after Close,
// else the classified driver error with context.
func (s *Store) fail(what string, err error) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	return fmt.Errorf("database: %s: %w", what, classify(err))
}
