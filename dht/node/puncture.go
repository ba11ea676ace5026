package node

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dispersy/peer"
	"github.com/dispersy-go/dispersy/keys"
)

// FindPeer's puncture (IPv8's DHT discovery). A member behind a NAT
// receives only from addresses it sent to lately, so a requester that
// never met it learns its address from the lookup but cannot reach it.
// The nodes that returned it in their answers keep in touch with it (it
// queried them, so its NAT lets them through): the requester asks up to
// punctureVia of them (Introduce) to relay a signed Puncture naming the
// requester's address as they saw it; the target then sends the requester
// a walker probe (Community.Probe), which opens its NAT towards the
// requester and gives the requester the anti-amplification credit to probe
// back; the probe's answer proves the target's address and the requester's
// query reaches it.
//
// Every send passes Engine.send: the relay goes through sendQuery (a probe
// first when the target's address is unproven at the relayer), the
// target's puncture is a probe (one per address per 10 s beyond credit),
// and the requester's probe back is within the credit the puncture earned.
// The relayer limits introductions per requester, the target punctures per
// relayer (relayBurst per relayWindow); the target punctures only the
// address the relayer saw the request come from, so nobody can aim it at a
// third party beyond what the walker's puncture requests already allow.
const (
	punctureVia = 3
	relayBurst  = 5
	relayWindow = 10 * time.Second
	// reprobeEvery spaces the requester's probes back at the target once
	// the target's puncture arrived and the first probe went unanswered.
	reprobeEvery = time.Second
)

// punctWait is a FindPeer waiting for the target's puncture.
type punctWait struct {
	c        dht.Contact
	since    time.Time // when the introductions went out
	deadline time.Time
	probed   time.Time // our last probe back after the puncture arrived
	via      int
	done     func(netip.AddrPort, error)
}

// FindPeerAsync looks up member and returns the address it answered from
// (so it is reachable). When it does not answer the lookup's query (behind
// a NAT that never heard from us), the nodes that know it are asked to
// have it puncture towards us, and it is then queried directly. On the
// engine's goroutine.
func (d *DHT) FindPeerAsync(member keys.MemberID, done func(netip.AddrPort, error)) {
	target := dht.NodeID(member)
	if len(d.ops)+len(d.held) >= maxPendingLookups {
		done(netip.AddrPort{}, ErrBusy)
		return
	}
	d.start(&op{target: target, peer: true, tokens: map[dht.ID]dht.Token{}, start: d.now(), done: func(o *op) {
		for _, c := range o.l.Result() {
			if c.ID == target {
				d.c.Probe(c.Addr) // keep the way open (a puncture when the probe limit allows)
				done(c.Addr, nil)
				return
			}
		}
		at, ok := o.reportedAt()
		if !ok || d.noPuncture {
			err := lookupErr(o, len(o.l.Result()) == 0)
			if err == nil {
				err = ErrNotFound
			}
			done(netip.AddrPort{}, err)
			return
		}
		d.punctureVia(dht.Contact{ID: target, Addr: at}, o.via, done)
	}})
}

// reportedAt returns the target's address most of the nodes that know it
// reported.
func (o *op) reportedAt() (netip.AddrPort, bool) {
	var best netip.AddrPort
	n := map[netip.AddrPort]int{}
	for _, a := range o.at {
		n[a]++
		if n[a] > n[best] || (n[a] == n[best] && a.Compare(best) < 0) {
			best = a
		}
	}
	return best, len(o.at) > 0
}

