package dispersytest

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
)

// Machine is one simulated peer: a sans-I/O state machine that the
// [Network] drives on virtual time. The engine satisfies it (through a small
// adapter); tests write toy machines.
//
// The Network calls a Machine from one goroutine only, never concurrently.
// A non-nil error from Receive or Tick is a local failure: it stops the
// whole run (see [Network.Err]).
type Machine interface {
	// Receive handles one datagram that arrived at now from from.
	// pkt is read-only: the same bytes may be delivered to other peers (a
	// sender may address one slice to many destinations, and duplicates
	// share it). The Machine may retain pkt; the Network never reuses it.
	Receive(now time.Time, from netip.AddrPort, pkt []byte) error
	// Tick runs every timer due at or before now. Afterwards NextDeadline
	// must be after now (or report none): a Machine that keeps asking for
	// a tick at a time that has already been ticked stops the run.
	Tick(now time.Time) error
	// Ready returns the datagrams produced since the last call, in order;
	// Addr is the destination. The Network takes the Data slices and never
	// modifies them; it does not retain the returned slice itself, so a
	// Machine may reuse its backing array on the next call.
	Ready() []dispersy.Datagram
	// NextDeadline reports when Tick must next be called; ok is false when
	// no timer is armed. A deadline at or before the current time means
	// "as soon as possible" (after the events already due now).
	NextDeadline() (deadline time.Time, ok bool)
}

// defaultStart is the virtual time a Network starts at when
// NetworkConfig.Start is zero.
var defaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// PeerAddr returns a deterministic, distinct address for simulated peer i
// (0 ≤ i < 2^24 - 2): 10.0.0.1:7759 for 0, 10.0.0.2:7759 for 1, and so on
// through 10.0.0.0/8. The port is arbitrary.
func PeerAddr(i int) netip.AddrPort {
	if i < 0 || i >= 1<<24-2 {
		panic(fmt.Sprintf("dispersytest: PeerAddr(%d) out of range [0, %d)", i, 1<<24-2))
	}
	v := uint32(10<<24 | (i + 1))
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 7759)
}

// LinkConfig describes the conditions a datagram meets on its way from one
// address to another. The zero LinkConfig is a perfect link: no delay, no
// loss.
type LinkConfig struct {
	// Latency is the one-way delay every datagram gets.
	Latency time.Duration
	// Jitter adds a delay drawn uniformly from [0, Jitter] to each datagram;
	// it reorders datagrams sent closer together than Jitter.
	Jitter time.Duration
	// Loss is the probability that a datagram is dropped.
	Loss float64
	// Duplicate is the probability that a datagram arrives twice; the copy
	// gets its own delay.
	Duplicate float64
	// Reorder is the probability that a datagram gets an extra delay drawn
	// uniformly from (0, ReorderDelay], so that later datagrams overtake it.
	Reorder float64
	// ReorderDelay bounds the extra delay of a reordered datagram. It must
	// be positive when Reorder is.
	ReorderDelay time.Duration
}

// Validate reports every problem with c, not only the first.
func (c LinkConfig) Validate() error {
	var errs []error
	if c.Latency < 0 {
		errs = append(errs, fmt.Errorf("LinkConfig.Latency (%v) must be >= 0", c.Latency))
	}
	if c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("LinkConfig.Jitter (%v) must be >= 0", c.Jitter))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"Duplicate", c.Duplicate}, {"Reorder", c.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) { // also rejects NaN
			errs = append(errs, fmt.Errorf("LinkConfig.%s (%v) must be a probability in [0, 1]", p.name, p.v))
		}
	}
	if c.ReorderDelay < 0 {
		errs = append(errs, fmt.Errorf("LinkConfig.ReorderDelay (%v) must be >= 0", c.ReorderDelay))
	}
	if c.Reorder > 0 && c.ReorderDelay <= 0 {
		errs = append(errs, fmt.Errorf("LinkConfig.Reorder (%v) needs a ReorderDelay > 0", c.Reorder))
	}
	return errors.Join(errs...)
}

// NetworkConfig configures a [Network]. The zero NetworkConfig is valid: a
// perfect network (no delay, no loss) with seed 0, starting at 2026-01-01
// 00:00 UTC, carrying datagrams up to dispersy.DefaultMaxDatagram bytes.
type NetworkConfig struct {
	// Seed seeds the Network's own random source (loss, duplication,
	// jitter, reordering). The same seed, machines and inputs give the same
	// run, event for event. Machines keep their own random sources.
	Seed uint64
	// Start is the virtual time the Network starts at. Zero means
	// 2026-01-01 00:00:00 UTC. Its monotonic clock reading, if any, is
	// stripped.
	Start time.Time
	// LinkConfig is the default for every link; SetLink overrides it for
	// particular pairs of addresses.
	LinkConfig
	// PeerLink is every address's access link (upload and download rate,
	// queue); SetPeerLink overrides it for particular addresses. The zero
	// PeerLink is an infinitely fast link: datagrams take only the
	// LinkConfig's delay.
	PeerLink PeerLink
	// MaxDatagram is the largest datagram the network carries, in bytes;
	// larger ones are dropped with DropOversize. 0 means
	// dispersy.DefaultMaxDatagram (1,232).
	MaxDatagram int
	// Trace, if not nil, is called synchronously for every datagram sent,
	// duplicated, delivered and dropped, and for every tick, in the order
	// they happen. It must not call the Network's methods (Now, Stats,
	// PeerStats and InFlight excepted) and must not modify or retain
	// Event.Data.
	Trace func(Event)
}

