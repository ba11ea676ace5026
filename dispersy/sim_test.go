package dispersy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

var debugCID = dt.DebugMaster.Public().CommunityID()

// newDebugSim starts a simulation of n peers in the debug community.
func newDebugSim(t *testing.T, seed uint64, n int, loss float64) *dt.Sim {
	t.Helper()
	cfg := dt.DefaultSimConfig(seed)
	cfg.Network.Loss = loss
	sim := joinedSim(t, cfg, n)
	if err := sim.Net.RunFor(time.Minute); err != nil {
		t.Fatal(err)
	}
	return sim
}

// joinedSim makes a simulation of cfg with n peers, every one joined to
// the debug community (nothing run yet).
func joinedSim(t testing.TB, cfg dt.SimConfig, n int) *dt.Sim {
	t.Helper()
	sim, err := dt.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(n); err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dt.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	return sim
}

// simCreate creates a debug message on peer p.
func simCreate(t *testing.T, sim *dt.Sim, p *dt.SimPeer, typ *dispersy.MessageType[dt.Text], text string, opts ...dispersy.CreateOption) (*dispersy.Message[dt.Text], error) {
	t.Helper()
	var m *dispersy.Message[dt.Text]
	err := sim.Do(p, func(e *dispersy.Engine) (err error) {
		m, err = dispersy.Create(e.Community(debugCID), typ, dt.Text{Text: text}, opts...)
		return err
	})
	return m, err
}

// statesEqual reports whether every online peer has the same StateDigest
// for types.
func statesEqual(t *testing.T, sim *dt.Sim, types []uint8) bool {
	t.Helper()
	var first [32]byte
	for i, p := range sim.Online() {
		d, _, err := sim.StateDigest(p, debugCID, types)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d
		} else if d != first {
			return false
		}
	}
	return true
}

