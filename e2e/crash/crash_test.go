//go:build unix

package crash_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// long enables the larger run: go test ./e2e/crash/ -long.
var long = flag.Bool("long", false, "run the long crash test (8 peers, 800 messages, 200 kills)")

// seedEnv fixes the seed that picks victims and kill delays.
const seedEnv = "DISPERSY_CRASH_SEED"

// plan is the shape of one crash run.
type plan struct {
	peers  int // child processes
	create int // messages each peer creates
	kills  int // SIGKILLs, each followed by a check and a restart
	// Each kill comes after a delay drawn uniformly from
	// [minDelay, maxDelay) since the previous restart. A short one may
	// catch the restarted peer while it opens its store.
	minDelay, maxDelay time.Duration
	step               time.Duration // walker step
	// patience bounds each wait (convergence, a clean stop). It is
	// generous: a slow machine makes the test slower, never failing.
	patience time.Duration
}

// every spreads each peer's creations over the kill phase, so the kills
// land while peers create and sync, not after they converged.
func (p plan) every() time.Duration {
	phase := float64(p.kills) * float64(p.minDelay+p.maxDelay) / 2
	return time.Duration(phase / float64(p.create)).Round(time.Millisecond)
}

func (p plan) total() int { return p.peers * p.create }

// TestCrash is issue #8: peers as separate processes on loopback, killed
// with SIGKILL again and again during sync and restarted from their files;
// every file passes the integrity check after every kill, every peer
// converges, and nothing a peer acknowledged is lost.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes and kills them for about 20 s; skipped under -short")
	}
	pl := plan{peers: 5, create: 40, kills: 24, maxDelay: time.Second, step: 100 * time.Millisecond, patience: 90 * time.Second}
	if *long {
		pl = plan{peers: 8, create: 100, kills: 200, maxDelay: time.Second, step: 100 * time.Millisecond, patience: 15 * time.Minute}
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(seedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, v, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d); %d peers x %d messages, %d kills, one message every %v per peer",
		seed, seedEnv, seed, pl.peers, pl.create, pl.kills, pl.every())

	h := newHarness(t, pl, seed)
	for _, c := range h.children {
		h.start(c)
	}

	rng := rand.New(rand.NewPCG(seed, 0xc4a54))
	phases := map[string]int{}
	start := time.Now()
	for i := range pl.kills {
		delay := pl.minDelay + time.Duration(rng.Int64N(int64(pl.maxDelay-pl.minDelay)))
		c := h.children[rng.IntN(pl.peers)]
		time.Sleep(delay)
		h.checkProblems()
		snap := c.snapshot()
		phase := snap.phase(pl.total())
		phases[phase]++
		if err := c.kill(); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if err := integrityCheck(c.path); err != nil {
			t.Fatalf("kill %d, peer %d (incarnation %d) killed while %s: %v", i, c.idx, snap.n, phase, err)
		}
		t.Logf("kill %2d: peer %d incarnation %d after %v while %s (stored %d, acknowledged %d); integrity ok",
			i, c.idx, snap.n, delay.Round(time.Millisecond), phase, snap.stored, snap.acked)
		h.start(c)
	}
	h.checkProblems()
	t.Logf("%d kills in %v: %s", pl.kills, time.Since(start).Round(time.Millisecond), phaseSummary(phases))

	took := h.waitConverged()
	t.Logf("every peer reports all %d messages %v after the last kill", pl.total(), took.Round(time.Millisecond))
	h.stopAll()
	h.verifyFiles()
}

// phaseSummary prints the kill count per phase in a fixed order.
func phaseSummary(phases map[string]int) string {
	var parts []string
	for _, p := range []string{"starting", "creating", "syncing", "converged"} {
		parts = append(parts, fmt.Sprintf("%d while %s", phases[p], p))
	}
	return strings.Join(parts, ", ")
}

// harness owns the child processes of one run.
type harness struct {
	t        *testing.T
	plan     plan
	seed     uint64
	children []*child
}

