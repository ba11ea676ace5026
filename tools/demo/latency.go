package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
)

// latencyEvery is how often each peer's API latency is sampled.
const latencyEvery = 100 * time.Millisecond

// latencyReport is the -json part about API latency: a trivial Node.Do
// (a function that returns nil) timed on every peer every 100 ms from the
// start until the run's figures are taken. A call still waiting when the
// sampling stops counts with the time it has waited so far. Shed is
// filled from the peers' Stats.
type latencyReport struct {
	DoSamples int     `json:"do_samples"`
	DoP50MS   float64 `json:"do_p50_ms"`
	DoP99MS   float64 `json:"do_p99_ms"`
	DoMaxMS   float64 `json:"do_max_ms"`
	// Shed counts the datagrams every peer dropped unverified because it
	// could not keep up (DropOverload and DropQueueFull).
	Shed uint64 `json:"shed"`
}

// latencySampler times Node.Do on every peer until stop.
type latencySampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	got    []time.Duration
}

// sampleLatency starts one sampling goroutine per peer.
func sampleLatency(peers []*peer) *latencySampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &latencySampler{cancel: cancel}
	for _, p := range peers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(latencyEvery)
			defer tick.Stop()
			for {
				t0 := time.Now()
				err := p.node.Do(ctx, func(*dispersy.Engine) error { return nil })
				if err == nil || ctx.Err() != nil {
					// Interrupted by stop: the wait so far is a lower bound.
					s.mu.Lock()
					s.got = append(s.got, time.Since(t0))
					s.mu.Unlock()
				}
				if err != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	return s
}

// stop ends the sampling and summarises it.
func (s *latencySampler) stop() latencyReport {
	if s == nil {
		return latencyReport{}
	}
	s.cancel()
	s.wg.Wait()
	got := slices.Clone(s.got)
	slices.Sort(got)
	ms := func(q float64) float64 {
		if len(got) == 0 {
			return 0
		}
		return float64(got[min(int(q*float64(len(got))), len(got)-1)]) / float64(time.Millisecond)
	}
	return latencyReport{DoSamples: len(got), DoP50MS: ms(0.5), DoP99MS: ms(0.99), DoMaxMS: ms(1)}
}
