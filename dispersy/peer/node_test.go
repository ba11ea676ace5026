package peer_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// RPC.Do from outside the engine, on two real nodes over loopback UDP: an
// answer, then a request nobody answers, cancelled by its context.
func TestRPCDoOnNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := func(name string, bootstrap ...netip.AddrPort) (*dispersy.Node, *overlay, *udp.Endpoint) {
		ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		cfg := dispersy.DefaultNodeConfig()
		cfg.Engine.Bootstrap = bootstrap
		n, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, []byte(name)), dt.NewMemStore(), ep)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = n.Run(ctx) }()
		t.Cleanup(func() { n.Close(); <-done })
		o := newOverlay()
		if _, err := n.Join(ctx, o); err != nil {
			t.Fatal(err)
		}
		return n, o, ep
	}
	_, _, serverEP := start("server")
	client, co, _ := start("client", serverEP.LocalAddr())
	// The client walks to the server first (its bootstrap address): peer
	// messages to an address that never answered us are held to the
	// anti-amplification credit.
	for {
		ps, err := client.Peers(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) > 0 && ps[0].Category == walker.CategoryWalk {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the client never walked to the server")
		case <-time.After(50 * time.Millisecond):
		}
	}
	resp, from, err := co.rpc.Do(ctx, client, cid, serverEP.LocalAddr(), dt.Text{Text: "ping"}, 5*time.Second, peer.Retries(3))
	if err != nil || resp.Text != "re:ping" || from.ID() != keys.DeriveKey(keys.Ed25519, []byte("server")).ID() {
		t.Fatalf("Do: %q from %v, %v", resp.Text, from.Key, err)
	}
	short, stop := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); stop() }()
	_, _, err = co.rpc.Do(short, client, cid, serverEP.LocalAddr(), dt.Text{Text: "silent"}, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Do: %v", err)
	}
	var pending int
	_ = client.Do(ctx, func(*dispersy.Engine) error { pending = co.rpc.Pending(); return nil })
	if pending != 0 {
		t.Fatalf("%d requests still pending after the cancel", pending)
	}
	// Leaving the community drops the call's timeout task: Do still returns.
	done := make(chan error, 1)
	go func() {
		_, _, err := co.rpc.Do(ctx, client, cid, serverEP.LocalAddr(), dt.Text{Text: "silent"}, time.Second)
		done <- err
	}()
	for {
		var n int
		_ = client.Do(ctx, func(*dispersy.Engine) error { n = co.rpc.Pending(); return nil })
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := client.Do(ctx, func(e *dispersy.Engine) error { return e.Leave(cid) }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, peer.ErrTimeout) {
		t.Fatalf("Do after Leave: %v, want ErrTimeout", err)
	}
}
