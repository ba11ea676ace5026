package dispersy

import (
	"math/rand/v2"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/tasks"
)

// Every schedules fn to run on the engine's goroutine, on engine time, first
// after delay and then every interval (IPv8's register_task with
// interval and delay). Names are unique per community: a live name is
// refused with tasks.ErrExists. Leaving the community cancels its tasks; a
// left or destroyed community refuses new ones.
//
// A task that returns an error or panics is counted (Stats.TaskFailures),
// logged, and stays scheduled; with tasks.Fatal() its failure stops the
// engine instead (Tick returns it). Like every callback, fn must not block.
func (c *Community) Every(name string, interval, delay time.Duration, fn func(*Context) error, opts ...tasks.Option) error {
	if err := c.usable(); err != nil {
		return err
	}
	if fn == nil {
		return c.tasks.Every(c.e.now, name, interval, delay, nil, opts...)
	}
	return c.tasks.Every(c.e.now, name, interval, delay, func() error { return fn(c.ctx) }, opts...)
}

// After schedules fn to run once, delay from now on engine time (IPv8's
// register_anonymous_task / a delayed call); see Every.
func (c *Community) After(name string, delay time.Duration, fn func(*Context) error, opts ...tasks.Option) error {
	if err := c.usable(); err != nil {
		return err
	}
	if fn == nil {
		return c.tasks.After(c.e.now, name, delay, nil, opts...)
	}
	return c.tasks.After(c.e.now, name, delay, func() error { return fn(c.ctx) }, opts...)
}

// CancelTask cancels the named task; it reports whether one was scheduled.
func (c *Community) CancelTask(name string) bool { return c.tasks.Cancel(name) }

// TaskNames returns the names of the community's scheduled tasks, sorted.
func (c *Community) TaskNames() []string { return c.tasks.Names() }

// runTasks runs the community's due tasks (from tick).
func (c *Community) runTasks() error {
	return c.tasks.Run(c.e.now, func(name string, err error) {
		c.e.stats.TaskFailures++
		c.e.log.Warn().Err(err).Hex("cid", c.cid[:4]).Str("task", name).Msg("task failed")
	})
}

// Rand returns the engine's injected random source, for helpers that run
// on the engine's goroutine and must stay reproducible on the simulator
// (request numbers of the peer package). Not safe for concurrent use.
func (e *Engine) Rand() *rand.Rand { return e.rng }

// DropBecause drops the message and counts it under reason instead of
// DropRejected: for a Check that recognises a case the closed set names
// (an answer without a matching request is DropUnexpected).
func DropBecause(reason DropReason, detail string) Verdict {
	if reason == dropNone || reason >= dropReasonCount {
		reason = DropRejected
	}
	return drop(reason, detail)
}
