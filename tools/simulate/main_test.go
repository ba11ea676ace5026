package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// small is a quick run: 20 peers, 20 messages, 10% loss.
var small = []string{"-peers", "20", "-messages", "20", "-loss", "0.1"}

// runOK runs the command, requires exit status 0 and an empty stderr, and
// returns stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("run %q: exit %d, stderr:\n%s", args, code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("run %q wrote to stderr:\n%s", args, stderr.String())
	}
	return stdout.String()
}

// runJSON runs the command with -json and decodes its output into v.
func runJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	out := runOK(t, append(args, "-json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	return out
}

// fields is the JSON output as a generic map, for checking that every
// documented field is present.
func fields(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// stripVolatile removes the fields that differ between identical runs.
func stripVolatile(t *testing.T, out string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*"(wall_seconds|cpu_seconds|heap_mb|sys_mb)": [0-9.e+-]+,?\n`)
	if n := len(re.FindAllString(out, -1)); n%4 != 0 || n == 0 {
		t.Fatalf("expected wall_seconds, cpu_seconds, heap_mb and sys_mb in every report, found %d of them in:\n%s", n, out)
	}
	return re.ReplaceAllString(out, "")
}

// checkSane checks the relations every converged report must satisfy.
func checkSane(t *testing.T, r *result) {
	t.Helper()
	if !r.Converged {
		t.Fatalf("%s: did not converge: %+v", r.Params, r)
	}
	if r.RoundsToFull == nil || *r.RoundsToFull <= 0 || *r.RoundsToFull > 1000 {
		t.Errorf("%s: rounds_to_full = %v", r.Params, r.RoundsToFull)
	} else if got := math.Round(r.SimSeconds/5*10) / 10; got != *r.RoundsToFull {
		t.Errorf("%s: rounds_to_full %v, but sim_seconds %v / 5 s = %v", r.Params, *r.RoundsToFull, r.SimSeconds, got)
	}
	if r.Coverage != 1 {
		t.Errorf("%s: coverage %v after converging", r.Params, r.Coverage)
	}
	if r.MessageBytes != messageBytes {
		t.Errorf("%s: message_bytes %d, want %d", r.Params, r.MessageBytes, messageBytes)
	}
	if want := uint64(r.Messages * (r.Peers - 1) * messageBytes); r.BytesLacked != want {
		t.Errorf("%s: bytes_lacked %d, want messages × (peers-1) × size = %d", r.Params, r.BytesLacked, want)
	}
	if r.BytesDelivered < r.BytesLacked {
		t.Errorf("%s: bytes_delivered %d < bytes_lacked %d: peers got the messages without receiving them?", r.Params, r.BytesDelivered, r.BytesLacked)
	}
	if r.BytesSent < r.BytesDelivered/2 {
		t.Errorf("%s: bytes_sent %d is implausibly below bytes_delivered %d", r.Params, r.BytesSent, r.BytesDelivered)
	}
	if want := math.Round(float64(r.BytesDelivered)/float64(r.BytesLacked)*1000) / 1000; r.BytesRatio != want {
		t.Errorf("%s: bytes_ratio %v, want %v", r.Params, r.BytesRatio, want)
	}
	// Every peer but the creator received each message at least once.
	if minCopies := uint64(r.Messages * (r.Peers - 1)); r.Copies < minCopies {
		t.Errorf("%s: %d copies delivered, fewer than the %d needed", r.Params, r.Copies, minCopies)
	}
	if want := math.Round(float64(r.Copies)/float64(r.Messages*r.Peers)*1000) / 1000; r.CopiesPerMessage != want {
		t.Errorf("%s: copies_per_message %v, want %v", r.Params, r.CopiesPerMessage, want)
	}
	if ok, _ := regexp.MatchString(`^[0-9a-f]{64}$`, r.Digest); !ok {
		t.Errorf("%s: digest %q is not 64 hex digits", r.Params, r.Digest)
	}
	if r.WallSeconds <= 0 || r.CPUSeconds < 0 || r.HeapMB <= 0 || r.SysMB < r.HeapMB {
		t.Errorf("%s: wall %v s, CPU %v s, heap %v MiB, sys %v MiB", r.Params, r.WallSeconds, r.CPUSeconds, r.HeapMB, r.SysMB)
	}
	checkSeries(t, r)
}

// checkSeries checks the coverage series: one point per whole round from
// 0, non-decreasing, starting at what the creators hold and ending at 1.
func checkSeries(t *testing.T, r *result) {
	t.Helper()
	if len(r.Series) == 0 {
		t.Fatalf("%s: empty coverage series", r.Params)
	}
	for i, c := range r.Series {
		if c < 0 || c > 1 {
			t.Errorf("%s: coverage %v at round %d", r.Params, c, i)
		}
		if i > 0 && c < r.Series[i-1] {
			t.Errorf("%s: coverage fell from %v to %v at round %d", r.Params, r.Series[i-1], c, i)
		}
	}
	if r.Converged {
		if got, want := len(r.Series)-1, int(math.Ceil(*r.RoundsToFull-1e-9)); got != want && got != want+1 {
			t.Errorf("%s: series ends at round %d, converged after %v rounds", r.Params, got, *r.RoundsToFull)
		}
		if last := r.Series[len(r.Series)-1]; last != 1 {
			t.Errorf("%s: series ends at coverage %v", r.Params, last)
		}
	}
}

func TestSmallRunConverges(t *testing.T) {
	var r result
	out := runJSON(t, &r, small...)
	checkSane(t, &r)
	if r.Peers != 20 || r.Messages != 20 || r.Loss != 0.1 || r.Seed != 1 || r.Params != "ours" || r.Scenario != "default" {
		t.Errorf("the report does not echo the arguments: %+v", r)
	}
	// Round 0 is the creation instant: every creator holds its own
	// messages and nobody else does yet.
	if got := r.Series[0]; got != 1.0/20 {
		t.Errorf("coverage at round 0 = %v, want 1/peers = %v", got, 1.0/20)
	}
	for _, f := range []string{"scenario", "params", "peers", "messages", "loss", "dup", "latency", "jitter", "seed", "warmup", "spread", "limit",
		"converged", "rounds_to_full", "coverage", "sim_seconds", "message_bytes", "bytes_sent", "bytes_delivered",
		"bytes_lacked", "bytes_ratio", "copies", "copies_per_message", "digest", "wall_seconds", "cpu_seconds", "heap_mb", "sys_mb",
		"coverage_per_round"} {
		if _, ok := fields(t, out)[f]; !ok {
			t.Errorf("JSON lacks %q", f)
		}
	}
}

// TestDeterministic: the same arguments give the same report, wall time
// and memory aside; another seed gives another run.
func TestDeterministic(t *testing.T) {
	args := append([]string{"-dup", "0.05", "-spread", "10s"}, small...)
	a := stripVolatile(t, runOK(t, append(args, "-json")...))
	b := stripVolatile(t, runOK(t, append(args, "-json")...))
	if a != b {
		t.Fatalf("two runs with the same arguments differ:\n%s\n---\n%s", a, b)
	}
	c := stripVolatile(t, runOK(t, append(args, "-json", "-seed", "2")...))
	if a == c {
		t.Fatal("seeds 1 and 2 gave the same report")
	}
}

// TestCompare: both parameter sets converge on the same seed, on the same
// messages.
func TestCompare(t *testing.T) {
	var both map[string]*result
	runJSON(t, &both, append([]string{"-compare"}, small...)...)
	if len(both) != 2 || both["ours"] == nil || both["dispersy"] == nil {
		t.Fatalf("-compare -json gave %v, want ours and dispersy", both)
	}
	for name, r := range both {
		if r.Params != name {
			t.Errorf("report under %q says params %q", name, r.Params)
		}
		checkSane(t, r)
	}
	if both["ours"].Digest != both["dispersy"].Digest {
		t.Errorf("the parameter sets converged on different message sets: %s vs %s", both["ours"].Digest, both["dispersy"].Digest)
	}
}

// TestDispersyParams runs -params dispersy alone: the same report as its
// half of -compare.
func TestDispersyParams(t *testing.T) {
	var alone result
	runJSON(t, &alone, append([]string{"-params", "dispersy"}, small...)...)
	checkSane(t, &alone)
	var both map[string]*result
	runJSON(t, &both, append([]string{"-compare"}, small...)...)
	d := both["dispersy"]
	if *alone.RoundsToFull != *d.RoundsToFull || alone.BytesSent != d.BytesSent || alone.Digest != d.Digest || alone.Copies != d.Copies {
		t.Errorf("-params dispersy and -compare's dispersy run differ: %+v vs %+v", alone, *d)
	}
}

func TestSpreadAndDuplicates(t *testing.T) {
	var r result
	runJSON(t, &r, append([]string{"-spread", "20s", "-dup", "0.2"}, small...)...)
	checkSane(t, &r)
	// The last message is created 19 s after the first: the run cannot end
	// before that.
	if r.SimSeconds < 19 {
		t.Errorf("converged %v s after the first creation, before the last one (19 s)", r.SimSeconds)
	}
	if r.Series[0] != 1.0/(20*20) {
		t.Errorf("coverage at round 0 = %v, want one message held once", r.Series[0])
	}
}

// TestNotConverged: a limit too short to converge is a result, not an
// error.
func TestNotConverged(t *testing.T) {
	var r result
	out := runJSON(t, &r, "-peers", "50", "-messages", "5", "-limit", "2s")
	if r.Converged || r.RoundsToFull != nil || r.Digest != "" {
		t.Errorf("converged in 2 s? %+v", r)
	}
	if f := fields(t, out); f["rounds_to_full"] != nil {
		t.Errorf("rounds_to_full = %v, want null", f["rounds_to_full"])
	}
	if r.Coverage <= 0 || r.Coverage >= 1 || r.SimSeconds != 2 {
		t.Errorf("coverage %v after %v s", r.Coverage, r.SimSeconds)
	}
	checkSeries(t, &r)
	text := runOK(t, "-peers", "50", "-messages", "5", "-limit", "2s")
	if !strings.Contains(text, "converged:          NO") {
		t.Errorf("text report does not say it did not converge:\n%s", text)
	}
}

func TestVerbose(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"-v", "-json"}, small...), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("-v spoiled the JSON on stdout: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	// One line per whole round reached (the last series point may be the
	// round after convergence, not reached).
	if n := len(r.Series); len(lines) != n && len(lines) != n-1 {
		t.Errorf("%d progress lines for %d rounds:\n%s", len(lines), n, stderr.String())
	}
	if !strings.HasPrefix(lines[0], "simulate: ours round 0: coverage 0.050000") {
		t.Errorf("first progress line %q", lines[0])
	}
}

func TestTextReport(t *testing.T) {
	out := runOK(t, small...)
	for _, want := range []string{
		"scenario default, params ours: 20 peers, 20 messages of 200 bytes, loss 0.1",
		"converged:          yes, after ",
		"bytes ratio:",
		"copies per message:",
		"digest:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func TestCSVAndPlot(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		header []string
	}{
		{"single", nil, []string{"round", "coverage"}},
		{"compare", []string{"-compare"}, []string{"round", "ours", "dispersy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csvFile := filepath.Join(dir, tc.name+".csv")
			pngFile := filepath.Join(dir, tc.name+".png")
			args := append(append([]string{"-csv", csvFile, "-plot", pngFile}, tc.args...), small...)
			runOK(t, args...)

			f, err := os.Open(csvFile)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) < 3 || strings.Join(rows[0], ",") != strings.Join(tc.header, ",") {
				t.Fatalf("CSV header %v and %d rows, want header %v and at least 2 rounds", rows[0], len(rows), tc.header)
			}
			for i, row := range rows[1:] {
				if row[0] != strconv.Itoa(i) {
					t.Errorf("row %d is round %q", i+1, row[0])
				}
				for _, cell := range row[1:] {
					v, err := strconv.ParseFloat(cell, 64)
					if err != nil || v < 0 || v > 1 {
						t.Errorf("row %d: coverage %q", i+1, cell)
					}
				}
			}
			for _, cell := range rows[len(rows)-1][1:] {
				if cell != "1.000000" {
					t.Errorf("last row %v: every run converged, want coverage 1", rows[len(rows)-1])
				}
			}

			pf, err := os.Open(pngFile)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			img, err := png.Decode(pf)
			if err != nil {
				t.Fatalf("the plot is not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
				t.Errorf("plot is %v", b)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		out := runOK(t, arg)
		for _, want := range []string{"usage: simulate", "-peers N", "-params SET", "-compare", "-scenario NAME", "default ", "Exit status"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: help lacks %q", arg, want)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
		{[]string{"-peers", "1"}, "-peers 1: must be in 2.."},
		{[]string{"-peers", "x"}, "invalid value"},
		{[]string{"-messages", "0"}, "-messages 0"},
		{[]string{"-loss", "1"}, "-loss 1: must be a probability in [0, 1)"},
		{[]string{"-loss", "-0.1"}, "-loss -0.1"},
		{[]string{"-loss", "NaN"}, "-loss NaN"},
		{[]string{"-dup", "2"}, "-dup 2"},
		{[]string{"-latency", "-1ms"}, "-latency -1ms"},
		{[]string{"-jitter", "-1ms"}, "-jitter -1ms"},
		{[]string{"-warmup", "-1s"}, "-warmup -1s"},
		{[]string{"-spread", "-1s"}, "-spread -1s"},
		{[]string{"-limit", "0s"}, "-limit 0s"},
		{[]string{"-spread", "2h", "-limit", "1h"}, "shorter than -limit"},
		{[]string{"-params", "python"}, `-params "python": must be ours or dispersy`},
		{[]string{"-compare", "-params", "ours"}, "drop -params"},
		{[]string{"-scenario", "nosuch"}, `-scenario "nosuch": known scenarios: default, chaos`},
		{[]string{"-store", "disk"}, `-store "disk": must be memory or sqlite`},
		{[]string{"-reorder", "2"}, `-reorder 2: must be a probability in [0, 1]`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: wrote to stdout: %s", tc.args, stdout.String())
		}
		msg := stderr.String()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, usageLine) {
			t.Errorf("%q: stderr %q, want %q and the usage line", tc.args, msg, tc.want)
		}
	}
}

// TestWriteFailure: a file that cannot be written is one sentence and
// exit status 1.
func TestWriteFailure(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	for _, flag := range []string{"-csv", "-plot"} {
		var stdout, stderr bytes.Buffer
		args := append([]string{flag, filepath.Join(missing, "out")}, "-peers", "5", "-messages", "1")
		if code := run(args, &stdout, &stderr); code != exitFail {
			t.Errorf("%s into a missing directory: exit %d, want %d", flag, code, exitFail)
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "simulate: could not write "+flag) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: stderr %q, want one line saying what could not be written", flag, msg)
		}
		if strings.Contains(stdout.String(), "converged") {
			t.Errorf("%s: the simulation ran before the output directory was checked", flag)
		}
	}
}

func TestPeerIndex(t *testing.T) {
	for _, i := range []int{0, 1, 254, 255, 256, 65535, 70000, 1<<24 - 3} {
		if got := peerIndex(dispersytest.PeerAddr(i)); got != i {
			t.Errorf("peerIndex(PeerAddr(%d)) = %d", i, got)
		}
	}
}

func TestScenarioTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range scenarios {
		if s.name == "" || s.help == "" || seen[s.name] {
			t.Errorf("scenario %q: needs a unique name and a help line", s.name)
		}
		seen[s.name] = true
		if got, ok := findScenario(s.name); !ok || got.name != s.name {
			t.Errorf("findScenario(%q) = %v, %v", s.name, got, ok)
		}
	}
	if !seen["default"] {
		t.Error("no default scenario")
	}
}

// TestScenarioHooks: a scenario's hooks run with the world, at setup and
// at every whole round from the creation on.
func TestScenarioHooks(t *testing.T) {
	var setups int
	var rounds []int
	scenarios = append(scenarios, scenario{
		name: "test-hooks", help: "test",
		setup: func(w *world) error {
			setups++
			if len(w.sim.Peers) != 10 {
				t.Errorf("setup sees %d peers", len(w.sim.Peers))
			}
			return nil
		},
		round: func(w *world, round int) error {
			rounds = append(rounds, round)
			return nil
		},
	})
	defer func() { scenarios = scenarios[:len(scenarios)-1] }()
	var r result
	runJSON(t, &r, "-scenario", "test-hooks", "-peers", "10", "-messages", "3")
	checkSane(t, &r)
	if setups != 1 {
		t.Errorf("setup ran %d times", setups)
	}
	// The series has a point per round hook, plus the final one at the
	// round after convergence when it came between two rounds.
	if n := len(r.Series); len(rounds) != n && len(rounds) != n-1 {
		t.Errorf("round hook ran for rounds %v; the series has %d points", rounds, n)
	}
	for i, got := range rounds {
		if got != i {
			t.Errorf("round hook call %d got round %d", i, got)
		}
	}
}

// TestScenarioStopRestart: a scenario that stops every peer but one at the
// creation instant and restarts them a round later. The messages are then
// all created by the one running peer (the creators fall back to it), and
// the run still converges once the others are back.
func TestScenarioStopRestart(t *testing.T) {
	scenarios = append(scenarios, scenario{
		name: "test-stop", help: "test",
		round: func(w *world, round int) error {
			for _, p := range w.sim.Peers[1:] {
				var err error
				switch round {
				case 0:
					err = w.sim.Stop(p)
				case 1:
					err = w.sim.Restart(p)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	})
	defer func() { scenarios = scenarios[:len(scenarios)-1] }()
	var r result
	runJSON(t, &r, "-scenario", "test-stop", "-peers", "10", "-messages", "5")
	checkSane(t, &r)
	// At round 0 only peer 0 runs, and it holds all 5 messages: 5 of 50
	// pairs.
	if r.Series[0] != 0.1 {
		t.Errorf("coverage at round 0 = %v, want 0.1 (peer 0 created everything)", r.Series[0])
	}
	if *r.RoundsToFull < 1 {
		t.Errorf("converged after %v rounds, before the peers were back", *r.RoundsToFull)
	}
}

// TestChaos runs the chaos scenario small, on SQLite files and in memory:
// it converges, nothing acknowledged is lost, the churn and the partition
// happened, and the scenario's defaults applied to the flags not given.
func TestChaos(t *testing.T) {
	for _, store := range []string{storeSQLite, storeMemory} {
		t.Run(store, func(t *testing.T) {
			var r result
			runJSON(t, &r, "-scenario", "chaos", "-peers", "30", "-messages", "30", "-seed", "3", "-store", store)
			if !r.Converged || r.Lost == nil || *r.Lost != 0 {
				t.Fatalf("converged %v, lost %v", r.Converged, r.Lost)
			}
			if r.Stops == 0 || r.Restarts != r.Stops || len(r.Events) != 2 {
				t.Errorf("stops %d, restarts %d, events %q: want churn and a partition that healed", r.Stops, r.Restarts, r.Events)
			}
			if r.Loss != 0.2 || r.Dup != 0.05 || r.Reorder != 0.1 || r.Store != store || r.Spread != "5m0s" {
				t.Errorf("chaos defaults not applied: %+v", r)
			}
		})
	}
	// The default scenario reports no lost field.
	out := runOK(t, append(small, "-json")...)
	if _, ok := fields(t, out)["lost"]; ok {
		t.Error("the default scenario reports lost")
	}
}

// TestChaosTextReport: the text report of the chaos scenario has the lost,
// stops, restarts and events lines that -h promises, with the same values
// as the JSON report; the default scenario's text has none of them.
func TestChaosTextReport(t *testing.T) {
	args := []string{"-scenario", "chaos", "-peers", "12", "-messages", "6", "-seed", "3", "-store", storeMemory}
	var r result
	runJSON(t, &r, args...)
	if r.Lost == nil || r.Stops == 0 || len(r.Events) == 0 {
		t.Fatalf("the run had no churn or partition to report: lost %v, stops %d, events %q", r.Lost, r.Stops, r.Events)
	}
	text := runOK(t, args...)
	want := []string{
		fmt.Sprintf("lost:               %d", *r.Lost),
		fmt.Sprintf("stops:              %d", r.Stops),
		fmt.Sprintf("restarts:           %d", r.Restarts),
	}
	for _, e := range r.Events {
		want = append(want, "event:              "+e)
	}
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("text report lacks %q:\n%s", w, text)
		}
	}
	plain := runOK(t, "-peers", "5", "-messages", "2")
	for _, w := range []string{"lost:", "stops:", "restarts:", "event:"} {
		if strings.Contains(plain, w) {
			t.Errorf("the default scenario's text report has %q:\n%s", w, plain)
		}
	}
}
