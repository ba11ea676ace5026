package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/examples/chat"
	"github.com/dispersy-go/dispersy/keys"
)

// callTimeout bounds one call into a running node (join, create).
const callTimeout = 30 * time.Second

// peer is one demo node.
type peer struct {
	index int
	key   *keys.PrivateKey
	path  string
	store *database.Store
	ep    *lossyEndpoint
	node  *dispersy.Node
	done  chan error // Run's result
	comm  *dispersy.Community
	full  bool // counted: it holds as many messages as expected
}

// masterKey and peerKey derive the demo's keys from the seed, so a second
// run on the same -dir and -seed continues the same community with the
// same members.
func masterKey(seed uint64) *keys.PrivateKey {
	return keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "dispersy-go demo %d master", seed))
}

func peerKey(seed uint64, i int) *keys.PrivateKey {
	return keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "dispersy-go demo %d peer %d", seed, i))
}

// failf describes a local problem that ends the demo with exit status 1,
// in one sentence for the user.
func failf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// demo runs the demo with o and returns the exit status.
func demo(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.cpuprofile != "" {
		stop, err := startProfile(o.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return exitFail
		}
		defer stop()
	}
	if o.scenario == scenarioLateJoin {
		return lateJoin(ctx, o, stdout, stderr)
	}
	d := &runner{o: o, stderr: stderr}
	res, err := d.run(ctx)
	if cerr := d.close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFail
	}
	if o.json {
		b, _ := json.Marshal(res.report(o))
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if !res.ready {
		fmt.Fprintf(stderr, "demo: not ready within %v: %s\n", o.timeout, res.notReady)
		fmt.Fprintf(stderr, "  hint: %s\n", res.hint(o))
		return exitFail
	}
	if !res.converged {
		fmt.Fprintf(stderr, "demo: not converged within %v (%d of %d messages on all peers):\n", o.timeout, res.onAll, res.messages)
		for _, l := range res.lacking {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
		fmt.Fprintf(stderr, "  hint: %s\n", res.hint(o))
		return exitFail
	}
	if o.loss > 0 {
		fmt.Fprintf(stderr, "loss: %d of %d datagrams dropped (%.1f%%)\n", res.dropped, res.datagrams, 100*float64(res.dropped)/float64(max(res.datagrams, 1)))
	}
	if !o.json {
		fmt.Fprintf(stdout, "converged: peers=%d messages=%d seconds=%.1f bytes=%d\n", o.peers, res.messages, res.elapsed.Seconds(), res.bytes)
	}
	return exitOK
}

// startProfile starts a CPU profile written to file; stop ends it.
func startProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, failf("cannot write the CPU profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, failf("cannot start the CPU profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// runner holds the demo's peers and resources.
type runner struct {
	o        options
	stderr   io.Writer
	dir      string
	tmp      bool // dir is a temporary folder to remove
	peers    []*peer
	deadline time.Time // the end of -timeout, counted from the start
	stopHTTP func()    // -http's server, when serving
	lat      *latencySampler

	// preload, if set, fills a peer's store after it opens, before its
	// node starts (the latejoin scenario's history).
	preload func(p *peer) error
}

// result is what a run found.
type result struct {
	ready              bool   // every peer found enough verified candidates
	notReady           string // why not, when !ready
	converged          bool
	messages, onAll    int
	readyAfter         time.Duration // from the start until ready
	elapsed            time.Duration // from the first message until converged (or the end)
	bytes              uint64
	datagrams, dropped uint64
	lacking            []string
	missing            int    // (peer, message) pairs still missing at the end
	deliveries         uint64 // (peer, message) pairs that arrived over the network
	duplicates         uint64 // messages received that the peer held already
	// The Verifiers' counts (dispersy.VerifierStats), summed over peers.
	sigChecks, knownSkips, sameSkips uint64
	catchup                          *catchup.Stats // summed over peers; nil when off
	cpu                              time.Duration
	maxRSS                           uint64
	idleCores                        float64 // -1: not measured
	preloadTime                      time.Duration
	latency                          latencyReport
}

// report is the -json output.
type report struct {
	Peers            int     `json:"peers"`
	Messages         int     `json:"messages"`
	Publishers       int     `json:"publishers"`
	Step             string  `json:"step"`
	Loss             float64 `json:"loss"`
	Ready            bool    `json:"ready"`
	Converged        bool    `json:"converged"`
	ReadySeconds     float64 `json:"ready_seconds"`
	Seconds          float64 `json:"seconds"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	BytesSent        uint64  `json:"bytes_sent"`
	DatagramsSent    uint64  `json:"datagrams_sent"`
	Deliveries       uint64  `json:"deliveries"`
	BytesPerDelivery float64 `json:"bytes_per_delivery"`
	MaxRSSMB         float64 `json:"max_rss_mb"`
	MissingAtEnd     int     `json:"missing_at_end"`
	Duplicates       uint64  `json:"duplicates"`
	// The packets whose signatures the peers' Verifiers checked, and those
	// they did not check: stored lately (known) or byte-identical to one
	// verified lately (same); dispersy.VerifierStats.
	SignatureChecks uint64 `json:"signature_checks"`
	SkippedKnown    uint64 `json:"skipped_known"`
	SkippedSame     uint64 `json:"skipped_same"`
	// Catchup is the peers' catch-up counters (catchup.Stats), summed,
	// when -reconcile is on.
	Catchup      *catchup.Stats `json:"catchup,omitempty"`
	IdleSeconds  float64        `json:"idle_seconds,omitempty"`
	IdleCPUCores *float64       `json:"idle_cpu_cores,omitempty"`
	// Preloaded is -preload: chat lines every store held at the start,
	// written in PreloadSeconds (before ready_seconds starts).
	Preloaded      int     `json:"preloaded,omitempty"`
	PreloadSeconds float64 `json:"preload_seconds,omitempty"`
	latencyReport
}

func (r result) report(o options) report {
	rep := report{
		Peers: o.peers, Messages: r.messages, Publishers: o.publishers,
		Step: o.step.String(), Loss: o.loss,
		Ready: r.ready, Converged: r.converged,
		ReadySeconds: r.readyAfter.Seconds(), Seconds: r.elapsed.Seconds(),
		CPUSeconds: r.cpu.Seconds(), BytesSent: r.bytes, DatagramsSent: r.datagrams,
		Deliveries: r.deliveries, MaxRSSMB: float64(r.maxRSS) / (1 << 20),
		MissingAtEnd: r.missing, Duplicates: r.duplicates, latencyReport: r.latency,
		SignatureChecks: r.sigChecks, SkippedKnown: r.knownSkips, SkippedSame: r.sameSkips, Catchup: r.catchup,
	}
	if r.deliveries > 0 {
		rep.BytesPerDelivery = float64(r.bytes) / float64(r.deliveries)
	}
	rep.Preloaded, rep.PreloadSeconds = o.preload, r.preloadTime.Seconds()
	if r.idleCores >= 0 {
		c := r.idleCores
		rep.IdleCPUCores, rep.IdleSeconds = &c, o.idle.Seconds()
	}
	return rep
}

// minSteps is how many walker steps a run needs at the least: the first
// walks, then the pull rounds that carry the messages.
const minSteps = 20

// hint says what to change after a run that did not converge.
func (r result) hint(o options) string {
	steps := int(o.timeout / o.step)
	switch {
	case steps < minSteps:
		return fmt.Sprintf("-timeout %v holds only %d walker steps of %v; use a shorter -step (e.g. -step 200ms) or a longer -timeout (at least %v)",
			o.timeout, steps, o.step, minSteps*o.step)
	case !r.ready:
		return "the peers walk from peer 0's address: check that loopback UDP is not filtered, or raise -timeout"
	case o.loss >= 0.3:
		return fmt.Sprintf("-loss %v drops many datagrams; lower -loss or raise -timeout", o.loss)
	}
	return fmt.Sprintf("-timeout %v held %d walker steps; raise -timeout, or shorten -step to pull more often (the machine may be too busy for -peers %d)",
		o.timeout, steps, o.peers)
}

// run sets everything up, waits until the peers have found each other,
// creates the messages and waits for convergence. Its error is a local
// failure.
func (d *runner) run(ctx context.Context) (result, error) {
	res := result{idleCores: -1}
	if err := d.folder(); err != nil {
		return res, err
	}
	if err := d.preloadStores(&res); err != nil {
		return res, err
	}
	t0 := time.Now()
	d.deadline = t0.Add(d.o.timeout)
	if err := d.start(ctx); err != nil {
		return res, err
	}
	d.lat = sampleLatency(d.peers)
	if err := d.serveStatus(); err != nil {
		return res, err
	}
	want, err := d.existing()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(d.stderr, "%d peers started; waiting until each has %d verified candidates\n", len(d.peers), min(readyCandidates, len(d.peers)-1))
	ok, why, err := d.waitReady(ctx)
	if err != nil {
		return res, err
	}
	res.readyAfter = time.Since(t0)
	if !ok {
		res.notReady = why
		d.finish(&res)
		return res, nil
	}
	res.ready = true
	if d.o.blackout {
		for _, p := range d.peers {
			p.ep.blackout.Store(true)
		}
	}
	before, err := d.look(want)
	if err != nil {
		return res, err
	}
	start := time.Now()
	made, err := d.create(ctx, want)
	if err != nil {
		return res, err
	}
	if err := d.wait(ctx, want, start, &res); err != nil {
		return res, err
	}
	// Every (peer, message) pair missing before the creation, and every new
	// message at every peer but its creator, had to cross the network.
	needed := uint64(before.missing) + uint64(made)*uint64(len(d.peers)-1)
	res.deliveries = needed - uint64(min(uint64(res.missing), needed))
	d.finish(&res)
	if res.converged && d.o.idle > 0 {
		if err := d.measureIdle(ctx, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// preloadStores writes -preload chat lines into every peer's store file
// before any node starts: the latejoin scenario's history, created and
// signed once. -timeout counts from its end.
func (d *runner) preloadStores(res *result) error {
	if d.o.preload == 0 {
		return nil
	}
	t0 := time.Now()
	fmt.Fprintf(d.stderr, "creating %d chat lines and writing them into %d stores\n", d.o.preload, d.o.peers)
	h, err := makeChatHistory(d.o.seed, d.o.preload)
	if err != nil {
		return err
	}
	for i := range d.o.peers {
		st, err := database.Open(d.storePath(i), database.Options{ReadConns: 1})
		if err != nil {
			return storeFailure(i, d.storePath(i), err)
		}
		err = h.write(st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return failf("writing the preloaded chat lines into the store of peer %d: %v", i, err)
		}
	}
	res.preloadTime = time.Since(t0)
	return nil
}

// storePath is peer i's store file.
func (d *runner) storePath(i int) string { return filepath.Join(d.dir, fmt.Sprintf("peer%02d.db", i)) }

// finish records the traffic and the process's resources at the end of
// the run.
func (d *runner) finish(res *result) {
	res.latency = d.lat.stop()
	for _, p := range d.peers {
		res.bytes += p.ep.bytes.Load()
		res.datagrams += p.ep.datagrams.Load()
		res.dropped += p.ep.dropped.Load()
	}
	res.cpu, res.maxRSS, _ = usage()
	for _, p := range d.peers {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		st, err := p.node.Stats(ctx)
		if err == nil {
			err = p.node.Do(ctx, func(e *dispersy.Engine) error {
				v := e.Verifier().Stats()
				res.sigChecks, res.knownSkips, res.sameSkips = res.sigChecks+v.Verified, res.knownSkips+v.Known, res.sameSkips+v.Same
				if cs := catchupStats(e); cs != nil {
					if res.catchup == nil {
						res.catchup = &catchup.Stats{}
					}
					res.catchup.Add(*cs)
				}
				return nil
			})
		}
		if err == nil {
			res.duplicates += st.DroppedBy(dispersy.DropDuplicate)
			res.latency.Shed += st.DroppedBy(dispersy.DropOverload) + st.DroppedBy(dispersy.DropQueueFull)
		}
		cancel()
	}
}

// measureIdle lets the converged peers run for -idle and records the
// process's CPU over it, in cores.
// With -idleprofile it writes a CPU profile of that phase.
func (d *runner) measureIdle(ctx context.Context, res *result) error {
	if d.o.idleprof != "" {
		stop, err := startProfile(d.o.idleprof)
		if err != nil {
			return err
		}
		defer stop()
	}
	cpu0, _, ok := usage()
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return failf("interrupted")
	case <-time.After(d.o.idle):
	}
	cpu1, rss, _ := usage()
	if ok {
		res.idleCores = (cpu1 - cpu0).Seconds() / time.Since(t0).Seconds()
		res.maxRSS = max(res.maxRSS, rss)
	}
	return nil
}

// readyCandidates is how many verified candidates (peers it exchanged
// messages with recently) each peer needs before the messages are created:
// a peer that knows only the bootstrap peer has not joined the overlay yet.
const readyCandidates = 2

// waitReady polls the peers until each has min(readyCandidates, peers-1)
// verified candidates, or the deadline passes (ok false, why says which
// peers are short).
func (d *runner) waitReady(ctx context.Context) (ok bool, why string, err error) {
	need := min(readyCandidates, len(d.peers)-1)
	for {
		// Read before the poll: peers found ready after the deadline were
		// not ready within -timeout.
		late := time.Now().After(d.deadline)
		short := 0
		for _, p := range d.peers {
			var n int
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			err := p.node.Do(cctx, func(e *dispersy.Engine) error {
				n = len(p.comm.Table().Verified(e.Now()))
				return nil
			})
			cancel()
			if err != nil {
				return false, "", d.callFailure(ctx, p, "list its candidates", err)
			}
			if n < need {
				short++
			}
		}
		if short == 0 && !late {
			return true, "", nil
		}
		if late {
			return false, fmt.Sprintf("%d of %d peers have fewer than %d verified candidates", short, len(d.peers), need), nil
		}
		select {
		case <-ctx.Done():
			return false, "", failf("interrupted")
		case <-time.After(min(50*time.Millisecond, time.Until(d.deadline)+time.Millisecond)):
		}
	}
}

// folder prepares the store folder: -dir (created if needed, checked
// writable) or a new temporary folder.
func (d *runner) folder() error {
	if d.o.dir == "" {
		dir, err := os.MkdirTemp("", "dispersy-demo-")
		if err != nil {
			return failf("cannot create a temporary folder: %v", err)
		}
		d.dir, d.tmp = dir, true
		return nil
	}
	d.dir = d.o.dir
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return failf("cannot use folder %s: %v", d.dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(d.dir, ".demo-write-check-")
	if err != nil {
		return failf("folder %s is not writable: %v", d.dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath drops the operation and path from an *os.PathError, which the
// sentences around it already name.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// start opens every peer's store and socket, starts its node and joins the
// chat community; peer 0 signs with the master key.
func (d *runner) start(ctx context.Context) error {
	for i := range d.o.peers {
		if err := d.startPeer(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// startPeer opens peer i's store and socket, starts its node (bootstrapping
// from peer 0, unless it is peer 0) and joins the chat community.
func (d *runner) startPeer(ctx context.Context, i int) error {
	o := d.o
	master := masterKey(o.seed)
	var tracker []netip.AddrPort
	if i > 0 {
		tracker = []netip.AddrPort{d.peers[0].ep.LocalAddr()}
	}
	p := &peer{index: i, key: peerKey(o.seed, i), path: d.storePath(i), done: make(chan error, 1)}
	st, err := database.Open(p.path, database.Options{ReadConns: 1})
	if err != nil {
		return storeFailure(i, p.path, err)
	}
	p.store = st
	d.peers = append(d.peers, p)
	if d.preload != nil {
		if err := d.preload(p); err != nil {
			return err
		}
	}

	addr := "127.0.0.1:0"
	if o.port > 0 {
		addr = "127.0.0.1:" + strconv.Itoa(o.port+i)
	}
	ue, err := udp.Listen(addr, udp.DefaultConfig())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return failf("peer %d cannot listen on %s: the port is in use; choose another -port (0 picks free ports)", i, addr)
		}
		return failf("peer %d cannot listen on %s: %v", i, addr, errors.Unwrap(err))
	}
	p.ep = newLossy(ue, o.loss, rand.New(rand.NewPCG(o.seed, 1<<32|uint64(i))))

	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Walker = walker.DefaultConfig().Scaled(o.step)
	cfg.Engine.LocalAddr = ue.LocalAddr()
	cfg.Engine.Bootstrap = tracker
	cfg.Engine.Rand = rand.New(rand.NewPCG(o.seed, uint64(i)+1))
	if o.reconcile {
		catchup.Enable(&cfg.Engine, catchup.Options{})
	}
	node, err := dispersy.NewNode(cfg, p.key, st, p.ep)
	if err != nil {
		ue.Close()
		return failf("peer %d: %v", i, err)
	}
	p.node = node
	go func() { p.done <- node.Run(context.Background()) }()

	var opts []dispersy.JoinOption
	if i == 0 {
		opts = append(opts, dispersy.WithMember(master))
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	p.comm, err = node.Join(cctx, chat.New(master.Public()), opts...)
	cancel()
	if err != nil {
		return d.callFailure(ctx, p, "join the chat community", err)
	}
	return nil
}

// storeFailure explains why a store file did not open.
func storeFailure(i int, path string, err error) error {
	var ve *database.VersionError
	switch {
	case errors.As(err, &ve):
		return failf("the store of peer %d (%s) cannot be used: %v", i, path, strings.TrimPrefix(err.Error(), "database: "))
	case errors.Is(err, database.ErrCorrupt), errors.Is(err, database.ErrForeign):
		return failf("the store of peer %d (%s) is damaged or is not a dispersy-go store; move it away or choose another -dir", i, path)
	case errors.Is(err, database.ErrLocked):
		return failf("the store of peer %d (%s) is locked by another program; stop it or choose another -dir", i, path)
	}
	return failf("cannot open the store of peer %d (%s): %v", i, path, unwrapPath(err))
}

// callFailure describes a failed call into a node: interrupted, the node
// stopped, or the call itself failed.
func (d *runner) callFailure(ctx context.Context, p *peer, what string, err error) error {
	if ctx.Err() != nil {
		return failf("interrupted")
	}
	select {
	case rerr := <-p.done:
		p.done <- rerr
		if rerr != nil {
			return failf("peer %d stopped: %v", p.index, rerr)
		}
	default:
	}
	return failf("peer %d could not %s: %v", p.index, what, err)
}

// expected is the set of message hashes every peer must end with, per
// chat type.
type expected map[uint8]map[dispersy.Hash]bool

func (e expected) add(id uint8, h dispersy.Hash) {
	if e[id] == nil {
		e[id] = map[dispersy.Hash]bool{}
	}
	e[id][h] = true
}

// existing collects the chat lines and announcements already stored (a
// second run on the same -dir): they belong to the expected set too, as do
// stored statuses of members that do not post now. The statuses of this
// run's publishers are not: each of them replaces its own.
func (d *runner) existing() (expected, error) {
	want := expected{}
	posting := map[keys.MemberID]bool{}
	for _, p := range d.peers[:d.o.publishers] {
		posting[p.comm.Me().ID()] = true
	}
	for _, p := range d.peers {
		for _, id := range []uint8{chat.IDMessage, chat.IDModerator} {
			hs, err := hashes(p, id)
			if err != nil {
				return nil, err
			}
			for h := range hs {
				want.add(id, h)
			}
		}
		err := p.store.Range(dispersy.RangeQuery{Community: p.comm.ID(), MessageID: chat.IDStatus, Low: 1, High: conversion.MaxGlobalTime}, func(r *dispersy.Record) bool {
			if !posting[r.Member] {
				want.add(chat.IDStatus, r.Hash)
			}
			return true
		})
		if err != nil {
			return nil, failf("reading the store of peer %d: %v", p.index, err)
		}
	}
	return want, nil
}

// create makes every publisher post its share of the chat lines between
// two status updates (the second replaces the first: last-1), and the
// master holder (peer 0, always a publisher) post a moderator
// announcement. It adds their hashes to want and returns how many of them
// there are.
func (d *runner) create(ctx context.Context, want expected) (made int, err error) {
	o := d.o
	for _, p := range d.peers[:o.publishers] {
		n := o.messages / o.publishers
		if p.index < o.messages%o.publishers {
			n++
		}
		var lines []dispersy.Hash
		var status dispersy.Hash
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := p.node.Do(cctx, func(*dispersy.Engine) error {
			if _, err := chat.SetStatus(p.comm, "joined"); err != nil {
				return err
			}
			if p.index == 0 {
				m, err := chat.Announce(p.comm, "welcome to the demo; be nice")
				if err != nil {
					return err
				}
				want.add(chat.IDModerator, dispersy.PacketHash(m.Packet))
				made++
			}
			for j := range n {
				m, err := chat.Say(p.comm, fmt.Sprintf("peer%02d", p.index), fmt.Sprintf("line %d of %d", j+1, n))
				if err != nil {
					return err
				}
				lines = append(lines, dispersy.PacketHash(m.Packet))
			}
			m, err := chat.SetStatus(p.comm, fmt.Sprintf("posted %d lines", n))
			if err != nil {
				return err
			}
			status = dispersy.PacketHash(m.Packet)
			return nil
		})
		cancel()
		if err != nil {
			return 0, d.callFailure(ctx, p, "create its messages", err)
		}
		for _, h := range lines {
			want.add(chat.IDMessage, h)
		}
		want.add(chat.IDStatus, status)
		made += len(lines) + 1
	}
	return made, nil
}

// hashes returns the live messages of type id that p stores.
func hashes(p *peer, id uint8) (map[dispersy.Hash]bool, error) {
	out := map[dispersy.Hash]bool{}
	err := p.store.Scan(dispersy.ScanQuery{Community: p.comm.ID(), Types: []uint8{id}, From: 1}, func(r dispersy.ScanRow) bool {
		out[r.Hash] = true
		return true
	})
	if err != nil {
		return nil, failf("reading the store of peer %d: %v", p.index, err)
	}
	return out, nil
}

// typeNames are the chat types in report order, with their plural names.
var typeNames = []struct {
	id   uint8
	name string
}{{chat.IDMessage, "messages"}, {chat.IDStatus, "statuses"}, {chat.IDModerator, "moderator announcements"}}

// state is one look at every store.
type state struct {
	onAll     int  // expected chat lines every peer holds
	missing   int  // expected (peer, message) pairs not held, every type
	converged bool // every peer holds exactly the expected messages
	lacking   []string
}

// look reads every store and compares it with want.
func (d *runner) look(want expected) (state, error) {
	var s state
	onAll := map[dispersy.Hash]int{}
	s.converged = true
	for _, p := range d.peers {
		var parts []string
		extra := 0
		for _, t := range typeNames {
			have, err := hashes(p, t.id)
			if err != nil {
				return s, err
			}
			missing := 0
			for h := range want[t.id] {
				if !have[h] {
					missing++
				} else if t.id == chat.IDMessage {
					onAll[h]++
				}
			}
			for h := range have {
				if !want[t.id][h] {
					extra++
				}
			}
			s.missing += missing
			if missing > 0 {
				parts = append(parts, fmt.Sprintf("%d of %d %s", missing, len(want[t.id]), t.name))
			}
		}
		if len(parts) > 0 {
			s.converged = false
			s.lacking = append(s.lacking, fmt.Sprintf("peer %d lacks %s", p.index, strings.Join(parts, ", ")))
		}
		if extra > 0 {
			// A peer holding a message nobody expects (an old status that a
			// newer one has not replaced yet) has not settled either.
			s.converged = false
		}
	}
	for _, n := range onAll {
		if n == len(d.peers) {
			s.onAll++
		}
	}
	return s, nil
}

// wait polls the stores until every peer holds the expected messages, the
// run's deadline passes, ctx ends or a node stops. It fills res.
func (d *runner) wait(ctx context.Context, want expected, start time.Time, res *result) error {
	total := len(want[chat.IDMessage])
	bar := newProgress(d.stderr)
	defer bar.finish()
	res.messages = total
	var lastLook time.Time
	for {
		// Reading every store costs CPU that -json's cpu_seconds counts:
		// look in full once a second (the progress bar) and when every
		// peer holds as many messages as expected, count rows otherwise.
		if time.Since(lastLook) < time.Second {
			done, err := d.counted(want)
			if err != nil {
				return err
			}
			if !done && time.Now().Before(d.deadline) {
				if err := d.pause(ctx, 100*time.Millisecond); err != nil {
					return err
				}
				continue
			}
		}
		lastLook = time.Now()
		s, err := d.look(want)
		if err != nil {
			return err
		}
		now := time.Now()
		bar.update(now, s.onAll, total)
		res.onAll, res.lacking, res.missing = s.onAll, s.lacking, s.missing
		res.elapsed = now.Sub(start)
		if s.converged {
			res.converged = true
			return nil
		}
		if now.After(d.deadline) {
			if len(res.lacking) == 0 {
				res.lacking = []string{"every peer holds the expected messages, but some still hold statuses that newer ones replace"}
			}
			return nil
		}
		// Poll at most every 100 ms, and never spend more than a third of
		// the time reading stores.
		if err := d.pause(ctx, max(100*time.Millisecond, 2*time.Since(now))); err != nil {
			return err
		}
	}
}

// pause waits for d unless ctx ends or a node stops.
func (d *runner) pause(ctx context.Context, dur time.Duration) error {
	for _, p := range d.peers {
		select {
		case err := <-p.done:
			p.done <- err
			if err == nil {
				err = errors.New("its runner returned")
			}
			return failf("peer %d stopped: %v", p.index, err)
		default:
		}
	}
	select {
	case <-ctx.Done():
		return failf("interrupted")
	case <-time.After(dur):
		return nil
	}
}

// counted reports whether every peer stores as many live chat messages as
// want holds: necessary for convergence, and one count per store not yet
// full (a peer's count does not shrink: a status replaces its
// predecessor), so that the demo's polling costs the nodes little CPU.
func (d *runner) counted(want expected) (bool, error) {
	n := 0
	for _, hs := range want {
		n += len(hs)
	}
	for _, p := range d.peers {
		if p.full {
			continue
		}
		c, err := p.store.Count(p.comm.ID(), []uint8{chat.IDMessage, chat.IDStatus, chat.IDModerator})
		if err != nil {
			return false, failf("reading the store of peer %d: %v", p.index, err)
		}
		if c < n {
			return false, nil
		}
		p.full = true
	}
	return true, nil
}

// close stops every node (waiting for its runner), closes every store and
// removes a temporary folder. It returns the first problem.
func (d *runner) close() error {
	if d.stopHTTP != nil {
		d.stopHTTP()
	}
	var first error
	for _, p := range d.peers {
		if p.node != nil {
			p.node.Close()
			if err := <-p.done; err != nil && first == nil {
				first = failf("peer %d stopped: %v", p.index, err)
			}
		} else if p.ep != nil {
			p.ep.Close()
		}
		if p.store != nil {
			if err := p.store.Close(); err != nil && first == nil {
				first = failf("closing the store of peer %d: %v", p.index, err)
			}
		}
	}
	if d.tmp {
		os.RemoveAll(d.dir)
	}
	return first
}