// Validate reports every problem with c, not only the first.
func (c NetworkConfig) Validate() error {
	var errs []error
	if err := c.LinkConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxDatagram < 0 {
		errs = append(errs, fmt.Errorf("MaxDatagram (%d) must be >= 0 (0: dispersy.DefaultMaxDatagram)", c.MaxDatagram))
	}
	if err := c.PeerLink.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DefaultQueueBytes is the size of a rate-limited link's queue when
// PeerLink.QueueBytes is 0: 256 KiB, about 26 ms at 10 MB/s.
const DefaultQueueBytes = 256 << 10

// PeerLink is one address's access link: the bandwidth model. A datagram
// first waits in its sender's upload queue and is serialized at the
// sender's Upload rate (after the datagrams queued before it), then takes
// the LinkConfig's delay (latency, jitter, reordering), then waits in the
// receiver's download queue and is serialized at the receiver's Download
// rate; it is delivered when its last byte is in. A queue holds at most
// QueueBytes bytes not yet serialized: a datagram that does not fit is
// dropped (DropSendQueue at the sender, DropReceiveQueue at the receiver)
// and counted. Loss and duplication happen between the two links: a lost
// datagram used its sender's upload, and each copy of a duplicated one
// uses the receiver's download.
//
// A zero rate is an infinitely fast link with no queue: with both rates
// zero everywhere the network behaves, event for event, as it did without
// the model. A datagram Injected from an address that is not a peer skips
// the upload link (there is no sender to queue it).
type PeerLink struct {
	// Upload and Download are the link's rates in bytes per second; 0 is
	// unlimited.
	Upload, Download int64
	// QueueBytes bounds each direction's queue of a rate-limited link;
	// 0 means DefaultQueueBytes.
	QueueBytes int
}

// Validate reports every problem with l, not only the first.
func (l PeerLink) Validate() error {
	var errs []error
	if l.Upload < 0 {
		errs = append(errs, fmt.Errorf("PeerLink.Upload (%d) must be >= 0 (0: unlimited)", l.Upload))
	}
	if l.Download < 0 {
		errs = append(errs, fmt.Errorf("PeerLink.Download (%d) must be >= 0 (0: unlimited)", l.Download))
	}
	if l.QueueBytes < 0 {
		errs = append(errs, fmt.Errorf("PeerLink.QueueBytes (%d) must be >= 0 (0: DefaultQueueBytes)", l.QueueBytes))
	}
	return errors.Join(errs...)
}

func (l *PeerLink) queue() int64 {
	if l.QueueBytes == 0 {
		return DefaultQueueBytes
	}
	return int64(l.QueueBytes)
}

// SerializationTime returns how long size bytes take to cross a link of
// rate bytes per second, rounded up to the nanosecond; 0 for an unlimited
// link (rate 0).
func SerializationTime(size int, rate int64) time.Duration {
	if rate <= 0 || size <= 0 {
		return 0
	}
	return time.Duration(ceilDiv(uint64(size), uint64(time.Second), uint64(rate)))
}

// ceilDiv returns ⌈a·b/c⌉, saturating at MaxInt64.
func ceilDiv(a, b, c uint64) int64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// queued returns how many bytes a link of rate bytes per second that is
// busy until free still has to serialize at now: ⌈(free − now)·rate/1s⌉.
func queued(free, now, rate int64) int64 {
	if free <= now {
		return 0
	}
	return ceilDiv(uint64(free-now), uint64(rate), uint64(time.Second))
}

// linkSlot serializes size bytes on a link of rate (> 0) busy until *free,
// at now: it returns when the last byte is out and moves *free there, or
// ok false (and leaves *free) when the bytes not yet serialized plus size
// would exceed the queue.
func linkSlot(free *int64, now, rate, queue int64, size int) (done int64, ok bool) {
	if queued(*free, now, rate)+int64(size) > queue {
		return 0, false
	}
	done = max(*free, now) + int64(SerializationTime(size, rate))
	*free = done
	return done, true
}

// EventKind says what happened in an [Event].
type EventKind uint8

// Event kinds.
const (
	// EventSend: a peer (or Inject) handed a datagram to the network.
	EventSend EventKind = iota + 1
	// EventDuplicate: the network made a second copy of a datagram it just
	// accepted; both copies are on their way.
	EventDuplicate
	// EventDeliver: a datagram reached its destination and is about to be
	// handed to the peer's Receive.
	EventDeliver
	// EventDrop: a datagram was dropped; Event.Reason says why.
	EventDrop
	// EventTick: a peer's Tick is about to be called.
	EventTick
)

// String returns the kind's lower-case name.
func (k EventKind) String() string {
	switch k {
	case EventSend:
		return "send"
	case EventDuplicate:
		return "duplicate"
	case EventDeliver:
		return "deliver"
	case EventDrop:
		return "drop"
	case EventTick:
		return "tick"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// DropReason says why the network dropped a datagram.
type DropReason uint8

// Drop reasons.
const (
	// DropLoss: random loss (LinkConfig.Loss).
	DropLoss DropReason = iota + 1
	// DropPartition: sender and destination are in different groups of a
	// Partition when the datagram is sent.
	DropPartition
	// DropNoPeer: no running peer at the destination when the datagram
	// arrives (never added, or removed).
	DropNoPeer
	// DropOversize: the datagram exceeds NetworkConfig.MaxDatagram.
	DropOversize
	// DropSendQueue: the sender's upload queue was full (PeerLink).
	DropSendQueue
	// DropReceiveQueue: the receiver's download queue was full
	// (PeerLink).
	DropReceiveQueue
)

// String returns the reason's name as used in traces.
func (r DropReason) String() string {
	switch r {
	case DropLoss:
		return "loss"
	case DropPartition:
		return "partition"
	case DropNoPeer:
		return "no-peer"
	case DropOversize:
		return "oversize"
	case DropSendQueue:
		return "send-queue"
	case DropReceiveQueue:
		return "receive-queue"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Event is one thing that happened on the network, reported to
// NetworkConfig.Trace.
type Event struct {
	Kind EventKind
	// At is the virtual time it happened.
	At time.Time
	// From and To are the datagram's source and destination. For
	// EventTick, To is the peer and From is the zero AddrPort.
	From, To netip.AddrPort
	// Data is the datagram (nil for EventTick). Read-only, and valid only
	// during the Trace call.
	Data []byte
	// Reason is set for EventDrop.
	Reason DropReason
}

// String formats e on one line, e.g.
// "00:00:01.020000000 deliver 10.0.0.1:7759 -> 10.0.0.2:7759 33B".
func (e Event) String() string {
	at := e.At.Format("15:04:05.000000000")
	switch e.Kind {
	case EventTick:
		return fmt.Sprintf("%s tick %v", at, e.To)
	case EventDrop:
		return fmt.Sprintf("%s drop %v -> %v %dB %v", at, e.From, e.To, len(e.Data), e.Reason)
	}
	return fmt.Sprintf("%s %v %v -> %v %dB", at, e.Kind, e.From, e.To, len(e.Data))
}

// Stats counts datagrams. For one peer, Sent, Duplicated and the Dropped
// counters are about datagrams the peer sent, and Delivered about datagrams
// delivered to it. For the whole network they are sums over all traffic,
// including datagrams from Inject.
//
// At any time Sent + Duplicated = Delivered + Dropped() + InFlight (network
// totals).
type Stats struct {
	Sent, SentBytes           uint64
	Delivered, DeliveredBytes uint64
	// Duplicated counts extra copies made (LinkConfig.Duplicate).
	Duplicated uint64
	// Dropped datagrams by reason.
	DroppedLoss, DroppedPartition, DroppedNoPeer, DroppedOversize uint64
	// Ticks counts Tick calls.
	Ticks uint64
	// DroppedSendQueue and DroppedReceiveQueue count the datagrams that
	// found their sender's upload queue or their receiver's download queue
	// full (PeerLink). Both count for the sender, as every drop does.
	DroppedSendQueue, DroppedReceiveQueue uint64
}

// Dropped returns the number of datagrams dropped for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedLoss + s.DroppedPartition + s.DroppedNoPeer + s.DroppedOversize + s.DroppedSendQueue + s.DroppedReceiveQueue
}

// DroppedBy returns the number of datagrams dropped for reason r.
func (s Stats) DroppedBy(r DropReason) uint64 {
	switch r {
	case DropLoss:
		return s.DroppedLoss
	case DropPartition:
		return s.DroppedPartition
	case DropNoPeer:
		return s.DroppedNoPeer
	case DropOversize:
		return s.DroppedOversize
	case DropSendQueue:
		return s.DroppedSendQueue
	case DropReceiveQueue:
		return s.DroppedReceiveQueue
	}
	return 0
}

func (s *Stats) drop(r DropReason) {
	switch r {
	case DropLoss:
		s.DroppedLoss++
	case DropPartition:
		s.DroppedPartition++
	case DropNoPeer:
		s.DroppedNoPeer++
	case DropOversize:
		s.DroppedOversize++
	case DropSendQueue:
		s.DroppedSendQueue++
	case DropReceiveQueue:
		s.DroppedReceiveQueue++
	}
}

// MachineError reports a Machine that returned an error; it stopped the
// run. Unwrap gives the Machine's error.
type MachineError struct {
	// Addr is the peer's address.
	Addr netip.AddrPort
	// At is the virtual time of the failure.
	At time.Time
	// Op is "receive" or "tick".
	Op string
	// Err is what the Machine returned (or, for a Tick that did not move
	// NextDeadline past now, the Network's complaint about it).
	Err error
}

// Error names the peer, the operation and the virtual time.
func (e *MachineError) Error() string {
	return fmt.Sprintf("dispersytest: peer %v failed in %s at %s: %v", e.Addr, e.Op, e.At.Format(time.RFC3339Nano), e.Err)
}

// Unwrap returns the Machine's error.
func (e *MachineError) Unwrap() error { return e.Err }

// Event kinds inside the queue.
const (
	evDeliver uint8 = iota + 1
	evTick
	// evArrive: a datagram reached its receiver's rate-limited download
	// link; it is delivered after its serialization there.
	evArrive
)

// event is one queued event's payload. It lives in a slot of
// Network.slots; the heap orders small qitems that point at slots, so sifting
// moves 24 bytes per level instead of the whole event.
type event struct {
	data []byte
	from netip.AddrPort // evDeliver, evArrive
	to   netip.AddrPort // evDeliver, evArrive
	gen  uint64         // evTick: valid only if it equals the peer's gen
	peer int32          // evTick
	kind uint8
}

// qitem is one heap entry. Virtual times are nanoseconds since Start.
type qitem struct {
	at   int64
	seq  uint64 // breaks ties in at: first pushed, first run
	slot int32
}

func (a *qitem) before(b *qitem) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

type peer struct {
	addr netip.AddrPort
	m    Machine // nil while removed
	// gen increments whenever the pending tick is cancelled or moved; a
	// queued evTick with an older gen is stale.
	gen         uint64
	tickPending bool
	tickAt      int64
	stats       Stats
	// upFree and downFree are when the peer's upload and download links
	// have serialized everything queued on them (PeerLink).
	upFree, downFree int64
}

type linkKey struct{ from, to netip.AddrPort }

// Network is a deterministic discrete-event network: it runs many
// [Machine]s in one goroutine on virtual time, jumping from event to event.
// Events are kept in a min-heap ordered by (virtual time, sequence number),
// so ties run in the order they were scheduled. The same NetworkConfig
// (seed included), machines and calls give the same run, event for event.
//
// A Network is not safe for concurrent use.
type Network struct {
	cfg   NetworkConfig
	start time.Time
	max   int
	rng   *rand.Rand

	now   int64 // nanoseconds since start
	seq   uint64
	q     []qitem // min-heap
	slots []event // payloads of queued events, indexed by qitem.slot
	free  []int32 // unused slots

	peers  []*peer // in the order first added
	byAddr map[netip.AddrPort]int32

	links  map[linkKey]LinkConfig
	groups map[netip.AddrPort]int // partition group (1-based); 0: not listed
	// peerLinks overrides NetworkConfig.PeerLink per address.
	peerLinks map[netip.AddrPort]PeerLink

	inflight int // queued evDeliver and evArrive
	ticks    int // peers with a pending tick

	total Stats
	err   error
}

// NewNetwork returns an empty network at cfg.Start. It fails only if
// cfg.Validate does.
func NewNetwork(cfg NetworkConfig) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispersytest: invalid NetworkConfig: %w", err)
	}
	start := cfg.Start
	if start.IsZero() {
		start = defaultStart
	}
	maxDatagram := cfg.MaxDatagram
	if maxDatagram == 0 {
		maxDatagram = dispersy.DefaultMaxDatagram
	}
	return &Network{
		cfg:    cfg,
		start:  start.Round(0),
		max:    maxDatagram,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		byAddr: make(map[netip.AddrPort]int32),
	}, nil
}

// Now returns the current virtual time: the time of the last event run,
// or later after RunUntil and friends advanced the clock.
func (n *Network) Now() time.Time { return n.at(n.now) }

func (n *Network) at(v int64) time.Time { return n.start.Add(time.Duration(v)) }

// virtual converts t to nanoseconds since start (saturating).
func (n *Network) virtual(t time.Time) int64 { return int64(t.Sub(n.start)) }

// Err returns the error that stopped the run (a *MachineError), or nil.
// Once set, Step and the Run methods do nothing.
func (n *Network) Err() error { return n.err }

// Add starts machine m at addr. It collects m's Ready output (sent at the
// current virtual time) and schedules its first tick at m.NextDeadline.
// addr must not have a running peer; a removed address may be reused (see
// also Replace). IPv4-mapped addresses are unmapped.
func (n *Network) Add(addr netip.AddrPort, m Machine) error {
	addr = unmap(addr)
	if !addr.Addr().IsValid() {
		return fmt.Errorf("dispersytest: Add(%v): invalid address", addr)
	}
	if m == nil {
		return fmt.Errorf("dispersytest: Add(%v): nil Machine", addr)
	}
	idx, ok := n.byAddr[addr]
	if ok && n.peers[idx].m != nil {
		return fmt.Errorf("dispersytest: Add(%v): a peer is already running there; use Replace to restart it", addr)
	}
	if !ok {
		if len(n.peers) >= math.MaxInt32 {
			return errors.New("dispersytest: too many peers")
		}
		idx = int32(len(n.peers))
		n.peers = append(n.peers, &peer{addr: addr})
		n.byAddr[addr] = idx
	}
	n.peers[idx].m = m
	n.flush(idx, false)
	return nil
}

// Remove stops the peer at addr: its pending tick is cancelled, and
// datagrams that arrive for it from now on are dropped with DropNoPeer.
// Its Stats are kept.
func (n *Network) Remove(addr netip.AddrPort) error {
	addr = unmap(addr)
	idx, ok := n.byAddr[addr]
	if !ok || n.peers[idx].m == nil {
		return fmt.Errorf("dispersytest: Remove(%v): no running peer there", addr)
	}
	p := n.peers[idx]
	n.cancelTick(p)
	p.m = nil
	return nil
}

// Replace restarts the peer at addr with machine m (a running or removed
// peer): the old machine's pending tick is cancelled, m's Ready output is
// collected and its tick scheduled, and datagrams still in flight to addr
// reach m. Stats continue.
func (n *Network) Replace(addr netip.AddrPort, m Machine) error {
	addr = unmap(addr)
	idx, ok := n.byAddr[addr]
	if !ok {
		return fmt.Errorf("dispersytest: Replace(%v): no peer was ever added there; use Add", addr)
	}
	if m == nil {
		return fmt.Errorf("dispersytest: Replace(%v): nil Machine", addr)
	}
	p := n.peers[idx]
	n.cancelTick(p)
	p.m = m
	n.flush(idx, false)
	return nil
}

// Do runs f at the current virtual time for the running peer at addr, then
// collects that peer's Ready output and reschedules its tick. Use it for
// whatever a test does to a machine outside the event loop (an API call
// that creates a message): the network only learns about new output and
// deadlines this way. f's error is returned as is; it does not stop the run.
func (n *Network) Do(addr netip.AddrPort, f func(now time.Time) error) error {
	addr = unmap(addr)
	idx, ok := n.byAddr[addr]
	if !ok || n.peers[idx].m == nil {
		return fmt.Errorf("dispersytest: Do(%v): no running peer there", addr)
	}
	err := f(n.Now())
	n.flush(idx, false)
	return err
}

// Inject sends pkt from from to to at the current virtual time, as if a
// peer at from had sent it: link conditions, partitions and the size limit
// apply. from need not be a peer (a spoofed or outside sender). pkt is
// read-only from now on, as with Machine.Ready.
func (n *Network) Inject(from, to netip.AddrPort, pkt []byte) {
	from = unmap(from)
	idx, ok := n.byAddr[from]
	if !ok {
		idx = -1
	}
	n.send(idx, from, unmap(to), pkt)
}

// Machine returns the running machine at addr.
func (n *Network) Machine(addr netip.AddrPort) (Machine, bool) {
	idx, ok := n.byAddr[unmap(addr)]
	if !ok || n.peers[idx].m == nil {
		return nil, false
	}
	return n.peers[idx].m, true
}

// Peers returns the addresses of the running peers in the order they were
// first added.
func (n *Network) Peers() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(n.peers))
	for _, p := range n.peers {
		if p.m != nil {
			out = append(out, p.addr)
		}
	}
	return out
}

