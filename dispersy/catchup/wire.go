package catchup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
	"github.com/dispersy-go/dispersy/policy"
)

// The catch-up message ids, in the built-in range 192..254
// (docs/wire-format.md). WARNING: append only; ids are on the wire.
const (
	IDReconcile uint8 = 192
	IDWant      uint8 = 193
	IDRange     uint8 = 194
)

// spec is the policies of both catch-up messages: unsigned, public,
// direct (never stored), sent to one address, like dispersy-missing-message.
func spec(id uint8, name string) dispersy.MessageSpec {
	return dispersy.MessageSpec{ID: id, Name: name,
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: policy.DirectDistribution{}, Destination: policy.CandidateDestination{}}
}

func mustType[T interface {
	AppendBinary([]byte) ([]byte, error)
}, PT dispersy.Payload[T]](id uint8, name string) *dispersy.MessageType[T] {
	t, err := dispersy.NewExtensionType[T, PT](spec(id, name))
	if err != nil {
		panic(err)
	}
	return t
}

var (
	// ReconcileType carries one message of a reconciliation session.
	ReconcileType = mustType[Reconcile](IDReconcile, "dispersy-reconcile")
	// WantType asks a holder for the stored packets of some ids; the answer
	// is the packets themselves.
	WantType = mustType[Want](IDWant, "dispersy-want")
	// RangeType asks a holder for the stored packets of a key range, and
	// carries its answer's header (the packets follow as datagrams).
	RangeType = mustType[Pull](IDRange, "dispersy-range")
)

// Reconcile is the payload of dispersy-reconcile: one message of package
// reconcile, with the session's bookkeeping.
//
//	flags:1 (bit 0: reply; the others 0) session:2 round:2 index:1 part:1
//	parts:1 scope:1 message:rest (a reconcile message, strict)
//
// A request is message Part (0-based) of the Parts messages of its Round;
// Index is 0. A reply answers request message Index of Round, and is part
// Part of Parts. Scope is the priority of the message types reconciled.
type Reconcile struct {
	Reply       bool
	Session     uint16
	Round       uint16
	Index       uint8
	Part, Parts uint8
	Scope       uint8
	Msg         []byte
}

const reconcileHeader = 9

var errReconcile = errors.New("catchup: invalid reconcile payload")

