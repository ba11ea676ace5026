package peer_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

var (
	master = keys.DeriveKey(keys.Ed25519, []byte("peer package test community"))
	cid    = master.Public().CommunityID()
	Note   = peer.NewType[dt.Text](1, "note")
)

type got struct {
	from peer.Peer
	text string
}

// overlay is a community with one peer message type and one RPC that
// echoes its request in upper case, or not at all for "silent".
type overlay struct {
	notes []got
	rpc   *peer.RPC[dt.Text, dt.Text]
	seen  []string // requests served
}

func newOverlay() *overlay {
	o := &overlay{}
	var err error
	o.rpc, err = peer.NewRPC[dt.Text, *dt.Text, dt.Text, *dt.Text](2, 3, "echo", func(ctx *dispersy.Context, from peer.Peer, req dt.Text) (dt.Text, bool) {
		o.seen = append(o.seen, req.Text)
		if req.Text == "big" {
			return dt.Text{Text: strings.Repeat("x", 900)}, true
		}
		return dt.Text{Text: "re:" + req.Text}, req.Text != "silent"
	})
	if err != nil {
		panic(err)
	}
	return o
}

func (o *overlay) Define(d *dispersy.Definition) {
	d.Master = master.Public()
	peer.Handle(d, Note, func(ctx *dispersy.Context, from peer.Peer, p dt.Text) {
		o.notes = append(o.notes, got{from, p.Text})
	})
	o.rpc.Register(d)
}

func newSim(t *testing.T, n int) (*dt.Sim, []*overlay) {
	t.Helper()
	sim, err := dt.NewSim(dt.DefaultSimConfig(11))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(n); err != nil {
		t.Fatal(err)
	}
	var ovs []*overlay
	if err := sim.JoinAll(func() dispersy.Overlay { o := newOverlay(); ovs = append(ovs, o); return o }); err != nil {
		t.Fatal(err)
	}
	// Peer messages to an address that never answered one of our
	// introduction requests are held to the anti-amplification credit (one
	// probe per 10 s): let every peer walk to every other first, as peers
	// that message each other have in a running community.
	walked := func() bool {
		for _, p := range sim.Peers {
			n := 0
			for _, x := range p.Engine.Community(cid).Peers() {
				if x.Category == walker.CategoryWalk {
					n++
				}
			}
			if n < len(sim.Peers)-1 {
				return false
			}
		}
		return true
	}
	if ok, err := sim.RunUntil(walked, time.Second, 5*time.Minute); err != nil || !ok {
		t.Fatalf("peers did not walk to each other: %v", err)
	}
	return sim, ovs
}

func do(t *testing.T, sim *dt.Sim, i int, fn func(c *dispersy.Community) error) {
	t.Helper()
	if err := sim.Do(sim.Peers[i], func(e *dispersy.Engine) error { return fn(e.Community(cid)) }); err != nil {
		t.Fatal(err)
	}
}

func TestSendAndHandle(t *testing.T) {
	sim, ovs := newSim(t, 2)
	do(t, sim, 1, func(c *dispersy.Community) error {
		return peer.Send(c, Note, dt.Text{Text: "hi"}, dt.PeerAddr(0))
	})
	if err := sim.Net.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	if len(ovs[0].notes) != 1 || ovs[0].notes[0].text != "hi" || ovs[0].notes[0].from.Addr != dt.PeerAddr(1) ||
		ovs[0].notes[0].from.ID() != sim.Peers[1].Key.ID() {
		t.Fatalf("receiver got %+v", ovs[0].notes)
	}
	if len(ovs[1].notes) != 0 {
		t.Fatalf("the sender's handler saw its own message: %+v", ovs[1].notes)
	}
	do(t, sim, 1, func(c *dispersy.Community) error {
		if err := peer.Send(c, Note, dt.Text{Text: "x"}); !errors.Is(err, peer.ErrNoAddress) {
			t.Errorf("Send with no address: %v", err)
		}
		return nil
	})
}