// Stats returns the network's totals.
func (n *Network) Stats() Stats { return n.total }

// PeerStats returns the statistics of the peer at addr (running or
// removed); ok is false if no peer was ever added there.
func (n *Network) PeerStats(addr netip.AddrPort) (s Stats, ok bool) {
	idx, ok := n.byAddr[unmap(addr)]
	if !ok {
		return Stats{}, false
	}
	return n.peers[idx].stats, true
}

// InFlight returns the number of datagrams on their way: sent, not yet
// delivered or dropped.
func (n *Network) InFlight() int { return n.inflight }

// SetLink overrides the conditions of the link between a and b, in both
// directions. It affects datagrams sent from now on.
func (n *Network) SetLink(a, b netip.AddrPort, lc LinkConfig) error {
	if err := n.SetLinkOneWay(a, b, lc); err != nil {
		return err
	}
	return n.SetLinkOneWay(b, a, lc)
}

// SetLinkOneWay overrides the conditions for datagrams from from to to
// only. It affects datagrams sent from now on.
func (n *Network) SetLinkOneWay(from, to netip.AddrPort, lc LinkConfig) error {
	if err := lc.Validate(); err != nil {
		return fmt.Errorf("dispersytest: SetLink(%v, %v): %w", from, to, err)
	}
	if n.links == nil {
		n.links = make(map[linkKey]LinkConfig)
	}
	n.links[linkKey{unmap(from), unmap(to)}] = lc
	return nil
}

