package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// summary matches the one line the demo prints on stdout when it converges.
var summary = regexp.MustCompile(`^converged: peers=(\d+) messages=(\d+) seconds=\d+\.\d bytes=(\d+)\n$`)

// demoRun runs the command and returns its exit status, stdout and stderr.
func demoRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// checkSummary checks a converged run's output.
func checkSummary(t *testing.T, out string, peers, messages int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout %q is not one converged: line", out)
	}
	if m[1] != strconv.Itoa(peers) || m[2] != strconv.Itoa(messages) {
		t.Fatalf("summary %q: want peers=%d messages=%d", out, peers, messages)
	}
	if b, _ := strconv.Atoi(m[3]); b <= 0 {
		t.Fatalf("summary %q reports no bytes sent", out)
	}
}

func TestConverges(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no loss", []string{"-peers", "4", "-messages", "20"}},
		{"20% loss", []string{"-peers", "4", "-messages", "20", "-loss", "0.2", "-seed", "7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := demoRun(t, append(tc.args, "-timeout", "2m")...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errs)
			}
			checkSummary(t, out, 4, 20)
			if !strings.Contains(errs, "20/20 messages on all peers") {
				t.Errorf("stderr has no final progress line:\n%s", errs)
			}
		})
	}
}

// TestKeepDir: -dir keeps the stores, and a second run on them continues
// the same community: its summary counts the old lines too.
func TestKeepDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stores")
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "9", "-dir", dir, "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("first run: exit %d, stderr:\n%s", code, errs)
	}
	checkSummary(t, out, 3, 9)
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(dir, "peer0"+strconv.Itoa(i)+".db")); err != nil {
			t.Fatalf("store of peer %d not kept: %v", i, err)
		}
	}
	code, out, errs = demoRun(t, "-peers", "3", "-messages", "6", "-dir", dir, "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, errs)
	}
	checkSummary(t, out, 3, 15)
}

// TestTemporaryDirRemoved: without -dir the stores live in a temporary
// folder that is gone afterwards.
func TestTemporaryDirRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, out, errs := demoRun(t, "-peers", "2", "-messages", "2", "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	checkSummary(t, out, 2, 2)
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("temporary folder left behind: %v", left)
	}
}

// TestNotConverged: peers that cannot meet before the timeout (their first
// walk is due up to a minute later) make the demo say who lacks what, and
// exit 1.
func TestNotConverged(t *testing.T) {
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "6", "-step", "1m", "-timeout", "50ms")
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stdout %q stderr:\n%s", code, exitFail, out, errs)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	head := regexp.MustCompile(`^demo: not converged within 50ms \([0-5] of 6 messages on all peers\):$`)
	lack := regexp.MustCompile(`^  peer [0-2] lacks [1-4] of 6 messages(, [1-2] of 3 statuses)?(, 1 of 1 moderator announcements)?$`)
	i := slices.IndexFunc(lines, head.MatchString)
	if i < 0 || i == len(lines)-1 {
		t.Fatalf("stderr has no \"not converged\" report with peer lines:\n%s", errs)
	}
	for _, l := range lines[i+1:] {
		if !lack.MatchString(l) {
			t.Errorf("report line %q does not say which peer lacks what", l)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		code, out, errs := demoRun(t, arg)
		if code != exitOK || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errs)
		}
		for _, want := range []string{"usage: demo", "-peers N", "-messages N", "-loss P", "-timeout D", "-dir DIR", "-seed N", "-step D", "converged: peers="} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: help lacks %q", arg, want)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-peers", "1"}, "-peers 1: must be between 2 and 256"},
		{[]string{"-peers", "257"}, "-peers 257"},
		{[]string{"-peers", "x"}, `invalid value "x" for flag -peers`},
		{[]string{"-messages", "0"}, "-messages 0"},
		{[]string{"-loss", "-0.1"}, "-loss -0.1"},
		{[]string{"-loss", "0.95"}, "-loss 0.95"},
		{[]string{"-loss", "NaN"}, "-loss NaN"},
		{[]string{"-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{[]string{"-step", "1ms"}, "-step 1ms"},
		{[]string{"-seed", "-1"}, `invalid value "-1" for flag -seed`},
		{[]string{"-port", "65535", "-peers", "2"}, "-port 65535"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := demoRun(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(errs, tc.want) || !strings.Contains(errs, usageLine) {
				t.Errorf("stderr %q, want %q and the usage line", errs, tc.want)
			}
		})
	}
}

