package main

import (
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
)

// catchupStats returns the catch-up counters of e (nil when catch-up is
// off). Call it on the engine's goroutine.
func catchupStats(e *dispersy.Engine) *catchup.Stats {
	if s, ok := catchup.StatsOf(e); ok {
		return &s
	}
	return nil
}