// ResetLink removes the overrides between a and b, in both directions: the
// link follows NetworkConfig again.
func (n *Network) ResetLink(a, b netip.AddrPort) {
	a, b = unmap(a), unmap(b)
	delete(n.links, linkKey{a, b})
	delete(n.links, linkKey{b, a})
}

// SetPeerLink overrides the access link (rates and queues) of addr. It
// affects datagrams sent from now on; what is queued stays queued.
func (n *Network) SetPeerLink(addr netip.AddrPort, l PeerLink) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("dispersytest: SetPeerLink(%v): %w", addr, err)
	}
	if n.peerLinks == nil {
		n.peerLinks = make(map[netip.AddrPort]PeerLink)
	}
	n.peerLinks[unmap(addr)] = l
	return nil
}

// PeerLink returns the access link of addr.
func (n *Network) PeerLink(addr netip.AddrPort) PeerLink { return n.peerLink(unmap(addr)) }

func (n *Network) peerLink(addr netip.AddrPort) PeerLink {
	if len(n.peerLinks) != 0 {
		if l, ok := n.peerLinks[addr]; ok {
			return l
		}
	}
	return n.cfg.PeerLink
}

// Link returns the conditions datagrams from from to to meet.
func (n *Network) Link(from, to netip.AddrPort) LinkConfig {
	return n.link(unmap(from), unmap(to))
}

