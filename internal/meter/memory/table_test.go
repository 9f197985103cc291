package memory

import (
	"math/rand/v2"
	"testing"
)

// The table answers as a Go map would, through random sets, overwrites and
// deletes, with hashes that collide on their home slot or not.
func TestTableIsAMap(t *testing.T) {
	for _, spread := range []uint64{5000, 64} { // many keys; few, each set and deleted often
		rng := rand.New(rand.NewPCG(3, spread))
		var tab table
		want := map[uint64]*actor{}
		for op := range 200_000 {
			h := rng.Uint64N(spread) * 0x9e3779b97f4a7c15
			if spread == 64 {
				h = rng.Uint64N(64)
			}
			switch rng.IntN(3) {
			case 0:
				a := &actor{}
				tab.set(h, a)
				want[h] = a
			case 1:
				tab.del(h)
				delete(want, h)
			}
			if got := tab.get(h); got != want[h] {
				t.Fatalf("op %d: get(%x) = %p, want %p", op, h, got, want[h])
			}
			if tab.len() != len(want) {
				t.Fatalf("op %d: len %d, want %d", op, tab.len(), len(want))
			}
		}
		for h, a := range want {
			if tab.get(h) != a {
				t.Fatalf("get(%x) after the run", h)
			}
		}
		n := 0
		tab.all(func(*actor) { n++ })
		if n != len(want) {
			t.Fatalf("all: %d actors, want %d", n, len(want))
		}
	}
}

// BenchmarkFindAmongManyKeys looks up random keys among 300,000 held in
// 256 shards, as the meter does for each key of every line, in the table
// and in the Go map it replaced:
//
//	go test -run '^$' -bench FindAmongManyKeys ./internal/meter/memory
func BenchmarkFindAmongManyKeys(b *testing.B) {
	const keys = 300_000
	hashes := make([]uint64, keys)
	for i := range hashes {
		hashes[i] = mix(uint64(i))
	}
	shardOf := func(h uint64) int { return int((h * 0x9e3779b97f4a7c15) >> 56) }
	order := make([]int, 1<<16)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range order {
		order[i] = rng.IntN(keys)
	}
	b.Run("table", func(b *testing.B) {
		var tabs [numShards]table
		for _, h := range hashes {
			tabs[shardOf(h)].set(h, &actor{})
		}
		for i := 0; b.Loop(); i++ {
			h := hashes[order[i&(len(order)-1)]]
			if tabs[shardOf(h)].get(h) == nil {
				b.Fatal("lost")
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		var maps [numShards]map[uint64]*actor
		for i := range maps {
			maps[i] = map[uint64]*actor{}
		}
		for _, h := range hashes {
			maps[shardOf(h)][h] = &actor{}
		}
		for i := 0; b.Loop(); i++ {
			h := hashes[order[i&(len(order)-1)]]
			if maps[shardOf(h)][h] == nil {
				b.Fatal("lost")
			}
		}
	})
}
