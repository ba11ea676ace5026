package dht

import (
	"slices"
	"time"
)

// ValuesConfig tunes [Values]. Zero fields take the defaults.
type ValuesConfig struct {
	// Policy holds the store check's limits.
	Policy Policy
	// MaxHold bounds how long a record is kept without being stored again
	// by another node (default 24 h; see [HoldUntil]); a record's own
	// expiry ends it earlier. A holder's own republish does not extend its
	// copy: a holder that fell out of the K closest, which nobody stores to
	// any more, drops the record after MaxHold instead of republishing it
	// forever.
	MaxHold time.Duration
	// RepublishInterval is the replication period (default 1 h; see
	// [Held.ShouldRepublish] and [Held.ShouldDrop]).
	RepublishInterval time.Duration
}

func (c ValuesConfig) withDefaults() ValuesConfig {
	c.Policy = c.Policy.withDefaults()
	if c.MaxHold <= 0 {
		c.MaxHold = DefaultMaxHold
	}
	if c.RepublishInterval <= 0 {
		c.RepublishInterval = DefaultRepublishInterval
	}
	return c
}

type heldRecord struct {
	rec  *Record
	from ID // the peer charged for it
	Held
}

// Values is the records a node holds for the DHT, in memory: the store
// check ([Policy.Accept]) with per-peer quota accounting, the hold times,
// and the republish and drop decisions. It does no I/O and reads no clock.
// A Values belongs to one goroutine.
type Values struct {
	cfg   ValuesConfig
	m     map[ID]*heldRecord
	usage map[ID]int
}

// NewValues returns an empty value store.
func NewValues(cfg ValuesConfig) *Values {
	return &Values{cfg: cfg.withDefaults(), m: map[ID]*heldRecord{}, usage: map[ID]int{}}
}

// Len returns the number of records held, expired ones not yet dropped
// included.
func (v *Values) Len() int { return len(v.m) }

// PeerBytes returns the bytes charged to a peer ([Record.Size]).
func (v *Values) PeerBytes(peer ID) int { return v.usage[peer] }

// Put stores rec under key for the peer from at now, as one of the K
// closest nodes: the verdict of [Policy.Accept]. Accepted replaces the held
// record (and moves the charge to from); Duplicate counts as an update by
// another replica (this node then skips its republish) and extends the hold
// time of a content record stored with a later expiry.
func (v *Values) Put(from, key ID, rec *Record, now time.Time) Reason {
	return v.put(from, key, rec, now, false, 0)
}

// PutCached stores rec under key as a copy cached after a lookup, kept at
// most ttl ([CacheTTL]) and dropped early if nobody asks for it. A record
// already held as a replica stays a replica.
func (v *Values) PutCached(from, key ID, rec *Record, now time.Time, ttl time.Duration) Reason {
	return v.put(from, key, rec, now, true, ttl)
}

func (v *Values) put(from, key ID, rec *Record, now time.Time, cached bool, ttl time.Duration) Reason {
	h := v.m[key]
	if h != nil && h.Expired(now) {
		v.drop(key, h)
		h = nil
	}
	var held *Record
	charged := v.usage[from]
	if h != nil {
		held = h.rec
		if h.from == from {
			charged -= h.rec.Size() // an update replaces the peer's own bytes
		}
	}
	verdict := v.cfg.Policy.Accept(held, rec, key, now, charged)
	if verdict.Refused() {
		return verdict
	}
	until := HoldUntil(rec, now, v.cfg.MaxHold)
	if cached && now.Add(ttl).Before(until) {
		until = now.Add(ttl)
	}
	switch verdict {
	case Duplicate:
		if !cached {
			h.UpdatedAt = now
			h.Cached = false
		}
		if until.After(h.Until) {
			h.Until = until
			h.rec = rec
		}
	case Accepted:
		if h != nil {
			v.charge(h.from, -h.rec.Size())
			cached = cached && h.Cached
		}
		v.m[key] = &heldRecord{rec: rec, from: from, Held: Held{StoredAt: now, Until: until, Cached: cached}}
		v.charge(from, rec.Size())
	}
	return verdict
}

func (v *Values) drop(key ID, h *heldRecord) {
	v.charge(h.from, -h.rec.Size())
	delete(v.m, key)
}

func (v *Values) charge(peer ID, n int) {
	if v.usage[peer] += n; v.usage[peer] <= 0 {
		delete(v.usage, peer)
	}
}

// Get returns the record held under key at now, or nil if none is held or
// it has expired, and marks it as asked for (a cached copy someone asks for
// is kept). A tombstone is returned as is: it answers "deleted".
func (v *Values) Get(key ID, now time.Time) *Record {
	h := v.m[key]
	if h == nil || h.Expired(now) || h.rec.ExpiredAt(now) {
		return nil
	}
	h.RequestedAt = now
	return h.rec
}

// Maintain runs the periodic duties at now: it drops expired records and
// cached copies nobody asked for during the republish interval (releasing
// their charge), and returns the keys of the replicas due for a republish
// on the K closest nodes, sorted, marking them republished at now.
func (v *Values) Maintain(now time.Time) (republish []ID, dropped int) {
	for key, h := range v.m {
		if h.ShouldDrop(now, v.cfg.RepublishInterval) || h.rec.ExpiredAt(now) {
			v.drop(key, h)
			dropped++
			continue
		}
		if h.ShouldRepublish(now, v.cfg.RepublishInterval) {
			h.RepublishedAt = now
			republish = append(republish, key)
		}
	}
	slices.SortFunc(republish, ID.Cmp)
	return republish, dropped
}

// Peek returns the record held under key and its hold state without
// marking it as asked for (republishing and persisting read it), or nil.
func (v *Values) Peek(key ID) (*Record, Held) {
	h := v.m[key]
	if h == nil {
		return nil, Held{}
	}
	return h.rec, h.Held
}

// Keys returns the keys held, sorted.
func (v *Values) Keys() []ID {
	out := make([]ID, 0, len(v.m))
	for k := range v.m {
		out = append(out, k)
	}
	slices.SortFunc(out, ID.Cmp)
	return out
}
