package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// Parameter sets (-params).
const (
	paramsOurs     = "ours"
	paramsDispersy = "dispersy"
)

// messageBytes is the wire size of every created message. The payload text
// is padded so that an Ed25519-signed FullSyncText packet has exactly this
// size, the size of the messages in Dispersy's own emulations (193–196 B).
const messageBytes = 200

// options is one simulation's parameters, as the flags give them.
type options struct {
	Scenario string
	Params   string // paramsOurs or paramsDispersy
	Peers    int
	Messages int
	Loss     float64
	Dup      float64
	// Reorder is the probability that a datagram is held back by up to
	// reorderDelay, so it arrives after later ones.
	Reorder float64
	Latency time.Duration
	Jitter  time.Duration
	Seed    uint64
	// Warmup is the virtual time the overlay runs before the first message
	// is created.
	Warmup time.Duration
	// Spread spreads the creation of the messages evenly over this much
	// virtual time (0: all at one instant).
	Spread time.Duration
	// Limit bounds the virtual time from the first creation to the end of
	// the run.
	Limit time.Duration
	// Store is where peers keep their messages: storeMemory or storeSQLite
	// (one file per peer in a temporary folder).
	Store string
	// Progress, if not nil, gets one line per walk round (-v).
	Progress io.Writer
	// WalkTarget, if not nil, overrides the parameter set's
	// Walker.WalkTarget (-walktarget; 0 walks at every step).
	WalkTarget *int
	// Rate is every peer's upload and download rate in bytes per second
	// (dispersytest.PeerLink); 0 is unlimited.
	Rate int64
	// Reconcile turns the catch-up protocol on (catchup.Enable).
	Reconcile bool
}

// reorderDelay is how long a reordered datagram is held back at most.
const reorderDelay = 300 * time.Millisecond

// engineConfig returns the engine configuration of the parameter set.
func (o *options) engineConfig() (dispersy.Config, error) {
	var c dispersy.Config
	switch o.Params {
	case paramsOurs:
		c = dispersy.DefaultConfig()
	case paramsDispersy:
		c = dispersy.DispersyConfig()
	default:
		return c, fmt.Errorf("unknown parameter set %q (want %s or %s)", o.Params, paramsOurs, paramsDispersy)
	}
	if o.WalkTarget != nil {
		c.Walker.WalkTarget = *o.WalkTarget
		if c.Walker.MaxPeers > 0 {
			c.Walker.MaxPeers = max(c.Walker.MaxPeers, *o.WalkTarget)
		}
	}
	return c, nil
}

