package dispersy_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var (
	cid     = keys.CommunityID{0xcc}
	memberA = keys.MemberID{0xaa}
	memberB = keys.MemberID{0xbb}
)

// msg describes one stored message of a test.
type msg struct {
	member keys.MemberID
	gt     uint64
	id     uint8
	undone bool
}

// packetOf returns the packet of m, size bytes long (at least 24).
func packetOf(m msg, size int) []byte {
	p := fmt.Appendf(nil, "%x/%d/%d/", m.member[0], m.gt, m.id)
	for len(p) < size {
		p = append(p, '.')
	}
	return p
}

// newStore returns a MemStore holding msgs (packets of size bytes).
func newStore(t testing.TB, size int, msgs ...msg) *dispersytest.MemStore {
	t.Helper()
	s := dispersytest.NewMemStore()
	t.Cleanup(func() { s.Close() })
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: cid, Master: []byte("master"), Me: memberA})
	for _, m := range msgs {
		p := packetOf(m, size)
		b.Put(dispersy.Record{Community: cid, Member: m.member, GlobalTime: m.gt, MessageID: m.id,
			Undone: m.undone, Hash: dispersy.PacketHash(p), Packet: p})
	}
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	return s
}

// series returns messages of one member and type at global times lo..hi.
func series(member keys.MemberID, id uint8, lo, hi uint64) []msg {
	var out []msg
	for gt := lo; gt <= hi; gt++ {
		out = append(out, msg{member: member, gt: gt, id: id})
	}
	return out
}

// gtsOf returns the global times of answered packets (parsed back).
func gtsOf(t *testing.T, packets [][]byte) []uint64 {
	t.Helper()
	var out []uint64
	for _, p := range packets {
		var m, id byte
		var gt uint64
		if _, err := fmt.Sscanf(string(p), "%x/%d/%d/", &m, &gt, &id); err != nil {
			t.Fatalf("packet %q: %v", p, err)
		}
		out = append(out, gt)
	}
	return out
}

// typeOf returns the message id of an answered packet.
func typeOf(t *testing.T, p []byte) uint8 {
	t.Helper()
	var m, id byte
	var gt uint64
	if _, err := fmt.Sscanf(string(p), "%x/%d/%d/", &m, &gt, &id); err != nil {
		t.Fatalf("packet %q: %v", p, err)
	}
	return id
}

func answer(t *testing.T, s dispersy.Store, p dispersy.AnswerParams, seed uint64) [][]byte {
	t.Helper()
	if p.Community == (keys.CommunityID{}) {
		p.Community = cid
	}
	if p.Budget == 0 {
		p.Budget = 1 << 30
	}
	out, err := dispersy.AnswerSync(s, p, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatalf("AnswerSync: %v", err)
	}
	return out
}

var asc128 = []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: policy.Ascending}}

// TestAnswerSyncModulo is Dispersy's test_sync modulo: B stores 30
// messages @10..39; for modulo 1..9 and every offset, a sync (1, 0,
// modulo, offset, empty) returns exactly the messages with
// (gt + offset) % modulo == 0.
func TestAnswerSyncModulo(t *testing.T) {
	s := newStore(t, 100, series(memberB, 1, 10, 39)...)
	for modulo := uint64(1); modulo <= 9; modulo++ {
		for offset := uint64(0); offset < modulo; offset++ {
			got := gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: asc128, Low: 1, High: 39, Modulo: modulo, Offset: offset}, 1))
			var want []uint64
			for gt := uint64(10); gt <= 39; gt++ {
				if (gt+offset)%modulo == 0 {
					want = append(want, gt)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("modulo %d offset %d: got %v, want %v", modulo, offset, got, want)
			}
		}
	}
}

// TestAnswerSyncRange is Dispersy's test_sync range: time_low 1..10 ×
// time_high 20..29 returns exactly the messages in [low, high].
func TestAnswerSyncRange(t *testing.T) {
	s := newStore(t, 100, series(memberB, 1, 10, 39)...)
	for low := uint64(1); low <= 10; low++ {
		for high := uint64(20); high <= 29; high++ {
			got := gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: asc128, Low: low, High: high, Modulo: 1}, 1))
			var want []uint64
			for gt := max(low, 10); gt <= high; gt++ {
				want = append(want, gt)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("[%d, %d]: got %v, want %v", low, high, got, want)
			}
		}
	}
	// Remote nonsense gives an empty answer, not an error.
	if got := answer(t, s, dispersy.AnswerParams{Types: asc128, Low: 30, High: 20}, 1); len(got) != 0 {
		t.Fatalf("low > high answered %d packets", len(got))
	}
}

func isSorted(gts []uint64, desc bool) bool {
	for i := 1; i < len(gts); i++ {
		if (!desc && gts[i-1] > gts[i]) || (desc && gts[i-1] < gts[i]) {
			return false
		}
	}
	return true
}

