// Package recent remembers which keys were seen during a sliding window of
// time, with bounded memory: the engine uses it to send each message once
// per requester per window. It reads no clock; callers pass the time.
package recent

import "time"

// Window remembers keys for a duration. The zero value is ready to use.
// Not safe for concurrent use.
type Window[K comparable] struct {
	// Max bounds the keys remembered; beyond it the oldest are forgotten.
	// 0 means 4096.
	Max   int
	at    map[K]time.Time
	order []K // by time first seen
}

// Seen reports whether k was recorded within d before now; if not, it
// records k at now. d <= 0 remembers nothing.
func (w *Window[K]) Seen(now time.Time, d time.Duration, k K) bool {
	if d <= 0 {
		return false
	}
	if w.at == nil {
		w.at = map[K]time.Time{}
	}
	limit := w.Max
	if limit <= 0 {
		limit = 4096
	}
	n := 0
	for ; n < len(w.order); n++ {
		old := w.order[n]
		if now.Sub(w.at[old]) < d && len(w.order)-n < limit {
			break
		}
		delete(w.at, old)
	}
	w.order = w.order[n:]
	if _, ok := w.at[k]; ok {
		return true
	}
	w.at[k] = now
	w.order = append(w.order, k)
	return false
}

// Len returns the number of keys remembered.
func (w *Window[K]) Len() int { return len(w.order) }
