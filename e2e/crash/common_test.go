//go:build unix

package crash_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the read-only integrity check

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// textFormat is the text of message k of peer p: the peer can tell from its
// store which of its messages exist, and the parent which are missing.
const textFormat = "crash peer %d message %d"

var (
	// cid is the debug community's id.
	cid = dispersytest.DebugMaster.Public().CommunityID()
	// synced is the one message type the peers create and count:
	// full-sync text, pushed to up to 10 candidates and bloom-synced.
	synced = []uint8{dispersytest.FullSyncText.ID()}
)

// peerKey is peer i's member key; parent and child derive the same one.
func peerKey(i int) *keys.PrivateKey {
	return keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "dispersy-go crash test peer %d", i))
}

// textOf returns the text of message k of peer p.
func textOf(p, k int) string { return fmt.Sprintf(textFormat, p, k) }

// parseText is the inverse of textOf; ok is false for any other text.
func parseText(s string) (p, k int, ok bool) {
	if _, err := fmt.Sscanf(s, textFormat, &p, &k); err != nil {
		return 0, 0, false
	}
	return p, k, p >= 0 && k >= 0 && textOf(p, k) == s
}

// storedText is one stored full-sync message, decoded.
type storedText struct {
	member keys.MemberID
	text   string
	hash   dispersy.Hash
}

// readTexts decodes every stored full-sync text of the debug community in
// st, ascending by global time.
func readTexts(st dispersy.Store, codec *conversion.Codec) ([]storedText, error) {
	var out []storedText
	var bad error
	err := st.Replay(cid, synced, func(r *dispersy.Record) bool {
		f, err := codec.Decode(r.Packet)
		if err != nil {
			bad = fmt.Errorf("stored packet %x (global time %d) does not decode: %w", r.Hash, r.GlobalTime, err)
			return false
		}
		var t dispersytest.Text
		if err := t.UnmarshalBinary(f.Payload); err != nil {
			bad = fmt.Errorf("stored packet %x (global time %d) has a bad payload: %w", r.Hash, r.GlobalTime, err)
			return false
		}
		out = append(out, storedText{member: r.Member, text: t.Text, hash: r.Hash})
		return true
	})
	return out, errors.Join(err, bad)
}

// debugCodec returns the debug community's codec, from a throwaway engine
// on a memory store (the parent has no running engine of its own).
func debugCodec() (*conversion.Codec, error) {
	e, err := dispersy.NewEngine(dispersy.DefaultConfig(), keys.DeriveKey(keys.Ed25519, []byte("crash test codec")), dispersytest.NewMemStore())
	if err != nil {
		return nil, err
	}
	e.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := e.Join(dispersytest.NewDebugCommunity())
	if err != nil {
		return nil, err
	}
	return c.Codec(), nil
}

// integrityCheck runs PRAGMA integrity_check and PRAGMA foreign_key_check on
// the SQLite file at path through a read-only connection, so the file is
// checked as the crash left it (a hot WAL included) before anything opens
// it for writing. It returns nil when the first says "ok" and the second
// finds nothing.
func integrityCheck(path string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	dsn := (&url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open %s read-only: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := pragmaRows(db, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("%s: integrity_check: %w", path, err)
	}
	if len(rows) != 1 || rows[0] != "ok" {
		return fmt.Errorf("%s: integrity_check says %q, want \"ok\"", path, rows)
	}
	rows, err = pragmaRows(db, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("%s: foreign_key_check: %w", path, err)
	}
	if len(rows) != 0 {
		return fmt.Errorf("%s: foreign_key_check finds %d violations: %s", path, len(rows), strings.Join(rows, "; "))
	}
	return nil
}

// pragmaRows runs a pragma and returns its rows, columns joined by "|".
func pragmaRows(db *sql.DB, pragma string) ([]string, error) {
	rs, err := db.Query(pragma)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rs.Err()
}

// TestIntegrityCheck proves the check TestCrash relies on: ok on an intact
// store, an error once a page of the file is overwritten.
func TestIntegrityCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.db")
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: cid, Master: dispersytest.DebugMaster.Public().Bytes(), Me: peerKey(0).ID()})
	for gt := range uint64(300) {
		p := fmt.Appendf(nil, "packet %d %s", gt, strings.Repeat("x", 200))
		b.Put(dispersy.Record{Community: cid, Member: peerKey(0).ID(), GlobalTime: gt + 1, MessageID: synced[0], Hash: dispersy.PacketHash(p), Packet: p})
	}
	if err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	if err := integrityCheck(path); err != nil {
		t.Fatalf("intact store: %v", err)
	}

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if info.Size() < 8*page {
		t.Fatalf("store is only %d bytes; want several pages to damage one", info.Size())
	}
	garbage := bytes.Repeat([]byte{0xa5}, page)
	if _, err := f.WriteAt(garbage, info.Size()-2*page); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	err = integrityCheck(path)
	if err == nil {
		t.Fatal("integrityCheck passes a store with an overwritten page")
	}
	t.Logf("damaged store: %v", err)
}
