package recent

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var w Window[int]
	steps := []struct {
		at   time.Duration
		key  int
		seen bool
	}{
		{0, 1, false},
		{0, 1, true},
		{50 * time.Millisecond, 1, true},
		{50 * time.Millisecond, 2, false},
		{100 * time.Millisecond, 1, false}, // expired, recorded again
		{120 * time.Millisecond, 2, true},
		{150 * time.Millisecond, 2, false},
	}
	for i, s := range steps {
		if got := w.Seen(t0.Add(s.at), 100*time.Millisecond, s.key); got != s.seen {
			t.Errorf("step %d: Seen(%v, %d) = %v, want %v", i, s.at, s.key, got, s.seen)
		}
	}
	for range 2 {
		if w.Seen(t0, 0, 9) {
			t.Error("a zero window remembered a key")
		}
	}
}

func TestWindowBound(t *testing.T) {
	w := Window[int]{Max: 3}
	t0 := time.Unix(1000, 0)
	for k := range 10 {
		w.Seen(t0, time.Hour, k)
		if w.Len() > 3 {
			t.Fatalf("%d keys remembered, bound 3", w.Len())
		}
	}
	if w.Seen(t0, time.Hour, 0) {
		t.Error("the oldest key was not forgotten")
	}
	if !w.Seen(t0, time.Hour, 9) {
		t.Error("the newest key was forgotten")
	}
}
