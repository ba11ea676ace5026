package node

import (
	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dispersy/peer"
)

// SetNoPuncture turns FindPeer's puncture step off (the behaviour before it).
func SetNoPuncture(d *DHT, off bool) { d.noPuncture = off }

// Ping sends c a find-node of its own id directly (a walker probe first
// when its address is unproven); done gets the answer's error.
func Ping(d *DHT, c dht.Contact, done func(error)) {
	d.sendQuery(c, dht.FindNode{Target: c.ID}, func(_ Packet, _ peer.Peer, err error) { done(err) })
}
