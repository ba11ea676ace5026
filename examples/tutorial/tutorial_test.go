// Package tutorial_test runs the tutorial's programs (docs/tutorial.md) as
// separate processes talking UDP over loopback.
package tutorial_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/examples/internal/proc"
)

const addrRE = `(127\.0\.0\.1:\d+)`

// Step 1: two peers that find each other through a bootstrap address.
func TestTutorialStep1TwoPeersFindEachOther(t *testing.T) {
	bin := proc.Build(t, "./step1")
	a := proc.Start(t, "peer 1", "", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem")
	m := a.Wait(t, `^I am: ([0-9a-f]{40}) at `+addrRE)
	midA, addrA := m[1], m[2]
	b := proc.Start(t, "peer 2", "", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-bootstrap", addrA)
	m = b.Wait(t, `^I am: ([0-9a-f]{40}) at `+addrRE)
	midB, addrB := m[1], m[2]
	b.Wait(t, `^found peer `+midA+` at `+regexp.QuoteMeta(addrA)+`$`)
	a.Wait(t, `^found peer `+midB+` at `+regexp.QuoteMeta(addrB)+`$`)
}

// Step 2: each peer prints the peers it knows, periodically.
func TestTutorialStep2PrintPeers(t *testing.T) {
	bin := proc.Build(t, "./step2")
	a := proc.Start(t, "peer 1", "", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem", "-every", "500ms")
	addrA := a.Wait(t, `^I am: Peer<`+addrRE+`, [0-9a-f]{40}>$`)[1]
	a.Wait(t, `^I know: \[\]$`) // nobody yet
	b := proc.Start(t, "peer 2", "", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-every", "500ms", "-bootstrap", addrA)
	addrB := b.Wait(t, `^I am: Peer<`+addrRE+`, [0-9a-f]{40}>$`)[1]
	b.Wait(t, `^I know: \[Peer<`+regexp.QuoteMeta(addrA)+`, [0-9a-f]{40}>\]$`)
	a.Wait(t, `^I know: \[Peer<`+regexp.QuoteMeta(addrB)+`, [0-9a-f]{40}>\]$`)
}

// Step 3: three peers agree on an ever-increasing Lamport clock.
func TestTutorialStep3LamportClock(t *testing.T) {
	bin := proc.Build(t, "./step3")
	a := proc.Start(t, "peer 1", "", bin, "-listen", "127.0.0.1:0", "-key", "ec1.pem", "-every", "500ms")
	addrA := a.Wait(t, `^I am: [0-9a-f]{40} at `+addrRE)[1]
	b := proc.Start(t, "peer 2", "", bin, "-listen", "127.0.0.1:0", "-key", "ec2.pem", "-every", "500ms", "-bootstrap", addrA)
	c := proc.Start(t, "peer 3", "", bin, "-listen", "127.0.0.1:0", "-key", "ec3.pem", "-every", "500ms", "-bootstrap", addrA)
	// Every peer takes part, and each one's clock passes 100: they keep
	// raising each other's clocks past everything they saw.
	for _, p := range []*proc.Proc{a, b, c} {
		m := p.Wait(t, `^[0-9a-f]{40} current clock: (\d{3,})$`)
		if v, _ := strconv.Atoi(m[1]); v < 100 {
			t.Fatalf("%s clock %d", p.Name(), v)
		}
	}
}

// The gossip demo: a seed node and two members; one member's data reaches
// everyone, acknowledged.
func TestTutorialGossipDemo(t *testing.T) {
	bin := proc.Build(t, "./gossip")
	seed := proc.Start(t, "seed", "", bin, "-listen", "127.0.0.1:0")
	addrS := seed.Wait(t, `^node [0-9a-f]{40} at `+addrRE)[1]
	m1 := proc.Start(t, "member 1", "", bin, "-listen", "127.0.0.1:0", "-seed", addrS)
	addr1 := m1.Wait(t, `^node [0-9a-f]{40} at `+addrRE)[1]
	// Gossip reaches the members a node knows when it spreads: wait until
	// the seed knows member 1.
	seed.Wait(t, `^member `+regexp.QuoteMeta(addr1)+`$`)
	m2 := proc.Start(t, "member 2", "", bin, "-listen", "127.0.0.1:0", "-seed", addrS, "-say", "Hello Gossip!")
	for _, p := range []*proc.Proc{m2, seed, m1} {
		p.Wait(t, `^data: Hello Gossip!$`)
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
