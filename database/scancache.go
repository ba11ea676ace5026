package database

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// The key cache: every walker step scans the keys (global time, hash) of
// about a bloom filter's capacity of messages twice, once to fill its own
// request's filter and once to answer a peer's (dispersy.ChooseSyncRange,
// dispersy.AnswerSync), and in an idle community the rows are the same
// step after step. Reading them from SQLite costs about a microsecond a
// row, which made an idle overlay's CPU a multiple of the goal of issue
// #17. So Scan serves them from memory once they stop changing: a
// community's live keys, every type, ordered by (global time, hash), built
// by one read and valid until the next committed Apply.
//
// When to build is a rent-or-buy choice: keys read through SQL since the
// cache was last dropped count up, and once they reach what a build would
// read (the previous build's size; scanCacheFirst before any), the build
// pays off. An Apply that only puts messages (and members, options) adds
// their keys to a built cache (up to scanPatchMax keys wait, unsorted, for
// the next Scan, which merges them into a new slice: Scans in flight keep
// theirs, and a store taking many small Applies copies its keys once per
// Scan, not once per Apply); any other Apply drops it. Communities
// above scanCacheMax live messages are not cached (a 1M-message store
// would need 32 MB per community), and their scans read about a filter's
// capacity per call.

// scanCacheFirst is how many keys are read through SQL at one generation
// before the first build; a var so that tests can lower it.
var scanCacheFirst = 4096

// scanCacheMax is the largest number of live messages a cached community
// holds (32 bytes each).
var scanCacheMax = 250_000

// scanPatchMax is the most keys Applies may add to a built cache before
// a Scan merges them in (one copy per Scan that follows writes, not one
// per Apply); beyond it an Apply drops the cache.
var scanPatchMax = 65_536

// Test hooks: testHookBuild runs in a cache build before (false) and after
// (true) its read, testHookCommitted when committed starts.
var (
	testHookBuild     func(after bool)
	testHookCommitted func()
)

// scanCache holds the cached keys of each community of a Store.
type scanCache struct {
	gen atomic.Uint64 // bumped after every committed Apply

	mu    sync.Mutex
	comms map[int64]*scanState // by community row id
}

// scanKey is one cached live message.
type scanKey struct {
	gt   uint64
	hash dispersy.Hash
	id   uint8
}

// scanState is one community's cache.
type scanState struct {
	gen      uint64 // generation the fields below describe
	keys     []scanKey
	pending  []scanKey // added by Applies since keys was built or merged, unsorted
	built    bool
	tooBig   bool
	read     int // keys read through SQL at gen
	estimate int // keys a build reads
}

// invalidate marks every cached key stale; Apply calls it before and, when
// the commit fails, after its commit.
func (c *scanCache) invalidate() { c.gen.Add(1) }

