package analyze

import (
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

// keyOfID gives back the key actorID folded, of every kind.
func TestKeyOfIDUndoesActorID(t *testing.T) {
	x := uint64(88172645463325252)
	for i := 0; i < 10_000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for kind := range identity.NumKinds {
			k := identity.Key{Kind: kind, Hash: x}
			if got := keyOfID(actorID(k), kind); got != k {
				t.Fatalf("keyOfID(actorID(%v)) = %v", k, got)
			}
		}
	}
}

// BenchmarkLinksOfABusyAddress is the analyzer's links of an address
// behind which many people come and go (a carrier NAT): each op adds one
// line's account and session to the address's set, among 8,000 people
// seen again and again, once the set is a map.
//
//	go test -run '^$' -bench LinksOfABusyAddress ./internal/analyze
func BenchmarkLinksOfABusyAddress(b *testing.B) {
	const people = 8_000
	var s keySet
	key := func(kind identity.Kind, i int) identity.Key {
		return identity.Key{Kind: kind, Hash: uint64(i+1) * 0xbf58476d1ce4e5b9}
	}
	for i := range people {
		s.add(key(identity.Account, i))
		s.add(key(identity.Session, i))
	}
	b.ReportAllocs()
	x := uint64(1)
	for b.Loop() {
		x = x*6364136223846793005 + 1442695040888963407
		i := int((x >> 33) % people)
		s.add(key(identity.Account, i))
		s.add(key(identity.Session, i))
	}
}
