package dispersytest_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// ---- toy machines ----

// outbox implements Ready for the toys. It hands out its slice and reuses
// the backing array, which the Machine contract allows.
type outbox struct{ out []dispersy.Datagram }

func (o *outbox) sendTo(to netip.AddrPort, pkt []byte) {
	o.out = append(o.out, dispersy.Datagram{Addr: to, Data: pkt})
}

func (o *outbox) Ready() []dispersy.Datagram {
	r := o.out
	o.out = o.out[:0]
	return r
}

// numbered builds a toy datagram: seq and the virtual send time.
func numbered(seq uint64, sent time.Time) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, seq)
	binary.BigEndian.PutUint64(b[8:], uint64(sent.UnixNano()))
	return b
}

// arrival is one datagram a toy received.
type arrival struct {
	from netip.AddrPort
	seq  uint64
	sent time.Time
	at   time.Time
	size int
}

func parse(from netip.AddrPort, pkt []byte, now time.Time) arrival {
	a := arrival{from: from, at: now, size: len(pkt)}
	if len(pkt) >= 16 {
		a.seq = binary.BigEndian.Uint64(pkt)
		a.sent = time.Unix(0, int64(binary.BigEndian.Uint64(pkt[8:]))).UTC()
	}
	return a
}

// pinger sends count numbered datagrams to target, one every interval,
// starting at its first tick, and records what comes back.
type pinger struct {
	outbox
	target   netip.AddrPort
	interval time.Duration
	count    int
	sent     int
	next     time.Time
	got      []arrival
}

func newPinger(start time.Time, target netip.AddrPort, interval time.Duration, count int) *pinger {
	return &pinger{target: target, interval: interval, count: count, next: start}
}

func (p *pinger) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	p.got = append(p.got, parse(from, pkt, now))
	return nil
}

func (p *pinger) Tick(now time.Time) error {
	for p.sent < p.count && !p.next.After(now) {
		p.sendTo(p.target, numbered(uint64(p.sent), now))
		p.sent++
		p.next = p.next.Add(p.interval)
	}
	return nil
}

func (p *pinger) NextDeadline() (time.Time, bool) { return p.next, p.sent < p.count }

// echo returns every datagram to its sender, unchanged, and records it.
type echo struct {
	outbox
	got []arrival
}

func (e *echo) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	e.got = append(e.got, parse(from, pkt, now))
	e.sendTo(from, pkt) // pkt is read-only: sending the same bytes on is fine
	return nil
}
func (e *echo) Tick(time.Time) error            { return nil }
func (e *echo) NextDeadline() (time.Time, bool) { return time.Time{}, false }

// sink records every datagram and never answers.
type sink struct {
	outbox
	got []arrival
}

func (s *sink) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	s.got = append(s.got, parse(from, pkt, now))
	return nil
}
func (s *sink) Tick(time.Time) error            { return nil }
func (s *sink) NextDeadline() (time.Time, bool) { return time.Time{}, false }

// gossip floods a token: a peer that learns it forwards it to fanout random
// peers at once and then every interval, for rounds rounds.
type gossip struct {
	outbox
	peers    []netip.AddrPort
	rng      *rand.Rand
	fanout   int
	interval time.Duration
	rounds   int

	has     bool
	learned time.Time
	left    int
	next    time.Time
}

var token = []byte("token")

func newGossip(seed uint64, peers []netip.AddrPort) *gossip {
	return &gossip{peers: peers, rng: rand.New(rand.NewPCG(seed, 1)), fanout: 2, interval: 100 * time.Millisecond, rounds: 20}
}

func (g *gossip) learn(now time.Time) {
	if g.has {
		return
	}
	g.has, g.learned, g.left = true, now, g.rounds
	g.push(now)
}

func (g *gossip) push(now time.Time) {
	for range g.fanout {
		g.sendTo(g.peers[g.rng.IntN(len(g.peers))], token)
	}
	g.left--
	g.next = now.Add(g.interval)
}

func (g *gossip) Receive(now time.Time, _ netip.AddrPort, _ []byte) error {
	g.learn(now)
	return nil
}

func (g *gossip) Tick(now time.Time) error {
	if g.has && g.left > 0 && !g.next.After(now) {
		g.push(now)
	}
	return nil
}

func (g *gossip) NextDeadline() (time.Time, bool) { return g.next, g.has && g.left > 0 }

// ticker records its ticks. It is armed at one deadline; after a tick it
// re-arms every period while remaining > 0.
type ticker struct {
	outbox
	deadline  time.Time
	armed     bool
	period    time.Duration
	remaining int
	ticks     []time.Time
	stuck     bool // bug: keeps its due deadline after Tick
}

func (k *ticker) Receive(time.Time, netip.AddrPort, []byte) error { return nil }

func (k *ticker) Tick(now time.Time) error {
	k.ticks = append(k.ticks, now)
	if k.stuck || !k.armed || k.deadline.After(now) {
		return nil
	}
	k.armed = false
	if k.remaining > 0 {
		k.remaining--
		k.deadline, k.armed = now.Add(k.period), true
	}
	return nil
}

func (k *ticker) NextDeadline() (time.Time, bool) { return k.deadline, k.armed }

// failer returns an error on its n-th datagram.
type failer struct {
	sink
	n int
}

var errToy = errors.New("toy failure")

func (f *failer) Receive(now time.Time, from netip.AddrPort, pkt []byte) error {
	f.sink.Receive(now, from, pkt)
	if len(f.got) == f.n {
		return errToy
	}
	return nil
}

