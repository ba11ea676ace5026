package catchup

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/reconcile"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

func id(b byte) reconcile.ID {
	var x reconcile.ID
	for i := range x {
		x[i] = b + byte(i)
	}
	return x
}

// goldenPayloads are the payloads pinned by testdata/golden.txt.
func goldenPayloads(t testing.TB) []struct {
	name string
	v    interface{ AppendBinary([]byte) ([]byte, error) }
} {
	check, err := (&reconcile.Message{Ranges: []reconcile.Range{{Upper: reconcile.Infinity, Mode: reconcile.ModeFingerprint, Fingerprint: reconcile.Fingerprint(id(0xf0))}}}).AppendEncode(nil)
	if err != nil {
		t.Fatal(err)
	}
	skip, err := (&reconcile.Message{}).AppendEncode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		v    interface{ AppendBinary([]byte) ([]byte, error) }
	}{
		{"reconcile-check", Reconcile{Session: 0x1234, Round: 1, Part: 0, Parts: 2, Scope: 128, Msg: check}},
		{"reconcile-whole-check", Reconcile{Session: 7, Round: 1, Part: 0, Parts: 1, Scope: 0, Msg: check}},
		{"reconcile-whole-equal", Reconcile{Reply: true, Session: 7, Round: 1, Part: 0, Parts: 1, Scope: 0, Msg: skip}},
		{"reconcile-reply-done", Reconcile{Reply: true, Session: 0x1234, Round: 1, Index: 1, Part: 0, Parts: 1, Scope: 200, Msg: skip}},
		{"want-two-groups", Want{Scope: 128, Groups: []WantGroup{
			{Lo: 10, Hi: 10, IDs: []reconcile.ID{id(0x10)}},
			{Lo: 300, Hi: 1<<64 - 1, IDs: []reconcile.ID{id(0x20), id(0x30)}},
		}}},
		{"range-request", Pull{Scope: 128, N: 64, Lo: reconcile.Bound{Time: 300, ID: reconcile.ID{0xab}}, Hi: reconcile.Infinity}},
		{"range-reply", Pull{Reply: true, Scope: 128, N: 2, Lo: reconcile.Bound{Time: 300, ID: reconcile.ID{0xab}}, Hi: reconcile.Bound{Time: 302},
			Prefixes: [][PrefixSize]byte{{0xab, 1, 2, 3}, {0xc0, 0, 0, 1}}}},
		{"range-reply-throttled", Pull{Reply: true, Scope: 128, Lo: reconcile.Zero, Hi: reconcile.Zero}},
	}
}

func TestGoldenPayloads(t *testing.T) {
	var out strings.Builder
	want := map[string]string{}
	if !*update {
		f, err := os.Open("testdata/golden.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := sc.Text(); line != "" && line[0] != '#' {
				name, hx, _ := strings.Cut(line, " ")
				want[name] = hx
			}
		}
	}
	for _, g := range goldenPayloads(t) {
		b, err := g.v.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		fmt.Fprintf(&out, "%s %x\n", g.name, b)
		if *update {
			continue
		}
		if got := hex.EncodeToString(b); got != want[g.name] {
			t.Errorf("%s: encodes to %s, golden %s", g.name, got, want[g.name])
		}
		// Decoding the golden bytes gives the value back.
		switch v := g.v.(type) {
		case Reconcile:
			var r Reconcile
			if err := r.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(r, v) {
				t.Errorf("%s: decodes to %+v (%v)", g.name, r, err)
			}
		case Want:
			w, err := decodeWant(b)
			if err != nil || !reflect.DeepEqual(w, v) {
				t.Errorf("%s: decodes to %+v (%v)", g.name, w, err)
			}
		}
	}
	if *update {
		if err := os.WriteFile("testdata/golden.txt", []byte("# name payload-hex (docs/wire-format.md, catch-up)\n"+out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPayloadRejects: malformed payloads get an error, never a panic.
func TestPayloadRejects(t *testing.T) {
	for _, hx := range []string{
		"", "02", "0212340001000100", // reconcile: short, bad flags
		"001234000100000080" + "01", // parts 0
		"0012340001000201800100",    // a bad reconcile message
		"000000000101000100",        // request with index 1
	} {
		b, _ := hex.DecodeString(hx)
		var r Reconcile
		if r.UnmarshalBinary(b) == nil {
			t.Errorf("reconcile %s accepted", hx)
		}
	}
	for _, hx := range []string{
		"", "80", "8001", "800100", "80010a0000", // short, count 0
		"800180000001" + strings.Repeat("11", 16),                            // overlong varint
		"80010a000201" + strings.Repeat("11", 16) + strings.Repeat("10", 16), // ids descend
		"80010a0001" + strings.Repeat("11", 16) + "00",                       // trailing byte
	} {
		b, _ := hex.DecodeString(hx)
		if _, err := decodeWant(b); err == nil {
			t.Errorf("want %s accepted", hx)
		}
	}
	for _, hx := range []string{
		"", "00", "0280", "008000", // short, bad flags, no bounds
		"0080000101", "0080010101", // request for 0 items; lo == hi
		"00804001020101",         // lo above hi
		"0080400102010000",       // trailing zero in an id prefix
		"008080000101" + "00",    // overlong varint
		"0080c1030101" + "00",    // more than MaxPull
		"00804001010002aabbccdd", // request with a prefix
		"01800101010102aabbcc",   // reply: a prefix cut short
		"018000010101" + "0000",  // reply with bytes after the bounds
		"0180010101" + "0101",    // reply with one item over an empty range
	} {
		b, _ := hex.DecodeString(hx)
		var p Pull
		if p.UnmarshalBinary(b) == nil {
			t.Errorf("range %s accepted as %+v", hx, p)
		}
	}
}

func FuzzReconcilePayload(f *testing.F) {
	for _, g := range goldenPayloads(f) {
		if r, ok := g.v.(Reconcile); ok {
			b, _ := r.AppendBinary(nil)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reconcile
		if r.UnmarshalBinary(b) != nil {
			return
		}
		again, err := r.AppendBinary(nil)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x decodes but re-encodes to %x (%v)", b, again, err)
		}
	})
}

// FuzzRangePayload: whatever decodes as a dispersy-range payload is valid
// and re-encodes to the same bytes.
func FuzzRangePayload(f *testing.F) {
	for _, g := range goldenPayloads(f) {
		if p, ok := g.v.(Pull); ok {
			b, _ := p.AppendBinary(nil)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Pull
		if p.UnmarshalBinary(b) != nil {
			return
		}
		if !p.valid() || p.N > MaxPull {
			t.Fatalf("%x decodes to an invalid payload %+v", b, p)
		}
		again, err := p.AppendBinary(nil)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x decodes but re-encodes to %x (%v)", b, again, err)
		}
	})
}

func FuzzWantPayload(f *testing.F) {
	for _, g := range goldenPayloads(f) {
		if w, ok := g.v.(Want); ok {
			b, _ := w.AppendBinary(nil)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWant(b)
		if err != nil {
			return
		}
		if n := len(w.Groups); n > maxWantGroups {
			t.Fatalf("%d groups", n)
		}
		again, err := w.AppendBinary(nil)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x decodes but re-encodes to %x (%v)", b, again, err)
		}
	})
}

