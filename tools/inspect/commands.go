package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// inspector runs one command on an open store.
type inspector struct {
	path string
	st   *database.Store
	out  io.Writer
	json bool // -json: one JSON document instead of text
}

// allIDs selects every message id in Replay.
var allIDs = func() []uint8 {
	ids := make([]uint8, 0, 255)
	for id := 1; id <= 255; id++ {
		ids = append(ids, uint8(id))
	}
	return ids
}()

// permissionIDs are the built-in permission messages the timeline command
// lists, with Python Dispersy's names.
var permissionIDs = []struct {
	id   uint8
	name string
}{
	{dispersy.IDDynamicSettings, "dispersy-dynamic-settings"},
	{dispersy.IDRevoke, "dispersy-revoke"},
	{dispersy.IDAuthorize, "dispersy-authorize"},
}

func short(id []byte) string { return hex.EncodeToString(id[:4]) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// noArgs refuses extra arguments.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", cmd, args[0])
	}
	return nil
}

// community resolves a CID argument (hex, a unique prefix is enough).
func (x *inspector) community(arg string) (dispersy.CommunityRecord, error) {
	arg = strings.ToLower(arg)
	if arg == "" || strings.Trim(arg, "0123456789abcdef") != "" || len(arg) > 2*keys.IDSize {
		return dispersy.CommunityRecord{}, usagef("%q is not a community id (hex, up to %d digits)", arg, 2*keys.IDSize)
	}
	recs, err := x.st.Communities()
	if err != nil {
		return dispersy.CommunityRecord{}, err
	}
	var found []dispersy.CommunityRecord
	for _, r := range recs {
		if strings.HasPrefix(r.ID.String(), arg) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return dispersy.CommunityRecord{}, fmt.Errorf("%s holds no community with id %s… (list them with: inspect %s communities)", x.path, arg, x.path)
	case 1:
		return found[0], nil
	}
	return dispersy.CommunityRecord{}, fmt.Errorf("%d communities in %s have ids starting with %s; give more digits", len(found), x.path, arg)
}

// tally counts stored messages per type: all, and undone.
type tally struct{ all, undone [256]int }

func (x *inspector) tally(cid keys.CommunityID) (*tally, error) {
	var t tally
	err := x.st.Replay(cid, allIDs, func(r *dispersy.Record) bool {
		t.all[r.MessageID]++
		if r.Undone {
			t.undone[r.MessageID]++
		}
		return true
	})
	return &t, err
}

func (t *tally) total() (all, undone int) {
	for i := range t.all {
		all += t.all[i]
		undone += t.undone[i]
	}
	return all, undone
}

// describeMaster renders a master key, or its raw bytes if it does not
// parse.
func describeMaster(b []byte) string {
	k, err := keys.ParsePublicKey(b)
	if err != nil {
		return hex.EncodeToString(b) + " (not a valid key)"
	}
	return fmt.Sprintf("%s (%s)", k, k.Scheme())
}

