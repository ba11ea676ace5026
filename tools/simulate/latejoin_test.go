package main

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lateSmall is a quick latejoin run: 3 holders of 300 messages, bloom
// sync only.
var lateSmall = []string{"-scenario", "latejoin", "-peers", "3", "-messages", "300", "-reconcile=false", "-limit", "30m"}

func checkLateJoin(t *testing.T, r *latejoinResult) {
	t.Helper()
	if !r.CaughtUp || r.Held != r.Messages {
		t.Fatalf("%s: the joiner did not catch up: %+v", r.Params, r)
	}
	if r.MessageBytes != messageBytes {
		t.Errorf("message_bytes %d, want %d", r.MessageBytes, messageBytes)
	}
	if want := uint64(r.Messages * messageBytes); r.BytesLacked != want {
		t.Errorf("bytes_lacked %d, want messages × size = %d", r.BytesLacked, want)
	}
	if r.BytesReceived < r.BytesLacked {
		t.Errorf("bytes_received %d < bytes_lacked %d", r.BytesReceived, r.BytesLacked)
	}
	if want := math.Round(float64(r.BytesReceived)/float64(r.BytesLacked)*1000) / 1000; r.CatchupBytesRatio != want {
		t.Errorf("catchup_bytes_ratio %v, want %v", r.CatchupBytesRatio, want)
	}
	if want := math.Round(float64(r.BytesLacked)/float64(r.Rate)*1000) / 1000; r.TransferSeconds != want {
		t.Errorf("transfer_seconds %v, want bytes_lacked / rate = %v", r.TransferSeconds, want)
	}
	if r.RoundTripSeconds != 0.04 || r.GoalSeconds != math.Round((r.TransferSeconds+0.4)*1000)/1000 {
		t.Errorf("round_trip_seconds %v, goal_seconds %v", r.RoundTripSeconds, r.GoalSeconds)
	}
	if r.CatchupSeconds <= r.TransferSeconds {
		t.Errorf("catchup_seconds %v is not above the transfer time %v: faster than the link?", r.CatchupSeconds, r.TransferSeconds)
	}
	s := r.Series
	if len(s) < 2 || s[0] != [2]float64{0, 0} {
		t.Fatalf("series %v: want it to start at (0, 0)", s)
	}
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			t.Errorf("series repeats point %d: %v", i, s[i])
		}
		if s[i][0] < s[i-1][0] || s[i][1] < s[i-1][1] {
			t.Errorf("series goes back at %d: %v then %v", i, s[i-1], s[i])
		}
	}
	if last := s[len(s)-1]; last[1] != float64(r.Messages) || last[0] != r.CatchupSeconds && math.Abs(last[0]-r.CatchupSeconds) > 1e-3 {
		t.Errorf("series ends at %v, want (%v, %d)", last, r.CatchupSeconds, r.Messages)
	}
}

func TestLateJoinSmall(t *testing.T) {
	var r latejoinResult
	out := runJSON(t, &r, lateSmall...)
	checkLateJoin(t, &r)
	if r.Peers != 3 || r.Messages != 300 || r.Rate != latejoinRate || r.Jitter != "0s" || r.Reconcile || r.Params != "ours" {
		t.Errorf("the report does not echo the arguments and the scenario's defaults: %+v", r)
	}
	for _, f := range []string{"catchup_seconds", "transfer_seconds", "round_trip_seconds", "catchup_bytes_ratio", "messages", "peers", "held_over_time", "queue_drops"} {
		if _, ok := fields(t, out)[f]; !ok {
			t.Errorf("JSON lacks %q", f)
		}
	}
	// Deterministic.
	again := runOK(t, append(lateSmall, "-json")...)
	if stripLateVolatile(out) != stripLateVolatile(again) {
		t.Errorf("two identical runs differ:\n%s\n---\n%s", out, again)
	}
}

// stripLateVolatile removes the wall-clock and memory fields.
func stripLateVolatile(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, `"setup_seconds"`) && !strings.Contains(l, `"wall_seconds"`) && !strings.Contains(l, `"cpu_seconds"`) &&
			!strings.Contains(l, `"heap_mb"`) && !strings.Contains(l, `"sys_mb"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestLateJoinSlowLink: a slower link takes longer, and the catch-up can
// never beat the transfer time of what was lacked.
func TestLateJoinSlowLink(t *testing.T) {
	var fast, slow latejoinResult
	runJSON(t, &fast, lateSmall...)
	runJSON(t, &slow, append(lateSmall, "-rate", "20000")...)
	checkLateJoin(t, &slow)
	if slow.TransferSeconds != 3 {
		t.Errorf("transfer_seconds %v at 20,000 B/s for 60,000 bytes, want 3", slow.TransferSeconds)
	}
	if slow.CatchupSeconds <= fast.CatchupSeconds {
		t.Errorf("catch-up at 20 kB/s took %v s, not longer than at 10 MB/s (%v s)", slow.CatchupSeconds, fast.CatchupSeconds)
	}
}

// TestLateJoinCompare runs the side-by-side comparison and draws it.
func TestLateJoinCompare(t *testing.T) {
	dir := t.TempDir()
	svg, csv := filepath.Join(dir, "p.svg"), filepath.Join(dir, "p.csv")
	var all map[string]*latejoinResult
	runJSON(t, &all, "-scenario", "latejoin", "-peers", "3", "-messages", "200", "-compare", "-plot", svg, "-csv", csv)
	want := []string{"bloom", "dispersy"}
	want = append(want, "reconcile")
	if len(all) != len(want) {
		t.Fatalf("-compare gave %d runs, want %v", len(all), want)
	}
	for _, name := range want {
		r := all[name]
		if r == nil {
			t.Fatalf("no %q run", name)
		}
		checkLateJoin(t, r)
	}
	if all["dispersy"].Params != "dispersy" || all["dispersy"].Reconcile || all["bloom"].Reconcile {
		t.Errorf("wrong runs: dispersy %+v, bloom %+v", all["dispersy"], all["bloom"])
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	if n := strings.Count(string(b), "<polyline"); n != len(want)+1 { // and the goal
		t.Errorf("the SVG has %d curves, want %d", n, len(want))
	}
	c, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c), "run,seconds,held\n") || !strings.Contains(string(c), "\ndispersy,") {
		t.Errorf("CSV:\n%s", c)
	}
}

func TestLateJoinUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "latejoin", "-rate", "-1"},
		{"-scenario", "latejoin", "-compare", "-reconcile=false"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("run %q: exit %d, want %d; stderr %s", args, code, exitUsage, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-scenario", "latejoin", "-store", "sqlite"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("-store sqlite: exit %d, want %d", code, exitUsage)
	}
}
