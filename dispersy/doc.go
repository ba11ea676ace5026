// Package dispersy is the protocol engine: communities, members, candidates,
// the walker, bloom-filter sync, the permission timeline, delayed messages
// and the built-in messages, plus the [Store] and [Endpoint] interfaces it
// consumes and the [Node] runner that drives it on real time.
//
// The [Engine] is a deterministic state machine: it performs no network I/O
// and reads no clock. It is driven by [Engine.Receive], [Engine.Tick] and API
// calls (after [Engine.SetTime]), and reports outbound datagrams through
// [Engine.Ready] and its next timer through [Engine.NextDeadline]. The same
// seed ([Config].Rand) and inputs give the same outputs.
//
// # Usage
//
// Define each message type once, as a package-level variable, and a
// community as an [Overlay]:
//
//	var NoteType = dispersy.DefineMessage[Note](dispersy.MessageSpec{
//		ID: 1, Name: "note",
//		Authentication: policy.MemberAuthentication{},
//		Resolution:     policy.PublicResolution{},
//		Distribution:   policy.FullSyncDistribution{Priority: policy.DefaultPriority},
//		Destination:    policy.CommunityDestination{NodeCount: 10},
//	})
//
//	func (b *Board) Define(d *dispersy.Definition) {
//		d.Master = master // from tools/createkey
//		dispersy.Register(d, NoteType, dispersy.Handlers[Note]{Handle: b.onNotes})
//	}
//
// Run it on a [Node] (a UDP endpoint from dispersy/udp, a store from
// database) and create messages on the engine's goroutine:
//
//	node, err := dispersy.NewNode(dispersy.DefaultNodeConfig(), key, store, endpoint)
//	go node.Run(ctx)
//	c, err := node.Join(ctx, &Board{})
//	err = node.Do(ctx, func(*dispersy.Engine) error {
//		_, err := dispersy.Create(c, NoteType, Note{Text: "hello"})
//		return err
//	})
//
// Tests run engines on the simulator of package dispersytest instead.
// docs/usage.md is the guide; docs/design.md explains the architecture.
//
// # Invariants
//
//   - An Engine, its Communities and everything they return are not safe for
//     concurrent use: one goroutine drives them. Handlers run on that
//     goroutine and must not block or call [Node] methods; Node's methods are
//     safe for concurrent use.
//   - Input from the network never panics and never returns an error: it is
//     accepted, delayed, or dropped with a [DropReason] and counted in
//     [Stats]. An error from Receive or Tick is a local failure (the store)
//     and stops the engine ([ErrEngineFailed]).
//   - Nothing reaches a handler, or is forwarded, before it is committed to
//     the [Store]; the messages of one received batch are committed in one
//     transaction.
//   - Message ids 1..191 are the application's; 192..254 are the built-in
//     messages'. Ids and [DropReason] values are append-only.
//   - Output order never depends on map iteration, and only node.go reads
//     the clock.
//   - After Tick(now), NextDeadline is after now or reports no timer, and an
//     idle engine ticks a few times per walker step at most (an idle node
//     costs ~0% CPU); the simulator fails a run that breaks it
//     (TestIdleTrackerAndNodeTickRarely). A local failure, also one inside
//     Node.Do, ends Node.Run at once with its error.
package dispersy