// communities lists every community.
func (x *inspector) communities(args []string) error {
	if err := noArgs("communities", args); err != nil {
		return err
	}
	recs, err := x.st.Communities()
	if err != nil {
		return err
	}
	doc := communitiesJSON{File: x.path, Communities: []communityJSON{}}
	for _, r := range recs {
		t, err := x.tally(r.ID)
		if err != nil {
			return err
		}
		gt, err := x.st.MaxGlobalTime(r.ID)
		if err != nil {
			return err
		}
		me, private, err := x.member(r.Me)
		if err != nil {
			return err
		}
		all, undone := t.total()
		c := communityJSON{
			ID: r.ID.String(), Classification: r.Classification, Master: hex.EncodeToString(r.Master),
			Me: r.Me.String(), MeScheme: me, MePrivateKey: private, AutoLoad: r.AutoLoad,
			Messages: all, Undone: undone, MaxGlobalTime: gt, master: r.Master,
		}
		if k, err := keys.ParsePublicKey(r.Master); err == nil {
			c.MasterScheme = k.Scheme().String()
		}
		doc.Communities = append(doc.Communities, c)
	}
	if x.json {
		return writeJSON(x.out, doc)
	}
	if len(doc.Communities) == 0 {
		fmt.Fprintf(x.out, "%s holds no community\n", x.path)
		return nil
	}
	for i, c := range doc.Communities {
		if i > 0 {
			fmt.Fprintln(x.out)
		}
		fmt.Fprintf(x.out, "community: %s\n", c.ID)
		fmt.Fprintf(x.out, "classification: %s\n", c.Classification)
		fmt.Fprintf(x.out, "master: %s\n", describeMaster(c.master))
		fmt.Fprintf(x.out, "me: %s (%s, private key stored: %s)\n", c.Me, c.MeScheme, yesNo(c.MePrivateKey))
		fmt.Fprintf(x.out, "auto-load: %s\n", yesNo(c.AutoLoad))
		fmt.Fprintf(x.out, "messages: %d (%d undone)\n", c.Messages, c.Undone)
		fmt.Fprintf(x.out, "max global time: %d\n", c.MaxGlobalTime)
	}
	return nil
}

// member returns a member's scheme name and whether its private key is
// stored.
func (x *inspector) member(id keys.MemberID) (scheme string, private bool, err error) {
	m, ok, err := x.st.Member(id)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "unknown member", false, nil
	}
	return schemeOf(m.PublicKey), len(m.PrivateKey) > 0, nil
}

// schemeOf names the scheme of a binary public key by its tag byte.
func schemeOf(pub []byte) string {
	if len(pub) == 0 {
		return "no key"
	}
	s := keys.Scheme(pub[0])
	if !s.Valid() {
		return fmt.Sprintf("unknown scheme %d", pub[0])
	}
	return s.String()
}

