package dispersy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// Errors for API misuse and local failures.
var (
	// ErrUnknownCommunity: the community is not loaded.
	ErrUnknownCommunity = errors.New("dispersy: unknown community: join it first")
	// ErrAlreadyJoined: the community is already loaded.
	ErrAlreadyJoined = errors.New("dispersy: community already joined")
	// ErrUnknownType: the message type is not registered in the community.
	ErrUnknownType = errors.New("dispersy: message type not registered in this community")
	// ErrTooLarge: a created message does not fit the datagram budget.
	ErrTooLarge = errors.New("dispersy: message larger than the datagram budget (Config.MaxDatagram)")
	// ErrNotPermitted: the timeline does not allow our member to create the
	// message.
	ErrNotPermitted = errors.New("dispersy: our member lacks the permission to create this message")
	// ErrEngineFailed: an earlier local failure (the store) stopped the
	// engine; its error is wrapped.
	ErrEngineFailed = errors.New("dispersy: engine stopped after a local failure")
	// ErrDestroyed: the community was destroyed and accepts nothing.
	ErrDestroyed = errors.New("dispersy: community destroyed")
)

// Engine is the protocol core for one node: its communities, candidates,
// walker, delayed messages and sequence counters.
//
// An Engine performs no I/O and reads no clock: callers pass the current
// time to Receive and Tick and collect outbound datagrams with Ready. It
// calls its Store synchronously. It is not safe for concurrent use; the
// Node runner owns one on a single goroutine, and the simulator drives many
// on one goroutine.
type Engine struct {
	cfg   Config
	me    *keys.PrivateKey
	store Store
	rng   *rand.Rand
	log   zerolog.Logger

	now     time.Time
	started bool
	failed  error

	communities map[keys.CommunityID]*Community
	order       []*Community // joined order: deterministic iteration

	// trackers are the tracker communities (Config.Tracker), in creation
	// order.
	trackers     map[trackerKey]*Community
	trackerOrder []*Community
	overlays     map[string]func() Overlay

	known  map[keys.MemberID]*keys.PublicKey
	knownQ []keys.MemberID // FIFO for the bound
	// storedMembers remembers which members have a member record, so one is
	// written once (bounded by MaxKnownMembers; cleared when full).
	storedMembers map[keys.MemberID]struct{}

	addrs    *walker.Addresses
	verifier *Verifier
	amp      amplifyState

	out      []Datagram
	stats    Stats
	flushing bool
	batch    Batch
	queued   []*message           // messages committed in the current flush, to handle
	logged   map[string]time.Time // diagnostics: cause -> last logged (events.go)
	exts     []Extension          // Config.Extensions (extension.go)
}

