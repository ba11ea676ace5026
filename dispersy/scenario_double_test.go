package dispersy_test

import (
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// scCraftDouble builds a double-signed text message of type mt by first and
// second at global time gt, signed by both.
func scCraftDouble(tb testing.TB, c *dispersy.Community, mt *dispersy.MessageType[dt.Text], first, second *keys.PrivateKey, gt uint64, text string) []byte {
	tb.Helper()
	conv := scConversion(tb, c, 0)
	pl, err := mt.EncodePayload(dt.Text{Text: text})
	if err != nil {
		tb.Fatal(err)
	}
	f := &conversion.Frame{
		CommunityVersion: conv.Version(),
		Community:        c.ID(),
		Format:           conv.Format(mt.ID()),
		Authors:          []conversion.Author{conversion.AuthorOf(first.Public()), conversion.AuthorOf(second.Public())},
		GlobalTime:       gt,
		Payload:          pl,
	}
	body, err := conversion.AppendBody(nil, conv, c.ID(), f)
	if err != nil {
		tb.Fatal(err)
	}
	pkt := first.AppendSign(slices.Clone(body), body)
	return second.AppendSign(pkt, body)
}

// Dispersy's test_sync last_1_doublemember: a last-1 double-signed type keeps
// one message per member pair, whatever the order of the two members.
func TestScenarioLast1DoubleMember(t *testing.T) {
	h := newScHarness(t)
	x := h.newNode("X")
	a, b, c := scFakeMember("A", 1), scFakeMember("B", 2), scFakeMember("C", 3)
	ab20 := scCraftDouble(t, x.c, dt.Last1DoubleText, a.key, b.key, 20, "AB@20")
	ac21 := scCraftDouble(t, x.c, dt.Last1DoubleText, a.key, c.key, 21, "AC@21")
	x.receive(a.addr, ab20, ac21)
	want := []uint64{20, 21}
	if got := x.storedTimes(dt.Last1DoubleText.ID()); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want AB@20 and AC@21", got)
	}
	// Older messages of either pair, in either member order, are dropped and
	// the sender gets the newer one back.
	for _, tc := range []struct {
		name   string
		pkt    []byte
		sender *scMember
		back   []byte
	}{
		{"AB@8", scCraftDouble(t, x.c, dt.Last1DoubleText, a.key, b.key, 8, "AB@8"), a, ab20},
		{"AC@9", scCraftDouble(t, x.c, dt.Last1DoubleText, a.key, c.key, 9, "AC@9"), a, ac21},
		{"BA@9", scCraftDouble(t, x.c, dt.Last1DoubleText, b.key, a.key, 9, "BA@9"), b, ab20},
		{"CA@9", scCraftDouble(t, x.c, dt.Last1DoubleText, c.key, a.key, 9, "CA@9"), c, ac21},
	} {
		x.receive(tc.sender.addr, tc.pkt)
		if got := x.storedTimes(dt.Last1DoubleText.ID()); !slices.Equal(got, want) {
			t.Fatalf("%s: stored %v, want %v", tc.name, got, want)
		}
		back := x.take(tc.sender.addr, dt.Last1DoubleText.ID())
		if len(back) != 1 || string(back[0]) != string(tc.back) {
			t.Fatalf("%s: sent back %d packets, want the newer message of the pair", tc.name, len(back))
		}
	}
	// A newer message of a pair replaces the older one, in either order.
	ba30 := scCraftDouble(t, x.c, dt.Last1DoubleText, b.key, a.key, 30, "BA@30")
	x.receive(b.addr, ba30)
	if got := x.storedTimes(dt.Last1DoubleText.ID()); !slices.Equal(got, []uint64{21, 30}) {
		t.Fatalf("after BA@30 stored %v, want AC@21 and BA@30", got)
	}
	// A message with one wrong signature is refused.
	bad := scCraftDouble(t, x.c, dt.Last1DoubleText, a.key, b.key, 40, "AB@40")
	bad[len(bad)-1] ^= 1
	x.receive(a.addr, bad)
	if x.dropped(dispersy.DropBadSignature) != 1 {
		t.Fatal("a broken second signature was not refused")
	}
}
