package dispersy_test

// Dispersy's tests/test_walker.py, tests/test_neighborhood.py and the
// engine-level part of tests/test_nat_detection.py (dispersy.md §9.3, §5):
// introduction requests, responses, puncture requests and the push of a new
// message to verified candidates, delivered by hand.

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// scMembers returns n fake members with distinct LAN addresses.
func scMembers(n int) []*scMember {
	out := make([]*scMember, n)
	for i := range out {
		out[i] = scFakeMember(fmt.Sprint("N", i), i)
	}
	return out
}

// scStumble makes every member a verified (stumble) candidate of node x:
// each sends it an introduction request without advice, as Dispersy's
// test nodes did on start-up (init_my_member). x answers nothing.
func scStumble(t *testing.T, x *scNode, ms []*scMember) {
	t.Helper()
	for _, m := range ms {
		x.receive(m.addr, scIntroRequest(t, x.c, m.key, m.addr, x.addr, false, 1, nil))
		if out := x.take(m.addr); len(out) != 0 {
			t.Fatalf("%s answered an introduction request without advice or sync with %d packets", x, len(out))
		}
	}
	for _, m := range ms {
		if c := x.c.Table().Get(m.addr); c == nil || !c.Verified(x.h.now) {
			t.Fatalf("%s is not a verified candidate of %s after its introduction request", m.name, x)
		}
	}
}

func TestScenarioWalker(t *testing.T) {
	// 1, 2 or 22 nodes send introduction requests with advice to MM in one
	// batch. Every node gets exactly one response, addressed to it, echoing
	// its identifier, and is never introduced to itself; with more than one
	// node, every node is introduced to another node, and MM sends that
	// node a puncture request naming the walker. (Tunnelled nodes: the
	// engine has no tunnel support, so Dispersy's tunnelled variants do not
	// apply.)
	for _, count := range []int{1, 2, 22} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			h := newScHarness(t)
			mm := h.newNode("MM")
			nodes := scMembers(count)
			scStumble(t, mm, nodes)
			byAddr := map[netip.AddrPort]*scMember{}
			var batch []dispersy.Datagram
			for i, n := range nodes {
				byAddr[n.addr] = n
				batch = append(batch, dispersy.Datagram{Addr: n.addr, Data: scIntroRequest(t, mm.c, n.key, n.addr, mm.addr, true, uint16(100+i), nil)})
			}
			mm.receiveBatch(batch)

			punctures := map[netip.AddrPort][]dispersy.PunctureRequest{}
			for _, n := range nodes {
				for _, p := range mm.pendingOut(n.addr, dispersy.IDPunctureRequest) {
					punctures[n.addr] = append(punctures[n.addr], scDecode(t, mm.c, dispersy.PunctureRequestType, p).payload)
				}
			}
			introduced := 0
			for i, n := range nodes {
				resps := mm.take(n.addr, dispersy.IDIntroductionResponse)
				if len(resps) != 1 {
					t.Fatalf("%s got %d introduction responses, want 1", n.name, len(resps))
				}
				r := scDecode(t, mm.c, dispersy.IntroductionResponseType, resps[0]).payload
				if r.Destination != n.addr {
					t.Errorf("%s: response destination %v, want its address %v", n.name, r.Destination, n.addr)
				}
				if r.Identifier != uint16(100+i) {
					t.Errorf("%s: response identifier %d, want %d", n.name, r.Identifier, 100+i)
				}
				if r.IntroducedLAN == n.addr || r.IntroducedWAN == n.addr {
					t.Errorf("%s was introduced to itself (%v, %v)", n.name, r.IntroducedLAN, r.IntroducedWAN)
				}
				if count == 1 {
					if walker.IsValid(r.IntroducedLAN) || walker.IsValid(r.IntroducedWAN) {
						t.Errorf("the only node was introduced to %v / %v, want nobody", r.IntroducedLAN, r.IntroducedWAN)
					}
					continue
				}
				other := byAddr[r.IntroducedLAN]
				if other == nil || r.IntroducedWAN != other.addr {
					t.Errorf("%s was introduced to %v / %v, want one of the other nodes", n.name, r.IntroducedLAN, r.IntroducedWAN)
					continue
				}
				introduced++
				// The introduced node is asked to puncture toward n, with n's
				// addresses as n reported them.
				want := dispersy.PunctureRequest{WalkerLAN: n.addr, WalkerWAN: n.addr, Identifier: uint16(100 + i)}
				if !slices.Contains(punctures[other.addr], want) {
					t.Errorf("%s was introduced to %s, but %s got no puncture request %+v (got %+v)", n.name, other.name, other.name, want, punctures[other.addr])
				}
			}
			if count > 1 && introduced != count {
				t.Errorf("%d of %d nodes were introduced to another node", introduced, count)
			}
			total := 0
			for _, ps := range punctures {
				total += len(ps)
			}
			if want := map[bool]int{true: 0, false: count}[count == 1]; total != want {
				t.Errorf("MM sent %d puncture requests, want %d", total, want)
			}
		})
	}
}

