package dispersytest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// TestStore is the conformance suite for dispersy.Store implementations:
// every method and every batch operation, orderings and tie-breaks, undone
// and modulo filtering, pair trimming, atomic rollback, ErrStoreClosed,
// slice ownership, and a seeded differential run against MemStore.
//
// open must return a new, empty store for each call; TestStore closes the
// stores it opens. Call it from a test of the implementation's package:
//
//	func TestConformance(t *testing.T) {
//		dispersytest.TestStore(t, func(t *testing.T) dispersy.Store {
//			s, err := database.Open(filepath.Join(t.TempDir(), "db"), database.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
func TestStore(t *testing.T, open func(t *testing.T) dispersy.Store) {
	for _, tc := range storeTests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
	t.Run("Differential", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		testDifferential(t, s)
	})
}

var storeTests = []struct {
	name string
	fn   func(t *testing.T, s dispersy.Store)
}{
	{"Empty", testEmpty},
	{"PutGet", testPutGet},
	{"PutExists", testPutExists},
	{"PutNeedsCommunity", testPutNeedsCommunity},
	{"GlobalTimeLimit", testGlobalTimeLimit},
	{"AtomicRollback", testAtomicRollback},
	{"UnknownOp", testUnknownOp},
	{"ReplacePacket", testReplacePacket},
	{"Delete", testDelete},
	{"SetUndone", testSetUndone},
	{"ByGlobalTimes", testByGlobalTimes},
	{"Lookup", testLookup},
	{"Sequences", testSequences},
	{"HistoryAndTrim", testHistoryAndTrim},
	{"UnkeyedTypes", testUnkeyedTypes},
	{"TrimPair", testTrimPair},
	{"Prune", testPrune},
	{"DeleteCommunityExcept", testDeleteCommunityExcept},
	{"MaxGlobalTime", testMaxGlobalTime},
	{"Replay", testReplay},
	{"Scan", testScan},
	{"ScanModulo", testScanModulo},
	{"Count", testCount},
	{"Range", testRange},
	{"RangeModulo", testRangeModulo},
	{"Members", testMembers},
	{"Communities", testCommunities},
	{"Types", testTypes},
	{"Options", testOptions},
	{"NoAliasing", testNoAliasing},
	{"Closed", testClosed},
	{"Messages", testMessages},
}

// Fixed ids, in bytewise order: mA < mB < mC, c1 < c2.
var (
	c1 = keys.CommunityID{0x01, 0xc1}
	c2 = keys.CommunityID{0x02, 0xc2}
	mA = keys.MemberID{0x0a}
	mB = keys.MemberID{0x0b}
	mC = keys.MemberID{0x0c}
)

// rec builds a record whose packet is text and whose hash matches it.
func rec(cid keys.CommunityID, m keys.MemberID, gt uint64, msgID uint8, text string) dispersy.Record {
	pkt := []byte(text)
	return dispersy.Record{Community: cid, Member: m, GlobalTime: gt, MessageID: msgID, Hash: dispersy.PacketHash(pkt), Packet: pkt}
}

// pkt returns a distinct default packet text for (m, gt, msgID).
func pkt(m keys.MemberID, gt uint64, msgID uint8) string {
	return fmt.Sprintf("packet %x/%d/%d", m[0], gt, msgID)
}

func apply(t *testing.T, s dispersy.Store, b *dispersy.Batch) {
	t.Helper()
	if err := s.Apply(b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// setup stores the communities c1 and c2.
func setup(t *testing.T, s dispersy.Store) {
	t.Helper()
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: c1, Master: []byte("master1"), Me: mA, AutoLoad: true, Classification: "one"})
	b.PutCommunity(dispersy.CommunityRecord{ID: c2, Master: []byte("master2"), Me: mB, Classification: "two"})
	apply(t, s, &b)
}

func putAll(t *testing.T, s dispersy.Store, recs ...dispersy.Record) {
	t.Helper()
	var b dispersy.Batch
	for _, r := range recs {
		b.Put(r)
	}
	apply(t, s, &b)
}

// wantOpError checks that err is a *dispersy.OpError for op index/kind
// that wraps target (when target is not nil).
func wantOpError(t *testing.T, err error, index int, kind dispersy.OpKind, target error) {
	t.Helper()
	var oe *dispersy.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want a *dispersy.OpError", err)
	}
	if oe.Index != index || oe.Kind != kind {
		t.Fatalf("OpError names op %d (%v), want %d (%v): %v", oe.Index, oe.Kind, index, kind, err)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("err = %v, want it to wrap %v", err, target)
	}
}

func sameRecord(a, b dispersy.Record) bool {
	return a.Community == b.Community && a.Member == b.Member && a.GlobalTime == b.GlobalTime &&
		a.MessageID == b.MessageID && a.Sequence == b.Sequence && a.Member2 == b.Member2 &&
		a.Undone == b.Undone && a.UndoneBy == b.UndoneBy && a.Hash == b.Hash && bytes.Equal(a.Packet, b.Packet)
}

func checkRecords(t *testing.T, what string, got, want []dispersy.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records %s, want %d %s", what, len(got), describe(got), len(want), describe(want))
	}
	for i := range got {
		if !sameRecord(got[i], want[i]) {
			t.Fatalf("%s: record %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

func describe(recs []dispersy.Record) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%x@%d/%d", r.Member[0], r.GlobalTime, r.MessageID)
		if r.Undone {
			b.WriteString("(undone)")
		}
	}
	b.WriteByte(']')
	return b.String()
}

func getRec(t *testing.T, s dispersy.Store, cid keys.CommunityID, m keys.MemberID, gt uint64) (dispersy.Record, bool) {
	t.Helper()
	r, ok, err := s.Get(cid, dispersy.MessageKey{Member: m, GlobalTime: gt})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r, ok
}

func has(t *testing.T, s dispersy.Store, cid keys.CommunityID, m keys.MemberID, gt uint64) bool {
	t.Helper()
	ok, err := s.Has(cid, dispersy.MessageKey{Member: m, GlobalTime: gt})
	if err != nil {
		t.Fatalf("Has: %v", err)
	}
	return ok
}

func rangeAll(t *testing.T, s dispersy.Store, q dispersy.RangeQuery) []dispersy.Record {
	t.Helper()
	var out []dispersy.Record
	if err := s.Range(q, func(r *dispersy.Record) bool { out = append(out, *r); return true }); err != nil {
		t.Fatalf("Range(%+v): %v", q, err)
	}
	return out
}

func scanAll(t *testing.T, s dispersy.Store, q dispersy.ScanQuery) []dispersy.ScanRow {
	t.Helper()
	var out []dispersy.ScanRow
	if err := s.Scan(q, func(r dispersy.ScanRow) bool { out = append(out, r); return true }); err != nil {
		t.Fatalf("Scan(%+v): %v", q, err)
	}
	return out
}

func replayAll(t *testing.T, s dispersy.Store, cid keys.CommunityID, types []uint8) []dispersy.Record {
	t.Helper()
	var out []dispersy.Record
	if err := s.Replay(cid, types, func(r *dispersy.Record) bool { out = append(out, *r); return true }); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func count(t *testing.T, s dispersy.Store, cid keys.CommunityID, types ...uint8) int {
	t.Helper()
	n, err := s.Count(cid, types)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

// sortPacket sorts records by (global time, packet, member): the order of
// Range, Replay and History.
func sortPacket(recs []dispersy.Record) {
	slices.SortFunc(recs, func(a, b dispersy.Record) int {
		if c := cmp.Compare(a.GlobalTime, b.GlobalTime); c != 0 {
			return c
		}
		if c := bytes.Compare(a.Packet, b.Packet); c != 0 {
			return c
		}
		return bytes.Compare(a.Member[:], b.Member[:])
	})
}

// scanRows returns the live records as scan rows by (global time, hash).
func scanRows(recs []dispersy.Record) []dispersy.ScanRow {
	var out []dispersy.ScanRow
	for _, r := range recs {
		if !r.Undone {
			out = append(out, dispersy.ScanRow{GlobalTime: r.GlobalTime, Hash: r.Hash})
		}
	}
	slices.SortFunc(out, func(a, b dispersy.ScanRow) int {
		if c := cmp.Compare(a.GlobalTime, b.GlobalTime); c != 0 {
			return c
		}
		return bytes.Compare(a.Hash[:], b.Hash[:])
	})
	return out
}

func testEmpty(t *testing.T, s dispersy.Store) {
	if _, ok := getRec(t, s, c1, mA, 1); ok {
		t.Fatal("Get on an empty store found a record")
	}
	if has(t, s, c1, mA, 1) {
		t.Fatal("Has on an empty store is true")
	}
	if gt, err := s.MaxGlobalTime(c1); err != nil || gt != 0 {
		t.Fatalf("MaxGlobalTime = %d, %v; want 0, nil", gt, err)
	}
	if cs, err := s.Communities(); err != nil || len(cs) != 0 {
		t.Fatalf("Communities = %v, %v; want none", cs, err)
	}
	if n := count(t, s, c1, 1, 2, 3); n != 0 {
		t.Fatalf("Count = %d, want 0", n)
	}
	if rows := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}}); len(rows) != 0 {
		t.Fatalf("Scan = %v, want none", rows)
	}
	if v, ok, err := s.Option("x"); err != nil || ok || v != nil {
		t.Fatalf("Option = %q, %v, %v; want unset", v, ok, err)
	}
	if _, ok, err := s.Member(mA); err != nil || ok {
		t.Fatalf("Member = %v, %v; want unknown", ok, err)
	}
	if _, ok, err := s.Community(c1); err != nil || ok {
		t.Fatalf("Community = %v, %v; want unknown", ok, err)
	}
	if seq, gt, err := s.LastSequence(c1, mA, 1); err != nil || seq != 0 || gt != 0 {
		t.Fatalf("LastSequence = %d, %d, %v; want 0, 0", seq, gt, err)
	}
	if m, err := s.SequenceCounters(c1, mA); err != nil || len(m) != 0 {
		t.Fatalf("SequenceCounters = %v, %v; want empty", m, err)
	}
	if ts, err := s.Types(c1); err != nil || len(ts) != 0 {
		t.Fatalf("Types = %v, %v; want none", ts, err)
	}
	if err := s.Apply(&dispersy.Batch{}); err != nil {
		t.Fatalf("Apply(empty batch) = %v", err)
	}
}

