package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// DefaultMaster is the master key of the default DHT community: every node
// configured with it is in one key space.
var DefaultMaster = keys.DeriveKey(keys.Ed25519, []byte("dispersy-go dht community v1")).Public()

// The message ids of the DHT's request and response (peer messages).
const (
	requestID  = 1
	responseID = 2
)

// Defaults of [Config].
const (
	DefaultQueryTimeout    = 2 * time.Second
	DefaultProbeTimeout    = 2 * time.Second
	DefaultMaintainEvery   = 10 * time.Minute
	DefaultRefreshEvery    = 5 * time.Minute
	DefaultBootstrapEvery  = time.Second
	DefaultTTL             = 24 * time.Hour
	pumpEvery              = 20 * time.Millisecond
	probePeriod            = 10 * time.Second // dispersy's probe limit per address
	maxPendingLookups      = 256
	bootstrapLookupTimeout = 30 * time.Second
)

// Config configures a [DHT]. Zero fields take the defaults.
type Config struct {
	// Master is the community's master key (default DefaultMaster).
	Master *keys.PublicKey
	// Server tunes the routing table, the value store, the per-peer query
	// rate limit and the store tokens.
	Server dht.ServerConfig
	// Lookup tunes the iterative lookups (α, K, retries, overall timeout).
	// Its RPCTimeout is each query's timeout (default 2 s).
	Lookup dht.LookupConfig
	// ProbeTimeout is how long a query to an address that has not proved
	// it receives our packets waits for the walker probe's answer
	// (default 2 s).
	ProbeTimeout time.Duration
	// MaintainEvery is the period of the value duties (drop, republish,
	// save the routing table; default 10 min).
	MaintainEvery time.Duration
	// RefreshEvery is how often buckets nobody looked up are refreshed
	// (default 5 min; a bucket is stale after Server.Table.RefreshInterval).
	RefreshEvery time.Duration
	// TTL is the expiry of values written through the API (default 24 h).
	TTL time.Duration
	// Key signs the owner-named values this node writes (Set, PutOwned,
	// Delete); usually the node's member key. Nil: only content values.
	Key *keys.PrivateKey
	// KV persists values, the routing table and the blacklist; nil keeps
	// them in memory only. database.Store implements it.
	KV KV
}

