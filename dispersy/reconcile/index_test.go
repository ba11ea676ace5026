package reconcile

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naive is the reference model: a sorted slice.
type naive []Item

func (s naive) rank(k Item) int {
	i, _ := slices.BinarySearchFunc(s, k, Item.Compare)
	return i
}

func (s naive) sum(i, j int) Sum {
	var t Sum
	for _, it := range s[i:j] {
		t.Add(&it.ID)
	}
	return t
}

func randItem(r *rand.Rand, times uint64) Item {
	var it Item
	it.Time = r.Uint64N(times)
	for i := range it.ID {
		it.ID[i] = byte(r.Uint32())
	}
	if r.IntN(4) == 0 { // share a long id prefix with others now and then
		it.ID[0], it.ID[1], it.ID[2] = 7, 7, 7
	}
	return it
}

// check compares every query of ix with the model.
func check(t *testing.T, r *rand.Rand, ix *Index, m naive) {
	t.Helper()
	if ix.Len() != len(m) {
		t.Fatalf("Len = %d, model %d", ix.Len(), len(m))
	}
	if ix.Total() != m.sum(0, len(m)) { // by Add only
		t.Fatalf("Total mismatch")
	}
	if got := ix.AppendRanks(nil, 0, ix.Len()); !slices.Equal(got, m) {
		t.Fatalf("items differ from model")
	}
	prefix := make([]Sum, len(m)+1) // prefix[k]: the model's sum of m[:k], by Add only
	for k := range m {
		prefix[k+1] = prefix[k]
		prefix[k+1].Add(&m[k].ID)
	}
	sum := func(i, j int) Sum {
		if j-i < 64 {
			return m.sum(i, j)
		}
		return prefix[j].Minus(prefix[i])
	}
	for range 50 {
		k := randItem(r, 200)
		if r.IntN(2) == 0 && len(m) > 0 {
			k = m[r.IntN(len(m))]
		}
		if got, want := ix.Rank(k), m.rank(k); got != want {
			t.Fatalf("Rank(%v) = %d, want %d", k, got, want)
		}
		if got, want := ix.SumBelow(k), prefix[m.rank(k)]; got != want {
			t.Fatalf("SumBelow(%v) = %+v, want %+v", k, got, want)
		}
		if got, want := ix.Has(k), m.rank(k) < len(m) && m[m.rank(k)] == k; got != want {
			t.Fatalf("Has(%v) = %v, want %v", k, got, want)
		}
		if len(m) == 0 {
			continue
		}
		i, j := r.IntN(len(m)+1), r.IntN(len(m)+1)
		if i > j {
			i, j = j, i
		}
		if got, want := ix.SumRanks(i, j), sum(i, j); got != want {
			t.Fatalf("SumRanks(%d,%d) = %+v, want %+v", i, j, got, want)
		}
		if got := ix.AppendRanks(nil, i, j); !slices.Equal(got, m[i:j]) {
			t.Fatalf("AppendRanks(%d,%d) differs", i, j)
		}
		if i < len(m) && ix.At(i) != m[i] {
			t.Fatalf("At(%d) differs", i)
		}
		lo, hi := randItem(r, 200), randItem(r, 200)
		if got, want := ix.Fingerprint(lo, hi), sum(m.rank(lo), max(m.rank(lo), m.rank(hi))).Fingerprint(); got != want {
			t.Fatalf("Fingerprint differs")
		}
	}
}

// TestIndexModel runs random inserts and deletes (random keys, appends in key
// order, bulk deletes that force merges) against a sorted slice.
func TestIndexModel(t *testing.T) {
	seeds := uint64(6)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(seed, 1))
		var m naive
		ix := &Index{}
		if seed%2 == 1 { // start from a bulk build
			for range r.IntN(5000) {
				m = append(m, randItem(r, 200))
			}
			slices.SortFunc(m, Item.Compare)
			m = slices.Compact(m)
			var err error
			if ix, err = Build(m); err != nil {
				t.Fatal(err)
			}
		}
		for step := range 30 {
			switch r.IntN(4) {
			case 0, 1: // random inserts, some duplicates
				for range r.IntN(3000) {
					it := randItem(r, 200)
					if len(m) > 0 && r.IntN(10) == 0 {
						it = m[r.IntN(len(m))]
					}
					p := m.rank(it)
					present := p < len(m) && m[p] == it
					if got := ix.Insert(it); got == present {
						t.Fatalf("Insert(%v) = %v, present %v", it, got, present)
					}
					if !present {
						m = slices.Insert(m, p, it)
					}
				}
			case 2: // appends in order
				next := Item{Time: 201}
				if len(m) > 0 {
					next.Time = m[len(m)-1].Time + 1
				}
				for k := range r.IntN(2000) {
					it := next
					it.Time += uint64(k / 3)
					it.ID[15] = byte(k % 3)
					if !ix.Insert(it) {
						t.Fatalf("append %v refused", it)
					}
					m = append(m, it)
				}
			case 3: // deletes: random, absent, and whole runs
				for range r.IntN(4000) {
					if len(m) == 0 {
						break
					}
					p := r.IntN(len(m))
					if r.IntN(2) == 0 {
						p = min(len(m)-1, step*37%len(m)) // a run around one place
					}
					if !ix.Delete(m[p]) {
						t.Fatalf("Delete(%v) = false", m[p])
					}
					m = slices.Delete(m, p, p+1)
					if ab := randItem(r, 200); m.rank(ab) == len(m) || m[m.rank(ab)] != ab {
						if ix.Delete(ab) {
							t.Fatalf("Delete(absent %v) = true", ab)
						}
					}
				}
			}
			check(t, r, ix, m)
		}
	}
}

func TestIndexRefusesReservedTime(t *testing.T) {
	ix := &Index{}
	if ix.Insert(Item{Time: Infinity.Time}) {
		t.Fatal("Insert at time 2^64-1 accepted")
	}
	if _, err := Build([]Item{{Time: Infinity.Time}}); err != ErrUnsorted {
		t.Fatalf("Build at time 2^64-1: %v", err)
	}
	if _, err := Build([]Item{{Time: 2}, {Time: 1}}); err != ErrUnsorted {
		t.Fatalf("Build unsorted: %v", err)
	}
	if _, err := Build([]Item{{Time: 2}, {Time: 2}}); err != ErrUnsorted {
		t.Fatalf("Build duplicate: %v", err)
	}
}
