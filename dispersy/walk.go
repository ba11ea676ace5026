package dispersy

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/requestcache"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// introPrefix is the request-cache prefix of introduction requests.
const introPrefix = "introduction-request"

// introRequest is an outstanding introduction request: it ends when both
// the response and the puncture arrived, or times out.
type introRequest struct {
	to        netip.AddrPort
	responded bool
	punctured bool
	// thin: the request left out its bloom filter because to had not
	// proved itself; the response proves it and the filter follows.
	thin bool
}

// walkState is a community's walker: its candidate table, the outstanding
// introduction requests, the next step time and the bloom-filter cache.
type walkState struct {
	c        *Community
	table    *walker.Table
	requests *requestcache.Cache[*introRequest]
	next     time.Time
	// phase delays the second step by a random part of the first
	// interval (see init); 0 after it.
	phase time.Duration
	sync  syncCache
	// syncCount is Dispersy's _nrsyncpackets: how many hashes the last
	// range held, a hint for the range strategy.
	syncCount int
	// fruitful: until then the walk keeps its full step
	// (walker.Config.NextStep): one WalkLifetime after we last stored a
	// synced message or heard a peer at a higher global time than ours.
	fruitful time.Time
	// slowed: the walk target was reached, the last wait was
	// SlowStepInterval.
	slowed bool
	// pace overrides the engine's WalkTarget and MaxPeers (WithWalkTarget).
	pace *[2]int
}

// minResponseBloom is the smallest bloom filter worth putting in an
// introduction response, in bytes.
const minResponseBloom = 64

// maxIntroRequests bounds the outstanding introduction requests of one
// community (one per step plus keep-alives; far below 65,536 numbers).
const maxIntroRequests = 1024

func (w *walkState) init(c *Community) {
	e := c.e
	w.c = c
	cfg := e.cfg.Walker
	if w.pace != nil {
		cfg.WalkTarget, cfg.MaxPeers = w.pace[0], w.pace[1]
	}
	w.table, _ = walker.NewTable(cfg, e.addresses())
	w.requests = requestcache.New[*introRequest](e.rng, maxIntroRequests)
	// A community takes its first step at once: a node that starts (or a
	// joiner behind a large history) reaches its bootstrap peers without
	// waiting. The step after it comes at a random point of the interval
	// that follows, so peers started together do not walk in lock step
	// (Dispersy: database_id % 3 seconds).
	w.next = e.now
	w.phase = time.Duration(e.rng.Int64N(int64(cfg.NextStep(0, false, false))))
}

// WithWalkTarget sets the community's walk target and maximum number of
// verified peers (walker.Config WalkTarget and MaxPeers; 0 turns either
// off), overriding the engine's Config.Walker. It lasts while the community
// is loaded: an auto-load uses the engine's values.
func WithWalkTarget(target, maxPeers int) JoinOption {
	return func(o *joinOptions) { o.pace = &[2]int{target, maxPeers} }
}

// fruit records a stored synced message, or a peer ahead of our global
// time (it holds messages we lack): the walk is fruitful for a walk
// lifetime; a slowed walk steps at once, any other within StepInterval.
func (w *walkState) fruit(now time.Time) {
	if w.table == nil { // our identity, stored before the walker starts
		return
	}
	w.fruitful = now.Add(w.table.Config().WalkLifetime)
	if w.slowed && w.next.After(now) {
		// The first news to a slowed walk: push it at once, making up
		// for the pulls the slowed walk did not make.
		w.next, w.slowed = now, false
	} else if step := w.table.Config().StepInterval; w.next.After(now.Add(step)) {
		w.next, w.slowed = now.Add(step), false
	}
}

// addresses returns the node's address book, creating it from
// Config.LocalAddr on first use.
func (e *Engine) addresses() *walker.Addresses {
	if e.addrs == nil {
		lan := e.cfg.LocalAddr
		if !walker.IsValid(lan) {
			// Without a local address the node still answers; it reports
			// an unknown LAN address until the runner sets one.
			lan = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 1)
		}
		e.addrs, _ = walker.NewAddresses(lan, e.cfg.LocalSubnets...)
	}
	return e.addrs
}

// Table returns the community's candidate table (read-only use).
func (c *Community) Table() *walker.Table { return c.walk.table }

// AddCandidate adds a peer to walk to, as a discovered candidate (for
// tests and tools; the walker finds candidates itself).
// A community without verified peers walks to it at once.
func (c *Community) AddCandidate(addr netip.AddrPort) {
	w := &c.walk
	if _, ok := w.table.Discovered(c.e.now, walker.Contact{Sock: addr}); ok && w.next.After(c.e.now) && w.table.CountVerified(c.e.now) == 0 {
		w.next = c.e.now
	}
}

