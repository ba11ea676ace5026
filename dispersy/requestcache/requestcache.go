package requestcache

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// NumberSpace is the number of identifiers per prefix: numbers are 16-bit,
// the size of the identifier field of the walker messages.
const NumberSpace = 1 << 16

// DefaultMaxEntries is a bound suited to one node: an introduction request
// lives 10.5 s and a community walks every 5 s, so a few hundred
// communities and the missing-data and signature requests stay far below
// it, while a flood of remote-triggered requests cannot grow memory past
// it.
const DefaultMaxEntries = 4096

// randomTries is how many random numbers Add draws before it scans for a
// free one (Dispersy gave up after 1,000 draws; scanning always succeeds
// when a number is free).
const randomTries = 16

// Errors. Each is wrapped with detail; test with errors.Is.
var (
	// ErrFull: the cache holds MaxEntries live entries. Drop the request
	// that would have created one (and count it), or wait for Expire.
	ErrFull = errors.New("requestcache: cache full")
	// ErrPrefixFull: all 65,536 numbers of the prefix are in use.
	ErrPrefixFull = errors.New("requestcache: every number of the prefix is in use")
	// ErrInUse: AddFixed was given a number that a live entry of the same
	// prefix holds (Dispersy NumberCache raised RuntimeError).
	ErrInUse = errors.New("requestcache: number already in use")
	// ErrTimeout: the timeout is not positive.
	ErrTimeout = errors.New("requestcache: timeout must be > 0")
)

// Entry is one pending request.
type Entry[V any] struct {
	// Prefix names the kind of request ("introduction-request",
	// "signature-request", …); numbers are unique per prefix.
	Prefix string
	// Number identifies the request on the wire.
	Number uint16
	// Deadline is when the request expires: the time it was added plus its
	// timeout.
	Deadline time.Time
	// Value is the caller's state for the request.
	Value V
}

type key struct {
	prefix string
	number uint16
}

type item[V any] struct {
	Entry[V]
	seq   uint64 // insertion order, breaks deadline ties
	index int    // position in the heap
}

// Cache holds pending requests keyed by (prefix, 16-bit number) and expires
// them in deadline order (Dispersy RequestCache). Numbers come from the
// injected rng and never collide with a live entry of the same prefix.
//
// A Cache reads no clock: times come in as arguments, and the owner calls
// [Cache.Expire] at [Cache.NextDeadline]. Not safe for concurrent use.
type Cache[V any] struct {
	rng       *rand.Rand
	max       int
	entries   map[key]*item[V] // lookup only; never iterated
	perPrefix map[string]int   // live entries per prefix; lookup only
	deadlines deadlineHeap[V]
	seq       uint64
}

// New returns an empty cache that holds at most maxEntries live entries and
// draws numbers from rng. It panics if rng is nil or maxEntries < 1: both
// are programming errors.
func New[V any](rng *rand.Rand, maxEntries int) *Cache[V] {
	if rng == nil {
		panic("requestcache: New needs a *rand.Rand")
	}
	if maxEntries < 1 {
		panic(fmt.Sprintf("requestcache: maxEntries (%d) must be >= 1", maxEntries))
	}
	return &Cache[V]{
		rng:       rng,
		max:       maxEntries,
		entries:   make(map[key]*item[V]),
		perPrefix: make(map[string]int),
	}
}

// Len returns the number of live entries.
func (c *Cache[V]) Len() int { return len(c.entries) }

// Add stores value under prefix with a fresh number drawn from the rng and
// returns the number. The entry expires at now+timeout. It fails with
// ErrFull when the cache holds MaxEntries entries, ErrPrefixFull when every
// number of the prefix is taken, and ErrTimeout when timeout ≤ 0.
func (c *Cache[V]) Add(now time.Time, prefix string, timeout time.Duration, value V) (uint16, error) {
	if err := c.room(prefix, timeout); err != nil {
		return 0, err
	}
	n := c.free(prefix)
	c.insert(now, prefix, n, timeout, value)
	return n, nil
}

// AddFixed stores value under (prefix, number), for requests whose number
// is chosen elsewhere (the peer's identifier in a response we wait for). It
// fails with ErrInUse when a live entry holds that number, and otherwise
// like [Cache.Add].
func (c *Cache[V]) AddFixed(now time.Time, prefix string, number uint16, timeout time.Duration, value V) error {
	if _, ok := c.entries[key{prefix, number}]; ok {
		return fmt.Errorf("%w: %s:%d", ErrInUse, prefix, number)
	}
	if err := c.room(prefix, timeout); err != nil {
		return err
	}
	c.insert(now, prefix, number, timeout, value)
	return nil
}

