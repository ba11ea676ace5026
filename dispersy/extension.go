package dispersy

import "net/netip"

// Extension adds a capability to every community an Engine joins or loads,
// without living inside this package (package dispersy/catchup is one).
// Config.Extensions holds factories: NewEngine makes one Extension per
// engine, so its state is the engine's. Every method runs on the engine's
// goroutine and must not block.
type Extension interface {
	// Define registers the extension's message types and handlers in d,
	// after the overlay's Define. Types made with NewExtensionType may use
	// the built-in ids 192..254 (append-only, docs/wire-format.md).
	Define(d *Definition)
	// Applied reports the operations of every committed write batch that
	// holds messages (puts, deletes, undo changes, trims, prunes), in
	// order, after the commit. Op.Community names the community.
	Applied(e *Engine, ops []Op)
	// Walked reports an introduction response from addr, which proves
	// addr (Engine.Proven), with the responder's global time.
	Walked(c *Community, addr netip.AddrPort, globalTime uint64)
}

// Requested is an optional Extension method: an introduction request
// from addr arrived, with the requester's global time (called after the
// response, when the request asked for one).
// An extension that will serve addr soon may Probe it now, so that addr
// is proven (Engine.Proven) one round trip sooner.
type Requested interface {
	Requested(c *Community, addr netip.AddrPort, globalTime uint64)
}

// SyncHolder is an optional Extension method: while HoldSync reports
// true for a community, its walk sends no bloom filter (requests,
// responses and the filter that follows a thin request), so peers do not
// answer with packets the extension is fetching already (catch-up's
// transfer). Peers' filters are still answered.
type SyncHolder interface {
	HoldSync(c *Community) bool
}

// syncHeld reports whether an extension holds c's bloom sync.
func (c *Community) syncHeld() bool {
	for _, x := range c.e.exts {
		if h, ok := x.(SyncHolder); ok && h.HoldSync(c) {
			return true
		}
	}
	return false
}

// Extensions returns the engine's extensions (Config.Extensions), in order.
func (e *Engine) Extensions() []Extension { return e.exts }

// NewExtensionType is NewMessageType for an Extension's message types: its
// id is in the built-in range 192..254 and must not be one the engine uses
// (a clash is reported when the community is joined).
func NewExtensionType[T interface {
	AppendBinary([]byte) ([]byte, error)
}, PT Payload[T]](spec MessageSpec) (*MessageType[T], error) {
	return newMessageType[T, PT](spec, true)
}

// extend lets every extension define its types in d; they may use
// built-in ids.
func (e *Engine) extend(d *Definition) {
	for _, x := range e.exts {
		n := len(d.types)
		x.Define(d)
		for _, t := range d.types[n:] {
			t.ext = true
		}
	}
}

// applied reports a committed batch to the extensions.
func (e *Engine) applied(ops []Op) {
	for _, x := range e.exts {
		x.Applied(e, ops)
	}
}

// SendPacket sends pkt (a stored packet, or one an Extension built) to an
// address, like every datagram the engine sends: within Config.MaxDatagram
// and the anti-amplification credit (docs/security.md). It reports whether
// the datagram was queued.
func (c *Community) SendPacket(to netip.AddrPort, pkt []byte) bool { return c.e.send(to, pkt) }

// Probe walks to addr once: an introduction request without a bloom filter
// (rate-limited like every probe to an unproven address); its response
// proves addr (Engine.Proven). It reports whether the request was sent
// (not refused by the probe rate limit or a full request cache).
func (c *Community) Probe(addr netip.AddrPort) bool { return c.walk.sendRequest(c, addr, true, false) }
