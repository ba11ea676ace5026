package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/debughttp"
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
