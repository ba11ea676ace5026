package dht

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	a, b := idFrom(1), idFrom(2)
	l := NewRateLimiter(10, 5*time.Second, 2)
	for i := range 10 {
		if !l.Allow(a, t0) {
			t.Fatalf("query %d of a burst of 10 refused", i+1)
		}
	}
	if l.Allow(a, t0) || l.Allow(a, t0.Add(400*time.Millisecond)) {
		t.Fatal("11th query within the window allowed")
	}
	if !l.Allow(b, t0) {
		t.Fatal("another peer is limited by a")
	}
	// One query's worth (500 ms) refills after 500 ms.
	if !l.Allow(a, t0.Add(500*time.Millisecond)) || l.Allow(a, t0.Add(500*time.Millisecond)) {
		t.Fatal("refill is not one query per 500 ms")
	}
	// A steady 2 queries per second (the limit) is always allowed.
	for i := range 100 {
		if !l.Allow(b, t0.Add(time.Duration(i)*500*time.Millisecond+5*time.Second)) {
			t.Fatalf("steady query %d refused", i)
		}
	}
	// Bounded memory: a third peer is refused while a and b are limited...
	now := t0.Add(55 * time.Second)
	for l.Allow(a, now) {
	}
	for l.Allow(b, now) {
	}
	c := idFrom(3)
	if l.Allow(c, now) {
		t.Fatal("new peer tracked beyond maxPeers while every tracked peer is limited")
	}
	// ...and admitted once a tracked peer's allowance is full again.
	if !l.Allow(c, now.Add(6*time.Second)) || l.Tracked() > 2 {
		t.Fatalf("new peer refused after the others idled (tracked %d)", l.Tracked())
	}
}
