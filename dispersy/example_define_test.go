package dispersy_test

import (
	"fmt"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// ExamplePayload is the payload of the "example" message: a text and an amount.
type ExamplePayload struct {
	Text   string
	Amount uint32
}

// AppendBinary encodes the payload: the text (1-byte length), then the amount.
func (p ExamplePayload) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	w.String8(p.Text) // more than 255 bytes, or invalid UTF-8: Finish fails
	w.Uint32(p.Amount)
	return w.Finish()
}

// UnmarshalBinary decodes it; Finish reports the first error or trailing bytes.
func (p *ExamplePayload) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Text = r.String8()
	p.Amount = r.Uint32()
	return r.Finish()
}

// ExampleType is the "example" message. Its id is on the wire: never reuse it.
var ExampleType = dispersy.DefineMessage[ExamplePayload](dispersy.MessageSpec{
	ID: 1, Name: "example",
	Authentication: policy.MemberAuthentication{},
	Resolution:     policy.PublicResolution{},
	Distribution:   policy.DirectDistribution{},
	Destination:    policy.CommunityDestination{NodeCount: 10},
})

// ExampleCommunity is the community: its master key and its message types,
// each with its handlers (Check, Handle, Undo; all optional here).
type ExampleCommunity struct{ Master *keys.PublicKey }

// Define implements dispersy.Overlay.
func (c ExampleCommunity) Define(d *dispersy.Definition) {
	d.Master, d.Version = c.Master, 1
	dispersy.Register(d, ExampleType, dispersy.Handlers[ExamplePayload]{
		Handle: func(_ *dispersy.Context, batch []*dispersy.Message[ExamplePayload]) {
			for _, m := range batch {
				fmt.Printf("example: %s × %d\n", m.Payload.Text, m.Payload.Amount)
			}
		},
	})
}

// The usage guide's ExampleCommunity: a payload with a text and an amount,
// one message type with its four policies, and a community that registers
// it with a handler. The engine runs here on an in-memory store
// with no peers; a created message is handled locally like any other.
func ExampleDefineMessage() {
	master := keys.DeriveKey(keys.Ed448, []byte("example master")) // tools/createkey high
	me := keys.DeriveKey(keys.Ed25519, []byte("example member"))
	eng, err := dispersy.NewEngine(dispersy.DefaultConfig(), me, dispersytest.NewMemStore())
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := eng.Join(ExampleCommunity{Master: master.Public()})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := dispersy.Create(c, ExampleType, ExamplePayload{Text: "apples", Amount: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(m.Packet), "bytes, global time", m.GlobalTime)

	_, err = dispersy.Create(c, ExampleType, ExamplePayload{Text: string(make([]byte, 300))})
	fmt.Println(err)
	// Output:
	// example: apples × 3
	// 139 bytes, global time 2
	// dispersy: encoding "example" payload: conversion: String8: 300 bytes exceed 255
}
