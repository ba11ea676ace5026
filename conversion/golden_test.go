package conversion_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var update = flag.Bool("update", false, "add new golden vectors to testdata/frames-v1.txt (existing vectors are frozen and never change)")

const goldenFile = "testdata/frames-v1.txt"

const goldenHeader = `# dispersy-go wire v1 golden vectors.
#
# NEVER EDIT A VECTOR IN THIS FILE ONCE IT IS COMMITTED. These bytes pin wire
# version 0x01: every implementation must encode these inputs to exactly these
# packets, and decode these packets to exactly these inputs. A change of the
# format is a new wire version with its own file (frames-v2.txt).
#
# To add a vector, add it to goldenVectors in conversion/golden_test.go and
# run: go test ./conversion -run TestGolden -update
# The update refuses to change or drop a vector that is already here.
#
# Every key is keys.DeriveKey(scheme, seed): the private seed is the first
# SeedSize bytes of SHA-512(seed). EdDSA signatures are deterministic, so the
# packets are stable. Each block gives the inputs, then the packet as spaced
# hex, 16 bytes per line. The layout is drawn in docs/wire-format.md.
`

// The golden community's message formats. Never change them: the vectors
// depend on them.
var (
	gUnsigned = &conversion.Format{ID: 1, Name: "unsigned-direct", Policies: policy.Set{
		Authentication: policy.NoAuthentication{}, Resolution: policy.PublicResolution{},
		Distribution: policy.DirectDistribution{}, Destination: policy.CandidateDestination{}}}
	gByKey = &conversion.Format{ID: 2, Name: "member-by-key-full-sync", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeKey}, Resolution: policy.PublicResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Ascending, Priority: 128}, Destination: policy.CommunityDestination{NodeCount: 10}}}
	gByID = &conversion.Format{ID: 3, Name: "member-by-id-direct", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeID}, Resolution: policy.PublicResolution{},
		Distribution: policy.DirectDistribution{}, Destination: policy.CandidateDestination{}}}
	gDoubleKey = &conversion.Format{ID: 4, Name: "double-by-key-last-sync", Policies: policy.Set{
		Authentication: policy.DoubleMemberAuthentication{Encoding: policy.EncodeKey}, Resolution: policy.PublicResolution{},
		Distribution: policy.LastSyncDistribution{Priority: 128, HistorySize: 1}, Destination: policy.CommunityDestination{NodeCount: 10}}}
	gDoubleID = &conversion.Format{ID: 5, Name: "double-by-id-direct", Policies: policy.Set{
		Authentication: policy.DoubleMemberAuthentication{Encoding: policy.EncodeID}, Resolution: policy.PublicResolution{},
		Distribution: policy.DirectDistribution{}, Destination: policy.CandidateDestination{}}}
	gDynamic = &conversion.Format{ID: 6, Name: "dynamic-full-sync", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{}, Resolution: policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}},
		Distribution: policy.FullSyncDistribution{Priority: 128}, Destination: policy.CommunityDestination{NodeCount: 10}}}
	gSequence = &conversion.Format{ID: 7, Name: "sequence-full-sync", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{}, Resolution: policy.LinearResolution{},
		Distribution: policy.FullSyncDistribution{Direction: policy.Descending, Priority: 200, SequenceNumbers: true}, Destination: policy.CommunityDestination{NodeCount: 10}}}
	// Community version 2 redefines message 2: members by id, with
	// sequence numbers.
	gByIDv2 = &conversion.Format{ID: 2, Name: "member-by-key-full-sync", Policies: policy.Set{
		Authentication: policy.MemberAuthentication{Encoding: policy.EncodeID}, Resolution: policy.PublicResolution{},
		Distribution: policy.FullSyncDistribution{Priority: 128, SequenceNumbers: true}, Destination: policy.CommunityDestination{NodeCount: 10}}}
)

// goldenCodec is the golden community: cid = mid of the Ed448 master key,
// conversions 1 and 2.
func goldenCodec(t testing.TB) *conversion.Codec {
	t.Helper()
	return mustCodec(t, testCID,
		mustConversion(t, 1, gUnsigned, gByKey, gByID, gDoubleKey, gDoubleID, gDynamic, gSequence),
		mustConversion(t, 2, gByIDv2))
}

// keySeeds names the test keys for the vector file.
var keySeeds = map[*keys.PrivateKey]string{
	masterKey:    "dispersy-go golden master",
	aliceEd25519: "dispersy-go golden alice",
	bobEd25519:   "dispersy-go golden bob",
	aliceEd448:   "dispersy-go golden alice",
	bobEd448:     "dispersy-go golden bob",
}

