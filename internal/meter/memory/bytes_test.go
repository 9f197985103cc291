package memory

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// heapAfterGC is the live heap, for measuring what a structure holds.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// fill observes n fresh actor keys, each served recsEach records of one
// entity, as a flood of fresh addresses does.
func fill(m *Memory, n, recsEach int) {
	counts := make([]uint64, 64)
	for a := 0; a < n; a++ {
		m.Observe(t0+int64(a)*int64(time.Millisecond), identity.Key{Kind: identity.IP, Hash: mix(uint64(a))}, recs(a%2, a*8, recsEach), false, counts)
	}
}

// BenchmarkBytesPerActor measures the heap one actor key holds in the
// meter, the figure meter.max_bytes is divided by (ActorBytes). Windows
// and entities as the default config meters them (1h and 24h reports, a
// 10m budget; three entities), with state persisted (the dirty set of the
// embedded store's syncer counts too). docs/state-and-fleet.md records the
// figures:
//
//	go test -run '^$' -bench BytesPerActor -benchtime 1x ./internal/meter/memory
func BenchmarkBytesPerActor(b *testing.B) {
	const n = 200_000
	windows := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	for _, recsEach := range []int{0, 1, 8} {
		b.Run(fmt.Sprintf("records=%d", recsEach), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				before := heapAfterGC()
				m := New(Options{Windows: windows, Entities: 3, ExactUpTo: 128, MaxActors: 2 * n, Persist: true})
				fill(m, n, recsEach)
				after := heapAfterGC()
				b.ReportMetric(float64(after-before)/n, "bytes/actor")
				b.ReportMetric(float64(ActorBytes(len(windows), 3)), "estimate-bytes/actor")
				runtime.KeepAlive(m)
			}
		})
	}
}

// The estimate that turns meter.max_bytes into actors must not be below
// what an actor really holds (else the budget is exceeded), nor far above
// (else memory is wasted): pinned against a measurement.
func TestActorBytesMatchesTheHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~100 MB")
	}
	const n = 100_000
	for _, windows := range [][]time.Duration{{time.Hour}, {10 * time.Minute, time.Hour, 24 * time.Hour}} {
		before := heapAfterGC()
		m := New(Options{Windows: windows, Entities: 3, ExactUpTo: 128, MaxActors: 2 * n, Persist: true})
		fill(m, n, 1)
		got := float64(heapAfterGC()-before) / n
		runtime.KeepAlive(m)
		est := float64(ActorBytes(len(windows), 3))
		if est < got || est > 1.5*got {
			t.Errorf("%d windows: estimate %.0f bytes/actor, measured %.0f: want the estimate within [1, 1.5]× the heap", len(windows), est, got)
		}
	}
}

// A byte budget holds the meter to the actors it pays for.
func TestMaxBytesBoundsActors(t *testing.T) {
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	per := ActorBytes(len(windows), 2)
	m := New(Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 1_000_000, MaxBytes: int64(per) * 10_000})
	fill(m, 50_000, 1)
	if n := m.Len(); n > 10_000 || n < 9_000 {
		t.Fatalf("%d actors held under a budget of 10,000 actors' bytes", n)
	}
	if n := m.MaxActors(); n > 10_000 || n < 10_000-256 {
		t.Fatalf("MaxActors %d, want 10,000 rounded down to whole shards (the byte budget binds, not max_actors)", n)
	}
}
