package reconcile_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

// item makes the item of message n: global time n, id the hash of its body.
func item(n int) reconcile.Item {
	h := sha256.Sum256(fmt.Appendf(nil, "message %d", n))
	var id reconcile.ID
	copy(id[:], h[:16])
	return reconcile.Item{Time: uint64(n), ID: id}
}

// Two peers hold 1,000 messages each; the initiator lacks message 500, the
// responder lacks message 700. The initiator learns both differences.
func ExampleReconciler() {
	alice, bob := &reconcile.Index{}, &reconcile.Index{}
	for n := 1; n <= 1000; n++ {
		if n != 500 {
			alice.Insert(item(n))
		}
		if n != 700 {
			bob.Insert(item(n))
		}
	}
	ini, _ := reconcile.NewInitiator(alice, reconcile.Zero, reconcile.Infinity, reconcile.Config{})
	rsp, _ := reconcile.NewResponder(bob, reconcile.Config{})
	msg, _ := ini.Initiate()
	for {
		reply, _, err := rsp.Reconcile(msg) // over the network in real life
		if err != nil {
			panic(err)
		}
		var done bool
		if msg, done, err = ini.Reconcile(reply); err != nil {
			panic(err)
		} else if done {
			break
		}
	}
	fmt.Println("round trips:", ini.Rounds())
	fmt.Println("alice has, bob lacks: time", ini.Have()[0].Time)
	fmt.Println("bob has, alice lacks:", ini.Need()[0] == item(500).ID)
	// Output:
	// round trips: 2
	// alice has, bob lacks: time 700
	// bob has, alice lacks: true
}
