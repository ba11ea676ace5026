package dispersy

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/recent"
	"github.com/dispersy-go/dispersy/dispersy/requestcache"
	"github.com/dispersy-go/dispersy/dispersy/tasks"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
	"github.com/dispersy-go/dispersy/timeline"
)

// Community is one joined community on an Engine. Its methods must be
// called on the engine's goroutine (from handlers, from Node.Do, or in a
// simulation); it is not safe for concurrent use.
type Community struct {
	e       *Engine
	def     *compiled
	overlay Overlay
	cid     keys.CommunityID
	me      *keys.PrivateKey
	ctx     *Context

	globalTime uint64
	seqs       [256]uint32 // my last sequence number per message type
	// prunedTo is, per pruned message type, the global time up to which
	// the store has been told to prune (see prune).
	prunedTo map[uint8]uint64

	unloaded  bool
	destroyed bool
	// tracker: a tracker community (see tracker.go); trackerCheck and
	// trackerIdle drive dropping it when idle.
	tracker      bool
	trackerCheck time.Time
	trackerIdle  int
	// destroyPacket is the stored destroy message, sent to peers that still
	// talk to a destroyed community; destroyNotified rate-limits that.
	destroyPacket   []byte
	destroyNotified map[netip.AddrPort]time.Time

	// punctured rate-limits punctures sent on others' requests, per target.
	punctured map[netip.AddrPort]sendWindow

	// malicious holds the excluded members and the proof against each;
	// proofNotified rate-limits sending it.
	malicious     map[keys.MemberID][2][]byte
	proofNotified map[netip.AddrPort]time.Time

	// tl is the permission timeline; recheck schedules the re-check of
	// stored messages from recheckFrom after it changed.
	tl          *timeline.Timeline
	recheck     bool
	recheckFrom uint64

	inbox   []*message
	windows [256]*batchWindow

	walk    walkState
	delays  delayQueue
	sigReqs *requestcache.Cache[*sigRequest]
	tasks   tasks.Scheduler // Every/After (tasks.go)

	// undone and redone hold messages whose Undo (or, when redone, Handle)
	// handlers run after the commit.
	undone, redone []Record

	// stored holds the records of the inbox's messages that the store
	// already has (see prefetch); prefetchKeys is its reused key list.
	stored       map[MessageKey]Record
	prefetchKeys []MessageKey

	// pending holds messages accepted in the current flush but not yet
	// committed, so checks within one batch see each other.
	pending pendingState

	stats    CommunityStats // see snapshot.go
	removals []removal      // see removed.go
	obs      observeState   // see events.go

	// seqSent remembers the missing-sequence answers of the last
	// Config.SequenceAnswerWindow, to send each once per requester.
	seqSent recent.Window[sentKey]
}

// batchWindow collects incoming messages of one type until its deadline.
type batchWindow struct {
	due  time.Time
	msgs []*message
}

// ID returns the community id.
func (c *Community) ID() keys.CommunityID { return c.cid }

// Master returns the master member's public key.
func (c *Community) Master() *keys.PublicKey { return c.def.master }

// Me returns the member this node signs with in the community.
func (c *Community) Me() *keys.PublicKey { return c.me.Public() }

// GlobalTime returns the community's Lamport clock: the highest global time
// stored or claimed, at least 1.
func (c *Community) GlobalTime() uint64 { return max(c.globalTime, 1) }

// Overlay returns the application overlay that defined the community.
func (c *Community) Overlay() Overlay { return c.overlay }

// Engine returns the engine the community runs on.
func (c *Community) Engine() *Engine { return c.e }

// Destroyed reports whether the community was destroyed (hard-killed).
func (c *Community) Destroyed() bool { return c.destroyed }

// Types returns the registered message types (built-ins included), by id.
func (c *Community) Types() []MessageSpec {
	out := make([]MessageSpec, 0, len(c.def.ids))
	for _, id := range c.def.ids {
		out = append(out, c.def.types[id].spec)
	}
	return out
}

// Codec returns the community's wire codec.
func (c *Community) Codec() *conversion.Codec { return c.def.codec }

// RaiseGlobalTime raises the community's Lamport clock to gt (never
// lowers it), so the next created message gets gt+1. Lamport clocks may jump
// forward; tests and tools use it to create messages at given global times.
func (c *Community) RaiseGlobalTime(gt uint64) {
	if gt > conversion.MaxGlobalTime-1 {
		gt = conversion.MaxGlobalTime - 1
	}
	c.raiseGlobalTime(gt)
	if !c.e.flushing {
		_ = c.e.flush()
	}
}

// acceptableGlobalTime is the highest global time an incoming synced
// message may carry (Dispersy §4.1): max(own, median of the verified
// candidates' clocks when more than 5) plus the configured range, capped at
// 2^63-1.
func (c *Community) acceptableGlobalTime() uint64 {
	base := c.GlobalTime()
	if m, ok := c.walk.medianGlobalTime(c.e.now); ok && m > base {
		base = m
	}
	r := c.e.cfg.AcceptableGlobalTimeRange
	if base > conversion.MaxGlobalTime-r {
		return conversion.MaxGlobalTime
	}
	return base + r
}

