package store

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// BenchmarkFlushOfManyActors is one flush of a busy proxy's state: 10,000
// of the 100,000 actors a store holds changed since the last, drained in
// the meter's order (its shards' maps: no order at all). 20,000 people
// browsing at 7,000 requests a second through a routes-only config
// changed some 18,000 keys every two seconds
// (leakguard_state_actors_written_total, bench/people.lua).
func BenchmarkFlushOfManyActors(b *testing.B) {
	s, _, err := Open(b.TempDir(), meta, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]identity.Key, 100_000)
	for i := range keys {
		keys[i] = identity.Key{Kind: identity.Kind(rng.IntN(int(identity.NumKinds))), Hash: rng.Uint64()}
	}
	data := make([]byte, 200)
	now := time.Unix(1_800_000_000, 0)
	batch := func(n int) Batch {
		b := Batch{Now: now}
		for range n {
			// last seen at any time since the last flush
			last := now.UnixNano() - rng.Int64N(int64(2*time.Second))
			b.Actors = append(b.Actors, memory.Saved{Key: keys[rng.IntN(len(keys))], Last: last, Data: data})
		}
		return b
	}
	for i := 0; i < len(keys); i += 10_000 {
		all := Batch{Now: now}
		for _, k := range keys[i : i+10_000] {
			all.Actors = append(all.Actors, memory.Saved{Key: k, Last: now.UnixNano() - rng.Int64N(int64(time.Hour)), Data: data})
		}
		if err := s.Write(all); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now = now.Add(2 * time.Second)
		x := batch(10_000)
		b.StartTimer()
		if err := s.Write(x); err != nil {
			b.Fatal(err)
		}
	}
}
