package conversion_test

import (
	"fmt"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// A payload decoder reads fields in order and calls Finish, which reports the
// first failure or bytes left over.
func ExampleReader() {
	// A vote: proposal id (uint32), choice (string8), a list of uint16 tags.
	payload := []byte{0, 0, 0, 7, 3, 'y', 'e', 's', 2, 0, 1, 0, 2}

	r := conversion.NewReader(payload)
	proposal := r.Uint32()
	choice := r.String8()
	var tags []uint16
	for range r.Count8(2) { // each tag is at least 2 bytes
		tags = append(tags, r.Uint16())
	}
	if err := r.Finish(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(proposal, choice, tags)

	// The same reader on a truncated payload: the calls after the failure
	// return zero values, and Finish reports where it failed.
	r = conversion.NewReader(payload[:6])
	proposal, choice = r.Uint32(), r.String8()
	fmt.Printf("%d %q: %v\n", proposal, choice, r.Finish())
	// Output:
	// 7 yes [1 2]
	// 7 "": conversion: too-short at offset 5 (bytes8): need 3 bytes, 1 left
}

// A payload encoder appends fields; a value that does not fit its length
// prefix is reported by Finish.
func ExampleWriter() {
	w := conversion.NewWriter(nil)
	w.Uint32(7)
	w.String8("yes")
	w.Count8(2)
	w.Uint16(1)
	w.Uint16(2)
	b, err := w.Finish()
	fmt.Printf("% x %v\n", b, err)
	// Output:
	// 00 00 00 07 03 79 65 73 02 00 01 00 02 <nil>
}

// Encode, sign, decode and verify one message.
func ExampleCodec() {
	master := keys.DeriveKey(keys.Ed448, []byte("example master"))
	alice := keys.DeriveKey(keys.Ed25519, []byte("example alice"))
	text := &conversion.Format{ID: 1, Name: "text", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Priority: policy.DefaultPriority, SequenceNumbers: true},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	}}
	conv, err := conversion.NewConversion(1, text)
	if err != nil {
		fmt.Println(err)
		return
	}
	codec, err := conversion.NewCodec(master.Public().CommunityID(), conv)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Create: the signed body, then the signature after it.
	f := &conversion.Frame{CommunityVersion: 1, Format: text,
		Authors:    []conversion.Author{conversion.AuthorOf(alice.Public())},
		GlobalTime: 42, Sequence: 1, Payload: []byte("hello")}
	pkt, err := conversion.AppendBody(nil, conv, codec.Community(), f)
	if err != nil {
		fmt.Println(err)
		return
	}
	pkt = alice.AppendSign(pkt, pkt)

	// Receive.
	got, err := codec.Decode(pkt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(pkt), got.Format.Name, got.GlobalTime, got.Sequence, string(got.Payload), got.Verify())

	pkt[len(pkt)-64-1] ^= 1 // a bit of the last payload byte, before the signature
	got, _ = codec.Decode(pkt)
	fmt.Println(conversion.ReasonOf(got.Verify()))
	// Output:
	// 137 text 42 1 hello <nil>
	// bad-signature
}
