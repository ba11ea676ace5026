package dht_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

// start runs a node on a loopback port that walks to bootstrap and joins
// the DHT (py2p: chord_socket(addr, port) and join()).
func start(ctx context.Context, name string, bootstrap ...string) (*node.DHT, *keys.PrivateKey, string) {
	key := keys.DeriveKey(keys.Ed25519, []byte(name))
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		panic(err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.LocalAddr = ep.LocalAddr()
	cfg.BootstrapHosts = bootstrap
	n, err := dispersy.NewNode(cfg, key, dispersytest.NewMemStore(), ep)
	if err != nil {
		panic(err)
	}
	go n.Run(ctx)
	d, err := node.Join(ctx, n, node.Config{Key: key})
	if err != nil {
		panic(err)
	}
	return d, key, ep.LocalAddr().String()
}

// The chord seed's walk-through: connect to a node, wait for the routing
// table, then the dict-like get, set and update.
func Example_chord() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, _, addr := start(ctx, "first")
	sock, me, _ := start(ctx, "second", addr) // sock.connect(addr)
	for n, _ := sock.Contacts(ctx); n == 0; n, _ = sock.Contacts(ctx) {
		time.Sleep(50 * time.Millisecond) // assert sock.routing_table
	}

	// foo = sock.get('test key', None)
	if _, err := sock.Get(ctx, sock.Key("test key")); errors.Is(err, node.ErrNotFound) {
		fmt.Println("nothing at 'test key' yet")
	}
	// sock.set('test key', 'value')
	if err := sock.Set(ctx, "test key", []byte("value")); err != nil {
		panic(err)
	}
	// Any node reads it by owner and name.
	v, err := first.GetOwned(ctx, me.Public(), []byte("test key"))
	fmt.Printf("test key = %s (%v)\n", v, err)
	// sock.update(update_dict)
	if err := sock.Update(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2")}); err != nil {
		panic(err)
	}
	a, _ := first.GetOwned(ctx, me.Public(), []byte("a"))
	b, _ := first.Get(ctx, sock.Key("b"))
	fmt.Printf("a = %s, b = %s\n", a, b)
	// Content-addressed values: the key is the value's hash.
	key, _ := sock.Put(ctx, []byte("immutable"))
	c, _ := first.Get(ctx, key)
	fmt.Printf("%s\n", c)
	// Output:
	// nothing at 'test key' yet
	// test key = value (<nil>)
	// a = 1, b = 2
	// immutable
}