func testPutGet(t *testing.T, s dispersy.Store) {
	setup(t, s)
	plain := rec(c1, mA, 5, 1, "plain")
	seq := rec(c1, mA, 6, 2, "with sequence")
	seq.Sequence = 7
	double := rec(c1, mB, 5, 3, "double signed")
	double.Member2 = mA
	undone := rec(c1, mC, 9, 1, "undone")
	undone.Undone = true
	undone.UndoneBy = dispersy.MessageKey{Member: mA, GlobalTime: 10}
	undonePerm := rec(c1, mC, 11, 1, "undone by a permission change")
	undonePerm.Undone = true
	empty := rec(c2, mA, 5, 1, "")
	putAll(t, s, plain, seq, double, undone, undonePerm, empty)

	for _, want := range []dispersy.Record{plain, seq, double, undone, undonePerm, empty} {
		got, ok := getRec(t, s, want.Community, want.Member, want.GlobalTime)
		if !ok {
			t.Fatalf("Get(%s) found nothing", describe([]dispersy.Record{want}))
		}
		checkRecords(t, "Get", []dispersy.Record{got}, []dispersy.Record{want})
		if !has(t, s, want.Community, want.Member, want.GlobalTime) {
			t.Fatalf("Has(%s) = false", describe([]dispersy.Record{want}))
		}
	}
	if got, _ := getRec(t, s, c2, mA, 5); got.Packet == nil {
		t.Fatal("Get of an empty packet returned a nil Packet; want an empty, non-nil slice")
	}
	for _, k := range []struct {
		cid keys.CommunityID
		m   keys.MemberID
		gt  uint64
	}{{c1, mA, 4}, {c1, mB, 6}, {c2, mB, 5}, {keys.CommunityID{9}, mA, 5}} {
		if has(t, s, k.cid, k.m, k.gt) {
			t.Fatalf("Has(%x, %x, %d) = true for a message never stored", k.cid[0], k.m[0], k.gt)
		}
		if _, ok := getRec(t, s, k.cid, k.m, k.gt); ok {
			t.Fatalf("Get(%x, %x, %d) found a message never stored", k.cid[0], k.m[0], k.gt)
		}
	}

	// A live record never reports an UndoneBy key.
	odd := rec(c1, mA, 20, 1, "live but names an undo")
	odd.UndoneBy = dispersy.MessageKey{Member: mB, GlobalTime: 3}
	putAll(t, s, odd)
	got, _ := getRec(t, s, c1, mA, 20)
	if got.UndoneBy != (dispersy.MessageKey{}) {
		t.Fatalf("live record reports UndoneBy %+v, want the zero key", got.UndoneBy)
	}
}

func testPutExists(t *testing.T, s dispersy.Store) {
	setup(t, s)
	putAll(t, s, rec(c1, mA, 5, 1, "first"))
	var b dispersy.Batch
	b.Put(rec(c1, mA, 5, 2, "other packet, same key"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, dispersy.ErrExists)
	got, _ := getRec(t, s, c1, mA, 5)
	if string(got.Packet) != "first" {
		t.Fatalf("stored packet = %q after a refused Put, want %q", got.Packet, "first")
	}
	// The same key in another community is another message.
	putAll(t, s, rec(c2, mA, 5, 1, "other community"))
	// Twice in one batch: the second fails, the first is rolled back.
	b.Reset()
	b.Put(rec(c1, mB, 8, 1, "x"))
	b.Put(rec(c1, mB, 8, 1, "x"))
	wantOpError(t, s.Apply(&b), 1, dispersy.OpPut, dispersy.ErrExists)
	if has(t, s, c1, mB, 8) {
		t.Fatal("first Put of a failed batch was kept")
	}
}

func testPutNeedsCommunity(t *testing.T, s dispersy.Store) {
	var b dispersy.Batch
	b.Put(rec(c1, mA, 5, 1, "x"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, dispersy.ErrNoCommunityRecord)
	b.Reset()
	b.PutTypes(c1, []dispersy.TypeRecord{{ID: 1, Name: "t"}})
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPutTypes, dispersy.ErrNoCommunityRecord)
	// In the same batch, after PutCommunity, it works.
	b.Reset()
	b.PutCommunity(dispersy.CommunityRecord{ID: c1, Master: []byte("m"), Me: mA})
	b.PutTypes(c1, []dispersy.TypeRecord{{ID: 1, Name: "t"}})
	b.Put(rec(c1, mA, 5, 1, "x"))
	apply(t, s, &b)
	if !has(t, s, c1, mA, 5) {
		t.Fatal("Put after PutCommunity in one batch was not stored")
	}
	// A Put whose op and record disagree on the community is refused.
	r := rec(c1, mA, 6, 1, "y")
	b.Reset()
	b.Ops = append(b.Ops, dispersy.Op{Kind: dispersy.OpPut, Community: c2, Record: r})
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, nil)
	// A failed PutCommunity+Put batch leaves no community behind.
	b.Reset()
	b.PutCommunity(dispersy.CommunityRecord{ID: c2, Master: []byte("m2"), Me: mB})
	b.Put(rec(c2, mA, 1, 1, "a"))
	b.Put(rec(c2, mA, 1, 1, "a"))
	wantOpError(t, s.Apply(&b), 2, dispersy.OpPut, dispersy.ErrExists)
	if _, ok, err := s.Community(c2); err != nil || ok {
		t.Fatalf("Community(c2) = %v, %v after a rolled-back batch; want unknown", ok, err)
	}
	b.Reset()
	b.Put(rec(c2, mA, 1, 1, "a"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, dispersy.ErrNoCommunityRecord)
}

func testGlobalTimeLimit(t *testing.T, s dispersy.Store) {
	setup(t, s)
	putAll(t, s, rec(c1, mA, maxGlobalTime, 1, "max"))
	if !has(t, s, c1, mA, maxGlobalTime) {
		t.Fatal("message at global time 2^63-1 not stored")
	}
	if gt, _ := s.MaxGlobalTime(c1); gt != maxGlobalTime {
		t.Fatalf("MaxGlobalTime = %d, want %d", gt, uint64(maxGlobalTime))
	}
	var b dispersy.Batch
	b.Put(rec(c1, mA, maxGlobalTime+1, 1, "too high"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, nil)
	undone := rec(c1, mB, 3, 1, "undone by a key too high")
	undone.Undone, undone.UndoneBy = true, dispersy.MessageKey{Member: mA, GlobalTime: maxGlobalTime + 1}
	b.Reset()
	b.Put(undone)
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPut, nil)
	putAll(t, s, rec(c1, mB, 3, 1, "b"))
	b.Reset()
	b.SetUndone(c1, dispersy.MessageKey{Member: mB, GlobalTime: 3}, true, dispersy.MessageKey{Member: mA, GlobalTime: math.MaxUint64})
	wantOpError(t, s.Apply(&b), 0, dispersy.OpSetUndone, nil)
	// Keys above the limit are simply absent.
	for _, gt := range []uint64{maxGlobalTime + 1, math.MaxUint64} {
		if has(t, s, c1, mA, gt) {
			t.Fatalf("Has(gt %d) = true", gt)
		}
		if _, ok := getRec(t, s, c1, mA, gt); ok {
			t.Fatalf("Get(gt %d) found a record", gt)
		}
		b.Reset()
		b.Delete(c1, dispersy.MessageKey{Member: mA, GlobalTime: gt})
		apply(t, s, &b)
		b.Reset()
		b.SetUndone(c1, dispersy.MessageKey{Member: mA, GlobalTime: gt}, false, dispersy.MessageKey{})
		wantOpError(t, s.Apply(&b), 0, dispersy.OpSetUndone, dispersy.ErrNotFound)
		r := rec(c1, mA, gt, 1, "x")
		b.Reset()
		b.ReplacePacket(r)
		wantOpError(t, s.Apply(&b), 0, dispersy.OpReplacePacket, dispersy.ErrNotFound)
	}
	recs, err := s.ByGlobalTimes(c1, mA, []uint64{math.MaxUint64, maxGlobalTime, maxGlobalTime + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].GlobalTime != maxGlobalTime {
		t.Fatalf("ByGlobalTimes = %s, want the one at 2^63-1", describe(recs))
	}
	// Queries with bounds above the limit clamp.
	if got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: math.MaxUint64}); len(got) != 2 {
		t.Fatalf("Range to MaxUint64 = %s, want 2 records", describe(got))
	}
	if got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: maxGlobalTime + 1, High: math.MaxUint64}); len(got) != 0 {
		t.Fatalf("Range above 2^63-1 = %s, want none", describe(got))
	}
	if got := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}, From: math.MaxUint64, Descending: true}); len(got) != 2 {
		t.Fatalf("Scan down from MaxUint64 = %v, want 2 rows", got)
	}
	if got := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}, From: maxGlobalTime + 1}); len(got) != 0 {
		t.Fatalf("Scan up from 2^63 = %v, want none", got)
	}
	b.Reset()
	b.Prune(c1, 1, math.MaxUint64)
	apply(t, s, &b)
	if n := count(t, s, c1, 1); n != 0 {
		t.Fatalf("Count after Prune(MaxUint64) = %d, want 0", n)
	}
}

// snapshot is everything a store holds, read through its interface, for
// comparing states.
type snapshot struct {
	Communities []dispersy.CommunityRecord
	Types       map[keys.CommunityID][]dispersy.TypeRecord
	Records     map[keys.CommunityID][]dispersy.Record
	MaxGT       map[keys.CommunityID]uint64
	Counts      map[keys.CommunityID]int
	Scans       map[keys.CommunityID][]dispersy.ScanRow
	Members     map[keys.MemberID]dispersy.MemberRecord
	Counters    map[string]map[uint8]uint32
	Last        map[string][2]uint64
	Options     map[string]string
}

var allTypes = func() []uint8 {
	ts := make([]uint8, 256)
	for i := range ts {
		ts[i] = uint8(i)
	}
	return ts
}()

