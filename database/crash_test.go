package database

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// The crash test: a child process (this test binary, running
// TestCrashChild with crashChildEnv set) applies batches in a loop and
// prints "committed N" after each Apply returns; the parent kills it with
// SIGKILL at random moments, many times over the same file, then checks
// that the file is intact and every reported batch is there, whole.

const (
	crashChildEnv = "DISPERSY_DB_CRASH_CHILD" // the database path
	crashSeedEnv  = "DISPERSY_DB_CRASH_SEED"  // reproduce a run's kill delays
	crashPerBatch = 25
)

var crashCID = keys.CommunityID{0xc7}

// crashBatch returns batch n: crashPerBatch messages and the option "last".
func crashBatch(n int) *dispersy.Batch {
	var b dispersy.Batch
	m := keys.MemberID{byte(n % 251), byte(n / 251)}
	for k := range crashPerBatch {
		p := fmt.Appendf(nil, "batch %d message %d %s", n, k, strings.Repeat("p", 160))
		b.Put(dispersy.Record{Community: crashCID, Member: m, GlobalTime: uint64(1 + n*crashPerBatch + k), MessageID: 1,
			Hash: dispersy.PacketHash(p), Packet: p})
	}
	b.SetOption("last", []byte(strconv.Itoa(n)))
	return &b
}

// runCrashChild applies batches after the last stored one to the store at
// path, writing "committed N" to out after each, until limit batches (or
// forever when limit < 0).
func runCrashChild(path string, out io.Writer, limit int) error {
	s, err := Open(path, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	next := 0
	if v, ok, err := s.Option("last"); err != nil {
		return err
	} else if ok {
		last, err := strconv.Atoi(string(v))
		if err != nil {
			return err
		}
		next = last + 1
	} else {
		var b dispersy.Batch
		b.PutCommunity(dispersy.CommunityRecord{ID: crashCID, Master: []byte("m"), Me: keys.MemberID{1}})
		if err := s.Apply(&b); err != nil {
			return err
		}
	}
	for n := next; limit < 0 || n < next+limit; n++ {
		if err := s.Apply(crashBatch(n)); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "committed %d\n", n); err != nil {
			return err
		}
	}
	return nil
}

// TestCrashChild is the child of TestCrash when crashChildEnv is set; run
// directly, it checks the child's loop in process.
func TestCrashChild(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := runCrashChild(path, os.Stdout, -1); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "db")
	var out bytes.Buffer
	for range 2 { // the second run continues after the first
		if err := runCrashChild(path, &out, 3); err != nil {
			t.Fatal(err)
		}
	}
	if want := "committed 0\ncommitted 1\ncommitted 2\ncommitted 3\ncommitted 4\ncommitted 5\n"; out.String() != want {
		t.Fatalf("child output %q, want %q", out.String(), want)
	}
	checkCrashStore(t, path, 5)
}

// checkCrashStore checks integrity, that batches 0..reported are whole,
// and that no batch is partly present; it returns the batches present.
func checkCrashStore(t *testing.T, path string, reported int) int {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after the crashes: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
	perBatch := map[int]int{}
	err = s.Replay(crashCID, []uint8{1}, func(r *dispersy.Record) bool {
		perBatch[int(r.GlobalTime-1)/crashPerBatch]++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= reported; n++ {
		if perBatch[n] != crashPerBatch {
			t.Fatalf("reported batch %d has %d of %d messages", n, perBatch[n], crashPerBatch)
		}
	}
	for n, c := range perBatch {
		if c != crashPerBatch {
			t.Fatalf("batch %d is partly present: %d of %d messages", n, c, crashPerBatch)
		}
	}
	return len(perBatch)
}

func TestCrash(t *testing.T) {
	kills, maxDelay := 24, 250*time.Millisecond
	if *long {
		kills = 200
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "crash.db")
	reported := -1
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill at a random moment: sometimes while it opens (and recovers)
		// the store, mostly while it writes.
		delay := time.Duration(rng.Int64N(int64(maxDelay)))
		timer := time.NewTimer(delay)
		got := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				if n, err := strconv.Atoi(strings.TrimPrefix(line, "committed ")); err == nil && strings.HasPrefix(line, "committed ") {
					// A kill between a commit and its line loses the line, not
					// the batch: the next child goes on after it.
					if n <= reported {
						t.Fatalf("kill %d: child committed %d after %d", i, n, reported)
					}
					reported = n
					got++
				}
			case <-timer.C:
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				timer.C = nil
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v, not by SIGKILL: %s", i, err, stderr.String())
		}
		t.Logf("kill %d after %v: %d batches committed (last %d)", i, delay.Round(time.Millisecond), got, reported)
	}
	if reported < 0 {
		t.Fatal("no child ever committed a batch")
	}
	present := checkCrashStore(t, path, reported)
	t.Logf("%d kills; %d batches reported, %d present", kills, reported+1, present)
}
