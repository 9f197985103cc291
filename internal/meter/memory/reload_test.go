package memory

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// reloadWindows have bucket widths of 5 s, 5 min and 2 h: stored times are
// kept to 5 s.
var reloadWindows = []time.Duration{time.Minute, time.Hour, 24 * time.Hour}

var reloadKeys = []identity.Key{
	{Kind: identity.IP, Hash: 1},      // a traffic ring and exact lists
	{Kind: identity.Session, Hash: 2}, // exact lists
	{Kind: identity.Account, Hash: 3}, // past the exact list: sketches
}

func reloadOptions(load func(identity.Key) []byte) Options {
	return Options{Windows: reloadWindows, Entities: 2, ExactUpTo: 256, MaxActors: 1000, Persist: true, Load: load}
}

// observeForReload feeds m two hours of traffic at times no grain divides,
// records repeating, and returns the last time.
func observeForReload(m *Memory) int64 {
	rng := rand.New(rand.NewPCG(7, 11))
	counts := make([]uint64, 2*len(reloadWindows))
	now := t0 + 123_456_789
	for range 600 {
		now += rng.Int64N(int64(25 * time.Second))
		k := reloadKeys[rng.IntN(len(reloadKeys))]
		from, n := rng.IntN(120), 1+rng.IntN(3) // under ExactUpTo an entity
		if k.Kind == identity.Account {
			from, n = rng.IntN(100_000), 20
		}
		m.Observe(now, k, recs(rng.IntN(2), from, n), rng.IntN(5) == 0, counts)
	}
	return now
}

// reloaded drains m into a new meter that loads from what was drained.
func reloaded(t *testing.T, m *Memory) *Memory {
	t.Helper()
	saved, _ := m.Drain()
	stored := map[identity.Key][]byte{}
	for _, s := range saved {
		stored[s.Key] = s.Data
	}
	return New(reloadOptions(func(k identity.Key) []byte { return stored[k] }))
}

// sameCounts compares two meters over the next day: a nanosecond before,
// at and after every bucket edge of the shortest window for two hours
// (then of the next), and between edges, with more records observed by
// both now and then, a nanosecond before an edge among them.
func sameCounts(t *testing.T, a, b *Memory, from int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 5))
	counts := make([]uint64, 2*len(reloadWindows))
	check := func(now int64) {
		for _, k := range reloadKeys {
			for wi := range reloadWindows {
				for ent := range 2 {
					if x, y := a.Count(now, k, ent, wi), b.Count(now, k, ent, wi); x != y {
						t.Fatalf("%v entity %d window %s at +%s: %d after reload, want %d", k, ent, reloadWindows[wi], time.Duration(now-from), y, x)
					}
					if x, y := a.Series(now, k, ent, wi), b.Series(now, k, ent, wi); !slices.Equal(x, y) {
						t.Fatalf("%v entity %d window %s at +%s: series %v after reload, want %v", k, ent, reloadWindows[wi], time.Duration(now-from), y, x)
					}
				}
				r1, m1 := a.Traffic(now, k, wi)
				r2, m2 := b.Traffic(now, k, wi)
				if r1 != r2 || m1 != m2 {
					t.Fatalf("%v window %s at +%s: traffic %d/%d after reload, want %d/%d", k, reloadWindows[wi], time.Duration(now-from), r2, m2, r1, m1)
				}
			}
		}
	}
	step := int64(5 * time.Second)
	for edge := (from/step + 1) * step; edge < from+int64(25*time.Hour); edge += step {
		if edge-from > int64(2*time.Hour) {
			step = int64(5 * time.Minute)
			edge -= edge % step
		}
		check(edge - 1)
		if rng.IntN(10) == 0 { // more records, some of them again
			k := reloadKeys[rng.IntN(2)]
			r := recs(rng.IntN(2), rng.IntN(200), 2)
			a.Observe(edge-1, k, r, false, counts)
			b.Observe(edge-1, k, r, false, counts)
		}
		check(edge)
		check(edge + 1)
		check(edge + 1 + rng.Int64N(step-2))
	}
	if b.Corrupt() != 0 {
		t.Fatalf("%d corrupt states", b.Corrupt())
	}
}

// Times are stored to the grain they are read at (encodingVersion 2): a
// reloaded meter must count as the original at every later moment, not
// just about.
func TestAReloadedMeterCountsAsTheOriginalAtEveryMoment(t *testing.T) {
	a := New(reloadOptions(nil))
	now := observeForReload(a)
	b := reloaded(t, a)
	sameCounts(t, a, b, now)
}

// versionOne is the state of observeForReload's keys as 0659c2d drained
// it, in encodingVersion 1 (testdata/actors-v1.bin).
func versionOne(t testing.TB) map[identity.Key][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "actors-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[identity.Key][]byte{}
	for r := bytes.NewReader(raw); r.Len() > 0; {
		var k identity.Key
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &k.Kind); err != nil {
			t.Fatal(err)
		}
		binary.Read(r, binary.LittleEndian, &k.Hash)
		binary.Read(r, binary.LittleEndian, &n)
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil || n == 0 || data[0] != 1 {
			t.Fatalf("testdata/actors-v1.bin: %v is not a version 1 state (%v)", k, err)
		}
		stored[k] = data
	}
	return stored
}

// State written before encodingVersion 2 is read after an upgrade, and
// counts as it did.
func TestStateFromVersionOneIsRead(t *testing.T) {
	stored := versionOne(t)
	if len(stored) != len(reloadKeys) {
		t.Fatalf("%d actors in the file, want %d", len(stored), len(reloadKeys))
	}
	a := New(reloadOptions(nil))
	now := observeForReload(a)
	b := New(reloadOptions(func(k identity.Key) []byte { return stored[k] }))
	sameCounts(t, a, b, now)
}
