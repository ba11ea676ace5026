package dispersy_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// TestReplayOnRestart: a peer restarted with WithReplay gets its stored live
// messages, and only those, in its handlers before anything from the
// network, in global-time order.
func TestReplayOnRestart(t *testing.T) {
	cfg := dispersytest.DefaultSimConfig(11)
	cfg.JoinOptions = []dispersy.JoinOption{dispersy.WithReplay()}
	sim, err := dispersytest.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ovs []*dispersytest.DebugCommunity
	if err := sim.JoinAll(func() dispersy.Overlay {
		ov := dispersytest.NewDebugCommunity()
		ovs = append(ovs, ov)
		return ov
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(2); err != nil {
		t.Fatal(err)
	}
	full, last := dispersytest.FullSyncText.ID(), dispersytest.Last1Text.ID()
	for i, p := range sim.Peers {
		if err := sim.Do(p, func(e *dispersy.Engine) error {
			c := e.Communities()[0]
			for v := range 5 {
				m, err := dispersy.Create(c, dispersytest.FullSyncText, dispersytest.Text{Text: fmt.Sprintf("peer %d note %d", i, v)})
				if err != nil {
					return err
				}
				if v == 2 {
					if _, err := c.UndoMessage(m.Key()); err != nil {
						return err
					}
				}
				if _, err := dispersy.Create(c, dispersytest.Last1Text, dispersytest.Text{Text: fmt.Sprintf("peer %d pin %d", i, v)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(ovs[1].Handled[full]); got != 10 {
		t.Fatalf("before the restart peer 1 handled %d notes, want 10", got)
	}

	p := sim.Peers[1]
	if err := sim.Stop(p); err != nil {
		t.Fatal(err)
	}
	if err := sim.Restart(p); err != nil {
		t.Fatal(err)
	}
	ov := ovs[len(ovs)-1] // the restarted engine's overlay, handled nothing from the network yet
	var want []string
	if err := sim.Do(p, func(e *dispersy.Engine) error {
		for m, err := range dispersy.Messages(e.Communities()[0], dispersytest.FullSyncText, dispersy.ReadOptions{}) {
			if err != nil {
				return err
			}
			want = append(want, m.Payload.Text)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 8 || !slices.Equal(ov.Handled[full], want) || ov.Replayed[full] != 8 {
		t.Errorf("replayed notes %q (%d counted as replayed), want the 8 live ones %q", ov.Handled[full], ov.Replayed[full], want)
	}
	if got := ov.Handled[last]; len(got) != 2 || got[0] != "peer 0 pin 4" && got[1] != "peer 0 pin 4" || ov.Replayed[last] != 2 {
		t.Errorf("replayed pins %q, want each peer's newest", got)
	}
	if len(ov.Undone) != 0 {
		t.Errorf("a replay undid %v", ov.Undone)
	}
}
