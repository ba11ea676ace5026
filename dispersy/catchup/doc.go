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
// IDsPerRequest ids each, a window of requests in flight that doubles per
// round trip up to 32, then grows by one per window answered, and halves
// on a timeout (AIMD), in ascending global
// time within the highest priority (permission proofs come before the
// messages they allow), spread over every peer that holds the ids, retried
// up to MaxRetries times. The answers are the stored packets themselves,
// sent as ordinary datagrams: the receiver's pipeline verifies, checks,
// stores, delays and detects equivocation as for any packet.
//
// Where we hold nothing in a range a peer's fingerprint covers (an empty
// joiner: everywhere), reconciliation does not list the ids: it records
// the range (reconcile.Config.RangePull), and the transfer pulls it with
// dispersy-range, "the first RangeMax items of [lo, hi)", from any holder.
// The answer is a header (the items' 4-byte id prefixes and the bound
// after the last one) and the packets; the next request of the range
// starts there as soon as the header arrived, and only the items that did
// not come are asked again. An empty joiner names no id at all.
//
// Defences: everything goes out through the engine's anti-amplification
// credit (Community.SendPacket); a dispersy-want from an address that has
// not proved itself is not served (the node walks to it, Community.Probe);
// each peer may download at most UploadRate bytes per second from us; a
// want makes us examine at most MaxScan stored items. Range requests follow
// the same rules. docs/design.md, docs/security.md and docs/wire-format.md
// say more.
//
// Options, one line each (zero: the default): IDsPerRequest (24) ids per
// dispersy-want; MaxWindow (64) requests in flight, from 4, doubling per
// round trip up to 32; MaxRetries (4) per id or range; MessagesPerRound
// (16) reconcile messages per round trip; MaxRounds (512) and
// MaxIdleRounds (16) per session; Backoff (2 min) for a failed peer;
// CheckInterval (0: every walk exchange); UploadRate (4 MiB/s) per peer;
// MaxScan (4,096) items per request; RangeMax (64) items per
// dispersy-range request; ListIDs (false) turns range pulls off.
package catchup