func takeSnapshot(t *testing.T, s dispersy.Store, members []keys.MemberID, options []string, msgIDs []uint8) snapshot {
	t.Helper()
	sn := snapshot{
		Types:    map[keys.CommunityID][]dispersy.TypeRecord{},
		Records:  map[keys.CommunityID][]dispersy.Record{},
		MaxGT:    map[keys.CommunityID]uint64{},
		Counts:   map[keys.CommunityID]int{},
		Scans:    map[keys.CommunityID][]dispersy.ScanRow{},
		Members:  map[keys.MemberID]dispersy.MemberRecord{},
		Counters: map[string]map[uint8]uint32{},
		Last:     map[string][2]uint64{},
		Options:  map[string]string{},
	}
	var err error
	if sn.Communities, err = s.Communities(); err != nil {
		t.Fatal(err)
	}
	for _, c := range sn.Communities {
		cid := c.ID
		if sn.Types[cid], err = s.Types(cid); err != nil {
			t.Fatal(err)
		}
		sn.Records[cid] = replayAll(t, s, cid, allTypes)
		if sn.MaxGT[cid], err = s.MaxGlobalTime(cid); err != nil {
			t.Fatal(err)
		}
		sn.Counts[cid] = count(t, s, cid, allTypes...)
		sn.Scans[cid] = scanAll(t, s, dispersy.ScanQuery{Community: cid, Types: allTypes})
		for _, m := range members {
			k := fmt.Sprintf("%x/%x", cid[0], m[0])
			if sn.Counters[k], err = s.SequenceCounters(cid, m); err != nil {
				t.Fatal(err)
			}
			for _, id := range msgIDs {
				seq, gt, err := s.LastSequence(cid, m, id)
				if err != nil {
					t.Fatal(err)
				}
				sn.Last[fmt.Sprintf("%s/%d", k, id)] = [2]uint64{uint64(seq), gt}
			}
		}
	}
	for _, m := range members {
		r, ok, err := s.Member(m)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			sn.Members[m] = r
		}
	}
	for _, o := range options {
		v, ok, err := s.Option(o)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			sn.Options[o] = string(v)
		}
	}
	return sn
}

func (a snapshot) diff(b snapshot) string {
	if !reflect.DeepEqual(a.Communities, b.Communities) {
		return fmt.Sprintf("communities %+v != %+v", a.Communities, b.Communities)
	}
	for cid, ra := range a.Records {
		rb := b.Records[cid]
		if len(ra) != len(rb) {
			return fmt.Sprintf("community %x: records %s != %s", cid[0], describe(ra), describe(rb))
		}
		for i := range ra {
			if !sameRecord(ra[i], rb[i]) {
				return fmt.Sprintf("community %x: record %d: %+v != %+v", cid[0], i, ra[i], rb[i])
			}
		}
	}
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"types", a.Types, b.Types}, {"max global time", a.MaxGT, b.MaxGT}, {"counts", a.Counts, b.Counts},
		{"scans", a.Scans, b.Scans}, {"sequence counters", a.Counters, b.Counters},
		{"last sequence", a.Last, b.Last}, {"options", a.Options, b.Options},
	} {
		if !reflect.DeepEqual(f.a, f.b) {
			return fmt.Sprintf("%s: %v != %v", f.name, f.a, f.b)
		}
	}
	if len(a.Members) != len(b.Members) {
		return fmt.Sprintf("members %v != %v", a.Members, b.Members)
	}
	for id, ma := range a.Members {
		mb := b.Members[id]
		if !bytes.Equal(ma.PublicKey, mb.PublicKey) || !bytes.Equal(ma.PrivateKey, mb.PrivateKey) {
			return fmt.Sprintf("member %x: %+v != %+v", id[0], ma, mb)
		}
	}
	return ""
}

func testAtomicRollback(t *testing.T, s dispersy.Store) {
	setup(t, s)
	seqRec := rec(c1, mA, 3, 2, "seq 1")
	seqRec.Sequence = 1
	double := rec(c1, mA, 4, 3, "double")
	double.Member2 = mB
	putAll(t, s, rec(c1, mA, 1, 1, "a1"), rec(c1, mA, 2, 1, "a2"), seqRec, double, rec(c1, mB, 2, 1, "b2"), rec(c2, mC, 1, 1, "c1"))
	var b dispersy.Batch
	b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: []byte("pubA"), PrivateKey: []byte("privA")})
	b.PutTypes(c1, []dispersy.TypeRecord{{ID: 1, Name: "one", Priority: 128}})
	b.SetOption("o", []byte("before"))
	apply(t, s, &b)

	members := []keys.MemberID{mA, mB, mC}
	options := []string{"o", "new"}
	ids := []uint8{1, 2, 3}
	before := takeSnapshot(t, s, members, options, ids)

	// Every operation kind, then one that fails: the batch leaves no trace.
	// bad fails whatever ran before it: its community has no record.
	bad := rec(keys.CommunityID{8}, mA, 1, 1, "no such community")
	newSeq := rec(c1, mA, 9, 2, "seq 2")
	newSeq.Sequence = 2
	tail := []func(b *dispersy.Batch){
		func(b *dispersy.Batch) {
			b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: []byte("pubA2")})
		},
		func(b *dispersy.Batch) { b.PutMember(dispersy.MemberRecord{ID: mC, PublicKey: []byte("pubC")}) },
		func(b *dispersy.Batch) {
			b.PutCommunity(dispersy.CommunityRecord{ID: c1, Master: []byte("changed"), Me: mC})
		},
		func(b *dispersy.Batch) {
			b.PutCommunity(dispersy.CommunityRecord{ID: keys.CommunityID{7}, Master: []byte("new"), Me: mC})
		},
		func(b *dispersy.Batch) { b.PutTypes(c1, []dispersy.TypeRecord{{ID: 9, Name: "nine"}}) },
		func(b *dispersy.Batch) { b.Put(newSeq) },
		func(b *dispersy.Batch) { b.Put(rec(c2, mA, 1, 3, "new in c2")) },
		func(b *dispersy.Batch) { b.ReplacePacket(rec(c1, mA, 2, 1, "replaced")) },
		func(b *dispersy.Batch) { b.Delete(c1, dispersy.MessageKey{Member: mB, GlobalTime: 2}) },
		func(b *dispersy.Batch) {
			b.SetUndone(c1, dispersy.MessageKey{Member: mA, GlobalTime: 1}, true, dispersy.MessageKey{Member: mB, GlobalTime: 9})
		},
		func(b *dispersy.Batch) { b.Trim(c1, 3, mB, mA, 0) },
		func(b *dispersy.Batch) { b.Trim(c1, 1, mA, keys.MemberID{}, 0) },
		func(b *dispersy.Batch) { b.Prune(c1, 2, 100) },
		func(b *dispersy.Batch) { b.DeleteCommunityExcept(c2, nil) },
		func(b *dispersy.Batch) { b.SetOption("o", []byte("after")) },
		func(b *dispersy.Batch) { b.SetOption("new", []byte("x")) },
	}
	for i, add := range tail {
		// The brief's case: ops 1-2 succeed, the 3rd fails; and every
		// operation kind in place of op 1.
		b.Reset()
		add(&b)
		tail[(i+1)%len(tail)](&b)
		b.Put(bad)
		wantOpError(t, s.Apply(&b), 2, dispersy.OpPut, dispersy.ErrNoCommunityRecord)
		if d := takeSnapshot(t, s, members, options, ids).diff(before); d != "" {
			t.Fatalf("batch %d: state changed by a failed batch: %s", i, d)
		}
	}
	// A new community with a message in it.
	b.Reset()
	b.PutCommunity(dispersy.CommunityRecord{ID: keys.CommunityID{7}, Master: []byte("new"), Me: mC})
	b.Put(rec(keys.CommunityID{7}, mA, 1, 1, "in new community"))
	b.Put(bad)
	wantOpError(t, s.Apply(&b), 2, dispersy.OpPut, dispersy.ErrNoCommunityRecord)
	if d := takeSnapshot(t, s, members, options, ids).diff(before); d != "" {
		t.Fatalf("state changed by a failed batch: %s", d)
	}
	if has(t, s, keys.CommunityID{7}, mA, 1) {
		t.Fatal("message in a rolled-back community is stored")
	}
	// All of them at once.
	b.Reset()
	for _, add := range tail {
		add(&b)
	}
	b.Put(bad)
	wantOpError(t, s.Apply(&b), len(b.Ops)-1, dispersy.OpPut, dispersy.ErrNoCommunityRecord)
	if d := takeSnapshot(t, s, members, options, ids).diff(before); d != "" {
		t.Fatalf("state changed by a failed batch: %s", d)
	}
	// The store still works after rollbacks.
	b.Reset()
	for _, add := range tail {
		add(&b)
	}
	apply(t, s, &b)
	if v, _, _ := s.Option("o"); string(v) != "after" {
		t.Fatalf("after a successful batch, option o = %q", v)
	}
	if _, ok, _ := s.Community(keys.CommunityID{7}); !ok {
		t.Fatal("after a successful batch, the new community is missing")
	}
	if has(t, s, c1, mA, 1) || has(t, s, c1, mA, 2) || has(t, s, c2, mA, 1) || count(t, s, c1, 2) != 0 {
		t.Fatal("after a successful batch, Trim, Prune or DeleteCommunityExcept did not apply")
	}
}

func testUnknownOp(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var b dispersy.Batch
	b.SetOption("x", []byte("y"))
	b.Ops = append(b.Ops, dispersy.Op{Kind: 0}, dispersy.Op{Kind: 200})
	wantOpError(t, s.Apply(&b), 1, 0, nil)
	if _, ok, _ := s.Option("x"); ok {
		t.Fatal("option of a failed batch was kept")
	}
	b.Reset()
	b.Trim(c1, 1, mA, keys.MemberID{}, -1)
	wantOpError(t, s.Apply(&b), 0, dispersy.OpTrim, nil)
}

func testReplacePacket(t *testing.T, s dispersy.Store) {
	setup(t, s)
	putAll(t, s, rec(c1, mA, 5, 1, "m"), rec(c1, mB, 5, 1, "n"))
	// Range orders one global time by packet: m (A) before n (B).
	got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: 10})
	if len(got) != 2 || got[0].Member != mA {
		t.Fatalf("Range = %s, want A then B", describe(got))
	}
	var b dispersy.Batch
	b.ReplacePacket(rec(c1, mA, 5, 1, "z"))
	apply(t, s, &b)
	r, _ := getRec(t, s, c1, mA, 5)
	if string(r.Packet) != "z" || r.Hash != dispersy.PacketHash([]byte("z")) {
		t.Fatalf("after ReplacePacket: packet %q hash %x", r.Packet, r.Hash)
	}
	got = rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: 10})
	if len(got) != 2 || got[0].Member != mB {
		t.Fatalf("Range after replace = %s, want B (n) then A (z)", describe(got))
	}
	b.Reset()
	b.ReplacePacket(rec(c1, mC, 5, 1, "missing"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpReplacePacket, dispersy.ErrNotFound)
	b.Reset()
	b.ReplacePacket(rec(keys.CommunityID{9}, mA, 5, 1, "unknown community"))
	wantOpError(t, s.Apply(&b), 0, dispersy.OpReplacePacket, dispersy.ErrNotFound)
}