// TestAnswerSyncOrder is Dispersy's test_sync in_order, out_order,
// random_order and mixed_order.
func TestAnswerSyncOrder(t *testing.T) {
	all := func(dir policy.Direction) []uint64 {
		s := newStore(t, 100, series(memberB, 1, 10, 39)...)
		types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: dir}}
		return gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100}, 7))
	}
	want := make([]uint64, 0, 30)
	for gt := uint64(10); gt <= 39; gt++ {
		want = append(want, gt)
	}
	if got := all(policy.Ascending); !slices.Equal(got, want) {
		t.Fatalf("ASC: %v", got)
	}
	desc := slices.Clone(want)
	slices.Reverse(desc)
	if got := all(policy.Descending); !slices.Equal(got, desc) {
		t.Fatalf("DESC: %v", got)
	}
	got := all(policy.Random)
	if isSorted(got, false) || isSorted(got, true) {
		t.Fatalf("RANDOM is sorted: %v", got)
	}
	if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, want) {
		t.Fatalf("RANDOM did not send each message once: %v", got)
	}

	// mixed_order: 10 ASC, 10 DESC and 10 RANDOM, interleaved.
	var msgs []msg
	for i := range uint64(30) {
		msgs = append(msgs, msg{member: memberB, gt: 10 + i, id: uint8(1 + i%3)})
	}
	s := newStore(t, 100, msgs...)
	types := []dispersy.SyncTypeOrder{
		{ID: 1, Priority: 128, Direction: policy.Ascending},
		{ID: 2, Priority: 128, Direction: policy.Descending},
		{ID: 3, Priority: 128, Direction: policy.Random},
	}
	packets := answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100}, 7)
	byType := map[uint8][]uint64{}
	for _, p := range packets {
		id := typeOf(t, p)
		byType[id] = append(byType[id], gtsOf(t, [][]byte{p})[0])
	}
	if len(packets) != 30 || len(byType[1]) != 10 || len(byType[2]) != 10 || len(byType[3]) != 10 {
		t.Fatalf("mixed: got %d packets, %v", len(packets), byType)
	}
	if !isSorted(byType[1], false) || !isSorted(byType[2], true) || isSorted(byType[3], false) || isSorted(byType[3], true) {
		t.Fatalf("mixed: ASC %v DESC %v RANDOM %v", byType[1], byType[2], byType[3])
	}
}

// TestAnswerSyncPriority is Dispersy's test_sync priority_order: 10 each
// at priorities 200, 150 and 100 arrive grouped, high first.
func TestAnswerSyncPriority(t *testing.T) {
	var msgs []msg
	for i := range uint64(30) {
		msgs = append(msgs, msg{member: memberB, gt: 10 + i, id: uint8(1 + i%3)})
	}
	s := newStore(t, 100, msgs...)
	types := []dispersy.SyncTypeOrder{ // listed low to high on purpose
		{ID: 1, Priority: 100, Direction: policy.Ascending},
		{ID: 3, Priority: 200, Direction: policy.Random},
		{ID: 2, Priority: 150, Direction: policy.Descending},
	}
	var ids []uint8
	for _, p := range answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100}, 3) {
		ids = append(ids, typeOf(t, p))
	}
	want := slices.Concat(slices.Repeat([]uint8{3}, 10), slices.Repeat([]uint8{2}, 10), slices.Repeat([]uint8{1}, 10))
	if !slices.Equal(ids, want) {
		t.Fatalf("types in answer order: %v, want %v", ids, want)
	}
	// Equal priorities: by id; a type listed twice is answered once.
	types = []dispersy.SyncTypeOrder{
		{ID: 2, Priority: 128, Direction: policy.Ascending},
		{ID: 1, Priority: 128, Direction: policy.Ascending},
		{ID: 2, Priority: 128, Direction: policy.Ascending},
	}
	ids = ids[:0]
	for _, p := range answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100}, 3) {
		ids = append(ids, typeOf(t, p))
	}
	if want := slices.Concat(slices.Repeat([]uint8{1}, 10), slices.Repeat([]uint8{2}, 10)); !slices.Equal(ids, want) {
		t.Fatalf("equal priorities: %v, want %v", ids, want)
	}
}

func TestAnswerSyncBudget(t *testing.T) {
	s := newStore(t, 100, series(memberB, 1, 1, 50)...)
	for _, tc := range []struct {
		budget int
		want   int
	}{
		{1, 1},     // one packet always goes
		{100, 1},   // reached exactly
		{101, 2},   // the crossing packet is included
		{500, 5},   //
		{550, 6},   //
		{5000, 50}, // everything fits
		{5120, 50}, // Dispersy's 5 KiB
		{1 << 20, 50},
	} {
		for _, dir := range []policy.Direction{policy.Ascending, policy.Descending, policy.Random} {
			types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: dir}}
			got := answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100, Budget: tc.budget}, 11)
			if len(got) != tc.want {
				t.Fatalf("%v budget %d: %d packets, want %d", dir, tc.budget, len(got), tc.want)
			}
		}
	}
	// The budget spans types: nothing of a lower priority after it.
	s = newStore(t, 100, append(series(memberA, 1, 1, 10), series(memberA, 2, 11, 20)...)...)
	types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 200}, {ID: 2, Priority: 100}}
	got := answer(t, s, dispersy.AnswerParams{Types: types, Low: 1, High: 100, Budget: 1050}, 1)
	if len(got) != 11 || typeOf(t, got[10]) != 2 {
		t.Fatalf("budget across types: %d packets", len(got))
	}
}

