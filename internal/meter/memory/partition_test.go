package memory

import (
	"math/rand/v2"
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

// A sharded replay gives each goroutine whole partitions: no shard may
// hold keys of two partitions, addresses apart or not, and addresses apart
// share no shard with other keys.
func TestPartitionsOwnTheirShards(t *testing.T) {
	for _, apart := range []bool{false, true} {
		m := New(Options{Windows: nil, Entities: 1, MaxActors: 1 << 16})
		if apart {
			m.SeparateAddresses()
		}
		owner := map[int]int{}
		kinds := map[int]bool{} // shard: holds addresses
		rng := rand.New(rand.NewPCG(1, 2))
		for range 100_000 {
			k := identity.Key{Hash: rng.Uint64(), Kind: identity.Kind(rng.IntN(int(identity.NumKinds)))}
			i, p := m.shardIndex(k), Partition(k)
			if o, ok := owner[i]; ok && o != p {
				t.Fatalf("apart=%v: shard %d holds keys of partitions %d and %d", apart, i, o, p)
			}
			owner[i] = p
			ip := k.Kind == identity.IP
			if was, ok := kinds[i]; apart && ok && was != ip {
				t.Fatalf("addresses apart: shard %d holds an address and another key", i)
			}
			kinds[i] = ip
		}
		if len(owner) != numShards {
			t.Errorf("apart=%v: %d shards used of %d", apart, len(owner), numShards)
		}
	}
}