func testDelete(t *testing.T, s dispersy.Store) {
	setup(t, s)
	double := rec(c1, mA, 6, 3, "double")
	double.Member2 = mB
	putAll(t, s, rec(c1, mA, 5, 1, "a"), double, rec(c2, mA, 5, 1, "other community"))
	var b dispersy.Batch
	b.Delete(c1, dispersy.MessageKey{Member: mA, GlobalTime: 5})
	b.Delete(c1, dispersy.MessageKey{Member: mA, GlobalTime: 6})
	b.Delete(c1, dispersy.MessageKey{Member: mC, GlobalTime: 5})                  // not stored: no error
	b.Delete(keys.CommunityID{9}, dispersy.MessageKey{Member: mA, GlobalTime: 5}) // unknown community
	apply(t, s, &b)
	if has(t, s, c1, mA, 5) || has(t, s, c1, mA, 6) {
		t.Fatal("deleted message still stored")
	}
	if !has(t, s, c2, mA, 5) {
		t.Fatal("Delete removed the same key from another community")
	}
	if h, _ := s.History(c1, 3, mA, mB); len(h) != 0 {
		t.Fatalf("History of the pair after delete = %s", describe(h))
	}
	// The key can be stored again.
	putAll(t, s, rec(c1, mA, 5, 1, "again"))
}

func testSetUndone(t *testing.T, s dispersy.Store) {
	setup(t, s)
	putAll(t, s, rec(c1, mA, 5, 1, "a5"), rec(c1, mA, 6, 1, "a6"), rec(c1, mB, 7, 1, "b7"))
	by := dispersy.MessageKey{Member: mC, GlobalTime: 8}
	var b dispersy.Batch
	b.SetUndone(c1, dispersy.MessageKey{Member: mA, GlobalTime: 5}, true, by)
	b.SetUndone(c1, dispersy.MessageKey{Member: mB, GlobalTime: 7}, true, dispersy.MessageKey{})
	apply(t, s, &b)
	r, _ := getRec(t, s, c1, mA, 5)
	if !r.Undone || r.UndoneBy != by {
		t.Fatalf("after undo: Undone %v By %+v, want true %+v", r.Undone, r.UndoneBy, by)
	}
	r, _ = getRec(t, s, c1, mB, 7)
	if !r.Undone || r.UndoneBy != (dispersy.MessageKey{}) {
		t.Fatalf("after permission undo: Undone %v By %+v, want true and the zero key", r.Undone, r.UndoneBy)
	}
	if n := count(t, s, c1, 1); n != 1 {
		t.Fatalf("Count = %d, want 1 live", n)
	}
	if rows := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}}); len(rows) != 1 || rows[0].GlobalTime != 6 {
		t.Fatalf("Scan = %v, want only @6", rows)
	}
	if got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: 10}); len(got) != 1 {
		t.Fatalf("Range = %s, want the live one", describe(got))
	}
	if got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: 10, IncludeUndone: true}); len(got) != 3 {
		t.Fatalf("Range IncludeUndone = %s, want all 3", describe(got))
	}
	// Undoing twice changes nothing; redo clears the undo key.
	b.Reset()
	b.SetUndone(c1, dispersy.MessageKey{Member: mA, GlobalTime: 5}, true, by)
	b.SetUndone(c1, dispersy.MessageKey{Member: mA, GlobalTime: 5}, false, by)
	apply(t, s, &b)
	r, _ = getRec(t, s, c1, mA, 5)
	if r.Undone || r.UndoneBy != (dispersy.MessageKey{}) {
		t.Fatalf("after redo: Undone %v By %+v, want live with the zero key", r.Undone, r.UndoneBy)
	}
	if n := count(t, s, c1, 1); n != 2 {
		t.Fatalf("Count after redo = %d, want 2", n)
	}
	b.Reset()
	b.SetUndone(c1, dispersy.MessageKey{Member: mC, GlobalTime: 5}, true, by)
	wantOpError(t, s.Apply(&b), 0, dispersy.OpSetUndone, dispersy.ErrNotFound)
	b.Reset()
	b.SetUndone(keys.CommunityID{9}, dispersy.MessageKey{Member: mA, GlobalTime: 5}, true, by)
	wantOpError(t, s.Apply(&b), 0, dispersy.OpSetUndone, dispersy.ErrNotFound)
}

func testByGlobalTimes(t *testing.T, s dispersy.Store) {
	setup(t, s)
	a3, a5, a9 := rec(c1, mA, 3, 1, "a3"), rec(c1, mA, 5, 2, "a5"), rec(c1, mA, 9, 1, "a9")
	a9.Undone = true
	putAll(t, s, a3, a5, a9, rec(c1, mB, 5, 1, "b5"), rec(c2, mA, 4, 1, "other"))
	for _, tc := range []struct {
		gts  []uint64
		want []dispersy.Record
	}{
		{nil, nil},
		{[]uint64{5}, []dispersy.Record{a5}},
		{[]uint64{9, 3, 5}, []dispersy.Record{a3, a5, a9}},
		{[]uint64{5, 5, 4, 3, 3, 100}, []dispersy.Record{a3, a5}},
		{[]uint64{1, 2, 4}, nil},
	} {
		got, err := s.ByGlobalTimes(c1, mA, tc.gts)
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, fmt.Sprintf("ByGlobalTimes(%v)", tc.gts), got, tc.want)
	}
	if got, _ := s.ByGlobalTimes(keys.CommunityID{9}, mA, []uint64{3}); len(got) != 0 {
		t.Fatalf("ByGlobalTimes in an unknown community = %s", describe(got))
	}
}

func testLookup(t *testing.T, s dispersy.Store) {
	setup(t, s)
	a3, b3, a9 := rec(c1, mA, 3, 1, "a3"), rec(c1, mB, 3, 2, "b3"), rec(c1, mA, 9, 1, "a9")
	a9.Undone = true
	putAll(t, s, a3, b3, a9, rec(c2, mA, 4, 1, "other community"))
	lookup := func(cid keys.CommunityID, ks ...dispersy.MessageKey) []dispersy.Record {
		t.Helper()
		var got []dispersy.Record
		if err := s.Lookup(cid, ks, func(r *dispersy.Record) { got = append(got, *r) }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(x, y dispersy.Record) int {
			if x.GlobalTime != y.GlobalTime {
				return int(x.GlobalTime) - int(y.GlobalTime)
			}
			return bytes.Compare(x.Member[:], y.Member[:])
		})
		return got
	}
	k := func(m keys.MemberID, gt uint64) dispersy.MessageKey {
		return dispersy.MessageKey{Member: m, GlobalTime: gt}
	}
	checkRecords(t, "Lookup(none)", lookup(c1), nil)
	checkRecords(t, "Lookup(a3, b3, a9 undone, misses)", lookup(c1, k(mA, 3), k(mB, 3), k(mA, 9), k(mA, 4), k(mC, 3), k(mA, 1<<63+5)), []dispersy.Record{a3, b3, a9})
	checkRecords(t, "Lookup(other community)", lookup(keys.CommunityID{9}, k(mA, 3)), nil)
	// More keys than one statement holds.
	var many []dispersy.MessageKey
	for gt := uint64(1); gt <= 200; gt++ {
		many = append(many, k(mA, gt), k(mB, gt))
	}
	checkRecords(t, "Lookup(400 keys)", lookup(c1, many...), []dispersy.Record{a3, b3, a9})
}