func TestAnswerSyncFilters(t *testing.T) {
	msgs := series(memberB, 1, 1, 40)
	for i := range msgs {
		msgs[i].undone = msgs[i].gt%10 == 0
	}
	s := newStore(t, 100, append(msgs, series(memberA, 2, 1, 40)...)...)
	// The requester's filter: it holds the odd global times.
	held := map[dispersy.Hash]bool{}
	for gt := uint64(1); gt <= 40; gt += 2 {
		p := packetOf(msg{member: memberB, gt: gt, id: 1}, 100)
		held[dispersy.PacketHash(p)] = true
	}
	has := func(h dispersy.Hash) bool { return held[h] }
	got := gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: asc128, Low: 1, High: 40, Has: has}, 1))
	var want []uint64
	for gt := uint64(2); gt <= 40; gt += 2 {
		if gt%10 != 0 { // undone messages are never sent
			want = append(want, gt)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("with filter: %v, want %v", got, want)
	}
	// Pruning: a type's own lower bound raises the request's.
	types := []dispersy.SyncTypeOrder{
		{ID: 1, Priority: 200, Direction: policy.Ascending, Low: 35},
		{ID: 2, Priority: 100, Direction: policy.Descending, Low: 38},
	}
	got = gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: types, Low: 3, High: 39}, 1))
	if want := []uint64{35, 36, 37, 38, 39, 39, 38}; !slices.Equal(got, want) {
		t.Fatalf("pruning bounds: %v, want %v", got, want)
	}
	got = gtsOf(t, answer(t, s, dispersy.AnswerParams{Types: types, Low: 3, High: 30}, 1))
	if len(got) != 0 {
		t.Fatalf("pruning bound above High: %v", got)
	}
}

func TestAnswerSyncDeterministic(t *testing.T) {
	var msgs []msg
	for i := range uint64(300) {
		msgs = append(msgs, msg{member: keys.MemberID{byte(1 + i%5)}, gt: 1 + i/2, id: uint8(1 + i%3)})
	}
	s := newStore(t, 150, msgs...)
	types := []dispersy.SyncTypeOrder{
		{ID: 1, Priority: 128, Direction: policy.Random},
		{ID: 2, Priority: 128, Direction: policy.Random},
		{ID: 3, Priority: 100, Direction: policy.Ascending},
	}
	p := dispersy.AnswerParams{Types: types, Low: 5, High: 140, Budget: 5120, Modulo: 2, Offset: 1}
	a, b := answer(t, s, p, 42), answer(t, s, p, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different answers")
	}
	if c := answer(t, s, p, 43); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same RANDOM answer")
	}
}

// countingStore counts the records a Store hands to Range callbacks.
type countingStore struct {
	dispersy.Store
	ranged int
}

func (c *countingStore) Range(q dispersy.RangeQuery, fn func(*dispersy.Record) bool) error {
	return c.Store.Range(q, func(r *dispersy.Record) bool { c.ranged++; return fn(r) })
}

// TestAnswerSyncRandomBounded checks that a RANDOM answer reads about what
// it sends, not the whole range.
func TestAnswerSyncRandomBounded(t *testing.T) {
	cs := &countingStore{Store: newStore(t, 200, series(memberB, 1, 1, 10000)...)}
	types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: policy.Random}}
	for seed := range uint64(20) {
		cs.ranged = 0
		got := answer(t, cs, dispersy.AnswerParams{Types: types, Low: 1, High: 20000, Budget: 5120}, seed)
		if len(got) != 26 {
			t.Fatalf("seed %d: %d packets, want 26", seed, len(got))
		}
		// At most one chunk per segment beyond what was sent.
		if cs.ranged > 2*64 {
			t.Fatalf("seed %d: read %d records to send %d", seed, cs.ranged, len(got))
		}
	}
}

