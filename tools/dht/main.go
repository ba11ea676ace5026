// Command dht is a DHT node and client (package dht/node) on a running
// network:
//
//	dht node [-listen HOST:PORT] [-bootstrap HOST:PORT,...] [-db FILE] [-key FILE] [-stats D]
//	dht get [-bootstrap HOST:PORT,...] [-timeout D] KEY
//	dht set [-bootstrap ...] [-key FILE] [-timeout D] NAME VALUE
//	dht put [-bootstrap ...] [-timeout D] VALUE
//	dht find-peer [-bootstrap ...] [-timeout D] MEMBER
//
// node runs a DHT node until interrupted: it serves lookups and stores,
// keeps its values, routing table and blacklist in the SQLite file -db,
// and, like a tracker, introduces the peers that walk to it (any node is
// a bootstrap address for the others). It prints "dht node listening on
// ADDR member HEX" first.
//
// get, set, put and find-peer start a short-lived node that walks to the
// -bootstrap addresses, joins the DHT and runs one operation: get prints
// the value under KEY (40 hex digits: a content key or an owner key), set
// writes the owner-named value NAME = VALUE signed by the -key file's key
// and prints its key, put stores the content value VALUE and prints its
// key, find-peer prints a reachable address of MEMBER (40 hex digits).
// Exit status: 0 done, 1 failed (not found, refused, timeout), 2 bad usage.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dht"
	"github.com/dispersy-go/dispersy/dht/node"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/keys/keyfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usageLine = "usage: dht node|get|set|put|find-peer [flags] [args] (dht -h for help)"

type opts struct {
	listen, bootstrap, db, key string
	timeout, stats             time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "dht: no command\n%s\n", usageLine)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usageText)
		return exitOK
	}
	cmd := args[0]
	want := map[string]int{"node": 0, "get": 1, "set": 2, "put": 1, "find-peer": 1}
	n, ok := want[cmd]
	if !ok {
		fmt.Fprintf(stderr, "dht: unknown command %q\n%s\n", cmd, usageLine)
		return exitUsage
	}
	fs := flag.NewFlagSet("dht "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o opts
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "")
	fs.StringVar(&o.bootstrap, "bootstrap", "", "")
	fs.StringVar(&o.db, "db", "", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "")
	fs.DurationVar(&o.stats, "stats", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usageText)
			return exitOK
		}
		fmt.Fprintf(stderr, "dht %s: %v\n%s\n", cmd, err, usageLine)
		return exitUsage
	}
	if fs.NArg() != n {
		fmt.Fprintf(stderr, "dht %s: takes %d argument(s), got %d\n%s\n", cmd, n, fs.NArg(), usageLine)
		return exitUsage
	}
	if cmd != "node" && o.bootstrap == "" {
		fmt.Fprintf(stderr, "dht %s: -bootstrap HOST:PORT is required\n%s\n", cmd, usageLine)
		return exitUsage
	}
	if o.timeout <= 0 {
		fmt.Fprintf(stderr, "dht %s: -timeout must be > 0\n", cmd)
		return exitUsage
	}
	var id dht.ID
	if cmd == "get" || cmd == "find-peer" {
		b, err := hex.DecodeString(fs.Arg(0))
		if err != nil || len(b) != dht.IDSize {
			fmt.Fprintf(stderr, "dht %s: %q is not 40 hex digits\n", cmd, fs.Arg(0))
			return exitUsage
		}
		id = dht.ID(b)
	}
	d, stop, err := start(ctx, o, stdout, cmd == "node")
	if err != nil {
		fmt.Fprintf(stderr, "dht %s: %v\n", cmd, err)
		return exitFail
	}
	defer stop()
	if cmd == "node" {
		return serve(ctx, d, o, stdout)
	}
	octx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := waitJoined(octx, d); err != nil {
		fmt.Fprintf(stderr, "dht %s: joining through %s: %v\n", cmd, o.bootstrap, err)
		return exitFail
	}
	switch cmd {
	case "get":
		var v []byte
		if v, err = d.Get(octx, id); err == nil {
			fmt.Fprintf(stdout, "%s\n", v)
		}
	case "set":
		if err = d.Set(octx, fs.Arg(0), []byte(fs.Arg(1))); err == nil {
			fmt.Fprintf(stdout, "%s\n", d.Key(fs.Arg(0)))
		}
	case "put":
		var key dht.ID
		if key, err = d.Put(octx, []byte(fs.Arg(0))); err == nil {
			fmt.Fprintf(stdout, "%s\n", key)
		}
	case "find-peer":
		var a fmt.Stringer
		if a, err = d.FindPeer(octx, keys.MemberID(id)); err == nil {
			fmt.Fprintf(stdout, "%s\n", a)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "dht %s: %v\n", cmd, err)
		return exitFail
	}
	return exitOK
}

