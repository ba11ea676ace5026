// Package syncrange is the bloom-filter sync range arithmetic of Dispersy
// (dispersy.md §4.2 and §4.4): choosing which global-time range (and
// modulo class) a sync request covers ([Choose]), and answering one
// ([Answer]). Both run on the narrow [Store] interface only, so they behave
// the same on every store; package dispersy re-exports them as
// ChooseSyncRange and AnswerSync with its Store. It is pure: no I/O, no
// clock; rng is the only source of randomness.
package syncrange

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// HashSize is the length of a packet hash.
const HashSize = 16

// Hash identifies a packet: the first 16 bytes of the SHA-256 of the whole
// packet. Bloom filters hold hashes, not packets.
type Hash [HashSize]byte

// ScanQuery selects live (not undone) messages of some types for building
// a sync range or bloom filter.
type ScanQuery struct {
	Community keys.CommunityID
	// Types are the message ids to include; empty selects nothing.
	Types []uint8
	// From is the first global time: rows with GlobalTime >= From when
	// ascending, <= From when descending.
	From       uint64
	Descending bool
	// Modulo and Offset, when Modulo > 1, keep only rows with
	// (GlobalTime + Offset) % Modulo == 0.
	Modulo, Offset uint64
}

// ScanRow is one row of a scan.
type ScanRow struct {
	GlobalTime uint64
	Hash       Hash
}

// RangeQuery selects the messages of one type in a global-time range, for
// sync answers and inspection.
type RangeQuery struct {
	Community keys.CommunityID
	MessageID uint8
	// Low and High bound the global time, inclusive.
	Low, High uint64
	// Modulo and Offset, when Modulo > 1, keep only rows with
	// (GlobalTime + Offset) % Modulo == 0.
	Modulo, Offset uint64
	Descending     bool
	// IncludeUndone also returns undone messages.
	IncludeUndone bool
}

// Row is what Answer reads of one stored message.
type Row struct {
	Hash   Hash
	Packet []byte
}

// Store is the part of a message store that Choose and Answer read; the
// methods are those of dispersy.Store (Range hands over a Row). fn stops a
// read when it returns false and must not keep the Row.
type Store interface {
	Scan(q ScanQuery, fn func(ScanRow) bool) error
	Count(cid keys.CommunityID, types []uint8) (int, error)
	Range(q RangeQuery, fn func(*Row) bool) error
}

// SyncStrategy selects how Choose picks a bloom-filter range.
type SyncStrategy uint8

const (
	// LargestPivot is Dispersy's default: a range of about Capacity
	// messages next to a random pivot that favours recent global times
	// (Community._dispersy_claim_sync_bloom_filter_largest).
	LargestPivot SyncStrategy = iota
	// Modulo covers every global time but only one residue class:
	// modulo = ceil(messages / Capacity), a random offset
	// (Community._dispersy_claim_sync_bloom_filter_modulo).
	Modulo
)

// String returns the strategy's name.
func (s SyncStrategy) String() string {
	switch s {
	case LargestPivot:
		return "LargestPivot"
	case Modulo:
		return "Modulo"
	}
	return fmt.Sprintf("SyncStrategy(%d)", uint8(s))
}

// maxStoredGlobalTime is the largest global time a Store holds
// (conversion.MaxGlobalTime; SQLite integers are signed).
const maxStoredGlobalTime = math.MaxInt64

// maxWireModulo is the largest modulo a sync request carries (16 bits).
const maxWireModulo = math.MaxUint16

// SyncRequestRange is what a bloom-filter sync request covers: the
// messages with Low <= global time <= High and (global time + Offset) %
// Modulo == 0, and the hashes of those we hold, for the bloom filter.
type SyncRequestRange struct {
	Low, High      uint64
	Modulo, Offset uint64
	// Hashes are the hashes of our live messages in the range, ascending by
	// global time (then hash): the keys of the bloom filter. At most
	// Capacity for LargestPivot; about N/Modulo for Modulo.
	Hashes []Hash
	// StoredCount is the value to pass as RangeParams.StoredCount next
	// time (Dispersy's _nrsyncpackets): Capacity+1 once a small-store
	// selection overflowed, the live count after a Modulo selection, else
	// unchanged.
	StoredCount int
}

