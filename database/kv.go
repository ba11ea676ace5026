package database

import (
	"context"
	"errors"

	"github.com/dispersy-go/dispersy/dispersy"
)

// The key/value table (schema version 3): overlays' own state outside the
// message store, by namespace (the DHT's values, routing table and
// blacklist; dht/node's KV interface). Each call is its own transaction.

var errReadOnlyKV = errors.New("database: KV write on a store opened with Options.ReadOnly")

func (s *Store) kvExec(q string, args ...any) error {
	if s.closed.Load() {
		return dispersy.ErrStoreClosed
	}
	if s.opts.ReadOnly {
		return errReadOnlyKV
	}
	if _, err := s.writer.ExecContext(context.Background(), q, args...); err != nil {
		return s.fail("kv write", err)
	}
	return nil
}

// KVPut sets key to value in namespace ns.
func (s *Store) KVPut(ns string, key, value []byte) error {
	return s.kvExec(`INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value`, ns, blob(key), blob(value))
}

// KVDelete deletes key from namespace ns (nothing when it is absent).
func (s *Store) KVDelete(ns string, key []byte) error {
	return s.kvExec(`DELETE FROM kv WHERE namespace = ? AND key = ?`, ns, blob(key))
}

// KVList returns the pairs of namespace ns, ordered by key.
func (s *Store) KVList(ns string) (keys, values [][]byte, err error) {
	if s.closed.Load() {
		return nil, nil, dispersy.ErrStoreClosed
	}
	rows, err := s.query(context.Background(), `SELECT key, value FROM kv WHERE namespace = ? ORDER BY key`, ns)
	if err != nil {
		return nil, nil, s.fail("kv read", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, s.fail("kv read", err)
		}
		keys, values = append(keys, k), append(values, v)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail("kv read", err)
	}
	return keys, values, nil
}