func (w *walkState) nextDeadline() (time.Time, bool) {
	d := w.next
	if r, ok := w.requests.NextDeadline(); ok && r.Before(d) {
		d = r
	}
	return d, true
}

// tick expires introduction requests and takes a walker step when due.
func (w *walkState) tick(c *Community) error {
	now := c.e.now
	for _, x := range w.requests.Expire(now) {
		if !x.Value.responded {
			w.table.WalkTimeout(x.Value.to)
			c.walkTimedOut(x.Value.to)
		}
	}
	if now.Before(w.next) || c.tracker {
		return nil
	}
	w.step(c)
	cfg := w.table.Config()
	wait := cfg.NextStep(w.table.CountVerified(now), now.Before(w.fruitful), w.slowed)
	w.next, w.phase = now.Add(wait+w.phase), 0
	w.slowed = cfg.WalkTarget > 0 && wait == cfg.SlowStepInterval
	return c.e.failed
}

// step is one walker step: clean up, keep candidates alive, and send an
// introduction request (with advice and a bloom filter) to the next walk
// candidate, or to a bootstrap address when there is none.
func (w *walkState) step(c *Community) {
	now := c.e.now
	res := w.table.Cleanup(now)
	w.table.Trim(now, w.table.Config().MaxPeers, func(x *walker.Candidate) bool { return slices.Contains(c.e.cfg.Bootstrap, x.Sock()) })
	for _, k := range res.KeepAlive {
		w.sendRequest(c, k.Sock(), false, false)
	}
	var to netip.AddrPort
	if cand := w.table.NextWalk(now, c.e.rng); cand != nil {
		to = cand.Sock()
	} else if bs := c.e.bootstrap(); len(bs) > 0 {
		to = bs[c.e.rng.IntN(len(bs))]
		w.table.Discovered(now, walker.Contact{Sock: to})
	} else {
		return
	}
	w.sendRequest(c, to, true, true)
}

// bootstrap returns the bootstrap addresses that are not our own.
func (e *Engine) bootstrap() []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range e.cfg.Bootstrap {
		if !e.addresses().IsSelf(a) {
			out = append(out, a)
		}
	}
	return out
}

// sendRequest sends an introduction request to to.
func (w *walkState) sendRequest(c *Community, to netip.AddrPort, advice, withSync bool) bool {
	now := c.e.now
	x := &introRequest{to: to}
	id, err := w.requests.Add(now, introPrefix, c.e.cfg.Walker.IntroRequestTimeout, x)
	if err != nil {
		if !errors.Is(err, requestcache.ErrFull) && !errors.Is(err, requestcache.ErrPrefixFull) {
			c.e.log.Warn().Err(err).Msg("introduction request")
		}
		return false
	}
	req := c.introRequest(to, advice, id)
	fixed := c.introFixedSize([]netip.AddrPort{to, req.SourceLAN, req.SourceWAN}, false)
	withSync = withSync && !c.syncHeld()
	if withSync && c.e.allowance(to) < c.e.cfg.MaxDatagram {
		// A full bloom filter goes only to an address that proved it
		// receives what we send, or whose credit covers a full datagram:
		// to another the request is a small probe (amplify.go), carrying a
		// filter only when a probe-sized one holds every message we store;
		// the full filter follows the response (sendFilter).
		req.Sync = c.probeSync(fixed)
		x.thin = true
	} else if withSync {
		req.Sync = c.buildSync(to, fixed)
	}
	w.table.Walk(now, to)
	if pkt := c.buildDirect(IntroductionRequestType, req); pkt != nil && c.e.send(to, pkt) {
		c.e.stats.Walks++
		return true
	}
	return false
}

// introRequest is an introduction request to to from our addresses.
func (c *Community) introRequest(to netip.AddrPort, advice bool, id uint16) IntroductionRequest {
	a := c.e.addresses()
	return IntroductionRequest{Destination: to, SourceLAN: a.LAN(), SourceWAN: a.WAN(), Advice: advice, ConnectionType: a.Connection(), Identifier: id}
}

// probeSync returns a bloom filter that fits a probe and covers every
// message we store, or nil. It leaves the cached filter and the range
// hint alone.
func (c *Community) probeSync(fixed int) *SyncRequest {
	room := maxProbe - fixed
	if !c.e.cfg.BloomSync || room < minResponseBloom {
		return nil
	}
	hint := c.walk.syncCount
	s, _ := c.newSyncRequest(c.e.cfg.MaxDatagram - room)
	c.walk.syncCount = hint
	if s == nil || s.Low > 1 || s.Modulo > 1 || s.High < c.acceptableGlobalTime() {
		return nil
	}
	return s
}

