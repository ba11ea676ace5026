// Package dht is the pure core of a Kademlia DHT on dispersy-go (issue 15):
// node ids, the routing table, the iterative lookup, value records and the
// store check, the replication arithmetic, store tokens and the wire
// payloads. Nothing here does I/O, reads the clock or draws randomness of
// its own: time is an argument, randomness an injected io.Reader, and where
// a network exchange is needed a method returns it as an action (a contact
// to ping, nodes to query). Wiring it to the engine is a later step (see
// "Still to come").
//
// # Key space
//
// Ids and keys are 160 bits ([ID]). A node's id is its member id
// ([keys.MemberID]: the first 20 bytes of SHA-256 of its binary public key),
// so a node's position is bound to its key: choosing one means grinding keys,
// and any node can check a peer's id against the key that signs its
// messages. 160 bits is the size the framework already uses for members and
// communities (and IPv8's and BitTorrent's DHTs), so FindPeer(member) looks
// up the member id itself. Distances are XOR ([ID.Xor], [CmpDistance]).
//
// Value keys use the same hash, H = first 20 bytes of SHA-256:
//
//   - an owner-signed named value (Drogulus): [OwnedKey] =
//     H(H(owner public key) ‖ H(name)), where H(owner public key) is the
//     owner's member id; only the owner's private key can write it;
//   - a content-addressed immutable value: [ContentKey] = H(value).
//
// A truncated 160-bit hash gives 80-bit collision resistance: enough that
// nobody finds two values with one content key, which is the only thing a
// collision would buy (an owner key also needs the owner's signature).
//
// # Routing
//
// [Table] is a binary tree of k-buckets (K = 20) with replacement caches:
// only the bucket on the own id's path splits, so the table holds every node
// near its own id and K nodes of each farther subtree. A contact heard from
// goes to the tail of its bucket ([Table.Seen]); when the bucket is full the
// contact waits in the replacement cache and Seen asks the caller to ping
// the least recently seen contact. [Table.Failed] counts failures in a row;
// after MaxFailures the contact is removed and the freshest cached contact
// takes its place. [Table.Refresh] reports one random target in each bucket
// nobody looked up for an interval. [Table.Closest] returns the n closest
// contacts, reading buckets in distance order.
//
// # Lookups
//
// [Lookup] is the iterative lookup as a state machine: α = 3 queries in
// flight, converging on the K closest. The caller sends what [Lookup.Next]
// returns and feeds back answers ([Lookup.OnNodes], [Lookup.OnValue]) and
// timeouts ([Lookup.OnTimeout] or [Lookup.Expire]); a node that times out is
// asked again (Retries, default 2) before it counts as failed. The lookup
// ends when the K closest nodes that answered are closer than every node
// left to ask (Converged), on a value (FoundValue), when nobody is left
// (Exhausted) or at the overall timeout (TimedOut). A find-value lookup
// may collect a Quorum of values: the newest owner record wins and
// [Lookup.Stale] names the holders of older versions. Answers are hints:
// only the first K contacts of an answer are read, and an answerer whose
// introductions keep failing is distrusted (the nodes only it introduced are
// dropped unasked, and asked only when nobody else is left; [Lookup.Distrusted] names it for demotion).
//
// # Values
//
// A [Record] is an Owned value (owner, name, value, timestamp, expiry, and
// the owner's signature over all of it with a domain tag), a Tombstone (the
// owner's signed deletion, which replaces the value until it expires) or a
// Content value (value and an unsigned expiry; its key proves it).
// [Policy.Accept] is the store check, a pure function from (held record,
// incoming record, key, now, the peer's stored bytes) to a [Reason] from a
// closed set: Accepted, Duplicate, Malformed, BadSignature, KeyMismatch,
// Expired, Superseded, TooLarge, QuotaExceeded (BadToken and RateLimited
// are reasons of the transport's checks). Between two records of one owner
// key the later timestamp wins, then a tombstone, then the greater
// signature, so holders converge whatever the arrival order.
//
// Replication arithmetic: [HoldUntil] bounds how long a holder keeps a
// record; [CacheTTL] shrinks a cached copy's lifetime with its distance
// from the key; [Held.ShouldRepublish] republishes a replica every interval
// only if no other replica stored it here meanwhile; [Held.ShouldDrop]
// drops expired records and cached copies nobody asked for. [Values] puts
// these together: the records a node holds, in memory, with the store check,
// per-peer charges for the quota, and a Maintain duty that drops and lists
// what to republish; the persisted store will keep the same state.
//
// # Defences
//
// [Tokens] issues store tokens, IPv8's rotating scheme: an HMAC of the
// requester's id and address under a secret that rotates every 5 minutes,
// the previous secret still accepted; a Store from a spoofed address carries
// no valid token. Size limits and a per-peer quota are in [Policy].
// [RateLimiter] bounds each peer's queries (IPv8: 10 in 5 s), in bounded
// memory.
//
// # Serving
//
// [Server] is the serving half of a node, still pure: the transport hands
// it each request with the sender's verified id and source address, and
// [Server.Handle] rate-limits the sender, records the sighting in the
// routing table (returning a contact to ping when a bucket is full), and
// answers: Nodes with a store token, Value, StoreResult after the token
// check and the store check, or Error{RateLimited}. Its counters
// ([ServerStats]) count requests by type and verdicts by reason.
//
// # Wire
//
// [EncodeMessage] and [DecodeMessage] encode the payloads (FindNode,
// FindValue, Store, Nodes, Value, StoreResult, Error) with the conversion
// package's Reader and Writer: strict and canonical, every rejection a
// *conversion.DecodeError. testdata/payloads-v1.txt holds the golden
// vectors (never edited once committed); docs/wire-format.md draws the
// layouts.
//
// # On the network
//
// Package dht/node wires this core to the engine (peer messages, walker
// probes, tasks, persistence, the Go API); tools/dht is its command line,
// dht/dhtsim its simulator scenarios (tools/simulate -scenario dht).
//
// # Invariants
//
//   - No I/O, no clock, no global randomness; the same inputs give the same
//     outputs.
//   - Decoding never panics, for any input; accepted input re-encodes to
//     the same bytes.
//   - Reason, Kind and MsgType values are on the wire: append only.
//   - A Table, Lookup, Values, Tokens, RateLimiter or Server belongs to one
//     goroutine.
package dht
