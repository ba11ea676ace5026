// Package dispersytest is the testing toolkit for dispersy and for the
// applications built on it: a deterministic network simulator ([Network]),
// an in-memory Store ([MemStore]) for large simulations, and the Store
// conformance suite ([TestStore]) that every Store implementation must
// pass. It is a real package, like net/http/httptest: applications import
// it to test their own communities. Engine-level helpers (peers running
// communities, run until converged, assert equal message sets) live in this
// package too.
//
// # The network simulator
//
// A [Network] runs many sans-I/O state machines ([Machine]: the engine, or
// a toy) in ONE goroutine on VIRTUAL time. It keeps a min-heap of events
// (deliver a datagram to a peer, tick a peer) ordered by (virtual time,
// sequence number) and jumps from one event to the next, so an hour of
// protocol time with a thousand peers takes as long as the work in it, and
// quiescence is exact: nothing in flight, no timer armed.
//
// After a peer handles an event the Network collects its Ready output and
// puts each datagram through the network model: the size limit, the
// partition, the sender's upload link, then the link's loss, duplication,
// latency, jitter and reordering, then the receiver's download link, with
// every random draw taken from the Network's own seeded source in a fixed
// order.
//
// The bandwidth model ([PeerLink], per address: NetworkConfig.PeerLink and
// SetPeerLink) gives each peer an upload and a download rate and a bounded
// queue in each direction. A datagram waits in its sender's upload queue
// and is serialized at the upload rate, crosses the link, then is
// serialized at the receiver's download rate (queued behind what arrived
// before it) and delivered when its last byte is in; a datagram that does
// not fit in a queue is dropped (DropSendQueue, DropReceiveQueue). Zero
// rates are infinitely fast links: the run is then event for event the
// one without the model. It then reschedules the peer's tick at its
// NextDeadline (at most one live tick per peer; moved ticks leave stale
// heap entries that are skipped). [NetworkConfig.Trace] sees every send,
// duplicate, delivery, drop and tick; [Stats] count them per peer and in
// total, with drops by [DropReason].
//
// # Usage
//
//	nw, err := dispersytest.NewNetwork(dispersytest.NetworkConfig{
//		Seed:       seed,
//		LinkConfig: dispersytest.LinkConfig{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.05},
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	for i := range 100 {
//		if err := nw.Add(dispersytest.PeerAddr(i), newPeer(i)); err != nil {
//			t.Fatal(err)
//		}
//	}
//	nw.Do(dispersytest.PeerAddr(0), func(now time.Time) error {
//		return createSomething(now) // API calls on a machine go through Do
//	})
//	nw.Partition(groupA, groupB) // later: nw.Heal()
//	if err := nw.RunFor(10 * time.Minute); err != nil {
//		t.Fatal(err) // a *MachineError: which peer, when, what
//	}
//	done, err := nw.RunWhile(func() bool { return !converged() }, nw.Now().Add(time.Hour))
//
// # Invariants
//
//   - Determinism: the same NetworkConfig (Seed included), machines and
//     calls give the same run, event for event. Nothing depends on the wall
//     clock or on map iteration order. Machines must draw their own
//     randomness from seeded sources for the whole run to be reproducible.
//   - Datagrams are never copied: a Machine must treat received packets as
//     read-only (it may keep them), and never change Data it handed out.
//   - Every datagram is accounted for: Sent + Duplicated = Delivered +
//     Dropped + InFlight.
//   - A Machine error stops the run for good ([Network.Err]). A Machine whose
//     Tick leaves its NextDeadline at or before now is a bug that stops the
//     run too, instead of spinning forever at one instant.
//   - A Network is not safe for concurrent use; Trace runs synchronously and
//     must not call back into the Network except to read it.
package dispersytest