// ---- helpers ----

func newNet(t testing.TB, cfg dispersytest.NetworkConfig) *dispersytest.Network {
	t.Helper()
	n, err := dispersytest.NewNetwork(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func add(t testing.TB, n *dispersytest.Network, addr netip.AddrPort, m dispersytest.Machine) {
	t.Helper()
	if err := n.Add(addr, m); err != nil {
		t.Fatal(err)
	}
}

func runIdle(t testing.TB, n *dispersytest.Network, limit time.Duration) {
	t.Helper()
	idle, err := n.RunUntilIdle(n.Now().Add(limit))
	if err != nil {
		t.Fatal(err)
	}
	if !idle {
		t.Fatalf("network not idle after %v: %d in flight", limit, n.InFlight())
	}
}

// checkConservation asserts that every datagram is accounted for.
func checkConservation(t testing.TB, n *dispersytest.Network) {
	t.Helper()
	s := n.Stats()
	if s.Sent+s.Duplicated != s.Delivered+s.Dropped()+uint64(n.InFlight()) {
		t.Errorf("datagrams not conserved: sent %d + duplicated %d != delivered %d + dropped %d + in flight %d",
			s.Sent, s.Duplicated, s.Delivered, s.Dropped(), n.InFlight())
	}
}

var (
	a = dispersytest.PeerAddr(0)
	b = dispersytest.PeerAddr(1)
	c = dispersytest.PeerAddr(2)
	d = dispersytest.PeerAddr(3)
)

// ---- tests ----

// gossipRun floods a token over 60 peers on a lossy, jittery, duplicating,
// reordering network and returns the full trace.
func gossipRun(t *testing.T, seed uint64) []string {
	return gossipRunLinks(t, seed, dispersytest.PeerLink{})
}

// gossipRunLinks is gossipRun with every peer's access link set to pl.
func gossipRunLinks(t *testing.T, seed uint64, pl dispersytest.PeerLink) []string {
	var trace []string
	n := newNet(t, dispersytest.NetworkConfig{
		Seed:     seed,
		PeerLink: pl,
		LinkConfig: dispersytest.LinkConfig{
			Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
			Loss: 0.1, Duplicate: 0.05, Reorder: 0.1, ReorderDelay: 30 * time.Millisecond,
		},
		Trace: func(e dispersytest.Event) { trace = append(trace, fmt.Sprintf("%v %x", e, e.Data)) },
	})
	var addrs []netip.AddrPort
	for i := range 60 {
		addrs = append(addrs, dispersytest.PeerAddr(i))
	}
	for i, addr := range addrs {
		add(t, n, addr, newGossip(uint64(i), addrs))
	}
	if err := n.Do(addrs[0], func(now time.Time) error {
		m, _ := n.Machine(addrs[0])
		m.(*gossip).learn(now)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	runIdle(t, n, time.Hour)
	checkConservation(t, n)
	return trace
}

func TestDeterminism(t *testing.T) {
	first := gossipRun(t, 1)
	again := gossipRun(t, 1)
	if len(first) < 1000 {
		t.Fatalf("trace has only %d events; the scenario is too small to prove anything", len(first))
	}
	if !slices.Equal(first, again) {
		i := 0
		for i < min(len(first), len(again)) && first[i] == again[i] {
			i++
		}
		t.Fatalf("same seed, different runs: %d vs %d events, first difference at event %d", len(first), len(again), i)
	}
	if other := gossipRun(t, 2); slices.Equal(first, other) {
		t.Fatal("seeds 1 and 2 gave identical traces")
	}
}

func TestLossRate(t *testing.T) {
	for _, loss := range []float64{0, 0.1, 0.25, 1} {
		t.Run(fmt.Sprint(loss), func(t *testing.T) {
			const count = 20000
			n := newNet(t, dispersytest.NetworkConfig{Seed: 7, LinkConfig: dispersytest.LinkConfig{Latency: time.Millisecond, Loss: loss}})
			s := &sink{}
			add(t, n, b, s)
			add(t, n, a, newPinger(n.Now(), b, time.Millisecond, count))
			runIdle(t, n, time.Hour)

			st := n.Stats()
			if st.Sent != count || st.Delivered != uint64(len(s.got)) || st.DroppedLoss+st.Delivered != count {
				t.Fatalf("Stats %+v, sink got %d: want %d sent = delivered + lost", st, len(s.got), count)
			}
			got := float64(st.DroppedLoss) / count
			// Binomial standard deviation is at most 0.0035 here; 0.015 is
			// more than 4 of them (and the run is deterministic anyway).
			if got < loss-0.015 || got > loss+0.015 {
				t.Fatalf("loss rate %.4f, configured %.2f", got, loss)
			}
			ps, _ := n.PeerStats(a)
			if ps.DroppedLoss != st.DroppedLoss || ps.Sent != count {
				t.Errorf("sender PeerStats %+v do not carry its %d losses", ps, st.DroppedLoss)
			}
			checkConservation(t, n)
		})
	}
}

func TestDuplicate(t *testing.T) {
	const count = 20000
	var dupEvents int
	n := newNet(t, dispersytest.NetworkConfig{
		Seed:       3,
		LinkConfig: dispersytest.LinkConfig{Latency: time.Millisecond, Jitter: time.Millisecond, Duplicate: 0.1},
		Trace: func(e dispersytest.Event) {
			if e.Kind == dispersytest.EventDuplicate {
				dupEvents++
			}
		},
	})
	s := &sink{}
	add(t, n, b, s)
	add(t, n, a, newPinger(n.Now(), b, time.Millisecond, count))
	runIdle(t, n, time.Hour)

	st := n.Stats()
	if int(st.Duplicated) != dupEvents || len(s.got) != count+dupEvents {
		t.Fatalf("sink got %d datagrams, Duplicated %d, %d duplicate events; want %d + duplicates", len(s.got), st.Duplicated, dupEvents, count)
	}
	if rate := float64(st.Duplicated) / count; rate < 0.085 || rate > 0.115 {
		t.Fatalf("duplication rate %.4f, configured 0.1", rate)
	}
	// Every duplicated datagram arrived exactly twice, the others once.
	seen := map[uint64]int{}
	for _, g := range s.got {
		seen[g.seq]++
	}
	twice := 0
	for seq := range uint64(count) {
		switch seen[seq] {
		case 1:
		case 2:
			twice++
		default:
			t.Fatalf("datagram %d arrived %d times", seq, seen[seq])
		}
	}
	if twice != dupEvents {
		t.Fatalf("%d datagrams arrived twice, want %d", twice, dupEvents)
	}
	checkConservation(t, n)
}

func TestReorder(t *testing.T) {
	const latency = 10 * time.Millisecond
	for _, tc := range []struct {
		name     string
		link     dispersytest.LinkConfig
		reorders bool
	}{
		{"none", dispersytest.LinkConfig{Latency: latency}, false},
		{"reorder", dispersytest.LinkConfig{Latency: latency, Reorder: 0.2, ReorderDelay: 50 * time.Millisecond}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, dispersytest.NetworkConfig{Seed: 11, LinkConfig: tc.link})
			s := &sink{}
			add(t, n, b, s)
			add(t, n, a, newPinger(n.Now(), b, time.Millisecond, 1000))
			runIdle(t, n, time.Hour)
			if len(s.got) != 1000 {
				t.Fatalf("sink got %d datagrams, want 1000", len(s.got))
			}
			inversions := 0
			for i := 1; i < len(s.got); i++ {
				if s.got[i].seq < s.got[i-1].seq {
					inversions++
				}
			}
			delayed := 0
			for _, g := range s.got {
				dl := g.at.Sub(g.sent)
				if dl < latency || dl > latency+tc.link.ReorderDelay {
					t.Fatalf("datagram %d took %v, want within [%v, %v]", g.seq, dl, latency, latency+tc.link.ReorderDelay)
				}
				if dl > latency {
					delayed++
				}
			}
			if tc.reorders {
				if inversions == 0 {
					t.Fatal("Reorder 0.2: datagrams still arrived in order")
				}
				if r := float64(delayed) / 1000; r < 0.15 || r > 0.25 {
					t.Fatalf("%.3f of datagrams got the extra delay, configured 0.2", r)
				}
			} else if inversions != 0 || delayed != 0 {
				t.Fatalf("no reordering configured: %d inversions, %d delayed", inversions, delayed)
			}
		})
	}
}

func TestLatencyJitter(t *testing.T) {
	for _, tc := range []struct {
		latency, jitter time.Duration
	}{
		{0, 0},
		{20 * time.Millisecond, 0},
		{20 * time.Millisecond, 5 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%v+%v", tc.latency, tc.jitter), func(t *testing.T) {
			n := newNet(t, dispersytest.NetworkConfig{Seed: 5, LinkConfig: dispersytest.LinkConfig{Latency: tc.latency, Jitter: tc.jitter}})
			e := &echo{}
			add(t, n, b, e)
			p := newPinger(n.Now(), b, 10*time.Millisecond, 500)
			add(t, n, a, p)
			runIdle(t, n, time.Hour)
			if len(e.got) != 500 || len(p.got) != 500 {
				t.Fatalf("echo got %d, pinger got %d back; want 500 each", len(e.got), len(p.got))
			}
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for _, g := range e.got {
				dl := g.at.Sub(g.sent)
				lo, hi = min(lo, dl), max(hi, dl)
			}
			if lo < tc.latency || hi > tc.latency+tc.jitter {
				t.Fatalf("one-way delays in [%v, %v], want within [%v, %v]", lo, hi, tc.latency, tc.latency+tc.jitter)
			}
			if tc.jitter > 0 && hi-lo < tc.jitter/2 {
				t.Fatalf("jitter %v: delays only spread over %v", tc.jitter, hi-lo)
			}
			for _, g := range p.got { // round trip
				if rtt := g.at.Sub(g.sent); rtt < 2*tc.latency || rtt > 2*(tc.latency+tc.jitter) {
					t.Fatalf("round trip %v, want within [%v, %v]", rtt, 2*tc.latency, 2*(tc.latency+tc.jitter))
				}
			}
		})
	}
}

// TestLinkOverrides checks SetLink, SetLinkOneWay, Link and ResetLink.
func TestLinkOverrides(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: 10 * time.Millisecond}})
	sb, sc := &sink{}, &sink{}
	add(t, n, b, sb)
	add(t, n, c, sc)
	add(t, n, a, &sink{})
	slow := dispersytest.LinkConfig{Latency: time.Second}
	if err := n.SetLink(a, b, slow); err != nil {
		t.Fatal(err)
	}
	if err := n.SetLinkOneWay(a, c, dispersytest.LinkConfig{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if got := n.Link(b, a); got != slow {
		t.Fatalf("Link(b, a) = %+v, want the symmetric override %+v", got, slow)
	}
	if got := n.Link(c, a); got.Loss != 0 || got.Latency != 10*time.Millisecond {
		t.Fatalf("Link(c, a) = %+v, want the default (one-way override)", got)
	}
	if err := n.SetLink(a, b, dispersytest.LinkConfig{Loss: 2}); err == nil {
		t.Fatal("SetLink with Loss 2 succeeded")
	}

	start := n.Now()
	for range 10 {
		n.Inject(a, b, []byte("slow"))
		n.Inject(a, c, []byte("lost"))
		n.Inject(c, b, []byte("fast"))
	}
	runIdle(t, n, time.Hour)
	if len(sc.got) != 0 || len(sb.got) != 20 {
		t.Fatalf("c got %d (want 0: loss 1), b got %d (want 20)", len(sc.got), len(sb.got))
	}
	for _, g := range sb.got {
		want := 10 * time.Millisecond
		if g.from == a {
			want = time.Second
		}
		if dl := g.at.Sub(start); dl != want {
			t.Fatalf("datagram from %v took %v, want %v", g.from, dl, want)
		}
	}

	n.ResetLink(a, b)
	n.ResetLink(a, c)
	if got := n.Link(a, c); got.Loss != 0 {
		t.Fatalf("after ResetLink, Link(a, c) = %+v, want the default", got)
	}
	n.Inject(a, c, []byte("now arrives"))
	runIdle(t, n, time.Hour)
	if len(sc.got) != 1 {
		t.Fatalf("after ResetLink c got %d datagrams, want 1", len(sc.got))
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: time.Millisecond}})
	sinks := map[netip.AddrPort]*sink{}
	all := []netip.AddrPort{a, b, c, d}
	for _, x := range all {
		sinks[x] = &sink{}
		add(t, n, x, sinks[x])
	}
	// broadcast sends one datagram from every peer to every other peer.
	broadcast := func() {
		for _, from := range all {
			for _, to := range all {
				if from != to {
					n.Inject(from, to, []byte("hi"))
				}
			}
		}
		runIdle(t, n, time.Minute)
	}
	// expect checks who heard from whom in the last broadcast.
	expect := func(connected func(x, y netip.AddrPort) bool) {
		t.Helper()
		for _, to := range all {
			var heard []netip.AddrPort
			for _, g := range sinks[to].got {
				heard = append(heard, g.from)
			}
			sinks[to].got = nil
			var want []netip.AddrPort
			for _, from := range all {
				if from != to && connected(from, to) {
					want = append(want, from)
				}
			}
			if !slices.Equal(heard, want) {
				t.Errorf("%v heard from %v, want %v", to, heard, want)
			}
		}
	}
	group := func(x netip.AddrPort) int { return map[netip.AddrPort]int{a: 0, b: 0, c: 1, d: 1}[x] }

	if err := n.Partition([]netip.AddrPort{a, b}, []netip.AddrPort{c, d}); err != nil {
		t.Fatal(err)
	}
	broadcast()
	expect(func(x, y netip.AddrPort) bool { return group(x) == group(y) })
	if got := n.Stats().DroppedPartition; got != 8 {
		t.Errorf("DroppedPartition = %d, want 8", got)
	}

	// Unlisted addresses form one group together: isolating a alone.
	if err := n.Partition([]netip.AddrPort{a}); err != nil {
		t.Fatal(err)
	}
	broadcast()
	expect(func(x, y netip.AddrPort) bool { return x != a && y != a })

	n.Heal()
	broadcast()
	expect(func(x, y netip.AddrPort) bool { return true })

	if err := n.Partition([]netip.AddrPort{a, b}, []netip.AddrPort{b}); err == nil {
		t.Error("Partition with b in two groups succeeded")
	}
	checkConservation(t, n)
}