// goldenVector is one frame with its inputs.
type goldenVector struct {
	name    string
	note    string
	version uint8
	format  *conversion.Format
	members []*keys.PrivateKey
	// placeholder: the last member has not signed; its signature is zeros.
	placeholder bool
	resolution  uint8
	globalTime  uint64
	sequence    uint32
	payload     []byte
}

// everyWriterPayload is a payload that uses every Writer method once;
// TestGoldenEveryWriterPayload reads it back with the matching Reader calls.
func everyWriterPayload() []byte {
	w := conversion.NewWriter(nil)
	w.Uint8(0xab)
	w.Bool(true)
	w.Bool(false)
	w.Uint16(0x1234)
	w.Uint32(0xdeadbeef)
	w.Uint64(0x0102030405060708)
	w.Int64(-2)
	w.Bytes([]byte{0xf0, 0xf1, 0xf2})
	w.Bytes8([]byte("b8"))
	w.Bytes16([]byte("b16"))
	w.Bytes32([]byte("b32"))
	w.String8("s8")
	w.String16("héllo")
	w.String32("s32 ✓")
	w.Count8(2)
	w.Uint16(7)
	w.Uint16(8)
	w.Count16(1)
	w.String8("x")
	w.Count32(0)
	b, err := w.Finish()
	if err != nil {
		panic(err)
	}
	return b
}

func goldenVectors(t testing.TB) []goldenVector {
	return []goldenVector{
		{name: "no-authentication-direct", note: "an unsigned direct message: header, global time, payload; no member, no signature",
			version: 1, format: gUnsigned, globalTime: 1, payload: []byte("hello")},
		{name: "member-by-key", note: "one Ed25519 member carried by key (tag + 32 bytes), full sync without sequence numbers",
			version: 1, format: gByKey, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 42, payload: []byte("full-sync-text")},
		{name: "member-by-id", note: "one member carried by id (tag + 20-byte mid)",
			version: 1, format: gByID, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 7, payload: []byte("by id")},
		{name: "double-member-by-key", note: "two members by key, both signatures, creator first",
			version: 1, format: gDoubleKey, members: []*keys.PrivateKey{aliceEd25519, bobEd25519}, globalTime: 100, payload: []byte("agreed")},
		{name: "double-member-by-id", note: "two members by id, an Ed25519 creator and an Ed448 counter-signer",
			version: 1, format: gDoubleID, members: []*keys.PrivateKey{aliceEd25519, bobEd448}, globalTime: 3, payload: []byte("x")},
		{name: "double-member-placeholder", note: "a double-signed message before the second member signs: its signature is all zeros",
			version: 1, format: gDoubleKey, members: []*keys.PrivateKey{aliceEd25519, bobEd25519}, placeholder: true, globalTime: 101, payload: []byte("please sign")},
		{name: "dynamic-resolution-index", note: "DynamicResolution(Public, Linear): the creator used policy index 1 (Linear)",
			version: 1, format: gDynamic, members: []*keys.PrivateKey{aliceEd25519}, resolution: 1, globalTime: 43, payload: []byte("dyn")},
		{name: "sequence-numbers", note: "full sync with sequence numbers: 8-byte global time, then the 4-byte sequence number",
			version: 1, format: gSequence, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 12, sequence: 3, payload: []byte("seq")},
		{name: "ed448-author", note: "one Ed448 member by key (tag + 57 bytes), a 114-byte signature",
			version: 1, format: gByKey, members: []*keys.PrivateKey{aliceEd448}, globalTime: 42, payload: []byte("high")},
		{name: "empty-payload", note: "a signed message with no payload bytes",
			version: 1, format: gByKey, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 2},
		{name: "every-writer-method", note: "a payload using every Writer method: u8, bool, bool, u16, u32, u64, i64, 3 fixed bytes, bytes8/16/32, string8/16/32, count8 + 2×u16, count16 + string8, count32",
			version: 1, format: gByKey, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 5, payload: everyWriterPayload()},
		{name: "largest-values", note: "global time 2^63-1 and sequence number 2^32-1",
			version: 1, format: gSequence, members: []*keys.PrivateKey{bobEd25519}, globalTime: conversion.MaxGlobalTime, sequence: 1<<32 - 1, payload: []byte{0}},
		{name: "community-version-2", note: "community version 2 redefines message 2 (by id, with sequence numbers); the version byte picks the format",
			version: 2, format: gByIDv2, members: []*keys.PrivateKey{aliceEd25519}, globalTime: 42, sequence: 1, payload: []byte("full-sync-text")},
	}
}

