// Package database is the SQLite implementation of dispersy.Store, on
// modernc.org/sqlite (pure Go, embedded, no cgo and no server).
//
// # What it stores
//
// One file holds every synced message of every community this node joined
// (community, creator, global time, message type, sequence number, undone
// state and the undo message that undid it, packet hash and the packet),
// the member pairs of double-signed messages (so LastSync history is kept
// per unordered pair), the members whose keys we know (with our own
// private keys), the communities (master key, our member, auto-load,
// classification), their message types (priority, direction) and named
// options. Direct messages are never stored. The schema is in
// migrations/ (0001_initial.sql, then one file per version);
// docs/performance.md has the measured speed.
//
// The message table is clustered by (community, global time, creator): new
// messages append at its end, bloom ranges and sync answers read
// consecutive rows, and the key itself answers "do I have (member, global
// time)". One index is keyed by creator (sync_member_type, for sequence
// numbers and LastSync history), plus a partial one over the rows that
// have sequence numbers; each batch touches about one page of them per
// distinct creator, which bounds the write rate. Since schema version 2 the
// rows of types declared dispersy.TypeRecord.Unkeyed (the engine's
// full-sync types without sequence numbers: most messages) stay out of
// sync_member_type, and such batches store about twice as fast (four times
// with 1,000 creators per batch); History, Trim and LastSequence of those
// types scan the community instead.
//
// # Usage
//
//	s, err := database.Open(filepath.Join(dir, "dispersy.db"), database.Options{})
//	if err != nil {
//		return err // ErrForeign, *VersionError, ErrLocked, ErrCorrupt: see below
//	}
//	defer s.Close()
//	var b dispersy.Batch
//	b.PutCommunity(community)
//	b.Put(record)
//	if err := s.Apply(&b); err != nil { // one transaction: all or nothing
//		return err
//	}
//
// OpenMemory gives a private in-memory database with the same behaviour,
// for tests and simulations that want SQLite rather than
// dispersytest.MemStore.
//
// # Connections and concurrency
//
// Apply runs on a single writer connection, in one BEGIN IMMEDIATE
// transaction per batch (one writer, so no SQLITE_BUSY between our own
// goroutines and no lock upgrades). The read methods run on a bounded pool
// of query-only connections (Options.ReadConns, default 4) and are safe
// for concurrent use with each other and with Apply; in WAL mode a read
// never waits for a write and sees the state after the last committed
// batch. Hot statements are prepared once. Callbacks (Scan, Range, Replay,
// BySequence) run on the caller's goroutine while a connection is held and
// must not call the Store. OpenMemory has one connection for both.
//
// Every connection is configured in its DSN ("file:" URI, so SQLite sees
// the parameters), never by Exec on a pooled connection:
//
//	writer: _pragma=busy_timeout(5000)  _pragma=journal_mode(WAL)
//	        _pragma=synchronous(NORMAL) _pragma=foreign_keys(1)
//	        _pragma=cache_size(-8192)   [_pragma=max_page_count(N)]
//	        _pragma=wal_autocheckpoint(8192)
//	        _pragma=journal_size_limit(33554432)
//	        _txlock=immediate
//	reader: _pragma=busy_timeout(5000)  _pragma=cache_size(-8192)
//	        _pragma=query_only(1)
//
// WAL with synchronous=NORMAL never corrupts the file on a crash; an OS
// crash (not a process crash) can lose the last committed batches, which
// anti-entropy sync fetches again.
//
// # Schema versions and migrations
//
// PRAGMA application_id marks the file as ours ("DSPG") and PRAGMA
// user_version holds the schema version. Migrations are embedded SQL files
// migrations/NNNN_name.sql, append only, each applied in its own
// transaction together with the version bump. On Open the file is first
// inspected read-only: a file that is not SQLite, or SQLite with another
// application's schema, gives ErrForeign; a schema newer than this code, or
// too old to upgrade (a Python Dispersy database), gives a *VersionError
// wrapping ErrTooNew or ErrTooOld. In every such case the file is left
// untouched. testdata/ holds a database of every schema version, which the
// tests open.
//
// # Errors
//
// Open fails at once with ErrInUse when another process (or another Open
// in this process) holds the store: it takes an exclusive flock on
// PATH.lock, released by Close (lock_unix.go; no lock where flock does not
// exist). It creates the store 0600 and refuses with ErrPermissions a store
// other users may read: the member table holds private keys.
// Options.ReadOnly opens without the lock (tools/inspect).
//
// Store errors wrap ErrLocked (another process holds the database longer
// than Options.BusyTimeout), ErrFull (disk or Options.MaxPageCount full),
// ErrCorrupt, and the dispersy sentinels (ErrStoreClosed, and through
// *dispersy.OpError ErrExists, ErrNotFound, ErrNoCommunityRecord). A failed
// Apply has written nothing.
//
// # Invariants
//
//   - A batch is atomic: after a crash at any moment, every batch whose
//     Apply returned is present, no other batch is partly present, and
//     PRAGMA integrity_check is ok (tested by killing a writer process
//     with SIGKILL).
//   - Global times are stored as signed 64-bit integers; values above
//     2^63-1 are refused (Put) or match nothing (queries).
//   - The modernc.org/libc version in go.mod is exactly the one
//     modernc.org/sqlite's go.mod names (a test fails otherwise; a
//     mismatch crashes at run time).
//   - POSIX locks: closing any file descriptor of the database file in
//     this process drops SQLite's locks on it; do not open the file with os
//     while a Store has it open.
package database
