package dht

import (
	"io"
	"net/netip"
	"slices"
	"time"
)

// Contact is a node of the DHT: its id and the address it was last seen at.
type Contact struct {
	ID   ID
	Addr netip.AddrPort
}

// The defaults of [TableConfig], Drogulus' constants (issue 15).
const (
	DefaultK               = 20
	DefaultMaxFailures     = 5
	DefaultRefreshInterval = time.Hour
)

// TableConfig tunes a [Table]. Zero fields take the defaults.
type TableConfig struct {
	// K is the bucket size and the number of closest nodes a lookup
	// returns (default 20).
	K int
	// CacheSize bounds each bucket's replacement cache (default K).
	CacheSize int
	// MaxFailures is the number of failures in a row (timeouts, failed ping
	// checks) after which a contact is removed and the freshest contact of
	// the replacement cache takes its place (default 5).
	MaxFailures int
	// RefreshInterval is how long a bucket may go without a lookup into its
	// range before [Table.Refresh] reports it (default 1 h).
	RefreshInterval time.Duration
}

func (c TableConfig) withDefaults() TableConfig {
	if c.K <= 0 {
		c.K = DefaultK
	}
	if c.CacheSize <= 0 {
		c.CacheSize = c.K
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	return c
}

type entry struct {
	Contact
	lastSeen time.Time
	failures int
	pinging  bool // a ping check of this contact is outstanding
}

// bucket i of a table with n buckets holds the contacts that share exactly
// i leading bits with the table's own id; the last bucket holds every
// contact sharing n-1 bits or more. Together they are the leaves of the
// binary tree of k-buckets: only the leaf on the own id's path splits.
type bucket struct {
	entries    []*entry // least recently seen first
	cache      []*entry // replacement cache, most recently seen last
	lastLookup time.Time
}

// Table is a Kademlia routing table: a binary tree of k-buckets with
// replacement caches. It does no I/O and reads no clock: every method that
// depends on time takes it as an argument, and where a contact must be
// probed it returns that as an action for the caller. A Table belongs to one
// goroutine.
type Table struct {
	self    ID
	cfg     TableConfig
	buckets []*bucket
	n       int // contacts in buckets, caches excluded
}

// NewTable returns an empty table for the node self. now starts every
// bucket's refresh interval.
func NewTable(self ID, cfg TableConfig, now time.Time) *Table {
	return &Table{self: self, cfg: cfg.withDefaults(), buckets: []*bucket{{lastLookup: now}}}
}

// Self returns the table's own id.
func (t *Table) Self() ID { return t.self }

// Config returns the table's configuration, defaults filled in.
func (t *Table) Config() TableConfig { return t.cfg }

// Len returns the number of contacts in the buckets (replacement caches
// excluded).
func (t *Table) Len() int { return t.n }

// NumBuckets returns the number of buckets (leaves of the tree).
func (t *Table) NumBuckets() int { return len(t.buckets) }

// BucketIndex returns the index of the bucket whose range holds id.
func (t *Table) BucketIndex(id ID) int {
	return min(CommonPrefixLen(t.self, id), len(t.buckets)-1)
}

// SeenResult says what [Table.Seen] did with a contact.
type SeenResult uint8

// The results of [Table.Seen].
const (
	// Ignored: the contact is the table's own id, or its address cannot
	// go on the wire ([ValidAddr]), so every contact of the table can be
	// sent in a Nodes answer.
	Ignored SeenResult = iota
	// Updated: the contact was in its bucket; it is now the most recently
	// seen, with its failures cleared.
	Updated
	// Added: the contact is new and went into its bucket.
	Added
	// Cached: the bucket is full; the contact went into the bucket's
	// replacement cache.
	Cached
)

// Seen records that c was heard from (it answered, or sent a verified
// message) at now. When c's bucket is full and cannot split, c goes into the
// replacement cache and, unless a check is already outstanding, Seen asks
// for a ping of the bucket's least recently seen contact (needPing): the
// caller pings it and reports the answer with Seen or the silence with
// [Table.Failed], which after MaxFailures replaces it with the freshest
// cached contact.
func (t *Table) Seen(c Contact, now time.Time) (res SeenResult, ping Contact, needPing bool) {
	if c.ID == t.self || !ValidAddr(c.Addr) {
		return Ignored, Contact{}, false
	}
	for {
		i := t.BucketIndex(c.ID)
		b := t.buckets[i]
		if j := indexOf(b.entries, c.ID); j >= 0 {
			e := b.entries[j]
			e.Addr, e.lastSeen, e.failures, e.pinging = c.Addr, now, 0, false
			b.entries = append(slices.Delete(b.entries, j, j+1), e)
			return Updated, Contact{}, false
		}
		if len(b.entries) < t.cfg.K {
			b.entries = append(b.entries, &entry{Contact: c, lastSeen: now})
			if j := indexOf(b.cache, c.ID); j >= 0 {
				b.cache = slices.Delete(b.cache, j, j+1)
			}
			t.n++
			return Added, Contact{}, false
		}
		if i == len(t.buckets)-1 && len(t.buckets) < IDBits {
			t.split()
			continue
		}
		if j := indexOf(b.cache, c.ID); j >= 0 {
			b.cache = slices.Delete(b.cache, j, j+1)
		}
		b.cache = append(b.cache, &entry{Contact: c, lastSeen: now})
		if len(b.cache) > t.cfg.CacheSize {
			b.cache = slices.Delete(b.cache, 0, 1)
		}
		head := b.entries[0]
		if head.pinging {
			return Cached, Contact{}, false
		}
		head.pinging = true
		return Cached, head.Contact, true
	}
}

// split divides the last bucket: contacts sharing more bits with the own id
// than its depth move to a new last bucket. (Its cache is empty: the last
// bucket splits whenever it is full, so contacts are cached only in buckets
// that can no longer split; the cache is divided all the same.)
func (t *Table) split() {
	depth := len(t.buckets) - 1
	old := t.buckets[depth]
	nb := &bucket{lastLookup: old.lastLookup}
	keep := func(es []*entry) (stay, move []*entry) {
		for _, e := range es {
			if CommonPrefixLen(t.self, e.ID) > depth {
				move = append(move, e)
			} else {
				stay = append(stay, e)
			}
		}
		return stay, move
	}
	old.entries, nb.entries = keep(old.entries)
	old.cache, nb.cache = keep(old.cache)
	t.buckets = append(t.buckets, nb)
}

func indexOf(es []*entry, id ID) int {
	return slices.IndexFunc(es, func(e *entry) bool { return e.ID == id })
}

// Failed records that id failed to answer (a timeout or a failed ping
// check). After MaxFailures failures in a row the contact is removed and the
// most recently seen contact of its bucket's replacement cache takes its
// place; removed reports that. A cached contact that fails is dropped from
// the cache.
func (t *Table) Failed(id ID) (removed bool) {
	b := t.buckets[t.BucketIndex(id)]
	if j := indexOf(b.cache, id); j >= 0 {
		b.cache = slices.Delete(b.cache, j, j+1)
		return false
	}
	j := indexOf(b.entries, id)
	if j < 0 {
		return false
	}
	e := b.entries[j]
	e.failures++
	e.pinging = false
	if e.failures < t.cfg.MaxFailures {
		return false
	}
	t.removeAt(b, j)
	return true
}

func (t *Table) removeAt(b *bucket, j int) {
	b.entries = slices.Delete(b.entries, j, j+1)
	t.n--
	if len(b.cache) > 0 {
		t.promote(b)
	}
}

// promote moves the freshest cached contact of b into b, which has room,
// keeping the entries in order of last sight.
func (t *Table) promote(b *bucket) {
	n := len(b.cache)
	r := b.cache[n-1]
	b.cache = b.cache[:n-1]
	r.failures, r.pinging = 0, false
	k, _ := slices.BinarySearchFunc(b.entries, r.lastSeen, func(e *entry, at time.Time) int { return e.lastSeen.Compare(at) })
	b.entries = slices.Insert(b.entries, k, r)
	t.n++
}

// Remove deletes id from the table at once (for example a blacklisted
// node), promoting a cached contact in its place. It reports whether id was
// in a bucket or a cache.
func (t *Table) Remove(id ID) bool {
	b := t.buckets[t.BucketIndex(id)]
	if j := indexOf(b.cache, id); j >= 0 {
		b.cache = slices.Delete(b.cache, j, j+1)
		return true
	}
	if j := indexOf(b.entries, id); j >= 0 {
		t.removeAt(b, j)
		return true
	}
	return false
}

// Get returns the contact with id, if it is in a bucket.
func (t *Table) Get(id ID) (Contact, bool) {
	b := t.buckets[t.BucketIndex(id)]
	if j := indexOf(b.entries, id); j >= 0 {
		return b.entries[j].Contact, true
	}
	return Contact{}, false
}

// Failures returns the number of failures in a row of a contact in a
// bucket (0 if it is not there).
func (t *Table) Failures(id ID) int {
	b := t.buckets[t.BucketIndex(id)]
	if j := indexOf(b.entries, id); j >= 0 {
		return b.entries[j].failures
	}
	return 0
}

// Contacts returns every contact in the buckets, bucket by bucket, least
// recently seen first within a bucket.
func (t *Table) Contacts() []Contact {
	out := make([]Contact, 0, t.n)
	for _, b := range t.buckets {
		for _, e := range b.entries {
			out = append(out, e.Contact)
		}
	}
	return out
}

// Closest returns up to n contacts of the buckets closest to target, closest
// first. The table's own id is never among them.
//
// It reads the buckets in order of distance rather than sorting the table:
// with j the bucket whose range holds target, the contacts of bucket j are
// closer to target than those of the deeper buckets j+1.., which are closer
// than those of bucket j-1, then j-2 and so on (XOR distance is decided by
// the first differing bit).
func (t *Table) Closest(target ID, n int) []Contact {
	if n <= 0 || t.n == 0 {
		return nil
	}
	out := make([]Contact, 0, min(n, t.n))
	group := func(bs []*bucket) {
		start := len(out)
		for _, b := range bs {
			for _, e := range b.entries {
				out = append(out, e.Contact)
			}
		}
		slices.SortFunc(out[start:], func(a, b Contact) int { return CmpDistance(target, a.ID, b.ID) })
	}
	j := t.BucketIndex(target)
	group(t.buckets[j : j+1])
	if len(out) < n {
		group(t.buckets[j+1:])
	}
	for i := j - 1; i >= 0 && len(out) < n; i-- {
		group(t.buckets[i : i+1])
	}
	if len(out) > n {
		out = out[:n:n]
	}
	return out
}

// CountCloser returns how many contacts of the buckets are closer to key
// than the table's own id: the closer argument of [CacheTTL] for a copy
// cached here.
func (t *Table) CountCloser(key ID) int {
	n := 0
	for _, b := range t.buckets {
		for _, e := range b.entries {
			if Closer(key, e.ID, t.self) {
				n++
			}
		}
	}
	return n
}

// Touch records a lookup of target at now: the bucket whose range holds
// target needs no refresh for another RefreshInterval.
func (t *Table) Touch(target ID, now time.Time) {
	t.buckets[t.BucketIndex(target)].lastLookup = now
}

// Refresh returns one random lookup target for each bucket that has seen no
// lookup for RefreshInterval, and marks those buckets as looked up at now so
// each is reported once per interval. The targets' random bits are read
// from r.
func (t *Table) Refresh(now time.Time, r io.Reader) []ID {
	var out []ID
	for i, b := range t.buckets {
		if now.Sub(b.lastLookup) >= t.cfg.RefreshInterval {
			out = append(out, RandomInBucket(t.self, i, r))
			b.lastLookup = now
		}
	}
	return out
}
