// Command tracker runs a bootstrap tracker for dispersy-go: a node that
// answers introduction requests for any community, so that peers that know
// only its address find each other. It is the Go counterpart of Python
// Dispersy's tracker (TrackerCommunity).
//
// # Usage
//
//	go run ./tools/tracker                     # UDP port 6421 on every IPv4 address
//	go run ./tools/tracker -port 7759 -stats 10s
//	go run ./tools/tracker -addr 127.0.0.1 -port 0
//
// Peers use it by listing its address in dispersy.Config.Bootstrap: their
// walkers fall back to it whenever they know no other candidate. The
// tracker introduces every requester to another peer of the same community
// (and version), which is all a new peer needs to start walking.
//
// Flags:
//
//	-addr HOST             address to listen on, without the port
//	                       (default 0.0.0.0)
//	-port N                UDP port, 0 for any free port (default 6421)
//	-stats D               print a line of statistics every D (a Go
//	                       duration: 30s, 5m), 0 for never (default 1m)
//	-max-communities N     most communities tracked at once (default 4096,
//	                       dispersy.Config.MaxTrackerCommunities)
//	-http ADDR             serve the status page, status.json and metrics
//	                       (package dispersy/debughttp) on TCP address ADDR,
//	                       e.g. 127.0.0.1:8080 (default: off)
//	-h                     print the help on stdout
//
// Output on stdout: one line when it listens (and one for -http), then one
// line of statistics per -stats interval:
//
//	tracker listening on 0.0.0.0:6421
//	status page on http://127.0.0.1:8080/ (status.json, metrics)
//	communities=2 received=1840 sent=2210 dropped=3
//
// communities is the number of tracker communities held now; received and
// sent count datagrams since the start, dropped the inputs the engine
// refused, for every reason (dispersy.Stats).
//
// Exit status: 0 after SIGINT or SIGTERM; 1 when the port (or the -http
// address) cannot be opened or the engine fails (one sentence on stderr,
// naming the flag); 2 for a bad flag or value (one line naming the flag, then
// a usage line, on stderr).
//
// # Invariants
//
//   - The tracker keeps nothing: its engine runs on an in-memory store with
//     a fresh random member key at every start, and it holds no community
//     definition. For each (community id, community version) it sees it
//     creates a tracker community with the walker messages only; it never
//     walks, never syncs (bloom-filter sync is off) and never stores or
//     forwards application messages.
//   - Its memory is bounded: at most -max-communities tracker communities,
//     and one that had no verified candidate at three checks in a row (a
//     check every 180 s, Dispersy's values) is dropped.
//   - Idle, it costs ~0% CPU: it wakes only for its 180 s checks, and not
//     at all once its communities are dropped (TestIdleCPU measures it as
//     a separate process next to two peers; docs/performance.md).
//   - It is an ordinary engine otherwise: the same strict decoding, verdicts,
//     anti-amplification limit and bounded candidate tables as every node.
package main
