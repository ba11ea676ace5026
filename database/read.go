package database

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// recordCols are the columns scanRecord reads, from sync s LEFT JOIN
// double_signed d.
const recordCols = `s.member, s.global_time, s.message_id, s.sequence, s.undone,
	s.undone_by_member, s.undone_by_gt, s.hash, s.packet, d.member1, d.member2`

const recordFrom = ` FROM sync s LEFT JOIN double_signed d ` + pairJoin + ` `

// pairJoin joins a sync row s with its double_signed row d.
const pairJoin = `ON d.community = s.community AND d.global_time = s.global_time AND d.member = s.member`

// packetOrder is the (global time, packet) order of Replay and pair
// History, with the creator as the last tie-break (identical packets).
// Range and Scan read in key order and sort each global time in Go.
const packetOrder = ` ORDER BY s.global_time, s.packet, s.member`

// historySQL selects one member's messages of one type. Global times are
// unique per member, so (global time) is already (global time, packet)
// order, and the index delivers it without a sort.
const historySQL = `SELECT ` + recordCols + ` FROM sync s INDEXED BY sync_member_type LEFT JOIN double_signed d ` + pairJoin + `
	WHERE s.community = ? AND s.member = ? AND s.message_id = ? AND s.keyed = 1 ORDER BY s.global_time`

// historyScanSQL is historySQL for a type declared unkeyed (keyed.go).
const historyScanSQL = `SELECT ` + recordCols + recordFrom + `
	WHERE s.community = ? AND s.member = ? AND s.message_id = ? ORDER BY s.global_time`

// The read statements, by method.
const (
	hasSQL = `SELECT 1 FROM sync WHERE community = ? AND member = ? AND global_time = ?`
	getSQL = `SELECT ` + recordCols + recordFrom + `WHERE s.community = ? AND s.member = ? AND s.global_time = ?`
	// byGlobalTimesSQL takes the global times as a JSON array: one
	// statement for any number of them.
	byGlobalTimesSQL = `SELECT ` + recordCols + recordFrom +
		`WHERE s.community = ? AND s.member = ? AND s.global_time IN (SELECT value FROM json_each(?)) ORDER BY s.global_time`
	lastSequenceSQL = `SELECT
		(SELECT max(sequence) FROM sync WHERE community = ?1 AND member = ?2 AND message_id = ?3 AND sequence > 0),
		(SELECT max(global_time) FROM sync WHERE community = ?1 AND member = ?2 AND message_id = ?3 AND keyed = 1)`
	// lastSequenceScanSQL is lastSequenceSQL for a type declared unkeyed.
	lastSequenceScanSQL = `SELECT
		(SELECT max(sequence) FROM sync WHERE community = ?1 AND member = ?2 AND message_id = ?3 AND sequence > 0),
		(SELECT max(global_time) FROM sync WHERE community = ?1 AND member = ?2 AND message_id = ?3)`
	pairHistorySQL = `SELECT ` + recordCols + ` FROM double_signed d JOIN sync s ` + pairJoin + `
		WHERE d.community = ? AND d.member1 = ? AND d.member2 = ? AND s.message_id = ?` + packetOrder
	maxGlobalTimeSQL = `SELECT max(global_time) FROM sync WHERE community = ?`
)

// bySequenceSQL selects by sequence range; positive says the range starts
// above 0, which lets SQLite use the partial sequence index.
func bySequenceSQL(positive bool) string {
	q := `SELECT ` + recordCols + recordFrom +
		`WHERE s.community = ? AND s.member = ? AND s.message_id = ? AND s.sequence BETWEEN ? AND ?`
	if positive {
		q += ` AND s.sequence > 0`
	}
	return q + ` ORDER BY s.sequence, s.global_time, s.packet, s.member`
}

func replaySQL(types []uint8) string {
	return `SELECT ` + recordCols + recordFrom + `WHERE s.community = ? AND s.message_id IN (` + typeList(types) + `)` + packetOrder
}

// scanSQL reads the live rows of some types from a global time up or
// down, in the table's (global time, member) order; mod is moduloClause's
// condition. Scan sorts each global time's rows by hash itself: a sorter
// per global time inside SQLite costs a third of the time.
func scanSQL(types []uint8, desc bool, mod string) string {
	q := `SELECT global_time, hash FROM sync WHERE community = ? AND undone = 0 AND message_id IN (` + typeList(types) + `)`
	if desc {
		return q + ` AND global_time <= ?` + mod + ` ORDER BY global_time DESC, member DESC`
	}
	return q + ` AND global_time >= ?` + mod + ` ORDER BY global_time, member`
}

