package dht

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	self := randID(rng)
	s, err := NewServer(self, ServerConfig{QueryBurst: 6, QueryWindow: 5 * time.Second}, rngReader{rng}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		s.Table.Seen(contactOf(randID(rng)), t0)
	}
	near := self
	near[19] ^= 1 // in the own, never full, bucket
	alice1 := contactOf(near)
	spoof := Contact{ID: alice1.ID, Addr: addrOf(idFrom(0x55))}
	rec := mustOwned(t, alice, "n", "v", t0, t0.Add(time.Hour))
	now := t0.Add(time.Second)

	// find-node: the closest contacts and a token for the sender.
	ans, _, _ := s.Handle(alice1, FindNode{Target: rec.Key()}, now)
	nodes, ok := ans.(Nodes)
	if !ok || len(nodes.Contacts) != DefaultK || nodes.Contacts[0].ID != s.Table.Closest(rec.Key(), 1)[0].ID {
		t.Fatalf("find-node answer %#v", ans)
	}
	if _, ok := s.Table.Get(alice1.ID); !ok {
		t.Fatal("the sender is not in the table")
	}
	// find-value before the store: nodes.
	if ans, _, _ := s.Handle(alice1, FindValue{Key: rec.Key()}, now); ans.Type() != TypeNodes {
		t.Fatalf("find-value of an unknown key: %v", ans.Type())
	}
	// A store from another address with alice1's token: bad token.
	ans, _, _ = s.Handle(spoof, Store{Key: rec.Key(), Token: nodes.Token, Record: rec}, now)
	if r := ans.(StoreResult); r.Code != BadToken {
		t.Fatalf("spoofed store: %v", r.Code)
	}
	// The real store.
	ans, _, _ = s.Handle(alice1, Store{Key: rec.Key(), Token: nodes.Token, Record: rec}, now)
	if r := ans.(StoreResult); r.Code != Accepted || r.Key != rec.Key() {
		t.Fatalf("store: %v", r)
	}
	if ans, _, _ := s.Handle(alice1, FindValue{Key: rec.Key()}, now); ans.Type() != TypeValue || !ans.(Value).Record.Equal(rec) {
		t.Fatalf("find-value after the store: %#v", ans)
	}
	// A forged record with a valid token: bad signature. Then the rate
	// limit (6 per 5 s) refuses the seventh request.
	forged := *rec
	forged.Value = []byte("w")
	ans, _, _ = s.Handle(alice1, Store{Key: rec.Key(), Token: nodes.Token, Record: &forged}, now)
	if r := ans.(StoreResult); r.Code != BadSignature {
		t.Fatalf("forged store: %v", r.Code)
	}
	ans, _, _ = s.Handle(alice1, FindNode{}, now)
	if e, ok := ans.(Error); !ok || e.Code != RateLimited {
		t.Fatalf("seventh request: %#v", ans)
	}
	// Answers are not requests; nil gets nothing.
	if ans, _, _ := s.Handle(alice1, Nodes{}, now); ans != nil {
		t.Fatal("answered an answer")
	}
	if ans, _, _ := s.Handle(alice1, nil, now); ans != nil {
		t.Fatal("answered nil")
	}
	st := s.Stats()
	if st.Requests[TypeFindNode] != 2 || st.Requests[TypeFindValue] != 2 || st.Requests[TypeStore] != 3 ||
		st.Verdicts[Accepted] != 1 || st.Verdicts[BadToken] != 1 || st.Verdicts[BadSignature] != 1 || st.Verdicts[RateLimited] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The token outlives one rotation, not two.
	later := now.Add(6 * time.Minute)
	ans, _, _ = s.Handle(alice1, Store{Key: rec.Key(), Token: nodes.Token, Record: rec}, later)
	if r := ans.(StoreResult); r.Code != Duplicate {
		t.Fatalf("store with a token of the previous secret: %v", r.Code)
	}
	ans, _, _ = s.Handle(alice1, Store{Key: rec.Key(), Token: nodes.Token, Record: rec}, later.Add(6*time.Minute))
	if r := ans.(StoreResult); r.Code != BadToken {
		t.Fatalf("store with a token two rotations old: %v", r.Code)
	}
	// A nil record in a Store is malformed, not a panic.
	ans, _, _ = s.Handle(alice1, Store{Key: rec.Key(), Token: s.tokens.Issue(alice1.ID, alice1.Addr)}, later.Add(7*time.Minute))
	if r := ans.(StoreResult); r.Code != Malformed {
		t.Fatalf("store without record: %v", r.Code)
	}
}
