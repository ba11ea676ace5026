package seen

import (
	"sync"
	"testing"
)

func TestSetForgetsOldestBeyondMax(t *testing.T) {
	s := Set[int]{Max: 3}
	for _, k := range []int{1, 2, 3, 2} {
		s.Add(k)
	}
	if s.Len() != 3 || !s.Has(1) || !s.Has(2) || !s.Has(3) {
		t.Fatalf("after 1,2,3,2: len %d", s.Len())
	}
	s.Add(4) // forgets 1
	s.Add(5) // forgets 2
	for k, want := range map[int]bool{1: false, 2: false, 3: true, 4: true, 5: true} {
		if s.Has(k) != want {
			t.Errorf("Has(%d) = %v, want %v", k, !want, want)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len %d, want 3", s.Len())
	}
}

func TestSetZeroValueAndConcurrency(t *testing.T) {
	var s Set[[16]byte]
	if s.Has([16]byte{1}) {
		t.Fatal("empty set has a key")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := [16]byte{byte(g), byte(i), byte(i >> 8)}
				s.Add(k)
				if !s.Has(k) {
					t.Errorf("key %v missing right after Add", k)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s.Len() != 4000 {
		t.Errorf("Len %d, want 4000", s.Len())
	}
}
