package main

import (
	"encoding/json"
	"testing"
)

// TestLatencyReport: -json reports the Node.Do latency sampled on every
// peer during the run, with ordered quantiles.
func TestLatencyReport(t *testing.T) {
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "6", "-json", "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	r := decodeReport(t, out)
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"do_samples", "do_p50_ms", "do_p99_ms", "do_max_ms", "shed"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("stdout %q has no %q", out, k)
		}
	}
	// At least one sample per peer (the first is taken at the start).
	if r.DoSamples < 3 || r.DoP50MS <= 0 || r.DoP50MS > r.DoP99MS || r.DoP99MS > r.DoMaxMS {
		t.Errorf("latency %+v: want at least 3 samples and 0 < p50 <= p99 <= max", r.latencyReport)
	}
}
