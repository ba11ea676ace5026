package e2e_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

const (
	// step is the walker step of every node: 25 times faster than
	// Dispersy's 5 s, with every lifetime scaled by the same factor.
	step = 200 * time.Millisecond
	// poll is how often waits look at the stores.
	poll = 50 * time.Millisecond
)

// patience bounds every wait. It is generous on purpose: a slow or noisy
// machine makes the test slower, never failing. Convergence on an idle
// machine takes about a second (a minute for TestSyncLarge, which raises
// it).
var patience = 90 * time.Second

// long enables the larger run: go test ./e2e/ -long.
var long = flag.Bool("long", false, "also run the large end-to-end test (16 nodes, 2,000 messages)")

var (
	cid = dispersytest.DebugMaster.Public().CommunityID()
	// synced are the message types the tests create and count: full-sync
	// text, pushed to up to 10 candidates when created and bloom-synced,
	// and zero-push text, which only bloom-filter sync spreads.
	synced = []uint8{dispersytest.FullSyncText.ID(), dispersytest.ZeroPushText.ID()}
)

// peer is one running node: its key, store file, endpoint and runner.
type peer struct {
	name  string
	key   *keys.PrivateKey
	path  string
	store *database.Store
	ep    *udp.Endpoint
	node  *dispersy.Node
	done  chan error // receives Run's result
	comm  *dispersytest.DebugCommunity
}

// startPeer opens the store at path, listens on listen (port 0), starts a
// node that bootstraps from bootstrap and joins the debug community. The
// test's cleanup stops it.
func startPeer(t *testing.T, name string, key *keys.PrivateKey, path, listen string, bootstrap []netip.AddrPort, seed uint64) *peer {
	t.Helper()
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatalf("%s: database.Open: %v", name, err)
	}
	ep, err := udp.Listen(listen, udp.DefaultConfig())
	if err != nil {
		st.Close()
		t.Fatalf("%s: udp.Listen: %v", name, err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Walker = walker.DefaultConfig().Scaled(step)
	cfg.Engine.LocalAddr = ep.LocalAddr()
	cfg.Engine.Bootstrap = bootstrap
	cfg.Engine.Rand = rand.New(rand.NewPCG(seed, 0x2e2e))
	node, err := dispersy.NewNode(cfg, key, st, ep)
	if err != nil {
		ep.Close()
		st.Close()
		t.Fatalf("%s: NewNode: %v", name, err)
	}
	p := &peer{name: name, key: key, path: path, store: st, ep: ep, node: node, done: make(chan error, 1)}
	go func() { p.done <- node.Run(context.Background()) }()
	t.Cleanup(func() { p.stop(t) })

	p.comm = dispersytest.NewDebugCommunity()
	if _, err := node.Join(ctxFor(t), p.comm); err != nil {
		t.Fatalf("%s: Join: %v", name, err)
	}
	return p
}

// stop closes the node (waiting for Run to return) and then its store. It
// may be called more than once.
func (p *peer) stop(t *testing.T) {
	t.Helper()
	if p.node == nil {
		return
	}
	if err := p.node.Close(); err != nil {
		t.Errorf("%s: Node.Close: %v", p.name, err)
	}
	if err := <-p.done; err != nil {
		t.Errorf("%s: Run returned %v, want nil after Close", p.name, err)
	}
	if err := p.store.Close(); err != nil {
		t.Errorf("%s: store Close: %v", p.name, err)
	}
	p.node = nil
}

// ctxFor returns a context that ends with the wait budget or the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	t.Cleanup(cancel)
	return ctx
}

