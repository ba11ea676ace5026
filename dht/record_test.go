package dht

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/keys"
)

var (
	alice = keys.DeriveKey(keys.Ed25519, []byte("dht alice"))
	bob   = keys.DeriveKey(keys.Ed25519, []byte("dht bob"))
	carol = keys.DeriveKey(keys.Ed448, []byte("dht carol"))
)

func mustOwned(t testing.TB, k *keys.PrivateKey, name, value string, ts, exp time.Time) *Record {
	t.Helper()
	r, err := NewOwned(k, []byte(name), []byte(value), ts, exp)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustTomb(t testing.TB, k *keys.PrivateKey, name string, ts, exp time.Time) *Record {
	t.Helper()
	r, err := NewTombstone(k, []byte(name), ts, exp)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeys(t *testing.T) {
	// key = H(H(owner key) ‖ H(name)), H = first 20 bytes of SHA-256.
	h := func(b ...[]byte) []byte { id := hash160(b...); return id[:] }
	mid := alice.Public().ID()
	want := ID(h(mid[:], h([]byte("color"))))
	if got := OwnedKey(alice.Public(), []byte("color")); got != want {
		t.Fatalf("OwnedKey = %v, want %v", got, want)
	}
	if OwnedKey(bob.Public(), []byte("color")) == want || OwnedKey(alice.Public(), []byte("colour")) == want {
		t.Fatal("owned keys collide across owners or names")
	}
	if ContentKey([]byte("v")) != hash160([]byte("v")) {
		t.Fatal("ContentKey is not H(value)")
	}
	if NodeIDOf(alice.Public()) != ID(alice.Public().ID()) || NodeID(alice.ID()) != ID(alice.ID()) {
		t.Fatal("node id is not the member id")
	}
}

func TestRecordSignature(t *testing.T) {
	for _, k := range []*keys.PrivateKey{alice, carol} {
		r := mustOwned(t, k, "n", "v", t0, t0.Add(time.Hour))
		if !r.Verify() {
			t.Fatalf("%v: fresh record does not verify", k.Scheme())
		}
		for name, mut := range map[string]func(*Record){
			"value":     func(r *Record) { r.Value = []byte("w") },
			"name":      func(r *Record) { r.Name = []byte("m") },
			"timestamp": func(r *Record) { r.Timestamp++ },
			"expires":   func(r *Record) { r.Expires++ },
			"kind":      func(r *Record) { r.Kind = Tombstone; r.Value = nil },
			"owner":     func(r *Record) { r.Owner = bob.Public() },
		} {
			c := *r
			mut(&c)
			if c.Verify() {
				t.Errorf("%v: record with changed %s verifies", k.Scheme(), name)
			}
		}
	}
}

func TestAccept(t *testing.T) {
	now := t0.Add(time.Hour)
	exp := now.Add(time.Hour)
	v1 := mustOwned(t, alice, "n", "one", now.Add(-time.Minute), exp)
	v2 := mustOwned(t, alice, "n", "two", now, exp)
	key := v1.Key()
	forged := *v2
	forged.Value = []byte("evil")
	wrongOwner := *v2
	wrongOwner.Owner = bob.Public() // bob's key, alice's signature
	bobs := mustOwned(t, bob, "n", "two", now, exp)
	expired := mustOwned(t, alice, "n", "old", now.Add(-2*time.Hour), now.Add(-time.Second))
	big := mustOwned(t, alice, "n", string(make([]byte, 1000)), now, exp)
	tomb := mustTomb(t, alice, "n", now.Add(time.Second), exp)
	content := NewContent([]byte("blob"), exp)
	content2 := NewContent([]byte("blob"), exp.Add(time.Hour))
	pol := Policy{MaxValueSize: 900, PeerQuota: 100}
	tests := []struct {
		name      string
		existing  *Record
		incoming  *Record
		key       ID
		peerBytes int
		want      Reason
	}{
		{"new owned value", nil, v1, key, 0, Accepted},
		{"newer replaces older", v1, v2, key, 0, Accepted},
		{"older than held", v2, v1, key, 0, Superseded},
		{"same record again", v2, v2, key, 0, Duplicate},
		{"forged value", v1, &forged, key, 0, BadSignature},
		{"signature by another owner", nil, &wrongOwner, wrongOwner.Key(), 0, BadSignature},
		{"another owner's record under this key", nil, bobs, key, 0, KeyMismatch},
		{"expired", nil, expired, key, 0, Expired},
		{"too large", nil, big, key, 0, TooLarge},
		{"quota", nil, v2, key, 98, QuotaExceeded},
		{"quota not charged for a duplicate", v2, v2, key, 100, Duplicate},
		{"tombstone replaces the value", v2, tomb, key, 0, Accepted},
		{"value older than the tombstone", tomb, v2, key, 0, Superseded},
		{"an expired held record does not count", expired, v1, key, 0, Accepted},
		{"content", nil, content, content.Key(), 0, Accepted},
		{"content under a wrong key", nil, content, key, 0, KeyMismatch},
		{"content again with a later expiry", content, content2, content.Key(), 0, Duplicate},
		{"nil", nil, nil, key, 0, Malformed},
		{"unknown kind", nil, &Record{Kind: 9}, key, 0, Malformed},
		{"owned without owner", nil, &Record{Kind: Owned}, key, 0, Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pol.Accept(tc.existing, tc.incoming, tc.key, now, tc.peerBytes); got != tc.want {
				t.Fatalf("Accept = %v, want %v", got, tc.want)
			}
		})
	}
	seen := map[Reason]bool{}
	for _, tc := range tests {
		seen[tc.want] = true
	}
	for _, r := range Reasons() {
		if !seen[r] && r != BadToken && r != RateLimited {
			t.Errorf("no case for %v", r)
		}
	}
}

// TestAcceptConverges delivers the same owner records in every order to a
// holder: it always ends up holding the same one.
func TestAcceptConverges(t *testing.T) {
	exp := t0.Add(time.Hour)
	recs := []*Record{
		mustOwned(t, alice, "n", "a", t0, exp),
		mustOwned(t, alice, "n", "b", t0, exp), // same timestamp, other value
		mustOwned(t, alice, "n", "c", t0.Add(-time.Second), exp),
		mustTomb(t, alice, "n", t0.Add(-time.Second), exp),
	}
	var want *Record
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 50 {
		order := slices.Clone(recs)
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		var held *Record
		for _, r := range order {
			if (Policy{}).Accept(held, r, r.Key(), t0, 0) == Accepted {
				held = r
			}
		}
		if i == 0 {
			want = held
		} else if !held.Equal(want) {
			t.Fatalf("order %d ends with %q, order 0 with %q", i, held.Value, want.Value)
		}
	}
	// A tombstone at the same timestamp as a value wins.
	v := mustOwned(t, alice, "m", "v", t0, exp)
	ts := mustTomb(t, alice, "m", t0, exp)
	if !Newer(ts, v) || Newer(v, ts) {
		t.Fatal("tombstone does not win the tie")
	}
}

func TestLifetimes(t *testing.T) {
	now := t0
	never := NewContent([]byte("x"), time.Time{})
	soon := NewContent([]byte("x"), now.Add(time.Minute))
	late := NewContent([]byte("x"), now.Add(48*time.Hour))
	for _, tc := range []struct {
		r    *Record
		want time.Time
	}{
		{never, now.Add(DefaultMaxHold)},
		{soon, now.Add(time.Minute)},
		{late, now.Add(DefaultMaxHold)},
	} {
		if got := HoldUntil(tc.r, now, DefaultMaxHold); !got.Equal(tc.want) {
			t.Errorf("HoldUntil(expires %d) = %v, want %v", tc.r.Expires, got, tc.want)
		}
	}
	base, minTTL := time.Hour, time.Minute
	for _, tc := range []struct {
		closer int
		want   time.Duration
	}{
		{0, time.Hour}, {19, time.Hour}, {20, 30 * time.Minute}, {21, 15 * time.Minute},
		{22, 7*time.Minute + 30*time.Second}, {23, 3*time.Minute + 45*time.Second}, {25, minTTL}, {1000, minTTL},
	} {
		if got := CacheTTL(base, tc.closer, 20, minTTL); got != tc.want {
			t.Errorf("CacheTTL(closer %d) = %v, want %v", tc.closer, got, tc.want)
		}
	}
}

func TestRepublishAndDrop(t *testing.T) {
	iv := time.Hour
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name               string
		h                  Held
		now                time.Time
		republish, dropped bool
	}{
		{"fresh replica", Held{StoredAt: at(0), Until: at(1000)}, at(30), false, false},
		{"replica due", Held{StoredAt: at(0), Until: at(1000)}, at(60), true, false},
		{"updated by another replica meanwhile", Held{StoredAt: at(0), UpdatedAt: at(40), Until: at(1000)}, at(60), false, false},
		{"due an interval after the update", Held{StoredAt: at(0), UpdatedAt: at(40), Until: at(1000)}, at(100), true, false},
		{"republished by itself", Held{StoredAt: at(0), RepublishedAt: at(60), Until: at(1000)}, at(90), false, false},
		{"expired", Held{StoredAt: at(0), Until: at(50)}, at(60), false, true},
		{"cached copy never republishes", Held{StoredAt: at(0), Cached: true, Until: at(1000)}, at(59), false, false},
		{"cached copy nobody asked for", Held{StoredAt: at(0), Cached: true, Until: at(1000)}, at(60), false, true},
		{"cached copy asked for", Held{StoredAt: at(0), RequestedAt: at(30), Cached: true, Until: at(1000)}, at(60), false, false},
		{"replica nobody asked for stays", Held{StoredAt: at(0), Until: at(1000)}, at(600), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.ShouldRepublish(tc.now, iv); got != tc.republish {
				t.Errorf("ShouldRepublish = %v", got)
			}
			if got := tc.h.ShouldDrop(tc.now, iv); got != tc.dropped {
				t.Errorf("ShouldDrop = %v", got)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	rng := rngReader{rand.New(rand.NewPCG(9, 9))}
	tk, err := NewTokens(rng, time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	id := idFrom(1)
	addr := addrOf(idFrom(2))
	other := addrOf(idFrom(3))
	tok := tk.Issue(id, addr)
	if !tk.Check(id, addr, tok) {
		t.Fatal("fresh token refused")
	}
	if tk.Check(id, other, tok) || tk.Check(idFrom(9), addr, tok) {
		t.Fatal("token accepted for another address or node")
	}
	var zero Token
	if tk.Check(id, addr, zero) {
		t.Fatal("zero token accepted")
	}
	mustRotate := func(at time.Time) {
		if err := tk.Rotate(at); err != nil {
			t.Fatal(err)
		}
	}
	mustRotate(t0.Add(59 * time.Second)) // not yet
	if tk.Issue(id, addr) != tok {
		t.Fatal("rotated before the interval")
	}
	mustRotate(t0.Add(time.Minute))
	if !tk.Check(id, addr, tok) {
		t.Fatal("token of the previous secret refused")
	}
	tok2 := tk.Issue(id, addr)
	if tok2 == tok {
		t.Fatal("secret did not change")
	}
	mustRotate(t0.Add(2 * time.Minute))
	if tk.Check(id, addr, tok) || !tk.Check(id, addr, tok2) {
		t.Fatal("after two rotations: the oldest token must go, the previous stay")
	}
	// A gap of two intervals without rotation retires both secrets.
	mustRotate(t0.Add(4 * time.Minute))
	if tk.Check(id, addr, tok2) {
		t.Fatal("token survived a two-interval gap")
	}
	// IPv4 and its IPv4-mapped IPv6 form are one address.
	mapped := addr
	mapped = netipMapped(mapped)
	if tk.Issue(id, addr) != tk.Issue(id, mapped) {
		t.Fatal("IPv4-mapped address gets another token")
	}
	if _, err := NewTokens(bytes.NewReader(nil), 0, t0); err == nil {
		t.Fatal("NewTokens without randomness succeeded")
	}
}
