package node

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/keys"
)

// KV is the persistence a DHT node needs: a key/value table in
// namespaces. database.Store implements it (schema version 3); MemKV is
// the in-memory equivalent for simulations. Calls come from the engine's
// goroutine.
type KV interface {
	KVPut(ns string, key, value []byte) error
	KVDelete(ns string, key []byte) error
	// KVList returns the namespace's pairs ordered by key.
	KVList(ns string) (keys, values [][]byte, err error)
}

// The namespaces, after "dht/" and the community id in hex.
const (
	nsValues    = "/values"    // key -> storer id (20 bytes) ‖ record
	nsTable     = "/table"     // node id -> address (text)
	nsBlacklist = "/blacklist" // member id -> empty
)

func (d *DHT) ns(suffix string) string { return "dht/" + d.c.ID().String() + suffix }

// fail keeps the first persistence error: the tasks return it, which
// stops the engine (a store that cannot write is not silently ignored).
func (d *DHT) fail(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
}

func (d *DHT) persistValue(key dht.ID) {
	if d.cfg.KV == nil {
		return
	}
	rec, _ := d.srv.Values.Peek(key)
	if rec == nil {
		return
	}
	b, err := rec.AppendBinary(d.self[:])
	if err != nil {
		return
	}
	d.fail(d.cfg.KV.KVPut(d.ns(nsValues), key[:], b))
}

// persistPrune deletes the persisted values no longer held.
func (d *DHT) persistPrune() {
	if d.cfg.KV == nil {
		return
	}
	ks, _, err := d.cfg.KV.KVList(d.ns(nsValues))
	if err != nil {
		d.fail(err)
		return
	}
	for _, k := range ks {
		if rec, _ := d.srv.Values.Peek(dht.ID(k)); len(k) != dht.IDSize || rec == nil {
			d.fail(d.cfg.KV.KVDelete(d.ns(nsValues), k))
		}
	}
}

// persistTable saves the routing table's contacts.
func (d *DHT) persistTable() {
	if d.cfg.KV == nil {
		return
	}
	ns := d.ns(nsTable)
	ks, vs, err := d.cfg.KV.KVList(ns)
	if err != nil {
		d.fail(err)
		return
	}
	cur := map[dht.ID]string{}
	for _, c := range d.srv.Table.Contacts() {
		cur[c.ID] = c.Addr.String()
	}
	for i, k := range ks {
		if a, ok := cur[dht.ID(k)]; len(k) == dht.IDSize && ok && a == string(vs[i]) {
			delete(cur, dht.ID(k))
			continue
		}
		d.fail(d.cfg.KV.KVDelete(ns, k))
	}
	ids := make([]dht.ID, 0, len(cur))
	for id := range cur {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, dht.ID.Cmp)
	for _, id := range ids {
		d.fail(d.cfg.KV.KVPut(ns, id[:], []byte(cur[id])))
	}
}

func (d *DHT) persistBlacklist(m keys.MemberID) {
	if d.cfg.KV != nil {
		d.fail(d.cfg.KV.KVPut(d.ns(nsBlacklist), m[:], nil))
	}
}

// restore loads the persisted blacklist, values and routing table.
func (d *DHT) restore() error {
	if d.cfg.KV == nil {
		return nil
	}
	now := d.now()
	ks, _, err := d.cfg.KV.KVList(d.ns(nsBlacklist))
	if err != nil {
		return err
	}
	for _, k := range ks {
		if len(k) == keys.IDSize {
			d.black[keys.MemberID(k)] = true
		}
	}
	ks, vs, err := d.cfg.KV.KVList(d.ns(nsValues))
	if err != nil {
		return err
	}
	for i, k := range ks {
		var rec dht.Record
		if len(k) != dht.IDSize || len(vs[i]) < dht.IDSize || rec.UnmarshalBinary(vs[i][dht.IDSize:]) != nil {
			continue
		}
		if !d.srv.Values.Put(dht.ID(vs[i][:dht.IDSize]), dht.ID(k), &rec, now).Refused() {
			d.stats.Restored++
		}
	}
	ks, vs, err = d.cfg.KV.KVList(d.ns(nsTable))
	if err != nil {
		return err
	}
	for i, k := range ks {
		a, err := netip.ParseAddrPort(string(vs[i]))
		if len(k) == dht.IDSize && err == nil && dht.ValidAddr(a) && !d.black[keys.MemberID(k)] {
			d.srv.Table.Seen(dht.Contact{ID: dht.ID(k), Addr: a}, now)
		}
	}
	return nil
}

// MemKV is an in-memory KV, safe for concurrent use. A simulation keeps
// one per peer across restarts.
type MemKV struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

// NewMemKV returns an empty MemKV.
func NewMemKV() *MemKV { return &MemKV{m: map[string]map[string][]byte{}} }

// KVPut implements KV.
func (s *MemKV) KVPut(ns string, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[ns] == nil {
		s.m[ns] = map[string][]byte{}
	}
	s.m[ns][string(key)] = bytes.Clone(value)
	return nil
}

// KVDelete implements KV.
func (s *MemKV) KVDelete(ns string, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[ns], string(key))
	return nil
}

// KVList implements KV.
func (s *MemKV) KVList(ns string) (ks, vs [][]byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.m[ns]))
	for k := range s.m[ns] {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		ks = append(ks, []byte(k))
		vs = append(vs, bytes.Clone(s.m[ns][k]))
	}
	return ks, vs, nil
}
