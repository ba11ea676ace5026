package reconcile

import (
	"slices"
	"testing"
)

// runBatch runs a batched session (Check first) between initiator a and
// responder b and returns the initiator and the round trips it took.
func runBatch(t *testing.T, a, b *Index, cfg Config) (*Reconciler, int, int) {
	t.Helper()
	ini, err := NewInitiator(a, Zero, Infinity, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := NewResponder(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ini.Check()
	if err != nil {
		t.Fatal(err)
	}
	msgs, rounds, bytes := [][]byte{first}, 0, 0
	for len(msgs) > 0 {
		rounds++
		var replies [][]byte
		for _, m := range msgs {
			bytes += len(m)
			r, _, err := rsp.RespondBatch(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range r {
				bytes += len(x)
			}
			replies = append(replies, r...)
		}
		var done bool
		msgs, done, err = ini.ReconcileBatch(replies)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
	}
	return ini, rounds, bytes
}

// TestRangePullEmptyInitiator: an initiator that holds nothing learns, with
// RangePull, ranges that cover the peer's whole set in one round trip (the
// peer splits a range where we hold nothing Branch² ways), without a
// single id on the wire; a
// partly filled one learns the ranges where it holds nothing and the ids
// elsewhere, and together they are exactly what it lacks.
func TestRangePullEmptyInitiator(t *testing.T) {
	items := make([]Item, 100_000)
	for k := range items {
		items[k] = mkItem(k)
	}
	slices.SortFunc(items, Item.Compare)
	full, err := Build(items)
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := Build(nil)
	cfg := Config{RangePull: true, MaxMessagesPerRound: 16}
	ini, rounds, bytes := runBatch(t, empty, full, cfg)
	if len(ini.Need()) != 0 {
		t.Fatalf("%d ids listed, want none", len(ini.Need()))
	}
	rs := ini.NeedRanges()
	if len(rs) != 256 || rounds != 1 {
		t.Fatalf("%d ranges in %d round trips, want 256 in 1", len(rs), rounds)
	}
	total := 0
	for k, r := range rs {
		if k > 0 && r.Lo != rs[k-1].Hi {
			t.Fatalf("range %d starts at %v, previous ended at %v", k, r.Lo, rs[k-1].Hi)
		}
		total += full.Rank(r.Hi) - full.Rank(r.Lo)
	}
	if rs[0].Lo != Zero || rs[len(rs)-1].Hi != Infinity || total != len(items) {
		t.Fatalf("ranges cover %d items from %v to %v", total, rs[0].Lo, rs[len(rs)-1].Hi)
	}
	if bytes > 16_000 {
		t.Fatalf("%d bytes exchanged, want under 16,000", bytes)
	}
	// RangeSplit 1 sends each range back once to be split again: more,
	// smaller ranges, one round trip later, covering the same items.
	split, srounds, _ := runBatch(t, empty, full, Config{RangePull: true, RangeSplit: 1, MaxMessagesPerRound: 64})
	n := 0
	for _, r := range split.NeedRanges() {
		n += full.Rank(r.Hi) - full.Rank(r.Lo)
	}
	if srounds != 2 || len(split.NeedRanges()) <= len(rs) || n != len(items) {
		t.Fatalf("RangeSplit 1: %d ranges over %d items in %d round trips, want more than %d over %d in 2", len(split.NeedRanges()), n, srounds, len(rs), len(items))
	}
	// Without RangePull the same session lists every id.
	ini2, _, bytes2 := runBatch(t, empty, full, Config{MaxMessagesPerRound: 16, MaxRounds: 1 << 20, MaxIDs: 1 << 20})
	if len(ini2.Need()) != len(items) || bytes2 < 16*len(items) {
		t.Fatalf("without RangePull: %d ids, %d bytes", len(ini2.Need()), bytes2)
	}

	// Partly filled: the first and the last quarter held.
	part, _ := Build(append(slices.Clone(items[:25_000]), items[75_000:]...))
	ini, _, _ = runBatch(t, part, full, cfg)
	lacked := map[ID]bool{}
	for _, r := range ini.NeedRanges() {
		if n := part.Rank(r.Hi) - part.Rank(r.Lo); n != 0 {
			t.Fatalf("range %v..%v holds %d of our items", r.Lo, r.Hi, n)
		}
		for _, it := range full.AppendRanks(nil, full.Rank(r.Lo), full.Rank(r.Hi)) {
			lacked[it.ID] = true
		}
	}
	for _, id := range ini.Need() {
		lacked[id] = true
	}
	if len(lacked) != 50_000 {
		t.Fatalf("ranges and ids cover %d items, want 50,000", len(lacked))
	}
	for _, it := range items[25_000:75_000] {
		if !lacked[it.ID] {
			t.Fatalf("%v not found", it)
		}
	}
}

// TestBoundRoundTrip: AppendBound and ReadBound agree, and ReadBound
// refuses a non-shortest id prefix.
func TestBoundRoundTrip(t *testing.T) {
	for _, b := range []Bound{Zero, Infinity, {Time: 7}, {Time: 1 << 40, ID: ID{1, 2}}, mkItem(5)} {
		enc := AppendBound(nil, b)
		got, n, err := ReadBound(append(enc, 9))
		if err != nil || got != b || n != len(enc) {
			t.Fatalf("%v: got %v, %d, %v", b, got, n, err)
		}
	}
	if _, _, err := ReadBound([]byte{1, 2, 5, 0}); err == nil {
		t.Fatal("trailing zero accepted")
	}
}
