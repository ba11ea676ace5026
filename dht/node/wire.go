package node

import (
	"encoding/binary"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dht"
)

// queryPad is the size a find-node or find-value body is padded to, so the
// packet earns the answerer enough anti-amplification credit (3x what it
// received, dispersy Config.AmplificationFactor) for the largest answer
// (a Value of dht.DefaultMaxValueSize bytes, about 1,200 bytes on the wire)
// when the querier has not proved its address to the answerer: QUIC's
// padded Initial, for the same reason.
const queryPad = 300

// Packet is the body of the DHT's request and response messages: one
// dht.Message, as a 16-bit length, the message (dht.EncodeMessage), and for
// queries zero padding up to queryPad bytes.
type Packet struct{ M dht.Message }

func isQuery(m dht.Message) bool {
	_, fn := m.(dht.FindNode)
	_, fv := m.(dht.FindValue)
	return fn || fv
}

// AppendBinary encodes the packet.
func (p Packet) AppendBinary(b []byte) ([]byte, error) {
	enc, err := dht.EncodeMessage(p.M)
	if err != nil {
		return b, err
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
	b = append(b, enc...)
	if isQuery(p.M) {
		for len(b)-start < queryPad {
			b = append(b, 0)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a packet strictly: the padding must be zeros, and
// only queries are padded.
func (p *Packet) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return &conversion.DecodeError{Reason: conversion.TooShort, Field: "dht packet length"}
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > len(b)-2 {
		return &conversion.DecodeError{Reason: conversion.TooShort, Field: "dht packet"}
	}
	m, err := dht.DecodeMessage(b[2 : 2+n])
	if err != nil {
		return err
	}
	rest := b[2+n:]
	if isQuery(m) && len(b) < queryPad {
		// An unpadded query would earn less credit than its answer needs.
		return &conversion.DecodeError{Reason: conversion.TooShort, Field: "dht query padding"}
	}
	if len(rest) > 0 && (!isQuery(m) || len(b) != queryPad) {
		return &conversion.DecodeError{Reason: conversion.Trailing, Field: "dht packet padding"}
	}
	for _, x := range rest {
		if x != 0 {
			return &conversion.DecodeError{Reason: conversion.BadField, Field: "dht packet padding"}
		}
	}
	p.M = m
	return nil
}
