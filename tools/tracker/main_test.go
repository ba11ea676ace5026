package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// startTracker runs the command on a free loopback port and returns its
// address.
func startTracker(t *testing.T) netip.AddrPort {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pw.Close()
		if code := run(ctx, []string{"-addr", "127.0.0.1", "-port", "0", "-stats", "0"}, pw, io.Discard); code != 0 {
			t.Errorf("tracker exited with %d", code)
		}
	}()
	t.Cleanup(func() { cancel(); go io.Copy(io.Discard, pr); wg.Wait() })
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netip.ParseAddrPort(strings.TrimSpace(strings.TrimPrefix(line, "tracker listening on ")))
	if err != nil {
		t.Fatalf("cannot parse %q: %v", line, err)
	}
	return addr
}

// fastWalker scales Dispersy's walker constants down so tests take seconds.
func fastWalker() walker.Config {
	w := walker.DefaultConfig()
	const f = 25 // 5 s steps become 200 ms
	w.StepInterval /= f
	w.WalkLifetime /= f
	w.StumbleLifetime /= f
	w.IntroLifetime /= f
	w.DiscoveredLifetime /= f
	w.EligibleDelay /= f
	w.IntroRequestTimeout /= f
	return w
}

// Dispersy's test_bootstrap, rewritten for this tracker: a node's
// introduction request is answered, and two peers that know only the
// tracker find each other through it and sync.
func TestBootstrap(t *testing.T) {
	tracker := startTracker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nodes []*dispersy.Node
	var comms []*dispersy.Community
	for i := range 2 {
		ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		cfg := dispersy.DefaultNodeConfig()
		cfg.Engine.Walker = fastWalker()
		cfg.Engine.Bootstrap = []netip.AddrPort{tracker}
		n, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "bootstrap peer %d", i)), dt.NewMemStore(), ep)
		if err != nil {
			t.Fatal(err)
		}
		go n.Run(ctx)
		t.Cleanup(func() { n.Close() })
		c, err := n.Join(ctx, dt.NewDebugCommunity())
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		comms = append(comms, c)
	}
	err := nodes[0].Do(ctx, func(*dispersy.Engine) error {
		_, err := dispersy.Create(comms[0], dt.FullSyncText, dt.Text{Text: "found you through the tracker"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		var got []string
		var walkedTracker bool
		err := nodes[1].Do(ctx, func(e *dispersy.Engine) error {
			got = comms[1].Overlay().(*dt.DebugCommunity).Handled[dt.FullSyncText.ID()]
			walkedTracker = e.Proven(tracker)
			return nil
		})
		if err != nil {
			t.Fatalf("peer 1 did not get the message through the tracker: %v", err)
		}
		if len(got) == 1 && got[0] == "found you through the tracker" && walkedTracker {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-nope"}, 2},
		{[]string{"-port", "70000"}, 2},
		{[]string{"extra"}, 2},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut.String())
		}
		if tc.code == 2 && !strings.Contains(errOut.String(), "usage: tracker") {
			t.Errorf("%v: no usage line: %s", tc.args, errOut.String())
		}
	}
	// A port in use: one clear sentence, exit 1.
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"-addr", "127.0.0.1", "-port", fmt.Sprint(ep.LocalAddr().Port())}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "in use") || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
		t.Errorf("port in use: exit %d, %q", code, errOut.String())
	}
}