// TestLocalFailures: a port in use, a folder that cannot be used and a
// damaged store each give one sentence on stderr and exit status 1.
func TestLocalFailures(t *testing.T) {
	t.Run("port in use", func(t *testing.T) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		port := strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
		code, out, errs := demoRun(t, "-peers", "2", "-port", port)
		wantFailure(t, code, out, errs, "peer 0 cannot listen on 127.0.0.1:"+port+": the port is in use")
	})
	t.Run("folder is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := demoRun(t, "-dir", file)
		wantFailure(t, code, out, errs, "cannot use folder "+file+": not a directory")
	})
	t.Run("folder under a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := demoRun(t, "-dir", filepath.Join(file, "sub"))
		wantFailure(t, code, out, errs, "cannot use folder "+filepath.Join(file, "sub"))
	})
	t.Run("damaged store", func(t *testing.T) {
		dir := t.TempDir()
		bad := filepath.Join(dir, "peer01.db")
		if err := os.WriteFile(bad, bytes.Repeat([]byte("not a database "), 100), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := demoRun(t, "-peers", "3", "-dir", dir)
		wantFailure(t, code, out, errs, "the store of peer 1 ("+bad+") is damaged or is not a dispersy-go store")
		got, err := os.ReadFile(bad)
		if err != nil || !bytes.HasPrefix(got, []byte("not a database")) {
			t.Errorf("the damaged file was modified (%v)", err)
		}
	})
}

func wantFailure(t *testing.T, code int, out, errs, want string) {
	t.Helper()
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFail, errs)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(errs, "demo: ") || !strings.Contains(errs, want) {
		t.Fatalf("stderr %q, want one line containing %q", errs, want)
	}
}

// cancelOnWrite cancels a context at its first write: the demo writes its
// first progress line once every peer runs and the messages are created.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

// TestInterrupted: a cancelled context (Ctrl-C in main) stops the demo,
// during setup or while it waits, with exit status 1, and releases
// everything (the temporary folder is removed).
func TestInterrupted(t *testing.T) {
	args := []string{"-peers", "3", "-messages", "3", "-step", "1m", "-timeout", "10m"}
	t.Run("while waiting", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out bytes.Buffer
		errw := &cancelOnWrite{cancel: cancel}
		code := runContext(ctx, args, &out, errw)
		if code != exitFail || !strings.HasSuffix(errw.String(), "demo: interrupted\n") {
			t.Fatalf("exit %d, stderr %q; want 1 and \"demo: interrupted\"", code, errw.String())
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("temporary folder left behind: %v", left)
		}
	})
	t.Run("during setup", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out, errb bytes.Buffer
		code := runContext(ctx, args, &out, &errb)
		if code != exitFail || !strings.HasSuffix(errb.String(), "demo: interrupted\n") {
			t.Fatalf("exit %d, stderr %q; want 1 and \"demo: interrupted\"", code, errb.String())
		}
	})
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.plainEvery = time.Second
	t0 := time.Unix(0, 0)
	p.update(t0, 0, 100)
	p.update(t0.Add(100*time.Millisecond), 10, 100) // too soon: skipped
	p.update(t0.Add(2*time.Second), 62, 100)
	p.update(t0.Add(2100*time.Millisecond), 62, 100)  // unchanged: skipped
	p.update(t0.Add(2200*time.Millisecond), 100, 100) // complete: always shown
	p.finish()
	want := "[..............................] 0/100 messages on all peers\n" +
		"[##################............] 62/100 messages on all peers\n" +
		"[##############################] 100/100 messages on all peers\n"
	if b.String() != want {
		t.Fatalf("plain progress:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	p = newProgress(&b)
	p.tty = true
	p.update(t0, 5, 10)
	p.update(t0, 5, 10)
	p.update(t0, 10, 10)
	p.finish()
	want = "\r[###############...............] 5/10 messages on all peers" +
		"\r[##############################] 10/10 messages on all peers\n"
	if b.String() != want {
		t.Fatalf("terminal progress: %q, want %q", b.String(), want)
	}
}