func TestScenarioNeighborhoodForward(t *testing.T) {
	// forward(n, t): MM creates a full-sync-text (node count 10) with t
	// explicit targets among n+t verified candidates. Each target receives
	// it exactly once, nobody receives it twice, and the number of
	// receivers is min(n+t, 10+t).
	for _, tc := range []struct{ free, targets int }{
		{1, 0}, {2, 0}, {3, 0}, {10, 0}, {20, 0}, {0, 5}, {0, 20}, {5, 2}, {2, 5},
	} {
		t.Run(fmt.Sprintf("n=%d/t=%d", tc.free, tc.targets), func(t *testing.T) {
			if d, ok := dt.FullSyncText.Spec().Destination.(policy.CommunityDestination); !ok || d.NodeCount != 10 {
				t.Fatalf("full-sync-text destination %v, want CommunityDestination{NodeCount: 10}", dt.FullSyncText.Spec().Destination)
			}
			h := newScHarness(t)
			mm := h.newNode("MM")
			nodes := scMembers(tc.free + tc.targets)
			scStumble(t, mm, nodes)
			var targets []netip.AddrPort
			for _, n := range nodes[:tc.targets] {
				targets = append(targets, n.addr)
			}
			m := mm.create(dt.FullSyncText, "Hello World!", dispersy.To(targets...))
			receivers := 0
			for i, n := range nodes {
				got := mm.take(n.addr, dt.FullSyncText.ID())
				if i < tc.targets && len(got) != 1 {
					t.Errorf("target %s received the message %d times, want 1", n.name, len(got))
				}
				if len(got) > 1 {
					t.Errorf("%s received the message %d times", n.name, len(got))
				}
				for _, p := range got {
					if !scPacketsEqual([][]byte{p}, [][]byte{m.Packet}) {
						t.Errorf("%s received another packet than the created one", n.name)
					}
				}
				if len(got) > 0 {
					receivers++
				}
			}
			if want := min(tc.free+tc.targets, 10+tc.targets); receivers != want {
				t.Errorf("%d nodes received the message, want %d", receivers, want)
			}
			mm.collect()
			if len(mm.outbox) != 0 {
				t.Errorf("MM sent %d packets to addresses outside the neighborhood", len(mm.outbox))
			}
		})
	}
}

func TestScenarioNATEstimateWithinLAN(t *testing.T) {
	// estimate_addresses_within_LAN: A's introduction request reports its
	// LAN and WAN addresses as unknown. B's response is addressed to A's
	// socket address, and B's candidate for A takes the socket address as
	// its LAN address (A is on B's LAN) and leaves its WAN unknown. From
	// outside the LAN the socket address is A's WAN address instead.
	for _, tc := range []struct {
		name    string
		from    netip.AddrPort
		lan     bool
		wantLAN netip.AddrPort
		wantWAN netip.AddrPort
	}{
		{"within-LAN", netip.MustParseAddrPort("10.0.0.200:7100"), true, netip.MustParseAddrPort("10.0.0.200:7100"), netip.AddrPort{}},
		{"from-WAN", netip.MustParseAddrPort("130.161.119.206:6421"), false, netip.AddrPort{}, netip.MustParseAddrPort("130.161.119.206:6421")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newScHarness(t)
			b := h.newNode("B")
			a := scFakeMember("A", 0)
			req := dispersy.IntroductionRequest{Destination: b.addr, Advice: true, Identifier: 42}
			b.receive(tc.from, scCraft(t, b.c, dispersy.IntroductionRequestType, a.key, 1, 0, req))
			resps := b.take(tc.from, dispersy.IDIntroductionResponse)
			if len(resps) != 1 {
				t.Fatalf("B sent %d introduction responses to A, want 1", len(resps))
			}
			r := scDecode(t, b.c, dispersy.IntroductionResponseType, resps[0]).payload
			if r.Destination != tc.from {
				t.Errorf("response destination %v, want A's socket address %v", r.Destination, tc.from)
			}
			if r.Identifier != 42 {
				t.Errorf("response identifier %d, want 42", r.Identifier)
			}
			c := b.c.Table().Get(tc.from)
			if c == nil {
				t.Fatalf("B has no candidate for %v", tc.from)
			}
			if c.Sock() != tc.from {
				t.Errorf("candidate sock %v, want %v", c.Sock(), tc.from)
			}
			if c.LAN() != tc.wantLAN && !(tc.wantLAN == (netip.AddrPort{}) && !walker.IsValid(c.LAN())) {
				t.Errorf("candidate LAN %v, want %v", c.LAN(), tc.wantLAN)
			}
			if c.WAN() != tc.wantWAN && !(tc.wantWAN == (netip.AddrPort{}) && !walker.IsValid(c.WAN())) {
				t.Errorf("candidate WAN %v, want %v", c.WAN(), tc.wantWAN)
			}
			if m, ok := c.Member(); !ok || m != a.key.ID() {
				t.Errorf("candidate member %v (%v), want A's member id", m, ok)
			}
		})
	}
}

