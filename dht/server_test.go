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

// TestServersEndToEnd runs the DHT's requests between 150 servers by direct
// calls, with only the pure pieces: nodes join by looking up their own id
// through Server.Handle, a node stores an owner record on the K closest
// with the tokens their Nodes answers gave it, a newer version replaces it,
// and a find-value lookup from another node with a quorum finds the newest.
func TestServersEndToEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 31))
	servers := map[ID]*Server{}
	var ids []ID
	now := t0
	// lookup runs a lookup from origin through the servers' answers; it
	// returns the lookup and the tokens each answerer gave.
	lookup := func(origin, target ID, findValue bool, quorum int) (*Lookup, map[ID]Token) {
		me := servers[origin]
		tokens := map[ID]Token{}
		l := NewLookup(origin, target, me.Table.Closest(target, DefaultK), LookupConfig{Quorum: quorum}, now)
		for !l.Done() {
			qs := l.Next(now)
			if len(qs) == 0 {
				now = now.Add(DefaultRPCTimeout)
				l.Expire(now)
				continue
			}
			for _, q := range qs {
				var req Message = FindNode{Target: target}
				if findValue {
					req = FindValue{Key: target}
				}
				ans, _, _ := servers[q.ID].Handle(contactOf(origin), req, now)
				me.Table.Seen(q, now)
				switch a := ans.(type) {
				case Nodes:
					tokens[q.ID] = a.Token
					l.OnNodes(q.ID, a.Contacts, now)
				case Value:
					if a.Record.Key() != target || !a.Record.Verify() {
						t.Fatal("a server returned a bad value")
					}
					l.OnValue(q.ID, a.Record)
				default:
					t.Fatalf("answer %#v", ans)
				}
			}
			now = now.Add(10 * time.Millisecond)
		}
		return l, tokens
	}
	for i := range 150 {
		id := randID(rng)
		s, err := NewServer(id, ServerConfig{QueryBurst: 1 << 20}, rngReader{rng}, now)
		if err != nil {
			t.Fatal(err)
		}
		servers[id] = s
		if i > 0 {
			s.Table.Seen(contactOf(ids[rng.IntN(len(ids))]), now)
			lookup(id, id, false, 1)
		}
		ids = append(ids, id)
	}
	store := func(origin ID, rec *Record) int {
		l, tokens := lookup(origin, rec.Key(), false, 1)
		accepted := 0
		for _, c := range l.Result() {
			ans, _, _ := servers[c.ID].Handle(contactOf(origin), Store{Key: rec.Key(), Token: tokens[c.ID], Record: rec}, now)
			if ans.(StoreResult).Code == Accepted {
				accepted++
			}
		}
		return accepted
	}
	v1 := mustOwned(t, alice, "profile", "v1", now, now.Add(time.Hour))
	if n := store(ids[3], v1); n != DefaultK {
		t.Fatalf("v1 accepted by %d of %d", n, DefaultK)
	}
	v2 := mustOwned(t, alice, "profile", "v2", now.Add(time.Second), now.Add(time.Hour))
	if n := store(ids[4], v2); n != DefaultK {
		t.Fatalf("v2 accepted by %d of %d", n, DefaultK)
	}
	l, _ := lookup(ids[5], v1.Key(), true, 3)
	if l.Status() != FoundValue || !l.Value().Equal(v2) || len(l.Stale()) != 0 {
		t.Fatalf("find-value: %v, %q, %d stale", l.Status(), l.Value().Value, len(l.Stale()))
	}
	var accepted, refused uint64
	for _, s := range servers {
		st := s.Stats()
		accepted += st.Verdicts[Accepted]
		for _, r := range Reasons() {
			if r.Refused() {
				refused += st.Verdicts[r]
			}
		}
	}
	if accepted != 2*DefaultK || refused != 0 {
		t.Fatalf("servers accepted %d stores and refused %d", accepted, refused)
	}
}
