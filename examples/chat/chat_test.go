package chat_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/examples/chat"
	"github.com/dispersy-go/dispersy/keys"
)

var master = keys.DeriveKey(keys.Ed25519, []byte("chat example master"))

func TestPostPayload(t *testing.T) {
	tests := []struct {
		name   string
		post   chat.Post
		encErr bool
	}{
		{name: "plain", post: chat.Post{Author: "alice", Text: "hello"}},
		{name: "empty", post: chat.Post{}},
		{name: "unicode", post: chat.Post{Author: "zoë", Text: "naïve ☕"}},
		{name: "longest text", post: chat.Post{Author: "a", Text: strings.Repeat("x", chat.MaxText)}},
		{name: "text too long", post: chat.Post{Author: "a", Text: strings.Repeat("x", chat.MaxText+1)}, encErr: true},
		{name: "author too long", post: chat.Post{Author: strings.Repeat("a", 256)}, encErr: true},
		{name: "invalid utf-8", post: chat.Post{Author: "a", Text: "\xff"}, encErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := chat.MessageType.EncodePayload(tc.post)
			if tc.encErr {
				if err == nil {
					t.Fatalf("EncodePayload(%+v) = %x, want an error", tc.post, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := chat.MessageType.DecodePayload(b)
			if err != nil {
				t.Fatalf("DecodePayload(%x): %v", b, err)
			}
			if got != tc.post {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.post)
			}
		})
	}
}

func TestPayloadRejects(t *testing.T) {
	long := make([]byte, 0, 3+chat.MaxText+1)
	long = binary.BigEndian.AppendUint16(append(long, 0), chat.MaxText+1)
	long = append(long, strings.Repeat("x", chat.MaxText+1)...)
	tests := []struct {
		name   string
		decode func([]byte) error
		in     []byte
		reason conversion.Reason
	}{
		{"post trailing byte", decodePost, []byte{1, 'a', 0, 1, 'b', 0}, conversion.Trailing},
		{"post truncated", decodePost, []byte{5, 'a'}, conversion.TooShort},
		{"post empty input", decodePost, nil, conversion.TooShort},
		{"post bad utf-8", decodePost, []byte{1, 0xff, 0, 0}, conversion.BadField},
		{"post text over MaxText", decodePost, long, conversion.BadField},
		{"status trailing byte", decodeStatus, []byte{0, 1, 'b', 0}, conversion.Trailing},
		{"status truncated", decodeStatus, []byte{0, 9, 'b'}, conversion.TooShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode(tc.in)
			if err == nil {
				t.Fatalf("decoding %x succeeded, want %v", tc.in, tc.reason)
			}
			if got := conversion.ReasonOf(err); got != tc.reason {
				t.Fatalf("decoding %x: reason %v (%v), want %v", tc.in, got, err, tc.reason)
			}
		})
	}
}

func decodePost(b []byte) error   { _, err := chat.MessageType.DecodePayload(b); return err }
func decodeStatus(b []byte) error { _, err := chat.StatusType.DecodePayload(b); return err }

// room is one simulated chat peer and what its callbacks saw.
type room struct {
	*chat.Community
	lines, statuses, announcements []string
}

func newRoom() *room {
	r := &room{Community: chat.New(master.Public())}
	r.OnMessage = func(_ *dispersy.Context, batch []*dispersy.Message[chat.Post]) {
		for _, m := range batch {
			r.lines = append(r.lines, m.Payload.Author+": "+m.Payload.Text)
		}
	}
	r.OnStatus = func(_ *dispersy.Context, batch []*dispersy.Message[chat.Status]) {
		for _, m := range batch {
			r.statuses = append(r.statuses, m.Payload.Text)
		}
	}
	r.OnModerator = func(_ *dispersy.Context, batch []*dispersy.Message[chat.Status]) {
		for _, m := range batch {
			r.announcements = append(r.announcements, m.Payload.Text)
		}
	}
	return r
}

// newSim starts n simulated peers in the chat room; peer 0 signs with the
// master key.
func newSim(t testing.TB, n int, loss float64) (*dispersytest.Sim, []*room) {
	t.Helper()
	cfg := dispersytest.DefaultSimConfig(1)
	cfg.Network.Loss = loss
	sim, err := dispersytest.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(n); err != nil {
		t.Fatal(err)
	}
	rooms := make([]*room, n)
	for i, p := range sim.Peers {
		rooms[i] = newRoom()
		var opts []dispersy.JoinOption
		if i == 0 {
			opts = append(opts, dispersy.WithMember(master))
		}
		if err := sim.Do(p, func(e *dispersy.Engine) error {
			_, err := e.Join(rooms[i], opts...)
			return err
		}); err != nil {
			t.Fatalf("peer %d: Join: %v", i, err)
		}
	}
	return sim, rooms
}

func do(t testing.TB, sim *dispersytest.Sim, i int, f func(c *dispersy.Community) error) {
	t.Helper()
	cid := master.Public().CommunityID()
	if err := sim.Do(sim.Peers[i], func(e *dispersy.Engine) error { return f(e.Community(cid)) }); err != nil {
		t.Fatalf("peer %d: %v", i, err)
	}
}

