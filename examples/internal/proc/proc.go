// Package proc builds the example programs and runs them as separate
// processes in tests: their output lines are collected and waited for, with
// every wait bounded, and every process is killed when the test ends.
package proc

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Limit bounds every wait; the programs normally get there in a few
// seconds.
const Limit = 60 * time.Second

// Build compiles the package pkg (a path go build accepts, such as
// "./step1" or "../../tools/tracker") into t's temporary directory and
// returns the binary's path.
func Build(t *testing.T, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Proc is a running program whose output lines (stdout and stderr) are
// collected.
type Proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

// Start runs bin with args in dir (t's temporary directory when dir is
// empty). The process is killed when the test ends; if the test failed,
// its last output lines are logged.
func Start(t *testing.T, name, dir, bin string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		defer close(p.done)
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
		p.Kill()
		if t.Failed() {
			p.mu.Lock()
			n := len(p.lines)
			t.Logf("%s output (last lines of %d):", name, n)
			for _, l := range p.lines[max(0, n-20):] {
				t.Logf("  %s", l)
			}
			p.mu.Unlock()
		}
	})
	return p
}

// Kill ends the process with SIGKILL (a crash: no clean shutdown) and waits
// for it and its output. Killing it again does nothing.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	_ = p.cmd.Wait()
}

// Send writes one line to the process's standard input.
func (p *Proc) Send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: writing %q: %v", p.name, line, err)
	}
}

// Wait returns the submatches of the first line matching re, failing the
// test after Limit.
func (p *Proc) Wait(t *testing.T, re string) []string {
	t.Helper()
	return p.WaitFrom(t, 0, re)
}

// WaitFrom is Wait for the lines from the from-th on (0-based), as Lines
// counts them.
func (p *Proc) WaitFrom(t *testing.T, from int, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	timer := time.AfterFunc(Limit, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(Limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; ; {
		for ; i < len(p.lines); i++ {
			if m := rx.FindStringSubmatch(p.lines[i]); m != nil {
				return m
			}
			if p.lines[i] == "<exit>" {
				t.Fatalf("%s exited before printing a line matching %q", p.name, re)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no line matching %q within %v", p.name, re, Limit)
		}
		p.cond.Wait()
	}
}

// Lines returns the number of lines printed so far.
func (p *Proc) Lines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Name returns the name the process was started with.
func (p *Proc) Name() string { return p.name }
