package catchup

import (
	"fmt"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

var debugCID = dt.DebugMaster.Public().CommunityID()

// stores gives each simulated peer a MemStore, some filled before the peer
// starts.
type stores struct{ m map[int]*dt.MemStore }

func (s *stores) Open(i int) (dispersy.Store, error) {
	if s.m[i] == nil {
		s.m[i] = dt.NewMemStore()
	}
	return s.m[i], nil
}

func (s *stores) Release(int, dispersy.Store) error { return nil }

// copyHistory puts every stored message of from (community debugCID) in a
// new MemStore for peer i, optionally only those keep accepts.
func (s *stores) copyHistory(t testing.TB, from dispersy.Store, i int, keep func(k int, r *dispersy.Record) bool) {
	t.Helper()
	to := dt.NewMemStore()
	var b dispersy.Batch
	rec, _, err := from.Community(debugCID)
	if err != nil {
		t.Fatal(err)
	}
	b.PutCommunity(rec)
	all := make([]uint8, 0, 255)
	for id := 1; id < 256; id++ {
		all = append(all, uint8(id))
	}
	k := 0
	err = from.Replay(debugCID, all, func(r *dispersy.Record) bool {
		if keep == nil || keep(k, r) {
			b.Put(*r)
		}
		k++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := to.Apply(&b); err != nil {
		t.Fatal(err)
	}
	s.m[i] = to
}

// world is a simulation with history.
type world struct {
	t     testing.TB
	sim   *dt.Sim
	st    *stores
	msgs  int
	types []uint8
}

type worldOpts struct {
	seed     uint64
	holders  int
	msgs     int
	loss     float64
	reorder  float64
	catchup  bool
	liar     int // index of a lying holder, or -1
	keepFrom func(holder, k int, r *dispersy.Record) bool
}

// newWorld makes peer 0 create o.msgs full-sync messages, copies its store
// to the other holders, starts them and lets them walk for a minute.
func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	cfg := dt.DefaultSimConfig(o.seed)
	cfg.Network.Loss = o.loss
	if o.reorder > 0 {
		cfg.Network.Reorder, cfg.Network.ReorderDelay = o.reorder, 50*time.Millisecond
	}
	st := &stores{m: map[int]*dt.MemStore{}}
	cfg.Stores = st
	if o.catchup {
		var liar keys.MemberID
		if o.liar >= 0 {
			liar = dt.PeerKey(keys.Ed25519, o.seed, o.liar).Public().ID()
		}
		cfg.Engine.Extensions = append(cfg.Engine.Extensions, func(e *dispersy.Engine) dispersy.Extension {
			opts := Options{}.resolve()
			opts.lie = o.liar >= 0 && e.Me().ID() == liar
			return &ext{e: e, o: opts, comms: map[keys.CommunityID]*state{}}
		})
	}
	sim, err := dt.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	p0, err := sim.AddPeer()
	if err != nil {
		t.Fatal(err)
	}
	err = sim.Do(p0, func(e *dispersy.Engine) error {
		for i := range o.msgs {
			if _, err := dispersy.Create(e.Community(debugCID), dt.FullSyncText, dt.Text{Text: fmt.Sprintf("history %d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < o.holders; i++ {
		var keep func(k int, r *dispersy.Record) bool
		if o.keepFrom != nil {
			keep = func(k int, r *dispersy.Record) bool { return o.keepFrom(i, k, r) }
		}
		st.copyHistory(t, p0.Store, i, keep)
		if _, err := sim.AddPeer(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Net.RunFor(time.Minute); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, sim: sim, st: st, msgs: o.msgs, types: []uint8{dt.FullSyncText.ID()}}
}

// count is how many history messages p holds.
func (w *world) count(p *dt.SimPeer) int { return w.sim.Count(p, debugCID, w.types) }

// join adds a fresh peer and runs until it holds every message or limit
// passes; it returns the peer and the virtual time it took.
func (w *world) join(limit time.Duration) (*dt.SimPeer, time.Duration) {
	w.t.Helper()
	p, err := w.sim.AddPeer()
	if err != nil {
		w.t.Fatal(err)
	}
	start := w.sim.Net.Now()
	if _, err := w.sim.RunUntil(func() bool { return w.count(p) >= w.msgs }, 100*time.Millisecond, limit); err != nil {
		w.t.Fatal(err)
	}
	return p, w.sim.Net.Now().Sub(start)
}

func (w *world) stats(p *dt.SimPeer) Stats {
	s, _ := StatsOf(p.Engine)
	return s
}

// TestJoinBehindLargeHistory: 5 peers hold 5,000 messages; a fresh peer
// holds them all within 60 s of virtual time with catch-up, while with
// bloom sync alone it holds well under half of them by then.
func TestJoinBehindLargeHistory(t *testing.T) {
	const msgs, limit = 5000, 60 * time.Second
	w := newWorld(t, worldOpts{seed: 1, holders: 5, msgs: msgs, catchup: true, liar: -1})
	p, took := w.join(limit)
	s := w.stats(p)
	t.Logf("catch-up: %d messages in %v of virtual time; %+v", w.count(p), took, s)
	if got := w.count(p); got != msgs {
		t.Fatalf("joiner holds %d of %d messages after %v", got, msgs, limit)
	}
	if s.IDsReceived == 0 || s.Sessions == 0 {
		t.Fatalf("the messages did not come through catch-up: %+v", s)
	}

	b := newWorld(t, worldOpts{seed: 1, holders: 5, msgs: msgs, liar: -1})
	bp, _ := b.join(limit)
	t.Logf("bloom only: %d messages after %v", b.count(bp), limit)
	if got := b.count(bp); got >= msgs/2 {
		t.Fatalf("bloom sync alone got %d of %d in %v: the comparison is void", got, msgs, limit)
	}
}
