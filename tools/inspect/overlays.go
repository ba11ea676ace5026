package main

import (
	"fmt"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/examples/chat"
	"github.com/dispersy-go/dispersy/keys"
)

// definition is what the tool knows about a community it can decode: its
// codec (built from the overlay's own definition) and a payload decoder
// per message id.
type definition struct {
	overlay  string
	codec    *conversion.Codec
	specs    map[uint8]dispersy.MessageSpec
	payloads map[uint8]func([]byte) (any, error)
}

// payloadOf adapts a message type's DecodePayload.
func payloadOf[T any](t *dispersy.MessageType[T]) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return t.DecodePayload(b) }
}

// knownOverlay is a community definition the tool carries: make returns
// the overlay for a stored community with the given master key, or nil if
// the overlay does not fit it (the debug community has a fixed master).
type knownOverlay struct {
	make     func(master *keys.PublicKey) dispersy.Overlay
	payloads map[uint8]func([]byte) (any, error)
}

// knownOverlays are the definitions the tool can decode, by
// classification (CommunityRecord.Classification).
var knownOverlays = map[string]knownOverlay{
	chat.Name: {
		make: func(master *keys.PublicKey) dispersy.Overlay { return chat.New(master) },
		payloads: map[uint8]func([]byte) (any, error){
			chat.IDMessage:   payloadOf(chat.MessageType),
			chat.IDStatus:    payloadOf(chat.StatusType),
			chat.IDModerator: payloadOf(chat.ModeratorType),
		},
	},
	"debug": {
		make: func(master *keys.PublicKey) dispersy.Overlay {
			if !master.Equal(dispersytest.DebugMaster.Public()) {
				return nil
			}
			return dispersytest.NewDebugCommunity()
		},
		payloads: debugPayloads(),
	},
}

func debugPayloads() map[uint8]func([]byte) (any, error) {
	m := map[uint8]func([]byte) (any, error){}
	for _, t := range dispersytest.DebugTypes {
		m[t.ID()] = payloadOf(t)
	}
	return m
}

// builtinPayloads decode the built-in messages a store can hold.
var builtinPayloads = map[uint8]func([]byte) (any, error){
	dispersy.IDIdentity:         payloadOf(dispersy.IdentityType),
	dispersy.IDAuthorize:        payloadOf(dispersy.AuthorizeType),
	dispersy.IDRevoke:           payloadOf(dispersy.RevokeType),
	dispersy.IDUndoOwn:          payloadOf(dispersy.UndoOwnType),
	dispersy.IDUndoOther:        payloadOf(dispersy.UndoOtherType),
	dispersy.IDDestroyCommunity: payloadOf(dispersy.DestroyCommunityType),
	dispersy.IDDynamicSettings:  payloadOf(dispersy.DynamicSettingsType),
}

// lookupDefinition returns the definition of a stored community when the
// tool knows its overlay, or nil. It builds the codec by joining the
// overlay on a throwaway engine with an in-memory store, so the codec is
// exactly the one the overlay's peers use.
func lookupDefinition(rec dispersy.CommunityRecord) (*definition, error) {
	known, ok := knownOverlays[rec.Classification]
	if !ok {
		return nil, nil
	}
	master, err := keys.ParsePublicKey(rec.Master)
	if err != nil || master.CommunityID() != rec.ID {
		return nil, nil
	}
	overlay := known.make(master)
	if overlay == nil {
		return nil, nil
	}
	me := keys.DeriveKey(keys.Ed25519, []byte("dispersy-go inspect: throwaway member"))
	eng, err := dispersy.NewEngine(dispersy.DefaultConfig(), me, dispersytest.NewMemStore())
	if err != nil {
		return nil, fmt.Errorf("building the %s codec: %w", rec.Classification, err)
	}
	eng.SetTime(time.Unix(0, 0))
	c, err := eng.Join(overlay)
	if err != nil {
		return nil, fmt.Errorf("building the %s codec: %w", rec.Classification, err)
	}
	d := &definition{
		overlay:  rec.Classification,
		codec:    c.Codec(),
		specs:    map[uint8]dispersy.MessageSpec{},
		payloads: map[uint8]func([]byte) (any, error){},
	}
	for _, s := range c.Types() {
		d.specs[s.ID] = s
	}
	for id, f := range builtinPayloads {
		d.payloads[id] = f
	}
	for id, f := range known.payloads {
		d.payloads[id] = f
	}
	return d, nil
}
