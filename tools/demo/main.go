package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // did not converge, or a local failure (port, folder, store)
	exitUsage = 2 // bad flags
)

// Limits on the flags, so that a typo fails fast instead of exhausting the
// machine.
const (
	maxPeers    = 256
	maxMessages = 1_000_000
	maxLoss     = 0.9
	minStep     = 10 * time.Millisecond
	maxStep     = time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	peers    int
	messages int
	loss     float64
	timeout  time.Duration
	dir      string
	seed     uint64
	step     time.Duration
	port     int

	publishers int           // peers 0..publishers-1 post (parse turns 0 into peers)
	json       bool          // one JSON object on stdout instead of the summary line
	cpuprofile string        // write a CPU profile of the whole run here
	idle       time.Duration // after convergence, measure the idle CPU over this long
	idleprof   string        // write a CPU profile of the -idle phase only here
	preload    int           // chat lines written into every store before the nodes start
	http       string        // -http: serve peer 0's status page there

	scenario  string // scenarioConverge or scenarioLateJoin
	reconcile bool   // turn the catch-up protocol on (catchup.Enable)

	blackout bool // tests only: once ready, every datagram is lost
}

// Scenarios (-scenario).
const (
	scenarioConverge = "converge"
	scenarioLateJoin = "latejoin"
)

// run is the command: it parses args, runs the demo, writes the summary to
// stdout and progress and problems to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run, stopped early (exit status 1) when ctx is done.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parse(args, stdout, stderr)
	if !ok {
		return code
	}
	return demo(ctx, o, stdout, stderr)
}

// parse parses and checks the flags. When ok is false the command ends
// with code: 0 after -h, 2 after a usage error (reported on stderr).
func parse(args []string, stdout, stderr io.Writer) (o options, code int, ok bool) {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // errors and usage are printed below
	flags.IntVar(&o.peers, "peers", 8, "")
	flags.IntVar(&o.messages, "messages", 100, "")
	flags.Float64Var(&o.loss, "loss", 0, "")
	flags.DurationVar(&o.timeout, "timeout", time.Minute, "")
	flags.StringVar(&o.dir, "dir", "", "")
	flags.Uint64Var(&o.seed, "seed", 1, "")
	flags.DurationVar(&o.step, "step", 200*time.Millisecond, "")
	flags.IntVar(&o.port, "port", 0, "")
	flags.StringVar(&o.http, "http", "", "")
	flags.IntVar(&o.publishers, "publishers", 0, "")
	flags.BoolVar(&o.json, "json", false, "")
	flags.StringVar(&o.cpuprofile, "cpuprofile", "", "")
	flags.DurationVar(&o.idle, "idle", 0, "")
	flags.StringVar(&o.idleprof, "idleprofile", "", "")
	flags.IntVar(&o.preload, "preload", 0, "")
	flags.StringVar(&o.scenario, "scenario", scenarioConverge, "")
	flags.BoolVar(&o.reconcile, "reconcile", true, "")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help(stdout)
			return o, exitOK, false
		}
		return o, usageError(stderr, "%v", err), false
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.scenario == scenarioLateJoin {
		// Three holders and the joiner; a history worth catching up.
		if !set["peers"] {
			o.peers = latejoinHolders + 1
		}
		if !set["messages"] {
			o.messages = 10_000
		}
	}
	switch {
	case o.scenario != scenarioConverge && o.scenario != scenarioLateJoin:
		return o, usageError(stderr, "-scenario %q: must be %s or %s", o.scenario, scenarioConverge, scenarioLateJoin), false
	case o.scenario == scenarioLateJoin && (o.peers < 2 || set["publishers"] || set["dir"] || o.idle > 0 || o.preload > 0 || o.idleprof != ""):
		return o, usageError(stderr, "-scenario latejoin: -peers must be at least 2 (holders + the joiner); -publishers, -dir, -idle, -idleprofile and -preload do not apply"), false
	case flags.NArg() > 0:
		return o, usageError(stderr, "unexpected argument %q: the demo takes flags only", flags.Arg(0)), false
	case o.peers < 2 || o.peers > maxPeers:
		return o, usageError(stderr, "-peers %d: must be between 2 and %d", o.peers, maxPeers), false
	case o.messages < 1 || o.messages > maxMessages:
		return o, usageError(stderr, "-messages %d: must be between 1 and %d", o.messages, maxMessages), false
	case !(o.loss >= 0 && o.loss <= maxLoss):
		return o, usageError(stderr, "-loss %v: must be a probability between 0 and %v", o.loss, maxLoss), false
	case o.timeout <= 0:
		return o, usageError(stderr, "-timeout %v: must be positive (e.g. 30s)", o.timeout), false
	case o.step < minStep || o.step > maxStep:
		return o, usageError(stderr, "-step %v: must be between %v and %v", o.step, minStep, maxStep), false
	case o.publishers < 0 || o.publishers > o.peers:
		return o, usageError(stderr, "-publishers %d: must be between 1 and -peers (%d); 0 means every peer", o.publishers, o.peers), false
	case o.idle < 0:
		return o, usageError(stderr, "-idle %v: must be 0 (do not measure) or positive (e.g. 5s)", o.idle), false
	case o.idleprof != "" && (o.idle == 0 || o.cpuprofile != ""):
		return o, usageError(stderr, "-idleprofile profiles the -idle phase: it needs -idle and excludes -cpuprofile"), false
	case o.preload < 0 || o.preload > maxMessages:
		return o, usageError(stderr, "-preload %d: must be between 0 and %d", o.preload, maxMessages), false
	case o.preload > 0 && o.dir != "":
		return o, usageError(stderr, "-preload writes into new stores: it does not apply with -dir"), false
	case o.port < 0 || o.port+o.peers-1 > 65535:
		return o, usageError(stderr, "-port %d: peers use ports %d..%d, which must lie in 1..65535 (0 picks free ports)", o.port, o.port, o.port+o.peers-1), false
	}
	if o.publishers == 0 {
		o.publishers = o.peers
	}
	return o, exitOK, true
}

