// The Go twin of the UDP gossip protocol's demo (docs/tutorial.md): a seed
// node, and members that join through it and spread data, infection
// style, with acknowledged sends and bounded retries.
//
//	gossip -listen 127.0.0.1:8080                                   # the seed node
//	gossip -listen 127.0.0.1:7070 -seed 127.0.0.1:8080              # a member
//	gossip -listen 127.0.0.1:7071 -seed 127.0.0.1:8080 -say 'Hello Gossip!'
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// Data is the gossiped payload: a short UTF-8 text.
type Data struct{ Text string }

func (d Data) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	w.String16(d.Text)
	return w.Finish()
}

func (d *Data) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	d.Text = r.String16()
	return r.Finish()
}

// Gossip spreads each new text to 3 random peers; the receiver
// acknowledges it (the empty answer) and spreads it on once.
type Gossip struct {
	seen map[string]bool
	data *peer.RPC[Data, dispersy.Empty]
}

func NewGossip() *Gossip {
	g := &Gossip{seen: map[string]bool{}}
	g.data, _ = peer.NewRPC[Data, *Data, dispersy.Empty, *dispersy.Empty](1, 2, "data",
		func(ctx *dispersy.Context, from peer.Peer, d Data) (dispersy.Empty, bool) {
			g.spread(ctx.Community(), d)
			return dispersy.Empty{}, true // the ack
		})
	return g
}

func (g *Gossip) Define(d *dispersy.Definition) {
	d.Master = keys.MustParsePublicKey("01491e0169c95af036875219e616cbe52f53e95b941a94ae058e742947a4397191")
	g.data.Register(d)
}

func (g *Gossip) spread(c *dispersy.Community, d Data) {
	if g.seen[d.Text] {
		return
	}
	g.seen[d.Text] = true
	fmt.Printf("data: %s\n", d.Text)
	// RANDOM spread to 3 verified peers, up to 3 attempts each (the seed's
	// max_attempts); the callback learns which ones acknowledged.
	_, _ = g.data.Spread(c, peer.Random(3), d, time.Second, func(to netip.AddrPort, _ dispersy.Empty, err error) {
		if err != nil {
			fmt.Println("no ack from", to, err)
		}
	}, peer.Retries(2))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "UDP address to listen on")
	seed := flag.String("seed", "", "host:port of a seed node (none: this node is a seed)")
	say := flag.String("say", "", "text to spread once a peer is known")
	flag.Parse()
	g := NewGossip()
	err := peer.Run(context.Background(), peer.Options{Listen: *listen, Bootstrap: strings.Fields(*seed)}, g, func(c *dispersy.Community) error {
		fmt.Println("node", c.Me().ID(), "at", c.Engine().Config().LocalAddr)
		known := map[netip.AddrPort]bool{}
		return c.Every("members", time.Second, 0, func(ctx *dispersy.Context) error {
			for _, p := range c.Table().Verified(ctx.Now()) {
				if !known[p.Sock()] {
					known[p.Sock()] = true
					fmt.Println("member", p.Sock())
				}
			}
			if *say != "" && len(known) > 0 {
				g.spread(c, Data{*say}) // once: spread skips what it has seen
			}
			return nil
		})
	})
	log.Fatal(err)
}
