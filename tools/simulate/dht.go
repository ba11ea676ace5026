package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dispersy-go/dispersy/dht/dhtsim"
)

// scenarioDHT runs DHT nodes (dht/node) instead of the bloom-sync overlay:
// -peers N, -values V stored by random peers, -lookups L from random peers,
// -loss, -churn F (a fraction F of the peers leave during the lookups, the
// storers first, and as many fresh ones join), -adversaries A (peers that
// answer every query with themselves). See dht/dhtsim.
const scenarioDHT = "dht"

type dhtOptions struct {
	values, lookups, adversaries int
	churn                        float64
}

func dhtFlags(fs *flag.FlagSet, d *dhtOptions) {
	fs.IntVar(&d.values, "values", 100, "")
	fs.IntVar(&d.lookups, "lookups", 1000, "")
	fs.IntVar(&d.adversaries, "adversaries", 0, "")
	fs.Float64Var(&d.churn, "churn", 0, "")
}

// checkDHT validates the flags the dht scenario reads.
func checkDHT(c *config) error {
	o, d := &c.opt, &c.dht
	switch {
	case o.Peers < 2 || o.Peers > maxPeers:
		return badFlag("-peers %d: must be in 2..%d", o.Peers, maxPeers)
	case !(o.Loss >= 0 && o.Loss < 1):
		return badFlag("-loss %v: must be a probability in [0, 1)", o.Loss)
	case !(d.churn >= 0 && d.churn < 1):
		return badFlag("-churn %v: must be a fraction in [0, 1)", d.churn)
	case d.values < 1 || d.lookups < 0 || d.adversaries < 0:
		return badFlag("-values must be >= 1, -lookups and -adversaries >= 0")
	case o.Latency < 0 || o.Jitter < 0:
		return badFlag("-latency and -jitter must be >= 0")
	}
	return nil
}

// dhtResult is the JSON report of the dht scenario.
type dhtResult struct {
	Scenario    string  `json:"scenario"`
	Loss        float64 `json:"loss"`
	Churn       float64 `json:"churn"`
	Adversaries int     `json:"adversaries"`
	Seed        uint64  `json:"seed"`
	dhtsim.Result
	WallSeconds float64 `json:"wall_seconds"`
}

func runDHT(c *config, stdout, stderr io.Writer) int {
	o := c.opt
	cfg := dhtsim.Config{
		Peers: o.Peers, Values: c.dht.values, Lookups: c.dht.lookups, Loss: o.Loss, Churn: c.dht.churn,
		Adversaries: c.dht.adversaries, Seed: o.Seed, Latency: o.Latency, Jitter: o.Jitter,
	}
	if set := o.Warmup; set > 0 {
		cfg.Warmup = set
	}
	if o.Progress != nil {
		cfg.Progress = func(s string) { fmt.Fprintln(o.Progress, s) }
	}
	start := time.Now()
	res, err := dhtsim.Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: dht: %v\n", err)
		return exitFail
	}
	r := dhtResult{Scenario: scenarioDHT, Loss: o.Loss, Churn: c.dht.churn, Adversaries: c.dht.adversaries, Seed: o.Seed, Result: res,
		WallSeconds: time.Since(start).Seconds()}
	if c.json {
		out, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitFail
		}
		stdout.Write(append(out, '\n'))
		return exitOK
	}
	fmt.Fprintf(stdout, "scenario dht: %d peers (+%d adversaries), %d values, %d lookups, loss %.2f, churn %.2f (%d replaced), seed %d\n",
		res.Peers, r.Adversaries, res.Values, res.Lookups, r.Loss, r.Churn, res.Replaced, r.Seed)
	fmt.Fprintf(stdout, "lookup success %.4f, hops p50 %d p99 %d, lookup time p50 %.3fs p99 %.3fs\n",
		res.LookupSuccess, res.HopsP50, res.HopsP99, res.LookupSecondsP50, res.LookupSecondsP99)
	fmt.Fprintf(stdout, "values available %.4f (stored on %.1f nodes each), %.0f DHT bytes per lookup (+ %.0f walker bytes per lookup in the window)\n",
		res.ValuesAvailable, res.StoredOn, res.BytesPerLookup, res.WalkerBytesPerLookup)
	fmt.Fprintf(stdout, "%.0f virtual seconds in %.1f wall seconds\n", res.VirtualSeconds, r.WallSeconds)
	return exitOK
}