// sendFilter sends the bloom filter a thin request left out to the peer
// whose response just proved its address: an introduction request without
// advice, which asks for the sync answer only (no response, no walk).
func (c *Community) sendFilter(to netip.AddrPort, id uint16) {
	if c.syncHeld() {
		return
	}
	req := c.introRequest(to, false, id)
	if req.Sync = c.buildSync(to, c.introFixedSize([]netip.AddrPort{to, req.SourceLAN, req.SourceWAN}, false)); req.Sync != nil {
		c.sendDirect(IntroductionRequestType, req, to)
	}
}

// Connection returns this node's connection type (public, symmetric NAT or
// unknown) as the walker estimates it from the addresses at which peers
// report seeing us; package walker, "Addresses and NAT type", gives the
// rules. It is what the node's introduction requests and responses carry.
func (e *Engine) Connection() walker.ConnectionType { return e.addresses().Connection() }

// reportGlobalTime records a direct message's global time for the
// acceptable-global-time median.
func (w *walkState) reportGlobalTime(from netip.AddrPort, gt uint64) {
	if from.IsValid() {
		w.table.SetGlobalTime(from, gt)
	}
	if gt > w.c.globalTime && w.c.e.cfg.BloomSync {
		w.fruit(w.c.e.now)
	}
}

// medianGlobalTime is the median clock of the verified candidates, when
// enough of them reported one.
func (w *walkState) medianGlobalTime(now time.Time) (uint64, bool) {
	m := w.table.MedianGlobalTime(now)
	return m, m > 0
}

// randomVerified returns up to n random verified candidates' addresses,
// skipping those in exclude and, under the anti-amplification rule, those
// that have not proved their address (what we send them would be dropped).
func (w *walkState) randomVerified(n int, exclude []netip.AddrPort) []netip.AddrPort {
	if n <= 0 || w.table == nil {
		return nil
	}
	e := w.c.e
	c := w.table.RandomVerified(e.now, n, func(x *walker.Candidate) bool {
		return slices.Contains(exclude, x.Sock()) || (e.cfg.AmplificationFactor > 0 && !e.Proven(x.Sock()))
	}, e.rng)
	out := make([]netip.AddrPort, len(c))
	for i, x := range c {
		out[i] = x.Sock()
	}
	return out
}

// storedLocal updates the bloom cache for a message we created.
func (w *walkState) storedLocal(m *message) { w.c.storedSync(m) }

// check validates walker messages before they are handled.
func (w *walkState) check(c *Community, m *message) Verdict {
	switch p := m.payload.(type) {
	case IntroductionResponse:
		r, ok := w.requests.Get(introPrefix, p.Identifier)
		if !ok || r.responded {
			return drop(DropUnexpected, "introduction response without a request")
		}
		if a := c.e.addresses(); a.IsSelf(p.IntroducedLAN) && a.IsSelf(p.IntroducedWAN) {
			return drop(DropInvalidAddress, "introduced to ourselves")
		}
	case Puncture:
		r, ok := w.requests.Get(introPrefix, p.Identifier)
		if !ok || r.punctured {
			return drop(DropUnexpected, "puncture without a request")
		}
	case PunctureRequest:
		a := c.e.addresses()
		if !walker.IsValid(p.WalkerLAN) && !walker.IsValid(p.WalkerWAN) {
			return drop(DropInvalidAddress, "puncture request without a walker address")
		}
		target := a.SockFor(p.WalkerLAN, p.WalkerWAN)
		if !walker.IsValid(target) || a.IsSelf(target) || target == m.source {
			return drop(DropInvalidAddress, "puncture target is us or the sender")
		}
		// Only a peer we walk with may ask us to send to a third party.
		if cand := w.table.Get(m.source); cand == nil || !cand.Verified(c.e.now) {
			return drop(DropUnexpected, "puncture request from a peer that is not a verified candidate")
		}
	case IntroductionRequest:
		if p.Sync != nil && len(p.Sync.Bloom) > 8192 {
			return drop(DropInvalidRequest, "bloom filter too large")
		}
	}
	return Accept()
}