func TestAnswerSyncErrors(t *testing.T) {
	s := newStore(t, 100)
	rng := rand.New(rand.NewPCG(1, 2))
	for name, f := range map[string]func() error{
		"nil store": func() error { _, err := dispersy.AnswerSync(nil, dispersy.AnswerParams{Budget: 1}, rng); return err },
		"nil rng":   func() error { _, err := dispersy.AnswerSync(s, dispersy.AnswerParams{Budget: 1}, nil); return err },
		"budget":    func() error { _, err := dispersy.AnswerSync(s, dispersy.AnswerParams{}, rng); return err },
		"direction": func() error {
			_, err := dispersy.AnswerSync(s, dispersy.AnswerParams{Budget: 1, Types: []dispersy.SyncTypeOrder{{ID: 1, Direction: 9}}}, rng)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func choose(t *testing.T, s dispersy.Store, p dispersy.RangeParams, seed uint64) dispersy.SyncRequestRange {
	t.Helper()
	if p.Community == (keys.CommunityID{}) {
		p.Community = cid
	}
	r, err := dispersy.ChooseSyncRange(s, p, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatalf("ChooseSyncRange(%+v): %v", p, err)
	}
	return r
}

// liveHashes returns the hashes of the live messages of types in [low,
// high] with (gt + offset) % modulo == 0, by (global time, hash), as the
// bloom filter must hold them.
func liveHashes(t *testing.T, s dispersy.Store, types []uint8, low, high, modulo, offset uint64) []dispersy.Hash {
	t.Helper()
	var out []dispersy.Hash
	err := s.Scan(dispersy.ScanQuery{Community: cid, Types: types, From: low, Modulo: modulo, Offset: offset}, func(r dispersy.ScanRow) bool {
		if r.GlobalTime > high {
			return false
		}
		out = append(out, r.Hash)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChooseSyncRangeEmpty(t *testing.T) {
	s := newStore(t, 100, series(memberA, 1, 1, 10)...)
	for _, strategy := range []dispersy.SyncStrategy{dispersy.LargestPivot, dispersy.Modulo} {
		// No syncable types: Dispersy's empty range.
		got := choose(t, s, dispersy.RangeParams{Capacity: 5, GlobalTime: 10, Acceptable: 10010, Strategy: strategy, StoredCount: 7}, 1)
		want := dispersy.SyncRequestRange{Low: 1, High: 10010, Modulo: 1, StoredCount: 7}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%v, no types: %+v, want %+v", strategy, got, want)
		}
		// No message of the types.
		got = choose(t, s, dispersy.RangeParams{Types: []uint8{9}, Capacity: 5, GlobalTime: 10, Acceptable: 10010, Strategy: strategy}, 1)
		if got.Low != 1 || got.High != 10010 || got.Modulo != 1 || len(got.Hashes) != 0 {
			t.Fatalf("%v, no messages: %+v", strategy, got)
		}
	}
}

func TestChooseSyncRangeSmallStore(t *testing.T) {
	s := newStore(t, 100, append(series(memberA, 1, 1, 150), msg{member: memberB, gt: 5, id: 2})...)
	types := []uint8{1}
	// Everything fits: [1, acceptable], all hashes, the hint unchanged.
	got := choose(t, s, dispersy.RangeParams{Types: types, Capacity: 200, GlobalTime: 150, Acceptable: 10150}, 1)
	if got.Low != 1 || got.High != 10150 || len(got.Hashes) != 150 || got.StoredCount != 0 {
		t.Fatalf("fits: [%d, %d] %d hashes, stored %d", got.Low, got.High, len(got.Hashes), got.StoredCount)
	}
	if !slices.Equal(got.Hashes, liveHashes(t, s, types, 1, 10150, 1, 0)) {
		t.Fatal("fits: hashes are not exactly the range's messages")
	}
	// Overflow: the range ends at the last included global time and the
	// hint rises to capacity+1, so the next call uses the large-store mode.
	got = choose(t, s, dispersy.RangeParams{Types: types, Capacity: 100, GlobalTime: 150, Acceptable: 10150}, 1)
	if got.Low != 1 || got.High != 100 || len(got.Hashes) != 100 || got.StoredCount != 101 {
		t.Fatalf("overflow: [%d, %d] %d hashes, stored %d", got.Low, got.High, len(got.Hashes), got.StoredCount)
	}
	// Rows above the acceptable global time are never selected.
	got = choose(t, s, dispersy.RangeParams{Types: types, Capacity: 200, GlobalTime: 150, Acceptable: 120}, 1)
	if got.High != 120 || len(got.Hashes) != 120 {
		t.Fatalf("acceptable 120: [%d, %d] %d hashes", got.Low, got.High, len(got.Hashes))
	}
}

// TestChooseSyncRangeNeverSplits: with three messages per global time, a
// range edge never falls inside one global time.
func TestChooseSyncRangeNeverSplits(t *testing.T) {
	var msgs []msg
	for gt := uint64(1); gt <= 200; gt++ {
		for m := range byte(3) {
			msgs = append(msgs, msg{member: keys.MemberID{1 + m}, gt: gt, id: 1})
		}
	}
	s := newStore(t, 64, msgs...)
	types := []uint8{1}
	// Small store: row 101 is at global time 34, whose 3 rows all go.
	got := choose(t, s, dispersy.RangeParams{Types: types, Capacity: 100, GlobalTime: 200, Acceptable: 10200}, 1)
	if got.High != 33 || len(got.Hashes) != 99 {
		t.Fatalf("small store: [%d, %d] with %d hashes, want [1, 33] with 99", got.Low, got.High, len(got.Hashes))
	}
	for seed := range uint64(200) {
		got := choose(t, s, dispersy.RangeParams{Types: types, Capacity: 100, GlobalTime: 200, Acceptable: 10200, StoredCount: 600}, seed)
		want := liveHashes(t, s, types, got.Low, got.High, 1, 0)
		if len(want)%3 != 0 || !slices.Equal(got.Hashes, want) {
			t.Fatalf("seed %d: [%d, %d] holds %d hashes, the store %d there", seed, got.Low, got.High, len(got.Hashes), len(want))
		}
	}
}

// largestOracle is Dispersy's _dispersy_claim_sync_bloom_filter_largest
// (large-store mode) written again over a plain sorted slice of the live
// global times, for comparison. It returns the range, the number of rows
// selected and whether the left side won.
func largestOracle(gts []uint64, pivot uint64, capacity int, acc uint64) (low, high uint64, n int, left bool) {
	selectAndFix := func(gt uint64, k int, higher bool) ([]uint64, bool) {
		var rows []uint64
		if higher {
			for _, g := range gts {
				if g > gt && len(rows) <= k {
					rows = append(rows, g)
				}
			}
		} else {
			for i := len(gts) - 1; i >= 0; i-- {
				if gts[i] < gt && len(rows) <= k {
					rows = append(rows, gts[i])
				}
			}
		}
		fixed := len(rows) > k
		if fixed {
			last := rows[len(rows)-1]
			for len(rows) > 0 && rows[len(rows)-1] == last {
				rows = rows[:len(rows)-1]
			}
		}
		if !higher {
			slices.Reverse(rows)
		}
		return rows, fixed
	}
	side := func(gt uint64, k int, higher bool) (lo, hi uint64, rows []uint64) {
		rows, fixed := selectAndFix(gt, k, higher)
		lowerFixed, higherFixed := true, true
		if len(rows) < k && k-len(rows) > 25 {
			var more []uint64
			if higher {
				more, lowerFixed = selectAndFix(gt+1, k-len(rows), false)
				rows = append(more, rows...)
			} else {
				more, higherFixed = selectAndFix(gt-1, k-len(rows), true)
				rows = append(rows, more...)
			}
		}
		if len(rows) == 0 {
			return 0, 0, nil
		}
		lo, hi = rows[0], rows[len(rows)-1]
		if higher {
			lo = min(lo, gt+1)
			if !fixed {
				hi = acc
			}
			if !lowerFixed {
				lo = 1
			}
		} else {
			hi = max(hi, gt-1)
			if !fixed {
				lo = 1
			}
			if !higherFixed {
				hi = acc
			}
		}
		return lo, hi, rows
	}
	low, high, rows := side(pivot-1, capacity, true)
	if len(rows) == capacity {
		l, h, lrows := side(pivot+1, capacity, false)
		if len(lrows) > 0 && h-l > high-low {
			return l, h, len(lrows), true
		}
	}
	return low, high, len(rows), false
}

// pivotFor draws the pivot ChooseSyncRange draws from a fresh rng seeded
// with seed: Dispersy's exponential look-back with mean gt/2.
func pivotFor(seed, gt uint64) uint64 {
	r := rand.New(rand.NewPCG(seed, 0))
	back := math.Floor(r.ExpFloat64() * float64(gt) / 2)
	if back < float64(gt) && uint64(back) < gt {
		return gt - uint64(back)
	}
	return min(uint64(r.Float64()*float64(gt)), gt-1)
}

// TestChooseSyncRangeLargest checks the large-store mode over many seeds
// and store shapes against largestOracle, and that the filter holds
// exactly the live messages in the range, never more than Capacity.
func TestChooseSyncRangeLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	shapes := []struct {
		name string
		msgs []msg
	}{
		{"one per global time", series(memberA, 1, 1, 3000)},
		{"sparse", func() []msg {
			var out []msg
			for gt := uint64(1); gt <= 100000; gt += 1 + rng.Uint64N(200) {
				out = append(out, msg{member: memberA, gt: gt, id: 1})
			}
			return out
		}()},
		{"sparse old, dense recent", func() []msg {
			var out []msg
			for gt := uint64(50); gt <= 5000; gt += 50 {
				out = append(out, msg{member: memberA, gt: gt, id: 1})
			}
			return append(out, series(memberA, 1, 5001, 6000)...)
		}()},
		{"bursts, undone and other types", func() []msg {
			var out []msg
			for gt := uint64(1); gt <= 2000; gt++ {
				for m := range 1 + rng.IntN(4)*rng.IntN(2) {
					out = append(out, msg{member: keys.MemberID{byte(1 + m)}, gt: gt, id: uint8(1 + rng.IntN(3)), undone: rng.IntN(20) == 0})
				}
			}
			return out
		}()},
		{"fewer than capacity", series(memberA, 1, 1, 120)},
	}
	types := []uint8{1, 2}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			s := newStore(t, 48, shape.msgs...)
			maxGT, _ := s.MaxGlobalTime(cid)
			acc := maxGT + 10000
			var gts []uint64
			for _, m := range shape.msgs {
				if !m.undone && slices.Contains(types, m.id) {
					gts = append(gts, m.gt)
				}
			}
			slices.Sort(gts)
			lefts, small := 0, 0
			for seed := range uint64(300) {
				p := dispersy.RangeParams{Types: types, Capacity: 100, GlobalTime: maxGT, Acceptable: acc, StoredCount: 101}
				got := choose(t, s, p, seed)
				if got.Low < 1 || got.Low > got.High || got.High > acc || got.Modulo != 1 || got.Offset != 0 || got.StoredCount != 101 {
					t.Fatalf("seed %d: %+v", seed, got)
				}
				if len(got.Hashes) > p.Capacity {
					t.Fatalf("seed %d: %d hashes for capacity %d", seed, len(got.Hashes), p.Capacity)
				}
				if want := liveHashes(t, s, types, got.Low, got.High, 1, 0); !slices.Equal(got.Hashes, want) {
					t.Fatalf("seed %d: [%d, %d]: %d hashes, the store holds %d there", seed, got.Low, got.High, len(got.Hashes), len(want))
				}
				pivot := pivotFor(seed, maxGT)
				if pivot <= 1 { // small-store mode
					small++
					if got.Low != 1 {
						t.Fatalf("seed %d: pivot %d but range [%d, %d]", seed, pivot, got.Low, got.High)
					}
					continue
				}
				low, high, n, left := largestOracle(gts, pivot, p.Capacity, acc)
				if got.Low != low || got.High != high || len(got.Hashes) != n {
					t.Fatalf("seed %d pivot %d: [%d, %d] with %d hashes, Dispersy's rule gives [%d, %d] with %d",
						seed, pivot, got.Low, got.High, len(got.Hashes), low, high, n)
				}
				if left {
					lefts++
				}
			}
			t.Logf("left side chosen %d of 300 times; small-store mode %d times", lefts, small)
			if shape.name == "sparse old, dense recent" && (lefts == 0 || lefts == 300) {
				t.Fatalf("left side chosen %d of 300 times: want both sides", lefts)
			}
		})
	}
}

func TestChooseSyncRangeModulo(t *testing.T) {
	msgs := series(memberA, 1, 1, 250)
	msgs[7].undone = true // 249 live
	s := newStore(t, 64, append(msgs, series(memberB, 3, 1, 50)...)...)
	types := []uint8{1}
	offsets := map[uint64]bool{}
	for seed := range uint64(30) {
		got := choose(t, s, dispersy.RangeParams{Types: types, Capacity: 100, GlobalTime: 250, Acceptable: 10250, Strategy: dispersy.Modulo}, seed)
		if got.Low != 1 || got.High != 10250 || got.Modulo != 3 || got.Offset >= 3 || got.StoredCount != 249 {
			t.Fatalf("seed %d: %+v", seed, got)
		}
		if want := liveHashes(t, s, types, 1, 10250, 3, got.Offset); !slices.Equal(got.Hashes, want) {
			t.Fatalf("seed %d: %d hashes, want %d", seed, len(got.Hashes), len(want))
		}
		offsets[got.Offset] = true
	}
	if len(offsets) != 3 {
		t.Fatalf("offsets drawn: %v, want all of 0, 1, 2", offsets)
	}
	got := choose(t, s, dispersy.RangeParams{Types: types, Capacity: 300, GlobalTime: 250, Acceptable: 10250, Strategy: dispersy.Modulo}, 1)
	if got.Modulo != 1 || got.Offset != 0 || len(got.Hashes) != 249 {
		t.Fatalf("everything fits: modulo %d offset %d, %d hashes", got.Modulo, got.Offset, len(got.Hashes))
	}
}

func TestChooseSyncRangeDeterministic(t *testing.T) {
	s := newStore(t, 64, series(memberA, 1, 1, 5000)...)
	for _, strategy := range []dispersy.SyncStrategy{dispersy.LargestPivot, dispersy.Modulo} {
		p := dispersy.RangeParams{Types: []uint8{1}, Capacity: 1000, GlobalTime: 5000, Acceptable: 15000, Strategy: strategy, StoredCount: 1001}
		a, b := choose(t, s, p, 9), choose(t, s, p, 9)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%v: the same seed gave different ranges", strategy)
		}
		differ := false
		for seed := range uint64(10) {
			if c := choose(t, s, p, 100+seed); c.Low != a.Low || c.High != a.High || c.Offset != a.Offset {
				differ = true
			}
		}
		if !differ {
			t.Fatalf("%v: 10 seeds all gave %d..%d offset %d", strategy, a.Low, a.High, a.Offset)
		}
	}
}

