package node

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/dispersy-go/dispersy/dht"
)

// TestPacketPadding: queries are padded to queryPad, answers are not, and
// decoding is strict about the padding.
func TestPacketPadding(t *testing.T) {
	q, err := Packet{M: dht.FindNode{Target: dht.ID{1}}}.AppendBinary(nil)
	if err != nil || len(q) != queryPad {
		t.Fatalf("query: %d bytes, %v", len(q), err)
	}
	var p Packet
	if err := p.UnmarshalBinary(q); err != nil || p.M.(dht.FindNode).Target != (dht.ID{1}) {
		t.Fatalf("decode: %+v, %v", p, err)
	}
	a, _ := Packet{M: dht.Error{Code: dht.RateLimited}}.AppendBinary(nil)
	if len(a) >= queryPad {
		t.Fatalf("answer padded: %d bytes", len(a))
	}
	for name, b := range map[string][]byte{
		"nonzero padding": append(bytes.Clone(q[:queryPad-1]), 1),
		"short padding":   q[:queryPad-1],
		"padded answer":   append(bytes.Clone(a), 0),
		"length past end": {0xff, 0xff, 1},
		"empty":           nil,
		"bad message":     {0, 1, 0xee},
	} {
		if err := new(Packet).UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzPacket: decoding never panics, and what decodes re-encodes to the
// same bytes.
func FuzzPacket(f *testing.F) {
	for _, m := range []dht.Message{dht.FindNode{}, dht.FindValue{Key: dht.ID{9}}, dht.Error{Code: dht.BadToken}, dht.Nodes{},
		dht.Introduce{Target: dht.ID{7}}, dht.Puncture{Target: dht.ID{8}, To: netip.MustParseAddrPort("10.0.0.9:7759")}} {
		b, _ := Packet{M: m}.AppendBinary(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if p.UnmarshalBinary(b) != nil {
			return
		}
		again, err := p.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gave %x, %v", b, again, err)
		}
	})
}
