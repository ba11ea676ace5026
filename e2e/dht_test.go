package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
	"github.com/dispersy-go/dispersy/keys"
)

// dhtPeer is one DHT node on a UDP loopback socket and a SQLite file (its
// message store and the DHT's KV).
type dhtPeer struct {
	key   *keys.PrivateKey
	store *database.Store
	node  *dispersy.Node
	dht   *node.DHT
	addr  netip.AddrPort
	stop  func()
}

func startDHTPeer(t *testing.T, i int, path string, bootstrap []netip.AddrPort) *dhtPeer {
	t.Helper()
	key := keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "e2e dht peer %d", i))
	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Walker = walker.DefaultConfig().Scaled(step)
	cfg.Engine.LocalAddr = ep.LocalAddr()
	cfg.Engine.Bootstrap = bootstrap
	cfg.Engine.BloomSync = false
	cfg.Engine.Rand = rand.New(rand.NewPCG(uint64(i), 0xd47))
	n, err := dispersy.NewNode(cfg, key, st, ep)
	if err != nil {
		ep.Close()
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	p := &dhtPeer{key: key, store: st, node: n, addr: ep.LocalAddr()}
	stopped := false
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		n.Close()
		st.Close()
	}
	t.Cleanup(p.stop)
	if p.dht, err = node.Join(context.Background(), n, node.Config{Key: key, KV: st}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDHTOverUDP: five DHT nodes on loopback UDP with SQLite files; one
// sets an owner-named value, deletes another (a signed tombstone) and
// stores a content value, then stops for
// good; the others read both from the network. One holder restarts from
// its file and serves the values again.
func TestDHTOverUDP(t *testing.T) {
	dir := t.TempDir()
	var peers []*dhtPeer
	for i := range 5 {
		var boot []netip.AddrPort
		if i > 0 {
			boot = []netip.AddrPort{peers[0].addr}
		}
		peers = append(peers, startDHTPeer(t, i, filepath.Join(dir, fmt.Sprintf("dht%d.db", i)), boot))
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	// Every node knows the four others.
	for _, p := range peers {
		for {
			n, err := p.dht.Contacts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 4 {
				break
			}
			time.Sleep(poll)
		}
	}
	storer := peers[3]
	if err := storer.dht.Set(ctx, "greeting", []byte("hello over UDP")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := storer.dht.Set(ctx, "gone", []byte("soon deleted")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := storer.dht.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	ckey, err := storer.dht.Put(ctx, []byte("content over UDP"))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	storer.stop()
	for _, i := range []int{0, 1, 4} {
		v, err := peers[i].dht.GetOwned(ctx, storer.key.Public(), []byte("greeting"))
		if err != nil || string(v) != "hello over UDP" {
			t.Fatalf("peer %d: GetOwned: %q, %v", i, v, err)
		}
		if v, err := peers[i].dht.GetOwned(ctx, storer.key.Public(), []byte("gone")); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("peer %d: GetOwned of a deleted name: %q, %v", i, v, err)
		}
		if v, err := peers[i].dht.Get(ctx, ckey); err != nil || string(v) != "content over UDP" {
			t.Fatalf("peer %d: Get: %q, %v", i, v, err)
		}
	}
	if _, err := peers[1].dht.Get(ctx, peers[1].dht.Key("never set")); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}

	// Peer 2 restarts from its file, alone: it serves what it held from
	// its own store (everyone else is stopped).
	path := peers[2].store.Path()
	peers[2].stop()
	for _, i := range []int{0, 1, 4} {
		peers[i].stop()
	}
	again := startDHTPeer(t, 2, path, nil)
	if v, err := again.dht.Get(ctx, ckey); err != nil || string(v) != "content over UDP" {
		t.Fatalf("restarted alone: Get: %q, %v", v, err)
	}
	if st, err := again.dht.StatsOf(ctx); err != nil || st.Restored == 0 {
		t.Fatalf("restarted: %+v, %v", st, err)
	}
}
