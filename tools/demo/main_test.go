package main

import (
	"bytes"
	"context"
	"encoding/json"
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
// walk is due up to a minute later) make the demo say that they are not
// ready, suggest a shorter -step, and exit 1; -json still reports the run.
func TestNotConverged(t *testing.T) {
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "6", "-step", "1m", "-timeout", "50ms", "-json")
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stdout %q stderr:\n%s", code, exitFail, out, errs)
	}
	want := regexp.MustCompile(`(?m)^demo: not ready within 50ms: [1-3] of 3 peers have fewer than 2 verified candidates\n  hint: -timeout 50ms holds only 0 walker steps of 1m0s; use a shorter -step \(e\.g\. -step 200ms\) or a longer -timeout \(at least 20m0s\)\n$`)
	if !want.MatchString(errs) {
		t.Errorf("stderr does not say why and what to change:\n%s", errs)
	}
	r := decodeReport(t, out)
	if r.Ready || r.Converged || r.Deliveries != 0 || r.BytesPerDelivery != 0 || r.IdleCPUCores != nil {
		t.Errorf("report of a run that never got ready: %+v", r)
	}
}

// TestNotConvergedLacking: a run that gets ready but then loses every
// datagram (the blackout test hook) lists who lacks what, ends with a
// hint, and reports the missing pairs in -json.
func TestNotConvergedLacking(t *testing.T) {
	var out, errb bytes.Buffer
	o, code, ok := parse([]string{"-peers", "3", "-messages", "6", "-publishers", "2", "-step", "20ms", "-timeout", "1s", "-json"}, &out, &errb)
	if !ok {
		t.Fatalf("parse: exit %d, stderr %q", code, errb.String())
	}
	o.blackout = true
	code = demo(context.Background(), o, &out, &errb)
	errs := errb.String()
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFail, errs)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	head := regexp.MustCompile(`^demo: not converged within 1s \(0 of 6 messages on all peers\):$`)
	i := slices.IndexFunc(lines, head.MatchString)
	if i < 0 {
		t.Fatalf("stderr has no \"not converged\" report:\n%s", errs)
	}
	// Peer 0 posts 3 lines, a status and the announcement; peer 1 posts 3
	// lines and a status; peer 2 posts nothing.
	want := []string{
		"  peer 0 lacks 3 of 6 messages, 1 of 2 statuses",
		"  peer 1 lacks 3 of 6 messages, 1 of 2 statuses, 1 of 1 moderator announcements",
		"  peer 2 lacks 6 of 6 messages, 2 of 2 statuses, 1 of 1 moderator announcements",
	}
	if got := lines[i+1:]; len(got) != len(want)+1 || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("report lines:\n%s\nwant:\n%s\nand a hint", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	hint := regexp.MustCompile(`^  hint: -timeout 1s held 50 walker steps; raise -timeout, or shorten -step`)
	if h := lines[len(lines)-1]; !hint.MatchString(h) {
		t.Errorf("last line %q is not the hint", h)
	}
	r := decodeReport(t, out.String())
	// 3+1+1 messages of peer 0 and 3+1 of peer 1, each needed by 2 peers.
	if !r.Ready || r.Converged || r.MissingAtEnd != 18 || r.Deliveries != 0 || r.BytesPerDelivery != 0 {
		t.Errorf("report: %+v; want ready, not converged, 18 missing, no deliveries", r)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		code, out, errs := demoRun(t, arg)
		if code != exitOK || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errs)
		}
		for _, want := range []string{"usage: demo", "-peers N", "-messages N", "-loss P", "-timeout D", "-dir DIR", "-seed N", "-step D", "-publishers N", "-json", "-idle D", "-cpuprofile FILE", "converged: peers="} {
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
		{[]string{"-publishers", "5", "-peers", "4"}, "-publishers 5: must be between 1 and -peers (4)"},
		{[]string{"-publishers", "-1"}, "-publishers -1"},
		{[]string{"-idle", "-1s"}, "-idle -1s"},
		{[]string{"-idleprofile", "f"}, "-idleprofile profiles the -idle phase"},
		{[]string{"-idleprofile", "f", "-idle", "1s", "-cpuprofile", "g"}, "-idleprofile profiles the -idle phase"},
		{[]string{"-preload", "-1"}, "-preload -1"},
		{[]string{"-preload", "10", "-dir", "x"}, "-preload writes into new stores"},
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
// first line once every peer runs, while it waits for them to find each
// other.
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

// decodeReport decodes the one JSON object -json prints on stdout.
func decodeReport(t *testing.T, out string) report {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("stdout %q is not one line", out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var r report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ready_seconds", "seconds", "cpu_seconds", "bytes_sent", "bytes_per_delivery", "max_rss_mb", "missing_at_end", "deliveries", "duplicates"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("stdout %q has no %q", out, k)
		}
	}
	return r
}

