// Package dhtsim runs DHT nodes (package dht/node) on the deterministic
// simulator (dispersy/dispersytest): N peers, V values stored by random
// peers, L lookups from random peers, with loss, churn (a fraction of the
// peers leave during the run and as many fresh ones join) and adversaries
// that answer every query with themselves. It measures what issue 15's
// goals name: lookup success, hops, lookup time, the share of values still
// readable, and the DHT's bytes per lookup. tools/simulate -scenario dht
// and the tests run it.
package dhtsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/peer"
)

// Config is one scenario.
type Config struct {
	Peers, Values, Lookups int
	// Loss is the datagram loss probability, on every link from the start.
	Loss float64
	// Latency and Jitter are every link's (default 20 ms ± 10 ms).
	Latency, Jitter time.Duration
	// Churn is the fraction of the peers that leave during the run, as
	// many fresh peers joining; the values' storers leave first.
	Churn float64
	// Adversaries is the number of extra peers that answer every query
	// with themselves only.
	Adversaries int
	Seed        uint64
	// Warmup is the virtual time before the first store (default 2 min).
	Warmup time.Duration
	// Node configures every honest node (Key and KV are set per peer).
	Node node.Config
	// Progress, if not nil, gets a line per phase.
	Progress func(string)
}

// Result is what a run measured.
type Result struct {
	Peers   int `json:"peers"`
	Values  int `json:"values"`
	Lookups int `json:"lookups"`
	// LookupSuccess is the share of the L lookups that found the value.
	LookupSuccess float64 `json:"lookup_success"`
	HopsP50       int     `json:"hops_p50"`
	HopsP99       int     `json:"hops_p99"`
	// LookupSecondsP50 and P99 are virtual seconds per successful lookup.
	LookupSecondsP50 float64 `json:"lookup_seconds_p50"`
	LookupSecondsP99 float64 `json:"lookup_seconds_p99"`
	// ValuesAvailable is the share of the stored values readable at the
	// end, from random peers, after the churn.
	ValuesAvailable float64 `json:"values_available"`
	// BytesPerLookup is the bytes of DHT request and response datagrams
	// (headers and signatures included; walker probes not) sent during the
	// lookup phase, per lookup.
	BytesPerLookup float64 `json:"bytes_per_lookup"`
	// WalkerBytesPerLookup is the bytes of every introduction request and
	// response sent in the same window, per lookup: the DHT's probes and
	// the walker's own steps of every peer (background, not per lookup).
	WalkerBytesPerLookup float64 `json:"walker_bytes_per_lookup"`
	// StoredOn is the mean number of nodes that accepted a store.
	StoredOn float64 `json:"stored_on"`
	// Replaced is the number of peers that left (as many joined).
	Replaced int `json:"replaced"`
	// VirtualSeconds is the simulated time.
	VirtualSeconds float64 `json:"virtual_seconds"`
}

// Sim is a running DHT simulation.
type Sim struct {
	S    *dt.Sim
	DHTs map[int]*node.DHT
	KVs  map[int]*node.MemKV
	cfg  Config
	rng  *rand.Rand
	bad  map[int]bool
	// counting traffic
	count              bool
	dhtBytes, prbBytes uint64
}

// New builds the network: Peers honest nodes and Adversaries liars, run
// for Warmup.
func New(cfg Config) (*Sim, error) {
	if cfg.Warmup <= 0 {
		cfg.Warmup = 2 * time.Minute
	}
	sc := dt.DefaultSimConfig(cfg.Seed)
	sc.Network.Loss = cfg.Loss
	if cfg.Latency > 0 || cfg.Jitter > 0 {
		sc.Network.Latency, sc.Network.Jitter = cfg.Latency, cfg.Jitter
	}
	s := &Sim{DHTs: map[int]*node.DHT{}, KVs: map[int]*node.MemKV{}, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 15)), bad: map[int]bool{}}
	sc.Network.Trace = s.trace
	var err error
	if s.S, err = dt.NewSim(sc); err != nil {
		return nil, err
	}
	for range cfg.Peers {
		if _, err := s.AddPeer(); err != nil {
			return nil, err
		}
	}
	for range cfg.Adversaries {
		p, err := s.S.AddPeer()
		if err != nil {
			return nil, err
		}
		s.bad[p.Index] = true
		if err := s.S.Do(p, func(e *dispersy.Engine) error { _, err := e.Join(newLiar(cfg.Node)); return err }); err != nil {
			return nil, err
		}
	}
	s.progress("%d peers (+%d adversaries) joined, warming up %v", cfg.Peers, cfg.Adversaries, cfg.Warmup)
	if err := s.S.Net.RunFor(cfg.Warmup); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sim) progress(format string, args ...any) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(fmt.Sprintf("%s  %s", s.S.Net.Now().Format("15:04:05"), fmt.Sprintf(format, args...)))
	}
}

