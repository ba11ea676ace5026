// Package peer is peer-level messaging on a dispersy community, the Go twin
// of IPv8's ez_send, lazy_wrapper and request cache: one line to send a
// signed payload to one peer, a typed handler that receives the sending
// peer and the payload, a request/response helper with timeouts, retries
// and cancellation, and the gossip seed's spread types (DIRECT, RANDOM,
// BROADCAST) as destinations.
//
// A peer message type is an ordinary dispersy message type with fixed
// policies: MemberAuthentication carrying the full key (so no identity
// round trip), PublicResolution, DirectDistribution (never stored or
// synced) and CandidateDestination (sent to the addresses given). Every
// function here runs on the engine's goroutine: in handlers, tasks, or
// Node.Do.
//
//	var Ping = peer.NewType[Text](1, "ping")
//
//	func (o *Overlay) Define(d *dispersy.Definition) {
//		d.Master = master
//		peer.Handle(d, Ping, func(ctx *dispersy.Context, from peer.Peer, p Text) {
//			_ = peer.Send(ctx.Community(), from.Addr, Pong, p)
//		})
//	}
package peer

import (
	"encoding"
	"errors"
	"net/netip"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Peer is the sender of a received peer message: the address it came from
// and the key that signed it.
type Peer struct {
	Addr netip.AddrPort
	Key  *keys.PublicKey
}

// ID returns the peer's member id.
func (p Peer) ID() keys.MemberID { return p.Key.ID() }

// Spec returns the message spec of a peer message type: signed by one
// member (full key), public, direct, sent to given addresses.
func Spec(id uint8, name string) dispersy.MessageSpec {
	return dispersy.MessageSpec{
		ID:             id,
		Name:           name,
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeKey},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.DirectDistribution{},
		Destination:    policy.CandidateDestination{},
	}
}

// NewType returns a peer message type for payloads of type T (id 1..191,
// unique in the community). It panics on an invalid id or empty name, like
// dispersy.DefineMessage, so it suits package-level variables.
func NewType[T encoding.BinaryAppender, PT dispersy.Payload[T]](id uint8, name string) *dispersy.MessageType[T] {
	return dispersy.DefineMessage[T, PT](Spec(id, name))
}

// Handle registers t in the community definition with fn as its handler:
// fn receives each message another peer sent, with the sender and the
// payload (IPv8's lazy_wrapper). Messages this node sent are not handed
// to fn.
func Handle[T any](d *dispersy.Definition, t *dispersy.MessageType[T], fn func(ctx *dispersy.Context, from Peer, payload T)) {
	dispersy.Register(d, t, dispersy.Handlers[T]{Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[T]) {
		for _, m := range batch {
			if m.Local() || len(m.Authors) == 0 {
				continue
			}
			fn(ctx, Peer{Addr: m.Source, Key: m.Authors[0]}, m.Payload)
		}
	}})
}

// ErrNoAddress: Send was given no valid address.
var ErrNoAddress = errors.New("peer: no valid destination address")

// Send signs payload as a message of type t and sends it to each address
// (IPv8's ez_send). It must run on the engine's goroutine.
func Send[T any](c *dispersy.Community, t *dispersy.MessageType[T], payload T, to ...netip.AddrPort) error {
	valid := false
	for _, a := range to {
		valid = valid || (a.IsValid() && a.Port() != 0)
	}
	if !valid {
		return ErrNoAddress
	}
	_, err := dispersy.Create(c, t, payload, dispersy.To(to...))
	return err
}

// Reply sends payload as a message of type t back to the peer that sent
// the message being handled. Like everything the engine sends, it is held
// to the anti-amplification credit (Config.AmplificationFactor), so a
// request replayed from a spoofed address cannot turn this node against a
// victim.
func Reply[T any](c *dispersy.Community, t *dispersy.MessageType[T], payload T, to Peer) error {
	if !to.Addr.IsValid() || to.Addr.Port() == 0 {
		return ErrNoAddress
	}
	_, err := dispersy.Create(c, t, payload, dispersy.To(to.Addr))
	return err
}
