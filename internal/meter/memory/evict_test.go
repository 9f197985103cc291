package memory

import (
	"fmt"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// BenchmarkObserveFreshKeys is a flood of fresh addresses through the
// meter: each op observes a key never seen before (one record), with the
// meter already holding 200,000 keys. With room (the cap above every key
// the run brings) nothing is evicted; at the cap every op evicts the
// least recently seen key. Persisted, an evicted key's unsaved state is
// kept for the store's next drain, which runs every 100,000 ops as the
// syncer's flush would. Eviction should cost next to nothing:
//
//	go test -run '^$' -bench ObserveFreshKeys -benchtime 1000000x ./internal/meter/memory
func BenchmarkObserveFreshKeys(b *testing.B) {
	const held = 200_000
	windows := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	for _, persist := range []bool{false, true} {
		for _, evict := range []bool{false, true} {
			name := fmt.Sprintf("persist=%v/evicting=%v", persist, evict)
			b.Run(name, func(b *testing.B) {
				cap := held
				if !evict {
					cap = 2*held + 2*b.N // room in every shard
				}
				m := New(Options{Windows: windows, Entities: 3, ExactUpTo: 128, MaxActors: cap, Persist: persist})
				counts := make([]uint64, 9)
				key := func(i int) identity.Key { return identity.Key{Kind: identity.IP, Hash: mix(uint64(i))} }
				now := t0
				for i := 0; i < held; i++ {
					now += int64(time.Millisecond)
					m.Observe(now, key(i), recs(0, i, 1), false, counts)
				}
				m.Drain()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					now += int64(time.Millisecond)
					m.Observe(now, key(held+i), recs(0, held+i, 1), false, counts)
					if persist && i%100_000 == 99_999 {
						m.Drain()
					}
				}
				b.StopTimer()
				if evict && m.Evictions() < uint64(b.N)*9/10 {
					b.Fatalf("%d evictions in %d ops", m.Evictions(), b.N)
				}
				if !evict && m.Evictions() != 0 {
					b.Fatalf("%d evictions with room for every key", m.Evictions())
				}
			})
		}
	}
}
