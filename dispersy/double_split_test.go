package dispersy_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// test_double_signature append with split payload: A signs up to the last
// ',', B appends text after it and signs everything. The append changes no
// byte A signed, so B's response keeps A's signature (both valid, A does
// not sign again), and the result reports the message as modified: B
// changed bytes, just not A's part.
func TestDoubleSplitAppendKeepsBothSignatures(t *testing.T) {
	n := newPnet(t, "A", "B")
	a, b := n.node("A"), n.node("B")
	var results []dispersy.SignatureResult[dt.Text]
	a.do(func() error {
		return dispersy.CreateDoubleSigned(a.c, dt.DoubleSplitText, dt.Text{Text: "Allow=Append,"}, b.key.Public(), b.addr,
			func(_ *dispersy.Context, r dispersy.SignatureResult[dt.Text]) bool {
				results = append(results, r)
				return true
			})
	})
	reqs := a.deliver(b, dispersy.IDSignatureRequest)
	if len(reqs) != 1 {
		t.Fatalf("%d signature requests", len(reqs))
	}
	asked, err := a.c.Codec().Decode(scDecode(t, a.c, dispersy.SignatureRequestType, reqs[0]).payload.Packet)
	if err != nil {
		t.Fatal(err)
	}
	resp := b.deliver(a, dispersy.IDSignatureResponse)
	if len(resp) != 1 {
		t.Fatalf("%d signature responses", len(resp))
	}
	answered, err := a.c.Codec().Decode(scDecode(t, a.c, dispersy.SignatureResponseType, resp[0]).payload.Packet)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(answered.Signatures[0], asked.Signatures[0]) {
		t.Fatal("B's response dropped A's signature: the append changed bytes A signed")
	}
	if len(results) != 1 {
		t.Fatalf("%d results", len(results))
	}
	r := results[0]
	if r.TimedOut || r.Message == nil || r.Message.Payload.Text != "Allow=Append,MODIFIED" {
		t.Fatalf("result: timed out %v, message %+v", r.TimedOut, r.Message)
	}
	if !r.Modified {
		t.Fatal("Modified is false although B appended text")
	}
	done := a.sent(b, dt.DoubleSplitText.ID())
	if len(done) != 1 {
		t.Fatalf("A sent the completed message %d times", len(done))
	}
	f, err := a.c.Codec().Decode(done[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Signatures[0], asked.Signatures[0]) {
		t.Fatal("A signed again: the completed message does not carry its first signature")
	}
	b.give(a, done...)
	if got := b.dc.Handled[dt.DoubleSplitText.ID()]; !slices.Equal(got, []string{"Allow=Append,MODIFIED"}) {
		t.Fatalf("B handled %q", got)
	}
}

// NewMessageTypeFunc: the given functions are the wire form, decoding
// still rejects what they refuse, and a nil function is a spec error.
func TestNewMessageTypeFunc(t *testing.T) {
	pl, err := dt.DoubleSplitText.EncodePayload(dt.Text{Text: "a,b"})
	if err != nil || string(pl) != "a,b" {
		t.Fatalf("split payload %q, %v: want the bare text", pl, err)
	}
	if got, err := dt.DoubleSplitText.DecodePayload([]byte("x,y")); err != nil || got.Text != "x,y" {
		t.Fatalf("decode: %q, %v", got.Text, err)
	}
	if _, err := dt.DoubleSplitText.DecodePayload([]byte{'a', 0xff}); err == nil {
		t.Fatal("invalid UTF-8 decoded")
	}
	spec := dt.DoubleText.Spec()
	if _, err := dispersy.NewMessageTypeFunc[dt.Text](spec, nil, nil); err == nil {
		t.Fatal("NewMessageTypeFunc accepted nil functions")
	}
}
