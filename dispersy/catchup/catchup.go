package catchup

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Options tune catch-up. The zero value of a field means its default.
type Options struct {
	// IDsPerRequest is how many ids one dispersy-want asks for (default
	// 24: the answer is that many stored packets, one datagram each).
	IDsPerRequest int
	// MaxWindow bounds the requests outstanding at once (default 64; a
	// range request counts as its items over RangeMax); the window starts
	// at 4, grows by one per answered request up to 32 (slow start), then
	// by one per window, and halves on a timeout (AIMD).
	MaxWindow int
	// MaxRetries is how many times one id is asked for again after a
	// timeout before it is given up for this node's run (default 4).
	MaxRetries int
	// MessagesPerRound is how many reconcile messages (datagrams) a round
	// trip carries each way (default 16: an empty joiner among 10 holders
	// learned 30,000 ids in 58 round trips, against 256 with 4).
	MessagesPerRound int
	// MaxRounds bounds the round trips of one scope of a session (default
	// 512: a large difference takes about one round trip per
	// MessagesPerRound KB of ids).
	MaxRounds int
	// MaxIdleRounds bounds the round trips in a row that bring neither a
	// missing id nor an id list, only fingerprints (default 16; an honest
	// session needs about log16(n) of them): a peer that lies in its
	// fingerprints costs at most that many, then it is not asked again for
	// Backoff.
	MaxIdleRounds int
	// Backoff is how long a peer whose session failed (round limit, bad
	// replies, no answer) is not asked again (default 2 minutes).
	Backoff time.Duration
	// CheckInterval is how long after a session that found nothing to
	// fetch the same peer is checked again (default 0: at every walk
	// exchange; a check is one small datagram each way).
	CheckInterval time.Duration
	// UploadRate is what one peer may download from us per second, in
	// bytes of answered packets (default 4 MiB); beyond it requests are
	// answered in part and counted (Stats.Throttled).
	UploadRate int
	// MaxScan bounds the stored items one dispersy-want makes us examine
	// (default 4,096).
	MaxScan int
	// RangeMax is how many items one dispersy-range request asks for
	// (default 64, at most MaxPull): where we hold nothing in a range a
	// peer's fingerprint says it has items, the range is pulled whole
	// instead of listed id by id.
	RangeMax int
	// ListIDs turns range pulls off: every missing id is listed by
	// reconciliation and asked for by dispersy-want.
	ListIDs bool

	// lie makes this node answer reconcile messages with random
	// fingerprints (tests of the lying-peer defence).
	lie bool
	// lose, when set, is asked before this node sends part of its k-th
	// dispersy-range answer (item -1: the header, else the item's index in
	// the answer); true drops it (tests of the recovery of lost answers).
	lose func(k, item int) bool
}

func (o Options) resolve() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.IDsPerRequest, 24)
	def(&o.MaxWindow, 64)
	def(&o.MaxRetries, 4)
	def(&o.MessagesPerRound, 16)
	def(&o.MaxRounds, 512)
	def(&o.MaxIdleRounds, 16)
	def(&o.UploadRate, 4<<20)
	def(&o.MaxScan, 4096)
	def(&o.RangeMax, 64)
	o.RangeMax = min(o.RangeMax, MaxPull)
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Minute
	}
	return o
}

// Enable attaches catch-up to every community of every engine made with
// cfg (dispersy.Config.Extensions). Call it once per Config (twice would
// register its message types twice, and joining would fail). One line,
// before dispersy.NewEngine or dispersy.NewNode:
//
//	catchup.Enable(&cfg, catchup.Options{})
func Enable(cfg *dispersy.Config, o Options) {
	o = o.resolve()
	cfg.Extensions = append(cfg.Extensions, func(e *dispersy.Engine) dispersy.Extension {
		return &ext{e: e, o: o, comms: map[keys.CommunityID]*state{}}
	})
}