func countSQL(types []uint8) string {
	return `SELECT count(*) FROM sync WHERE community = ? AND undone = 0 AND message_id IN (` + typeList(types) + `)`
}

// rangeSQL reads one type's messages in a global-time range in the
// table's (global time, member) order, or the reverse; mod is
// moduloClause's condition. Range sorts each global time's rows by packet
// itself, as scanSQL.
func rangeSQL(includeUndone, desc bool, mod string) string {
	q := `SELECT ` + recordCols + recordFrom + `WHERE s.community = ? AND s.message_id = ? AND s.global_time BETWEEN ? AND ?`
	if !includeUndone {
		q += ` AND s.undone = 0`
	}
	q += mod
	if desc {
		return q + ` ORDER BY s.global_time DESC, s.member DESC`
	}
	return q + ` ORDER BY s.global_time, s.member`
}

// scanRecord reads one row of recordCols into a Record of cid.
func scanRecord(rows interface{ Scan(...any) error }, cid keys.CommunityID) (dispersy.Record, error) {
	var (
		r                dispersy.Record
		member, hash     []byte
		byMember, m1, m2 []byte
		gt               int64
		byGT             sql.NullInt64
		msgID            uint8
		seq              uint32
		undone           bool
	)
	if err := rows.Scan(&member, &gt, &msgID, &seq, &undone, &byMember, &byGT, &hash, &r.Packet, &m1, &m2); err != nil {
		return r, err
	}
	r.Community = cid
	copy(r.Member[:], member)
	r.GlobalTime = uint64(gt)
	r.MessageID = msgID
	r.Sequence = seq
	r.Undone = undone
	if undone {
		copy(r.UndoneBy.Member[:], byMember)
		r.UndoneBy.GlobalTime = uint64(byGT.Int64)
	}
	copy(r.Hash[:], hash)
	if r.Packet == nil {
		r.Packet = []byte{}
	}
	if m1 != nil {
		if bytes.Equal(m1, member) {
			copy(r.Member2[:], m2)
		} else {
			copy(r.Member2[:], m1)
		}
	}
	return r, nil
}

// query runs a cached read statement.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, release, err := s.rstmts.get(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	return st.QueryContext(ctx, args...)
}

// queryRow runs a cached read statement that returns at most one row.
func (s *Store) queryRow(ctx context.Context, q string, args []any, dest ...any) (bool, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// readCommunityID returns the row id of cid for a read; ok is false when
// the community has no row (then every read finds nothing).
func (s *Store) readCommunityID(ctx context.Context, cid keys.CommunityID) (int64, bool, error) {
	s.cidMu.Lock()
	id, ok := s.cids[cid]
	s.cidMu.Unlock()
	if ok {
		return id, true, nil
	}
	found, err := s.queryRow(ctx, `SELECT id FROM community WHERE cid = ?`, []any{cid[:]}, &id)
	if err != nil || !found {
		return 0, false, err
	}
	s.cidMu.Lock()
	s.cids[cid] = id
	s.cidMu.Unlock()
	return id, true, nil
}

// collect runs a record query and calls fn for each record until it
// returns false.
func (s *Store) collect(ctx context.Context, cid keys.CommunityID, q string, args []any, fn func(*dispersy.Record) bool) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows, cid)
		if err != nil {
			return err
		}
		if !fn(&r) {
			return rows.Close()
		}
	}
	return rows.Err()
}

func (s *Store) all(ctx context.Context, cid keys.CommunityID, q string, args ...any) ([]dispersy.Record, error) {
	var out []dispersy.Record
	err := s.collect(ctx, cid, q, args, func(r *dispersy.Record) bool {
		out = append(out, *r)
		return true
	})
	return out, err
}

// Get returns the message (cid, key); ok is false if none is stored.
func (s *Store) Get(cid keys.CommunityID, key dispersy.MessageKey) (dispersy.Record, bool, error) {
	if s.closed.Load() {
		return dispersy.Record{}, false, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return dispersy.Record{}, false, s.fail("get", err)
	}
	if !ok || key.GlobalTime > maxGlobalTime {
		return dispersy.Record{}, false, nil
	}
	recs, err := s.all(ctx, cid, getSQL, id, key.Member[:], int64(key.GlobalTime))
	if err != nil {
		return dispersy.Record{}, false, s.fail("get", err)
	}
	if len(recs) == 0 {
		return dispersy.Record{}, false, nil
	}
	return recs[0], true, nil
}

