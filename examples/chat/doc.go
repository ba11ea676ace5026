// Package chat is an example community: a chat room in which every peer
// ends up with every line. It shows the three kinds of message type an
// application usually needs:
//
//   - [MessageType] ("message", id 1): a chat line with the author's display
//     name and the text ([Post]); full sync, so every peer keeps every line.
//   - [StatusType] ("status", id 2): a member's status ([Status]); last-sync
//     with history 1, so peers keep only each member's newest status.
//   - [ModeratorType] ("moderator", id 3): an announcement only permitted
//     members may make (linear resolution). The master member always may;
//     others need a permission granted by the master.
//
// tools/demo runs a community of these over real UDP and SQLite; the
// simulator (dispersy/dispersytest) runs it on virtual time.
//
// # Usage
//
// Create a master key once with tools/createkey and put its public key in
// the program; each peer then joins with [New]:
//
//	master := keys.MustParsePublicKey(masterPEM)
//	room := chat.New(master)
//	room.OnMessage = func(ctx *dispersy.Context, batch []*dispersy.Message[chat.Post]) {
//		for _, m := range batch {
//			fmt.Printf("%s: %s\n", m.Payload.Author, m.Payload.Text)
//		}
//	}
//	c, err := node.Join(ctx, room)
//	// …
//	err = node.Do(ctx, func(*dispersy.Engine) error {
//		_, err := chat.Say(c, "alice", "hello")
//		return err
//	})
//
// The holder of the master private key joins with
// dispersy.WithMember(masterPrivateKey) to sign as the master member and
// make moderator announcements with [Announce].
//
// # Invariants
//
//   - Message ids 1..3 and the payload layouts are part of the wire
//     protocol: never renumber them; add new types with new ids.
//   - Payload decoding is strict: invalid UTF-8, texts over [MaxText] bytes
//     and trailing bytes are rejected (the engine drops such packets with a
//     reason and a counter).
//   - Callbacks run on the engine's goroutine and must not block.
package chat
