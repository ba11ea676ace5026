package node

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// Errors of the DHT's operations.
var (
	// ErrNotFound: the lookup ended without the value (or peer) sought, or
	// the value was deleted (a tombstone).
	ErrNotFound = errors.New("dht: not found")
	// ErrTimeout: the lookup's overall timeout passed, or nobody answered.
	ErrTimeout = errors.New("dht: timed out")
	// ErrRefused: every node asked to store refused; the *RefusedError
	// says why.
	ErrRefused = errors.New("dht: refused by the network")
	// ErrNoPeers: the routing table is empty (the node has not joined
	// anyone yet).
	ErrNoPeers = errors.New("dht: no peers to ask")
	// ErrBusy: too many lookups in flight.
	ErrBusy = errors.New("dht: too many lookups in flight")
)

// RefusedError is a store that every node refused, with the network's
// reason (the most frequent one).
type RefusedError struct {
	Reason dht.Reason
	// Refusals counts the refusals by reason.
	Refusals map[dht.Reason]int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("dht: refused by the network: %v (%d nodes)", e.Reason, e.Refusals[e.Reason])
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Info describes a finished lookup.
type Info struct {
	Status  dht.Status
	Hops    int
	Queries int
	Elapsed time.Duration
}

// op is a lookup in flight.
type op struct {
	target    dht.ID
	l         *dht.Lookup
	findValue bool
	// peer: a FindPeer's lookup, which notes the nodes that returned the
	// target (via) and the addresses they gave (at).
	peer     bool
	via      []dht.Contact
	at       []netip.AddrPort
	tokens   map[dht.ID]dht.Token
	start    time.Time
	finished bool
	done     func(o *op)
}

func (d *DHT) newLookup(target dht.ID, findValue bool, done func(o *op)) error {
	if len(d.ops)+len(d.held) >= maxPendingLookups {
		return ErrBusy
	}
	d.start(&op{target: target, findValue: findValue, tokens: map[dht.ID]dht.Token{}, start: d.now(), done: done})
	return nil
}

// start launches o, or holds it until the node has contacts.
func (d *DHT) start(o *op) {
	if d.srv.Table.Len() == 0 {
		// Not joined yet: the lookup waits for the first contacts (the
		// bootstrap task starts it), at most joinWait.
		d.held = append(d.held, o)
		return
	}
	d.launch(o)
}

// joinWait bounds how long a lookup started before the node has contacts
// waits for them; it then ends with ErrNoPeers.
const joinWait = 30 * time.Second

// launchHeld starts the held lookups once there are contacts, or when
// they waited joinWait.
func (d *DHT) launchHeld() {
	now := d.now()
	held := d.held
	d.held = nil
	for _, o := range held {
		if d.srv.Table.Len() > 0 || now.Sub(o.start) >= joinWait {
			d.launch(o)
		} else {
			d.held = append(d.held, o)
		}
	}
}

func (d *DHT) launch(o *op) {
	now := d.now()
	cfg := d.cfg.Lookup
	cfg.FinalRound = cfg.FinalRound || o.findValue
	o.l = dht.NewLookup(d.self, o.target, d.srv.Table.Closest(o.target, d.lookupK()), cfg, now)
	d.srv.Table.Touch(o.target, now)
	d.stats.Lookups++
	d.ops = append(d.ops, o)
	d.advance(o)
}

func (d *DHT) lookupK() int {
	if d.cfg.Lookup.K > 0 {
		return d.cfg.Lookup.K
	}
	return dht.DefaultK
}

// advance sends what the lookup wants sent and finishes it when done.
func (d *DHT) advance(o *op) {
	if o.finished {
		return
	}
	now := d.now()
	for again := true; again && !o.finished; {
		again = false
		for _, c := range o.l.Next(now) {
			if d.black[keys.MemberID(c.ID)] {
				o.l.OnTimeout(c.ID)
				again = true
				continue
			}
			d.queryFor(o, c)
		}
	}
	if o.l.Done() {
		d.finish(o)
	} else {
		d.armPump() // the overall timeout
	}
}

func (d *DHT) queryFor(o *op, c dht.Contact) {
	target := o.l.Target()
	var req dht.Message = dht.FindNode{Target: target}
	if o.findValue {
		req = dht.FindValue{Key: target}
	}
	d.query(c, req, o.l.FinalRound(), func(resp Packet, from peer.Peer, err error) {
		if o.finished {
			return
		}
		now := d.now()
		if err != nil {
			o.l.OnTimeout(c.ID)
			d.advance(o)
			return
		}
		switch m := resp.M.(type) {
		case dht.Nodes:
			o.tokens[c.ID] = m.Token
			var cs []dht.Contact
			for _, x := range m.Contacts {
				if !d.black[keys.MemberID(x.ID)] {
					cs = append(cs, x)
				}
				if o.peer && x.ID == target && len(o.via) < 4*punctureVia {
					o.via = append(o.via, c)
					o.at = append(o.at, x.Addr)
				}
			}
			o.l.OnNodes(c.ID, cs, now)
		case dht.Value:
			if m.Record == nil || !m.Record.Verify() || m.Record.Key() != target {
				// A wrong value: its sender is blacklisted and demoted.
				d.blacklist(from.ID())
				o.l.OnTimeout(c.ID)
				break
			}
			o.l.OnValue(c.ID, m.Record)
		default: // Error (rate limited) or an answer of the wrong type
			o.l.OnTimeout(c.ID)
		}
		d.advance(o)
	})
}

func (d *DHT) finish(o *op) {
	if o.finished {
		return // finished by an answer handled while advancing
	}
	o.finished = true
	for i, x := range d.ops {
		if x == o {
			d.ops = append(d.ops[:i], d.ops[i+1:]...)
			break
		}
	}
	for _, id := range o.l.Distrusted() {
		if d.srv.Table.Remove(id) {
			d.stats.Demoted++
		}
	}
	if st := o.l.Status(); st == dht.TimedOut || (len(o.l.Result()) == 0 && o.l.Value() == nil) {
		d.stats.LookupsFailed++
	}
	o.done(o)
}

func (o *op) info(now time.Time) Info {
	return Info{Status: o.l.Status(), Hops: o.l.Hops(), Queries: o.l.Queries(), Elapsed: now.Sub(o.start)}
}

func lookupErr(o *op, empty bool) error {
	switch {
	case o.l.Status() == dht.TimedOut:
		return ErrTimeout
	case empty && o.l.Queries() == 0:
		return ErrNoPeers
	case empty:
		return ErrTimeout
	}
	return nil
}

// Lookup finds the K nodes closest to target that answer; done gets them,
// closest first. On the engine's goroutine.
func (d *DHT) Lookup(target dht.ID, done func([]dht.Contact, Info, error)) {
	if err := d.newLookup(target, false, func(o *op) {
		res := o.l.Result()
		done(res, o.info(d.now()), lookupErr(o, len(res) == 0))
	}); err != nil {
		done(nil, Info{}, err)
	}
}

// FindValue looks up the record under key: done gets it (verified against
// the key; a tombstone is returned as such), or ErrNotFound, ErrTimeout or
// ErrNoPeers. A record this node holds is answered at once. After a find,
// the record is cached at the closest node that answered without it. On
// the engine's goroutine.
func (d *DHT) FindValue(key dht.ID, done func(*dht.Record, Info, error)) {
	if rec := d.srv.Values.Get(key, d.now()); rec != nil {
		done(rec, Info{Status: dht.FoundValue}, nil)
		return
	}
	if err := d.newLookup(key, true, func(o *op) {
		now := d.now()
		rec := o.l.Value()
		if rec == nil {
			err := lookupErr(o, len(o.l.Result()) == 0)
			if err == nil {
				err = ErrNotFound
			}
			done(nil, o.info(now), err)
			return
		}
		if c, ok := o.l.CacheAt(); ok {
			if tok, ok := o.tokens[c.ID]; ok {
				d.sendQuery(c, dht.Store{Key: key, Token: tok, Record: rec}, func(Packet, peer.Peer, error) {})
			}
		}
		done(rec, o.info(now), nil)
	}); err != nil {
		done(nil, Info{}, err)
	}
}

// Store stores rec on the K nodes closest to its key (and here): done gets
// the number of nodes that accepted it, or an error (a *RefusedError when
// every node refused). On the engine's goroutine.
func (d *DHT) Store(rec *dht.Record, done func(accepted int, err error)) {
	key := rec.Key()
	if code := d.srv.Values.Put(d.self, key, rec, d.now()); code.Refused() {
		done(0, &RefusedError{Reason: code, Refusals: map[dht.Reason]int{code: 1}})
		return
	}
	d.persistValue(key)
	d.replicate(key, rec, done)
}

// replicate stores rec under key on the K closest nodes found by a lookup.
func (d *DHT) replicate(key dht.ID, rec *dht.Record, done func(int, error)) {
	if err := d.newLookup(key, false, func(o *op) {
		res := o.l.Result()
		if len(res) == 0 {
			done(0, lookupErr(o, true))
			return
		}
		left, accepted := 0, 0
		refusals := map[dht.Reason]int{}
		finish := func() {
			if left > 0 {
				return
			}
			if accepted > 0 || len(refusals) == 0 {
				done(accepted, nil)
				return
			}
			e := &RefusedError{Refusals: refusals}
			for r, n := range refusals {
				if n > refusals[e.Reason] || (n == refusals[e.Reason] && r < e.Reason) || e.Reason == dht.Accepted {
					e.Reason = r
				}
			}
			done(0, e)
		}
		var to []dht.Contact
		for _, c := range res {
			if _, ok := o.tokens[c.ID]; ok {
				to = append(to, c)
			}
		}
		if len(to) == 0 {
			done(0, ErrTimeout)
			return
		}
		// Counted first: an answer may come back at once (a known
		// unreachable address fails without waiting).
		left = len(to)
		for _, c := range to {
			tok := o.tokens[c.ID]
			d.sendQuery(c, dht.Store{Key: key, Token: tok, Record: rec}, func(resp Packet, _ peer.Peer, err error) {
				left--
				if r, ok := resp.M.(dht.StoreResult); ok && err == nil {
					d.stats.Stores[r.Code]++
					if r.Code.Refused() {
						refusals[r.Code]++
					} else {
						accepted++
					}
				}
				finish()
			})
		}
	}); err != nil {
		done(0, err)
	}
}
