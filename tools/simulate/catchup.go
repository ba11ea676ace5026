package main

import (
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
)

// catchupAvailable says whether this build has the catch-up protocol
// (package dispersy/catchup: range-based set reconciliation and a paced
// bulk transfer). -reconcile defaults to it.
const catchupAvailable = true

// enableCatchup turns the catch-up protocol on in cfg (catchup.Enable with
// its default options) when on is true; off leaves cfg as it is:
// bloom-filter sync only.
func enableCatchup(cfg *dispersy.Config, on bool) error {
	if on {
		catchup.Enable(cfg, catchup.Options{})
	}
	return nil
}

// catchupStats returns the catch-up counters of e (nil when catch-up is
// off).
func catchupStats(e *dispersy.Engine) *catchup.Stats {
	if s, ok := catchup.StatsOf(e); ok {
		return &s
	}
	return nil
}

// holdersCatchupStats returns the sum of the catch-up counters of engines
// (nil when catch-up is off on all of them).
func holdersCatchupStats(engines []*dispersy.Engine) *catchup.Stats {
	var sum *catchup.Stats
	for _, e := range engines {
		s, ok := catchup.StatsOf(e)
		if !ok {
			continue
		}
		if sum == nil {
			sum = &catchup.Stats{}
		}
		sum.Add(s)
	}
	return sum
}