// trace counts the DHT's datagrams and the walker's probes while counting.
func (s *Sim) trace(ev dt.Event) {
	if !s.count || ev.Kind != dt.EventSend || len(ev.Data) <= conversion.PrefixSize {
		return
	}
	switch ev.Data[conversion.PrefixSize] {
	case 1, 2: // the DHT's request and response
		s.dhtBytes += uint64(len(ev.Data))
	case dispersy.IDIntroductionRequest, dispersy.IDIntroductionResponse:
		s.prbBytes += uint64(len(ev.Data))
	}
}

// AddPeer adds an honest DHT node with a fresh MemKV.
func (s *Sim) AddPeer() (*dt.SimPeer, error) {
	p, err := s.S.AddPeer()
	if err != nil {
		return nil, err
	}
	return p, s.start(p)
}

func (s *Sim) start(p *dt.SimPeer) error {
	if s.KVs[p.Index] == nil {
		s.KVs[p.Index] = node.NewMemKV()
	}
	cfg := s.cfg.Node
	cfg.Key, cfg.KV = p.Key, s.KVs[p.Index]
	d := node.New(cfg)
	s.DHTs[p.Index] = d
	return s.S.Do(p, func(e *dispersy.Engine) error {
		c, err := e.Join(d)
		if err != nil {
			return err
		}
		return d.Start(c)
	})
}

// Restart stops peer i and starts it again on its KV (its persisted
// values, table and blacklist).
func (s *Sim) Restart(i int) error {
	p := s.S.Peers[i]
	if err := s.S.Stop(p); err != nil {
		return err
	}
	if err := s.S.Restart(p); err != nil {
		return err
	}
	return s.start(p)
}

// Stop takes peer i offline for good.
func (s *Sim) Stop(i int) error {
	delete(s.DHTs, i)
	return s.S.Stop(s.S.Peers[i])
}

// Honest returns the indexes of the online honest peers.
func (s *Sim) Honest() []int {
	var out []int
	for _, p := range s.S.Peers {
		if p.Online && !s.bad[p.Index] && s.DHTs[p.Index] != nil {
			out = append(out, p.Index)
		}
	}
	return out
}

// Do runs fn on honest peer i's engine.
func (s *Sim) Do(i int, fn func(d *node.DHT) error) error {
	return s.S.Do(s.S.Peers[i], func(*dispersy.Engine) error { return fn(s.DHTs[i]) })
}

// RunUntil runs the network until cond holds or limit passes.
func (s *Sim) RunUntil(cond func() bool, limit time.Duration) error {
	ok, err := s.S.RunUntil(cond, 50*time.Millisecond, limit)
	if err == nil && !ok {
		err = errors.New("dhtsim: operations did not finish before the limit")
	}
	return err
}

type lookupResult struct {
	ok   bool
	info node.Info
}

// Run runs the scenario: stores, then lookups spread over the churn, then
// a read of every value.
func Run(cfg Config) (Result, error) {
	s, err := New(cfg)
	if err != nil {
		return Result{}, err
	}
	return s.Run()
}