// Stats are an engine's catch-up counters.
type Stats struct {
	Sessions      uint64 // reconciliation sessions started (checks included)
	Rounds        uint64 // reconcile round trips completed
	Answered      uint64 // reconcile messages answered for peers
	IDsRequested  uint64 // ids asked for in dispersy-want (retries included)
	IDsReceived   uint64 // asked-for messages that arrived and were stored
	IDsGivenUp    uint64 // ids given up after MaxRetries
	Timeouts      uint64 // want requests and rounds that timed out
	Messages      uint64 // reconcile and want messages sent (datagrams)
	BytesSent     uint64 // payload bytes of reconcile and want messages sent, plus answered packets
	BytesReceived uint64 // payload bytes of reconcile and want messages received
	PacketsServed uint64 // stored packets sent in answer to dispersy-want
	LyingPeers    uint64 // sessions ended by a round limit, idle rounds or invalid replies
	Throttled     uint64 // packets not sent: the peer's upload budget was spent
	Unproven      uint64 // requests from unproven addresses (probed, not served)
	Rebuilds      uint64 // index rebuilds from the store
	RangeRequests uint64 // dispersy-range requests sent (retries included)
	RangesServed  uint64 // dispersy-range requests answered for peers
	RangeItems    uint64 // items that arrived in answer to our dispersy-range requests
	RangesGivenUp uint64 // ranges (or gaps of one) given up after MaxRetries
}

// Add adds o's counters to s (a sum over several engines).
func (s *Stats) Add(o Stats) {
	s.Sessions += o.Sessions
	s.Rounds += o.Rounds
	s.Answered += o.Answered
	s.IDsRequested += o.IDsRequested
	s.IDsReceived += o.IDsReceived
	s.IDsGivenUp += o.IDsGivenUp
	s.Timeouts += o.Timeouts
	s.Messages += o.Messages
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	s.PacketsServed += o.PacketsServed
	s.LyingPeers += o.LyingPeers
	s.Throttled += o.Throttled
	s.Unproven += o.Unproven
	s.Rebuilds += o.Rebuilds
	s.RangeRequests += o.RangeRequests
	s.RangesServed += o.RangesServed
	s.RangeItems += o.RangeItems
	s.RangesGivenUp += o.RangesGivenUp
}

// StatsOf returns the catch-up counters of e; ok is false when catch-up is
// not enabled on e. Call it on the engine's goroutine (Node.Do).
func StatsOf(e *dispersy.Engine) (s Stats, ok bool) {
	for _, x := range e.Extensions() {
		if c, is := x.(*ext); is {
			return c.stats, true
		}
	}
	return Stats{}, false
}

// ext is the catch-up extension of one engine.
type ext struct {
	e     *dispersy.Engine
	o     Options
	comms map[keys.CommunityID]*state
	stats Stats
}

// scope is the reconciled message types of one priority.
type scope struct {
	prio  uint8
	types []uint8
	ix    *reconcile.Index
	dirty bool
}

// state is catch-up in one community.
type state struct {
	x      *ext
	c      *dispersy.Community
	scopes []*scope // priority high to low
	byType [256]*scope

	sessions []*session
	nextSess uint16
	backoff  map[netip.AddrPort]time.Time
	checked  map[netip.AddrPort]time.Time
	rtt      time.Duration // smoothed round trip (RFC 6298), first tries only
	rttvar   time.Duration // its mean deviation
	minRTT   time.Duration // the least sample of the last minRTTWindow: the path without queues
	minAt    time.Time     // when minRTT was sampled
	slow     uint8         // timeouts since the last sample: each doubles rto
	slowAt   time.Time     // when rto last doubled
	tr       transfer
	budgets  map[netip.AddrPort]*bucket
	deferred map[netip.AddrPort][]Reconcile // from unproven peers, served once proven
	probed   map[netip.AddrPort]time.Time   // introduced candidates probed (recruit)
	firsts   map[netip.AddrPort][32]byte    // digest of each peer's first-round answer (same)
	served   int                            // dispersy-range answers sent (Options.lose)
	peerTime uint64                         // the highest global time a walk response told (widen)
}

