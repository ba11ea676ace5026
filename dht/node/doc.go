// Package node runs the DHT of package dht on the network: a dispersy
// community whose members are DHT nodes (node id = member id), issue 15.
//
// Wiring. Find-node, find-value and store requests and their answers are
// peer-level signed messages (dispersy/peer's RPC: request numbers, the
// request cache, timeouts); the answering half is dht.Server (rate limit,
// store tokens, the store check). A contact's address must have proved it
// receives our packets (dispersy's anti-amplification rule) before a query
// goes to it: a lookup sends a walker probe first (Community.Probe), and
// the walker's introduction response proves the address and punctures a
// NAT on the way. Queries are padded to 300 bytes so their answers fit the
// 3x credit at the answerer. The walker's verified peers bootstrap an empty
// routing table; engine tasks refresh buckets, republish replicas, drop
// expired and unasked records and save the routing table.
//
// Values. Store puts a record on the K closest nodes a lookup finds (and
// here); FindValue caches a found record at the closest node that lacked
// it; a contact new to the routing table is handed the replicas it is now
// among the K closest of. Records, the routing table and the blacklist of
// members that sent unverifiable values are kept in a KV (database.Store
// from schema 3, or MemKV), restored by Start: a restarted node serves what
// it held before its first lookup completes.
//
// FindPeer. A member that does not answer the lookup's query (a NAT that
// never heard from us) is asked, through the nodes whose answers named it,
// to puncture towards us (Introduce, relayed as a Puncture; puncture.go),
// then queried directly.
//
// API. Join runs the DHT on a dispersy.Node; Get, Set, Update, Delete,
// Put, PutOwned, GetOwned and FindPeer then work from any goroutine, with
// contexts and errors that say what happened (ErrNotFound, ErrRefused with
// a *RefusedError, ErrTimeout, ErrNoPeers). On the engine's goroutine
// (simulations, handlers) FindValue, Store, Lookup and FindPeerAsync take
// callbacks; New, Engine.Join and Start join without a Node (dht/dhtsim).
//
// Invariants.
//   - Everything runs on the engine's goroutine; the blocking API goes
//     through Node.Do. Time is engine time (deterministic on the simulator).
//   - Every operation's callback is called exactly once.
//   - Input from the network never panics: a packet that does not decode is
//     dropped by the engine with a reason; a wrong answer counts as none.
package node
