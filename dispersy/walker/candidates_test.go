package walker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// flagOptions generates the flag strings of Dispersy's
// print_unittest_combinations: every combination of "twresid" of length
// 0..6, minus r without w (a reply needs a walk) and e with w or r (e means
// an old walk that was answered).
func flagOptions() []string {
	const flags = "twresid"
	var out []string
	var rec func(start int, cur string, length int)
	rec = func(start int, cur string, length int) {
		if len(cur) == length {
			if has(cur, "r") && !has(cur, "w") {
				return
			}
			if has(cur, "e") && has(cur, "wr") {
				return
			}
			out = append(out, cur)
			return
		}
		for i := start; i < len(flags); i++ {
			rec(i+1, cur+string(flags[i]), length)
		}
	}
	for length := range len(flags) {
		rec(0, "", length)
	}
	return out
}

// TestFlagOptions pins the generated set: Python's generator produced 64
// flag strings (test_mixed_1 .. test_mixed_64), the last being "twrsid".
func TestFlagOptions(t *testing.T) {
	opts := flagOptions()
	if len(opts) != 64 || opts[0] != "" || opts[1] != "t" || opts[len(opts)-1] != "twrsid" {
		t.Fatalf("got %d options %q…%q", len(opts), opts[:3], opts[len(opts)-1])
	}
}

// TestCandidates is Dispersy's test_candidates: for one, two and 22
// candidates of each flag combination, and for the 64 mixed lists, the
// yield, verified, introduce and walk rules of dispersy.md §9.3 hold.
func TestCandidates(t *testing.T) {
	opts := flagOptions()
	for _, o := range opts {
		name := o
		if name == "" {
			name = "plain"
		}
		t.Run("one_"+name, func(t *testing.T) { checkCandidates(t, []string{o}) })
		t.Run("two_"+name, func(t *testing.T) { checkCandidates(t, []string{o, o}) })
		t.Run("many_"+name, func(t *testing.T) { checkCandidates(t, slices.Repeat([]string{o}, 22)) })
	}
	for n := 1; n <= len(opts); n++ {
		t.Run(fmt.Sprintf("mixed_%d", n), func(t *testing.T) { checkCandidates(t, opts[:n]) })
	}
	t.Run("none", func(t *testing.T) { checkCandidates(t, nil) })
}

func checkCandidates(t *testing.T, allFlags []string) {
	tbl := newTable(t, newAddrs(t, self))
	rng := newRand(uint64(len(allFlags)))
	cs := flagged(t, tbl, allFlags)
	now := t0.Add(time.Hour)
	pick := func(keep func(flags string, c *Candidate) bool) []*Candidate {
		var out []*Candidate
		for i, f := range allFlags {
			if keep(f, cs[i]) {
				out = append(out, cs[i])
			}
		}
		return out
	}
	compare := func(what string, want, got []*Candidate) {
		t.Helper()
		if w, g := socks(want), socks(got); !slices.Equal(w, g) {
			t.Fatalf("flags %q: %s\nwant %v\n got %v", allFlags, what, w, g)
		}
	}
	// Calls per interface method: enough for the round-robin to visit
	// every candidate in each category.
	calls := max(10, 4*len(allFlags))

	// Candidates (dispersy_yield_candidates): s, e, i or r.
	setTimestamps(t, tbl, cs, allFlags, now)
	compare("Candidates", pick(func(f string, _ *Candidate) bool { return has(f, "seir") }), tbl.Candidates(now))

	// Verified (dispersy_yield_verified_candidates): s, e or r.
	setTimestamps(t, tbl, cs, allFlags, now)
	compare("Verified", pick(func(f string, _ *Candidate) bool { return has(f, "ser") }), tbl.Verified(now))

	// Introduce without exclusion: every s, e or r candidate, or nil.
	setTimestamps(t, tbl, cs, allFlags, now)
	want := pick(func(f string, _ *Candidate) bool { return has(f, "ser") })
	if len(want) == 0 {
		want = []*Candidate{nil}
	}
	var got []*Candidate
	for range calls {
		got = append(got, tbl.Introduce(now, nil, rng))
	}
	compare("Introduce(nil)", want, got)

	// Introduce with each candidate as the requester: never itself, never
	// a tunnelled candidate to a non-tunnelled requester.
	setTimestamps(t, tbl, cs, allFlags, now)
	for _, req := range cs {
		want := pick(func(f string, c *Candidate) bool {
			return c != req && !(!req.Tunnel() && c.Tunnel()) && has(f, "ser")
		})
		if len(want) == 0 {
			want = []*Candidate{nil}
		}
		got = got[:0]
		for range calls {
			got = append(got, tbl.Introduce(now, req, rng))
		}
		compare("Introduce("+req.Sock().String()+")", want, got)
	}

	// NextWalk: each candidate with e, or with s, i or d but no w, exactly
	// once; then nothing. Walking to a candidate makes it ineligible.
	setTimestamps(t, tbl, cs, allFlags, now)
	want = pick(func(f string, _ *Candidate) bool {
		return has(f, "e") || (has(f, "sid") && !has(f, "w"))
	})
	var walked []*Candidate
	for range want {
		c := tbl.NextWalk(now, rng)
		if c == nil {
			t.Fatalf("flags %q: NextWalk returned nil after %d of %d", allFlags, len(walked), len(want))
		}
		if slices.Contains(walked, c) {
			t.Fatalf("flags %q: NextWalk returned %v twice", allFlags, c)
		}
		walked = append(walked, c)
		tbl.Walk(now, c.Sock())
		if c.EligibleForWalk(now) {
			t.Fatalf("flags %q: %v still eligible after a walk", allFlags, c)
		}
	}
	compare("NextWalk", want, walked)
	if c := tbl.NextWalk(now, rng); c != nil {
		t.Fatalf("flags %q: NextWalk returned %v after every candidate was walked", allFlags, c)
	}
}