// Define implements dispersy.Extension.
func (x *ext) Define(d *dispersy.Definition) {
	dispersy.Register(d, ReconcileType, dispersy.Handlers[Reconcile]{Handle: func(ctx *dispersy.Context, b []*dispersy.Message[Reconcile]) {
		st := x.state(ctx.Community())
		for _, m := range b {
			if !m.Local() {
				x.stats.BytesReceived += uint64(len(m.Payload.Msg) + reconcileHeader)
				st.onReconcile(m.Source, m.Payload)
			}
		}
	}})
	dispersy.Register(d, RangeType, dispersy.Handlers[Pull]{Handle: func(ctx *dispersy.Context, b []*dispersy.Message[Pull]) {
		st := x.state(ctx.Community())
		for _, m := range b {
			if !m.Local() {
				st.onPull(m.Source, m.Payload)
			}
		}
	}})
	dispersy.Register(d, WantType, dispersy.Handlers[Want]{Handle: func(ctx *dispersy.Context, b []*dispersy.Message[Want]) {
		st := x.state(ctx.Community())
		for _, m := range b {
			if !m.Local() {
				st.onWant(m.Source, m.Payload)
			}
		}
	}})
}

// state returns c's catch-up state, made on first use.
func (x *ext) state(c *dispersy.Community) *state {
	if st := x.comms[c.ID()]; st != nil && st.c == c {
		return st
	}
	st := &state{x: x, c: c, backoff: map[netip.AddrPort]time.Time{}, checked: map[netip.AddrPort]time.Time{},
		budgets: map[netip.AddrPort]*bucket{}, probed: map[netip.AddrPort]time.Time{}, deferred: map[netip.AddrPort][]Reconcile{}, nextSess: uint16(x.e.Rand().Uint32())}
	st.tr.init()
	byPrio := map[uint8]*scope{}
	types := c.Types()
	if !slices.ContainsFunc(types, func(t dispersy.MessageSpec) bool { return t.ID == IDReconcile && t.Name == ReconcileType.Name() }) {
		types = nil // not defined with catch-up (a tracker community): no scopes, no sessions
	}
	for _, t := range types {
		if !policy.BloomSynced(t.Distribution) {
			continue
		}
		_, prio, pruning, _ := policy.SyncParams(t.Distribution)
		if _, pruned := pruning.(policy.GlobalTimePruning); pruned {
			continue // its peers prune at different global times: bloom sync only
		}
		s := byPrio[prio]
		if s == nil {
			s = &scope{prio: prio, dirty: true}
			byPrio[prio] = s
			st.scopes = append(st.scopes, s)
		}
		s.types = append(s.types, t.ID)
		st.byType[t.ID] = s
	}
	slices.SortFunc(st.scopes, func(a, b *scope) int { return cmp.Compare(b.prio, a.prio) })
	x.comms[c.ID()] = st
	return st
}

// scopeOf returns the scope of priority prio, or nil.
func (st *state) scopeOf(prio uint8) *scope {
	for _, s := range st.scopes {
		if s.prio == prio {
			return s
		}
	}
	return nil
}

// index returns s's index, rebuilt from the store when stale.
func (st *state) index(s *scope) (*reconcile.Index, error) {
	if !s.dirty && s.ix != nil {
		return s.ix, nil
	}
	ix, err := BuildIndex(st.x.e.Store(), st.c.ID(), s.types)
	if err != nil {
		return nil, err
	}
	s.ix, s.dirty = ix, false
	st.x.stats.Rebuilds++
	return ix, nil
}

