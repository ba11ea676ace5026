package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/tools/internal/plot"
)

// The latejoin scenario: -peers holders already store the same -messages
// full-sync messages (preloaded into their stores, not synced over the
// network), the overlay warms up, then one fresh peer joins with an empty
// store and the run measures how long it takes to hold all of them.

// latejoinRate is the default access link rate of the latejoin scenario,
// each way: 10 MB/s.
const latejoinRate = 10_000_000

// latejoinDefaults are the latejoin scenario's values for the flags not
// given.
func latejoinDefaults(o *options, set map[string]bool) {
	def := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	def("peers", func() { o.Peers = 10 })
	def("messages", func() { o.Messages = 10_000 })
	def("jitter", func() { o.Jitter = 0 })
	def("rate", func() { o.Rate = latejoinRate })
	def("limit", func() { o.Limit = 12 * time.Hour })
	// Python Dispersy has no reconciliation: -params dispersy runs
	// without it unless -reconcile says otherwise.
	def("reconcile", func() { o.Reconcile = o.Params != paramsDispersy })
}

// latejoinResult is the latejoin scenario's report (see doc.go).
type latejoinResult struct {
	Scenario  string  `json:"scenario"`
	Params    string  `json:"params"`
	Reconcile bool    `json:"reconcile"`
	Peers     int     `json:"peers"`
	Messages  int     `json:"messages"`
	Loss      float64 `json:"loss"`
	Latency   string  `json:"latency"`
	Jitter    string  `json:"jitter"`
	Rate      int64   `json:"rate"`
	Seed      uint64  `json:"seed"`
	Warmup    string  `json:"warmup"`
	Limit     string  `json:"limit"`

	// CaughtUp reports whether the joiner held every message before the
	// limit.
	CaughtUp bool `json:"caught_up"`
	// Held is how many of the messages the joiner holds at the end.
	Held int `json:"held"`
	// CatchupSeconds is the virtual time from the join until the joiner
	// holds every message (the limit when it did not).
	CatchupSeconds float64 `json:"catchup_seconds"`
	// CatchupRounds is CatchupSeconds in walk steps.
	CatchupRounds float64 `json:"catchup_rounds"`
	// MessageBytes is the wire size of each message.
	MessageBytes int `json:"message_bytes"`
	// BytesLacked is the bytes of the messages the joiner lacked.
	BytesLacked uint64 `json:"bytes_lacked"`
	// BytesReceived is the bytes of every datagram delivered to the
	// joiner from the join until it caught up (or the limit).
	BytesReceived uint64 `json:"bytes_received"`
	// TransferSeconds is BytesLacked / Rate: the least time any protocol
	// needs.
	TransferSeconds float64 `json:"transfer_seconds"`
	// RoundTripSeconds is the mean round trip: 2 × latency + jitter.
	RoundTripSeconds float64 `json:"round_trip_seconds"`
	// GoalSeconds is the goal: TransferSeconds + 10 round trips.
	GoalSeconds float64 `json:"goal_seconds"`
	// CatchupBytesRatio is BytesReceived / BytesLacked.
	CatchupBytesRatio float64 `json:"catchup_bytes_ratio"`
	// QueueDrops counts the datagrams dropped at full link queues during
	// the catch-up (send and receive queues, every peer).
	QueueDrops uint64 `json:"queue_drops"`
	// LossDrops counts the datagrams lost (-loss) during the catch-up.
	LossDrops uint64 `json:"loss_drops"`
	// SetupSeconds is the wall time spent creating and preloading the
	// messages.
	SetupSeconds float64 `json:"setup_seconds"`
	WallSeconds  float64 `json:"wall_seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	HeapMB       float64 `json:"heap_mb"`
	SysMB        float64 `json:"sys_mb"`
	// Catchup is the joiner's catch-up counters (catchup.Stats) at the
	// end, when -reconcile is on.
	Catchup any `json:"catchup,omitempty"`
	// JoinerDrops counts the datagrams and messages the joiner's engine
	// dropped, by reason (dispersy.DropReason names); empty reasons are
	// left out.
	JoinerDrops map[string]uint64 `json:"joiner_drops,omitempty"`
	// HoldersCatchup is the sum of the holders' catch-up counters (what
	// they served, throttled, refused), when -reconcile is on.
	HoldersCatchup any `json:"holders_catchup,omitempty"`
	// Series is the joiner's progress: [virtual seconds since the join,
	// messages held], a point whenever the count changed (at most one per
	// latejoinSample), plus the first and the last.
	Series [][2]float64 `json:"held_over_time"`
}

// latejoinSample is the finest spacing of the progress series.
const latejoinSample = 10 * time.Millisecond

// makeHistory creates the scenario's messages once, on a standalone engine
// of peer 0 (it is their creator), and returns the records to preload and
// peer 0's member record.
func makeHistory(o *options, cfg dispersy.Config) (recs []dispersy.Record, creator dispersy.MemberRecord, err error) {
	key := dispersytest.PeerKey(keys.Ed25519, o.Seed, 0)
	st := dispersytest.NewMemStore()
	cfg.LocalAddr = dispersytest.PeerAddr(0)
	cfg.Rand = rand.New(rand.NewPCG(o.Seed, 0x4157))
	cfg.Bootstrap = nil
	cfg.Extensions = nil // the creator needs no catch-up
	eng, err := dispersy.NewEngine(cfg, key, st)
	if err != nil {
		return nil, creator, err
	}
	eng.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := eng.Join(&quietDebug{})
	if err != nil {
		return nil, creator, err
	}
	for i := range o.Messages {
		if _, err := dispersy.Create(c, dispersytest.FullSyncText, dispersytest.Text{Text: textFor(i, payloadPad)}); err != nil {
			return nil, creator, fmt.Errorf("creating message %d: %w", i, err)
		}
		if i%1024 == 0 {
			eng.Ready() // nobody to send to; keep the outbox empty
		}
	}
	recs = make([]dispersy.Record, 0, o.Messages)
	err = st.Range(dispersy.RangeQuery{Community: c.ID(), MessageID: dispersytest.FullSyncText.ID(), Low: 1, High: conversion.MaxGlobalTime}, func(r *dispersy.Record) bool {
		recs = append(recs, *r)
		return true
	})
	if err != nil {
		return nil, creator, err
	}
	if len(recs) != o.Messages {
		return nil, creator, fmt.Errorf("created %d messages, the store holds %d", o.Messages, len(recs))
	}
	return recs, dispersy.MemberRecord{ID: key.Public().ID(), PublicKey: key.Public().Bytes()}, nil
}

// preloaded gives the holders (peers below holders) a MemStore that
// already holds the history, and every other peer an empty one.
type preloaded struct {
	holders int
	recs    []dispersy.Record
	creator dispersy.MemberRecord
	m       map[int]*dispersytest.MemStore
}

func (p *preloaded) Open(i int) (dispersy.Store, error) {
	if s := p.m[i]; s != nil {
		return s, nil
	}
	s := dispersytest.NewMemStore()
	p.m[i] = s
	if i >= p.holders || len(p.recs) == 0 {
		return s, nil
	}
	master := dispersytest.DebugMaster.Public()
	var b dispersy.Batch
	b.PutMember(dispersy.MemberRecord{ID: master.ID(), PublicKey: master.Bytes()})
	b.PutMember(p.creator)
	// The engine rewrites Me (and the rest) when the peer joins, and
	// reads the global time from the records.
	b.PutCommunity(dispersy.CommunityRecord{ID: p.recs[0].Community, Master: master.Bytes(), Me: p.creator.ID, Classification: "debug"})
	for _, r := range p.recs {
		b.Put(r)
	}
	if err := s.Apply(&b); err != nil {
		return nil, fmt.Errorf("preloading peer %d: %w", i, err)
	}
	return s, nil
}

func (p *preloaded) Release(int, dispersy.Store) error { return nil }

// simulateLateJoin runs the latejoin scenario.
func simulateLateJoin(opt options) (*latejoinResult, error) {
	runtime.GC()
	wallStart, cpuStart := time.Now(), cpuTime()
	engine, err := opt.engineConfig()
	if err != nil {
		return nil, err
	}
	if opt.Reconcile {
		catchup.Enable(&engine, catchup.Options{})
	}
	res := &latejoinResult{
		Scenario: opt.Scenario, Params: opt.Params, Reconcile: opt.Reconcile,
		Peers: opt.Peers, Messages: opt.Messages, Loss: opt.Loss,
		Latency: opt.Latency.String(), Jitter: opt.Jitter.String(), Rate: opt.Rate, Seed: opt.Seed,
		Warmup: opt.Warmup.String(), Limit: opt.Limit.String(),
	}
	recs, creator, err := makeHistory(&opt, engine)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		res.MessageBytes = max(res.MessageBytes, len(r.Packet))
		res.BytesLacked += uint64(len(r.Packet))
	}
	stores := &preloaded{holders: opt.Peers, recs: recs, creator: creator, m: map[int]*dispersytest.MemStore{}}

	cid := dispersytest.DebugMaster.Public().CommunityID()
	types := []uint8{dispersytest.FullSyncText.ID()}
	joinerIdx := opt.Peers
	joinerDirty := false
	cfg := opt.simConfig(engine)
	cfg.Stores = stores
	cfg.Network.Trace = func(ev dispersytest.Event) {
		if (ev.Kind == dispersytest.EventDeliver || ev.Kind == dispersytest.EventTick) && peerIndex(ev.To) == joinerIdx {
			joinerDirty = true
		}
	}
	sim, err := dispersytest.NewSim(cfg)
	if err != nil {
		return nil, err
	}
	if err := sim.AddPeers(opt.Peers); err != nil {
		return nil, err
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return &quietDebug{} }); err != nil {
		return nil, err
	}
	for _, p := range sim.Peers {
		if n := sim.Count(p, cid, types); n != opt.Messages {
			return nil, fmt.Errorf("holder %d holds %d messages after preloading, want %d", p.Index, n, opt.Messages)
		}
	}
	res.SetupSeconds = round3(time.Since(wallStart).Seconds())
	if err := sim.Net.RunFor(opt.Warmup); err != nil {
		return nil, err
	}

	// The join.
	t0 := sim.Net.Now()
	before := sim.Net.Stats()
	joiner, err := sim.AddPeer()
	if err != nil {
		return nil, err
	}
	var heapPeak uint64
	sampleHeap := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapPeak = max(heapPeak, ms.HeapInuse)
	}
	held := sim.Count(joiner, cid, types)
	lastT := -1.0
	record := func(force bool) {
		t := sim.Net.Now().Sub(t0).Seconds()
		n := len(res.Series)
		if n > 0 && res.Series[n-1][1] == float64(held) && (!force || res.Series[n-1][0] == round6(t)) {
			return
		}
		if n > 0 && t-lastT < latejoinSample.Seconds() && !force {
			res.Series[n-1] = [2]float64{round6(t), float64(held)}
			return
		}
		res.Series = append(res.Series, [2]float64{round6(t), float64(held)})
		lastT = t
	}
	record(true)
	incomplete := func() bool {
		if joinerDirty {
			joinerDirty = false
			if n := sim.Count(joiner, cid, types); n != held {
				held = n
				record(false)
			}
		}
		return held < opt.Messages
	}
	end := t0.Add(opt.Limit)
	step := engine.Walker.StepInterval
	for next := t0.Add(step); incomplete(); next = next.Add(step) {
		if !sim.Net.Now().Before(end) {
			break
		}
		until := minTime(next, end)
		if _, err := sim.Net.RunWhile(incomplete, until); err != nil {
			return nil, err
		}
		if incomplete() && sim.Net.Now().Before(until) {
			if err := sim.Net.RunUntil(until); err != nil {
				return nil, err
			}
		}
		sampleHeap()
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "simulate: latejoin %s reconcile=%v: %.1f s virtual: joiner holds %d of %d, wall %.1f s\n",
				opt.Params, opt.Reconcile, sim.Net.Now().Sub(t0).Seconds(), held, opt.Messages, time.Since(wallStart).Seconds())
		}
	}
	stop := sim.Net.Now()
	after := sim.Net.Stats()
	sampleHeap()
	record(true)
	js, _ := sim.Net.PeerStats(joiner.Addr)
	res.Held = held
	res.CaughtUp = held == opt.Messages
	if st := catchupStats(joiner.Engine); st != nil {
		res.Catchup = st
	}
	st := joiner.Engine.Stats()
	for r, n := range st.Dropped {
		if n > 0 {
			if res.JoinerDrops == nil {
				res.JoinerDrops = map[string]uint64{}
			}
			res.JoinerDrops[dispersy.DropReason(r).String()] = n
		}
	}
	var holders []*dispersy.Engine
	for _, p := range sim.Peers[:opt.Peers] {
		holders = append(holders, p.Engine)
	}
	if st := holdersCatchupStats(holders); st != nil {
		res.HoldersCatchup = st
	}
	if res.CaughtUp {
		hs, err := sim.Hashes(joiner, cid, types)
		if err != nil {
			return nil, err
		}
		h0, err := sim.Hashes(sim.Peers[0], cid, types)
		if err != nil {
			return nil, err
		}
		if dispersytest.Digest(hs) != dispersytest.Digest(h0) {
			return nil, fmt.Errorf("the joiner holds %d messages, but not the holders' set: a simulator bug", held)
		}
	}
	res.CatchupSeconds = round3(stop.Sub(t0).Seconds())
	res.CatchupRounds = round1(float64(stop.Sub(t0)) / float64(step))
	res.BytesReceived = js.DeliveredBytes
	if opt.Rate > 0 {
		res.TransferSeconds = round3(float64(res.BytesLacked) / float64(opt.Rate))
	}
	res.RoundTripSeconds = round3((2*opt.Latency + opt.Jitter).Seconds())
	res.GoalSeconds = round3(res.TransferSeconds + 10*res.RoundTripSeconds)
	if res.BytesLacked > 0 {
		res.CatchupBytesRatio = round3(float64(res.BytesReceived) / float64(res.BytesLacked))
	}
	res.QueueDrops = (after.DroppedSendQueue + after.DroppedReceiveQueue) - (before.DroppedSendQueue + before.DroppedReceiveQueue)
	res.LossDrops = after.DroppedLoss - before.DroppedLoss
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapMB = round1(float64(heapPeak) / (1 << 20))
	res.SysMB = round1(float64(ms.Sys) / (1 << 20))
	res.WallSeconds = round3(time.Since(wallStart).Seconds())
	res.CPUSeconds = round3(cpuTime() - cpuStart)
	return res, nil
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// latejoinRun is one run of a latejoin comparison: its name in the JSON
// map and the legend, and its options.
type latejoinRun struct {
	name string
	opt  options
}

// latejoinRuns returns the runs the command line asks for: one, or with
// -compare reconciliation (when built in), bloom-only with our parameters
// and Dispersy's parameters.
func latejoinRuns(c *config) []latejoinRun {
	if !c.compare {
		o := c.opt
		name := o.Params
		switch {
		case o.Params == paramsOurs && o.Reconcile:
			name = "reconcile"
		case o.Params == paramsOurs:
			name = "bloom"
		}
		return []latejoinRun{{name, o}}
	}
	var runs []latejoinRun
	add := func(name, params string, reconcile bool) {
		o := c.opt
		o.Params, o.Reconcile = params, reconcile
		runs = append(runs, latejoinRun{name, o})
	}
	add("reconcile", paramsOurs, true)
	add("bloom", paramsOurs, false)
	add("dispersy", paramsDispersy, false)
	return runs
}

// runLateJoin runs the latejoin scenario for run and reports.
func runLateJoin(c *config, stdout, stderr io.Writer) int {
	if c.opt.Store != storeMemory {
		fmt.Fprintf(stderr, "simulate: -scenario latejoin keeps its stores in memory; drop -store\n%s\n", usageLine)
		return exitUsage
	}
	runs := latejoinRuns(c)
	results := make([]*latejoinResult, 0, len(runs))
	for _, r := range runs {
		res, err := simulateLateJoin(r.opt)
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %s: %v\n", r.name, err)
			return exitFail
		}
		results = append(results, res)
	}
	if c.csv != "" {
		var b strings.Builder
		b.WriteString("run,seconds,held\n")
		for i, r := range results {
			for _, p := range r.Series {
				fmt.Fprintf(&b, "%s,%s,%d\n", runs[i].name, strconv.FormatFloat(p[0], 'f', -1, 64), int(p[1]))
			}
		}
		if err := os.WriteFile(c.csv, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "simulate: could not write the progress CSV: %v\n", err)
			return exitFail
		}
	}
	if c.plot != "" {
		if err := writeChart(c.plot, latejoinChart(runs, results)); err != nil {
			fmt.Fprintf(stderr, "simulate: could not write the progress plot: %v\n", err)
			return exitFail
		}
	}
	if c.json {
		var v any = results[0]
		if c.compare {
			m := map[string]*latejoinResult{}
			for i, r := range results {
				m[runs[i].name] = r
			}
			v = m
		}
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitFail
		}
		stdout.Write(append(out, '\n'))
		return exitOK
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeLateJoinText(stdout, runs[i].name, r)
	}
	return exitOK
}

// writeLateJoinText prints r for people.
func writeLateJoinText(w io.Writer, name string, r *latejoinResult) {
	fmt.Fprintf(w, "scenario latejoin (%s): params %s, reconcile %v: %d peers hold %d messages of %d bytes, loss %v, latency %s ± %s, rate %d B/s, seed %d\n",
		name, r.Params, r.Reconcile, r.Peers, r.Messages, r.MessageBytes, r.Loss, r.Latency, r.Jitter, r.Rate, r.Seed)
	if r.CaughtUp {
		fmt.Fprintf(w, "caught up:          yes, after %.3f s virtual (%.1f walk rounds)\n", r.CatchupSeconds, r.CatchupRounds)
	} else {
		fmt.Fprintf(w, "caught up:          NO: %d of %d after %.3f s virtual\n", r.Held, r.Messages, r.CatchupSeconds)
	}
	fmt.Fprintf(w, "goal:               %.3f s (transfer %.3f s + 10 round trips of %.3f s)\n", r.GoalSeconds, r.TransferSeconds, r.RoundTripSeconds)
	fmt.Fprintf(w, "bytes ratio:        %.3f (%d received / %d lacked)\n", r.CatchupBytesRatio, r.BytesReceived, r.BytesLacked)
	fmt.Fprintf(w, "drops:              %d at full queues, %d lost\n", r.QueueDrops, r.LossDrops)
	fmt.Fprintf(w, "wall:               %.2f s (setup %.2f s, CPU %.2f s), peak heap %.1f MiB, sys %.1f MiB\n", r.WallSeconds, r.SetupSeconds, r.CPUSeconds, r.HeapMB, r.SysMB)
}

// latejoinChart draws the joiner's messages held over time, one curve
// per run, on a logarithmic time axis (a catch-up at link speed takes
// seconds, pull sync hours): x is log10 of the seconds since the join,
// from 0.01 s.
func latejoinChart(runs []latejoinRun, results []*latejoinResult) *plot.Chart {
	r0 := results[0]
	c := &plot.Chart{
		Title: fmt.Sprintf("Late join: %d peers hold %d messages, %s latency, %.4g MB/s links, %.4g%% loss",
			r0.Peers, r0.Messages, r0.Latency, float64(r0.Rate)/1e6, r0.Loss*100),
		X: plot.Axis{Label: "seconds since the join (log scale)", Exp10: true},
		// Headroom above the curves for the legend.
		Y: plot.Axis{Label: "messages the joiner holds", Min: 0, Max: float64(r0.Messages) * 1.3},
	}
	for i, r := range results {
		s := plot.Series{Name: runs[i].name}
		if r.CaughtUp {
			s.Name += " (" + strconv.FormatFloat(r.CatchupSeconds, 'f', max(0, 2-int(math.Floor(math.Log10(max(r.CatchupSeconds, 0.001))))), 64) + " s)"
		} else {
			s.Name += " (not caught up)"
		}
		for j, p := range r.Series {
			t := max(p[0], 0.01)
			if j > 0 {
				// A step: the count stays until the next change.
				s.X = append(s.X, math.Log10(t))
				s.Y = append(s.Y, r.Series[j-1][1])
			}
			s.X = append(s.X, math.Log10(t))
			s.Y = append(s.Y, p[1])
		}
		c.Series = append(c.Series, s)
	}
	if r0.GoalSeconds > 0 {
		g := math.Log10(max(r0.GoalSeconds, 0.01))
		c.Series = append(c.Series, plot.Series{
			Name:  fmt.Sprintf("goal: transfer + 10 round trips (%s s)", strconv.FormatFloat(r0.GoalSeconds, 'f', -1, 64)),
			X:     []float64{g, g},
			Y:     []float64{0, float64(r0.Messages)},
			Color: color.Gray{Y: 150},
		})
	}
	return c
}
