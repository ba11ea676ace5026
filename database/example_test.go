package database_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// Open a store in a file, apply a batch, read it back.
func Example() {
	dir, err := os.MkdirTemp("", "dispersy-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := database.Open(filepath.Join(dir, "dispersy.db"), database.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	master := keys.DeriveKey(keys.Ed25519, []byte("example master key seed, 32 byte"))
	me := keys.DeriveKey(keys.Ed25519, []byte("example member key seed, 32 byte"))
	cid := master.Public().CommunityID()
	packet := []byte("a signed packet")

	var b dispersy.Batch
	b.PutMember(dispersy.MemberRecord{ID: me.ID(), PublicKey: me.Public().Bytes(), PrivateKey: me.Bytes()})
	b.PutCommunity(dispersy.CommunityRecord{ID: cid, Master: master.Public().Bytes(), Me: me.ID(), AutoLoad: true})
	b.Put(dispersy.Record{Community: cid, Member: me.ID(), GlobalTime: 1, MessageID: 1,
		Hash: dispersy.PacketHash(packet), Packet: packet})
	if err := s.Apply(&b); err != nil {
		log.Fatal(err)
	}

	rec, ok, err := s.Get(cid, dispersy.MessageKey{Member: me.ID(), GlobalTime: 1})
	if err != nil {
		log.Fatal(err)
	}
	gt, _ := s.MaxGlobalTime(cid)
	fmt.Printf("found %v: %q, global time %d\n", ok, rec.Packet, gt)

	// A second Put of the same message is refused; the batch writes nothing.
	b.Reset()
	b.SetOption("note", []byte("never written"))
	b.Put(rec)
	err = s.Apply(&b)
	_, noted, _ := s.Option("note")
	fmt.Println(err != nil, noted)
	// Output:
	// found true: "a signed packet", global time 1
	// true false
}
