package dispersy

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/parallel"
	"github.com/dispersy-go/dispersy/keys"
)

// NodeConfig tunes a Node: the engine's Config plus the runner's queues.
type NodeConfig struct {
	Engine Config
	// QueueSize bounds the datagrams waiting between the socket and the
	// engine in each of two queues (requests from peers; the rest); when
	// one is full, arrivals are dropped and counted (DropQueueFull) instead
	// of blocking the socket reader. docs/security.md, "Overload and
	// shedding", says which requests are shed unverified (DropOverload).
	QueueSize int
	// BatchSize is the most datagrams handed to the engine at once (one
	// store transaction).
	BatchSize int
	// Verifiers is the number of goroutines that check signatures ahead of
	// the engine. 0 means runtime.GOMAXPROCS(0).
	Verifiers int
	// BootstrapHosts are tracker addresses as "host:port", where host may
	// be a name ("tracker.example.org:6421", "localhost:6421"). Run
	// resolves them through the endpoint (a Resolver, as udp.Endpoint is)
	// at start, again every BootstrapRefresh, and every 30 s (at most
	// BootstrapRefresh) while one fails; the engine walks to the union of
	// Engine.Bootstrap and the last addresses each name resolved to.
	BootstrapHosts []string
	// BootstrapRefresh is how often BootstrapHosts are resolved again.
	// 0 means 5 minutes.
	BootstrapRefresh time.Duration
}

// Resolver is implemented by endpoints that look up host names
// (udp.Endpoint): Resolve returns the addresses of hostport ("host:port")
// the endpoint can send to.
type Resolver interface {
	Resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error)
}

// DefaultNodeConfig returns DefaultConfig for the engine and queue sizes
// that absorb bursts of sync answers.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{Engine: DefaultConfig(), QueueSize: 8192, BatchSize: 1024}
}

// Validate reports every problem with c.
func (c NodeConfig) Validate() error {
	var errs []error
	if err := c.Engine.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("NodeConfig.QueueSize (%d) must be >= 1", c.QueueSize))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("NodeConfig.BatchSize (%d) must be >= 1", c.BatchSize))
	}
	if c.Verifiers < 0 {
		errs = append(errs, fmt.Errorf("NodeConfig.Verifiers (%d) must be >= 0", c.Verifiers))
	}
	for i, h := range c.BootstrapHosts {
		colon := strings.LastIndexByte(h, ':')
		if port, err := strconv.ParseUint(h[colon+1:], 10, 16); colon < 1 || err != nil || port == 0 {
			errs = append(errs, fmt.Errorf("NodeConfig.BootstrapHosts[%d] (%q) must be host:port with a port in 1..65535", i, h))
		}
	}
	if c.BootstrapRefresh < 0 {
		errs = append(errs, fmt.Errorf("NodeConfig.BootstrapRefresh (%v) must be >= 0", c.BootstrapRefresh))
	}
	return errors.Join(errs...)
}

// ErrNodeClosed: the node is closed or its Run returned.
var ErrNodeClosed = errors.New("dispersy: node closed")

// Node runs an Engine on real time and a real Endpoint: one goroutine owns
// the engine (Run), a reader goroutine takes datagrams off the endpoint, and
// a verifier stage checks signatures in parallel, keeping arrival order.
// Its methods are safe for concurrent use.
type Node struct {
	cfg NodeConfig
	eng *Engine
	ep  Endpoint

	raw      chan queued // answers and messages
	rawReq   chan queued // requests from other peers, shed first
	verified chan []Inbound
	reqs     chan func()

	mu struct {
		sync.Mutex
		running bool
		closed  bool
	}
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when Run returns
	stop      chan struct{} // closed by Run to stop its goroutines
	queueDrop atomic.Uint64
	shed      atomic.Uint64 // DropOverload
}

// queued is a datagram waiting for the verifier, with its arrival time.
type queued struct {
	Inbound
	at time.Time
}

// requestIDs are the message ids of requests: they ask the node for work.
var requestIDs = [256]bool{IDIntroductionRequest: true, IDPunctureRequest: true, IDMissingIdentity: true, IDMissingMessage: true, IDMissingProof: true, IDMissingSequence: true, IDSignatureRequest: true}