func (n *Network) link(from, to netip.AddrPort) LinkConfig {
	if len(n.links) != 0 {
		if lc, ok := n.links[linkKey{from, to}]; ok {
			return lc
		}
	}
	return n.cfg.LinkConfig
}

// Partition splits the network: datagrams sent from now on between
// addresses in different groups are dropped with DropPartition. Addresses
// listed in no group (including peers added later) form one more group
// together. It replaces any earlier partition; datagrams already in flight
// are not affected. An address may appear in one group only.
func (n *Network) Partition(groups ...[]netip.AddrPort) error {
	g := make(map[netip.AddrPort]int)
	for i, group := range groups {
		for _, a := range group {
			a = unmap(a)
			if prev, ok := g[a]; ok && prev != i+1 {
				return fmt.Errorf("dispersytest: Partition: %v is in groups %d and %d; an address belongs to one group", a, prev-1, i)
			}
			g[a] = i + 1
		}
	}
	n.groups = g
	return nil
}

// Heal ends a partition: datagrams sent from now on flow between all
// addresses again.
func (n *Network) Heal() { n.groups = nil }

// Step runs the next event: one delivery or one tick. It reports false,
// without advancing the clock, when nothing is left to run (exact
// quiescence: no datagram in flight and no tick pending) or the run has
// stopped with an error.
func (n *Network) Step() bool {
	if n.err != nil || !n.skipStale() {
		return false
	}
	at, ev := n.pop()
	n.now = at
	switch ev.kind {
	case evDeliver:
		n.inflight--
		n.deliver(&ev)
	case evArrive:
		n.arrive(&ev)
	case evTick:
		p := n.peers[ev.peer]
		p.tickPending = false
		n.ticks--
		n.tick(ev.peer)
	}
	return true
}

