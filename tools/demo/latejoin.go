package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/examples/chat"
)

// latejoinHolders is the default number of peers that hold the history in
// the latejoin scenario; one more peer joins.
const latejoinHolders = 3

// latejoinBatch is how many records go into one store transaction while
// preloading.
const latejoinBatch = 5000

// history is the latejoin scenario's messages, created once and written
// into every holder's store.
type history struct {
	recs    []dispersy.Record
	members []dispersy.MemberRecord
	comm    dispersy.CommunityRecord
	bytes   uint64 // Σ packet sizes
}

// makeChatHistory creates n chat lines by peer 1's member (each signed
// once) on a standalone engine in memory, and returns them as records.
func makeChatHistory(seed uint64, n int) (*history, error) {
	master := masterKey(seed)
	author := peerKey(seed, 1)
	cfg := dispersy.DefaultConfig()
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:1")
	cfg.Rand = rand.New(rand.NewPCG(seed, 0x4157))
	st := dispersytest.NewMemStore()
	eng, err := dispersy.NewEngine(cfg, author, st)
	if err != nil {
		return nil, err
	}
	eng.SetTime(time.Now())
	c, err := eng.Join(chat.New(master.Public()))
	if err != nil {
		return nil, err
	}
	for i := range n {
		if _, err := chat.Say(c, "peer01", fmt.Sprintf("history line %d of %d", i+1, n)); err != nil {
			return nil, fmt.Errorf("creating history line %d: %w", i+1, err)
		}
		if i%1024 == 0 {
			eng.Ready() // nobody to send to; keep the outbox empty
		}
	}
	h := &history{
		members: []dispersy.MemberRecord{
			{ID: master.Public().ID(), PublicKey: master.Public().Bytes()},
			{ID: author.Public().ID(), PublicKey: author.Public().Bytes()},
		},
	}
	rec, ok, err := st.Community(c.ID())
	if err != nil || !ok {
		return nil, fmt.Errorf("the history's community record: %v", err)
	}
	h.comm = rec
	h.recs = make([]dispersy.Record, 0, n)
	err = st.Range(dispersy.RangeQuery{Community: c.ID(), MessageID: chat.IDMessage, Low: 1, High: conversion.MaxGlobalTime}, func(r *dispersy.Record) bool {
		h.recs = append(h.recs, *r)
		h.bytes += uint64(len(r.Packet))
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(h.recs) != n {
		return nil, fmt.Errorf("created %d history lines, the store holds %d", n, len(h.recs))
	}
	return h, nil
}

// write puts the history into st, latejoinBatch records per transaction.
// The node that opens st later rewrites the community record's member.
func (h *history) write(st dispersy.Store) error {
	var b dispersy.Batch
	for _, m := range h.members {
		b.PutMember(m)
	}
	b.PutCommunity(h.comm)
	for i, r := range h.recs {
		b.Put(r)
		if (i+1)%latejoinBatch == 0 || i+1 == len(h.recs) {
			if err := st.Apply(&b); err != nil {
				return err
			}
			b.Reset()
		}
	}
	return nil
}

// latejoinReport is the latejoin scenario's -json output.
type latejoinReport struct {
	Scenario          string  `json:"scenario"`
	Peers             int     `json:"peers"`
	Holders           int     `json:"holders"`
	Messages          int     `json:"messages"`
	Loss              float64 `json:"loss"`
	Step              string  `json:"step"`
	Reconcile         bool    `json:"reconcile"`
	CaughtUp          bool    `json:"caught_up"`
	Held              int     `json:"held"`
	SetupSeconds      float64 `json:"setup_seconds"`
	ReadySeconds      float64 `json:"ready_seconds"`
	CatchupSeconds    float64 `json:"catchup_seconds"`
	BytesLacked       uint64  `json:"bytes_lacked"`
	BytesReceived     uint64  `json:"bytes_received"`
	DatagramsReceived uint64  `json:"datagrams_received"`
	CatchupBytesRatio float64 `json:"catchup_bytes_ratio"`
	CPUSeconds        float64 `json:"cpu_seconds"`
	MaxRSSMB          float64 `json:"max_rss_mb"`
	// KernelUDPDrops is how many UDP datagrams the kernel dropped at full
	// socket receive buffers, on the whole machine, from the joiner's
	// start to the end (Linux; absent elsewhere).
	KernelUDPDrops *uint64 `json:"kernel_udp_drops,omitempty"`
	// JoinerDrops counts what the joiner's engine dropped, by reason
	// (dispersy.DropReason names; empty reasons left out).
	JoinerDrops map[string]uint64 `json:"joiner_drops,omitempty"`
	// Catchup is the joiner's catch-up counters (catchup.Stats), when
	// -reconcile is on.
	Catchup any `json:"catchup,omitempty"`
}

// lateJoin runs the latejoin scenario and returns the exit status.
func lateJoin(ctx context.Context, o options, stdout, stderr io.Writer) int {
	rep, err := runLateJoin(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFail
	}
	if o.json {
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if !rep.CaughtUp {
		fmt.Fprintf(stderr, "demo: the joiner did not catch up within %v: it holds %d of %d messages\n", o.timeout, rep.Held, rep.Messages)
		if rep.Catchup != nil {
			fmt.Fprintf(stderr, "  catch-up counters: %+v\n", rep.Catchup)
		}
		if rep.JoinerDrops != nil {
			fmt.Fprintf(stderr, "  the joiner dropped: %v\n", rep.JoinerDrops)
		}
		hint := "raise -timeout"
		if !o.reconcile {
			hint += ", or turn -reconcile on"
		}
		fmt.Fprintf(stderr, "  hint: %s\n", hint)
		return exitFail
	}
	if !o.json {
		fmt.Fprintf(stdout, "caught-up: messages=%d seconds=%.2f bytes=%d\n", rep.Messages, rep.CatchupSeconds, rep.BytesReceived)
	}
	return exitOK
}

// runLateJoin sets up the holders, starts the joiner and waits until it
// holds the whole history or the timeout passes.
func runLateJoin(ctx context.Context, o options, stderr io.Writer) (latejoinReport, error) {
	t0 := time.Now()
	holders := o.peers - 1
	rep := latejoinReport{Scenario: scenarioLateJoin, Peers: o.peers, Holders: holders, Messages: o.messages,
		Loss: o.loss, Step: o.step.String(), Reconcile: o.reconcile}
	d := &runner{o: o, stderr: stderr, deadline: t0.Add(o.timeout)}
	defer d.close()
	if err := d.folder(); err != nil {
		return rep, err
	}
	fmt.Fprintf(stderr, "creating %d chat lines and writing them into %d stores\n", o.messages, holders)
	h, err := makeChatHistory(o.seed, o.messages)
	if err != nil {
		return rep, err
	}
	rep.BytesLacked = h.bytes
	d.preload = func(p *peer) error {
		if err := h.write(p.store); err != nil {
			return failf("writing the history into the store of peer %d: %v", p.index, err)
		}
		return nil
	}
	for i := range holders {
		if err := d.startPeer(ctx, i); err != nil {
			return rep, err
		}
	}
	d.preload = nil
	rep.SetupSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(stderr, "set-up: %.2f s; %d holders started; waiting until each has %d verified candidates\n",
		rep.SetupSeconds, holders, min(readyCandidates, holders-1))
	if holders > 1 {
		ok, why, err := d.waitReady(ctx)
		if err != nil {
			return rep, err
		}
		if !ok {
			return rep, failf("the holders did not find each other within -timeout %v: %s", o.timeout, why)
		}
	}
	rep.ReadySeconds = time.Since(t0).Seconds() - rep.SetupSeconds

	// The joiner.
	drops0, dropsOK := kernelUDPDrops()
	start := time.Now()
	d.deadline = start.Add(o.timeout)
	if err := d.startPeer(ctx, holders); err != nil {
		return rep, err
	}
	j := d.peers[holders]
	fmt.Fprintf(stderr, "peer %d joined with an empty store\n", j.index)
	last := time.Time{}
	for {
		// Counting the store's rows costs tens of milliseconds at 100,000
		// messages (CPU the joiner needs), so the store is counted once a
		// second and when the engine's counter of stored messages (which
		// also counts other messages: an upper bound) says it may be done.
		var stored uint64
		if err := j.node.Do(ctx, func(e *dispersy.Engine) error { stored = e.Stats().Stored; return nil }); err != nil {
			return rep, failf("reading the counters of the joiner: %v", err)
		}
		now := time.Now()
		if int(stored) < o.messages && now.Sub(last) < time.Second && !now.After(d.deadline) {
			if err := d.pause(ctx, 20*time.Millisecond); err != nil {
				return rep, err
			}
			continue
		}
		n, err := j.store.Count(j.comm.ID(), []uint8{chat.IDMessage})
		if err != nil {
			return rep, failf("reading the store of the joiner: %v", err)
		}
		now = time.Now()
		rep.Held = n
		rep.CatchupSeconds = now.Sub(start).Seconds()
		if n >= o.messages || now.After(d.deadline) || now.Sub(last) >= time.Second {
			fmt.Fprintf(stderr, "%s %.1f s\n", joinerBar(n, o.messages), rep.CatchupSeconds)
			last = now
		}
		if n >= o.messages {
			rep.CaughtUp = true
			break
		}
		if now.After(d.deadline) {
			break
		}
		if err := d.pause(ctx, 20*time.Millisecond); err != nil {
			return rep, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	if err := j.node.Do(cctx, func(e *dispersy.Engine) error {
		if st := catchupStats(e); st != nil {
			rep.Catchup = st
		}
		for r, n := range e.Stats().Dropped {
			if n > 0 {
				if rep.JoinerDrops == nil {
					rep.JoinerDrops = map[string]uint64{}
				}
				rep.JoinerDrops[dispersy.DropReason(r).String()] = n
			}
		}
		return nil
	}); err != nil {
		cancel()
		return rep, d.callFailure(ctx, j, "report its catch-up counters", err)
	}
	cancel()
	if drops1, ok := kernelUDPDrops(); ok && dropsOK {
		n := drops1 - drops0
		rep.KernelUDPDrops = &n
	}
	rep.BytesReceived = j.ep.receivedBytes.Load()
	rep.DatagramsReceived = j.ep.received.Load()
	if rep.BytesLacked > 0 {
		rep.CatchupBytesRatio = float64(rep.BytesReceived) / float64(rep.BytesLacked)
	}
	cpu, rss, _ := usage()
	rep.CPUSeconds, rep.MaxRSSMB = cpu.Seconds(), float64(rss)/(1<<20)
	return rep, nil
}

// joinerBar renders the joiner's progress.
func joinerBar(done, total int) string {
	filled := barWidth
	if total > 0 {
		filled = min(max(done*barWidth/total, 0), barWidth)
	}
	return fmt.Sprintf("[%s%s] %d/%d messages on the joiner,",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total)
}
