package dht

import (
	"slices"
	"testing"
	"time"
)

func TestValuesPutAndQuota(t *testing.T) {
	p1, p2 := idFrom(1), idFrom(2)
	v := NewValues(ValuesConfig{Policy: Policy{PeerQuota: 20}})
	exp := t0.Add(48 * time.Hour)
	a1 := mustOwned(t, alice, "n", "0123456789", t0, exp) // size 11
	a2 := mustOwned(t, alice, "n", "abcdefghij", t0.Add(time.Second), exp)
	b1 := mustOwned(t, bob, "m", "0123456789", t0, exp)
	steps := []struct {
		from      ID
		rec       *Record
		at        time.Duration
		want      Reason
		p1, p2, n int // charges and records after the step
	}{
		{p1, a1, 0, Accepted, 11, 0, 1},
		{p1, a2, time.Second, Accepted, 11, 0, 1}, // an update replaces p1's own bytes
		{p1, b1, 2 * time.Second, QuotaExceeded, 11, 0, 1},
		{p2, b1, 2 * time.Second, Accepted, 11, 11, 2},
		{p2, a1, 3 * time.Second, Superseded, 11, 11, 2},
		{p2, a2, 3 * time.Second, Duplicate, 11, 11, 2},
	}
	for i, s := range steps {
		if got := v.Put(s.from, s.rec.Key(), s.rec, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: Put = %v, want %v", i, got, s.want)
		}
		if v.PeerBytes(p1) != s.p1 || v.PeerBytes(p2) != s.p2 || v.Len() != s.n {
			t.Fatalf("step %d: charges %d %d, %d records; want %d %d, %d", i, v.PeerBytes(p1), v.PeerBytes(p2), v.Len(), s.p1, s.p2, s.n)
		}
	}
	if got := v.Get(a1.Key(), t0.Add(4*time.Second)); !got.Equal(a2) {
		t.Fatal("Get does not return the newest record")
	}
	// A newer record from another peer moves the charge.
	a3 := mustOwned(t, alice, "n", "x", t0.Add(time.Minute), exp)
	if got := v.Put(p2, a3.Key(), a3, t0.Add(time.Minute)); got != Accepted || v.PeerBytes(p1) != 0 || v.PeerBytes(p2) != 13 {
		t.Fatalf("Put = %v, charges %d %d", got, v.PeerBytes(p1), v.PeerBytes(p2))
	}
}

func TestValuesMaintain(t *testing.T) {
	iv := time.Hour
	v := NewValues(ValuesConfig{RepublishInterval: iv, MaxHold: 10 * iv})
	peer := idFrom(9)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	replica := NewContent([]byte("replica"), time.Time{})
	updated := NewContent([]byte("updated"), time.Time{})
	cached := NewContent([]byte("cached"), time.Time{})
	asked := NewContent([]byte("asked"), time.Time{})
	short := NewContent([]byte("short"), at(30))
	v.Put(peer, replica.Key(), replica, at(0))
	v.Put(peer, updated.Key(), updated, at(0))
	v.PutCached(peer, cached.Key(), cached, at(0), 5*iv)
	v.PutCached(peer, asked.Key(), asked, at(0), 5*iv)
	v.Put(peer, short.Key(), short, at(0))
	// Another replica stores "updated" at 0:40; someone asks for "asked".
	if got := v.Put(idFrom(8), updated.Key(), updated, at(40)); got != Duplicate {
		t.Fatalf("replica's store: %v", got)
	}
	if v.Get(asked.Key(), at(50)) == nil {
		t.Fatal("cached copy not served")
	}
	if v.Get(short.Key(), at(30)) != nil {
		t.Fatal("expired record served")
	}
	rep, dropped := v.Maintain(at(60))
	if !slices.Equal(rep, []ID{replica.Key()}) || dropped != 2 {
		t.Fatalf("at 1:00 republish %v dropped %d; want only the replica, and the expired and unasked cached copies dropped", rep, dropped)
	}
	if v.Get(cached.Key(), at(60)) != nil || v.Get(asked.Key(), at(60)) == nil {
		t.Fatal("wrong cached copy dropped")
	}
	rep, _ = v.Maintain(at(61))
	if len(rep) != 0 {
		t.Fatalf("republished twice: %v", rep)
	}
	rep, _ = v.Maintain(at(100))
	if !slices.Equal(rep, []ID{updated.Key()}) {
		t.Fatalf("at 1:40 republish %v, want the record updated at 0:40", rep)
	}
	// MaxHold: without stores, a record goes 10 hours after the last one
	// (the replica's store at 0:40 extended "updated").
	if _, dropped := v.Maintain(at(600)); v.Len() != 1 || dropped != 2 {
		t.Fatalf("at 10:00 %d records left, %d dropped; want 1 and 2", v.Len(), dropped)
	}
	if _, dropped := v.Maintain(at(640)); v.Len() != 0 || dropped != 1 {
		t.Fatalf("at 10:40 %d records left, %d dropped", v.Len(), dropped)
	}
	if v.PeerBytes(peer) != 0 || v.PeerBytes(idFrom(8)) != 0 {
		t.Fatal("charges not released")
	}
}

func TestValuesContentExtends(t *testing.T) {
	v := NewValues(ValuesConfig{})
	soon := NewContent([]byte("c"), t0.Add(time.Hour))
	later := NewContent([]byte("c"), t0.Add(2*time.Hour))
	v.Put(idFrom(1), soon.Key(), soon, t0)
	if got := v.Put(idFrom(2), later.Key(), later, t0.Add(time.Minute)); got != Duplicate {
		t.Fatalf("later expiry: %v", got)
	}
	if r := v.Get(soon.Key(), t0.Add(90*time.Minute)); r == nil || r.Expires != later.Expires {
		t.Fatal("expiry not extended")
	}
	// A cached copy that is then stored as a replica becomes a replica.
	c := NewContent([]byte("d"), time.Time{})
	v.PutCached(idFrom(1), c.Key(), c, t0, time.Minute)
	v.Put(idFrom(1), c.Key(), c, t0)
	if rep, _ := v.Maintain(t0.Add(DefaultRepublishInterval)); !slices.Contains(rep, c.Key()) {
		t.Fatal("cached copy stored as a replica is not republished")
	}
}