func testSequences(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var recs []dispersy.Record
	for i := uint32(1); i <= 6; i++ {
		r := rec(c1, mA, uint64(10*i), 2, fmt.Sprintf("seq %d", i))
		r.Sequence = i
		recs = append(recs, r)
	}
	recs[5].Undone = true // undone messages keep their sequence number
	other := rec(c1, mA, 100, 3, "other type")
	other.Sequence = 2
	noSeq := rec(c1, mA, 200, 1, "no sequence")
	bSeq := rec(c1, mB, 5, 2, "B's")
	bSeq.Sequence = 9
	putAll(t, s, append(slices.Clone(recs), other, noSeq, bSeq)...)

	collect := func(lo, hi uint32, limit int) []dispersy.Record {
		var out []dispersy.Record
		err := s.BySequence(c1, mA, 2, lo, hi, func(r *dispersy.Record) bool {
			out = append(out, *r)
			return len(out) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	checkRecords(t, "BySequence(2, 4)", collect(2, 4, 100), recs[1:4])
	checkRecords(t, "BySequence(1, 100)", collect(1, 100, 100), recs)
	checkRecords(t, "BySequence(3, 100) stopping after 2", collect(3, 100, 2), recs[2:4])
	checkRecords(t, "BySequence(5, 4)", collect(5, 4, 100), nil)
	checkRecords(t, "BySequence(7, 9)", collect(7, 9, 100), nil)

	for _, tc := range []struct {
		m    keys.MemberID
		id   uint8
		seq  uint32
		gt   uint64
		name string
	}{
		{mA, 2, 6, 60, "A type 2"}, {mA, 3, 2, 100, "A type 3"}, {mA, 1, 0, 200, "A type 1 (no sequence)"},
		{mA, 4, 0, 0, "A type 4 (none)"}, {mB, 2, 9, 5, "B type 2"}, {mC, 2, 0, 0, "C"},
	} {
		seq, gt, err := s.LastSequence(c1, tc.m, tc.id)
		if err != nil || seq != tc.seq || gt != tc.gt {
			t.Fatalf("LastSequence(%s) = %d, %d, %v; want %d, %d", tc.name, seq, gt, err, tc.seq, tc.gt)
		}
	}
	got, err := s.SequenceCounters(c1, mA)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint8]uint32{2: 6, 3: 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SequenceCounters(A) = %v, want %v", got, want)
	}
	if got, _ := s.SequenceCounters(c2, mA); len(got) != 0 {
		t.Fatalf("SequenceCounters in c2 = %v, want empty", got)
	}
}

func testHistoryAndTrim(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var hist []dispersy.Record
	for _, gt := range []uint64{14, 11, 19, 12, 17} {
		hist = append(hist, rec(c1, mA, gt, 5, pkt(mA, gt, 5)))
	}
	hist[1].Undone = true // undone messages count towards the history
	others := []dispersy.Record{rec(c1, mB, 13, 5, "B"), rec(c1, mA, 15, 6, "other type"), rec(c2, mA, 16, 5, "other community")}
	putAll(t, s, append(slices.Clone(hist), others...)...)

	sorted := slices.Clone(hist)
	sortPacket(sorted)
	got, err := s.History(c1, 5, mA, keys.MemberID{})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, "History(A)", got, sorted)

	for _, keep := range []int{10, 5, 3, 1, 0} {
		var b dispersy.Batch
		b.Trim(c1, 5, mA, keys.MemberID{}, keep)
		apply(t, s, &b)
		want := sorted[max(0, len(sorted)-keep):]
		got, _ := s.History(c1, 5, mA, keys.MemberID{})
		checkRecords(t, fmt.Sprintf("History after Trim(keep %d)", keep), got, want)
		for _, o := range others {
			if !has(t, s, o.Community, o.Member, o.GlobalTime) {
				t.Fatalf("Trim(keep %d) removed %s", keep, describe([]dispersy.Record{o}))
			}
		}
	}
	// Trim of an unknown community or member is a no-op.
	var b dispersy.Batch
	b.Trim(keys.CommunityID{9}, 5, mA, keys.MemberID{}, 0)
	b.Trim(c1, 5, mC, keys.MemberID{}, 0)
	apply(t, s, &b)
}

func testTrimPair(t *testing.T, s dispersy.Store) {
	// Dispersy's test_sync last_1_doublemember: history per unordered pair.
	setup(t, s)
	mk := func(first, second keys.MemberID, gt uint64, text string) dispersy.Record {
		r := rec(c1, first, gt, 7, text)
		r.Member2 = second
		return r
	}
	ab20 := mk(mA, mB, 20, "AB@20")
	ba20 := mk(mB, mA, 20, "BA@20 sorts before AB@20") // same global time, other creator
	ab21 := mk(mA, mB, 21, "AB@21")
	ba22 := mk(mB, mA, 22, "BA@22")
	ac18 := mk(mA, mC, 18, "AC@18")
	ca23 := mk(mC, mA, 23, "CA@23")
	single := rec(c1, mA, 24, 7, "A alone")
	putAll(t, s, ab20, ba20, ab21, ba22, ac18, ca23, single)

	for _, tc := range []struct {
		name   string
		m1, m2 keys.MemberID
		want   []dispersy.Record
	}{
		{"AB", mA, mB, []dispersy.Record{ab20, ba20, ab21, ba22}},
		{"BA", mB, mA, []dispersy.Record{ab20, ba20, ab21, ba22}},
		{"AC", mA, mC, []dispersy.Record{ac18, ca23}},
		{"CA", mC, mA, []dispersy.Record{ac18, ca23}},
		{"BC", mB, mC, nil},
		// Without a second member, History selects by creator.
		{"A", mA, keys.MemberID{}, []dispersy.Record{ab20, ab21, ac18, single}},
		{"B", mB, keys.MemberID{}, []dispersy.Record{ba20, ba22}},
	} {
		want := slices.Clone(tc.want)
		sortPacket(want)
		got, err := s.History(c1, 7, tc.m1, tc.m2)
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, "History("+tc.name+")", got, want)
	}
	// Trim the pair {B, A} (either order) to 1: only BA@22 stays; AC and
	// the single-signed message are untouched.
	var b dispersy.Batch
	b.Trim(c1, 7, mB, mA, 1)
	apply(t, s, &b)
	got, _ := s.History(c1, 7, mA, mB)
	checkRecords(t, "History(AB) after Trim 1", got, []dispersy.Record{ba22})
	got, _ = s.History(c1, 7, mC, mA)
	checkRecords(t, "History(AC) after Trim(BA)", got, []dispersy.Record{ac18, ca23})
	if !has(t, s, c1, mA, 24) {
		t.Fatal("pair Trim removed a single-signed message")
	}
	b.Reset()
	b.Trim(c1, 7, mA, mC, 0)
	apply(t, s, &b)
	if got, _ := s.History(c1, 7, mA, mC); len(got) != 0 {
		t.Fatalf("History(AC) after Trim 0 = %s", describe(got))
	}
}

func testPrune(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var recs []dispersy.Record
	for gt := uint64(1); gt <= 10; gt++ {
		m := keys.MemberID{byte(1 + gt%3)}
		r := rec(c1, m, gt, 4, pkt(m, gt, 4))
		r.Undone = gt == 3
		recs = append(recs, r)
	}
	putAll(t, s, append(recs, rec(c1, mA, 2, 5, "other type"), rec(c2, mA, 2, 4, "other community"))...)
	var b dispersy.Batch
	b.Prune(c1, 4, 5)
	apply(t, s, &b)
	got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 4, Low: 0, High: 100, IncludeUndone: true})
	if len(got) != 5 || got[0].GlobalTime != 6 {
		t.Fatalf("after Prune(<=5): %s, want @6..@10", describe(got))
	}
	if !has(t, s, c1, mA, 2) || !has(t, s, c2, mA, 2) {
		t.Fatal("Prune removed another type's or community's message")
	}
	b.Reset()
	b.Prune(c1, 4, 0)
	b.Prune(keys.CommunityID{9}, 4, 100)
	apply(t, s, &b)
	if n := count(t, s, c1, 4); n != 5 {
		t.Fatalf("Count after Prune(0) = %d, want 5", n)
	}
	// A range deletes only above its lower bound: @6 stays, @7 and @8 go.
	b.Reset()
	b.PruneRange(c1, 4, 6, 8)
	b.PruneRange(c1, 4, 9, 9)
	b.PruneRange(c1, 4, 10, 3)
	b.PruneRange(c1, 4, math.MaxUint64, math.MaxUint64)
	apply(t, s, &b)
	got = rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 4, Low: 0, High: 100, IncludeUndone: true})
	if len(got) != 3 || got[0].GlobalTime != 6 || got[1].GlobalTime != 9 || got[2].GlobalTime != 10 {
		t.Fatalf("after PruneRange(6, 8]: %s, want @6 @9 @10", describe(got))
	}
}

func testDeleteCommunityExcept(t *testing.T, s dispersy.Store) {
	setup(t, s)
	double := rec(c1, mB, 2, 3, "double")
	double.Member2 = mA
	putAll(t, s, rec(c1, mA, 1, 1, "a1"), rec(c1, mA, 2, 2, "a2"), double, rec(c1, mC, 9, 1, "c9"), rec(c2, mA, 1, 1, "other"))
	var b dispersy.Batch
	b.DeleteCommunityExcept(c1, []dispersy.MessageKey{{Member: mA, GlobalTime: 2}, {Member: mB, GlobalTime: 2}, {Member: mC, GlobalTime: 100}, {Member: mA, GlobalTime: math.MaxUint64}})
	apply(t, s, &b)
	got := replayAll(t, s, c1, allTypes)
	if len(got) != 2 || got[0].Member != mA || got[1].Member != mB || got[1].Member2 != mA {
		t.Fatalf("after DeleteCommunityExcept: %s, want A@2 and the double-signed B@2", describe(got))
	}
	if !has(t, s, c2, mA, 1) {
		t.Fatal("DeleteCommunityExcept touched another community")
	}
	b.Reset()
	b.DeleteCommunityExcept(c1, nil)
	b.DeleteCommunityExcept(keys.CommunityID{9}, nil)
	apply(t, s, &b)
	if got := replayAll(t, s, c1, allTypes); len(got) != 0 {
		t.Fatalf("after DeleteCommunityExcept(nil): %s", describe(got))
	}
	if h, _ := s.History(c1, 3, mA, mB); len(h) != 0 {
		t.Fatalf("pair history survived: %s", describe(h))
	}
}

func testMaxGlobalTime(t *testing.T, s dispersy.Store) {
	setup(t, s)
	u := rec(c1, mB, 30, 9, "undone counts")
	u.Undone = true
	putAll(t, s, rec(c1, mA, 12, 1, "a"), u, rec(c2, mA, 99, 1, "c2"))
	for _, tc := range []struct {
		cid  keys.CommunityID
		want uint64
	}{{c1, 30}, {c2, 99}, {keys.CommunityID{9}, 0}} {
		if gt, err := s.MaxGlobalTime(tc.cid); err != nil || gt != tc.want {
			t.Fatalf("MaxGlobalTime(%x) = %d, %v; want %d", tc.cid[0], gt, err, tc.want)
		}
	}
}

func testReplay(t *testing.T, s dispersy.Store) {
	setup(t, s)
	r1 := rec(c1, mA, 7, 1, "x")
	r2 := rec(c1, mB, 7, 2, "a") // same global time: packet "a" first
	r3 := rec(c1, mC, 3, 1, "q")
	r3.Undone = true
	r4 := rec(c1, mA, 9, 3, "not replayed")
	putAll(t, s, r1, r2, r3, r4, rec(c2, mA, 1, 1, "other community"))
	checkRecords(t, "Replay(1, 2)", replayAll(t, s, c1, []uint8{2, 1, 2}), []dispersy.Record{r3, r2, r1})
	checkRecords(t, "Replay(nil)", replayAll(t, s, c1, nil), nil)
	var n int
	if err := s.Replay(c1, allTypes, func(*dispersy.Record) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Fatalf("Replay stopping after 2 called fn %d times, err %v", n, err)
	}
}

