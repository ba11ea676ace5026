// Step 1 of the tutorial (docs/tutorial.md): a custom overlay, loaded by
// two peers that find each other.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// MyCommunity is the overlay. Its master key (from tools/createkey) is the
// service identifier: peers meet in the community whose id is the hash of
// this key.
type MyCommunity struct{}

func (MyCommunity) Define(d *dispersy.Definition) {
	d.Master = keys.MustParsePublicKey("01491e0169c95af036875219e616cbe52f53e95b941a94ae058e742947a4397191")
}

func main() {
	listen := flag.String("listen", "0.0.0.0:8090", "UDP address to listen on")
	bootstrap := flag.String("bootstrap", "", "host:port of a peer to start from")
	keyFile := flag.String("key", "ec1.pem", "member key file, created if missing")
	flag.Parse()
	opts := peer.Options{Listen: *listen, Bootstrap: strings.Fields(*bootstrap), KeyFile: *keyFile}
	err := peer.Run(context.Background(), opts, MyCommunity{}, func(c *dispersy.Community) error {
		fmt.Println("I am:", c.Me().ID(), "at", c.Engine().Config().LocalAddr)
		found := map[netip.AddrPort]bool{} // print each peer the walker verifies
		return c.Every("watch", time.Second, 0, func(ctx *dispersy.Context) error {
			for _, p := range c.Table().Verified(ctx.Now()) {
				if mid, _ := p.Member(); !found[p.Sock()] {
					found[p.Sock()] = true
					fmt.Println("found peer", mid, "at", p.Sock())
				}
			}
			return nil
		})
	})
	log.Fatal(err)
}
