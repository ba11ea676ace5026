package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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

// run is the command: it returns the exit status (0 ok, 1 failure, 2 bad
// usage) and stops when ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "0.0.0.0", "address to listen on")
	port := fs.Int("port", 6421, "UDP port to listen on (0: any free port)")
	stats := fs.Duration("stats", time.Minute, "how often to print statistics (0: never)")
	max := fs.Int("max-communities", dispersy.DefaultConfig().MaxTrackerCommunities, "most communities tracked at once")
	httpAddr := fs.String("http", "", "serve the status page, status.json and metrics on this TCP address (e.g. 127.0.0.1:8080)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tracker [-addr HOST] [-port N] [-stats D] [-max-communities N] [-http ADDR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tracker: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *port < 0 || *port > 65535 || *stats < 0 || *max < 1 {
		fmt.Fprintln(stderr, "tracker: -port must be 0..65535, -stats >= 0 and -max-communities >= 1")
		fs.Usage()
		return 2
	}
	ep, err := udp.Listen(net.JoinHostPort(*addr, strconv.Itoa(*port)), udp.DefaultConfig())
	if err != nil {
		fmt.Fprintf(stderr, "tracker: %v\n", err)
		return 1
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
			return 1
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
