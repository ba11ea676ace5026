package dispersy_test

// Fuzz targets for everything the engine decodes from the network (issue
// #8): one target per payload type defined in this package (the empty
// payload and the signature request and response; the other built-in
// payloads are fuzzed in dispersy/payload), one for the whole receive path
// of an engine, and one for the bloom-filter sync answer. Under plain
// `go test` they run over their seeds (the f.Add values below and the
// corpus in testdata/fuzz/<FuzzName>/); fuzz one at a time with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzEngineReceive$' -fuzztime 10m ./dispersy/
//
// The committed seed files are regenerated (only when the seeds should
// change) with
//
//	go test -run '^TestFuzzWriteSeeds$' -write-fuzz-seeds ./dispersy/
//
// Every target is deterministic: fixed keys, a fixed clock, seeded rngs, a
// fresh engine per input. The properties each target checks are listed in
// its doc comment and in docs/security.md ("Fuzzing").

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/bloom"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

var fzWriteSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite the seed corpus files in testdata/fuzz/ (TestFuzzWriteSeeds)")

// ---------------------------------------------------------------------------
// Payload targets
// ---------------------------------------------------------------------------

// fzSource hands out the bytes of a fuzz input as typed values; once the
// input is used up every value is zero.
type fzSource struct{ b []byte }

func (s *fzSource) take(n int) []byte {
	n = min(n, len(s.b))
	out := s.b[:n]
	s.b = s.b[n:]
	return out
}

func (s *fzSource) u8() uint8 {
	if b := s.take(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

func (s *fzSource) u16() uint16 { return uint16(s.u8())<<8 | uint16(s.u8()) }

// fill copies the next len(dst) bytes into dst (zeros once exhausted).
func (s *fzSource) fill(dst []byte) {
	clear(dst)
	copy(dst, s.take(len(dst)))
}

// blob returns a fresh slice of up to maxLen bytes (length from the input).
func (s *fzSource) blob(maxLen int) []byte {
	n := int(s.u16()) % (maxLen + 1)
	out := make([]byte, n)
	s.fill(out)
	return out
}

// fzBuild builds a payload value from fuzz bytes: the value, the value it
// must decode to after encoding, and whether the wire rules accept it.
type fzBuild[T any] func(s *fzSource) (v, want T, valid bool)

// fzPayload is the body of every FuzzPayload<Name> target. For an input b:
//
//   - DecodePayload(b) never panics and never modifies b; a rejection is a
//     *conversion.DecodeError with a reason from the closed set.
//   - UnmarshalBinary alone is already strict: whatever it accepts,
//     AppendBinary reproduces byte for byte (DecodePayload's own canonical
//     check is only the safety net).
//   - An accepted b re-encodes to b (EncodePayload and AppendBinary onto a
//     non-empty buffer) and decodes again to the same value.
//   - A value built from b that the wire rules accept encodes, and decodes
//     back to itself (normalized as fzSource documents). A value the rules
//     reject does not encode: an encoder never produces bytes every peer
//     drops.
func fzPayload[T encoding.BinaryAppender, PT interface {
	*T
	encoding.BinaryUnmarshaler
}](f *testing.F, mt *dispersy.MessageType[T], good []T, build fzBuild[T]) {
	f.Helper()
	for _, b := range fzPayloadSeeds(f, mt, good) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fzCheckDecode[T, PT](t, mt, in)
		fzCheckBuild(t, mt, build, in)
	})
}

// fzPayloadSeeds returns the encodings of good values and, for each, cuts
// inside it, one trailing byte and the first byte flipped.
func fzPayloadSeeds[T any](tb testing.TB, mt *dispersy.MessageType[T], good []T) [][]byte {
	tb.Helper()
	out := [][]byte{{}, {0}, bytes.Repeat([]byte{0xff}, 64)}
	for _, v := range good {
		b, err := mt.EncodePayload(v)
		if err != nil {
			tb.Fatalf("%s: seed %+v does not encode: %v", mt.Name(), v, err)
		}
		if _, err := mt.DecodePayload(b); err != nil {
			tb.Fatalf("%s: seed %+v does not decode: %v", mt.Name(), v, err)
		}
		out = append(out, b, append(slices.Clone(b), 0))
		for _, n := range []int{1, len(b) / 2, len(b) - 1} {
			if n > 0 && n < len(b) {
				out = append(out, slices.Clone(b[:n]))
			}
		}
		if len(b) > 0 {
			flip := slices.Clone(b)
			flip[0] ^= 0xff
			out = append(out, flip)
		}
	}
	return out
}

func fzCheckDecode[T encoding.BinaryAppender, PT interface {
	*T
	encoding.BinaryUnmarshaler
}](t *testing.T, mt *dispersy.MessageType[T], in []byte) {
	t.Helper()
	orig := slices.Clone(in)
	v, err := mt.DecodePayload(in)
	var raw T
	rawErr := PT(&raw).UnmarshalBinary(in)
	if !bytes.Equal(in, orig) {
		t.Fatal("decoding modified its input")
	}
	if err != nil {
		var de *conversion.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("%s: rejection is %T, not a *conversion.DecodeError: %v", mt.Name(), err, err)
		}
		if de.Reason == conversion.ReasonNone || !slices.Contains(conversion.Reasons(), de.Reason) {
			t.Fatalf("%s: rejection with reason %v outside the closed set: %v", mt.Name(), de.Reason, err)
		}
		if rawErr == nil {
			again, aerr := raw.AppendBinary(nil)
			t.Fatalf("%s: UnmarshalBinary accepts %x, which is not canonical (re-encodes to %x, %v): %v", mt.Name(), in, again, aerr, err)
		}
		return
	}
	if rawErr != nil {
		t.Fatalf("%s: DecodePayload accepts %x but UnmarshalBinary rejects it: %v", mt.Name(), in, rawErr)
	}
	enc, err := mt.EncodePayload(v)
	if err != nil || !bytes.Equal(enc, in) {
		t.Fatalf("%s: accepted %x re-encodes to %x (%v)", mt.Name(), in, enc, err)
	}
	prefix := []byte("prefix")
	app, err := v.AppendBinary(prefix[:len(prefix):len(prefix)])
	if err != nil || !bytes.Equal(app, append([]byte("prefix"), in...)) || string(prefix) != "prefix" {
		t.Fatalf("%s: AppendBinary onto a buffer gives %x (%v), want prefix+%x", mt.Name(), app, err, in)
	}
	again, err := mt.DecodePayload(enc)
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("%s: decoding %x twice gives %+v (%v), then %+v", mt.Name(), in, v, err, again)
	}
}