// result is what one simulation measured. The JSON field names are the
// command's output format (see doc.go for each field's definition).
type result struct {
	Scenario string  `json:"scenario"`
	Params   string  `json:"params"`
	Peers    int     `json:"peers"`
	Messages int     `json:"messages"`
	Loss     float64 `json:"loss"`
	Dup      float64 `json:"dup"`
	Reorder  float64 `json:"reorder"`
	Store    string  `json:"store"`
	Latency  string  `json:"latency"`
	Jitter   string  `json:"jitter"`
	Seed     uint64  `json:"seed"`
	Warmup   string  `json:"warmup"`
	Spread   string  `json:"spread"`
	Limit    string  `json:"limit"`

	// Converged reports whether every peer held every message before the
	// limit.
	Converged bool `json:"converged"`
	// RoundsToFull is (convergence time − first creation) / walk step
	// interval, to one decimal; nil when the run did not converge.
	RoundsToFull *float64 `json:"rounds_to_full"`
	// Coverage is the fraction of (peer, message) pairs held at the end.
	Coverage float64 `json:"coverage"`
	// SimSeconds is the virtual time from the first creation to the end of
	// the run (convergence, or the limit).
	SimSeconds float64 `json:"sim_seconds"`
	// MessageBytes is the wire size of each created message.
	MessageBytes int `json:"message_bytes"`
	// BytesSent is the bytes of every datagram peers sent in the measured
	// window (first creation to the end), walker traffic included.
	BytesSent uint64 `json:"bytes_sent"`
	// BytesDelivered is the bytes of every datagram delivered to a peer in
	// the window.
	BytesDelivered uint64 `json:"bytes_delivered"`
	// BytesLacked is Σ over peers of the bytes of the messages the peer did
	// not create: what it had to receive at the very least.
	BytesLacked uint64 `json:"bytes_lacked"`
	// BytesRatio is BytesDelivered / BytesLacked.
	BytesRatio float64 `json:"bytes_ratio"`
	// Copies is the number of datagrams carrying a created message
	// delivered to a peer in the window.
	Copies uint64 `json:"copies"`
	// CopiesPerMessage is Copies / (Messages × Peers).
	CopiesPerMessage float64 `json:"copies_per_message"`
	// Digest is the hex SHA-256 of peer 0's sorted message hashes
	// (dispersytest.Digest), set only when the run converged.
	Digest string `json:"digest,omitempty"`
	// WallSeconds is the real time the run took, setup included. It and
	// the CPU and memory fields are the ones that differ between identical
	// runs.
	WallSeconds float64 `json:"wall_seconds"`
	// CPUSeconds is the CPU time (user + system, all threads: the garbage
	// collector's too) the process used during the run; 0 where the
	// system does not say. Unlike WallSeconds it does not grow when other
	// programs compete for the cores.
	CPUSeconds float64 `json:"cpu_seconds"`
	// HeapMB is the peak of runtime.MemStats.HeapInuse sampled at every
	// round, in MiB.
	HeapMB float64 `json:"heap_mb"`
	// SysMB is runtime.MemStats.Sys at the end of the run (memory obtained
	// from the OS by the whole process), in MiB.
	SysMB float64 `json:"sys_mb"`

	// Lost (chaos only) counts the acknowledged messages (their Create
	// returned) that some online peer lacks at the end.
	Lost *int `json:"lost,omitempty"`
	// Stops and Restarts (chaos only) count the churn.
	Stops    int `json:"stops,omitempty"`
	Restarts int `json:"restarts,omitempty"`
	// Events (chaos only) lists the partition and its healing.
	Events []string `json:"events,omitempty"`

	// Series is the coverage at every whole round from the first creation
	// (index 0) to the end: to the first whole round at or after
	// convergence (where it is 1), or to the last round before the limit.
	Series []float64 `json:"coverage_per_round"`
}

// world is a running simulation: what a scenario gets to work with.
type world struct {
	opt  *options
	sim  *dispersytest.Sim
	cid  keys.CommunityID
	step time.Duration
	// types is the message type whose copies are counted: FullSyncText.
	types []uint8
	// held[i] is the number of created messages peer i stores; total is
	// their sum.
	held  []int
	total int
	// dirty lists the peers network events went to since the last sync
	// (their stores may have changed); isDirty marks them.
	dirty   []int
	isDirty []bool
	// measuring is set from the first creation on; copies counts the
	// datagrams carrying a created message delivered since.
	measuring bool
	copies    uint64
	// rng draws the creators (and the chaos scenario's faults).
	rng *rand.Rand
	// created are the hashes of the messages created (acknowledged).
	created []dispersy.Hash
	// state is the scenario's own state; events, stops and restarts what it
	// did.
	state           any
	events          []string
	stops, restarts int
	// releaseStores closes the stores and removes their files at the end.
	releaseStores func()
}

// peerIndex returns the index of the simulated peer at addr
// (dispersytest.PeerAddr is 10.0.0.0/8 + index + 1), or -1.
func peerIndex(addr netip.AddrPort) int {
	a := addr.Addr()
	if !a.Is4() {
		return -1
	}
	b := a.As4()
	if b[0] != 10 {
		return -1
	}
	return (int(b[1])<<16 | int(b[2])<<8 | int(b[3])) - 1
}

// trace follows the network: which peers events went to (their stores may
// have changed) and, while measuring, the message copies delivered. It runs
// before the peer handles the event, so the counts are re-read later, in
// sync.
func (w *world) trace(ev dispersytest.Event) {
	switch ev.Kind {
	case dispersytest.EventDeliver:
		w.touch(peerIndex(ev.To))
		if w.measuring && len(ev.Data) >= conversion.HeaderSize && ev.Data[conversion.HeaderSize-1] == dispersytest.FullSyncText.ID() {
			w.copies++
		}
	case dispersytest.EventTick:
		w.touch(peerIndex(ev.To))
	}
}

