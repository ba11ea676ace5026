package main

import (
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
)

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