func testScan(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var recs []dispersy.Record
	for i, m := range []keys.MemberID{mA, mB, mC} {
		for gt := uint64(1); gt <= 12; gt++ {
			if (gt+uint64(i))%3 == 0 {
				continue
			}
			r := rec(c1, m, gt, uint8(1+gt%3), pkt(m, gt, 1))
			r.Undone = gt == 5 && m == mB
			recs = append(recs, r)
		}
	}
	putAll(t, s, append(recs, rec(c2, mA, 4, 1, "other community"))...)
	filter := func(types []uint8, keep func(dispersy.Record) bool) []dispersy.ScanRow {
		var sel []dispersy.Record
		for _, r := range recs {
			if slices.Contains(types, r.MessageID) && keep(r) {
				sel = append(sel, r)
			}
		}
		return scanRows(sel)
	}
	reverse := func(rows []dispersy.ScanRow) []dispersy.ScanRow {
		rows = slices.Clone(rows)
		slices.Reverse(rows)
		return rows
	}
	all := []uint8{1, 2, 3}
	for _, tc := range []struct {
		name string
		q    dispersy.ScanQuery
		want []dispersy.ScanRow
	}{
		{"all ascending", dispersy.ScanQuery{Community: c1, Types: all}, filter(all, func(dispersy.Record) bool { return true })},
		{"from 7 ascending", dispersy.ScanQuery{Community: c1, Types: all, From: 7}, filter(all, func(r dispersy.Record) bool { return r.GlobalTime >= 7 })},
		{"from 7 descending", dispersy.ScanQuery{Community: c1, Types: all, From: 7, Descending: true}, reverse(filter(all, func(r dispersy.Record) bool { return r.GlobalTime <= 7 }))},
		{"from 0 descending", dispersy.ScanQuery{Community: c1, Types: all, Descending: true}, nil},
		{"types 2 and 3", dispersy.ScanQuery{Community: c1, Types: []uint8{3, 2}, From: 2}, filter([]uint8{2, 3}, func(r dispersy.Record) bool { return r.GlobalTime >= 2 })},
		{"no types", dispersy.ScanQuery{Community: c1, From: 1}, nil},
		{"unknown type", dispersy.ScanQuery{Community: c1, Types: []uint8{200}}, nil},
		{"unknown community", dispersy.ScanQuery{Community: keys.CommunityID{9}, Types: all}, nil},
	} {
		got := scanAll(t, s, tc.q)
		if !slices.Equal(got, tc.want) {
			t.Fatalf("Scan %s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
	// Within one global time, rows are ordered by hash (and the reverse
	// when descending): check directly.
	got := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: all})
	for i := 1; i < len(got); i++ {
		if got[i-1].GlobalTime == got[i].GlobalTime && bytes.Compare(got[i-1].Hash[:], got[i].Hash[:]) >= 0 {
			t.Fatalf("Scan rows %d and %d share global time %d but are not in hash order", i-1, i, got[i].GlobalTime)
		}
	}
	// Stopping early.
	var n int
	if err := s.Scan(dispersy.ScanQuery{Community: c1, Types: all}, func(dispersy.ScanRow) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Fatalf("Scan stopping after 3 called fn %d times, err %v", n, err)
	}
}

func testScanModulo(t *testing.T, s dispersy.Store) {
	setup(t, s)
	var recs []dispersy.Record
	for gt := uint64(10); gt <= 39; gt++ {
		recs = append(recs, rec(c1, mA, gt, 1, pkt(mA, gt, 1)))
	}
	putAll(t, s, recs...)
	for modulo := uint64(0); modulo <= 9; modulo++ {
		for offset := uint64(0); offset < max(modulo, 1)+2; offset++ {
			var want []dispersy.Record
			for _, r := range recs {
				if modulo <= 1 || (r.GlobalTime+offset)%modulo == 0 {
					want = append(want, r)
				}
			}
			got := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}, Modulo: modulo, Offset: offset})
			if w := scanRows(want); !slices.Equal(got, w) {
				t.Fatalf("Scan modulo %d offset %d: got %d rows, want %d", modulo, offset, len(got), len(w))
			}
		}
	}
	// Huge moduli and offsets do not overflow: compare with exact
	// arithmetic.
	for _, tc := range [][2]uint64{
		{math.MaxUint64, math.MaxUint64 - 19}, {math.MaxUint64, math.MaxUint64 - 20}, {math.MaxUint64, 0},
		{1 << 63, 1<<63 - 25}, {1<<63 + 1, 1<<63 - 24}, {1 << 62, 3 << 62}, {7, math.MaxUint64}, {3, math.MaxUint64 - 1},
	} {
		modulo, offset := tc[0], tc[1]
		var want []dispersy.Record
		for _, r := range recs {
			sum := new(big.Int).Add(new(big.Int).SetUint64(r.GlobalTime), new(big.Int).SetUint64(offset))
			if sum.Mod(sum, new(big.Int).SetUint64(modulo)).Sign() == 0 {
				want = append(want, r)
			}
		}
		got := scanAll(t, s, dispersy.ScanQuery{Community: c1, Types: []uint8{1}, Modulo: modulo, Offset: offset})
		if w := scanRows(want); !slices.Equal(got, w) {
			t.Fatalf("Scan modulo %d offset %d: got %v, want %v", modulo, offset, got, w)
		}
		gotR := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, High: math.MaxUint64, Modulo: modulo, Offset: offset})
		checkRecords(t, fmt.Sprintf("Range modulo %d offset %d", modulo, offset), gotR, want)
	}
}

func testCount(t *testing.T, s dispersy.Store) {
	setup(t, s)
	u := rec(c1, mB, 3, 1, "undone")
	u.Undone = true
	putAll(t, s, rec(c1, mA, 1, 1, "a"), rec(c1, mA, 2, 2, "b"), rec(c1, mA, 3, 3, "c"), u, rec(c2, mA, 1, 1, "x"))
	for _, tc := range []struct {
		types []uint8
		want  int
	}{{nil, 0}, {[]uint8{1}, 1}, {[]uint8{1, 2}, 2}, {[]uint8{1, 1, 2, 2}, 2}, {[]uint8{1, 2, 3}, 3}, {[]uint8{4}, 0}} {
		if n := count(t, s, c1, tc.types...); n != tc.want {
			t.Fatalf("Count(%v) = %d, want %d", tc.types, n, tc.want)
		}
	}
}

func testRange(t *testing.T, s dispersy.Store) {
	// Dispersy's test_sync range: 30 messages @10..39; time_low 1..10 ×
	// time_high 20..29 returns exactly those in [low, high].
	setup(t, s)
	var recs []dispersy.Record
	for gt := uint64(10); gt <= 39; gt++ {
		recs = append(recs, rec(c1, mA, gt, 1, pkt(mA, gt, 1)))
	}
	// Ties: two more creators at @20, with packets sorting against their ids.
	tieB := rec(c1, mB, 20, 1, "\x00 sorts first")
	tieC := rec(c1, mC, 20, 1, "\x01 sorts second")
	undone := rec(c1, mC, 25, 1, "undone")
	undone.Undone = true
	putAll(t, s, append(slices.Clone(recs), tieB, tieC, undone, rec(c1, mB, 21, 2, "other type"))...)
	live := append(slices.Clone(recs), tieB, tieC)
	sortPacket(live)
	for low := uint64(1); low <= 10; low++ {
		for high := uint64(20); high <= 29; high++ {
			var want []dispersy.Record
			for _, r := range live {
				if r.GlobalTime >= low && r.GlobalTime <= high {
					want = append(want, r)
				}
			}
			checkRecords(t, fmt.Sprintf("Range[%d,%d]", low, high), rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: low, High: high}), want)
			desc := slices.Clone(want)
			slices.Reverse(desc)
			checkRecords(t, fmt.Sprintf("Range[%d,%d] descending", low, high), rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: low, High: high, Descending: true}), desc)
		}
	}
	got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 20, High: 20})
	if len(got) != 3 || got[0].Member != mB || got[1].Member != mC || got[2].Member != mA {
		t.Fatalf("Range @20 = %s, want B, C, A (by packet)", describe(got))
	}
	for _, q := range []dispersy.RangeQuery{
		{Community: c1, MessageID: 1, Low: 30, High: 20},
		{Community: c1, MessageID: 9, Low: 0, High: 100},
		{Community: keys.CommunityID{9}, MessageID: 1, Low: 0, High: 100},
	} {
		if got := rangeAll(t, s, q); len(got) != 0 {
			t.Fatalf("Range(%+v) = %s, want none", q, describe(got))
		}
	}
	var n int
	if err := s.Range(dispersy.RangeQuery{Community: c1, MessageID: 1, High: 100}, func(*dispersy.Record) bool { n++; return n < 4 }); err != nil || n != 4 {
		t.Fatalf("Range stopping after 4 called fn %d times, err %v", n, err)
	}
}

func testRangeModulo(t *testing.T, s dispersy.Store) {
	// Dispersy's test_sync modulo: for modulo 1..9 and every offset, exactly
	// the messages with (gt + offset) % modulo == 0.
	setup(t, s)
	var recs []dispersy.Record
	for gt := uint64(10); gt <= 39; gt++ {
		recs = append(recs, rec(c1, mA, gt, 1, pkt(mA, gt, 1)))
	}
	putAll(t, s, recs...)
	for modulo := uint64(1); modulo <= 9; modulo++ {
		for offset := uint64(0); offset < modulo; offset++ {
			var want []dispersy.Record
			for _, r := range recs {
				if (r.GlobalTime+offset)%modulo == 0 {
					want = append(want, r)
				}
			}
			got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: math.MaxInt64, Modulo: modulo, Offset: offset})
			checkRecords(t, fmt.Sprintf("Range modulo %d offset %d", modulo, offset), got, want)
		}
	}
	got := rangeAll(t, s, dispersy.RangeQuery{Community: c1, MessageID: 1, Low: 1, High: 100, Modulo: math.MaxUint64, Offset: math.MaxUint64 - 33})
	if len(got) != 1 || got[0].GlobalTime != 33 {
		t.Fatalf("Range with a huge modulo = %s, want @33", describe(got))
	}
}

func testMembers(t *testing.T, s dispersy.Store) {
	var b dispersy.Batch
	b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: []byte("pubA"), PrivateKey: []byte("privA")})
	b.PutMember(dispersy.MemberRecord{ID: mB, PublicKey: []byte("pubB")})
	b.PutMember(dispersy.MemberRecord{ID: mC}) // known by id only
	apply(t, s, &b)
	check := func(id keys.MemberID, pub, priv string) {
		t.Helper()
		m, ok, err := s.Member(id)
		if err != nil || !ok {
			t.Fatalf("Member(%x) = %v, %v", id[0], ok, err)
		}
		if m.ID != id || string(m.PublicKey) != pub || string(m.PrivateKey) != priv {
			t.Fatalf("Member(%x) = %+v, want public %q private %q", id[0], m, pub, priv)
		}
		if priv == "" && m.PrivateKey != nil {
			t.Fatalf("Member(%x) has a non-nil empty private key", id[0])
		}
	}
	check(mA, "pubA", "privA")
	check(mB, "pubB", "")
	check(mC, "", "")
	b.Reset()
	b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: []byte("pubA")})   // never erases the private key
	b.PutMember(dispersy.MemberRecord{ID: mB, PrivateKey: []byte("privB")}) // never erases the public key
	b.PutMember(dispersy.MemberRecord{ID: mC, PublicKey: []byte("pubC")})
	apply(t, s, &b)
	check(mA, "pubA", "privA")
	check(mB, "pubB", "privB")
	check(mC, "pubC", "")
	b.Reset()
	b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: []byte("newA"), PrivateKey: []byte("newPrivA")})
	apply(t, s, &b)
	check(mA, "newA", "newPrivA")
	if _, ok, err := s.Member(keys.MemberID{0xff}); err != nil || ok {
		t.Fatalf("Member(unknown) = %v, %v", ok, err)
	}
}

