package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// Options tunes Open. The zero value selects every default.
type Options struct {
	// BusyTimeout is how long an operation waits for a lock held by another
	// process (or connection) before it fails with ErrLocked. Default 5 s
	// (the busy_timeout recommended in docs/performance.md).
	BusyTimeout time.Duration
	// ReadConns is the size of the pool of read-only connections that serve
	// the read methods, so reads run while a batch is being written (WAL).
	// Default 4; -1 serves reads from the single writer connection.
	ReadConns int
	// CacheKiB is the page cache of each connection in KiB (PRAGMA
	// cache_size). Default 8,192 (8 MiB); SQLite's own default is 2 MiB.
	CacheKiB int
	// MaxPageCount caps the database size in pages (PRAGMA max_page_count,
	// 4 KiB pages); writes beyond it fail with ErrFull. Default 0: no cap
	// beyond SQLite's own.
	MaxPageCount int
	// CheckpointPages is the WAL size in 4 KiB pages at which a commit
	// copies the WAL back into the database (PRAGMA wal_autocheckpoint;
	// the WAL file is truncated back to this size afterwards). Index pages
	// that several batches change are copied once per checkpoint, so a
	// larger value speeds up writing, at the cost of a bigger -wal file and
	// a longer commit every CheckpointPages pages. Default 8,192 (32 MiB);
	// SQLite's own default is 1,000.
	CheckpointPages int
	// ReadOnly opens the store for reading only, for tools that look at
	// the store of a running node: Open takes no process lock (see
	// ErrInUse), never creates or upgrades the file, and Apply fails.
	ReadOnly bool
}

const (
	defaultBusyTimeout = 5 * time.Second
	defaultReadConns   = 4
	defaultCacheKiB    = 8 << 10
	defaultCheckpoint  = 8192
)

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("database: Options.BusyTimeout is %v: must be >= 0 (0 selects %v)", o.BusyTimeout, defaultBusyTimeout))
	}
	if o.ReadConns < -1 {
		errs = append(errs, fmt.Errorf("database: Options.ReadConns is %d: must be >= -1 (0 selects %d, -1 reads on the writer)", o.ReadConns, defaultReadConns))
	}
	if o.CacheKiB < 0 {
		errs = append(errs, fmt.Errorf("database: Options.CacheKiB is %d: must be >= 0 (0 selects %d)", o.CacheKiB, defaultCacheKiB))
	}
	if o.CheckpointPages < 0 {
		errs = append(errs, fmt.Errorf("database: Options.CheckpointPages is %d: must be >= 0 (0 selects %d)", o.CheckpointPages, defaultCheckpoint))
	}
	if o.MaxPageCount < 0 {
		errs = append(errs, fmt.Errorf("database: Options.MaxPageCount is %d: must be >= 0 (0: no cap)", o.MaxPageCount))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = defaultBusyTimeout
	}
	if o.ReadConns == 0 {
		o.ReadConns = defaultReadConns
	}
	if o.CacheKiB == 0 {
		o.CacheKiB = defaultCacheKiB
	}
	if o.CheckpointPages == 0 {
		o.CheckpointPages = defaultCheckpoint
	}
	return o, nil
}

// Store is the SQLite implementation of dispersy.Store.
//
// Apply runs on one writer connection, in one BEGIN IMMEDIATE transaction
// per batch. The read methods run on a bounded pool of read-only
// connections (Options.ReadConns) and are safe for concurrent use with each
// other and with Apply; Apply itself must be called from one goroutine at a
// time (it is serialised anyway). A read sees the state after the last
// committed batch. Callbacks run on the caller's goroutine while the read
// holds a connection; they must not call the Store.
type Store struct {
	path   string
	opts   Options
	writer *sql.DB
	reader *sql.DB // == writer when there is no read pool

	wprep  [nWrite]*sql.Stmt // prepared write statements
	rstmts stmtCache         // prepared read statements

	closed atomic.Bool
	lock   *os.File // the held lock file (lock_unix.go); nil when ReadOnly

	// cids caches community row ids by cid. Rows are never deleted and an
	// upsert keeps the id, so an entry never goes stale; entries are added
	// only for committed rows.
	cidMu sync.Mutex
	cids  map[keys.CommunityID]int64

	// unkeyedTypes caches each community's types declared unkeyed (see
	// keyed.go).
	unkeyedTypes unkeyedCache

	// scans caches the live keys Scan reads (scancache.go).
	scans scanCache

	// counts caches Count's answers at the scans generation they were
	// read at: a status page or metrics scrape that asks every second
	// costs nothing while nothing is written (a count is a scan of the
	// community's rows, milliseconds at 100,000 messages).
	countMu  sync.Mutex
	counts   map[string]countEntry
	countSQL atomic.Uint64 // counts read through SQL (tests)
}

// countEntry is one cached Count.
type countEntry struct {
	gen uint64
	n   int
}