// NewNode returns a node that signs with me, persists to store and talks
// through ep. Call Run to start it.
func NewNode(cfg NodeConfig, me *keys.PrivateKey, store Store, ep Endpoint) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispersy: invalid NodeConfig: %w", err)
	}
	if ep == nil {
		return nil, errors.New("dispersy: NewNode needs an Endpoint (udp.Listen)")
	}
	if _, ok := ep.(Resolver); len(cfg.BootstrapHosts) > 0 && !ok {
		return nil, errors.New("dispersy: NodeConfig.BootstrapHosts needs an Endpoint that resolves host names (udp.Endpoint)")
	}
	if cfg.BootstrapRefresh == 0 {
		cfg.BootstrapRefresh = 5 * time.Minute
	}
	if !cfg.Engine.LocalAddr.IsValid() || cfg.Engine.LocalAddr.Addr().IsUnspecified() {
		cfg.Engine.LocalAddr = ep.LocalAddr()
		if la, ok := ep.(interface{ LANAddr() netip.AddrPort }); ok {
			cfg.Engine.LocalAddr = la.LANAddr()
		}
	}
	if cfg.Engine.Rand == nil {
		// A real node's choices (request identifiers, walk targets) must
		// not follow from its public member id, as NewEngine's
		// reproducible default (for the simulator) does.
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails (Go 1.24)
		cfg.Engine.Rand = rand.New(rand.NewChaCha8(seed))
	}
	eng, err := NewEngine(cfg.Engine, me, store)
	if err != nil {
		return nil, err
	}
	// The verifier must exist before Run starts the goroutine that uses
	// it: creating it later would race with Join on the loop goroutine.
	eng.Verifier()
	if cfg.Verifiers == 0 {
		cfg.Verifiers = runtime.GOMAXPROCS(0)
	}
	return &Node{
		cfg:      cfg,
		eng:      eng,
		ep:       ep,
		raw:      make(chan queued, cfg.QueueSize),
		rawReq:   make(chan queued, cfg.QueueSize),
		verified: make(chan []Inbound, 2),
		reqs:     make(chan func()),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
	}, nil
}

// Endpoint returns the node's endpoint.
func (n *Node) Endpoint() Endpoint { return n.ep }

// Run drives the engine until ctx is done, Close is called, or a local
// failure stops the engine (its error is returned). It may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.mu.running || n.mu.closed {
		n.mu.Unlock()
		return fmt.Errorf("%w: Run may be called once", ErrNodeClosed)
	}
	n.mu.running = true
	n.mu.Unlock()
	defer close(n.done)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.read() }()
	go func() { defer wg.Done(); n.verify() }()
	rctx, cancel := context.WithCancel(ctx)
	if len(n.cfg.BootstrapHosts) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); n.resolve(rctx) }()
	}
	err := n.loop(ctx)
	cancel()
	close(n.stop)
	_ = n.ep.Close()
	wg.Wait()
	return err
}

// read takes datagrams off the endpoint and queues copies.
func (n *Node) read() {
	buf := make([]byte, n.cfg.Engine.MaxDatagram+1)
	var bySource map[netip.AddrPort]sendWindow // requests queued per source
	for {
		size, from, err := n.ep.Receive(buf)
		if err != nil {
			if errors.Is(err, ErrEndpointClosed) {
				return
			}
			select {
			case <-n.stop:
				return
			default:
				continue
			}
		}
		d := queued{Inbound{Addr: from, Data: append([]byte(nil), buf[:size]...)}, time.Now()}
		q := n.raw
		if size > conversion.PrefixSize && requestIDs[d.Data[conversion.PrefixSize]] {
			q = n.rawReq
			// Under load, one source gets a bounded share of the queue.
			if len(q) >= loopSlice && !allowEvery(&bySource, from, d.at, n.cfg.Engine.Walker.StepInterval, maxPunctureRequests, n.cfg.Engine.MaxTrackedAddresses) {
				n.shed.Add(1)
				continue
			}
		}
		select {
		case q <- d:
		default:
			n.queueDrop.Add(1)
		}
	}
}

// verify groups queued datagrams into batches, answers and messages
// before requests, sheds what the node cannot keep up with (NodeConfig.
// QueueSize) and checks the signatures of the rest in parallel.
func (n *Node) verify() {
	v := n.eng.Verifier()
	maxWait := n.cfg.Engine.Walker.IntroRequestTimeout / 2
	for {
		var batch []Inbound
		take := func(d queued, req bool) {
			if req && time.Since(d.at) > maxWait { // its sender gave up
				n.shed.Add(1)
				return
			}
			batch = append(batch, d.Inbound)
		}
		select {
		case d := <-n.raw:
			take(d, false)
		case d := <-n.rawReq:
			take(d, true)
		case <-n.stop:
			return
		}
	drain:
		for len(batch) < n.cfg.BatchSize {
			select {
			case d := <-n.raw:
				take(d, false)
				continue
			default:
			}
			select {
			case d := <-n.rawReq:
				take(d, true)
			default:
				break drain
			}
		}
		// Workers yield after each check so that engine loops do not wait
		// behind them.
		parallel.For(len(batch), n.cfg.Verifiers, func(i int) { v.Check(&batch[i]); runtime.Gosched() })
		select {
		case n.verified <- batch:
		case <-n.stop:
			return
		}
	}
}

// loopSlice bounds the datagrams the engine takes between two looks at the
// API calls waiting; a slice is halved while it takes over sliceTime.
const loopSlice, sliceTime = 64, 10 * time.Millisecond

