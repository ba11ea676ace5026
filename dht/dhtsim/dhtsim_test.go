package dhtsim_test

import (
	"flag"
	"testing"

	"github.com/dispersy-go/dispersy/dht/dhtsim"
)

// full runs the goal tests at the size (1,000 peers, a minute or
// more each): go test ./dht/dhtsim -full. Without it they run at 200.
var full = flag.Bool("full", false, "run the DHT goals at 1,000 peers")

func peers() int {
	if *full {
		return 1000
	}
	return 200
}

// scaled is n at full size, n/4 otherwise.
func scaled(n int) int {
	if *full {
		return n
	}
	return n / 4
}

func run(t *testing.T, cfg dhtsim.Config) dhtsim.Result {
	t.Helper()
	cfg.Peers = peers()
	cfg.Progress = func(s string) { t.Log(s) }
	res, err := dhtsim.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	return res
}

// TestLossGoal: 10% loss: lookup success >= 99.9%, hops p50 <= 3 and
// p99 <= 6 (issue 15).
func TestLossGoal(t *testing.T) {
	res := run(t, dhtsim.Config{Values: 100, Lookups: scaled(1000), Loss: 0.1, Seed: 1})
	if res.LookupSuccess < 0.999 || res.HopsP50 > 3 || res.HopsP99 > 6 {
		t.Errorf("lookup success %.4f, hops p50 %d p99 %d; want >= 0.999, <= 3, <= 6", res.LookupSuccess, res.HopsP50, res.HopsP99)
	}
}

// TestChurnGoal: 30% of the peers replaced during the lookups (the storers
// first), 10% loss: >= 99.9% of the values still readable (issue 15).
func TestChurnGoal(t *testing.T) {
	res := run(t, dhtsim.Config{Values: scaled(300), Lookups: scaled(1000), Loss: 0.1, Churn: 0.3, Seed: 2})
	if res.ValuesAvailable < 0.999 {
		t.Errorf("values available %.4f, want >= 0.999", res.ValuesAvailable)
	}
	if res.Replaced != int(0.3*float64(res.Peers)) {
		t.Errorf("%d replaced", res.Replaced)
	}
}

// TestAdversariesAnsweringWithThemselves: 5% extra peers answer every
// query with themselves only; lookups still succeed.
func TestAdversariesAnsweringWithThemselves(t *testing.T) {
	res := run(t, dhtsim.Config{Values: scaled(100), Lookups: scaled(500), Loss: 0.1, Adversaries: peers() / 20, Seed: 3})
	if res.LookupSuccess < 0.999 || res.ValuesAvailable < 0.999 {
		t.Errorf("lookup success %.4f, values available %.4f with adversaries", res.LookupSuccess, res.ValuesAvailable)
	}
}
