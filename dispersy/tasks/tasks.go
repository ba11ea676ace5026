// Package tasks schedules named periodic and one-shot tasks on engine time
// (IPv8's TaskManager: register_task, register_anonymous_task,
// cancel_pending_task, cancel_all_pending_tasks).
//
// A Scheduler is pure: it reads no clock (times come in as arguments) and
// runs due tasks, in deadline order with ties in registration order, when
// its owner calls [Scheduler.Run]. The dispersy engine owns one per
// community (Community.Every, Community.After) and runs it from Tick, so a
// task runs on the engine's goroutine and identically on the simulator.
//
// # Invariants
//
//   - At most one live task per name: registering a live name fails with
//     [ErrExists].
//   - A periodic task due at d runs once and is next due at d+interval, or
//     at now+interval when the engine jumped past that (no catch-up burst).
//   - A task that returns an error or panics is reported to Run's report
//     function and stays scheduled (a periodic task runs again); Run
//     returns the failure only for a task registered with [Fatal].
//   - Not safe for concurrent use: the engine goroutine owns it.
package tasks

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"
)

// Errors for API misuse.
var (
	// ErrExists: a live task already has the name (cancel it first).
	ErrExists = errors.New("tasks: a task with this name is already scheduled")
	// ErrInterval: a periodic task's interval is not positive, or a delay
	// is negative.
	ErrInterval = errors.New("tasks: interval must be > 0 and delay >= 0")
	// ErrNoFunc: the task function is nil.
	ErrNoFunc = errors.New("tasks: nil task function")
)

// PanicError is the error a task's panic is reported as.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("tasks: task panicked: %v", e.Value) }

// Option adjusts a task.
type Option func(*task)

// Fatal makes the task's failure (an error or a panic) stop the owner:
// Run returns it (the engine then stops with it). Without Fatal a failure
// is only reported.
func Fatal() Option { return func(t *task) { t.fatal = true } }

type task struct {
	name     string
	fn       func() error
	due      time.Time
	interval time.Duration // 0: one-shot
	seq      uint64
	fatal    bool
}

// Scheduler holds named tasks. The zero value is ready to use.
type Scheduler struct {
	tasks []*task // unordered; small (a handful per community)
	seq   uint64
}

// Every schedules fn to run first at now+delay and then every interval.
func (s *Scheduler) Every(now time.Time, name string, interval, delay time.Duration, fn func() error, opts ...Option) error {
	if interval <= 0 {
		return fmt.Errorf("%w (task %q: interval %v)", ErrInterval, name, interval)
	}
	return s.add(&task{name: name, fn: fn, due: now.Add(delay), interval: interval}, delay, opts)
}

// After schedules fn to run once at now+delay.
func (s *Scheduler) After(now time.Time, name string, delay time.Duration, fn func() error, opts ...Option) error {
	return s.add(&task{name: name, fn: fn, due: now.Add(delay)}, delay, opts)
}

func (s *Scheduler) add(t *task, delay time.Duration, opts []Option) error {
	switch {
	case t.fn == nil:
		return fmt.Errorf("%w (task %q)", ErrNoFunc, t.name)
	case delay < 0:
		return fmt.Errorf("%w (task %q: delay %v)", ErrInterval, t.name, delay)
	case s.Has(t.name):
		return fmt.Errorf("%w: %q", ErrExists, t.name)
	}
	for _, o := range opts {
		o(t)
	}
	s.seq++
	t.seq = s.seq
	s.tasks = append(s.tasks, t)
	return nil
}

// Has reports whether a task of that name is scheduled.
func (s *Scheduler) Has(name string) bool {
	return slices.ContainsFunc(s.tasks, func(t *task) bool { return t.name == name })
}

// Cancel removes the named task; it reports whether one was scheduled.
func (s *Scheduler) Cancel(name string) bool {
	n := len(s.tasks)
	s.tasks = slices.DeleteFunc(s.tasks, func(t *task) bool { return t.name == name })
	return len(s.tasks) < n
}

// CancelAll removes every task.
func (s *Scheduler) CancelAll() { s.tasks = nil }

// Names returns the scheduled tasks' names, sorted.
func (s *Scheduler) Names() []string {
	out := make([]string, len(s.tasks))
	for i, t := range s.tasks {
		out[i] = t.name
	}
	slices.Sort(out)
	return out
}

// NextDeadline returns the earliest due time; ok is false with no task.
func (s *Scheduler) NextDeadline() (d time.Time, ok bool) {
	for _, t := range s.tasks {
		if !ok || t.due.Before(d) {
			d, ok = t.due, true
		}
	}
	return d, ok
}

// Run runs every task due at or before now, earliest first (ties in
// registration order). A task may register or cancel tasks, itself
// included; tasks registered during Run wait for the next Run (so a task
// that re-registers itself with no delay cannot loop forever).
// Each failure goes to report (which may be nil); the first failure of a
// Fatal task ends Run and is returned.
func (s *Scheduler) Run(now time.Time, report func(name string, err error)) error {
	limit := s.seq
	for {
		t := s.nextDue(now, limit)
		if t == nil {
			return nil
		}
		if t.interval == 0 {
			s.Cancel(t.name)
		} else {
			t.due = t.due.Add(t.interval)
			if !t.due.After(now) {
				t.due = now.Add(t.interval)
			}
		}
		if err := call(t.fn); err != nil {
			if report != nil {
				report(t.name, err)
			}
			if t.fatal {
				return fmt.Errorf("task %q: %w", t.name, err)
			}
		}
	}
}

func (s *Scheduler) nextDue(now time.Time, limit uint64) *task {
	var best *task
	for _, t := range s.tasks {
		if t.due.After(now) || t.seq > limit {
			continue
		}
		if best == nil || t.due.Before(best.due) || (t.due.Equal(best.due) && t.seq < best.seq) {
			best = t
		}
	}
	return best
}

func call(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}