func TestChooseSyncRangeErrors(t *testing.T) {
	s := newStore(t, 64)
	ok := dispersy.RangeParams{Types: []uint8{1}, Capacity: 10, GlobalTime: 1, Acceptable: 100}
	rng := rand.New(rand.NewPCG(1, 1))
	for name, tc := range map[string]struct {
		s   dispersy.Store
		p   func(p *dispersy.RangeParams)
		rng *rand.Rand
	}{
		"nil store":      {nil, func(*dispersy.RangeParams) {}, rng},
		"nil rng":        {s, func(*dispersy.RangeParams) {}, nil},
		"capacity":       {s, func(p *dispersy.RangeParams) { p.Capacity = 0 }, rng},
		"acceptable 0":   {s, func(p *dispersy.RangeParams) { p.Acceptable = 0 }, rng},
		"acceptable big": {s, func(p *dispersy.RangeParams) { p.Acceptable = 1 << 63 }, rng},
		"strategy":       {s, func(p *dispersy.RangeParams) { p.Strategy = 7 }, rng},
		"stored count":   {s, func(p *dispersy.RangeParams) { p.StoredCount = -1 }, rng},
	} {
		p := ok
		tc.p(&p)
		if _, err := dispersy.ChooseSyncRange(tc.s, p, tc.rng); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := dispersy.ChooseSyncRange(s, ok, rng); err != nil {
		t.Fatalf("valid parameters: %v", err)
	}
}

// TestBloomSyncConverges runs both halves against each other: a requester
// chooses ranges (an exact set stands in for the bloom filter), a
// responder answers within 1 KiB, until the requester holds everything.
// The requester never receives a message it already has.
func TestBloomSyncConverges(t *testing.T) {
	for _, strategy := range []dispersy.SyncStrategy{dispersy.LargestPivot, dispersy.Modulo} {
		t.Run(strategy.String(), func(t *testing.T) {
			var msgs []msg
			for gt := uint64(1); gt <= 600; gt++ {
				msgs = append(msgs, msg{member: keys.MemberID{byte(1 + gt%7)}, gt: gt, id: uint8(1 + gt%2)})
			}
			responder := newStore(t, 100, msgs...)
			requester := newStore(t, 100, msgs[:50]...)
			types := []uint8{1, 2}
			order := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128}, {ID: 2, Priority: 128, Direction: policy.Random}}
			rng := rand.New(rand.NewPCG(77, 0))
			stored := 0
			for round := 1; ; round++ {
				gt, _ := requester.MaxGlobalTime(cid)
				req, err := dispersy.ChooseSyncRange(requester, dispersy.RangeParams{Community: cid, Types: types, Capacity: 40,
					GlobalTime: gt, Acceptable: 600 + 10000, Strategy: strategy, StoredCount: stored}, rng)
				if err != nil {
					t.Fatal(err)
				}
				stored = req.StoredCount
				filter := map[dispersy.Hash]bool{}
				for _, h := range req.Hashes {
					filter[h] = true
				}
				packets, err := dispersy.AnswerSync(responder, dispersy.AnswerParams{Community: cid, Types: order,
					Low: req.Low, High: req.High, Modulo: req.Modulo, Offset: req.Offset, Budget: 1024,
					Has: func(h dispersy.Hash) bool { return filter[h] }}, rng)
				if err != nil {
					t.Fatal(err)
				}
				var b dispersy.Batch
				for _, p := range packets {
					var m byte
					var g uint64
					var id uint8
					fmt.Sscanf(string(p), "%x/%d/%d/", &m, &g, &id)
					r, ok, _ := responder.Get(cid, dispersy.MessageKey{Member: keys.MemberID{m}, GlobalTime: g})
					if !ok || !bytes.Equal(r.Packet, p) {
						t.Fatalf("round %d: answered a packet the responder does not hold", round)
					}
					if has, _ := requester.Has(cid, r.Key()); has {
						t.Fatalf("round %d: received @%d, which the requester already holds", round, g)
					}
					b.Put(r)
				}
				if err := requester.Apply(&b); err != nil {
					t.Fatal(err)
				}
				if n, _ := requester.Count(cid, types); n == len(msgs) {
					t.Logf("converged after %d rounds", round)
					return
				}
				if round == 2000 {
					n, _ := requester.Count(cid, types)
					t.Fatalf("not converged after %d rounds: %d of %d", round, n, len(msgs))
				}
			}
		})
	}
}

