package dispersytest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// SimConfig configures a Sim: the network, the engines' configuration and
// how peers are made.
type SimConfig struct {
	// Seed drives everything random: the network and each peer's engine
	// (peer i's engine rng is seeded with (Seed, i)) and its key.
	Seed uint64
	// Network is the simulated network; its Seed is replaced by Seed.
	Network NetworkConfig
	// Engine is every peer's engine configuration. LocalAddr, Rand and
	// (when empty) Bootstrap are filled per peer: the bootstrap address is
	// peer 0 unless Engine.Bootstrap is set.
	Engine dispersy.Config
	// Scheme is the peers' key scheme; 0 means Ed25519.
	Scheme keys.Scheme
	// NoBootstrap leaves Engine.Bootstrap empty (peers then find each
	// other only through AddCandidate or Introduce).
	NoBootstrap bool
	// Stores opens the peers' stores; nil gives each peer a MemStore, kept
	// across Stop and Restart.
	Stores SimStores
	// JoinOptions are passed to every Join (dispersy.WithReplay, for
	// example, to replay the store into the handlers on Restart).
	JoinOptions []dispersy.JoinOption
}

// SimStores opens and releases the stores of simulated peers, so a
// simulation can run on SQLite files (a stopped peer's file is closed, and
// reopened when it restarts) as well as in memory.
type SimStores interface {
	// Open returns peer i's store: a new one the first time, the same
	// data after a Release.
	Open(i int) (dispersy.Store, error)
	// Release is called when peer i stops; a file store closes here.
	Release(i int, s dispersy.Store) error
}

// memStores keeps one MemStore per peer for the whole simulation.
type memStores struct{ m map[int]*MemStore }

func (ms *memStores) Open(i int) (dispersy.Store, error) {
	if ms.m[i] == nil {
		ms.m[i] = NewMemStore()
	}
	return ms.m[i], nil
}

func (ms *memStores) Release(int, dispersy.Store) error { return nil }

// DefaultSimConfig returns dispersy.DefaultConfig engines on a network with
// 20 ms ± 10 ms latency and no loss.
func DefaultSimConfig(seed uint64) SimConfig {
	return SimConfig{
		Seed:    seed,
		Network: NetworkConfig{LinkConfig: LinkConfig{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}},
		Engine:  dispersy.DefaultConfig(),
	}
}

// SimPeer is one simulated node: an Engine on a MemStore at a virtual
// address.
type SimPeer struct {
	Index int
	Addr  netip.AddrPort
	Key   *keys.PrivateKey
	// Store is the peer's store (closed while the peer is stopped, for
	// stores that close on Release).
	Store  dispersy.Store
	Engine *dispersy.Engine
	// Online is false while the peer is stopped.
	Online bool
}

// Sim runs many engines on one simulated network, on virtual time, in one
// goroutine. The same SimConfig and the same calls give identical runs.
type Sim struct {
	Net   *Network
	Peers []*SimPeer
	cfg   SimConfig
	joins []func() dispersy.Overlay
}

// NewSim returns a simulation with no peers.
func NewSim(cfg SimConfig) (*Sim, error) {
	nc := cfg.Network
	nc.Seed = cfg.Seed
	if nc.MaxDatagram == 0 {
		nc.MaxDatagram = cfg.Engine.MaxDatagram
	}
	net, err := NewNetwork(nc)
	if err != nil {
		return nil, err
	}
	if cfg.Scheme == 0 {
		cfg.Scheme = keys.Ed25519
	}
	if cfg.Stores == nil {
		cfg.Stores = &memStores{m: map[int]*MemStore{}}
	}
	return &Sim{Net: net, cfg: cfg}, nil
}

// PeerKey returns the deterministic key of peer i under seed.
func PeerKey(scheme keys.Scheme, seed uint64, i int) *keys.PrivateKey {
	var b [20]byte
	copy(b[:4], "peer")
	binary.BigEndian.PutUint64(b[4:], seed)
	binary.BigEndian.PutUint64(b[12:], uint64(i))
	return keys.DeriveKey(scheme, b[:])
}

func (s *Sim) engineConfig(i int) dispersy.Config {
	c := s.cfg.Engine
	c.LocalAddr = PeerAddr(i)
	c.Rand = rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)+1))
	if len(c.Bootstrap) == 0 && !s.cfg.NoBootstrap && i != 0 {
		c.Bootstrap = []netip.AddrPort{PeerAddr(0)}
	}
	return c
}

