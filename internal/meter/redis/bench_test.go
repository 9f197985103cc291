package redis

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
)

// BenchmarkFlushOfABusyProxy is one flush of a fleet proxy under people's
// requests as bench/people.lua makes them: 24,000 requests since the last
// (2 s at 12,000 a second), a third of them record calls of ten records,
// each metered on three keys (an address of 20,000, its /24, a session)
// in three windows; then the flush's writes and its read of every touched
// view, against a real redis-server. Under bench/state.sh 15 64 default a
// flush took a fifth of the fleet proxy's CPU.
func BenchmarkFlushOfABusyProxy(b *testing.B) {
	srv := testserver.Redis(b)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	b.Cleanup(func() { c.Close() })
	windows := []time.Duration{time.Minute, time.Hour, 24 * time.Hour}
	m := New(Options{
		Client:   c,
		Local:    memory.New(memory.Options{Windows: windows, Entities: 1, ExactUpTo: 128, MaxActors: 200_000}),
		Entities: []string{"user"},
		Interval: time.Hour,
		ID:       "bench",
	})
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]uint64, len(windows))
	recs := make([]records.Found, 10)
	now := time.Unix(1_800_000_000, 0).UnixNano()
	serve := func() {
		for range 8_000 {
			now += int64(2*time.Second) / 8_000
			p := rng.IntN(20_000)
			for i := range recs {
				recs[i] = records.Found{Entity: 0, Hash: rng.Uint64N(50_000)*0x9e3779b97f4a7c15 + 1}
			}
			for _, k := range []identity.Key{{Kind: identity.IP, Hash: uint64(p)}, {Kind: identity.Net, Hash: uint64(p >> 8)}, {Kind: identity.Session, Hash: uint64(p)<<8 | uint64(rng.IntN(3))}} {
				m.Observe(now, k, recs, false, counts)
			}
		}
	}
	serve()
	if err := m.Flush(context.Background(), now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		serve()
		b.StartTimer()
		if err := m.Flush(context.Background(), now); err != nil {
			b.Fatal(err)
		}
	}
}
