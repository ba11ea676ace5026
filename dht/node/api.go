package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// Join makes the running node n join a DHT community configured by cfg
// and starts it: the blocking API below then works from any goroutine.
// The node's member key is the DHT node's key (its id is the member id).
func Join(ctx context.Context, n *dispersy.Node, cfg Config) (*DHT, error) {
	d := New(cfg)
	d.node = n
	err := n.Do(ctx, func(e *dispersy.Engine) error {
		c, err := e.Join(d)
		if err != nil {
			return err
		}
		return d.Start(c)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

var errNoNode = errors.New("dht: the blocking API needs a DHT made by Join")

// run starts an operation on the engine's goroutine and waits for its
// result or ctx.
func run[T any](ctx context.Context, d *DHT, start func(done func(T, error))) (T, error) {
	var zero T
	if d.node == nil {
		return zero, errNoNode
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	err := d.node.Do(ctx, func(*dispersy.Engine) error {
		start(func(v T, err error) {
			select {
			case ch <- result{v, err}:
			default:
			}
		})
		return nil
	})
	if err != nil {
		return zero, err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Key returns the key of this node's owner-named value name (what Set
// writes): dht.OwnedKey(own public key, name).
func (d *DHT) Key(name string) dht.ID { return dht.OwnedKey(d.owner(), []byte(name)) }

func (d *DHT) owner() *keys.PublicKey {
	if d.cfg.Key != nil {
		return d.cfg.Key.Public()
	}
	return d.c.Me()
}

// ErrNoKey: an owner-named write without Config.Key.
var ErrNoKey = errors.New("dht: owner-named values need Config.Key")

// Get returns the value stored under key, a content key or an owner key,
// verified against the key: ErrNotFound when nobody holds it or it was
// deleted, ErrTimeout, or ErrNoPeers.
func (d *DHT) Get(ctx context.Context, key dht.ID) ([]byte, error) {
	rec, err := d.GetRecord(ctx, key)
	if err != nil {
		return nil, err
	}
	if rec.Kind == dht.Tombstone {
		return nil, fmt.Errorf("%w: deleted by its owner", ErrNotFound)
	}
	return rec.Value, nil
}

// GetRecord is Get returning the whole record (owner, timestamps; a
// tombstone as such).
func (d *DHT) GetRecord(ctx context.Context, key dht.ID) (*dht.Record, error) {
	return run(ctx, d, func(done func(*dht.Record, error)) {
		d.FindValue(key, func(r *dht.Record, _ Info, err error) { done(r, err) })
	})
}

// Set writes the owner-named value name = value, signed by this node's key
// (the dict-like set of the chord seed, with a signature: nobody else can
// overwrite it). Other nodes read it with GetOwned(owner, name) or
// Get(dht.OwnedKey(owner, name)); this node with Get(d.Key(name)).
func (d *DHT) Set(ctx context.Context, name string, value []byte) error {
	_, err := d.PutOwned(ctx, []byte(name), value)
	return err
}

// Update sets every name of m (as Set), in parallel; the error joins those
// of the names that failed.
func (d *DHT) Update(ctx context.Context, m map[string][]byte) error {
	errs := make(chan error, len(m))
	for name, value := range m {
		go func() {
			if err := d.Set(ctx, name, value); err != nil {
				errs <- fmt.Errorf("%q: %w", name, err)
				return
			}
			errs <- nil
		}()
	}
	var all []error
	for range m {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// Delete replaces the owner-named value name with the owner's signed
// tombstone: holders answer "deleted" until it expires.
func (d *DHT) Delete(ctx context.Context, name string) error {
	_, err := run(ctx, d, func(done func(int, error)) {
		if d.cfg.Key == nil {
			done(0, ErrNoKey)
			return
		}
		now := d.now()
		rec, err := dht.NewTombstone(d.cfg.Key, []byte(name), now, now.Add(d.cfg.TTL))
		if err != nil {
			done(0, err)
			return
		}
		d.Store(rec, done)
	})
	return err
}

// PutOwned stores the owner-named value name = value signed by this node's
// key, expiring after Config.TTL, on the K closest nodes; it returns the
// key.
func (d *DHT) PutOwned(ctx context.Context, name, value []byte) (dht.ID, error) {
	var key dht.ID
	_, err := run(ctx, d, func(done func(int, error)) {
		if d.cfg.Key == nil {
			done(0, ErrNoKey)
			return
		}
		now := d.now()
		rec, err := dht.NewOwned(d.cfg.Key, name, value, now, now.Add(d.cfg.TTL))
		if err != nil {
			done(0, err)
			return
		}
		key = rec.Key()
		d.Store(rec, done)
	})
	return key, err
}

// GetOwned returns the value owner named name.
func (d *DHT) GetOwned(ctx context.Context, owner *keys.PublicKey, name []byte) ([]byte, error) {
	return d.Get(ctx, dht.OwnedKey(owner, name))
}

// Put stores the content-addressed immutable value and returns its key
// (dht.ContentKey(value)).
func (d *DHT) Put(ctx context.Context, value []byte) (dht.ID, error) {
	rec := dht.NewContent(value, time.Time{})
	_, err := run(ctx, d, func(done func(int, error)) {
		rec.Expires = dht.UnixMilli(d.now().Add(d.cfg.TTL))
		d.Store(rec, done)
	})
	return rec.Key(), err
}

// FindPeer returns a reachable address of member: it answered our query.
// A member behind a NAT that never heard from us is asked, through the
// nodes that know it, to puncture towards us first (FindPeerAsync):
// ErrNotFound when nobody knows it, ErrTimeout when it never answered.
func (d *DHT) FindPeer(ctx context.Context, member keys.MemberID) (netip.AddrPort, error) {
	return run(ctx, d, func(done func(netip.AddrPort, error)) { d.FindPeerAsync(member, done) })
}

// Contacts returns the routing table's size.
func (d *DHT) Contacts(ctx context.Context) (int, error) {
	return run(ctx, d, func(done func(int, error)) { done(d.srv.Table.Len(), nil) })
}

// StatsOf returns the counters, from any goroutine.
func (d *DHT) StatsOf(ctx context.Context) (Stats, error) {
	return run(ctx, d, func(done func(Stats, error)) { done(d.Stats(), nil) })
}