func (c *Cache[V]) room(prefix string, timeout time.Duration) error {
	switch {
	case timeout <= 0:
		return fmt.Errorf("%w (got %v for prefix %q)", ErrTimeout, timeout, prefix)
	case len(c.entries) >= c.max:
		return fmt.Errorf("%w: %d entries (prefix %q)", ErrFull, c.max, prefix)
	case c.perPrefix[prefix] >= NumberSpace:
		return fmt.Errorf("%w: %q", ErrPrefixFull, prefix)
	}
	return nil
}

// free returns a number not used by a live entry of prefix. The caller has
// checked that one exists.
func (c *Cache[V]) free(prefix string) uint16 {
	var n uint16
	for range randomTries {
		n = uint16(c.rng.IntN(NumberSpace))
		if _, used := c.entries[key{prefix, n}]; !used {
			return n
		}
	}
	// Dense prefix: scan upward from the last draw; terminates because
	// fewer than NumberSpace numbers are in use.
	for {
		n++
		if _, used := c.entries[key{prefix, n}]; !used {
			return n
		}
	}
}

func (c *Cache[V]) insert(now time.Time, prefix string, n uint16, timeout time.Duration, value V) {
	c.seq++
	it := &item[V]{Entry: Entry[V]{Prefix: prefix, Number: n, Deadline: now.Add(timeout), Value: value}, seq: c.seq}
	c.entries[key{prefix, n}] = it
	c.perPrefix[prefix]++
	heap.Push(&c.deadlines, it)
}

// Has reports whether a live entry holds (prefix, number).
func (c *Cache[V]) Has(prefix string, number uint16) bool {
	_, ok := c.entries[key{prefix, number}]
	return ok
}

// Get returns the value of the live entry (prefix, number).
func (c *Cache[V]) Get(prefix string, number uint16) (V, bool) {
	if it, ok := c.entries[key{prefix, number}]; ok {
		return it.Value, true
	}
	var zero V
	return zero, false
}

// Pop removes the live entry (prefix, number) and returns its value: the
// response arrived. A second Pop, or a Pop after expiry, reports false.
func (c *Cache[V]) Pop(prefix string, number uint16) (V, bool) {
	k := key{prefix, number}
	it, ok := c.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.remove(k)
	heap.Remove(&c.deadlines, it.index)
	return it.Value, true
}

func (c *Cache[V]) remove(k key) {
	delete(c.entries, k)
	if c.perPrefix[k.prefix]--; c.perPrefix[k.prefix] == 0 {
		delete(c.perPrefix, k.prefix)
	}
}

// Expire removes and returns the entries whose deadline is at or before
// now, earliest deadline first; entries with equal deadlines come in the
// order they were added. The caller runs each entry's timeout handling
// (Dispersy on_timeout).
func (c *Cache[V]) Expire(now time.Time) []Entry[V] {
	var out []Entry[V]
	for len(c.deadlines) > 0 && !c.deadlines[0].Deadline.After(now) {
		it := heap.Pop(&c.deadlines).(*item[V])
		c.remove(key{it.Prefix, it.Number})
		out = append(out, it.Entry)
	}
	return out
}

// NextDeadline returns the earliest deadline of a live entry; false when
// the cache is empty. The owner schedules its next Expire call there.
func (c *Cache[V]) NextDeadline() (time.Time, bool) {
	if len(c.deadlines) == 0 {
		return time.Time{}, false
	}
	return c.deadlines[0].Deadline, true
}

// Clear removes every entry without expiring it.
func (c *Cache[V]) Clear() {
	clear(c.entries)
	clear(c.perPrefix)
	clear(c.deadlines)
	c.deadlines = c.deadlines[:0]
}

// deadlineHeap orders items by (deadline, seq).
type deadlineHeap[V any] []*item[V]

func (h deadlineHeap[V]) Len() int { return len(h) }

func (h deadlineHeap[V]) Less(i, j int) bool {
	if !h[i].Deadline.Equal(h[j].Deadline) {
		return h[i].Deadline.Before(h[j].Deadline)
	}
	return h[i].seq < h[j].seq
}

func (h deadlineHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *deadlineHeap[V]) Push(x any) {
	it := x.(*item[V])
	it.index = len(*h)
	*h = append(*h, it)
}

func (h *deadlineHeap[V]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
