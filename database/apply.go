package database

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// maxGlobalTime is the largest global time SQLite's signed INTEGER holds
// (conversion.MaxGlobalTime).
const maxGlobalTime = math.MaxInt64

// errGlobalTimeRange: a global time above 2^63-1 cannot be stored.
var errGlobalTimeRange = errors.New("global time above 2^63-1 (conversion.MaxGlobalTime)")

// Write statements, prepared once on the writer connection and bound to
// each batch's transaction on first use.
const (
	wCommunityID = iota
	wPutMember
	wPutCommunity
	wDeleteTypes
	wPutType
	wPut
	wPutPair
	wReplace
	wDelete
	wSetUndone
	wTrim
	wTrimPair
	wPrune
	wDeleteExcept
	wSetOption
	wPutMulti
	wTrimScan
	wRekey
	nWrite
)

// putChunk is how many rows one multi-row INSERT writes: a run of Put
// operations is written putChunk rows at a time, which costs a fraction of
// one statement per row.
const putChunk = 32

var writeSQL = [nWrite]string{
	wCommunityID: `SELECT id FROM community WHERE cid = ?`,
	wPutMember: `INSERT INTO member (mid, public_key, private_key) VALUES (?, ?, ?)
		ON CONFLICT (mid) DO UPDATE SET
			public_key = coalesce(excluded.public_key, member.public_key),
			private_key = coalesce(excluded.private_key, member.private_key)`,
	wPutCommunity: `INSERT INTO community (cid, master, me, auto_load, classification) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (cid) DO UPDATE SET master = excluded.master, me = excluded.me,
			auto_load = excluded.auto_load, classification = excluded.classification
		RETURNING id`,
	wDeleteTypes: `DELETE FROM message_type WHERE community = ?`,
	wPutType:     `INSERT INTO message_type (community, id, name, priority, direction, unkeyed) VALUES (?, ?, ?, ?, ?, ?)`,
	wPut: `INSERT INTO sync (community, member, global_time, message_id, sequence, undone,
			undone_by_member, undone_by_gt, hash, packet, keyed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	wPutPair: `INSERT INTO double_signed (community, member, global_time, member1, member2) VALUES (?, ?, ?, ?, ?)`,
	wReplace: `UPDATE sync SET packet = ?, hash = ? WHERE community = ? AND member = ? AND global_time = ?`,
	wDelete:  `DELETE FROM sync WHERE community = ? AND member = ? AND global_time = ?`,
	wSetUndone: `UPDATE sync SET undone = ?, undone_by_member = ?, undone_by_gt = ?
		WHERE community = ? AND member = ? AND global_time = ?`,
	// Global times are unique per member: no tie-break needed.
	wTrim: `DELETE FROM sync WHERE community = ?1 AND member = ?2 AND global_time IN
		(SELECT global_time FROM sync INDEXED BY sync_member_type
		WHERE community = ?1 AND member = ?2 AND message_id = ?3 AND keyed = 1
		ORDER BY global_time DESC LIMIT -1 OFFSET ?4)`,
	// wTrimScan is wTrim for a type declared unkeyed (keyed.go).
	wTrimScan: `DELETE FROM sync WHERE community = ?1 AND member = ?2 AND global_time IN
		(SELECT global_time FROM sync
		WHERE community = ?1 AND member = ?2 AND message_id = ?3
		ORDER BY global_time DESC LIMIT -1 OFFSET ?4)`,
	// wRekey puts the rows of a type declared keyed again into the index.
	wRekey: `UPDATE sync SET keyed = 1 WHERE community = ? AND message_id = ? AND keyed = 0`,
	wTrimPair: `DELETE FROM sync WHERE (community, global_time, member) IN
		(SELECT s.community, s.global_time, s.member FROM double_signed d JOIN sync s
			ON s.community = d.community AND s.global_time = d.global_time AND s.member = d.member
		WHERE d.community = ?1 AND d.member1 = ?2 AND d.member2 = ?3 AND s.message_id = ?4
		ORDER BY s.global_time DESC, s.packet DESC, s.member DESC LIMIT -1 OFFSET ?5)`,
	wPrune: `DELETE FROM sync WHERE community = ? AND message_id = ? AND global_time > ? AND global_time <= ?`,
	wDeleteExcept: `DELETE FROM sync WHERE community = ?1 AND (member, global_time) NOT IN
		(SELECT unhex(json_extract(value, '$[0]')), json_extract(value, '$[1]') FROM json_each(?2))`,
	wSetOption: `INSERT INTO option (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
	wPutMulti:  multiPutSQL(putChunk),
}

// multiPutSQL is wPut with n rows.
func multiPutSQL(n int) string {
	const head = `INSERT INTO sync (community, member, global_time, message_id, sequence, undone,
			undone_by_member, undone_by_gt, hash, packet, keyed) VALUES `
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// prepareWrites prepares every write statement on the writer connection.
func (s *Store) prepareWrites() error {
	for i, q := range writeSQL {
		st, err := s.writer.Prepare(q)
		if err != nil {
			return fmt.Errorf("database: prepare write statement %d: %w", i, classify(err))
		}
		s.wprep[i] = st
	}
	return nil
}

// applier runs one batch in one transaction.
type applier struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	stmts [nWrite]*sql.Stmt
	// created holds the row ids of communities inserted by this batch; they
	// enter the Store's cache only once the batch commits.
	created map[keys.CommunityID]int64
	// types holds the unkeyed types of the communities whose types this
	// batch replaced; they enter the Store's cache only once it commits.
	types map[int64]map[uint8]bool
	args  []any
}

// Apply performs every operation of b, in order, in one BEGIN IMMEDIATE
// transaction; if one fails, nothing is written and the error is a
// *dispersy.OpError naming it.
func (s *Store) Apply(b *dispersy.Batch) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	if b.Len() == 0 {
		return nil
	}
	if s.opts.ReadOnly {
		return errors.New("database: Apply on a store opened with Options.ReadOnly")
	}
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("begin batch", err)
	}
	a := applier{s: s, ctx: ctx, tx: tx}
	for i := 0; i < len(b.Ops); i++ {
		if n := a.putRun(b.Ops[i:]); n > 0 {
			i += n - 1
			continue
		}
		op := &b.Ops[i]
		if err := a.apply(op); err != nil {
			tx.Rollback()
			if s.closed.Load() {
				return dispersy.ErrStoreClosed
			}
			return &dispersy.OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}
	s.scans.invalidate() // a key cache built from now on may see the commit
	err = tx.Commit()
	if err != nil {
		s.scans.invalidate()
		tx.Rollback()
		return s.fail("commit batch", err)
	}
	if len(a.created) > 0 {
		s.cidMu.Lock()
		for cid, id := range a.created {
			s.cids[cid] = id
		}
		s.cidMu.Unlock()
	}
	s.committed(b)
	if len(a.types) > 0 {
		s.unkeyedTypes.invalidate()
	}
	return nil
}