// Applied implements dispersy.Extension: keeps every built index exact. A
// put of a live message inserts it (O(log n)); anything that removes or
// revives messages (delete, undo, trim, prune, packet replacement, a
// destroyed community's deletion) marks the index stale, and it is rebuilt
// from the store when next used.
func (x *ext) Applied(e *dispersy.Engine, ops []dispersy.Op) {
	for i := range ops {
		op := &ops[i]
		st := x.comms[op.Community]
		if st == nil {
			continue
		}
		switch op.Kind {
		case dispersy.OpPut:
			r := &op.Record
			st.tr.arrived(st, reconcile.ID(r.Hash))
			if s := st.byType[r.MessageID]; s != nil && s.ix != nil && !r.Undone {
				it := reconcile.Item{Time: r.GlobalTime, ID: reconcile.ID(r.Hash)}
				s.ix.Insert(it)
				if len(st.tr.preqs) > 0 {
					st.pulled(s, it)
				}
			}
		case dispersy.OpTrim, dispersy.OpPrune:
			if s := st.byType[op.MessageID]; s != nil {
				s.dirty = true
			}
		case dispersy.OpDelete, dispersy.OpSetUndone, dispersy.OpReplacePacket, dispersy.OpDeleteCommunityExcept:
			for _, s := range st.scopes {
				s.dirty = true
			}
		}
	}
}

// Walked implements dispersy.Extension: after a walk exchange with a
// proven peer, check (one fingerprint) whether it holds what we lack.
func (x *ext) Walked(c *dispersy.Community, addr netip.AddrPort, gt uint64) {
	st := x.state(c)
	if len(st.scopes) == 0 {
		return
	}
	st.peerTime = max(st.peerTime, gt)
	if st.deferred[addr] != nil && x.e.Proven(addr) {
		st.serveDeferred(addr)
	}
	st.walked(addr, gt)
	if st.tr.active() {
		st.recruit()
	}
}

// Requested implements dispersy.Requested: a peer far behind us (our
// clock more than twice its) that walked to us will check whether we hold
// what it lacks as soon as our response arrives, and we answer only
// proven addresses: probe it now, so that its proof arrives with its
// check instead of one round trip after it.
func (x *ext) Requested(c *dispersy.Community, addr netip.AddrPort, gt uint64) {
	st := x.state(c)
	if len(st.scopes) > 0 && farBehind(gt, c.GlobalTime(), x.o.RangeMax) && !x.e.Proven(addr) {
		st.probe(addr)
	}
}

// HoldSync implements dispersy.SyncHolder: while a node far behind (its
// clock less than half the highest a walk response told: a joiner, a node
// back from a long absence) transfers what it lacks, the walk's bloom
// filters would only make peers send the same packets again (a joiner's
// duplicates came mostly from bloom sync answers); bloom sync resumes when
// the transfer ends or the node is half way. In the steady state the bloom
// sync is never held: with five publishers among 50 peers some transfer
// is nearly always running, and holding the sync then took convergence
// from 12 s to 22-59 s.
func (x *ext) HoldSync(c *dispersy.Community) bool {
	st := x.comms[c.ID()]
	return st != nil && st.tr.active() && farBehind(c.GlobalTime(), st.peerTime, x.o.RangeMax)
}

// BuildIndex returns the reconcile.Index of the live messages of the given
// types in community cid: one Store.Scan, a sort (a no-op on the store's
// order) and reconcile.Build, O(n). It is how a community's index is built
// at first use and rebuilt when stale.
func BuildIndex(s dispersy.Store, cid keys.CommunityID, types []uint8) (*reconcile.Index, error) {
	// No Count to size items first: at 100,000 messages a count is a
	// scan of its own (tens of milliseconds through SQL), more than the
	// slice's growth costs.
	var items []reconcile.Item
	err := s.Scan(dispersy.ScanQuery{Community: cid, Types: types}, func(r dispersy.ScanRow) bool {
		items = append(items, reconcile.Item{Time: r.GlobalTime, ID: reconcile.ID(r.Hash)})
		return true
	})
	if err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(items, func(a, b reconcile.Item) int { return a.Compare(b) }) {
		slices.SortFunc(items, func(a, b reconcile.Item) int { return a.Compare(b) })
	}
	return reconcile.Build(slices.Compact(items))
}
