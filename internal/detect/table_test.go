package detect

import (
	"testing"
	"time"

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
					was := b.state(k, false)
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

// A decoy swarm over thousands of /24s, each /24 a crew of its own that
// never forms, made the detector forget a random quarter of the crews it
// followed each time their table was full, a real crew's quorum with
// them; and of the /24s weighed for a page crew, a crew's members shown
// so far. The decoys go first now.
func TestADecoySwarmDoesNotMakeTheDetectorForgetACrew(t *testing.T) {
	var r recruits
	const crew, net = 0xc2e3, 0x24
	for i := range uint64(recruitQuorum) {
		if r.join(crew, 0x3e3be2+i, epoch, epoch, false) != (i == recruitQuorum-1) {
			t.Fatalf("member %d: the quorum formed at the wrong member", i)
		}
	}
	// A page crew starting on its /24: three of its five so far.
	for i := range uint64(3) {
		if r.beyondChance(net, 0x9a6e+i, epoch, true) {
			t.Fatalf("member %d: a quorum at three", i)
		}
	}
	// Ten times each table's bound of decoys, within the crews' hour and
	// the /24's minute, while the page crew's three go on calling (one
	// every 500 decoys).
	for i := range uint64(10 * recruitCap) {
		at := epoch + int64(i)*int64(time.Millisecond)
		r.join(0xdec0<<32+i, 0xd0+i, at, at, false)
		r.beyondChance(0xdec0<<32+i, 0xd0+i, at, false)
		if i%500 == 0 {
			r.beyondChance(net, 0x9a6e+i/500%3, at, false)
		}
	}
	at := epoch + int64(50*time.Second)
	if !r.join(crew, 0x3e3be2, at, epoch, false) {
		t.Error("the crew's quorum was forgotten")
	}
	if r.beyondChance(net, 0x9a6e+3, at, true); !r.beyondChance(net, 0x9a6e+4, at, true) {
		t.Error("the page crew's three were forgotten: five of five are no quorum")
	}
	if len(r.m) > recruitCap || len(r.weighed) > weighedNets {
		t.Errorf("%d crews and %d /24s followed, bounds %d and %d", len(r.m), len(r.weighed), recruitCap, weighedNets)
	}
}
