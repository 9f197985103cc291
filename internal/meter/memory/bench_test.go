package memory

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

var defaultWindows = []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}

// BenchmarkBoundsOfAKey is what Admit asks the meter for one key on an
// API-heavy log: the bounds of six budgets (two entities, three windows)
// for keys that hold ~100 records each, in their exact lists. per-budget
// is a Bound per budget (a lock, a lookup and a walk each, as before
// Bounds); one-call is Bounds.
func BenchmarkBoundsOfAKey(b *testing.B) {
	const keys = 10_000
	m := New(Options{Windows: defaultWindows, Entities: 2, ExactUpTo: 128, MaxActors: 1_000_000})
	counts := make([]uint64, 6)
	now := t0
	for r := 0; r < 100; r++ {
		for k := 0; k < keys; k++ {
			now += int64(time.Millisecond)
			m.Observe(now, identity.Key{Kind: identity.IP, Hash: mix(uint64(k))}, recs(r%2, k*1000+r, 1), false, counts)
		}
	}
	dst := make([]uint64, 6)
	b.Run("per-budget", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k := identity.Key{Kind: identity.IP, Hash: mix(uint64(i % keys))}
			for j := range 6 {
				dst[j] = m.Bound(now, k, j/3, j%3)
			}
		}
	})
	b.Run("one-call", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m.Bounds(now, identity.Key{Kind: identity.IP, Hash: mix(uint64(i % keys))}, 1<<6-1, dst)
		}
	})
}

// BenchmarkCountPeopleBehindNAT is the per-person budget's question on a
// carrier NAT's /24: the count of the people seen behind it in a window,
// asked on every request, each request bringing one person, most of them
// seen before. sets: 1,500 people, ~700 in each bucket (exact sets);
// sketches: 5,000 people, past 1,024 in a bucket (sketches).
func BenchmarkCountPeopleBehindNAT(b *testing.B) {
	for _, c := range []struct {
		name   string
		people int
		every  time.Duration
	}{{"sets", 1500, 300 * time.Millisecond}, {"sketches", 5000, 180 * time.Millisecond}} {
		b.Run(c.name, func(b *testing.B) {
			m := New(Options{Windows: defaultWindows, Entities: 1, ExactUpTo: 128, MaxActors: 1_000_000})
			nat := identity.Key{Kind: identity.Net, Hash: 24}
			counts := make([]uint64, 3)
			now := t0
			person := func(i int) []records.Found {
				return []records.Found{{Entity: 0, Hash: mix(uint64((i * 7919) % c.people))}}
			}
			for i := 0; i < int(time.Hour/c.every); i++ { // an hour of traffic: every bucket holds people
				now += int64(c.every)
				m.Observe(now, nat, person(i), false, counts)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now += int64(c.every)
				m.Observe(now, nat, person(i), false, counts)
				if m.Count(now, nat, 0, 1) == 0 {
					b.Fatal("no people")
				}
			}
		})
	}
}
