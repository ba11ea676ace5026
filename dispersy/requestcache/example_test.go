package requestcache_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/requestcache"
)

// An introduction request waits for its response; a second one times out.
func Example() {
	rc := requestcache.New[string](rand.New(rand.NewPCG(1, 2)), requestcache.DefaultMaxEntries)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timeout := 10500 * time.Millisecond

	a, _ := rc.Add(now, "introduction-request", timeout, "walk to A")
	b, _ := rc.Add(now.Add(5*time.Second), "introduction-request", timeout, "walk to B")

	// A answers in time, quoting identifier a.
	if v, ok := rc.Pop("introduction-request", a); ok {
		fmt.Println("response for", v)
	}
	// A duplicate or late response finds nothing.
	_, ok := rc.Pop("introduction-request", a)
	fmt.Println("again:", ok)

	next, _ := rc.NextDeadline()
	fmt.Println("next deadline after", next.Sub(now))
	for _, e := range rc.Expire(next) {
		fmt.Println("timeout for", e.Value, e.Number == b)
	}
	// Output:
	// response for walk to A
	// again: false
	// next deadline after 15.5s
	// timeout for walk to B true
}
