package node_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

type simNet struct {
	t    *testing.T
	sim  *dt.Sim
	dhts map[int]*node.DHT
	kvs  map[int]node.KV
	cfg  node.Config
}

func newSimNet(t *testing.T, n int, loss float64) *simNet {
	t.Helper()
	return newSimNetSeed(t, 7, n, loss)
}

func newSimNetSeed(t *testing.T, seed uint64, n int, loss float64) *simNet {
	t.Helper()
	sc := dt.DefaultSimConfig(seed)
	sc.Network.Loss = loss
	sim, err := dt.NewSim(sc)
	if err != nil {
		t.Fatal(err)
	}
	s := &simNet{t: t, sim: sim, dhts: map[int]*node.DHT{}, kvs: map[int]node.KV{}}
	for range n {
		s.add()
	}
	s.run(time.Minute)
	return s
}

// add starts a new peer running the DHT on a MemKV kept across restarts.
func (s *simNet) add() *dt.SimPeer {
	s.t.Helper()
	p, err := s.sim.AddPeer()
	if err != nil {
		s.t.Fatal(err)
	}
	s.start(p)
	return p
}

func (s *simNet) start(p *dt.SimPeer) {
	s.t.Helper()
	if s.kvs[p.Index] == nil {
		s.kvs[p.Index] = node.NewMemKV()
	}
	cfg := s.cfg
	cfg.Key = p.Key
	cfg.KV = s.kvs[p.Index]
	d := node.New(cfg)
	s.dhts[p.Index] = d
	if err := s.sim.Do(p, func(e *dispersy.Engine) error {
		c, err := e.Join(d)
		if err != nil {
			return err
		}
		return d.Start(c)
	}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *simNet) restart(p *dt.SimPeer) {
	s.t.Helper()
	if err := s.sim.Stop(p); err != nil {
		s.t.Fatal(err)
	}
	if err := s.sim.Restart(p); err != nil {
		s.t.Fatal(err)
	}
	// Restart joined nothing (no JoinAll): join the DHT again.
	s.start(p)
}

func (s *simNet) run(d time.Duration) {
	s.t.Helper()
	if err := s.sim.Net.RunFor(d); err != nil {
		s.t.Fatal(err)
	}
}

// do runs fn on peer i's engine and then the network until done was
// called (or limit passes).
func (s *simNet) do(i int, limit time.Duration, fn func(d *node.DHT, done func())) bool {
	s.t.Helper()
	finished := false
	if err := s.sim.Do(s.sim.Peers[i], func(*dispersy.Engine) error {
		fn(s.dhts[i], func() { finished = true })
		return nil
	}); err != nil {
		s.t.Fatal(err)
	}
	ok, err := s.sim.RunUntil(func() bool { return finished }, 10*time.Millisecond, limit)
	if err != nil {
		s.t.Fatal(err)
	}
	return ok
}

func (s *simNet) store(i int, rec *dht.Record) (int, error) {
	s.t.Helper()
	var n int
	var err error
	if !s.do(i, 2*time.Minute, func(d *node.DHT, done func()) {
		d.Store(rec, func(acc int, e error) { n, err = acc, e; done() })
	}) {
		s.t.Fatalf("store from %d did not finish", i)
	}
	return n, err
}

func (s *simNet) find(i int, key dht.ID) (*dht.Record, node.Info, error) {
	s.t.Helper()
	var rec *dht.Record
	var info node.Info
	var err error
	if !s.do(i, 2*time.Minute, func(d *node.DHT, done func()) {
		d.FindValue(key, func(r *dht.Record, in node.Info, e error) { rec, info, err = r, in, e; done() })
	}) {
		s.t.Fatalf("find from %d did not finish", i)
	}
	return rec, info, err
}

func TestStoreAndFindOnSim(t *testing.T) {
	s := newSimNet(t, 40, 0)
	rec := dht.NewContent([]byte("hello dht"), time.Time{})
	acc, err := s.store(3, rec)
	if err != nil || acc == 0 {
		t.Fatalf("store: %d accepted, %v", acc, err)
	}
	got, info, err := s.find(27, rec.Key())
	if err != nil || !got.Equal(rec) {
		t.Fatalf("find: %v %v", got, err)
	}
	t.Logf("stored on %d nodes; found in %d hops, %d queries, %v", acc, info.Hops, info.Queries, info.Elapsed)
	for _, i := range []int{3, 27} {
		st, tl, eng := s.stats(i)
		t.Logf("peer %d: table %d, %+v\nengine dropped %v", i, tl, st, eng.Dropped)
	}
	_, _, err = s.find(11, dht.ContentKey([]byte("never stored")))
	if !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("find of a missing key: %v", err)
	}
}

func (s *simNet) stats(i int) (st node.Stats, tl int, eng dispersy.Stats) {
	_ = s.sim.Do(s.sim.Peers[i], func(e *dispersy.Engine) error {
		st, tl, eng = s.dhts[i].Stats(), s.dhts[i].Server().Table.Len(), e.Stats()
		return nil
	})
	return
}

