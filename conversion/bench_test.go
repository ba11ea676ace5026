package conversion_test

import (
	"testing"

	"github.com/cloudflare/circl/sign/ed25519"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/policy"
)

// The benchmark message: a 200-byte payload, one Ed25519 author carried by
// key, full sync with sequence numbers (332 bytes on the wire).
type benchSetup struct {
	codec *conversion.Codec
	conv  *conversion.Conversion
	frame *conversion.Frame
	pkt   []byte
	body  []byte
	sig   []byte
}

func newBenchSetup(b *testing.B) benchSetup {
	b.Helper()
	fm := &conversion.Format{ID: 1, Name: "bench", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeKey},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Priority: 128, SequenceNumbers: true},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	}}
	conv := mustConversion(b, 1, fm)
	codec := mustCodec(b, testCID, conv)
	payload := make([]byte, 200)
	for i := range payload {
		payload[i] = byte(i)
	}
	f := &conversion.Frame{CommunityVersion: 1, Format: fm, Authors: []conversion.Author{conversion.AuthorOf(aliceEd25519.Public())},
		GlobalTime: 1 << 40, Sequence: 12345, Payload: payload}
	body, err := conversion.AppendBody(nil, conv, testCID, f)
	if err != nil {
		b.Fatal(err)
	}
	sig := aliceEd25519.Sign(body)
	pkt := append(append([]byte(nil), body...), sig...)
	return benchSetup{codec: codec, conv: conv, frame: f, pkt: pkt, body: body, sig: sig}
}

// BenchmarkEncodeSign appends the body of a frame and signs it: the work of
// creating a message, minus the payload encoding.
func BenchmarkEncodeSign(b *testing.B) {
	s := newBenchSetup(b)
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(s.pkt)))
	b.ReportAllocs()
	for b.Loop() {
		pkt, err := conversion.AppendBody(buf[:0], s.conv, testCID, s.frame)
		if err != nil {
			b.Fatal(err)
		}
		pkt = aliceEd25519.AppendSign(pkt, pkt)
		if len(pkt) != len(s.pkt) {
			b.Fatal("wrong length")
		}
	}
}

// BenchmarkDecodeVerify decodes a packet and verifies its signature: the
// work of accepting a message, minus the payload decoding.
func BenchmarkDecodeVerify(b *testing.B) {
	s := newBenchSetup(b)
	b.SetBytes(int64(len(s.pkt)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := s.codec.Decode(s.pkt)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOnly decodes a packet without verifying it.
func BenchmarkDecodeOnly(b *testing.B) {
	s := newBenchSetup(b)
	b.SetBytes(int64(len(s.pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.codec.Decode(s.pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the reference: circl's Ed25519 verification of
// the same body and signature, with nothing of ours around it.
func BenchmarkEd25519Verify(b *testing.B) {
	s := newBenchSetup(b)
	pub := ed25519.PublicKey(aliceEd25519.Public().Bytes()[1:])
	b.SetBytes(int64(len(s.pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, s.body, s.sig) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkEd25519Sign is the reference for BenchmarkEncodeSign: circl's
// Ed25519 signature of the same body.
func BenchmarkEd25519Sign(b *testing.B) {
	s := newBenchSetup(b)
	priv := ed25519.NewKeyFromSeed(aliceEd25519.Bytes()[1:])
	b.SetBytes(int64(len(s.pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if len(ed25519.Sign(priv, s.body)) != 64 {
			b.Fatal("bad signature")
		}
	}
}
