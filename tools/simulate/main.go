package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/tools/internal/plot"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the simulation failed or a file could not be written
	exitUsage = 2 // bad flags
)

// maxPeers bounds -peers: dispersytest.PeerAddr numbers peers in 10.0.0.0/8.
const maxPeers = 1<<24 - 2

// usageLine is printed after every usage error.
const usageLine = "usage: simulate [-peers N] [-messages M] [-loss P] [-dup P] [-reorder P] [-store memory|sqlite] [-latency D] [-jitter D] [-rate B] [-seed S] [-params ours|dispersy] [-reconcile] [-compare] [-scenario NAME] [-warmup D] [-spread D] [-limit D] [-json] [-csv FILE] [-plot FILE.png|FILE.svg] [-v] (-h for help)"

// usageError is a bad flag value.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badFlag(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// config is the parsed command line.
type config struct {
	opt     options
	json    bool
	compare bool
	csv     string
	plot    string
	cpuProf string
	memProf string
	dht     dhtOptions
}

// parse turns args into a config; -v sends progress lines to stderr. A
// *usageError or a flag package error means exit status 2; flag.ErrHelp
// means -h.
func parse(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed by run
	c := &config{}
	o := &c.opt
	fs.IntVar(&o.Peers, "peers", 100, "")
	fs.IntVar(&o.Messages, "messages", 100, "")
	fs.Float64Var(&o.Loss, "loss", 0, "")
	fs.Float64Var(&o.Dup, "dup", 0, "")
	fs.Float64Var(&o.Reorder, "reorder", 0, "")
	fs.StringVar(&o.Store, "store", storeMemory, "")
	fs.DurationVar(&o.Latency, "latency", 20*time.Millisecond, "")
	fs.DurationVar(&o.Jitter, "jitter", 10*time.Millisecond, "")
	fs.Uint64Var(&o.Seed, "seed", 1, "")
	fs.StringVar(&o.Params, "params", paramsOurs, "")
	fs.StringVar(&o.Scenario, "scenario", "default", "")
	fs.DurationVar(&o.Warmup, "warmup", time.Minute, "")
	fs.DurationVar(&o.Spread, "spread", 0, "")
	fs.DurationVar(&o.Limit, "limit", 2*time.Hour, "")
	fs.BoolVar(&c.json, "json", false, "")
	fs.BoolVar(&c.compare, "compare", false, "")
	fs.StringVar(&c.csv, "csv", "", "")
	fs.StringVar(&c.plot, "plot", "", "")
	walkTarget := fs.Int("walktarget", -1, "")
	verbose := fs.Bool("v", false, "")
	fs.Int64Var(&o.Rate, "rate", 0, "")
	fs.BoolVar(&o.Reconcile, "reconcile", false, "")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "")
	fs.StringVar(&c.memProf, "memprofile", "", "")
	dhtFlags(fs, &c.dht)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{msg: err.Error()}
	}
	if *verbose {
		o.Progress = stderr
	}
	if *walkTarget >= 0 {
		o.WalkTarget = walkTarget
	}
	if fs.NArg() > 0 {
		return nil, badFlag("unexpected argument %q: simulate takes flags only", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Scenario == scenarioDHT {
		return c, checkDHT(c)
	}
	sc, ok := findScenario(o.Scenario)
	if !ok {
		return nil, badFlag("-scenario %q: known scenarios: %s", o.Scenario, scenarioNames())
	}
	if sc.defaults != nil {
		sc.defaults(o, set)
	}
	switch {
	case !(o.Reorder >= 0 && o.Reorder <= 1):
		return nil, badFlag("-reorder %v: must be a probability in [0, 1]", o.Reorder)
	case o.Store != storeMemory && o.Store != storeSQLite:
		return nil, badFlag("-store %q: must be %s or %s", o.Store, storeMemory, storeSQLite)
	case o.Peers < 2 || o.Peers > maxPeers:
		return nil, badFlag("-peers %d: must be in 2..%d", o.Peers, maxPeers)
	case o.Messages < 1:
		return nil, badFlag("-messages %d: must be at least 1", o.Messages)
	case !(o.Loss >= 0 && o.Loss < 1):
		return nil, badFlag("-loss %v: must be a probability in [0, 1)", o.Loss)
	case !(o.Dup >= 0 && o.Dup <= 1):
		return nil, badFlag("-dup %v: must be a probability in [0, 1]", o.Dup)
	case o.Latency < 0:
		return nil, badFlag("-latency %v: must be >= 0", o.Latency)
	case o.Jitter < 0:
		return nil, badFlag("-jitter %v: must be >= 0", o.Jitter)
	case o.Warmup < 0:
		return nil, badFlag("-warmup %v: must be >= 0", o.Warmup)
	case o.Spread < 0:
		return nil, badFlag("-spread %v: must be >= 0", o.Spread)
	case o.Limit <= 0:
		return nil, badFlag("-limit %v: must be > 0", o.Limit)
	case o.Spread >= o.Limit:
		return nil, badFlag("-spread %v: must be shorter than -limit %v", o.Spread, o.Limit)
	case o.Params != paramsOurs && o.Params != paramsDispersy:
		return nil, badFlag("-params %q: must be %s or %s", o.Params, paramsOurs, paramsDispersy)
	case c.compare && set["params"]:
		return nil, badFlag("-compare runs both parameter sets; drop -params")
	case c.compare && set["reconcile"] && o.Scenario == "latejoin":
		return nil, badFlag("-compare runs with and without reconciliation; drop -reconcile")
	case o.Rate < 0:
		return nil, badFlag("-rate %d: must be >= 0 bytes per second (0: unlimited)", o.Rate)
	}
	return c, nil
}

// run is the command: it parses args, runs the simulation(s), writes the
// report to stdout and problems to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "simulate: %v\n%s\n", err, usageLine)
		return exitUsage
	}
	if c.cpuProf != "" {
		f, err := os.Create(c.cpuProf)
		if err != nil {
			fmt.Fprintf(stderr, "simulate: could not create the CPU profile: %v\n", err)
			return exitFail
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "simulate: could not start the CPU profile: %v\n", err)
			return exitFail
		}
		defer pprof.StopCPUProfile()
	}
	if c.memProf != "" {
		// Written at the end of every simulation, while its peers are
		// still in memory; with -compare the dispersy run's profile
		// replaces ours.
		memProfile = func() error {
			f, err := os.Create(c.memProf)
			if err != nil {
				return err
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
		defer func() { memProfile = nil }()
	}
	if c.opt.Scenario == scenarioDHT {
		return runDHT(c, stdout, stderr)
	}
	// A long run must not end in "cannot write": check the output
	// directories first.
	for _, out := range []struct{ flag, path string }{{"-csv", c.csv}, {"-plot", c.plot}} {
		if out.path == "" {
			continue
		}
		if err := checkWritable(out.path); err != nil {
			fmt.Fprintf(stderr, "simulate: could not write %s %s: %v\n", out.flag, out.path, err)
			return exitFail
		}
	}
	if c.opt.Scenario == "latejoin" {
		return runLateJoin(c, stdout, stderr)
	}
	var results []*result
	if c.compare {
		for _, p := range []string{paramsOurs, paramsDispersy} {
			o := c.opt
			o.Params = p
			r, err := simulate(o)
			if err != nil {
				fmt.Fprintf(stderr, "simulate: %s: %v\n", p, err)
				return exitFail
			}
			results = append(results, r)
		}
	} else {
		r, err := simulate(c.opt)
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitFail
		}
		results = append(results, r)
	}
	if c.csv != "" {
		if err := os.WriteFile(c.csv, coverageCSV(results), 0o644); err != nil {
			fmt.Fprintf(stderr, "simulate: could not write the coverage CSV: %v\n", err)
			return exitFail
		}
	}
	if c.plot != "" {
		if err := writeChart(c.plot, coverageChart(results)); err != nil {
			fmt.Fprintf(stderr, "simulate: could not write the coverage plot: %v\n", err)
			return exitFail
		}
	}
	if c.json {
		var v any = results[0]
		if c.compare {
			v = map[string]*result{paramsOurs: results[0], paramsDispersy: results[1]}
		}
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitFail
		}
		stdout.Write(append(out, '\n'))
		return exitOK
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeText(stdout, r)
	}
	return exitOK
}

