package memory

import (
	"runtime"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// BenchmarkFreshActorFlood is the memory bound under a flood of fresh
// addresses: 10 million distinct actor keys, one record each, with the
// default cap of 1 million actors held and state drained as the embedded
// store's syncer does. Run with -benchtime 1x; it reports the heap in use
// afterwards.
func BenchmarkFreshActorFlood(b *testing.B) {
	const actors = 10_000_000
	for i := 0; i < b.N; i++ {
		m := New(Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: 2, ExactUpTo: 128,
			MaxActors: 1_000_000, Persist: true})
		counts := make([]uint64, 4)
		var drained int
		start := time.Now()
		for a := 0; a < actors; a++ {
			now := t0 + int64(a)*int64(time.Millisecond) // 10M actors over ~2.8 hours
			m.Observe(now, identity.Key{Kind: identity.IP, Hash: mix(uint64(a))}, recs(0, a, 1), false, counts)
			if a%200_000 == 0 {
				s, _ := m.Drain()
				drained += len(s)
			}
		}
		elapsed := time.Since(start)
		s, dropped := m.Drain()
		drained += len(s)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(m.Len()), "actors-held")
		b.ReportMetric(float64(m.Evictions()), "evictions")
		b.ReportMetric(float64(drained), "states-drained")
		b.ReportMetric(float64(dropped), "dropped")
		b.ReportMetric(float64(elapsed.Nanoseconds())/actors, "ns/actor")
		runtime.KeepAlive(m)
	}
}