// holders returns the peers whose value store holds key.
func (s *simNet) holders(key dht.ID) []int {
	var out []int
	for i, d := range s.dhts {
		if p := s.sim.Peers[i]; p.Online && d.Server() != nil {
			if rec, _ := d.Server().Values.Peek(key); rec != nil {
				out = append(out, i)
			}
		}
	}
	return out
}

// TestRestartServesPersistedValues restarts a holder of a value on its KV:
// the new engine serves the value (and knows its old contacts) before any
// lookup of its own has completed.
func TestRestartServesPersistedValues(t *testing.T) {
	s := newSimNet(t, 30, 0)
	rec := dht.NewContent([]byte("survives a restart"), time.Time{})
	if acc, err := s.store(2, rec); err != nil || acc == 0 {
		t.Fatalf("store: %d, %v", acc, err)
	}
	hs := s.holders(rec.Key())
	if len(hs) == 0 {
		t.Fatal("nobody holds the value")
	}
	h := hs[0]
	if h == 2 && len(hs) > 1 {
		h = hs[1]
	}
	s.run(10 * time.Minute) // a maintenance round saves the routing table
	s.restart(s.sim.Peers[h])
	d := s.dhts[h]
	var held *dht.Record
	var contacts int
	var st node.Stats
	if err := s.sim.Do(s.sim.Peers[h], func(*dispersy.Engine) error {
		held = d.Server().Values.Get(rec.Key(), s.sim.Net.Now())
		contacts, st = d.Server().Table.Len(), d.Stats()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if held == nil || !held.Equal(rec) || st.Restored == 0 {
		t.Fatalf("restarted holder serves %v (restored %d)", held, st.Restored)
	}
	if contacts == 0 {
		t.Fatal("restarted holder forgot its routing table")
	}
	// Another node reads it from the network with the holder back.
	if got, _, err := s.find((h+7)%30, rec.Key()); err != nil || !got.Equal(rec) {
		t.Fatalf("find after the restart: %v, %v", got, err)
	}
}

// TestRestartFromSQLite is the restart on a database.Store file: the
// holder's KV is closed with it and reopened by the new engine.
func TestRestartFromSQLite(t *testing.T) {
	s := newSimNet(t, 20, 0)
	rec := dht.NewContent([]byte("in a SQLite file"), time.Time{})
	hs := []int{5}
	path := filepath.Join(t.TempDir(), "holder.db")
	db, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Peer 5 runs on the file from now on, and stores the value (a
	// storer holds its own values).
	if err := s.sim.Stop(s.sim.Peers[5]); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.Restart(s.sim.Peers[5]); err != nil {
		t.Fatal(err)
	}
	s.kvs[5] = db
	s.start(s.sim.Peers[5])
	s.run(time.Minute)
	if acc, err := s.store(5, rec); err != nil || acc == 0 {
		t.Fatalf("store: %d, %v", acc, err)
	}
	if err := s.sim.Stop(s.sim.Peers[5]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = database.Open(path, database.Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s.kvs[5] = db
	if err := s.sim.Restart(s.sim.Peers[5]); err != nil {
		t.Fatal(err)
	}
	s.start(s.sim.Peers[5])
	var held *dht.Record
	if err := s.sim.Do(s.sim.Peers[5], func(*dispersy.Engine) error {
		held = s.dhts[5].Server().Values.Get(rec.Key(), s.sim.Net.Now())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if held == nil || !held.Equal(rec) {
		t.Fatalf("restarted from %s, serves %v (holders before: %v)", path, held, hs)
	}
}

// TestHandoffToCloserNewcomers: with K = 3, a value stored on the 3
// closest nodes of a small network reaches the newcomers that are closer
// to its key as they join, long before any republish.
func TestHandoffToCloserNewcomers(t *testing.T) {
	sc := dt.DefaultSimConfig(9)
	sim, err := dt.NewSim(sc)
	if err != nil {
		t.Fatal(err)
	}
	s := &simNet{t: t, sim: sim, dhts: map[int]*node.DHT{}, kvs: map[int]node.KV{}}
	s.cfg.Server.Table.K = 3
	s.cfg.Lookup.K = 3
	for range 8 {
		s.add()
	}
	s.run(time.Minute)
	rec := dht.NewContent([]byte("handed off"), time.Time{})
	if acc, err := s.store(1, rec); err != nil || acc == 0 {
		t.Fatalf("store: %d, %v", acc, err)
	}
	for range 40 {
		s.add()
	}
	s.run(3 * time.Minute)
	// The 3 closest online nodes to the key now.
	var ids []dht.ID
	byID := map[dht.ID]int{}
	for i := range s.sim.Peers {
		id := dht.NodeIDOf(s.sim.Peers[i].Key.Public())
		ids = append(ids, id)
		byID[id] = i
	}
	slices.SortFunc(ids, func(a, b dht.ID) int { return dht.CmpDistance(rec.Key(), a, b) })
	hs := s.holders(rec.Key())
	held := 0
	for _, id := range ids[:3] {
		if slices.Contains(hs, byID[id]) {
			held++
		}
	}
	t.Logf("the 3 closest of 48 hold it: %d; holders %v", held, hs)
	if held < 2 {
		t.Fatalf("only %d of the 3 closest nodes hold the value (holders %v)", held, hs)
	}
}