// lookupChunk is how many keys one Lookup statement checks.
const lookupChunk = 64

// lookupSQL selects the records whose (global time, member) is one of n
// pairs: the row-value IN uses the primary key.
func lookupSQL(n int) string {
	var b strings.Builder
	b.WriteString(`SELECT ` + recordCols + recordFrom + `WHERE s.community = ? AND (s.global_time, s.member) IN (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
	}
	b.WriteString(")")
	return b.String()
}

// Lookup calls fn for each stored message of cid whose key is in keys, in
// chunks of lookupChunk keys per statement.
func (s *Store) Lookup(cid keys.CommunityID, list []dispersy.MessageKey, fn func(*dispersy.Record)) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return s.fail("lookup", err)
	}
	if !ok {
		return nil
	}
	args := make([]any, 0, 1+2*lookupChunk)
	for len(list) > 0 {
		chunk := list[:min(len(list), lookupChunk)]
		list = list[len(chunk):]
		args = append(args[:0], id)
		for _, k := range chunk {
			if k.GlobalTime <= maxGlobalTime {
				args = append(args, int64(k.GlobalTime), k.Member[:])
			}
		}
		n := (len(args) - 1) / 2
		if n == 0 {
			continue
		}
		err := s.collect(ctx, cid, lookupSQL(n), args, func(r *dispersy.Record) bool {
			fn(r)
			return true
		})
		if err != nil {
			return s.fail("lookup", err)
		}
	}
	return nil
}

// Has reports whether the message (cid, key) is stored.
func (s *Store) Has(cid keys.CommunityID, key dispersy.MessageKey) (bool, error) {
	if s.closed.Load() {
		return false, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return false, s.fail("has", err)
	}
	if !ok || key.GlobalTime > maxGlobalTime {
		return false, nil
	}
	var one int
	found, err := s.queryRow(ctx, hasSQL, []any{id, key.Member[:], int64(key.GlobalTime)}, &one)
	if err != nil {
		return false, s.fail("has", err)
	}
	return found, nil
}

// ByGlobalTimes returns member's messages at the given global times,
// ascending by global time, each once; missing ones are skipped.
func (s *Store) ByGlobalTimes(cid keys.CommunityID, member keys.MemberID, gts []uint64) ([]dispersy.Record, error) {
	if s.closed.Load() {
		return nil, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return nil, s.fail("by global times", err)
	}
	want := make([]uint64, 0, len(gts))
	for _, gt := range gts {
		if gt <= maxGlobalTime {
			want = append(want, gt)
		}
	}
	if !ok || len(want) == 0 {
		return nil, nil
	}
	js, err := json.Marshal(want)
	if err != nil {
		return nil, err
	}
	recs, err := s.all(ctx, cid, byGlobalTimesSQL, id, member[:], string(js))
	if err != nil {
		return nil, s.fail("by global times", err)
	}
	return recs, nil
}

// BySequence calls fn for member's messages of type msgID with sequence
// numbers in [lo, hi], ascending by (sequence, global time, packet).
func (s *Store) BySequence(cid keys.CommunityID, member keys.MemberID, msgID uint8, lo, hi uint32, fn func(*dispersy.Record) bool) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return s.fail("by sequence", err)
	}
	if !ok || lo > hi {
		return nil
	}
	q := bySequenceSQL(lo > 0)
	if err := s.collect(ctx, cid, q, []any{id, member[:], msgID, lo, hi}, fn); err != nil {
		return s.fail("by sequence", err)
	}
	return nil
}

// LastSequence returns the highest sequence number and the highest global
// time of member's messages of type msgID, undone ones included.
func (s *Store) LastSequence(cid keys.CommunityID, member keys.MemberID, msgID uint8) (uint32, uint64, error) {
	if s.closed.Load() {
		return 0, 0, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return 0, 0, s.fail("last sequence", err)
	}
	if !ok {
		return 0, 0, nil
	}
	unkeyed, err := s.unkeyed(ctx, id)
	if err != nil {
		return 0, 0, s.fail("last sequence", err)
	}
	q := lastSequenceSQL
	if unkeyed[msgID] {
		q = lastSequenceScanSQL
	}
	var seq, gt sql.NullInt64
	_, err = s.queryRow(ctx, q, []any{id, member[:], msgID}, &seq, &gt)
	if err != nil {
		return 0, 0, s.fail("last sequence", err)
	}
	return uint32(seq.Int64), uint64(gt.Int64), nil
}

// History returns the messages of type msgID by member (by the unordered
// pair {member, member2} when member2 is set), ascending by (global time,
// packet).
func (s *Store) History(cid keys.CommunityID, msgID uint8, member, member2 keys.MemberID) ([]dispersy.Record, error) {
	if s.closed.Load() {
		return nil, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return nil, s.fail("history", err)
	}
	if !ok {
		return nil, nil
	}
	var recs []dispersy.Record
	if member2 == (keys.MemberID{}) {
		unkeyed, uerr := s.unkeyed(ctx, id)
		if uerr != nil {
			return nil, s.fail("history", uerr)
		}
		q := historySQL
		if unkeyed[msgID] {
			q = historyScanSQL
		}
		recs, err = s.all(ctx, cid, q, id, member[:], msgID)
	} else {
		m1, m2 := pair(member, member2)
		recs, err = s.all(ctx, cid, pairHistorySQL, id, m1, m2, msgID)
	}
	if err != nil {
		return nil, s.fail("history", err)
	}
	return recs, nil
}

// MaxGlobalTime returns the highest global time stored in cid (0 if none).
func (s *Store) MaxGlobalTime(cid keys.CommunityID) (uint64, error) {
	if s.closed.Load() {
		return 0, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return 0, s.fail("max global time", err)
	}
	if !ok {
		return 0, nil
	}
	var gt sql.NullInt64
	if _, err := s.queryRow(ctx, maxGlobalTimeSQL, []any{id}, &gt); err != nil {
		return 0, s.fail("max global time", err)
	}
	return uint64(gt.Int64), nil
}

// SequenceCounters returns, for each message type, the highest sequence
// number member has in cid; types without sequence numbers are absent.
func (s *Store) SequenceCounters(cid keys.CommunityID, member keys.MemberID) (map[uint8]uint32, error) {
	if s.closed.Load() {
		return nil, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	out := make(map[uint8]uint32)
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return nil, s.fail("sequence counters", err)
	}
	if !ok {
		return out, nil
	}
	rows, err := s.query(ctx, `SELECT message_id, max(sequence) FROM sync
		WHERE community = ? AND member = ? AND sequence > 0 GROUP BY message_id`, id, member[:])
	if err != nil {
		return nil, s.fail("sequence counters", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t uint8
		var seq uint32
		if err := rows.Scan(&t, &seq); err != nil {
			return nil, s.fail("sequence counters", err)
		}
		out[t] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("sequence counters", err)
	}
	return out, nil
}

// typeList returns the distinct types, ascending, as an SQL list of
// literals (message ids are numbers we format, never user text).
func typeList(types []uint8) string {
	ts := slices.Clone(types)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(t)))
	}
	return b.String()
}

// Replay calls fn for every stored message of the given types in cid,
// undone ones included, ascending by (global time, packet).
func (s *Store) Replay(cid keys.CommunityID, types []uint8, fn func(*dispersy.Record) bool) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return s.fail("replay", err)
	}
	if !ok || len(types) == 0 {
		return nil
	}
	q := replaySQL(types)
	if err := s.collect(ctx, cid, q, []any{id}, fn); err != nil {
		return s.fail("replay", err)
	}
	return nil
}

// moduloClause returns the SQL condition (and its arguments) that keeps
// rows with (global_time + offset) % modulo == 0, computed without
// overflow; none is true when no stored global time can match.
func moduloClause(col string, modulo, offset uint64) (clause string, args []any, none bool) {
	if modulo <= 1 {
		return "", nil, false
	}
	r := (modulo - offset%modulo) % modulo
	if modulo > maxGlobalTime {
		// Every stored global time is below modulo: only gt == r matches.
		if r > maxGlobalTime {
			return "", nil, true
		}
		return ` AND ` + col + ` = ?`, []any{int64(r)}, false
	}
	return ` AND ` + col + ` % ? = ?`, []any{int64(modulo), int64(r)}, false
}

// Scan calls fn for live messages matching q, ordered by global time and,
// within one global time, by hash; q.Descending reverses the order.
func (s *Store) Scan(q dispersy.ScanQuery, fn func(dispersy.ScanRow) bool) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, q.Community)
	if err != nil {
		return s.fail("scan", err)
	}
	if !ok || len(q.Types) == 0 || (!q.Descending && q.From > maxGlobalTime) {
		return nil
	}
	mod, modArgs, none := moduloClause("global_time", q.Modulo, q.Offset)
	if none {
		return nil
	}
	keys, cached, err := s.cachedKeys(ctx, id)
	if err != nil {
		return s.fail("scan", err)
	}
	if cached {
		scanKeys(keys, q, min(q.From, maxGlobalTime), fn)
		return nil
	}
	read := 0
	defer func() { s.scans.readSQL(id, read) }()
	sqlq := scanSQL(q.Types, q.Descending, mod)
	args := append([]any{id, int64(min(q.From, maxGlobalTime))}, modArgs...)
	rows, err := s.query(ctx, sqlq, args...)
	if err != nil {
		return s.fail("scan", err)
	}
	defer rows.Close()
	var (
		gt    int64
		h     sql.RawBytes
		group []dispersy.ScanRow // the rows of one global time
	)
	// flush emits group sorted by hash (reversed when descending).
	flush := func() bool {
		slices.SortFunc(group, func(a, b dispersy.ScanRow) int {
			if q.Descending {
				a, b = b, a
			}
			return bytes.Compare(a.Hash[:], b.Hash[:])
		})
		for _, r := range group {
			if !fn(r) {
				return false
			}
		}
		group = group[:0]
		return true
	}
	for rows.Next() {
		if err := rows.Scan(&gt, &h); err != nil {
			return s.fail("scan", err)
		}
		read++
		row := dispersy.ScanRow{GlobalTime: uint64(gt)}
		copy(row.Hash[:], h)
		if len(group) > 0 && group[0].GlobalTime != row.GlobalTime && !flush() {
			return nil
		}
		group = append(group, row)
	}
	if err := rows.Err(); err != nil {
		return s.fail("scan", err)
	}
	flush()
	return nil
}

// Count returns the number of live messages of the given types in cid.
func (s *Store) Count(cid keys.CommunityID, types []uint8) (int, error) {
	if s.closed.Load() {
		return 0, dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, cid)
	if err != nil {
		return 0, s.fail("count", err)
	}
	if !ok || len(types) == 0 {
		return 0, nil
	}
	key := strconv.FormatInt(id, 10) + ":" + string(types)
	gen := s.scans.gen.Load()
	s.countMu.Lock()
	c, hit := s.counts[key]
	s.countMu.Unlock()
	if hit && c.gen == gen {
		return c.n, nil
	}
	var n int
	if _, err := s.queryRow(ctx, countSQL(types), []any{id}, &n); err != nil {
		return 0, s.fail("count", err)
	}
	s.countSQL.Add(1)
	// Apply bumps the generation before it commits, so a count read while
	// the generation stayed gen saw no commit after gen.
	if s.scans.gen.Load() == gen {
		s.countMu.Lock()
		if s.counts == nil || len(s.counts) > 64 {
			s.counts = map[string]countEntry{}
		}
		s.counts[key] = countEntry{gen, n}
		s.countMu.Unlock()
	}
	return n, nil
}

// Range calls fn for the messages matching q, ordered by global time and,
// within one global time, by packet; q.Descending reverses the order.
func (s *Store) Range(q dispersy.RangeQuery, fn func(*dispersy.Record) bool) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	ctx := context.Background()
	id, ok, err := s.readCommunityID(ctx, q.Community)
	if err != nil {
		return s.fail("range", err)
	}
	if !ok || q.Low > q.High || q.Low > maxGlobalTime {
		return nil
	}
	mod, modArgs, none := moduloClause("s.global_time", q.Modulo, q.Offset)
	if none {
		return nil
	}
	sqlq := rangeSQL(q.IncludeUndone, q.Descending, mod)
	args := append([]any{id, q.MessageID, int64(q.Low), int64(min(q.High, maxGlobalTime))}, modArgs...)
	// Emit each global time's records sorted by (packet, member), or the
	// reverse.
	var group []*dispersy.Record
	flush := func() bool {
		slices.SortFunc(group, func(a, b *dispersy.Record) int {
			if q.Descending {
				a, b = b, a
			}
			if c := bytes.Compare(a.Packet, b.Packet); c != 0 {
				return c
			}
			return bytes.Compare(a.Member[:], b.Member[:])
		})
		for _, r := range group {
			if !fn(r) {
				return false
			}
		}
		clear(group)
		group = group[:0]
		return true
	}
	stopped := false
	err = s.collect(ctx, q.Community, sqlq, args, func(r *dispersy.Record) bool {
		if len(group) > 0 && group[0].GlobalTime != r.GlobalTime && !flush() {
			stopped = true
			return false
		}
		group = append(group, r)
		return true
	})
	if err != nil {
		return s.fail("range", err)
	}
	if !stopped {
		flush()
	}
	return nil
}

// Member returns a member's record; ok is false if it is unknown.
func (s *Store) Member(id keys.MemberID) (dispersy.MemberRecord, bool, error) {
	if s.closed.Load() {
		return dispersy.MemberRecord{}, false, dispersy.ErrStoreClosed
	}
	rec := dispersy.MemberRecord{ID: id}
	found, err := s.queryRow(context.Background(), `SELECT public_key, private_key FROM member WHERE mid = ?`,
		[]any{id[:]}, &rec.PublicKey, &rec.PrivateKey)
	if err != nil {
		return dispersy.MemberRecord{}, false, s.fail("member", err)
	}
	if !found {
		return dispersy.MemberRecord{}, false, nil
	}
	return rec, true, nil
}

const communityCols = `SELECT cid, master, me, auto_load, classification FROM community`

func scanCommunity(rows interface{ Scan(...any) error }) (dispersy.CommunityRecord, error) {
	var (
		rec     dispersy.CommunityRecord
		cid, me []byte
	)
	if err := rows.Scan(&cid, &rec.Master, &me, &rec.AutoLoad, &rec.Classification); err != nil {
		return rec, err
	}
	copy(rec.ID[:], cid)
	copy(rec.Me[:], me)
	if rec.Master == nil {
		rec.Master = []byte{}
	}
	return rec, nil
}

// Community returns a community's record; ok is false if unknown.
func (s *Store) Community(id keys.CommunityID) (dispersy.CommunityRecord, bool, error) {
	if s.closed.Load() {
		return dispersy.CommunityRecord{}, false, dispersy.ErrStoreClosed
	}
	recs, err := s.communities(communityCols+` WHERE cid = ?`, id[:])
	if err != nil {
		return dispersy.CommunityRecord{}, false, s.fail("community", err)
	}
	if len(recs) == 0 {
		return dispersy.CommunityRecord{}, false, nil
	}
	return recs[0], true, nil
}

// Communities returns every community record, ordered by id.
func (s *Store) Communities() ([]dispersy.CommunityRecord, error) {
	if s.closed.Load() {
		return nil, dispersy.ErrStoreClosed
	}
	recs, err := s.communities(communityCols + ` ORDER BY cid`)
	if err != nil {
		return nil, s.fail("communities", err)
	}
	if recs == nil {
		recs = []dispersy.CommunityRecord{}
	}
	return recs, nil
}

func (s *Store) communities(q string, args ...any) ([]dispersy.CommunityRecord, error) {
	rows, err := s.query(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dispersy.CommunityRecord
	for rows.Next() {
		rec, err := scanCommunity(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// Types returns the stored message types of a community, by id.
func (s *Store) Types(cid keys.CommunityID) ([]dispersy.TypeRecord, error) {
	if s.closed.Load() {
		return nil, dispersy.ErrStoreClosed
	}
	rows, err := s.query(context.Background(), `SELECT t.id, t.name, t.priority, t.direction, t.unkeyed
		FROM message_type t JOIN community c ON c.id = t.community WHERE c.cid = ? ORDER BY t.id`, cid[:])
	if err != nil {
		return nil, s.fail("types", err)
	}
	defer rows.Close()
	var out []dispersy.TypeRecord
	for rows.Next() {
		var t dispersy.TypeRecord
		if err := rows.Scan(&t.ID, &t.Name, &t.Priority, &t.Direction, &t.Unkeyed); err != nil {
			return nil, s.fail("types", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("types", err)
	}
	return out, nil
}

// Option returns a stored option; ok is false if it is unset.
func (s *Store) Option(key string) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, dispersy.ErrStoreClosed
	}
	var v []byte
	found, err := s.queryRow(context.Background(), `SELECT value FROM option WHERE key = ?`, []any{key}, &v)
	if err != nil {
		return nil, false, s.fail("option", err)
	}
	if !found {
		return nil, false, nil
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}
