package dispersy

import (
	"bytes"
	"fmt"
	"iter"
	"math"

	"github.com/dispersy-go/dispersy/keys"
)

// ReadOptions selects the stored messages [Messages] returns.
type ReadOptions struct {
	// Member, when not the zero id, keeps only the messages it created.
	Member keys.MemberID
	// From and To bound the global time, inclusive; To 0 means no upper
	// bound.
	From, To uint64
	// IncludeUndone also returns undone messages (their Undone field set).
	IncludeUndone bool
	// Descending returns the newest first.
	Descending bool
	// Limit, when positive, stops after that many messages.
	Limit int
}

// readChunk is how many records Messages reads from the store at a time.
const readChunk = 256

// Messages returns the stored messages of type t in community c, ordered by
// global time and, within one global time, by packet (the store's Range
// order; Descending reverses it). It is how an application rebuilds its
// state after a restart. Only synced types are stored. A stored message that
// no longer decodes (stored by an older definition) is skipped.
//
// It reads the store lazily, a chunk at a time: call it and range over it on
// the engine's goroutine (in a handler, in [Node.Do], or before the engine
// runs). The loop body may create messages; what it creates may or may not
// be seen by the same loop. An error (the store's, or t not registered in
// c) is yielded once, with a nil message, and ends the sequence.
func Messages[T any](c *Community, t *MessageType[T], opts ReadOptions) iter.Seq2[*Message[T], error] {
	return func(yield func(*Message[T], error) bool) {
		if e := c.def.types[t.ID()]; e == nil || e.t != AnyMessageType(t) {
			yield(nil, fmt.Errorf("%w: %q in %s", ErrUnknownType, t.Name(), c))
			return
		}
		q := RangeQuery{Community: c.cid, MessageID: t.ID(), Low: opts.From, High: opts.To,
			Descending: opts.Descending, IncludeUndone: opts.IncludeUndone}
		if q.High == 0 {
			q.High = math.MaxUint64
		}
		var last *Record // the last record read: the next chunk starts after it
		n := 0
		for {
			var recs []Record
			err := c.e.store.Range(q, func(r *Record) bool {
				if last != nil && r.GlobalTime == last.GlobalTime {
					x := bytes.Compare(r.Packet, last.Packet)
					if (!q.Descending && x <= 0) || (q.Descending && x >= 0) {
						return true // read in the previous chunk
					}
				}
				if opts.Member == (keys.MemberID{}) || r.Member == opts.Member {
					recs = append(recs, *r)
				}
				cp := *r
				last = &cp
				return len(recs) < readChunk
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range recs {
				m := c.decodeRecord(&recs[i])
				if m == nil {
					continue
				}
				tm := typed(t, m)
				tm.Undone = recs[i].Undone
				if !yield(tm, nil) {
					return
				}
				if n++; opts.Limit > 0 && n >= opts.Limit {
					return
				}
			}
			if len(recs) < readChunk {
				return
			}
			if q.Descending {
				q.High = last.GlobalTime
			} else {
				q.Low = last.GlobalTime
			}
		}
	}
}
