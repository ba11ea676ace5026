package dispersytest_test

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

func TestSerializationTime(t *testing.T) {
	for _, tc := range []struct {
		size int
		rate int64
		want time.Duration
	}{
		{100, 0, 0},                                  // unlimited link
		{0, 1000, 0},                                 // nothing to send
		{100, 1000, 100 * time.Millisecond},          // exact
		{1232, 10_000_000, 123_200},                  // a full datagram at 10 MB/s: 123.2 µs
		{1, 3, 333_333_334},                          // rounded up to the nanosecond
		{200, 1, 200 * time.Second},                  // slow link
		{1 << 34, 1, math.MaxInt64},                  // saturates instead of overflowing
		{1500, 1_000_000_000_000, 2},                 // 1.5 ns rounds up to 2
		{1000, 1 << 40, 1},                           // under a nanosecond: 1
		{65535, 125_000, 524_280 * time.Microsecond}, // 1 Mbit/s
	} {
		if got := dispersytest.SerializationTime(tc.size, tc.rate); got != tc.want {
			t.Errorf("SerializationTime(%d, %d) = %v, want %v", tc.size, tc.rate, got, tc.want)
		}
	}
}

// burst sends its datagrams (each of the given size, to target) when added
// and again each time send is called through Network.Do.
type burst struct {
	outbox
	target netip.AddrPort
}

func (b *burst) send(sizes ...int) {
	for i, s := range sizes {
		pkt := make([]byte, s)
		pkt[0] = byte(i)
		b.sendTo(b.target, pkt)
	}
}

func (b *burst) Receive(time.Time, netip.AddrPort, []byte) error { return nil }
func (b *burst) Tick(time.Time) error                            { return nil }
func (b *burst) NextDeadline() (time.Time, bool)                 { return time.Time{}, false }

// TestBandwidthTiming checks the arithmetic of the bandwidth model: upload
// serialization one after another at the sender, the link's latency, and
// download serialization at the receiver, for datagrams from one or
// several senders.
func TestBandwidthTiming(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		// up[i] is sender i's PeerLink; down the receiver's.
		up      []dispersytest.PeerLink
		down    dispersytest.PeerLink
		latency time.Duration
		// sizes[i] are the datagrams sender i sends at 0.
		sizes [][]int
		// want are the arrival times at the receiver, in order.
		want []time.Duration
	}{
		{name: "no rates: latency only",
			up: []dispersytest.PeerLink{{}}, latency: 10 * ms,
			sizes: [][]int{{100, 100, 100}}, want: []time.Duration{10 * ms, 10 * ms, 10 * ms}},
		{name: "upload serializes one after another",
			up: []dispersytest.PeerLink{{Upload: 1000}}, latency: 10 * ms,
			sizes: [][]int{{100, 100, 50}}, want: []time.Duration{110 * ms, 210 * ms, 260 * ms}},
		{name: "download serializes what arrives together",
			up: []dispersytest.PeerLink{{}, {}}, down: dispersytest.PeerLink{Download: 1000}, latency: 10 * ms,
			sizes: [][]int{{100}, {200}}, want: []time.Duration{110 * ms, 310 * ms}},
		{name: "slow upload, fast download: the download adds its own serialization",
			up: []dispersytest.PeerLink{{Upload: 1000}}, down: dispersytest.PeerLink{Download: 10_000}, latency: 10 * ms,
			sizes: [][]int{{100, 100}}, want: []time.Duration{120 * ms, 220 * ms}},
		{name: "fast upload, slow download: the download is the bottleneck",
			up: []dispersytest.PeerLink{{Upload: 10_000}}, down: dispersytest.PeerLink{Download: 1000}, latency: 10 * ms,
			sizes: [][]int{{100, 100}}, want: []time.Duration{120 * ms, 220 * ms}},
		{name: "two senders share one download",
			up: []dispersytest.PeerLink{{Upload: 1000}, {Upload: 1000}}, down: dispersytest.PeerLink{Download: 1000}, latency: 0,
			sizes: [][]int{{100, 100}, {100, 100}}, want: []time.Duration{200 * ms, 300 * ms, 400 * ms, 500 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, dispersytest.NetworkConfig{LinkConfig: dispersytest.LinkConfig{Latency: tc.latency}, MaxDatagram: 1 << 16})
			rx := dispersytest.PeerAddr(100)
			if err := n.SetPeerLink(rx, tc.down); err != nil {
				t.Fatal(err)
			}
			s := &sink{}
			add(t, n, rx, s)
			for i, l := range tc.up {
				addr := dispersytest.PeerAddr(i)
				if err := n.SetPeerLink(addr, l); err != nil {
					t.Fatal(err)
				}
				m := &burst{target: rx}
				m.send(tc.sizes[i]...)
				add(t, n, addr, m)
			}
			start := n.Now()
			runIdle(t, n, time.Hour)
			var got []time.Duration
			for _, a := range s.got {
				got = append(got, a.at.Sub(start))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("arrivals at %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("arrivals at %v, want %v", got, tc.want)
				}
			}
			checkConservation(t, n)
		})
	}
}

