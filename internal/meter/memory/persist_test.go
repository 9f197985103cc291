package memory

import (
	"slices"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// State drained from one meter and loaded by another counts the same:
// what a restart must preserve.
func TestDrainAndLoadRoundTrip(t *testing.T) {
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	opts := Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 100000, Persist: true}
	a := New(opts)
	counts := make([]uint64, 4)
	small := identity.Key{Kind: identity.IP, Hash: 1}
	sets := identity.Key{Kind: identity.Account, Hash: 2}  // past the exact list: bucket sets
	dense := identity.Key{Kind: identity.Session, Hash: 3} // buckets past 1,024: sketches
	now := t0
	for i := 0; i < 600; i++ {
		now = t0 + int64(i)*int64(time.Minute)
		a.Observe(now, small, recs(0, i%40, 1), i%7 == 0, counts)
		a.Observe(now, sets, recs(0, i*2, 2), false, counts)
		a.Observe(now, dense, append(recs(0, i*10, 10), recs(1, i*3, 3)...), false, counts)
	}
	saved, dropped := a.Drain()
	if len(saved) != 3 || dropped != 0 {
		t.Fatalf("drained %d (dropped %d), want 3", len(saved), dropped)
	}
	if again, _ := a.Drain(); len(again) != 0 {
		t.Fatalf("a second drain returned %d unchanged actors", len(again))
	}
	store := map[identity.Key][]byte{}
	for _, s := range saved {
		store[s.Key] = s.Data
		if s.Last != now {
			t.Errorf("saved last %d, want %d", s.Last, now)
		}
	}
	b := New(Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 100000, Persist: true,
		Load: func(k identity.Key) []byte { return store[k] }})
	for _, k := range []identity.Key{small, sets, dense} {
		for ent := 0; ent < 2; ent++ {
			for wi := range windows {
				if got, want := b.Count(now, k, ent, wi), a.Count(now, k, ent, wi); got != want {
					t.Errorf("key %v entity %d window %s: %d after reload, want %d", k, ent, windows[wi], got, want)
				}
			}
		}
		for wi := range windows {
			r1, m1 := a.Traffic(now, k, wi)
			r2, m2 := b.Traffic(now, k, wi)
			if r1 != r2 || m1 != m2 {
				t.Errorf("key %v traffic %d/%d after reload, want %d/%d", k, r2, m2, r1, m1)
			}
		}
	}
	// The reloaded meter keeps counting where the first left off.
	a.Observe(now+1, dense, recs(0, 1_000_000, 50), false, counts)
	b.Observe(now+1, dense, recs(0, 1_000_000, 50), false, counts)
	if x, y := a.Count(now+1, dense, 0, 1), b.Count(now+1, dense, 0, 1); x != y {
		t.Errorf("after more records: %d vs %d", y, x)
	}
	if b.Corrupt() != 0 {
		t.Errorf("%d corrupt states", b.Corrupt())
	}
}

// An evicted actor's unsaved state waits for the next drain; a flood of
// evictions beyond the spill cap is counted, not held.
func TestEvictedActorsAreSpilledBounded(t *testing.T) {
	m := New(Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 16, MaxActors: numShards, Persist: true})
	counts := make([]uint64, 1)
	n := numShards * (m.spillCap + 10)
	for i := 0; i < n; i++ {
		m.Observe(t0, identity.Key{Kind: identity.IP, Hash: mix(uint64(i))}, recs(0, i, 1), false, counts)
	}
	saved, dropped := m.Drain()
	if m.Len() > numShards {
		t.Fatalf("%d actors held, cap %d", m.Len(), numShards)
	}
	if uint64(len(saved))+dropped != uint64(n) {
		t.Fatalf("saved %d + dropped %d != %d observed", len(saved), dropped, n)
	}
	if len(saved) > numShards*(m.spillCap+1) {
		t.Fatalf("%d saved: spill not bounded", len(saved))
	}
	// The newest evicted of each shard are kept, and drained oldest
	// first: a key evicted twice is written in the order its states were
	// made. (Each shard holds one key here, its last, drained as dirty.)
	byShard := map[*shard][]identity.Key{}
	for i := 0; i < n; i++ {
		k := identity.Key{Kind: identity.IP, Hash: mix(uint64(i))}
		byShard[m.shard(k)] = append(byShard[m.shard(k)], k)
	}
	drained := map[*shard][]identity.Key{}
	for _, sv := range saved {
		drained[m.shard(sv.Key)] = append(drained[m.shard(sv.Key)], sv.Key)
	}
	for s, keys := range byShard {
		evicted := keys[:len(keys)-1]
		want := append(slices.Clone(evicted[max(len(evicted)-m.spillCap, 0):]), keys[len(keys)-1])
		if !slices.Equal(drained[s], want) {
			t.Fatalf("a shard's %d keys drained as %d keys, not its newest evictions oldest first and its held key", len(keys), len(drained[s]))
		}
	}
}

