// Package requestcache keeps the requests a node is waiting on (Dispersy's
// RequestCache, dispersy.md §5.4 and §9.3): introduction requests waiting
// for their response and puncture, signature requests, missing-data
// requests. Each entry is keyed by a prefix (the kind of request) and a
// 16-bit number that travels on the wire as the request's identifier, and
// expires at a deadline.
//
// The cache is pure: it reads no clock (times come in as arguments), draws
// numbers from an injected *rand.Rand, and returns expired entries in
// deadline order, so the same seed and inputs give the same numbers and
// the same timeouts.
//
// # Usage
//
//	type pending struct{ helper netip.AddrPort; gotResponse, gotPuncture bool }
//	rc := requestcache.New[*pending](rng, requestcache.DefaultMaxEntries)
//
//	// sending an introduction request:
//	id, err := rc.Add(now, "introduction-request", cfg.IntroRequestTimeout, &pending{helper: to})
//	if err != nil { /* full: skip this step and count it */ }
//
//	// the response arrives with identifier id:
//	p, ok := rc.Get("introduction-request", id) // !ok: unknown or expired, drop it
//
//	// both response and puncture arrived:
//	rc.Pop("introduction-request", id)
//
//	// at rc.NextDeadline():
//	for _, e := range rc.Expire(now) { /* e.g. walker Table.WalkTimeout(e.Value.helper) */ }
//
// # Invariants
//
//   - No two live entries share (prefix, number); [Cache.Add] never hands
//     out a number in use, and [Cache.AddFixed] refuses one with
//     [ErrInUse].
//   - The cache never holds more than its maxEntries live entries: a flood
//     of remote-triggered requests gets [ErrFull], not memory growth.
//   - [Cache.Expire] returns entries with deadline ≤ now, earliest first,
//     ties in insertion order; a popped entry never expires.
//   - Lookups of unknown or expired identifiers (remote input) report
//     false; nothing panics or returns an error for them.
//   - Not safe for concurrent use: the engine goroutine owns the cache.
package requestcache
