package peer

import (
	"context"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/requestcache"
	"github.com/dispersy-go/dispersy/keys"
)

// Errors a call's callback receives.
var (
	// ErrTimeout: no matching response arrived in time (after the retries).
	ErrTimeout = errors.New("peer: request timed out")
	// ErrCancelled: the caller cancelled the request.
	ErrCancelled = errors.New("peer: request cancelled")
)

// Envelope is the wire payload of a request or a response: the 16-bit
// request number (the request cache's number) then the body.
type Envelope[T any] struct {
	ID   uint16
	Body T
}

// CallOption adjusts Call.
type CallOption func(*callOpts)

type callOpts struct{ retries int }

// Retries resends an unanswered request up to n more times, each after the
// call's timeout, before the callback gets ErrTimeout (the gossip seed's
// bounded retries). The server may then see a request more than once.
func Retries(n int) CallOption { return func(o *callOpts) { o.retries = max(n, 0) } }

type call[Req, Resp any] struct {
	to      netip.AddrPort
	req     Req // signed again on a retry
	left    int
	timeout time.Duration
	done    func(Resp, Peer, error)
}

// RPC is a request/response pair of peer message types with a cache of
// pending requests (IPv8's request cache with a NumberCache per request).
// It holds per-engine state: make one per overlay instance (per joined
// community), for instance in the overlay's constructor, and Register it
// in Define.
type RPC[Req, Resp any] struct {
	name    string
	reqT    *dispersy.MessageType[Envelope[Req]]
	respT   *dispersy.MessageType[Envelope[Resp]]
	serve   func(ctx *dispersy.Context, from Peer, req Req) (Resp, bool)
	pending *requestcache.Cache[*call[Req, Resp]]
	// Unmatched counts responses dropped because they matched no pending
	// request (also counted in Stats.Dropped[DropUnexpected]).
	Unmatched uint64
}

// NewRPC returns a request/response pair with message ids reqID and respID
// (1..191). serve answers a request on the serving peer; returning false
// sends no answer. Req and Resp are payload types (BinaryAppender values,
// BinaryUnmarshaler pointers).
func NewRPC[Req encoding.BinaryAppender, PReq dispersy.Payload[Req], Resp encoding.BinaryAppender, PResp dispersy.Payload[Resp]](
	reqID, respID uint8, name string, serve func(ctx *dispersy.Context, from Peer, req Req) (Resp, bool),
) (*RPC[Req, Resp], error) {
	reqT, err := dispersy.NewMessageTypeFunc(Spec(reqID, name+"-request"), encodeEnvelope[Req], decodeEnvelope[Req, PReq])
	if err != nil {
		return nil, err
	}
	respT, err := dispersy.NewMessageTypeFunc(Spec(respID, name+"-response"), encodeEnvelope[Resp], decodeEnvelope[Resp, PResp])
	if err != nil {
		return nil, err
	}
	return &RPC[Req, Resp]{name: name, reqT: reqT, respT: respT, serve: serve}, nil
}

func encodeEnvelope[T encoding.BinaryAppender](dst []byte, e Envelope[T]) ([]byte, error) {
	dst = binary.BigEndian.AppendUint16(dst, e.ID)
	return e.Body.AppendBinary(dst)
}

func decodeEnvelope[T any, PT dispersy.Payload[T]](b []byte) (Envelope[T], error) {
	var e Envelope[T]
	if len(b) < 2 {
		return e, &conversion.DecodeError{Reason: conversion.TooShort, Field: "request id"}
	}
	e.ID = binary.BigEndian.Uint16(b)
	err := PT(&e.Body).UnmarshalBinary(b[2:])
	return e, err
}

// Types returns the request and response message types.
func (r *RPC[Req, Resp]) Types() (req *dispersy.MessageType[Envelope[Req]], resp *dispersy.MessageType[Envelope[Resp]]) {
	return r.reqT, r.respT
}

// Pending returns the number of requests waiting for a response.
func (r *RPC[Req, Resp]) Pending() int {
	if r.pending == nil {
		return 0
	}
	return r.pending.Len()
}

// Register adds both message types to the community definition.
func (r *RPC[Req, Resp]) Register(d *dispersy.Definition) {
	Handle(d, r.reqT, func(ctx *dispersy.Context, from Peer, e Envelope[Req]) {
		if r.serve == nil {
			return
		}
		if resp, ok := r.serve(ctx, from, e.Body); ok {
			_ = Reply(ctx.Community(), r.respT, Envelope[Resp]{ID: e.ID, Body: resp}, from)
		}
	})
	dispersy.Register(d, r.respT, dispersy.Handlers[Envelope[Resp]]{
		Check: func(ctx *dispersy.Context, m *dispersy.Message[Envelope[Resp]]) dispersy.Verdict {
			if m.Local() {
				return dispersy.Accept()
			}
			if c, ok := r.lookup(m.Payload.ID); !ok || c.to != m.Source {
				r.Unmatched++
				return dispersy.DropBecause(dispersy.DropUnexpected, "response matches no pending request")
			}
			return dispersy.Accept()
		},
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Envelope[Resp]]) {
			for _, m := range batch {
				if m.Local() {
					continue
				}
				// A duplicate in the same batch finds the entry gone.
				c, ok := r.lookup(m.Payload.ID)
				if !ok || c.to != m.Source {
					continue
				}
				r.pending.Pop(r.name, m.Payload.ID)
				ctx.Community().CancelTask(r.taskName(m.Payload.ID))
				c.done(m.Payload.Body, Peer{Addr: m.Source, Key: m.Authors[0]}, nil)
			}
		},
	})
}

