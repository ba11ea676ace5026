package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPreload: -preload N writes N chat lines into every store before the
// nodes start, so every peer holds them from the start: they are among the
// messages every peer ends with, and none of them crosses the network
// (the deliveries are the new messages only). -idleprofile writes a
// profile of the idle phase.
func TestPreload(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "idle.prof")
	code, out, errs := demoRun(t, "-peers", "3", "-messages", "4", "-publishers", "2", "-preload", "500",
		"-json", "-idle", "200ms", "-idleprofile", prof, "-timeout", "2m")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	r := decodeReport(t, out)
	if !r.Converged || r.MissingAtEnd != 0 {
		t.Fatalf("report %+v: want converged", r)
	}
	if r.Messages != 504 || r.Preloaded != 500 || r.PreloadSeconds <= 0 {
		t.Errorf("report %+v: want 504 chat lines on all peers, 500 preloaded", r)
	}
	// 4 lines and 2 statuses to 2 peers each, the announcement to 2.
	if r.Deliveries != (4+2+1)*2 {
		t.Errorf("deliveries %d, want %d: the preloaded lines must not travel", r.Deliveries, (4+2+1)*2)
	}
	if r.IdleCPUCores == nil {
		t.Errorf("report %+v: idle not measured", r)
	}
	if !strings.Contains(errs, "creating 500 chat lines and writing them into 3 stores") {
		t.Errorf("stderr lacks the preload line:\n%s", errs)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s is not a gzip-compressed profile (%d bytes)", prof, len(b))
	}
}

// TestCountedSkipsFullStores: once a store holds as many messages as
// expected, the demo's polling does not count it again (a store's count
// does not shrink), so the polling costs the nodes less; the proof: a
// full store that is closed afterwards is not read.
func TestCountedSkipsFullStores(t *testing.T) {
	o, _, ok := parse([]string{"-peers", "2", "-timeout", "1m"}, io.Discard, io.Discard)
	if !ok {
		t.Fatal("parse")
	}
	d := &runner{o: o, stderr: io.Discard}
	d.deadline = time.Now().Add(o.timeout)
	defer d.close()
	if err := d.folder(); err != nil {
		t.Fatal(err)
	}
	if err := d.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if done, err := d.counted(expected{}); !done || err != nil {
		t.Fatalf("counted with nothing expected: %v, %v", done, err)
	}
	if err := d.peers[1].store.Close(); err != nil {
		t.Fatal(err)
	}
	if done, err := d.counted(expected{}); !done || err != nil {
		t.Errorf("counted read a full store again: %v, %v", done, err)
	}
}