// TestAnswerSyncReadsOnlyWhatItMaySend: an answer reads the records of a
// type from the first message the requester lacks on, in the type's
// direction, and none when it lacks nothing (every walk step of an idle
// overlay); the packets are those of reading the whole range.
func TestAnswerSyncReadsOnlyWhatItMaySend(t *testing.T) {
	msgs := series(memberB, 1, 1, 1000)
	msgs = append(msgs, series(memberA, 2, 1, 1000)...)
	cs := &countingStore{Store: newStore(t, 100, msgs...)}
	lacks := func(gts ...uint64) func(dispersy.Hash) bool {
		miss := map[dispersy.Hash]bool{}
		for _, gt := range gts {
			miss[dispersy.PacketHash(packetOf(msg{member: memberB, gt: gt, id: 1}, 100))] = true
			miss[dispersy.PacketHash(packetOf(msg{member: memberA, gt: gt, id: 2}, 100))] = true
		}
		return func(h dispersy.Hash) bool { return !miss[h] }
	}
	for _, tc := range []struct {
		name    string
		dir     policy.Direction
		lacking []uint64
		want    []uint64
		maxRead int
	}{
		{"ascending, holds all", policy.Ascending, nil, nil, 0},
		{"descending, holds all", policy.Descending, nil, nil, 0},
		{"random, holds all", policy.Random, nil, nil, 0},
		{"ascending, lacks 900 and 950", policy.Ascending, []uint64{900, 950}, []uint64{900, 950}, 101},
		{"descending, lacks 100 and 50", policy.Descending, []uint64{100, 50}, []uint64{100, 50}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs.ranged = 0
			types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: tc.dir}}
			got := gtsOf(t, answer(t, cs, dispersy.AnswerParams{Types: types, Low: 1, High: 1000, Has: lacks(tc.lacking...)}, 1))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("answer %v, want %v", got, tc.want)
			}
			if cs.ranged > tc.maxRead {
				t.Fatalf("read %d records to send %d packets, want at most %d", cs.ranged, len(got), tc.maxRead)
			}
		})
	}
}

