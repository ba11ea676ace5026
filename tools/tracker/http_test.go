package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/debughttp"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

// TestHTTP: -http serves the tracker's status.json (and metrics) on the
// address it prints, while the tracker runs.
func TestHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pw.Close()
		if code := run(ctx, []string{"-addr", "127.0.0.1", "-port", "0", "-stats", "0", "-http", "127.0.0.1:0"}, pw, io.Discard); code != 0 {
			t.Errorf("tracker exited with %d", code)
		}
	}()
	defer func() { cancel(); go io.Copy(io.Discard, pr); wg.Wait() }()
	r := bufio.NewReader(pr)
	var url string
	for url == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no status page line: %v", err)
		}
		if rest, ok := strings.CutPrefix(line, "status page on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	resp, err := http.Get(url + "status.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st debughttp.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status.json: %d, %v", resp.StatusCode, err)
	}
	if len(st.Member) != 40 {
		t.Errorf("status.json names member %q", st.Member)
	}
	m, err := http.Get(url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if !strings.Contains(string(body), "dispersy_received_packets_total") {
		t.Errorf("metrics lack dispersy_received_packets_total:\n%.500s", body)
	}
}

// TestHTTPBadAddress: an address that cannot be listened on fails with
// exit status 1 and one sentence.
func TestHTTPBadAddress(t *testing.T) {
	var errb strings.Builder
	code := run(context.Background(), []string{"-addr", "127.0.0.1", "-port", "0", "-http", "127.0.0.1:99999"}, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), "-http 127.0.0.1:99999") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// TestHTTPTracked: the status page counts the communities the tracker
// tracks once a peer walked to it.
func TestHTTPTracked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pw.Close()
		run(ctx, []string{"-addr", "127.0.0.1", "-port", "0", "-stats", "0", "-http", "127.0.0.1:0"}, pw, io.Discard)
	}()
	defer func() { cancel(); go io.Copy(io.Discard, pr); wg.Wait() }()
	r := bufio.NewReader(pr)
	first, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	tracker, err := netip.ParseAddrPort(strings.TrimSpace(strings.TrimPrefix(first, "tracker listening on ")))
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.Fields(strings.TrimPrefix(second, "status page on "))[0]

	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Walker = fastWalker()
	cfg.Engine.Bootstrap = []netip.AddrPort{tracker}
	n, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, []byte("tracked peer")), dt.NewMemStore(), ep)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	go n.Run(ctx)
	if _, err := n.Join(ctx, dt.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := http.Get(url + "status.json")
		if err != nil {
			t.Fatal(err)
		}
		var st debughttp.Status
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.TrackerCommunities == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("status.json counts %d tracked communities, want 1", st.TrackerCommunities)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
