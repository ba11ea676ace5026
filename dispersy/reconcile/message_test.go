package reconcile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

// goldenID is SHA-256("golden-i")[:16].
func goldenID(i int) ID {
	h := sha256.Sum256([]byte(fmt.Sprintf("golden-%d", i)))
	var id ID
	copy(id[:], h[:16])
	return id
}

// goldenIndex holds n items: item i has time 10 + i/2 and id goldenID(i).
func goldenIndex(t testing.TB, n, skip int) *Index {
	ix := &Index{}
	for i := range n {
		if skip > 0 && i%skip == 0 {
			continue
		}
		ix.Insert(Item{Time: 10 + uint64(i/2), ID: goldenID(i)})
	}
	return ix
}

// goldenVectors returns the named encodings that pin the format: hand-built
// messages, and an initiator's opening and a responder's reply over fixed
// indices (which pin the split, bound and fingerprint rules too).
func goldenVectors(t testing.TB) [][2]string {
	ids := []ID{goldenID(0), goldenID(1)}
	sortIDs(ids)
	var out [][2]string
	add := func(name string, m Message) {
		b, err := m.AppendEncode(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, [2]string{name, hex.EncodeToString(b)})
	}
	add("empty", Message{})
	add("skip-fingerprint", Message{Ranges: []Range{
		{Upper: Bound{Time: 5, ID: ID{0xab}}, Mode: ModeSkip},
		{Upper: Infinity, Mode: ModeFingerprint, Fingerprint: SumOf(ids).Fingerprint()},
	}})
	add("idlist-fingerprint", Message{Ranges: []Range{
		{Upper: Bound{Time: 1000, ID: ID{1, 2}}, Mode: ModeIDList, IDs: ids},
		{Upper: Bound{Time: 1000, ID: ID{1, 3}}, Mode: ModeFingerprint, Fingerprint: SumOf(nil).Fingerprint()},
		{Upper: Bound{Time: 300000}, Mode: ModeIDList},
	}})
	a, b := goldenIndex(t, 80, 0), goldenIndex(t, 80, 7)
	ini, _ := NewInitiator(a, Zero, Infinity, Config{Branch: 4, IDListThreshold: 4})
	m1, _ := ini.Initiate()
	out = append(out, [2]string{"initiate-80-B4", hex.EncodeToString(m1)})
	m2, err := Respond(b, m1, Config{Branch: 4, IDListThreshold: 4})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, [2]string{"respond-80-B4", hex.EncodeToString(m2)})
	m3, _, err := ini.Reconcile(m2)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, [2]string{"reply-80-B4", hex.EncodeToString(m3)})
	return out
}

// TestGolden pins the encodings in testdata/golden.txt; regenerate with
// -update only on a deliberate format change (and record it in
// docs/wire-format.md).
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.txt")
	vecs := goldenVectors(t)
	if *update {
		var buf bytes.Buffer
		buf.WriteString("# reconcile golden vectors: name hex(message)\n")
		buf.WriteString("# id i = first 16 bytes of SHA-256(\"golden-<i>\"); see message_test.go\n")
		for _, v := range vecs {
			fmt.Fprintf(&buf, "%s %s\n", v[0], v[1])
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			name, h, _ := strings.Cut(line, " ")
			want[name] = h
		}
	}
	if len(want) != len(vecs) {
		t.Fatalf("golden file has %d vectors, code %d", len(want), len(vecs))
	}
	for _, v := range vecs {
		if want[v[0]] != v[1] {
			t.Errorf("%s:\n got %s\nwant %s", v[0], v[1], want[v[0]])
		}
		b, _ := hex.DecodeString(v[1])
		m, err := Decode(b)
		if err != nil {
			t.Errorf("%s: decode: %v", v[0], err)
			continue
		}
		if back, _ := m.AppendEncode(nil); !bytes.Equal(back, b) {
			t.Errorf("%s: re-encoding differs", v[0])
		}
	}
}