func TestRPCAnswer(t *testing.T) {
	sim, ovs := newSim(t, 2)
	var answers []string
	var froms []keys.MemberID
	do(t, sim, 1, func(c *dispersy.Community) error {
		_, err := ovs[1].rpc.Call(c, dt.PeerAddr(0), dt.Text{Text: "ping"}, 2*time.Second, func(resp dt.Text, from peer.Peer, err error) {
			if err != nil {
				t.Errorf("call failed: %v", err)
			}
			answers = append(answers, resp.Text)
			froms = append(froms, from.ID())
		})
		return err
	})
	if err := sim.Net.RunFor(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(answers, []string{"re:ping"}) || froms[0] != sim.Peers[0].Key.ID() {
		t.Fatalf("answers %q from %v", answers, froms)
	}
	if ovs[1].rpc.Pending() != 0 || len(sim.Peers[1].Engine.Community(cid).TaskNames()) != 0 {
		t.Fatalf("pending %d, tasks %v after the answer", ovs[1].rpc.Pending(), sim.Peers[1].Engine.Community(cid).TaskNames())
	}
}

func TestRPCTimeoutRetries(t *testing.T) {
	sim, ovs := newSim(t, 2)
	var errs []error
	var at time.Time
	start := sim.Net.Now()
	do(t, sim, 1, func(c *dispersy.Community) error {
		_, err := ovs[1].rpc.Call(c, dt.PeerAddr(0), dt.Text{Text: "silent"}, time.Second, func(_ dt.Text, _ peer.Peer, err error) {
			errs = append(errs, err)
			at = sim.Net.Now()
		}, peer.Retries(2))
		return err
	})
	if err := sim.Net.RunFor(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], peer.ErrTimeout) {
		t.Fatalf("callback errors %v, want one ErrTimeout", errs)
	}
	if d := at.Sub(start); d != 3*time.Second {
		t.Fatalf("timed out after %v, want 3 s (3 attempts of 1 s)", d)
	}
	if !slices.Equal(ovs[0].seen, []string{"silent", "silent", "silent"}) {
		t.Fatalf("server saw %q, want the request and 2 retries", ovs[0].seen)
	}
}

func TestRPCCancel(t *testing.T) {
	sim, ovs := newSim(t, 2)
	var errs []error
	do(t, sim, 1, func(c *dispersy.Community) error {
		id, err := ovs[1].rpc.Call(c, dt.PeerAddr(0), dt.Text{Text: "ping"}, time.Second, func(_ dt.Text, _ peer.Peer, err error) {
			errs = append(errs, err)
		})
		if err != nil {
			return err
		}
		if !ovs[1].rpc.Cancel(c, id) || ovs[1].rpc.Cancel(c, id) {
			t.Error("Cancel should report true once")
		}
		return nil
	})
	if err := sim.Net.RunFor(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], peer.ErrCancelled) {
		t.Fatalf("callback errors %v, want one ErrCancelled", errs)
	}
	// The server still answered; the answer matched nothing and was dropped.
	if st := sim.Peers[1].Engine.Stats(); st.DroppedBy(dispersy.DropUnexpected) != 1 || ovs[1].rpc.Unmatched != 1 {
		t.Fatalf("unexpected drops %d, Unmatched %d; want 1", st.DroppedBy(dispersy.DropUnexpected), ovs[1].rpc.Unmatched)
	}
}

// A response nobody asked for (a forged or late one) is dropped and
// counted, and reaches no callback.
func TestRPCUnmatchedResponse(t *testing.T) {
	sim, ovs := newSim(t, 2)
	_, respT := ovs[0].rpc.Types()
	do(t, sim, 0, func(c *dispersy.Community) error {
		return peer.Send(c, respT, peer.Envelope[dt.Text]{ID: 77, Body: dt.Text{Text: "forged"}}, dt.PeerAddr(1))
	})
	if err := sim.Net.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	if st := sim.Peers[1].Engine.Stats(); st.DroppedBy(dispersy.DropUnexpected) != 1 || ovs[1].rpc.Unmatched != 1 {
		t.Fatalf("unexpected drops %d, Unmatched %d; want 1", st.DroppedBy(dispersy.DropUnexpected), ovs[1].rpc.Unmatched)
	}
}

// A response from another address than the one asked is dropped too.
func TestRPCResponseFromWrongPeer(t *testing.T) {
	sim, ovs := newSim(t, 3)
	var answers int
	var id uint16
	do(t, sim, 1, func(c *dispersy.Community) error {
		var err error
		id, err = ovs[1].rpc.Call(c, dt.PeerAddr(0), dt.Text{Text: "silent"}, 5*time.Second, func(dt.Text, peer.Peer, error) { answers++ })
		return err
	})
	_, respT := ovs[2].rpc.Types()
	do(t, sim, 2, func(c *dispersy.Community) error {
		return peer.Send(c, respT, peer.Envelope[dt.Text]{ID: id, Body: dt.Text{Text: "guess"}}, dt.PeerAddr(1))
	})
	if err := sim.Net.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	if answers != 0 || ovs[1].rpc.Unmatched != 1 || ovs[1].rpc.Pending() != 1 {
		t.Fatalf("answers %d, Unmatched %d, pending %d", answers, ovs[1].rpc.Unmatched, ovs[1].rpc.Pending())
	}
}