// newHarness prepares (but does not start) the peers: files in a temporary
// directory, ports picked free. Its cleanup kills and reaps every child
// still running and, when the test failed, prints what each one said.
func newHarness(t *testing.T, pl plan, seed uint64) *harness {
	dir := t.TempDir()
	addrs := freePorts(t, pl.peers)
	var boot []string
	for _, a := range addrs {
		boot = append(boot, a.String())
	}
	h := &harness{t: t, plan: pl, seed: seed}
	for i := range pl.peers {
		c := &child{
			idx:  i,
			path: filepath.Join(dir, fmt.Sprintf("peer%d.db", i)),
			cfg: peerConfig{
				Index:     i,
				Store:     filepath.Join(dir, fmt.Sprintf("peer%d.db", i)),
				Addr:      addrs[i].String(),
				Bootstrap: boot,
				Create:    pl.create,
				Every:     pl.every(),
				Step:      pl.step,
			},
			total:    pl.total(),
			acked:    map[int]bool{},
			inFlight: map[int]bool{},
			stderr:   &tail{max: 8 << 10},
		}
		h.children = append(h.children, c)
	}
	t.Cleanup(func() {
		for _, c := range h.children {
			c.reap()
		}
		if t.Failed() {
			t.Logf("FAILED with seed %d (rerun with %s=%d)", seed, seedEnv, seed)
			for _, c := range h.children {
				t.Log(c.report())
			}
		}
	})
	return h
}

