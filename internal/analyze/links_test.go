package analyze

import (
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

// A keySet holds what a map of keys would, through its change from a
// list to sets per kind, with at most maxMembers of each kind counted and
// kept.
func TestKeySetIsASetOfKeys(t *testing.T) {
	for _, size := range []int{3, linkSmall, linkSmall + 1, 500, maxMembers + 300} {
		var s keySet
		want := map[identity.Key]bool{}
		var n [identity.NumKinds]uint32
		x := uint64(88172645463325252)
		for i := range 6 * size {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			// most adds repeat a key; every kind, most of them
			// addresses (a crew's rotating ones)
			kind := identity.IP
			if i%4 == 3 {
				kind = identity.Kind(x % uint64(identity.NumKinds))
			}
			k := identity.Key{Kind: kind, Hash: x%uint64(size) + 1}
			s.add(k)
			if !want[k] && n[kind] < maxMembers {
				want[k] = true
				n[kind]++
			}
		}
		if s.n != n {
			t.Errorf("%d keys: counts %v, want %v", size, s.n, n)
		}
		got := map[identity.Key]bool{}
		s.each(func(k identity.Key) {
			if got[k] {
				t.Errorf("%d keys: %v yielded twice", size, k)
			}
			got[k] = true
		})
		if len(got) != len(want) {
			t.Errorf("%d keys: each yields %d keys, want %d", size, len(got), len(want))
		}
		for k := range want {
			if !got[k] {
				t.Errorf("%d keys: %v added, not yielded", size, k)
				break
			}
		}
	}
}
