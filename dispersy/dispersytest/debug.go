package dispersytest

import (
	"bytes"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Text is the payload of the debug community's messages: one string.
type Text struct {
	Text string
}

// AppendBinary implements encoding.BinaryAppender.
func (t Text) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	w.String16(t.Text)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (t *Text) UnmarshalBinary(p []byte) error {
	r := conversion.NewReader(p)
	t.Text = r.String16()
	return r.Finish()
}

// DebugMaster is the debug community's master key (derived from a fixed
// seed, so every test run uses the same community id).
var DebugMaster = keys.DeriveKey(keys.Ed25519, []byte("dispersy-go debug community master"))

func text(id uint8, name string, a policy.Authentication, r policy.Resolution, d policy.Distribution, dest policy.Destination) *dispersy.MessageType[Text] {
	return dispersy.DefineMessage[Text](dispersy.MessageSpec{ID: id, Name: name, Authentication: a, Resolution: r, Distribution: d, Destination: dest})
}

var (
	member     = policy.MemberAuthentication{}
	public     = policy.PublicResolution{}
	community  = policy.CommunityDestination{NodeCount: 10}
	asc128     = policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128}
	directDist = policy.DirectDistribution{}
)

// The debug community's message types: Python Dispersy's
// tests/debugcommunity (ids 101..), one per policy combination its tests
// exercise.
var (
	Last1Text    = text(101, "last-1-test", member, public, policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 128, HistorySize: 1}, community)
	Last9Text    = text(102, "last-9-test", member, public, policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 128, HistorySize: 9}, community)
	FullSyncText = text(103, "full-sync-text", member, public, asc128, community)
	ASCText      = text(104, "ASC-text", member, public, asc128, community)
	DESCText     = text(105, "DESC-text", member, public, policy.FullSyncDistribution{Direction: policy.Descending, Priority: 128}, community)
	RandomText   = text(106, "RANDOM-text", member, public, policy.FullSyncDistribution{Direction: policy.Random, Priority: 128}, community)
	SequenceText = text(107, "sequence-text", member, public, policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128, SequenceNumbers: true}, community)
	PrunedText   = text(108, "full-sync-global-time-pruning-text", member, public,
		policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128, Pruning: policy.GlobalTimePruning{Inactive: 10, Pruned: 20}}, community)
	HighText    = text(109, "high-priority-text", member, public, policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 200}, community)
	MediumText  = text(110, "medium-priority-text", member, public, policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 150}, community)
	LowText     = text(111, "low-priority-text", member, public, policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 100}, community)
	BatchedText = dispersy.DefineMessage[Text](dispersy.MessageSpec{ID: 112, Name: "batched-text",
		Authentication: member, Resolution: public, Distribution: asc128, Destination: community, BatchWindow: 5 * time.Second})
	IDText        = text(113, "id-text", policy.MemberAuthentication{Encoding: policy.EncodeID}, public, asc128, community)
	DirectText    = text(114, "direct-text", member, public, directDist, community)
	CandidateText = text(115, "candidate-text", member, public, directDist, policy.CandidateDestination{})
	UnsignedText  = text(116, "unsigned-text", policy.NoAuthentication{}, public, directDist, policy.CandidateDestination{})
	ZeroPushText  = text(117, "zero-push-text", member, public, asc128, policy.CommunityDestination{NodeCount: 0})
	// ProtectedText needs the permit permission (LinearResolution).
	ProtectedText = text(118, "protected-full-sync-text", member, policy.LinearResolution{}, asc128, community)
	// DynamicText starts Public and can be switched to Linear.
	DynamicText = text(119, "dynamic-resolution-text", member,
		policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}}, asc128, community)
	// DoubleText is signed by two members and sent directly.
	DoubleText = text(120, "double-signed-text", policy.DoubleMemberAuthentication{}, public, directDist, community)
	// DoubleSplitText is DoubleText whose creator signs only up to the
	// payload's last ','. Its payload is the bare text, without the
	// length prefix of the other types (the payload ends the message, so
	// its length is known): text appended after the split point then
	// changes no byte the creator signed, and both signatures stay valid.
	DoubleSplitText = mustType(dispersy.NewMessageTypeFunc(dispersy.MessageSpec{ID: 121, Name: "double-signed-text-split",
		Authentication: policy.DoubleMemberAuthentication{}, Resolution: public, Distribution: directDist, Destination: community},
		appendBareText, decodeBareText))
	// Last1DoubleText keeps the newest message per member pair.
	Last1DoubleText = text(122, "last-1-doublemember-text", policy.DoubleMemberAuthentication{}, public,
		policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 128, HistorySize: 1}, community)
)

// DebugTypes lists every debug message type.
var DebugTypes = []*dispersy.MessageType[Text]{
	Last1Text, Last9Text, FullSyncText, ASCText, DESCText, RandomText, SequenceText, PrunedText,
	HighText, MediumText, LowText, BatchedText, IDText, DirectText, CandidateText, UnsignedText, ZeroPushText,
	ProtectedText, DynamicText, DoubleText, DoubleSplitText, Last1DoubleText,
}

