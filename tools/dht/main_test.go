package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNode runs "dht node" on a free loopback port and returns its
// address and member id once its routing table holds minContacts.
func startNode(t *testing.T, minContacts int, args ...string) (addr, member string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pw.Close()
		if code := run(ctx, append([]string{"node", "-listen", "127.0.0.1:0", "-stats", "50ms"}, args...), pw, io.Discard); code != 0 {
			t.Errorf("dht node exited with %d", code)
		}
	}()
	t.Cleanup(func() { cancel(); go io.Copy(io.Discard, pr); wg.Wait() })
	r := bufio.NewReader(pr)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(line) // dht node listening on ADDR member HEX
	if len(f) != 7 {
		t.Fatalf("first line %q", line)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(line, "contacts=%d", &n); err == nil && n >= minContacts {
			break
		}
	}
	go io.Copy(io.Discard, r)
	return f[4], f[6]
}

func cli(t *testing.T, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	t0 := time.Now()
	code = run(context.Background(), args, &o, &e)
	t.Logf("%v: %v", args, time.Since(t0))
	return code, strings.TrimSpace(o.String()), e.String()
}

// TestCommands runs three nodes (one on a SQLite file), then put, get,
// set, get of the owner key, find-peer and a get of a missing key against
// them, each as a short-lived client node.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	boot, bootMember := startNode(t, 0, "-db", filepath.Join(dir, "boot.db"))
	second, _ := startNode(t, 1, "-bootstrap", boot)
	third, _ := startNode(t, 2, "-bootstrap", boot)

	t.Log("nodes up")
	code, key, errOut := cli(t, "put", "-bootstrap", second, "hello dht")
	t.Log("put done")
	if code != 0 || len(key) != 40 {
		t.Fatalf("put: %d %q %s", code, key, errOut)
	}
	if code, v, errOut := cli(t, "get", "-bootstrap", third, key); code != 0 || v != "hello dht" {
		t.Fatalf("get: %d %q %s", code, v, errOut)
	}
	keyFile := filepath.Join(dir, "owner.pem")
	code, okey, errOut := cli(t, "set", "-bootstrap", boot, "-key", keyFile, "greeting", "hi")
	if code != 0 || len(okey) != 40 {
		t.Fatalf("set: %d %q %s", code, okey, errOut)
	}
	if code, v, errOut := cli(t, "get", "-bootstrap", second, okey); code != 0 || v != "hi" {
		t.Fatalf("get of the owner key: %d %q %s", code, v, errOut)
	}
	if code, a, errOut := cli(t, "find-peer", "-bootstrap", third, bootMember); code != 0 || a != boot {
		t.Fatalf("find-peer %s: %d %q %s (want %s)", bootMember, code, a, errOut, boot)
	}
	if code, v, errOut := cli(t, "get", "-bootstrap", third, strings.Repeat("0", 39)+"1"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("get of a missing key: %d %q %s", code, v, errOut)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"fly"},
		{"get", "abc"},                       // no -bootstrap
		{"get", "-bootstrap", "x:1", "abc"},  // not 40 hex digits
		{"set", "-bootstrap", "x:1", "name"}, // one argument short
		{"node", "-timeout", "0"},            // bad timeout
		{"find-peer", "-bootstrap", "x:1"},   // no member
		{"put", "-nosuchflag", "-bootstrap"}, // unknown flag
	} {
		if code, _, errOut := cli(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, out, _ := cli(t, "-h"); code != 0 || !strings.Contains(out, "find-peer") {
		t.Errorf("-h: %d %q", code, out)
	}
}