// RangeParams are the inputs of Choose.
type RangeParams struct {
	Community keys.CommunityID
	// Types are the bloom-synced message ids (Dispersy: sync distribution
	// with priority > 32); the caller decides them. None: the empty range.
	Types []uint8
	// Capacity is how many hashes fit the bloom filter (>= 1).
	Capacity int
	// GlobalTime is our current global time (0 counts as 1).
	GlobalTime uint64
	// Acceptable is the acceptable global time, the upper bound of an open
	// range (1 .. 2^63-1).
	Acceptable uint64
	Strategy   SyncStrategy
	// StoredCount is Dispersy's _nrsyncpackets hint, carried between calls
	// through SyncRequestRange.StoredCount: 0 (the start) selects the
	// small-store mode, which raises it once the store outgrows Capacity.
	StoredCount int
}

// extendThreshold: a side that came back more than this many rows short
// is extended in the other direction (Dispersy's "to_select > 25").
const extendThreshold = 25

// Choose chooses the range of the next bloom-filter sync request
// and the hashes to put in its filter, as Dispersy did:
//
// LargestPivot. A pivot is drawn as GlobalTime - floor(Exp(mean
// GlobalTime/2)), or uniformly in [0, GlobalTime) when that falls below 1.
// If the pivot is above 1 and StoredCount >= Capacity (large-store mode),
// the "right" side takes up to Capacity messages with global time >=
// pivot, ascending; if it got exactly Capacity, the "left" side takes up
// to Capacity with global time <= pivot, descending, and the side
// spanning the larger global-time interval wins. Otherwise (small-store
// mode) the range is [1, Acceptable] with the first Capacity messages by
// ascending global time. Each selection reads one row more than it wants;
// if that row exists, it and every row sharing its global time are
// dropped, so no global time is ever split across a range edge, and the
// side's far end is that last kept global time ("fixed"). A side more than
// 25 rows short is extended in the other direction from the pivot. An
// unfixed upper end becomes Acceptable, an unfixed lower end 1, and both
// ends are capped at Acceptable. A small-store selection that was fixed
// ends the range at its last global time and sets StoredCount to
// Capacity+1.
//
// Modulo. N = Count of live messages; modulo = ceil(N / Capacity) (capped
// at 65,535, the wire's limit); offset uniform in [0, modulo); the range is
// [1, Acceptable] with the hashes of that residue class.
//
// No types, or no stored message: [1, Acceptable], modulo 1, offset 0, no
// hashes (Dispersy's empty 8-bit filter).
//
// Where Dispersy left freedom: messages with global time above Acceptable
// are never selected (Dispersy put them in the filter although no range
// it sends can include them), and a large-store selection that finds no
// rows gives the empty range (Dispersy raised an IndexError).
//
// rng is the only source of randomness; the same store, parameters and rng
// state give the same result. Errors come from the Store or from invalid
// parameters.
func Choose(s Store, p RangeParams, rng *rand.Rand) (SyncRequestRange, error) {
	switch {
	case s == nil:
		return SyncRequestRange{}, errors.New("dispersy: ChooseSyncRange needs a Store")
	case rng == nil:
		return SyncRequestRange{}, errors.New("dispersy: ChooseSyncRange needs a *rand.Rand")
	case p.Capacity < 1:
		return SyncRequestRange{}, fmt.Errorf("dispersy: RangeParams.Capacity is %d: must be >= 1 (the bloom filter's capacity)", p.Capacity)
	case p.Acceptable < 1 || p.Acceptable > maxStoredGlobalTime:
		return SyncRequestRange{}, fmt.Errorf("dispersy: RangeParams.Acceptable is %d: must be in [1, 2^63-1]", p.Acceptable)
	case p.Strategy != LargestPivot && p.Strategy != Modulo:
		return SyncRequestRange{}, fmt.Errorf("dispersy: RangeParams.Strategy is %v: must be LargestPivot or Modulo", p.Strategy)
	case p.StoredCount < 0:
		return SyncRequestRange{}, fmt.Errorf("dispersy: RangeParams.StoredCount is %d: must be >= 0", p.StoredCount)
	}
	empty := SyncRequestRange{Low: 1, High: p.Acceptable, Modulo: 1, StoredCount: p.StoredCount}
	if len(p.Types) == 0 {
		return empty, nil
	}
	if p.Strategy == Modulo {
		return chooseModulo(s, p, rng)
	}
	sel := selector{s: s, p: &p}
	gt := max(1, p.GlobalTime)
	pivot := drawPivot(gt, rng)
	var (
		low, high uint64
		rows      []ScanRow
		stored    = p.StoredCount
	)
	if pivot > 1 && p.StoredCount >= p.Capacity {
		right, err := sel.side(pivot-1, p.Capacity, true)
		if err != nil {
			return SyncRequestRange{}, err
		}
		chosen := right
		if len(right.rows) == p.Capacity {
			left, err := sel.side(pivot+1, p.Capacity, false)
			if err != nil {
				return SyncRequestRange{}, err
			}
			if len(left.rows) > 0 && (len(right.rows) == 0 || left.high-left.low > right.high-right.low) {
				chosen = left
			}
		}
		low, high, rows = chosen.low, chosen.high, chosen.rows
	} else {
		var fixed bool
		var err error
		rows, fixed, err = sel.selectAndFix(0, p.Capacity, true)
		if err != nil {
			return SyncRequestRange{}, err
		}
		low, high = 1, p.Acceptable
		if len(rows) > 0 && fixed {
			high = rows[len(rows)-1].GlobalTime
			stored = p.Capacity + 1
		}
	}
	if len(rows) == 0 {
		empty.StoredCount = stored
		return empty, nil
	}
	hashes := make([]Hash, len(rows))
	for i, r := range rows {
		hashes[i] = r.Hash
	}
	return SyncRequestRange{
		Low: min(low, p.Acceptable), High: min(high, p.Acceptable), Modulo: 1,
		Hashes: hashes, StoredCount: stored,
	}, nil
}

