// Step 3 of docs/tutorial.md: a Lamport clock agreed by three peers.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

type Clock struct{ Value uint32 } // the message payload: a Lamport clock value

func (c Clock) AppendBinary(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(b, c.Value), nil
}
func (c *Clock) UnmarshalBinary(b []byte) error { // strict: exactly 4 bytes
	r := conversion.NewReader(b)
	c.Value = r.Uint32()
	return r.Finish()
}

var ClockMessage = peer.NewType[Clock](1, "clock") // id 1: unique in the community

type MyCommunity struct{ clock uint32 }

func (m *MyCommunity) Define(d *dispersy.Definition) {
	d.Master = keys.MustParsePublicKey("01491e0169c95af036875219e616cbe52f53e95b941a94ae058e742947a4397191") // tools/createkey
	peer.Handle(d, ClockMessage, func(ctx *dispersy.Context, from peer.Peer, p Clock) {
		m.clock = max(m.clock, p.Value) + 1 // update our Lamport clock
		fmt.Println(ctx.Community().Me().ID(), "current clock:", m.clock)
		_ = peer.Reply(ctx.Community(), ClockMessage, Clock{m.clock}, from) // and synchronize again
	})
}

func main() {
	listen := flag.String("listen", "0.0.0.0:8090", "UDP address to listen on")
	bootstrap := flag.String("bootstrap", "", "host:port of a peer to start from")
	keyFile := flag.String("key", "ec1.pem", "member key file, created if missing")
	every := flag.Duration("every", 5*time.Second, "how often to try to start counting")
	flag.Parse()
	m := &MyCommunity{}
	opts := peer.Options{Listen: *listen, Bootstrap: strings.Fields(*bootstrap), KeyFile: *keyFile}
	log.Fatal(peer.Run(context.Background(), opts, m, func(c *dispersy.Community) error {
		fmt.Println("I am:", c.Me().ID(), "at", c.Engine().Config().LocalAddr)
		return c.Every("start_communication", *every, 0, func(ctx *dispersy.Context) error {
			if m.clock != 0 { // counting started: stop bootstrapping
				ctx.Community().CancelTask("start_communication")
				return nil
			}
			_, err := peer.Spread(ctx.Community(), ClockMessage, Clock{m.clock}, peer.Broadcast())
			return err
		})
	}))
}