// TestWorkedExample pins the example of docs/wire-format.md byte for byte.
func TestWorkedExample(t *testing.T) {
	m := Message{Ranges: []Range{
		{Upper: Bound{Time: 5, ID: ID{0xab}}, Mode: ModeSkip},
		{Upper: Bound{Time: 7}, Mode: ModeIDList, IDs: []ID{{0x11}}},
		{Upper: Infinity, Mode: ModeFingerprint, Fingerprint: Fingerprint{0xf0, 15: 0x0f}},
	}}
	b, err := m.AppendEncode(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "01" + "0601ab00" + "030002" + "01" + "11000000000000000000000000000000" + "0001" + "f000000000000000000000000000000f"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if m.EncodedSize() != len(b) {
		t.Fatalf("EncodedSize %d, encoding %d bytes", m.EncodedSize(), len(b))
	}
	// The fingerprint of the empty set and of one id.
	if got := hex.EncodeToString(func() []byte { f := SumOf(nil).Fingerprint(); return f[:] }()); got != "0a88111852095cae045340ea1f0b2799" {
		t.Fatalf("fingerprint of the empty set: %s", got)
	}
}

// TestDecodeRejects: every non-canonical or malformed input gets its error.
func TestDecodeRejects(t *testing.T) {
	fp := strings.Repeat("00", 16)
	id := func(b byte) string { return fmt.Sprintf("%02x", b) + strings.Repeat("00", 15) }
	for _, c := range []struct {
		name, hex string
		err       error
	}{
		{"nothing", "", ErrTruncated},
		{"version", "02", ErrVersion},
		{"empty message", "01", nil},
		{"missing prefix length", "0102", ErrTruncated},
		{"prefix too long", "010211", ErrBound},
		{"prefix trailing zero", "01020100" + "01" + fp, ErrBound},
		{"prefix truncated", "01020201", ErrTruncated},
		{"missing mode", "010200", ErrTruncated},
		{"unknown mode", "01020003", ErrMode},
		{"overlong mode", "0102008000" + fp, ErrVarint},
		{"overlong time", "018100" + "00" + "01" + fp, ErrVarint},
		{"overflowing time", "01ffffffffffffffffff02" + "00" + "01" + fp, ErrVarint},
		{"time at MaxTime", "01ffffffffffffffffff01" + "00" + "01" + fp, nil},
		{"time sum overflow", "010a0001" + fp + "ffffffffffffffffff01" + "0001" + fp, ErrBound},
		{"fingerprint truncated", "01020001" + fp[2:], ErrTruncated},
		{"bound at zero", "01010001" + fp, ErrBound},
		{"bounds equal", "01020001" + fp + "01000001" + fp, ErrBound},
		{"bounds descending", "0103010501" + fp + "0100" + "01" + fp, ErrBound},
		{"after infinity", "010001" + fp + "020001" + fp, ErrBound},
		{"trailing skip", "01020000", ErrSkip},
		{"double skip", "01" + "020000" + "020000" + "0200" + "01" + fp, ErrSkip},
		{"id count too large", "01020002" + "05" + id(1), ErrTruncated},
		{"ids not ascending", "01020002" + "02" + id(2) + id(1), ErrIDOrder},
		{"ids duplicate", "01020002" + "02" + id(1) + id(1), ErrIDOrder},
		{"garbage after", "01020001" + fp + "00", ErrTruncated},
	} {
		b, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatalf("%s: bad hex", c.name)
		}
		_, err = Decode(b)
		if c.err == nil {
			if err != nil { // valid: the empty message, the largest time
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.err)
		}
	}
}

// FuzzDecode: no input panics; every error is in the closed set; accepted
// input re-encodes to itself (one encoding per message).
func FuzzDecode(f *testing.F) {
	for _, v := range goldenVectors(f) {
		b, _ := hex.DecodeString(v[1])
		f.Add(b)
	}
	f.Add([]byte{1, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !slices.ContainsFunc(DecodeErrors, func(e error) bool { return errors.Is(err, e) }) {
				t.Fatalf("error outside the closed set: %v", err)
			}
			return
		}
		back, err := m.AppendEncode(nil)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("re-encoding: %v\n in  %x\n out %x", err, b, back)
		}
		if m.EncodedSize() != len(b) {
			t.Fatalf("EncodedSize %d, input %d", m.EncodedSize(), len(b))
		}
	})
}