// load builds a community from its compiled definition and the store.
func (e *Engine) load(def *compiled, overlay Overlay, o joinOptions) (*Community, error) {
	c := &Community{e: e, def: def, overlay: overlay, cid: def.cid, me: o.member}
	c.walk.pace = o.pace
	c.ctx = &Context{c: c}
	s := e.store

	rec, ok, err := s.Community(c.cid)
	if err != nil {
		return nil, e.fail(err)
	}
	var b Batch
	if !ok {
		b.PutMember(MemberRecord{ID: def.master.ID(), PublicKey: def.master.Bytes()})
		b.PutMember(MemberRecord{ID: c.me.ID(), PublicKey: c.me.Public().Bytes(), PrivateKey: c.me.Bytes()})
		b.PutCommunity(CommunityRecord{ID: c.cid, Master: def.master.Bytes(), Me: c.me.ID(), AutoLoad: o.autoLoad, Classification: def.name})
	} else {
		if rec.Me != c.me.ID() || rec.Classification != def.name || rec.AutoLoad != o.autoLoad {
			b.PutMember(MemberRecord{ID: c.me.ID(), PublicKey: c.me.Public().Bytes(), PrivateKey: c.me.Bytes()})
			rec.Me, rec.Classification, rec.AutoLoad = c.me.ID(), def.name, o.autoLoad
			b.PutCommunity(rec)
		}
	}
	b.PutTypes(c.cid, def.typeRecords())
	if err := s.Apply(&b); err != nil {
		return nil, e.fail(err)
	}
	e.remember(def.master)
	e.remember(c.me.Public())

	gt, err := s.MaxGlobalTime(c.cid)
	if err != nil {
		return nil, e.fail(err)
	}
	c.globalTime = gt
	counters, err := s.SequenceCounters(c.cid, c.me.ID())
	if err != nil {
		return nil, e.fail(err)
	}
	for id, seq := range counters {
		c.seqs[id] = seq
	}
	if err := c.initTimeline(); err != nil {
		return nil, e.fail(err)
	}
	if err := c.loadMalicious(); err != nil {
		return nil, e.fail(err)
	}
	c.walk.init(c)
	c.delays.init()

	e.communities[c.cid] = c
	e.order = append(e.order, c)
	e.publishCodecs()
	e.log.Info().Hex("cid", c.cid[:4]).Str("overlay", def.name).Uint64("gt", c.globalTime).Msg("joined community")

	if c.destroyed {
		return c, nil
	}
	if err := c.ensureIdentity(); err != nil {
		delete(e.communities, c.cid)
		e.order = slices.DeleteFunc(e.order, func(x *Community) bool { return x == c })
		e.publishCodecs()
		return nil, err
	}
	return c, nil
}

// typeRecords lists the synced message types for the store.
func (d *compiled) typeRecords() []TypeRecord {
	var out []TypeRecord
	for _, id := range d.ids {
		spec := d.types[id].spec
		dir, prio, _, ok := policy.SyncParams(spec.Distribution)
		if !ok {
			continue
		}
		_, unkeyed := spec.Distribution.(policy.FullSyncDistribution)
		unkeyed = unkeyed && !policy.HasSequence(spec.Distribution)
		out = append(out, TypeRecord{ID: id, Name: spec.Name, Priority: prio, Direction: uint8(dir), Unkeyed: unkeyed})
	}
	return out
}

// ensureIdentity creates our dispersy-identity message if the store has
// none. Dispersy forces its global time to at least 2 (the master's own
// identity gets 1).
func (c *Community) ensureIdentity() error {
	hist, err := c.e.store.History(c.cid, IDIdentity, c.me.ID(), keys.MemberID{})
	if err != nil {
		return c.e.fail(err)
	}
	if len(hist) > 0 {
		return nil
	}
	if c.me.ID() != c.def.master.ID() && c.globalTime < 1 {
		c.globalTime = 1
	}
	_, err = Create(c, IdentityType, Empty{})
	return err
}

// nextDeadline is the community's earliest timer.
func (c *Community) nextDeadline() (time.Time, bool) {
	var d time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(d) {
			d, ok = t, true
		}
	}
	for _, w := range c.windows {
		if w != nil {
			consider(w.due)
		}
	}
	// A tracker community never walks, so it has no walker timer: its step
	// time, once passed, would stay due forever (a spinning runner).
	if c.tracker {
		consider(c.trackerCheck)
	} else if t, has := c.walk.nextDeadline(); has {
		consider(t)
	}
	if t, has := c.delays.nextDeadline(); has {
		consider(t)
	}
	if c.sigReqs != nil {
		if t, has := c.sigReqs.NextDeadline(); has {
			consider(t)
		}
	}
	if t, has := c.tasks.NextDeadline(); has {
		consider(t)
	}
	return d, ok
}

// tick runs the community's due timers.
func (c *Community) tick() error {
	now := c.e.now
	for id, w := range c.windows {
		if w != nil && !w.due.After(now) {
			c.inbox = append(c.inbox, w.msgs...)
			c.windows[id] = nil
		}
	}
	if err := c.delays.tick(c); err != nil {
		return err
	}
	c.expireSignatures(now)
	if err := c.walk.tick(c); err != nil {
		return err
	}
	return c.runTasks()
}

// Context gives callbacks access to the community they run in. It is valid
// only during the callback.
type Context struct {
	c      *Community
	replay bool // see Replaying
}

// Community returns the community the callback runs in.
func (x *Context) Community() *Community { return x.c }

// Now returns the engine's current time.
func (x *Context) Now() time.Time { return x.c.e.now }

// GlobalTime returns the community's current global time.
func (x *Context) GlobalTime() uint64 { return x.c.GlobalTime() }

func (c *Community) String() string { return fmt.Sprintf("community %s", c.cid) }
