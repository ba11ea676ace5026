package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/examples/chat"
)

// jsonDoc runs a command with -json and decodes its stdout, which must be
// exactly one JSON document, into a generic map (so the test reads the
// documented field names, not the tool's Go types).
func jsonDoc(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := ok(t, args...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("inspect %q: stdout is not a JSON object: %v\n%s", args, err, out)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("inspect %q: more than one JSON document (%v):\n%s", args, err, out)
	}
	return doc
}

// list returns doc[key] as a list of objects; a missing or null list fails.
func list(t *testing.T, doc map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := doc[key].([]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want a list", key, doc[key], doc[key])
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		if out[i], ok = r.(map[string]any); !ok {
			t.Fatalf("%q[%d] is %T, want an object", key, i, r)
		}
	}
	return out
}

// find returns the object of objs whose field key has the value want
// (compared as text).
func find(t *testing.T, objs []map[string]any, key string, want any) map[string]any {
	t.Helper()
	for _, o := range objs {
		if fmt.Sprint(o[key]) == fmt.Sprint(want) {
			return o
		}
	}
	t.Fatalf("no object with %s = %v in %v", key, want, objs)
	return nil
}

// wantFields fails unless o has every field of want with that value
// (compared as text; nil means JSON null).
func wantFields(t *testing.T, what string, o map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, present := o[k]
		if !present {
			t.Errorf("%s: no field %q in %v", what, k, o)
			continue
		}
		if v == nil {
			if got != nil {
				t.Errorf("%s: %s = %v, want null", what, k, got)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v", what, k, got, v)
		}
	}
}

func mustPayload(t *testing.T, what string, m map[string]any) map[string]any {
	t.Helper()
	p, ok := m["payload"].(map[string]any)
	if !ok {
		t.Fatalf("%s: payload is %v, want an object", what, m["payload"])
	}
	return p
}

