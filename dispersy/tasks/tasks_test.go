package tasks_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/tasks"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestEveryAndAfterOrder(t *testing.T) {
	var s tasks.Scheduler
	var log []string
	rec := func(name string) func() error {
		return func() error { log = append(log, name); return nil }
	}
	if err := s.Every(t0, "tick", 5*time.Second, time.Second, rec("tick")); err != nil {
		t.Fatal(err)
	}
	if err := s.After(t0, "once", 3*time.Second, rec("once")); err != nil {
		t.Fatal(err)
	}
	if err := s.After(t0, "tie", 1*time.Second, rec("tie")); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		d, ok := s.NextDeadline()
		if !ok || d.After(t0.Add(12*time.Second)) {
			break
		}
		if err := s.Run(d, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"tick", "tie", "once", "tick", "tick"} // at 1 s (tie after tick: registered later), 3 s, 6 s, 11 s
	if !slices.Equal(log, want) {
		t.Fatalf("ran %v, want %v", log, want)
	}
	if got := s.Names(); !slices.Equal(got, []string{"tick"}) {
		t.Fatalf("names after one-shots ran: %v", got)
	}
}

func TestCancelAndDuplicate(t *testing.T) {
	var s tasks.Scheduler
	ran := 0
	fn := func() error { ran++; return nil }
	if err := s.Every(t0, "a", time.Second, 0, fn); err != nil {
		t.Fatal(err)
	}
	if err := s.After(t0, "a", 0, fn); !errors.Is(err, tasks.ErrExists) {
		t.Fatalf("duplicate name: %v, want ErrExists", err)
	}
	if err := s.Every(t0, "b", 0, 0, fn); !errors.Is(err, tasks.ErrInterval) {
		t.Fatalf("zero interval: %v", err)
	}
	if err := s.After(t0, "c", -time.Second, fn); !errors.Is(err, tasks.ErrInterval) {
		t.Fatalf("negative delay: %v", err)
	}
	if err := s.After(t0, "d", 0, nil); !errors.Is(err, tasks.ErrNoFunc) {
		t.Fatalf("nil fn: %v", err)
	}
	if !s.Cancel("a") || s.Cancel("a") {
		t.Fatal("Cancel should report true once")
	}
	if err := s.Run(t0.Add(time.Hour), nil); err != nil || ran != 0 {
		t.Fatalf("cancelled task ran %d times (err %v)", ran, err)
	}
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("deadline armed with no task")
	}
	_ = s.Every(t0, "x", time.Second, 0, fn)
	_ = s.Every(t0, "y", time.Second, 0, fn)
	s.CancelAll()
	if len(s.Names()) != 0 {
		t.Fatal("CancelAll left tasks")
	}
}

func TestJumpNoCatchUp(t *testing.T) {
	var s tasks.Scheduler
	ran := 0
	_ = s.Every(t0, "p", time.Second, 0, func() error { ran++; return nil })
	if err := s.Run(t0.Add(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	if ran != 1 {
		t.Fatalf("a jump of 60 intervals ran the task %d times, want 1", ran)
	}
	if d, _ := s.NextDeadline(); !d.Equal(t0.Add(time.Minute + time.Second)) {
		t.Fatalf("next due %v", d.Sub(t0))
	}
}

func TestFailuresReportedNotFatal(t *testing.T) {
	var s tasks.Scheduler
	var reports []string
	report := func(name string, err error) { reports = append(reports, fmt.Sprintf("%s: %v", name, err)) }
	_ = s.Every(t0, "err", time.Second, 0, func() error { return errors.New("boom") })
	_ = s.Every(t0, "panic", time.Second, 0, func() error { panic("oops") })
	for i := range 2 {
		if err := s.Run(t0.Add(time.Duration(i)*time.Second), report); err != nil {
			t.Fatalf("non-fatal failure stopped Run: %v", err)
		}
	}
	if len(reports) != 4 {
		t.Fatalf("reports %q, want 4 (both tasks twice: they stay scheduled)", reports)
	}
	var pe *tasks.PanicError
	_ = s.After(t0, "fatal", 0, func() error { panic("stop") }, tasks.Fatal())
	err := s.Run(t0.Add(5*time.Second), report)
	if !errors.As(err, &pe) || pe.Value != "stop" || len(pe.Stack) == 0 {
		t.Fatalf("fatal panic: Run returned %v", err)
	}
}

func TestSelfRescheduleNoLoop(t *testing.T) {
	var s tasks.Scheduler
	ran := 0
	var fn func() error
	fn = func() error { ran++; return s.After(t0, "again", 0, fn) }
	_ = s.After(t0, "again", 0, fn)
	if err := s.Run(t0, nil); err != nil {
		t.Fatal(err)
	}
	if ran != 1 || !s.Has("again") {
		t.Fatalf("ran %d, has %v: a task registered during Run waits for the next Run", ran, s.Has("again"))
	}
}