// AddPeers adds n peers, each joining every overlay given to JoinAll so far.
func (s *Sim) AddPeers(n int) error {
	for range n {
		if _, err := s.AddPeer(); err != nil {
			return err
		}
	}
	return nil
}

// AddPeer adds one peer with a fresh store (SimConfig.Stores).
func (s *Sim) AddPeer() (*SimPeer, error) {
	i := len(s.Peers)
	st, err := s.cfg.Stores.Open(i)
	if err != nil {
		return nil, fmt.Errorf("dispersytest: store of peer %d: %w", i, err)
	}
	p := &SimPeer{Index: i, Addr: PeerAddr(i), Key: PeerKey(s.cfg.Scheme, s.cfg.Seed, i), Store: st}
	s.Peers = append(s.Peers, p)
	if err := s.start(p); err != nil {
		return nil, err
	}
	return p, nil
}

// start makes a new engine for p on its store and joins the sim's overlays.
func (s *Sim) start(p *SimPeer) error {
	eng, err := dispersy.NewEngine(s.engineConfig(p.Index), p.Key, p.Store)
	if err != nil {
		return err
	}
	eng.SetTime(s.Net.Now())
	for _, f := range s.joins {
		if _, err := eng.Join(f(), s.cfg.JoinOptions...); err != nil {
			return fmt.Errorf("dispersytest: peer %d: %w", p.Index, err)
		}
	}
	p.Engine = eng
	p.Online = true
	if _, ok := s.Net.Machine(p.Addr); ok {
		return s.Net.Replace(p.Addr, eng)
	}
	if err := s.Net.Add(p.Addr, eng); err != nil {
		// The address may be known but stopped.
		return s.Net.Replace(p.Addr, eng)
	}
	return nil
}

// JoinAll makes every current and future peer join the overlay newOverlay
// returns (called once per peer).
func (s *Sim) JoinAll(newOverlay func() dispersy.Overlay) error {
	s.joins = append(s.joins, newOverlay)
	for _, p := range s.Peers {
		if !p.Online {
			continue
		}
		err := s.Net.Do(p.Addr, func(now time.Time) error {
			p.Engine.SetTime(now)
			_, err := p.Engine.Join(newOverlay(), s.cfg.JoinOptions...)
			return err
		})
		if err != nil {
			return fmt.Errorf("dispersytest: peer %d: %w", p.Index, err)
		}
	}
	return nil
}

// Do runs f on peer p at the current virtual time and lets the network
// collect what it sent (see Network.Do).
func (s *Sim) Do(p *SimPeer, f func(e *dispersy.Engine) error) error {
	if !p.Online {
		return fmt.Errorf("dispersytest: peer %d is stopped", p.Index)
	}
	return s.Net.Do(p.Addr, func(now time.Time) error {
		p.Engine.SetTime(now)
		return f(p.Engine)
	})
}

// Stop takes p offline: its engine is discarded, its store kept, packets to
// it are dropped.
func (s *Sim) Stop(p *SimPeer) error {
	if !p.Online {
		return nil
	}
	p.Online = false
	p.Engine = nil
	if err := s.Net.Remove(p.Addr); err != nil {
		return err
	}
	return s.cfg.Stores.Release(p.Index, p.Store)
}

// Restart brings a stopped peer back with a new engine on its old store
// (reopened).
func (s *Sim) Restart(p *SimPeer) error {
	if p.Online {
		return nil
	}
	st, err := s.cfg.Stores.Open(p.Index)
	if err != nil {
		return fmt.Errorf("dispersytest: reopening the store of peer %d: %w", p.Index, err)
	}
	p.Store = st
	return s.start(p)
}

// Online returns the peers that are running.
func (s *Sim) Online() []*SimPeer {
	var out []*SimPeer
	for _, p := range s.Peers {
		if p.Online {
			out = append(out, p)
		}
	}
	return out
}

// syncTypes returns the bloom-synced types of cid, from any online peer.
func (s *Sim) syncTypes(cid keys.CommunityID) []uint8 {
	for _, p := range s.Peers {
		if p.Online {
			if c := p.Engine.Community(cid); c != nil {
				return c.SyncedTypes()
			}
		}
	}
	return nil
}