// Idle reports whether nothing is left to run: no datagram in flight and
// no tick pending.
func (n *Network) Idle() bool { return n.inflight == 0 && n.ticks == 0 }

// RunUntil runs every event due at or before t, then advances the clock to
// t (if it is later). It returns Err().
func (n *Network) RunUntil(t time.Time) error {
	limit := n.virtual(t)
	for n.err == nil && n.skipStale() && n.q[0].at <= limit {
		n.Step()
	}
	if n.err == nil && limit > n.now {
		n.now = limit
	}
	return n.err
}

// RunFor runs for d of virtual time: RunUntil(Now().Add(d)).
func (n *Network) RunFor(d time.Duration) error { return n.RunUntil(n.Now().Add(d)) }

// RunUntilIdle runs until nothing is left to run, but not past limit. It
// reports whether the network became idle; the clock then stays at the
// last event run, so Now tells when the network went quiet. Otherwise the
// clock advances to limit.
func (n *Network) RunUntilIdle(limit time.Time) (idle bool, err error) {
	lim := n.virtual(limit)
	for n.err == nil {
		if !n.skipStale() {
			return true, nil
		}
		if n.q[0].at > lim {
			if lim > n.now {
				n.now = lim
			}
			return false, nil
		}
		n.Step()
	}
	return false, n.err
}

// RunWhile runs events while cond reports true, but not past limit. cond is
// checked before every event. It reports whether it stopped because cond
// reported false (the clock then stays at the last event run). If the
// network goes idle with cond still true it returns false at once; if the
// limit comes first, the clock advances to limit.
func (n *Network) RunWhile(cond func() bool, limit time.Time) (bool, error) {
	lim := n.virtual(limit)
	for n.err == nil {
		if !cond() {
			return true, nil
		}
		if !n.skipStale() {
			return false, nil
		}
		if n.q[0].at > lim {
			if lim > n.now {
				n.now = lim
			}
			return false, nil
		}
		n.Step()
	}
	return false, n.err
}