func testCommunities(t *testing.T, s dispersy.Store) {
	var b dispersy.Batch
	r2 := dispersy.CommunityRecord{ID: c2, Master: []byte("m2"), Me: mB, Classification: "two"}
	r1 := dispersy.CommunityRecord{ID: c1, Master: []byte("m1"), Me: mA, AutoLoad: true, Classification: "one"}
	b.PutCommunity(r2)
	b.PutCommunity(r1)
	apply(t, s, &b)
	putAll(t, s, rec(c1, mA, 1, 1, "kept across a replace"))
	got, err := s.Communities()
	if err != nil || !reflect.DeepEqual(got, []dispersy.CommunityRecord{r1, r2}) {
		t.Fatalf("Communities = %+v, %v; want c1, c2", got, err)
	}
	r1b := dispersy.CommunityRecord{ID: c1, Master: []byte("m1"), Me: mC, AutoLoad: false, Classification: "renamed"}
	b.Reset()
	b.PutCommunity(r1b)
	apply(t, s, &b)
	c, ok, err := s.Community(c1)
	if err != nil || !ok || !reflect.DeepEqual(c, r1b) {
		t.Fatalf("Community(c1) = %+v, %v, %v; want %+v", c, ok, err, r1b)
	}
	if !has(t, s, c1, mA, 1) {
		t.Fatal("replacing a community record lost its messages")
	}
}

func testTypes(t *testing.T, s dispersy.Store) {
	setup(t, s)
	types := []dispersy.TypeRecord{{ID: 9, Name: "nine", Priority: 200, Direction: 2}, {ID: 3, Name: "three", Priority: 128, Direction: 1, Unkeyed: true}}
	var b dispersy.Batch
	b.PutTypes(c1, types)
	b.PutTypes(c2, types[:1])
	apply(t, s, &b)
	got, err := s.Types(c1)
	if want := []dispersy.TypeRecord{types[1], types[0]}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Types(c1) = %+v, %v; want %+v", got, err, want)
	}
	b.Reset()
	b.PutTypes(c1, []dispersy.TypeRecord{{ID: 4, Name: "four", Priority: 100}})
	apply(t, s, &b)
	if got, _ := s.Types(c1); len(got) != 1 || got[0].ID != 4 {
		t.Fatalf("Types(c1) after replace = %+v", got)
	}
	if got, _ := s.Types(c2); len(got) != 1 || got[0].ID != 9 {
		t.Fatalf("Types(c2) = %+v", got)
	}
	b.Reset()
	b.PutTypes(c1, []dispersy.TypeRecord{{ID: 5}, {ID: 5}})
	wantOpError(t, s.Apply(&b), 0, dispersy.OpPutTypes, nil)
	if got, _ := s.Types(c1); len(got) != 1 || got[0].ID != 4 {
		t.Fatalf("Types(c1) after a failed PutTypes = %+v", got)
	}
	b.Reset()
	b.PutTypes(c1, nil)
	apply(t, s, &b)
	if got, _ := s.Types(c1); len(got) != 0 {
		t.Fatalf("Types(c1) after PutTypes(nil) = %+v", got)
	}
}

func testOptions(t *testing.T, s dispersy.Store) {
	var b dispersy.Batch
	b.SetOption("a", []byte("1"))
	b.SetOption("b", nil)
	b.SetOption("a", []byte("2"))
	b.SetOption("", []byte("empty name"))
	apply(t, s, &b)
	for _, tc := range []struct{ key, want string }{{"a", "2"}, {"b", ""}, {"", "empty name"}} {
		v, ok, err := s.Option(tc.key)
		if err != nil || !ok || string(v) != tc.want || v == nil {
			t.Fatalf("Option(%q) = %q (nil %v), %v, %v; want %q", tc.key, v, v == nil, ok, err, tc.want)
		}
	}
	if _, ok, _ := s.Option("c"); ok {
		t.Fatal("Option(c) is set")
	}
}

func testNoAliasing(t *testing.T, s dispersy.Store) {
	setup(t, s)
	packet := []byte("original packet")
	r := dispersy.Record{Community: c1, Member: mA, GlobalTime: 3, MessageID: 1, Hash: dispersy.PacketHash(packet), Packet: packet}
	pub, priv, val, master := []byte("pub"), []byte("priv"), []byte("value"), []byte("master")
	types := []dispersy.TypeRecord{{ID: 1, Name: "one"}}
	var b dispersy.Batch
	b.Put(r)
	b.PutMember(dispersy.MemberRecord{ID: mA, PublicKey: pub, PrivateKey: priv})
	b.SetOption("k", val)
	b.PutCommunity(dispersy.CommunityRecord{ID: c2, Master: master, Me: mA})
	b.PutTypes(c1, types)
	apply(t, s, &b)
	// The caller reuses its buffers.
	for _, buf := range [][]byte{packet, pub, priv, val, master} {
		for i := range buf {
			buf[i] = 'X'
		}
	}
	types[0].ID = 99
	got, _ := getRec(t, s, c1, mA, 3)
	if string(got.Packet) != "original packet" {
		t.Fatalf("stored packet changed with the caller's buffer: %q", got.Packet)
	}
	// Returned slices belong to the caller.
	got.Packet[0] = 'Y'
	again, _ := getRec(t, s, c1, mA, 3)
	if string(again.Packet) != "original packet" {
		t.Fatalf("Get returned the store's own packet memory: %q", again.Packet)
	}
	var kept []*dispersy.Record
	_ = s.Range(dispersy.RangeQuery{Community: c1, MessageID: 1, High: 10}, func(r *dispersy.Record) bool {
		kept = append(kept, r)
		r.Packet[0] = 'Z'
		return true
	})
	_ = s.Replay(c1, []uint8{1}, func(r *dispersy.Record) bool { r.Packet[1] = 'Z'; return true })
	_ = s.BySequence(c1, mA, 1, 0, 10, func(r *dispersy.Record) bool { r.Packet[2] = 'Z'; return true })
	h, _ := s.History(c1, 1, mA, keys.MemberID{})
	h[0].Packet[3] = 'Z'
	bg, _ := s.ByGlobalTimes(c1, mA, []uint64{3})
	bg[0].Packet[4] = 'Z'
	if again, _ := getRec(t, s, c1, mA, 3); string(again.Packet) != "original packet" {
		t.Fatalf("a read method handed out store memory: %q", again.Packet)
	}
	if len(kept) != 1 || kept[0].Packet[0] != 'Z' {
		t.Fatal("Range record did not stay the caller's")
	}
	m, _, _ := s.Member(mA)
	m.PublicKey[0], m.PrivateKey[0] = 'Y', 'Y'
	if m, _, _ := s.Member(mA); string(m.PublicKey) != "pub" || string(m.PrivateKey) != "priv" {
		t.Fatalf("member keys aliased: %+v", m)
	}
	v, _, _ := s.Option("k")
	v[0] = 'Y'
	if v, _, _ := s.Option("k"); string(v) != "value" {
		t.Fatalf("option aliased: %q", v)
	}
	c, _, _ := s.Community(c2)
	c.Master[0] = 'Y'
	cs, _ := s.Communities()
	cs[1].Master[1] = 'Y'
	if c, _, _ := s.Community(c2); string(c.Master) != "master" {
		t.Fatalf("community master aliased: %q", c.Master)
	}
	ts, _ := s.Types(c1)
	ts[0].Name = "changed"
	if ts, _ := s.Types(c1); ts[0].ID != 1 || ts[0].Name != "one" {
		t.Fatalf("types aliased: %+v", ts)
	}
}

