// Package dht is the Go twin of the chord seed's examples (py2p's
// chord_socket: join, get, set, update) on dispersy-go's DHT (dht/node):
// see Example_chord. Values are owner-named and signed: a node's Set
// writes under its own key, so nobody else can overwrite it, and any node
// reads it with GetOwned(owner, name) or Get(key).
package dht