// AppendBinary implements encoding.BinaryAppender.
func (r Reconcile) AppendBinary(b []byte) ([]byte, error) {
	if r.Parts == 0 || r.Part >= r.Parts || (!r.Reply && r.Index != 0) {
		return b, fmt.Errorf("%w: part %d of %d, index %d", errReconcile, r.Part, r.Parts, r.Index)
	}
	var f byte
	if r.Reply {
		f = 1
	}
	b = append(b, f)
	b = binary.BigEndian.AppendUint16(b, r.Session)
	b = binary.BigEndian.AppendUint16(b, r.Round)
	b = append(b, r.Index, r.Part, r.Parts, r.Scope)
	return append(b, r.Msg...), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: strict, the
// message must decode (reconcile.Decode).
func (r *Reconcile) UnmarshalBinary(p []byte) error {
	if len(p) < reconcileHeader || p[0] > 1 {
		return errReconcile
	}
	*r = Reconcile{Reply: p[0] == 1, Session: binary.BigEndian.Uint16(p[1:]), Round: binary.BigEndian.Uint16(p[3:]),
		Index: p[5], Part: p[6], Parts: p[7], Scope: p[8], Msg: append([]byte(nil), p[reconcileHeader:]...)}
	if r.Parts == 0 || r.Part >= r.Parts || (!r.Reply && r.Index != 0) {
		return errReconcile
	}
	if _, err := reconcile.Decode(r.Msg); err != nil {
		return fmt.Errorf("%w: %v", errReconcile, err)
	}
	return nil
}

// Want is the payload of dispersy-want: the ids of stored messages the
// sender lacks, each group with the global-time window where the holder
// has them (reconcile.Reconciler.NeedWindows).
//
//	scope:1 groups:1 group*
//	group = lo:uvarint span:uvarint count:uvarint count × id:16
//
// The window is [lo, lo+span]; counts are >= 1; ids within a group
// strictly ascend; groups' lo do not descend. Every varint is in its
// shortest form.
type Want struct {
	Scope  uint8
	Groups []WantGroup
}

// WantGroup is the ids of one window.
type WantGroup struct {
	Lo, Hi uint64
	IDs    []reconcile.ID
}

var errWant = errors.New("catchup: invalid want payload")

// maxWantGroups bounds the groups of one Want.
const maxWantGroups = math.MaxUint8

// AppendBinary implements encoding.BinaryAppender.
func (w Want) AppendBinary(b []byte) ([]byte, error) {
	if len(w.Groups) > maxWantGroups {
		return b, errWant
	}
	b = append(b, w.Scope, byte(len(w.Groups)))
	for k, g := range w.Groups {
		if g.Hi < g.Lo || len(g.IDs) == 0 || (k > 0 && g.Lo < w.Groups[k-1].Lo) {
			return b, errWant
		}
		b = binary.AppendUvarint(b, g.Lo)
		b = binary.AppendUvarint(b, g.Hi-g.Lo)
		b = binary.AppendUvarint(b, uint64(len(g.IDs)))
		for i, id := range g.IDs {
			if i > 0 && string(id[:]) <= string(g.IDs[i-1][:]) {
				return b, errWant
			}
			b = append(b, id[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. The engine then
// checks that the payload re-encodes to the same bytes (shortest varints,
// ascending ids), as decodeWant does.
func (w *Want) UnmarshalBinary(p []byte) error {
	if len(p) < 2 {
		return errWant
	}
	*w = Want{Scope: p[0]}
	n := int(p[1])
	p = p[2:]
	for range n {
		var v [3]uint64
		for i := range v {
			x, k := binary.Uvarint(p)
			if k <= 0 {
				return errWant
			}
			v[i], p = x, p[k:]
		}
		if v[0]+v[1] < v[0] || v[2] == 0 || v[2] > uint64(len(p)/16) {
			return errWant
		}
		g := WantGroup{Lo: v[0], Hi: v[0] + v[1], IDs: make([]reconcile.ID, v[2])}
		for i := range g.IDs {
			copy(g.IDs[i][:], p[16*i:])
		}
		p = p[16*v[2]:]
		w.Groups = append(w.Groups, g)
	}
	if len(p) != 0 {
		return errWant
	}
	return nil
}

// decodeWant is UnmarshalBinary plus the canonical check: the payload
// must re-encode to the same bytes (shortest varints, ascending ids).
func decodeWant(b []byte) (Want, error) {
	var w Want
	if err := w.UnmarshalBinary(b); err != nil {
		return Want{}, err
	}
	again, err := w.AppendBinary(nil)
	if err != nil || string(again) != string(b) {
		return Want{}, errWant
	}
	return w, nil
}

// Pull is the payload of dispersy-range. A request asks for the first N
// items (in (global time, id) order) the holder stores in [Lo, Hi); the
// reply says it sends N items, exactly those in [Lo, Hi) (Hi is "next":
// the request's Hi when the range is exhausted), each named by the first
// PrefixSize bytes of its id, in order; the packets follow.
//
//	flags:1 (bit 0: reply, bit 1: header only) scope:1 n:uvarint lo:bound hi:bound [n × prefix:4]
//	bound = time+1:uvarint (0: infinity) idlen:1 id[:idlen] (no trailing 0)
//
// A request has 1 <= n <= MaxPull and lo < hi, and no prefixes; a reply
// has n <= MaxPull, lo <= hi (lo < hi when n > 0) and n prefixes. A
// request marked header only is answered with the header alone (its
// items are not sent, nor counted against the upload budget): the asker
// got the packets but lost the header, and re-asks only the gaps.
type Pull struct {
	Reply    bool
	HdrOnly  bool // request only
	Scope    uint8
	N        int
	Lo, Hi   reconcile.Bound
	Prefixes [][PrefixSize]byte // reply only
}

// PrefixSize is the bytes of an id a dispersy-range reply names it by.
const PrefixSize = 4

// MaxPull bounds the items of one dispersy-range request and reply.
const MaxPull = 256

var errPull = errors.New("catchup: invalid range payload")

func (p Pull) valid() bool {
	if p.N < 0 || p.N > MaxPull {
		return false
	}
	if p.Reply {
		return !p.HdrOnly && len(p.Prefixes) == p.N && !p.Hi.Less(p.Lo) && (p.N == 0 || p.Lo.Less(p.Hi))
	}
	return p.N >= 1 && len(p.Prefixes) == 0 && p.Lo.Less(p.Hi)
}

// AppendBinary implements encoding.BinaryAppender.
func (p Pull) AppendBinary(b []byte) ([]byte, error) {
	if !p.valid() {
		return b, errPull
	}
	var f byte
	if p.Reply {
		f = 1
	}
	if p.HdrOnly {
		f |= 2
	}
	b = append(b, f, p.Scope)
	b = binary.AppendUvarint(b, uint64(p.N))
	b = reconcile.AppendBound(b, p.Lo)
	b = reconcile.AppendBound(b, p.Hi)
	for _, x := range p.Prefixes {
		b = append(b, x[:]...)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: strict, only
// the bytes AppendBinary writes are accepted.
func (p *Pull) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || b[0] > 3 {
		return errPull
	}
	*p = Pull{Reply: b[0]&1 == 1, HdrOnly: b[0]&2 == 2, Scope: b[1]}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > MaxPull || len(binary.AppendUvarint(nil, n)) != k {
		return errPull
	}
	p.N, b = int(n), b[2+k:]
	var err error
	if p.Lo, k, err = reconcile.ReadBound(b); err != nil {
		return errPull
	}
	b = b[k:]
	if p.Hi, k, err = reconcile.ReadBound(b); err != nil {
		return errPull
	}
	b = b[k:]
	if p.Reply {
		if len(b) != PrefixSize*p.N {
			return errPull
		}
		p.Prefixes = make([][PrefixSize]byte, p.N)
		for i := range p.Prefixes {
			copy(p.Prefixes[i][:], b[PrefixSize*i:])
		}
	} else if len(b) != 0 {
		return errPull
	}
	if !p.valid() {
		return errPull
	}
	return nil
}
