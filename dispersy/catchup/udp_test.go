package catchup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// udpPeer is a Node with catch-up on a loopback socket and a SQLite file.
type udpPeer struct {
	node  *dispersy.Node
	store *database.Store
	addr  netip.AddrPort
}

func startUDPPeer(t *testing.T, i int, bootstrap []netip.AddrPort) *udpPeer {
	t.Helper()
	st, err := database.Open(filepath.Join(t.TempDir(), "peer.db"), database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Walker = walker.DefaultConfig().Scaled(200 * time.Millisecond)
	cfg.Engine.LocalAddr = ep.LocalAddr()
	cfg.Engine.Bootstrap = bootstrap
	cfg.Engine.Rand = rand.New(rand.NewPCG(uint64(i), 7))
	Enable(&cfg.Engine, Options{})
	node, err := dispersy.NewNode(cfg, dt.PeerKey(keys.Ed25519, 99, i), st, ep)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(context.Background()) }()
	t.Cleanup(func() {
		node.Close()
		<-done
		st.Close()
	})
	if _, err := node.Join(t.Context(), dt.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	return &udpPeer{node: node, store: st, addr: ep.LocalAddr()}
}

// TestCatchUpOverUDP: over loopback UDP with SQLite stores, a peer that
// starts empty gets 3,000 messages from a holder through catch-up.
func TestCatchUpOverUDP(t *testing.T) {
	const msgs = 3000
	a := startUDPPeer(t, 0, nil)
	err := a.node.Do(t.Context(), func(e *dispersy.Engine) error {
		for i := range msgs {
			if _, err := dispersy.Create(e.Community(debugCID), dt.FullSyncText, dt.Text{Text: fmt.Sprintf("udp %d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := startUDPPeer(t, 1, []netip.AddrPort{a.addr})
	types := []uint8{dt.FullSyncText.ID()}
	deadline := time.Now().Add(90 * time.Second) // a bound for a slow machine, not a measurement
	for {
		n, err := b.store.Count(debugCID, types)
		if err != nil {
			t.Fatal(err)
		}
		if n == msgs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new peer holds %d of %d messages", n, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var s Stats
	err = b.node.Do(t.Context(), func(e *dispersy.Engine) error {
		s, _ = StatsOf(e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new peer: %+v", s)
	if s.IDsReceived+s.RangeItems < msgs/2 {
		t.Fatalf("only %d of the %d messages came through catch-up", s.IDsReceived+s.RangeItems, msgs)
	}
}
