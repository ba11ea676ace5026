package dispersy_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// A flood of introduction requests from thousands of keys and addresses:
// the candidate table stays within its bound, no member record is stored
// for them (walker messages store nothing), and the node keeps working.
func TestHostileIdentityFlood(t *testing.T) {
	h := newScHarness(t)
	b := h.newNode("B", scWithConfig(func(c *dispersy.Config) {
		c.Walker.MaxCandidates = 64
		c.MaxKnownMembers = 100
	}))
	const flood = 2000
	var ds []dispersy.Datagram
	for i := range flood {
		key := keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "flooder %d", i))
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), uint16(1000+i%50000))
		ds = append(ds, dispersy.Datagram{Addr: from, Data: scIntroRequest(t, b.c, key, from, b.addr, true, uint16(i), nil)})
		if i == 0 {
			defer func() {
				if _, ok, _ := b.store.Member(key.ID()); ok {
					t.Error("a flooder's member record was stored")
				}
			}()
		}
	}
	for i := 0; i < len(ds); i += 100 {
		b.receiveBatch(ds[i : i+100])
	}
	if n := b.c.Table().Len(); n > 64 {
		t.Fatalf("candidate table holds %d candidates, bound 64", n)
	}
	if got := b.eng.Stats().Received; got != flood {
		t.Fatalf("received %d of %d", got, flood)
	}
	// Still serving: a real message from a real member is stored.
	m := scFakeMember("M", 1)
	b.receive(m.addr, scTexts(t, b.c, dt.FullSyncText, m.key, "after the flood", 10)...)
	if got := b.count(dt.FullSyncText.ID()); got != 1 {
		t.Fatalf("after the flood B stores %d messages, want 1", got)
	}
}

// Puncture requests aimed at a third party: honoured only from a verified
// candidate, and at most once per target per 10 s.
func TestHostilePunctureRequests(t *testing.T) {
	h := newScHarness(t)
	c := h.newNode("C")
	b := scFakeMember("B", 1)
	victim := netip.MustParseAddrPort("10.66.0.1:6666")
	preq := func(id uint16) []byte {
		return scCraft(t, c.c, dispersy.PunctureRequestType, nil, 1, 0, dispersy.PunctureRequest{WalkerLAN: victim, WalkerWAN: victim, Identifier: id})
	}
	// From a stranger: refused.
	c.receive(b.addr, preq(1))
	if got := c.take(victim); len(got) != 0 {
		t.Fatalf("C punctured toward %v for a stranger", victim)
	}
	if c.dropped(dispersy.DropUnexpected) == 0 {
		t.Fatal("the stranger's request was not counted")
	}
	// B becomes a verified candidate (it walks to C).
	c.receive(b.addr, scIntroRequest(t, c.c, b.key, b.addr, c.addr, false, 7, nil))
	for i := range 5 {
		c.receive(b.addr, preq(uint16(10+i)))
	}
	if got := c.take(victim, dispersy.IDPuncture); len(got) != 1 {
		t.Fatalf("C sent %d punctures toward the target for 5 requests in 10 s, want 1", len(got))
	}
	// The 4 suppressed requests are duplicates, not bad input: counted
	// apart from the drops (issue #17).
	if got := c.eng.Stats().PuncturesSuppressed; got != 4 || c.dropped(dispersy.DropRateLimited) != 0 {
		t.Fatalf("punctures suppressed %d, rate-limited %d, want 4 and 0", got, c.dropped(dispersy.DropRateLimited))
	}
	// Later, one more is allowed.
	h.advance(11 * time.Second)
	c.receive(b.addr, scIntroRequest(t, c.c, b.key, b.addr, c.addr, false, 8, nil))
	c.receive(b.addr, preq(20))
	if got := c.take(victim, dispersy.IDPuncture); len(got) != 1 {
		t.Fatalf("after 10 s: %d punctures, want 1", len(got))
	}
}

// Once an address has answered one of our introduction requests, answers
// to it are no longer limited.
func TestAmplificationLimitLiftsWhenProven(t *testing.T) {
	h := newScHarness(t)
	big := func(c *dispersy.Config) { c.AmplificationFactor = 3; scBigSyncBudget(c) }
	a := h.newNode("A", scWithConfig(big))
	b := h.newNode("B", scWithConfig(big))
	m := scFakeMember("M", 1)
	b.receive(m.addr, scTexts(t, b.c, dt.FullSyncText, m.key, "some text long enough to matter", scSpan(10, 109)...)...)
	ask := func() int {
		req := scIntroRequest(t, b.c, a.key, a.addr, b.addr, false, 99, scSyncAll(t, 1, 0, 1, 0))
		b.receive(a.addr, req)
		n := 0
		for _, p := range b.take(a.addr) {
			n += len(p)
		}
		return n
	}
	before := ask()
	// B walks to A and A answers: A proved it receives B's packets.
	b.c.AddCandidate(a.addr)
	h.advance(b.eng.Config().Walker.StepInterval)
	b.tick()
	reqs := b.take(a.addr, dispersy.IDIntroductionRequest)
	if len(reqs) != 1 {
		t.Fatalf("B sent %d introduction requests to A", len(reqs))
	}
	a.receive(b.addr, reqs...)
	b.receive(a.addr, a.take(b.addr, dispersy.IDIntroductionResponse)...)
	if !b.eng.Proven(a.addr) {
		t.Fatal("A's response did not prove its address")
	}
	after := ask()
	if before >= after || after < 10000 {
		t.Fatalf("answer %d bytes before the proof and %d after: want the limit lifted", before, after)
	}
}
