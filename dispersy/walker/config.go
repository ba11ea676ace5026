package walker

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes a [Table]. Start from [DefaultConfig]; the zero Config is
// invalid.
//
// Dispersy chose its lifetimes 2.5 s below the points where most NATs close
// a hole (60 s after the last packet, 30 s for unsolicited traffic), so a
// candidate is dropped before its hole closes (docs/system_overview.rst).
type Config struct {
	// WalkLifetime is how long a candidate stays in the walk category after
	// its last introduction response. Default 57.5 s (Dispersy
	// CANDIDATE_WALK_LIFETIME).
	WalkLifetime time.Duration
	// StumbleLifetime is how long a candidate stays in the stumble category
	// after its last introduction request to us. Default 57.5 s (Dispersy
	// CANDIDATE_STUMBLE_LIFETIME).
	StumbleLifetime time.Duration
	// IntroLifetime is how long a candidate stays in the intro category
	// after someone introduced it or it punctured us. Default 27.5 s
	// (Dispersy CANDIDATE_INTRO_LIFETIME: unsolicited traffic, 30 s holes).
	IntroLifetime time.Duration
	// DiscoveredLifetime is how long a candidate stays in the discovered
	// category after it was given to us by discovery or a tracker list.
	// Default 57.5 s (Dispersy CANDIDATE_DISCOVERED_LIFETIME).
	DiscoveredLifetime time.Duration
	// EligibleDelay is the minimum time between two walks to the same
	// candidate. Default 27.5 s (Dispersy CANDIDATE_ELIGIBLE_DELAY).
	EligibleDelay time.Duration
	// IntroRequestTimeout is how long an introduction request waits for its
	// response (and puncture) before the walk counts as failed. The engine
	// uses it as the request-cache timeout. Default 10.5 s (Dispersy
	// IntroductionRequestCache.timeout_delay).
	IntroRequestTimeout time.Duration
	// StepInterval is the time between two walker steps in one community;
	// the engine schedules its steps with it. Default 5 s (Dispersy
	// TAKE_STEP_INTERVAL).
	StepInterval time.Duration
	// MaxCandidates bounds the table against remote-driven growth (spoofed
	// introduction requests from many addresses). When the table is full a
	// new candidate evicts the oldest non-verified one, or is refused if
	// every candidate is verified. Default 1,024 (not in Dispersy, which
	// had no bound; 11 walk candidates plus the stumblers of a busy
	// tracker fit easily).
	MaxCandidates int
	// MedianMinCandidates is the number of verified candidates with a known
	// global time that [Table.MedianGlobalTime] needs before it returns a
	// median: it needs strictly more than this. Default 5 (Dispersy
	// acceptable_global_time: "more than 5").
	MedianMinCandidates int
	// WalkTarget is the number of verified candidates at which the walker
	// slows down: while the table holds at least this many and the last
	// step brought no new message, the next step waits SlowStepInterval
	// instead of StepInterval (see [Config.NextStep]). 0: always
	// StepInterval. IPv8: RandomWalk(target_peers) stops walking at 20
	// peers (10 in its examples); here the walk slows, as the bloom sync
	// rides on it.
	WalkTarget int
	// SlowStepInterval is the step interval once WalkTarget is reached and
	// nothing new arrives (at least StepInterval). Default 4 ×
	// StepInterval (20 s): below WalkLifetime, so the walk candidates we
	// step to stay alive.
	SlowStepInterval time.Duration
	// MaxPeers caps the verified candidates: above it [Table.Trim] drops
	// stumble candidates before walk candidates, the one heard from longest
	// ago first (IPv8 Community max_peers). 0: no cap.
	MaxPeers int
	// FastStepInterval is the step interval while the table holds no
	// verified candidate (a fresh or isolated peer), so it finds its first
	// peers in a second or two (IPv8: its first two peers in 1.1-4.1 s),
	// then settles to StepInterval (at most StepInterval). 0: no fast
	// start. Default
	// StepInterval / 5 (1 s). Sends to addresses that never answered stay
	// capped by the engine's anti-amplification probe rate.
	FastStepInterval time.Duration
}

// DefaultConfig returns Dispersy's walker constants.
func DefaultConfig() Config {
	return Config{
		WalkLifetime:        57500 * time.Millisecond, // Dispersy CANDIDATE_WALK_LIFETIME
		StumbleLifetime:     57500 * time.Millisecond, // Dispersy CANDIDATE_STUMBLE_LIFETIME
		IntroLifetime:       27500 * time.Millisecond, // Dispersy CANDIDATE_INTRO_LIFETIME
		DiscoveredLifetime:  57500 * time.Millisecond, // Dispersy CANDIDATE_DISCOVERED_LIFETIME
		EligibleDelay:       27500 * time.Millisecond, // Dispersy CANDIDATE_ELIGIBLE_DELAY
		IntroRequestTimeout: 10500 * time.Millisecond, // Dispersy IntroductionRequestCache.timeout_delay
		StepInterval:        5 * time.Second,          // Dispersy TAKE_STEP_INTERVAL
		MaxCandidates:       1024,                     // not in Dispersy: bounds memory against spoofed requests
		MedianMinCandidates: 5,                        // Dispersy acceptable_global_time: more than 5 candidates
		WalkTarget:          10,                       // IPv8 RandomWalk target (examples); not in Dispersy
		SlowStepInterval:    20 * time.Second,         // not in Dispersy: 4 × TAKE_STEP_INTERVAL
		MaxPeers:            30,                       // IPv8 Community max_peers default; not in Dispersy
		FastStepInterval:    time.Second,              // not in Dispersy: TAKE_STEP_INTERVAL / 5
	}
}

