package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// caughtUp matches the line the latejoin scenario ends with.
var caughtUp = regexp.MustCompile(`^caught-up: messages=(\d+) seconds=(\d+\.\d\d) bytes=(\d+)\n$`)

// TestLateJoin runs the latejoin scenario small over real UDP: three
// holders with SQLite stores, a fourth peer that starts empty and catches
// up, showing progress on stderr.
func TestLateJoin(t *testing.T) {
	modes := []string{"-reconcile=false"}
	modes = append(modes, "-reconcile")
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			code, out, errs := demoRun(t, "-scenario", "latejoin", "-messages", "2000", "-step", "50ms", "-timeout", "2m", mode)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errs)
			}
			m := caughtUp.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("stdout %q is not one caught-up: line", out)
			}
			if m[1] != "2000" {
				t.Errorf("caught-up line %q: want messages=2000", out)
			}
			secs, _ := strconv.ParseFloat(m[2], 64)
			bytes, _ := strconv.Atoi(m[3])
			// 2000 chat lines of more than 150 bytes each had to arrive.
			if secs <= 0 || bytes < 2000*150 {
				t.Errorf("caught-up line %q: seconds or bytes too small", out)
			}
			for _, w := range []string{"creating 2000 chat lines and writing them into 3 stores", "set-up: ", "peer 3 joined with an empty store", "2000/2000 messages on the joiner"} {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestLateJoinJSON(t *testing.T) {
	args := []string{"-scenario", "latejoin", "-peers", "3", "-messages", "300", "-step", "50ms", "-timeout", "2m", "-json"}
	args = append(args, "-reconcile=false")
	code, out, errs := demoRun(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	var r latejoinReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	if !r.CaughtUp || r.Held != 300 || r.Messages != 300 || r.Holders != 2 || r.Peers != 3 || r.Reconcile {
		t.Errorf("report %+v", r)
	}
	if r.BytesReceived < r.BytesLacked || r.BytesLacked < 300*150 || r.CatchupSeconds <= 0 || r.DatagramsReceived == 0 {
		t.Errorf("report %+v: bytes or time implausible", r)
	}
	if want := float64(r.BytesReceived) / float64(r.BytesLacked); r.CatchupBytesRatio != want {
		t.Errorf("catchup_bytes_ratio %v, want %v", r.CatchupBytesRatio, want)
	}
	if strings.Contains(out, "caught-up:") {
		t.Errorf("-json printed the summary line too: %q", out)
	}
}

func TestLateJoinUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "nope"},
		{"-scenario", "latejoin", "-peers", "1"},
		{"-scenario", "latejoin", "-publishers", "2"},
		{"-scenario", "latejoin", "-dir", "x"},
	} {
		if code, _, errs := demoRun(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errs)
		}
	}
}