// TestAnswerSyncSameAsReadingAll: whatever the requester holds, the answer
// is the one a read of the whole range, filtered and cut at the budget,
// gives (the reference below), for both ordered directions, with modulo
// classes, undone messages and a type's own lower bound.
func TestAnswerSyncSameAsReadingAll(t *testing.T) {
	var msgs []msg
	for i := range uint64(600) {
		msgs = append(msgs, msg{member: keys.MemberID{byte(1 + i%3)}, gt: 1 + i/3, id: uint8(1 + i%2), undone: i%17 == 0})
	}
	s := newStore(t, 120, msgs...)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 300 {
		dir := policy.Ascending
		if i%2 == 1 {
			dir = policy.Descending
		}
		held := map[dispersy.Hash]bool{}
		share := rng.Float64()
		for _, m := range msgs {
			if rng.Float64() < share {
				held[dispersy.PacketHash(packetOf(m, 120))] = true
			}
		}
		has := func(h dispersy.Hash) bool { return held[h] }
		low := 1 + rng.Uint64N(200)
		p := dispersy.AnswerParams{Community: cid, Low: low, High: low + rng.Uint64N(200),
			Budget: 1 + rng.IntN(3000), Has: has,
			Types: []dispersy.SyncTypeOrder{{ID: 1, Priority: 200, Direction: dir, Low: rng.Uint64N(100)}, {ID: 2, Priority: 100, Direction: dir}}}
		if i%3 == 0 {
			p.Modulo, p.Offset = 2+rng.Uint64N(3), rng.Uint64N(5)
		}
		got := answer(t, s, p, 1)
		// The reference: every record of the range, filtered here.
		var want [][]byte
		size := 0
	types:
		for _, ty := range p.Types {
			q := dispersy.RangeQuery{Community: cid, MessageID: ty.ID, Low: max(p.Low, ty.Low), High: p.High,
				Modulo: p.Modulo, Offset: p.Offset, Descending: dir == policy.Descending}
			if q.Low > q.High {
				continue
			}
			err := s.Range(q, func(r *dispersy.Record) bool {
				if has(r.Hash) {
					return true
				}
				want = append(want, r.Packet)
				size += len(r.Packet)
				return size < p.Budget
			})
			if err != nil {
				t.Fatal(err)
			}
			if size >= p.Budget {
				break types
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d (%+v): answer %d packets, reading all gives %d", i, p, len(got), len(want))
		}
	}
}

// TestAnswerSyncRandomKeepsDraws: a RANDOM type the requester holds
// entirely is not read, but it draws from rng what reading and shuffling
// it would have, so that everything drawn after it (the engine shares one
// rng) stays as it was: simulations keep their published results.
func TestAnswerSyncRandomKeepsDraws(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 63, 64, 65, 128, 200} {
		s := newStore(t, 100, series(memberB, 1, 1, n)...)
		for _, r := range [][2]uint64{{1, 300}, {1, n}, {n / 2, n + 5}, {7, 7}} {
			if r[0] > r[1] || r[0] == 0 {
				continue
			}
			types := []dispersy.SyncTypeOrder{{ID: 1, Priority: 128, Direction: policy.Random}}
			p := dispersy.AnswerParams{Community: cid, Types: types, Low: r[0], High: r[1], Budget: 1 << 30}
			all := rand.New(rand.NewPCG(n, r[0]))
			if _, err := dispersy.AnswerSync(s, p, all); err != nil {
				t.Fatal(err)
			}
			p.Has = func(dispersy.Hash) bool { return true }
			held := rand.New(rand.NewPCG(n, r[0]))
			got, err := dispersy.AnswerSync(s, p, held)
			if err != nil || len(got) != 0 {
				t.Fatalf("%d rows, range %v: %d packets, %v", n, r, len(got), err)
			}
			if a, b := all.Uint64(), held.Uint64(); a != b {
				t.Fatalf("%d rows, range %v: the next draw is %x after reading the range, %x after skipping it", n, r, a, b)
			}
		}
	}
}