// FuzzRoundTrip builds a message from fuzz input, encodes it, and decodes it
// back: Validate and Decode agree and the round trip is exact.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{2, 0, 0, 200, 1, 1, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		bound := Zero
		for len(b) >= 3 && len(m.Ranges) < 64 {
			op, step, n := b[0], uint64(b[1]), int(b[2]%4)
			b = b[3:]
			bound.Time += step
			if n > 0 && len(b) > 0 {
				bound.ID[n] = b[0]
			}
			r := Range{Upper: bound, Mode: Mode(op % 4)}
			if op >= 250 {
				r.Upper = Infinity
			}
			if r.Mode == ModeIDList {
				for k := range int(op % 5) {
					r.IDs = append(r.IDs, ID{byte(k), op})
				}
			}
			r.Fingerprint[0] = op
			m.Ranges = append(m.Ranges, r)
		}
		enc, err := m.AppendEncode(nil)
		if err != nil {
			if m.Validate() == nil {
				t.Fatal("AppendEncode refused a valid message")
			}
			return
		}
		got, err := Decode(enc)
		if err != nil {
			t.Fatalf("decode of an encoding: %v", err)
		}
		if len(got.Ranges) != len(m.Ranges) {
			t.Fatalf("%d ranges back, %d sent", len(got.Ranges), len(m.Ranges))
		}
		for k := range m.Ranges {
			x, y := m.Ranges[k], got.Ranges[k]
			if x.Upper != y.Upper || x.Mode != y.Mode || !slices.Equal(x.IDs, y.IDs) ||
				(x.Mode == ModeFingerprint && x.Fingerprint != y.Fingerprint) {
				t.Fatalf("range %d: sent %+v, got %+v", k, x, y)
			}
		}
	})
}

// FuzzReconcile feeds arbitrary messages to a responder and to an initiator:
// no panic, errors from the closed sets, replies within the budget and
// decodable.
func FuzzReconcile(f *testing.F) {
	for _, v := range goldenVectors(f) {
		b, _ := hex.DecodeString(v[1])
		f.Add(b)
	}
	a, b := goldenIndex(f, 300, 0), goldenIndex(f, 300, 5)
	cfg := Config{MaxMessageBytes: MinMessageBytes, MaxIDs: 50}
	known := append(slices.Clone(DecodeErrors), SessionErrors...)
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, initiator := range []bool{false, true} {
			var s *Reconciler
			if initiator {
				s, _ = NewInitiator(a, Bound{Time: 20}, Bound{Time: 150}, cfg)
				s.Initiate()
			} else {
				s, _ = NewResponder(b, cfg)
			}
			reply, _, err := s.Reconcile(msg)
			if err != nil {
				if !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
					t.Fatalf("error outside the closed sets: %v", err)
				}
				continue
			}
			if len(reply) > MinMessageBytes {
				t.Fatalf("reply of %d bytes", len(reply))
			}
			if reply != nil {
				if _, err := Decode(reply); err != nil {
					t.Fatalf("reply does not decode: %v", err)
				}
			}
		}
		// The batch paths: a responder writing up to 3 messages, an
		// initiator taking the input cut in two as the replies of a round.
		bc := cfg
		bc.MaxMessagesPerRound = 3
		rsp, _ := NewResponder(b, bc)
		ini, _ := NewInitiator(a, Bound{Time: 20}, Bound{Time: 150}, bc)
		ini.InitiateBatch()
		outs, _, err1 := rsp.RespondBatch(msg)
		more, _, err2 := ini.ReconcileBatch([][]byte{msg[:len(msg)/2], msg[len(msg)/2:]})
		for _, err := range []error{err1, err2} {
			if err != nil && !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
				t.Fatalf("error outside the closed sets: %v", err)
			}
		}
		if len(outs) > 3 || len(more) > 3 {
			t.Fatalf("%d and %d messages, limit 3", len(outs), len(more))
		}
		for _, o := range append(outs, more...) {
			if len(o) > MinMessageBytes {
				t.Fatalf("message of %d bytes", len(o))
			}
			if _, err := Decode(o); err != nil {
				t.Fatalf("message does not decode: %v", err)
			}
		}
	})
}