// drawPivot returns gt - floor(Exp(mean gt/2)), or a uniform draw in
// [0, gt) when that is below 1 (Python: int(random() * global_time)).
func drawPivot(gt uint64, rng *rand.Rand) uint64 {
	back := math.Floor(rng.ExpFloat64() * float64(gt) / 2)
	if back < float64(gt) {
		if b := uint64(back); b < gt {
			return gt - b
		}
	}
	return min(uint64(rng.Float64()*float64(gt)), gt-1)
}

// chooseModulo implements the Modulo strategy.
func chooseModulo(s Store, p RangeParams, rng *rand.Rand) (SyncRequestRange, error) {
	n, err := s.Count(p.Community, p.Types)
	if err != nil {
		return SyncRequestRange{}, err
	}
	modulo := uint64((n + p.Capacity - 1) / p.Capacity)
	var offset uint64
	if modulo > 1 {
		modulo = min(modulo, maxWireModulo)
		offset = rng.Uint64N(modulo)
	} else {
		modulo = 1
	}
	var hashes []Hash
	err = s.Scan(ScanQuery{Community: p.Community, Types: p.Types, Modulo: modulo, Offset: offset}, func(r ScanRow) bool {
		if r.GlobalTime > p.Acceptable {
			return false
		}
		hashes = append(hashes, r.Hash)
		return true
	})
	if err != nil {
		return SyncRequestRange{}, err
	}
	return SyncRequestRange{Low: 1, High: p.Acceptable, Modulo: modulo, Offset: offset, Hashes: hashes, StoredCount: n}, nil
}

// selector runs the selections of one LargestPivot choice.
type selector struct {
	s Store
	p *RangeParams
}

// selectAndFix returns up to toSelect live rows with global time > gt
// (higher) or < gt (lower), ascending either way, and whether more rows
// existed: then the last row and every row sharing its global time were
// dropped (Dispersy's _select_and_fix). Rows above Acceptable are ignored.
func (sel selector) selectAndFix(gt uint64, toSelect int, higher bool) ([]ScanRow, bool, error) {
	acc := sel.p.Acceptable
	q := ScanQuery{Community: sel.p.Community, Types: sel.p.Types}
	if higher {
		if gt >= acc {
			return nil, false, nil
		}
		q.From = gt + 1
	} else {
		if gt == 0 {
			return nil, false, nil
		}
		q.From, q.Descending = min(gt-1, acc), true
	}
	rows := make([]ScanRow, 0, toSelect+1)
	err := sel.s.Scan(q, func(r ScanRow) bool {
		if r.GlobalTime > acc {
			return false // ascending: everything after is above too
		}
		rows = append(rows, r)
		return len(rows) <= toSelect
	})
	if err != nil {
		return nil, false, err
	}
	fixed := false
	if len(rows) > toSelect {
		fixed = true
		last := rows[len(rows)-1].GlobalTime
		for len(rows) > 0 && rows[len(rows)-1].GlobalTime == last {
			rows = rows[:len(rows)-1]
		}
	}
	if !higher {
		slices.Reverse(rows)
	}
	return rows, fixed, nil
}

// side is one candidate range of LargestPivot.
type side struct {
	low, high uint64
	rows      []ScanRow
}