// TestReconcileFitsDatagram: a dispersy-reconcile carrying a reconcile
// message of the budget rcfg gives (MaxMessageBytes) fills the datagram
// exactly, so every message the session writes can be sent.
func TestReconcileFitsDatagram(t *testing.T) {
	cfg := dt.DefaultSimConfig(13)
	Enable(&cfg.Engine, Options{})
	sim, err := dt.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	p, err := sim.AddPeer()
	if err != nil {
		t.Fatal(err)
	}
	err = sim.Do(p, func(e *dispersy.Engine) error {
		c := e.Community(debugCID)
		x, _ := e.Extensions()[0].(*ext)
		budget := x.state(c).rcfg().MaxMessageBytes
		m, err := dispersy.Create(c, ReconcileType, Reconcile{Parts: 1, Msg: make([]byte, budget)}, dispersy.To(dt.PeerAddr(5)))
		if err != nil {
			return err
		}
		if n := len(m.Packet); n != e.Config().MaxDatagram {
			t.Errorf("a reconcile message of %d bytes makes a %d-byte packet, want exactly MaxDatagram %d", budget, n, e.Config().MaxDatagram)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzHandlers feeds decoded payloads, valid on the wire but chosen by a
// peer, to the handlers of a node holding messages, as a request and as a
// reply to an open session: nothing panics.
func FuzzHandlers(f *testing.F) {
	for _, g := range goldenPayloads(f) {
		b, _ := g.v.AppendBinary(nil)
		f.Add(b)
	}
	cfg := dt.DefaultSimConfig(14)
	Enable(&cfg.Engine, Options{})
	sim, err := dt.NewSim(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		f.Fatal(err)
	}
	if err := sim.AddPeers(2); err != nil {
		f.Fatal(err)
	}
	p := sim.Peers[0]
	for i := range 50 {
		if _, err := simCreate(sim, p, fmt.Sprint("m", i)); err != nil {
			f.Fatal(err)
		}
	}
	if err := sim.Net.RunFor(10 * time.Second); err != nil {
		f.Fatal(err)
	}
	from := sim.Peers[1].Addr
	f.Fuzz(func(t *testing.T, b []byte) {
		err := sim.Do(p, func(e *dispersy.Engine) error {
			x, _ := e.Extensions()[0].(*ext)
			st := x.state(e.Community(debugCID))
			var r Reconcile
			if r.UnmarshalBinary(b) == nil {
				st.onReconcile(from, r)
				// As a reply to a session with the sender.
				st.start(from)
				for _, s := range slices.Clone(st.sessions) {
					r.Reply, r.Session, r.Round = true, s.id, s.round
					st.onReconcile(s.peer, r)
				}
			}
			if w, err := decodeWant(b); err == nil {
				st.onWant(from, w)
			}
			var pl Pull
			if pl.UnmarshalBinary(b) == nil {
				st.onPull(from, pl)
				// As the header of an answer to a request in flight.
				for _, r := range slices.Clone(st.tr.preqs) {
					pl.Reply, pl.Scope, pl.Lo = true, r.p.prio, r.lo
					st.onPull(r.peer, pl)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestStatsAddCoversEveryField: Add sums every counter (a field added to
// Stats and forgotten in Add would be left out of the tools' sums).
func TestStatsAddCoversEveryField(t *testing.T) {
	var one Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		v.Field(i).SetUint(uint64(i + 1))
	}
	var sum Stats
	sum.Add(one)
	sum.Add(one)
	w := reflect.ValueOf(sum)
	for i := range w.NumField() {
		if got := w.Field(i).Uint(); got != 2*uint64(i+1) {
			t.Errorf("%s: %d, want %d", w.Type().Field(i).Name, got, 2*(i+1))
		}
	}
}