func goldenVectorByName(t testing.TB, name string) goldenVector {
	t.Helper()
	for _, v := range goldenVectors(t) {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no golden vector %q", name)
	return goldenVector{}
}

// frame returns the vector's frame without signatures.
func (v goldenVector) frame() *conversion.Frame {
	return &conversion.Frame{CommunityVersion: v.version, Community: testCID, Format: v.format,
		ResolutionIndex: v.resolution, GlobalTime: v.globalTime, Sequence: v.sequence, Payload: v.payload}
}

// build encodes and signs the vector.
func (v goldenVector) build(t testing.TB, codec *conversion.Codec) []byte {
	t.Helper()
	var signers []*keys.PrivateKey
	if v.placeholder {
		signers = append(signers, v.members[:len(v.members)-1]...)
		signers = append(signers, nil)
	}
	return signFrame(t, codec, v.frame(), v.members, signers)
}

// spacedHex renders b as "01 02 ab", lines of 16 bytes, each indented.
func spacedHex(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		sb.WriteString("  ")
		for j, c := range line {
			if j > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "%02x", c)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// render writes the vector's block: its inputs, then its packet.
func (v goldenVector) render(pkt []byte) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "=== %s\n", v.name)
	fmt.Fprintf(&sb, "note: %s\n", v.note)
	fmt.Fprintf(&sb, "community: %s (mid of DeriveKey(ed448, %q))\n", testCID, keySeeds[masterKey])
	fmt.Fprintf(&sb, "community version: %d\n", v.version)
	fmt.Fprintf(&sb, "message: id %d %q\n", v.format.ID, v.format.Name)
	fmt.Fprintf(&sb, "policies: %s\n", v.format.Policies)
	enc := policy.Encoding(v.format.Policies.Authentication)
	for i, m := range v.members {
		fmt.Fprintf(&sb, "author %d: DeriveKey(%s, %q), encoded by %s\n", i, m.Scheme(), keySeeds[m], enc)
		fmt.Fprintf(&sb, "  public key: %s\n", m.Public())
		fmt.Fprintf(&sb, "  mid: %s\n", m.ID())
	}
	if _, ok := v.format.Policies.Resolution.(policy.DynamicResolution); ok {
		fmt.Fprintf(&sb, "resolution index: %d\n", v.resolution)
	}
	fmt.Fprintf(&sb, "global time: %d\n", v.globalTime)
	if policy.HasSequence(v.format.Policies.Distribution) {
		fmt.Fprintf(&sb, "sequence number: %d\n", v.sequence)
	}
	if len(v.payload) == 0 {
		sb.WriteString("payload: 0 bytes\n")
	} else {
		fmt.Fprintf(&sb, "payload: %d bytes\n%s", len(v.payload), spacedHex(v.payload))
	}
	body := len(pkt)
	for _, m := range v.members {
		body -= m.Scheme().SignatureSize()
	}
	for i, m := range v.members {
		what := "signs"
		if v.placeholder && i == len(v.members)-1 {
			what = "has not signed (all-zero placeholder) for"
		}
		fmt.Fprintf(&sb, "signature %d: author %d %s bytes 0..%d (%d bytes, %s)\n", i, i, what, body-1, m.Scheme().SignatureSize(), m.Scheme())
	}
	fmt.Fprintf(&sb, "packet: %d bytes\n%s", len(pkt), spacedHex(pkt))
	return sb.String()
}

// parsedBlock is one block of the vector file.
type parsedBlock struct {
	text   string
	packet []byte
}

// parseGolden splits the vector file into blocks by name.
func parseGolden(t *testing.T, data string) (names []string, blocks map[string]parsedBlock) {
	t.Helper()
	blocks = map[string]parsedBlock{}
	var cur string
	var sb strings.Builder
	flush := func() {
		if cur == "" {
			return
		}
		text := sb.String()
		_, hexPart, ok := strings.Cut(text, "\npacket: ")
		if !ok {
			t.Fatalf("%s: vector %q has no packet", goldenFile, cur)
		}
		_, hexPart, _ = strings.Cut(hexPart, "\n")
		pkt, err := hex.DecodeString(strings.Join(strings.Fields(hexPart), ""))
		if err != nil {
			t.Fatalf("%s: vector %q: bad packet hex: %v", goldenFile, cur, err)
		}
		if _, dup := blocks[cur]; dup {
			t.Fatalf("%s: vector %q appears twice", goldenFile, cur)
		}
		blocks[cur] = parsedBlock{text: text, packet: pkt}
		names = append(names, cur)
	}
	for line := range strings.SplitAfterSeq(data, "\n") {
		if name, ok := strings.CutPrefix(line, "=== "); ok {
			flush()
			cur = strings.TrimSpace(name)
			sb.Reset()
		}
		if cur == "" || strings.TrimSpace(line) == "" {
			continue // header comments and blank separators
		}
		sb.WriteString(line)
	}
	flush()
	return names, blocks
}