// TestGossipPartitionHeal floods a token: during a partition it covers only
// the seed's side; after Heal the gossip still running reaches everyone.
func TestGossipPartitionHeal(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{Seed: 9, LinkConfig: dispersytest.LinkConfig{Latency: 5 * time.Millisecond, Jitter: 5 * time.Millisecond}})
	var addrs []netip.AddrPort
	for i := range 40 {
		addrs = append(addrs, dispersytest.PeerAddr(i))
	}
	peers := map[netip.AddrPort]*gossip{}
	for i, x := range addrs {
		g := newGossip(uint64(100+i), addrs)
		g.rounds = 100
		peers[x] = g
		add(t, n, x, g)
	}
	left, right := addrs[:20], addrs[20:]
	if err := n.Partition(left, right); err != nil {
		t.Fatal(err)
	}
	if err := n.Do(left[0], func(now time.Time) error { peers[left[0]].learn(now); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := n.RunFor(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, x := range left {
		if !peers[x].has {
			t.Errorf("%v (seed's side) did not get the token in 2s", x)
		}
	}
	for _, x := range right {
		if peers[x].has {
			t.Fatalf("%v got the token across the partition", x)
		}
	}
	if n.Stats().DroppedPartition == 0 {
		t.Fatal("no datagram was dropped by the partition")
	}

	n.Heal()
	done, err := n.RunWhile(func() bool {
		for _, x := range right {
			if !peers[x].has {
				return true
			}
		}
		return false
	}, n.Now().Add(time.Minute))
	if err != nil || !done {
		t.Fatalf("after Heal the token did not reach everyone: done %v, err %v", done, err)
	}
}

func TestTickScheduling(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{})
	t0 := n.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// A tick asked for at T comes exactly once, at T.
	k := &ticker{deadline: at(5 * time.Second), armed: true}
	add(t, n, a, k)
	runIdle(t, n, time.Hour)
	if !slices.Equal(k.ticks, []time.Time{at(5 * time.Second)}) {
		t.Fatalf("ticks %v, want exactly one at +5s", k.ticks)
	}
	if !n.Now().Equal(at(5 * time.Second)) {
		t.Fatalf("idle at %v, want the last event's time +5s", n.Now())
	}

	// Periodic: re-armed after each tick.
	k2 := &ticker{deadline: at(6 * time.Second), armed: true, period: time.Second, remaining: 3}
	add(t, n, b, k2)
	runIdle(t, n, time.Hour)
	want := []time.Time{at(6 * time.Second), at(7 * time.Second), at(8 * time.Second), at(9 * time.Second)}
	if !slices.Equal(k2.ticks, want) {
		t.Fatalf("periodic ticks %v, want %v", k2.ticks, want)
	}

	// Moving a deadline (later, then earlier) leaves exactly one tick at
	// the final time: the stale ones are ignored. A background ticker keeps
	// the network busy past them, so they really are popped and skipped.
	now := n.Now()
	bg := &ticker{deadline: now.Add(time.Second), armed: true, period: time.Second, remaining: 30}
	add(t, n, d, bg)
	k3 := &ticker{}
	add(t, n, c, k3)
	for _, dl := range []time.Duration{10 * time.Second, 20 * time.Second, 3 * time.Second} {
		if err := n.Do(c, func(time.Time) error { k3.deadline, k3.armed = now.Add(dl), true; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	runIdle(t, n, time.Hour)
	if !slices.Equal(k3.ticks, []time.Time{now.Add(3 * time.Second)}) {
		t.Fatalf("moved deadline: ticks %v, want one at %v", k3.ticks, now.Add(3*time.Second))
	}

	// Disarming cancels the pending tick.
	if err := n.Do(c, func(time.Time) error { k3.deadline, k3.armed = n.Now().Add(time.Second), true; return nil }); err != nil {
		t.Fatal(err)
	}
	if n.Idle() {
		t.Fatal("a pending tick, but the network reports idle")
	}
	if err := n.Do(c, func(time.Time) error { k3.armed = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if !n.Idle() || n.Step() {
		t.Fatal("disarmed tick still pending")
	}
	if len(k3.ticks) != 1 {
		t.Fatalf("disarmed ticker ticked: %v", k3.ticks)
	}

	// A deadline in the past means now.
	now = n.Now()
	if err := n.Do(c, func(time.Time) error { k3.deadline, k3.armed = now.Add(-time.Hour), true; return nil }); err != nil {
		t.Fatal(err)
	}
	runIdle(t, n, time.Hour)
	if last := k3.ticks[len(k3.ticks)-1]; len(k3.ticks) != 2 || !last.Equal(now) {
		t.Fatalf("past deadline: ticks %v, want a second tick at %v", k3.ticks, now)
	}
	if s, _ := n.PeerStats(c); s.Ticks != 2 {
		t.Fatalf("PeerStats(c).Ticks = %d, want 2", s.Ticks)
	}
}

func TestTickMustAdvance(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{})
	k := &ticker{deadline: n.Now().Add(time.Second), armed: true, stuck: true}
	add(t, n, a, k)
	idle, err := n.RunUntilIdle(n.Now().Add(time.Hour))
	var me *dispersytest.MachineError
	if idle || !errors.As(err, &me) || me.Addr != a || me.Op != "tick" || !strings.Contains(err.Error(), "NextDeadline") {
		t.Fatalf("stuck ticker: idle %v, err %v; want a tick MachineError about NextDeadline", idle, err)
	}
	if len(k.ticks) != 1 {
		t.Fatalf("stuck ticker ticked %d times, want 1 (then the run stops)", len(k.ticks))
	}
}

func TestQuiescence(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: 7 * time.Millisecond}})
	if !n.Idle() || n.Step() {
		t.Fatal("an empty network is not idle")
	}
	e := &echo{}
	add(t, n, b, e)
	p := newPinger(n.Now(), b, time.Second, 3)
	add(t, n, a, p)
	t0 := n.Now()

	steps := 0
	for n.Step() {
		steps++
	}
	// 3 ticks + 3 pings + 3 pongs, nothing else.
	if steps != 9 {
		t.Fatalf("%d steps to quiescence, want 9", steps)
	}
	if want := t0.Add(2*time.Second + 14*time.Millisecond); !n.Now().Equal(want) {
		t.Fatalf("quiescent at %v, want the last pong's arrival %v", n.Now(), want)
	}
	if !n.Idle() || n.InFlight() != 0 || len(p.got) != 3 {
		t.Fatalf("Idle %v, InFlight %d, pongs %d", n.Idle(), n.InFlight(), len(p.got))
	}
	// Quiet networks stay put: Step does not move the clock, RunUntil does.
	before := n.Now()
	if n.Step() || !n.Now().Equal(before) {
		t.Fatal("Step on an idle network did something")
	}
	if err := n.RunFor(time.Minute); err != nil || !n.Now().Equal(before.Add(time.Minute)) {
		t.Fatalf("RunFor on an idle network: err %v, now %v, want %v", err, n.Now(), before.Add(time.Minute))
	}
	st := n.Stats()
	if st.Sent != 6 || st.Delivered != 6 || st.Dropped() != 0 || st.Ticks != 3 || st.SentBytes != 96 || st.DeliveredBytes != 96 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestRunUntilBounds(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{})
	k := &ticker{deadline: n.Now().Add(time.Second), armed: true, period: time.Second, remaining: 9}
	add(t, n, a, k)
	t0 := n.Now()
	// Events exactly at the limit run.
	if err := n.RunUntil(t0.Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(k.ticks) != 3 || !n.Now().Equal(t0.Add(3*time.Second)) {
		t.Fatalf("RunUntil(+3s): %d ticks, now %v", len(k.ticks), n.Now())
	}
	idle, err := n.RunUntilIdle(t0.Add(5500 * time.Millisecond))
	if err != nil || idle || len(k.ticks) != 5 || !n.Now().Equal(t0.Add(5500*time.Millisecond)) {
		t.Fatalf("RunUntilIdle(+5.5s): idle %v err %v, %d ticks, now %v", idle, err, len(k.ticks), n.Now())
	}
	done, err := n.RunWhile(func() bool { return len(k.ticks) < 7 }, t0.Add(time.Hour))
	if err != nil || !done || len(k.ticks) != 7 || !n.Now().Equal(t0.Add(7*time.Second)) {
		t.Fatalf("RunWhile(<7 ticks): done %v err %v, %d ticks, now %v", done, err, len(k.ticks), n.Now())
	}
	done, err = n.RunWhile(func() bool { return true }, t0.Add(time.Hour))
	if err != nil || done || len(k.ticks) != 10 || !n.Now().Equal(t0.Add(10*time.Second)) {
		t.Fatalf("RunWhile(always): done %v err %v, %d ticks, now %v; want idle at +10s", done, err, len(k.ticks), n.Now())
	}
}

func TestRemoveReplace(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: 100 * time.Millisecond}})
	e1 := &echo{}
	add(t, n, b, e1)
	p := newPinger(n.Now(), b, time.Second, 10)
	add(t, n, a, p)
	t0 := n.Now()

	if err := n.Add(b, &echo{}); err == nil {
		t.Fatal("Add over a running peer succeeded")
	}
	if err := n.Replace(c, &echo{}); err == nil {
		t.Fatal("Replace of a never-added address succeeded")
	}
	if err := n.Remove(c); err == nil {
		t.Fatal("Remove of a never-added address succeeded")
	}

	// Pings at 0s, 1s, 2s reach e1 and come back.
	if err := n.RunUntil(t0.Add(2500 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if len(e1.got) != 3 || len(p.got) != 3 {
		t.Fatalf("before Remove: echo got %d, pinger got %d, want 3 and 3", len(e1.got), len(p.got))
	}
	// Stop b: pings at 3s..5s are dropped on arrival.
	if err := n.Remove(b); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(b); err == nil {
		t.Fatal("second Remove succeeded")
	}
	if _, ok := n.Machine(b); ok || slices.Contains(n.Peers(), b) {
		t.Fatal("removed peer still listed")
	}
	if err := n.RunUntil(t0.Add(5500 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ps, _ := n.PeerStats(a)
	if ps.DroppedNoPeer != 3 || len(e1.got) != 3 {
		t.Fatalf("while b is down: a's DroppedNoPeer %d (want 3), old echo got %d (want 3)", ps.DroppedNoPeer, len(e1.got))
	}

	// Restart b with a new machine just after the 6s ping left: that ping
	// is in flight and reaches the new machine.
	if err := n.RunUntil(t0.Add(6050 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e2 := &echo{}
	if err := n.Replace(b, e2); err != nil {
		t.Fatal(err)
	}
	runIdle(t, n, time.Hour)
	if len(e2.got) != 4 || e2.got[0].seq != 6 || len(p.got) != 7 || len(e1.got) != 3 {
		t.Fatalf("after Replace: new echo got %d (first seq %v), pinger got %d, old echo %d; want 4 from seq 6, 7, 3",
			len(e2.got), e2.got, len(p.got), len(e1.got))
	}
	bs, _ := n.PeerStats(b)
	if bs.Delivered != 7 || bs.Sent != 7 {
		t.Fatalf("b's stats across the restart: %+v, want 7 delivered, 7 sent", bs)
	}
	checkConservation(t, n)

	// A removed peer's pending tick is cancelled, and Add can bring the
	// address back.
	k := &ticker{deadline: n.Now().Add(time.Second), armed: true}
	add(t, n, c, k)
	if err := n.Remove(c); err != nil {
		t.Fatal(err)
	}
	runIdle(t, n, time.Hour)
	if len(k.ticks) != 0 {
		t.Fatalf("removed ticker ticked at %v", k.ticks)
	}
	k2 := &ticker{deadline: n.Now().Add(time.Second), armed: true}
	add(t, n, c, k2)
	runIdle(t, n, time.Hour)
	if len(k2.ticks) != 1 {
		t.Fatalf("re-added ticker ticked %d times, want 1", len(k2.ticks))
	}
}

func TestDrops(t *testing.T) {
	var drops []string
	n := newNet(t, dispersytest.NetworkConfig{
		MaxDatagram: 100,
		Trace: func(e dispersytest.Event) {
			if e.Kind == dispersytest.EventDrop {
				drops = append(drops, fmt.Sprintf("%v->%v %v", e.From, e.To, e.Reason))
			}
		},
	})
	s := &sink{}
	add(t, n, b, s)
	add(t, n, a, &sink{})
	nowhere := netip.MustParseAddrPort("192.0.2.1:9")
	n.Inject(a, b, make([]byte, 100))
	n.Inject(a, b, make([]byte, 101))
	n.Inject(a, nowhere, []byte("x"))
	// An outside sender (not a peer) counts in the totals only.
	n.Inject(nowhere, b, []byte("spoofed"))
	runIdle(t, n, time.Hour)

	if len(s.got) != 2 || s.got[0].size != 100 || s.got[1].from != nowhere {
		t.Fatalf("b got %+v, want the 100-byte datagram and the spoofed one", s.got)
	}
	want := []string{fmt.Sprintf("%v->%v oversize", a, b), fmt.Sprintf("%v->%v no-peer", a, nowhere)}
	if !slices.Equal(drops, want) {
		t.Fatalf("drops %v, want %v", drops, want)
	}
	as, _ := n.PeerStats(a)
	if as.Sent != 3 || as.DroppedOversize != 1 || as.DroppedNoPeer != 1 || as.Dropped() != 2 ||
		as.DroppedBy(dispersytest.DropOversize) != 1 || as.DroppedBy(dispersytest.DropNoPeer) != 1 {
		t.Fatalf("a's stats %+v", as)
	}
	if tot := n.Stats(); tot.Sent != 4 || tot.Delivered != 2 || tot.Dropped() != 2 {
		t.Fatalf("totals %+v", tot)
	}
	if _, ok := n.PeerStats(nowhere); ok {
		t.Fatal("PeerStats for a non-peer")
	}
	checkConservation(t, n)
}

func TestMachineError(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: time.Second}})
	f := &failer{n: 2}
	add(t, n, b, f)
	add(t, n, a, newPinger(n.Now(), b, time.Second, 10))
	t0 := n.Now()
	err := n.RunFor(time.Hour)
	var me *dispersytest.MachineError
	if !errors.As(err, &me) || !errors.Is(err, errToy) {
		t.Fatalf("RunFor: %v, want a MachineError wrapping the toy's error", err)
	}
	if me.Addr != b || me.Op != "receive" || !me.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("MachineError %+v, want peer %v, receive, at +2s", me, b)
	}
	if !strings.Contains(err.Error(), b.String()) {
		t.Errorf("error %q does not name the peer", err)
	}
	// The run has stopped for good.
	if n.Step() || n.Err() != err || !n.Now().Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after the error: Step ran, or Err/Now changed (now %v)", n.Now())
	}
	if len(f.got) != 2 {
		t.Fatalf("failer received %d datagrams, want 2", len(f.got))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (dispersytest.NetworkConfig{}).Validate(); err != nil {
		t.Fatalf("zero NetworkConfig: %v", err)
	}
	cfg := dispersytest.NetworkConfig{
		MaxDatagram: -1,
		LinkConfig:  dispersytest.LinkConfig{Latency: -1, Jitter: -1, Loss: 1.5, Duplicate: -0.1, Reorder: 0.5},
	}
	err := cfg.Validate()
	for _, w := range []string{"Latency", "Jitter", "Loss (1.5)", "Duplicate (-0.1)", "ReorderDelay > 0", "MaxDatagram (-1)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, missing %q", err, w)
		}
	}
	if _, err := dispersytest.NewNetwork(cfg); err == nil {
		t.Error("NewNetwork accepted an invalid config")
	}
	nan := dispersytest.LinkConfig{Loss: nanValue()}
	if nan.Validate() == nil {
		t.Error("Loss NaN accepted")
	}
}

