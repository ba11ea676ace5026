package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy/debughttp"
	"github.com/dispersy-go/dispersy/examples/internal/proc"
)

const (
	addrRE = `(127\.0\.0\.1:\d+)`
	midRE  = `([0-9a-f]{40})`
)

// TestBoardDeployment runs the deployment of docs/usage.md ("A real
// deployment"): a tracker, an admin and two members as separate processes
// over loopback UDP, each with its own SQLite file and key file. The admin
// grants the pin permission to member 1; member 2's pin is refused; member
// 2 is killed (SIGKILL), misses posts, restarts from its files, rebuilds its
// state and catches up; the admin's status page shows the peers and the
// messages.
func TestBoardDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs five processes")
	}
	board := proc.Build(t, ".")
	tracker := proc.Build(t, "../../tools/tracker")
	createkey := proc.Build(t, "../../tools/createkey")
	dir := t.TempDir()

	// The community's master key: the private half for the admin only, the
	// public PEM for everyone.
	pub, err := exec.Command(createkey, "-out", filepath.Join(dir, "keys"), "-pem", "high").Output()
	if err != nil {
		t.Fatal("createkey:", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	masterKey, _ := filepath.Glob(filepath.Join(dir, "keys", "*.key"))
	if len(masterKey) != 1 {
		t.Fatalf("createkey wrote %v", masterKey)
	}

	tr := proc.Start(t, "tracker", dir, tracker, "-addr", "127.0.0.1", "-port", "0")
	trAddr := tr.Wait(t, `^tracker listening on `+addrRE+`$`)[1]
	start := func(name string, extra ...string) (p *proc.Proc, mid string) {
		args := append([]string{"-db", name + ".db", "-key", name + ".pem",
			"-listen", "127.0.0.1:0", "-bootstrap", trAddr}, extra...)
		p = proc.Start(t, name, dir, board, args...)
		mid = p.Wait(t, `^member `+midRE+` at `+addrRE)[1]
		return p, mid
	}
	admin, midA := start("admin", "-admin", "-master", masterKey[0], "-http", "127.0.0.1:0")
	statusURL := "http://" + admin.Wait(t, `^status page at http://(127\.0\.0\.1:\d+)/$`)[1] + "/status.json"
	m1, mid1 := start("member1", "-master", "master.pub")
	m2, mid2 := start("member2", "-master", "master.pub")
	all := []*proc.Proc{admin, m1, m2}

	// Member 1 posts; once the admin has its post (and so its key), the
	// admin grants it the pin permission.
	m1.Send(t, "post hello from member 1")
	admin.Wait(t, `^post by `+mid1+`: hello from member 1$`)
	admin.Send(t, "grant "+mid1)
	admin.Wait(t, `^granted pin to `+mid1+`$`)
	waitMayPin(t, m1)

	// Member 1 pins twice: everyone keeps the second, the first is replaced.
	m1.Send(t, "pin first notice")
	for _, p := range all {
		p.Wait(t, `^pin by `+mid1+`: first notice$`)
	}
	m1.Send(t, "pin meeting at noon")
	for _, p := range all {
		p.Wait(t, `^pin by `+mid1+`: meeting at noon$`)
		p.Wait(t, `^pin removed \(replaced\) by `+mid1+`: first notice$`)
	}
	// Member 2 holds no permission: its pin is refused.
	m2.Send(t, "pin member 2 was here")
	m2.Wait(t, `^pin refused: not permitted$`)
	m2.Send(t, "post hello from member 2")
	for _, p := range all {
		p.Wait(t, `^post by `+mid2+`: hello from member 2$`)
	}

	// Member 2 crashes; the others post while it is down.
	m2.Kill()
	admin.Send(t, "post posted while member 2 was down")
	m1.Send(t, "post also posted while member 2 was down")
	for _, p := range []*proc.Proc{admin, m1} {
		p.Wait(t, `^post by `+midA+`: posted while member 2 was down$`)
		p.Wait(t, `^post by `+mid1+`: also posted while member 2 was down$`)
	}

	// It restarts from its files: same member, state rebuilt from the
	// store, then it catches up with what it missed.
	m2, again := start("member2", "-master", "master.pub")
	if again != mid2 {
		t.Fatalf("member 2 restarted as %s, was %s", again, mid2)
	}
	m2.Wait(t, `^replayed post by `+mid1+`: hello from member 1$`)
	m2.Wait(t, `^replayed post by `+mid2+`: hello from member 2$`)
	m2.Wait(t, `^replayed pin by `+mid1+`: meeting at noon$`)
	m2.Wait(t, `^state: 2 posts, 1 pins, may pin: false$`)
	m2.Wait(t, `^post by `+midA+`: posted while member 2 was down$`)
	m2.Wait(t, `^post by `+mid1+`: also posted while member 2 was down$`)

	// The admin's status page: both members as verified peers, and every
	// message stored (4 posts, 1 pin, 2 authorizes: master to admin, admin
	// to member 1).
	var st debughttp.Status
	client := &http.Client{Timeout: 10 * time.Second}
	poll(t, "the admin's status.json to show 2 member peers and 7 messages", func() bool {
		st = debughttp.Status{}
		resp, err := client.Get(statusURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		if len(st.Communities) != 1 || st.Communities[0].Messages != 7 {
			return false
		}
		peers := map[string]bool{}
		for _, p := range st.Communities[0].Peers {
			if p.Category == "walk" || p.Category == "stumble" {
				peers[p.Member] = true
			}
		}
		return peers[mid1] && peers[mid2]
	})
	if st.Member != midA || st.Peers < 2 || st.Stats.Stored < 7 {
		t.Errorf("status.json: member %s, %d peers, %d stored; want %s, at least 2 and 7", st.Member, st.Peers, st.Stats.Stored, midA)
	}
}

// waitMayPin asks p for its state until it may pin.
func waitMayPin(t *testing.T, p *proc.Proc) {
	t.Helper()
	poll(t, "member 1 to receive its pin permission", func() bool {
		from := p.Lines()
		p.Send(t, "state")
		m := p.WaitFrom(t, from, `^state: .*may pin: (true|false)$`)
		return m[1] == "true"
	})
}

// poll calls ok every half second until it returns true, failing the test
// after proc.Limit.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(proc.Limit); !ok(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, proc.Limit)
		}
	}
}