// freePorts returns n distinct free UDP ports on 127.0.0.1, found by
// binding port 0 n times at once and closing the sockets.
func freePorts(t *testing.T, n int) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatalf("finding a free UDP port: %v", err)
		}
		defer c.Close() // held until all n are picked, so they differ
		out = append(out, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

// start runs a new incarnation of c: the test binary as TestCrashPeerChild.
func (h *harness) start(c *child) {
	h.t.Helper()
	if err := c.start(h.seed); err != nil {
		h.t.Fatalf("peer %d: %v", c.idx, err)
	}
}

// checkProblems fails the test when a child broke an invariant in its
// progress lines or ended by itself.
func (h *harness) checkProblems() {
	h.t.Helper()
	for _, c := range h.children {
		if err := c.problem(); err != nil {
			h.t.Fatalf("peer %d: %v", c.idx, err)
		}
		select {
		case <-c.exited:
			h.t.Fatalf("peer %d (incarnation %d) ended by itself: %v", c.idx, c.incarnation, c.waitErr)
		default:
		}
	}
}

// waitConverged waits until every peer created all its messages and
// reports holding all of them; it returns how long that took.
func (h *harness) waitConverged() time.Duration {
	h.t.Helper()
	start := time.Now()
	for {
		h.checkProblems()
		done := true
		for _, c := range h.children {
			s := c.snapshot()
			done = done && s.allCreated && s.stored == h.plan.total()
		}
		if done {
			return time.Since(start)
		}
		if time.Since(start) > h.plan.patience {
			var b strings.Builder
			for _, c := range h.children {
				s := c.snapshot()
				fmt.Fprintf(&b, "\npeer %d incarnation %d: ready %v, created all %v, stores %d of %d",
					c.idx, s.n, s.ready, s.allCreated, s.stored, h.plan.total())
			}
			h.t.Fatalf("not converged %v after the last kill:%s", h.plan.patience, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll asks every child to stop and checks each exits cleanly.
func (h *harness) stopAll() {
	h.t.Helper()
	for _, c := range h.children {
		c.askStop()
	}
	for _, c := range h.children {
		if err := c.waitStopped(h.plan.patience); err != nil {
			h.t.Fatalf("peer %d: %v", c.idx, err)
		}
	}
	h.checkProblemsAfterStop()
}

// checkProblemsAfterStop reports invariant breaks seen while stopping.
func (h *harness) checkProblemsAfterStop() {
	h.t.Helper()
	for _, c := range h.children {
		if err := c.problem(); err != nil {
			h.t.Fatalf("peer %d: %v", c.idx, err)
		}
	}
}

// verifyFiles checks the stopped peers' files: integrity, exactly the
// expected texts once each with the right creators, every acknowledged
// message present, and the same set of hashes everywhere.
func (h *harness) verifyFiles() {
	t := h.t
	t.Helper()
	codec, err := debugCodec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{} // text -> creator
	for p := range h.plan.peers {
		for k := range h.plan.create {
			want[textOf(p, k)] = p
		}
	}
	var first [32]byte
	for i, c := range h.children {
		if err := integrityCheck(c.path); err != nil {
			t.Fatalf("peer %d after a clean stop: %v", c.idx, err)
		}
		st, err := database.Open(c.path, database.Options{})
		if err != nil {
			t.Fatalf("peer %d: reopen: %v", c.idx, err)
		}
		texts, err := readTexts(st, codec)
		if err != nil {
			st.Close()
			t.Fatalf("peer %d: %v", c.idx, err)
		}
		var hashes []dispersy.Hash
		err = st.Scan(dispersy.ScanQuery{Community: cid, Types: synced, From: 1}, func(r dispersy.ScanRow) bool {
			hashes = append(hashes, r.Hash)
			return true
		})
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("peer %d: scan: %v", c.idx, err)
		}

		seen := map[string]int{}
		var replayed []dispersy.Hash
		for _, s := range texts {
			seen[s.text]++
			replayed = append(replayed, s.hash)
			p, ok := want[s.text]
			switch {
			case !ok:
				t.Errorf("peer %d stores an unexpected message %q", c.idx, s.text)
			case s.member != peerKey(p).ID():
				t.Errorf("peer %d stores %q signed by %s, want peer %d's member", c.idx, s.text, s.member, p)
			case seen[s.text] == 2:
				t.Errorf("peer %d stores %q more than once (created twice?)", c.idx, s.text)
			}
		}
		for _, o := range h.children {
			for _, k := range o.ackedList() {
				if seen[textOf(o.idx, k)] == 0 {
					t.Errorf("peer %d acknowledged creating message %d; peer %d's store lacks it", o.idx, k, c.idx)
				}
			}
		}
		for p := range h.plan.peers {
			for k := range h.plan.create {
				if seen[textOf(p, k)] == 0 {
					t.Errorf("peer %d lacks %q", c.idx, textOf(p, k))
				}
			}
		}
		sortHashes(hashes)
		sortHashes(replayed)
		if !slices.Equal(hashes, replayed) {
			t.Errorf("peer %d: Scan lists %d hashes, Replay %d, not the same set", c.idx, len(hashes), len(replayed))
		}
		if len(texts) != h.plan.total() {
			t.Errorf("peer %d stores %d messages, want %d", c.idx, len(texts), h.plan.total())
		}
		d := dispersytest.Digest(hashes)
		if i == 0 {
			first = d
		} else if d != first {
			t.Errorf("peer %d's messages (digest %x) differ from peer 0's (%x)", c.idx, d[:8], first[:8])
		}
	}
	if !t.Failed() {
		t.Logf("all %d stores hold the same %d messages (digest %x)", h.plan.peers, h.plan.total(), first[:8])
	}
}

func sortHashes(hs []dispersy.Hash) {
	slices.SortFunc(hs, func(a, b dispersy.Hash) int { return slices.Compare(a[:], b[:]) })
}

// child is one peer: its files and current process, and what its progress
// lines told us (across incarnations).
type child struct {
	idx   int
	path  string
	cfg   peerConfig
	total int // messages every peer ends with

	// The current incarnation; set by start, read by the test goroutine.
	incarnation int
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	exited      chan struct{} // closed when Wait returned (and output was read)
	waitErr     error         // Wait's result, valid once exited is closed

	stderr *tail // the last stderr bytes, every incarnation

	mu    sync.Mutex
	cur   progress     // the current incarnation's progress
	acked map[int]bool // messages whose "created k" we read, every incarnation
	// inFlight are the messages a killed incarnation was about to create
	// next: each may or may not have been committed.
	inFlight map[int]bool
	maxSeen  int      // highest stored count any incarnation reported
	problems []string // invariant breaks seen in the output
	lines    []string // the last progress lines, every incarnation
}

// progress is what one incarnation reported.
type progress struct {
	n          int  // incarnation number, from 1
	ready      bool // "ready" read
	next       int  // the index the next "created" line must carry
	stored     int  // the last stored count; -1 before "ready"
	allCreated bool
	stopped    bool
	acked      int // messages acknowledged so far, every incarnation
}

// phase names what a peer was doing.
func (p progress) phase(total int) string {
	switch {
	case !p.ready:
		return "starting"
	case !p.allCreated:
		return "creating"
	case p.stored < total:
		return "syncing"
	}
	return "converged"
}

const keepLines = 30

func (c *child) start(seed uint64) error {
	c.incarnation++
	inc := c.incarnation
	cfg := c.cfg
	cfg.Seed = rand.New(rand.NewPCG(seed, uint64(c.idx)<<32|uint64(inc))).Uint64()
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashPeerChild$")
	cmd.Env = append(os.Environ(), peerEnv+"="+string(js))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out := &lineSplitter{line: func(s string) { c.line(s) }}
	cmd.Stdout = out
	fmt.Fprintf(c.stderr, "--- incarnation %d ---\n", inc)
	cmd.Stderr = c.stderr
	c.mu.Lock()
	c.cur = progress{n: inc, stored: -1}
	c.lines = append(c.lines, fmt.Sprintf("--- incarnation %d ---", inc))
	c.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start incarnation %d: %w", inc, err)
	}
	c.cmd, c.stdin = cmd, stdin
	exited := make(chan struct{})
	c.exited = exited
	go func() {
		err := cmd.Wait() // returns once stdout and stderr are drained
		if rest := out.rest(); rest != "" {
			c.mu.Lock()
			c.lines = append(c.lines, "(cut off) "+rest)
			c.mu.Unlock()
		}
		c.waitErr = err
		close(exited)
	}()
	return nil
}

// kill SIGKILLs the current incarnation and reaps it; it fails if the
// process had already ended some other way.
func (c *child) kill() error {
	err := c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited // every line it wrote has been handled
	c.mu.Lock()
	if c.cur.ready && c.cur.next < c.cfg.Create {
		c.inFlight[c.cur.next] = true
	}
	c.mu.Unlock()
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("peer %d: SIGKILL: %w", c.idx, err)
	}
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("peer %d (incarnation %d) ended with %v before it was killed", c.idx, c.incarnation, c.waitErr)
	}
	return nil
}

// askStop tells the current incarnation to stop: "stop" and stdin EOF.
func (c *child) askStop() {
	_, _ = io.WriteString(c.stdin, "stop\n")
	_ = c.stdin.Close()
}

// waitStopped waits for a clean exit after askStop.
func (c *child) waitStopped(patience time.Duration) error {
	select {
	case <-c.exited:
	case <-time.After(patience):
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
		return fmt.Errorf("incarnation %d did not stop within %v of being asked", c.incarnation, patience)
	}
	if c.waitErr != nil {
		return fmt.Errorf("incarnation %d ended with %v when asked to stop", c.incarnation, c.waitErr)
	}
	if s := c.snapshot(); !s.stopped {
		return fmt.Errorf("incarnation %d exited without printing \"stopped\"", c.incarnation)
	}
	return nil
}

// reap kills and waits for the current incarnation if it still runs.
func (c *child) reap() {
	if c.cmd == nil {
		return
	}
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
	}
}

