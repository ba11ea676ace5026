// Step 2 of the tutorial (docs/tutorial.md): print the known peers every
// 5 seconds, with a task on the community.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

type MyCommunity struct{}

func (MyCommunity) Define(d *dispersy.Definition) {
	d.Master = keys.MustParsePublicKey("01491e0169c95af036875219e616cbe52f53e95b941a94ae058e742947a4397191")
}

func main() {
	listen := flag.String("listen", "0.0.0.0:8090", "UDP address to listen on")
	bootstrap := flag.String("bootstrap", "", "host:port of a peer to start from")
	keyFile := flag.String("key", "ec1.pem", "member key file, created if missing")
	every := flag.Duration("every", 5*time.Second, "how often to print the known peers")
	flag.Parse()
	opts := peer.Options{Listen: *listen, Bootstrap: strings.Fields(*bootstrap), KeyFile: *keyFile}
	err := peer.Run(context.Background(), opts, MyCommunity{}, func(c *dispersy.Community) error {
		// A task on the community runs on the engine's goroutine and ends
		// when the community is left. Every 5 s, starting now:
		return c.Every("print_peers", *every, 0, func(ctx *dispersy.Context) error {
			var known []string
			for _, p := range c.Table().Verified(ctx.Now()) {
				mid, _ := p.Member()
				known = append(known, fmt.Sprintf("Peer<%s, %s>", p.Sock(), mid))
			}
			fmt.Printf("I am: Peer<%s, %s>\nI know: %v\n", c.Engine().Config().LocalAddr, c.Me().ID(), known)
			return nil
		})
	})
	log.Fatal(err)
}