var _ dispersy.Store = (*Store)(nil)

// Path returns the file the store was opened on ("" for OpenMemory).
func (s *Store) Path() string { return s.path }

// dsn builds a modernc.org/sqlite DSN for path with the given query
// parameters (a "file:" URI, so that SQLite sees them).
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	return u.String()
}

// writerDSN returns the writer connection's DSN: WAL, synchronous=NORMAL,
// foreign keys, the busy timeout and BEGIN IMMEDIATE, all in the DSN so
// every connection the pool opens gets them.
func (o Options) writerDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(o.CacheKiB)+")")
	if o.MaxPageCount > 0 {
		q.Add("_pragma", "max_page_count("+strconv.Itoa(o.MaxPageCount)+")")
	}
	q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(o.CheckpointPages)+")")
	q.Add("_pragma", "journal_size_limit("+strconv.Itoa(o.CheckpointPages*4096)+")")
	q.Set("_txlock", "immediate")
	return dsn(path, q)
}

// readerDSN returns the read pool's DSN: query_only, the busy timeout.
func (o Options) readerDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(o.CacheKiB)+")")
	q.Add("_pragma", "query_only(1)")
	return dsn(path, q)
}

// Open opens the store in file path, creating it (mode 0600, and
// upgrading an older schema) as needed. A file that is not a dispersy-go
// store, or whose schema is too old or too new, is left untouched and
// reported with ErrForeign or a *VersionError. A store another process (or
// another Open in this process) holds fails at once with ErrInUse; a file
// other users may read fails with ErrPermissions; a file locked by a
// non-dispersy SQLite client gives ErrLocked after Options.BusyTimeout.
func Open(path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("database: Open needs a file path (use OpenMemory for a private in-memory store)")
	}
	// Probe before taking the lock, so that a wrong path (a directory, a
	// foreign file) gets no lock file next to it.
	st, err := probe(path, opts)
	if err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := checkPrivate(path, st.fresh); err != nil {
			return nil, err
		}
	}
	if opts.ReadOnly {
		if st.fresh || st.version != latestVersion {
			return nil, fmt.Errorf("database: open %s read-only: it is empty or needs a schema upgrade (version %d, want %d)", path, st.version, latestVersion)
		}
		return open(path, opts, st, nil)
	}
	lock, err := lockStore(path)
	if err != nil {
		return nil, err
	}
	// Probe again under the lock: the other process may have changed it.
	if st, err = probe(path, opts); err == nil && st.fresh {
		err = createPrivate(path)
	}
	var s *Store
	if err == nil {
		s, err = open(path, opts, st, lock)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	return s, nil
}

// open opens the probed file at path; the caller holds its lock.
func open(path string, opts Options, st fileState, lock *os.File) (*Store, error) {
	w, err := sql.Open("sqlite", opts.writerDSN(path))
	if err != nil {
		return nil, fmt.Errorf("database: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: path, opts: opts, writer: w, reader: w, lock: lock, cids: make(map[keys.CommunityID]int64)}
	if err := s.init(path, st); err != nil {
		w.Close()
		return nil, err
	}
	if opts.ReadConns > 0 {
		r, err := sql.Open("sqlite", opts.readerDSN(path))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("database: open %s for reading: %w", path, err)
		}
		r.SetMaxOpenConns(opts.ReadConns)
		r.SetMaxIdleConns(opts.ReadConns)
		if err := r.Ping(); err != nil {
			r.Close()
			w.Close()
			return nil, fmt.Errorf("database: open %s for reading: %w", path, classify(err))
		}
		s.reader = r
	}
	s.rstmts.db = s.reader
	if err := s.prepareWrites(); err != nil {
		s.lock = nil // the caller releases it
		s.Close()
		return nil, err
	}
	return s, nil
}

var memSeq atomic.Uint64

// OpenMemory returns a store in a private in-memory database, for tests and
// simulations that want SQLite's exact behaviour without a file. It has a
// single connection (reads are served by it too) and is gone after Close.
func OpenMemory() (*Store, error) {
	opts, _ := Options{ReadConns: -1}.withDefaults()
	q := url.Values{}
	q.Set("mode", "memory")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(opts.CacheKiB)+")")
	q.Set("_txlock", "immediate")
	name := "dispersy-memory-" + strconv.FormatUint(memSeq.Add(1), 10)
	w, err := sql.Open("sqlite", dsn(name, q))
	if err != nil {
		return nil, fmt.Errorf("database: open memory store: %w", err)
	}
	// One connection that is never recycled: a second connection would see
	// a different, empty database.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{opts: opts, writer: w, reader: w, cids: make(map[keys.CommunityID]int64)}
	if err := s.init("memory", fileState{fresh: true}); err != nil {
		w.Close()
		return nil, err
	}
	s.rstmts.db = w
	if err := s.prepareWrites(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init connects the writer and brings the schema to the latest version.
func (s *Store) init(name string, st fileState) error {
	ctx := context.Background()
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("database: open %s: %w", name, classify(err))
	}
	if st.version == latestVersion {
		return nil
	}
	return migrate(ctx, s.writer, name, migrations, st.version)
}

// IntegrityCheck runs SQLite's integrity and foreign-key checks on the
// store and returns nil when both find nothing wrong, or an error naming the
// first problem (wrapping ErrCorrupt when SQLite reports corruption). It
// reads the whole file: a maintenance call, not one for the hot path.
func (s *Store) IntegrityCheck() error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	var res string
	if err := s.writer.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("database: integrity_check: %w", classify(err))
	}
	if res != "ok" {
		return fmt.Errorf("database: integrity_check: %s: %w", res, ErrCorrupt)
	}
	rows, err := s.writer.Query("PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("database: foreign_key_check: %w", classify(err))
	}
	defer rows.Close()
	if rows.Next() {
		return fmt.Errorf("database: foreign_key_check found a dangling reference: %w", ErrCorrupt)
	}
	return classify(rows.Err())
}

