package dht

import "time"

// The defaults of the replication arithmetic (Drogulus' constants).
const (
	DefaultRepublishInterval = time.Hour
	DefaultMaxHold           = 24 * time.Hour
	DefaultMinCacheTTL       = time.Minute
)

// HoldUntil returns how long a holder keeps a record received at now: its
// expiry, but no later than now+maxHold (a record that never expires, or a
// content record whose storer asked for too much, is kept maxHold and must
// be republished to live on).
func HoldUntil(r *Record, now time.Time, maxHold time.Duration) time.Time {
	limit := now.Add(maxHold)
	if r.Expires == 0 {
		return limit
	}
	if exp := time.UnixMilli(r.Expires); exp.Before(limit) {
		return exp
	}
	return limit
}

// CacheTTL is the lifetime of a cached copy (Kademlia §2.5): the full base
// lifetime on a node that is one of the k closest to the key it knows of
// (closer < k, where closer counts the contacts it knows that are closer to
// the key than itself: [Table.CountCloser]), halved for every further
// closer node, and never below minTTL. A copy far from the key, where
// lookups seldom pass, dies soon; so over-caching cannot pin a value far
// from its key.
func CacheTTL(base time.Duration, closer, k int, minTTL time.Duration) time.Duration {
	if closer < k {
		return base
	}
	shift := closer - k + 1
	if shift >= 62 {
		return minTTL
	}
	return max(base>>uint(shift), minTTL)
}

// Held is what a holder remembers of one record it keeps, for the
// republish and drop decisions.
type Held struct {
	// StoredAt is when this node first stored the record.
	StoredAt time.Time
	// UpdatedAt is when another node last stored (republished) it here.
	UpdatedAt time.Time
	// RepublishedAt is when this node last republished it.
	RepublishedAt time.Time
	// RequestedAt is when this node last answered a find-value with it.
	RequestedAt time.Time
	// Until is when the record is dropped at the latest ([HoldUntil] or a
	// cache lifetime).
	Until time.Time
	// Cached marks a copy cached after a lookup rather than stored as one of
	// the k closest.
	Cached bool
}

// ShouldRepublish reports whether the holder stores the record again on the
// k closest nodes at now: a replica (not a cached copy) that has been
// neither stored here by another node nor republished by this one for
// interval. A store received from another replica counts as a republish, so
// of the k replicas of a record usually one republishes per interval
// (Kademlia's optimisation).
func (h Held) ShouldRepublish(now time.Time, interval time.Duration) bool {
	if h.Cached || h.Expired(now) {
		return false
	}
	last := h.StoredAt
	for _, t := range []time.Time{h.UpdatedAt, h.RepublishedAt} {
		if t.After(last) {
			last = t
		}
	}
	return !now.Before(last.Add(interval))
}

// Expired reports whether the hold time has passed at now.
func (h Held) Expired(now time.Time) bool { return !h.Until.IsZero() && !now.Before(h.Until) }

// ShouldDrop reports whether the holder deletes the record at now: it has
// expired, or it is a cached copy nobody asked for during interval.
func (h Held) ShouldDrop(now time.Time, interval time.Duration) bool {
	if h.Expired(now) {
		return true
	}
	if !h.Cached {
		return false
	}
	last := h.StoredAt
	if h.RequestedAt.After(last) {
		last = h.RequestedAt
	}
	return !now.Before(last.Add(interval))
}