func (w *world) touch(i int) {
	if i >= 0 && i < len(w.isDirty) && !w.isDirty[i] {
		w.isDirty[i] = true
		w.dirty = append(w.dirty, i)
	}
}

// sync re-reads the counts of the peers events went to.
func (w *world) sync() {
	for _, i := range w.dirty {
		w.isDirty[i] = false
		w.refresh(i)
	}
	w.dirty = w.dirty[:0]
}

// resync marks every peer for a re-read: after a scenario hook, which may
// have stopped or restarted peers without a network event.
func (w *world) resync() {
	for i := range w.held {
		w.touch(i)
	}
}

// refresh re-reads peer i's count of created messages (0 while it is
// stopped: a stopped peer holds nothing for the run's purposes).
func (w *world) refresh(i int) {
	if i < 0 || i >= len(w.held) {
		return
	}
	p := w.sim.Peers[i]
	n := 0
	if p.Online {
		n = w.sim.Count(p, w.cid, w.types)
	}
	w.total += n - w.held[i]
	w.held[i] = n
}

// incomplete reports whether some peer still lacks a message. It is the
// RunWhile condition, checked before every event, when only the peer the
// last event went to can have changed.
func (w *world) incomplete() bool {
	w.sync()
	return w.total < w.opt.Messages*w.opt.Peers
}

// coverage returns the fraction of (peer, message) pairs held.
func (w *world) coverage() float64 {
	w.sync()
	return float64(w.total) / float64(w.opt.Messages*w.opt.Peers)
}

// scenario is one way of running the simulation. The default scenario only
// lets the overlay form, creates the messages and runs to convergence; a
// scenario with faults (churn, partitions) adds them through its hooks.
type scenario struct {
	name string
	// help is one line for -h.
	help string
	// defaults, if set, gives the flags the user did not set their values
	// for this scenario.
	defaults func(o *options, set map[string]bool)
	// setup, if set, runs once the peers have joined, before the warm-up.
	setup func(w *world) error
	// round, if set, runs at every whole round from the first creation on
	// (round 0 is the creation instant, before the messages are created).
	round func(w *world, round int) error
}

// scenarios is the -scenario table, in the order -h lists it.
var scenarios = []scenario{
	{name: "default", help: "warm up, create the messages, run until every peer holds all of them"},
	{name: "chaos", help: "300 peers, 20% loss, 5% duplication, reordering, a partition that heals, churn with restarts from SQLite files; reports lost",
		defaults: chaosDefaults, round: chaosRound},
	{name: "latejoin", help: "10 peers hold 10,000 messages, 10 MB/s links, no jitter; a fresh peer joins; reports catchup_seconds",
		defaults: latejoinDefaults},
}

// findScenario returns the scenario called name.
func findScenario(name string) (*scenario, bool) {
	for i := range scenarios {
		if scenarios[i].name == name {
			return &scenarios[i], true
		}
	}
	return nil, false
}

// scenarioNames returns the names for usage lines.
func scenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// textFor returns the payload of message i, padded to pad bytes.
func textFor(i, pad int) string {
	s := fmt.Sprintf("simulate message %d ", i)
	if len(s) < pad {
		s += strings.Repeat(".", pad-len(s))
	}
	return s
}

// payloadPad is the payload text length that makes an Ed25519-signed
// FullSyncText message messageBytes long: header (23), member key (33),
// global time (8), text length prefix (2), signature (64).
const payloadPad = messageBytes - conversion.HeaderSize - 33 - 8 - 2 - 64

// memProfile, when set (-memprofile), is called at the end of every
// simulation while its peers are still in memory.
var memProfile func() error