// TestBandwidthQueueOverflow: a datagram that does not fit in the bytes a
// queue has not serialized yet is dropped and counted, at the sender's
// upload queue and at the receiver's download queue; once the queue has
// drained, datagrams fit again.
func TestBandwidthQueueOverflow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		up, down   dispersytest.PeerLink
		sizes      []int // sent at 0
		later      []int // sent at laterAt
		laterAt    time.Duration
		delivered  uint64
		sendQueue  uint64
		recvQueue  uint64
		lastArrive time.Duration
	}{
		{name: "upload queue: 250 bytes hold two datagrams of 100",
			up: dispersytest.PeerLink{Upload: 1000, QueueBytes: 250}, sizes: []int{100, 100, 100, 100},
			delivered: 2, sendQueue: 2, lastArrive: 200 * time.Millisecond},
		{name: "upload queue: a datagram fits once 50 bytes went out",
			up: dispersytest.PeerLink{Upload: 1000, QueueBytes: 250}, sizes: []int{100, 100},
			later: []int{100, 100}, laterAt: 50 * time.Millisecond,
			delivered: 3, sendQueue: 1, lastArrive: 300 * time.Millisecond},
		{name: "upload queue exactly full is not overflow",
			up: dispersytest.PeerLink{Upload: 1000, QueueBytes: 300}, sizes: []int{100, 100, 100},
			delivered: 3, lastArrive: 300 * time.Millisecond},
		{name: "a datagram larger than the queue never fits",
			up: dispersytest.PeerLink{Upload: 1000, QueueBytes: 99}, sizes: []int{100},
			sendQueue: 1},
		{name: "default queue: 256 KiB",
			up: dispersytest.PeerLink{Upload: 1000}, sizes: []int{dispersytest.DefaultQueueBytes, 1},
			delivered: 1, sendQueue: 1, lastArrive: dispersytest.SerializationTime(dispersytest.DefaultQueueBytes, 1000)},
		{name: "download queue overflows when a fast sender floods a slow receiver",
			down: dispersytest.PeerLink{Download: 1000, QueueBytes: 250}, sizes: []int{100, 100, 100, 100},
			delivered: 2, recvQueue: 2, lastArrive: 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, dispersytest.NetworkConfig{MaxDatagram: 1 << 20})
			tx, rx := dispersytest.PeerAddr(0), dispersytest.PeerAddr(1)
			for _, x := range []struct {
				addr netip.AddrPort
				l    dispersytest.PeerLink
			}{{tx, tc.up}, {rx, tc.down}} {
				if err := n.SetPeerLink(x.addr, x.l); err != nil {
					t.Fatal(err)
				}
			}
			s := &sink{}
			add(t, n, rx, s)
			m := &burst{target: rx}
			m.send(tc.sizes...)
			add(t, n, tx, m)
			start := n.Now()
			if tc.later != nil {
				if err := n.RunUntil(start.Add(tc.laterAt)); err != nil {
					t.Fatal(err)
				}
				if err := n.Do(tx, func(time.Time) error { m.send(tc.later...); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			runIdle(t, n, time.Hour)
			st := n.Stats()
			if st.Delivered != tc.delivered || st.DroppedSendQueue != tc.sendQueue || st.DroppedReceiveQueue != tc.recvQueue {
				t.Errorf("delivered %d, dropped send-queue %d receive-queue %d; want %d, %d, %d",
					st.Delivered, st.DroppedSendQueue, st.DroppedReceiveQueue, tc.delivered, tc.sendQueue, tc.recvQueue)
			}
			if st.DroppedBy(dispersytest.DropSendQueue) != tc.sendQueue || st.DroppedBy(dispersytest.DropReceiveQueue) != tc.recvQueue {
				t.Errorf("DroppedBy disagrees with the fields: %+v", st)
			}
			// Drops count for the sender.
			if ps, _ := n.PeerStats(tx); ps.Dropped() != tc.sendQueue+tc.recvQueue {
				t.Errorf("sender's drops %d, want %d", ps.Dropped(), tc.sendQueue+tc.recvQueue)
			}
			if len(s.got) > 0 {
				if got := s.got[len(s.got)-1].at.Sub(start); got != tc.lastArrive {
					t.Errorf("last arrival at %v, want %v", got, tc.lastArrive)
				}
			}
			checkConservation(t, n)
		})
	}
}