// committed updates the key cache after b committed: Apply bumped the
// generation once before the commit, so a cache at the generation before
// that was built from a snapshot without b. If b only puts messages,
// members and options, such caches get b's live keys and stay valid;
// otherwise every cache is dropped.
func (s *Store) committed(b *dispersy.Batch) {
	c := &s.scans
	if testHookCommitted != nil {
		testHookCommitted()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gen.Add(1)
	adds := map[int64][]scanKey{}
	for i := range b.Ops {
		op := &b.Ops[i]
		switch op.Kind {
		case dispersy.OpPutMember, dispersy.OpSetOption:
		case dispersy.OpPut:
			r := &op.Record
			if r.Undone {
				continue
			}
			s.cidMu.Lock()
			id, ok := s.cids[r.Community]
			s.cidMu.Unlock()
			if !ok {
				return // unknown community: no cache of it to keep
			}
			adds[id] = append(adds[id], scanKey{gt: r.GlobalTime, hash: r.Hash, id: r.MessageID})
		default:
			return
		}
	}
	for id, st := range c.comms {
		add := adds[id]
		if !st.built || st.gen != g-2 || len(st.pending)+len(add) > scanPatchMax || len(st.keys)+len(st.pending)+len(add) > scanCacheMax {
			continue
		}
		st.pending = append(st.pending, add...)
		st.gen = g
		st.estimate = max(len(st.keys)+len(st.pending), 1)
	}
}

// merge adds st's pending keys to its keys: a new slice, so that Scans in
// flight keep theirs. c.mu must be held.
func (st *scanState) merge() {
	if len(st.pending) == 0 {
		return
	}
	add := st.pending
	slices.SortFunc(add, compareKeys)
	add = slices.CompactFunc(add, func(a, b scanKey) bool { return compareKeys(a, b) == 0 })
	merged := make([]scanKey, 0, len(st.keys)+len(add))
	old := st.keys
	for len(old) > 0 && len(add) > 0 {
		switch c := compareKeys(add[0], old[0]); {
		case c < 0:
			merged, add = append(merged, add[0]), add[1:]
		case c == 0: // read by the build and added by the Apply it overlapped
			add = add[1:]
		default:
			merged, old = append(merged, old[0]), old[1:]
		}
	}
	st.keys, st.pending = append(append(merged, old...), add...), nil
}

// compareKeys orders keys by (global time, hash), Scan's order.
func compareKeys(a, b scanKey) int {
	if a.gt != b.gt {
		if a.gt < b.gt {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.hash[:], b.hash[:])
}

// state returns community id's state at the current generation, reset if
// the generation moved. c.mu must be held.
func (c *scanCache) state(id int64) *scanState {
	g := c.gen.Load()
	if c.comms == nil {
		c.comms = map[int64]*scanState{}
	}
	st := c.comms[id]
	if st == nil {
		st = &scanState{gen: g, estimate: scanCacheFirst}
		c.comms[id] = st
	}
	if st.gen != g {
		// The keys read through SQL since the cache was last dropped
		// count toward the next build.
		read := st.read
		if st.built {
			read = 0
		}
		*st = scanState{gen: g, estimate: st.estimate, read: read}
	}
	return st
}

// cachedKeys returns community id's keys when they are cached, building them
// first when the keys read through SQL at this generation reach the
// estimate. ok false: scan through SQL, then report the rows with
// readSQL.
func (s *Store) cachedKeys(ctx context.Context, id int64) (ks []scanKey, ok bool, err error) {
	c := &s.scans
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(id)
	switch {
	case st.built:
		st.merge()
		return st.keys, true, nil
	case st.tooBig || st.read < st.estimate:
		return nil, false, nil
	}
	if testHookBuild != nil {
		testHookBuild(false)
	}
	ks, complete, err := s.readKeys(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if testHookBuild != nil {
		testHookBuild(true)
	}
	// An Apply may have committed during the read (its pre-commit bump
	// moved the generation; Applies are serial and its committed waits for
	// c.mu, so there is at most one). The cache keeps st.gen, the
	// generation before the read: if that Apply only put messages, its
	// committed adds their keys (merge drops the ones the read saw
	// already); any other Apply leaves the cache at an old generation, and
	// the next state resets it. So a store that takes writes all the time
	// still gets its cache built.
	if !complete {
		st.tooBig, st.estimate = true, scanCacheMax+1
		return nil, false, nil
	}
	st.keys, st.built, st.estimate = ks, true, max(len(ks), 1)
	return ks, true, nil
}

// readSQL counts n keys read through SQL for community id.
func (c *scanCache) readSQL(id int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state(id).read += n
}

// scanKeysSQL reads a community's live keys in the table's order.
const scanKeysSQL = `SELECT global_time, hash, message_id FROM sync WHERE community = ? AND undone = 0 ORDER BY global_time, member LIMIT ?`

// readKeys reads community id's live keys ordered by (global time, hash);
// complete is false when there are more than scanCacheMax.
func (s *Store) readKeys(ctx context.Context, id int64) (ks []scanKey, complete bool, err error) {
	rows, err := s.query(ctx, scanKeysSQL, id, scanCacheMax+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var (
		gt  int64
		h   sql.RawBytes
		msg uint8
	)
	for rows.Next() {
		if err := rows.Scan(&gt, &h, &msg); err != nil {
			return nil, false, err
		}
		k := scanKey{gt: uint64(gt), id: msg}
		copy(k.hash[:], h)
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(ks) > scanCacheMax {
		return nil, false, nil
	}
	// The table orders each global time by member; Scan by hash.
	slices.SortStableFunc(ks, compareKeys)
	return slices.Clip(ks), true, nil
}

// scanKeys is Scan over cached keys: the same rows in the same order.
func scanKeys(ks []scanKey, q dispersy.ScanQuery, from uint64, fn func(dispersy.ScanRow) bool) {
	var types [256]bool
	for _, t := range q.Types {
		types[t] = true
	}
	keep := func(k *scanKey) bool {
		if !types[k.id] {
			return false
		}
		if q.Modulo > 1 {
			r := (q.Modulo - q.Offset%q.Modulo) % q.Modulo
			return k.gt%q.Modulo == r
		}
		return true
	}
	if q.Descending {
		for i := sort.Search(len(ks), func(i int) bool { return ks[i].gt > from }) - 1; i >= 0; i-- {
			if k := &ks[i]; keep(k) && !fn(dispersy.ScanRow{GlobalTime: k.gt, Hash: k.hash}) {
				return
			}
		}
		return
	}
	for i := sort.Search(len(ks), func(i int) bool { return ks[i].gt >= from }); i < len(ks); i++ {
		if k := &ks[i]; keep(k) && !fn(dispersy.ScanRow{GlobalTime: k.gt, Hash: k.hash}) {
			return
		}
	}
}

// keysCached reports whether cid's keys are cached at the current
// generation (for tests and benchmarks).
func (s *Store) keysCached(cid keys.CommunityID) bool {
	id, ok, err := s.readCommunityID(context.Background(), cid)
	if err != nil || !ok {
		return false
	}
	s.scans.mu.Lock()
	defer s.scans.mu.Unlock()
	return s.scans.state(id).built
}
