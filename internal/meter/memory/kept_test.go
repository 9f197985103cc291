package memory

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// The counts kept between calls (running counts of exact lists, unions of
// bucket sets) answer exactly what counting afresh answers, and leave
// every bound as it was: Observe's counts, Bound, Bounds and Count are
// compared call by call with a meter that recounts, over random traffic
// with repeats, idle gaps, events out of order, keys past the exact list
// and buckets past a set.
func TestKeptCountsEqualRecounts(t *testing.T) {
	windows := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		opts := Options{Windows: windows, Entities: 2, ExactUpTo: 4 + rng.IntN(60), MaxActors: 100000}
		kept, fresh := New(opts), New(opts)
		fresh.recount = true
		keys := []identity.Key{{Kind: identity.IP, Hash: 1}, {Kind: identity.Net, Hash: 2}, {Kind: identity.Account, Hash: 3}}
		slow := identity.Key{Kind: identity.Session, Hash: 4}
		keys = append(keys, slow)
		now := t0
		ck, cf := make([]uint64, 6), make([]uint64, 6)
		bk, bf := make([]uint64, 6), make([]uint64, 6)
		for op := 0; op < 4000; op++ {
			switch r := rng.IntN(100); {
			case r < 60:
				now += rng.Int64N(int64(2 * time.Minute))
			case r < 70:
				now -= rng.Int64N(int64(10 * time.Minute)) // out of order
			case r < 73:
				now += rng.Int64N(int64(3 * time.Hour)) // idle
			}
			k := keys[rng.IntN(len(keys))]
			switch r := rng.IntN(10); {
			case r < 5:
				var rs []records.Found
				pool := 50 + rng.IntN(400)
				if rng.IntN(200) == 0 {
					pool = 5000 // a burst that makes a bucket a sketch
				}
				for n := rng.IntN(6); n > 0; n-- {
					rs = append(rs, records.Found{Entity: rng.IntN(2), Hash: mix(uint64(rng.IntN(pool)))})
				}
				if rng.IntN(200) == 0 {
					rs = append(rs, recs(rng.IntN(2), rng.IntN(1<<20), 1100)...)
				}
				if rng.IntN(10) == 0 {
					// a slow reader: its exact list fills over days, so
					// the oldest records are pruned from it
					k, rs = slow, recs(0, op, 1)
				}
				for i := range ck {
					ck[i], cf[i] = 0, 0
				}
				tk := kept.Observe(now, k, rs, false, ck)
				tf := fresh.Observe(now, k, rs, false, cf)
				if tk != tf || ck != nil && !equal(ck, cf) {
					t.Fatalf("seed %d op %d: Observe touched %b counts %v, recounting %b %v", seed, op, tk, ck, tf, cf)
				}
			case r < 7:
				want := rng.Uint64() & (1<<6 - 1)
				kept.Bounds(now, k, want, bk)
				fresh.Bounds(now, k, want, bf)
				for i := 0; i < 6; i++ {
					if want&(1<<i) != 0 && bk[i] != bf[i] {
						t.Fatalf("seed %d op %d: Bounds[%d] %d, recounting %d", seed, op, i, bk[i], bf[i])
					}
				}
			case r < 8:
				ent, wi := rng.IntN(2), rng.IntN(3)
				if x, y := kept.Bound(now, k, ent, wi), fresh.Bound(now, k, ent, wi); x != y {
					t.Fatalf("seed %d op %d: Bound %d, recounting %d", seed, op, x, y)
				}
			default:
				ent, wi := rng.IntN(2), rng.IntN(3)
				if x, y := kept.Count(now, k, ent, wi), fresh.Count(now, k, ent, wi); x != y {
					t.Fatalf("seed %d op %d: Count %d, recounting %d", seed, op, x, y)
				}
			}
		}
	}
}

func equal(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