// usageLine is printed after every usage error.
const usageLine = "usage: demo [-scenario converge|latejoin] [-peers N] [-messages N] [-publishers N] [-loss P] [-reconcile] [-timeout D] [-dir DIR] [-seed N] [-step D] [-port P] [-json] [-idle D] [-idleprofile FILE] [-preload N] [-cpuprofile FILE] [-http ADDR] (demo -h for help)"

func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "demo: "+format+"\n", args...)
	fmt.Fprintln(stderr, usageLine)
	return exitUsage
}

func help(w io.Writer) {
	fmt.Fprintf(w, `usage: demo [flags]

Starts a chat community of peers in this process, over real UDP on the
loopback address, each peer with its own SQLite store. Once every peer has
found other peers (verified candidates), the publishers post chat lines and
statuses, peer 0 (the master key holder) posts a moderator announcement, and
the demo shows a progress bar (stderr) while the messages spread. When every
peer holds every message it prints one line on stdout:

  converged: peers=8 messages=100 seconds=3.2 bytes=123456

(seconds: from the first message until every peer holds all; bytes:
everything the peers sent, dropped datagrams included). If the peers do not
converge within -timeout it says which peers lack what, and what to change.

Flags:
  -peers N      number of peers, 2..%d (default 8)
  -messages N   chat lines to post, spread over the publishers (default 100)
  -publishers N the first N peers post (default 0: every peer)
  -loss P       drop each outgoing datagram with probability P, 0..%v (default 0)
  -timeout D    give up after D, counted from the start (default 1m)
  -dir DIR      keep the store files in DIR (created if needed); default: a
                temporary folder, removed at the end. Running again on the
                same DIR and -seed continues the same community.
  -seed N       seed for the keys, the walkers and the loss (default 1)
  -step D       walker step interval, %v..%v (default 200ms; Dispersy: 5s);
                candidate lifetimes are scaled with it
  -port P       listen on ports P..P+peers-1 (default 0: free ports)
  -http ADDR    serve peer 0's status page, status.json and metrics on TCP
                address ADDR (e.g. 127.0.0.1:8080) until the demo ends
  -json         print one JSON object with the run's figures instead of the
                summary line (also when the run fails)
  -idle D       after convergence, measure the process's CPU over D while
                the peers idle (idle_cpu_cores; default 0: not measured)
  -idleprofile FILE  write a CPU profile of the -idle phase only to FILE
  -preload N    before the nodes start, write N chat lines (created and
                signed once) into every peer's store, so the peers start
                holding them (e.g. to measure -idle at a large history)
  -cpuprofile FILE  write a CPU profile of the whole run to FILE
  -scenario S   converge (default: the above) or latejoin: -peers minus one
                holders (default 4 peers: 3 holders) store -messages chat
                lines (default 10000; created and signed once, written
                straight into their SQLite files), then one more peer
                starts with an empty store; progress lines show what it
                holds, and the run ends with
                  caught-up: messages=M seconds=S bytes=B
                (S: from the joiner's start until it holds all M; B: bytes
                of the datagrams the joiner received)
  -reconcile    turn the catch-up protocol on (range-based reconciliation
                and paced bulk transfer; default %v); -reconcile=false
                leaves bloom-filter sync alone
  -h            print this help

Exit status: 0 converged, 1 not converged or a local failure (port in use,
unwritable folder, damaged store file), 2 usage error.
`, maxPeers, maxLoss, minStep, maxStep, true)
}
