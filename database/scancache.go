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
// last Apply count up, and once they reach what a build would read (the
// previous build's size; scanCacheFirst before any), the build pays off
// even if the next Apply comes right after; a store written at every step
// keeps reading through SQL, as before. Communities above scanCacheMax live
// messages are not cached (a 1M-message store would need 32 MB per
// community), and their scans read about a filter's capacity per call.

// scanCacheFirst is how many keys are read through SQL at one generation
// before the first build; a var so that tests can lower it.
var scanCacheFirst = 4096

// scanCacheMax is the largest number of live messages a cached community
// holds (32 bytes each).
var scanCacheMax = 250_000

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
	built    bool
	tooBig   bool
	read     int // keys read through SQL at gen
	estimate int // keys a build reads
}

// invalidate marks every cached key stale; Apply calls it after a commit.
func (c *scanCache) invalidate() { c.gen.Add(1) }

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
		*st = scanState{gen: g, estimate: st.estimate}
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
		return st.keys, true, nil
	case st.tooBig || st.read < st.estimate:
		return nil, false, nil
	}
	g := st.gen
	ks, complete, err := s.readKeys(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if c.gen.Load() != g {
		return nil, false, nil // an Apply committed during the read
	}
	if !complete {
		st.tooBig, st.estimate = true, scanCacheMax+1
		return nil, false, nil
	}
	st.keys, st.built, st.estimate = ks, true, max(len(ks), 1)
	return ks, true, nil
}

// readSQL counts n keys read through SQL for community id at generation g.
func (c *scanCache) readSQL(id int64, g uint64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state(id); st.gen == g {
		st.read += n
	}
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
	slices.SortStableFunc(ks, func(a, b scanKey) int {
		if a.gt != b.gt {
			if a.gt < b.gt {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.hash[:], b.hash[:])
	})
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