// start runs a node on -listen with the DHT joined.
func start(ctx context.Context, o opts, stdout io.Writer, announce bool) (*node.DHT, func(), error) {
	var key *keys.PrivateKey
	var err error
	if o.key != "" {
		key, _, err = keyfile.LoadOrCreate(o.key, keys.Ed25519)
	} else {
		key, err = keys.Generate(keys.Ed25519, rand.Reader)
	}
	if err != nil {
		return nil, nil, err
	}
	var store dispersy.Store = dispersytest.NewMemStore()
	var kv node.KV
	var db *database.Store
	if o.db != "" {
		if db, err = database.Open(o.db, database.Options{}); err != nil {
			return nil, nil, err
		}
		store, kv = db, db
	}
	closeDB := func() {
		if db != nil {
			db.Close()
		}
	}
	ep, err := udp.Listen(o.listen, udp.DefaultConfig())
	if err != nil {
		closeDB()
		return nil, nil, fmt.Errorf("cannot listen on -listen %s: %w", o.listen, err)
	}
	cfg := dispersy.DefaultNodeConfig()
	cfg.Engine.BloomSync = false
	if o.bootstrap != "" {
		cfg.BootstrapHosts = strings.Split(o.bootstrap, ",")
	}
	n, err := dispersy.NewNode(cfg, key, store, ep)
	if err != nil {
		ep.Close()
		closeDB()
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	stop := func() {
		cancel()
		<-done
		n.Close()
		closeDB()
	}
	d, err := node.Join(ctx, n, node.Config{Key: key, KV: kv})
	if err != nil {
		stop()
		return nil, nil, err
	}
	if announce {
		fmt.Fprintf(stdout, "dht node listening on %s member %s\n", ep.LocalAddr(), key.Public().ID())
	}
	return d, stop, nil
}

// waitJoined waits until the routing table holds someone.
func waitJoined(ctx context.Context, d *node.DHT) error {
	for {
		if n, err := d.Contacts(ctx); err != nil {
			return err
		} else if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: nobody answered", node.ErrNoPeers)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serve runs the node until ctx is done, printing statistics every -stats.
func serve(ctx context.Context, d *node.DHT, o opts, stdout io.Writer) int {
	var tick <-chan time.Time
	if o.stats > 0 {
		t := time.NewTicker(o.stats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick:
			st, err := d.StatsOf(ctx)
			if err != nil {
				return exitOK
			}
			n, _ := d.Contacts(ctx)
			fmt.Fprintf(stdout, "contacts=%d lookups=%d failed=%d stores=%d served=%v blacklisted=%d\n",
				n, st.Lookups, st.LookupsFailed, st.Stores[dht.Accepted], st.Server.Requests, st.Blacklisted)
		}
	}
}

const usageText = `usage: dht node|get|set|put|find-peer [flags] [args]

  dht node [-listen HOST:PORT] [-bootstrap HOST:PORT,...] [-db FILE] [-key FILE] [-stats D]
      run a DHT node (and bootstrap address for others) until interrupted;
      -db keeps its values, routing table and blacklist in a SQLite file
  dht get -bootstrap HOST:PORT KEY        print the value under KEY (40 hex digits)
  dht set -bootstrap HOST:PORT [-key FILE] NAME VALUE
                                          write the owner-named value, print its key
  dht put -bootstrap HOST:PORT VALUE      store a content value, print its key
  dht find-peer -bootstrap HOST:PORT MEMBER
                                          print a reachable address of MEMBER

flags:
  -listen HOST:PORT   UDP address (default 127.0.0.1:0)
  -bootstrap LIST     comma-separated HOST:PORT of running nodes or trackers
  -db FILE            SQLite store (node; default memory)
  -key FILE           member key PEM, created if missing (default a fresh key)
  -timeout D          operation timeout (default 30s)
  -stats D            print counters every D (node; default never)

exit status: 0 done, 1 failed (not found, refused, timeout), 2 bad usage`