// writeChart draws ch into path: SVG when path ends in .svg, PNG
// otherwise.
func writeChart(path string, ch *plot.Chart) error {
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(strings.ToLower(path), ".svg") {
		err = ch.WriteSVG(&buf)
	} else {
		err = ch.WritePNG(&buf)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// checkWritable reports whether a file can be created next to path, by
// creating and removing a temporary one.
func checkWritable(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".simulate-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// writeText prints r for people.
func writeText(w io.Writer, r *result) {
	fmt.Fprintf(w, "scenario %s, params %s: %d peers, %d messages of %d bytes, loss %v, dup %v, latency %s ± %s, seed %d\n",
		r.Scenario, r.Params, r.Peers, r.Messages, r.MessageBytes, r.Loss, r.Dup, r.Latency, r.Jitter, r.Seed)
	if r.Converged {
		fmt.Fprintf(w, "converged:          yes, after %.1f walk rounds (%.1f s virtual)\n", *r.RoundsToFull, r.SimSeconds)
	} else {
		fmt.Fprintf(w, "converged:          NO: coverage %.4f after %.1f s virtual\n", r.Coverage, r.SimSeconds)
	}
	fmt.Fprintf(w, "bytes sent:         %d\n", r.BytesSent)
	fmt.Fprintf(w, "bytes ratio:        %.3f (%d delivered / %d lacked)\n", r.BytesRatio, r.BytesDelivered, r.BytesLacked)
	fmt.Fprintf(w, "copies per message: %.3f per peer (%d copies)\n", r.CopiesPerMessage, r.Copies)
	if r.Digest != "" {
		fmt.Fprintf(w, "digest:             %s\n", r.Digest)
	}
	// The fault scenarios' counts (chaos: see usage), as in the JSON.
	if r.Lost != nil {
		fmt.Fprintf(w, "lost:               %d\n", *r.Lost)
		fmt.Fprintf(w, "stops:              %d\n", r.Stops)
		fmt.Fprintf(w, "restarts:           %d\n", r.Restarts)
	}
	for _, e := range r.Events {
		fmt.Fprintf(w, "event:              %s\n", e)
	}
	fmt.Fprintf(w, "wall:               %.2f s (CPU %.2f s), peak heap %.1f MiB, sys %.1f MiB\n", r.WallSeconds, r.CPUSeconds, r.HeapMB, r.SysMB)
}

// coverageCSV renders the coverage series: a header "round,<params>..."
// and one line per whole round. A run that ended earlier than another
// repeats its last coverage if it converged and leaves the cell empty if
// not.
func coverageCSV(results []*result) []byte {
	var b strings.Builder
	b.WriteString("round")
	rows := 0
	for _, r := range results {
		if len(results) == 1 {
			b.WriteString(",coverage")
		} else {
			b.WriteString("," + r.Params)
		}
		rows = max(rows, len(r.Series))
	}
	b.WriteString("\n")
	for i := range rows {
		b.WriteString(strconv.Itoa(i))
		for _, r := range results {
			b.WriteString(",")
			switch {
			case i < len(r.Series):
				b.WriteString(strconv.FormatFloat(r.Series[i], 'f', 6, 64))
			case r.Converged:
				b.WriteString(strconv.FormatFloat(1, 'f', 6, 64))
			}
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// coverageChart draws the coverage series of results on one chart.
func coverageChart(results []*result) *plot.Chart {
	r0 := results[0]
	noun := "messages"
	if r0.Messages == 1 {
		noun = "message"
	}
	title := fmt.Sprintf("%d peers, %d %s, %.4g%% loss, seed %d", r0.Peers, r0.Messages, noun, r0.Loss*100, r0.Seed)
	c := &plot.Chart{
		Title: "Coverage: " + title,
		X:     plot.Axis{Label: "walk rounds since creation", Min: 0},
		// A little headroom above 1, so curves that reach full coverage
		// stay visible instead of running along the frame.
		Y: plot.Axis{Label: "coverage: fraction of pairs held", Min: 0, Max: 1.04},
	}
	for _, r := range results {
		s := plot.Series{Name: r.Params}
		if r.Converged {
			s.Name += fmt.Sprintf(" (%.1f rounds)", *r.RoundsToFull)
		} else {
			s.Name += " (did not converge)"
		}
		for round, cov := range r.Series {
			s.X = append(s.X, float64(round))
			s.Y = append(s.Y, cov)
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// usage prints the help text.
func usage(w io.Writer) {
	fmt.Fprintf(w, `usage: simulate [flags]

Runs a simulated community (dispersytest.Sim, virtual time, in-memory
stores): the overlay warms up, M full-sync messages (%d bytes each) are
created by random peers, and the run goes on until every peer holds every
message or the limit passes. The same flags give the same output
(wall_seconds, cpu_seconds, heap_mb and sys_mb aside).

Flags:
  -peers N          peers (default 100)
  -messages M       messages to create (default 100)
  -loss P           datagram loss probability, [0, 1) (default 0)
  -dup P            datagram duplication probability, [0, 1] (default 0)
  -reorder P        probability that a datagram is held back up to 300ms,
                    so it arrives after later ones, [0, 1] (default 0)
  -store KIND       memory (default) or sqlite: one SQLite file per peer in
                    a temporary folder, closed while a peer is stopped
  -latency D        one-way latency (default 20ms)
  -jitter D         extra delay drawn from [0, D] per datagram (default 10ms)
  -seed S           random seed (default 1)
  -params SET       engine parameters: ours (dispersy.DefaultConfig) or
                    dispersy (dispersy.DispersyConfig) (default ours)
  -compare          run both parameter sets on the same seed
  -scenario NAME    scenario (default "default"); known:
%s    dht            DHT nodes instead (dht/dhtsim): -values V (default 100),
                   -lookups L (1000), -churn F (0), -adversaries A (0)
  -warmup D         virtual time before the first message (default 1m)
  -spread D         spread the creations evenly over D (default 0: at once)
  -limit D          give up D of virtual time after the first creation
                    (default 2h)
  -json             print one JSON object (with -compare: {"ours": …,
                    "dispersy": …})
  -csv FILE         write the coverage per walk round as CSV
  -plot FILE.png    draw the coverage per walk round as a PNG chart
  -rate B           every peer's upload and download rate in bytes per
                    second, with a 256 KiB queue each way (default 0:
                    unlimited; latejoin: 10000000)
  -reconcile        turn the catch-up protocol on (dispersy/catchup;
                    latejoin's default when built in, except with -params
                    dispersy)
  -walktarget N     the walker's target of verified peers (0: walk at
                    every step; default: the parameter set's, 10 / 0)
  -v                print the coverage at every walk round on stderr
  -cpuprofile FILE  write a CPU profile
  -memprofile FILE  write a heap profile taken at the end of each run
  -h                print this help

The chaos scenario changes the defaults of the flags not given to: 300
peers, 300 messages created over 5 minutes, loss 0.2, dup 0.05, reorder
0.1, store sqlite. The network splits in two halves from round 12 to 24;
until round 60 each peer stops with probability 1%% per round (at most 10%%
offline at once) and restarts from its store 2 to 6 rounds later; then
every peer comes back. It adds lost (acknowledged messages some online
peer lacks at the end), stops, restarts and events to the report.

The latejoin scenario: -peers holders (default 10) store the same
-messages messages (default 10,000; created once and copied into their
stores, not synced), links of -rate (default 10 MB/s) each way, no jitter;
after the warm-up one fresh peer joins and the run ends when it holds all
of them. It reports catchup_seconds (virtual time from the join),
transfer_seconds (bytes lacked / -rate), round_trip_seconds, goal_seconds
(transfer + 10 round trips), catchup_bytes_ratio (bytes the joiner
received / bytes it lacked) and held_over_time; -compare runs
reconciliation (when built in), bloom-only and Dispersy's parameters side
by side; -csv and -plot (FILE.svg or FILE.png) give the joiner's messages
held over time.

A round is one walker step of every peer (Walker.StepInterval, 5 s).
rounds_to_full = (convergence − first creation) / StepInterval.
bytes_ratio = bytes of all datagrams delivered to peers after the first
creation / Σ over peers of the bytes of the messages it did not create.
copies_per_message = datagrams carrying a created message delivered to
peers / (messages × peers).

Exit status: 0 when the simulation ran (converged or not: see the
report), 1 when it failed or a file could not be written, 2 for a usage
error.
`, messageBytes, scenarioHelp())
}

// scenarioHelp lists the scenarios for usage, one indented line each.
func scenarioHelp() string {
	var b strings.Builder
	for _, s := range scenarios {
		fmt.Fprintf(&b, "                      %-10s %s\n", s.name, s.help)
	}
	return b.String()
}
