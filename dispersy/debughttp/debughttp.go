// Package debughttp serves an operator's view of a node over HTTP, in the
// spirit of net/http/pprof: an [http.Handler] the application mounts where
// it wants. It answers three paths, relative to where it is mounted:
//
//   - "" (the mount point itself, e.g. /debug/dispersy/): a status page in
//     HTML that a person reads at a glance: peers, messages per community,
//     drop reasons and live charts of the rates over the last minutes. The
//     page, its script and its style are embedded in the binary; it loads
//     nothing from elsewhere.
//   - status.json: the same state as JSON ([Status]): the node, its
//     communities and peers, its counters, recent drops and the rate
//     history.
//   - metrics: the Prometheus text format, from [metrics.Collector].
//
// Mount it on a prefix that ends with a slash, with or without
// [http.StripPrefix]:
//
//	h := debughttp.New(node, nil)
//	defer h.Close()
//	mux.Handle("/debug/dispersy/", h)
//
// The handler samples the node's snapshot every [Options.Interval] from its
// first request until [Handler.Close], to build the rate history and the
// list of recent drops. The page exposes peer addresses and member ids:
// serve it on a loopback address or behind the application's access
// control.
package debughttp

import (
	"context"
	"embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/metrics"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

//go:embed static
var static embed.FS

// Options tune a Handler; the zero value (or nil) takes the defaults.
type Options struct {
	// Interval is how often the node is sampled for the rate history
	// (default 1 s).
	Interval time.Duration
	// History is how many samples are kept (default 300: five minutes at
	// one per second).
	History int
	// RecentDrops is how many recent drop events are kept (default 50).
	RecentDrops int
	// Timeout bounds one snapshot (default 5 s).
	Timeout time.Duration
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Interval <= 0 {
		d.Interval = time.Second
	}
	if d.History <= 0 {
		d.History = 300
	}
	if d.RecentDrops <= 0 {
		d.RecentDrops = 50
	}
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Second
	}
	return d
}

// Handler serves the status page, status.json and metrics of one node.
// Its methods are safe for concurrent use.
type Handler struct {
	src     metrics.Source
	opts    Options
	metrics http.Handler

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	history ring[Rates]
	drops   ring[Drop]
	prev    *sample
	started bool // the sampler runs
	closed  bool
}

// sample is the last snapshot's cumulative numbers, to compute rates and
// drop deltas from.
type sample struct {
	at    time.Time
	stats dispersy.Stats
}

// New returns a handler for node. Call Close when done serving.
func New(node *dispersy.Node, opts *Options) *Handler {
	return NewFromSource(node.Snapshot, opts)
}

// NewFromSource returns a handler reading snapshots from src.
func NewFromSource(src metrics.Source, opts *Options) *Handler {
	o := opts.withDefaults()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewFromSource(src))
	return &Handler{
		src: src, opts: o,
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		stop:    make(chan struct{}), done: make(chan struct{}),
		history: newRing[Rates](o.History), drops: newRing[Drop](o.RecentDrops),
	}
}

// Close stops the sampling and waits for it to end. The handler still
// answers afterwards, without new history.
func (h *Handler) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	started := h.started
	h.mu.Unlock()
	close(h.stop)
	if started {
		<-h.done
	}
}

// startSampling starts the sampler on the first request.
func (h *Handler) startSampling() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.closed {
		return
	}
	h.started = true
	go h.run()
}

