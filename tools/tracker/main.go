package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the port cannot be opened or the engine failed
	exitUsage = 2 // bad flags
)

// usageLine is printed after every usage error.
const usageLine = "usage: tracker [-addr HOST] [-port N] [-stats D] [-max-communities N] [-http ADDR] (-h for help)"

// run is the command: it returns the exit status (0 ok, 1 failure, 2 bad
// usage) and stops when ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below
	defaultMax := dispersy.DefaultConfig().MaxTrackerCommunities
	addr := fs.String("addr", "0.0.0.0", "")
	port := fs.Int("port", 6421, "")
	stats := fs.Duration("stats", time.Minute, "")
	max := fs.Int("max-communities", defaultMax, "")
	httpAddr := fs.String("http", "", "")
	badUsage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "tracker: "+format+"\n%s\n", append(args, usageLine)...)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, defaultMax)
			return exitOK
		}
		return badUsage("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return badUsage("unexpected argument %q: tracker takes flags only", fs.Arg(0))
	case *port < 0 || *port > 65535:
		return badUsage("-port %d: must be 0..65535 (0: any free port)", *port)
	case *stats < 0:
		return badUsage("-stats %v: must be >= 0 (0: never)", *stats)
	case *max < 1:
		return badUsage("-max-communities %d: must be at least 1", *max)
	}
	if _, err := netip.ParseAddrPort(*addr); err == nil {
		return badUsage("-addr %q: give the host only; the port goes in -port", *addr)
	}
	ep, err := udp.Listen(net.JoinHostPort(*addr, strconv.Itoa(*port)), udp.DefaultConfig())
	if err != nil {
		fmt.Fprintf(stderr, "tracker: cannot listen on -addr %s -port %d: %v\n", *addr, *port, err)
		return exitFail
	}
	key, err := keys.Generate(keys.Ed25519, rand.Reader)
	if err != nil {
		fmt.Fprintf(stderr, "tracker: %v\n", err)
		return 1
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.Tracker = true
	cfg.Engine.BloomSync = false
	cfg.Engine.MaxTrackerCommunities = *max
	node, err := dispersy.NewNode(cfg, key, dispersytest.NewMemStore(), ep)
	if err != nil {
		ep.Close()
		fmt.Fprintf(stderr, "tracker: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "tracker listening on %s\n", ep.LocalAddr())
	if *httpAddr != "" {
		stopHTTP, err := serveStatus(*httpAddr, node, stdout)
		if err != nil {
			node.Close()
			fmt.Fprintf(stderr, "tracker: %v\n", err)
			return exitFail
		}
		defer stopHTTP()
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	var tick <-chan time.Time
	if *stats > 0 {
		t := time.NewTicker(*stats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "tracker: %v\n", err)
				return 1
			}
			return 0
		case <-tick:
			var n int
			var s dispersy.Stats
			_ = node.Do(ctx, func(e *dispersy.Engine) error {
				n, s = e.TrackerCommunities(), e.Stats()
				return nil
			})
			fmt.Fprintf(stdout, "communities=%d received=%d sent=%d dropped=%d\n", n, s.Received, s.Sent, s.DroppedTotal())
		}
	}
}

// usage prints the help text.
func usage(w io.Writer, defaultMax int) {
	fmt.Fprintf(w, `usage: tracker [-addr HOST] [-port N] [-stats D] [-max-communities N] [-http ADDR]

Runs a bootstrap tracker: a node that answers introduction requests for
any community, so that peers that list its address in
dispersy.Config.Bootstrap find each other. It stores nothing, never syncs
and runs no application code.

Flags:
  -addr HOST           address to listen on, without the port (default 0.0.0.0)
  -port N              UDP port, 0 for any free port (default 6421)
  -stats D             print a line of statistics every D, a Go duration
                       such as 30s or 5m; 0 for never (default 1m):
                         communities=N received=N sent=N dropped=N
                       communities tracked now; datagrams received and
                       sent, and inputs dropped (every reason), since the
                       start
  -max-communities N   most communities tracked at once (default %d)
  -http ADDR           serve the status page, status.json and metrics
                       (package dispersy/debughttp) on TCP address ADDR,
                       e.g. 127.0.0.1:8080 (default: off)
  -h                   print this help

Output on stdout: "tracker listening on HOST:PORT" once it listens, then the
statistics lines. It runs until SIGINT or SIGTERM.

Exit status: 0 after SIGINT or SIGTERM; 1 when the port (or the -http
address) cannot be opened or the engine fails (one sentence on stderr); 2 for a usage error (the
problem, naming the flag, and a usage line on stderr).
`, defaultMax)
}
