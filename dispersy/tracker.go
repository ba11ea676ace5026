package dispersy

import (
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
)

// A tracker (Config.Tracker) is a bootstrap node: it answers introduction
// requests for any community, so peers that know only its address find
// each other (Dispersy's TrackerCommunity). For a packet of a community it
// does not know, it creates a tracker community on the fly: the walker
// messages only, in the packet's community version, no master key, nothing
// stored. It never walks and never syncs. A tracker community that has had
// no verified candidate at three checks in a row is dropped (Dispersy: 3
// strikes, every 180 s), and at most Config.MaxTrackerCommunities exist.

// trackerCheckInterval is how often an idle tracker community is checked.
const trackerCheckInterval = 180 * time.Second

// trackerStrikes is how many idle checks in a row drop a tracker community.
const trackerStrikes = 3

// trackerKey identifies a tracker community: its id and version byte.
type trackerKey struct {
	cid     keys.CommunityID
	version uint8
}

// trackerEntries are the message types a tracker community handles.
func trackerEntries() []*typeEntry {
	types := []AnyMessageType{IntroductionRequestType, IntroductionResponseType, PunctureRequestType, PunctureType}
	out := make([]*typeEntry, len(types))
	for i, t := range types {
		out[i] = &typeEntry{t: t, spec: t.Spec(), builtin: true}
	}
	return out
}

// trackerCommunity returns (creating it if needed) the tracker community
// for a packet, or nil when the packet cannot belong to one or the tracker
// is full.
func (e *Engine) trackerCommunity(pkt []byte) *Community {
	if len(pkt) < conversion.HeaderSize || pkt[1] < conversion.FirstVersion || pkt[1] > conversion.LastVersion {
		return nil
	}
	cid, _ := conversion.PeekCommunity(pkt)
	k := trackerKey{cid: cid, version: pkt[1]}
	if c := e.trackers[k]; c != nil {
		return c
	}
	if len(e.trackers) >= e.cfg.MaxTrackerCommunities {
		return nil
	}
	def := &compiled{cid: cid, name: "tracker", version: k.version}
	var formats []*conversion.Format
	for _, te := range trackerEntries() {
		def.types[te.spec.ID] = te
		def.ids = append(def.ids, te.spec.ID)
		formats = append(formats, te.t.format())
	}
	slices.Sort(def.ids)
	conv, err := conversion.NewConversion(k.version, formats...)
	if err != nil {
		return nil
	}
	if def.codec, err = conversion.NewCodec(cid, conv); err != nil {
		return nil
	}
	c := &Community{e: e, def: def, cid: cid, me: e.me, tracker: true}
	c.ctx = &Context{c: c}
	c.walk.init(c)
	c.delays.init()
	c.trackerCheck = e.now.Add(trackerCheckInterval)
	if e.trackers == nil {
		e.trackers = map[trackerKey]*Community{}
	}
	e.trackers[k] = c
	e.trackerOrder = append(e.trackerOrder, c)
	return c
}

// trackerTick drops tracker communities that stayed idle.
func (e *Engine) trackerTick() {
	now := e.now
	keep := e.trackerOrder[:0]
	for _, c := range e.trackerOrder {
		if !now.Before(c.trackerCheck) {
			c.trackerCheck = now.Add(trackerCheckInterval)
			c.walk.table.Cleanup(now)
			if len(c.walk.table.Verified(now)) == 0 {
				c.trackerIdle++
			} else {
				c.trackerIdle = 0
			}
			if c.trackerIdle >= trackerStrikes {
				delete(e.trackers, trackerKey{cid: c.cid, version: c.def.version})
				c.unloaded = true
				continue
			}
		}
		keep = append(keep, c)
	}
	clear(e.trackerOrder[len(keep):])
	e.trackerOrder = keep
}

// TrackerCommunities returns how many tracker communities the engine holds.
func (e *Engine) TrackerCommunities() int { return len(e.trackers) }
