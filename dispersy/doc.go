// Package dispersy is the protocol engine: communities, members, candidates,
// the walker, bloom-filter sync, delayed messages and the built-in messages,
// plus the Store and Endpoint interfaces it consumes and the Node runner
// that drives it on real time.
//
// The engine is a deterministic state machine: it performs no network I/O
// and reads no clock. It is driven by Receive, Tick and API calls, and
// reports outbound datagrams through Ready.
package dispersy
