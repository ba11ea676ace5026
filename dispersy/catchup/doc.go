// Package catchup is catch-up at link speed (issue #13): range-based set
// reconciliation (package reconcile) between two peers over their stored
// synced messages, then a paced, receiver-driven bulk transfer of what is
// missing. It is an engine Extension: one line attaches it to every
// community of an engine,
//
//	cfg := dispersy.DefaultConfig() // or DefaultNodeConfig().Engine
//	catchup.Enable(&cfg, catchup.Options{})
//
// and the zero Options are the defaults. StatsOf reads the counters.
//
// # How it works
//
// Each community keeps one reconcile.Index per priority of its bloom-synced
// types (types with GlobalTimePruning are left to bloom sync: peers prune
// them at different global times, so their sets never agree), built from
// the store (Store.Scan) when first needed and kept exact: every committed
// put inserts its item; a delete, undo, trim, prune or packet replacement
// marks the index stale and the next use rebuilds it.
//
// After every walk exchange with a proven peer (its introduction response
// proves its address), the node opens a session: per scope, highest
// priority first, one fingerprint of the whole set (one small datagram
// each way when the sets match: the tail of issue #17 closes at the next
// exchange with any holder). On a mismatch the peers split ranges until
// they list ids; each round trip's missing ids go at once to the transfer.
// A session stops when the sets match; a peer that returns nothing useful
// for MaxIdleRounds round trips in a row, or breaks the protocol, is not
// asked again for Backoff.
//
// The transfer asks holders for the missing ids with dispersy-want, up to
// IDsPerRequest ids each, a window of requests in flight that grows by one
// per window answered and halves on a timeout (AIMD), in ascending global
// time within the highest priority (permission proofs come before the
// messages they allow), spread over every peer that holds the ids, retried
// up to MaxRetries times. The answers are the stored packets themselves,
// sent as ordinary datagrams: the receiver's pipeline verifies, checks,
// stores, delays and detects equivocation as for any packet.
//
// Defences: everything goes out through the engine's anti-amplification
// credit (Community.SendPacket); a dispersy-want from an address that has
// not proved itself is not served (the node walks to it, Community.Probe);
// each peer may download at most UploadRate bytes per second from us; a
// want makes us examine at most MaxScan stored items. docs/design.md,
// docs/security.md and docs/wire-format.md say more.
package catchup
