package dispersy

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// RemoveReason is why stored messages left the store without being undone
// (see Handlers.Removed).
type RemoveReason uint8

const (
	// RemoveReplaced: newer messages of a LastSyncDistribution type pushed
	// it out of its member's kept history (HistorySize).
	RemoveReplaced RemoveReason = iota + 1
	// RemovePruned: GlobalTimePruning deleted it as the community's global
	// time rose.
	RemovePruned
)

func (r RemoveReason) String() string {
	return map[RemoveReason]string{RemoveReplaced: "replaced", RemovePruned: "pruned"}[r]
}

type removal struct {
	rec    Record
	reason RemoveReason
}

// noteRemovals queues for runRemoved the live messages of types with a
// Removed handler that b's trims and prunes delete: the store before b plus
// b's own puts and deletes, in order (a message put and pushed out by b is
// reported too, after it is handled). Prunes never meet b's puts: a message
// in the pruned range is dropped before it is accepted.
func (e *Engine) noteRemovals(b *Batch) error {
	type hkey struct {
		cid keys.CommunityID
		h   histKey
	}
	var hists map[hkey][]Record
	type ckey struct {
		cid keys.CommunityID
		k   MessageKey
	}
	gone, undone := map[ckey]bool{}, map[ckey]bool{} // by b's earlier ops
	load := func(c *Community, id uint8, a, b keys.MemberID) (hkey, error) {
		if b != (keys.MemberID{}) && bytes.Compare(b[:], a[:]) < 0 {
			a, b = b, a
		}
		k := hkey{c.cid, histKey{id: id, a: a, b: b}}
		if _, ok := hists[k]; ok {
			return k, nil
		}
		recs, err := e.store.History(c.cid, id, a, b)
		if hists == nil {
			hists = map[hkey][]Record{}
		}
		hists[k] = recs
		return k, err
	}
	remove := func(c *Community, r Record, why RemoveReason) {
		k := ckey{c.cid, r.Key()}
		if u, set := undone[k]; !gone[k] && !(set && u || !set && r.Undone) {
			c.removals = append(c.removals, removal{r, why})
		}
		gone[k] = true
	}
	for _, op := range b.Ops {
		c := e.communities[op.Community]
		id := op.MessageID
		if op.Kind == OpPut {
			id = op.Record.MessageID
		}
		if c == nil || c.def.types[id] == nil || c.def.types[id].removed == nil {
			switch op.Kind {
			case OpDelete:
				gone[ckey{op.Community, op.Key}] = true
			case OpSetUndone:
				undone[ckey{op.Community, op.Key}] = op.Undone
			}
			continue
		}
		switch op.Kind {
		case OpPut:
			if _, ok := c.def.types[id].spec.Distribution.(policy.LastSyncDistribution); ok {
				k, err := load(c, id, op.Record.Member, op.Record.Member2)
				if err != nil {
					return err
				}
				hists[k] = append(hists[k], op.Record)
			}
		case OpTrim:
			k, err := load(c, id, op.Key.Member, op.Member2)
			if err != nil {
				return err
			}
			h := slices.DeleteFunc(hists[k], func(r Record) bool { return gone[ckey{c.cid, r.Key()}] })
			slices.SortFunc(h, func(x, y Record) int {
				return cmp.Or(cmp.Compare(x.GlobalTime, y.GlobalTime), bytes.Compare(x.Packet, y.Packet))
			})
			if cut := len(h) - op.Keep; cut > 0 {
				for _, r := range h[:cut] {
					remove(c, r, RemoveReplaced)
				}
				h = h[cut:]
			}
			hists[k] = h
		case OpPrune:
			var recs []Record
			q := RangeQuery{Community: c.cid, MessageID: id, Low: op.After + 1, High: op.Key.GlobalTime}
			if err := e.store.Range(q, func(r *Record) bool { recs = append(recs, *r); return true }); err != nil {
				return err
			}
			for _, r := range recs {
				remove(c, r, RemovePruned)
			}
		}
	}
	return nil
}

// runRemoved calls the Removed handlers of the queued removals, grouped by
// type and reason in queue order.
func (c *Community) runRemoved() {
	rs := c.removals
	c.removals = nil
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].reason == rs[i].reason && rs[j].rec.MessageID == rs[i].rec.MessageID {
			j++
		}
		var group []*message
		for _, r := range rs[i:j] {
			if m := c.decodeRecord(&r.rec); m != nil {
				group = append(group, m)
			}
		}
		if len(group) > 0 && group[0].entry.removed != nil {
			group[0].entry.removed(c.ctx, group, rs[i].reason)
		}
		i = j
	}
}
