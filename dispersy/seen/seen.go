// Package seen is a bounded, concurrency-safe set of fixed-size keys that
// forgets the oldest first: the Node's Verifier uses it to remember the
// hashes of packets the engine stored recently, so that a duplicate skips
// signature verification.
package seen

import "sync"

// Set remembers up to Max keys; beyond it the oldest added are forgotten.
// The zero value is ready to use. Safe for concurrent use.
type Set[K comparable] struct {
	// Max bounds the keys remembered. 0 means 65536. Set it before use.
	Max  int
	mu   sync.Mutex
	in   map[K]struct{}
	ring []K
	next int // index in ring of the oldest key once ring is full
}

// Add records k. Adding a key already present does nothing.
func (s *Set[K]) Add(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.in[k]; ok {
		return
	}
	if s.in == nil {
		s.in = map[K]struct{}{}
	}
	limit := s.Max
	if limit <= 0 {
		limit = 65536
	}
	if len(s.ring) < limit {
		s.ring = append(s.ring, k)
	} else {
		delete(s.in, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % limit
	}
	s.in[k] = struct{}{}
}

// Has reports whether k is remembered.
func (s *Set[K]) Has(k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.in[k]
	return ok
}

// Len returns the number of keys remembered.
func (s *Set[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.in)
}
