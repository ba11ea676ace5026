package dispersy_test

import (
	"fmt"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// After a restart an application rebuilds its state from the store: a new
// engine on the same store joins the community and reads its messages back,
// in global-time order.
func ExampleMessages() {
	store := dispersytest.NewMemStore() // database.Open in a real node
	me := keys.DeriveKey(keys.Ed25519, []byte("example reader"))
	start := func() *dispersy.Community {
		e, err := dispersy.NewEngine(dispersy.DefaultConfig(), me, store)
		if err != nil {
			panic(err)
		}
		e.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		c, err := e.Join(dispersytest.NewDebugCommunity())
		if err != nil {
			panic(err)
		}
		return c
	}
	c := start()
	for _, text := range []string{"first", "second", "third"} {
		if _, err := dispersy.Create(c, dispersytest.FullSyncText, dispersytest.Text{Text: text}); err != nil {
			panic(err)
		}
	}

	c = start() // the restart: nothing in memory but the store
	for m, err := range dispersy.Messages(c, dispersytest.FullSyncText, dispersy.ReadOptions{Descending: true, Limit: 2}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(m.GlobalTime, m.Payload.Text, m.Author() == me.ID())
	}
	// Output:
	// 5 third true
	// 4 second true
}
