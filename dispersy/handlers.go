package dispersy

import (
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// builtinEntries returns the registrations of the built-in message types.
// Their checks and handlers are engine methods dispatched by id.
func builtinEntries() []*typeEntry {
	types := []AnyMessageType{
		IdentityType, MissingIdentityType, MissingSequenceType, MissingMessageType,
		IntroductionRequestType, IntroductionResponseType, PunctureRequestType, PunctureType,
		AuthorizeType, RevokeType, UndoOwnType, UndoOtherType, DestroyCommunityType, DynamicSettingsType,
		MissingProofType, SignatureRequestType, SignatureResponseType,
	}
	out := make([]*typeEntry, len(types))
	for i, t := range types {
		out[i] = &typeEntry{t: t, spec: t.Spec(), builtin: true}
	}
	return out
}

// maxMissingMessageTimes caps how many global times one missing-message
// request is answered for.
const maxMissingMessageTimes = 64

// checkBuiltin is the built-in messages' own check step.
func (c *Community) checkBuiltin(m *message) Verdict {
	switch m.id() {
	case IDIntroductionRequest, IDIntroductionResponse, IDPuncture:
		if m.author() == c.me.ID() {
			return drop(DropFromSelf, "")
		}
		return c.walk.check(c, m)
	case IDPunctureRequest:
		return c.walk.check(c, m)
	case IDMissingMessage:
		if len(m.payload.(MissingMessage).GlobalTimes) > maxMissingMessageTimes {
			return drop(DropInvalidRequest, "too many global times")
		}
	case IDUndoOwn, IDUndoOther:
		return c.checkUndo(m)
	case IDSignatureRequest:
		return c.checkSignatureRequest(m)
	case IDSignatureResponse:
		return c.checkSignatureResponse(m)
	case IDMissingSequence:
		p := m.payload.(MissingSequence)
		t := c.def.types[p.MessageID]
		if t == nil || !policy.HasSequence(t.spec.Distribution) {
			return drop(DropInvalidRequest, "type without sequence numbers")
		}
	}
	return Accept()
}

// handleBuiltin runs the engine's handler for a group of built-in messages
// of one type.
func (c *Community) handleBuiltin(group []*message) {
	switch group[0].id() {
	case IDIdentity:
		for _, m := range group {
			c.delays.resolvedMember(c, m.author())
		}
	case IDMissingIdentity:
		for _, m := range group {
			if !m.local {
				c.answerMissingIdentity(m)
			}
		}
	case IDMissingMessage:
		for _, m := range group {
			if !m.local {
				c.answerMissingMessage(m)
			}
		}
	case IDMissingSequence:
		c.answerMissingSequence(group)
	case IDSignatureRequest:
		for _, m := range group {
			if !m.local {
				c.answerSignatureRequest(m)
			}
		}
	case IDSignatureResponse:
		for _, m := range group {
			if !m.local {
				c.handleSignatureResponse(m)
			}
		}
	case IDMissingProof:
		for _, m := range group {
			if !m.local {
				c.answerMissingProof(m)
			}
		}
	case IDDestroyCommunity:
		for _, m := range group {
			c.destroy(m)
		}
	case IDIntroductionRequest, IDIntroductionResponse, IDPunctureRequest, IDPuncture:
		for _, m := range group {
			if !m.local {
				c.walk.handle(c, m)
			}
		}
	}
}

// answerMissingIdentity sends every stored identity of the member id.
func (c *Community) answerMissingIdentity(m *message) {
	p := m.payload.(MissingIdentity)
	hist, err := c.e.store.History(c.cid, IDIdentity, p.Member, keys.MemberID{})
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	for _, r := range hist {
		c.e.send(m.source, r.Packet)
	}
}

// answerMissingMessage sends the requested messages that are stored.
func (c *Community) answerMissingMessage(m *message) {
	p := m.payload.(MissingMessage)
	gts := slices.Clone(p.GlobalTimes)
	slices.Sort(gts)
	gts = slices.Compact(gts)
	recs, err := c.e.store.ByGlobalTimes(c.cid, p.Member, gts)
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	for _, r := range recs {
		c.e.send(m.source, r.Packet)
	}
}

// answerMissingSequence answers the missing-sequence requests of one batch:
// per requester, the union of the requested ranges is sent once each, in
// sequence order, up to Config.SequenceBudget bytes (the packet that
// crosses it included).
func (c *Community) answerMissingSequence(group []*message) {
	type target struct {
		to     netip.AddrPort
		member keys.MemberID
		id     uint8
	}
	var order []target
	ranges := map[target][][2]uint32{}
	for _, m := range group {
		if m.local {
			continue
		}
		p := m.payload.(MissingSequence)
		t := target{m.source, p.Member, p.MessageID}
		if _, ok := ranges[t]; !ok {
			order = append(order, t)
		}
		ranges[t] = append(ranges[t], [2]uint32{p.Low, p.High})
	}
	spent := map[netip.AddrPort]int{}
	for _, t := range order {
		rs := mergeRanges(ranges[t])
		for _, r := range rs {
			if spent[t.to] >= c.e.cfg.SequenceBudget {
				break
			}
			err := c.e.store.BySequence(c.cid, t.member, t.id, r[0], r[1], func(rec *Record) bool {
				if c.seqSent.Seen(c.e.now, c.e.cfg.SequenceAnswerWindow, sentKey{t.to, rec.Hash}) {
					return true
				}
				if !c.e.send(t.to, rec.Packet) {
					return false
				}
				spent[t.to] += len(rec.Packet)
				return spent[t.to] < c.e.cfg.SequenceBudget
			})
			if err != nil {
				_ = c.e.fail(err)
				return
			}
		}
	}
}

// sentKey names a packet sent to an address (see Community.seqSent).
type sentKey struct {
	to netip.AddrPort
	h  Hash
}

// mergeRanges sorts inclusive ranges and merges overlapping or adjacent
// ones.
func mergeRanges(rs [][2]uint32) [][2]uint32 {
	slices.SortFunc(rs, func(a, b [2]uint32) int {
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		if a[1] < b[1] {
			return -1
		} else if a[1] > b[1] {
			return 1
		}
		return 0
	})
	var out [][2]uint32
	for _, r := range rs {
		if n := len(out); n > 0 && uint64(r[0]) <= uint64(out[n-1][1])+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// sendMissing sends the request for one need (missing messages are merged
// by delayQueue.flushSends instead).
func (c *Community) sendMissing(n need, to netip.AddrPort) {
	switch n.kind {
	case needIdentity:
		c.sendDirect(MissingIdentityType, MissingIdentity{Member: n.member}, to)
	case needSequence:
		c.sendDirect(MissingSequenceType, MissingSequence{Member: n.member, MessageID: n.msgID, Low: n.low, High: n.high}, to)
	case needProof:
		c.sendMissingProof(n, to)
	}
}

// sendDirect builds a direct message signed by our member (when its type is
// signed) and sends it, without handling it locally. It is for messages we
// initiate and answers alike: every send passes the anti-amplification
// credit (amplify.go).
func (c *Community) sendDirect(t AnyMessageType, payload any, to ...netip.AddrPort) {
	if pkt := c.buildDirect(t, payload); pkt != nil {
		for _, a := range to {
			c.e.send(a, pkt)
		}
	}
}

func (c *Community) buildDirect(t AnyMessageType, payload any) []byte {
	entry := c.def.types[t.Spec().ID]
	m, err := c.build(entry, payload, []*keys.PrivateKey{c.me}, 0)
	if err != nil {
		c.e.log.Warn().Err(err).Str("msg", t.Spec().Name).Msg("cannot build message")
		return nil
	}
	return m.frame.Packet
}

// forwardReceived pushes a newly received synced message on to
// Config.ForwardNew random verified candidates (0: Dispersy, never).
func (c *Community) forwardReceived(m *message) {
	n := c.e.cfg.ForwardNew
	if n == 0 || m.local || !policy.Synced(m.entry.spec.Distribution) || !policy.BloomSynced(m.entry.spec.Distribution) {
		return
	}
	if w := c.e.cfg.ForwardWindow; w > 0 && m.frame.GlobalTime+w < c.globalTime {
		return
	}
	for _, a := range c.walk.randomVerified(n, []netip.AddrPort{m.source}) {
		c.e.send(a, m.frame.Packet)
	}
}