func (c Config) withDefaults() Config {
	if c.Master == nil {
		c.Master = DefaultMaster
	}
	if c.Lookup.RPCTimeout <= 0 {
		c.Lookup.RPCTimeout = DefaultQueryTimeout
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.MaintainEvery <= 0 {
		c.MaintainEvery = DefaultMaintainEvery
	}
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = DefaultRefreshEvery
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	return c
}

// Stats counts what a DHT node did (besides the server's counters).
type Stats struct {
	Server dht.ServerStats
	// Lookups counts lookups started; LookupsFailed those that ended
	// without an answer (timed out, or nobody answered).
	Lookups, LookupsFailed uint64
	// Queries counts queries sent (retries included), Timeouts those
	// unanswered, Probes walker probes to unproven addresses.
	Queries, Timeouts, Probes uint64
	// Demoted counts contacts removed from the routing table because a
	// lookup distrusted them (far or dead introductions) or they answered
	// with a wrong value; Blacklisted counts members put on the blacklist
	// (wrong or unverifiable values); Ignored counts requests and answers
	// of blacklisted members that were ignored.
	Demoted, Blacklisted, Ignored uint64
	// Stores counts the verdicts on our store requests, by reason.
	Stores [dht.NumReasons]uint64
	// Handoffs counts contacts new to the table that were sent the
	// replicas they are among the K closest of.
	Handoffs uint64
	// Restored counts the values loaded from the KV at start.
	Restored uint64
	// SentBytes is the payload bytes of requests sent by lookups and
	// stores (dispersy headers and signatures not included).
	SentBytes uint64
	// FindPeer's puncture: Introductions counts the Introduce requests
	// sent, Punctured the targets reached after one; Relayed counts the
	// Introduce requests relayed to a target, Punctures the Punctures
	// obeyed, RelaysRefused both refused (rate limit, wrong target).
	Introductions, Punctured, Relayed, Punctures, RelaysRefused uint64
}

// DHT is a Kademlia DHT node as a dispersy community (an Overlay): the
// pure core of package dht (routing table, lookups, values, tokens, rate
// limits) wired to peer-level signed messages with the request cache,
// the walker (bootstrap, probes, NAT puncturing) and engine tasks. Its
// engine-side methods (Lookup, FindValue, Store, ...) run on the engine's
// goroutine; the blocking API (Get, Set, ...) runs from any goroutine
// through the dispersy.Node it was joined with ([Join]).
type DHT struct {
	cfg   Config
	c     *dispersy.Community
	node  *dispersy.Node
	srv   *dht.Server
	rpc   *peer.RPC[Packet, Packet]
	self  dht.ID
	ops   []*op
	held  []*op // lookups waiting for the first contacts
	black map[keys.MemberID]bool
	// probed is when each address was last probed (one per probePeriod).
	probed map[netip.AddrPort]time.Time
	// unreached is when the probe of each address that went unanswered
	// was sent.
	unreached map[netip.AddrPort]time.Time
	waiting   []waiter
	// punctures are the FindPeers waiting for their target's puncture;
	// relayLimit bounds the Introduce requests relayed per requester,
	// punctLimit the Punctures obeyed per relaying node.
	punctures  []punctWait
	relayLimit *dht.RateLimiter
	punctLimit *dht.RateLimiter
	noPuncture bool // tests: FindPeer without the puncture step
	pumping    bool
	selfDone   bool
	stats      Stats
	err        error
}

// New returns a DHT overlay; join it with [Join] (blocking API) or
// Engine.Join followed by [DHT.Start] (simulations).
func New(cfg Config) *DHT {
	d := &DHT{cfg: cfg.withDefaults(), black: map[keys.MemberID]bool{}, probed: map[netip.AddrPort]time.Time{}, unreached: map[netip.AddrPort]time.Time{},
		relayLimit: dht.NewRateLimiter(relayBurst, relayWindow, 0), punctLimit: dht.NewRateLimiter(relayBurst, relayWindow, 0)}
	var err error
	d.rpc, err = peer.NewRPC[Packet, *Packet, Packet, *Packet](requestID, responseID, "dht", d.serve)
	if err != nil {
		panic(err) // constant ids and name: cannot fail
	}
	return d
}

// Define implements dispersy.Overlay.
func (d *DHT) Define(def *dispersy.Definition) {
	def.Master = d.cfg.Master
	def.Name = "dht"
	d.rpc.Register(def)
}

// Community returns the community the DHT runs in (nil before Start).
func (d *DHT) Community() *dispersy.Community { return d.c }

// Self returns the node's id (its member id).
func (d *DHT) Self() dht.ID { return d.self }

// Server returns the serving state: routing table and held values (read
// it on the engine's goroutine).
func (d *DHT) Server() *dht.Server { return d.srv }

// Stats returns the counters (on the engine's goroutine).
func (d *DHT) Stats() Stats {
	s := d.stats
	if d.srv != nil {
		s.Server = d.srv.Stats()
	}
	return s
}

// Start wires the DHT to its community c (the one Engine.Join returned):
// it restores the persisted state, so a restarted node serves what it
// held at once, and starts the bootstrap, refresh and maintenance tasks.
// It runs on the engine's goroutine.
func (d *DHT) Start(c *dispersy.Community) error {
	if d.c != nil {
		return errors.New("dht: already started")
	}
	d.c = c
	d.self = dht.NodeIDOf(c.Me())
	srv, err := dht.NewServer(d.self, d.cfg.Server, rngReader{c.Engine().Rand()}, d.now())
	if err != nil {
		return err
	}
	d.srv = srv
	if err := d.restore(); err != nil {
		return fmt.Errorf("dht: restoring the persisted state: %w", err)
	}
	if err := c.Every("dht-bootstrap", DefaultBootstrapEvery, 0, func(*dispersy.Context) error { d.bootstrap(); return d.err }); err != nil {
		return err
	}
	if err := c.Every("dht-refresh", d.cfg.RefreshEvery, d.cfg.RefreshEvery, func(*dispersy.Context) error { d.refresh(); return d.err }); err != nil {
		return err
	}
	return c.Every("dht-maintain", d.cfg.MaintainEvery, d.cfg.MaintainEvery, func(*dispersy.Context) error { d.maintain(); return d.err })
}

func (d *DHT) now() time.Time { return d.c.Engine().Now() }

// rngReader reads the engine's deterministic random source.
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(b []byte) (int, error) {
	for i := 0; i < len(b); i += 8 {
		var x [8]byte
		binary.LittleEndian.PutUint64(x[:], r.r.Uint64())
		copy(b[i:], x[:])
	}
	return len(b), nil
}

// serve answers a request (the RPC's server side).
func (d *DHT) serve(_ *dispersy.Context, from peer.Peer, req Packet) (Packet, bool) {
	if d.srv == nil {
		return Packet{}, false
	}
	if d.black[from.ID()] {
		d.stats.Ignored++
		return Packet{}, false
	}
	switch m := req.M.(type) {
	case dht.Introduce:
		return d.introduce(from, m), true
	case dht.Puncture:
		return d.puncture(from, m), true
	}
	now := d.now()
	c := dht.Contact{ID: dht.NodeID(from.ID()), Addr: from.Addr}
	_, known := d.srv.Table.Get(c.ID)
	ans, ping, needPing := d.srv.Handle(c, req.M, now)
	if needPing {
		d.ping(ping)
	}
	if _, in := d.srv.Table.Get(c.ID); in && !known {
		d.handoff(c)
	}
	if st, ok := req.M.(dht.Store); ok {
		if r, ok := ans.(dht.StoreResult); ok {
			switch r.Code {
			case dht.Accepted:
				d.persistValue(st.Key)
			case dht.BadSignature, dht.KeyMismatch:
				d.blacklist(from.ID()) // it sent an unverifiable value
			}
		}
	}
	if ans == nil {
		return Packet{}, false
	}
	return Packet{M: ans}, true
}

// seen records that c answered us.
func (d *DHT) seen(c dht.Contact) {
	if d.black[keys.MemberID(c.ID)] || c.ID == d.self {
		return
	}
	res, ping, need := d.srv.Table.Seen(c, d.now())
	if need {
		d.ping(ping)
	}
	if res == dht.Added {
		d.handoff(c)
	}
}

// handoff stores on a contact new to the routing table the replicas it is
// now among the K closest of (Kademlia's transfer to a joining node): a
// value stored while the tables were young, on nodes that were the closest
// the storer could find then, reaches its closest nodes as they are found.
// The store token comes from a find-node answer first.
func (d *DHT) handoff(c dht.Contact) {
	now := d.now()
	k := d.srv.Table.Config().K
	var keys []dht.ID
	for _, key := range d.srv.Values.Keys() {
		rec, held := d.srv.Values.Peek(key)
		// Only a replica among the K closest this node knows (the newcomer
		// included, so it was before) hands off: a far copy does not spread.
		if rec == nil || held.Cached || held.Expired(now) || rec.ExpiredAt(now) || d.srv.Table.CountCloser(key) > k {
			continue
		}
		for _, x := range d.srv.Table.Closest(key, k) {
			if x.ID == c.ID {
				keys = append(keys, key)
				break
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	d.stats.Handoffs++
	// No probe: the newcomer either answered us (proven) or just sent us
	// a request (credit); what the engine does not admit is left to the
	// republish. A probe here would spend the one the engine allows per
	// 10 s, which a lookup may need.
	d.call(c, dht.FindNode{Target: c.ID}, func(resp Packet, _ peer.Peer, err error) {
		n, ok := resp.M.(dht.Nodes)
		if err != nil || !ok {
			return
		}
		for _, key := range keys {
			if rec, _ := d.srv.Values.Peek(key); rec != nil {
				d.call(c, dht.Store{Key: key, Token: n.Token, Record: rec}, func(Packet, peer.Peer, error) {})
			}
		}
	})
}

// ping asks the least recently seen contact of a full bucket whether it is
// alive (a find-node of our own id): an answer keeps it, silence counts a
// failure.
func (d *DHT) ping(c dht.Contact) {
	d.sendQuery(c, dht.FindNode{Target: d.self}, func(Packet, peer.Peer, error) {})
}

// sendQuery sends req to c, first probing c's address when it has not
// proved it receives our packets. done gets the answer or an error; an
// answer signed by another member than c counts as no answer. Every
// answer teaches the routing table; every silence counts a failure.
func (d *DHT) sendQuery(c dht.Contact, req dht.Message, done func(Packet, peer.Peer, error)) {
	d.query(c, req, false, done)
}

// query is sendQuery; a patient query to an address whose probe went
// unanswered waits for the engine to allow the next probe instead of
// failing at once (a lookup's final round).
func (d *DHT) query(c dht.Contact, req dht.Message, patient bool, done func(Packet, peer.Peer, error)) {
	e := d.c.Engine()
	if e.Proven(c.Addr) || e.Config().AmplificationFactor == 0 {
		d.call(c, req, done)
		return
	}
	now := d.now()
	if t, ok := d.unreached[c.Addr]; ok && now.Sub(t) < probePeriod && patient {
		d.waitProven(c, t.Add(probePeriod+d.cfg.ProbeTimeout), req, done)
		return
	}
	if t, ok := d.unreached[c.Addr]; ok && now.Sub(t) < probePeriod {
		// Its probe went unanswered and the engine allows no other yet:
		// waiting again would only delay the lookup.
		d.stats.Timeouts++
		d.srv.Table.Failed(c.ID)
		done(Packet{}, peer.Peer{}, peer.ErrTimeout)
		return
	}
	d.probe(c.Addr, now)
	d.waitProven(c, now.Add(d.cfg.ProbeTimeout), req, done)
}

// probe sends a walker probe to addr when the engine allows one.
func (d *DHT) probe(addr netip.AddrPort, now time.Time) {
	if t, ok := d.probed[addr]; ok && now.Sub(t) < probePeriod {
		return
	}
	if len(d.probed) > 4096 {
		clear(d.probed)
	}
	d.probed[addr] = now
	d.c.Probe(addr)
	d.stats.Probes++
}

// waiter is a query held until its address is proven.
type waiter struct {
	c        dht.Contact
	deadline time.Time
	req      dht.Message
	done     func(Packet, peer.Peer, error)
}

func (d *DHT) waitProven(c dht.Contact, deadline time.Time, req dht.Message, done func(Packet, peer.Peer, error)) {
	d.waiting = append(d.waiting, waiter{c, deadline, req, done})
	d.armPump()
}

func (d *DHT) armPump() {
	if d.pumping {
		return
	}
	d.pumping = true
	if err := d.c.After("dht-pump", pumpEvery, func(*dispersy.Context) error { d.pump(); return d.err }); err != nil {
		d.pumping = false
	}
}

// pump sends the held queries whose address got proven, fails those past
// their deadline, and advances the lookups (their overall timeouts).
func (d *DHT) pump() {
	d.pumping = false
	now := d.now()
	e := d.c.Engine()
	ws := d.waiting
	d.waiting = nil
	for _, w := range ws {
		switch {
		case e.Proven(w.c.Addr):
			d.call(w.c, w.req, w.done)
		case !now.Before(w.deadline):
			if len(d.unreached) > 4096 {
				clear(d.unreached)
			}
			d.unreached[w.c.Addr] = d.probed[w.c.Addr]
			d.stats.Timeouts++
			d.srv.Table.Failed(w.c.ID)
			w.done(Packet{}, peer.Peer{}, peer.ErrTimeout)
		default:
			d.probe(w.c.Addr, now) // a patient waiter's next probe, when allowed
			d.waiting = append(d.waiting, w)
		}
	}
	for _, o := range append([]*op(nil), d.ops...) {
		d.advance(o)
	}
	d.pumpPunctures(now)
	if len(d.waiting) > 0 || len(d.ops) > 0 || len(d.punctures) > 0 {
		d.armPump()
	}
}

func (d *DHT) call(c dht.Contact, req dht.Message, done func(Packet, peer.Peer, error)) {
	d.stats.Queries++
	if b, err := (Packet{M: req}).AppendBinary(nil); err == nil {
		d.stats.SentBytes += uint64(len(b))
	}
	var opts []peer.CallOption
	if _, ok := req.(dht.Store); ok {
		opts = append(opts, peer.Retries(2)) // a lookup retries its queries itself
	}
	_, err := d.rpc.Call(d.c, c.Addr, Packet{M: req}, d.cfg.Lookup.RPCTimeout, func(resp Packet, from peer.Peer, err error) {
		if err == nil && dht.NodeIDOf(from.Key) != c.ID {
			err = errWrongNode
		}
		if err == nil && d.black[from.ID()] {
			d.stats.Ignored++
			err = errWrongNode
		}
		if err != nil {
			if !errors.Is(err, peer.ErrCancelled) {
				d.stats.Timeouts++
				d.srv.Table.Failed(c.ID)
			}
			done(Packet{}, peer.Peer{}, err)
			return
		}
		d.seen(dht.Contact{ID: c.ID, Addr: from.Addr})
		done(resp, from, nil)
	}, opts...)
	if err != nil {
		done(Packet{}, peer.Peer{}, err)
	}
}

var errWrongNode = errors.New("dht: answer from another member than the one asked")

// blacklist puts member on the persisted blacklist and out of the table.
func (d *DHT) blacklist(m keys.MemberID) {
	if d.black[m] {
		return
	}
	d.black[m] = true
	d.stats.Blacklisted++
	if d.srv.Table.Remove(dht.NodeID(m)) {
		d.stats.Demoted++
	}
	d.persistBlacklist(m)
}

// Blacklisted reports whether member is on the blacklist.
func (d *DHT) Blacklisted(m keys.MemberID) bool { return d.black[m] }

// bootstrap feeds the walker's verified peers into an empty or small
// routing table and runs one lookup of our own id once there is someone to
// ask (Kademlia's join).
func (d *DHT) bootstrap() {
	defer d.launchHeld()
	if d.srv.Table.Len() >= d.srv.Table.Config().K && d.selfDone {
		return
	}
	for _, p := range d.c.Peers() {
		if p.HasMember && !d.black[p.Member] {
			d.seen(dht.Contact{ID: dht.NodeID(p.Member), Addr: p.Addr})
		}
	}
	if !d.selfDone && d.srv.Table.Len() > 0 {
		d.selfDone = true
		d.Lookup(d.self, func([]dht.Contact, Info, error) {})
	}
}

// refresh looks up a random id in each bucket nobody looked up lately.
func (d *DHT) refresh() {
	for _, target := range d.srv.Table.Refresh(d.now(), rngReader{d.c.Engine().Rand()}) {
		d.Lookup(target, func([]dht.Contact, Info, error) {})
	}
}

// maintain drops expired and unasked records, republishes the replicas
// due, and saves the routing table.
func (d *DHT) maintain() {
	keys, _ := d.srv.Values.Maintain(d.now())
	d.persistPrune()
	for _, k := range keys {
		if rec, _ := d.srv.Values.Peek(k); rec != nil {
			d.replicate(k, rec, func(int, error) {})
		}
	}
	d.persistTable()
}
