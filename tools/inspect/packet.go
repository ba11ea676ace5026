package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"text/tabwriter"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// hexRow is how many bytes one line of a hex dump shows.
const hexRow = 32

// dump is one packet taken apart: its fields in wire order, and where its
// payload and signatures are. The text and the JSON output are both
// rendered from it.
type dump struct {
	rows    []row
	payload *payloadView
	sigs    []sigView
}

// row is one field. A field shown as hex has isHex set and its bytes in
// hex; value is then a note after them.
type row struct {
	off, size int
	name      string
	value     string
	hex       []byte
	isHex     bool
}

// payloadView is where the payload is and what it decodes to.
type payloadView struct {
	off      int
	bytes    []byte
	inferred bool   // placed by matching the store's record, no definition
	decoded  bool   // a decoder was registered for the message id
	value    any    // the decoded payload, when decoded and err == nil
	err      error  // the decoder's error
	typ      string // the Go type of value, e.g. chat.Post
}

// sigView is one signature and its verdict.
type sigView struct {
	off, size int
	verdict   string // valid, invalid or unchecked
	note      string // the text form: (valid), (INVALID), (not checked: …)
}

func (d *dump) add(off, size int, name, value string) {
	d.rows = append(d.rows, row{off: off, size: size, name: name, value: value})
}

// addHex adds a field shown as hex.
func (d *dump) addHex(off int, b []byte, name, note string) {
	d.rows = append(d.rows, row{off: off, size: len(b), name: name, value: note, hex: b, isHex: true})
}

// hexValue is a hex field's value on one line: the hex, then the note.
func (r row) hexValue() string {
	v := hex.EncodeToString(r.hex)
	if len(r.hex) == 0 {
		v = "(empty)"
	}
	if r.value != "" {
		v += " " + r.value
	}
	return v
}