// TestBandwidthTraceReasons: queue drops are traced with their reason.
func TestBandwidthTraceReasons(t *testing.T) {
	var reasons []string
	n := newNet(t, dispersytest.NetworkConfig{
		PeerLink: dispersytest.PeerLink{Upload: 1000, QueueBytes: 100},
		Trace: func(e dispersytest.Event) {
			if e.Kind == dispersytest.EventDrop {
				reasons = append(reasons, e.Reason.String())
			}
		},
	})
	add(t, n, b, &sink{})
	m := &burst{target: b}
	m.send(100, 100)
	add(t, n, a, m)
	runIdle(t, n, time.Hour)
	if strings.Join(reasons, ",") != "send-queue" {
		t.Errorf("traced drop reasons %v, want [send-queue]", reasons)
	}
	if got := dispersytest.DropReceiveQueue.String(); got != "receive-queue" {
		t.Errorf("DropReceiveQueue.String() = %q", got)
	}
}

func TestPeerLinkValidate(t *testing.T) {
	bad := dispersytest.NetworkConfig{PeerLink: dispersytest.PeerLink{Upload: -1, Download: -2, QueueBytes: -3}}
	err := bad.Validate()
	for _, w := range []string{"Upload (-1)", "Download (-2)", "QueueBytes (-3)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, missing %q", err, w)
		}
	}
	n := newNet(t, dispersytest.NetworkConfig{})
	if err := n.SetPeerLink(a, dispersytest.PeerLink{Upload: -1}); err == nil {
		t.Error("SetPeerLink accepted a negative rate")
	}
	want := dispersytest.PeerLink{Upload: 5, Download: 6, QueueBytes: 7}
	if err := n.SetPeerLink(a, want); err != nil {
		t.Fatal(err)
	}
	if got := n.PeerLink(a); got != want {
		t.Errorf("PeerLink(a) = %+v, want %+v", got, want)
	}
	if got := n.PeerLink(b); got != (dispersytest.PeerLink{}) {
		t.Errorf("PeerLink(b) = %+v, want the zero default", got)
	}
}

// gossipGolden is the SHA-256 of gossipRun(7)'s full trace (6,170 events:
// sends, duplicates, deliveries, drops, ticks with their virtual times)
// taken on the network before the bandwidth model existed.
const gossipGolden = "383c6d3aed6cbbd83bd200e6f17ea7ac01d0ca07d5fe087afdd98585d56ee109"

// TestBandwidthZeroRatesUnchanged: with zero rates the gossip run's full
// trace is the one the network gave before the bandwidth model (same
// events, same times, same random draws), and with rates it differs.
func TestBandwidthZeroRatesUnchanged(t *testing.T) {
	plain := gossipRunLinks(t, 7, dispersytest.PeerLink{})
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join(plain, "\n")))); got != gossipGolden || len(plain) != 6170 {
		t.Fatalf("zero rates: trace of %d events with SHA-256 %s, want 6170 events with %s", len(plain), got, gossipGolden)
	}
	slow := gossipRunLinks(t, 7, dispersytest.PeerLink{Upload: 2000, Download: 2000})
	if strings.Join(plain, "\n") == strings.Join(slow, "\n") {
		t.Fatal("rate-limited links gave the same run as unlimited ones")
	}
}
