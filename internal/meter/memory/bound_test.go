package memory

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// TestAShortWindowsBoundFallsAsItsBucketsLeave: a clerk looks up a new
// customer every 5 minutes all day, past exact_up_to, so its records are
// kept in sketches. Its bound in 10 minutes and in an hour must stay its
// count there (2 and 12), an upper bound that does not keep growing until
// a precise count: it read ~128 in 10 minutes, and analyze's peaks and
// suggested budgets took that for the clerk's (a red team's replay, the
// true peak 8). Repeats within a window (a record looked up again) keep
// the bound above the count, never below.
func TestAShortWindowsBoundFallsAsItsBucketsLeave(t *testing.T) {
	windows := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	// ref is asked the counts: a precise count resets m's bound.
	m := New(Options{Windows: windows, Entities: 1, ExactUpTo: 32, MaxActors: 1 << 16})
	ref := New(Options{Windows: windows, Entities: 1, ExactUpTo: 32, MaxActors: 1 << 16})
	k := identity.Key{Kind: identity.Account, Hash: mix(7)}
	counts := make([]uint64, len(windows))
	now := t0
	worst := make([]uint64, len(windows))
	for i := range 288 {
		now += int64(5 * time.Minute)
		id := 1000 + i
		if i%10 == 9 {
			id-- // the last customer again
		}
		m.Observe(now, k, recs(0, id, 1), false, counts)
		ref.Observe(now, k, recs(0, id, 1), false, counts)
		for wi := range windows {
			b, c := m.Bound(now, k, 0, wi), ref.Count(now, k, 0, wi)
			if b < c {
				t.Fatalf("lookup %d, %v: bound %d below the count %d", i, windows[wi], b, c)
			}
			worst[wi] = max(worst[wi], b-c)
		}
	}
	// A repeat in another bucket of the window is counted twice: at most
	// one in 10 minutes, two in an hour.
	for wi, most := range []uint64{1, 2} {
		if worst[wi] > most {
			t.Errorf("%v: the bound was up to %d above the count (want at most %d, the repeats)", windows[wi], worst[wi], most)
		}
	}
}

// liveSum's kept sum is the sum made afresh, over random traffic with
// repeats, idle gaps, events out of order and buckets past a set.
func TestLiveSumKeptIsLiveSumMade(t *testing.T) {
	windows := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		m := New(Options{Windows: windows, Entities: 2, ExactUpTo: 8 + rng.IntN(40), MaxActors: 100000})
		keys := []identity.Key{{Kind: identity.IP, Hash: 1}, {Kind: identity.Account, Hash: 2}}
		counts := make([]uint64, 6)
		now := t0
		for op := 0; op < 3000; op++ {
			switch r := rng.IntN(100); {
			case r < 70:
				now += rng.Int64N(int64(time.Minute))
			case r < 80:
				now -= rng.Int64N(int64(10 * time.Minute))
			case r < 83:
				now += rng.Int64N(int64(3 * time.Hour))
			}
			k := keys[rng.IntN(len(keys))]
			n := 1 + rng.IntN(5)
			if rng.IntN(300) == 0 {
				n = 1100 // a bucket past a set
			}
			m.Observe(now, k, recs(rng.IntN(2), rng.IntN(2000), n), false, counts)
			if rng.IntN(5) == 0 {
				m.Count(now, k, rng.IntN(2), rng.IntN(3))
			}
			s := m.shard(k)
			s.mu.Lock()
			a := s.find(k)
			for _, d := range a.ents {
				if d == nil {
					continue
				}
				for wi, ws := range d.sketch {
					kept := ws.liveSum()
					ws.sumOK = false
					if made := ws.liveSum(); kept != made {
						s.mu.Unlock()
						t.Fatalf("seed %d op %d window %d: kept sum %d, made afresh %d", seed, op, wi, kept, made)
					}
				}
			}
			s.mu.Unlock()
		}
	}
}
