package dispersy

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Overlay is an application's community: it declares the community's master
// key, wire version and message types with their handlers. An Engine calls
// Define once when the community is joined or loaded.
type Overlay interface {
	Define(d *Definition)
}

// Definition describes one community. Overlay.Define fills it in: set
// Master (required) and Version, then Register every message type.
type Definition struct {
	// Master is the community's master public key (from tools/createkey);
	// the community id is its member id. Required.
	Master *keys.PublicKey
	// Version is the community-version byte of the newest conversion,
	// 1..254. 0 means 1.
	Version uint8
	// Name classifies the overlay for auto-loading (Dispersy's
	// "classification"). Empty means the overlay's Go type name.
	Name string

	types []*typeEntry
	older []olderConversion
	errs  []error
}

type olderConversion struct {
	version uint8
	ids     []uint8
}

// typeEntry is one registered message type with its handlers, type-erased.
type typeEntry struct {
	t       AnyMessageType
	spec    MessageSpec
	builtin bool
	ext     bool // registered by an Extension (built-in ids allowed)

	check  func(*Context, *message) Verdict
	handle func(*Context, []*message)
	undo   func(*Context, []*message)
	allow  func(*Context, *message) (any, bool)
	split  func(payload []byte) int

	removed func(*Context, []*message, RemoveReason)
}

// Handlers are an application's callbacks for one message type. Every
// callback runs on the engine's goroutine: it must not block, and must not
// call Node methods that wait for the engine (that deadlocks). It may call
// Create and the other *Community methods.
type Handlers[T any] struct {
	// Check decides, after the framework's own checks (signature,
	// duplicates, sequence numbers, permissions), whether to keep an
	// incoming message. Optional: nil accepts everything.
	Check func(ctx *Context, m *Message[T]) Verdict
	// Handle receives messages in batches, after they are committed to
	// the store. Messages this node creates are handled too. Optional.
	Handle func(ctx *Context, batch []*Message[T])
	// Undo receives messages that were undone, by an undo message or by a
	// permission change. Required for types that can be undone and for
	// DynamicResolution types.
	Undo func(ctx *Context, batch []*Message[T])
	// AllowSignature decides, for a double-signed type, whether our member
	// adds its signature as the second member of m, and with which payload:
	// m's own (sign as is) or a modified one (then the creator must agree
	// and sign again). Without it, signature requests are refused.
	AllowSignature func(ctx *Context, m *Message[T]) (payload T, ok bool)
	// SplitPayload, for a double-signed type, returns how many leading
	// payload bytes the first member signs; the second member signs the
	// whole message. nil: both sign everything. It must be the same on
	// every peer (it is part of the type's protocol). The second member may
	// change what follows the split and keep the creator's signature, so
	// the part it changes must not be announced before the split (a
	// length prefix at the payload's start would be: see
	// NewMessageTypeFunc for a bare-bytes wire form).
	SplitPayload func(payload []byte) int
	// Removed receives stored messages that left the store without being
	// undone, after the commit that deleted them: pushed out of a
	// LastSyncDistribution history by newer ones (RemoveReplaced), or
	// deleted by GlobalTimePruning (RemovePruned). With Handle and Undo it
	// lets an application keep exactly the live stored messages. Messages
	// already undone are not reported again. Optional.
	Removed func(ctx *Context, batch []*Message[T], why RemoveReason)
}

// Register adds message type t with its handlers to the definition.
// Problems (a duplicate id or name, a missing Undo handler where one is
// required) are reported when the community is joined.
func Register[T any](d *Definition, t *MessageType[T], h Handlers[T]) {
	if t == nil {
		d.errs = append(d.errs, errors.New("dispersy: Register with a nil message type"))
		return
	}
	e := &typeEntry{t: t, spec: t.spec}
	if h.Check != nil {
		e.check = func(ctx *Context, m *message) Verdict { return h.Check(ctx, typed(t, m)) }
	}
	if h.Handle != nil {
		e.handle = func(ctx *Context, ms []*message) { h.Handle(ctx, typedBatch(t, ms)) }
	}
	if h.Undo != nil {
		e.undo = func(ctx *Context, ms []*message) { h.Undo(ctx, typedBatch(t, ms)) }
	}
	if h.AllowSignature != nil {
		e.allow = func(ctx *Context, m *message) (any, bool) { return h.AllowSignature(ctx, typed(t, m)) }
	}
	e.split = h.SplitPayload
	if h.Removed != nil {
		e.removed = func(ctx *Context, ms []*message, why RemoveReason) { h.Removed(ctx, typedBatch(t, ms), why) }
	}
	d.types = append(d.types, e)
}

