package database

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/keys"
)

// startLockChild runs this test binary as a process that holds a lock on
// path (mode "write" or "exclusive", see lockChild) and returns once it
// holds it; the returned function releases it.
func startLockChild(t *testing.T, mode, path string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+mode+":"+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lock child said %q, %v", line, err)
	}
	return func() {
		stdin.Close()
		go io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Errorf("lock child: %v", err)
		}
	}
}

// TestLocked opens a database another process holds: a clear ErrLocked
// once the busy timeout passes, not a hang, and nothing written.
func TestLocked(t *testing.T) {
	timeout := 200 * time.Millisecond
	t.Run("writer", func(t *testing.T) {
		// The other process holds BEGIN EXCLUSIVE: in WAL mode we can still
		// open and read, but a batch fails.
		path := filepath.Join(t.TempDir(), "db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		setupOne(t, s)
		s.Close()
		release := startLockChild(t, "write", path)
		s, err = Open(path, Options{BusyTimeout: timeout})
		if err != nil {
			release()
			t.Fatalf("Open while another process writes: %v", err)
		}
		defer s.Close()
		if ok, err := s.Has(testCID, dispersy.MessageKey{Member: testMember, GlobalTime: 1}); err != nil || !ok {
			t.Errorf("Has while locked = %v, %v; want true", ok, err)
		}
		var b dispersy.Batch
		b.Put(testRecord(2))
		b.SetOption("x", []byte("y"))
		err = s.Apply(&b)
		if !errors.Is(err, ErrLocked) {
			t.Errorf("Apply while locked = %v, want ErrLocked", err)
		} else if !strings.Contains(err.Error(), "stop the other program") {
			t.Errorf("error does not say what to do: %v", err)
		}
		release()
		// Once the other process is gone, the same store writes again and
		// nothing of the failed batch was kept.
		if ok, _ := s.Has(testCID, dispersy.MessageKey{Member: testMember, GlobalTime: 2}); ok {
			t.Fatal("the failed batch left a message")
		}
		if err := s.Apply(&b); err != nil {
			t.Fatalf("Apply after the lock is released: %v", err)
		}
	})
	t.Run("exclusive", func(t *testing.T) {
		// The other process uses locking_mode=EXCLUSIVE (as Python
		// Dispersy did): we cannot even read.
		path := filepath.Join(t.TempDir(), "db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		release := startLockChild(t, "exclusive", path)
		defer release()
		s, err = Open(path, Options{BusyTimeout: timeout})
		if err == nil {
			s.Close()
			t.Fatal("Open of an exclusively locked database succeeded")
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open = %v, want ErrLocked", err)
		}
	})
}

var (
	testCID    = keys.CommunityID{0x7e}
	testMember = keys.MemberID{0x7a}
)

func testRecord(gt uint64) dispersy.Record {
	p := fmt.Appendf(nil, "test packet %d %s", gt, strings.Repeat("x", 150))
	return dispersy.Record{Community: testCID, Member: testMember, GlobalTime: gt, MessageID: 1, Hash: dispersy.PacketHash(p), Packet: p}
}

// setupOne stores the test community and the message at global time 1.
func setupOne(t *testing.T, s *Store) {
	t.Helper()
	var b dispersy.Batch
	b.PutCommunity(dispersy.CommunityRecord{ID: testCID, Master: []byte("m"), Me: testMember})
	b.Put(testRecord(1))
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
}

// TestFull fills a database capped by max_page_count: ErrFull, the failing
// batch leaves nothing, earlier batches stay, and deleting makes room.
func TestFull(t *testing.T) {
	s := openTemp(t, Options{MaxPageCount: 60})
	defer s.Close()
	setupOne(t, s)
	gt := uint64(2)
	var full error
	batches := 0
	for full == nil {
		var b dispersy.Batch
		for range 20 {
			b.Put(testRecord(gt))
			gt++
		}
		if full = s.Apply(&b); full == nil {
			batches++
		}
		if batches > 1000 {
			t.Fatal("never full")
		}
	}
	if !errors.Is(full, ErrFull) || !strings.Contains(full.Error(), "rolled back") {
		t.Fatalf("Apply on a full database = %v, want ErrFull", full)
	}
	n, err := s.Count(testCID, []uint8{1})
	if err != nil || n != 1+20*batches {
		t.Fatalf("Count = %d, %v; want %d (every committed batch, none of the failed one)", n, err, 1+20*batches)
	}
	var b dispersy.Batch
	b.Prune(testCID, 1, gt/2)
	if err := s.Apply(&b); err != nil {
		t.Fatalf("Prune on a full database: %v", err)
	}
	b.Reset()
	b.Put(testRecord(gt))
	if err := s.Apply(&b); err != nil {
		t.Fatalf("Put after pruning: %v", err)
	}
	if err := s.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
}

// integrityCheck runs PRAGMA integrity_check.
// TestCorrupt damages the pages of a store: a clear ErrCorrupt, no panic.
func TestCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	setupOne(t, s)
	benchCommunity(t, s)
	fillBench(t, s, 0, 3000, 1000)
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 64*4096 {
		t.Fatalf("store is only %d bytes", len(data))
	}
	// Overwrite every other page after the first few with a pattern.
	for p := 8; p*4096 < len(data); p += 2 {
		for i := p * 4096; i < (p+1)*4096; i++ {
			data[i] = byte(i * 7)
		}
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open of a corrupt store = %v, want ErrCorrupt", err)
		}
		return
	}
	defer s.Close()
	errs := []error{
		s.Replay(benchCID, []uint8{1, 2}, func(*dispersy.Record) bool { return true }),
		s.Scan(dispersy.ScanQuery{Community: benchCID, Types: []uint8{1, 2}}, func(dispersy.ScanRow) bool { return true }),
		s.IntegrityCheck(),
	}
	found := false
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "integrity_check") {
			t.Errorf("error on a corrupt store: %v, want ErrCorrupt", err)
		}
		found = found || errors.Is(err, ErrCorrupt)
	}
	if !found {
		t.Fatalf("no read of a corrupt store reported ErrCorrupt: %v", errs)
	}
}

// TestConcurrentReads reads from several goroutines while batches commit:
// a read sees every message of a batch or none (run with -race).
func TestConcurrentReads(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	setupOne(t, s)
	const per, batches = 10, 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				batch := uint64(i*7+w) % batches
				gts := make([]uint64, per)
				for k := range gts {
					gts[k] = 10 + batch*per + uint64(k)
				}
				recs, err := s.ByGlobalTimes(testCID, testMember, gts)
				if err != nil {
					errc <- err
					return
				}
				if len(recs) != 0 && len(recs) != per {
					errc <- fmt.Errorf("read %d messages of a %d-message batch", len(recs), per)
					return
				}
				if _, err := s.Count(testCID, []uint8{1}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for batch := range uint64(batches) {
		var b dispersy.Batch
		for k := range uint64(per) {
			b.Put(testRecord(10 + batch*per + k))
		}
		if err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n, _ := s.Count(testCID, []uint8{1}); n != 1+per*batches {
		t.Fatalf("Count = %d", n)
	}
}
