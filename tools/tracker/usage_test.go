package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/udp"
)

// TestHelp: -h prints the whole help on stdout, in the other tools' style
// (flags with their defaults, the output, the exit statuses), and exits 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{arg}, &out, &errOut); code != exitOK || errOut.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q; want 0 and nothing", arg, code, errOut.String())
		}
		for _, want := range []string{
			"usage: tracker [-addr HOST] [-port N] [-stats D] [-max-communities N]",
			"-addr HOST", "(default 0.0.0.0)",
			"-port N", "(default 6421)",
			"-stats D", "(default 1m)", "communities=N received=N sent=N dropped=N",
			"-max-communities N", "(default 4096)",
			"Exit status: 0", "1 when", "2 for a usage error",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: help lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
}

// TestUsageErrorsNameTheFlag: every bad flag or value is exit status 2 with
// one line naming the flag and its value, then the usage line, on stderr.
func TestUsageErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-port", "x"}, `invalid value "x" for flag -port`},
		{[]string{"-port", "70000"}, "-port 70000: must be 0..65535"},
		{[]string{"-port", "-1"}, "-port -1: must be 0..65535"},
		{[]string{"-stats", "-1s"}, "-stats -1s: must be >= 0 (0: never)"},
		{[]string{"-stats", "10"}, `invalid value "10" for flag -stats`},
		{[]string{"-max-communities", "0"}, "-max-communities 0: must be at least 1"},
		{[]string{"-addr", "127.0.0.1:7759"}, `-addr "127.0.0.1:7759": give the host only; the port goes in -port`},
		{[]string{"extra"}, `unexpected argument "extra": tracker takes flags only`},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		msg := errOut.String()
		if code != exitUsage || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q; want %d and nothing", tc.args, code, out.String(), exitUsage)
		}
		first, rest, _ := strings.Cut(msg, "\n")
		if !strings.HasPrefix(first, "tracker: ") || !strings.Contains(first, tc.want) || rest != usageLine+"\n" {
			t.Errorf("%q: stderr %q; want \"tracker: …%s…\" and the usage line", tc.args, msg, tc.want)
		}
	}
}

// TestListenFailureNamesTheFlags: a port that cannot be opened is one
// sentence naming -addr and -port, and exit status 1.
func TestListenFailureNamesTheFlags(t *testing.T) {
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	port := ep.LocalAddr().Port()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-addr", "127.0.0.1", "-port", fmt.Sprint(port)}, &out, &errOut)
	want := fmt.Sprintf("tracker: cannot listen on -addr 127.0.0.1 -port %d: ", port)
	if code != exitFail || out.Len() != 0 || !strings.HasPrefix(errOut.String(), want) || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line starting %q", code, out.String(), errOut.String(), want)
	}
}