func TestScenarioWalkStep(t *testing.T) {
	// The 4-message step (dispersy.md §5.4) between three engines, every
	// datagram delivered by hand: C and then A walk to B. B answers A with
	// an introduction of C and asks C to puncture toward A; C's puncture
	// reaches A. A ends with B as a walk candidate and C as an intro
	// candidate, and the request is closed: a replayed response or
	// puncture is dropped as unexpected.
	h := newScHarness(t)
	a := h.newNode("A")
	b := h.newNode("B")
	c := h.newNode("C")
	a.c.AddCandidate(b.addr)
	c.c.AddCandidate(b.addr)
	h.advance(a.eng.Config().Walker.StepInterval)

	one := func(x *scNode, to *scNode, id uint8) []byte {
		t.Helper()
		got := x.take(to.addr, id)
		if len(got) != 1 {
			t.Fatalf("%s sent %d packets of message %d to %s, want 1", x, len(got), id, to)
		}
		return got[0]
	}
	// C walks to B; B has nobody to introduce yet.
	c.tick()
	b.receive(c.addr, one(c, b, dispersy.IDIntroductionRequest))
	first := one(b, c, dispersy.IDIntroductionResponse)
	r := scDecode(t, b.c, dispersy.IntroductionResponseType, first).payload
	if walker.IsValid(r.IntroducedLAN) || walker.IsValid(r.IntroducedWAN) {
		t.Fatalf("B introduced %v / %v to C, want nobody", r.IntroducedLAN, r.IntroducedWAN)
	}
	// C takes the response: B is now its walk candidate, so C will honour
	// B's puncture request (a peer that is not a verified candidate may not
	// make us send to a third party).
	c.receive(b.addr, first)
	b.discard()
	c.discard()

	// A walks to B.
	a.tick()
	req := one(a, b, dispersy.IDIntroductionRequest)
	rp := scDecode(t, a.c, dispersy.IntroductionRequestType, req).payload
	if !rp.Advice || rp.Destination != b.addr || rp.SourceLAN != a.addr {
		t.Errorf("A's request %+v: want advice, destination B, source LAN A", rp)
	}
	b.receive(a.addr, req)
	resp := one(b, a, dispersy.IDIntroductionResponse)
	r = scDecode(t, b.c, dispersy.IntroductionResponseType, resp).payload
	if r.IntroducedLAN != c.addr || r.IntroducedWAN != c.addr || r.Identifier != rp.Identifier || r.Destination != a.addr {
		t.Fatalf("B's response %+v: want C introduced, identifier %d, destination A", r, rp.Identifier)
	}
	preq := one(b, c, dispersy.IDPunctureRequest)
	if p := scDecode(t, b.c, dispersy.PunctureRequestType, preq).payload; p.WalkerLAN != a.addr || p.Identifier != rp.Identifier {
		t.Errorf("B's puncture request %+v: want walker A, identifier %d", p, rp.Identifier)
	}
	c.receive(b.addr, preq)
	punct := one(c, a, dispersy.IDPuncture)
	if p := scDecode(t, c.c, dispersy.PunctureType, punct).payload; p.Identifier != rp.Identifier || p.SourceLAN != c.addr {
		t.Errorf("C's puncture %+v: want identifier %d, source C", p, rp.Identifier)
	}
	a.receive(b.addr, resp)
	a.receive(c.addr, punct)

	now := h.now
	if cb := a.c.Table().Get(b.addr); cb == nil || cb.Category(now) != walker.CategoryWalk {
		t.Errorf("A's candidate B: %v, want category walk", cb)
	}
	if cc := a.c.Table().Get(c.addr); cc == nil || cc.Category(now) != walker.CategoryIntro {
		t.Errorf("A's candidate C: %v, want category intro", cc)
	}
	if s := a.eng.Stats(); s.Walks != 1 || s.WalkReplies != 1 {
		t.Errorf("A's stats: %d walks, %d replies, want 1 and 1", s.Walks, s.WalkReplies)
	}
	before := a.dropped(dispersy.DropUnexpected)
	a.receive(b.addr, resp)
	a.receive(c.addr, punct)
	if d := a.dropped(dispersy.DropUnexpected) - before; d != 2 {
		t.Errorf("replayed response and puncture: %d unexpected drops, want 2", d)
	}
}

