package dispersy

import (
	"github.com/dispersy-go/dispersy/dispersy/payload"
	"github.com/dispersy-go/dispersy/policy"
)

// Built-in message ids. They keep Python Dispersy's numbers, inside the
// reserved range 192..254.
//
// WARNING: append only; ids are on the wire.
const (
	IDDynamicSettings      uint8 = 236
	IDUndoOther            uint8 = 237
	IDUndoOwn              uint8 = 238
	IDMissingMessage       uint8 = 239
	IDRevoke               uint8 = 242
	IDAuthorize            uint8 = 243
	IDDestroyCommunity     uint8 = 244
	IDIntroductionResponse uint8 = 245
	IDIntroductionRequest  uint8 = 246
	IDMissingIdentity      uint8 = 247
	IDIdentity             uint8 = 248
	IDPuncture             uint8 = 249
	IDPunctureRequest      uint8 = 250
	IDSignatureResponse    uint8 = 251
	IDSignatureRequest     uint8 = 252
	IDMissingProof         uint8 = 253
	IDMissingSequence      uint8 = 254
)

func mustBuiltin[T interface {
	AppendBinary([]byte) ([]byte, error)
}, PT Payload[T]](spec MessageSpec) *MessageType[T] {
	t, err := newMessageType[T, PT](spec, true)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	memberKey    = policy.MemberAuthentication{Encoding: policy.EncodeKey}
	direct       = policy.DirectDistribution{}
	toCandidates = policy.CandidateDestination{}
)

// The built-in message types. Every community registers them.
var (
	// IdentityType publishes a member's public key in a community. Priority
	// 16: never bloom-synced, fetched on demand with missing-identity.
	IdentityType = mustBuiltin[Empty](MessageSpec{
		ID: IDIdentity, Name: "dispersy-identity",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 16, HistorySize: 1},
		Destination:  policy.CommunityDestination{NodeCount: 0},
	})
	// MissingIdentityType asks for the identity of a member id.
	MissingIdentityType = mustBuiltin[MissingIdentity](MessageSpec{
		ID: IDMissingIdentity, Name: "dispersy-missing-identity",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// MissingSequenceType asks for a member's messages of one type by
	// sequence number range.
	MissingSequenceType = mustBuiltin[MissingSequence](MessageSpec{
		ID: IDMissingSequence, Name: "dispersy-missing-sequence",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// MissingMessageType asks for a member's messages at given global times.
	MissingMessageType = mustBuiltin[MissingMessage](MessageSpec{
		ID: IDMissingMessage, Name: "dispersy-missing-message",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// IntroductionRequestType is the walker's step, with an optional bloom
	// filter for sync.
	IntroductionRequestType = mustBuiltin[IntroductionRequest](MessageSpec{
		ID: IDIntroductionRequest, Name: "dispersy-introduction-request",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// IntroductionResponseType answers an introduction request and names an
	// introduced peer.
	IntroductionResponseType = mustBuiltin[IntroductionResponse](MessageSpec{
		ID: IDIntroductionResponse, Name: "dispersy-introduction-response",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// PunctureRequestType asks a peer to puncture its NAT toward another.
	PunctureRequestType = mustBuiltin[PunctureRequest](MessageSpec{
		ID: IDPunctureRequest, Name: "dispersy-puncture-request",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
	// PunctureType opens the sender's NAT toward the walker that asked.
	PunctureType = mustBuiltin[Puncture](MessageSpec{
		ID: IDPuncture, Name: "dispersy-puncture",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
)

// The payloads of the built-in walker and missing-* messages. Their types
// and wire codecs live in package payload (docs/wire-format.md); these
// aliases keep them part of this package's API.
type (
	// MissingIdentity is the payload of dispersy-missing-identity.
	MissingIdentity = payload.MissingIdentity
	// MissingSequence is the payload of dispersy-missing-sequence.
	MissingSequence = payload.MissingSequence
	// MissingMessage is the payload of dispersy-missing-message.
	MissingMessage = payload.MissingMessage
	// SyncRequest is the bloom-filter sync part of an introduction request
	// or response.
	SyncRequest = payload.SyncRequest
	// IntroductionRequest is the payload of dispersy-introduction-request.
	IntroductionRequest = payload.IntroductionRequest
	// IntroductionResponse is the payload of dispersy-introduction-response.
	IntroductionResponse = payload.IntroductionResponse
	// PunctureRequest is the payload of dispersy-puncture-request.
	PunctureRequest = payload.PunctureRequest
	// Puncture is the payload of dispersy-puncture.
	Puncture = payload.Puncture
)
