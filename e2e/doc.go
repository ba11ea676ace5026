// Package e2e holds the end-to-end tests of dispersy-go: real
// dispersy.Node runners on real UDP loopback sockets (dispersy/udp), each
// with its own SQLite file (database), syncing the debug community.
//
// The package has no API; its tests are the point. They prove, on real I/O,
// what the simulator proves on virtual time: peers that find each other
// through a bootstrap address converge on the same set of messages, and a
// node that is stopped and started again from its store file still holds
// every message and keeps syncing.
//
// # Usage
//
//	go test ./e2e/                 # IPv4 and, when the machine has it, IPv6 loopback
//	go test -run IPv4 -v ./e2e/    # one variant, with progress logs
//	go test -v ./e2e/ -long        # also 16 nodes and 2,000 messages (about a minute)
//
// # Invariants
//
//   - Walker intervals are scaled down (200 ms steps instead of 5 s, every
//     lifetime by the same factor), so a run takes a few seconds. Waits poll
//     the stores and only fail after a generous deadline: timing never
//     decides pass or fail, only whether the messages arrived.
//   - Every node, endpoint and store a test opens is closed by the test,
//     and every file lives in t.TempDir.
package e2e
