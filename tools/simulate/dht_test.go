package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestDHTScenario runs -scenario dht small, with churn, and reads the
// issue's JSON metrics.
func TestDHTScenario(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-scenario", "dht", "-peers", "40", "-values", "10", "-lookups", "40", "-loss", "0.1", "-churn", "0.2", "-json"}
	if code := run(args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"lookup_success", "hops_p50", "hops_p99", "lookup_seconds_p50", "lookup_seconds_p99", "values_available", "bytes_per_lookup"} {
		if _, ok := r[k]; !ok {
			t.Errorf("no %s in %s", k, out.String())
		}
	}
	if r["replaced"].(float64) != 8 || r["values_available"].(float64) < 0.9 || r["lookup_success"].(float64) < 0.9 {
		t.Errorf("report %s", out.String())
	}
	out.Reset()
	if code := run([]string{"-scenario", "dht", "-peers", "20", "-values", "5", "-lookups", "10"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "lookup success") {
		t.Errorf("text report: %d %q", code, out.String())
	}
	for _, bad := range [][]string{{"-scenario", "dht", "-churn", "1"}, {"-scenario", "dht", "-values", "0"}, {"-scenario", "dht", "-peers", "1"}} {
		if code := run(bad, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d", bad, code)
		}
	}
}
