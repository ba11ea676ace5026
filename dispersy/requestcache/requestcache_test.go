package requestcache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newCache(maxEntries int) *Cache[string] {
	return New[string](rand.New(rand.NewPCG(1, 2)), maxEntries)
}

const intro = "introduction-request"

// TestAddHasGetPop is Dispersy's test_requestcache add/has/get/pop, with
// the second pop that raised KeyError in Python reporting false here.
func TestAddHasGetPop(t *testing.T) {
	c := newCache(DefaultMaxEntries)
	n, err := c.Add(t0, intro, 10500*time.Millisecond, "walk to A")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has(intro, n) || c.Has("other", n) || c.Len() != 1 {
		t.Fatalf("Has after Add: %v / %v, Len %d", c.Has(intro, n), c.Has("other", n), c.Len())
	}
	if v, ok := c.Get(intro, n); !ok || v != "walk to A" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if d, ok := c.NextDeadline(); !ok || !d.Equal(t0.Add(10500*time.Millisecond)) {
		t.Fatalf("NextDeadline = %v, %v", d, ok)
	}
	if v, ok := c.Pop(intro, n); !ok || v != "walk to A" {
		t.Fatalf("Pop = %q, %v", v, ok)
	}
	if v, ok := c.Pop(intro, n); ok || v != "" {
		t.Fatalf("second Pop = %q, %v; want not found", v, ok)
	}
	if _, ok := c.Get(intro, n); ok || c.Has(intro, n) || c.Len() != 0 {
		t.Fatal("entry still present after Pop")
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("NextDeadline on an empty cache")
	}
	if got := c.Expire(t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("a popped entry expired: %v", got)
	}
}

// TestUniqueNumbers is Dispersy's "100 random caches get unique numbers",
// plus the same for a nearly full prefix, where random draws mostly
// collide and the scan takes over.
func TestUniqueNumbers(t *testing.T) {
	c := newCache(DefaultMaxEntries)
	seen := map[uint16]bool{}
	for i := range 100 {
		n, err := c.Add(t0, intro, time.Second, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		if seen[n] {
			t.Fatalf("number %d handed out twice", n)
		}
		seen[n] = true
	}
	// Numbers are random, not sequential.
	var ns []int
	for n := range seen {
		ns = append(ns, int(n))
	}
	slices.Sort(ns)
	if ns[len(ns)-1]-ns[0] < 1000 {
		t.Fatalf("numbers span only %d..%d", ns[0], ns[len(ns)-1])
	}
}

// TestPrefixFull fills all 65,536 numbers of one prefix: every number is
// handed out once, the next Add fails with ErrPrefixFull, other prefixes
// still work, and a popped number becomes available again.
func TestPrefixFull(t *testing.T) {
	c := newCache(NumberSpace + 10)
	seen := make([]bool, NumberSpace)
	for i := range NumberSpace {
		n, err := c.Add(t0, intro, time.Second, "")
		if err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
		if seen[n] {
			t.Fatalf("number %d handed out twice", n)
		}
		seen[n] = true
	}
	if _, err := c.Add(t0, intro, time.Second, ""); !errors.Is(err, ErrPrefixFull) {
		t.Fatalf("Add to a full prefix: %v", err)
	}
	if _, err := c.Add(t0, "signature-request", time.Second, ""); err != nil {
		t.Fatalf("other prefix: %v", err)
	}
	c.Pop(intro, 4242)
	if n, err := c.Add(t0, intro, time.Second, ""); err != nil || n != 4242 {
		t.Fatalf("Add after Pop = %d, %v; want 4242", n, err)
	}
}

// TestFixedCollision is Dispersy's fixed NumberCache test: a number in use
// is refused; the same number under another prefix, or after the entry is
// gone, is fine.
func TestFixedCollision(t *testing.T) {
	c := newCache(DefaultMaxEntries)
	if err := c.AddFixed(t0, "missing-proof", 7, time.Second, "a"); err != nil {
		t.Fatal(err)
	}
	err := c.AddFixed(t0, "missing-proof", 7, time.Second, "b")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("collision: %v", err)
	}
	if v, _ := c.Get("missing-proof", 7); v != "a" {
		t.Fatalf("collision overwrote the entry: %q", v)
	}
	if err := c.AddFixed(t0, "missing-identity", 7, time.Second, "c"); err != nil {
		t.Fatalf("same number, other prefix: %v", err)
	}
	c.Expire(t0.Add(time.Second))
	if err := c.AddFixed(t0, "missing-proof", 7, time.Second, "d"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	// Random numbers never take a fixed one.
	for range 2000 {
		n, err := c.Add(t0, "missing-proof", time.Minute, "")
		if err != nil {
			t.Fatal(err)
		}
		if n == 7 {
			t.Fatal("Add handed out a number held by AddFixed")
		}
	}
}

// TestExpiryOrder: Expire returns the due entries by deadline, ties in
// insertion order, and leaves the rest.
func TestExpiryOrder(t *testing.T) {
	c := newCache(DefaultMaxEntries)
	add := func(after time.Duration, timeout time.Duration, v string) {
		t.Helper()
		if _, err := c.Add(t0.Add(after), intro, timeout, v); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 5*time.Second, "e5")
	add(0, 1*time.Second, "a1")
	add(2*time.Second, 1*time.Second, "c3")
	add(0, 3*time.Second, "b3") // same deadline as c3, added later
	add(0, 10*time.Second, "z10")
	add(1*time.Second, 2*time.Second, "d3") // same deadline again
	if d, _ := c.NextDeadline(); !d.Equal(t0.Add(time.Second)) {
		t.Fatalf("NextDeadline = %v", d)
	}
	var got []string
	for _, e := range c.Expire(t0.Add(5 * time.Second)) {
		got = append(got, e.Value)
		if e.Deadline.After(t0.Add(5 * time.Second)) {
			t.Fatalf("%s expired early (deadline %v)", e.Value, e.Deadline)
		}
	}
	if want := []string{"a1", "c3", "b3", "d3", "e5"}; !slices.Equal(got, want) {
		t.Fatalf("expired %v, want %v", got, want)
	}
	if c.Len() != 1 {
		t.Fatalf("%d left, want 1", c.Len())
	}
	if got := c.Expire(t0.Add(10*time.Second - 1)); len(got) != 0 {
		t.Fatalf("expired before the deadline: %v", got)
	}
	if d, _ := c.NextDeadline(); !d.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("NextDeadline = %v", d)
	}
	if got := c.Expire(t0.Add(10 * time.Second)); len(got) != 1 || got[0].Value != "z10" || got[0].Prefix != intro {
		t.Fatalf("final expire: %v", got)
	}
}