// ServeHTTP answers the page, status.json, metrics and the page's assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.startSampling()
	name := ""
	if !strings.HasSuffix(r.URL.Path, "/") {
		name = path.Base(r.URL.Path)
	}
	switch name {
	case "", "index.html":
		h.asset(w, r, "static/index.html", "text/html; charset=utf-8")
	case "app.js":
		h.asset(w, r, "static/app.js", "text/javascript; charset=utf-8")
	case "style.css":
		h.asset(w, r, "static/style.css", "text/css; charset=utf-8")
	case "status.json":
		h.serveStatus(w, r)
	case "metrics":
		h.metrics.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request, name, ctype string) {
	data, err := static.ReadFile(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Everything the page uses comes from this handler.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(data)
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	st, err := h.Status(ctx)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(st)
}

// Status takes a snapshot of the node now and returns it with the sampled
// history and recent drops: what status.json serves.
func (h *Handler) Status(ctx context.Context) (*Status, error) {
	s, err := h.src(ctx)
	if err != nil {
		return nil, err
	}
	st := statusOf(&s)
	st.IntervalSeconds = h.opts.Interval.Seconds()
	h.mu.Lock()
	st.History = h.history.items()
	st.RecentDrops = h.drops.items()
	h.mu.Unlock()
	return st, nil
}

// run samples the node every interval until Close.
func (h *Handler) run() {
	defer close(h.done)
	// Close also ends a snapshot in progress (a node not running yet).
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	go func() {
		select {
		case <-h.stop:
			cancelBase()
		case <-base.Done():
		}
	}()
	t := time.NewTicker(h.opts.Interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(base, h.opts.Timeout)
		h.sample(ctx, time.Now())
		cancel()
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

// sample takes one snapshot at wall time now and adds its rates to the
// history and its new drops to the recent drops. A failed snapshot (the
// node stopped) adds nothing.
func (h *Handler) sample(ctx context.Context, now time.Time) {
	s, err := h.src(ctx)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.record(&s, now)
}

// record adds snapshot s, taken at now, to the history. Call with mu held.
func (h *Handler) record(s *dispersy.Snapshot, now time.Time) {
	r := Rates{Time: now}
	seen := map[string]bool{}
	for i := range s.Communities {
		cs := &s.Communities[i]
		r.Messages += cs.Messages
		for _, p := range cs.Peers {
			if p.Verified() && !seen[p.Addr.String()] {
				seen[p.Addr.String()] = true
				r.Peers++
			}
		}
	}
	if p := h.prev; p != nil {
		if dt := now.Sub(p.at).Seconds(); dt > 0 {
			rate := func(a, b uint64) float64 {
				if a < b {
					return 0
				}
				return float64(a-b) / dt
			}
			n, o := &s.Stats, &p.stats
			r.Received, r.Sent = rate(n.Received, o.Received), rate(n.Sent, o.Sent)
			r.Stored, r.Dropped = rate(n.Stored, o.Stored), rate(n.DroppedTotal(), o.DroppedTotal())
			r.Walks, r.SyncPackets = rate(n.Walks, o.Walks), rate(n.SyncPackets, o.SyncPackets)
		}
		for _, reason := range dispersy.DropReasons() {
			if a, b := s.Stats.DroppedBy(reason), p.stats.DroppedBy(reason); a > b {
				h.drops.add(Drop{Time: now, Reason: reason.String(), Count: a - b})
			}
		}
		// The first sample has no rates yet: it only starts the history.
		h.history.add(r)
	}
	h.prev = &sample{at: now, stats: s.Stats}
}

// Status is the JSON status of a node (status.json).
type Status struct {
	// Time is the node's time when the snapshot was taken.
	Time time.Time `json:"time"`
	// Member is the node's member id in hex.
	Member string `json:"member"`
	// Failed is the error that stopped the engine, if any.
	Failed string `json:"failed,omitempty"`
	// Stats are the node-wide counters.
	Stats Counters `json:"stats"`
	// Peers is the number of distinct verified peers over all communities.
	Peers int `json:"peers"`
	// Messages is the number of stored messages over all communities.
	Messages int `json:"messages"`
	// TrackerCommunities is the number of communities a tracker tracks
	// (not in Communities).
	TrackerCommunities int         `json:"tracker_communities,omitempty"`
	Communities        []Community `json:"communities"`
	// RecentDrops are the latest drops seen between two samples, oldest
	// first.
	RecentDrops []Drop `json:"recent_drops"`
	// History is the sampled rates, oldest first, one per IntervalSeconds.
	History         []Rates `json:"history"`
	IntervalSeconds float64 `json:"interval_seconds"`
}

// Counters are a node's cumulative counters ([dispersy.Stats]).
type Counters struct {
	Received      uint64 `json:"received"`
	ReceivedBytes uint64 `json:"received_bytes"`
	Sent          uint64 `json:"sent"`
	SentBytes     uint64 `json:"sent_bytes"`
	Created       uint64 `json:"created"`
	Stored        uint64 `json:"stored"`
	Handled       uint64 `json:"handled"`
	Delayed       uint64 `json:"delayed"`
	Resumed       uint64 `json:"resumed"`
	Requests      uint64 `json:"requests"`
	Walks         uint64 `json:"walks"`
	WalkReplies   uint64 `json:"walk_replies"`
	SyncPackets   uint64 `json:"sync_packets"`
	// Dropped holds the non-zero drop counts by reason name.
	Dropped      map[string]uint64 `json:"dropped"`
	DroppedTotal uint64            `json:"dropped_total"`
}

// Community is one community's state.
type Community struct {
	ID         string `json:"id"`
	Overlay    string `json:"overlay"`
	GlobalTime uint64 `json:"global_time"`
	Destroyed  bool   `json:"destroyed,omitempty"`
	// Messages is the number of stored messages of the community's synced
	// types.
	Messages int `json:"messages"`
	Delayed  int `json:"delayed"`
	// Counters are the community's own counters, by name, when the
	// snapshot carries them.
	Counters map[string]uint64 `json:"counters,omitempty"`
	// PeersByCategory counts the known peers by walker category.
	PeersByCategory map[string]int `json:"peers_by_category"`
	// VerifiedPeers is walk plus stumble.
	VerifiedPeers int    `json:"verified_peers"`
	Peers         []Peer `json:"peers"`
}

// Peer is one known peer.
type Peer struct {
	Addr        string    `json:"addr"`
	Member      string    `json:"member,omitempty"`
	Category    string    `json:"category"`
	LastContact time.Time `json:"last_contact"`
	GlobalTime  uint64    `json:"global_time"`
}

// Drop is a number of drops for one reason seen between two samples.
type Drop struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	Count  uint64    `json:"count"`
}

// Rates is one sample of the history: per-second rates since the previous
// sample and the gauges at the sample.
type Rates struct {
	Time        time.Time `json:"time"`
	Received    float64   `json:"received"`
	Sent        float64   `json:"sent"`
	Stored      float64   `json:"stored"`
	Dropped     float64   `json:"dropped"`
	Walks       float64   `json:"walks"`
	SyncPackets float64   `json:"sync_packets"`
	Peers       int       `json:"peers"`
	Messages    int       `json:"messages"`
}

// communityCounters returns the per-community counters of cs by name
// (CommunitySnapshot.Stats).
func communityCounters(cs *dispersy.CommunitySnapshot) map[string]uint64 {
	return map[string]uint64{
		"received": cs.Stats.Received, "stored": cs.Stats.Stored,
		"delayed": cs.Stats.Delayed, "dropped": cs.Stats.DroppedTotal(),
	}
}

// statusOf converts a snapshot.
func statusOf(s *dispersy.Snapshot) *Status {
	st := &Status{Time: s.Time, Member: hex.EncodeToString(s.Member[:]), Communities: []Community{}, TrackerCommunities: s.TrackerCommunities}
	if s.Failed != nil {
		st.Failed = s.Failed.Error()
	}
	n := &s.Stats
	st.Stats = Counters{
		Received: n.Received, ReceivedBytes: n.ReceivedBytes, Sent: n.Sent, SentBytes: n.SentBytes,
		Created: n.Created, Stored: n.Stored, Handled: n.Handled, Delayed: n.Delayed, Resumed: n.Resumed,
		Requests: n.Requests, Walks: n.Walks, WalkReplies: n.WalkReplies, SyncPackets: n.SyncPackets,
		Dropped: map[string]uint64{}, DroppedTotal: n.DroppedTotal(),
	}
	for _, r := range dispersy.DropReasons() {
		if v := n.DroppedBy(r); v > 0 {
			st.Stats.Dropped[r.String()] = v
		}
	}
	seen := map[string]bool{}
	for i := range s.Communities {
		cs := &s.Communities[i]
		c := Community{
			ID: hex.EncodeToString(cs.ID[:]), Overlay: cs.Overlay, GlobalTime: cs.GlobalTime,
			Destroyed: cs.Destroyed, Messages: cs.Messages, Delayed: cs.Delayed,
			Counters: communityCounters(cs), PeersByCategory: map[string]int{}, Peers: []Peer{},
		}
		for cat, k := range cs.PeersByCategory {
			if cat != int(walker.CategoryNone) {
				c.PeersByCategory[walker.Category(cat).String()] = k
			}
		}
		for _, p := range cs.Peers {
			ps := Peer{Addr: p.Addr.String(), Category: p.Category.String(), LastContact: p.LastContact, GlobalTime: p.GlobalTime}
			if p.HasMember {
				ps.Member = hex.EncodeToString(p.Member[:])
			}
			c.Peers = append(c.Peers, ps)
			if p.Verified() {
				c.VerifiedPeers++
				if !seen[ps.Addr] {
					seen[ps.Addr] = true
					st.Peers++
				}
			}
		}
		st.Messages += c.Messages
		st.Communities = append(st.Communities, c)
	}
	return st
}

// ring keeps the last n items added.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func newRing[T any](n int) ring[T] { return ring[T]{buf: make([]T, n)} }

func (r *ring[T]) add(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// items returns a copy, oldest first.
func (r *ring[T]) items() []T {
	if !r.full {
		return append([]T{}, r.buf[:r.next]...)
	}
	return append(append([]T{}, r.buf[r.next:]...), r.buf[:r.next]...)
}