// skipStale pops stale ticks off the top of the queue and reports whether a
// live event is left on top. When the network is idle only stale ticks can
// remain, so the queue is simply cleared.
func (n *Network) skipStale() bool {
	if n.Idle() {
		clear(n.slots) // drop references to packets
		n.q, n.slots, n.free = n.q[:0], n.slots[:0], n.free[:0]
		return false
	}
	for !n.live(n.q[0].slot) {
		n.pop()
	}
	return true
}

// live reports whether the event in slot is still to run: deliveries
// always are, ticks only while they are their peer's pending tick.
func (n *Network) live(slot int32) bool {
	ev := &n.slots[slot]
	if ev.kind != evTick {
		return true
	}
	p := n.peers[ev.peer]
	return p.tickPending && p.gen == ev.gen
}

func (n *Network) fail(p *peer, op string, err error) {
	n.err = &MachineError{Addr: p.addr, At: n.Now(), Op: op, Err: err}
}

func (n *Network) deliver(ev *event) {
	idx, ok := n.byAddr[ev.to]
	if !ok || n.peers[idx].m == nil {
		n.dropAt(ev.from, ev.to, ev.data, DropNoPeer)
		return
	}
	p := n.peers[idx]
	size := uint64(len(ev.data))
	p.stats.Delivered++
	p.stats.DeliveredBytes += size
	n.total.Delivered++
	n.total.DeliveredBytes += size
	if n.cfg.Trace != nil {
		n.cfg.Trace(Event{Kind: EventDeliver, At: n.Now(), From: ev.from, To: ev.to, Data: ev.data})
	}
	if err := p.m.Receive(n.Now(), ev.from, ev.data); err != nil {
		n.fail(p, "receive", err)
		return
	}
	n.flush(idx, false)
}

func (n *Network) tick(idx int32) {
	p := n.peers[idx]
	p.stats.Ticks++
	n.total.Ticks++
	if n.cfg.Trace != nil {
		n.cfg.Trace(Event{Kind: EventTick, At: n.Now(), To: p.addr})
	}
	if err := p.m.Tick(n.Now()); err != nil {
		n.fail(p, "tick", err)
		return
	}
	n.flush(idx, true)
}

// flush sends the peer's Ready output and reschedules its tick.
func (n *Network) flush(idx int32, afterTick bool) {
	p := n.peers[idx]
	if p.m == nil {
		return // removed by Do's f
	}
	for _, d := range p.m.Ready() {
		n.send(idx, p.addr, unmap(d.Addr), d.Data)
	}
	n.schedule(idx, afterTick)
}

// send puts one datagram on the network. The random draws happen in a
// fixed order: loss, duplication, then for each copy jitter and reordering.
func (n *Network) send(idx int32, from, to netip.AddrPort, data []byte) {
	var ps *Stats
	if idx >= 0 {
		ps = &n.peers[idx].stats
	}
	size := uint64(len(data))
	n.total.Sent++
	n.total.SentBytes += size
	if ps != nil {
		ps.Sent++
		ps.SentBytes += size
	}
	if n.cfg.Trace != nil {
		n.cfg.Trace(Event{Kind: EventSend, At: n.Now(), From: from, To: to, Data: data})
	}
	if len(data) > n.max {
		n.drop(ps, from, to, data, DropOversize)
		return
	}
	if n.groups != nil && n.groups[from] != n.groups[to] {
		n.drop(ps, from, to, data, DropPartition)
		return
	}
	// The sender's upload link: the datagram leaves when its last byte
	// is out.
	out := n.now
	if idx >= 0 {
		if up := n.peerLink(from); up.Upload > 0 {
			done, ok := linkSlot(&n.peers[idx].upFree, n.now, up.Upload, up.queue(), len(data))
			if !ok {
				n.drop(ps, from, to, data, DropSendQueue)
				return
			}
			out = done
		}
	}
	lc := n.link(from, to)
	if lc.Loss > 0 && n.rng.Float64() < lc.Loss {
		n.drop(ps, from, to, data, DropLoss)
		return
	}
	dup := lc.Duplicate > 0 && n.rng.Float64() < lc.Duplicate
	// A rate-limited receiver serializes the datagram when it arrives.
	kind := evDeliver
	if n.peerLink(to).Download > 0 {
		kind = evArrive
	}
	n.push(out+n.delay(&lc), event{kind: kind, from: from, to: to, data: data})
	n.inflight++
	if dup {
		n.total.Duplicated++
		if ps != nil {
			ps.Duplicated++
		}
		if n.cfg.Trace != nil {
			n.cfg.Trace(Event{Kind: EventDuplicate, At: n.Now(), From: from, To: to, Data: data})
		}
		n.push(out+n.delay(&lc), event{kind: kind, from: from, to: to, data: data})
		n.inflight++
	}
}