// write prints the table. A hex field is on its own line when short, else
// in rows of hexRow bytes under the field line.
func (d *dump) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tSIZE\tFIELD\tVALUE")
	for _, r := range d.rows {
		if !r.isHex || len(r.hex) <= hexRow {
			v := r.value
			if r.isHex {
				v = r.hexValue()
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", r.off, r.size, r.name, v)
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", r.off, r.size, r.name, r.value)
		for i := 0; i < len(r.hex); i += hexRow {
			end := min(i+hexRow, len(r.hex))
			fmt.Fprintf(tw, "%d\t%d\t\t%x\n", r.off+i, end-i, r.hex[i:end])
		}
	}
	tw.Flush()
}

// addSignature adds signature i (from 1) at off with its verdict.
func (d *dump) addSignature(off int, sig []byte, name, verdict, note string) {
	d.addHex(off, sig, name, "("+note+")")
	d.sigs = append(d.sigs, sigView{off: off, size: len(sig), verdict: verdict, note: note})
}

// decodePayload runs dec (nil: none registered) on the payload at off.
func decodePayload(off int, b []byte, dec func([]byte) (any, error)) *payloadView {
	p := &payloadView{off: off, bytes: b}
	if dec != nil {
		p.decoded = true
		p.value, p.err = dec(b)
		if p.err == nil {
			p.typ = fmt.Sprintf("%T", p.value)
		}
	}
	return p
}

// memberKeys finds the public key of a member id (from the store).
type memberKeys func(keys.MemberID) *keys.PublicKey

// describeKey renders an author's key or id.
func describeKey(k *keys.PublicKey) string {
	return fmt.Sprintf("%s (%s, mid %s)", k, k.Scheme(), k.ID())
}

// decodePacket takes rec's packet apart field by field with the
// community's definition. It also returns the line that names the message
// and its policies. It fails when the definition does not decode the
// packet.
func decodePacket(rec dispersy.Record, def *definition, lookup memberKeys) (*dump, string, error) {
	f, err := def.codec.Decode(rec.Packet)
	if err != nil {
		return nil, "", err
	}
	spec := def.specs[f.MessageID()]
	pkt := rec.Packet
	var d dump
	d.add(0, 1, "wire version", fmt.Sprintf("0x%02x", pkt[0]))
	d.add(1, 1, "community version", fmt.Sprint(f.CommunityVersion))
	d.add(2, keys.IDSize, "community id", f.Community.String())
	d.add(conversion.HeaderSize-1, 1, "message id", fmt.Sprintf("%d (%s)", f.MessageID(), f.Format.Name))
	off := conversion.HeaderSize
	enc := policy.Encoding(f.Format.Policies.Authentication)
	for i, a := range f.Authors {
		name := fmt.Sprintf("author %d", i+1)
		if enc == policy.EncodeID {
			d.add(off, conversion.MemberIDSize, name+" id", fmt.Sprintf("%s (%s)", a.ID, a.Scheme))
			off += conversion.MemberIDSize
			if a.Key == nil {
				f.Authors[i].Key = lookup(a.ID)
			}
			continue
		}
		size := a.Scheme.BinaryPublicKeySize()
		d.add(off, size, name+" key", describeKey(a.Key))
		off += size
	}
	if _, ok := f.Format.Policies.Resolution.(policy.DynamicResolution); ok {
		d.add(off, 1, "resolution index", fmt.Sprint(f.ResolutionIndex))
		off++
	}
	d.add(off, 8, "global time", fmt.Sprint(f.GlobalTime))
	off += 8
	if policy.HasSequence(f.Format.Policies.Distribution) {
		d.add(off, 4, "sequence number", fmt.Sprint(f.Sequence))
		off += 4
	}
	d.addHex(off, f.Payload, "payload", "")
	d.payload = decodePayload(off, f.Payload, def.payloads[f.MessageID()])
	switch p := d.payload; {
	case !p.decoded:
	case p.err != nil:
		d.add(off, len(f.Payload), "payload (decoded)", fmt.Sprintf("does not decode: %v", p.err))
	default:
		d.add(off, len(f.Payload), "payload (decoded)", goValue(p.value))
	}
	off = f.BodyLen
	for i, s := range f.Signatures {
		verdict, note := "valid", "valid"
		switch {
		case f.Authors[i].Key == nil:
			verdict, note = "unchecked", "not checked: the author's key is not in the store"
		case !f.VerifyAuthor(i):
			verdict, note = "invalid", "INVALID"
		}
		d.addSignature(off, s, fmt.Sprintf("signature %d", i+1), verdict, note)
		off += len(s)
	}
	title := fmt.Sprintf("message %d %q of the %s community: %s, %s, %s, %s", f.MessageID(), f.Format.Name, def.overlay,
		spec.Authentication, spec.Resolution, spec.Distribution, spec.Destination)
	return &d, title, nil
}

// inferPacket takes rec's packet apart without a community definition:
// the frame prefix every packet shares, then the fields it can find by
// matching what the store says about the message (its creator, global time
// and sequence number) against the bytes. Fields found that way are marked
// "inferred"; whatever cannot be placed is dumped as hex.
func inferPacket(rec dispersy.Record, lookup memberKeys) *dump {
	pkt := rec.Packet
	d := &dump{}
	if len(pkt) < conversion.HeaderSize {
		d.addHex(0, pkt, "unparsed", fmt.Sprintf("(shorter than the %d-byte header)", conversion.HeaderSize))
		return d
	}
	version := fmt.Sprintf("0x%02x", pkt[0])
	if pkt[0] != conversion.WireVersion {
		version += " (not wire v1)"
	}
	d.add(0, 1, "wire version", version)
	d.add(1, 1, "community version", fmt.Sprint(pkt[1]))
	d.add(2, keys.IDSize, "community id", hex.EncodeToString(pkt[2:conversion.PrefixSize]))
	d.add(conversion.HeaderSize-1, 1, "message id", fmt.Sprint(pkt[conversion.HeaderSize-1]))
	off := conversion.HeaderSize
	unparsed := func() { d.addHex(off, pkt[off:], "unparsed", "") }

	members := []keys.MemberID{rec.Member}
	if rec.Double() {
		members = append(members, rec.Member2)
	}
	var signers []*keys.PublicKey
	var schemes []keys.Scheme
	for i, m := range members {
		name := fmt.Sprintf("author %d", i+1)
		if off >= len(pkt) {
			unparsed()
			return d
		}
		s := keys.Scheme(pkt[off])
		if !s.Valid() {
			unparsed()
			return d
		}
		if n := s.BinaryPublicKeySize(); off+n <= len(pkt) && keys.IDOf(pkt[off:off+n]) == m {
			k, err := keys.ParsePublicKey(pkt[off : off+n])
			if err != nil {
				unparsed()
				return d
			}
			d.add(off, n, name+" key (inferred)", describeKey(k))
			signers, schemes = append(signers, k), append(schemes, s)
			off += n
			continue
		}
		if off+conversion.MemberIDSize <= len(pkt) && bytes.Equal(pkt[off+1:off+conversion.MemberIDSize], m[:]) {
			d.add(off, conversion.MemberIDSize, name+" id (inferred)", fmt.Sprintf("%s (%s)", m, s))
			signers, schemes = append(signers, lookup(m)), append(schemes, s)
			off += conversion.MemberIDSize
			continue
		}
		unparsed()
		return d
	}
	gtAt := func(o int) bool {
		return o+8 <= len(pkt) && binary.BigEndian.Uint64(pkt[o:]) == rec.GlobalTime
	}
	switch {
	case gtAt(off):
	case gtAt(off + 1):
		d.add(off, 1, "resolution index (inferred)", fmt.Sprint(pkt[off]))
		off++
	default:
		unparsed()
		return d
	}
	d.add(off, 8, "global time (inferred)", fmt.Sprint(rec.GlobalTime))
	off += 8
	if rec.Sequence != 0 {
		if off+4 > len(pkt) || binary.BigEndian.Uint32(pkt[off:]) != rec.Sequence {
			unparsed()
			return d
		}
		d.add(off, 4, "sequence number (inferred)", fmt.Sprint(rec.Sequence))
		off += 4
	}
	sigLen := 0
	for _, s := range schemes {
		sigLen += s.SignatureSize()
	}
	body := len(pkt) - sigLen
	if body < off {
		unparsed()
		return d
	}
	d.addHex(off, pkt[off:body], "payload (inferred)", "")
	d.payload = &payloadView{off: off, bytes: pkt[off:body], inferred: true}
	off = body
	for i, s := range schemes {
		n := s.SignatureSize()
		verdict, note := "unchecked", "not checked: the author's key is not in the packet or the store"
		if signers[i] != nil {
			verdict, note = "invalid", "INVALID"
			if signers[i].Verify(pkt[:body], pkt[off:off+n]) {
				verdict, note = "valid", "valid"
			}
		}
		d.addSignature(off, pkt[off:off+n], fmt.Sprintf("signature %d (inferred)", i+1), verdict, note)
		off += n
	}
	return d
}

// goValue renders a decoded payload on one line: in Go syntax (%#v, strings
// quoted) unless its type holds pointers or interfaces, whose Go syntax is a
// memory address (a grant's member key); those are printed with %+v, which
// shows what their String methods say.
func goValue(v any) string {
	if holdsReferences(reflect.TypeOf(v), 0) {
		return fmt.Sprintf("%T%+v", v, v)
	}
	return fmt.Sprintf("%#v", v)
}

// holdsReferences reports whether t has a pointer, interface, map, chan or
// func anywhere inside it.
func holdsReferences(t reflect.Type, depth int) bool {
	if t == nil || depth > 8 {
		return t != nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array, reflect.Slice:
		return holdsReferences(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsReferences(t.Field(i).Type, depth+1) {
				return true
			}
		}
	}
	return false
}
