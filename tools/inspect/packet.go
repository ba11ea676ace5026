package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// hexRow is how many bytes one line of a hex dump shows.
const hexRow = 32

// dump collects the fields of one packet, in wire order.
type dump struct {
	rows []row
}

type row struct {
	off, size int
	name      string
	value     string
}

func (d *dump) add(off, size int, name, value string) {
	d.rows = append(d.rows, row{off: off, size: size, name: name, value: value})
}

// addHex adds a field shown as hex: on its own line when short, else as
// rows of hexRow bytes under the field line.
func (d *dump) addHex(off int, b []byte, name, note string) {
	if len(b) <= hexRow {
		v := hex.EncodeToString(b)
		if len(b) == 0 {
			v = "(empty)"
		}
		if note != "" {
			v += " " + note
		}
		d.add(off, len(b), name, v)
		return
	}
	d.add(off, len(b), name, note)
	for i := 0; i < len(b); i += hexRow {
		end := min(i+hexRow, len(b))
		d.add(off+i, end-i, "", hex.EncodeToString(b[i:end]))
	}
}

func (d *dump) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tSIZE\tFIELD\tVALUE")
	for _, r := range d.rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", r.off, r.size, r.name, r.value)
	}
	tw.Flush()
}

// memberKeys finds the public key of a member id (from the store).
type memberKeys func(keys.MemberID) *keys.PublicKey

// describeKey renders an author's key or id.
func describeKey(k *keys.PublicKey) string {
	return fmt.Sprintf("%s (%s, mid %s)", k, k.Scheme(), k.ID())
}

// decodePacket writes rec's packet field by field with the community's
// definition. It returns false, writing nothing, when the definition does
// not decode the packet.
func decodePacket(w io.Writer, rec dispersy.Record, def *definition, lookup memberKeys) (bool, error) {
	f, err := def.codec.Decode(rec.Packet)
	if err != nil {
		return false, err
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
	if dec := def.payloads[f.MessageID()]; dec != nil {
		v, err := dec(f.Payload)
		if err != nil {
			d.add(off, len(f.Payload), "payload (decoded)", fmt.Sprintf("does not decode: %v", err))
		} else {
			d.add(off, len(f.Payload), "payload (decoded)", fmt.Sprintf("%#v", v))
		}
	}
	off = f.BodyLen
	for i, s := range f.Signatures {
		verdict := "valid"
		switch {
		case f.Authors[i].Key == nil:
			verdict = "not checked: the author's key is not in the store"
		case !f.VerifyAuthor(i):
			verdict = "INVALID"
		}
		d.addHex(off, s, fmt.Sprintf("signature %d", i+1), "("+verdict+")")
		off += len(s)
	}
	fmt.Fprintf(w, "message %d %q of the %s community: %s, %s, %s, %s\n", f.MessageID(), f.Format.Name, def.overlay,
		spec.Authentication, spec.Resolution, spec.Distribution, spec.Destination)
	d.write(w)
	return true, nil
}

// inferPacket writes rec's packet without a community definition: the
// frame prefix every packet shares, then the fields it can find by
// matching what the store says about the message (its creator, global time
// and sequence number) against the bytes. Fields found that way are marked
// "inferred"; whatever cannot be placed is dumped as hex.
func inferPacket(w io.Writer, rec dispersy.Record, lookup memberKeys) {
	pkt := rec.Packet
	var d dump
	defer d.write(w)
	if len(pkt) < conversion.HeaderSize {
		d.addHex(0, pkt, "unparsed", fmt.Sprintf("(shorter than the %d-byte header)", conversion.HeaderSize))
		return
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
			return
		}
		s := keys.Scheme(pkt[off])
		if !s.Valid() {
			unparsed()
			return
		}
		if n := s.BinaryPublicKeySize(); off+n <= len(pkt) && keys.IDOf(pkt[off:off+n]) == m {
			k, err := keys.ParsePublicKey(pkt[off : off+n])
			if err != nil {
				unparsed()
				return
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
		return
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
		return
	}
	d.add(off, 8, "global time (inferred)", fmt.Sprint(rec.GlobalTime))
	off += 8
	if rec.Sequence != 0 {
		if off+4 > len(pkt) || binary.BigEndian.Uint32(pkt[off:]) != rec.Sequence {
			unparsed()
			return
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
		return
	}
	d.addHex(off, pkt[off:body], "payload (inferred)", "")
	off = body
	for i, s := range schemes {
		n := s.SignatureSize()
		verdict := "not checked: the author's key is not in the packet or the store"
		if signers[i] != nil {
			verdict = "INVALID"
			if signers[i].Verify(pkt[:body], pkt[off:off+n]) {
				verdict = "valid"
			}
		}
		d.addHex(off, pkt[off:off+n], fmt.Sprintf("signature %d (inferred)", i+1), "("+verdict+")")
		off += n
	}
}
