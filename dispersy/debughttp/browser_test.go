package debughttp_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/debughttp"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/examples/chat"
	"github.com/dispersy-go/dispersy/keys"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the status page's screenshot to docs/img/status-page.png")

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI must run the status page's browser test: .ci/run installs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium, as .ci/run does; or set CHROMIUM): the status page's browser test did not run")
	return ""
}

// startNodes runs n nodes over UDP on 127.0.0.1, each with its SQLite store
// in a temporary folder, in one chat community; every node posts lines
// lines. It waits until every node stores every message and node 0 has
// verified the others.
func startNodes(t testing.TB, n, lines int) []*dispersy.Node {
	t.Helper()
	master := keys.DeriveKey(keys.Ed25519, []byte("debughttp browser test master"))
	dir := t.TempDir()
	var nodes []*dispersy.Node
	var comms []*dispersy.Community
	var bootstrap []netip.AddrPort
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i := range n {
		st, err := database.Open(filepath.Join(dir, fmt.Sprintf("peer%d.db", i)), database.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		cfg := dispersy.DefaultNodeConfig()
		cfg.Engine.Walker = walker.DefaultConfig().Scaled(200 * time.Millisecond)
		cfg.Engine.LocalAddr = ep.LocalAddr()
		cfg.Engine.Bootstrap = bootstrap
		node, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "debughttp browser test peer %d", i)), st, ep)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- node.Run(context.Background()) }()
		t.Cleanup(func() {
			node.Close()
			if err := <-done; err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		})
		if i == 0 {
			bootstrap = []netip.AddrPort{ep.LocalAddr()}
		}
		c, err := node.Join(ctx, chat.New(master.Public()))
		if err != nil {
			t.Fatal(err)
		}
		nodes, comms = append(nodes, node), append(comms, c)
	}
	for i, node := range nodes {
		err := node.Do(ctx, func(*dispersy.Engine) error {
			for j := range lines {
				if _, err := chat.Say(comms[i], fmt.Sprint("peer", i), fmt.Sprint("line ", j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := n * lines
	for {
		settled := true
		for i, node := range nodes {
			s, err := node.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Communities[0].Messages != want || (i == 0 && verified(s) != n-1) {
				settled = false
			}
		}
		if settled {
			return nodes
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the nodes did not sync %d messages within 90 s", want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verified counts the distinct verified peers over all communities, as
// the page's "Verified peers" tile does.
func verified(s dispersy.Snapshot) int {
	seen := map[netip.AddrPort]bool{}
	for _, c := range s.Communities {
		for _, p := range c.Peers {
			if p.Verified() {
				seen[p.Addr] = true
			}
		}
	}
	return len(seen)
}

// shown is what the page displays, read from the DOM.
type shown struct {
	Peers    string            `json:"peers"`
	Messages string            `json:"messages"`
	PerComm  map[string]string `json:"per_community"`
	Drops    int               `json:"drop_rows"`
	Points   int               `json:"points"`
}

const readPage = `(() => {
  const per = {};
  for (const tr of document.querySelectorAll("#communities tbody tr")) {
    per[tr.dataset.community] = tr.querySelector("td.messages").textContent;
  }
  const line = document.querySelector("#chart-traffic polyline");
  return JSON.stringify({
    peers: document.getElementById("peer-count").textContent,
    messages: document.getElementById("message-count").textContent,
    per_community: per,
    drop_rows: document.querySelectorAll("#drop-reasons tbody tr").length,
    points: line ? line.points.length : 0,
  });
})()`

// TestStatusPageInBrowser opens the status page of a live node in headless
// Chromium and checks that the peer count and message counts a person
// sees are the node's.
func TestStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	nodes := startNodes(t, 3, 4)
	// Quick samples for the test; the docs' screenshot shows the default
	// rate over half a minute.
	opts, points := &debughttp.Options{Interval: 250 * time.Millisecond}, 12
	if *updateScreenshot {
		opts, points = nil, 30
	}
	h := debughttp.New(nodes[0], opts)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/dispersy/", h)
	srv := httptest.NewServer(mux) // 127.0.0.1:0
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers with a small /dev/shm
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()

	// A few samples of history, so the charts show lines.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/debug/dispersy/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector("#chart-traffic polyline")?.points.length ?? 0) >= %d`, points), chromedp.WithPollingTimeout(time.Minute)),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}

	// The page redraws every interval from a fresh snapshot; compare what
	// it shows with the node's own snapshot until they agree (they differ
	// only while a peer's category changes between the two reads).
	var got shown
	var s dispersy.Snapshot
	matched := false
	for try := 0; try < 20 && !matched; try++ {
		if try > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](readPage))
		if err != nil {
			t.Fatal(err)
		}
		got = shown{}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if s, err = nodes[0].Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		matched = pageMatches(got, s)
	}
	if !matched {
		t.Fatalf("the page shows peers %q, messages %q, per community %v; the node has %d verified peers, communities %+v",
			got.Peers, got.Messages, got.PerComm, verified(s), s.Communities)
	}
	if got.Peers != "2" || got.Messages != "12" {
		t.Errorf("the page shows %s peers and %s messages, want 2 and 12", got.Peers, got.Messages)
	}
	t.Logf("the page shows %s verified peers, %s messages (%v), %d chart points", got.Peers, got.Messages, got.PerComm, got.Points)

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "status-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pageMatches reports whether the page shows snapshot s's verified peers
// and message counts, per community and in total.
func pageMatches(got shown, s dispersy.Snapshot) bool {
	if got.Peers != strconv.Itoa(verified(s)) || len(got.PerComm) != len(s.Communities) {
		return false
	}
	total := 0
	for _, c := range s.Communities {
		total += c.Messages
		id := fmt.Sprintf("%x", c.ID[:])
		if strings.ReplaceAll(got.PerComm[id], ",", "") != strconv.Itoa(c.Messages) {
			return false
		}
	}
	return strings.ReplaceAll(got.Messages, ",", "") == strconv.Itoa(total)
}
