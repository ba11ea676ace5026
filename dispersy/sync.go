package dispersy

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy/bloom"
	"github.com/dispersy-go/dispersy/policy"
)

// skipCurve is Dispersy's probability of skipping the sync of a walker step
// after skipCount requests in a row went unanswered (§4.2).
var skipCurve = [...]float64{0, 0, .1, .2, .3, .4, .5, .6, .7, .8, .9}

// maxBloomReuse is how many times one bloom filter is sent again while it
// keeps bringing answers (Dispersy: 100).
const maxBloomReuse = 100

// syncCache is the last bloom filter a community sent, reused while it
// brings answers (Dispersy's SyncCache).
type syncCache struct {
	req    *SyncRequest
	filter *bloom.Filter
	// room is how many more keys the filter takes before its
	// false-positive rate exceeds the target: then it is rebuilt.
	room      int
	to        netip.AddrPort
	timesUsed int
	responses int
	skip      int
}

// syncTypes returns the community's bloom-synced message types ordered for
// answering: priority high to low, then id.
func (c *Community) syncTypes() []SyncTypeOrder {
	var out []SyncTypeOrder
	for _, id := range c.def.ids {
		d := c.def.types[id].spec.Distribution
		if !policy.BloomSynced(d) {
			continue
		}
		dir, prio, pruning, _ := policy.SyncParams(d)
		o := SyncTypeOrder{ID: id, Priority: prio, Direction: dir}
		if g, ok := pruning.(policy.GlobalTimePruning); ok && c.GlobalTime() >= g.Inactive {
			// Only active messages are sent: gt > now - inactive.
			o.Low = c.GlobalTime() - g.Inactive + 1
		}
		out = append(out, o)
	}
	slices.SortStableFunc(out, func(a, b SyncTypeOrder) int {
		if x := cmp.Compare(b.Priority, a.Priority); x != 0 {
			return x
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// SyncedTypes returns the ids of the community's bloom-synced message
// types (synced, priority above 32), ascending.
func (c *Community) SyncedTypes() []uint8 { return c.syncTypeIDs() }

func (c *Community) syncTypeIDs() []uint8 {
	var ids []uint8
	for _, id := range c.def.ids {
		if policy.BloomSynced(c.def.types[id].spec.Distribution) {
			ids = append(ids, id)
		}
	}
	return ids
}

// bloomBytes returns how many bytes of bloom filter fit a datagram whose
// other parts take fixed bytes.
func (c *Community) bloomBytes(fixed int) int {
	n := c.e.cfg.MaxDatagram - fixed
	return max(n, 1)
}

// introFixedSize is the size of an introduction request or response with
// an empty bloom filter: everything but the filter bits.
func (c *Community) introFixedSize(addrs []netip.AddrPort, response bool) int {
	size := conversion.HeaderSize + c.me.Public().Scheme().BinaryPublicKeySize() + 8 + c.me.Public().SignatureSize()
	for _, a := range addrs {
		size += 3
		if a.IsValid() {
			size += len(a.Addr().Unmap().AsSlice())
		}
	}
	size += 1 + 2         // flags, identifier
	size += 8 + 8 + 2 + 2 // low, high, modulo, offset
	size += 1 + 4         // k, salt
	return size
}

// buildSync makes the bloom-filter sync request for a walker step toward
// to, following Dispersy's reuse and skip rules. It returns nil when this
// step carries no sync.
func (c *Community) buildSync(to netip.AddrPort, fixed int) *SyncRequest {
	if !c.e.cfg.BloomSync {
		return nil
	}
	sc := &c.walk.sync
	if sc.req != nil && sc.responses > 0 && sc.timesUsed < maxBloomReuse && sc.room >= 0 && sc.filter.Len() <= c.bloomBytes(fixed) {
		sc.timesUsed++
		sc.responses = 0
		sc.to = to
		return sc.req
	}
	if sc.req != nil && sc.responses == 0 && sc.timesUsed == 1 {
		// A fresh filter brought nothing back: skip a little more often
		// (Dispersy increments only for a filter never reused).
		sc.skip = min(sc.skip+1, len(skipCurve))
	}
	if c.e.cfg.SkipCurve && sc.skip > 0 && c.e.rng.Float64() < skipCurve[sc.skip-1] {
		sc.req = nil
		return nil
	}
	// A request's filter fills the datagram, as Dispersy's did: the
	// responder may answer an address that has not proved it receives up
	// to 3× what it sent (anti-amplification), so a full-size request earns
	// a full answer (QUIC pads its first packets for the same reason).
	req, f, room := c.newSyncRequestRoom(fixed, true)
	if req == nil {
		return nil
	}
	*sc = syncCache{req: req, filter: f, room: room, to: to, timesUsed: 1, skip: sc.skip}
	return req
}

// minBloomBits is the smallest filter sent: a few keys' worth.
const minBloomBits = 256

// newSyncRequest chooses a range and fills a fresh bloom filter.
func (c *Community) newSyncRequest(fixed int) (*SyncRequest, *bloom.Filter) {
	req, f, _ := c.newSyncRequestRoom(fixed, false)
	return req, f
}

// newSyncRequestRoom chooses a range and fills a fresh bloom filter. With
// full it fills the datagram (Python Dispersy's rule); otherwise it is sized
// for the keys it holds, with headroom, up to what fits: the false-positive
// rate is the target either way, and a small store sends a small filter. It
// also returns how many keys may still be added before the rate exceeds the
// target.
func (c *Community) newSyncRequestRoom(fixed int, full bool) (*SyncRequest, *bloom.Filter, int) {
	nbytes := min(c.bloomBytes(fixed), bloom.MaxBytes)
	maxBits := nbytes * 8
	rate := c.e.cfg.BloomErrorRate
	capacity := max(bloom.Capacity(maxBits, rate), 1)
	types := c.syncTypeIDs()
	r, err := ChooseSyncRange(c.e.store, RangeParams{
		Community:   c.cid,
		Types:       types,
		Capacity:    capacity,
		GlobalTime:  c.GlobalTime(),
		Acceptable:  c.acceptableGlobalTime(),
		Strategy:    c.e.cfg.SyncStrategy,
		StoredCount: c.walk.syncCount,
	}, c.e.rng)
	if err != nil {
		_ = c.e.fail(err)
		return nil, nil, 0
	}
	c.walk.syncCount = r.StoredCount
	design := min(len(r.Hashes)+len(r.Hashes)/2+16, capacity)
	mBits := min(maxBits, max(bloom.BitsFor(design, rate), minBloomBits))
	if full || mBits >= maxBits {
		mBits = maxBits
		design = capacity
	}
	k := bloom.OptimalK(mBits, max(design, 1))
	f, err := bloom.New(mBits, k, c.e.rng.Uint32())
	if err != nil {
		return nil, nil, 0
	}
	for _, h := range r.Hashes {
		f.Add([bloom.KeySize]byte(h))
	}
	if r.Modulo == 0 {
		r.Modulo = 1
	}
	return &SyncRequest{
		Low: max(r.Low, 1), High: r.High,
		Modulo: uint16(min(r.Modulo, 0xFFFF)), Offset: uint16(min(r.Offset, 0xFFFE)),
		K: uint8(f.K()), Salt: f.Salt(), Bloom: f.Bytes(),
	}, f, design - len(r.Hashes)
}

// storedSync adds a newly stored message to the cached bloom filter when it
// falls in its range, so a reused filter does not ask for it again; and
// counts answers from the peer the filter went to.
func (c *Community) storedSync(m *message) {
	c.walk.fruit(c.e.now)
	sc := &c.walk.sync
	if sc.req == nil || !policy.BloomSynced(m.entry.spec.Distribution) {
		return
	}
	if !m.local && m.source == sc.to {
		sc.responses++
		sc.skip = 0
	}
	gt := m.frame.GlobalTime
	r := sc.req
	if gt < r.Low || (r.High != 0 && gt > r.High) {
		return
	}
	if r.Modulo > 1 && (gt+uint64(r.Offset))%uint64(r.Modulo) != 0 {
		return
	}
	sc.filter.Add([bloom.KeySize]byte(m.hash))
	r.Bloom = sc.filter.Bytes()
	sc.room--
}

// answerSync sends the messages a peer's bloom filter lacks, up to
// Config.SyncBudget bytes.
func (c *Community) answerSync(to netip.AddrPort, s *SyncRequest) {
	f, err := bloom.FromBytes(s.Bloom, int(s.K), s.Salt)
	if err != nil {
		c.dropped(DropInvalidRequest, to, "bloom filter: "+err.Error())
		return
	}
	high := s.High
	if high == 0 {
		high = c.GlobalTime()
	}
	high = min(high, conversion.MaxGlobalTime)
	low := min(s.Low, conversion.MaxGlobalTime)
	if low > high {
		return
	}
	pkts, err := AnswerSync(c.e.store, AnswerParams{
		Community: c.cid,
		Types:     c.syncTypes(),
		Low:       low, High: high,
		Modulo: uint64(s.Modulo), Offset: uint64(s.Offset),
		Budget: c.e.cfg.SyncBudget,
		Has:    func(h Hash) bool { return f.Has([bloom.KeySize]byte(h)) },
	}, c.e.rng)
	if err != nil {
		_ = c.e.fail(err)
		return
	}
	for _, p := range pkts {
		if !c.e.send(to, p) {
			break
		}
		c.e.stats.SyncPackets++
	}
}