// DecodeOlderVersion makes the community also decode packets carrying
// community-version byte version, for the given message types (registered
// with Register). Encoding always uses Definition.Version. Use it when a
// new version only adds message types, so peers that have not upgraded
// still interoperate for the old ones.
func (d *Definition) DecodeOlderVersion(version uint8, types ...AnyMessageType) {
	oc := olderConversion{version: version}
	for _, t := range types {
		oc.ids = append(oc.ids, t.Spec().ID)
	}
	d.older = append(d.older, oc)
}

func typed[T any](t *MessageType[T], m *message) *Message[T] {
	out := &Message[T]{
		Type:       t,
		Community:  m.frame.Community,
		Authors:    m.authors,
		GlobalTime: m.frame.GlobalTime,
		Sequence:   m.frame.Sequence,
		Packet:     m.frame.Packet,
		Source:     m.source,
	}
	if p, ok := m.payload.(T); ok {
		out.Payload = p
	}
	return out
}

func typedBatch[T any](t *MessageType[T], ms []*message) []*Message[T] {
	out := make([]*Message[T], len(ms))
	for i, m := range ms {
		out[i] = typed(t, m)
	}
	return out
}

// compiled is a validated definition: the codec and the type table.
type compiled struct {
	master  *keys.PublicKey
	cid     keys.CommunityID
	name    string
	version uint8
	codec   *conversion.Codec
	types   [256]*typeEntry
	ids     []uint8 // registered ids, ascending
}

// compile validates d (with the built-in types added) and builds the codec.
func compile(d *Definition, overlay Overlay, builtins []*typeEntry) (*compiled, error) {
	var errs []error
	errs = append(errs, d.errs...)
	if d.Master == nil {
		errs = append(errs, errors.New("Definition.Master is nil: set it to the community's master public key (tools/createkey makes one)"))
	}
	version := d.Version
	if version == 0 {
		version = 1
	}
	if version > conversion.LastVersion {
		errs = append(errs, fmt.Errorf("Definition.Version %d is reserved; use 1..%d", version, conversion.LastVersion))
	}
	c := &compiled{master: d.Master, version: version, name: d.Name}
	if c.name == "" && overlay != nil {
		c.name = reflect.TypeOf(overlay).String()
	}
	names := map[string]uint8{}
	add := func(e *typeEntry) {
		id := e.spec.ID
		if prev := c.types[id]; prev != nil {
			errs = append(errs, fmt.Errorf("message %q: id %d already registered by %q", e.spec.Name, id, prev.spec.Name))
			return
		}
		if prev, dup := names[e.spec.Name]; dup {
			errs = append(errs, fmt.Errorf("message name %q registered twice (ids %d and %d)", e.spec.Name, prev, id))
			return
		}
		if !e.builtin && !e.ext && !conversion.IsUserID(id) {
			errs = append(errs, fmt.Errorf("message %q: id %d is reserved for built-in messages; use %d..%d", e.spec.Name, id, conversion.FirstUserID, conversion.LastUserID))
			return
		}
		if _, dyn := e.spec.Resolution.(policy.DynamicResolution); dyn && e.undo == nil && !e.builtin {
			errs = append(errs, fmt.Errorf("message %q uses DynamicResolution and needs an Undo handler: a settings change can undo stored messages", e.spec.Name))
		}
		names[e.spec.Name] = id
		c.types[id] = e
		c.ids = append(c.ids, id)
	}
	for _, e := range d.types {
		add(e)
	}
	for _, e := range builtins {
		add(e)
	}
	slices.Sort(c.ids)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dispersy: invalid community definition: %w", err)
	}
	c.cid = d.Master.CommunityID()

	formats := func(ids []uint8) []*conversion.Format {
		out := make([]*conversion.Format, 0, len(ids))
		for _, id := range ids {
			out = append(out, c.types[id].t.format())
		}
		return out
	}
	var convs []*conversion.Conversion
	for _, oc := range d.older {
		ids := slices.Clone(oc.ids)
		for _, e := range builtins {
			ids = append(ids, e.spec.ID)
		}
		for _, id := range oc.ids {
			if c.types[id] == nil {
				errs = append(errs, fmt.Errorf("DecodeOlderVersion(%d): message id %d is not registered", oc.version, id))
			}
		}
		if len(errs) > 0 {
			continue
		}
		cv, err := conversion.NewConversion(oc.version, formats(ids)...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		convs = append(convs, cv)
	}
	newest, err := conversion.NewConversion(version, formats(c.ids)...)
	if err != nil {
		errs = append(errs, err)
	} else {
		convs = append(convs, newest)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dispersy: invalid community definition: %w", err)
	}
	codec, err := conversion.NewCodec(c.cid, convs...)
	if err != nil {
		return nil, fmt.Errorf("dispersy: invalid community definition: %w", err)
	}
	c.codec = codec
	return c, nil
}
