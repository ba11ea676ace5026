package timeline

// Benchmarks on a community sized like a busy Dispersy one: 1,000
// permission messages, 200 members, 10 admins, 8 types.
//
//	go test ./timeline -run '^$' -bench . -benchmem

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

const (
	benchMembers  = 200
	benchAdmins   = 10
	benchTypes    = 8
	benchMessages = 1000
	benchSettings = 236
)

func benchMember(i int) keys.MemberID { return keys.MemberID{byte(i >> 8), byte(i), 0x42} }

func benchConfig() Config {
	res := map[uint8]policy.Resolution{benchSettings: policy.LinearResolution{}}
	for typ := 1; typ <= benchTypes; typ++ {
		res[uint8(typ)] = policy.LinearResolution{}
	}
	res[benchTypes] = policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}}
	return Config{Master: tMaster, SettingsType: benchSettings, Resolutions: res}
}

// benchHistory returns benchMessages messages in replay order: the master
// makes admins, admins grant and revoke permit to members, and the master
// flips the dynamic type now and then.
func benchHistory() []Message {
	r := rand.New(rand.NewPCG(1, 2))
	var ms []Message
	gt := uint64(1)
	for a := range benchAdmins {
		var gs []Grant
		for typ := 1; typ <= benchTypes; typ++ {
			gs = append(gs, Grant{Member: benchMember(a), Type: uint8(typ), Permission: Authorize | Revoke | Permit})
		}
		ms = append(ms, Message{Kind: KindAuthorize, Ref: Ref{tMaster, gt}, Grants: gs})
		gt++
	}
	for len(ms) < benchMessages {
		gt += uint64(r.IntN(3))
		author := benchMember(r.IntN(benchAdmins))
		m := Message{Kind: KindAuthorize, Ref: Ref{author, gt}, Tiebreak: []byte{byte(r.IntN(256))}}
		switch x := r.IntN(100); {
		case x < 5:
			m = Message{Kind: KindDynamicSettings, Ref: Ref{tMaster, gt}, Settings: []Setting{{benchTypes, uint8(r.IntN(2))}}}
		case x < 25:
			m.Kind = KindRevoke
			fallthrough
		default:
			for range 1 + r.IntN(3) {
				m.Grants = append(m.Grants, Grant{Member: benchMember(benchAdmins + r.IntN(benchMembers)), Type: uint8(1 + r.IntN(benchTypes)), Permission: Permit})
			}
		}
		if slices.ContainsFunc(ms, func(x Message) bool { return x.Ref == m.Ref }) {
			continue
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Message) int {
		x := orderKey{a.Ref.GlobalTime, a.Tiebreak, a.Ref.Author}
		y := orderKey{b.Ref.GlobalTime, b.Tiebreak, b.Ref.Author}
		return compareOrder(&x, &y)
	})
	return ms
}

func benchTimeline(b *testing.B) (*Timeline, []Message) {
	b.Helper()
	tl, err := New(benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	ms := benchHistory()
	tl.InsertBatch(ms)
	return tl, ms
}

type benchQuery struct {
	member keys.MemberID
	typ    uint8
	gt     uint64
}

func benchQueries(ms []Message) []benchQuery {
	r := rand.New(rand.NewPCG(3, 4))
	maxGT := ms[len(ms)-1].Ref.GlobalTime
	qs := make([]benchQuery, 4096)
	for i := range qs {
		qs[i] = benchQuery{benchMember(benchAdmins + r.IntN(benchMembers)), uint8(1 + r.IntN(benchTypes-1)), uint64(r.IntN(int(maxGT) + 10))}
	}
	return qs
}

// BenchmarkCheckLinear is the hot path: one Linear check per incoming message.
func BenchmarkCheckLinear(b *testing.B) {
	tl, ms := benchTimeline(b)
	qs := benchQueries(ms)
	member := make([]keys.MemberID, 1)
	allowed := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := qs[i%len(qs)]
		member[0] = q.member
		if ok, _ := tl.Check(member, q.typ, q.gt); ok {
			allowed++
		}
	}
	b.ReportMetric(float64(allowed)/float64(b.N), "allowed/op")
}

// BenchmarkCheckDynamic checks the dynamic type, whose policy changes over time.
func BenchmarkCheckDynamic(b *testing.B) {
	tl, ms := benchTimeline(b)
	qs := benchQueries(ms)
	member := make([]keys.MemberID, 1)
	for i := 0; b.Loop(); i++ {
		q := qs[i%len(qs)]
		member[0] = q.member
		tl.Check(member, benchTypes, q.gt)
	}
}

// BenchmarkCheckPublic is the floor: a type without a permission history.
func BenchmarkCheckPublic(b *testing.B) {
	tl, _ := benchTimeline(b)
	member := []keys.MemberID{benchMember(benchAdmins)}
	for b.Loop() {
		tl.Check(member, 100, 500)
	}
}

// BenchmarkAllowedUndo is the undo-other check.
func BenchmarkAllowedUndo(b *testing.B) {
	tl, ms := benchTimeline(b)
	qs := benchQueries(ms)
	for i := 0; b.Loop(); i++ {
		q := qs[i%len(qs)]
		tl.Allowed(benchMember(i%benchAdmins), q.typ, Revoke, q.gt)
	}
}

// BenchmarkLoad builds the whole timeline: in replay order one by one
// (each insert appends), as one batch in random order, and one by one in
// random order (each insert replays its suffix: the worst case).
func BenchmarkLoad(b *testing.B) {
	ms := benchHistory()
	shuffled := slices.Clone(ms)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	cfg := benchConfig()
	for _, bc := range []struct {
		name  string
		order []Message
		batch bool
	}{
		{"sorted-inserts", ms, false},
		{"shuffled-batch", shuffled, true},
		{"shuffled-inserts", shuffled, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				tl, _ := New(cfg)
				if bc.batch {
					tl.InsertBatch(bc.order)
					continue
				}
				for _, m := range bc.order {
					tl.Insert(m)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ms)), "ns/msg")
		})
	}
}

// BenchmarkInsertLate inserts (and removes again) one authorize at the
// lowest global time of a full timeline: the whole suffix replays twice.
// BenchmarkInsertNewest does the same at the highest global time.
func BenchmarkInsertLate(b *testing.B)   { benchInsertAt(b, 0) }
func BenchmarkInsertNewest(b *testing.B) { benchInsertAt(b, 1<<40) }

func benchInsertAt(b *testing.B, gt uint64) {
	tl, _ := benchTimeline(b)
	m := authorize(tMaster, gt, benchMember(benchAdmins), 1, Permit)
	for b.Loop() {
		tl.Insert(m)
		tl.Remove(m.Ref)
	}
}

// BenchmarkInsertInvalidLate inserts (and removes) an unauthorized
// authorize at the lowest global time: no replay is needed.
func BenchmarkInsertInvalidLate(b *testing.B) {
	tl, _ := benchTimeline(b)
	m := authorize(benchMember(benchAdmins), 0, benchMember(benchAdmins), 1, Authorize)
	for b.Loop() {
		tl.Insert(m)
		tl.Remove(m.Ref)
	}
}