func fzCheckBuild[T any](t *testing.T, mt *dispersy.MessageType[T], build fzBuild[T], in []byte) {
	t.Helper()
	v, want, valid := build(&fzSource{b: in})
	enc, err := mt.EncodePayload(v)
	if !valid {
		if err == nil {
			_, derr := mt.DecodePayload(enc)
			t.Fatalf("%s: EncodePayload accepts the invalid value %+v; its bytes %x do not decode (%v), so every peer would drop the message", mt.Name(), v, enc, derr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: EncodePayload(%+v): %v", mt.Name(), v, err)
	}
	got, err := mt.DecodePayload(enc)
	if err != nil {
		t.Fatalf("%s: %+v encodes to %x, which does not decode: %v", mt.Name(), v, enc, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: round trip of %+v through %x gives %+v, want %+v", mt.Name(), v, enc, got, want)
	}
}

// Realistic values for the seeds.
var (
	fzX      = keys.DeriveKey(keys.Ed25519, []byte("fuzz member X"))
	fzY      = keys.DeriveKey(keys.Ed25519, []byte("fuzz member Y"))
	fzZ      = keys.DeriveKey(keys.Ed448, []byte("fuzz member Z"))
	fzVictim = keys.DeriveKey(keys.Ed25519, []byte("fuzz victim"))
	fzMaster = dt.DebugMaster

	fzAddrX    = netip.MustParseAddrPort("10.9.0.1:9000")
	fzAddrV6   = netip.MustParseAddrPort("[2001:db8::9]:9009")
	fzAddrSelf = netip.MustParseAddrPort("10.0.0.1:7000") // the victim's LocalAddr
	fzAddrMap  = netip.MustParseAddrPort("[::ffff:10.9.0.2]:9002")
	fzSources  = [4]netip.AddrPort{fzAddrX, fzAddrV6, fzAddrSelf, fzAddrMap}
)

func fzGoodSync() *dispersy.SyncRequest {
	f, _ := bloom.New(8*64, 3, 0xC0FFEE)
	f.Add([bloom.KeySize]byte{1, 2, 3})
	return &dispersy.SyncRequest{Low: 1, High: 0, Modulo: 1, Offset: 0, K: 3, Salt: 0xC0FFEE, Bloom: f.Bytes()}
}

// FuzzPayloadEmpty checks the Empty payload's decoder and encoder (see fzPayload).
func FuzzPayloadEmpty(f *testing.F) {
	fzPayload(f, dispersy.IdentityType, []dispersy.Empty{{}}, func(*fzSource) (v, want dispersy.Empty, ok bool) {
		return dispersy.Empty{}, dispersy.Empty{}, true
	})
}

// fzInnerPacket is a double-signed debug message with an empty second
// signature, as a signature request carries it.
func fzInnerPacket() []byte {
	w := fzTheWorld()
	return fzPlaceholder(w.craft(dt.DoubleText, 40, 0, []byte("\x00\x0aAllow=True"), nil, fzX, fzY), fzY)
}

// FuzzPayloadSignatureRequest checks the SignatureRequest payload's decoder and encoder (see fzPayload).
func FuzzPayloadSignatureRequest(f *testing.F) {
	fzPayload(f, dispersy.SignatureRequestType, []dispersy.SignatureRequest{
		{Identifier: 0x1234, Packet: fzInnerPacket()},
		{Packet: make([]byte, conversion.HeaderSize)},
	}, func(s *fzSource) (v, want dispersy.SignatureRequest, ok bool) {
		v = dispersy.SignatureRequest{Identifier: s.u16(), Packet: s.blob(1400)}
		return v, v, len(v.Packet) >= conversion.HeaderSize
	})
}

// FuzzPayloadSignatureResponse checks the SignatureResponse payload's decoder and encoder (see fzPayload).
func FuzzPayloadSignatureResponse(f *testing.F) {
	fzPayload(f, dispersy.SignatureResponseType, []dispersy.SignatureResponse{
		{Identifier: 0x1234, Packet: fzInnerPacket()},
		{Identifier: math.MaxUint16, Packet: make([]byte, conversion.HeaderSize)},
	}, func(s *fzSource) (v, want dispersy.SignatureResponse, ok bool) {
		v = dispersy.SignatureResponse{Identifier: s.u16(), Packet: s.blob(1400)}
		return v, v, len(v.Packet) >= conversion.HeaderSize
	})
}

// ---------------------------------------------------------------------------
// The engine world: a victim engine with a populated store
// ---------------------------------------------------------------------------

// fzNow is the fixed time of every engine target.
var fzNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fzRecStore is a MemStore that records every batch it commits, so another
// MemStore can be brought to the same state without signature checks.
type fzRecStore struct {
	*dt.MemStore
	batches []dispersy.Batch
}

// Apply implements dispersy.Store.
func (s *fzRecStore) Apply(b *dispersy.Batch) error {
	cp := fzCloneBatch(b)
	if err := s.MemStore.Apply(b); err != nil {
		return err
	}
	s.batches = append(s.batches, cp)
	return nil
}

func fzCloneBatch(b *dispersy.Batch) dispersy.Batch {
	out := dispersy.Batch{Ops: slices.Clone(b.Ops)}
	for i := range out.Ops {
		op := &out.Ops[i]
		op.Record.Packet = slices.Clone(op.Record.Packet)
		op.Member.PublicKey = slices.Clone(op.Member.PublicKey)
		op.Member.PrivateKey = slices.Clone(op.Member.PrivateKey)
		op.CommunityRecord.Master = slices.Clone(op.CommunityRecord.Master)
		op.Types = slices.Clone(op.Types)
		op.KeepKeys = slices.Clone(op.KeepKeys)
		op.Value = slices.Clone(op.Value)
	}
	return out
}

// fzWorld is the state every engine target starts from: the victim's store
// (as the batches that built it), the debug community's codec, and the
// packets the store holds.
type fzWorld struct {
	batches []dispersy.Batch
	cid     keys.CommunityID
	codec   *conversion.Codec
	conv    *conversion.Conversion
	// prefix is a valid header up to the message id: wire version,
	// community version, community id.
	prefix []byte
	// known are the hashes of the template's stored records (checked once,
	// when the world is built).
	known map[dispersy.Hash]bool
	// fed are the packets the victim received to build its store.
	fed [][]byte
	// stored is how many records the store holds.
	stored int
	// gt is the victim's global time; protectedX and protectedZ the global
	// times of X's and Z's protected texts.
	gt, protectedX, protectedZ uint64
	// undone is the global time of X's text that X undid; seq2 the global
	// time of X's sequence-text number 2.
	undone, seq2 uint64
	// specs are the community's message types by id; decoders their
	// payload decoders.
	specs    map[uint8]dispersy.MessageSpec
	decoders map[uint8]func([]byte) error
}

var (
	fzWorldOnce sync.Once
	fzWorldVal  *fzWorld
	fzWorldErr  error
)

// fzTheWorld builds the world once per process.
func fzTheWorld() *fzWorld {
	fzWorldOnce.Do(func() { fzWorldVal, fzWorldErr = fzBuildWorld() })
	if fzWorldErr != nil {
		panic(fmt.Sprintf("building the fuzz world: %v", fzWorldErr))
	}
	return fzWorldVal
}

// fzConfig is the victim's configuration.
func fzConfig() dispersy.Config {
	cfg := dispersy.DefaultConfig()
	cfg.LocalAddr = fzAddrSelf
	cfg.Rand = rand.New(rand.NewPCG(8, 8))
	return cfg
}

func fzDecoder[T any](mt *dispersy.MessageType[T]) func([]byte) error {
	return func(b []byte) error { _, err := mt.DecodePayload(b); return err }
}

func fzBuildWorld() (*fzWorld, error) {
	w := &fzWorld{known: map[dispersy.Hash]bool{}, specs: map[uint8]dispersy.MessageSpec{}, decoders: map[uint8]func([]byte) error{}}
	for _, mt := range dt.DebugTypes {
		w.decoders[mt.ID()] = fzDecoder(mt)
	}
	for id, d := range map[uint8]func([]byte) error{
		dispersy.IDIdentity: fzDecoder(dispersy.IdentityType), dispersy.IDMissingIdentity: fzDecoder(dispersy.MissingIdentityType),
		dispersy.IDMissingSequence: fzDecoder(dispersy.MissingSequenceType), dispersy.IDMissingMessage: fzDecoder(dispersy.MissingMessageType),
		dispersy.IDIntroductionRequest: fzDecoder(dispersy.IntroductionRequestType), dispersy.IDIntroductionResponse: fzDecoder(dispersy.IntroductionResponseType),
		dispersy.IDPunctureRequest: fzDecoder(dispersy.PunctureRequestType), dispersy.IDPuncture: fzDecoder(dispersy.PunctureType),
		dispersy.IDAuthorize: fzDecoder(dispersy.AuthorizeType), dispersy.IDRevoke: fzDecoder(dispersy.RevokeType),
		dispersy.IDUndoOwn: fzDecoder(dispersy.UndoOwnType), dispersy.IDUndoOther: fzDecoder(dispersy.UndoOtherType),
		dispersy.IDDestroyCommunity: fzDecoder(dispersy.DestroyCommunityType), dispersy.IDDynamicSettings: fzDecoder(dispersy.DynamicSettingsType),
		dispersy.IDMissingProof: fzDecoder(dispersy.MissingProofType), dispersy.IDSignatureRequest: fzDecoder(dispersy.SignatureRequestType),
		dispersy.IDSignatureResponse: fzDecoder(dispersy.SignatureResponseType),
	} {
		w.decoders[id] = d
	}

	rs := &fzRecStore{MemStore: dt.NewMemStore()}
	eng, err := dispersy.NewEngine(fzConfig(), fzVictim, rs)
	if err != nil {
		return nil, err
	}
	eng.SetTime(fzNow)
	c, err := eng.Join(dt.NewDebugCommunity())
	if err != nil {
		return nil, err
	}
	eng.Ready()
	w.cid = c.ID()
	w.codec = c.Codec()
	w.conv = w.codec.Newest()
	w.prefix = append([]byte{conversion.WireVersion, w.conv.Version()}, w.cid[:]...)
	for _, s := range c.Types() {
		w.specs[s.ID] = s
		if w.decoders[s.ID] == nil {
			return nil, fmt.Errorf("no payload decoder for message %q (%d): add it to fzBuildWorld", s.Name, s.ID)
		}
	}

	// The packets: identities, a master authorize, texts of every synced
	// debug type by three members (one Ed448), sequences, a double-signed
	// last-sync text and an undo. Global times are unique per member.
	gt := uint64(1)
	next := func() uint64 { gt++; return gt }
	text := func(n int, tag string) []byte {
		s := strings.Repeat(tag, n/len(tag)+1)[:n]
		p, _ := dt.FullSyncText.EncodePayload(dt.Text{Text: s})
		return p
	}
	var pkts [][]byte
	add := func(p []byte) { pkts = append(pkts, p) }
	for _, k := range []*keys.PrivateKey{fzX, fzY, fzZ} {
		add(w.craft(dispersy.IdentityType, 2, 0, nil, nil, k))
	}
	grants := append(dispersy.Grants(fzX.Public(), dispersy.Permit|dispersy.PermUndo, dt.ProtectedText, dt.DynamicText),
		dispersy.Grants(fzZ.Public(), dispersy.Permit, dt.ProtectedText)...)
	auth, err := dispersy.AuthorizeType.EncodePayload(dispersy.Authorize{Grants: grants})
	if err != nil {
		return nil, err
	}
	add(w.craft(dispersy.AuthorizeType, next(), 1, auth, nil, fzMaster))
	for i := range 24 {
		g := next()
		if i == 3 {
			w.undone = g
		}
		add(w.craft(dt.FullSyncText, g, 0, text(10+i*13%300, "x"), nil, fzX))
	}
	for i := range 3 {
		g := next()
		if i == 1 {
			w.seq2 = g
		}
		add(w.craft(dt.SequenceText, g, uint32(i+1), text(20, "seq"), nil, fzX))
	}
	for i := range 3 {
		add(w.craft(dt.Last9Text, next(), 0, text(30+i, "l9"), nil, fzX))
	}
	add(w.craft(dt.Last1Text, next(), 0, text(12, "l1"), nil, fzX))
	add(w.craft(dt.IDText, next(), 0, text(40, "id"), nil, fzX))
	w.protectedX = next()
	add(w.craft(dt.ProtectedText, w.protectedX, 0, text(16, "protected"), nil, fzX))
	add(w.craft(dt.DynamicText, next(), 0, text(16, "dynamic"), nil, fzX))
	add(w.craft(dt.ZeroPushText, next(), 0, text(8, "zero"), nil, fzX))
	undo, _ := dispersy.UndoOwnType.EncodePayload(dispersy.UndoOwn{GlobalTime: w.undone})
	add(w.craft(dispersy.UndoOwnType, next(), 1, undo, nil, fzX))
	for i := range 16 {
		add(w.craft(dt.DESCText, next(), 0, text(5+i*29%200, "desc"), nil, fzY))
		add(w.craft(dt.RandomText, next(), 0, text(5+i*31%250, "rnd"), nil, fzY))
	}
	for _, mt := range []*dispersy.MessageType[dt.Text]{dt.HighText, dt.MediumText, dt.LowText, dt.ASCText} {
		add(w.craft(mt, next(), 0, text(50, mt.Name()), nil, fzY))
	}
	for i := range 12 {
		add(w.craft(dt.FullSyncText, next(), 0, text(20+i*7, "ed448"), nil, fzZ))
	}
	add(w.craft(dt.PrunedText, next(), 0, text(10, "pruned-old"), nil, fzZ))
	w.protectedZ = next()
	add(w.craft(dt.ProtectedText, w.protectedZ, 0, text(10, "z-protected"), nil, fzZ))
	add(w.craft(dt.Last1DoubleText, next(), 0, text(24, "double"), nil, fzX, fzY))
	add(w.craft(dt.PrunedText, next(), 0, text(10, "pruned-new"), nil, fzZ))
	w.gt = gt

	var ds []dispersy.Datagram
	for i, p := range pkts {
		ds = append(ds, dispersy.Datagram{Addr: fzSources[i%2], Data: p})
	}
	if err := eng.ReceiveBatch(fzNow, ds); err != nil {
		return nil, err
	}
	eng.Ready()
	w.fed = pkts
	st := eng.Stats()
	if st.DroppedTotal() != 0 || st.Delayed != st.Resumed || st.Stored != uint64(len(pkts))+1 {
		return nil, fmt.Errorf("the world's packets were not all accepted:\n%s", st.String())
	}
	w.batches = rs.batches
	err = rs.MemStore.Replay(w.cid, fzAllIDs(), func(r *dispersy.Record) bool {
		w.known[r.Hash] = true
		w.stored++
		return true
	})
	return w, err
}

func fzAllIDs() []uint8 {
	out := make([]uint8, 0, 255)
	for id := 1; id <= 255; id++ {
		out = append(out, uint8(id))
	}
	return out
}

// craft builds a packet of message type mt at global time gt with the raw
// payload. The signers sign the whole body in order (see fzPlaceholder for
// a missing second signature); with no signers the type must be unsigned.
// ri is the resolution index (nil: 0).
func (w *fzWorld) craft(mt dispersy.AnyMessageType, gt uint64, seq uint32, payload []byte, ri *uint8, signers ...*keys.PrivateKey) []byte {
	f := &conversion.Frame{CommunityVersion: w.conv.Version(), Community: w.cid, Format: w.conv.Format(mt.Spec().ID), GlobalTime: gt, Sequence: seq, Payload: payload}
	if f.Format == nil {
		panic(fmt.Sprintf("no format for %q", mt.Spec().Name))
	}
	if ri != nil {
		f.ResolutionIndex = *ri
	}
	for _, s := range signers {
		f.Authors = append(f.Authors, conversion.AuthorOf(s.Public()))
	}
	body, err := conversion.AppendBody(nil, w.conv, w.cid, f)
	if err != nil {
		panic(fmt.Sprintf("craft %q: %v", mt.Spec().Name, err))
	}
	pkt := slices.Clone(body)
	for _, s := range signers {
		pkt = s.AppendSign(pkt, body)
	}
	return pkt
}

// fzPlaceholder replaces the last signature of pkt, made by k, with the
// all-zero placeholder of a double-signed message waiting for it.
func fzPlaceholder(pkt []byte, k *keys.PrivateKey) []byte {
	out := slices.Clone(pkt)
	clear(out[len(out)-k.Public().SignatureSize():])
	return out
}

// engine returns a fresh victim engine on a copy of the world's store.
func (w *fzWorld) engine(tb testing.TB, adjust func(*dispersy.Config)) (*dispersy.Engine, *dispersy.Community, *dt.MemStore) {
	tb.Helper()
	st := dt.NewMemStore()
	for i := range w.batches {
		if err := st.Apply(&w.batches[i]); err != nil {
			tb.Fatalf("restoring the world's store: %v", err)
		}
	}
	cfg := fzConfig()
	if adjust != nil {
		adjust(&cfg)
	}
	eng, err := dispersy.NewEngine(cfg, fzVictim, st)
	if err != nil {
		tb.Fatal(err)
	}
	eng.SetTime(fzNow)
	c, err := eng.Join(dt.NewDebugCommunity())
	if err != nil {
		tb.Fatal(err)
	}
	if out := eng.Ready(); len(out) != 0 {
		tb.Fatalf("joining the restored community sent %d datagrams", len(out))
	}
	return eng, c, st
}

// fzMemberKey returns a member's public key from the store, or nil.
func fzMemberKey(st dispersy.Store, id keys.MemberID) *keys.PublicKey {
	rec, ok, err := st.Member(id)
	if err != nil || !ok || rec.PublicKey == nil {
		return nil
	}
	k, err := keys.ParsePublicKey(rec.PublicKey)
	if err != nil {
		return nil
	}
	return k
}

// checkPacket decodes pkt completely (frame, payload) and verifies its
// signatures; an all-zero signature is allowed for author allowEmpty (-1:
// none). It returns the frame.
func (w *fzWorld) checkPacket(t *testing.T, st dispersy.Store, what string, pkt []byte, allowEmpty int) *conversion.Frame {
	t.Helper()
	f, err := w.codec.Decode(pkt)
	if err != nil {
		t.Fatalf("%s %x does not decode: %v", what, pkt, err)
	}
	if err := w.decoders[f.MessageID()](f.Payload); err != nil {
		t.Fatalf("%s (%s) has a payload that does not decode: %v", what, w.specs[f.MessageID()].Name, err)
	}
	for i, a := range f.Authors {
		k := a.Key
		if k == nil {
			k = fzMemberKey(st, a.ID)
		}
		if k == nil {
			t.Fatalf("%s (%s): author %d (%s) is unknown", what, w.specs[f.MessageID()].Name, i, a.ID)
		}
		if i == allowEmpty && conversion.IsEmptySignature(f.Signatures[i]) {
			continue
		}
		n := f.BodyLen
		if i == 0 && f.MessageID() == dt.DoubleSplitText.ID() {
			cut := len(f.Payload)
			if j := bytes.LastIndexByte(f.Payload, ','); j >= 0 {
				cut = j + 1
			}
			n = f.BodyLen - len(f.Payload) + cut
		}
		if !k.Verify(f.Packet[:n], f.Signatures[i]) {
			t.Fatalf("%s (%s): signature %d does not verify", what, w.specs[f.MessageID()].Name, i)
		}
	}
	return f
}

// checkStore checks the store's invariants: every record belongs to the
// community, hashes to its Hash, is of a synced type, decodes (frame and
// payload) to its own fields, and verifies; last-sync types keep at most
// HistorySize messages per member (pair); sequence numbers are gapless
// from 1 per member and type (unless the community was destroyed, which
// keeps only the destroy message and its proofs).
func (w *fzWorld) checkStore(t *testing.T, st *dt.MemStore, c *dispersy.Community) {
	t.Helper()
	type histKey struct {
		id     uint8
		m1, m2 keys.MemberID
	}
	history := map[histKey]int{}
	seqs := map[histKey][]uint32{}
	var recs []dispersy.Record
	err := st.Replay(w.cid, fzAllIDs(), func(r *dispersy.Record) bool {
		rr := *r
		rr.Packet = slices.Clone(r.Packet)
		recs = append(recs, rr)
		return true
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	for _, r := range recs {
		if r.Community != w.cid || dispersy.PacketHash(r.Packet) != r.Hash {
			t.Fatalf("record %s@%d: wrong community or hash", r.Member, r.GlobalTime)
		}
		spec, ok := w.specs[r.MessageID]
		if !ok || !policy.Synced(spec.Distribution) {
			t.Fatalf("record %s@%d has message id %d, which is not a synced type", r.Member, r.GlobalTime, r.MessageID)
		}
		if !w.known[r.Hash] {
			f := w.checkPacket(t, st, "stored record", r.Packet, -1)
			if f.MessageID() != r.MessageID || f.GlobalTime != r.GlobalTime || f.Sequence != r.Sequence || len(f.Authors) == 0 || f.Authors[0].ID != r.Member {
				t.Fatalf("stored record (%s, gt %d, seq %d, member %s) disagrees with its packet (%s, gt %d, seq %d)",
					spec.Name, r.GlobalTime, r.Sequence, r.Member, w.specs[f.MessageID()].Name, f.GlobalTime, f.Sequence)
			}
			if len(f.Authors) == 2 && f.Authors[1].ID != r.Member2 || len(f.Authors) == 1 && r.Member2 != (keys.MemberID{}) {
				t.Fatalf("stored record %s@%d: Member2 %s disagrees with its packet", r.Member, r.GlobalTime, r.Member2)
			}
		}
		m1, m2 := r.Member, r.Member2
		if bytes.Compare(m2[:], m1[:]) < 0 && r.Double() {
			m1, m2 = m2, m1
		}
		if l, ok := spec.Distribution.(policy.LastSyncDistribution); ok {
			k := histKey{r.MessageID, m1, m2}
			if history[k]++; history[k] > int(l.HistorySize) {
				t.Fatalf("%s keeps %d messages of %s, history size %d", spec.Name, history[k], r.Member, l.HistorySize)
			}
		}
		if policy.HasSequence(spec.Distribution) {
			k := histKey{id: r.MessageID, m1: r.Member}
			seqs[k] = append(seqs[k], r.Sequence)
		}
	}
	if c.Destroyed() {
		return
	}
	for k, ss := range seqs {
		slices.Sort(ss)
		for i, s := range ss {
			if s != uint32(i+1) {
				t.Fatalf("member %s has sequence numbers %v of %s: not gapless from 1", k.m1, ss, w.specs[k.id].Name)
			}
		}
	}
}

// checkOutbound checks every datagram the engine produced: a usable
// address, within the datagram budget, a packet of the community that
// decodes and verifies (a signature request carries a packet whose second
// signature is still empty).
func (w *fzWorld) checkOutbound(t *testing.T, eng *dispersy.Engine, st dispersy.Store, out []dispersy.Datagram) {
	t.Helper()
	for i, d := range out {
		if !d.Addr.IsValid() || d.Addr.Port() == 0 {
			t.Fatalf("datagram %d goes to the unusable address %v", i, d.Addr)
		}
		if len(d.Data) > eng.Config().MaxDatagram {
			t.Fatalf("datagram %d is %d bytes, over MaxDatagram %d", i, len(d.Data), eng.Config().MaxDatagram)
		}
		f := w.checkPacket(t, st, fmt.Sprintf("datagram %d", i), d.Data, -1)
		if f.MessageID() == dispersy.IDSignatureRequest {
			req, _ := dispersy.SignatureRequestType.DecodePayload(f.Payload)
			w.checkPacket(t, st, "signature request's packet", req.Packet, 1)
		}
	}
}

// ---------------------------------------------------------------------------
// FuzzEngineReceive
// ---------------------------------------------------------------------------

// Fuzz input modes of FuzzEngineReceive (the mode byte).
const (
	fzFrameMask   = 0x03 // bits 0-1: how data becomes a datagram
	fzFrameRaw    = 0    // data is the datagram
	fzFramePrefix = 1    // valid prefix + data (signer 1, 2: wrapped, see datagram)
	fzFrameSign1  = 2    // valid prefix + data + one signature
	fzFrameSign2  = 3    // valid prefix + data + two signatures
	fzSignerShift = 2    // bits 2-3: who signs
	fzSourceShift = 4    // bits 4-5: the source address
	fzTwice       = 0x40 // deliver the datagram twice
	fzNoAmplify   = 0x80 // AmplificationFactor 0
)

var (
	fzSigners1 = [4]*keys.PrivateKey{fzX, fzZ, fzMaster, fzVictim}
	fzSigners2 = [4][2]*keys.PrivateKey{{fzX, fzY}, {fzY, fzX}, {fzX, fzZ}, {fzMaster, fzX}}
)

// datagram turns a fuzz input into the datagram to deliver. In the prefix
// framing, signer selections 1 and 2 wrap the packet in a signature
// request to the victim instead: prefix + data is the body of a
// double-signed packet that X (1) or Z (2) signed first, with the
// placeholder for the victim's signature; the mutated payload reaches the
// AllowSignature path.
func (w *fzWorld) datagram(mode uint8, data []byte) []byte {
	frame := mode & fzFrameMask
	if frame == fzFrameRaw {
		return data
	}
	body := append(slices.Clone(w.prefix), data...)
	sel := (mode >> fzSignerShift) & 3
	switch frame {
	case fzFrameSign1:
		return fzSigners1[sel].AppendSign(body, body)
	case fzFrameSign2:
		pkt := fzSigners2[sel][0].AppendSign(slices.Clone(body), body)
		return fzSigners2[sel][1].AppendSign(pkt, body)
	}
	if sel == 1 || sel == 2 {
		creator := fzX
		if sel == 2 {
			creator = fzZ
		}
		inner := creator.AppendSign(body, body)
		inner = append(inner, make([]byte, fzVictim.Public().SignatureSize())...)
		var p []byte
		p = binary.BigEndian.AppendUint16(p, 9)
		return w.craft(dispersy.SignatureRequestType, 1, 0, append(p, inner...), nil)
	}
	return body
}

// seedData inverts datagram for a valid packet: the data that, with the
// given mode, reproduces pkt.
func (w *fzWorld) seedData(mode uint8, pkt []byte) []byte {
	switch mode & fzFrameMask {
	case fzFrameRaw:
		return pkt
	case fzFramePrefix:
		return pkt[len(w.prefix):]
	}
	f, err := w.codec.Decode(pkt)
	if err != nil {
		panic(err)
	}
	return pkt[len(w.prefix):f.BodyLen]
}

// fzRun is what one delivery produced.
type fzRun struct {
	out   []dispersy.Datagram
	stats dispersy.Stats
	store []dispersy.Hash
}

// receive delivers the datagram to a fresh victim and checks the engine's
// promises: no error, Received counts every datagram, timers run without
// error, every datagram sent decodes, and the store stays consistent.
//
// viaVerifier hands the datagram over as a Node does: checked by the
// engine's Verifier, then ReceiveInbound (pre-verified packets skip the
// engine's own decoding and signature checks).
func (w *fzWorld) receive(t *testing.T, mode uint8, pkt []byte, viaVerifier bool) fzRun {
	t.Helper()
	eng, c, st := w.engine(t, func(cfg *dispersy.Config) {
		if mode&fzNoAmplify != 0 {
			cfg.AmplificationFactor = 0
		}
	})
	from := fzSources[(mode>>fzSourceShift)&3]
	n := 1
	if mode&fzTwice != 0 {
		n = 2
	}
	before := eng.Stats()
	var out []dispersy.Datagram
	for range n {
		var err error
		if viaVerifier {
			in := []dispersy.Inbound{{Addr: from, Data: slices.Clone(pkt)}}
			eng.Verifier().Check(&in[0])
			err = eng.ReceiveInbound(fzNow, in)
		} else {
			err = eng.Receive(fzNow, from, slices.Clone(pkt))
		}
		if err != nil {
			t.Fatalf("Receive returned an error (errors are for local failures only): %v", err)
		}
		out = append(out, eng.Ready()...)
	}
	after := eng.Stats()
	if after.Received != before.Received+uint64(n) || after.ReceivedBytes != before.ReceivedBytes+uint64(n*len(pkt)) {
		t.Fatalf("Received went from %d to %d (bytes %d to %d) for %d datagrams of %d bytes",
			before.Received, after.Received, before.ReceivedBytes, after.ReceivedBytes, n, len(pkt))
	}
	for _, d := range []time.Duration{time.Second, 6 * time.Second, time.Minute, 10 * time.Minute} {
		if err := eng.Tick(fzNow.Add(d)); err != nil {
			t.Fatalf("Tick(+%v): %v", d, err)
		}
		out = append(out, eng.Ready()...)
	}
	w.checkOutbound(t, eng, st, out)
	w.checkStore(t, st, c)
	run := fzRun{out: out, stats: eng.Stats()}
	_ = st.Replay(w.cid, fzAllIDs(), func(r *dispersy.Record) bool {
		run.store = append(run.store, r.Hash)
		return true
	})
	return run
}

// FuzzEngineReceive feeds one engine (MemStore, debug community joined,
// ~100 stored messages of every synced debug type by three members, a
// master authorize, an undo) one fuzz datagram. The mode byte frames the
// data (raw; after a valid header prefix; re-signed by one or two known
// members, so mutated payloads get past the signature check), picks the
// signers, the source address, whether the datagram arrives twice and
// whether anti-amplification is on. The engine must never panic, never
// return an error, count the datagram, keep its store consistent
// (fzWorld.checkStore), send only packets that decode and verify, and do
// all of it deterministically: a second fresh engine fed the same input
// the way a Node feeds it (through the Verifier and ReceiveInbound) sends
// the same bytes, counts the same and stores the same.
func FuzzEngineReceive(f *testing.F) {
	w := fzTheWorld()
	for _, s := range w.receiveSeeds() {
		f.Add(s.mode, s.data)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		pkt := w.datagram(mode, data)
		a := w.receive(t, mode, pkt, false)
		b := w.receive(t, mode, pkt, true)
		if !slices.EqualFunc(a.out, b.out, func(x, y dispersy.Datagram) bool { return x.Addr == y.Addr && bytes.Equal(x.Data, y.Data) }) {
			t.Fatalf("Receive and Verifier+ReceiveInbound (or two runs) differ: %d and %d datagrams sent", len(a.out), len(b.out))
		}
		if a.stats != b.stats {
			t.Fatalf("Receive and Verifier+ReceiveInbound (or two runs) differ in statistics:\n%s\nvs\n%s", a.stats.String(), b.stats.String())
		}
		if !slices.Equal(a.store, b.store) {
			t.Fatal("Receive and Verifier+ReceiveInbound (or two runs) leave different stores")
		}
	})
}

// fzSeed is one FuzzEngineReceive input.
type fzSeed struct {
	name string
	mode uint8
	data []byte
}

// receiveSeeds returns valid packets of every built-in type and of the
// debug types, each in the mode that reproduces it, plus a few raw and
// prefixed oddities.
func (w *fzWorld) receiveSeeds() []fzSeed {
	var out []fzSeed
	gt := w.gt + 1
	add := func(name string, mode uint8, pkt []byte) {
		out = append(out, fzSeed{name: name, mode: mode, data: w.seedData(mode, pkt)})
	}
	sign1 := func(signer int) uint8 { return fzFrameSign1 | uint8(signer)<<fzSignerShift }
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic(err)
		}
		return b
	}
	textPayload := func(s string) []byte { return must(dt.FullSyncText.EncodePayload(dt.Text{Text: s})) }
	intro := dispersy.IntroductionRequest{Destination: fzAddrSelf, SourceLAN: fzAddrX, SourceWAN: fzAddrX, Advice: true, Identifier: 7, Sync: fzGoodSync()}
	add("intro-request-sync", sign1(0)|fzNoAmplify, w.craft(dispersy.IntroductionRequestType, 1, 0, must(dispersy.IntroductionRequestType.EncodePayload(intro)), nil, fzX))
	intro.Sync, intro.Advice = nil, false
	add("intro-request-ed448", sign1(1)|1<<fzSourceShift, w.craft(dispersy.IntroductionRequestType, 1, 0, must(dispersy.IntroductionRequestType.EncodePayload(intro)), nil, fzZ))
	resp := dispersy.IntroductionResponse{Destination: fzAddrSelf, SourceLAN: fzAddrX, SourceWAN: fzAddrX, IntroducedLAN: netip.MustParseAddrPort("10.9.0.3:9003"), Identifier: 7, Sync: fzGoodSync()}
	add("intro-response", sign1(0), w.craft(dispersy.IntroductionResponseType, 1, 0, must(dispersy.IntroductionResponseType.EncodePayload(resp)), nil, fzX))
	add("puncture-request", fzFramePrefix, w.craft(dispersy.PunctureRequestType, 1, 0, must(dispersy.PunctureRequestType.EncodePayload(dispersy.PunctureRequest{WalkerLAN: netip.MustParseAddrPort("10.9.0.3:9003"), WalkerWAN: netip.MustParseAddrPort("203.0.113.7:40000"), Identifier: 3})), nil))
	add("puncture", sign1(0), w.craft(dispersy.PunctureType, 1, 0, must(dispersy.PunctureType.EncodePayload(dispersy.Puncture{SourceLAN: fzAddrX, SourceWAN: fzAddrX, Identifier: 3})), nil, fzX))
	add("missing-identity", fzFramePrefix, w.craft(dispersy.MissingIdentityType, 1, 0, must(dispersy.MissingIdentityType.EncodePayload(dispersy.MissingIdentity{Member: fzX.ID()})), nil))
	add("missing-sequence", fzFramePrefix|fzNoAmplify, w.craft(dispersy.MissingSequenceType, 1, 0, must(dispersy.MissingSequenceType.EncodePayload(dispersy.MissingSequence{Member: fzX.ID(), MessageID: dt.SequenceText.ID(), Low: 1, High: 3})), nil))
	add("missing-message", fzFramePrefix|fzNoAmplify, w.craft(dispersy.MissingMessageType, 1, 0, must(dispersy.MissingMessageType.EncodePayload(dispersy.MissingMessage{Member: fzX.ID(), GlobalTimes: []uint64{3, 4, 5, 999}})), nil))
	add("missing-proof", fzFramePrefix|fzNoAmplify, w.craft(dispersy.MissingProofType, 1, 0, must(dispersy.MissingProofType.EncodePayload(dispersy.MissingProof{Member: fzX.ID(), GlobalTime: w.protectedX})), nil))
	add("identity", sign1(0), w.craft(dispersy.IdentityType, gt, 0, nil, nil, fzX))
	add("authorize", sign1(2), w.craft(dispersy.AuthorizeType, gt, 2, must(dispersy.AuthorizeType.EncodePayload(dispersy.Authorize{Grants: dispersy.Grants(fzY.Public(), dispersy.Permit, dt.ProtectedText)})), nil, fzMaster))
	add("revoke", sign1(2), w.craft(dispersy.RevokeType, gt, 1, must(dispersy.RevokeType.EncodePayload(dispersy.Revoke{Grants: dispersy.Grants(fzX.Public(), dispersy.Permit, dt.ProtectedText)})), nil, fzMaster))
	add("undo-own", sign1(0), w.craft(dispersy.UndoOwnType, gt, 2, must(dispersy.UndoOwnType.EncodePayload(dispersy.UndoOwn{GlobalTime: 5})), nil, fzX))
	add("undo-other", sign1(0), w.craft(dispersy.UndoOtherType, gt, 1, must(dispersy.UndoOtherType.EncodePayload(dispersy.UndoOther{Member: fzZ.Public(), GlobalTime: w.protectedZ})), nil, fzX))
	add("destroy", sign1(2), w.craft(dispersy.DestroyCommunityType, gt, 0, must(dispersy.DestroyCommunityType.EncodePayload(dispersy.DestroyCommunity{})), nil, fzMaster))
	add("dynamic-settings", sign1(2), w.craft(dispersy.DynamicSettingsType, gt, 1, must(dispersy.DynamicSettingsType.EncodePayload(dispersy.DynamicSettings{Settings: []dispersy.Setting{{MessageType: dt.DynamicText.ID(), PolicyIndex: 1}}})), nil, fzMaster))
	// X asks the victim to co-sign; the debug community signs "Allow=True".
	inner := fzPlaceholder(w.craft(dt.DoubleText, gt, 0, []byte("\x00\x0aAllow=True"), nil, fzX, fzVictim), fzVictim)
	add("signature-request", fzFramePrefix, w.craft(dispersy.SignatureRequestType, 1, 0, must(dispersy.SignatureRequestType.EncodePayload(dispersy.SignatureRequest{Identifier: 9, Packet: inner})), nil))
	for i, tc := range []struct {
		creator *keys.PrivateKey
		mt      *dispersy.MessageType[dt.Text]
		text    string
	}{{fzX, dt.DoubleText, "Allow=True, ok"}, {fzZ, dt.DoubleText, "Allow=Modify"}, {fzX, dt.DoubleSplitText, "Allow=Append"}, {fzX, dt.Last1DoubleText, "Allow=True pair"}, {fzX, dt.DoubleText, "refused"}} {
		pkt := w.craft(tc.mt, gt, 0, must(tc.mt.EncodePayload(dt.Text{Text: tc.text})), nil, tc.creator, fzVictim)
		f, _ := w.codec.Decode(pkt)
		mode := uint8(fzFramePrefix | 1<<fzSignerShift)
		if tc.creator == fzZ {
			mode = fzFramePrefix | 2<<fzSignerShift
		}
		out = append(out, fzSeed{name: fmt.Sprintf("signature-request-wrapped-%d", i), mode: mode, data: pkt[len(w.prefix):f.BodyLen]})
	}
	add("signature-response", fzFramePrefix, w.craft(dispersy.SignatureResponseType, 1, 0, must(dispersy.SignatureResponseType.EncodePayload(dispersy.SignatureResponse{Identifier: 9, Packet: fzInnerPacket()})), nil))
	add("full-sync-text", sign1(0), w.craft(dt.FullSyncText, gt, 0, textPayload("fuzz"), nil, fzX))
	add("full-sync-text-ed448", sign1(1)|1<<fzSourceShift, w.craft(dt.FullSyncText, gt, 0, textPayload("fuzz"), nil, fzZ))
	add("sequence-text-next", sign1(0), w.craft(dt.SequenceText, gt, 4, textPayload("seq 4"), nil, fzX))
	add("sequence-text-gap", sign1(0), w.craft(dt.SequenceText, gt, 6, textPayload("seq 6"), nil, fzX))
	add("last1-text", sign1(0), w.craft(dt.Last1Text, gt, 0, textPayload("newer"), nil, fzX))
	add("id-text", sign1(0), w.craft(dt.IDText, gt, 0, textPayload("by id"), nil, fzX))
	add("batched-text", sign1(0)|fzTwice, w.craft(dt.BatchedText, gt, 0, textPayload("batched"), nil, fzX))
	add("protected-text", sign1(0), w.craft(dt.ProtectedText, gt, 0, textPayload("allowed"), nil, fzX))
	one := uint8(1)
	add("dynamic-text-index-1", sign1(0), w.craft(dt.DynamicText, gt, 0, textPayload("linear"), &one, fzX))
	add("direct-text", sign1(0), w.craft(dt.DirectText, gt, 0, textPayload("direct"), nil, fzX))
	add("unsigned-text", fzFramePrefix, w.craft(dt.UnsignedText, gt, 0, textPayload("unsigned"), nil))
	add("double-text", fzFrameSign2, w.craft(dt.DoubleText, gt, 0, textPayload("Allow=True"), nil, fzX, fzY))
	add("last1-double-text", fzFrameSign2|1<<fzSignerShift, w.craft(dt.Last1DoubleText, gt, 0, textPayload("pair"), nil, fzY, fzX))
	add("own-text-back", sign1(3)|2<<fzSourceShift, w.craft(dt.FullSyncText, gt, 0, textPayload("me"), nil, fzVictim))
	add("from-self", sign1(3)|2<<fzSourceShift, w.craft(dispersy.IntroductionRequestType, 1, 0, must(dispersy.IntroductionRequestType.EncodePayload(intro)), nil, fzVictim))
	// Equivocation: a second, different message where one is stored.
	add("conflict-same-global-time", sign1(0), w.craft(dt.FullSyncText, w.undone+1, 0, textPayload("other text"), nil, fzX))
	add("sequence-conflict", sign1(0), w.craft(dt.SequenceText, gt, 2, textPayload("other seq 2"), nil, fzX))
	add("sequence-replay-new-time", sign1(0), w.craft(dt.SequenceText, w.seq2+1000, 2, textPayload("seq"), nil, fzX))
	add("master-sequence-conflict", sign1(2), w.craft(dispersy.AuthorizeType, gt, 1, must(dispersy.AuthorizeType.EncodePayload(dispersy.Authorize{Grants: dispersy.Grants(fzY.Public(), dispersy.AllPermissions, dt.ProtectedText)})), nil, fzMaster))
	add("undo-again", sign1(0), w.craft(dispersy.UndoOwnType, gt, 2, must(dispersy.UndoOwnType.EncodePayload(dispersy.UndoOwn{GlobalTime: w.undone})), nil, fzX))
	add("destroy-twice", sign1(2)|fzTwice, w.craft(dispersy.DestroyCommunityType, gt, 0, must(dispersy.DestroyCommunityType.EncodePayload(dispersy.DestroyCommunity{})), nil, fzMaster))
	add("future-global-time", sign1(0), w.craft(dt.FullSyncText, 1<<40, 0, textPayload("future"), nil, fzX))
	add("replayed-stored", fzFrameRaw|fzTwice, w.fed[10])
	add("mapped-source", fzFrameRaw|3<<fzSourceShift, w.fed[len(w.fed)-1])
	out = append(out,
		fzSeed{"empty", fzFrameRaw, nil},
		fzSeed{"python-dispersy-version", fzFrameRaw, append(append([]byte{0x00, 0x01}, w.cid[:]...), 0xf6, 0x00)},
		fzSeed{"unknown-message-id", fzFramePrefix, []byte{0x00}},
		fzSeed{"prefix-only", fzFramePrefix, nil},
	)
	return out
}

// ---------------------------------------------------------------------------
// FuzzSyncRequest
// ---------------------------------------------------------------------------

// Flags of FuzzSyncRequest.
const (
	fzSyncAdvice  = 0x01 // the request asks for an introduction too
	fzSyncAmplify = 0x02 // anti-amplification on (the requester is unproven)
	fzSyncBudget  = 0x1c // bits 2-4: Config.SyncBudget from fzBudgets
	fzSyncEd448   = 0x20 // the requester signs with Ed448
	fzSyncFill    = 0x40 // the filter holds every other stored message in range
	fzSyncTwice   = 0x80 // the request arrives twice
)

var fzBudgets = [8]int{1, 64, 300, 1232, 5 * 1024, 20000, 64 << 10, 1 << 20}

// fzSyncPayload writes an introduction request payload by hand (so that
// invalid sync fields can be sent too): addresses, flags, identifier, and
// the sync fields.
func fzSyncPayload(advice bool, from netip.AddrPort, low, high uint64, modulo, offset uint16, k uint8, salt uint32, filter []byte) []byte {
	w := conversion.NewWriter(nil)
	for _, a := range []netip.AddrPort{fzAddrSelf, from, from} {
		w.Bytes8(a.Addr().AsSlice())
		w.Uint16(a.Port())
	}
	flags := uint8(0x02)
	if advice {
		flags |= 0x01
	}
	w.Uint8(flags)
	w.Uint16(0x5151)
	w.Uint64(low)
	w.Uint64(high)
	w.Uint16(modulo)
	w.Uint16(offset)
	w.Uint8(k)
	w.Uint32(salt)
	w.Bytes(filter)
	b, _ := w.Finish()
	return b
}

// FuzzSyncRequest sends the victim an introduction request whose sync
// fields (range, modulo class, bloom filter) come from the fuzzer, signed
// by a known member so that it reaches the sync answer. The answer must
// hold only live stored messages of bloom-synced types inside the range
// and the modulo class that the filter lacks, each once; it must stay
// within Config.SyncBudget plus one packet (every packet but the last fits
// under the budget); with anti-amplification on, everything sent to the
// unproven requester stays within AmplificationFactor times what it sent;
// with it off and an answer smaller than the budget, the answer holds
// every message the filter lacks. Invalid sync fields get no answer.
func FuzzSyncRequest(f *testing.F) {
	w := fzTheWorld()
	for _, s := range fzSyncSeeds() {
		f.Add(s.low, s.high, s.modulo, s.offset, s.k, s.salt, s.filter, s.flags)
	}
	f.Fuzz(func(t *testing.T, low, high uint64, modulo, offset uint16, k uint8, salt uint32, filter []byte, flags uint8) {
		w.syncRequest(t, fzSyncInput{low, high, modulo, offset, k, salt, filter, flags})
	})
}

// fzSyncInput is one FuzzSyncRequest input.
type fzSyncInput struct {
	low, high      uint64
	modulo, offset uint16
	k              uint8
	salt           uint32
	filter         []byte
	flags          uint8
}

type fzSyncSeed struct {
	name string
	fzSyncInput
}

func fzSyncSeeds() []fzSyncSeed {
	empty := func(n int) []byte { return make([]byte, n) }
	b := func(budget int) uint8 { return uint8(slices.Index(fzBudgets[:], budget)) << 2 }
	return []fzSyncSeed{
		{"walker-default", fzSyncInput{1, 0, 1, 0, 5, 0xC0FFEE, empty(1000), b(5 * 1024)}},
		{"everything-big-budget", fzSyncInput{1, 0, 1, 0, 1, 7, empty(8), b(1 << 20)}},
		{"filled-half", fzSyncInput{1, 0, 1, 0, 3, 99, empty(256), b(64<<10) | fzSyncFill}},
		{"modulo-3-offset-2", fzSyncInput{1, 0, 3, 2, 2, 5, empty(64), b(20000)}},
		{"range-10-40", fzSyncInput{10, 40, 1, 0, 2, 5, empty(64), b(64<<10) | fzSyncFill}},
		{"descending-budget-1", fzSyncInput{1, 0, 1, 0, 1, 1, empty(8), b(1)}},
		{"amplification-advice", fzSyncInput{1, 0, 1, 0, 1, 1, empty(32), b(64<<10) | fzSyncAmplify | fzSyncAdvice}},
		{"ed448-twice", fzSyncInput{1, 0, 1, 0, 1, 1, empty(32), b(1232) | fzSyncEd448 | fzSyncTwice}},
		{"low-zero", fzSyncInput{0, 0, 1, 0, 1, 1, empty(8), b(1232)}},
		{"high-below-low", fzSyncInput{9, 3, 1, 0, 1, 1, empty(8), b(1232)}},
		{"modulo-zero", fzSyncInput{1, 0, 0, 0, 1, 1, empty(8), b(1232)}},
		{"offset-equals-modulo", fzSyncInput{1, 0, 4, 4, 1, 1, empty(8), b(1232)}},
		{"k-zero", fzSyncInput{1, 0, 1, 0, 0, 1, empty(8), b(1232)}},
		{"k-255", fzSyncInput{1, 0, 1, 0, 255, 1, empty(8), b(1232)}},
		{"empty-filter", fzSyncInput{1, 0, 1, 0, 1, 1, nil, b(1232)}},
		{"oversize-filter", fzSyncInput{1, 0, 1, 0, 1, 1, empty(bloom.MaxBytes + 1), b(1232)}},
		{"max-times", fzSyncInput{math.MaxUint64, math.MaxUint64, math.MaxUint16, math.MaxUint16 - 1, 1, 1, empty(8), b(1232)}},
		{"high-beyond-max-global-time", fzSyncInput{1, math.MaxUint64, 2, 1, 1, 1, bytes.Repeat([]byte{0xff}, 16), b(64 << 10)}},
	}
}

// syncRequest runs one FuzzSyncRequest input on a fresh victim.
func (w *fzWorld) syncRequest(t *testing.T, in fzSyncInput) {
	t.Helper()
	budget := fzBudgets[(in.flags&fzSyncBudget)>>2]
	eng, c, st := w.engine(t, func(cfg *dispersy.Config) {
		cfg.SyncBudget = budget
		if in.flags&fzSyncAmplify == 0 {
			cfg.AmplificationFactor = 0
		}
	})
	signer, from := fzX, fzAddrX
	if in.flags&fzSyncEd448 != 0 {
		signer, from = fzZ, fzAddrV6
	}
	ourGT := c.GlobalTime()
	rangeHigh := in.high
	if rangeHigh == 0 {
		rangeHigh = ourGT
	}
	rangeHigh = min(rangeHigh, conversion.MaxGlobalTime)
	rangeLow := min(in.low, conversion.MaxGlobalTime)
	filter := in.filter
	if in.flags&fzSyncFill != 0 && len(filter) > 0 {
		// Fill a real filter with every other stored message in range,
		// chosen by a bit of the hash.
		if bf, err := bloom.New(8*len(filter), int(in.k), in.salt); err == nil {
			_ = st.Replay(w.cid, fzAllIDs(), func(r *dispersy.Record) bool {
				if r.Hash[0]&1 == 0 && r.GlobalTime >= rangeLow && r.GlobalTime <= rangeHigh {
					bf.Add([bloom.KeySize]byte(r.Hash))
				}
				return true
			})
			filter = bf.Bytes()
		}
	}
	pkt := w.craft(dispersy.IntroductionRequestType, 1, 0,
		fzSyncPayload(in.flags&fzSyncAdvice != 0, from, in.low, in.high, in.modulo, in.offset, in.k, in.salt, filter), nil, signer)
	n := 1
	if in.flags&fzSyncTwice != 0 {
		n = 2
	}
	outs := make([][]dispersy.Datagram, n)
	for i := range n {
		if err := eng.Receive(fzNow, from, pkt); err != nil {
			t.Fatalf("Receive: %v", err)
		}
		outs[i] = eng.Ready()
		w.checkOutbound(t, eng, st, outs[i])
	}

	valid := in.low != 0 && (in.high == 0 || in.high >= in.low) && in.modulo != 0 && in.offset < in.modulo && in.k != 0 && len(filter) > 0
	bf, bloomErr := bloom.FromBytes(filter, int(in.k), in.salt)
	synced := map[uint8]bool{}
	for _, id := range c.SyncedTypes() {
		synced[id] = true
	}

	// Split what was sent to the requester into the introduction response
	// and the sync answer (stored packets), per request.
	answers := make([][]dispersy.Record, n)
	toRequester := 0
	for i, out := range outs {
		for _, d := range out {
			if d.Addr != from {
				continue
			}
			toRequester += len(d.Data)
			f, _ := w.codec.Decode(d.Data)
			if f.MessageID() == dispersy.IDIntroductionResponse {
				continue
			}
			if len(f.Authors) == 0 {
				t.Fatalf("sent an unsigned %s to the requester", w.specs[f.MessageID()].Name)
			}
			rec, ok, err := st.Get(w.cid, dispersy.MessageKey{Member: f.Authors[0].ID, GlobalTime: f.GlobalTime})
			if err != nil || !ok || !bytes.Equal(rec.Packet, d.Data) {
				t.Fatalf("sent %s at gt %d, which is not a stored packet", w.specs[f.MessageID()].Name, f.GlobalTime)
			}
			answers[i] = append(answers[i], rec)
		}
	}
	if !valid || bloomErr != nil {
		for _, ans := range answers {
			if len(ans) != 0 {
				t.Fatalf("a request with invalid sync fields (valid %v, bloom %v) got %d packets", valid, bloomErr, len(ans))
			}
		}
		return
	}
	if in.flags&fzSyncAmplify != 0 {
		if limit := eng.Config().AmplificationFactor * n * len(pkt); toRequester > limit {
			t.Fatalf("sent %d bytes to an unproven address that sent %d: over the %dx limit", toRequester, n*len(pkt), eng.Config().AmplificationFactor)
		}
	}

	// Every answered packet matches the request.
	for _, ans := range answers {
		seen := map[dispersy.Hash]bool{}
		total := 0
		for i, r := range ans {
			switch {
			case seen[r.Hash]:
				t.Fatalf("answer sends %s@%d twice", r.Member, r.GlobalTime)
			case r.Undone:
				t.Fatalf("answer sends the undone %s@%d", r.Member, r.GlobalTime)
			case !synced[r.MessageID]:
				t.Fatalf("answer sends %s, which is not bloom-synced", w.specs[r.MessageID].Name)
			case r.GlobalTime < rangeLow || r.GlobalTime > rangeHigh:
				t.Fatalf("answer sends gt %d outside [%d, %d]", r.GlobalTime, rangeLow, rangeHigh)
			case in.modulo > 1 && (r.GlobalTime+uint64(in.offset))%uint64(in.modulo) != 0:
				t.Fatalf("answer sends gt %d outside modulo %d offset %d", r.GlobalTime, in.modulo, in.offset)
			case bf.Has([bloom.KeySize]byte(r.Hash)):
				t.Fatalf("answer sends %s@%d, which the requester's filter holds", r.Member, r.GlobalTime)
			}
			seen[r.Hash] = true
			if i < len(ans)-1 {
				total += len(r.Packet)
			}
		}
		if total >= budget {
			t.Fatalf("answer of %d packets exceeds the budget of %d bytes by more than its last packet (%d bytes before it)", len(ans), budget, total)
		}
	}
	if in.flags&fzSyncAmplify != 0 {
		return
	}

	// Completeness: with no amplification limit, an answer under the budget
	// holds everything the filter lacks.
	var want []dispersy.Hash
	wantBytes := 0
	for _, s := range c.Types() {
		if !synced[s.ID] {
			continue
		}
		low := rangeLow
		if _, _, pr, _ := policy.SyncParams(s.Distribution); pr != nil {
			if g, ok := pr.(policy.GlobalTimePruning); ok && ourGT >= g.Inactive {
				low = max(low, ourGT-g.Inactive+1)
			}
		}
		if low > rangeHigh {
			continue
		}
		err := st.Range(dispersy.RangeQuery{Community: w.cid, MessageID: s.ID, Low: low, High: rangeHigh, Modulo: uint64(in.modulo), Offset: uint64(in.offset)}, func(r *dispersy.Record) bool {
			if !bf.Has([bloom.KeySize]byte(r.Hash)) {
				want = append(want, r.Hash)
				wantBytes += len(r.Packet)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if wantBytes < budget {
		var got []dispersy.Hash
		for _, r := range answers[0] {
			got = append(got, r.Hash)
		}
		slices.SortFunc(got, func(a, b dispersy.Hash) int { return bytes.Compare(a[:], b[:]) })
		slices.SortFunc(want, func(a, b dispersy.Hash) int { return bytes.Compare(a[:], b[:]) })
		if !slices.Equal(got, want) {
			t.Fatalf("answer under budget holds %d packets, the filter lacks %d", len(got), len(want))
		}
	}
}

// ---------------------------------------------------------------------------
// Checks of the targets themselves, and the seed corpus writer
// ---------------------------------------------------------------------------

// TestFuzzWorld pins the world the engine targets start from, so that a
// change in the engine that makes the world's packets bounce shows up here
// and not as silently shallower fuzzing.
func TestFuzzWorld(t *testing.T) {
	if n := reflect.TypeFor[dispersy.Op]().NumField(); n != 16 {
		t.Errorf("dispersy.Op has %d fields, fzCloneBatch knows 16 (After is a value): make it deep-copy the new ones", n)
	}
	w := fzTheWorld()
	eng, c, st := w.engine(t, nil)
	// 3 identities + ours, every fed packet but the replaced ones: the
	// Last1/Last9 histories hold everything fed, the undo is stored and
	// its target marked undone.
	if w.stored != len(w.fed)+1 {
		t.Errorf("the world stores %d records, want the %d fed plus our identity", w.stored, len(w.fed))
	}
	if c.GlobalTime() != w.gt {
		t.Errorf("global time %d, want %d", c.GlobalTime(), w.gt)
	}
	undone := 0
	_ = st.Replay(w.cid, fzAllIDs(), func(r *dispersy.Record) bool {
		if r.Undone {
			undone++
		}
		return true
	})
	if undone != 1 {
		t.Errorf("%d undone records, want 1", undone)
	}
	if !c.Allowed(fzX.ID(), dt.ProtectedText, dispersy.Permit) {
		t.Error("the master's authorize is not in effect")
	}
	if s := eng.Stats(); s.Received != 0 || s.DroppedTotal() != 0 {
		t.Errorf("a fresh victim has statistics:\n%s", s.String())
	}
	w.checkStore(t, st, c)
}

// TestFuzzSeedsReachTheEngine checks that the FuzzEngineReceive seeds that
// should be accepted are: each reaches a handler or the store, so mutations
// of them exercise the code behind the signature check.
func TestFuzzSeedsReachTheEngine(t *testing.T) {
	w := fzTheWorld()
	// The seeds that must not reach a handler, and the drop reason each
	// gets (delayed: waits for what it lacks instead).
	const delayed = dispersy.DropReason(0)
	rejected := map[string]dispersy.DropReason{
		"empty": dispersy.DropTooShort, "prefix-only": dispersy.DropTooShort,
		"python-dispersy-version": dispersy.DropBadVersion, "unknown-message-id": dispersy.DropUnknownMessage,
		"from-self": dispersy.DropFromSelf, "future-global-time": dispersy.DropFutureGlobalTime,
		"replayed-stored": dispersy.DropDuplicate, "mapped-source": dispersy.DropDuplicate,
		"sequence-text-gap":         delayed,                 // asks for the missing sequence numbers
		"intro-response":            dispersy.DropUnexpected, // no matching request
		"puncture":                  dispersy.DropUnexpected, // no matching request
		"signature-response":        dispersy.DropUnexpected, // no matching request
		"puncture-request":          dispersy.DropUnexpected, // only from a peer we walked to
		"conflict-same-global-time": dispersy.DropMalicious,  // equivocation
		"sequence-conflict":         dispersy.DropMalicious,  // equivocation
		"sequence-replay-new-time":  dispersy.DropMalicious,  // equivocation
		"master-sequence-conflict":  dispersy.DropSequence,   // the master is never excluded
	}
	// The answers some seeds must produce.
	answers := map[string]uint8{
		"intro-request-sync": dispersy.IDIntroductionResponse, "missing-identity": dispersy.IDIdentity,
		"missing-sequence": dt.SequenceText.ID(), "missing-message": dt.FullSyncText.ID(), "missing-proof": dispersy.IDAuthorize,
		"sequence-text-gap": dispersy.IDMissingSequence, "signature-request": dispersy.IDSignatureResponse,
		"signature-request-wrapped-0": dispersy.IDSignatureResponse, "signature-request-wrapped-1": dispersy.IDSignatureResponse,
		"signature-request-wrapped-2": dispersy.IDSignatureResponse, "signature-request-wrapped-3": dispersy.IDSignatureResponse,
	}
	for _, s := range w.receiveSeeds() {
		eng, _, _ := w.engine(t, func(cfg *dispersy.Config) {
			if s.mode&fzNoAmplify != 0 {
				cfg.AmplificationFactor = 0
			}
		})
		if err := eng.Receive(fzNow, fzSources[(s.mode>>fzSourceShift)&3], w.datagram(s.mode, s.data)); err != nil {
			t.Fatal(err)
		}
		out := eng.Ready()
		if err := eng.Tick(fzNow.Add(6 * time.Second)); err != nil { // batch windows
			t.Fatal(err)
		}
		out = append(out, eng.Ready()...)
		st := eng.Stats()
		incoming := st.DroppedTotal() - st.DroppedBy(dispersy.DropAmplification)
		reason, isRejected := rejected[s.name]
		if reached := incoming == 0 && st.Handled > 0; reached == isRejected {
			t.Errorf("seed %s: reached the handlers %v, want %v:\n%s", s.name, reached, !isRejected, st.String())
		}
		if isRejected && (reason == delayed && st.Delayed == 0 || reason != delayed && st.DroppedBy(reason) == 0) {
			t.Errorf("seed %s: not %s:\n%s", s.name, reason, st.String())
		}
		if id, ok := answers[s.name]; ok && !slices.ContainsFunc(out, func(d dispersy.Datagram) bool { return d.Data[conversion.HeaderSize-1] == id }) {
			t.Errorf("seed %s: no %s answer among %d datagrams", s.name, w.specs[id].Name, len(out))
		}
	}
}

// TestFuzzWriteSeeds writes the committed seed corpus (only with
// -write-fuzz-seeds): for every target a handful of named inputs in Go's
// corpus format. Existing files with other names are left alone (crashers
// that go test wrote there stay).
func TestFuzzWriteSeeds(t *testing.T) {
	if !*fzWriteSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite testdata/fuzz")
	}
	write := func(target, name string, vals ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n" + strings.Join(vals, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bytesLit := func(b []byte) string { return fmt.Sprintf("[]byte(%q)", b) }
	w := fzTheWorld()
	for _, s := range w.receiveSeeds() {
		write("FuzzEngineReceive", s.name, fmt.Sprintf("byte(%d)", s.mode), bytesLit(s.data))
	}
	for _, s := range fzSyncSeeds() {
		if len(s.filter) > 2048 {
			continue // keep the corpus small; the f.Add seed covers it
		}
		write("FuzzSyncRequest", s.name,
			fmt.Sprintf("uint64(%d)", s.low), fmt.Sprintf("uint64(%d)", s.high),
			fmt.Sprintf("uint16(%d)", s.modulo), fmt.Sprintf("uint16(%d)", s.offset),
			fmt.Sprintf("byte(%d)", s.k), fmt.Sprintf("uint32(%d)", s.salt),
			bytesLit(s.filter), fmt.Sprintf("byte(%d)", s.flags))
	}
	payload := func(target string, seeds map[string][]byte) {
		for name, b := range seeds {
			write(target, name, bytesLit(b))
		}
	}
	for target, seeds := range fzPayloadCorpus(t) {
		payload(target, seeds)
	}
}

// fzPayloadCorpus returns named golden-ish inputs per payload target:
// valid encodings of realistic values and the edge cases each decoder must
// refuse. The codec-only targets of the payloads in package payload keep
// their corpus in dispersy/payload/testdata/fuzz.
func fzPayloadCorpus(tb testing.TB) map[string]map[string][]byte {
	tb.Helper()
	enc := func(b []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	return map[string]map[string][]byte{
		"FuzzPayloadEmpty": {"empty": {}, "one-byte": {0}},
		"FuzzPayloadSignatureRequest": {
			"valid":     enc(dispersy.SignatureRequestType.EncodePayload(dispersy.SignatureRequest{Identifier: 9, Packet: fzInnerPacket()})),
			"too-short": make([]byte, 2+conversion.HeaderSize-1),
		},
		"FuzzPayloadSignatureResponse": {
			"valid":   enc(dispersy.SignatureResponseType.EncodePayload(dispersy.SignatureResponse{Identifier: 9, Packet: fzInnerPacket()})),
			"id-only": {0, 9},
		},
	}
}

// TestEncodeRefusesWhatDecodeRefuses pins the encoder fixes the payload
// targets led to: the encoders of this package's payloads refuse the values
// their decoders refuse, instead of producing bytes that every peer drops
// (the payloads of package payload: its own TestEncodeRefusesWhatDecodeRefuses).
func TestEncodeRefusesWhatDecodeRefuses(t *testing.T) {
	cases := []struct {
		name string
		enc  func() ([]byte, error)
	}{
		{"signature-request/short-packet", func() ([]byte, error) {
			return dispersy.SignatureRequestType.EncodePayload(dispersy.SignatureRequest{Packet: make([]byte, conversion.HeaderSize-1)})
		}},
		{"signature-response/no-packet", func() ([]byte, error) {
			return dispersy.SignatureResponseType.EncodePayload(dispersy.SignatureResponse{Identifier: 1})
		}},
	}
	for _, tc := range cases {
		b, err := tc.enc()
		if err == nil {
			t.Errorf("%s: encodes to %x", tc.name, b)
		} else if !strings.HasPrefix(err.Error(), "dispersy: ") {
			t.Errorf("%s: error %q does not say where it comes from", tc.name, err)
		}
	}
}

// TestCreateRefusesUndecodablePayloads: creating a message whose payload no
// peer can decode fails with the encoder's error (not a misleading
// ErrNotPermitted from the timeline looking at a malformed grant list),
// stores nothing and uses up no sequence number.
func TestCreateRefusesUndecodablePayloads(t *testing.T) {
	w := fzTheWorld()
	cases := []struct {
		name   string
		create func(c *dispersy.Community) error
	}{
		{"authorize-nothing", func(c *dispersy.Community) error {
			_, err := c.Authorize(nil, dispersy.WithSigner(fzMaster))
			return err
		}},
		{"authorize-no-permission-bits", func(c *dispersy.Community) error {
			_, err := c.Authorize(dispersy.Grants(fzY.Public(), 0, dt.ProtectedText), dispersy.WithSigner(fzMaster))
			return err
		}},
		{"revoke-unknown-permission-bits", func(c *dispersy.Community) error {
			_, err := c.Revoke(dispersy.Grants(fzX.Public(), 0x80, dt.ProtectedText), dispersy.WithSigner(fzMaster))
			return err
		}},
		{"dynamic-settings-empty", func(c *dispersy.Community) error {
			_, err := dispersy.Create(c, dispersy.DynamicSettingsType, dispersy.DynamicSettings{}, dispersy.WithSigner(fzMaster))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng, c, st := w.engine(t, nil)
			before, _ := st.Count(w.cid, fzAllIDs())
			err := tc.create(c)
			if err == nil {
				t.Fatal("created a message no peer can decode")
			}
			if errors.Is(err, dispersy.ErrNotPermitted) || !strings.Contains(err.Error(), "encoding") {
				t.Errorf("error %q does not report the encoding problem", err)
			}
			if after, _ := st.Count(w.cid, fzAllIDs()); after != before {
				t.Errorf("the store went from %d to %d messages", before, after)
			}
			eng.Ready()
			// The master's next authorize still gets sequence number 2.
			m, err := c.Authorize(dispersy.Grants(fzY.Public(), dispersy.Permit, dt.ProtectedText), dispersy.WithSigner(fzMaster))
			if err != nil {
				t.Fatal(err)
			}
			if m.Sequence != 2 {
				t.Errorf("the next authorize has sequence number %d, want 2", m.Sequence)
			}
			w.checkStore(t, st, c)
		})
	}
}
