package dispersy_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/tasks"
)

// Tasks run on engine time inside the simulator, at the same virtual times
// on every run; a failing task is counted and does not stop the engine; a
// Fatal one does; leaving the community cancels its tasks.
func TestCommunityTasks(t *testing.T) {
	run := func() ([]time.Duration, dispersy.Stats) {
		sim := newDebugSim(t, 7, 2, 0)
		p := sim.Peers[1]
		start := sim.Net.Now()
		var at []time.Duration
		err := sim.Do(p, func(e *dispersy.Engine) error {
			c := e.Community(debugCID)
			if err := c.Every("print", 5*time.Second, time.Second, func(x *dispersy.Context) error {
				at = append(at, x.Now().Sub(start))
				return nil
			}); err != nil {
				return err
			}
			if err := c.Every("print", time.Second, 0, func(*dispersy.Context) error { return nil }); !errors.Is(err, tasks.ErrExists) {
				t.Errorf("duplicate task name: %v", err)
			}
			if err := c.Every("bad", 4*time.Second, 0, func(*dispersy.Context) error { return errors.New("boom") }); err != nil {
				return err
			}
			return c.After("panics", 2*time.Second, func(*dispersy.Context) error { panic("oops") })
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Net.RunFor(12 * time.Second); err != nil {
			t.Fatal(err)
		}
		return at, p.Engine.Stats()
	}
	at, st := run()
	want := []time.Duration{time.Second, 6 * time.Second, 11 * time.Second}
	if !slices.Equal(at, want) {
		t.Fatalf("task ran at %v, want %v", at, want)
	}
	if st.TaskFailures != 5 { // "bad" at 0, 4, 8, 12 s and "panics" at 2 s
		t.Fatalf("TaskFailures = %d, want 5", st.TaskFailures)
	}
	if again, _ := run(); !slices.Equal(again, at) {
		t.Fatalf("second run at %v, first %v", again, at)
	}
}

func TestCommunityTaskFatalAndLeave(t *testing.T) {
	sim := newDebugSim(t, 8, 2, 0)
	p := sim.Peers[1]
	ran := 0
	err := sim.Do(p, func(e *dispersy.Engine) error {
		c := e.Community(debugCID)
		if err := c.Every("count", time.Second, 0, func(*dispersy.Context) error { ran++; return nil }); err != nil {
			return err
		}
		if got := c.TaskNames(); !slices.Equal(got, []string{"count"}) {
			t.Errorf("TaskNames = %v", got)
		}
		if err := e.Leave(debugCID); err != nil {
			return err
		}
		if err := c.After("late", 0, func(*dispersy.Context) error { ran++; return nil }); !errors.Is(err, dispersy.ErrUnknownCommunity) {
			t.Errorf("a task on a left community: %v, want ErrUnknownCommunity", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Net.RunFor(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ran != 0 {
		t.Fatalf("a task of a left community ran %d times", ran)
	}

	q := sim.Peers[0]
	err = sim.Do(q, func(e *dispersy.Engine) error {
		return e.Community(debugCID).After("fatal", time.Second, func(*dispersy.Context) error { return errors.New("stop") }, tasks.Fatal())
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sim.Net.RunFor(3 * time.Second)
	if err := q.Engine.Err(); err == nil || !errors.Is(err, dispersy.ErrEngineFailed) {
		t.Fatalf("a Fatal task's failure should stop the engine; Err() = %v", err)
	}
}