// Hashes returns the hashes of the live (not undone) messages p stores in
// community cid for the given types (the community's bloom-synced types
// when types is nil), sorted.
func (s *Sim) Hashes(p *SimPeer, cid keys.CommunityID, types []uint8) ([]dispersy.Hash, error) {
	if types == nil {
		types = s.syncTypes(cid)
	}
	var out []dispersy.Hash
	err := p.Store.Scan(dispersy.ScanQuery{Community: cid, Types: types, From: 1}, func(r dispersy.ScanRow) bool {
		out = append(out, r.Hash)
		return true
	})
	slices.SortFunc(out, func(a, b dispersy.Hash) int { return slices.Compare(a[:], b[:]) })
	return out, err
}

// Digest hashes the set Hashes returns: equal digests mean equal sets.
func Digest(hashes []dispersy.Hash) [32]byte {
	h := sha256.New()
	for _, x := range hashes {
		h.Write(x[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Count returns how many live messages of the given types (nil: the
// bloom-synced types) p stores in cid.
func (s *Sim) Count(p *SimPeer, cid keys.CommunityID, types []uint8) int {
	if types == nil {
		types = s.syncTypes(cid)
	}
	n, _ := p.Store.Count(cid, types)
	return n
}

// Converged reports whether every online peer stores exactly the same live
// messages of the given types (nil: the bloom-synced types) in cid.
func (s *Sim) Converged(cid keys.CommunityID, types []uint8) bool {
	var first [32]byte
	for i, p := range s.Online() {
		hs, err := s.Hashes(p, cid, types)
		if err != nil {
			return false
		}
		d := Digest(hs)
		if i == 0 {
			first = d
		} else if d != first {
			return false
		}
	}
	return true
}

// ErrNotConverged is returned by RunUntilConverged when the limit passed.
var ErrNotConverged = errors.New("dispersytest: peers did not converge before the limit")

// RunUntil runs the simulation until cond holds (checked every interval of
// virtual time) or limit of virtual time passes. It reports whether cond
// held.
func (s *Sim) RunUntil(cond func() bool, every, limit time.Duration) (bool, error) {
	end := s.Net.Now().Add(limit)
	for {
		if cond() {
			return true, nil
		}
		if !s.Net.Now().Before(end) {
			return false, nil
		}
		next := s.Net.Now().Add(every)
		if next.After(end) {
			next = end
		}
		if err := s.Net.RunUntil(next); err != nil {
			return false, err
		}
	}
}

// RunUntilConverged runs until every online peer holds want live messages
// of the given types (nil: the bloom-synced types) in cid and they are the same set, checking
// every second of virtual time, for at most limit.
func (s *Sim) RunUntilConverged(cid keys.CommunityID, types []uint8, want int, limit time.Duration) error {
	ok, err := s.RunUntil(func() bool {
		for _, p := range s.Online() {
			if s.Count(p, cid, types) != want {
				return false
			}
		}
		return s.Converged(cid, types)
	}, time.Second, limit)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (%v of virtual time)", ErrNotConverged, limit)
	}
	return nil
}

// StateDigest hashes what p stores in cid for the given types (nil: the
// bloom-synced types): every live message, and every message undone by an
// undo message, each with its undone flag. Two peers with equal digests
// hold the same messages in the same undo state.
//
// Messages undone by a permission change (a revoke, a settings change) are
// left out: like Python Dispersy, they are never synced, so only the peers
// that received one before the change keep it, inert (never handled, never
// sent). They count as absent.
func (s *Sim) StateDigest(p *SimPeer, cid keys.CommunityID, types []uint8) ([32]byte, int, error) {
	if types == nil {
		types = s.syncTypes(cid)
	}
	type row struct {
		h      dispersy.Hash
		undone bool
	}
	var rows []row
	for _, t := range types {
		err := p.Store.Range(dispersy.RangeQuery{Community: cid, MessageID: t, Low: 1, High: 1<<63 - 1, IncludeUndone: true}, func(r *dispersy.Record) bool {
			if r.Undone && r.UndoneBy == (dispersy.MessageKey{}) {
				return true
			}
			rows = append(rows, row{r.Hash, r.Undone})
			return true
		})
		if err != nil {
			return [32]byte{}, 0, err
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return slices.Compare(a.h[:], b.h[:]) })
	h := sha256.New()
	for _, r := range rows {
		h.Write(r.h[:])
		if r.undone {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, len(rows), nil
}
