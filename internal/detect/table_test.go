package detect

import (
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

// A churner that makes a fresh session for each refusal on a carrier-NAT
// address filled the key states' table, and each thinning forgot a
// random quarter of a shard: people back on the address minutes after
// their last call were forgotten, born again young beside a churner and
// held (sim nat-pages-fresh, seed 1: 11 people's calls past their first
// 5 s). A thinning forgets what was unused longest: a flood of keys used
// once each goes first, and what is in use stays, within the bound. The
// same for the sessions whose page loads are remembered.
func TestAFloodOfFreshSessionsDoesNotForgetPeople(t *testing.T) {
	const size = 1 << 16 // 1,024 a shard
	for _, tt := range []struct {
		name string
		// open returns use, which uses session h's entry, making one for
		// a new session, and reports whether it was there before, and
		// kept, how many entries there are
		open func() (use func(h uint64) bool, kept func() int)
	}{
		{"key states", func() (func(uint64) bool, func() int) {
			b := NewBehaviour(size)
			return func(h uint64) bool {
					sh := &b.shards[h>>58]
					sh.mu.Lock()
					defer sh.mu.Unlock()
					k := identity.Key{Kind: identity.Session, Hash: h}
					_, was := b.state(k, false)
					b.state(k, true)
					return was != nil
				}, func() (n int) {
					for i := range b.shards {
						n += len(b.shards[i].m)
					}
					return n
				}
		}},
		{"page loads", func() (func(uint64) bool, func() int) {
			d := New(Options{Sessions: size})
			return func(h uint64) bool {
					was := d.recordCall(h)
					d.loaded(h)
					return was
				}, func() (n int) {
					for i := range d.shards {
						n += len(d.shards[i].m)
					}
					return n
				}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			use, kept := tt.open()
			var people []uint64
			for i := range 200 {
				people = append(people, mix(0x9e0e1e+uint64(i)))
				use(people[i])
			}
			// 200,000 fresh sessions, each used once, three times the
			// bound; each person's is used again every 20,000 (a
			// person calling every few minutes while a churner makes a
			// session a second or two).
			for i := range 200_000 {
				use(mix(0xf1005e<<32 + uint64(i)))
				if i%20_000 == 19_999 {
					for _, p := range people {
						if !use(p) {
							t.Fatalf("after %d fresh sessions, a person's was forgotten", i+1)
						}
					}
				}
			}
			if n := kept(); n > size {
				t.Fatalf("%d kept, want at most %d", n, size)
			}
		})
	}
}
