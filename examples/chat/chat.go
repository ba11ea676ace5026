package chat

import (
	"errors"
	"fmt"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Message ids of the chat community.
//
// WARNING: append only; ids are on the wire.
const (
	// IDMessage is the id of MessageType.
	IDMessage uint8 = 1
	// IDStatus is the id of StatusType.
	IDStatus uint8 = 2
	// IDModerator is the id of ModeratorType.
	IDModerator uint8 = 3
)

// Name is the community's classification, for auto-loading
// (Engine.RegisterOverlay).
const Name = "chat"

// MaxText is the longest text, in bytes, that a payload field accepts. It
// keeps every chat message well inside the default datagram budget
// (dispersy.DefaultMaxDatagram).
const MaxText = 512

// Post is the payload of a chat message: who says it (a display name,
// chosen by the author; the signature proves the member, not the name) and
// what.
type Post struct {
	Author string
	Text   string
}

// AppendBinary implements encoding.BinaryAppender: the author as a
// string8, then the text as a string16, both UTF-8.
func (p Post) AppendBinary(b []byte) ([]byte, error) {
	if err := checkLen("author", p.Author, 255); err != nil {
		return b, err
	}
	if err := checkLen("text", p.Text, MaxText); err != nil {
		return b, err
	}
	w := conversion.NewWriter(b)
	w.String8(p.Author)
	w.String16(p.Text)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It rejects
// invalid UTF-8, texts over MaxText and trailing bytes.
func (p *Post) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	p.Author = r.String8()
	p.Text = r.String16()
	if r.Err() == nil && len(p.Text) > MaxText {
		r.Invalid("text", fmt.Sprintf("%d bytes, the limit is %d", len(p.Text), MaxText))
	}
	return r.Finish()
}

// Status is the payload of a status message (and of a moderator
// announcement): one short text.
type Status struct {
	Text string
}

// AppendBinary implements encoding.BinaryAppender: the text as a string16.
func (s Status) AppendBinary(b []byte) ([]byte, error) {
	if err := checkLen("text", s.Text, MaxText); err != nil {
		return b, err
	}
	w := conversion.NewWriter(b)
	w.String16(s.Text)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *Status) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	s.Text = r.String16()
	if r.Err() == nil && len(s.Text) > MaxText {
		r.Invalid("text", fmt.Sprintf("%d bytes, the limit is %d", len(s.Text), MaxText))
	}
	return r.Finish()
}

func checkLen(field, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("chat: %s is %d bytes, the limit is %d", field, len(s), limit)
	}
	return nil
}