func (a *applier) stmt(i int) (*sql.Stmt, error) {
	if st := a.stmts[i]; st != nil {
		return st, nil
	}
	// Prepared on the writer's only connection at Open: preparing here
	// would wait for the connection this transaction holds.
	a.stmts[i] = a.tx.StmtContext(a.ctx, a.s.wprep[i])
	return a.stmts[i], nil
}

func (a *applier) exec(i int, args ...any) (sql.Result, error) {
	st, err := a.stmt(i)
	if err != nil {
		return nil, classify(err)
	}
	res, err := st.ExecContext(a.ctx, args...)
	return res, classify(err)
}

// communityID returns the row id of cid; ok is false if it has no row.
func (a *applier) communityID(cid keys.CommunityID) (int64, bool, error) {
	if id, ok := a.created[cid]; ok {
		return id, true, nil
	}
	a.s.cidMu.Lock()
	id, ok := a.s.cids[cid]
	a.s.cidMu.Unlock()
	if ok {
		return id, true, nil
	}
	st, err := a.stmt(wCommunityID)
	if err != nil {
		return 0, false, classify(err)
	}
	switch err := st.QueryRowContext(a.ctx, cid[:]).Scan(&id); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, classify(err)
	}
	// Committed before this batch: safe to cache now.
	a.s.cidMu.Lock()
	a.s.cids[cid] = id
	a.s.cidMu.Unlock()
	return id, true, nil
}

// nullBlob binds empty as NULL.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// blob binds empty as an empty BLOB (never NULL).
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func keyString(cid keys.CommunityID, k dispersy.MessageKey) string {
	return fmt.Sprintf("community %s member %s global time %d", cid, k.Member, k.GlobalTime)
}

func checkRecordCommunity(op *dispersy.Op) error {
	if op.Community != op.Record.Community {
		return fmt.Errorf("op community %s differs from record community %s: build ops with Batch methods", op.Community, op.Record.Community)
	}
	return nil
}