func testClosed(t *testing.T, s dispersy.Store) {
	setup(t, s)
	putAll(t, s, rec(c1, mA, 1, 1, "a"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	k := dispersy.MessageKey{Member: mA, GlobalTime: 1}
	var b dispersy.Batch
	b.SetOption("x", nil)
	errs := map[string]error{
		"Apply": s.Apply(&b),
		"Get":   func() error { _, _, err := s.Get(c1, k); return err }(),
		"Has":   func() error { _, err := s.Has(c1, k); return err }(),
		"ByGlobalTimes": func() error {
			_, err := s.ByGlobalTimes(c1, mA, []uint64{1})
			return err
		}(),
		"BySequence": s.BySequence(c1, mA, 1, 0, 1, func(*dispersy.Record) bool { return true }),
		"LastSequence": func() error {
			_, _, err := s.LastSequence(c1, mA, 1)
			return err
		}(),
		"History": func() error {
			_, err := s.History(c1, 1, mA, keys.MemberID{})
			return err
		}(),
		"MaxGlobalTime": func() error { _, err := s.MaxGlobalTime(c1); return err }(),
		"SequenceCounters": func() error {
			_, err := s.SequenceCounters(c1, mA)
			return err
		}(),
		"Replay":      s.Replay(c1, []uint8{1}, func(*dispersy.Record) bool { return true }),
		"Scan":        s.Scan(dispersy.ScanQuery{Community: c1, Types: []uint8{1}}, func(dispersy.ScanRow) bool { return true }),
		"Count":       func() error { _, err := s.Count(c1, []uint8{1}); return err }(),
		"Range":       s.Range(dispersy.RangeQuery{Community: c1, MessageID: 1, High: 9}, func(*dispersy.Record) bool { return true }),
		"Member":      func() error { _, _, err := s.Member(mA); return err }(),
		"Community":   func() error { _, _, err := s.Community(c1); return err }(),
		"Communities": func() error { _, err := s.Communities(); return err }(),
		"Types":       func() error { _, err := s.Types(c1); return err }(),
		"Option":      func() error { _, _, err := s.Option("x"); return err }(),
		"Close":       s.Close(),
	}
	names := make([]string, 0, len(errs))
	for name := range errs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !errors.Is(errs[name], dispersy.ErrStoreClosed) {
			t.Errorf("%s after Close = %v, want ErrStoreClosed", name, errs[name])
		}
	}
}

// testDifferential applies the same seeded random batches (some failing)
// to s and to a MemStore and compares every read after each batch.
func testDifferential(t *testing.T, s dispersy.Store) {
	ref := NewMemStore()
	defer ref.Close()
	seed := uint64(20260301)
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	members := []keys.MemberID{mA, mB, mC, {0x0d}}
	cids := []keys.CommunityID{c1, c2, {0x03}}
	msgIDs := []uint8{1, 2, 3}
	options := []string{"a", "b"}
	pickKey := func() dispersy.MessageKey {
		return dispersy.MessageKey{Member: members[rng.IntN(len(members))], GlobalTime: uint64(1 + rng.IntN(40))}
	}
	// stored: the keys the reference holds per community, so that most
	// operations on existing messages name one.
	stored := map[keys.CommunityID][]dispersy.MessageKey{}
	pickStored := func(cid keys.CommunityID) dispersy.MessageKey {
		if ks := stored[cid]; len(ks) > 0 && rng.IntN(5) != 0 {
			return ks[rng.IntN(len(ks))]
		}
		return pickKey()
	}
	randRec := func(cid keys.CommunityID) dispersy.Record {
		k := pickKey()
		id := msgIDs[rng.IntN(len(msgIDs))]
		// Few distinct packets, so ties on (global time, packet) happen.
		r := rec(cid, k.Member, k.GlobalTime, id, fmt.Sprintf("p%d", rng.IntN(4)))
		if id == 2 {
			r.Sequence = uint32(1 + rng.IntN(5))
		}
		if id == 3 {
			r.Member2 = members[rng.IntN(len(members))]
		}
		if rng.IntN(8) == 0 {
			r.Undone = true
			if rng.IntN(2) == 0 {
				r.UndoneBy = pickKey()
			}
		}
		return r
	}
	var b dispersy.Batch
	committed := 0
	defer func() { t.Logf("%d of 300 batches committed", committed) }()
	for round := range 300 {
		b.Reset()
		for range 1 + rng.IntN(8) {
			cid := cids[rng.IntN(len(cids))]
			switch rng.IntN(14) {
			case 0:
				b.PutMember(dispersy.MemberRecord{ID: members[rng.IntN(len(members))], PublicKey: []byte(fmt.Sprint("pub", rng.IntN(3))), PrivateKey: [][]byte{nil, []byte("priv")}[rng.IntN(2)]})
			case 1:
				b.PutCommunity(dispersy.CommunityRecord{ID: cid, Master: []byte{byte(rng.IntN(3))}, Me: members[rng.IntN(len(members))], AutoLoad: rng.IntN(2) == 0})
			case 2:
				// Unkeyed flips too: a store that indexes by member only
				// the keyed types must answer the same either way.
				b.PutTypes(cid, []dispersy.TypeRecord{{ID: msgIDs[rng.IntN(3)], Name: "t", Priority: uint8(rng.IntN(256)), Unkeyed: rng.IntN(2) == 0}})
			case 3, 4, 5, 6:
				b.Put(randRec(cid))
			case 7:
				r := randRec(cid)
				k := pickStored(cid)
				r.Member, r.GlobalTime = k.Member, k.GlobalTime
				b.ReplacePacket(r)
			case 8:
				b.Delete(cid, pickStored(cid))
			case 9:
				b.SetUndone(cid, pickStored(cid), rng.IntN(3) != 0, pickKey())
			case 10:
				m2 := keys.MemberID{}
				if rng.IntN(2) == 0 {
					m2 = members[rng.IntN(len(members))]
				}
				b.Trim(cid, msgIDs[rng.IntN(3)], members[rng.IntN(len(members))], m2, rng.IntN(4))
			case 11:
				b.Prune(cid, msgIDs[rng.IntN(3)], uint64(rng.IntN(15)))
			case 12:
				if rng.IntN(4) == 0 {
					b.DeleteCommunityExcept(cid, []dispersy.MessageKey{pickKey(), pickKey(), pickKey()})
				}
			case 13:
				b.SetOption(options[rng.IntN(2)], []byte{byte(rng.IntN(256))})
			}
		}
		errS, errR := s.Apply(&b), ref.Apply(&b)
		if errS == nil {
			committed++
		}
		if (errS == nil) != (errR == nil) {
			t.Fatalf("round %d: store error %v, reference error %v", round, errS, errR)
		}
		if errS != nil {
			var oe1, oe2 *dispersy.OpError
			if !errors.As(errS, &oe1) || !errors.As(errR, &oe2) || oe1.Index != oe2.Index || oe1.Kind != oe2.Kind {
				t.Fatalf("round %d: store error %v, reference error %v", round, errS, errR)
			}
			for _, target := range []error{dispersy.ErrExists, dispersy.ErrNotFound, dispersy.ErrNoCommunityRecord} {
				if errors.Is(errS, target) != errors.Is(errR, target) {
					t.Fatalf("round %d: store error %v, reference error %v", round, errS, errR)
				}
			}
		}
		a := takeSnapshot(t, s, members, options, msgIDs)
		r := takeSnapshot(t, ref, members, options, msgIDs)
		clear(stored)
		for cid, recs := range r.Records {
			for _, rc := range recs {
				stored[cid] = append(stored[cid], rc.Key())
			}
		}
		if d := a.diff(r); d != "" {
			t.Fatalf("round %d: store and MemStore differ: %s", round, d)
		}
		// Spot-check the queries the snapshot does not cover.
		for _, cid := range cids {
			m := members[rng.IntN(len(members))]
			m2 := [2]keys.MemberID{{}, members[rng.IntN(len(members))]}[rng.IntN(2)]
			id := msgIDs[rng.IntN(3)]
			hs, _ := s.History(cid, id, m, m2)
			hr, _ := ref.History(cid, id, m, m2)
			checkRecords(t, fmt.Sprintf("round %d History", round), hs, hr)
			q := dispersy.RangeQuery{Community: cid, MessageID: id, Low: uint64(rng.IntN(20)), High: uint64(rng.IntN(45)),
				Modulo: uint64(rng.IntN(4)), Offset: uint64(rng.IntN(5)), Descending: rng.IntN(2) == 0, IncludeUndone: rng.IntN(2) == 0}
			checkRecords(t, fmt.Sprintf("round %d Range(%+v)", round, q), rangeAll(t, s, q), rangeAll(t, ref, q))
			sq := dispersy.ScanQuery{Community: cid, Types: msgIDs[:1+rng.IntN(3)], From: uint64(rng.IntN(45)),
				Descending: rng.IntN(2) == 0, Modulo: uint64(rng.IntN(4)), Offset: uint64(rng.IntN(5))}
			if a, b := scanAll(t, s, sq), scanAll(t, ref, sq); !slices.Equal(a, b) {
				t.Fatalf("round %d Scan(%+v): %v != %v", round, sq, a, b)
			}
			gts := []uint64{uint64(rng.IntN(41)), uint64(rng.IntN(41)), uint64(rng.IntN(41))}
			bs, _ := s.ByGlobalTimes(cid, m, gts)
			br, _ := ref.ByGlobalTimes(cid, m, gts)
			checkRecords(t, fmt.Sprintf("round %d ByGlobalTimes", round), bs, br)
			var ss, sr []dispersy.Record
			lo := uint32(rng.IntN(4))
			_ = s.BySequence(cid, m, 2, lo, lo+2, func(r *dispersy.Record) bool { ss = append(ss, *r); return true })
			_ = ref.BySequence(cid, m, 2, lo, lo+2, func(r *dispersy.Record) bool { sr = append(sr, *r); return true })
			checkRecords(t, fmt.Sprintf("round %d BySequence", round), ss, sr)
		}
	}
}

// testUnkeyedTypes: History, Trim and LastSequence of a type declared
// TypeRecord.Unkeyed are as correct as for any other type, before and
// after the declaration changes both ways.
func testUnkeyedTypes(t *testing.T, s dispersy.Store) {
	setup(t, s)
	declare := func(unkeyed bool) {
		t.Helper()
		var b dispersy.Batch
		b.PutTypes(c1, []dispersy.TypeRecord{{ID: 7, Name: "bulk", Unkeyed: unkeyed}, {ID: 8, Name: "history"}})
		apply(t, s, &b)
	}
	seq := func(r dispersy.Record, n uint32) dispersy.Record { r.Sequence = n; return r }
	check := func(step string, member keys.MemberID, want []uint64, wantSeq uint32) {
		t.Helper()
		h, err := s.History(c1, 7, member, keys.MemberID{})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, r := range h {
			got = append(got, r.GlobalTime)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: History = @%v, want @%v", step, got, want)
		}
		last, gt, err := s.LastSequence(c1, member, 7)
		wantGT := uint64(0)
		if len(want) > 0 {
			wantGT = want[len(want)-1]
		}
		if err != nil || last != wantSeq || gt != wantGT {
			t.Fatalf("%s: LastSequence = %d @%d, %v; want %d @%d", step, last, gt, err, wantSeq, wantGT)
		}
	}
	declare(true)
	putAll(t, s, seq(rec(c1, mA, 1, 7, "a1"), 1), seq(rec(c1, mA, 3, 7, "a3"), 2), rec(c1, mB, 2, 7, "b2"), rec(c1, mA, 4, 8, "other type"))
	check("unkeyed", mA, []uint64{1, 3}, 2)
	check("unkeyed", mB, []uint64{2}, 0)
	declare(false)
	check("declared keyed", mA, []uint64{1, 3}, 2)
	putAll(t, s, rec(c1, mA, 5, 7, "a5"))
	check("keyed, one more", mA, []uint64{1, 3, 5}, 2)
	declare(true)
	putAll(t, s, rec(c1, mA, 6, 7, "a6"), rec(c1, mA, 8, 7, "a8"))
	check("unkeyed again", mA, []uint64{1, 3, 5, 6, 8}, 2)
	var b dispersy.Batch
	b.Trim(c1, 7, mA, keys.MemberID{}, 2)
	apply(t, s, &b)
	check("trimmed to 2", mA, []uint64{6, 8}, 0)
	check("trim kept B", mB, []uint64{2}, 0)
	declare(false)
	b.Reset()
	b.Trim(c1, 7, mA, keys.MemberID{}, 1)
	apply(t, s, &b)
	check("keyed, trimmed to 1", mA, []uint64{8}, 0)
	if n := count(t, s, c1, 8); n != 1 {
		t.Fatalf("the other type holds %d messages, want 1", n)
	}
}
