package database

import (
	"fmt"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// TestUnkeyedRowsLeaveTheMemberIndex checks what schema version 2 is for:
// rows of a type declared unkeyed are stored with keyed = 0 (out of
// sync_member_type), in multi-row inserts and single ones alike, and go back
// into the index when the type is declared keyed again.
func TestUnkeyedRowsLeaveTheMemberIndex(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	cid := keys.CommunityID{0x6b}
	declare := func(unkeyed bool) {
		t.Helper()
		var b dispersy.Batch
		b.PutTypes(cid, []dispersy.TypeRecord{{ID: 1, Name: "bulk", Unkeyed: unkeyed}, {ID: 2, Name: "history"}})
		if err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: cid, Master: []byte("m"), Me: keys.MemberID{1}})
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	declare(true)
	b.Reset()
	for i := range 70 { // two multi-row chunks and single rows
		p := fmt.Appendf(nil, "packet %d", i)
		b.Put(dispersy.Record{Community: cid, Member: keys.MemberID{byte(i % 7)}, GlobalTime: uint64(1 + i), MessageID: uint8(1 + i%2),
			Hash: dispersy.PacketHash(p), Packet: p})
	}
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	counts := func() (keyed0, keyed1 int) {
		t.Helper()
		if err := s.writer.QueryRow(`SELECT count(*) FILTER (WHERE keyed = 0), count(*) FILTER (WHERE keyed = 1) FROM sync`).Scan(&keyed0, &keyed1); err != nil {
			t.Fatal(err)
		}
		return keyed0, keyed1
	}
	if k0, k1 := counts(); k0 != 35 || k1 != 35 {
		t.Fatalf("unkeyed type 1: %d rows out of the index and %d in it, want 35 and 35", k0, k1)
	}
	declare(false)
	if k0, k1 := counts(); k0 != 0 || k1 != 70 {
		t.Fatalf("type 1 declared keyed: %d rows out of the index and %d in it, want 0 and 70", k0, k1)
	}
}