// Close releases the store. Methods called after Close, Close included,
// return dispersy.ErrStoreClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return dispersy.ErrStoreClosed
	}
	for _, st := range s.wprep {
		if st != nil {
			st.Close()
		}
	}
	s.rstmts.close()
	var errR error
	if s.reader != s.writer {
		errR = s.reader.Close()
	}
	errW := s.writer.Close()
	if s.lock != nil {
		// After the connections: the next holder finds the file closed.
		errR = errors.Join(errR, s.lock.Close())
	}
	if err := errors.Join(errW, errR); err != nil {
		return fmt.Errorf("database: close: %w", err)
	}
	return nil
}

// checkpoint runs a WAL checkpoint; used by tests and benchmarks that copy
// files.
func (s *Store) checkpoint() error {
	_, err := s.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// stmtCache holds prepared statements by SQL text. Queries vary by the set
// of message types (written into the SQL as literal numbers), so the cache
// is bounded; beyond the bound, statements are prepared per use.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxCachedStmts = 256

// get returns a prepared statement for query and a release function to
// call when done with it.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, func(), error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st, func() {}, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		st.Close()
		return old, func() {}, nil
	}
	if len(c.m) >= maxCachedStmts {
		return st, func() { st.Close() }, nil
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st, func() {}, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// fileState is what probe learned about a file before it is opened for
// writing.
type fileState struct {
	fresh   bool // no file, an empty file or an empty SQLite database
	version int  // our schema version (0 when fresh)
}

// probe inspects path read-only and decides whether Open may proceed. It
// never writes to the file.
func probe(path string, opts Options) (fileState, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileState{fresh: true}, nil
	}
	if err != nil {
		return fileState{}, fmt.Errorf("database: open %s: %w", path, err)
	}
	if fi.IsDir() {
		return fileState{}, fmt.Errorf("database: open %s: is a directory, want a file path", path)
	}
	if fi.Size() == 0 {
		return fileState{fresh: true}, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return fileState{}, fmt.Errorf("database: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var appID, version, tables int
	err = db.QueryRow("PRAGMA application_id").Scan(&appID)
	if err == nil {
		err = db.QueryRow("PRAGMA user_version").Scan(&version)
	}
	if err == nil {
		err = db.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&tables)
	}
	if err != nil {
		return fileState{}, fmt.Errorf("database: open %s: %w", path, classify(err))
	}
	switch {
	case appID == applicationID:
		switch {
		case version > latestVersion:
			return fileState{}, &VersionError{Path: path, Found: version, Oldest: oldestVersion, Latest: latestVersion, Err: ErrTooNew}
		case version < oldestVersion:
			return fileState{}, &VersionError{Path: path, Found: version, Oldest: oldestVersion, Latest: latestVersion, Err: ErrTooOld}
		}
		return fileState{version: version}, nil
	case appID == 0 && version == 0 && tables == 0:
		return fileState{fresh: true}, nil
	}
	if v, ok := pythonDispersyVersion(db); ok {
		return fileState{}, &VersionError{Path: path, Found: v, Oldest: oldestVersion, Latest: latestVersion, PythonDispersy: true, Err: ErrTooOld}
	}
	return fileState{}, fmt.Errorf("%w (%s: application id %#x, user version %d, %d schema objects)", ErrForeign, path, appID, version, tables)
}

// pythonDispersyVersion recognises a Python Dispersy database: its option
// table holds database_version.
func pythonDispersyVersion(db *sql.DB) (int, bool) {
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('sync', 'meta_message', 'community', 'member', 'option')`).Scan(&n); err != nil || n != 5 {
		return 0, false
	}
	var v string
	if err := db.QueryRow(`SELECT value FROM option WHERE key = 'database_version'`).Scan(&v); err != nil {
		return 0, false
	}
	version, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	return version, true
}
