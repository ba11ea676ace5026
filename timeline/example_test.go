package timeline_test

import (
	"fmt"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
	"github.com/dispersy-go/dispersy/timeline"
)

// A Linear message type: the master authorizes alice, and alice's message
// at a later global time is allowed, with the authorize as its proof.
func ExampleTimeline_Check() {
	master, alice := keys.MemberID{0xaa}, keys.MemberID{0x01}
	names := map[keys.MemberID]string{master: "master", alice: "alice"}
	const vote = 7 // a message type with LinearResolution

	tl, err := timeline.New(timeline.Config{
		Master:       master,
		SettingsType: 236,
		Resolutions:  map[uint8]policy.Resolution{vote: policy.LinearResolution{}},
	})
	if err != nil {
		panic(err)
	}

	ok, _ := tl.Check([]keys.MemberID{alice}, vote, 11)
	fmt.Println("before the authorize:", ok)

	from, changed := tl.Insert(timeline.Message{
		Kind:   timeline.KindAuthorize,
		Ref:    timeline.Ref{Author: master, GlobalTime: 10},
		Grants: []timeline.Grant{{Member: alice, Type: vote, Permission: timeline.Permit}},
	})
	fmt.Println("re-check stored messages from global time", from, changed)

	ok, proof := tl.Check([]keys.MemberID{alice}, vote, 11)
	for _, r := range proof {
		fmt.Printf("allowed: %t, proof: %s@%d\n", ok, names[r.Author], r.GlobalTime)
	}
	// Output:
	// before the authorize: false
	// re-check stored messages from global time 10 true
	// allowed: true, proof: master@10
}

// Proof chains: the master authorizes alice to authorize; alice authorizes
// bob. Bob's proof is alice's authorize; Proof follows the chain to the
// master.
func ExampleTimeline_Proof() {
	master, alice, bob := keys.MemberID{0xaa}, keys.MemberID{0x01}, keys.MemberID{0x02}
	names := map[keys.MemberID]string{master: "master", alice: "alice", bob: "bob"}
	tl, err := timeline.New(timeline.Config{Master: master, SettingsType: 236,
		Resolutions: map[uint8]policy.Resolution{7: policy.LinearResolution{}}})
	if err != nil {
		panic(err)
	}
	// Inserted out of order: alice's authorize first, then the one that makes it valid.
	tl.Insert(timeline.Message{Kind: timeline.KindAuthorize, Ref: timeline.Ref{Author: alice, GlobalTime: 20},
		Grants: []timeline.Grant{{Member: bob, Type: 7, Permission: timeline.Permit}}})
	tl.Insert(timeline.Message{Kind: timeline.KindAuthorize, Ref: timeline.Ref{Author: master, GlobalTime: 5},
		Grants: []timeline.Grant{{Member: alice, Type: 7, Permission: timeline.Authorize}}})

	_, proof := tl.Allowed(bob, 7, timeline.Permit, 30)
	for len(proof) > 0 {
		r := proof[0]
		fmt.Printf("%s@%d\n", names[r.Author], r.GlobalTime)
		_, proof = tl.Proof(r)
	}
	// Output:
	// alice@20
	// master@5
}
