package main

import (
	"flag"
	"fmt"
	"testing"
	"time"
)

var long = flag.Bool("long", false, "run the 1,000-peer simulations (minutes)")

// TestLong runs the scenarios at full size: 1,000 peers with 10%
// loss, one message and a hundred, with both parameter sets. It asserts
// convergence and sane metrics only; speed is reported, never judged.
// Run it with: go test ./tools/simulate -run TestLong -long -timeout 1h -v
func TestLong(t *testing.T) {
	if testing.Short() || !*long {
		t.Skip("needs -long (and not -short)")
	}
	for _, messages := range []int{1, 100} {
		for _, params := range []string{paramsOurs, paramsDispersy} {
			t.Run(fmt.Sprintf("%s/%d", params, messages), func(t *testing.T) {
				r, err := simulate(options{
					Scenario: "default", Params: params, Peers: 1000, Messages: messages, Loss: 0.1,
					Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1,
					Warmup: time.Minute, Limit: 2 * time.Hour,
				})
				if err != nil {
					t.Fatal(err)
				}
				checkSane(t, r)
				t.Logf("%s, %d messages: %.1f rounds, bytes ratio %.3f, %.3f copies per message, %.1f s wall, %.0f MiB heap",
					params, messages, *r.RoundsToFull, r.BytesRatio, r.CopiesPerMessage, r.WallSeconds, r.HeapMB)
			})
		}
	}
}

// BenchmarkSimulate measures one 100-peer run of 100 messages with 10%
// loss; rounds and heap are reported next to the time.
func BenchmarkSimulate(b *testing.B) {
	for _, params := range []string{paramsOurs, paramsDispersy} {
		b.Run(params, func(b *testing.B) {
			var r *result
			for b.Loop() {
				var err error
				r, err = simulate(options{
					Scenario: "default", Params: params, Peers: 100, Messages: 100, Loss: 0.1,
					Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1,
					Warmup: time.Minute, Limit: 2 * time.Hour,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if r.Converged {
				b.ReportMetric(*r.RoundsToFull, "rounds")
			}
			b.ReportMetric(r.BytesRatio, "bytes-ratio")
			b.ReportMetric(r.HeapMB, "heap-MiB")
		})
	}
}