func nanValue() float64 { var z float64; return z / z }

func TestStartAndAddresses(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{})
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !n.Now().Equal(want) {
		t.Fatalf("default start %v, want %v", n.Now(), want)
	}
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	if n2 := newNet(t, dispersytest.NetworkConfig{Start: start}); !n2.Now().Equal(start) {
		t.Fatalf("start %v, want %v", n2.Now(), start)
	}

	if got := dispersytest.PeerAddr(0).String(); got != "10.0.0.1:7759" {
		t.Fatalf("PeerAddr(0) = %s", got)
	}
	if got := dispersytest.PeerAddr(300).String(); got != "10.0.1.45:7759" {
		t.Fatalf("PeerAddr(300) = %s", got)
	}
	// IPv4-mapped addresses are the same peer as the plain ones.
	s := &sink{}
	mapped := netip.AddrPortFrom(netip.AddrFrom16(b.Addr().As16()), b.Port())
	add(t, n, mapped, s)
	if _, ok := n.Machine(b); !ok {
		t.Fatal("peer added at a 4-in-6 address is not found at the plain address")
	}
	n.Inject(a, b, []byte("x"))
	runIdle(t, n, time.Second)
	if len(s.got) != 1 {
		t.Fatalf("got %d datagrams", len(s.got))
	}
	if err := n.Add(netip.AddrPort{}, s); err == nil {
		t.Fatal("Add of the zero address succeeded")
	}
	if err := n.Add(c, nil); err == nil {
		t.Fatal("Add of a nil machine succeeded")
	}
}