// TestJSON: -json prints one object whose figures agree with each other:
// every message of the publishers reached every other peer, the bytes per
// delivery are the bytes over the deliveries, and the idle measurement is
// there when -idle asks for it.
func TestJSON(t *testing.T) {
	code, out, errs := demoRun(t, "-peers", "4", "-messages", "20", "-publishers", "2", "-json", "-idle", "300ms", "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	r := decodeReport(t, out)
	if !r.Ready || !r.Converged || r.MissingAtEnd != 0 {
		t.Fatalf("report %+v: want ready, converged, nothing missing", r)
	}
	if r.Peers != 4 || r.Messages != 20 || r.Publishers != 2 || r.Step != "200ms" {
		t.Errorf("report %+v does not echo the flags", r)
	}
	// 20 lines, 2 statuses and the announcement, each needed by 3 peers.
	if r.Deliveries != 23*3 {
		t.Errorf("deliveries %d, want %d", r.Deliveries, 23*3)
	}
	if r.BytesSent == 0 || r.DatagramsSent == 0 || r.BytesPerDelivery != float64(r.BytesSent)/float64(r.Deliveries) {
		t.Errorf("bytes_sent %d, datagrams %d, bytes_per_delivery %v: want bytes_sent / deliveries", r.BytesSent, r.DatagramsSent, r.BytesPerDelivery)
	}
	if r.ReadySeconds <= 0 || r.Seconds <= 0 || r.CPUSeconds <= 0 || r.MaxRSSMB <= 0 {
		t.Errorf("report %+v: times, CPU and memory must be positive", r)
	}
	// Catch-up is on by default: its counters are summed over the peers.
	if r.Catchup == nil || r.Catchup.Sessions == 0 {
		t.Errorf("report %+v: no catch-up counters", r)
	}
	// Every delivery passed a Verifier: checked, or a copy of one checked.
	if r.SignatureChecks+r.SkippedSame == 0 {
		t.Errorf("report %+v: no signature checks counted", r)
	}
	if r.IdleCPUCores == nil || *r.IdleCPUCores < 0 || r.IdleSeconds != 0.3 {
		t.Errorf("report %+v: want idle_cpu_cores measured over 0.3 s", r)
	}
	if !strings.Contains(errs, "20/20 messages on all peers") {
		t.Errorf("stderr has no final progress line:\n%s", errs)
	}
}

// TestPublishers: only the first -publishers peers post; the others hold
// everything at the end, and their own statuses of an earlier run stay
// expected (they post no new one to replace them).
func TestPublishers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stores")
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "4", "-dir", dir, "-json", "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("first run: exit %d, stderr:\n%s", code, errs)
	}
	if r := decodeReport(t, out); r.Deliveries != (4+3+1)*2 {
		t.Fatalf("first run: %d deliveries, want %d", r.Deliveries, (4+3+1)*2)
	}
	code, out, errs = demoRun(t, "-peers", "3", "-messages", "5", "-publishers", "1", "-dir", dir, "-json", "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, errs)
	}
	r := decodeReport(t, out)
	// 5 new lines, peer 0's new status and announcement, each to 2 peers.
	if r.Messages != 9 || r.Publishers != 1 || r.Deliveries != 7*2 || r.MissingAtEnd != 0 {
		t.Fatalf("second run: %+v; want 9 messages on all peers, 14 deliveries", r)
	}
}

// TestCPUProfile: -cpuprofile writes a profile that go tool pprof reads.
func TestCPUProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.prof")
	code, out, errs := demoRun(t, "-peers", "2", "-messages", "2", "-cpuprofile", file, "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	checkSummary(t, out, 2, 2)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A profile is gzip-compressed protobuf.
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s is not a gzip-compressed profile (%d bytes)", file, len(b))
	}
	code, _, errs = demoRun(t, "-peers", "2", "-cpuprofile", filepath.Join(file, "sub"))
	wantFailure(t, code, "", errs, "cannot write the CPU profile")
}

// TestTimeoutBoundsTheRun: -timeout counts from the start, so a run whose
// peers find each other later than -timeout ends there, before any
// message is created.
func TestTimeoutBoundsTheRun(t *testing.T) {
	code, out, errs := demoRun(t, "-peers", "2", "-messages", "2", "-step", "1m", "-timeout", "1ms", "-json")
	if code != exitFail {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	// The first walk is at once, so the peers are ready a round trip
	// after they start: a 1 ms timeout is over by the first check. A run
	// whose timeout did not bound the wait for the peers would get ready
	// and then create messages.
	if r := decodeReport(t, out); r.Ready || r.Messages != 0 || r.Seconds != 0 {
		t.Fatalf("report %+v: want not ready, no message created", r)
	}
}

func TestHint(t *testing.T) {
	o := options{peers: 20, timeout: 10 * time.Second, step: time.Second}
	r := result{ready: true}
	if h := r.hint(o); !strings.Contains(h, "-timeout 10s holds only 10 walker steps of 1s; use a shorter -step (e.g. -step 200ms) or a longer -timeout (at least 20s)") {
		t.Errorf("few steps: %q", h)
	}
	o.timeout = time.Minute
	o.loss = 0.5
	if h := r.hint(o); !strings.Contains(h, "-loss 0.5") {
		t.Errorf("loss: %q", h)
	}
	o.loss = 0
	if h := r.hint(o); !strings.Contains(h, "-timeout 1m0s held 60 walker steps; raise -timeout, or shorten -step") {
		t.Errorf("plain: %q", h)
	}
	if h := (result{}).hint(o); !strings.Contains(h, "loopback UDP") {
		t.Errorf("not ready: %q", h)
	}
}