func encodeHex(t *testing.T, v interface{ AppendBinary([]byte) ([]byte, error) }) string {
	t.Helper()
	b, err := v.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestJSON: every command prints one JSON document with the documented
// field names when -json is given (before the file, or anywhere after it);
// message payloads are decoded through the registered payload type when
// the tool knows the community's definition, and given as hex always.
func TestJSON(t *testing.T) {
	f := makeStore(t)
	before := fileSum(t, f.path)
	chatID, debugID, customID := chatCID.String(), debugCID.String(), customCID.String()

	t.Run("communities", func(t *testing.T) {
		for _, args := range [][]string{{"-json", f.path}, {f.path, "communities", "-json"}, {f.path, "--json", "communities"}} {
			doc := jsonDoc(t, args...)
			if doc["file"] != f.path {
				t.Errorf("file = %v, want %s", doc["file"], f.path)
			}
			cs := list(t, doc, "communities")
			if len(cs) != 3 || !sortedStrings([]string{fmt.Sprint(cs[0]["id"]), fmt.Sprint(cs[1]["id"]), fmt.Sprint(cs[2]["id"])}) {
				t.Fatalf("communities %v: want 3, by id", cs)
			}
			wantFields(t, "chat", find(t, cs, "id", chatID), map[string]any{
				"classification": "chat", "master": hex.EncodeToString(chatMaster.Public().Bytes()), "master_scheme": "ed25519",
				"me": chatMaster.ID().String(), "me_scheme": "ed25519", "me_private_key": true, "auto_load": true,
				"messages": 9, "undone": 1, "max_global_time": 900,
			})
			wantFields(t, "debug", find(t, cs, "id", debugID), map[string]any{"classification": "debug", "me_scheme": "ed448", "messages": 4, "undone": 0})
		}
	})

	t.Run("types", func(t *testing.T) {
		doc := jsonDoc(t, f.path, "types", chatID[:6], "-json")
		if doc["community"] != chatID {
			t.Errorf("community = %v", doc["community"])
		}
		ts := list(t, doc, "types")
		wantFields(t, "type 1", find(t, ts, "id", 1), map[string]any{
			"name": "message", "in_type_table": true, "priority": 128, "direction": "ASC", "count": 3, "undone": 1})
		wantFields(t, "type 243", find(t, ts, "id", 243), map[string]any{"count": 2, "undone": 0})
		ts = list(t, jsonDoc(t, f.path, "types", customID, "-json"), "types")
		wantFields(t, "type 8", find(t, ts, "id", 8), map[string]any{"name": "custom-by-id", "priority": 100, "direction": "DESC", "count": 1})
	})

	t.Run("members", func(t *testing.T) {
		ms := list(t, jsonDoc(t, "-json", f.path, "members"), "members")
		if len(ms) != 4 {
			t.Fatalf("%d members, want 4: %v", len(ms), ms)
		}
		m := find(t, ms, "id", chatMaster.ID().String())
		wantFields(t, "chat master", m, map[string]any{"scheme": "ed25519", "private_key": true, "messages": 9})
		roles := list(t, m, "roles")
		want := []map[string]any{{"role": "master", "community": chatID}, {"role": "me", "community": chatID}}
		if !reflect.DeepEqual(roles, want) {
			t.Errorf("roles %v, want %v", roles, want)
		}
		wantFields(t, "debug master", find(t, ms, "id", dispersytest.DebugMaster.ID().String()), map[string]any{"private_key": false, "messages": 0})
	})

	t.Run("messages with decoded payloads", func(t *testing.T) {
		doc := jsonDoc(t, f.path, "messages", chatID, "-json")
		ms := list(t, doc, "messages")
		if len(ms) != 9 {
			t.Fatalf("%d messages, want 9", len(ms))
		}
		say := find(t, ms, "global_time", f.say1)
		wantFields(t, "say1", say, map[string]any{"type": 1, "type_name": "message", "member": chatMaster.ID().String(), "sequence": 0, "undone": false})
		p := mustPayload(t, "say1", say)
		wantFields(t, "say1 payload", p, map[string]any{
			"offset": 64, "hex": encodeHex(t, chat.Post{Author: "alice", Text: "hello\nworld"}), "inferred": false,
			"type": "chat.Post", "error": ""})
		if v, _ := p["value"].(map[string]any); v["Author"] != "alice" || v["Text"] != "hello\nworld" {
			t.Errorf("say1 payload value %v, want Author alice and Text \"hello\\nworld\"", p["value"])
		}
		// A built-in message of a known community: decoded too.
		grant := mustPayload(t, "grant", find(t, ms, "global_time", f.grant))
		if grant["type"] != "payload.Authorize" || !strings.Contains(fmt.Sprint(grant["value"]), "Grants") {
			t.Errorf("grant payload %v, want a decoded payload.Authorize", grant)
		}
		// The raw record no definition decodes: no payload can be placed.
		if raw := find(t, ms, "global_time", f.raw); raw["payload"] != nil {
			t.Errorf("raw record payload %v, want null", raw["payload"])
		}

		ms = list(t, jsonDoc(t, f.path, "messages", debugID, "-type", "107", "-limit", "1", "-json"), "messages")
		if len(ms) != 1 {
			t.Fatalf("-type 107 -limit 1: %d messages", len(ms))
		}
		wantFields(t, "debug", ms[0], map[string]any{"type": 107, "type_name": "sequence-text", "sequence": 1})
		wantFields(t, "debug payload", mustPayload(t, "debug", ms[0]), map[string]any{"type": "dispersytest.Text", "inferred": false})

		// A community the tool does not know: hex only, placed by inference.
		ms = list(t, jsonDoc(t, f.path, "messages", customID, "-type", "7", "-json"), "messages")
		if len(ms) != 2 {
			t.Fatalf("custom: %d messages, want 2", len(ms))
		}
		wantFields(t, "custom payload", mustPayload(t, "custom", ms[1]), map[string]any{
			"offset": 93, "hex": encodeHex(t, dispersytest.Text{Text: "s2"}), "inferred": true, "type": "", "value": nil, "error": ""})
	})

	t.Run("packet", func(t *testing.T) {
		doc := jsonDoc(t, f.path, "packet", chatID[:8], chatMaster.ID().String()[:8], fmt.Sprint(f.say1), "-json")
		wantFields(t, "chat packet", doc, map[string]any{
			"community": chatID, "member": chatMaster.ID().String(), "global_time": f.say1, "type": 1, "type_name": "message",
			"undone": false, "undone_by": nil, "definition": "chat", "note": ""})
		if msg := fmt.Sprint(doc["message"]); !strings.HasPrefix(msg, `message 1 "message" of the chat community: MemberAuthentication(key)`) {
			t.Errorf("message = %q", msg)
		}
		fields := list(t, doc, "fields")
		wantFields(t, "community id field", find(t, fields, "name", "community id"), map[string]any{"offset": 2, "size": 20, "value": chatID})
		wantFields(t, "decoded field", find(t, fields, "name", "payload (decoded)"), map[string]any{"value": `chat.Post{Author:"alice", Text:"hello\nworld"}`})
		wantFields(t, "payload", mustPayload(t, "chat packet", doc), map[string]any{"type": "chat.Post", "inferred": false})
		sigs := list(t, doc, "signatures")
		if len(sigs) != 1 {
			t.Fatalf("signatures %v", sigs)
		}
		wantFields(t, "signature", sigs[0], map[string]any{"size": 64, "verdict": "valid"})
		pkt, err := hex.DecodeString(fmt.Sprint(doc["packet"]))
		if err != nil || len(pkt) != int(mustInt(t, doc["size"])) || dispersy.PacketHash(pkt) != hashOf(t, doc["hash"]) {
			t.Errorf("packet %v does not match size %v and hash %v (%v)", doc["packet"], doc["size"], doc["hash"], err)
		}

		doc = jsonDoc(t, "-json", f.path, "packet", customID, me.ID().String(), fmt.Sprint(f.customSeq2))
		wantFields(t, "custom packet", doc, map[string]any{"definition": "", "message": "", "sequence": 2})
		if !strings.Contains(fmt.Sprint(doc["note"]), `does not know the definition of the "custom-test" community`) {
			t.Errorf("note = %v", doc["note"])
		}
		wantFields(t, "custom payload", mustPayload(t, "custom packet", doc), map[string]any{"inferred": true, "hex": encodeHex(t, dispersytest.Text{Text: "s2"}), "value": nil})
		wantFields(t, "custom signature", list(t, doc, "signatures")[0], map[string]any{"size": 114, "verdict": "valid"})
	})

	t.Run("timeline", func(t *testing.T) {
		doc := jsonDoc(t, f.path, "timeline", chatID, "-json")
		ps := list(t, doc, "permissions")
		if len(ps) != 3 {
			t.Fatalf("%d permission messages, want 3", len(ps))
		}
		g := find(t, ps, "global_time", f.grant)
		wantFields(t, "grant", g, map[string]any{"type": 243, "type_name": "dispersy-authorize", "sequence": 1, "error": ""})
		grants := list(t, g, "grants")
		want := []map[string]any{{"action": "grant", "member": me.ID().String(), "permission": "permit+revoke",
			"message_type": json.Number(fmt.Sprint(chat.IDModerator)), "type_name": "moderator"}}
		if !reflect.DeepEqual(grants, want) {
			t.Errorf("grants %v, want %v", grants, want)
		}
		wantFields(t, "revoke", list(t, find(t, ps, "global_time", f.revoke), "grants")[0], map[string]any{"action": "revoke", "permission": "revoke"})
		raw := find(t, ps, "global_time", 900)
		if raw["error"] == "" || raw["packet"] != hex.EncodeToString([]byte("raw permission packet 243")) || len(list(t, raw, "grants")) != 0 {
			t.Errorf("raw record %v: want an error, the packet's hex and no grants", raw)
		}
		if ps := list(t, jsonDoc(t, f.path, "timeline", debugID, "-json"), "permissions"); len(ps) != 0 {
			t.Errorf("debug timeline %v, want []", ps)
		}
	})

	t.Run("errors stay on stderr", func(t *testing.T) {
		code, out, errs := inspect(t, f.path, "types", "ffff", "-json")
		if code != exitFail || out != "" || !strings.HasPrefix(errs, "inspect: ") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing and one sentence", code, out, errs)
		}
	})

	if fileSum(t, f.path) != before {
		t.Error("the store file changed while being inspected")
	}
}

func mustInt(t *testing.T, v any) int64 {
	t.Helper()
	n, err := v.(json.Number).Int64()
	if err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return n
}

func hashOf(t *testing.T, v any) (h dispersy.Hash) {
	t.Helper()
	b, err := hex.DecodeString(fmt.Sprint(v))
	if err != nil || len(b) != len(h) {
		t.Fatalf("hash %v", v)
	}
	copy(h[:], b)
	return h
}
