package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

// idleChildEnv makes the test binary a child of TestIdleCPU: "tracker" (this
// command) or "peer:N:ADDR" (node N with default settings, bootstrapping
// to the tracker at ADDR). A child prints one line when it runs and stops
// when its stdin closes.
const idleChildEnv = "DISPERSY_IDLE_CHILD"

// idleSecondsEnv sets how long TestIdleCPU measures (default 15 s).
const idleSecondsEnv = "DISPERSY_IDLE_SECONDS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(idleChildEnv); spec != "" {
		os.Exit(idleChild(spec))
	}
	os.Exit(m.Run())
}

// idleChild runs a tracker or a peer until stdin closes.
func idleChild(spec string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if spec == "tracker" {
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
		return run(ctx, []string{"-addr", "127.0.0.1", "-port", "0", "-stats", "0"}, os.Stdout, os.Stderr)
	}
	var i int
	var addr string
	if _, err := fmt.Sscanf(spec, "peer:%d:%s", &i, &addr); err != nil {
		fmt.Fprintln(os.Stderr, "bad child spec", spec, err)
		return 2
	}
	tracker, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := dispersy.DefaultNodeConfig() // Dispersy's walker: a step every 5 s
	cfg.Engine.Bootstrap = []netip.AddrPort{tracker}
	n, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "idle peer %d", i)), dt.NewMemStore(), ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if _, err := n.Join(ctx, dt.NewDebugCommunity()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("peer running")
	_, _ = io.Copy(io.Discard, os.Stdin)
	s, err := n.Stats(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cancel()
	<-done
	fmt.Printf("(walks=%d received=%d sent=%d)\n", s.Walks, s.Received, s.Sent)
	return 0
}

// idleProc is a running child.
type idleProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	start time.Time
}

func startIdleChild(t *testing.T, spec string) (*idleProc, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleChildEnv+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &idleProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), start: time.Now()}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return p, strings.TrimSpace(line)
}

// stop closes the child's stdin, waits for it and returns its CPU time
// (user + system, from wait4's rusage), its wall time and its last output.
func (p *idleProc) stop(t *testing.T) (cpu, wall time.Duration, rest string) {
	t.Helper()
	p.stdin.Close()
	b, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	st := p.cmd.ProcessState
	return st.UserTime() + st.SystemTime(), time.Since(p.start), strings.TrimSpace(string(b))
}

// Issue #12: the idle CPU of a tracker and of a node with one peer, as
// separate processes on loopback: a tracker, and two peers (Dispersy's
// default walker) that find each other through it. The numbers go to
// docs/performance.md. The assertion is only a guard against a spinning
// loop (a spin costs a whole core); TestIdleTrackerAndNodeTickRarely in
// package dispersy checks idleness deterministically.
func TestIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	secs := 15
	if v := os.Getenv(idleSecondsEnv); v != "" {
		var err error
		if secs, err = strconv.Atoi(v); err != nil || secs < 1 {
			t.Fatalf("%s=%q: want a number of seconds", idleSecondsEnv, v)
		}
	}
	tr, line := startIdleChild(t, "tracker")
	addr := strings.TrimPrefix(line, "tracker listening on ")
	a, _ := startIdleChild(t, "peer:1:"+addr)
	b, _ := startIdleChild(t, "peer:2:"+addr)
	time.Sleep(time.Duration(secs) * time.Second)
	for _, p := range []struct {
		name string
		p    *idleProc
	}{{"peer 1", a}, {"peer 2", b}, {"tracker", tr}} {
		cpu, wall, out := p.p.stop(t)
		cores := cpu.Seconds() / wall.Seconds()
		t.Logf("%s: %.3f s CPU in %.1f s = %.4f cores %s", p.name, cpu.Seconds(), wall.Seconds(), cores, out)
		if cores > 0.1 {
			t.Errorf("%s used %.2f cores while idle: a spinning loop", p.name, cores)
		}
	}
}