func (a *applier) apply(op *dispersy.Op) error {
	switch op.Kind {
	case dispersy.OpPutMember:
		m := &op.Member
		_, err := a.exec(wPutMember, m.ID[:], nullBlob(m.PublicKey), nullBlob(m.PrivateKey))
		return err
	case dispersy.OpPutCommunity:
		c := &op.CommunityRecord
		st, err := a.stmt(wPutCommunity)
		if err != nil {
			return classify(err)
		}
		var id int64
		if err := st.QueryRowContext(a.ctx, c.ID[:], blob(c.Master), c.Me[:], c.AutoLoad, c.Classification).Scan(&id); err != nil {
			return classify(err)
		}
		if a.created == nil {
			a.created = make(map[keys.CommunityID]int64)
		}
		a.created[c.ID] = id
		return nil
	case dispersy.OpPutTypes:
		id, ok, err := a.communityID(op.Community)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("types of community %s: %w", op.Community, dispersy.ErrNoCommunityRecord)
		}
		old, err := a.unkeyed(id)
		if err != nil {
			return err
		}
		if _, err := a.exec(wDeleteTypes, id); err != nil {
			return err
		}
		set := map[uint8]bool{}
		for _, t := range op.Types {
			if _, err := a.exec(wPutType, id, t.ID, t.Name, t.Priority, t.Direction, t.Unkeyed); err != nil {
				if isUnique(err) {
					return fmt.Errorf("types of community %s: message id %d listed twice", op.Community, t.ID)
				}
				return err
			}
			if t.Unkeyed {
				set[t.ID] = true
			}
		}
		// A type no longer unkeyed gets its rows back into the index.
		for t := range old {
			if !set[t] {
				if _, err := a.exec(wRekey, id, t); err != nil {
					return err
				}
			}
		}
		if a.types == nil {
			a.types = make(map[int64]map[uint8]bool)
		}
		a.types[id] = set
		return nil
	case dispersy.OpPut:
		return a.put(op)
	case dispersy.OpReplacePacket:
		r := &op.Record
		if err := checkRecordCommunity(op); err != nil {
			return err
		}
		id, ok, err := a.communityID(r.Community)
		if err != nil {
			return err
		}
		if ok && r.GlobalTime <= maxGlobalTime {
			res, err := a.exec(wReplace, blob(r.Packet), r.Hash[:], id, r.Member[:], int64(r.GlobalTime))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				return nil
			}
		}
		return fmt.Errorf("replace packet of %s: %w", keyString(r.Community, r.Key()), dispersy.ErrNotFound)
	case dispersy.OpDelete:
		id, ok, err := a.communityID(op.Community)
		if err != nil || !ok || op.Key.GlobalTime > maxGlobalTime {
			return err
		}
		_, err = a.exec(wDelete, id, op.Key.Member[:], int64(op.Key.GlobalTime))
		return err
	case dispersy.OpSetUndone:
		if op.Undone && op.By.GlobalTime > maxGlobalTime {
			return fmt.Errorf("undone by global time %d: %w", op.By.GlobalTime, errGlobalTimeRange)
		}
		id, ok, err := a.communityID(op.Community)
		if err != nil {
			return err
		}
		if ok && op.Key.GlobalTime <= maxGlobalTime {
			byMember, byGT := undoneBy(op.Undone, op.By)
			res, err := a.exec(wSetUndone, op.Undone, byMember, byGT, id, op.Key.Member[:], int64(op.Key.GlobalTime))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				return nil
			}
		}
		return fmt.Errorf("set undone of %s: %w", keyString(op.Community, op.Key), dispersy.ErrNotFound)
	case dispersy.OpTrim:
		if op.Keep < 0 {
			return fmt.Errorf("trim keeps %d messages: Keep must be >= 0", op.Keep)
		}
		id, ok, err := a.communityID(op.Community)
		if err != nil || !ok {
			return err
		}
		if op.Member2 == (keys.MemberID{}) {
			unkeyed, err := a.unkeyed(id)
			if err != nil {
				return err
			}
			trim := wTrim
			if unkeyed[op.MessageID] {
				trim = wTrimScan
			}
			_, err = a.exec(trim, id, op.Key.Member[:], op.MessageID, op.Keep)
			return err
		}
		m1, m2 := pair(op.Key.Member, op.Member2)
		_, err = a.exec(wTrimPair, id, m1, m2, op.MessageID, op.Keep)
		return err
	case dispersy.OpPrune:
		id, ok, err := a.communityID(op.Community)
		if err != nil || !ok {
			return err
		}
		if op.After >= op.Key.GlobalTime || op.After >= maxGlobalTime {
			return nil
		}
		_, err = a.exec(wPrune, id, op.MessageID, int64(op.After), int64(min(op.Key.GlobalTime, maxGlobalTime)))
		return err
	case dispersy.OpDeleteCommunityExcept:
		id, ok, err := a.communityID(op.Community)
		if err != nil || !ok {
			return err
		}
		keep := make([][2]any, 0, len(op.KeepKeys))
		for _, k := range op.KeepKeys {
			if k.GlobalTime <= maxGlobalTime {
				keep = append(keep, [2]any{hex.EncodeToString(k.Member[:]), k.GlobalTime})
			}
		}
		js, err := json.Marshal(keep)
		if err != nil {
			return err
		}
		_, err = a.exec(wDeleteExcept, id, string(js))
		return err
	case dispersy.OpSetOption:
		_, err := a.exec(wSetOption, op.Name, blob(op.Value))
		return err
	}
	return fmt.Errorf("unknown operation kind %d", uint8(op.Kind))
}

