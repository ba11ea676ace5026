package dispersy

import (
	"math/rand/v2"

	"github.com/dispersy-go/dispersy/dispersy/syncrange"
)

// The bloom-filter sync range arithmetic of Dispersy (dispersy.md §4.2 and
// §4.4) lives in package syncrange; these names keep it part of this
// package's API.
type (
	// SyncStrategy selects how ChooseSyncRange picks a bloom-filter range.
	SyncStrategy = syncrange.SyncStrategy
	// SyncRequestRange is what a bloom-filter sync request covers.
	SyncRequestRange = syncrange.SyncRequestRange
	// RangeParams are the inputs of ChooseSyncRange.
	RangeParams = syncrange.RangeParams
	// SyncTypeOrder is how one message type is answered.
	SyncTypeOrder = syncrange.SyncTypeOrder
	// AnswerParams are the inputs of AnswerSync.
	AnswerParams = syncrange.AnswerParams
)

// The sync strategies (syncrange.LargestPivot, syncrange.Modulo).
const (
	LargestPivot = syncrange.LargestPivot
	Modulo       = syncrange.Modulo
)

// rangeStore adapts a Store to syncrange.Store.
type rangeStore struct{ Store }

func (s rangeStore) Range(q RangeQuery, fn func(*syncrange.Row) bool) error {
	var row syncrange.Row
	return s.Store.Range(q, func(r *Record) bool { row = syncrange.Row{Hash: r.Hash, Packet: r.Packet}; return fn(&row) })
}

func asRangeStore(s Store) syncrange.Store {
	if s == nil {
		return nil
	}
	return rangeStore{s}
}

// ChooseSyncRange chooses the range of the next bloom-filter sync request
// and the hashes to put in its filter, as Dispersy did: see syncrange.Choose.
func ChooseSyncRange(s Store, p RangeParams, rng *rand.Rand) (SyncRequestRange, error) {
	return syncrange.Choose(asRangeStore(s), p, rng)
}

// AnswerSync returns the packets to send in answer to a bloom-filter sync
// request (Dispersy's _get_packets_for_bloomfilters): see syncrange.Answer.
func AnswerSync(s Store, p AnswerParams, rng *rand.Rand) ([][]byte, error) {
	return syncrange.Answer(asRangeStore(s), p, rng)
}