// snapshot returns the current incarnation's progress.
func (c *child) snapshot() progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.cur
	p.acked = len(c.acked)
	return p
}

// ackedList returns the acknowledged message indexes, ascending.
func (c *child) ackedList() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for k := range c.acked {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// problem returns the invariant breaks seen so far, if any.
func (c *child) problem() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(c.problems, "; "))
}

// line handles one progress line of the current incarnation and checks it
// against everything the peer said before.
func (c *child) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, s)
	if len(c.lines) > keepLines {
		c.lines = slices.Delete(c.lines, 0, len(c.lines)-keepLines)
	}
	p := &c.cur
	bad := func(format string, args ...any) {
		c.problems = append(c.problems, fmt.Sprintf("incarnation %d: ", p.n)+fmt.Sprintf(format, args...))
	}
	word, arg, _ := strings.Cut(s, " ")
	switch {
	case word == "ready":
		own, stored, err := parseReady(arg)
		if err != nil {
			bad("bad line %q: %v", s, err)
			return
		}
		// Messages are created in order, one transaction each: what
		// survived is a gapless prefix, and it holds everything acked.
		for i, k := range own {
			if k != i {
				bad("its own messages in the store are %v, not a gapless 0..%d (lost or created twice)", own, len(own)-1)
				break
			}
		}
		for k := range c.acked {
			if k >= len(own) {
				bad("message %d was acknowledged as created but is not in the store after the restart (own %v)", k, own)
			}
		}
		for _, k := range own {
			if !c.acked[k] && !c.inFlight[k] {
				bad("message %d is in the store, but no incarnation acknowledged it or was killed while creating it", k)
			}
		}
		if stored < c.maxSeen {
			bad("the store holds %d messages after the restart; an earlier incarnation reported %d", stored, c.maxSeen)
		}
		p.ready, p.next, p.stored = true, len(own), stored
		c.maxSeen = max(c.maxSeen, stored)
	case s == "created all":
		if !p.ready || p.next != c.cfg.Create {
			bad("%q after creating up to %d of %d", s, p.next, c.cfg.Create)
		}
		p.allCreated = true
	case word == "created":
		k, err := strconv.Atoi(arg)
		switch {
		case err != nil:
			bad("bad line %q", s)
		case !p.ready || k != p.next:
			bad("created message %d; the next to create was %d", k, p.next)
		case c.acked[k]:
			bad("created message %d twice", k)
		}
		c.acked[k] = true
		p.next = k + 1
	case word == "stored":
		n, err := strconv.Atoi(arg)
		switch {
		case err != nil:
			bad("bad line %q", s)
		case n < c.maxSeen:
			bad("stored %d after %d was reported", n, c.maxSeen)
		case n > c.total:
			bad("stored %d messages; only %d exist", n, c.total)
		}
		p.stored = n
		c.maxSeen = max(c.maxSeen, n)
	case s == "stopped":
		p.stopped = true
	case s == "PASS": // the testing package, after runPeer returned
	default:
		bad("unexpected output %q", s)
	}
}