// TestGolden checks that every vector encodes to the committed packet, that
// the committed packet decodes to the vector's inputs, and that the file
// describes the inputs exactly as the test defines them.
func TestGolden(t *testing.T) {
	codec := goldenCodec(t)
	vecs := goldenVectors(t)

	var want strings.Builder
	want.WriteString(goldenHeader)
	built := map[string][]byte{}
	for _, v := range vecs {
		pkt := v.build(t, codec)
		built[v.name] = pkt
		want.WriteString("\n")
		want.WriteString(v.render(pkt))
	}

	data, err := os.ReadFile(goldenFile)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatalf("reading %s: %v (run with -update to create it)", goldenFile, err)
	}
	names, blocks := parseGolden(t, string(data))

	if *update {
		// Committed vectors are frozen: refuse to change or drop one.
		for _, n := range names {
			pkt, ok := built[n]
			if !ok {
				t.Fatalf("-update would drop committed vector %q: vectors are never removed", n)
			}
			if !bytes.Equal(pkt, blocks[n].packet) {
				t.Fatalf("-update would change committed vector %q: v1 vectors are frozen; a format change needs a new wire version", n)
			}
		}
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, []byte(want.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s with %d vectors (%d new)", goldenFile, len(vecs), len(vecs)-len(names))
		data = []byte(want.String())
		names, blocks = parseGolden(t, string(data))
	}

	if len(names) != len(vecs) {
		t.Errorf("%s has %d vectors, the test defines %d (run with -update to add new ones)", goldenFile, len(names), len(vecs))
	}
	for i, v := range vecs {
		t.Run(v.name, func(t *testing.T) {
			if i < len(names) && names[i] != v.name {
				t.Errorf("vector %d in the file is %q, want %q (vectors are appended, never reordered)", i, names[i], v.name)
			}
			blk, ok := blocks[v.name]
			if !ok {
				t.Fatalf("%s lacks vector %q (run with -update to add it)", goldenFile, v.name)
			}
			// encode == golden
			if !bytes.Equal(built[v.name], blk.packet) {
				t.Fatalf("encoding differs from the golden packet\n got %x\nwant %x", built[v.name], blk.packet)
			}
			// The description in the file matches the inputs.
			if got := v.render(blk.packet); got != blk.text {
				t.Errorf("the file's description differs from the inputs:\n--- file\n%s--- inputs\n%s", blk.text, got)
			}
			// decode(golden) == inputs
			f, err := codec.Decode(blk.packet)
			if err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			want := v.frame()
			want.Packet, want.BodyLen = blk.packet, len(blk.packet)-conversion.SignatureSize(f.Authors)
			enc := policy.Encoding(v.format.Policies.Authentication)
			for _, m := range v.members {
				want.Authors = append(want.Authors, authorFor(m, enc))
			}
			// The signatures: real ones verify, a placeholder is zeros.
			for i, m := range v.members {
				sig := f.Signatures[i]
				if v.placeholder && i == len(v.members)-1 {
					if !conversion.IsEmptySignature(sig) {
						t.Errorf("signature %d is not the all-zero placeholder", i)
					}
				} else if !m.Public().Verify(f.Body(), sig) {
					t.Errorf("signature %d does not verify", i)
				}
				want.Signatures = append(want.Signatures, sig)
			}
			sameFrame(t, f, want)
			if again, err := codec.Encode(f); err != nil || !bytes.Equal(again, blk.packet) {
				t.Errorf("Encode(Decode(golden)) = %x, %v", again, err)
			}
		})
	}
}

// TestGoldenEveryWriterPayload reads the every-writer-method payload back
// with the matching Reader methods.
func TestGoldenEveryWriterPayload(t *testing.T) {
	r := conversion.NewReader(everyWriterPayload())
	var fixed [3]byte
	got := []any{r.Uint8(), r.Bool(), r.Bool(), r.Uint16(), r.Uint32(), r.Uint64(), r.Int64()}
	r.Fixed(fixed[:])
	got = append(got, fixed, string(r.Bytes8()), string(r.Bytes16()), string(r.Bytes32()),
		r.String8(), r.String16(), r.String32())
	n := r.Count8(2)
	got = append(got, n)
	for range n {
		got = append(got, r.Uint16())
	}
	n = r.Count16(1)
	got = append(got, n)
	for range n {
		got = append(got, r.String8())
	}
	got = append(got, r.Count32(1))
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []any{uint8(0xab), true, false, uint16(0x1234), uint32(0xdeadbeef), uint64(0x0102030405060708), int64(-2),
		[3]byte{0xf0, 0xf1, 0xf2}, "b8", "b16", "b32", "s8", "héllo", "s32 ✓", 2, uint16(7), uint16(8), 1, "x", 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if fmt.Sprintf("%T", got[i]) != fmt.Sprintf("%T", want[i]) {
			t.Errorf("value %d is %T, want %T", i, got[i], want[i])
		}
	}
}
