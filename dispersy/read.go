package dispersy

import (
	"bytes"
	"fmt"
	"iter"
	"math"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
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

// WithReplay makes Join hand the community's stored live (not undone)
// messages to their types' Handle handlers before it returns, so an
// application rebuilds its state after a restart the way it built it:
// in global-time order (then by packet), in batches of one type, before any
// network input. Handlers tell replayed batches by [Context.Replaying]
// (Message.Local is true for them: they carry no source). Replay reads the
// community's application messages into memory once.
func WithReplay() JoinOption {
	return func(o *joinOptions) { o.replay = true }
}

// Replaying reports whether the callback runs for a replay of the store on
// join ([WithReplay]) rather than for a new message.
func (x *Context) Replaying() bool { return x.replay }

// replayBatch is the largest batch a replay hands to a handler.
const replayBatch = 256

// replay hands the stored live messages to the Handle handlers.
func (c *Community) replay() error {
	var types []uint8
	for _, id := range c.def.ids {
		if e := c.def.types[id]; !e.builtin && e.handle != nil && policy.Synced(e.spec.Distribution) {
			types = append(types, id)
		}
	}
	if len(types) == 0 {
		return nil
	}
	var recs []Record
	err := c.e.store.Replay(c.cid, types, func(r *Record) bool {
		if !r.Undone {
			recs = append(recs, *r)
		}
		return true
	})
	if err != nil {
		return c.e.fail(err)
	}
	ctx := &Context{c: c, replay: true}
	var group []*message
	deliver := func() {
		if len(group) > 0 {
			group[0].entry.handle(ctx, group)
			group = nil
		}
	}
	for i := range recs {
		m := c.decodeRecord(&recs[i])
		if m == nil {
			continue
		}
		if len(group) > 0 && (group[0].entry != m.entry || len(group) == replayBatch) {
			deliver()
		}
		group = append(group, m)
	}
	deliver()
	return c.e.failed
}
