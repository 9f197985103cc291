package memory

import (
	"math"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func recs(ent int, from, n int) []records.Found {
	out := make([]records.Found, n)
	for i := range out {
		out[i] = records.Found{Entity: ent, Hash: mix(uint64(from + i))}
	}
	return out
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newMeter(exact int, windows ...time.Duration) *Memory {
	return New(Options{Windows: windows, Entities: 2, ExactUpTo: exact, MaxActors: 100000})
}

var alice = identity.Key{Kind: identity.IP, Hash: 1}

func TestDistinctNotRequests(t *testing.T) {
	m := newMeter(128, time.Hour)
	counts := make([]uint64, 2)
	for i := 0; i < 50; i++ {
		m.Observe(t0+int64(i)*int64(time.Second), alice, recs(0, 0, 10), false, counts) // same 10 records again and again
	}
	if counts[0] != 10 {
		t.Fatalf("count = %d after 50 requests for the same 10 records, want 10", counts[0])
	}
	if req, _ := m.Traffic(t0+50*int64(time.Second), alice, 0); req != 50 {
		t.Fatalf("requests = %d, want 50", req)
	}
}

func TestEntitiesAreSeparate(t *testing.T) {
	m := newMeter(128, time.Hour)
	counts := make([]uint64, 2)
	touched := m.Observe(t0, alice, append(recs(0, 0, 3), recs(1, 0, 5)...), false, counts)
	if touched != 3 || counts[0] != 3 || counts[1] != 5 {
		t.Fatalf("touched %b counts %v, want 11 [3 5]", touched, counts)
	}
}

// A window covers at least W and at most W plus one bucket (W/12).
func TestSlidingWindow(t *testing.T) {
	for _, exact := range []int{4096, 0} { // exact list, and sketches from the first record
		m := newMeter(exact, time.Hour)
		counts := make([]uint64, 2)
		// 100 records at t0, 100 more at t0+30m
		m.Observe(t0, alice, recs(0, 0, 100), false, counts)
		m.Observe(t0+int64(30*time.Minute), alice, recs(0, 100, 100), false, counts)
		at := func(d time.Duration) uint64 { return m.Count(t0+int64(d), alice, 0, 0) }
		if got := at(59 * time.Minute); got != 200 {
			t.Errorf("exact=%d: at 59m count = %d, want 200", exact, got)
		}
		if got := at(64 * time.Minute); got != 200 { // within the extra bucket
			t.Errorf("exact=%d: at 64m count = %d, want 200 (first records still within W+W/12)", exact, got)
		}
		if got := at(65 * time.Minute); got != 100 {
			t.Errorf("exact=%d: at 65m count = %d, want 100", exact, got)
		}
		if got := at(96 * time.Minute); got != 0 {
			t.Errorf("exact=%d: at 96m count = %d, want 0", exact, got)
		}
	}
}

func TestSeveralWindows(t *testing.T) {
	m := newMeter(128, time.Minute, time.Hour, 30*24*time.Hour)
	counts := make([]uint64, 6)
	for i := 0; i < 120; i++ { // one new record a minute for 2 hours
		m.Observe(t0+int64(i)*int64(time.Minute), alice, recs(0, i, 1), false, counts)
	}
	if counts[0] > 2 || counts[1] < 60 || counts[1] > 66 || counts[2] != 120 {
		t.Fatalf("counts 1m/1h/30d = %v, want ≤2, 60..65, 120", counts[:3])
	}
}

func TestSketchAccuracy(t *testing.T) {
	for _, n := range []int{1000, 20000, 200000} {
		m := newMeter(128, 24*time.Hour)
		counts := make([]uint64, 2)
		batch := 100
		for i := 0; i < n; i += batch {
			m.Observe(t0+int64(i)*int64(time.Millisecond), alice, recs(0, i, batch), false, counts)
		}
		got := float64(m.Count(t0+int64(n)*int64(time.Millisecond), alice, 0, 0))
		if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.03 {
			t.Errorf("n=%d: estimate %.0f, error %.2f%% > 3%%", n, got, rel*100)
		}
	}
}

// A flood of fresh addresses cannot grow the meter past MaxActors.
func TestMemoryBoundUnderAddressFlood(t *testing.T) {
	m := New(Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 10000})
	counts := make([]uint64, 1)
	heavy := identity.Key{Kind: identity.IP, Hash: 42}
	for i := 0; i < 200000; i++ {
		if i%100 == 0 { // a steady actor keeps being seen
			m.Observe(t0+int64(i), heavy, recs(0, i, 1), false, counts)
		}
		m.Observe(t0+int64(i), identity.Key{Kind: identity.IP, Hash: uint64(i) + 1000}, recs(0, i, 1), false, counts)
	}
	if n := m.Len(); n > 10000 {
		t.Fatalf("meter holds %d actor keys, cap 10000", n)
	}
	if m.Evictions() < 190000 {
		t.Fatalf("evictions = %d, want ≥190000", m.Evictions())
	}
	if c := m.Count(t0+200000, heavy, 0, 0); c < 1960 || c > 2040 {
		t.Fatalf("recently seen actor lost its count: %d, want 2000 ±2%%", c)
	}
}

func TestEach(t *testing.T) {
	m := newMeter(128, time.Hour)
	counts := make([]uint64, 2)
	bob := identity.Key{Kind: identity.Account, Hash: 2}
	m.Observe(t0, alice, recs(0, 0, 7), true, counts)
	m.Observe(t0, bob, recs(1, 0, 3), false, counts)
	m.Observe(t0-int64(3*time.Hour), identity.Key{Kind: identity.IP, Hash: 3}, recs(0, 0, 1), false, counts) // stale
	seen := map[identity.Key]ActorCount{}
	m.Each(t0+1, 0, func(a ActorCount) { seen[a.Key] = a })
	if len(seen) != 2 || seen[alice].Records[0] != 7 || seen[alice].Misses != 1 || seen[bob].Records[1] != 3 {
		t.Fatalf("Each saw %+v", seen)
	}
}

// Keys of different kinds may share a hash (the shard's map is keyed by
// it; the shard function spreads such keys over shards, so this is the
// chain's own test): each is found, and any can go.
func TestKeysSharingAHash(t *testing.T) {
	for _, gone := range []int{0, 1, 2} {
		s := &shard{}
		var as []*actor
		for kind := range identity.Kind(3) {
			a := &actor{key: identity.Key{Kind: kind, Hash: 7}}
			s.put(a)
			as = append(as, a)
		}
		s.put(&actor{key: identity.Key{Kind: identity.IP, Hash: 8}})
		s.remove(as[gone])
		for i, a := range as {
			got := s.find(a.key)
			if i == gone && got != nil || i != gone && got != a {
				t.Fatalf("removed key %d: key %d found as %v", gone, i, got)
			}
		}
		if s.n != 3 || s.m.len() != 2 {
			t.Fatalf("removed key %d: %d actors over %d hashes, want 3 over 2", gone, s.n, s.m.len())
		}
	}
}
