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
	if len(recs) == 0 {
		fmt.Fprintf(x.out, "%s holds no community\n", x.path)
		return nil
	}
	for i, r := range recs {
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
		if i > 0 {
			fmt.Fprintln(x.out)
		}
		fmt.Fprintf(x.out, "community: %s\n", r.ID)
		fmt.Fprintf(x.out, "classification: %s\n", r.Classification)
		fmt.Fprintf(x.out, "master: %s\n", describeMaster(r.Master))
		fmt.Fprintf(x.out, "me: %s (%s, private key stored: %s)\n", r.Me, me, yesNo(private))
		fmt.Fprintf(x.out, "auto-load: %s\n", yesNo(r.AutoLoad))
		fmt.Fprintf(x.out, "messages: %d (%d undone)\n", all, undone)
		fmt.Fprintf(x.out, "max global time: %d\n", gt)
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
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPRIORITY\tDIRECTION\tCOUNT\tUNDONE")
	listed := map[uint8]bool{}
	for _, r := range recs {
		listed[r.ID] = true
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%d\n", r.ID, r.Name, r.Priority, policy.Direction(r.Direction), t.all[r.ID], t.undone[r.ID])
	}
	for id := range t.all {
		if t.all[id] > 0 && !listed[uint8(id)] {
			fmt.Fprintf(tw, "%d\t(not in the type table)\t-\t-\t%d\t%d\n", id, t.all[id], t.undone[id])
		}
	}
	return tw.Flush()
}

// memberInfo is one member the store names.
type memberInfo struct {
	id       keys.MemberID
	messages int
	roles    []string
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
		master.roles = append(master.roles, "master of "+short(r.ID[:]))
		me := get(r.Me)
		me.roles = append(me.roles, "me in "+short(r.ID[:]))
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
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSCHEME\tPRIVATE KEY\tMESSAGES\tROLES")
	for _, m := range ms {
		scheme, private, err := x.member(m.id)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.id, scheme, yesNo(private), m.messages, strings.Join(m.roles, ", "))
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

	lookup := func(id keys.MemberID) *keys.PublicKey {
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
	def, err := lookupDefinition(c)
	if err != nil {
		return err
	}
	if def != nil {
		ok, derr := decodePacket(x.out, rec, def, lookup)
		if ok {
			return nil
		}
		fmt.Fprintf(x.out, "the %s definition does not decode this packet (%v); generic dump:\n", def.overlay, derr)
	} else {
		fmt.Fprintf(x.out, "this tool does not know the definition of the %q community; generic dump:\n", c.Classification)
	}
	inferPacket(x.out, rec, lookup)
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
// packet into one line per grant or setting.
func describePermission(cid keys.CommunityID, pkt []byte, names map[uint8]string) ([]string, error) {
	if len(pkt) < conversion.HeaderSize {
		return nil, fmt.Errorf("packet of %d bytes", len(pkt))
	}
	codec, err := permissionCodec(cid, pkt[1])
	if err != nil {
		return nil, err
	}
	f, err := codec.Decode(pkt)
	if err != nil {
		return nil, err
	}
	var out []string
	grants := func(verb string, gs []dispersy.Grant) {
		for _, g := range gs {
			out = append(out, fmt.Sprintf("%s %s %s on %s", verb, g.Member.ID(), g.Permission, typeLabel(names, g.MessageType)))
		}
	}
	switch f.Format.ID {
	case dispersy.IDAuthorize:
		p, err := dispersy.AuthorizeType.DecodePayload(f.Payload)
		if err != nil {
			return nil, err
		}
		grants("grant", p.Grants)
	case dispersy.IDRevoke:
		p, err := dispersy.RevokeType.DecodePayload(f.Payload)
		if err != nil {
			return nil, err
		}
		grants("revoke", p.Grants)
	case dispersy.IDDynamicSettings:
		p, err := dispersy.DynamicSettingsType.DecodePayload(f.Payload)
		if err != nil {
			return nil, err
		}
		for _, st := range p.Settings {
			out = append(out, fmt.Sprintf("from global time %d on, %s resolves with policy %d", f.GlobalTime+1, typeLabel(names, st.MessageType), st.PolicyIndex))
		}
	}
	return out, nil
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
	fmt.Fprintf(x.out, "permission messages (%s) by global time:\n", strings.Join(labels, ", "))
	n := 0
	err = x.st.Replay(c.ID, ids, func(r *dispersy.Record) bool {
		n++
		fmt.Fprintf(x.out, "gt %d  type %s  member %s  seq %s  undone %s  %d bytes  hash %x\n",
			r.GlobalTime, typeLabel(names, r.MessageID), r.Member, seqLabel(r.Sequence), yesNo(r.Undone), len(r.Packet), r.Hash[:])
		lines, derr := describePermission(c.ID, r.Packet, names)
		if derr != nil {
			fmt.Fprintf(x.out, "  does not decode (%v); packet %x\n", derr, r.Packet)
			return true
		}
		for _, l := range lines {
			fmt.Fprintf(x.out, "  %s\n", l)
		}
		return true
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(x.out, "(none)")
	}
	return nil
}