// Run runs the scenario on the built network.
func (s *Sim) Run() (Result, error) {
	cfg := s.cfg
	start := s.S.Net.Now()
	res := Result{Peers: cfg.Peers, Values: cfg.Values, Lookups: cfg.Lookups}
	// Stores from random peers, a few at a time.
	recs := make([]*dht.Record, cfg.Values)
	storers := make([]int, cfg.Values)
	accepted, pending := 0, 0
	var storeErr error
	for i := range cfg.Values {
		recs[i] = dht.NewContent(fmt.Appendf(nil, "dhtsim value %d seed %d", i, cfg.Seed), time.Time{})
		hon := s.Honest()
		storers[i] = hon[s.rng.IntN(len(hon))]
		pending++
		err := s.Do(storers[i], func(d *node.DHT) error {
			d.Store(recs[i], func(n int, err error) {
				pending--
				accepted += n
				if err != nil && storeErr == nil {
					storeErr = fmt.Errorf("store %d: %w", i, err)
				}
			})
			return nil
		})
		if err != nil {
			return res, err
		}
		if err := s.S.Net.RunFor(20 * time.Millisecond); err != nil {
			return res, err
		}
	}
	if err := s.RunUntil(func() bool { return pending == 0 }, 10*time.Minute); err != nil {
		return res, err
	}
	if cfg.Values > 0 {
		res.StoredOn = float64(accepted) / float64(cfg.Values)
	}
	s.progress("%d values stored, on %.1f nodes each (first error: %v)", cfg.Values, res.StoredOn, storeErr)

	// Churn: the storers leave first, then random peers, while the
	// lookups run; as many fresh peers join.
	leave := int(cfg.Churn * float64(cfg.Peers))
	var leavers []int
	for _, i := range storers {
		if len(leavers) < leave && !slices.Contains(leavers, i) && i != 0 {
			leavers = append(leavers, i)
		}
	}
	for len(leavers) < leave {
		hon := s.Honest()
		if i := hon[s.rng.IntN(len(hon))]; i != 0 && !slices.Contains(leavers, i) {
			leavers = append(leavers, i)
		}
	}
	s.count = true
	var results []lookupResult
	done, launched := 0, 0
	inflight := map[int]int{} // lookups in flight by origin
	steps := max(cfg.Lookups, leave, 1)
	for step := range steps {
		if leave > 0 && step*leave/steps < (step+1)*leave/steps {
			// The lookups of a leaver end with it: they are not counted.
			i := leavers[step*leave/steps]
			launched -= inflight[i]
			delete(inflight, i)
			if err := s.Stop(i); err != nil {
				return res, err
			}
			if _, err := s.AddPeer(); err != nil {
				return res, err
			}
			res.Replaced++
		}
		if step < cfg.Lookups && cfg.Values > 0 {
			rec := recs[s.rng.IntN(len(recs))]
			hon := s.Honest()
			from := hon[s.rng.IntN(len(hon))]
			launched++
			inflight[from]++
			err := s.Do(from, func(d *node.DHT) error {
				d.FindValue(rec.Key(), func(r *dht.Record, info node.Info, err error) {
					done++
					inflight[from]--
					results = append(results, lookupResult{ok: err == nil && r.Equal(rec), info: info})
				})
				return nil
			})
			if err != nil {
				return res, err
			}
		}
		if err := s.S.Net.RunFor(100 * time.Millisecond); err != nil {
			return res, err
		}
	}
	if err := s.RunUntil(func() bool { return done == launched }, 10*time.Minute); err != nil {
		return res, err
	}
	s.count = false
	var hops []int
	var secs []float64
	ok := 0
	for _, r := range results {
		if r.ok {
			ok++
			hops = append(hops, r.info.Hops)
			secs = append(secs, r.info.Elapsed.Seconds())
		}
	}
	if len(results) > 0 {
		res.LookupSuccess = float64(ok) / float64(len(results))
		res.BytesPerLookup = float64(s.dhtBytes) / float64(len(results))
		res.WalkerBytesPerLookup = float64(s.prbBytes) / float64(len(results))
	}
	res.HopsP50, res.HopsP99 = Percentile(hops, 0.5), Percentile(hops, 0.99)
	res.LookupSecondsP50, res.LookupSecondsP99 = Percentile(secs, 0.5), Percentile(secs, 0.99)
	s.progress("%d lookups: success %.4f, hops p50 %d p99 %d; %d peers replaced", len(results), res.LookupSuccess, res.HopsP50, res.HopsP99, res.Replaced)

	// Every value, read from a random peer (none of the storers online).
	readable, left := 0, 0
	for _, rec := range recs {
		hon := s.Honest()
		from := hon[s.rng.IntN(len(hon))]
		left++
		err := s.Do(from, func(d *node.DHT) error {
			d.FindValue(rec.Key(), func(r *dht.Record, _ node.Info, err error) {
				left--
				if err == nil && r.Equal(rec) {
					readable++
				}
			})
			return nil
		})
		if err != nil {
			return res, err
		}
		if err := s.S.Net.RunFor(20 * time.Millisecond); err != nil {
			return res, err
		}
	}
	if err := s.RunUntil(func() bool { return left == 0 }, 10*time.Minute); err != nil {
		return res, err
	}
	if len(recs) > 0 {
		res.ValuesAvailable = float64(readable) / float64(len(recs))
	}
	res.VirtualSeconds = s.S.Net.Now().Sub(start).Seconds()
	s.progress("values readable at the end: %d of %d", readable, len(recs))
	return res, nil
}

// Percentile returns the q-quantile of xs (nearest rank), 0 for none.
func Percentile[T int | float64](xs []T, q float64) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// liar is an adversary: it answers every query with itself only, and
// never with a value.
type liar struct {
	cfg node.Config
	rpc *peer.RPC[node.Packet, node.Packet]
}

func newLiar(cfg node.Config) *liar {
	l := &liar{cfg: cfg}
	l.rpc, _ = peer.NewRPC[node.Packet, *node.Packet, node.Packet, *node.Packet](1, 2, "dht", func(ctx *dispersy.Context, _ peer.Peer, _ node.Packet) (node.Packet, bool) {
		c := ctx.Community()
		return node.Packet{M: dht.Nodes{Contacts: []dht.Contact{{ID: dht.NodeIDOf(c.Me()), Addr: c.Engine().Config().LocalAddr}}}}, true
	})
	return l
}

func (l *liar) Define(d *dispersy.Definition) {
	d.Master = l.cfg.Master
	if d.Master == nil {
		d.Master = node.DefaultMaster
	}
	d.Name = "dht"
	l.rpc.Register(d)
}
