package memory

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// A log replay counts an address's requests and misses in the engine's
// risk window only, and no other key's: each answer in that window is
// the full meter's, every other answer 0, through evictions that recycle
// an address's actor for a session and back, and through a stored state.
func TestAddressTrafficOnlyKeepsTheRiskWindow(t *testing.T) {
	windows := []time.Duration{time.Minute, time.Hour, 24 * time.Hour}
	const risk = 1
	full := New(Options{Windows: windows, Entities: 2, ExactUpTo: 64, MaxActors: numShards * 2}) // evicts
	slim := New(Options{Windows: windows, Entities: 2, ExactUpTo: 64, MaxActors: numShards * 2})
	slim.AddressTrafficOnly(risk)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]identity.Key, 600)
	for i := range keys {
		keys[i] = identity.Key{Kind: []identity.Kind{identity.IP, identity.Session, identity.Account}[i%3], Hash: rng.Uint64() | 1}
	}
	counts := make([]uint64, 2*len(windows))
	now := t0
	for step := range 20000 {
		now += int64(rng.IntN(int(2 * time.Second)))
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(50) == 0 { // a few keys stay, so that not every answer is of a fresh actor
			k = keys[rng.IntN(6)]
		}
		miss := rng.IntN(4) == 0
		full.Observe(now, k, recs(0, rng.IntN(100), 1), miss, counts)
		slim.Observe(now, k, recs(0, rng.IntN(100), 1), miss, counts)
		for wi := range windows {
			fr, fm := full.Traffic(now, k, wi)
			sr, sm := slim.Traffic(now, k, wi)
			switch {
			case k.Kind == identity.IP && wi == risk:
				if sr != fr || sm != fm {
					t.Fatalf("step %d: address in the risk window: %d requests %d misses, want %d %d", step, sr, sm, fr, fm)
				}
				if fr == 0 {
					t.Fatalf("step %d: the full meter counted no request of a key it was just given", step)
				}
			case sr != 0 || sm != 0:
				t.Fatalf("step %d: %v in window %d: %d requests %d misses, want 0 0", step, k.Kind, wi, sr, sm)
			}
		}
	}
	if slim.Evictions() == 0 {
		t.Fatal("no actor was evicted: recycling between kinds was not exercised")
	}
	// A stored address comes back with its traffic; a stored session with none.
	for _, k := range keys[:6] {
		a := slim.shard(k).find(k)
		if a == nil {
			continue
		}
		b, err := slim.decode(k, slim.encode(a))
		if err != nil {
			t.Fatalf("%v: %v", k.Kind, err)
		}
		if len(b.traffic) != slim.ringCount(k) || (len(b.traffic) > 0 && b.traffic[0] != a.traffic[0]) {
			t.Fatalf("%v: %d rings back, want %d, the same", k.Kind, len(b.traffic), slim.ringCount(k))
		}
	}
}
