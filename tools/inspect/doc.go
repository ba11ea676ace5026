// Command inspect prints what a dispersy-go store file holds: its
// communities, their message types and message counts, the members it
// names, the messages themselves, one packet decoded field by field, and
// the stored permission messages.
//
// # Usage
//
//	go run ./tools/inspect [-json] FILE [command]
//
//	communities                         (default) id, classification, master key,
//	                                    our member, auto-load, message count,
//	                                    highest global time
//	types CID                           id, name, priority, direction, messages
//	                                    stored, of which undone
//	members                             id, key scheme, private key stored,
//	                                    messages authored, roles
//	messages CID [-type ID] [-limit N]  one line per message by global time:
//	                                    global time, type, creator, sequence
//	                                    number, undone, size
//	packet CID MEMBER GT                one packet, field by field with offsets
//	timeline CID                        the permission messages (ids 236, 242,
//	                                    243) by global time, each grant,
//	                                    revoke and setting decoded
//
// CID and MEMBER are hex ids; a unique prefix is enough. For example:
//
//	$ go run ./tools/inspect stores/peer00.db packet 1185 e664 4
//	…
//	OFFSET  SIZE  FIELD              VALUE
//	0       1     wire version       0x01
//	1       1     community version  1
//	2       20    community id       118580cf226ff3abcb2e8ee2081f141fb0dfd992
//	22      1     message id         1 (message)
//	23      33    author 1 key       0172f0… (ed25519, mid e6648e…)
//	56      8     global time        4
//	64      20    payload            06706565723030000b6c696e652031206f662032
//	64      20    payload (decoded)  chat.Post{Author:"peer00", Text:"line 1 of 2"}
//	84      64    signature 1        (valid)
//	…
//
// The packet command decodes with the community's own definition when the
// tool knows it: the chat community of examples/chat and the debug
// community of dispersy/dispersytest, recognised by their classification.
// (The store keeps message type names, priorities and directions, but not
// the policies that decide a packet's layout.) For any other community, or
// a packet the definition does not decode, it prints the frame prefix every
// packet shares (wire version, community version, community id, message
// id) and then the fields it can find by matching what the store says about
// the message — its creator's key or id, its global time, its sequence
// number — against the bytes, marked "inferred"; whatever cannot be placed
// is dumped as hex. Signatures are checked whenever the author's key is in
// the packet or the store.
//
// # JSON
//
// With -json, anywhere on the command line, every command prints one JSON
// document (an object) instead of text; errors still go to stderr as one
// sentence. The field names are stable and listed in docs/usage.md; lists
// are [] when empty, never null. messages -json gives, beyond the text
// columns, each message's hash and its payload: its offset, size and hex
// always, and when the tool knows the community's definition (or the
// message is a built-in one of such a community) the payload decoded
// through its registered type, as "type" (the Go type, e.g. chat.Post) and
// "value" (the Go value marshalled as JSON). A payload the tool could only
// place by inference has "inferred": true and no value; one it cannot
// place at all is null. packet -json gives the same fields as the text
// table, the payload likewise, the signature verdicts and the whole packet
// in hex.
//
// Exit status: 0 ok; 1 a file that cannot be read (missing, not SQLite,
// another application's database, a schema newer or older than this tool's)
// or something asked for that the store does not hold, reported in one
// sentence; 2 a usage error.
//
// # Invariants
//
//   - inspect never modifies a store. database.Open would create a missing
//     file, initialise an empty SQLite file and upgrade an older schema, so
//     inspect first reads the SQLite header itself and refuses every such
//     file; it then opens the store and calls only read methods. The header
//     is read as SQLite would see it: from the write-ahead log when a
//     committed transaction there rewrote it (a store a running node holds
//     open), else from the file.
//   - A store in use by a running node can be inspected; WAL mode lets the
//     reads run beside the node's writes.
//   - Output order never depends on map iteration: communities and members
//     are ordered by id, types by id, messages by global time; the JSON
//     documents list them in the same order as the text.
package main