func simPeers(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

// Issue #4: a community converges under loss, and the same seed gives the
// same run.
func TestSimConvergesUnderLoss(t *testing.T) {
	run := func(seed uint64) [32]byte {
		sim := newDebugSim(t, seed, simPeers(30, 100), 0.1)
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := range 200 {
			p := sim.Peers[rng.IntN(len(sim.Peers))]
			if _, err := simCreate(t, sim, p, dt.FullSyncText, fmt.Sprint("m", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := sim.RunUntilConverged(debugCID, nil, 200, 30*time.Minute); err != nil {
			t.Fatal(err)
		}
		hs, err := sim.Hashes(sim.Peers[0], debugCID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return dt.Digest(hs)
	}
	if a, b := run(3), run(3); a != b {
		t.Fatal("the same seed gave different converged sets")
	}
}

// Issue #5: sequenced, last-N and pruned types converge together under 20%
// loss, and every peer ends with the set the rules say: every sequenced
// message; the newest 9 last-9 messages per member; no pruned-type message
// aged past the prune threshold and every active one.
func TestSimDistributionRules(t *testing.T) {
	sim := newDebugSim(t, 11, simPeers(50, 200), 0.2)
	rng := rand.New(rand.NewPCG(11, 2))
	pick := func() *dt.SimPeer { return sim.Peers[rng.IntN(len(sim.Peers))] }

	var seqWant, last9Want int
	lastByMember := map[keys.MemberID][]*dispersy.Message[dt.Text]{}
	creators := map[keys.MemberID]bool{}
	for range 30 {
		p := pick()
		if creators[p.Key.ID()] {
			continue
		}
		creators[p.Key.ID()] = true
		for i := range 5 {
			if _, err := simCreate(t, sim, p, dt.SequenceText, fmt.Sprint("seq", i)); err != nil {
				t.Fatal(err)
			}
			seqWant++
		}
		for i := range 12 {
			m, err := simCreate(t, sim, p, dt.Last9Text, fmt.Sprint("last", i))
			if err != nil {
				t.Fatal(err)
			}
			lastByMember[p.Key.ID()] = append(lastByMember[p.Key.ID()], m)
		}
		last9Want += 9
	}
	if err := sim.Net.RunFor(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Pruned-type messages at the end, so the newest stay active.
	for i := range 40 {
		if _, err := simCreate(t, sim, pick(), dt.PrunedText, fmt.Sprint("pruned", i)); err != nil {
			t.Fatal(err)
		}
	}
	seqT, lastT := []uint8{dt.SequenceText.ID()}, []uint8{dt.Last9Text.ID()}
	ok, err := sim.RunUntil(func() bool {
		for _, p := range sim.Online() {
			if sim.Count(p, debugCID, seqT) != seqWant || sim.Count(p, debugCID, lastT) != last9Want {
				return false
			}
		}
		return sim.Converged(debugCID, seqT) && sim.Converged(debugCID, lastT) && prunedSettled(t, sim)
	}, time.Second, 60*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		for _, p := range sim.Peers[:5] {
			t.Logf("peer %d: seq %d/%d last %d/%d", p.Index, sim.Count(p, debugCID, seqT), seqWant, sim.Count(p, debugCID, lastT), last9Want)
		}
		t.Fatal("did not converge")
	}
	// Last-9 keeps exactly the newest 9 per member.
	for mid, ms := range lastByMember {
		slices.SortFunc(ms, func(a, b *dispersy.Message[dt.Text]) int { return int(a.GlobalTime) - int(b.GlobalTime) })
		keep := ms[len(ms)-9:]
		for _, p := range sim.Peers {
			recs, err := p.Store.History(debugCID, dt.Last9Text.ID(), mid, keys.MemberID{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 9 {
				t.Fatalf("peer %d holds %d last-9 messages of %s", p.Index, len(recs), mid)
			}
			for i, r := range recs {
				if r.GlobalTime != keep[i].GlobalTime {
					t.Fatalf("peer %d keeps %v, want the newest 9", p.Index, r.Key())
				}
			}
		}
	}
}

// prunedSettled reports whether every peer holds exactly the active
// pruned-type messages by the common global time, none past the prune
// threshold, and the same active set.
func prunedSettled(t *testing.T, sim *dt.Sim) bool {
	t.Helper()
	var gt uint64
	for _, p := range sim.Online() {
		gt = max(gt, p.Engine.Community(debugCID).GlobalTime())
	}
	var first []uint64
	for i, p := range sim.Online() {
		if p.Engine.Community(debugCID).GlobalTime() != gt {
			return false
		}
		var active []uint64
		bad := false
		err := p.Store.Range(dispersy.RangeQuery{Community: debugCID, MessageID: dt.PrunedText.ID(), Low: 1, High: 1 << 62}, func(r *dispersy.Record) bool {
			switch d := gt - r.GlobalTime; {
			case d >= 20:
				bad = true // should have been pruned
			case d < 10:
				active = append(active, r.GlobalTime)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if bad {
			return false
		}
		if i == 0 {
			first = active
		} else if !slices.Equal(active, first) {
			return false
		}
	}
	return true
}

// Issue #6: permissions granted and revoked (and undo-others) while 100
// peers sync under loss; all peers end with the same stored state: the same
// live messages and the same messages undone by undo messages.
func TestSimPermissions(t *testing.T) {
	sim := newDebugSim(t, 21, simPeers(40, 100), 0.1)
	admin := sim.Peers[0]
	withMaster := dispersy.WithSigner(dt.DebugMaster)
	grant := func(to *dt.SimPeer, perm dispersy.Permission, typ dispersy.AnyMessageType) {
		t.Helper()
		err := sim.Do(admin, func(e *dispersy.Engine) error {
			_, err := e.Community(debugCID).Authorize(dispersy.Grants(to.Key.Public(), perm, typ), withMaster)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(from *dt.SimPeer, perm dispersy.Permission, typ dispersy.AnyMessageType) {
		t.Helper()
		err := sim.Do(admin, func(e *dispersy.Engine) error {
			_, err := e.Community(debugCID).Revoke(dispersy.Grants(from.Key.Public(), perm, typ), withMaster)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	writers := sim.Peers[1:9]
	undoer := sim.Peers[9]
	for _, w := range writers {
		grant(w, dispersy.Permit, dt.ProtectedText)
	}
	grant(undoer, dispersy.PermUndo, dt.FullSyncText)
	if err := sim.Net.RunFor(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	var targets []*dispersy.Message[dt.Text]
	for round := range 4 {
		for i, w := range writers {
			if _, err := simCreate(t, sim, w, dt.ProtectedText, fmt.Sprint("protected", round, i)); err != nil && !errors.Is(err, dispersy.ErrNotPermitted) {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			m, err := simCreate(t, sim, sim.Peers[10+5*round+i], dt.FullSyncText, fmt.Sprint("full", round, i))
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, m)
		}
		if err := sim.Net.RunFor(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		// The undoer undoes what it holds of the previous round's messages.
		for _, m := range targets[max(0, len(targets)-10):] {
			_ = sim.Do(undoer, func(e *dispersy.Engine) error {
				_, err := e.Community(debugCID).UndoMessage(m.Key())
				return err
			})
		}
		switch round {
		case 1:
			revoke(writers[0], dispersy.Permit, dt.ProtectedText)
			revoke(writers[1], dispersy.Permit, dt.ProtectedText)
		case 2:
			revoke(undoer, dispersy.PermUndo, dt.FullSyncText)
		}
	}
	types := []uint8{dt.ProtectedText.ID(), dt.FullSyncText.ID(), dispersy.IDAuthorize, dispersy.IDRevoke, dispersy.IDUndoOther}
	ok, err := sim.RunUntil(func() bool { return statesEqual(t, sim, types) }, 5*time.Second, 60*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("peers did not reach the same stored state")
	}
	d, n, _ := sim.StateDigest(admin, debugCID, types)
	undone := 0
	for _, m := range targets {
		if r, ok, _ := admin.Store.Get(debugCID, m.Key()); ok && r.Undone {
			undone++
		}
	}
	t.Logf("converged at %v: %d messages (%x…), %d full-sync messages undone", sim.Net.Now(), n, d[:4], undone)
	if undone == 0 {
		t.Fatal("no undo took effect: the scenario tests nothing")
	}
}
