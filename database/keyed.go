package database

import (
	"context"
	"database/sql"
	"sync"
)

// The member-keyed index (schema version 2) holds only the rows of types
// that are read by member: every type but those declared
// dispersy.TypeRecord.Unkeyed. A row's keyed column says whether it is in
// the index. The invariant the reads rely on: every row of a type that is
// not declared unkeyed has keyed = 1 (a type declared keyed again has its
// rows re-keyed in the same transaction). Reads of a keyed type use the
// index with "keyed = 1"; reads of an unkeyed type scan the community.

// unkeyedCache caches, per community row id, the message types declared
// unkeyed, as committed. A batch that replaces a community's types
// invalidates it on commit; gen keeps a read that raced with such a commit
// from caching what it read before it.
type unkeyedCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[int64]map[uint8]bool
}

func (c *unkeyedCache) get(id int64) (set map[uint8]bool, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok = c.m[id]
	return set, c.gen, ok
}

func (c *unkeyedCache) put(id int64, set map[uint8]bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil {
		c.m = make(map[int64]map[uint8]bool)
	}
	c.m[id] = set
}

func (c *unkeyedCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

const unkeyedSQL = `SELECT id FROM message_type WHERE community = ? AND unkeyed = 1`

// readUnkeyed reads the unkeyed types of community row id with q.
func readUnkeyed(ctx context.Context, q func(context.Context, string, ...any) (*sql.Rows, error), id int64) (map[uint8]bool, error) {
	rows, err := q(ctx, unkeyedSQL, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := map[uint8]bool{}
	for rows.Next() {
		var t uint8
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		set[t] = true
	}
	return set, rows.Err()
}

// unkeyed returns the committed unkeyed types of community row id.
func (s *Store) unkeyed(ctx context.Context, id int64) (map[uint8]bool, error) {
	set, gen, ok := s.unkeyedTypes.get(id)
	if ok {
		return set, nil
	}
	set, err := readUnkeyed(ctx, s.query, id)
	if err != nil {
		return nil, err
	}
	s.unkeyedTypes.put(id, set, gen)
	return set, nil
}

// unkeyed returns the unkeyed types of community row id as this batch sees
// them: replaced by an OpPutTypes earlier in the batch, or as committed
// (the writer is the only one changing them).
func (a *applier) unkeyed(id int64) (map[uint8]bool, error) {
	if set, ok := a.types[id]; ok {
		return set, nil
	}
	set, gen, ok := a.s.unkeyedTypes.get(id)
	if ok {
		return set, nil
	}
	set, err := readUnkeyed(a.ctx, a.tx.QueryContext, id)
	if err != nil {
		return nil, classify(err)
	}
	a.s.unkeyedTypes.put(id, set, gen)
	return set, nil
}