// parseReady parses "own=0,1,2 stored=57" ("own=-" for none).
func parseReady(arg string) (own []int, stored int, err error) {
	ownPart, storedPart, ok := strings.Cut(arg, " ")
	list, ok1 := strings.CutPrefix(ownPart, "own=")
	num, ok2 := strings.CutPrefix(storedPart, "stored=")
	if !ok || !ok1 || !ok2 {
		return nil, 0, errors.New("want own=<list> stored=<n>")
	}
	if list != "-" {
		for f := range strings.SplitSeq(list, ",") {
			k, err := strconv.Atoi(f)
			if err != nil {
				return nil, 0, err
			}
			own = append(own, k)
		}
	}
	stored, err = strconv.Atoi(num)
	return own, stored, err
}

// report describes c for a failure: progress, last lines, stderr.
func (c *child) report() string {
	s := c.snapshot()
	c.mu.Lock()
	lines := strings.Join(c.lines, "\n    ")
	c.mu.Unlock()
	return fmt.Sprintf("peer %d (%s): incarnation %d, ready %v, next %d, stored %d, created all %v, %d acknowledged\n  last progress lines:\n    %s\n  stderr tail:\n%s",
		c.idx, c.path, s.n, s.ready, s.next, s.stored, s.allCreated, s.acked, lines, c.stderr.String())
}

// lineSplitter is an io.Writer that hands each complete line to line.
// exec's copying goroutine is its only writer.
type lineSplitter struct {
	line func(string)
	mu   sync.Mutex
	buf  []byte
}

func (w *lineSplitter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// rest returns an unfinished last line (a process killed mid-write).
func (w *lineSplitter) rest() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// tail is an io.Writer that keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = slices.Delete(t.buf, 0, over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