// Scaled returns c with StepInterval set to step and every lifetime,
// delay and timeout scaled by step / c.StepInterval, so the walker keeps its
// proportions (and the ratios Validate checks) at any speed. Tests and
// demos on loopback use it to walk many times a second.
func (c Config) Scaled(step time.Duration) Config {
	factor := float64(step) / float64(c.StepInterval)
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * factor) }
	c.WalkLifetime = scale(c.WalkLifetime)
	c.StumbleLifetime = scale(c.StumbleLifetime)
	c.IntroLifetime = scale(c.IntroLifetime)
	c.DiscoveredLifetime = scale(c.DiscoveredLifetime)
	c.EligibleDelay = scale(c.EligibleDelay)
	c.IntroRequestTimeout = scale(c.IntroRequestTimeout)
	c.SlowStepInterval = scale(c.SlowStepInterval)
	c.FastStepInterval = scale(c.FastStepInterval)
	c.StepInterval = step
	return c
}

// Validate reports every problem with c, not only the first. It never
// modifies c.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("walker: %s (%v) must be > 0", name, d))
		}
	}
	positive("WalkLifetime", c.WalkLifetime)
	positive("StumbleLifetime", c.StumbleLifetime)
	positive("IntroLifetime", c.IntroLifetime)
	positive("DiscoveredLifetime", c.DiscoveredLifetime)
	positive("EligibleDelay", c.EligibleDelay)
	positive("IntroRequestTimeout", c.IntroRequestTimeout)
	positive("StepInterval", c.StepInterval)
	if c.IntroRequestTimeout > 0 && c.WalkLifetime > 0 && c.IntroRequestTimeout >= c.WalkLifetime {
		errs = append(errs, fmt.Errorf("walker: IntroRequestTimeout (%v) must be < WalkLifetime (%v), or a walked candidate expires before its response can arrive",
			c.IntroRequestTimeout, c.WalkLifetime))
	}
	if c.MaxCandidates < 1 {
		errs = append(errs, fmt.Errorf("walker: MaxCandidates (%d) must be >= 1", c.MaxCandidates))
	}
	if c.MedianMinCandidates < 0 {
		errs = append(errs, fmt.Errorf("walker: MedianMinCandidates (%d) must be >= 0", c.MedianMinCandidates))
	}
	if c.WalkTarget < 0 || c.MaxPeers < 0 {
		errs = append(errs, fmt.Errorf("walker: WalkTarget (%d) and MaxPeers (%d) must be >= 0", c.WalkTarget, c.MaxPeers))
	}
	if c.MaxPeers > 0 && c.MaxPeers < c.WalkTarget {
		errs = append(errs, fmt.Errorf("walker: MaxPeers (%d) must be 0 or >= WalkTarget (%d)", c.MaxPeers, c.WalkTarget))
	}
	if c.SlowStepInterval < 0 || c.FastStepInterval < 0 {
		errs = append(errs, fmt.Errorf("walker: SlowStepInterval (%v) and FastStepInterval (%v) must be >= 0", c.SlowStepInterval, c.FastStepInterval))
	}
	return errors.Join(errs...)
}

// NextStep returns the wait before the next walker step, given the number
// of verified candidates, whether the walk is fruitful (the engine: it
// stored a synced message, or heard a peer ahead of its global time, less
// than a WalkLifetime ago) and whether the walk is slowed now (the last
// wait was SlowStepInterval):
//
//	no verified candidate (and FastStepInterval set):     FastStepInterval
//	not fruitful, WalkTarget > 0 and verified ≥ WalkTarget,
//	  or already slowed and verified ≥ ⌈WalkTarget/2⌉:  SlowStepInterval
//	otherwise:                                           StepInterval
//
// The half-target band is hysteresis: the verified count follows the walk
// rate (a verified candidate expires 57.5 s after its last response or
// request), so at SlowStepInterval it settles below what it is at
// StepInterval; without the band the walk would flip between both paces
// every few steps and save little. A community with data to sync keeps the
// full step, so the bloom sync that rides on the walk is not slowed.
func (c Config) NextStep(verified int, fruitful, slowed bool) time.Duration {
	switch {
	case verified == 0 && c.FastStepInterval > 0:
		return min(c.FastStepInterval, c.StepInterval)
	case c.WalkTarget > 0 && !fruitful &&
		(verified >= c.WalkTarget || slowed && verified >= (c.WalkTarget+1)/2):
		return max(c.SlowStepInterval, c.StepInterval)
	}
	return c.StepInterval
}