// undoneBy returns the bind values of the undone_by columns: NULL for a
// live message or the zero key.
func undoneBy(undone bool, by dispersy.MessageKey) (any, any) {
	if !undone || by == (dispersy.MessageKey{}) {
		return nil, nil
	}
	return by.Member[:], int64(by.GlobalTime)
}

// pair returns the members of a double-signed message in bytewise order.
func pair(a, b keys.MemberID) ([]byte, []byte) {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	return a[:], b[:]
}

// putRun writes the leading run of plain Put operations of ops (single
// signed, in one community, valid global times), putChunk rows per
// statement, and returns how many it wrote; 0 when ops does not start with a
// full chunk of them, or when a chunk failed (the caller then writes them
// one by one, which names the failing operation).
func (a *applier) putRun(ops []dispersy.Op) int {
	n := 0
	for n < len(ops) && n < putChunk && plainPut(&ops[n]) && ops[n].Community == ops[0].Community {
		n++
	}
	if n < putChunk {
		return 0
	}
	id, ok, err := a.communityID(ops[0].Community)
	if err != nil || !ok {
		return 0
	}
	unkeyed, err := a.unkeyed(id)
	if err != nil {
		return 0
	}
	args := a.args[:0]
	for i := range n {
		r := &ops[i].Record
		byMember, byGT := undoneBy(r.Undone, r.UndoneBy)
		args = append(args, id, r.Member[:], int64(r.GlobalTime), r.MessageID, r.Sequence, r.Undone, byMember, byGT, r.Hash[:], blob(r.Packet), !unkeyed[r.MessageID])
	}
	a.args = args
	st, err := a.stmt(wPutMulti)
	if err != nil {
		return 0
	}
	if _, err := st.ExecContext(a.ctx, args...); err != nil {
		// The statement was rolled back on its own; the transaction goes
		// on, and the rows are written one by one to find the culprit.
		return 0
	}
	return n
}

// plainPut reports whether op is a Put that putRun can write.
func plainPut(op *dispersy.Op) bool {
	r := &op.Record
	return op.Kind == dispersy.OpPut && op.Community == r.Community && !r.Double() &&
		r.GlobalTime <= maxGlobalTime && (!r.Undone || r.UndoneBy.GlobalTime <= maxGlobalTime)
}

func (a *applier) put(op *dispersy.Op) error {
	r := &op.Record
	if err := checkRecordCommunity(op); err != nil {
		return err
	}
	if r.GlobalTime > maxGlobalTime {
		return fmt.Errorf("put global time %d: %w", r.GlobalTime, errGlobalTimeRange)
	}
	if r.Undone && r.UndoneBy.GlobalTime > maxGlobalTime {
		return fmt.Errorf("put undone by global time %d: %w", r.UndoneBy.GlobalTime, errGlobalTimeRange)
	}
	id, ok, err := a.communityID(r.Community)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("put in community %s: %w", r.Community, dispersy.ErrNoCommunityRecord)
	}
	unkeyed, err := a.unkeyed(id)
	if err != nil {
		return err
	}
	byMember, byGT := undoneBy(r.Undone, r.UndoneBy)
	if _, err := a.exec(wPut, id, r.Member[:], int64(r.GlobalTime), r.MessageID, r.Sequence, r.Undone, byMember, byGT, r.Hash[:], blob(r.Packet), !unkeyed[r.MessageID]); err != nil {
		if isUnique(err) {
			return fmt.Errorf("put %s: %w", keyString(r.Community, r.Key()), dispersy.ErrExists)
		}
		return err
	}
	if r.Double() {
		m1, m2 := pair(r.Member, r.Member2)
		if _, err := a.exec(wPutPair, id, r.Member[:], int64(r.GlobalTime), m1, m2); err != nil {
			return err
		}
	}
	return nil
}