func TestScenarioSpoofedRequestAmplification(t *testing.T) {
	// DESIGN.md §5: a spoofed introduction request made Dispersy send
	// ~5 KiB to a victim. The engine must limit what it sends to an
	// address that has not proved it is reachable (QUIC's 3x rule): one
	// request with an empty bloom filter from a never-seen address may
	// not bring more than 3 times its size back to that address.
	h := newScHarness(t)
	b := h.newNode("B", scWithConfig(func(c *dispersy.Config) { c.AmplificationFactor = 3 }))
	m := scFakeMember("M", 0)
	b.receive(m.addr, scTexts(t, b.c, dt.FullSyncText, m.key, "some text that makes the packets a little longer", scSpan(10, 109)...)...)
	victim := netip.MustParseAddrPort("10.66.0.1:6666")
	attacker := scFakeMember("X", 1)
	req := scIntroRequest(t, b.c, attacker.key, victim, b.addr, true, 1, scSyncAll(t, 1, 0, 1, 0))
	b.receive(victim, req)
	sent := 0
	for _, p := range b.take(victim) {
		sent += len(p)
	}
	if sent > 3*len(req) {
		t.Errorf("B sent %d bytes to an unverified address in answer to one %d-byte request, more than 3x", sent, len(req))
	}
	if sent == 0 {
		t.Error("B sent nothing: the limit should cut the answer, not silence it")
	}
	if b.dropped(dispersy.DropAmplification) == 0 {
		t.Error("the cut answer was not counted")
	}
}

func TestScenarioWalkDatagramBudget(t *testing.T) {
	// DESIGN.md §5: every datagram fits Config.MaxDatagram (1,232 bytes by
	// default), the bloom filter included. A and B each hold 1,200
	// messages (more than one filter's capacity, about 900); A walks to B
	// three times: A's requests and everything B sends back (the response
	// carries B's own filter) fit, for Ed25519 and Ed448 members alike, and
	// nothing is refused as oversize.
	for _, scheme := range []keys.Scheme{keys.Ed25519, keys.Ed448} {
		t.Run(scheme.String(), func(t *testing.T) {
			h := newScHarness(t)
			a := h.newNode("A", scWithKey(keys.DeriveKey(scheme, []byte("budget A"))))
			b := h.newNode("B", scWithKey(keys.DeriveKey(scheme, []byte("budget B"))))
			ma, mb := scFakeMember("MA", 0), scFakeMember("MB", 1)
			a.receive(ma.addr, scTexts(t, a.c, dt.FullSyncText, ma.key, "a", scSpan(10, 1209)...)...)
			b.receive(mb.addr, scTexts(t, b.c, dt.FullSyncText, mb.key, "b", scSpan(10, 1209)...)...)
			limit := a.eng.Config().MaxDatagram
			wcfg := a.eng.Config().Walker
			a.c.AddCandidate(b.addr)
			blooms := 0
			for step := range 3 {
				h.advance(wcfg.EligibleDelay + wcfg.StepInterval)
				a.tick()
				reqs := a.take(b.addr, dispersy.IDIntroductionRequest)
				if len(reqs) != 1 {
					t.Fatalf("step %d: A sent %d introduction requests to B, want 1", step, len(reqs))
				}
				if len(reqs[0]) > limit {
					t.Errorf("step %d: request of %d bytes, budget %d", step, len(reqs[0]), limit)
				}
				if req := scDecode(t, a.c, dispersy.IntroductionRequestType, reqs[0]).payload; req.Sync != nil {
					blooms++
					if len(req.Sync.Bloom) < limit/2 {
						t.Errorf("step %d: a %d-byte bloom filter wastes the budget of %d", step, len(req.Sync.Bloom), limit)
					}
				}
				b.receive(a.addr, reqs...)
				back := b.take(a.addr)
				for _, p := range back {
					if len(p) > limit {
						t.Errorf("step %d: B sent a %d-byte datagram (message %d), budget %d", step, len(p), scMsgID(p), limit)
					}
				}
				a.receive(b.addr, back...)
				for _, p := range a.take(b.addr) {
					if len(p) > limit {
						t.Errorf("step %d: A sent a %d-byte datagram (message %d), budget %d", step, len(p), scMsgID(p), limit)
					}
				}
			}
			if blooms == 0 {
				t.Error("no request carried a bloom filter")
			}
			for _, x := range []*scNode{a, b} {
				if d := x.dropped(dispersy.DropOversize); d != 0 {
					t.Errorf("%s refused %d oversize datagrams", x, d)
				}
			}
		})
	}
}