// create makes n messages on p, texts prefix-0 … prefix-(n-1), alternating
// full-sync text (even i) and zero-push text (odd i).
func (p *peer) create(t *testing.T, prefix string, n int) {
	t.Helper()
	err := p.node.Do(ctxFor(t), func(e *dispersy.Engine) error {
		c := e.Community(cid)
		if c == nil {
			return errors.New("debug community not loaded")
		}
		for i := range n {
			typ := dispersytest.FullSyncText
			if i%2 == 1 {
				typ = dispersytest.ZeroPushText
			}
			if _, err := dispersy.Create(c, typ, dispersytest.Text{Text: fmt.Sprintf("%s-%d", prefix, i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: create: %v", p.name, err)
	}
}

// hashes returns the sorted hashes of the live synced messages p stores.
func (p *peer) hashes(t *testing.T) []dispersy.Hash {
	t.Helper()
	var out []dispersy.Hash
	err := p.store.Scan(dispersy.ScanQuery{Community: cid, Types: synced, From: 1}, func(r dispersy.ScanRow) bool {
		out = append(out, r.Hash)
		return true
	})
	if err != nil {
		t.Fatalf("%s: Scan: %v", p.name, err)
	}
	slices.SortFunc(out, func(a, b dispersy.Hash) int { return slices.Compare(a[:], b[:]) })
	return out
}

// count returns how many live synced messages p stores.
func (p *peer) count(t *testing.T) int {
	t.Helper()
	n, err := p.store.Count(cid, synced)
	if err != nil {
		t.Fatalf("%s: Count: %v", p.name, err)
	}
	return n
}

// waitAll polls until every peer stores want synced messages and they
// hold the same set; after patience it fails, saying who lacks what.
func waitAll(t *testing.T, peers []*peer, want int) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(patience)
	for {
		counts := make([]int, len(peers))
		all := true
		for i, p := range peers {
			counts[i] = p.count(t)
			all = all && counts[i] == want
		}
		if all {
			first := peers[0].hashes(t)
			for _, p := range peers[1:] {
				if got := p.hashes(t); !slices.Equal(got, first) {
					t.Fatalf("%s and %s both hold %d messages but not the same ones", peers[0].name, p.name, want)
				}
			}
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for i, p := range peers {
				s, err := p.node.Stats(ctxFor(t))
				fmt.Fprintf(&b, "\n%s holds %d of %d (stats err %v):\n%s", p.name, counts[i], want, err, s.String())
			}
			t.Fatalf("not converged after %v:%s", patience, b.String())
		}
		time.Sleep(poll)
	}
}

// testSyncAndRestart is issue #4's end-to-end test on the loopback address
// host: five nodes, 100 messages to all, then one node restarted from its
// file still holds them and keeps syncing.
func testSyncAndRestart(t *testing.T, host string) {
	testSync(t, host, 5, 100)
}

// testSync runs nodes nodes on host that sync messages messages, then
// restarts one (node 3) from its store file.
func testSync(t *testing.T, host string, nodes, messages int) {
	dir := t.TempDir()
	listen := net.JoinHostPort(host, "0")
	keyOf := func(i int) *keys.PrivateKey {
		return keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "e2e peer %d", i))
	}
	pathOf := func(i int) string { return filepath.Join(dir, fmt.Sprintf("peer%d.db", i)) }

	peers := make([]*peer, nodes)
	peers[0] = startPeer(t, "peer0", keyOf(0), pathOf(0), listen, nil, 0)
	tracker := []netip.AddrPort{peers[0].ep.LocalAddr()}
	for i := 1; i < nodes; i++ {
		peers[i] = startPeer(t, fmt.Sprintf("peer%d", i), keyOf(i), pathOf(i), listen, tracker, uint64(i))
	}
	for i, p := range peers {
		p.create(t, p.name, messages/nodes)
		if got := p.count(t); got < messages/nodes {
			t.Fatalf("peer%d stores %d messages right after creating %d", i, got, messages/nodes)
		}
	}
	took := waitAll(t, peers, messages)
	t.Logf("%d nodes on %s hold all %d messages after %v", nodes, host, messages, took.Round(time.Millisecond))

	// Every node handed each message to the application exactly once, and
	// the zero-push messages can only have come through bloom-filter sync.
	var syncPackets uint64
	for _, p := range peers {
		var texts []string
		var stats dispersy.Stats
		if err := p.node.Do(ctxFor(t), func(e *dispersy.Engine) error {
			for _, id := range synced {
				texts = append(texts, p.comm.Handled[id]...)
			}
			stats = e.Stats()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		syncPackets += stats.SyncPackets
		slices.Sort(texts)
		n := len(texts)
		if distinct := len(slices.Compact(texts)); n != messages || distinct != messages {
			t.Errorf("%s handled %d messages (%d distinct), want %d once each", p.name, n, distinct, messages)
		}
	}
	if syncPackets == 0 {
		t.Error("no node sent a packet in answer to a bloom-filter sync")
	}

	// Restart one node from its file.
	const r = 3
	old := peers[r]
	before := old.hashes(t)
	old.stop(t)

	reopened, err := database.Open(old.path, database.Options{})
	if err != nil {
		t.Fatalf("reopen %s: %v", old.path, err)
	}
	if got, err := reopened.Count(cid, synced); err != nil || got != messages {
		t.Fatalf("reopened store holds %d messages (err %v), want %d", got, err, messages)
	}
	rec, ok, err := reopened.Community(cid)
	if err != nil || !ok || rec.Me != old.key.ID() {
		t.Fatalf("reopened store's community record: %+v, %v, %v; want one with Me %s", rec, ok, err, old.key.ID())
	}
	if err := reopened.Close(); err != nil {
		t.Fatal(err)
	}

	peers[r] = startPeer(t, "peer3-restarted", old.key, old.path, listen, tracker, 100+r)
	if got := peers[r].hashes(t); !slices.Equal(got, before) {
		t.Fatalf("restarted node holds %d messages, not the %d it held before", len(got), len(before))
	}

	// It keeps syncing: a message created elsewhere reaches it, and one it
	// creates (with a global time above everything it stored) reaches
	// everyone else.
	peers[1].create(t, "after-restart-elsewhere", 1)
	peers[r].create(t, "after-restart-here", 1)
	took = waitAll(t, peers, messages+2)
	t.Logf("after the restart, both new messages reached all %d nodes in %v", nodes, took.Round(time.Millisecond))
}

func TestSyncAndRestartIPv4(t *testing.T) {
	testSyncAndRestart(t, "127.0.0.1")
}

func TestSyncAndRestartIPv6(t *testing.T) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	c.Close()
	testSyncAndRestart(t, "::1")
}

// TestSyncLarge is the same scenario at a larger scale, behind -long.
func TestSyncLarge(t *testing.T) {
	if testing.Short() || !*long {
		t.Skip("large run: go test ./e2e/ -long")
	}
	old := patience
	patience = 15 * time.Minute
	t.Cleanup(func() { patience = old })
	testSync(t, "127.0.0.1", 16, 2000)
}
