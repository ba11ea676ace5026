package walker

import (
	"fmt"
	"testing"
	"time"
)

// Issue #16/#17: the wait before the next step follows the verified count,
// the target and whether the walk is fruitful.
func TestNextStep(t *testing.T) {
	c := DefaultConfig()
	c.WalkTarget = 10
	for _, tc := range []struct {
		verified         int
		fruitful, slowed bool
		want             time.Duration
	}{
		{0, false, false, c.FastStepInterval}, // fast start
		{0, true, true, c.FastStepInterval},
		{1, false, false, c.StepInterval}, // below target
		{9, false, false, c.StepInterval},
		{10, false, false, c.SlowStepInterval}, // target reached, idle
		{10, true, false, c.StepInterval},      // something to sync
		{25, true, true, c.StepInterval},
		{5, false, true, c.SlowStepInterval}, // hysteresis: half the target
		{4, false, true, c.StepInterval},
		{5, false, false, c.StepInterval},
	} {
		if got := c.NextStep(tc.verified, tc.fruitful, tc.slowed); got != tc.want {
			t.Errorf("NextStep(%d, %v, %v) = %v, want %v", tc.verified, tc.fruitful, tc.slowed, got, tc.want)
		}
	}
	// A Config that only sets StepInterval keeps both bounds.
	quick := c
	quick.StepInterval = 200 * time.Millisecond
	if err := quick.Validate(); err != nil {
		t.Errorf("StepInterval 200ms alone: %v", err)
	}
	if got := quick.NextStep(0, false, false); got != quick.StepInterval {
		t.Errorf("fast step %v with StepInterval %v, want StepInterval", got, quick.StepInterval)
	}
	lazy := c
	lazy.StepInterval = time.Minute
	if got := lazy.NextStep(20, false, false); got != lazy.StepInterval {
		t.Errorf("slow step %v with StepInterval %v, want StepInterval", got, lazy.StepInterval)
	}
	off := c
	off.WalkTarget, off.FastStepInterval = 0, 0
	for _, v := range []int{0, 1, 10, 100} {
		if got := off.NextStep(v, false, true); got != c.StepInterval {
			t.Errorf("target 0, no fast start: NextStep(%d) = %v, want StepInterval %v", v, got, c.StepInterval)
		}
	}
}

func TestPaceValidateAndScale(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"negative target":    func(c *Config) { c.WalkTarget = -1 },
		"max below target":   func(c *Config) { c.WalkTarget, c.MaxPeers = 10, 5 },
		"negative slow step": func(c *Config) { c.SlowStepInterval = -1 },
		"negative fast step": func(c *Config) { c.FastStepInterval = -1 },
	} {
		bad := DefaultConfig()
		mutate(&bad)
		if bad.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, bad)
		}
	}
	s := c.Scaled(time.Second)
	if s.SlowStepInterval != 4*time.Second || s.FastStepInterval != 200*time.Millisecond {
		t.Errorf("Scaled(1s): slow %v, fast %v, want 4s and 200ms", s.SlowStepInterval, s.FastStepInterval)
	}
}

// Issue #16: above MaxPeers stumble candidates go before walk candidates,
// and within each the one heard from longest ago; bootstrap addresses
// (keep) and candidates with a request in flight stay; non-verified
// candidates neither count nor go.
func TestTrimOldestFirst(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	// Ports 1..6 verified, heard from at t0+1s .. t0+6s, in shuffled
	// insertion order; port 7 only introduced.
	heard := []int{3, 1, 6, 2, 5, 4} // port i+1 heard at t0+heard[i]s
	for i, h := range heard {
		at := t0.Add(time.Duration(h) * time.Second)
		if i%2 == 0 {
			tbl.Walk(at.Add(-time.Second), contactAt(i+1, false).Sock)
			tbl.WalkResponse(at, contactAt(i+1, false))
		} else {
			tbl.Stumble(at, contactAt(i+1, false))
		}
	}
	tbl.Intro(t0, contactAt(7, false))
	now := t0.Add(10 * time.Second)
	// A request in flight to port 2 (heard at 1 s, the oldest).
	tbl.Walk(now.Add(-time.Second), contactAt(2, false).Sock)
	keep := func(c *Candidate) bool { return c.Sock() == contactAt(4, false).Sock } // heard at 2 s: a bootstrap
	if got := tbl.Trim(now, 0, keep); got != nil {
		t.Fatalf("Trim with max 0 removed %v", socks(got))
	}
	got := tbl.Trim(now, 3, keep)
	// Excess 3. Stumble candidates first: port 2 (in flight), 4 (kept),
	// 6 (4 s); then walk candidates by time heard: 1 (3 s), 5 (5 s),
	// 3 (6 s).
	var order []string
	for _, c := range got {
		order = append(order, c.Sock().String())
	}
	if want := "[127.0.0.1:6 127.0.0.1:1 127.0.0.1:5]"; fmt.Sprint(order) != want {
		t.Errorf("Trim removed %v, want %s", order, want)
	}
	if n := tbl.CountVerified(now); n != 3 {
		t.Errorf("%d verified after Trim, want 3", n)
	}
	if tbl.Get(contactAt(7, false).Sock) == nil {
		t.Error("Trim removed an intro candidate")
	}
	if s := tbl.Stats().Trimmed; s != 3 {
		t.Errorf("Stats.Trimmed = %d, want 3", s)
	}
	if got := tbl.Trim(now, 3, keep); got != nil {
		t.Errorf("second Trim removed %v", socks(got))
	}
}
