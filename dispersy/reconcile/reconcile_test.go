package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSplitEnd(t *testing.T) {
	for _, c := range []struct {
		n, B  int
		sizes []int
	}{
		{16, 16, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{17, 16, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}},
		{33, 16, []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}},
		{10, 4, []int{2, 3, 2, 3}},
		{7, 2, []int{3, 4}},
		{1000000, 16, []int{62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500}},
		{1000001, 16, []int{62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62500, 62501}},
	} {
		var got []int
		prev := 0
		for b := range c.B {
			e := splitEnd(c.n, c.B, b)
			got = append(got, e-prev)
			prev = e
		}
		if !slices.Equal(got, c.sizes) || prev != c.n {
			t.Errorf("split %d into %d: %v, want %v", c.n, c.B, got, c.sizes)
		}
	}
}

func TestMinimalBound(t *testing.T) {
	id := func(b ...byte) (x ID) { copy(x[:], b); return x }
	for _, c := range []struct {
		a, b, want Item
	}{
		{Item{1, id(9, 9)}, Item{2, id(1, 2, 3)}, Item{2, ID{}}},
		{Item{5, id(1, 2, 3)}, Item{5, id(1, 2, 4)}, Item{5, id(1, 2, 4)}},
		{Item{5, id(1, 2, 3)}, Item{5, id(1, 3, 0, 7)}, Item{5, id(1, 3)}},
		{Item{5, id(0)}, Item{5, id(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)}, Item{5, id(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)}},
	} {
		got := minimalBound(c.a, c.b)
		if got != c.want || !c.a.Less(got) || c.b.Less(got) {
			t.Errorf("minimalBound(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// mkItem is item k of a deterministic universe: times grow by 0..2 (so some
// times repeat and bounds need id prefixes), ids are hashes.
func mkItem(k int) Item {
	h := sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(k)))
	var it Item
	it.Time = uint64(k) - uint64(k)/3
	copy(it.ID[:], h[:16])
	return it
}

// pair builds the two indices of a simulation: a universe of n+d items where
// each of the d differing items is missing from one side (alternating), at
// random positions or at the tail.
func pair(t testing.TB, n, d int, tail bool, seed uint64) (a, b *Index, onlyA, onlyB []Item) {
	t.Helper()
	all := make([]Item, n+d)
	for k := range all {
		all[k] = mkItem(k)
	}
	slices.SortFunc(all, Item.Compare)
	drop := map[int]bool{}
	r := rand.New(rand.NewPCG(seed, 2))
	for len(drop) < d {
		k := r.IntN(len(all))
		if tail {
			k = len(all) - 1 - len(drop)
		}
		drop[k] = true
	}
	var as, bs []Item
	side := 0
	for k, it := range all {
		switch {
		case !drop[k]:
			as, bs = append(as, it), append(bs, it)
		case side%2 == 0:
			as, onlyA = append(as, it), append(onlyA, it)
			side++
		default:
			bs, onlyB = append(bs, it), append(onlyB, it)
			side++
		}
	}
	var err error
	if a, err = Build(as); err != nil {
		t.Fatal(err)
	}
	if b, err = Build(bs); err != nil {
		t.Fatal(err)
	}
	return a, b, onlyA, onlyB
}

type result struct {
	rounds        int
	bytesAB       int // initiator to responder
	bytesBA       int
	maxAB, maxBA  int
	messagesAB    int
	messagesBA    int
	initiator     *Reconciler
	err           error
	budgetBreaker int
}

// simulate runs a session between initiator a and responder b.
func simulate(t testing.TB, a, b *Index, lo, hi Bound, cfg Config) result {
	t.Helper()
	ini, err := NewInitiator(a, lo, hi, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := NewResponder(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	budget := ini.cfg.MaxMessageBytes
	res := result{initiator: ini}
	msg, err := ini.Initiate()
	if err != nil {
		t.Fatal(err)
	}
	for {
		res.bytesAB += len(msg)
		res.messagesAB++
		res.maxAB = max(res.maxAB, len(msg))
		if len(msg) > budget {
			res.budgetBreaker++
		}
		reply, _, err := rsp.Reconcile(msg)
		if err != nil {
			res.err = err
			break
		}
		res.bytesBA += len(reply)
		res.messagesBA++
		res.maxBA = max(res.maxBA, len(reply))
		if len(reply) > budget {
			res.budgetBreaker++
		}
		var done bool
		msg, done, err = ini.Reconcile(reply)
		if err != nil {
			res.err = err
			break
		}
		if done {
			break
		}
	}
	res.rounds = ini.Rounds()
	return res
}

func checkDiff(t *testing.T, res result, onlyA, onlyB []Item) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("session error: %v", res.err)
	}
	if res.budgetBreaker > 0 {
		t.Fatalf("%d messages over the budget", res.budgetBreaker)
	}
	have := slices.Clone(res.initiator.Have())
	slices.SortFunc(have, Item.Compare)
	if !slices.Equal(have, onlyA) {
		t.Fatalf("Have: %d items, want %d", len(have), len(onlyA))
	}
	need := slices.Clone(res.initiator.Need())
	sortIDs(need)
	want := make([]ID, len(onlyB))
	for k := range onlyB {
		want[k] = onlyB[k].ID
	}
	sortIDs(want)
	if !slices.Equal(need, want) {
		t.Fatalf("Need: %d ids, want %d", len(need), len(want))
	}
}

// TestReconcileSimulation: two parties with d differences (random or tail,
// each side missing some) end with exactly the symmetric difference, every
// message within the budget.
func TestReconcileSimulation(t *testing.T) {
	unlimited := Config{MaxMessageBytes: 1 << 30, MaxRounds: 1 << 20, MaxRanges: 1 << 30, MaxIDs: 1 << 30}
	for _, c := range []struct {
		name string
		n, d int
		tail bool
		cfg  Config
	}{
		{"empty", 0, 0, false, Config{}},
		{"one", 1, 0, false, Config{}},
		{"small-equal", 20, 0, false, Config{}},
		{"small-diff", 20, 7, false, Config{}},
		{"only-responder", 0, 1, false, Config{}},
		{"10k-equal", 10000, 0, false, Config{}},
		{"10k-d1", 10000, 1, false, Config{}},
		{"10k-d2-tail", 10000, 2, true, Config{}},
		{"10k-d50-random", 10000, 50, false, Config{MaxRounds: 1000}},
		{"10k-d300-tail", 10000, 300, true, Config{MaxRounds: 1000}},
		{"10k-d300-random-B4", 10000, 300, false, Config{Branch: 4, MaxRounds: 5000}},
		{"10k-d300-random-min-budget", 10000, 300, false, Config{MaxMessageBytes: MinMessageBytes, MaxRounds: 10000}},
		{"10k-d300-random-unlimited", 10000, 300, false, unlimited},
		{"5k-d5000-disjoint-halves", 5000, 5000, false, Config{MaxRounds: 1000}},
		{"10k-d300-B32-T100", 10000, 300, false, Config{Branch: 32, IDListThreshold: 100, MaxRounds: 1000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(3) {
				a, b, onlyA, onlyB := pair(t, c.n, c.d, c.tail, seed)
				res := simulate(t, a, b, Zero, Infinity, c.cfg)
				checkDiff(t, res, onlyA, onlyB)
				if c.d == 0 && res.rounds != 1 {
					t.Fatalf("equal sets took %d round trips", res.rounds)
				}
			}
		})
	}
}

// TestReconcileScope: an initiator reconciling a sub-range learns the
// differences inside it and nothing outside.
func TestReconcileScope(t *testing.T) {
	a, b, onlyA, onlyB := pair(t, 5000, 200, false, 7)
	lo, hi := mkItem(1000), mkItem(3000)
	in := func(s []Item) (out []Item) {
		for _, it := range s {
			if !it.Less(lo) && it.Less(hi) {
				out = append(out, it)
			}
		}
		return out
	}
	res := simulate(t, a, b, lo, hi, Config{MaxRounds: 1000})
	wantA, wantB := in(onlyA), in(onlyB)
	if len(wantA) == 0 || len(wantB) == 0 || len(wantA) == len(onlyA) {
		t.Fatalf("scope does not split the differences: %d/%d %d/%d", len(wantA), len(onlyA), len(wantB), len(onlyB))
	}
	checkDiff(t, res, wantA, wantB)
}

// liar answers every range of a message with a random fingerprint.
func liar(t *testing.T, r *rand.Rand, msg []byte) []byte {
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	for k := range m.Ranges {
		if m.Ranges[k].Mode != ModeSkip {
			m.Ranges[k].Mode, m.Ranges[k].IDs = ModeFingerprint, nil
			for i := range m.Ranges[k].Fingerprint {
				m.Ranges[k].Fingerprint[i] = byte(r.Uint32())
			}
		}
	}
	out, err := m.AppendEncode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLiarBounded: a peer that answers with random fingerprints forever costs
// exactly MaxRounds round trips, then the session ends with ErrRoundLimit.
func TestLiarBounded(t *testing.T) {
	a, _, _, _ := pair(t, 20000, 0, false, 1)
	for _, maxRounds := range []int{1, 5, 40} {
		ini, err := NewInitiator(a, Zero, Infinity, Config{MaxRounds: maxRounds})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		msg, _ := ini.Initiate()
		sent := 1
		for {
			if len(msg) > DefaultMaxMessageBytes {
				t.Fatalf("message of %d bytes", len(msg))
			}
			var done bool
			msg, done, err = ini.Reconcile(liar(t, r, msg))
			if err != nil || done {
				break
			}
			sent++
			if sent > maxRounds {
				t.Fatalf("initiator sent %d messages, limit %d", sent, maxRounds)
			}
		}
		if !errors.Is(err, ErrRoundLimit) || sent != maxRounds || ini.Rounds() != maxRounds {
			t.Fatalf("maxRounds %d: sent %d, rounds %d, err %v", maxRounds, sent, ini.Rounds(), err)
		}
		if _, _, err := ini.Reconcile(msg); !errors.Is(err, ErrSessionOver) {
			t.Fatalf("after the end: %v", err)
		}
	}
}

// TestResponderLimits: a responder answers at most MaxRounds messages and
// refuses messages with more than MaxRanges ranges.
func TestResponderLimits(t *testing.T) {
	a, b, _, _ := pair(t, 1000, 10, false, 1)
	ini, _ := NewInitiator(a, Zero, Infinity, Config{})
	msg, _ := ini.Initiate()
	rsp, _ := NewResponder(b, Config{MaxRounds: 2})
	for k := range 3 {
		_, _, err := rsp.Reconcile(msg)
		if (k < 2) != (err == nil) {
			t.Fatalf("message %d: %v", k, err)
		}
		if k == 2 && !errors.Is(err, ErrRoundLimit) {
			t.Fatalf("third message: %v", err)
		}
	}
	if _, err := Respond(b, msg, Config{MaxRanges: 3}); !errors.Is(err, ErrTooManyRanges) {
		t.Fatalf("MaxRanges: %v", err)
	}
}

// TestInitiatorRejects: replies outside the scope, and lists that would
// exceed MaxIDs, end the session with their error.
func TestInitiatorRejects(t *testing.T) {
	a, _, _, _ := pair(t, 1000, 0, false, 1)
	lo, hi := mkItem(100), mkItem(500)
	ini, _ := NewInitiator(a, lo, hi, Config{})
	ini.Initiate()
	out := Message{Ranges: []Range{{Upper: Infinity, Mode: ModeFingerprint}}}
	msg, _ := out.AppendEncode(nil)
	if _, _, err := ini.Reconcile(msg); !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("out of scope: %v", err)
	}
	ini, _ = NewInitiator(a, Zero, Infinity, Config{MaxIDs: 100})
	ini.Initiate()
	out = Message{Ranges: []Range{{Upper: Infinity, Mode: ModeIDList}}} // "I hold nothing"
	msg, _ = out.AppendEncode(nil)
	if _, _, err := ini.Reconcile(msg); !errors.Is(err, ErrTooManyIDs) {
		t.Fatalf("MaxIDs: %v", err)
	}
	if _, err := NewInitiator(a, Zero, Infinity, Config{Branch: 8, IDListThreshold: 4}); err == nil {
		t.Fatal("IDListThreshold below Branch accepted")
	}
	if _, err := NewInitiator(a, Zero, Infinity, Config{MaxMessageBytes: 100}); err == nil {
		t.Fatal("tiny budget accepted")
	}
}

// TestAnswerShapes pins how one side answers one range: a matching
// fingerprint with nothing, a mismatching one over many items with Branch
// sub-ranges of the split sizes and the index's own fingerprints, over few
// items with their ids, and an id list with the responder's list.
func TestAnswerShapes(t *testing.T) {
	items := make([]Item, 100)
	for k := range items {
		items[k] = mkItem(k)
	}
	slices.SortFunc(items, Item.Compare)
	ix, _ := Build(items)
	ask := func(rs ...Range) Message {
		t.Helper()
		in, err := (&Message{Ranges: rs}).AppendEncode(nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Respond(ix, in, Config{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := ask(Range{Upper: Infinity, Mode: ModeFingerprint, Fingerprint: ix.Total().Fingerprint()}); len(m.Ranges) != 0 {
		t.Fatalf("matching fingerprint answered with %d ranges", len(m.Ranges))
	}
	m := ask(Range{Upper: Infinity, Mode: ModeFingerprint})
	if len(m.Ranges) != DefaultBranch {
		t.Fatalf("split into %d ranges", len(m.Ranges))
	}
	lo, prev := Zero, 0
	for b, r := range m.Ranges {
		cnt := ix.Rank(r.Upper) - ix.Rank(lo)
		if want := splitEnd(100, DefaultBranch, b) - prev; r.Mode != ModeFingerprint || cnt != want || r.Fingerprint != ix.Fingerprint(lo, r.Upper) {
			t.Fatalf("sub-range %d: mode %d, %d items (want %d)", b, r.Mode, cnt, want)
		}
		prev += cnt
		lo = r.Upper
	}
	// 16 items or fewer: their ids.
	hi := items[16]
	m = ask(Range{Upper: hi, Mode: ModeFingerprint})
	if len(m.Ranges) != 1 || m.Ranges[0].Mode != ModeIDList || len(m.Ranges[0].IDs) != 16 || m.Ranges[0].Upper != hi {
		t.Fatalf("small range: %+v", m.Ranges)
	}
	// An id list: the responder's own list; the same list: nothing.
	m = ask(Range{Upper: hi, Mode: ModeIDList, IDs: m.Ranges[0].IDs[:3]})
	if len(m.Ranges) != 1 || m.Ranges[0].Mode != ModeIDList || len(m.Ranges[0].IDs) != 16 {
		t.Fatalf("id list answer: %+v", m.Ranges)
	}
	if m = ask(Range{Upper: hi, Mode: ModeIDList, IDs: m.Ranges[0].IDs}); len(m.Ranges) != 0 {
		t.Fatalf("equal id list answered with %d ranges", len(m.Ranges))
	}
	// A skip keeps its place: a range after it is answered after it.
	m = ask(Range{Upper: items[50], Mode: ModeSkip}, Range{Upper: items[60], Mode: ModeFingerprint})
	if len(m.Ranges) != 2 || m.Ranges[0].Mode != ModeSkip || m.Ranges[0].Upper != items[50] || len(m.Ranges[1].IDs) != 10 {
		t.Fatalf("skip then small range: %+v", m.Ranges)
	}
}

// simulateBatch runs a session in which the initiator sends up to
// cfg.MaxMessagesPerRound messages per round trip; the replies reach it in
// a shuffled order.
func simulateBatch(t testing.TB, a, b *Index, cfg Config, seed uint64) result {
	t.Helper()
	ini, err := NewInitiator(a, Zero, Infinity, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := NewResponder(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 5))
	budget := ini.cfg.MaxMessageBytes
	res := result{initiator: ini}
	msgs, err := ini.InitiateBatch()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if len(msgs) > ini.cfg.MaxMessagesPerRound {
			t.Fatalf("%d messages in one round, limit %d", len(msgs), ini.cfg.MaxMessagesPerRound)
		}
		var replies [][]byte
		for _, msg := range msgs {
			res.bytesAB += len(msg)
			res.messagesAB++
			res.maxAB = max(res.maxAB, len(msg))
			if len(msg) > budget {
				res.budgetBreaker++
			}
			out, _, err := rsp.RespondBatch(msg)
			if err != nil {
				res.err = err
				return res
			}
			for _, reply := range out {
				res.bytesBA += len(reply)
				res.messagesBA++
				res.maxBA = max(res.maxBA, len(reply))
				if len(reply) > budget {
					res.budgetBreaker++
				}
				replies = append(replies, reply)
			}
		}
		r.Shuffle(len(replies), func(i, j int) { replies[i], replies[j] = replies[j], replies[i] })
		var done bool
		msgs, done, err = ini.ReconcileBatch(replies)
		if err != nil {
			res.err = err
			break
		}
		if done {
			break
		}
	}
	res.rounds = ini.Rounds()
	return res
}

// TestReconcileBatch: with several messages per round trip the session finds
// the same symmetric difference in fewer round trips, every message within
// the budget.
func TestReconcileBatch(t *testing.T) {
	for _, c := range []struct {
		name     string
		n, d     int
		tail     bool
		perRound int
	}{
		{"equal", 10000, 0, false, 8},
		{"d1", 10000, 1, false, 8},
		{"d300-random-8", 10000, 300, false, 8},
		{"d300-random-3", 10000, 300, false, 3},
		{"d1000-tail-8", 10000, 1000, true, 8},
		{"d3000-random-16", 3000, 3000, false, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(3) {
				a, b, onlyA, onlyB := pair(t, c.n, c.d, c.tail, seed)
				single := simulate(t, a, b, Zero, Infinity, Config{MaxRounds: 10000})
				res := simulateBatch(t, a, b, Config{MaxRounds: 10000, MaxMessagesPerRound: c.perRound}, seed)
				checkDiff(t, res, onlyA, onlyB)
				if c.d == 0 && (res.rounds != 1 || res.messagesAB != 1) {
					t.Fatalf("equal sets: %d round trips, %d messages", res.rounds, res.messagesAB)
				}
				if res.rounds > single.rounds {
					t.Fatalf("%d round trips in batches, %d one message at a time", res.rounds, single.rounds)
				}
				t.Logf("%s seed %d: %d vs %d rounds, bytes %d/%d vs %d/%d", c.name, seed, res.rounds, single.rounds, res.bytesAB, res.bytesBA, single.bytesAB, single.bytesBA)
				if c.d >= 300 && res.rounds*3 > single.rounds {
					t.Fatalf("batches of %d: %d round trips, one at a time %d", c.perRound, res.rounds, single.rounds)
				}
			}
		})
	}
}

// TestJoinRejectsOverlap: replies of one round whose spans overlap end the
// session.
func TestJoinRejectsOverlap(t *testing.T) {
	a, _, _, _ := pair(t, 1000, 0, false, 1)
	ini, _ := NewInitiator(a, Zero, Infinity, Config{MaxMessagesPerRound: 2})
	ini.InitiateBatch()
	enc := func(rs ...Range) []byte {
		b, err := (&Message{Ranges: rs}).AppendEncode(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	x, y := mkItem(100), mkItem(200)
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	r1 := enc(Range{Upper: y, Mode: ModeFingerprint})
	r2 := enc(Range{Upper: x, Mode: ModeSkip}, Range{Upper: Infinity, Mode: ModeFingerprint})
	if _, _, err := ini.ReconcileBatch([][]byte{r1, r2}); !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("overlapping replies: %v", err)
	}
	ini, _ = NewInitiator(a, Zero, Infinity, Config{MaxMessagesPerRound: 2})
	ini.InitiateBatch()
	r2 = enc(Range{Upper: y, Mode: ModeSkip}, Range{Upper: Infinity, Mode: ModeFingerprint})
	if _, done, err := ini.ReconcileBatch([][]byte{r2, r1}); err != nil || done {
		t.Fatalf("adjacent replies: done %v, %v", done, err)
	}
	ini, _ = NewInitiator(a, Zero, Infinity, Config{MaxMessagesPerRound: 2, MaxRanges: 1})
	ini.InitiateBatch()
	if _, _, err := ini.ReconcileBatch([][]byte{r1, r1, r1}); !errors.Is(err, ErrTooManyRanges) {
		t.Fatalf("more ranges than 2 × MaxRanges: %v", err)
	}
}

// TestSingleMessageAPI: Initiate and Reconcile write one message per call
// even when MaxMessagesPerRound allows more (the single-message API must
// not drop the rest).
func TestSingleMessageAPI(t *testing.T) {
	a, b, onlyA, onlyB := pair(t, 10000, 300, false, 4)
	res := simulate(t, a, b, Zero, Infinity, Config{MaxRounds: 10000, MaxMessagesPerRound: 8})
	checkDiff(t, res, onlyA, onlyB)
}

// TestMovingIndex: both indices change between the messages of a session
// (new messages, prunes); the session still ends, without error, finds the
// differences it started with, and every id it needs was the responder's.
func TestMovingIndex(t *testing.T) {
	a, b, _, _ := pair(t, 5000, 200, false, 9)
	everB := map[ID]bool{}
	for _, it := range b.AppendRanks(nil, 0, b.Len()) {
		everB[it.ID] = true
	}
	ini, _ := NewInitiator(a, Zero, Infinity, Config{MaxRounds: 10000})
	rsp, _ := NewResponder(b, Config{})
	msg, _ := ini.Initiate()
	next := 6000
	for step := 0; ; step++ {
		it := mkItem(next) // a new message reaches both, one side first
		next++
		b.Insert(it)
		everB[it.ID] = true
		if step%2 == 0 {
			a.Insert(it)
		}
		if step%3 == 0 && a.Len() > 0 { // a prune on the initiator
			a.Delete(a.At(step % a.Len()))
		}
		reply, _, err := rsp.Reconcile(msg)
		if err != nil {
			t.Fatal(err)
		}
		var done bool
		if msg, done, err = ini.Reconcile(reply); err != nil {
			t.Fatal(err)
		} else if done {
			break
		}
	}
	for _, id := range ini.Need() {
		if !everB[id] {
			t.Fatalf("Need holds %x, never the responder's", id)
		}
	}
	if len(ini.Need()) < 100 || len(ini.Have()) < 100 {
		t.Fatalf("found %d and %d differences of about 100 each way", len(ini.Have()), len(ini.Need()))
	}
}

// TestCheckAndNeedWindows: Check sends one fingerprint when the sets are
// large and equal sets end in one round trip; with a difference, every
// needed id comes with the global-time window that holds it.
func TestCheckAndNeedWindows(t *testing.T) {
	var a, b []Item
	for i := range 1000 {
		it := Item{Time: uint64(10 + i)}
		it.ID[0], it.ID[1] = byte(i>>8), byte(i)
		it.ID[15] = 1
		b = append(b, it)
		if i%97 != 5 {
			a = append(a, it)
		}
	}
	ia, _ := Build(a)
	ib, _ := Build(b)
	same, _ := NewInitiator(ib, Zero, Infinity, Config{})
	msg, err := same.Check()
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := Decode(msg); len(m.Ranges) != 1 || m.Ranges[0].Mode != ModeFingerprint {
		t.Fatalf("Check of a large set: %d ranges, want one fingerprint", len(m.Ranges))
	}
	reply, err := Respond(ib, msg, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := same.Reconcile(reply); !done || err != nil {
		t.Fatalf("equal sets: done=%v err=%v, want done after one round trip", done, err)
	}
	s, _ := NewInitiator(ia, Zero, Infinity, Config{})
	msg, _ = s.Check()
	for range 20 {
		reply, err := Respond(ib, msg, Config{})
		if err != nil {
			t.Fatal(err)
		}
		next, done, err := s.Reconcile(reply)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		msg = next
	}
	need, win := s.Need(), s.NeedWindows()
	if len(need) != len(b)-len(a) || len(win) != len(need) {
		t.Fatalf("need %d ids with %d windows, want %d", len(need), len(win), len(b)-len(a))
	}
	for k, id := range need {
		i := int(id[0])<<8 | int(id[1])
		if gt := uint64(10 + i); gt < win[k].Lo || gt > win[k].Hi {
			t.Fatalf("id %d at time %d outside its window %+v", i, gt, win[k])
		}
	}
}

// TestBatchIDListSpansMessages: a responder listing more ids than one
// message holds goes on in the next messages of its batch, so a round trip
// with MaxMessagesPerRound 4 brings about 4 times the ids of one with 1
// (an empty initiator against 5,000 items).
func TestBatchIDListSpansMessages(t *testing.T) {
	var items []Item
	for i := range 5000 {
		it := Item{Time: uint64(10 + i)}
		it.ID[0], it.ID[1], it.ID[15] = byte(i>>8), byte(i), 1
		items = append(items, it)
	}
	empty, _ := Build(nil)
	full, _ := Build(items)
	firstRound := func(m int) int {
		cfg := Config{MaxMessagesPerRound: m}
		s, _ := NewInitiator(empty, Zero, Infinity, cfg)
		msgs, _ := s.InitiateBatch()
		var replies [][]byte
		for _, msg := range msgs {
			r, _ := NewResponder(full, cfg)
			out, _, err := r.RespondBatch(msg)
			if err != nil {
				t.Fatal(err)
			}
			replies = append(replies, out...)
		}
		if _, _, err := s.ReconcileBatch(replies); err != nil {
			t.Fatal(err)
		}
		return len(s.Need())
	}
	one, four := firstRound(1), firstRound(4)
	if one == 0 || four < 3*one {
		t.Fatalf("first round found %d ids with 1 message per round and %d with 4; want about 4 times as many", one, four)
	}
}