func TestSpreadTypes(t *testing.T) {
	sim, ovs := newSim(t, 6)
	// Let the walk verify peers: everyone bootstraps from peer 0.
	if err := sim.Net.RunFor(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		for _, o := range ovs {
			n += len(o.notes)
		}
		return n
	}
	var verified int
	do(t, sim, 0, func(c *dispersy.Community) error {
		verified = len(c.Table().Verified(c.Engine().Now()))
		_, err := peer.Spread(c, Note, dt.Text{Text: "all"}, peer.Broadcast())
		return err
	})
	if verified < 2 {
		t.Fatalf("peer 0 verified only %d peers", verified)
	}
	_ = sim.Net.RunFor(time.Second)
	if n := count(); n != verified {
		t.Fatalf("BROADCAST reached %d, want %d", n, verified)
	}
	do(t, sim, 0, func(c *dispersy.Community) error {
		n, err := peer.Spread(c, Note, dt.Text{Text: "two"}, peer.Random(2))
		if n != 2 {
			t.Errorf("RANDOM(2) targeted %d", n)
		}
		return err
	})
	_ = sim.Net.RunFor(time.Second)
	if n := count(); n != verified+2 {
		t.Fatalf("after RANDOM(2): %d deliveries, want %d", n, verified+2)
	}
	do(t, sim, 0, func(c *dispersy.Community) error {
		_, err := peer.Spread(c, Note, dt.Text{Text: "one"}, peer.Direct(dt.PeerAddr(5)))
		return err
	})
	_ = sim.Net.RunFor(time.Second)
	if l := ovs[5].notes; len(l) == 0 || l[len(l)-1].text != "one" {
		t.Fatalf("DIRECT: peer 5 got %+v", l)
	}
	// Acknowledged spread over the RPC: every target answers.
	acked := map[netip.AddrPort]string{}
	var targets []netip.AddrPort
	do(t, sim, 0, func(c *dispersy.Community) error {
		var err error
		targets, err = ovs[0].rpc.Spread(c, peer.Broadcast(), dt.Text{Text: "ack me"}, time.Second, func(to netip.AddrPort, resp dt.Text, err error) {
			if err == nil {
				acked[to] = resp.Text
			}
		}, peer.Retries(2))
		return err
	})
	_ = sim.Net.RunFor(5 * time.Second)
	if len(acked) != len(targets) || len(targets) != verified {
		t.Fatalf("acked %d of %d targets (verified %d)", len(acked), len(targets), verified)
	}
}

// A signed request replayed from a spoofed address gets its answer only
// within the anti-amplification limit: an answer more than 3 times the
// request's size, to an address that never proved it receives our packets,
// is dropped and counted.
func TestRPCAnswerAmplificationLimited(t *testing.T) {
	sim, ovs := newSim(t, 3)
	reqT, _ := ovs[2].rpc.Types()
	var pkt []byte
	do(t, sim, 2, func(c *dispersy.Community) error {
		m, err := dispersy.Create(c, reqT, peer.Envelope[dt.Text]{ID: 9, Body: dt.Text{Text: "big"}})
		pkt = m.Packet
		return err
	})
	before := sim.Peers[0].Engine.Stats()
	sim.Net.Inject(dt.PeerAddr(9), dt.PeerAddr(0), pkt) // the victim never sent anything
	if err := sim.Net.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	st := sim.Peers[0].Engine.Stats()
	if len(ovs[0].seen) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(ovs[0].seen))
	}
	if d := st.DroppedBy(dispersy.DropAmplification) - before.DroppedBy(dispersy.DropAmplification); d != 1 || st.Sent != before.Sent {
		t.Fatalf("a %d-byte request from a spoofed address: %d answers refused, %d datagrams sent; want 1 and 0",
			len(pkt), d, st.Sent-before.Sent)
	}
}

// On a link that loses 60% of the datagrams, bounded retries get most
// calls answered where single attempts fail more often.
func TestRPCRetriesOnLossyLink(t *testing.T) {
	answered := func(retries int) int {
		sim, ovs := newSim(t, 2)
		lc := dt.LinkConfig{Latency: 20 * time.Millisecond, Loss: 0.6}
		if err := sim.Net.SetLink(dt.PeerAddr(0), dt.PeerAddr(1), lc); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for range 40 {
			do(t, sim, 1, func(c *dispersy.Community) error {
				_, err := ovs[1].rpc.Call(c, dt.PeerAddr(0), dt.Text{Text: "ping"}, 500*time.Millisecond, func(_ dt.Text, _ peer.Peer, err error) {
					if err == nil {
						ok++
					}
				}, peer.Retries(retries))
				return err
			})
		}
		if err := sim.Net.RunFor(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if ovs[1].rpc.Pending() != 0 {
			t.Fatalf("%d calls still pending", ovs[1].rpc.Pending())
		}
		return ok
	}
	once, retried := answered(0), answered(6)
	t.Logf("answered of 40 at 60%% loss: %d without retries, %d with 6", once, retried)
	// A round trip survives with p = 0.16; seven attempts with 1-(0.84^7) ≈ 0.70.
	if retried <= once || retried < 20 {
		t.Fatalf("retries did not help: %d answered without, %d with", once, retried)
	}
}