// TestIntroduceSequence is Dispersy's test_get_introduce_candidate and
// test_tracker_get_introduce_candidate: five candidates stumble in turn and
// each asks to be introduced; the round-robin gives [nil, c1, c2, c3, c4],
// and a second round [c5, c1, c2, c3, c4].
func TestIntroduceSequence(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	rng := newRand(1)
	cs := flagged(t, tbl, []string{"", "", "", "", ""})
	round := func(now time.Time) []string {
		var got []string
		for i, c := range cs {
			tbl.Associate(c.Sock(), member(i+1))
			if _, ok := tbl.Stumble(now, contactAt(i+1, false)); !ok {
				t.Fatal("stumble refused")
			}
			got = append(got, socks([]*Candidate{tbl.Introduce(now, c, rng)})...)
		}
		return got
	}
	want := []string{"none", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"}
	if got := round(t0); !slices.Equal(got, want) {
		t.Fatalf("first round: got %v, want %v", got, want)
	}
	want = []string{"127.0.0.1:5", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"}
	if got := round(t0.Add(time.Second)); !slices.Equal(got, want) {
		t.Fatalf("second round: got %v, want %v", got, want)
	}
}

// TestIntroductionProbabilities is Dispersy's
// test_introduction_probabilities: with one walk and one stumble candidate,
// 10,000 introductions pick the walked one 4,500–5,500 times.
func TestIntroductionProbabilities(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	flags := []string{"wr", "s"}
	cs := flagged(t, tbl, flags)
	setTimestamps(t, tbl, cs, flags, t0)
	rng := newRand(7)
	walked := 0
	for range 10000 {
		c := tbl.Introduce(t0, nil, rng)
		if c == nil {
			t.Fatal("Introduce returned nil")
		}
		if c == cs[0] {
			walked++
		}
	}
	if walked < 4500 || walked > 5500 {
		t.Fatalf("walked candidate introduced %d of 10,000 times, want 4,500–5,500", walked)
	}
}

// TestWalkProbabilities is Dispersy's test_walk_probabilities: with one
// eligible candidate in each category, 10,000 walks split 47.5 / 23.75 /
// 23.75 / 5 % (each ±10 % of its share).
func TestWalkProbabilities(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	flags := []string{"e", "s", "i", "d"}
	cs := flagged(t, tbl, flags)
	setTimestamps(t, tbl, cs, flags, t0)
	for i, want := range []Category{CategoryWalk, CategoryStumble, CategoryIntro, CategoryDiscovered} {
		if got := cs[i].Category(t0); got != want {
			t.Fatalf("candidate %d: category %v, want %v", i+1, got, want)
		}
	}
	rng := newRand(11)
	var count [4]int
	for range 10000 {
		c := tbl.NextWalk(t0, rng)
		i := slices.Index(cs, c)
		if i < 0 {
			t.Fatalf("NextWalk returned %v", c)
		}
		count[i]++
	}
	for i, share := range []float64{0.475, 0.2375, 0.2375, 0.05} {
		lo, hi := int(share*9000), int(share*11000)
		if count[i] < lo || count[i] >= hi {
			t.Errorf("%v: %d of 10,000, want %d..%d", cs[i].Category(t0), count[i], lo, hi-1)
		}
	}
}

// TestWalkOldestFirst: within a category the eligible candidate that has
// waited longest goes first (walk: oldest last walk; stumble: oldest
// stumble), and the fallback order applies when a category is empty.
func TestWalkOldestFirst(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	var cs []*Candidate
	for i := range 3 {
		c, _ := tbl.Stumble(t0.Add(time.Duration(i)*time.Second), contactAt(10+i, false))
		cs = append(cs, c)
	}
	// Make the newest stumble the oldest: stumble 0 and 1 again later.
	tbl.Stumble(t0.Add(5*time.Second), contactAt(10, false))
	tbl.Stumble(t0.Add(6*time.Second), contactAt(11, false))
	rng := newRand(3)
	now := t0.Add(10 * time.Second)
	for range 50 {
		if c := tbl.NextWalk(now, rng); c != cs[2] {
			t.Fatalf("NextWalk = %v, want the oldest stumble %v", c, cs[2])
		}
	}
}

// TestKeepAlive is Dispersy's test_keep_alive_candidate: a kept-alive walk
// candidate that times out stays walk (life support) and is returned for
// one keep-alive request; a response re-arms it.
func TestKeepAlive(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	cfg := tbl.Config()
	c, _ := tbl.WalkResponse(t0, contactAt(1, false))
	tbl.SetKeepAlive(c.Sock(), true)
	if c.Category(t0) != CategoryWalk || !c.KeepAlive() {
		t.Fatalf("category %v keepalive %v", c.Category(t0), c.KeepAlive())
	}
	t1 := t0.Add(cfg.WalkLifetime + time.Second)
	if c.Category(t1) != CategoryNone {
		t.Fatal("candidate did not time out")
	}
	res := tbl.Cleanup(t1)
	if len(res.Removed) != 0 || !slices.Equal(res.KeepAlive, []*Candidate{c}) {
		t.Fatalf("cleanup: removed %v, keep-alive %v", res.Removed, res.KeepAlive)
	}
	if c.Category(t1) != CategoryWalk || !c.OnLifeSupport() || tbl.Get(c.Sock()) != c {
		t.Fatalf("after life support: category %v, on life support %v", c.Category(t1), c.OnLifeSupport())
	}
	// Cleanup again at the same time: nothing new.
	if res := tbl.Cleanup(t1); len(res.Removed)+len(res.KeepAlive) != 0 {
		t.Fatalf("second cleanup did something: %+v", res)
	}
	// The keep-alive request is answered: life support ends, and the next
	// timeout gets life support again.
	tbl.Walk(t1, c.Sock())
	tbl.WalkResponse(t1.Add(time.Second), contactAt(1, false))
	if c.OnLifeSupport() {
		t.Fatal("a response did not end life support")
	}
	t2 := t1.Add(time.Second + cfg.WalkLifetime + time.Second)
	if res := tbl.Cleanup(t2); len(res.KeepAlive) != 1 || len(res.Removed) != 0 {
		t.Fatalf("re-armed candidate: %+v", res)
	}
	if got := tbl.Stats().KeepAlives; got != 2 {
		t.Fatalf("KeepAlives = %d, want 2", got)
	}
}

// TestKeepAliveTimeout is Dispersy's test_keep_alive_candidate_timeout:
// without a response to the keep-alive request, the second timeout leaves
// the category none and removes the candidate.
func TestKeepAliveTimeout(t *testing.T) {
	a := newAddrs(t, self)
	tbl := newTable(t, a)
	cfg := tbl.Config()
	c, _ := tbl.WalkResponse(t0, contactAt(1, false))
	tbl.SetKeepAlive(c.Sock(), true)
	t1 := t0.Add(cfg.WalkLifetime + time.Second)
	if res := tbl.Cleanup(t1); len(res.KeepAlive) != 1 {
		t.Fatalf("first timeout: %+v", res)
	}
	t2 := t1.Add(cfg.WalkLifetime + time.Second)
	if c.Category(t2) != CategoryNone {
		t.Fatalf("category after the second timeout: %v", c.Category(t2))
	}
	res := tbl.Cleanup(t2)
	if !slices.Equal(res.Removed, []*Candidate{c}) || len(res.KeepAlive) != 0 || tbl.Len() != 0 {
		t.Fatalf("second timeout: %+v, %d left", res, tbl.Len())
	}
}

// TestKeepAliveRequestTimeout: the keep-alive request itself times out
// (WalkTimeout): the candidate loses the walk category at once and the
// next cleanup removes it.
func TestKeepAliveRequestTimeout(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	cfg := tbl.Config()
	c, _ := tbl.WalkResponse(t0, contactAt(1, false))
	tbl.SetKeepAlive(c.Sock(), true)
	t1 := t0.Add(cfg.WalkLifetime + time.Second)
	tbl.Cleanup(t1)
	tbl.Walk(t1, c.Sock())
	t2 := t1.Add(cfg.IntroRequestTimeout)
	tbl.WalkTimeout(c.Sock())
	if c.Category(t2) != CategoryNone {
		t.Fatalf("category after keep-alive timeout: %v", c.Category(t2))
	}
	if res := tbl.Cleanup(t2); len(res.Removed) != 1 {
		t.Fatalf("cleanup after keep-alive timeout: %+v", res)
	}
}

// TestKeepAliveKeepsLastCategory: life support keeps the category the
// candidate held last (here stumble), and a candidate without keep-alive,
// or one that never had a category, is simply removed.
func TestKeepAliveKeepsLastCategory(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	cfg := tbl.Config()
	st, _ := tbl.Stumble(t0, contactAt(1, false))
	tbl.SetKeepAlive(st.Sock(), true)
	plain, _ := tbl.Stumble(t0, contactAt(2, false))
	never, _ := tbl.Add(t0, contactAt(3, false))
	tbl.SetKeepAlive(never.Sock(), true)
	// Intro expires before stumble would have: the last category is
	// stumble even though intro was set later.
	tbl.Intro(t0.Add(time.Second), contactAt(1, false))
	t1 := t0.Add(cfg.StumbleLifetime + 2*time.Second)
	res := tbl.Cleanup(t1)
	if !slices.Equal(res.KeepAlive, []*Candidate{st}) || st.Category(t1) != CategoryStumble {
		t.Fatalf("keep-alive %v, category %v", res.KeepAlive, st.Category(t1))
	}
	if w := socks([]*Candidate{plain, never}); !slices.Equal(socks(res.Removed), w) {
		t.Fatalf("removed %v, want %v", socks(res.Removed), w)
	}
	// Turning keep-alive off ends life support; the next timeout removes.
	tbl.SetKeepAlive(st.Sock(), false)
	if res := tbl.Cleanup(t1.Add(cfg.StumbleLifetime)); len(res.Removed) != 1 {
		t.Fatalf("after keep-alive off: %+v", res)
	}
}

// TestMergeCandidates is Dispersy's test_merge_candidates: four candidates
// sharing LAN 192.168.0.1:1 and WAN IP 1.1.1.1 on ports 1..4, unknown and
// symmetric-NAT mixed, merge into c0. Their votes go with them.
func TestMergeCandidates(t *testing.T) {
	a := newAddrs(t, "10.0.0.2:7759", "10.0.0.0/24")
	tbl := newTable(t, a)
	var cs []*Candidate
	for i, conn := range []ConnectionType{ConnectionUnknown, ConnectionSymmetricNAT, ConnectionSymmetricNAT, ConnectionUnknown} {
		sock := ap(fmt.Sprintf("1.1.1.1:%d", i+1))
		c, ok := tbl.Add(t0, Contact{Sock: sock, LAN: ap("192.168.0.1:1"), WAN: sock, Connection: conn})
		if !ok {
			t.Fatal("add refused")
		}
		a.Vote(sock, ap("5.5.5.5:1"))
		cs = append(cs, c)
	}
	tbl.Walk(t0.Add(3*time.Second), ap("1.1.1.1:3"))
	tbl.SetGlobalTime(ap("1.1.1.1:4"), 99)
	removed := tbl.MergeDuplicates(cs[0])
	if got := socks(tbl.All()); !slices.Equal(got, []string{"1.1.1.1:1"}) {
		t.Fatalf("after merge: %v", got)
	}
	if !slices.Equal(removed, cs[1:]) {
		t.Fatalf("MergeDuplicates(c0) removed %v, want c1..c3", socks(removed))
	}
	if !cs[0].LastWalk().Equal(t0.Add(3*time.Second)) || cs[0].GlobalTime() != 99 {
		t.Fatalf("merged state: last walk %v, global time %d", cs[0].LastWalk(), cs[0].GlobalTime())
	}
	if a.NumVoters() != 1 || a.Votes(ap("5.5.5.5:1")) != 1 {
		t.Fatalf("votes after merge: %d voters", a.NumVoters())
	}
	if got := tbl.Stats().Merged; got != 3 {
		t.Fatalf("Merged = %d, want 3", got)
	}

	// A stumble merges on its own (Dispersy on_introduction_request calls
	// filter_duplicate_candidate): a new port, same LAN, is folded in.
	d, _ := tbl.Add(t0, Contact{Sock: ap("1.1.1.1:9"), LAN: ap("192.168.0.1:1"), WAN: ap("1.1.1.1:9")})
	tbl.Stumble(t0.Add(4*time.Second), Contact{Sock: cs[0].Sock(), LAN: ap("192.168.0.1:1"), WAN: cs[0].Sock()})
	if tbl.Len() != 1 || tbl.Get(d.Sock()) != nil {
		t.Fatalf("Stumble did not merge: %v", socks(tbl.All()))
	}
}

// TestMergeHardening: no merge when the LAN address is unknown, or when the
// two candidates are different members.
func TestMergeHardening(t *testing.T) {
	tbl := newTable(t, newAddrs(t, "10.0.0.2:7759", "10.0.0.0/24"))
	// Two peers behind one NAT that did not report a LAN address.
	x, _ := tbl.Stumble(t0, Contact{Sock: ap("1.1.1.1:1")})
	y, _ := tbl.Stumble(t0, Contact{Sock: ap("1.1.1.1:2")})
	if tbl.Len() != 2 || x.LAN().IsValid() || y.LAN().IsValid() {
		t.Fatalf("unknown LANs merged: %d candidates", tbl.Len())
	}
	// Same WAN IP and LAN address, but different members.
	lan := ap("192.168.0.1:1")
	p, _ := tbl.Add(t0, Contact{Sock: ap("2.2.2.2:1"), LAN: lan, WAN: ap("2.2.2.2:1")})
	tbl.Associate(p.Sock(), member(1))
	tbl.Add(t0, Contact{Sock: ap("2.2.2.2:2"), LAN: lan, WAN: ap("2.2.2.2:2")})
	tbl.Associate(ap("2.2.2.2:2"), member(2))
	if removed := tbl.MergeDuplicates(p); len(removed) != 0 {
		t.Fatalf("different members merged: %v", removed)
	}
	// Same member: merged.
	tbl.Associate(ap("2.2.2.2:2"), member(1))
	if removed := tbl.MergeDuplicates(p); len(removed) != 1 {
		t.Fatalf("same member not merged: %v", removed)
	}
	if tbl.MergeDuplicates(nil) != nil {
		t.Fatal("MergeDuplicates(nil) removed something")
	}
}

// TestSymmetricRekey: a symmetric-NAT candidate that shows up from a new
// port with the same LAN address is the same candidate, moved (Dispersy
// get_candidate with replace=True); its old vote is withdrawn.
func TestSymmetricRekey(t *testing.T) {
	a := newAddrs(t, "10.0.0.2:7759", "10.0.0.0/24")
	tbl := newTable(t, a)
	lan := ap("192.168.5.5:7759")
	c, _ := tbl.Stumble(t0, Contact{Sock: ap("3.3.3.3:1000"), LAN: lan, WAN: ap("3.3.3.3:1000"), Connection: ConnectionSymmetricNAT})
	a.Vote(c.Sock(), ap("9.9.9.9:7759"))
	tbl.Associate(c.Sock(), member(3))
	d, _ := tbl.Stumble(t0.Add(time.Second), Contact{Sock: ap("3.3.3.3:2000"), LAN: lan, WAN: ap("3.3.3.3:2000"), Connection: ConnectionSymmetricNAT})
	if d != c || c.Sock() != ap("3.3.3.3:2000") || c.WAN() != ap("3.3.3.3:2000") || tbl.Len() != 1 {
		t.Fatalf("not re-keyed: %v %v, %d candidates", c, d, tbl.Len())
	}
	if tbl.Get(ap("3.3.3.3:1000")) != nil || tbl.Get(ap("3.3.3.3:2000")) != c {
		t.Fatal("index not updated")
	}
	if a.NumVoters() != 0 {
		t.Fatal("old vote not withdrawn")
	}
	if m, ok := c.Member(); !ok || m != member(3) {
		t.Fatal("member lost in the move")
	}
	// A non-symmetric candidate is not re-keyed; nor is one found through
	// Discovered.
	e, _ := tbl.Stumble(t0, Contact{Sock: ap("4.4.4.4:1"), LAN: ap("192.168.9.9:1"), WAN: ap("4.4.4.4:1")})
	f, _ := tbl.Stumble(t0, Contact{Sock: ap("4.4.4.4:2"), LAN: ap("192.168.9.8:1"), WAN: ap("4.4.4.4:2")})
	if e == f || tbl.Len() != 3 {
		t.Fatal("non-symmetric candidate re-keyed")
	}
	g, _ := tbl.Discovered(t0, Contact{Sock: ap("3.3.3.3:3000")})
	if g == c || tbl.Len() != 4 || tbl.Stats().Rekeyed != 1 {
		t.Fatalf("Discovered re-keyed: %d candidates, %d rekeys", tbl.Len(), tbl.Stats().Rekeyed)
	}
}

// TestTableBound: a full table evicts the non-verified candidate seen
// longest ago, and refuses new candidates when all are verified.
func TestTableBound(t *testing.T) {
	a := newAddrs(t, self)
	tbl := newTable(t, a, func(c *Config) { c.MaxCandidates = 3 })
	c1, _ := tbl.Intro(t0, contactAt(1, false))
	tbl.Intro(t0.Add(2*time.Second), contactAt(2, false))
	tbl.Stumble(t0.Add(time.Second), contactAt(3, false))
	a.Vote(c1.Sock(), ap("8.8.8.8:1")) // ignored: loopback voter is LAN
	now := t0.Add(3 * time.Second)
	c4, ok := tbl.Intro(now, contactAt(4, false))
	if !ok || tbl.Len() != 3 || tbl.Get(c1.Sock()) != nil || tbl.Get(c4.Sock()) != c4 {
		t.Fatalf("eviction: ok %v, %v", ok, socks(tbl.All()))
	}
	// Make every candidate verified: then a new one is refused.
	for _, p := range []int{2, 4} {
		tbl.Stumble(now, contactAt(p, false))
	}
	if c, ok := tbl.Stumble(now, contactAt(5, false)); ok || c != nil || tbl.Len() != 3 {
		t.Fatalf("a full verified table accepted %v", c)
	}
	// Updating an existing candidate still works when full.
	if _, ok := tbl.Stumble(now, contactAt(2, false)); !ok {
		t.Fatal("update refused in a full table")
	}
	st := tbl.Stats()
	if st.Evicted != 1 || st.Refused != 1 || st.Created != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRefused: invalid socket addresses and our own addresses never become
// candidates, and methods on unknown addresses report false.
func TestRefused(t *testing.T) {
	a := newAddrs(t, self)
	tbl := newTable(t, a)
	for _, ct := range []Contact{
		{},
		{Sock: ap("0.0.0.0:1")},
		{Sock: ap("1.2.3.4:0")},
		{Sock: ap("224.0.0.1:5")},
		{Sock: ap(self)},
		{Sock: ap("[::ffff:130.161.119.206]:6421")}, // our own, IPv4-mapped
	} {
		if c, ok := tbl.Stumble(t0, ct); ok || c != nil {
			t.Errorf("Stumble(%v) accepted", ct.Sock)
		}
	}
	if tbl.Len() != 0 || tbl.Stats().Refused != 6 {
		t.Fatalf("%d candidates, %d refused", tbl.Len(), tbl.Stats().Refused)
	}
	unknown := ap("1.2.3.4:5")
	if tbl.Walk(t0, unknown) || tbl.WalkTimeout(unknown) || tbl.SetGlobalTime(unknown, 1) ||
		tbl.Associate(unknown, member(1)) || tbl.SetKeepAlive(unknown, true) || tbl.Remove(unknown) != nil {
		t.Fatal("a method on an unknown candidate reported success")
	}
}

// TestIPv4Mapped: an IPv4-mapped source is the same candidate as its IPv4
// form.
func TestIPv4Mapped(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	c, _ := tbl.Stumble(t0, Contact{Sock: ap("[::ffff:1.2.3.4]:5")})
	if c.Sock() != ap("1.2.3.4:5") || tbl.Get(ap("[::ffff:1.2.3.4]:5")) != c || tbl.Get(ap("1.2.3.4:5")) != c {
		t.Fatalf("mapped address not normalised: %v", c.Sock())
	}
}

// TestCleanupWithdrawsVotes: obsolete candidates are removed and their
// votes withdrawn; live ones stay.
func TestCleanupWithdrawsVotes(t *testing.T) {
	a := newAddrs(t, "10.0.0.2:7759", "10.0.0.0/24")
	tbl := newTable(t, a)
	old, _ := tbl.Stumble(t0, Contact{Sock: ap("5.5.5.5:1")})
	live, _ := tbl.Stumble(t0.Add(time.Minute), Contact{Sock: ap("6.6.6.6:1")})
	a.Vote(old.Sock(), ap("7.7.7.7:1"))
	a.Vote(live.Sock(), ap("7.7.7.7:1"))
	now := t0.Add(time.Minute + time.Second)
	res := tbl.Cleanup(now)
	if !slices.Equal(res.Removed, []*Candidate{old}) || tbl.Len() != 1 || a.Votes(ap("7.7.7.7:1")) != 1 {
		t.Fatalf("cleanup: %+v, %d left, %d votes", res, tbl.Len(), a.Votes(ap("7.7.7.7:1")))
	}
	if tbl.Remove(live.Sock()) != live || a.NumVoters() != 0 || tbl.Stats().Removed != 1 {
		t.Fatal("Remove did not remove and unvote")
	}
}

// TestCategoryBoundaries: the lifetimes are half-open intervals
// [t, t+lifetime), and categories are checked in the order walk, stumble,
// intro, discovered.
func TestCategoryBoundaries(t *testing.T) {
	cfg := DefaultConfig()
	tbl := newTable(t, newAddrs(t, self))
	c, _ := tbl.Discovered(t0, contactAt(1, false))
	tbl.Intro(t0, contactAt(1, false))
	tbl.Stumble(t0, contactAt(1, false))
	tbl.WalkResponse(t0, contactAt(1, false))
	for _, tc := range []struct {
		at   time.Duration
		want Category
	}{
		{0, CategoryWalk},
		{cfg.WalkLifetime - 1, CategoryWalk},
		{cfg.WalkLifetime, CategoryNone}, // stumble and discovered share 57.5 s
	} {
		if got := c.Category(t0.Add(tc.at)); got != tc.want {
			t.Errorf("at +%v: %v, want %v", tc.at, got, tc.want)
		}
	}
	tbl.WalkTimeout(c.Sock())
	if got := c.Category(t0); got != CategoryStumble {
		t.Errorf("after walk timeout: %v, want stumble", got)
	}
	d, _ := tbl.Intro(t0, contactAt(2, false))
	tbl.Discovered(t0, contactAt(2, false))
	if got := d.Category(t0.Add(cfg.IntroLifetime)); got != CategoryDiscovered {
		t.Errorf("intro expired: %v, want discovered", got)
	}
	if got := d.Category(t0.Add(cfg.DiscoveredLifetime)); got != CategoryNone {
		t.Errorf("discovered expired: %v, want none", got)
	}
	for cat, name := range map[Category]string{CategoryNone: "none", CategoryWalk: "walk", CategoryStumble: "stumble",
		CategoryIntro: "intro", CategoryDiscovered: "discovered", Category(9): "Category(9)"} {
		if cat.String() != name {
			t.Errorf("%d.String() = %q", cat, cat.String())
		}
	}
}

// TestEligibility: eligible needs a category and a last walk at least
// EligibleDelay ago; an obsolete candidate is never eligible (Dispersy's
// "none" string comparison quirk, fixed).
func TestEligibility(t *testing.T) {
	cfg := DefaultConfig()
	tbl := newTable(t, newAddrs(t, self))
	c, _ := tbl.Add(t0, contactAt(1, false))
	if c.EligibleForWalk(t0) {
		t.Fatal("an obsolete candidate is eligible")
	}
	tbl.Stumble(t0, contactAt(1, false))
	if !c.EligibleForWalk(t0) {
		t.Fatal("a fresh stumble candidate is not eligible")
	}
	tbl.Walk(t0, c.Sock())
	if c.EligibleForWalk(t0.Add(cfg.EligibleDelay - 1)) {
		t.Fatal("eligible before EligibleDelay")
	}
	if !c.EligibleForWalk(t0.Add(cfg.EligibleDelay)) {
		t.Fatal("not eligible at EligibleDelay")
	}
}

// TestUpdateKeepsKnownAddresses: a report of 0.0.0.0:0 never erases a known
// address (the inverted condition of §11.4), a valid one replaces it, and
// an unknown connection type with LAN == WAN reads as public.
func TestUpdateKeepsKnownAddresses(t *testing.T) {
	tbl := newTable(t, newAddrs(t, "10.0.0.2:7759", "10.0.0.0/24"))
	sock := ap("1.1.1.1:1")
	c, _ := tbl.Stumble(t0, Contact{Sock: sock, LAN: ap("192.168.1.2:1"), WAN: sock})
	tbl.Stumble(t0, Contact{Sock: sock, LAN: ap("0.0.0.0:0"), WAN: ap("0.0.0.0:0"), Tunnel: true})
	if c.LAN() != ap("192.168.1.2:1") || c.WAN() != sock || !c.Tunnel() {
		t.Fatalf("after a zero report: lan %v wan %v tunnel %v", c.LAN(), c.WAN(), c.Tunnel())
	}
	tbl.Stumble(t0, Contact{Sock: sock, LAN: ap("192.168.1.3:1"), WAN: sock})
	if c.LAN() != ap("192.168.1.3:1") || c.Connection() != ConnectionUnknown {
		t.Fatalf("after a new report: lan %v, %v", c.LAN(), c.Connection())
	}
	tbl.Stumble(t0, Contact{Sock: sock, LAN: sock, WAN: sock})
	if c.Connection() != ConnectionPublic {
		t.Fatalf("LAN == WAN with unknown: %v, want public", c.Connection())
	}
	tbl.Stumble(t0, Contact{Sock: sock, Connection: ConnectionType(77)})
	if c.Connection() != ConnectionUnknown {
		t.Fatalf("invalid connection type kept: %v", c.Connection())
	}
	if got := c.String(); got != "{1.1.1.1:1}" {
		t.Fatalf("String() = %q", got)
	}
}

// TestMedianGlobalTime: the median of the verified candidates' reported
// global times, once there are more than five of them.
func TestMedianGlobalTime(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	for i, gt := range []uint64{50, 10, 40, 20, 30} {
		tbl.Stumble(t0, contactAt(i+1, false))
		tbl.SetGlobalTime(contactAt(i+1, false).Sock, gt)
	}
	if m := tbl.MedianGlobalTime(t0); m != 0 {
		t.Fatalf("median with 5 candidates = %d, want 0", m)
	}
	tbl.Intro(t0, contactAt(6, false)) // not verified: does not count
	tbl.SetGlobalTime(contactAt(6, false).Sock, 1000)
	tbl.Stumble(t0, contactAt(7, false)) // no global time: does not count
	if m := tbl.MedianGlobalTime(t0); m != 0 {
		t.Fatalf("median = %d, want 0", m)
	}
	tbl.Stumble(t0, contactAt(8, false))
	tbl.SetGlobalTime(contactAt(8, false).Sock, 60)
	tbl.SetGlobalTime(contactAt(8, false).Sock, 5) // keeps the highest
	if m := tbl.MedianGlobalTime(t0); m != 40 {
		t.Fatalf("median of 10..60 = %d, want 40 (upper median)", m)
	}
}

// TestRandomVerified: distinct verified candidates only, exclusions
// honoured, at most n, and roughly uniform.
func TestRandomVerified(t *testing.T) {
	tbl := newTable(t, newAddrs(t, self))
	for i := range 5 {
		tbl.Stumble(t0, contactAt(i+1, false))
	}
	tbl.Intro(t0, contactAt(9, false))
	rng := newRand(5)
	ex := func(c *Candidate) bool { return c.Sock().Port() == 1 }
	if got := tbl.RandomVerified(t0, 10, ex, rng); len(got) != 4 || slices.Contains(socks(got), "127.0.0.1:1") {
		t.Fatalf("RandomVerified(10) = %v", socks(got))
	}
	if got := tbl.RandomVerified(t0, 0, nil, rng); got != nil {
		t.Fatalf("RandomVerified(0) = %v", got)
	}
	var count [10]int
	for range 10000 {
		got := tbl.RandomVerified(t0, 2, nil, rng)
		if len(got) != 2 || got[0] == got[1] {
			t.Fatalf("got %v", socks(got))
		}
		for _, c := range got {
			if !c.Verified(t0) {
				t.Fatalf("unverified %v", c)
			}
			count[c.Sock().Port()]++
		}
	}
	for p := 1; p <= 5; p++ { // each 4,000 expected
		if count[p] < 3600 || count[p] > 4400 {
			t.Errorf("port %d chosen %d times, want ≈ 4,000", p, count[p])
		}
	}
}

// TestDeterministic: the same seed and inputs give the same selections.
func TestDeterministic(t *testing.T) {
	run := func() string {
		tbl := newTable(t, newAddrs(t, self))
		flags := flagOptions()
		cs := flagged(t, tbl, flags)
		setTimestamps(t, tbl, cs, flags, t0)
		rng := newRand(99)
		var b strings.Builder
		for i := range 200 {
			fmt.Fprint(&b, tbl.NextWalk(t0, rng), tbl.Introduce(t0, cs[i%len(cs)], rng), socks(tbl.RandomVerified(t0, 3, nil, rng)))
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatal("two runs with the same seed differ")
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("zero Config valid")
	}
	for _, field := range []string{"WalkLifetime", "StumbleLifetime", "IntroLifetime", "DiscoveredLifetime",
		"EligibleDelay", "IntroRequestTimeout", "StepInterval", "MaxCandidates"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate does not report %s: %v", field, err)
		}
	}
	c := DefaultConfig()
	c.IntroRequestTimeout = c.WalkLifetime
	c.MedianMinCandidates = -1
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "IntroRequestTimeout") || !strings.Contains(err.Error(), "MedianMinCandidates") {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := NewTable(Config{}, newAddrs(t, self)); err == nil {
		t.Fatal("NewTable accepted an invalid Config")
	}
	if _, err := NewTable(DefaultConfig(), nil); err == nil {
		t.Fatal("NewTable accepted nil Addresses")
	}
}