// side selects the rows above gt (higher) or below it, extends in the
// other direction when more than 25 short, and computes the range ends
// (Dispersy's _select_bloomfilter_range).
func (sel selector) side(gt uint64, toSelect int, higher bool) (side, error) {
	rows, fixed, err := sel.selectAndFix(gt, toSelect, higher)
	if err != nil {
		return side{}, err
	}
	lowerFixed, higherFixed := true, true
	if missing := toSelect - len(rows); len(rows) < toSelect && missing > extendThreshold {
		if higher {
			var more []ScanRow
			more, lowerFixed, err = sel.selectAndFix(gt+1, missing, false)
			rows = append(more, rows...)
		} else {
			var more []ScanRow
			more, higherFixed, err = sel.selectAndFix(gt-1, missing, true)
			rows = append(rows, more...)
		}
		if err != nil {
			return side{}, err
		}
	}
	if len(rows) == 0 {
		return side{}, nil
	}
	sd := side{low: rows[0].GlobalTime, high: rows[len(rows)-1].GlobalTime, rows: rows}
	if higher {
		sd.low = min(sd.low, gt+1)
		if !fixed {
			sd.high = sel.p.Acceptable
		}
		if !lowerFixed {
			sd.low = 1
		}
	} else {
		sd.high = max(sd.high, gt-1)
		if !fixed {
			sd.low = 1
		}
		if !higherFixed {
			sd.high = sel.p.Acceptable
		}
	}
	return sd, nil
}

// SyncTypeOrder is how one message type is answered.
type SyncTypeOrder struct {
	ID       uint8
	Priority uint8
	// Direction orders the type's messages: ascending or descending global
	// time, or random.
	Direction policy.Direction
	// Low raises the range's lower bound for this type (global-time
	// pruning: global time - inactive threshold + 1); 0: none.
	Low uint64
}

// AnswerParams are the inputs of Answer. Low, High, Modulo and Offset
// come from the request (the caller resolves High 0 to its own global
// time); bad remote values give an empty answer, never an error.
type AnswerParams struct {
	Community keys.CommunityID
	// Types are the bloom-synced types to answer from.
	Types          []SyncTypeOrder
	Low, High      uint64
	Modulo, Offset uint64
	// Budget is how many bytes of packets to send (>= 1): sending stops
	// once the total reaches it; the packet that crosses it is included,
	// as in Dispersy.
	Budget int
	// Has is the requester's bloom filter: packets it (probably) holds are
	// skipped. Nil skips nothing.
	Has func(Hash) bool
}

// randomChunk is how many rows a RANDOM-direction answer reads and
// shuffles at a time.
const randomChunk = 64

