// Package crash holds the crash test of dispersy-go on real processes
// (issue #8): peers run as separate OS processes on UDP loopback, each
// with its own SQLite file, and are killed with SIGKILL again and again
// while they create and sync messages. After every kill the victim's file
// must pass SQLite's integrity check and the victim must come back from
// it; at the end every peer must hold exactly the same messages, and no
// message a peer acknowledged as created may be missing.
//
// The package has no API; its tests are the point. It is separate from
// package e2e so its re-executed child processes are a small test binary
// of their own, and so the slow-by-nature crash run does not lengthen the
// e2e run.
//
// # How it works
//
// TestCrash (the parent) picks free UDP ports, then re-executes its own
// test binary once per peer with -test.run=^TestCrashPeerChild$ and the
// DISPERSY_CRASH_PEER environment variable holding the peer's
// configuration (index, store file, address, bootstrap addresses, how many
// messages to create and how fast, the engine's seed). The child runs a
// dispersy.Node on udp.Listen and database.Open, joins the debug community
// (dispersytest.NewDebugCommunity) with a 100 ms walker step, and creates
// its full-sync messages one by one. Their texts are derived from an index
// ("crash peer 3 message 17"); after a restart the child reads its own
// messages back from the store and creates only the missing ones. It
// reports on stdout, one line each:
//
//	ready own=0,1,2 stored=57   own: indexes of its messages found in the store at start
//	created 3                   printed after the commit of message 3 returned
//	created all                 every message of this peer is stored
//	stored 61                   full-sync messages in the store (when it changes)
//	stopped                     clean shutdown done
//
// The parent SIGKILLs a random peer after a random delay (both from a
// logged seed), checks the file (PRAGMA integrity_check and
// foreign_key_check on a read-only connection, before anything reopens it),
// and restarts the child on the same file and port. From the progress
// lines it checks, per restart, that the store still holds every message
// the peer acknowledged, that its own messages are a gapless prefix (no
// message created twice), and that the number of stored messages did not
// fall below what the peer last reported. After the kills it waits until
// every peer reports every message, stops them cleanly (a "stop" line on
// stdin), and compares the files: every store decodes to exactly the
// expected texts, each once, and dispersytest.Digest of the hashes is the
// same for all.
//
// # Usage
//
//	go test ./e2e/crash/                      # 5 peers x 40 messages, 24 kills (about 15 s)
//	go test -v ./e2e/crash/                   # with the kill log
//	go test -v ./e2e/crash/ -long             # 8 peers x 100 messages, 200 kills (about 2 minutes)
//	DISPERSY_CRASH_SEED=42 go test ./e2e/crash/  # replay a run's victims and delays
//
// Under -short the crash test is skipped.
//
// # Invariants
//
//   - No child outlives the test: a child stops as soon as its stdin
//     reaches EOF (the parent closed it, or died), and the parent kills and
//     reaps every child it started in its cleanup.
//   - Timing never decides pass or fail: delays only shape when kills
//     land, and every wait polls against a generous deadline.
//   - On failure the test prints the seed and each child's last progress
//     lines and stderr.
//   - Unix only (SIGKILL and wait statuses); elsewhere the package has no
//     tests.
package crash
