//go:build unix

package crash_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// peerEnv makes the test binary a crash-test peer: it holds the peer's
// peerConfig as JSON (see TestCrashPeerChild).
const peerEnv = "DISPERSY_CRASH_PEER"

// peerConfig is what a child peer is told by the parent.
type peerConfig struct {
	// Index is the peer's number: its key and its message texts.
	Index int
	// Store is the SQLite file.
	Store string
	// Addr is the UDP address to listen on (127.0.0.1:port).
	Addr string
	// Bootstrap are the addresses the walker falls back to.
	Bootstrap []string
	// Create is how many messages the peer creates in all (over every
	// incarnation), Every the pause before each.
	Create int
	Every  time.Duration
	// Step is the walker step; every walker lifetime is scaled with it.
	Step time.Duration
	// Seed seeds the engine's randomness (the parent varies it per
	// incarnation).
	Seed uint64
}

// reportEvery is how often a peer looks at its store count and, when it
// changed, prints "stored N".
const reportEvery = 100 * time.Millisecond

// listenPatience bounds the retries of a listen on a port that is
// momentarily taken.
const listenPatience = 5 * time.Second

// runPeer is the child peer program. It runs a node on cfg.Addr and
// cfg.Store in the debug community, creates the peer's missing messages one
// every cfg.Every, and prints its progress lines (see the package doc) on
// out, until in says "stop" or ends; then it stops the node, closes the
// store and prints "stopped". It returns an error for any local failure.
func runPeer(cfg peerConfig, in io.Reader, out io.Writer) (err error) {
	stop := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() && sc.Text() != "stop" {
		}
		close(stop) // "stop", EOF (the parent closed our stdin or died) or a read error
	}()
	stopping := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}

	st, err := database.Open(cfg.Store, database.Options{})
	if err != nil {
		return fmt.Errorf("database.Open: %w", err)
	}
	storeOpen := true
	closeStore := func() error {
		if !storeOpen {
			return nil
		}
		storeOpen = false
		return st.Close()
	}
	defer func() { err = errors.Join(err, closeStore()) }()

	ep, err := listen(cfg.Addr, stop)
	if err != nil || ep == nil {
		return err // nil and nil: told to stop while waiting for the port
	}
	var boot []netip.AddrPort
	for _, b := range cfg.Bootstrap {
		a, err := netip.ParseAddrPort(b)
		if err != nil {
			ep.Close()
			return fmt.Errorf("bootstrap address: %w", err)
		}
		boot = append(boot, a)
	}
	ncfg := dispersy.DefaultNodeConfig()
	ncfg.Engine.Walker = walker.DefaultConfig().Scaled(cfg.Step)
	ncfg.Engine.LocalAddr = ep.LocalAddr()
	ncfg.Engine.Bootstrap = boot
	ncfg.Engine.Rand = rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Index)))
	key := peerKey(cfg.Index)
	node, err := dispersy.NewNode(ncfg, key, st, ep)
	if err != nil {
		ep.Close()
		return fmt.Errorf("NewNode: %w", err)
	}
	runDone := make(chan struct{})
	var runErr error
	go func() {
		runErr = node.Run(context.Background())
		close(runDone)
	}()
	defer func() {
		_ = node.Close() // waits for Run to return
		<-runDone
		if err == nil && runErr != nil && !errors.Is(runErr, dispersy.ErrNodeClosed) {
			err = fmt.Errorf("node Run: %w", runErr)
		}
	}()

	// Every node call is bounded, so a wedged engine shows up as an error
	// on stderr rather than a child that hangs.
	call := func(fn func(e *dispersy.Engine) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return node.Do(ctx, fn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_, err = node.Join(ctx, dispersytest.NewDebugCommunity())
	cancel()
	if err != nil {
		return fmt.Errorf("Join: %w", err)
	}

	// Which of our messages survived? They must be 0..n-1: we create them
	// in order, each in its own transaction. The parent checks that.
	var own []int
	stored := 0
	if err := call(func(e *dispersy.Engine) error {
		texts, err := readTexts(e.Store(), e.Community(cid).Codec())
		if err != nil {
			return err
		}
		stored = len(texts)
		for _, s := range texts {
			if s.member != key.ID() {
				continue
			}
			p, k, ok := parseText(s.text)
			if !ok || p != cfg.Index {
				return fmt.Errorf("our member signed %q, which is not one of our texts", s.text)
			}
			own = append(own, k)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("reading our messages back: %w", err)
	}
	slices.Sort(own)
	ownList := "-"
	if len(own) > 0 {
		parts := make([]string, len(own))
		for i, k := range own {
			parts[i] = strconv.Itoa(k)
		}
		ownList = strings.Join(parts, ",")
	}
	w := &lineWriter{w: out}
	w.printf("ready own=%s stored=%d", ownList, stored)

	have := make(map[int]bool, len(own))
	for _, k := range own {
		have[k] = true
	}
	next := 0
	advance := func() {
		for next < cfg.Create && have[next] {
			next++
		}
	}
	advance()
	if next == cfg.Create {
		w.printf("created all")
	}
	create := time.NewTicker(cfg.Every)
	defer create.Stop()
	report := time.NewTicker(reportEvery)
	defer report.Stop()
	for w.err == nil {
		select {
		case <-stop:
			// Clean shutdown: node, then store, then the line that
			// says both are closed.
			if err := node.Close(); err != nil {
				return fmt.Errorf("node Close: %w", err)
			}
			<-runDone
			if err := closeStore(); err != nil {
				return fmt.Errorf("store Close: %w", err)
			}
			w.printf("stopped")
			return w.err
		case <-runDone:
			return fmt.Errorf("node stopped by itself: %w", runErr)
		case <-create.C:
			if next == cfg.Create {
				continue
			}
			text := textOf(cfg.Index, next)
			if err := call(func(e *dispersy.Engine) error {
				_, err := dispersy.Create(e.Community(cid), dispersytest.FullSyncText, dispersytest.Text{Text: text})
				return err
			}); err != nil {
				return fmt.Errorf("create %q: %w", text, err)
			}
			// Create returned: the message is committed.
			w.printf("created %d", next)
			have[next] = true
			advance()
			if next == cfg.Create {
				w.printf("created all")
			}
		case <-report.C:
			if stopping() {
				continue // the stop case wins next round
			}
			var n int
			if err := call(func(e *dispersy.Engine) error {
				var err error
				n, err = e.Store().Count(cid, synced)
				return err
			}); err != nil {
				return fmt.Errorf("count: %w", err)
			}
			if n != stored {
				stored = n
				w.printf("stored %d", n)
			}
		}
	}
	return fmt.Errorf("writing progress: %w", w.err)
}

// listen listens on addr, retrying for a while when the port is taken (the
// parent picked it free; something else may hold it for a moment). It
// returns nil, nil when told to stop while waiting.
func listen(addr string, stop <-chan struct{}) (*udp.Endpoint, error) {
	deadline := time.Now().Add(listenPatience)
	for {
		ep, err := udp.Listen(addr, udp.DefaultConfig())
		if err == nil {
			return ep, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-stop:
			return nil, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lineWriter prints progress lines and keeps the first write error.
type lineWriter struct {
	w   io.Writer
	err error
}

func (w *lineWriter) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format+"\n", args...)
	}
}

// childConfig returns the peer configuration in the environment, if any.
func childConfig() (peerConfig, bool, error) {
	v, ok := os.LookupEnv(peerEnv)
	if !ok {
		return peerConfig{}, false, nil
	}
	var cfg peerConfig
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		return cfg, true, fmt.Errorf("%s: %w", peerEnv, err)
	}
	return cfg, true, nil
}

// TestCrashPeerChild is the child peer of TestCrash when peerEnv is set.
// Run on its own, it checks the peer program in process: a restarted peer
// finds its messages in its store and creates only the missing ones.
func TestCrashPeerChild(t *testing.T) {
	cfg, child, err := childConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash peer:", err)
		os.Exit(2)
	}
	if child {
		if err := runPeer(cfg, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "crash peer %d: %v\n", cfg.Index, err)
			os.Exit(1)
		}
		return
	}

	path := filepath.Join(t.TempDir(), "peer.db")
	run := func(create int) []string {
		t.Helper()
		cfg := peerConfig{Index: 7, Store: path, Addr: "127.0.0.1:0", Create: create, Every: 5 * time.Millisecond, Step: 100 * time.Millisecond, Seed: 1}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := runPeer(cfg, inR, outW)
			outW.Close()
			done <- err
		}()
		var lines []string
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "stored ") { // timing-dependent
				lines = append(lines, line)
			}
			if line == "created all" {
				inW.Close() // stdin EOF: stop
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("runPeer: %v (output %q)", err, lines)
		}
		return lines
	}
	steps := []struct {
		create int
		want   []string
	}{
		{3, []string{"ready own=- stored=0", "created 0", "created 1", "created 2", "created all", "stopped"}},
		{3, []string{"ready own=0,1,2 stored=3", "created all", "stopped"}},
		{5, []string{"ready own=0,1,2 stored=3", "created 3", "created 4", "created all", "stopped"}},
	}
	for i, s := range steps {
		if got := run(s.create); !slices.Equal(got, s.want) {
			t.Fatalf("run %d (create %d): output\n%q\nwant\n%q", i, s.create, got, s.want)
		}
	}

	st, err := database.Open(path, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	codec, err := debugCodec()
	if err != nil {
		t.Fatal(err)
	}
	texts, err := readTexts(st, codec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range texts {
		if s.member != peerKey(7).ID() {
			t.Errorf("message %q stored with member %s, want peer 7's", s.text, s.member)
		}
		got = append(got, s.text)
	}
	want := []string{textOf(7, 0), textOf(7, 1), textOf(7, 2), textOf(7, 3), textOf(7, 4)}
	if !slices.Equal(got, want) {
		t.Fatalf("store holds %q, want %q", got, want)
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		in   string
		p, k int
		ok   bool
	}{
		{textOf(0, 0), 0, 0, true},
		{textOf(4, 39), 4, 39, true},
		{textOf(12, 345), 12, 345, true},
		{"crash peer 1 message 02", 0, 0, false}, // not canonical
		{"crash peer 1 message 2 extra", 0, 0, false},
		{"crash peer -1 message 2", 0, 0, false},
		{"hello", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		p, k, ok := parseText(tc.in)
		if ok != tc.ok || (ok && (p != tc.p || k != tc.k)) {
			t.Errorf("parseText(%q) = %d, %d, %v; want %d, %d, %v", tc.in, p, k, ok, tc.p, tc.k, tc.ok)
		}
	}
}
