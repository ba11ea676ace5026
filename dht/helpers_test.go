package dht

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// idFrom returns an id with the given leading bytes, the rest zero.
func idFrom(b ...byte) ID {
	var id ID
	copy(id[:], b)
	return id
}

// randID draws an id from rng.
func randID(rng *rand.Rand) ID {
	var id ID
	for i := range id {
		id[i] = byte(rng.Uint32())
	}
	return id
}

// addrOf derives a distinct loopback-free test address from an id.
func addrOf(id ID) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, id[0], id[1], id[2]}), 1024+uint16(id[3])<<4|uint16(id[4]>>4))
}

func contactOf(id ID) Contact { return Contact{ID: id, Addr: addrOf(id)} }

// rngReader adapts a seeded generator to io.Reader for injected randomness.
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

// naiveClosest sorts ids by distance to target and returns the first n.
func naiveClosest(ids []ID, target ID, n int) []ID {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(a, b ID) int { return CmpDistance(target, a, b) })
	return s[:min(n, len(s))]
}

func idsOf(cs []Contact) []ID {
	out := make([]ID, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// answerFunc is how a simulated node answers a query for target: contacts,
// or a record (find-value).
type answerFunc func(target ID) ([]Contact, *Record)

// simNet connects routing tables by direct function calls: a query is a
// call, a lost message is a query that stays unanswered until its timeout.
type simNet struct {
	tables   map[ID]*Table
	ids      []ID
	rng      *rand.Rand
	loss     float64
	values   map[ID]map[ID]*Record // node -> key -> record (fixed placement)
	vals     map[ID]*Values        // node -> holder (replication tests)
	override map[ID]answerFunc     // adversaries
	cfg      LookupConfig
	now      time.Time
	msgs     int
}

func newSimNet(seed uint64, loss float64) *simNet {
	return &simNet{
		tables: map[ID]*Table{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		loss: loss, values: map[ID]map[ID]*Record{}, vals: map[ID]*Values{}, override: map[ID]answerFunc{},
		cfg: LookupConfig{RPCTimeout: time.Second, Timeout: 10 * time.Minute}, now: t0,
	}
}

func (n *simNet) lost() bool {
	n.msgs++
	return n.rng.Float64() < n.loss
}

// addNode creates a node that knows boot contacts, and joins it: a lookup
// of its own id, then one refresh lookup per bucket.
func (n *simNet) addNode(id ID, boot []ID) {
	t := NewTable(id, TableConfig{}, n.now)
	n.tables[id] = t
	n.ids = append(n.ids, id)
	for _, b := range boot {
		t.Seen(contactOf(b), n.now)
	}
	n.lookup(id, id, false)
	for i := range t.NumBuckets() {
		n.lookup(id, RandomInBucket(id, i, rngReader{n.rng}), false)
	}
}

// answer is node to's answer to a query of from for target.
func (n *simNet) answer(from, to, target ID, findValue bool) ([]Contact, *Record, bool) {
	if f := n.override[to]; f != nil {
		cs, rec := f(target)
		return cs, rec, true
	}
	t := n.tables[to]
	if t == nil {
		return nil, nil, false // no such node
	}
	t.Seen(contactOf(from), n.now)
	if findValue {
		if rec := n.values[to][target]; rec != nil {
			return nil, rec, true
		}
		if v := n.vals[to]; v != nil {
			if rec := v.Get(target, n.now); rec != nil {
				return nil, rec, true
			}
		}
	}
	return t.Closest(target, t.Config().K), nil, true
}

// lookup runs a lookup from origin to completion on virtual time.
func (n *simNet) lookup(origin, target ID, findValue bool) *Lookup {
	tab := n.tables[origin]
	k := tab.Config().K
	l := NewLookup(origin, target, tab.Closest(target, k), n.cfg, n.now)
	tab.Touch(target, n.now)
	for !l.Done() {
		qs := l.Next(n.now)
		if len(qs) == 0 {
			n.now = n.now.Add(n.cfg.RPCTimeout)
			for _, id := range l.Expire(n.now) {
				tab.Failed(id)
			}
			continue
		}
		for _, q := range qs {
			if n.lost() {
				continue
			}
			cs, rec, ok := n.answer(origin, q.ID, target, findValue)
			if !ok || n.lost() {
				continue
			}
			tab.Seen(q, n.now)
			if rec != nil {
				l.OnValue(q.ID, rec)
			} else {
				l.OnNodes(q.ID, cs, n.now)
			}
		}
		n.now = n.now.Add(10 * time.Millisecond)
	}
	return l
}

// build creates a network of size nodes with random ids, each joining
// through a random earlier node.
func (n *simNet) build(tb testing.TB, size int) {
	tb.Helper()
	for i := range size {
		var boot []ID
		if i > 0 {
			boot = []ID{n.ids[n.rng.IntN(len(n.ids))]}
		}
		n.addNode(randID(n.rng), boot)
	}
}

func percentile(xs []int, p float64) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func netipMapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
}

// removeNode takes a node off the network: its table and values are gone,
// queries to it go unanswered.
func (n *simNet) removeNode(id ID) {
	delete(n.tables, id)
	delete(n.vals, id)
	n.ids = slices.DeleteFunc(n.ids, func(x ID) bool { return x == id })
}

// store looks up rec's key from origin and stores rec on the K closest
// nodes that answered (a store can be lost).
func (n *simNet) store(origin ID, rec *Record) {
	key := rec.Key()
	l := n.lookup(origin, key, false)
	for _, c := range l.Result() {
		if v := n.vals[c.ID]; v != nil && !n.lost() {
			v.Put(origin, key, rec, n.now)
		}
	}
}
