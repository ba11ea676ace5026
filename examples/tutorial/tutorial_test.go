// Package tutorial_test runs the tutorial's programs (docs/tutorial.md) as
// separate processes talking UDP over loopback.
package tutorial_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// limit bounds every wait; the programs normally get there in a few
// seconds.
const limit = 60 * time.Second

// build compiles one step into a temporary directory.
func build(t *testing.T, step string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), step)
	out, err := exec.Command("go", "build", "-o", bin, "./"+step).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", step, err, out)
	}
	return bin
}

// proc is a running program whose output lines are collected.
type proc struct {
	name  string
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // key files land here
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name}
	p.cond = sync.NewCond(&p.mu)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			if len(p.lines) < 100000 {
				p.lines = append(p.lines, sc.Text())
			}
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.lines = append(p.lines, "<exit>")
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			n := len(p.lines)
			t.Logf("%s output (last lines of %d):", name, n)
			for _, l := range p.lines[max(0, n-15):] {
				t.Logf("  %s", l)
			}
			p.mu.Unlock()
		}
	})
	return p
}

// wait returns the submatches of the first line matching re, failing the
// test after limit.
func (p *proc) wait(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	timer := time.AfterFunc(limit, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if m := rx.FindStringSubmatch(p.lines[i]); m != nil {
				return m
			}
			if p.lines[i] == "<exit>" {
				t.Fatalf("%s exited before printing a line matching %q", p.name, re)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no line matching %q within %v", p.name, re, limit)
		}
		p.cond.Wait()
	}
}

const addrRE = `(127\.0\.0\.1:\d+)`

// Step 1: two peers that find each other through a bootstrap address.
func TestTutorialStep1TwoPeersFindEachOther(t *testing.T) {
	bin := build(t, "step1")
	a := start(t, "peer 1", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem")
	m := a.wait(t, `^I am: ([0-9a-f]{40}) at `+addrRE)
	midA, addrA := m[1], m[2]
	b := start(t, "peer 2", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-bootstrap", addrA)
	m = b.wait(t, `^I am: ([0-9a-f]{40}) at `+addrRE)
	midB, addrB := m[1], m[2]
	b.wait(t, `^found peer `+midA+` at `+regexp.QuoteMeta(addrA)+`$`)
	a.wait(t, `^found peer `+midB+` at `+regexp.QuoteMeta(addrB)+`$`)
}

// Step 2: each peer prints the peers it knows, periodically.
func TestTutorialStep2PrintPeers(t *testing.T) {
	bin := build(t, "step2")
	a := start(t, "peer 1", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem", "-every", "500ms")
	addrA := a.wait(t, `^I am: Peer<`+addrRE+`, [0-9a-f]{40}>$`)[1]
	a.wait(t, `^I know: \[\]$`) // nobody yet
	b := start(t, "peer 2", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-every", "500ms", "-bootstrap", addrA)
	addrB := b.wait(t, `^I am: Peer<`+addrRE+`, [0-9a-f]{40}>$`)[1]
	b.wait(t, `^I know: \[Peer<`+regexp.QuoteMeta(addrA)+`, [0-9a-f]{40}>\]$`)
	a.wait(t, `^I know: \[Peer<`+regexp.QuoteMeta(addrB)+`, [0-9a-f]{40}>\]$`)
}

// Step 3: three peers agree on an ever-increasing Lamport clock.
func TestTutorialStep3LamportClock(t *testing.T) {
	bin := build(t, "step3")
	a := start(t, "peer 1", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem", "-every", "500ms")
	addrA := a.wait(t, `^I am: [0-9a-f]{40} at `+addrRE)[1]
	b := start(t, "peer 2", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-every", "500ms", "-bootstrap", addrA)
	c := start(t, "peer 3", bin, "-listen", "127.0.0.1:0", "-key", "ec3.pem", "-every", "500ms", "-bootstrap", addrA)
	// Every peer takes part, and each one's clock passes 100: they keep
	// raising each other's clocks past everything they saw.
	for _, p := range []*proc{a, b, c} {
		m := p.wait(t, `^[0-9a-f]{40} current clock: (\d{3,})$`)
		if v, _ := strconv.Atoi(m[1]); v < 100 {
			t.Fatalf("%s clock %d", p.name, v)
		}
	}
}

// The gossip demo: a seed node and two members; one member's data reaches
// everyone, acknowledged.
func TestTutorialGossipDemo(t *testing.T) {
	bin := build(t, "gossip")
	seed := start(t, "seed", bin, "-listen", "127.0.0.1:0")
	addrS := seed.wait(t, `^node [0-9a-f]{40} at `+addrRE)[1]
	m1 := start(t, "member 1", bin, "-listen", "127.0.0.1:0", "-seed", addrS)
	addr1 := m1.wait(t, `^node [0-9a-f]{40} at `+addrRE)[1]
	// Gossip reaches the members a node knows when it spreads: wait until
	// the seed knows member 1.
	seed.wait(t, `^member `+regexp.QuoteMeta(addr1)+`$`)
	m2 := start(t, "member 2", bin, "-listen", "127.0.0.1:0", "-seed", addrS, "-say", "Hello Gossip!")
	for _, p := range []*proc{m2, seed, m1} {
		p.wait(t, `^data: Hello Gossip!$`)
	}
}

// docs/tutorial.md shows the programs verbatim: the code the reader sees is
// the code these tests run.
func TestTutorialDocMatchesPrograms(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "tutorial.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"step1", "step3", "gossip"} {
		src, err := os.ReadFile(filepath.Join(step, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "```go\n"+string(src)+"```") {
			t.Errorf("docs/tutorial.md does not show %s/main.go as it is: copy it into its code block", step)
		}
	}
}