// Answer returns the packets to send in answer to a bloom-filter sync
// request (Dispersy's _get_packets_for_bloomfilters): live messages of the
// given types in [Low, High] and the modulo class, not in the requester's
// filter, type by type in priority order (highest first, ties by id),
// each type in its direction, until Budget bytes.
//
// A type's own Low raises the lower bound. A RANDOM type is read from a
// random global time up to High, then from Low up to it (wrapping
// around), in chunks of 64 rows, each chunk shuffled with rng: the order
// is neither ascending nor descending, the same for the same rng state,
// and the work stays bounded by what is sent plus one chunk, never the
// whole range.
func Answer(s Store, p AnswerParams, rng *rand.Rand) ([][]byte, error) {
	switch {
	case s == nil:
		return nil, errors.New("dispersy: AnswerSync needs a Store")
	case rng == nil:
		return nil, errors.New("dispersy: AnswerSync needs a *rand.Rand")
	case p.Budget < 1:
		return nil, fmt.Errorf("dispersy: AnswerParams.Budget is %d: must be >= 1 byte", p.Budget)
	}
	types := slices.Clone(p.Types)
	for _, t := range types {
		if t.Direction != policy.Ascending && t.Direction != policy.Descending && t.Direction != policy.Random {
			return nil, fmt.Errorf("dispersy: AnswerParams type %d has direction %v: must be Ascending, Descending or Random", t.ID, t.Direction)
		}
	}
	slices.SortStableFunc(types, func(a, b SyncTypeOrder) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var seen [256]bool
	types = slices.DeleteFunc(types, func(t SyncTypeOrder) bool {
		dup := seen[t.ID]
		seen[t.ID] = true
		return dup
	})

	a := answer{s: s, p: &p, rng: rng}
	for _, t := range types {
		low := max(p.Low, t.Low)
		if low > p.High {
			continue
		}
		q := RangeQuery{Community: p.Community, MessageID: t.ID, Low: low, High: p.High, Modulo: p.Modulo, Offset: p.Offset}
		var err error
		var start uint64
		if t.Direction == policy.Random {
			start = a.randomStart(q)
		}
		if p.Has != nil {
			// Read the hashes before the packets: a requester that holds
			// the whole range (every step of an idle overlay) costs a scan
			// of keys, no packet and no record.
			var missing bool
			if missing, err = a.narrow(&q, t.Direction, start); err != nil {
				return nil, err
			}
			if !missing {
				continue
			}
		}
		switch t.Direction {
		case policy.Ascending, policy.Descending:
			q.Descending = t.Direction == policy.Descending
			err = s.Range(q, a.offer)
		case policy.Random:
			err = a.random(q, start)
		}
		if err != nil {
			return nil, err
		}
		if a.full() {
			break
		}
	}
	return a.packets, nil
}

// answer collects the packets of one Answer.
type answer struct {
	s       Store
	p       *AnswerParams
	rng     *rand.Rand
	packets [][]byte
	bytes   int
	chunk   []*Row
}

func (a *answer) full() bool { return a.bytes >= a.p.Budget }

// narrow finds, in q's direction, the first live message of q's type that
// the requester's filter lacks, and moves q's starting end to its global
// time (Ascending: Low, Descending: High; a Random answer keeps its range).
// missing is false when the filter holds every message of q: then the
// answer has nothing of this type, and for a Random type narrow draws from
// rng what reading and shuffling the range would have (start is its
// random start), so that rng's later draws are those of reading it all.
// The messages skipped are all in the filter, so the answer is the same
// as without narrowing.
func (a *answer) narrow(q *RangeQuery, dir policy.Direction, start uint64) (missing bool, err error) {
	sq := ScanQuery{Community: q.Community, Types: []uint8{q.MessageID}, From: q.Low, Modulo: q.Modulo, Offset: q.Offset}
	if dir == policy.Descending {
		sq.From, sq.Descending = q.High, true
	}
	var first uint64
	var above, below int // rows at or above start, and below it
	err = a.s.Scan(sq, func(r ScanRow) bool {
		if r.GlobalTime < q.Low || r.GlobalTime > q.High {
			return false
		}
		if a.p.Has(r.Hash) {
			if r.GlobalTime >= start {
				above++
			} else {
				below++
			}
			return true
		}
		first, missing = r.GlobalTime, true
		return false
	})
	if err != nil {
		return false, err
	}
	switch {
	case !missing && dir == policy.Random:
		// random reads [start, High], then [Low, start), shuffling chunks.
		a.shuffled(above)
		a.shuffled(below)
	case dir == policy.Ascending:
		q.Low = first
	case dir == policy.Descending:
		q.High = first
	}
	return missing, nil
}

// shuffled draws from rng what random's shuffles of n rows draw.
func (a *answer) shuffled(n int) {
	for ; n > 0; n -= randomChunk {
		a.rng.Shuffle(min(n, randomChunk), func(int, int) {})
	}
}

// offer adds r unless the requester has it; it returns false once the
// budget is reached.
func (a *answer) offer(r *Row) bool {
	if a.p.Has != nil && a.p.Has(r.Hash) {
		return true
	}
	a.packets = append(a.packets, r.Packet)
	a.bytes += len(r.Packet)
	return !a.full()
}

// randomStart draws the start of a RANDOM answer in [q.Low, q.High].
func (a *answer) randomStart(q RangeQuery) uint64 {
	if span := q.High - q.Low; span != math.MaxUint64 {
		return q.Low + a.rng.Uint64N(span+1)
	}
	return a.rng.Uint64()
}

// random answers one RANDOM type: from start (randomStart) to High, then
// from Low to the start, shuffling chunks of randomChunk rows.
func (a *answer) random(q RangeQuery, start uint64) error {
	segments := []RangeQuery{q, q}
	segments[0].Low = start
	segments[1].High = start - 1
	if start == q.Low {
		segments = segments[:1]
	}
	for _, seg := range segments {
		err := a.s.Range(seg, func(r *Row) bool {
			rc := *r
			a.chunk = append(a.chunk, &rc)
			if len(a.chunk) < randomChunk {
				return true
			}
			return a.flush()
		})
		if err != nil {
			return err
		}
		if a.full() || !a.flush() {
			return nil
		}
	}
	return nil
}

// flush shuffles and offers the buffered chunk; it returns false once the
// budget is reached.
func (a *answer) flush() bool {
	a.rng.Shuffle(len(a.chunk), func(i, j int) { a.chunk[i], a.chunk[j] = a.chunk[j], a.chunk[i] })
	ok := true
	for _, r := range a.chunk {
		if ok = a.offer(r); !ok {
			break
		}
	}
	clear(a.chunk)
	a.chunk = a.chunk[:0]
	return ok
}