// AllowText is the debug community's AllowSignature rule (Dispersy's
// allow_double_signed_text): a text starting with "Allow=True" is signed as
// is, "Allow=Modify" is signed as "MODIFIED", "Allow=Append" gets
// "MODIFIED" appended; anything else is refused.
func AllowText(t string) (string, bool) {
	switch {
	case strings.HasPrefix(t, "Allow=True"):
		return t, true
	case strings.HasPrefix(t, "Allow=Modify"):
		return "MODIFIED", true
	case strings.HasPrefix(t, "Allow=Append"):
		return t + "MODIFIED", true
	}
	return "", false
}

func mustType[T any](t *dispersy.MessageType[T], err error) *dispersy.MessageType[T] {
	if err != nil {
		panic(err)
	}
	return t
}

// appendBareText writes DoubleSplitText's payload: the text's bytes alone.
func appendBareText(b []byte, t Text) ([]byte, error) {
	if !utf8.ValidString(t.Text) {
		return b, errors.New("dispersytest: text is not valid UTF-8")
	}
	return append(b, t.Text...), nil
}

// decodeBareText reads DoubleSplitText's payload: all of it, valid UTF-8.
func decodeBareText(p []byte) (Text, error) {
	r := conversion.NewReader(p)
	b := r.Rest()
	if r.Err() == nil && !utf8.Valid(b) {
		r.Invalid("text", "not valid UTF-8")
	}
	return Text{Text: string(b)}, r.Finish()
}

// splitAtLastComma makes the creator sign the payload up to and including
// its last ',' (DoubleSplitText's payload has no length prefix), so the
// second member may append text after it.
func splitAtLastComma(p []byte) int {
	if i := bytes.LastIndexByte(p, ','); i >= 0 {
		return i + 1
	}
	return len(p)
}

// DebugCommunity is the overlay of Dispersy's debug community: every type in
// DebugTypes, with handlers that record what they see. Use a fresh one per
// peer.
type DebugCommunity struct {
	// Version is the community-version byte; 0 means 1.
	Version uint8
	// Handled records the texts handled per message id, in order.
	Handled map[uint8][]string
	// Messages records the handled messages per message id, in order.
	Messages map[uint8][]*dispersy.Message[Text]
	// Replayed counts, per message id, the messages handled while the
	// store was replayed on join (dispersy.WithReplay).
	Replayed map[uint8]int
	// Undone records the texts undone per message id, in order.
	Undone map[uint8][]string
	// Removed records the texts removed per message id (Handlers.Removed),
	// in order, and RemovedWhy the reasons.
	Removed    map[uint8][]string
	RemovedWhy map[uint8][]dispersy.RemoveReason
	// SignRequests records the texts of the signature requests received.
	SignRequests []string
	// Check, when set, is every type's Check.
	Check func(m *dispersy.Message[Text]) dispersy.Verdict
}

// NewDebugCommunity returns an empty DebugCommunity.
func NewDebugCommunity() *DebugCommunity {
	return &DebugCommunity{
		Handled:  map[uint8][]string{},
		Messages: map[uint8][]*dispersy.Message[Text]{},
		Undone:   map[uint8][]string{},

		Replayed:   map[uint8]int{},
		Removed:    map[uint8][]string{},
		RemovedWhy: map[uint8][]dispersy.RemoveReason{},
	}
}

// Define implements dispersy.Overlay.
func (d *DebugCommunity) Define(def *dispersy.Definition) {
	def.Master = DebugMaster.Public()
	def.Version = d.Version
	def.Name = "debug"
	for _, t := range DebugTypes {
		h := dispersy.Handlers[Text]{
			Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Text]) {
				if ctx.Replaying() {
					d.Replayed[t.ID()] += len(batch)
				}
				for _, m := range batch {
					d.Handled[t.ID()] = append(d.Handled[t.ID()], m.Payload.Text)
					d.Messages[t.ID()] = append(d.Messages[t.ID()], m)
				}
			},
			Undo: func(_ *dispersy.Context, batch []*dispersy.Message[Text]) {
				for _, m := range batch {
					d.Undone[t.ID()] = append(d.Undone[t.ID()], m.Payload.Text)
				}
			},
			Removed: func(_ *dispersy.Context, batch []*dispersy.Message[Text], why dispersy.RemoveReason) {
				for _, m := range batch {
					d.Removed[t.ID()] = append(d.Removed[t.ID()], m.Payload.Text)
					d.RemovedWhy[t.ID()] = append(d.RemovedWhy[t.ID()], why)
				}
			},
		}
		if d.Check != nil {
			h.Check = func(_ *dispersy.Context, m *dispersy.Message[Text]) dispersy.Verdict { return d.Check(m) }
		}
		switch t {
		case DoubleText, DoubleSplitText, Last1DoubleText:
			h.AllowSignature = func(_ *dispersy.Context, m *dispersy.Message[Text]) (Text, bool) {
				d.SignRequests = append(d.SignRequests, m.Payload.Text)
				s, ok := AllowText(m.Payload.Text)
				return Text{Text: s}, ok
			}
			if t == DoubleSplitText {
				h.SplitPayload = splitAtLastComma
			}
		}
		dispersy.Register(def, t, h)
	}
}
