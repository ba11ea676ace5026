package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// Stores (-store).
const (
	storeMemory = "memory"
	storeSQLite = "sqlite"
)

// fileStores gives every peer a SQLite file in dir: closed when the peer
// stops (as when its process ends), reopened when it restarts.
type fileStores struct{ dir string }

func (fs *fileStores) path(i int) string { return filepath.Join(fs.dir, fmt.Sprintf("peer%04d.db", i)) }

// Open opens peer i's file. One connection and a small page cache each:
// hundreds of stores share the process.
func (fs *fileStores) Open(i int) (dispersy.Store, error) {
	return database.Open(fs.path(i), database.Options{ReadConns: -1, CacheKiB: 256})
}

// Release closes the store of a stopped peer.
func (fs *fileStores) Release(_ int, s dispersy.Store) error { return s.Close() }

// chaos timeline, in walk rounds from the first creation.
const (
	chaosPartitionFrom = 12 // the network splits in two halves
	chaosPartitionTo   = 24 // and heals
	chaosChurnUntil    = 60 // peers stop and restart until this round
	chaosStopChance    = 0.01
	chaosMaxOffline    = 0.10 // fraction of the peers offline at once, at most
	chaosMinDown       = 2    // rounds a stopped peer stays down, at least
	chaosMaxDown       = 6
)

// chaosDefaults are the chaos scenario's values for the flags not given.
func chaosDefaults(o *options, set map[string]bool) {
	def := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	def("peers", func() { o.Peers = 300 })
	def("messages", func() { o.Messages = 300 })
	def("loss", func() { o.Loss = 0.2 })
	def("dup", func() { o.Dup = 0.05 })
	def("reorder", func() { o.Reorder = 0.1 })
	def("spread", func() { o.Spread = 5 * time.Minute })
	def("store", func() { o.Store = storeSQLite })
}

// chaosState is what the chaos scenario remembers between rounds.
type chaosState struct {
	// back[i] is the round at which stopped peer i restarts.
	back map[int]int
}

// chaosRound applies round r's faults: the partition and its healing,
// stopping and restarting peers, and at the end of the churn bringing every
// peer back, so that every created message can reach every peer.
func chaosRound(w *world, r int) error {
	st, _ := w.state.(*chaosState)
	if st == nil {
		st = &chaosState{back: map[int]int{}}
		w.state = st
	}
	sim := w.sim
	switch r {
	case chaosPartitionFrom:
		a, b := sim.Peers[:len(sim.Peers)/2], sim.Peers[len(sim.Peers)/2:]
		addrs := func(ps []*dispersytest.SimPeer) []netip.AddrPort {
			out := make([]netip.AddrPort, len(ps))
			for i, p := range ps {
				out[i] = p.Addr
			}
			return out
		}
		if err := sim.Net.Partition(addrs(a), addrs(b)); err != nil {
			return err
		}
		w.events = append(w.events, fmt.Sprintf("round %d: partition %d | %d peers", r, len(a), len(b)))
	case chaosPartitionTo:
		sim.Net.Heal()
		w.events = append(w.events, fmt.Sprintf("round %d: partition healed", r))
	}
	// Restarts due now (in index order: deterministic).
	for i := range sim.Peers {
		if at, down := st.back[i]; down && (r >= at || r > chaosChurnUntil) {
			if err := sim.Restart(sim.Peers[i]); err != nil {
				return err
			}
			delete(st.back, i)
			w.restarts++
		}
	}
	if r < 1 || r > chaosChurnUntil {
		return nil
	}
	maxOff := int(chaosMaxOffline * float64(len(sim.Peers)))
	for i, p := range sim.Peers {
		if !p.Online || len(st.back) >= maxOff || w.rng.Float64() >= chaosStopChance {
			continue
		}
		if err := sim.Stop(p); err != nil {
			return err
		}
		st.back[i] = r + chaosMinDown + w.rng.IntN(chaosMaxDown-chaosMinDown+1)
		w.stops++
	}
	return nil
}

// newStores returns the SimStores for o.Store and a cleanup function.
func newStores(o *options) (dispersytest.SimStores, func(), error) {
	if o.Store != storeSQLite {
		return nil, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "simulate-stores-")
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create a folder for the peers' SQLite files: %w", err)
	}
	return &fileStores{dir: dir}, func() { os.RemoveAll(dir) }, nil
}

// lostMessages counts the created (acknowledged) messages that some online
// peer does not hold at the end.
func (w *world) lostMessages() (int, error) {
	lost := 0
	have := make([]map[dispersy.Hash]bool, 0, len(w.sim.Peers))
	for _, p := range w.sim.Online() {
		hs, err := w.sim.Hashes(p, w.cid, w.types)
		if err != nil {
			return 0, err
		}
		set := make(map[dispersy.Hash]bool, len(hs))
		for _, h := range hs {
			set[h] = true
		}
		have = append(have, set)
	}
	for _, h := range w.created {
		for _, set := range have {
			if !set[h] {
				lost++
				break
			}
		}
	}
	return lost, nil
}