// loop is the only code that touches the engine while Run is active. API
// calls go first, then a slice of a batch or a timer (batch boundaries do
// not change outcomes: TestBatchSplitProperty).
func (n *Node) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if err := n.eng.Tick(time.Now()); err != nil {
		return err
	}
	var pending []Inbound
	slice, busyUntil := loopSlice, time.Time{}
	for {
		n.flushOut()
		if d, ok := n.eng.NextDeadline(); ok {
			timer.Reset(max(time.Until(d), 0))
		} else {
			timer.Reset(time.Hour)
		}
		in, next := n.verified, (chan struct{})(nil)
		if len(pending) > 0 {
			in, next = nil, closed
		}
		var err error
		select {
		case req := <-n.reqs:
			n.eng.SetTime(time.Now())
			req()
		default:
			select {
			case pending = <-in:
			case <-next:
				k, t0 := min(len(pending), slice), time.Now()
				n.eng.busy = t0.Before(busyUntil)
				err = n.eng.ReceiveInbound(t0, pending[:k])
				pending = pending[k:]
				n.flushOut()
				if d := time.Since(t0); d > sliceTime {
					slice = max(slice/2, 1)
				} else if d < sliceTime/4 {
					slice = min(slice*2, loopSlice)
				}
			case <-timer.C:
				err = n.eng.Tick(time.Now())
			case req := <-n.reqs:
				n.eng.SetTime(time.Now())
				req()
			case <-ctx.Done():
				return ctx.Err()
			case <-n.quit:
				return nil
			}
		}
		if err == nil {
			// A request (Do) may have failed the engine: stop now, not at
			// the next datagram.
			err = n.eng.Err()
		}
		if err != nil {
			return err
		}
		if qd := n.queueDrop.Swap(0); qd > 0 {
			n.eng.stats.Dropped[DropQueueFull] += qd
		}
		if sh := n.shed.Swap(0); sh > 0 {
			n.eng.stats.Dropped[DropOverload] += sh
			if sh >= loopSlice { // flooded: answer without sync for a step
				busyUntil = time.Now().Add(n.cfg.Engine.Walker.StepInterval)
			}
		}
	}
}

// closed is a closed channel: a select case on it is always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// resolve resolves NodeConfig.BootstrapHosts until ctx is done and hands
// the engine the bootstrap addresses. A name that fails keeps the
// addresses it last resolved to.
func (n *Node) resolve(ctx context.Context) {
	r := n.ep.(Resolver)
	last := make([][]netip.AddrPort, len(n.cfg.BootstrapHosts))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		all := slices.Clone(n.cfg.Engine.Bootstrap)
		wait := n.cfg.BootstrapRefresh
		for i, h := range n.cfg.BootstrapHosts {
			addrs, err := r.Resolve(ctx, h)
			if err != nil {
				n.cfg.Engine.Logger.Warn().Err(err).Str("host", h).Msg("cannot resolve bootstrap host; retrying")
				wait = min(wait, 30*time.Second)
			} else {
				last[i] = addrs
			}
			all = append(all, last[i]...)
		}
		slices.SortFunc(all, netip.AddrPort.Compare)
		all = slices.Compact(all)
		select {
		case n.reqs <- func() { n.eng.SetBootstrap(all) }:
		case <-ctx.Done():
			return
		}
		timer.Reset(wait)
	}
}

// flushOut sends the engine's outbound datagrams.
func (n *Node) flushOut() {
	for _, d := range n.eng.Ready() {
		_ = n.ep.Send(d.Addr, d.Data)
	}
}

// Do runs fn on the engine's goroutine and returns its error. fn must not
// block. It fails with ErrNodeClosed when the node is not running.
func (n *Node) Do(ctx context.Context, fn func(e *Engine) error) error {
	errc := make(chan error, 1)
	req := func() { errc <- fn(n.eng) }
	select {
	case n.reqs <- req:
	case <-n.done:
		return ErrNodeClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Join joins a community on the engine's goroutine; see Engine.Join.
func (n *Node) Join(ctx context.Context, overlay Overlay, opts ...JoinOption) (*Community, error) {
	var c *Community
	err := n.Do(ctx, func(e *Engine) error {
		var err error
		c, err = e.Join(overlay, opts...)
		return err
	})
	return c, err
}

// Stats returns the engine's counters.
func (n *Node) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := n.Do(ctx, func(e *Engine) error { s = e.Stats(); return nil })
	return s, err
}

// Close stops Run and closes the endpoint, waiting for Run to return when
// it is running. It does not close the store, which the caller opened.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.closed = true
	running := n.mu.running
	close(n.quit)
	n.mu.Unlock()
	if !running {
		return n.ep.Close()
	}
	<-n.done
	return nil
}
