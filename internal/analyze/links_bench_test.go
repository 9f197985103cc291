package analyze

import (
	"runtime"
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

// BenchmarkLinksOfABusyAddress is the analyzer's links of an address
// behind which many people come and go (a carrier NAT): each op adds one
// line's account and session to the address's set, among 8,000 people
// seen again and again, once it holds sets; B/key is the set's heap per key.
//
//	go test -run '^$' -bench LinksOfABusyAddress ./internal/analyze
func BenchmarkLinksOfABusyAddress(b *testing.B) {
	const people = 8_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var s keySet
	key := func(kind identity.Kind, i int) identity.Key {
		return identity.Key{Kind: kind, Hash: uint64(i+1) * 0xbf58476d1ce4e5b9}
	}
	for i := range people {
		s.add(key(identity.Account, i))
		s.add(key(identity.Session, i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportAllocs()
	x := uint64(1)
	for b.Loop() {
		x = x*6364136223846793005 + 1442695040888963407
		i := int((x >> 33) % people)
		s.add(key(identity.Account, i))
		s.add(key(identity.Session, i))
	}
	// after the loop: b.Loop's first call clears reported metrics
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(2*people), "B/key")
}