func (r *RPC[Req, Resp]) lookup(id uint16) (*call[Req, Resp], bool) {
	if r.pending == nil {
		return nil, false
	}
	return r.pending.Get(r.name, id)
}

func (r *RPC[Req, Resp]) taskName(id uint16) string { return fmt.Sprintf("peer-rpc:%s:%d", r.name, id) }

// Call sends req to the peer at to and calls done, on the engine's
// goroutine, exactly once: with the response and the peer that signed it,
// or with ErrTimeout when none came within timeout (after the retries),
// or ErrCancelled. It returns the request number, for Cancel.
func (r *RPC[Req, Resp]) Call(c *dispersy.Community, to netip.AddrPort, req Req, timeout time.Duration, done func(resp Resp, from Peer, err error), opts ...CallOption) (uint16, error) {
	var o callOpts
	for _, opt := range opts {
		opt(&o)
	}
	if done == nil {
		return 0, errors.New("peer: Call needs a done function")
	}
	if !to.IsValid() || to.Port() == 0 {
		return 0, ErrNoAddress
	}
	if r.pending == nil {
		r.pending = requestcache.New[*call[Req, Resp]](c.Engine().Rand(), requestcache.DefaultMaxEntries)
	}
	cl := &call[Req, Resp]{to: to, req: req, left: o.retries, timeout: timeout, done: done}
	// The cache entry lives as long as all attempts; the task below is
	// what times each attempt out.
	id, err := r.pending.Add(c.Engine().Now(), r.name, timeout*time.Duration(o.retries+1), cl)
	if err != nil {
		return 0, err
	}
	if _, err := dispersy.Create(c, r.reqT, Envelope[Req]{ID: id, Body: req}, dispersy.To(to)); err != nil {
		r.pending.Pop(r.name, id)
		return 0, err
	}
	if err := c.After(r.taskName(id), timeout, r.expire(id)); err != nil {
		r.pending.Pop(r.name, id)
		return 0, err
	}
	return id, nil
}

// expire is the timeout task of request id: resend while retries are
// left, else fail the call.
func (r *RPC[Req, Resp]) expire(id uint16) func(*dispersy.Context) error {
	return func(ctx *dispersy.Context) error {
		cl, ok := r.pending.Get(r.name, id)
		if !ok {
			return nil
		}
		if cl.left > 0 {
			cl.left--
			// A fresh signature (new global time) on the same request number.
			if _, err := dispersy.Create(ctx.Community(), r.reqT, Envelope[Req]{ID: id, Body: cl.req}, dispersy.To(cl.to)); err != nil {
				return err
			}
			return ctx.Community().After(r.taskName(id), cl.timeout, r.expire(id))
		}
		r.pending.Pop(r.name, id)
		var zero Resp
		cl.done(zero, Peer{}, ErrTimeout)
		return nil
	}
}

// Cancel drops the pending request id; its callback gets ErrCancelled. It
// reports whether the request was pending.
func (r *RPC[Req, Resp]) Cancel(c *dispersy.Community, id uint16) bool {
	cl, ok := r.lookup(id)
	if !ok {
		return false
	}
	r.pending.Pop(r.name, id)
	c.CancelTask(r.taskName(id))
	var zero Resp
	cl.done(zero, Peer{}, ErrCancelled)
	return true
}

// Do calls from outside the engine: it issues the request through n.Do on
// community cid and waits for the answer, the timeout, or ctx (which
// cancels the request). It must not run on the engine's goroutine (in a
// handler or task): that deadlocks; use Call there.
func (r *RPC[Req, Resp]) Do(ctx context.Context, n *dispersy.Node, cid keys.CommunityID, to netip.AddrPort, req Req, timeout time.Duration, opts ...CallOption) (Resp, Peer, error) {
	type result struct {
		resp Resp
		from Peer
		err  error
	}
	ch := make(chan result, 1)
	var id uint16
	err := n.Do(ctx, func(e *dispersy.Engine) error {
		c := e.Community(cid)
		if c == nil {
			return fmt.Errorf("%w: %s", dispersy.ErrUnknownCommunity, cid)
		}
		var err error
		id, err = r.Call(c, to, req, timeout, func(resp Resp, from Peer, err error) { ch <- result{resp, from, err} }, opts...)
		return err
	})
	var zero Resp
	if err != nil {
		return zero, Peer{}, err
	}
	// Leaving the community cancels the call's timeout task without a
	// callback; the wall-clock guard keeps Do from waiting forever then.
	var o callOpts
	for _, opt := range opts {
		opt(&o)
	}
	guard := time.NewTimer(timeout*time.Duration(o.retries+1) + time.Second)
	defer guard.Stop()
	cancel := func() {
		_ = n.Do(context.Background(), func(e *dispersy.Engine) error {
			if c := e.Community(cid); c != nil {
				r.Cancel(c, id)
			}
			return nil
		})
	}
	select {
	case res := <-ch:
		return res.resp, res.from, res.err
	case <-guard.C:
		cancel()
		return zero, Peer{}, ErrTimeout
	case <-ctx.Done():
		cancel()
		return zero, Peer{}, ctx.Err()
	}
}
