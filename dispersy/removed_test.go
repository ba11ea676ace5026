package dispersy_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// TestRemovedLocal: messages this node creates that replace or prune its
// stored ones reach the Removed handler, once each, with the reason.
func TestRemovedLocal(t *testing.T) {
	e, err := dispersy.NewEngine(dispersy.DefaultConfig(), keys.DeriveKey(keys.Ed25519, []byte("removed")), dispersytest.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	e.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ov := dispersytest.NewDebugCommunity()
	c, err := e.Join(ov)
	if err != nil {
		t.Fatal(err)
	}
	create := func(mt *dispersy.MessageType[dispersytest.Text], text string) {
		t.Helper()
		if _, err := dispersy.Create(c, mt, dispersytest.Text{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"pin v1", "pin v2", "pin v3"} {
		create(dispersytest.Last1Text, v)
	}
	for i := range 11 {
		create(dispersytest.Last9Text, fmt.Sprint(i))
	}
	create(dispersytest.PrunedText, "old")
	c.RaiseGlobalTime(c.GlobalTime() + 25) // PrunedText: pruned 20 global times later

	want := map[uint8][]string{
		dispersytest.Last1Text.ID():  {"pin v1", "pin v2"},
		dispersytest.Last9Text.ID():  {"0", "1"},
		dispersytest.PrunedText.ID(): {"old"},
	}
	for id, texts := range want {
		if !slices.Equal(ov.Removed[id], texts) {
			t.Errorf("type %d: removed %q, want %q", id, ov.Removed[id], texts)
		}
		why := dispersy.RemoveReplaced
		if id == dispersytest.PrunedText.ID() {
			why = dispersy.RemovePruned
		}
		for _, r := range ov.RemovedWhy[id] {
			if r != why {
				t.Errorf("type %d: reason %v, want %v", id, r, why)
			}
		}
	}
	if len(ov.Removed) != len(want) {
		t.Errorf("removed %v", ov.Removed)
	}
}

// TestRemovedReceived: on every peer, what Handle saw minus what Removed
// took back is exactly what the store holds, however the messages were
// batched on the way.
func TestRemovedReceived(t *testing.T) {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(7))
	if err != nil {
		t.Fatal(err)
	}
	ovs := map[int]*dispersytest.DebugCommunity{}
	n := 0
	if err := sim.JoinAll(func() dispersy.Overlay {
		ov := dispersytest.NewDebugCommunity()
		ovs[n] = ov
		n++
		return ov
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(3); err != nil {
		t.Fatal(err)
	}
	// Two rounds: in the second, what peers received in the first is
	// replaced by newer versions arriving from the network.
	for round := range 2 {
		for i, p := range sim.Peers {
			if err := sim.Do(p, func(e *dispersy.Engine) error {
				for v := range 3 {
					text := fmt.Sprintf("peer %d round %d v%d", i, round, v)
					if _, err := dispersy.Create(e.Communities()[0], dispersytest.Last1Text, dispersytest.Text{Text: text}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sim.RunUntil(func() bool { return false }, time.Second, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	id := dispersytest.Last1Text.ID()
	for i, p := range sim.Peers {
		ov := ovs[i]
		var stored []string
		if err := sim.Do(p, func(e *dispersy.Engine) error {
			for m, err := range dispersy.Messages(e.Communities()[0], dispersytest.Last1Text, dispersy.ReadOptions{}) {
				if err != nil {
					return err
				}
				stored = append(stored, m.Payload.Text)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		live := slices.Clone(ov.Handled[id])
		for _, r := range ov.Removed[id] {
			k := slices.Index(live, r)
			if k < 0 {
				t.Fatalf("peer %d: removed %q, which it never handled (or twice)", i, r)
			}
			live = slices.Delete(live, k, k+1)
		}
		slices.Sort(live)
		slices.Sort(stored)
		// 5 of its own 6 are replaced, and some it received.
		if len(ov.Removed[id]) <= 5 || len(stored) != 3 || !slices.Equal(live, stored) {
			t.Errorf("peer %d: handled %d, removed %d; handled minus removed %q, stored %q", i, len(ov.Handled[id]), len(ov.Removed[id]), live, stored)
		}
	}
}
