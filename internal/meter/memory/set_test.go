package memory

import (
	"math/rand/v2"
	"testing"
)

// hashSet holds what a map of the same hashes holds, through growth,
// clears, the zero hash and hashes that collide in their low bits.
func TestHashSetIsAMapsKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s hashSet
	want := map[uint64]struct{}{}
	for round := 0; round < 20; round++ {
		n := rng.IntN(3000)
		for i := 0; i < n; i++ {
			var h uint64
			switch rng.IntN(4) {
			case 0:
				h = uint64(rng.IntN(64)) << 40 // low bits all zero
			case 1:
				h = uint64(rng.IntN(2000)) // small ids, 0 among them
			default:
				h = rng.Uint64()
			}
			_, had := want[h]
			want[h] = struct{}{}
			if got := s.add(h); got == had {
				t.Fatalf("round %d: add(%#x) = %v, want %v", round, h, got, !had)
			}
			if !s.has(h) {
				t.Fatalf("round %d: has(%#x) after add", round, h)
			}
		}
		if s.len() != len(want) {
			t.Fatalf("round %d: len %d, want %d", round, s.len(), len(want))
		}
		seen := map[uint64]bool{}
		for x := range s.all {
			if _, ok := want[x]; !ok || seen[x] {
				t.Fatalf("round %d: all yields %#x (in the map: %v, twice: %v)", round, x, ok, seen[x])
			}
			seen[x] = true
		}
		if len(seen) != len(want) {
			t.Fatalf("round %d: all yields %d hashes, want %d", round, len(seen), len(want))
		}
		for i := 0; i < 100; i++ {
			h := rng.Uint64()
			if _, ok := want[h]; s.has(h) != ok {
				t.Fatalf("round %d: has(%#x) = %v, want %v", round, h, !ok, ok)
			}
		}
		if round%3 == 2 {
			s.clear()
			clear(want)
			if s.len() != 0 || s.has(0) {
				t.Fatalf("round %d: not empty after clear", round)
			}
		}
	}
}
