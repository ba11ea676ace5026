package dispersy

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/seen"
	"github.com/dispersy-go/dispersy/keys"
)

// Inbound is one received datagram on its way to the engine, optionally
// pre-verified by a Verifier on another goroutine.
type Inbound struct {
	Addr netip.AddrPort
	Data []byte

	frame *conversion.Frame // decoded with codec; every signature verified
	codec *conversion.Codec
	known bool // the hash of a packet stored recently: not decoded
}

// Verifier decodes packets and checks their signatures ahead of the
// engine, on any number of goroutines: signature verification is ~90% of
// the CPU an incoming message costs, and it is a pure function. It sees the
// codecs of the communities loaded when Check runs; a packet it cannot
// pre-verify (unknown community, a member encoded by id) is simply left to
// the engine. Safe for concurrent use.
type Verifier struct {
	codecs atomic.Pointer[map[keys.CommunityID]*conversion.Codec]
	stored seen.Set[Hash] // hashes of the packets the engine stored lately
	// good holds the SHA-256 of packets whose signatures verified lately:
	// a copy that comes again before the first is stored (pushed and
	// pulled at once) has the same signatures, a pure function of its
	// bytes (docs/security.md, "Signatures checked once").
	good                  seen.Set[[sha256.Size]byte]
	verified, known, same atomic.Uint64
}

// VerifierStats counts what Check did with the packets it saw.
type VerifierStats struct {
	Verified uint64 // signed packets whose signatures were checked
	Known    uint64 // stored lately: left to the engine's duplicate check
	Same     uint64 // byte-identical to a packet verified lately: not checked again
}

// Stats returns the counts so far.
func (v *Verifier) Stats() VerifierStats {
	return VerifierStats{v.verified.Load(), v.known.Load(), v.same.Load()}
}

// Verifier returns the engine's verifier. Its view of the loaded
// communities follows Join, Leave and auto-load.
func (e *Engine) Verifier() *Verifier {
	if e.verifier == nil {
		e.verifier = &Verifier{good: seen.Set[[sha256.Size]byte]{Max: 4096}}
		e.publishCodecs()
	}
	return e.verifier
}

// publishCodecs gives the verifier the current set of codecs.
func (e *Engine) publishCodecs() {
	if e.verifier == nil {
		return
	}
	m := make(map[keys.CommunityID]*conversion.Codec, len(e.communities))
	for cid, c := range e.communities {
		m[cid] = c.def.codec
	}
	e.verifier.codecs.Store(&m)
}

// Check decodes in.Data and verifies its signatures. On success it marks in
// as verified, so the engine skips both steps; on any failure it leaves in
// unmarked and the engine decides (and counts) what to do. A packet whose
// hash the engine stored lately is marked known instead, unchecked; one
// whose SHA-256 it verified lately is marked verified without a check.
func (v *Verifier) Check(in *Inbound) {
	in.frame, in.codec = nil, nil
	sum := sha256.Sum256(in.Data)
	if in.known = v.stored.Has(Hash(sum[:HashSize])); in.known {
		v.known.Add(1)
		return
	}
	cid, ok := conversion.PeekCommunity(in.Data)
	m := v.codecs.Load()
	if !ok || m == nil || (*m)[cid] == nil {
		return
	}
	codec := (*m)[cid]
	f, err := codec.Decode(in.Data)
	if err != nil {
		return
	}
	switch {
	case len(f.Authors) == 0: // unsigned
	case v.good.Has(sum):
		v.same.Add(1)
	default:
		v.verified.Add(1)
		body := f.Body()
		for i, a := range f.Authors {
			if a.Key == nil || !a.Key.Verify(body, f.Signatures[i]) {
				return
			}
		}
		v.good.Add(sum)
	}
	in.frame, in.codec = f, codec
}

// ReceiveInbound is ReceiveBatch for datagrams that went through a
// Verifier: pre-verified packets skip decoding and signature checks.
func (e *Engine) ReceiveInbound(now time.Time, ins []Inbound) error {
	if e.failed != nil {
		return e.failed
	}
	e.SetTime(now)
	e.confirmKnown(ins)
	for i := range ins {
		in := &ins[i]
		e.stats.Received++
		e.stats.ReceivedBytes += uint64(len(in.Data))
		if len(in.Data) > e.cfg.MaxDatagram {
			e.dropped(DropOversize, in.Addr, "datagram larger than MaxDatagram")
			continue
		}
		e.received(in.Addr, len(in.Data))
		e.ingest(in.Addr, in.Data, e.preverified(in))
		if e.failed != nil {
			return e.failed
		}
	}
	return e.flush()
}

// preverified returns in's frame if its signatures are good: checked by the
// Verifier, or confirmed by confirmKnown; nil otherwise, and the engine
// checks them.
func (e *Engine) preverified(in *Inbound) *conversion.Frame {
	if c := e.communities[in.codecCID()]; in.frame != nil && c != nil && c.def.codec == in.codec {
		return in.frame
	}
	return nil
}

// codecCID is the community id in's packet names.
func (in *Inbound) codecCID() keys.CommunityID {
	cid, _ := conversion.PeekCommunity(in.Data)
	return cid
}

// confirmKnown marks the known packets of ins that are byte-identical to a
// packet stored now (so checked when stored) as verified, with one store
// lookup per community. The others are checked by the engine; a store
// failure here falls back to checking (the inbox's lookup reports it).
func (e *Engine) confirmKnown(ins []Inbound) {
	type at struct {
		cid keys.CommunityID
		key MessageKey
	}
	var cids []keys.CommunityID
	keysOf := map[keys.CommunityID][]MessageKey{}
	idx := map[at][]int{}
	for i := range ins {
		in := &ins[i]
		c := e.communities[in.codecCID()]
		if !in.known || c == nil {
			continue
		}
		f, err := c.def.codec.Decode(in.Data)
		if err != nil || len(f.Authors) == 0 {
			continue
		}
		in.frame = f // in.codec stays nil until the store confirms
		k := at{c.cid, MessageKey{Member: f.Authors[0].ID, GlobalTime: f.GlobalTime}}
		if keysOf[k.cid] == nil {
			cids = append(cids, k.cid)
		}
		keysOf[k.cid] = append(keysOf[k.cid], k.key)
		idx[k] = append(idx[k], i)
	}
	for _, cid := range cids {
		_ = e.store.Lookup(cid, keysOf[cid], func(r *Record) {
			for _, i := range idx[at{cid, MessageKey{Member: r.Member, GlobalTime: r.GlobalTime}}] {
				if bytes.Equal(r.Packet, ins[i].Data) {
					ins[i].codec = e.communities[cid].def.codec
				}
			}
		})
	}
}

// committed remembers the packets of a committed batch as stored.
func (v *Verifier) committed(b *Batch) {
	for i := 0; v != nil && i < len(b.Ops); i++ {
		if op := &b.Ops[i]; op.Kind == OpPut || op.Kind == OpReplacePacket {
			v.stored.Add(op.Record.Hash)
		}
	}
}
