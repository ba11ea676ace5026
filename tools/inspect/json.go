package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/dispersy-go/dispersy/dispersy"
)

// The documents of -json, one per command. Field names are stable: they
// are documented in docs/usage.md ("inspect -json"), and a change to them
// is a change of the tool's interface. Lists are never null: an empty list
// is [].

// communitiesJSON is the document of the communities command.
type communitiesJSON struct {
	File        string          `json:"file"`
	Communities []communityJSON `json:"communities"`
}

type communityJSON struct {
	ID             string `json:"id"`
	Classification string `json:"classification"`
	// Master is the hex of the master's binary public key; MasterScheme
	// its scheme, "" when the key does not parse.
	Master       string `json:"master"`
	MasterScheme string `json:"master_scheme"`
	Me           string `json:"me"`
	// MeScheme is the scheme of our member's key, as the members command
	// names it ("unknown member" when the store has no key for it).
	MeScheme      string `json:"me_scheme"`
	MePrivateKey  bool   `json:"me_private_key"`
	AutoLoad      bool   `json:"auto_load"`
	Messages      int    `json:"messages"`
	Undone        int    `json:"undone"`
	MaxGlobalTime uint64 `json:"max_global_time"`

	master []byte // for the text form
}

// typesJSON is the document of the types command.
type typesJSON struct {
	Community string     `json:"community"`
	Types     []typeJSON `json:"types"`
}

type typeJSON struct {
	ID uint8 `json:"id"`
	// Name, Priority and Direction come from the store's type table;
	// InTypeTable is false for a message id that has stored messages but
	// no entry there, and then Priority and Direction are null.
	Name        string  `json:"name"`
	InTypeTable bool    `json:"in_type_table"`
	Priority    *uint8  `json:"priority"`
	Direction   *string `json:"direction"`
	Count       int     `json:"count"`
	Undone      int     `json:"undone"`
}

// membersJSON is the document of the members command.
type membersJSON struct {
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	ID         string     `json:"id"`
	Scheme     string     `json:"scheme"`
	PrivateKey bool       `json:"private_key"`
	Messages   int        `json:"messages"`
	Roles      []roleJSON `json:"roles"`
}

// roleJSON is "master" or "me" (the member this node signs with) in a
// community.
type roleJSON struct {
	Role      string `json:"role"`
	Community string `json:"community"`
}

// recordJSON is one stored message, as the store describes it.
type recordJSON struct {
	GlobalTime uint64 `json:"global_time"`
	Type       uint8  `json:"type"`
	// TypeName is the stored type name (or the built-in permission
	// message's name), "" when unknown.
	TypeName string `json:"type_name"`
	Member   string `json:"member"`
	// Member2 is the second signer of a double-signed message.
	Member2  string `json:"member2,omitempty"`
	Sequence uint32 `json:"sequence"` // 0: the type has no sequence numbers
	Undone   bool   `json:"undone"`
	Size     int    `json:"size"`
	Hash     string `json:"hash"`
}

func newRecordJSON(r *dispersy.Record, names map[uint8]string) recordJSON {
	j := recordJSON{
		GlobalTime: r.GlobalTime, Type: r.MessageID, TypeName: names[r.MessageID], Member: r.Member.String(),
		Sequence: r.Sequence, Undone: r.Undone, Size: len(r.Packet), Hash: hex.EncodeToString(r.Hash[:]),
	}
	if r.Double() {
		j.Member2 = r.Member2.String()
	}
	return j
}

// messagesJSON is the document of the messages command.
type messagesJSON struct {
	Community string        `json:"community"`
	Messages  []messageJSON `json:"messages"`
}

type messageJSON struct {
	recordJSON
	// Payload is null when the payload cannot be placed in the packet.
	Payload *payloadJSON `json:"payload"`
}

// payloadJSON is a message's payload: always its bytes in hex; decoded
// through the registered payload type when the community's definition is
// known to the tool (the chat and debug communities, and the built-in
// messages of those).
type payloadJSON struct {
	Offset int    `json:"offset"`
	Size   int    `json:"size"`
	Hex    string `json:"hex"`
	// Inferred: placed by matching the store's record against the bytes,
	// without the community's definition.
	Inferred bool `json:"inferred"`
	// Type is the Go type of the decoded value (e.g. chat.Post), Value the
	// value as JSON; "" and null when no decoder is registered or it
	// failed (Error says why).
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
	Error string          `json:"error"`
}

func newPayloadJSON(p *payloadView) *payloadJSON {
	if p == nil {
		return nil
	}
	j := &payloadJSON{Offset: p.off, Size: len(p.bytes), Hex: hex.EncodeToString(p.bytes), Inferred: p.inferred}
	switch {
	case p.err != nil:
		j.Error = p.err.Error()
	case p.decoded:
		j.Type = p.typ
		v, err := json.Marshal(p.value)
		if err != nil {
			// A payload type that does not marshal: its Go syntax, as a string.
			v, _ = json.Marshal(fmt.Sprintf("%#v", p.value))
		}
		j.Value = v
	}
	return j
}

// packetJSON is the document of the packet command.
type packetJSON struct {
	Community string `json:"community"`
	recordJSON
	// UndoneBy is the message that undid this one; null when it is not
	// undone or was undone by a permission change.
	UndoneBy *keyJSON `json:"undone_by"`
	// Definition is the overlay whose definition decoded the packet ("chat",
	// "debug"), "" when the fields are inferred; Message is then the line
	// naming the message and its policies, else Note says why the
	// fields are inferred.
	Definition string          `json:"definition"`
	Message    string          `json:"message"`
	Note       string          `json:"note"`
	Fields     []fieldJSON     `json:"fields"`
	Payload    *payloadJSON    `json:"payload"`
	Signatures []signatureJSON `json:"signatures"`
	Packet     string          `json:"packet"`
}

type keyJSON struct {
	Member     string `json:"member"`
	GlobalTime uint64 `json:"global_time"`
}

// fieldJSON is one row of the text table, a hex field on one line.
type fieldJSON struct {
	Offset int    `json:"offset"`
	Size   int    `json:"size"`
	Name   string `json:"name"`
	Value  string `json:"value"`
}

type signatureJSON struct {
	Offset  int    `json:"offset"`
	Size    int    `json:"size"`
	Verdict string `json:"verdict"` // valid, invalid or unchecked
}

// timelineJSON is the document of the timeline command.
type timelineJSON struct {
	Community   string           `json:"community"`
	Permissions []permissionJSON `json:"permissions"`
}

type permissionJSON struct {
	recordJSON
	Grants   []grantJSON   `json:"grants"`
	Settings []settingJSON `json:"settings"`
	// Error says why the packet does not decode; Packet is then its hex.
	Error  string `json:"error"`
	Packet string `json:"packet,omitempty"`
}

type grantJSON struct {
	Action      string `json:"action"` // grant or revoke
	Member      string `json:"member"`
	Permission  string `json:"permission"`
	MessageType uint8  `json:"message_type"`
	TypeName    string `json:"type_name"`
}

type settingJSON struct {
	MessageType    uint8  `json:"message_type"`
	TypeName       string `json:"type_name"`
	PolicyIndex    uint8  `json:"policy_index"`
	FromGlobalTime uint64 `json:"from_global_time"`
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