// TestPopKeepsHeapOrder: popping entries out of the middle of the deadline
// order leaves the remaining order intact (checked against a sorted model
// with a seeded stream of operations).
func TestPopKeepsHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	c := New[int](rand.New(rand.NewPCG(3, 4)), 1000)
	type live struct {
		n        uint16
		deadline time.Time
		v        int
	}
	var model []live
	now := t0
	expired, popped := 0, 0
	for i := range 5000 {
		switch op := rng.IntN(10); {
		case op < 5:
			d := time.Duration(1+rng.IntN(50)) * time.Second
			n, err := c.Add(now, intro, d, i)
			if errors.Is(err, ErrFull) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model = append(model, live{n, now.Add(d), i})
		case op < 8 && len(model) > 0:
			j := rng.IntN(len(model))
			v, ok := c.Pop(intro, model[j].n)
			if !ok || v != model[j].v {
				t.Fatalf("Pop(%d) = %d, %v; want %d", model[j].n, v, ok, model[j].v)
			}
			model = slices.Delete(model, j, j+1)
			popped++
		default:
			now = now.Add(time.Duration(rng.IntN(5)) * time.Second)
			byDeadline := map[int]time.Time{}
			for _, m := range model {
				byDeadline[m.v] = m.deadline
			}
			var want []int
			kept := model[:0]
			for _, m := range model { // model is in insertion order
				if !m.deadline.After(now) {
					want = append(want, m.v)
				} else {
					kept = append(kept, m)
				}
			}
			// Expected order: by deadline, then insertion.
			slices.SortStableFunc(want, func(a, b int) int { return byDeadline[a].Compare(byDeadline[b]) })
			model = kept
			var got []int
			for _, e := range c.Expire(now) {
				got = append(got, e.Value)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: expired %v, want %v", i, got, want)
			}
			expired += len(got)
		}
		if c.Len() != len(model) {
			t.Fatalf("step %d: Len %d, model %d", i, c.Len(), len(model))
		}
	}
	if expired < 500 || popped < 500 {
		t.Fatalf("the stream exercised too little: %d expired, %d popped", expired, popped)
	}
}

// TestBound: the cache refuses entries beyond maxEntries until one is
// popped or expires; bad timeouts are refused.
func TestBound(t *testing.T) {
	c := newCache(3)
	for i := range 3 {
		if _, err := c.Add(t0, fmt.Sprint("p", i%2), time.Second, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Add(t0, "p9", time.Second, ""); !errors.Is(err, ErrFull) {
		t.Fatalf("Add beyond the bound: %v", err)
	}
	if err := c.AddFixed(t0, "p9", 1, time.Second, ""); !errors.Is(err, ErrFull) {
		t.Fatalf("AddFixed beyond the bound: %v", err)
	}
	c.Expire(t0.Add(time.Second))
	if _, err := c.Add(t0, "p9", time.Second, ""); err != nil {
		t.Fatalf("Add after expiry: %v", err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := c.Add(t0, "p", d, ""); !errors.Is(err, ErrTimeout) {
			t.Fatalf("timeout %v: %v", d, err)
		}
		if err := c.AddFixed(t0, "p", 9, d, ""); !errors.Is(err, ErrTimeout) {
			t.Fatalf("fixed timeout %v: %v", d, err)
		}
	}
	c.Clear()
	if c.Len() != 0 {
		t.Fatal("Clear left entries")
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("Clear left deadlines")
	}
	if _, err := c.Add(t0, "p", time.Second, ""); err != nil {
		t.Fatalf("Add after Clear: %v", err)
	}
}

// TestDeterministic: the same seed gives the same numbers.
func TestDeterministic(t *testing.T) {
	run := func() []uint16 {
		c := newCache(100)
		var ns []uint16
		for range 50 {
			n, _ := c.Add(t0, intro, time.Second, "")
			ns = append(ns, n)
		}
		return ns
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Fatal("same seed, different numbers")
	}
}

func TestNewPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil rng":   func() { New[int](nil, 1) },
		"bound < 1": func() { New[int](rand.New(rand.NewPCG(1, 1)), 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkAddPop(b *testing.B) {
	c := New[int](rand.New(rand.NewPCG(1, 2)), DefaultMaxEntries)
	for i := range 100 { // a realistic background of pending requests
		c.Add(t0, intro, time.Hour, i)
	}
	b.ReportAllocs()
	for b.Loop() {
		n, _ := c.Add(t0, intro, time.Second, 1)
		c.Pop(intro, n)
	}
}