// TestStaleTickCompaction moves one peer's deadline many times; the stale
// tick events must not pile up without bound or change the result.
func TestStaleTickCompaction(t *testing.T) {
	n := newNet(t, dispersytest.NetworkConfig{})
	k := &ticker{}
	add(t, n, a, k)
	now := n.Now()
	for i := range 100000 {
		if err := n.Do(a, func(time.Time) error {
			k.deadline, k.armed = now.Add(time.Hour-time.Duration(i)), true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	runIdle(t, n, 2*time.Hour)
	want := now.Add(time.Hour - 99999)
	if len(k.ticks) != 1 || !k.ticks[0].Equal(want) {
		t.Fatalf("ticks %v, want one at %v", k.ticks, want)
	}
}

// TestScale floods a token over 1,000 peers on a lossy network: everyone
// gets it, every datagram is accounted for, and it is fast enough to run by
// default (one goroutine, virtual time).
func TestScale(t *testing.T) {
	const peers = 1000
	n := newNet(t, dispersytest.NetworkConfig{Seed: 42, LinkConfig: dispersytest.LinkConfig{
		Latency: 20 * time.Millisecond, Jitter: 30 * time.Millisecond, Loss: 0.05, Duplicate: 0.01,
	}})
	addrs := make([]netip.AddrPort, peers)
	for i := range addrs {
		addrs[i] = dispersytest.PeerAddr(i)
	}
	gs := make([]*gossip, peers)
	for i, x := range addrs {
		gs[i] = newGossip(uint64(i), addrs)
		add(t, n, x, gs[i])
	}
	if err := n.Do(addrs[0], func(now time.Time) error { gs[0].learn(now); return nil }); err != nil {
		t.Fatal(err)
	}
	runIdle(t, n, time.Hour)
	var last time.Time
	for i, g := range gs {
		if !g.has {
			t.Fatalf("peer %d never got the token", i)
		}
		if g.learned.After(last) {
			last = g.learned
		}
	}
	st := n.Stats()
	if st.Sent != peers*2*20 {
		t.Fatalf("Sent = %d, want %d (every peer pushes 2 copies for 20 rounds)", st.Sent, peers*2*20)
	}
	checkConservation(t, n)
	t.Logf("1,000 peers: all had the token after %v virtual; %d datagrams, %d lost, quiet at +%v",
		last.Sub(gs[0].learned), st.Sent, st.DroppedLoss, n.Now().Sub(gs[0].learned))
}

// pingPong is the benchmark's machine: every second (from a random phase)
// it pings a random peer; it answers every ping with a pong. It allocates
// nothing per event: the datagrams are shared read-only slices.
type pingPong struct {
	outbox
	peers []netip.AddrPort
	rng   *rand.Rand
	next  time.Time
}

var ping, pong = []byte("ping"), []byte("pong")

func (p *pingPong) Receive(_ time.Time, from netip.AddrPort, pkt []byte) error {
	if pkt[1] == 'i' {
		p.sendTo(from, pong)
	}
	return nil
}

func (p *pingPong) Tick(now time.Time) error {
	p.sendTo(p.peers[p.rng.IntN(len(p.peers))], ping)
	p.next = now.Add(time.Second)
	return nil
}

func (p *pingPong) NextDeadline() (time.Time, bool) { return p.next, true }

// BenchmarkNetwork runs 1,000 ping-pong peers (about 3 events per peer per
// virtual second) on a network with latency, jitter and 1% loss; one op is
// one event. Reports events per wall-clock second and virtual seconds
// simulated per wall-clock second.
func BenchmarkNetwork(b *testing.B) {
	const peers = 1000
	n := newNet(b, dispersytest.NetworkConfig{Seed: 1, LinkConfig: dispersytest.LinkConfig{
		Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.01,
	}})
	addrs := make([]netip.AddrPort, peers)
	for i := range addrs {
		addrs[i] = dispersytest.PeerAddr(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, x := range addrs {
		add(b, n, x, &pingPong{
			peers: addrs,
			rng:   rand.New(rand.NewPCG(uint64(i), 3)),
			next:  n.Now().Add(time.Duration(rng.Int64N(int64(time.Second)))),
		})
	}
	if err := n.RunFor(10 * time.Second); err != nil { // warm up: fill the queue
		b.Fatal(err)
	}
	t0 := n.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !n.Step() {
			b.Fatal("network went idle")
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "events/s")
	b.ReportMetric(n.Now().Sub(t0).Seconds()/sec, "virtual-s/s")
}

// ExampleNetwork floods a message through three peers with 10 ms links: the
// network jumps from event to event, so this takes no wall-clock time.
func ExampleNetwork() {
	nw, err := dispersytest.NewNetwork(dispersytest.NetworkConfig{
		Seed:       1,
		LinkConfig: dispersytest.LinkConfig{Latency: 10 * time.Millisecond},
		Trace: func(e dispersytest.Event) {
			if e.Kind == dispersytest.EventDeliver {
				fmt.Printf("%v: %v -> %v %q\n", e.At.Format("15:04:05.000"), e.From, e.To, e.Data)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p1, p2, p3 := dispersytest.PeerAddr(0), dispersytest.PeerAddr(1), dispersytest.PeerAddr(2)
	nw.Add(p2, &relay{next: p3}) // forwards what it receives
	nw.Add(p3, &relay{})
	nw.Add(p1, &relay{})

	nw.Inject(p1, p2, []byte("hello"))
	idle, err := nw.RunUntilIdle(nw.Now().Add(time.Minute))
	fmt.Println("idle:", idle, "err:", err, "at:", nw.Now().Format("15:04:05.000"))
	fmt.Println("delivered:", nw.Stats().Delivered)
	// Output:
	// 00:00:00.010: 10.0.0.1:7759 -> 10.0.0.2:7759 "hello"
	// 00:00:00.020: 10.0.0.2:7759 -> 10.0.0.3:7759 "hello"
	// idle: true err: <nil> at: 00:00:00.020
	// delivered: 2
}

// relay forwards every datagram to next, if set.
type relay struct {
	outbox
	next netip.AddrPort
}

func (r *relay) Receive(_ time.Time, _ netip.AddrPort, pkt []byte) error {
	if r.next.IsValid() {
		r.sendTo(r.next, pkt)
	}
	return nil
}
func (r *relay) Tick(time.Time) error            { return nil }
func (r *relay) NextDeadline() (time.Time, bool) { return time.Time{}, false }