// punctureVia asks the closest of via (nodes that returned t) to have t
// puncture towards us, and waits for t to answer.
func (d *DHT) punctureVia(t dht.Contact, via []dht.Contact, done func(netip.AddrPort, error)) {
	var by []dht.Contact
	for _, v := range via {
		if v.Addr != t.Addr && !slices.ContainsFunc(by, func(x dht.Contact) bool { return x.ID == v.ID }) {
			by = append(by, v)
		}
	}
	slices.SortFunc(by, func(a, b dht.Contact) int {
		return cmp.Or(dht.CmpDistance(t.ID, a.ID, b.ID), a.Addr.Compare(b.Addr))
	})
	by = by[:min(len(by), punctureVia)]
	now := d.now()
	d.punctures = append(d.punctures, punctWait{c: t, since: now, deadline: now.Add(d.cfg.ProbeTimeout + probePeriod), via: len(by), done: done})
	// Our own packet towards t opens our NAT for its puncture (the
	// lookup's probe did so already unless the probe limit held it).
	d.probe(t.Addr, now)
	for _, v := range by {
		d.stats.Introductions++
		d.sendQuery(v, dht.Introduce{Target: t.ID}, func(Packet, peer.Peer, error) {})
	}
	d.armPump()
}

// pumpPunctures advances the FindPeers waiting for a puncture: a target
// whose puncture arrived (it stumbled on us) is probed back, a proven one
// is queried, and those past their deadline fail.
func (d *DHT) pumpPunctures(now time.Time) {
	e := d.c.Engine()
	ps := d.punctures
	d.punctures = nil
	for _, p := range ps {
		switch {
		case e.Proven(p.c.Addr):
			done := p.done
			d.call(p.c, dht.FindNode{Target: p.c.ID}, func(_ Packet, from peer.Peer, err error) {
				if err != nil {
					done(netip.AddrPort{}, fmt.Errorf("%w: %v was punctured but did not answer: %v", ErrTimeout, p.c.Addr, err))
					return
				}
				d.stats.Punctured++
				done(from.Addr, nil)
			})
			continue
		case !now.Before(p.deadline):
			p.done(netip.AddrPort{}, fmt.Errorf("%w: %d nodes know it at %v, but no puncture came from it", ErrTimeout, p.via, p.c.Addr))
			continue
		}
		// The target's puncture, when it arrived as a walker request (it
		// stumbled on us), gave us the credit to probe back at once;
		// when it came as a walker puncture (the target had punctured us
		// lately on the walker's request), the next probe the engine allows
		// (one per address per 10 s) finds its NAT open.
		if cand := d.c.Table().Get(p.c.Addr); cand != nil && cand.LastStumble().After(p.since) && now.Sub(p.probed) >= reprobeEvery {
			p.probed = now
			d.stats.Probes++
			d.c.Probe(p.c.Addr)
		} else {
			d.probe(p.c.Addr, now)
		}
		d.punctures = append(d.punctures, p)
	}
}

// introduce answers a requester's Introduce: when target is in the routing
// table, a Puncture naming the requester's address goes to it.
func (d *DHT) introduce(from peer.Peer, m dht.Introduce) Packet {
	now := d.now()
	if !d.relayLimit.Allow(dht.NodeID(from.ID()), now) {
		d.stats.RelaysRefused++
		return Packet{M: dht.Error{Code: dht.RateLimited}}
	}
	t, ok := d.srv.Table.Get(m.Target)
	if !ok || m.Target == d.self || t.Addr == from.Addr || !dht.ValidAddr(from.Addr) {
		return Packet{M: dht.Nodes{}}
	}
	d.stats.Relayed++
	d.sendQuery(t, dht.Puncture{Target: t.ID, To: from.Addr}, func(Packet, peer.Peer, error) {})
	return Packet{M: dht.Nodes{Contacts: []dht.Contact{t}}}
}

// puncture answers a relayed Puncture: a walker probe to its address.
func (d *DHT) puncture(from peer.Peer, m dht.Puncture) Packet {
	if m.Target != d.self {
		d.stats.RelaysRefused++
		return Packet{M: dht.Error{Code: dht.Malformed}}
	}
	if !d.punctLimit.Allow(dht.NodeID(from.ID()), d.now()) {
		d.stats.RelaysRefused++
		return Packet{M: dht.Error{Code: dht.RateLimited}}
	}
	d.stats.Punctures++
	d.c.Probe(m.To) // the engine sends one per address per 10 s beyond credit
	return Packet{M: dht.Nodes{}}
}