// newWorld builds the simulation: the peers, joined to the debug
// community, with the scenario's setup done.
func newWorld(opt *options, sc *scenario) (*world, error) {
	engine, err := opt.engineConfig()
	if err != nil {
		return nil, err
	}
	if opt.Reconcile {
		catchup.Enable(&engine, catchup.Options{})
	}
	w := &world{
		opt:     opt,
		cid:     dispersytest.DebugMaster.Public().CommunityID(),
		step:    engine.Walker.StepInterval,
		types:   []uint8{dispersytest.FullSyncText.ID()},
		held:    make([]int, opt.Peers),
		isDirty: make([]bool, opt.Peers),
		rng:     rand.New(rand.NewPCG(opt.Seed, 0x5117_c0de)),
	}
	cfg := opt.simConfig(engine)
	cfg.Network.Trace = w.trace
	stores, cleanup, err := newStores(opt)
	if err != nil {
		return nil, err
	}
	cfg.Stores = stores
	w.releaseStores = func() {
		if stores != nil {
			for _, p := range w.sim.Peers {
				if p.Online {
					p.Store.Close()
				}
			}
		}
		cleanup()
	}
	if w.sim, err = dispersytest.NewSim(cfg); err != nil {
		cleanup()
		return nil, err
	}
	if err := w.sim.AddPeers(opt.Peers); err != nil {
		w.releaseStores()
		return nil, err
	}
	if err := w.sim.JoinAll(func() dispersy.Overlay { return &quietDebug{} }); err != nil {
		return nil, err
	}
	if sc.setup != nil {
		if err := sc.setup(w); err != nil {
			return nil, err
		}
		w.resync()
	}
	return w, nil
}

// create makes message i at peer creator, or, if that peer is stopped, at
// the next running one. It returns the message's wire size.
func (w *world) create(i, creator int) (int, error) {
	p := w.sim.Peers[creator]
	for k := 1; !p.Online && k < len(w.sim.Peers); k++ {
		p = w.sim.Peers[(creator+k)%len(w.sim.Peers)]
	}
	size := 0
	err := w.sim.Do(p, func(e *dispersy.Engine) error {
		m, err := dispersy.Create(e.Community(w.cid), dispersytest.FullSyncText, dispersytest.Text{Text: textFor(i, payloadPad)})
		if err == nil {
			size = len(m.Packet)
			w.created = append(w.created, dispersy.PacketHash(m.Packet))
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("peer %d could not create message %d: %w", p.Index, i, err)
	}
	w.refresh(p.Index)
	return size, nil
}

// simulate runs one simulation. Wall time and memory are its only
// nondeterministic outputs.
func simulate(opt options) (*result, error) {
	runtime.GC() // so the heap peak is this run's, not an earlier one's garbage
	wallStart, cpuStart := time.Now(), cpuTime()
	sc, ok := findScenario(opt.Scenario)
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (known: %s)", opt.Scenario, scenarioNames())
	}
	w, err := newWorld(&opt, sc)
	if err != nil {
		return nil, err
	}
	defer w.releaseStores()
	if err := w.sim.Net.RunFor(opt.Warmup); err != nil {
		return nil, err
	}

	// The creation schedule: message i at t0 + Spread·i/M by a random peer.
	t0 := w.sim.Net.Now()
	creators := make([]int, opt.Messages)
	for i := range creators {
		creators[i] = w.rng.IntN(opt.Peers)
	}
	createAt := func(i int) time.Time {
		return t0.Add(time.Duration(float64(opt.Spread) * float64(i) / float64(opt.Messages)))
	}

	res := &result{
		Scenario: opt.Scenario, Params: opt.Params, Peers: opt.Peers, Messages: opt.Messages,
		Loss: opt.Loss, Dup: opt.Dup, Reorder: opt.Reorder, Store: opt.Store,
		Latency: opt.Latency.String(), Jitter: opt.Jitter.String(), Seed: opt.Seed,
		Warmup: opt.Warmup.String(), Spread: opt.Spread.String(), Limit: opt.Limit.String(),
	}
	var heapPeak uint64
	sampleHeap := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapPeak = max(heapPeak, ms.HeapInuse)
	}
	before := w.sim.Net.Stats()
	w.measuring = true
	next := 0 // the next message to create
	end := t0.Add(opt.Limit)
	round := 0
	nextRound := t0 // when round starts
	for {
		now := w.sim.Net.Now()
		atRound := !now.Before(nextRound)
		if atRound && sc.round != nil {
			if err := sc.round(w, round); err != nil {
				return nil, err
			}
			w.resync()
		}
		for ; next < opt.Messages && !now.Before(createAt(next)); next++ {
			size, err := w.create(next, creators[next])
			if err != nil {
				return nil, err
			}
			res.MessageBytes = max(res.MessageBytes, size)
			res.BytesLacked += uint64(size) * uint64(opt.Peers-1)
		}
		if atRound {
			res.Series = append(res.Series, math.Round(w.coverage()*1e6)/1e6)
			sampleHeap()
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "simulate: %s round %d: coverage %.6f, heap %.0f MiB, wall %.1f s\n",
					opt.Params, round, w.coverage(), float64(heapPeak)/(1<<20), time.Since(wallStart).Seconds())
			}
			round++
			nextRound = t0.Add(time.Duration(round) * w.step)
		}
		if (next == opt.Messages && !w.incomplete()) || !now.Before(end) {
			break
		}

		// Run to the next round, creation or the limit; once every message
		// exists, stop at the event that completes the last peer.
		until := minTime(nextRound, end)
		if next < opt.Messages {
			until = minTime(until, createAt(next))
		} else if _, err := w.sim.Net.RunWhile(w.incomplete, until); err != nil {
			return nil, err
		}
		if w.incomplete() && w.sim.Net.Now().Before(until) {
			// Messages still to create, or the network went idle: advance
			// the clock to the next thing to do.
			if err := w.sim.Net.RunUntil(until); err != nil {
				return nil, err
			}
		}
	}
	stop := w.sim.Net.Now()
	after := w.sim.Net.Stats()
	sampleHeap()
	if memProfile != nil {
		if err := memProfile(); err != nil {
			return nil, fmt.Errorf("could not write the heap profile: %w", err)
		}
	}

	res.Converged = w.total == opt.Messages*opt.Peers
	if res.Converged {
		digest, same, err := w.digest()
		if err != nil {
			return nil, err
		}
		if !same {
			return nil, errors.New("every peer holds the expected number of messages, but not the same set: a simulator bug")
		}
		res.Digest = digest
		r := math.Round(float64(stop.Sub(t0))/float64(w.step)*10) / 10
		res.RoundsToFull = &r
		if res.Series[len(res.Series)-1] < 1 {
			// Converged between two round boundaries: the curve reaches 1
			// at the next whole round.
			res.Series = append(res.Series, 1)
		}
	}
	if sc.round != nil {
		lost, err := w.lostMessages()
		if err != nil {
			return nil, err
		}
		res.Lost = &lost
		res.Stops, res.Restarts, res.Events = w.stops, w.restarts, w.events
	}
	res.Coverage = w.coverage()
	res.SimSeconds = stop.Sub(t0).Seconds()
	res.BytesSent = after.SentBytes - before.SentBytes
	res.BytesDelivered = after.DeliveredBytes - before.DeliveredBytes
	if res.BytesLacked > 0 {
		res.BytesRatio = round3(float64(res.BytesDelivered) / float64(res.BytesLacked))
	}
	res.Copies = w.copies
	res.CopiesPerMessage = round3(float64(w.copies) / float64(opt.Messages*opt.Peers))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapMB = round1(float64(heapPeak) / (1 << 20))
	res.SysMB = round1(float64(ms.Sys) / (1 << 20))
	res.WallSeconds = round3(time.Since(wallStart).Seconds())
	res.CPUSeconds = round3(cpuTime() - cpuStart)
	return res, nil
}

