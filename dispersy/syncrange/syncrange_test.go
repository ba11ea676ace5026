package syncrange

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// rows is a Store of one type: message i has global time i+1 and a
// 100-byte packet. (The engine's own tests run Choose and Answer on every
// Store through dispersy.ChooseSyncRange and dispersy.AnswerSync.)
type rows int

func (n rows) row(i int) Row {
	var h Hash
	h[0], h[1] = byte(i>>8), byte(i)
	return Row{Hash: h, Packet: make([]byte, 100)}
}

func (n rows) Scan(q ScanQuery, fn func(ScanRow) bool) error {
	for i := range int(n) {
		gt := uint64(i + 1)
		if gt < q.From || (q.Modulo > 1 && (gt+q.Offset)%q.Modulo != 0) {
			continue
		}
		if !fn(ScanRow{GlobalTime: gt, Hash: n.row(i).Hash}) {
			return nil
		}
	}
	return nil
}

func (n rows) Count(keys.CommunityID, []uint8) (int, error) { return int(n), nil }

func (n rows) Range(q RangeQuery, fn func(*Row) bool) error {
	for i := range int(n) {
		if gt := uint64(i + 1); gt >= q.Low && gt <= q.High {
			r := n.row(i)
			if !fn(&r) {
				return nil
			}
		}
	}
	return nil
}

// TestOnItsOwnStore: the package needs nothing but its Store interface.
func TestOnItsOwnStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r, err := Choose(rows(1000), RangeParams{Types: []uint8{1}, Capacity: 300, GlobalTime: 1000, Acceptable: 2000, Strategy: Modulo}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if r.Modulo != 4 || len(r.Hashes) != 250 || r.StoredCount != 1000 {
		t.Fatalf("modulo range %d with %d hashes (stored %d), want 4, 250, 1000", r.Modulo, len(r.Hashes), r.StoredCount)
	}
	pkts, err := Answer(rows(1000), AnswerParams{Types: []SyncTypeOrder{{ID: 1, Direction: policy.Ascending}}, Low: 1, High: 1000, Modulo: 1, Budget: 1000,
		Has: func(h Hash) bool { return slices.Contains(r.Hashes, h) }}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 10 {
		t.Fatalf("answer of %d packets, want 10 (1,000 bytes of 100-byte packets)", len(pkts))
	}
}
