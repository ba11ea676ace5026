package database

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// Fixture databases in testdata/ (rewrite them with
// `go test ./database -update-fixtures`):
//
//	v1.db                  schema 1 holding fixtureBatch
//	too_new.db             schema 1 relabelled user_version 9999
//	foreign.db             an unrelated application's SQLite database
//	not_sqlite.db          8 KiB of seeded random bytes
//	python_dispersy_v21.db the schema of Python Dispersy's database, v21
//
// Every released schema version N must have a vN.db: when migration N+1 is
// added, keep vN.db and generate v(N+1).db; the upgrade test opens every
// older one with the current code.

var (
	fixCID     = keys.CommunityID{0xf1, 0x0c}
	fixMemberA = keys.MemberID{0xf1, 0x0a}
	fixMemberB = keys.MemberID{0xf1, 0x0b}
)

// fixtureBatch is the content of every vN.db fixture.
func fixtureBatch() *dispersy.Batch {
	var b dispersy.Batch
	b.PutMember(dispersy.MemberRecord{ID: fixMemberA, PublicKey: []byte("public A"), PrivateKey: []byte("private A")})
	b.PutMember(dispersy.MemberRecord{ID: fixMemberB, PublicKey: []byte("public B")})
	b.PutCommunity(dispersy.CommunityRecord{ID: fixCID, Master: []byte("master key"), Me: fixMemberA, AutoLoad: true, Classification: "Fixture"})
	b.PutTypes(fixCID, []dispersy.TypeRecord{{ID: 1, Name: "text", Priority: 128, Direction: 0}, {ID: 2, Name: "pair", Priority: 200, Direction: 2}})
	for i := range uint64(20) {
		p := fmt.Appendf(nil, "fixture packet %d", i)
		r := dispersy.Record{Community: fixCID, Member: fixMemberA, GlobalTime: 1 + i, MessageID: 1, Sequence: uint32(1 + i), Hash: dispersy.PacketHash(p), Packet: p}
		if i%5 == 4 {
			r.Undone, r.UndoneBy = true, dispersy.MessageKey{Member: fixMemberB, GlobalTime: 100 + i}
		}
		b.Put(r)
	}
	p := []byte("double-signed fixture packet")
	b.Put(dispersy.Record{Community: fixCID, Member: fixMemberB, GlobalTime: 50, MessageID: 2, Member2: fixMemberA, Hash: dispersy.PacketHash(p), Packet: p})
	b.SetOption("fixture", []byte("v1"))
	return &b
}

// writeFixtures regenerates the fixture files in dir.
func writeFixtures(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dispersy-fixtures")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// vN.db for the current version, in rollback-journal mode so the file
	// is self-contained.
	cur := filepath.Join(tmp, "current.db")
	s, err := Open(cur, Options{})
	if err != nil {
		return err
	}
	if err := s.Apply(fixtureBatch()); err != nil {
		s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if err := rawExec(cur, "PRAGMA journal_mode = DELETE", "VACUUM"); err != nil {
		return err
	}
	if err := copyFile(cur, filepath.Join(dir, fmt.Sprintf("v%d.db", latestVersion))); err != nil {
		return err
	}
	tooNew := filepath.Join(dir, "too_new.db")
	if err := copyFile(cur, tooNew); err != nil {
		return err
	}
	if err := rawExec(tooNew, "PRAGMA user_version = 9999"); err != nil {
		return err
	}
	foreign := filepath.Join(dir, "foreign.db")
	os.Remove(foreign)
	if err := rawExec(foreign, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('not a dispersy store')", "PRAGMA user_version = 3"); err != nil {
		return err
	}
	junk := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "not_sqlite.db"), junk, 0o644); err != nil {
		return err
	}
	py := filepath.Join(dir, "python_dispersy_v21.db")
	os.Remove(py)
	return rawExec(py, pythonDispersySchema...)
}

// pythonDispersySchema is Python Dispersy's database (dispersydatabase.py,
// LATEST_VERSION 21), with one option row.
var pythonDispersySchema = []string{
	`CREATE TABLE member (id INTEGER PRIMARY KEY AUTOINCREMENT, mid BLOB, public_key BLOB, private_key BLOB)`,
	`CREATE INDEX member_mid_index ON member(mid)`,
	`CREATE TABLE community (id INTEGER PRIMARY KEY AUTOINCREMENT, master INTEGER REFERENCES member(id), member INTEGER REFERENCES member(id), classification TEXT, auto_load BOOL DEFAULT 1, database_version INTEGER DEFAULT 21, UNIQUE(master))`,
	`CREATE TABLE meta_message (id INTEGER PRIMARY KEY AUTOINCREMENT, community INTEGER REFERENCES community(id), name TEXT, priority INTEGER DEFAULT 128, direction INTEGER DEFAULT 1, UNIQUE(community, name))`,
	`CREATE TABLE sync (id INTEGER PRIMARY KEY AUTOINCREMENT, community INTEGER REFERENCES community(id), member INTEGER REFERENCES member(id), global_time INTEGER, meta_message INTEGER REFERENCES meta_message(id), undone INTEGER DEFAULT 0, packet BLOB, sequence INTEGER, UNIQUE(community, member, global_time))`,
	`CREATE INDEX sync_meta_message_undone_global_time_index ON sync(meta_message, undone, global_time)`,
	`CREATE INDEX sync_meta_message_member ON sync(meta_message, member)`,
	`CREATE TABLE double_signed_sync (sync INTEGER REFERENCES sync(id), member1 INTEGER REFERENCES member(id), member2 INTEGER REFERENCES member(id))`,
	`CREATE INDEX double_signed_sync_index_0 ON double_signed_sync(member1, member2)`,
	`CREATE TABLE option (key TEXT PRIMARY KEY, value BLOB)`,
	`INSERT INTO option (key, value) VALUES ('database_version', '21')`,
}