// arrive puts a datagram that reached its receiver on the receiver's
// download link: delivered when its last byte is in, or dropped if the
// download queue is full. A datagram for an address without a running
// peer goes on to deliver, which drops it.
func (n *Network) arrive(ev *event) {
	idx, ok := n.byAddr[ev.to]
	down := n.peerLink(ev.to)
	if !ok || n.peers[idx].m == nil || down.Download <= 0 {
		n.inflight--
		n.deliver(ev)
		return
	}
	done, ok := linkSlot(&n.peers[idx].downFree, n.now, down.Download, down.queue(), len(ev.data))
	if !ok {
		n.inflight--
		n.dropAt(ev.from, ev.to, ev.data, DropReceiveQueue)
		return
	}
	ev.kind = evDeliver
	n.push(done, *ev)
}

func (n *Network) delay(lc *LinkConfig) int64 {
	d := int64(lc.Latency)
	if lc.Jitter > 0 {
		d += n.rng.Int64N(int64(lc.Jitter) + 1)
	}
	if lc.Reorder > 0 && n.rng.Float64() < lc.Reorder {
		d += 1 + n.rng.Int64N(int64(lc.ReorderDelay))
	}
	return d
}

// drop counts and traces a datagram dropped at send time.
func (n *Network) drop(ps *Stats, from, to netip.AddrPort, data []byte, r DropReason) {
	n.total.drop(r)
	if ps != nil {
		ps.drop(r)
	}
	if n.cfg.Trace != nil {
		n.cfg.Trace(Event{Kind: EventDrop, At: n.Now(), From: from, To: to, Data: data, Reason: r})
	}
}

// dropAt counts and traces a datagram dropped on arrival; the drop counts
// for its sender, if that is a peer.
func (n *Network) dropAt(from, to netip.AddrPort, data []byte, r DropReason) {
	var ps *Stats
	if idx, ok := n.byAddr[from]; ok {
		ps = &n.peers[idx].stats
	}
	n.drop(ps, from, to, data, r)
}

// schedule (re)schedules the peer's tick at its NextDeadline, keeping at
// most one valid tick event per peer.
func (n *Network) schedule(idx int32, afterTick bool) {
	p := n.peers[idx]
	d, ok := p.m.NextDeadline()
	if !ok {
		n.cancelTick(p)
		return
	}
	at := n.virtual(d)
	if at <= n.now {
		if afterTick {
			n.fail(p, "tick", fmt.Errorf("NextDeadline %s is not after Tick(%s): Tick must run every timer due at or before now",
				d.Format(time.RFC3339Nano), n.Now().Format(time.RFC3339Nano)))
			return
		}
		at = n.now
	}
	if p.tickPending && p.tickAt == at {
		return
	}
	if !p.tickPending {
		n.ticks++
	}
	p.gen++
	p.tickPending = true
	p.tickAt = at
	n.push(at, event{kind: evTick, peer: idx, gen: p.gen})
	// Stale ticks stay in the heap until popped; compact when they
	// dominate it, so memory stays proportional to live events.
	if live := n.inflight + n.ticks; len(n.q) > 4*live+1024 {
		n.compact()
	}
}

func (n *Network) cancelTick(p *peer) {
	if p.tickPending {
		p.tickPending = false
		n.ticks--
	}
	p.gen++
}

// compact removes stale ticks and restores the heap order.
func (n *Network) compact() {
	live := n.q[:0]
	for _, it := range n.q {
		if n.live(it.slot) {
			live = append(live, it)
		} else {
			n.slots[it.slot] = event{}
			n.free = append(n.free, it.slot)
		}
	}
	n.q = live
	for i := len(n.q)/2 - 1; i >= 0; i-- {
		n.down(i)
	}
}

// push queues ev at virtual time at, with the next sequence number.
func (n *Network) push(at int64, ev event) {
	var slot int32
	if k := len(n.free); k > 0 {
		slot = n.free[k-1]
		n.free = n.free[:k-1]
		n.slots[slot] = ev
	} else {
		slot = int32(len(n.slots))
		n.slots = append(n.slots, ev)
	}
	n.seq++
	n.q = append(n.q, qitem{at: at, seq: n.seq, slot: slot})
	i := len(n.q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !n.q[i].before(&n.q[parent]) {
			break
		}
		n.q[i], n.q[parent] = n.q[parent], n.q[i]
		i = parent
	}
}

// pop removes the earliest event and returns its time and payload. The
// queue must not be empty.
func (n *Network) pop() (int64, event) {
	it := n.q[0]
	last := len(n.q) - 1
	n.q[0] = n.q[last]
	n.q = n.q[:last]
	if last > 0 {
		n.down(0)
	}
	ev := n.slots[it.slot]
	n.slots[it.slot] = event{} // drop the packet reference
	n.free = append(n.free, it.slot)
	return it.at, ev
}

func (n *Network) down(i int) {
	q := n.q
	size := len(q)
	for {
		l := 2*i + 1
		if l >= size {
			return
		}
		c := l
		if r := l + 1; r < size && q[r].before(&q[l]) {
			c = r
		}
		if !q[c].before(&q[i]) {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}

// unmap turns an IPv4-mapped IPv6 address into a plain IPv4 one, as the UDP
// endpoint does.
func unmap(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}