// handle processes one walker message after the checks.
func (w *walkState) handle(c *Community, m *message) {
	now := c.e.now
	a := c.e.addresses()
	switch p := m.payload.(type) {
	case IntroductionRequest:
		cand, ok := w.table.Stumble(now, walker.Contact{Sock: m.source, LAN: p.SourceLAN, WAN: p.SourceWAN, Connection: p.ConnectionType})
		if ok {
			w.table.Associate(m.source, m.author())
			w.table.SetGlobalTime(m.source, m.frame.GlobalTime)
		}
		c.e.vote(m.source, p.Destination)
		if p.Advice {
			resp := IntroductionResponse{
				Destination:    m.source,
				SourceLAN:      a.LAN(),
				SourceWAN:      a.WAN(),
				ConnectionType: a.Connection(),
				Identifier:     p.Identifier,
			}
			var intro *walker.Candidate
			if ok {
				intro = w.table.Introduce(now, cand, c.e.rng)
			}
			if intro != nil {
				resp.IntroducedLAN, resp.IntroducedWAN, resp.IntroducedTunnel = intro.LAN(), intro.WAN(), intro.Tunnel()
			}
			if c.e.cfg.SyncBothWays && c.e.cfg.BloomSync && !c.syncHeld() {
				// The response's own filter fits what we may send the
				// requester (all of the datagram once it is proven).
				addrs := []netip.AddrPort{resp.Destination, resp.SourceLAN, resp.SourceWAN, resp.IntroducedLAN, resp.IntroducedWAN}
				fixed := c.introFixedSize(addrs, true)
				if room := c.e.allowance(m.source) - fixed; room >= minResponseBloom {
					resp.Sync, _ = c.newSyncRequest(fixed + c.e.cfg.MaxDatagram - fixed - room)
				}
			}
			c.sendDirect(IntroductionResponseType, resp, m.source)
			if intro != nil && !c.e.allowPunctureRequest(intro.Sock()) {
				c.e.stats.Dropped[DropRateLimited]++
			} else if intro != nil {
				lan, wan := p.SourceLAN, p.SourceWAN
				if ok {
					lan, wan = cand.LAN(), cand.WAN()
				}
				c.sendDirect(PunctureRequestType, PunctureRequest{WalkerLAN: lan, WalkerWAN: wan, Identifier: p.Identifier}, intro.Sock())
			}
		}
		if p.Sync != nil && !c.e.busy {
			c.answerSync(m.source, p.Sync)
		}
		for _, x := range c.e.exts {
			if r, ok := x.(Requested); ok {
				r.Requested(c, m.source, m.frame.GlobalTime)
			}
		}
	case IntroductionResponse:
		r, _ := w.requests.Get(introPrefix, p.Identifier)
		r.responded = true
		c.e.prove(m.source)
		if r.punctured {
			w.requests.Pop(introPrefix, p.Identifier)
		}
		if _, ok := w.table.WalkResponse(now, walker.Contact{Sock: m.source, LAN: p.SourceLAN, WAN: p.SourceWAN, Connection: p.ConnectionType}); ok {
			w.table.Associate(m.source, m.author())
			w.table.SetGlobalTime(m.source, m.frame.GlobalTime)
		}
		c.e.stats.WalkReplies++
		for _, x := range c.e.exts {
			x.Walked(c, m.source, m.frame.GlobalTime)
		}
		c.e.vote(m.source, p.Destination)
		if walker.IsValid(p.IntroducedLAN) || walker.IsValid(p.IntroducedWAN) {
			sock := a.SockFor(p.IntroducedLAN, p.IntroducedWAN)
			if walker.IsValid(sock) && !a.IsSelf(sock) && sock != m.source {
				w.table.Intro(now, walker.Contact{Sock: sock, LAN: p.IntroducedLAN, WAN: p.IntroducedWAN, Tunnel: p.IntroducedTunnel})
			}
		}
		if p.Sync != nil {
			c.answerSync(m.source, p.Sync)
		}
		if r.thin {
			c.sendFilter(m.source, p.Identifier)
		}
	case PunctureRequest:
		target := a.SockFor(p.WalkerLAN, p.WalkerWAN)
		if !c.allowPuncture(target) {
			c.e.stats.PuncturesSuppressed++ // punctured recently: not bad input
			return
		}
		c.sendDirect(PunctureType, Puncture{SourceLAN: a.LAN(), SourceWAN: a.WAN(), Identifier: p.Identifier}, target)
	case Puncture:
		r, _ := w.requests.Get(introPrefix, p.Identifier)
		r.punctured = true
		if r.responded {
			w.requests.Pop(introPrefix, p.Identifier)
		}
		if _, ok := w.table.Puncture(now, walker.Contact{Sock: m.source, LAN: p.SourceLAN, WAN: p.SourceWAN}); ok {
			w.table.Associate(m.source, m.author())
		}
	}
}

// vote records where a peer sees us; when the WAN estimate changes, our own
// addresses are removed from every candidate table.
func (e *Engine) vote(voter, addr netip.AddrPort) {
	a := e.addresses()
	if !a.Vote(voter, addr).WANChanged {
		return
	}
	for _, c := range e.order {
		c.walk.table.Remove(a.LAN())
		c.walk.table.Remove(a.WAN())
	}
}
