package dispersy

import (
	"github.com/dispersy-go/dispersy/dispersy/payload"
	"github.com/dispersy-go/dispersy/policy"
	"github.com/dispersy-go/dispersy/timeline"
)

var permSync = policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128, SequenceNumbers: true}

// The built-in permission message types (dispersy.md §2). Every community
// registers them.
var (
	// AuthorizeType grants permissions.
	AuthorizeType = mustBuiltin[Authorize](MessageSpec{
		ID: IDAuthorize, Name: "dispersy-authorize",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: permSync, Destination: policy.CommunityDestination{NodeCount: 10},
	})
	// RevokeType revokes permissions.
	RevokeType = mustBuiltin[Revoke](MessageSpec{
		ID: IDRevoke, Name: "dispersy-revoke",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: permSync, Destination: policy.CommunityDestination{NodeCount: 10},
	})
	// UndoOwnType undoes one's own message.
	UndoOwnType = mustBuiltin[UndoOwn](MessageSpec{
		ID: IDUndoOwn, Name: "dispersy-undo-own",
		Authentication: memberKey, Resolution: policy.PublicResolution{},
		Distribution: permSync, Destination: policy.CommunityDestination{NodeCount: 10},
	})
	// UndoOtherType undoes another member's message; it needs the undo
	// permission on the target's type.
	UndoOtherType = mustBuiltin[UndoOther](MessageSpec{
		ID: IDUndoOther, Name: "dispersy-undo-other",
		Authentication: memberKey, Resolution: policy.LinearResolution{},
		Distribution: permSync, Destination: policy.CommunityDestination{NodeCount: 10},
	})
	// DestroyCommunityType hard-kills a community.
	DestroyCommunityType = mustBuiltin[DestroyCommunity](MessageSpec{
		ID: IDDestroyCommunity, Name: "dispersy-destroy-community",
		Authentication: memberKey, Resolution: policy.LinearResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 192},
		Destination:  policy.CommunityDestination{NodeCount: 50},
	})
	// DynamicSettingsType switches the resolution policy of dynamic types.
	DynamicSettingsType = mustBuiltin[DynamicSettings](MessageSpec{
		ID: IDDynamicSettings, Name: "dispersy-dynamic-settings",
		Authentication: memberKey, Resolution: policy.LinearResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Descending, Priority: 191, SequenceNumbers: true},
		Destination:  policy.CommunityDestination{NodeCount: 10},
	})
	// MissingProofType asks why a member's message is allowed.
	MissingProofType = mustBuiltin[MissingProof](MessageSpec{
		ID: IDMissingProof, Name: "dispersy-missing-proof",
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: direct, Destination: toCandidates,
	})
)

// Permission names a permission on a message type. The values are
// Dispersy's bits and appear on the wire.
type Permission = timeline.Permission

// The permissions.
const (
	Permit         = timeline.Permit
	PermAuthorize  = timeline.Authorize
	PermRevoke     = timeline.Revoke
	PermUndo       = timeline.Undo
	AllPermissions = timeline.AllPermissions
)

// The payloads of the built-in permission messages. Their types and wire
// codecs live in package payload (docs/wire-format.md); these aliases keep
// them part of this package's API.
type (
	// Grant is one member's permissions on one message type.
	Grant = payload.Grant
	// Authorize is the payload of dispersy-authorize.
	Authorize = payload.Authorize
	// Revoke is the payload of dispersy-revoke.
	Revoke = payload.Revoke
	// UndoOwn is the payload of dispersy-undo-own.
	UndoOwn = payload.UndoOwn
	// UndoOther is the payload of dispersy-undo-other.
	UndoOther = payload.UndoOther
	// DestroyCommunity is the payload of dispersy-destroy-community.
	DestroyCommunity = payload.DestroyCommunity
	// Setting is one record of a dynamic-settings payload.
	Setting = payload.Setting
	// DynamicSettings is the payload of dispersy-dynamic-settings.
	DynamicSettings = payload.DynamicSettings
	// MissingProof is the payload of dispersy-missing-proof.
	MissingProof = payload.MissingProof
)
