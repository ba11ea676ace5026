package dht

import "time"

// The defaults of [RateLimiter] (IPv8's DHT: more than 10 queries in 5 s
// are refused).
const (
	DefaultQueryBurst  = 10
	DefaultQueryWindow = 5 * time.Second
	DefaultMaxPeers    = 10000
)

// RateLimiter bounds the queries each peer may make: Burst queries in any
// Window, refilled evenly (the generic cell rate algorithm, in integer
// time). It does no I/O and reads no clock. It tracks at most MaxPeers
// peers; peers whose allowance is full again are forgotten first, and when
// every tracked peer is still limited a new peer is refused too
// (RateLimited), so memory stays bounded under a flood of new ids. A
// RateLimiter belongs to one goroutine.
type RateLimiter struct {
	burst    int
	window   time.Duration
	interval time.Duration // window / burst: the cost of one query
	maxPeers int
	tat      map[ID]time.Time // theoretical arrival time of the next query
}

// NewRateLimiter returns a limiter of burst queries per window, tracking at
// most maxPeers peers. Zero or negative arguments take the defaults.
func NewRateLimiter(burst int, window time.Duration, maxPeers int) *RateLimiter {
	if burst <= 0 {
		burst = DefaultQueryBurst
	}
	if window <= 0 {
		window = DefaultQueryWindow
	}
	if maxPeers <= 0 {
		maxPeers = DefaultMaxPeers
	}
	return &RateLimiter{burst: burst, window: window, interval: max(window/time.Duration(burst), 1), maxPeers: maxPeers, tat: map[ID]time.Time{}}
}

// Allow reports whether peer may make a query at now, and counts it if so.
func (l *RateLimiter) Allow(peer ID, now time.Time) bool {
	tat, ok := l.tat[peer]
	if !ok {
		if len(l.tat) >= l.maxPeers && !l.prune(now) {
			return false
		}
		tat = now
	}
	if tat.Before(now) {
		tat = now
	}
	// Allowed while the backlog, after this query, fits in the window.
	if tat.Add(l.interval).Sub(now) > l.window {
		return false
	}
	l.tat[peer] = tat.Add(l.interval)
	return true
}

// prune forgets the peers whose allowance is full at now and reports
// whether that made room.
func (l *RateLimiter) prune(now time.Time) bool {
	for id, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, id)
		}
	}
	return len(l.tat) < l.maxPeers
}

// Tracked returns the number of peers tracked.
func (l *RateLimiter) Tracked() int { return len(l.tat) }