// digest returns the hex digest of peer 0's message set and whether every
// online peer holds the same set.
func (w *world) digest() (string, bool, error) {
	var first [32]byte
	for i, p := range w.sim.Online() {
		hs, err := w.sim.Hashes(p, w.cid, w.types)
		if err != nil {
			return "", false, err
		}
		d := dispersytest.Digest(hs)
		if i == 0 {
			first = d
		} else if d != first {
			return "", false, nil
		}
	}
	return hex.EncodeToString(first[:]), true, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// simConfig is the simulator configuration of every scenario: engine, and
// the network's latency, jitter, loss, duplication, reordering and link
// rate from the flags.
func (opt options) simConfig(engine dispersy.Config) dispersytest.SimConfig {
	cfg := dispersytest.DefaultSimConfig(opt.Seed)
	cfg.Engine = engine
	cfg.Network.Latency = opt.Latency
	cfg.Network.Jitter = opt.Jitter
	cfg.Network.Loss = opt.Loss
	cfg.Network.Duplicate = opt.Dup
	if opt.Reorder > 0 {
		cfg.Network.Reorder = opt.Reorder
		cfg.Network.ReorderDelay = reorderDelay
	}
	cfg.Network.PeerLink = dispersytest.PeerLink{Upload: opt.Rate, Download: opt.Rate}
	return cfg
}
