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

// BenchmarkAdmitObserveManyKeys is the meter's work for one key of a line
// on an API-heavy log, over a working set far past the CPU's caches: the
// bounds of its budgets (Admit), then the line's record metered (Observe),
// for keys taken at random among 300,000 that hold a few records each in
// their exact lists (two windows, two entities, as bench/genlog's config
// meters them). Each op is a key the caches have most likely lost since
// its last line, as on the log, so it is the cost of the misses on the
// key's state as much as of the work:
//
//	go test -run '^$' -bench AdmitObserveManyKeys ./internal/meter/memory
func BenchmarkAdmitObserveManyKeys(b *testing.B) {
	const keys = 300_000
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	m := New(Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 2_000_000})
	m.SeparateAddresses()
	counts := make([]uint64, 4)
	key := func(i int) identity.Key {
		return identity.Key{Kind: identity.Kind(i % 3), Hash: mix(uint64(i))}
	}
	now := t0
	for r := 0; r < 6; r++ {
		for k := 0; k < keys; k++ {
			now += int64(time.Millisecond)
			m.Observe(now, key(k), recs(r%2, k*100+r, 1), false, counts)
		}
	}
	order := make([]int, 1<<16)
	x := uint64(1)
	for i := range order {
		x = x*6364136223846793005 + 1442695040888963407
		order[i] = int((x >> 33) % keys)
	}
	dst := make([]uint64, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := order[i&(len(order)-1)]
		now += int64(time.Millisecond)
		m.Bounds(now, key(k), 1<<4-1, dst)
		m.Observe(now, key(k), recs(i%2, k*100+i%7, 1), i%9 == 0, counts)
	}
}