// The chat community's message types.
var (
	// MessageType is a chat line: signed by its author, kept forever by
	// every peer (full sync, ascending), pushed to up to 10 peers when
	// created.
	MessageType = dispersy.DefineMessage[Post](dispersy.MessageSpec{
		ID: IDMessage, Name: "message",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Direction: policy.Ascending, Priority: policy.DefaultPriority},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
	// StatusType is a member's status line: every peer keeps only the
	// newest one per member (last-sync, history 1).
	StatusType = dispersy.DefineMessage[Status](dispersy.MessageSpec{
		ID: IDStatus, Name: "status",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.LastSyncDistribution{Direction: policy.Ascending, Priority: policy.DefaultPriority, HistorySize: 1},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
	// ModeratorType is a moderator announcement. Only members holding the
	// permission may create one (linear resolution): the master member,
	// and the members it authorizes. It syncs before chat lines
	// (priority 192).
	ModeratorType = dispersy.DefineMessage[Status](dispersy.MessageSpec{
		ID: IDModerator, Name: "moderator",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.LinearResolution{},
		Distribution:   policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 192},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
)

// Types lists the chat community's message types.
var Types = []dispersy.AnyMessageType{MessageType, StatusType, ModeratorType}

// SyncedIDs are the ids of the chat types that are stored and synced.
var SyncedIDs = []uint8{IDMessage, IDStatus, IDModerator}

// Community is the chat overlay (a dispersy.Overlay). Make one per node
// with New; set the callbacks before joining. Callbacks run on the engine's
// goroutine: they must not block, and must not call Node methods (use
// the Context they receive to create messages).
type Community struct {
	master *keys.PublicKey

	// OnMessage receives committed chat lines, this node's own included.
	OnMessage func(ctx *dispersy.Context, batch []*dispersy.Message[Post])
	// OnStatus receives committed status messages.
	OnStatus func(ctx *dispersy.Context, batch []*dispersy.Message[Status])
	// OnModerator receives committed moderator announcements.
	OnModerator func(ctx *dispersy.Context, batch []*dispersy.Message[Status])
	// OnUndo receives chat lines and moderator announcements that were
	// undone (by their author, or by a revoked permission).
	OnUndo func(ctx *dispersy.Context, ids []dispersy.MessageKey)
}

// New returns a chat community overlay whose master key is master (from
// tools/createkey; the community id is its member id).
func New(master *keys.PublicKey) *Community {
	return &Community{master: master}
}

// Master returns the community's master public key.
func (c *Community) Master() *keys.PublicKey { return c.master }

// ID returns the community id.
func (c *Community) ID() keys.CommunityID { return c.master.CommunityID() }

// Define implements dispersy.Overlay.
func (c *Community) Define(d *dispersy.Definition) {
	d.Master = c.master
	d.Version = 1
	d.Name = Name
	undo := func(ctx *dispersy.Context, ks []dispersy.MessageKey) {
		if c.OnUndo != nil {
			c.OnUndo(ctx, ks)
		}
	}
	dispersy.Register(d, MessageType, dispersy.Handlers[Post]{
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Post]) {
			if c.OnMessage != nil {
				c.OnMessage(ctx, batch)
			}
		},
		Undo: func(ctx *dispersy.Context, batch []*dispersy.Message[Post]) { undo(ctx, keysOf(batch)) },
	})
	dispersy.Register(d, StatusType, dispersy.Handlers[Status]{
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Status]) {
			if c.OnStatus != nil {
				c.OnStatus(ctx, batch)
			}
		},
	})
	dispersy.Register(d, ModeratorType, dispersy.Handlers[Status]{
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Status]) {
			if c.OnModerator != nil {
				c.OnModerator(ctx, batch)
			}
		},
		Undo: func(ctx *dispersy.Context, batch []*dispersy.Message[Status]) { undo(ctx, keysOf(batch)) },
	})
}

func keysOf[T any](batch []*dispersy.Message[T]) []dispersy.MessageKey {
	out := make([]dispersy.MessageKey, len(batch))
	for i, m := range batch {
		out[i] = m.Key()
	}
	return out
}

// errNilCommunity: a helper was given a nil community.
var errNilCommunity = errors.New("chat: nil community: pass the *dispersy.Community that Join returned")

// check refuses a nil community. A community joined without the chat
// types is refused by dispersy.Create with dispersy.ErrUnknownType.
func check(c *dispersy.Community) error {
	if c == nil {
		return errNilCommunity
	}
	return nil
}

// Say creates a chat line by author in c. Like dispersy.Create, it must run
// on the engine's goroutine (Node.Do, a handler, or a simulation). In a
// community joined without the chat types it fails with an error wrapping
// dispersy.ErrUnknownType.
func Say(c *dispersy.Community, author, text string) (*dispersy.Message[Post], error) {
	if err := check(c); err != nil {
		return nil, err
	}
	return dispersy.Create(c, MessageType, Post{Author: author, Text: text})
}

// SetStatus creates a status message; peers keep only the newest per
// member.
func SetStatus(c *dispersy.Community, text string) (*dispersy.Message[Status], error) {
	if err := check(c); err != nil {
		return nil, err
	}
	return dispersy.Create(c, StatusType, Status{Text: text})
}

// Announce creates a moderator announcement. It fails with an error
// wrapping dispersy.ErrNotPermitted unless our member is the master member
// or holds the permission.
func Announce(c *dispersy.Community, text string) (*dispersy.Message[Status], error) {
	if err := check(c); err != nil {
		return nil, err
	}
	return dispersy.Create(c, ModeratorType, Status{Text: text})
}