// rawExec runs statements on path with a plain connection (rollback
// journal unless the file says otherwise).
func rawExec(path string, stmts ...string) error {
	db, err := sql.Open("sqlite", dsn(path, url.Values{}))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600) // a store, which Open creates 0600
}

// fixtureCopy copies testdata/name into a fresh directory and returns its
// path and a fingerprint of the directory's content.
func fixtureCopy(t *testing.T, name string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := copyFile(filepath.Join("testdata", name), path); err != nil {
		t.Fatal(err)
	}
	return path, dirPrint(t, dir)
}

// dirPrint fingerprints every file of dir: names, sizes and SHA-256.
func dirPrint(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), sha256.Sum256(data))
	}
	return b.String()
}

// TestFixtureVersions opens the fixture of every schema version with the
// current code (upgrading the older ones) and checks the content.
func TestFixtureVersions(t *testing.T) {
	for v := oldestVersion; v <= latestVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			path, _ := fixtureCopy(t, fmt.Sprintf("v%d.db", v))
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var got int
			if err := s.writer.QueryRow("PRAGMA user_version").Scan(&got); err != nil || got != latestVersion {
				t.Fatalf("user_version after open = %d, %v; want %d", got, err, latestVersion)
			}
			checkFixtureContent(t, s)
			// Still writable after the upgrade.
			var b dispersy.Batch
			b.SetOption("opened", []byte("yes"))
			if err := s.Apply(&b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkFixtureContent compares s with fixtureBatch applied to a MemStore
// through the whole read interface.
func checkFixtureContent(t *testing.T, s *Store) {
	t.Helper()
	var recs []dispersy.Record
	if err := s.Replay(fixCID, []uint8{1, 2}, func(r *dispersy.Record) bool { recs = append(recs, *r); return true }); err != nil {
		t.Fatal(err)
	}
	var want []dispersy.Record
	for _, op := range fixtureBatch().Ops {
		if op.Kind == dispersy.OpPut {
			want = append(want, op.Record)
		}
	}
	if len(recs) != len(want) {
		t.Fatalf("fixture holds %d records, want %d", len(recs), len(want))
	}
	for i := range want {
		g, w := recs[i], want[i]
		if g.Member != w.Member || g.GlobalTime != w.GlobalTime || g.MessageID != w.MessageID || g.Sequence != w.Sequence ||
			g.Member2 != w.Member2 || g.Undone != w.Undone || g.UndoneBy != w.UndoneBy || g.Hash != w.Hash || !bytes.Equal(g.Packet, w.Packet) {
			t.Fatalf("fixture record %d = %+v, want %+v", i, g, w)
		}
	}
	m, ok, err := s.Member(fixMemberA)
	if err != nil || !ok || string(m.PrivateKey) != "private A" {
		t.Fatalf("fixture member A = %+v, %v, %v", m, ok, err)
	}
	c, ok, err := s.Community(fixCID)
	if err != nil || !ok || c.Classification != "Fixture" || !c.AutoLoad || c.Me != fixMemberA {
		t.Fatalf("fixture community = %+v, %v, %v", c, ok, err)
	}
	ts, err := s.Types(fixCID)
	if err != nil || len(ts) != 2 || ts[1].Name != "pair" || ts[1].Priority != 200 || ts[1].Direction != 2 {
		t.Fatalf("fixture types = %+v, %v", ts, err)
	}
	h, err := s.History(fixCID, 2, fixMemberA, fixMemberB)
	if err != nil || len(h) != 1 {
		t.Fatalf("fixture pair history = %d records, %v", len(h), err)
	}
	if seq, gt, err := s.LastSequence(fixCID, fixMemberA, 1); err != nil || seq != 20 || gt != 20 {
		t.Fatalf("fixture LastSequence = %d, %d, %v", seq, gt, err)
	}
}

// TestOpenRefuses opens files this code must not touch: typed errors, and
// the file (and its directory) left byte for byte as it was.
func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, err error)
	}{
		{"too_new.db", func(t *testing.T, err error) {
			var ve *VersionError
			if !errors.Is(err, ErrTooNew) || !errors.As(err, &ve) || ve.Found != 9999 || ve.Latest != latestVersion {
				t.Fatalf("err = %v, want a *VersionError for 9999 wrapping ErrTooNew", err)
			}
			if !strings.Contains(err.Error(), "upgrade this program") {
				t.Fatalf("error does not say what to do: %v", err)
			}
		}},
		{"python_dispersy_v21.db", func(t *testing.T, err error) {
			var ve *VersionError
			if !errors.Is(err, ErrTooOld) || !errors.As(err, &ve) || !ve.PythonDispersy || ve.Found != 21 {
				t.Fatalf("err = %v, want a Python Dispersy *VersionError wrapping ErrTooOld", err)
			}
		}},
		{"foreign.db", func(t *testing.T, err error) {
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("err = %v, want ErrForeign", err)
			}
		}},
		{"not_sqlite.db", func(t *testing.T, err error) {
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("err = %v, want ErrForeign", err)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path, before := fixtureCopy(t, tc.file)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			tc.check(t, err)
			if after := dirPrint(t, filepath.Dir(path)); after != before {
				t.Fatalf("the file was touched:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestOpenOwnOldVersion(t *testing.T) {
	// Our application id with a version below the oldest upgradable one.
	path := filepath.Join(t.TempDir(), "old.db")
	if err := rawExec(path, "CREATE TABLE x (y)", fmt.Sprintf("PRAGMA application_id = %d", applicationID), "PRAGMA user_version = 0"); err != nil {
		t.Fatal(err)
	}
	before := dirPrint(t, filepath.Dir(path))
	_, err := Open(path, Options{})
	var ve *VersionError
	if !errors.Is(err, ErrTooOld) || !errors.As(err, &ve) || ve.Found != 0 {
		t.Fatalf("err = %v, want a *VersionError wrapping ErrTooOld", err)
	}
	if dirPrint(t, filepath.Dir(path)) != before {
		t.Fatal("the file was touched")
	}
}

func TestOpenEmptyAndBadPaths(t *testing.T) {
	dir := t.TempDir()
	// An empty file and an empty SQLite database are fresh stores.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(dir, "blank.db")
	if err := rawExec(blank, "PRAGMA user_version = 0"); err != nil {
		t.Fatal(err)
	}
	// A name that needs escaping in a URI.
	odd := filepath.Join(dir, "odd ?#% name.db")
	for _, p := range []string{empty, blank, odd} {
		s, err := Open(p, Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", p, err)
		}
		var b dispersy.Batch
		b.SetOption("k", []byte("v"))
		if err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the store is not in %q: %v", p, err)
		}
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open(a directory) succeeded")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing", "x.db"), Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	_, err := Open(filepath.Join(dir, "x.db"), Options{BusyTimeout: -1, ReadConns: -2, CacheKiB: -1, MaxPageCount: -1, CheckpointPages: -1})
	if err == nil || strings.Count(err.Error(), "Options.") != 5 {
		t.Fatalf("bad options: %v, want all 5 reported", err)
	}
}

// TestMigrate runs the migration machinery on made-up migrations: in
// order, one transaction each, a failing one leaves the version before it.
func TestMigrate(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("ALTER TABLE a ADD COLUMN y TEXT; CREATE TABLE b (z);")},
		"migrations/0003_c.sql": {Data: []byte("CREATE TABLE c (w); INSERT INTO no_such_table VALUES (1);")},
	}
	ms, err := loadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[1].version != 2 || ms[1].name != "b" {
		t.Fatalf("loaded %+v", ms)
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := sql.Open("sqlite", Options{BusyTimeout: defaultBusyTimeout, CacheKiB: 1024}.writerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	version := func() int {
		var v int
		if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tables := func() []string {
		rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			out = append(out, n)
		}
		return out
	}
	if err := migrate(t.Context(), db, "m", ms[:2], 0); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 2 || !slices.Equal(tables(), []string{"a", "b"}) {
		t.Fatalf("after 1-2: version %d tables %v", v, tables())
	}
	err = migrate(t.Context(), db, "m", ms, 2)
	if err == nil || !strings.Contains(err.Error(), "0003_c") {
		t.Fatalf("failing migration: err = %v", err)
	}
	if v := version(); v != 2 || !slices.Equal(tables(), []string{"a", "b"}) {
		t.Fatalf("after failing 3: version %d tables %v, want 2 and no table c", version(), tables())
	}
	// Already applied migrations are skipped.
	if err := migrate(t.Context(), db, "m", ms[:2], 1); err != nil {
		t.Fatal(err)
	}

	for name, bad := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"bad name": {"migrations/1_a.sql": {}},
		"no files": {},
	} {
		if _, err := loadMigrations(bad); err == nil {
			t.Errorf("%s: loadMigrations accepted it", name)
		}
	}
	// The embedded migrations load and define the current version.
	if SchemaVersion() != len(migrations) || migrations[0].name != "initial" {
		t.Fatalf("SchemaVersion %d, migrations %d", SchemaVersion(), len(migrations))
	}
}