// NewEngine returns an engine that signs with me and persists to store.
func NewEngine(cfg Config, me *keys.PrivateKey, store Store) (*Engine, error) {
	if me == nil {
		return nil, errors.New("dispersy: NewEngine needs a private key (keys.Generate or keys.DeriveKey)")
	}
	if store == nil {
		return nil, errors.New("dispersy: NewEngine needs a Store (database.Open or dispersytest.NewMemStore)")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispersy: invalid Config: %w", err)
	}
	e := &Engine{
		cfg:         cfg,
		me:          me,
		store:       store,
		rng:         cfg.Rand,
		log:         cfg.Logger,
		communities: map[keys.CommunityID]*Community{},
		overlays:    map[string]func() Overlay{},
		known:       map[keys.MemberID]*keys.PublicKey{},

		storedMembers: map[keys.MemberID]struct{}{},
	}
	e.amp.init()
	for _, f := range cfg.Extensions {
		if x := f(e); x != nil {
			e.exts = append(e.exts, x)
		}
	}
	if e.rng == nil {
		id := me.ID()
		e.rng = rand.New(rand.NewPCG(binary.BigEndian.Uint64(id[0:8]), binary.BigEndian.Uint64(id[8:16])))
	}
	return e, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Me returns the engine's default member key.
func (e *Engine) Me() *keys.PublicKey { return e.me.Public() }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Now returns the latest time the engine was given.
func (e *Engine) Now() time.Time { return e.now }

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats { return e.stats }

// Err returns the local failure that stopped the engine, or nil.
func (e *Engine) Err() error { return e.failed }

// SetTime advances the engine's clock to now (it never goes back). API
// calls (Join, Create) use the engine's clock; runners call SetTime first.
func (e *Engine) SetTime(now time.Time) {
	if now.After(e.now) || !e.started {
		e.now = now
		e.started = true
	}
}

// fail records a local failure: the engine stops accepting work.
func (e *Engine) fail(err error) error {
	if e.failed == nil {
		e.failed = fmt.Errorf("%w: %w", ErrEngineFailed, err)
		e.log.Error().Err(err).Msg("engine stopped")
		e.notifyFailed()
	}
	return e.failed
}

// SetBootstrap replaces Config.Bootstrap, the addresses the walker falls
// back to (a runner that resolves host names feeds them here). Invalid
// addresses are skipped.
func (e *Engine) SetBootstrap(addrs []netip.AddrPort) {
	e.cfg.Bootstrap = slices.DeleteFunc(slices.Clone(addrs), func(a netip.AddrPort) bool { return !a.IsValid() || a.Port() == 0 })
}

// RegisterOverlay makes communities of classification name auto-loadable:
// when a packet arrives for a community stored with that classification and
// auto-load on, the engine joins it with a fresh overlay from factory.
func (e *Engine) RegisterOverlay(name string, factory func() Overlay) {
	e.overlays[name] = factory
}

// Community returns a loaded community, or nil.
func (e *Engine) Community(cid keys.CommunityID) *Community { return e.communities[cid] }

// Communities returns the loaded communities in the order they were joined.
func (e *Engine) Communities() []*Community { return slices.Clone(e.order) }

// JoinOption adjusts Join.
type JoinOption func(*joinOptions)

type joinOptions struct {
	member   *keys.PrivateKey
	autoLoad bool
	replay   bool    // WithReplay, see read.go
	pace     *[2]int // WithWalkTarget, see walk.go
}

// WithMember makes this node sign with key in the joined community instead
// of the engine's default member.
func WithMember(key *keys.PrivateKey) JoinOption {
	return func(o *joinOptions) { o.member = key }
}

// WithoutAutoLoad stores the community with auto-load off: packets for it
// do not load it after it is left.
func WithoutAutoLoad() JoinOption {
	return func(o *joinOptions) { o.autoLoad = false }
}

// Join loads the community that overlay defines, creating its state in the
// store on first use: its record, our identity message and, for a new
// community, nothing else. Joining twice is an error.
func (e *Engine) Join(overlay Overlay, opts ...JoinOption) (*Community, error) {
	if e.failed != nil {
		return nil, e.failed
	}
	o := joinOptions{member: e.me, autoLoad: true}
	for _, opt := range opts {
		opt(&o)
	}
	d := &Definition{}
	overlay.Define(d)
	e.extend(d)
	def, err := compile(d, overlay, builtinEntries())
	if err != nil {
		return nil, err
	}
	if e.communities[def.cid] != nil {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyJoined, def.cid)
	}
	c, err := e.load(def, overlay, o)
	if err != nil {
		return nil, err
	}
	if o.replay {
		if err := c.replay(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Leave unloads a community. Its messages stay in the store; with
// auto-load on, a packet for it loads it again.
func (e *Engine) Leave(cid keys.CommunityID) error {
	c := e.communities[cid]
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCommunity, cid)
	}
	c.unloaded = true
	c.tasks.CancelAll()
	delete(e.communities, cid)
	e.order = slices.DeleteFunc(e.order, func(x *Community) bool { return x == c })
	e.publishCodecs()
	e.log.Info().Hex("cid", cid[:4]).Msg("left community")
	return nil
}

// autoLoad loads a stored community with auto-load on when a packet for it
// arrives. It returns nil when the community cannot be loaded.
func (e *Engine) autoLoad(cid keys.CommunityID) *Community {
	rec, ok, err := e.store.Community(cid)
	if err != nil {
		_ = e.fail(err)
		return nil
	}
	if !ok || !rec.AutoLoad {
		return nil
	}
	factory := e.overlays[rec.Classification]
	if factory == nil {
		return nil
	}
	me := e.me
	if rec.Me != e.me.ID() {
		m, ok, err := e.store.Member(rec.Me)
		if err != nil {
			_ = e.fail(err)
			return nil
		}
		if !ok || m.PrivateKey == nil {
			return nil
		}
		k, err := keys.ParsePrivateKey(m.PrivateKey)
		if err != nil {
			return nil
		}
		me = k
	}
	c, err := e.Join(factory(), WithMember(me))
	if err != nil {
		e.log.Warn().Err(err).Hex("cid", cid[:4]).Msg("auto-load failed")
		return nil
	}
	e.log.Info().Hex("cid", cid[:4]).Str("overlay", rec.Classification).Msg("auto-loaded community")
	return c
}

// memberKey returns a member's public key from the cache or the store.
func (e *Engine) memberKey(id keys.MemberID) (*keys.PublicKey, error) {
	if k := e.known[id]; k != nil {
		return k, nil
	}
	rec, ok, err := e.store.Member(id)
	if err != nil || !ok {
		return nil, err
	}
	k, err := keys.ParsePublicKey(rec.PublicKey)
	if err != nil {
		return nil, nil
	}
	e.remember(k)
	return k, nil
}

// remember caches a member key, evicting the oldest when the cache is full.
func (e *Engine) remember(k *keys.PublicKey) {
	id := k.ID()
	if e.known[id] != nil {
		return
	}
	if len(e.knownQ) >= e.cfg.MaxKnownMembers {
		old := e.knownQ[0]
		e.knownQ = e.knownQ[1:]
		delete(e.known, old)
	}
	e.known[id] = k
	e.knownQ = append(e.knownQ, id)
}

// send queues one datagram, refusing oversize ones and what the
// anti-amplification rule does not admit (amplify.go). It reports whether
// the datagram was queued.
func (e *Engine) send(to netip.AddrPort, pkt []byte) bool {
	if len(pkt) > e.cfg.MaxDatagram {
		e.stats.Dropped[DropOversize]++
		e.log.Debug().Int("size", len(pkt)).Msg("refused to send oversize datagram")
		return false
	}
	if !to.IsValid() || to.Port() == 0 {
		e.stats.Dropped[DropInvalidAddress]++
		return false
	}
	if !e.admit(to, pkt) {
		e.stats.Dropped[DropAmplification]++
		return false
	}
	e.stats.Sent++
	e.stats.SentBytes += uint64(len(pkt))
	e.out = append(e.out, Datagram{Addr: to, Data: pkt})
	return true
}

// Ready returns the datagrams produced since the last call and clears the
// queue. The caller owns the returned slice and the packets; it must send
// them in order.
func (e *Engine) Ready() []Datagram {
	out := e.out
	e.out = nil
	return out
}

// NextDeadline reports when Tick must next be called; ok is false if no
// timer is armed. Runners sleep until then; simulators jump to it.
func (e *Engine) NextDeadline() (deadline time.Time, ok bool) {
	if e.failed != nil {
		return time.Time{}, false
	}
	for _, list := range [2][]*Community{e.order, e.trackerOrder} {
		for _, c := range list {
			if d, has := c.nextDeadline(); has && (!ok || d.Before(deadline)) {
				deadline, ok = d, true
			}
		}
	}
	return deadline, ok
}

// Tick runs every timer due at or before now: walker steps, request
// timeouts, candidate expiry, retries of delayed messages, batch windows.
// A non-nil error is a local failure and stops the engine.
func (e *Engine) Tick(now time.Time) error {
	if e.failed != nil {
		return e.failed
	}
	e.SetTime(now)
	for _, c := range slices.Clone(e.order) {
		if c.unloaded {
			continue
		}
		if err := c.tick(); err != nil {
			return e.fail(err)
		}
	}
	if len(e.trackerOrder) > 0 {
		e.trackerTick()
		for _, c := range e.trackerOrder {
			if err := c.tick(); err != nil {
				return e.fail(err)
			}
		}
	}
	return e.flush()
}
