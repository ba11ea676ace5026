package dht_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/keys"
)

// A lookup driven by hand: the caller sends what Next returns and feeds the
// answers back. Here three servers answer by direct calls; a real node sends
// the queries as messages and feeds answers and timeouts as they come.
func ExampleLookup() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var servers []*dht.Server
	var contacts []dht.Contact
	for i := range 3 {
		k := keys.DeriveKey(keys.Ed25519, []byte{byte(i)})
		s, err := dht.NewServer(dht.NodeIDOf(k.Public()), dht.ServerConfig{}, zeros{}, now)
		if err != nil {
			panic(err)
		}
		servers = append(servers, s)
		contacts = append(contacts, dht.Contact{ID: s.Table.Self(), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(7000+i))})
	}
	// Server 0 knows server 1, which knows server 2.
	servers[0].Table.Seen(contacts[1], now)
	servers[1].Table.Seen(contacts[2], now)

	me := servers[0]
	target := contacts[2].ID
	l := dht.NewLookup(me.Table.Self(), target, me.Table.Closest(target, dht.DefaultK), dht.LookupConfig{}, now)
	for !l.Done() {
		for _, q := range l.Next(now) {
			i := map[dht.ID]int{contacts[1].ID: 1, contacts[2].ID: 2}[q.ID]
			answer, _, _ := servers[i].Handle(contacts[0], dht.FindNode{Target: target}, now)
			l.OnNodes(q.ID, answer.(dht.Nodes).Contacts, now)
		}
	}
	fmt.Println(l.Status(), len(l.Result()), "nodes, hops:", l.Hops(), "queries:", l.Queries())
	fmt.Println("found the target:", l.Result()[0].ID == target)
	// Output:
	// exhausted 2 nodes, hops: 2 queries: 2
	// found the target: true
}

// The store check: a holder decides what to keep with one pure function.
func ExamplePolicy_Accept() {
	owner := keys.DeriveKey(keys.Ed25519, []byte("owner"))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v1, _ := dht.NewOwned(owner, []byte("status"), []byte("online"), now, now.Add(time.Hour))
	v2, _ := dht.NewOwned(owner, []byte("status"), []byte("away"), now.Add(time.Minute), now.Add(time.Hour))
	key := dht.OwnedKey(owner.Public(), []byte("status"))

	var pol dht.Policy
	fmt.Println(pol.Accept(nil, v1, key, now, 0))
	fmt.Println(pol.Accept(v1, v2, key, now, 0))
	fmt.Println(pol.Accept(v2, v1, key, now, 0))
	forged := *v2
	forged.Value = []byte("hacked")
	fmt.Println(pol.Accept(v1, &forged, key, now, 0))
	fmt.Println(pol.Accept(nil, v1, dht.ContentKey([]byte("online")), now, 0))
	fmt.Println(pol.Accept(nil, v1, key, now.Add(2*time.Hour), 0))
	// Output:
	// accepted
	// accepted
	// superseded
	// bad-signature
	// key-mismatch
	// expired
}

// zeros is a stand-in random source for the example; use crypto/rand.Reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