// An evicted actor's memory goes to the next fresh key: nothing of the
// old key's records, requests or sketches shows in the new one's counts.
func TestRecycledActorStartsEmpty(t *testing.T) {
	m := New(Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: 2, ExactUpTo: 16, MaxActors: numShards, Persist: true})
	counts := make([]uint64, 4)
	// Fill every shard with heavy keys: exact lists and sketches.
	var heavy []identity.Key
	for i := 0; len(heavy) < 4*numShards; i++ {
		k := identity.Key{Kind: identity.IP, Hash: mix(uint64(i))}
		heavy = append(heavy, k)
		m.Observe(t0, k, append(recs(0, i*100, 1+i%40), recs(1, i*100, 3)...), true, counts)
	}
	m.Drain()
	for i := 0; i < 4*numShards; i++ {
		k := identity.Key{Kind: identity.Account, Hash: mix(uint64(1_000_000 + i))}
		touched := m.Observe(t0+1, k, recs(1, 5_000_000+i, 1), false, counts)
		if touched != 2 || counts[2] != 1 || counts[3] != 1 {
			t.Fatalf("fresh key %d: touched %b counts %v, want only its own record", i, touched, counts)
		}
		for ent := range 2 {
			for wi := range 2 {
				want := uint64(ent) // its one record of entity 1
				if c := m.Count(t0+1, k, ent, wi); c != want {
					t.Fatalf("fresh key %d: entity %d window %d counts %d, want %d", i, ent, wi, c, want)
				}
			}
		}
		if req, miss := m.Traffic(t0+1, k, 0); req != 1 || miss != 0 {
			t.Fatalf("fresh key %d: %d requests %d misses, want 1 and 0", i, req, miss)
		}
	}
	if m.Evictions() == 0 {
		t.Fatal("nothing evicted")
	}
}

func TestCorruptStateStartsAfresh(t *testing.T) {
	m := New(Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 16, MaxActors: 1000, Persist: true,
		Load: func(identity.Key) []byte { return []byte{1, 2, 3} }})
	counts := make([]uint64, 1)
	m.Observe(t0, alice, recs(0, 0, 5), false, counts)
	if counts[0] != 5 || m.Corrupt() != 1 {
		t.Fatalf("count %d corrupt %d", counts[0], m.Corrupt())
	}
}

// Stored state is read back from disk: a damaged file must not crash or
// allocate without bound.
func FuzzDecode(f *testing.F) {
	m := New(Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: 2, ExactUpTo: 4, MaxActors: 1000, Persist: true})
	counts := make([]uint64, 4)
	m.Observe(t0, alice, recs(0, 0, 3), true, counts)
	bob := identity.Key{Kind: identity.IP, Hash: 9}
	m.Observe(t0, bob, recs(1, 0, 1100), false, counts)
	saved, _ := m.Drain()
	for _, s := range saved {
		f.Add(s.Data)
	}
	for _, data := range versionOne(f) { // as files written before encoding 2 hold them
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := m.decode(alice, b)
		if err == nil {
			m.encode(a)
		}
	})
}

// The spill holds as many actors as the meter does at most, up to 256 a
// shard: held to 768 actors by meter.max_bytes, a meter spilled 65,536
// encoded states, 20 MB (found by a probe, 2026-12-05).
func TestTheSpillFollowsTheMetersBound(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want int
	}{
		{Options{Entities: 2, MaxActors: 500_000}, 256},
		{Options{Entities: 2, MaxActors: 20_000}, 78},
		{Options{Entities: 2, MaxActors: 1_000_000, MaxBytes: 1 << 20}, 6}, // 1,536 actors in 1 MiB
		{Options{Entities: 2, MaxActors: 256}, 4},
	} {
		if got := New(tt.o).spillCap; got != tt.want {
			t.Errorf("%+v: %d spilled a shard, want %d", tt.o, got, tt.want)
		}
	}
}
