package memory

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// A shard keeps its recency list only once it is needed (an eviction,
// Each): until then each call stamps the key. The list it then makes, and
// so every eviction after and the order Each walks, must be the one a list
// kept on every call holds. Random traffic through a meter that links
// every shard from the start and one that links lazily: the same bounds,
// counts, evictions and Each, with and without keys past the cap (some
// shards fill early, others late or never), and with Each part way.
func TestLazyRecencyIsTheKeptList(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keys, cap int
		eachAt    int
	}{
		{"room for every key", 3000, 1 << 20, -1},
		{"past the cap", 9000, 256 * 8, -1},
		{"past the cap, Each part way", 9000, 256 * 8, 20_000},
		{"some shards fill", 2600, 256 * 10, 30_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			windows := []time.Duration{10 * time.Minute, time.Hour}
			o := Options{Windows: windows, Entities: 2, ExactUpTo: 32, MaxActors: tc.cap, Persist: true}
			lazy, kept := New(o), New(o)
			for i := range kept.shards {
				kept.shards[i].linked = true // the list kept on every get, as before
			}
			rng := rand.New(rand.NewPCG(1, 2))
			c1, c2 := make([]uint64, 4), make([]uint64, 4)
			b1, b2 := make([]uint64, 4), make([]uint64, 4)
			now := t0
			for op := range 60_000 {
				now += int64(rng.IntN(400)) * int64(time.Millisecond)
				// a skewed pool: some keys come back often, most seldom
				var k identity.Key
				if rng.IntN(3) == 0 {
					k = identity.Key{Kind: identity.IP, Hash: mix(uint64(rng.IntN(50)))}
				} else {
					k = identity.Key{Kind: identity.Kind(rng.IntN(3)), Hash: mix(uint64(rng.IntN(tc.keys)))}
				}
				switch rng.IntN(4) {
				case 0:
					lazy.Bounds(now, k, 0xf, b1)
					kept.Bounds(now, k, 0xf, b2)
					if !slices.Equal(b1, b2) {
						t.Fatalf("op %d: bounds %v, kept list %v", op, b1, b2)
					}
				case 1:
					ent, wi := rng.IntN(2), rng.IntN(2)
					if x, y := lazy.Count(now, k, ent, wi), kept.Count(now, k, ent, wi); x != y {
						t.Fatalf("op %d: count %d, kept list %d", op, x, y)
					}
				default:
					r := recs(rng.IntN(2), rng.IntN(200), 1+rng.IntN(3))
					x, y := lazy.Observe(now, k, r, false, c1), kept.Observe(now, k, r, false, c2)
					if x != y || !slices.Equal(c1, c2) {
						t.Fatalf("op %d: observed %v %v, kept list %v %v", op, x, c1, y, c2)
					}
				}
				if op == tc.eachAt {
					compareEach(t, lazy, kept, now)
				}
			}
			if lazy.Evictions() != kept.Evictions() || lazy.Len() != kept.Len() {
				t.Fatalf("evictions %d, held %d; kept list %d, %d", lazy.Evictions(), lazy.Len(), kept.Evictions(), kept.Len())
			}
			if tc.cap < tc.keys && lazy.Evictions() == 0 {
				t.Fatal("nothing evicted: the case tests nothing")
			}
			compareEach(t, lazy, kept, now)
			d1, _ := lazy.Drain()
			d2, _ := kept.Drain()
			if len(d1) != len(d2) {
				t.Fatalf("drained %d, kept list %d", len(d1), len(d2))
			}
		})
	}
}

func compareEach(t *testing.T, lazy, kept *Memory, now int64) {
	t.Helper()
	var x, y []ActorCount
	lazy.Each(now, 1, func(ac ActorCount) { x = append(x, ac) })
	kept.Each(now, 1, func(ac ActorCount) { y = append(y, ac) })
	if len(x) != len(y) {
		t.Fatalf("Each: %d keys, kept list %d", len(x), len(y))
	}
	for i := range x {
		if x[i].Key != y[i].Key || !slices.Equal(x[i].Records, y[i].Records) || x[i].Requests != y[i].Requests || x[i].LastSeen != y[i].LastSeen {
			t.Fatalf("Each, key %d: %+v, kept list %+v", i, x[i], y[i])
		}
	}
}
