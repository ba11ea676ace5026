package database

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// applicationID marks a SQLite file as a dispersy-go store (PRAGMA
// application_id, the ASCII bytes "DSPG"). A file with another id and a
// schema is foreign and never touched.
const applicationID = 0x44535047

// Schema versions (PRAGMA user_version). Version history, append only:
//
//	1  members, communities, message types, sync (+ indexes),
//	   double_signed, option (migrations/0001_initial.sql)
//	2  the member-keyed index only for types read by member:
//	   message_type.unkeyed, sync.keyed (migrations/0002_member_index.sql)
//	3  kv: overlays' own key/value state, the DHT's (migrations/0003_kv.sql)
const (
	// oldestVersion is the oldest schema this code upgrades.
	oldestVersion = 1
)

// latestVersion is the schema version this code writes: the number of
// embedded migrations.
var latestVersion = len(migrations)

// SchemaVersion returns the schema version this package writes.
func SchemaVersion() int { return latestVersion }

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step: migrations/NNNN_name.sql takes a
// database from version NNNN-1 to NNNN.
type migration struct {
	version int
	name    string
	sql     string
}

var migrations = mustLoadMigrations(migrationFiles)

// loadMigrations reads migrations/NNNN_name.sql from fsys and checks that
// the versions run 1, 2, 3… without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for i, n := range names { // fs.Glob returns sorted names
		base := path.Base(n)
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("database: migration %s: name must be NNNN_name.sql", n)
		}
		if v != i+1 {
			return nil, fmt.Errorf("database: migration %s: version %d, want %d (versions run 1, 2, 3… without gaps)", n, v, i+1)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("database: no migrations found")
	}
	return ms, nil
}

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// migrate applies every migration above version from, each in its own
// BEGIN IMMEDIATE transaction that also sets user_version and
// application_id. A failing migration leaves the database at the version
// before it.
func migrate(ctx context.Context, db *sql.DB, name string, ms []migration, from int) error {
	for _, m := range ms {
		if m.version <= from {
			continue
		}
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("database: %s: migration %04d_%s: %w", name, m.version, m.name, classify(err))
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have migrated the file since it was probed.
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v >= m.version {
		return nil
	}
	if v != m.version-1 {
		return fmt.Errorf("schema is at version %d, want %d", v, m.version-1)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", m.version, applicationID)); err != nil {
		return err
	}
	return tx.Commit()
}
