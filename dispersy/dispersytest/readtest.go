package dispersytest

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// testMessages checks dispersy.Messages, the application's read API, on the
// store: real packets from three members, two of them at every global time
// (so the order within one global time and the resumption of a chunk inside
// one are exercised), more than one read chunk, one message undone.
func testMessages(t *testing.T, s dispersy.Store) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []dispersy.Record
	ids := map[string]keys.MemberID{}
	for _, name := range []string{"alice", "bob", "carol"} {
		key := keys.DeriveKey(keys.Ed25519, []byte("read test "+name))
		ids[name] = key.ID()
		e, err := dispersy.NewEngine(dispersy.DefaultConfig(), key, NewMemStore())
		if err != nil {
			t.Fatal(err)
		}
		e.SetTime(now)
		c, err := e.Join(NewDebugCommunity())
		if err != nil {
			t.Fatal(err)
		}
		first, n := uint64(10), 150
		if name == "carol" {
			first, n = 5, 1
		}
		for i := range n {
			c.RaiseGlobalTime(first + uint64(i) - 1)
			if _, err := dispersy.Create(c, FullSyncText, Text{Text: fmt.Sprintf("%s %d", name, i)}); err != nil {
				t.Fatal(err)
			}
		}
		err = e.Store().Range(dispersy.RangeQuery{Community: c.ID(), MessageID: FullSyncText.ID(), High: 1 << 62}, func(r *dispersy.Record) bool {
			recs = append(recs, *r)
			return true
		})
		if err != nil || len(recs) == 0 {
			t.Fatalf("reading %s's messages: %d, %v", name, len(recs), err)
		}
	}

	e, err := dispersy.NewEngine(dispersy.DefaultConfig(), keys.DeriveKey(keys.Ed25519, []byte("read test reader")), s)
	if err != nil {
		t.Fatal(err)
	}
	e.SetTime(now)
	c, err := e.Join(NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	var b dispersy.Batch
	for _, r := range recs {
		b.Put(r)
	}
	undone := dispersy.MessageKey{Member: ids["alice"], GlobalTime: 20}
	b.SetUndone(c.ID(), undone, true, dispersy.MessageKey{})
	apply(t, s, &b)

	slices.SortFunc(recs, func(a, b dispersy.Record) int {
		return cmp.Or(cmp.Compare(a.GlobalTime, b.GlobalTime), bytes.Compare(a.Packet, b.Packet))
	})
	var live []dispersy.Record
	for _, r := range recs {
		if r.Key() != undone {
			live = append(live, r)
		}
	}
	read := func(o dispersy.ReadOptions) []*dispersy.Message[Text] {
		t.Helper()
		var out []*dispersy.Message[Text]
		for m, err := range dispersy.Messages(c, FullSyncText, o) {
			if err != nil {
				t.Fatalf("Messages(%+v): %v", o, err)
			}
			out = append(out, m)
		}
		return out
	}
	check := func(what string, got []*dispersy.Message[Text], want []dispersy.Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
		}
		for i, m := range got {
			if m.Key() != want[i].Key() || !bytes.Equal(m.Packet, want[i].Packet) || m.Undone != (m.Key() == undone) {
				t.Fatalf("%s: message %d is %v (undone %v), want %v", what, i, m.Key(), m.Undone, want[i].Key())
			}
			if m.Payload.Text == "" || m.Author() != want[i].Member {
				t.Fatalf("%s: message %d: payload %q, author %v", what, i, m.Payload.Text, m.Author())
			}
		}
	}
	if len(recs) <= 256 {
		t.Fatalf("only %d records: the test needs more than one read chunk", len(recs))
	}
	check("all", read(dispersy.ReadOptions{}), live)
	check("with undone", read(dispersy.ReadOptions{IncludeUndone: true}), recs)
	rev := slices.Clone(live)
	slices.Reverse(rev)
	check("descending", read(dispersy.ReadOptions{Descending: true}), rev)
	check("limit", read(dispersy.ReadOptions{Descending: true, Limit: 7}), rev[:7])
	var bobs, window []dispersy.Record
	for _, r := range live {
		if r.Member == ids["bob"] {
			bobs = append(bobs, r)
		}
		if r.GlobalTime >= 15 && r.GlobalTime <= 30 {
			window = append(window, r)
		}
	}
	check("member", read(dispersy.ReadOptions{Member: ids["bob"]}), bobs)
	check("global-time range", read(dispersy.ReadOptions{From: 15, To: 30}), window)

	// Stopping early and a type the community does not register.
	n := 0
	for range dispersy.Messages(c, FullSyncText, dispersy.ReadOptions{}) {
		if n++; n == 3 {
			break
		}
	}
	other := dispersy.DefineMessage[Text](dispersy.MessageSpec{ID: FullSyncText.ID(), Name: "other", Authentication: member,
		Resolution: public, Distribution: asc128, Destination: community})
	for m, err := range dispersy.Messages(c, other, dispersy.ReadOptions{}) {
		if m != nil || err == nil {
			t.Fatalf("a type the community does not register: %v, %v", m, err)
		}
	}
}