// types lists a community's message types with their message counts.
func (x *inspector) types(args []string) error {
	if len(args) != 1 {
		return usagef("types takes one community id")
	}
	c, err := x.community(args[0])
	if err != nil {
		return err
	}
	recs, err := x.st.Types(c.ID)
	if err != nil {
		return err
	}
	t, err := x.tally(c.ID)
	if err != nil {
		return err
	}
	doc := typesJSON{Community: c.ID.String(), Types: []typeJSON{}}
	listed := map[uint8]bool{}
	for _, r := range recs {
		listed[r.ID] = true
		prio, dir := r.Priority, policy.Direction(r.Direction).String()
		doc.Types = append(doc.Types, typeJSON{ID: r.ID, Name: r.Name, InTypeTable: true, Priority: &prio, Direction: &dir,
			Count: t.all[r.ID], Undone: t.undone[r.ID]})
	}
	for id := range t.all {
		if t.all[id] > 0 && !listed[uint8(id)] {
			doc.Types = append(doc.Types, typeJSON{ID: uint8(id), Count: t.all[id], Undone: t.undone[id]})
		}
	}
	if x.json {
		return writeJSON(x.out, doc)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPRIORITY\tDIRECTION\tCOUNT\tUNDONE")
	for _, r := range doc.Types {
		if !r.InTypeTable {
			fmt.Fprintf(tw, "%d\t(not in the type table)\t-\t-\t%d\t%d\n", r.ID, r.Count, r.Undone)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%d\n", r.ID, r.Name, *r.Priority, *r.Direction, r.Count, r.Undone)
	}
	return tw.Flush()
}

// memberInfo is one member the store names.
type memberInfo struct {
	id       keys.MemberID
	messages int
	roles    []roleJSON
}

// knownMembers collects every member the store names: the masters and our
// members of the communities, and the authors of stored messages. (The
// Store interface has no way to list the member table itself.)
func (x *inspector) knownMembers() ([]*memberInfo, error) {
	byID := map[keys.MemberID]*memberInfo{}
	get := func(id keys.MemberID) *memberInfo {
		m := byID[id]
		if m == nil {
			m = &memberInfo{id: id}
			byID[id] = m
		}
		return m
	}
	recs, err := x.st.Communities()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		master := get(keys.IDOf(r.Master))
		master.roles = append(master.roles, roleJSON{Role: "master", Community: r.ID.String()})
		me := get(r.Me)
		me.roles = append(me.roles, roleJSON{Role: "me", Community: r.ID.String()})
		err := x.st.Replay(r.ID, allIDs, func(rec *dispersy.Record) bool {
			get(rec.Member).messages++
			if rec.Double() {
				get(rec.Member2).messages++
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]*memberInfo, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *memberInfo) int { return slices.Compare(a.id[:], b.id[:]) })
	return out, nil
}

// members lists the members the store names.
func (x *inspector) members(args []string) error {
	if err := noArgs("members", args); err != nil {
		return err
	}
	ms, err := x.knownMembers()
	if err != nil {
		return err
	}
	doc := membersJSON{Members: []memberJSON{}}
	for _, m := range ms {
		scheme, private, err := x.member(m.id)
		if err != nil {
			return err
		}
		doc.Members = append(doc.Members, memberJSON{ID: m.id.String(), Scheme: scheme, PrivateKey: private,
			Messages: m.messages, Roles: append([]roleJSON{}, m.roles...)})
	}
	if x.json {
		return writeJSON(x.out, doc)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSCHEME\tPRIVATE KEY\tMESSAGES\tROLES")
	for _, m := range doc.Members {
		roles := make([]string, len(m.Roles))
		for i, r := range m.Roles {
			verb := "master of "
			if r.Role == "me" {
				verb = "me in "
			}
			roles[i] = verb + r.Community[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.ID, m.Scheme, yesNo(m.PrivateKey), m.Messages, strings.Join(roles, ", "))
	}
	return tw.Flush()
}

// typeNames returns the stored type names of a community by id.
func (x *inspector) typeNames(cid keys.CommunityID) (map[uint8]string, error) {
	recs, err := x.st.Types(cid)
	if err != nil {
		return nil, err
	}
	names := map[uint8]string{}
	for _, r := range recs {
		names[r.ID] = r.Name
	}
	for _, p := range permissionIDs {
		if _, ok := names[p.id]; !ok {
			names[p.id] = p.name
		}
	}
	return names, nil
}

func typeLabel(names map[uint8]string, id uint8) string {
	if n, ok := names[id]; ok {
		return fmt.Sprintf("%d %s", id, n)
	}
	return strconv.Itoa(int(id))
}

func seqLabel(seq uint32) string {
	if seq == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(seq), 10)
}

// messages lists a community's stored messages, one per line.
func (x *inspector) messages(args []string) error {
	flags := flag.NewFlagSet("messages", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	typeID := flags.Int("type", 0, "")
	limit := flags.Int("limit", 0, "")
	// Flags may come before or after the community id.
	var pos []string
	for {
		if err := flags.Parse(args); err != nil {
			return usagef("messages: %v", err)
		}
		if flags.NArg() == 0 {
			break
		}
		pos = append(pos, flags.Arg(0))
		args = flags.Args()[1:]
	}
	if len(pos) != 1 {
		return usagef("messages takes one community id, then optionally -type ID and -limit N")
	}
	if *typeID < 0 || *typeID > 255 {
		return usagef("messages: -type %d is not a message id (0..255)", *typeID)
	}
	if *limit < 0 {
		return usagef("messages: -limit %d must be >= 0 (0: no limit)", *limit)
	}
	c, err := x.community(pos[0])
	if err != nil {
		return err
	}
	names, err := x.typeNames(c.ID)
	if err != nil {
		return err
	}
	ids := allIDs
	if *typeID > 0 {
		ids = []uint8{uint8(*typeID)}
	}
	if x.json {
		return x.messagesJSON(c, ids, *limit, names)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GT\tTYPE\tMEMBER\tSEQ\tUNDONE\tSIZE")
	n := 0
	err = x.st.Replay(c.ID, ids, func(r *dispersy.Record) bool {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\n", r.GlobalTime, typeLabel(names, r.MessageID), r.Member, seqLabel(r.Sequence), yesNo(r.Undone), len(r.Packet))
		n++
		return *limit == 0 || n < *limit
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// messagesJSON writes the messages document: every message with its
// payload, decoded when the tool knows the community's definition.
func (x *inspector) messagesJSON(c dispersy.CommunityRecord, ids []uint8, limit int, names map[uint8]string) error {
	def, err := lookupDefinition(c)
	if err != nil {
		return err
	}
	// The packets are taken apart after Replay: that may read member keys
	// from the store, which must not happen inside Replay's callback.
	var recs []dispersy.Record
	err = x.st.Replay(c.ID, ids, func(r *dispersy.Record) bool {
		rc := *r
		rc.Packet = append([]byte(nil), r.Packet...)
		recs = append(recs, rc)
		return limit == 0 || len(recs) < limit
	})
	if err != nil {
		return err
	}
	doc := messagesJSON{Community: c.ID.String(), Messages: []messageJSON{}}
	for i := range recs {
		d, _, _ := parseRecord(c, def, recs[i], x.memberKey)
		doc.Messages = append(doc.Messages, messageJSON{recordJSON: newRecordJSON(&recs[i], names), Payload: newPayloadJSON(d.payload)})
	}
	return writeJSON(x.out, doc)
}

// memberKey returns a member's public key from the store, or nil.
func (x *inspector) memberKey(id keys.MemberID) *keys.PublicKey {
	m, ok, err := x.st.Member(id)
	if err != nil || !ok {
		return nil
	}
	k, err := keys.ParsePublicKey(m.PublicKey)
	if err != nil {
		return nil
	}
	return k
}

// parseRecord takes a stored packet apart: with the community's definition
// when the tool knows it (title names the message and its policies), else
// by inference (note says why).
func parseRecord(c dispersy.CommunityRecord, def *definition, rec dispersy.Record, lookup memberKeys) (d *dump, title, note string) {
	if def != nil {
		d, title, err := decodePacket(rec, def, lookup)
		if err == nil {
			return d, title, ""
		}
		note = fmt.Sprintf("the %s definition does not decode this packet (%v); generic dump:", def.overlay, err)
	} else {
		note = fmt.Sprintf("this tool does not know the definition of the %q community; generic dump:", c.Classification)
	}
	return inferPacket(rec, lookup), "", note
}

// resolveMember resolves a MEMBER argument among the members the store
// names (hex; a unique prefix is enough).
func (x *inspector) resolveMember(arg string) (keys.MemberID, error) {
	arg = strings.ToLower(arg)
	if arg == "" || strings.Trim(arg, "0123456789abcdef") != "" || len(arg) > 2*keys.IDSize {
		return keys.MemberID{}, usagef("%q is not a member id (hex, up to %d digits)", arg, 2*keys.IDSize)
	}
	if len(arg) == 2*keys.IDSize {
		var id keys.MemberID
		hex.Decode(id[:], []byte(arg))
		return id, nil
	}
	ms, err := x.knownMembers()
	if err != nil {
		return keys.MemberID{}, err
	}
	var found []keys.MemberID
	for _, m := range ms {
		if strings.HasPrefix(m.id.String(), arg) {
			found = append(found, m.id)
		}
	}
	switch len(found) {
	case 0:
		return keys.MemberID{}, fmt.Errorf("%s names no member with id %s… (list them with: inspect %s members)", x.path, arg, x.path)
	case 1:
		return found[0], nil
	}
	return keys.MemberID{}, fmt.Errorf("%d members in %s have ids starting with %s; give more digits", len(found), x.path, arg)
}

// packet decodes one stored packet field by field.
func (x *inspector) packet(args []string) error {
	if len(args) != 3 {
		return usagef("packet takes a community id, a member id and a global time")
	}
	c, err := x.community(args[0])
	if err != nil {
		return err
	}
	mid, err := x.resolveMember(args[1])
	if err != nil {
		return err
	}
	gt, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil || gt == 0 {
		return usagef("%q is not a global time (a positive integer)", args[2])
	}
	rec, ok, err := x.st.Get(c.ID, dispersy.MessageKey{Member: mid, GlobalTime: gt})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s holds no message of member %s at global time %d in community %s (list them with: inspect %s messages %s)",
			x.path, mid, gt, short(c.ID[:]), x.path, short(c.ID[:]))
	}
	names, err := x.typeNames(c.ID)
	if err != nil {
		return err
	}
	def, err := lookupDefinition(c)
	if err != nil {
		return err
	}
	d, title, note := parseRecord(c, def, rec, x.memberKey)
	if x.json {
		doc := packetJSON{
			Community: c.ID.String(), recordJSON: newRecordJSON(&rec, names), Message: title, Note: note,
			Fields: []fieldJSON{}, Payload: newPayloadJSON(d.payload), Signatures: []signatureJSON{}, Packet: hex.EncodeToString(rec.Packet),
		}
		if rec.Undone && rec.UndoneBy != (dispersy.MessageKey{}) {
			doc.UndoneBy = &keyJSON{Member: rec.UndoneBy.Member.String(), GlobalTime: rec.UndoneBy.GlobalTime}
		}
		if title != "" {
			doc.Definition = def.overlay
		}
		for _, r := range d.rows {
			v := r.value
			if r.isHex {
				v = r.hexValue()
			}
			doc.Fields = append(doc.Fields, fieldJSON{Offset: r.off, Size: r.size, Name: r.name, Value: v})
		}
		for _, s := range d.sigs {
			doc.Signatures = append(doc.Signatures, signatureJSON{Offset: s.off, Size: s.size, Verdict: s.verdict})
		}
		return writeJSON(x.out, doc)
	}
	fmt.Fprintf(x.out, "community: %s\n", c.ID)
	fmt.Fprintf(x.out, "member: %s\n", rec.Member)
	if rec.Double() {
		fmt.Fprintf(x.out, "member 2: %s\n", rec.Member2)
	}
	fmt.Fprintf(x.out, "global time: %d\n", rec.GlobalTime)
	fmt.Fprintf(x.out, "type: %s\n", typeLabel(names, rec.MessageID))
	fmt.Fprintf(x.out, "sequence: %s\n", seqLabel(rec.Sequence))
	switch {
	case !rec.Undone:
		fmt.Fprintln(x.out, "undone: no")
	case rec.UndoneBy == (dispersy.MessageKey{}):
		fmt.Fprintln(x.out, "undone: yes, by a permission change")
	default:
		fmt.Fprintf(x.out, "undone: yes, by the message of %s at global time %d\n", rec.UndoneBy.Member, rec.UndoneBy.GlobalTime)
	}
	fmt.Fprintf(x.out, "hash: %x\n", rec.Hash[:])
	fmt.Fprintf(x.out, "size: %d bytes\n", len(rec.Packet))
	if title != "" {
		fmt.Fprintln(x.out, title)
	} else {
		fmt.Fprintln(x.out, note)
	}
	d.write(x.out)
	return nil
}

// permissionCodec decodes the built-in permission messages of community
// cid in community version v, whatever the community's own definition.
func permissionCodec(cid keys.CommunityID, v uint8) (*conversion.Codec, error) {
	var formats []*conversion.Format
	for _, t := range []dispersy.AnyMessageType{dispersy.AuthorizeType, dispersy.RevokeType, dispersy.DynamicSettingsType} {
		spec := t.Spec()
		formats = append(formats, &conversion.Format{ID: spec.ID, Name: spec.Name, Policies: spec.Policies()})
	}
	conv, err := conversion.NewConversion(v, formats...)
	if err != nil {
		return nil, err
	}
	return conversion.NewCodec(cid, conv)
}

// describePermission decodes a stored authorize, revoke or dynamic-settings
// packet into p's grants or settings; it fills p.Error and p.Packet when
// the packet does not decode.
func describePermission(cid keys.CommunityID, pkt []byte, names map[uint8]string, p *permissionJSON) {
	p.Grants, p.Settings = []grantJSON{}, []settingJSON{}
	if err := decodePermission(cid, pkt, names, p); err != nil {
		p.Grants, p.Settings = []grantJSON{}, []settingJSON{}
		p.Error, p.Packet = err.Error(), hex.EncodeToString(pkt)
	}
}

func decodePermission(cid keys.CommunityID, pkt []byte, names map[uint8]string, out *permissionJSON) error {
	if len(pkt) < conversion.HeaderSize {
		return fmt.Errorf("packet of %d bytes", len(pkt))
	}
	codec, err := permissionCodec(cid, pkt[1])
	if err != nil {
		return err
	}
	f, err := codec.Decode(pkt)
	if err != nil {
		return err
	}
	grants := func(action string, gs []dispersy.Grant) {
		for _, g := range gs {
			out.Grants = append(out.Grants, grantJSON{Action: action, Member: g.Member.ID().String(), Permission: g.Permission.String(),
				MessageType: g.MessageType, TypeName: names[g.MessageType]})
		}
	}
	switch f.Format.ID {
	case dispersy.IDAuthorize:
		p, err := dispersy.AuthorizeType.DecodePayload(f.Payload)
		if err != nil {
			return err
		}
		grants("grant", p.Grants)
	case dispersy.IDRevoke:
		p, err := dispersy.RevokeType.DecodePayload(f.Payload)
		if err != nil {
			return err
		}
		grants("revoke", p.Grants)
	case dispersy.IDDynamicSettings:
		p, err := dispersy.DynamicSettingsType.DecodePayload(f.Payload)
		if err != nil {
			return err
		}
		for _, st := range p.Settings {
			out.Settings = append(out.Settings, settingJSON{MessageType: st.MessageType, TypeName: names[st.MessageType],
				PolicyIndex: st.PolicyIndex, FromGlobalTime: f.GlobalTime + 1})
		}
	}
	return nil
}

// timeline lists the stored permission messages, decoded.
func (x *inspector) timeline(args []string) error {
	if len(args) != 1 {
		return usagef("timeline takes one community id")
	}
	c, err := x.community(args[0])
	if err != nil {
		return err
	}
	names, err := x.typeNames(c.ID)
	if err != nil {
		return err
	}
	ids := make([]uint8, len(permissionIDs))
	var labels []string
	for i, p := range permissionIDs {
		ids[i] = p.id
		labels = append(labels, fmt.Sprintf("%d %s", p.id, p.name))
	}
	doc := timelineJSON{Community: c.ID.String(), Permissions: []permissionJSON{}}
	err = x.st.Replay(c.ID, ids, func(r *dispersy.Record) bool {
		p := permissionJSON{recordJSON: newRecordJSON(r, names)}
		describePermission(c.ID, r.Packet, names, &p)
		doc.Permissions = append(doc.Permissions, p)
		return true
	})
	if err != nil {
		return err
	}
	if x.json {
		return writeJSON(x.out, doc)
	}
	fmt.Fprintf(x.out, "permission messages (%s) by global time:\n", strings.Join(labels, ", "))
	for _, p := range doc.Permissions {
		fmt.Fprintf(x.out, "gt %d  type %s  member %s  seq %s  undone %s  %d bytes  hash %s\n",
			p.GlobalTime, typeLabel(names, p.Type), p.Member, seqLabel(p.Sequence), yesNo(p.Undone), p.Size, p.Hash)
		if p.Error != "" {
			fmt.Fprintf(x.out, "  does not decode (%s); packet %s\n", p.Error, p.Packet)
			continue
		}
		for _, g := range p.Grants {
			fmt.Fprintf(x.out, "  %s %s %s on %s\n", g.Action, g.Member, g.Permission, typeLabel(names, g.MessageType))
		}
		for _, st := range p.Settings {
			fmt.Fprintf(x.out, "  from global time %d on, %s resolves with policy %d\n", st.FromGlobalTime, typeLabel(names, st.MessageType), st.PolicyIndex)
		}
	}
	if len(doc.Permissions) == 0 {
		fmt.Fprintln(x.out, "(none)")
	}
	return nil
}
