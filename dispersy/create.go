package dispersy

import (
	"fmt"
	"net/netip"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// CreateOption adjusts Create.
type CreateOption func(*createOptions)

type createOptions struct {
	to     []netip.AddrPort
	signer *keys.PrivateKey
}

// WithSigner signs the new message with key instead of our member in the
// community: for instance with the master key, which is always allowed
// everything (Dispersy's sign_with_master).
func WithSigner(key *keys.PrivateKey) CreateOption {
	return func(o *createOptions) { o.signer = key }
}

// To sends the new message to these addresses: the destination of a
// CandidateDestination type, or extra targets next to the NodeCount random
// candidates of a CommunityDestination type.
func To(addrs ...netip.AddrPort) CreateOption {
	return func(o *createOptions) { o.to = append(o.to, addrs...) }
}

// Create makes a new message of type t with payload p, signed by our
// member: it claims a global time (and a sequence number), stores the
// message if its type is synced, hands it to the type's handler, and sends
// it to its destination. It must run on the engine's goroutine (see Node.Do).
func Create[T any](c *Community, t *MessageType[T], p T, opts ...CreateOption) (*Message[T], error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	m, err := c.create(t, p, o)
	if err != nil {
		return nil, err
	}
	return typed(t, m), nil
}

func (c *Community) usable() error {
	switch {
	case c.e.failed != nil:
		return c.e.failed
	case c.unloaded:
		return fmt.Errorf("%w: %s", ErrUnknownCommunity, c.cid)
	case c.destroyed:
		return ErrDestroyed
	}
	return nil
}

// entryFor returns the registration of t in c.
func (c *Community) entryFor(t AnyMessageType) (*typeEntry, error) {
	e := c.def.types[t.Spec().ID]
	if e == nil || e.t != t {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, t.Spec().Name)
	}
	return e, nil
}

// create builds, signs, stores, handles and forwards one message.
func (c *Community) create(t AnyMessageType, payload any, o createOptions) (*message, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	entry, err := c.entryFor(t)
	if err != nil {
		return nil, err
	}
	spec := entry.spec
	if _, double := spec.Authentication.(policy.DoubleMemberAuthentication); double {
		return nil, fmt.Errorf("dispersy: message %q is double-signed: use CreateDoubleSigned", spec.Name)
	}
	signer := c.me
	if o.signer != nil {
		signer = o.signer
	}
	m, err := c.build(entry, payload, []*keys.PrivateKey{signer}, 0)
	if err != nil {
		return nil, err
	}
	switch m.id() {
	case IDUndoOwn, IDUndoOther:
		switch v := c.checkUndo(m); v.kind {
		case verdictDelay:
			if v.need.kind == needProof {
				return nil, fmt.Errorf("%w: %q at global time %d (the undo permission on the target's type)", ErrNotPermitted, spec.Name, m.frame.GlobalTime)
			}
			return nil, fmt.Errorf("dispersy: cannot undo: the target message is not stored here")
		case verdictDrop:
			return nil, fmt.Errorf("dispersy: cannot undo: %s", v.detail)
		}
	}
	if err := c.commitLocal(m); err != nil {
		return nil, err
	}
	c.deliverLocal(m, o.to)
	return m, nil
}

// build encodes and signs a new message. signers are the authors in
// order; the authentication policy decides how many sign. gtOverride, when
// not 0, is used instead of the next global time.
func (c *Community) build(entry *typeEntry, payload any, signers []*keys.PrivateKey, gtOverride uint64) (*message, error) {
	spec := entry.spec
	n := policy.Members(spec.Authentication)
	if len(signers) < n {
		return nil, fmt.Errorf("dispersy: message %q needs %d signers", spec.Name, n)
	}
	authors := make([]*keys.PublicKey, n)
	ss := make([]signer, n)
	for i := range n {
		authors[i] = signers[i].Public()
		ss[i] = signers[i]
	}
	var seq uint32
	if policy.HasSequence(spec.Distribution) && n > 0 {
		var err error
		if seq, err = c.seqFor(signers[0], spec.ID); err != nil {
			return nil, c.e.fail(err)
		}
	}
	m, err := c.buildSigned(entry, payload, authors, ss, gtOverride, seq)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		if v := c.checkPermission(m); v.kind != verdictAccept {
			return nil, fmt.Errorf("%w: %q at global time %d", ErrNotPermitted, spec.Name, m.frame.GlobalTime)
		}
	}
	return m, nil
}

// commitLocal stores a new synced message in its own transaction and
// advances the clock and sequence counter.
func (c *Community) commitLocal(m *message) error {
	spec := m.entry.spec
	c.e.stats.Created++
	if !policy.Synced(spec.Distribution) {
		return nil
	}
	// Local messages go through the engine's write batch like received
	// ones (with the same side effects), committed at once. Inside a flush
	// the batch holds only operations made after the last commit.
	for _, a := range m.authors {
		c.e.rememberStored(a)
	}
	c.e.batch.Put(m.record())
	if l, ok := spec.Distribution.(policy.LastSyncDistribution); ok {
		c.e.batch.Trim(c.cid, spec.ID, m.author(), m.member2(), l.HistorySize)
	}
	c.acceptEffects(m)
	if err := c.e.noteRemovals(&c.e.batch); err != nil {
		return c.e.fail(err)
	}
	if err := c.e.store.Apply(&c.e.batch); err != nil {
		return c.e.fail(err)
	}
	c.e.applied(c.e.batch.Ops)
	c.e.batch.Reset()
	c.e.stats.Stored++
	c.stats.Stored++
	if m.frame.Sequence > 0 && m.author() == c.me.ID() {
		c.seqs[spec.ID] = m.frame.Sequence
	}
	c.raiseGlobalTime(m.frame.GlobalTime)
	c.walk.storedLocal(m)
	return nil
}

// deliverLocal hands a new message to its handler and sends it to its
// destination, then lets anything waiting on it resume.
func (c *Community) deliverLocal(m *message, to []netip.AddrPort) {
	c.e.stats.Handled++
	if m.entry.builtin {
		c.handleBuiltin([]*message{m})
	} else if h := m.entry.handle; h != nil {
		h(c.ctx, []*message{m})
	}
	switch d := m.entry.spec.Destination.(type) {
	case policy.CandidateDestination:
		for _, a := range to {
			c.e.send(a, m.frame.Packet)
		}
	case policy.CommunityDestination:
		sent := map[netip.AddrPort]bool{}
		for _, a := range to {
			if !sent[a] {
				sent[a] = true
				c.e.send(a, m.frame.Packet)
			}
		}
		for _, a := range c.walk.randomVerified(d.NodeCount, to) {
			if !sent[a] {
				sent[a] = true
				c.e.send(a, m.frame.Packet)
			}
		}
	}
	c.delays.resolved(c, m)
	if !c.e.flushing {
		_ = c.e.flush()
	}
}