// TestRoomConverges: lines, statuses (only the newest kept) and the
// master's moderator announcement reach every peer, with 10% loss.
func TestRoomConverges(t *testing.T) {
	const peers = 6
	sim, rooms := newSim(t, peers, 0.1)
	do(t, sim, 0, func(c *dispersy.Community) error { _, err := chat.Announce(c, "be nice"); return err })
	for i := range peers {
		do(t, sim, i, func(c *dispersy.Community) error {
			if _, err := chat.Say(c, fmt.Sprint("user", i), "hello"); err != nil {
				return err
			}
			if _, err := chat.SetStatus(c, "away"); err != nil {
				return err
			}
			_, err := chat.SetStatus(c, fmt.Sprint("back ", i))
			return err
		})
	}
	cid := master.Public().CommunityID()
	// peers lines + peers newest statuses + 1 announcement.
	want := 2*peers + 1
	start := sim.Net.Now()
	if err := sim.RunUntilConverged(cid, chat.SyncedIDs, want, 30*time.Minute); err != nil {
		for _, p := range sim.Peers {
			t.Logf("peer %d holds %d", p.Index, sim.Count(p, cid, chat.SyncedIDs))
		}
		t.Fatal(err)
	}
	t.Logf("converged after %v of virtual time; network %+v", sim.Net.Now().Sub(start), sim.Net.Stats())
	for i, r := range rooms {
		if len(r.lines) != peers {
			t.Errorf("peer %d handled %d lines, want %d: %q", i, len(r.lines), peers, r.lines)
		}
		if !slices.Equal(r.announcements, []string{"be nice"}) {
			t.Errorf("peer %d handled announcements %q, want [be nice]", i, r.announcements)
		}
		p := sim.Peers[i]
		if n := sim.Count(p, cid, []uint8{chat.IDStatus}); n != peers {
			t.Errorf("peer %d stores %d statuses, want one per member (%d)", i, n, peers)
		}
	}
	// The stored status of every member is its newest.
	for _, p := range sim.Peers {
		err := p.Store.Range(dispersy.RangeQuery{Community: cid, MessageID: chat.IDStatus, Low: 1, High: conversion.MaxGlobalTime}, func(r *dispersy.Record) bool {
			f, err := sim.Peers[0].Engine.Community(cid).Codec().Decode(r.Packet)
			if err != nil {
				t.Errorf("stored status does not decode: %v", err)
				return false
			}
			s, err := chat.StatusType.DecodePayload(f.Payload)
			if err != nil || !strings.HasPrefix(s.Text, "back ") {
				t.Errorf("peer %d stores status %q (%v), want the newest (back …)", p.Index, s.Text, err)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestHelpersRefuseOtherCommunities(t *testing.T) {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(1); err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dispersytest.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	debug := dispersytest.DebugMaster.Public().CommunityID()
	err = sim.Do(sim.Peers[0], func(e *dispersy.Engine) error {
		c := e.Community(debug)
		for _, tc := range []struct {
			name string
			f    func() error
		}{
			{"Say", func() error { _, err := chat.Say(c, "a", "b"); return err }},
			{"SetStatus", func() error { _, err := chat.SetStatus(c, "b"); return err }},
			{"Announce", func() error { _, err := chat.Announce(c, "b"); return err }},
		} {
			if err := tc.f(); !errors.Is(err, dispersy.ErrUnknownType) {
				t.Errorf("%s on the debug community: %v, want ErrUnknownType", tc.name, err)
			}
		}
		if _, err := chat.Say(nil, "a", "b"); err == nil {
			t.Error("Say(nil, …) succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A chat room of three simulated peers: the master announces, two members
// talk, and every peer ends with the same lines.
func Example() {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(1))
	if err != nil {
		panic(err)
	}
	if err := sim.AddPeers(3); err != nil {
		panic(err)
	}
	cid := master.Public().CommunityID()
	var seen []string // what peer 2's callbacks saw
	for i, p := range sim.Peers {
		room := chat.New(master.Public())
		var opts []dispersy.JoinOption
		if i == 0 {
			opts = append(opts, dispersy.WithMember(master)) // peer 0 holds the master key
		}
		if i == 2 {
			room.OnMessage = func(_ *dispersy.Context, batch []*dispersy.Message[chat.Post]) {
				for _, m := range batch {
					seen = append(seen, m.Payload.Author+": "+m.Payload.Text)
				}
			}
			room.OnModerator = func(_ *dispersy.Context, batch []*dispersy.Message[chat.Status]) {
				for _, m := range batch {
					seen = append(seen, "moderator: "+m.Payload.Text)
				}
			}
		}
		if err := sim.Do(p, func(e *dispersy.Engine) error { _, err := e.Join(room, opts...); return err }); err != nil {
			panic(err)
		}
	}
	say := func(i int, f func(c *dispersy.Community) error) {
		if err := sim.Do(sim.Peers[i], func(e *dispersy.Engine) error { return f(e.Community(cid)) }); err != nil {
			panic(err)
		}
	}
	say(0, func(c *dispersy.Community) error { _, err := chat.Announce(c, "welcome"); return err })
	say(1, func(c *dispersy.Community) error { _, err := chat.Say(c, "bob", "hi all"); return err })
	say(2, func(c *dispersy.Community) error { _, err := chat.Say(c, "carol", "hello bob"); return err })

	if err := sim.RunUntilConverged(cid, chat.SyncedIDs, 3, 10*time.Minute); err != nil {
		panic(err)
	}
	slices.Sort(seen)
	for _, s := range seen {
		fmt.Println(s)
	}
	// Output:
	// bob: hi all
	// carol: hello bob
	// moderator: welcome
}
