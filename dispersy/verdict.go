package dispersy

import (
	"net/netip"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
)

type verdictKind uint8

const (
	verdictAccept verdictKind = iota
	verdictDrop
	verdictDelay
)

// Verdict is what a check decides about one incoming message: accept it,
// or drop it. Build one with Accept or Drop.
type Verdict struct {
	kind   verdictKind
	reason DropReason
	detail string
	need   need
}

// Accept keeps the message.
func Accept() Verdict { return Verdict{} }

// Drop drops the message. The detail goes to the debug log only; the
// statistics count it under DropRejected.
func Drop(detail string) Verdict {
	return Verdict{kind: verdictDrop, reason: DropRejected, detail: detail}
}

// Accepted reports whether v accepts the message.
func (v Verdict) Accepted() bool { return v.kind == verdictAccept }

// Reason returns the drop reason; meaningful only when the verdict drops.
func (v Verdict) Reason() DropReason { return v.reason }

// Detail returns the free-text detail of a drop.
func (v Verdict) Detail() string { return v.detail }

func drop(r DropReason, detail string) Verdict {
	return Verdict{kind: verdictDrop, reason: r, detail: detail}
}

func delay(n need) Verdict { return Verdict{kind: verdictDelay, need: n} }

// needKind is what a delayed message waits for.
type needKind uint8

const (
	needIdentity needKind = iota + 1 // a member's public key
	needSequence                     // a member's sequence numbers low..high of a type
	needMessage                      // a stored message (member, global time)
	needProof                        // a permission proof for (member, global time)
)

func (k needKind) String() string {
	switch k {
	case needIdentity:
		return "identity"
	case needSequence:
		return "sequence"
	case needMessage:
		return "message"
	case needProof:
		return "proof"
	}
	return "need?"
}

// need names what a delayed message waits for. It is comparable and used
// as a map key.
type need struct {
	kind       needKind
	member     keys.MemberID
	msgID      uint8
	low, high  uint32 // sequence range (needSequence)
	globalTime uint64 // needMessage, needProof
	// quiet: wait without sending a request (the message waits for a
	// predecessor that is itself delayed and being fetched).
	quiet bool
}

// message is one decoded message inside the engine, with its payload type
// erased.
type message struct {
	entry   *typeEntry
	frame   *conversion.Frame
	authors []*keys.PublicKey
	payload any
	source  netip.AddrPort
	hash    Hash
	// comm is the community the message belongs to.
	comm *Community
	// local: created on this node.
	local bool
	// undo is what accepting an undo message changes (set by checkUndo).
	undo *undoPlan
	// afterDelayed: its sequence predecessor arrived in the same batch and
	// was delayed, so this message may not be stored before it.
	afterDelayed bool
	// inactive: a permission message a revoke invalidated; it is stored
	// undone (see checkPermission).
	inactive bool
}

func (m *message) author() keys.MemberID {
	if len(m.authors) == 0 {
		return keys.MemberID{}
	}
	return m.authors[0].ID()
}

func (m *message) member2() keys.MemberID {
	if len(m.authors) < 2 {
		return keys.MemberID{}
	}
	return m.authors[1].ID()
}

func (m *message) key() MessageKey {
	return MessageKey{Member: m.author(), GlobalTime: m.frame.GlobalTime}
}

func (m *message) id() uint8 { return m.entry.spec.ID }

func (m *message) record() Record {
	return Record{
		Community:  m.frame.Community,
		Member:     m.author(),
		GlobalTime: m.frame.GlobalTime,
		MessageID:  m.entry.spec.ID,
		Sequence:   m.frame.Sequence,
		Member2:    m.member2(),
		Hash:       m.hash,
		Packet:     m.frame.Packet,
		Undone:     m.inactive,
	}
}
