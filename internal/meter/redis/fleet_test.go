package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
)

// fleetOfTwo is two proxies' meters on one real redis-server, metering one
// entity in one window with a budget of 100 per address (near from 80).
// They flush only when a test says so, so it decides what is in Redis.
func fleetOfTwo(t *testing.T) (a, b *Meter) {
	t.Helper()
	srv := testserver.Redis(t)
	mk := func(id string) *Meter {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		t.Cleanup(func() { c.Close() })
		m := New(Options{
			Client:   c,
			Local:    memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 1024, MaxActors: 1000}),
			Entities: []string{"user"},
			Interval: time.Hour,
			ID:       id,
		})
		m.SetLimits([]Limit{{Kind: identity.IP, Ent: 0, Window: 0, Limit: 100}})
		if err := m.Join(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b = mk("a"), mk("b")
	a.Join(context.Background()) // so both count two members
	if a.Members() != 2 || b.Members() != 2 {
		t.Fatalf("members %d and %d, want 2", a.Members(), b.Members())
	}
	return a, b
}

// serve has m serve records from..to-1 of user to k at now, one a request.
func serve(m *Meter, now int64, k identity.Key, from, to int) {
	counts := make([]uint64, 1)
	for i := from; i < to; i++ {
		m.Observe(now, k, []records.Found{{Entity: 0, Hash: uint64(i)*0x9e3779b97f4a7c15 + 1}}, false, counts)
	}
}

func flush(t *testing.T, m *Meter, now int64) {
	t.Helper()
	if err := m.Flush(context.Background(), now); err != nil {
		t.Fatal(err)
	}
}

// A proxy reading a near key's fleet count while its own flush is on the
// wire used to count its flushed records twice: once in Redis's count and
// once as "served here since the last flush", until the flush's reply was
// applied. On a loaded machine that window is long, a proxy that has just
// heard a key is near flushes at once while it serves that key, and one
// refusal in it blocks the actor: the fleet test saw 241 of a 300 budget.
func TestNearCountDuringOwnFlushCountsOnce(t *testing.T) {
	a, b := fleetOfTwo(t)
	now := time.Now().UnixNano()
	k := identity.Key{Kind: identity.IP, Hash: 0xd0b1e}
	serve(a, now, k, 0, 30)
	serve(b, now, k, 30, 60) // 2 members x 30 since: not near yet
	flush(t, a, now)
	var during uint64
	b.afterFlushWrite = func() {
		b.heardNear(k, now) // a found it near: b meters it through
		during = b.Bound(now+1, k, 0, 0)
	}
	flush(t, b, now)
	b.afterFlushWrite = nil
	if during < 58 || during > 62 {
		t.Errorf("count read while b's flush was on the wire: %d, want 60 (b's 30 counted once)", during)
	}
	if got := b.Bound(now+2, k, 0, 0); got < 58 || got > 62 {
		t.Errorf("count after b's flush: %d, want 60", got)
	}
}

// The other direction: a flush's reply carries a count read when the flush
// was sent. Applied after a fresher count of a near key, it set the key
// back to the older one, and the records between were forgotten until the
// next read.
func TestFlushReplyDoesNotUndoAFresherCount(t *testing.T) {
	a, b := fleetOfTwo(t)
	now := time.Now().UnixNano()
	k := identity.Key{Kind: identity.IP, Hash: 0x57a1e}
	serve(a, now, k, 0, 30)
	serve(b, now, k, 30, 60)
	flush(t, a, now)
	b.afterFlushWrite = func() {
		serve(a, now, k, 60, 75) // a serves more and flushes: 75 in Redis
		flush(t, a, now)
		b.heardNear(k, now)
		b.Bound(now+1, k, 0, 0)
	}
	flush(t, b, now) // its own count, read before a's second flush, says 60
	b.afterFlushWrite = nil
	if got := b.Count(now, k, 0, 0); got < 73 {
		t.Errorf("b's count after its flush replied: %d, want 75 (a's last 15 forgotten)", got)
	}
}

// The proxy that finds a key near writes its own unflushed records of it
// with the request that found it, so the fleet's count has them at once
// instead of at this proxy's next flush (a whole interval of them missing
// from every other proxy's count: overshoot).
func TestNearKeyWritesItsBacklogAtOnce(t *testing.T) {
	a, b := fleetOfTwo(t)
	now := time.Now().UnixNano()
	k := identity.Key{Kind: identity.IP, Hash: 0xbac109}
	serve(a, now, k, 0, 39)
	if got := b.fleetCount(t, now, k); got != 0 {
		t.Fatalf("fleet count before any flush: %d", got)
	}
	serve(a, now, k, 39, 41) // 2 members x 40 since: near at the 40th
	if got := b.fleetCount(t, now, k); got < 39 || got > 43 {
		t.Errorf("fleet count once a found the key near: %d, want 41 without a flush", got)
	}
	if got := a.Bound(now+1, k, 0, 0); got < 39 || got > 43 {
		t.Errorf("a's own count: %d, want 41 (its backlog counted once)", got)
	}
}

// fleetCount reads k's user count in Redis as m would consult it.
func (m *Meter) fleetCount(t *testing.T, now int64, k identity.Key) uint64 {
	t.Helper()
	n, err := m.o.Client.PFCount(context.Background(), m.windowKeys(k, 0, 0, now)...).Result()
	if err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// A carrier-NAT address is near its budget's written limit for good: its
// people's limit is far above it. Every one of its requests read the
// fleet's count from Redis first, and the fleet kept 0.23x of memory-only
// throughput under 20,000 people (bench/state.sh 15 64 default,
// 2026-12-05). Once the engine says what it holds the key to, a key far
// from that is metered by the flush again; one near it still reads first.
func TestABusyAddressDoesNotWaitOnRedis(t *testing.T) {
	a, _ := fleetOfTwo(t)
	now := time.Unix(1_800_000_000, 0).UnixNano()
	nat := identity.Key{Kind: identity.IP, Hash: 1}
	one := identity.Key{Kind: identity.IP, Hash: 2}
	serve(a, now, nat, 0, 90) // near the written 100 from 80
	serve(a, now, one, 1000, 1090)
	admit := func(k identity.Key, limit uint64) uint64 {
		now++
		before := a.Stats().Consults
		a.Bound(now, k, 0, 0)
		a.Limiting(now, k, 0, 0, limit)
		return a.Stats().Consults - before
	}
	if admit(nat, 100) != 1 || admit(one, 100) != 1 {
		t.Fatal("a key near its limit did not read the fleet's count before its request")
	}
	admit(nat, 30*100) // thirty people behind it
	for range 5 {
		if n := admit(nat, 30*100); n != 0 {
			t.Fatalf("the address of thirty people, at 90 of their 3,000, read the fleet's count %d times before a request", n)
		}
		if admit(one, 100) != 1 {
			t.Fatal("the address of one person, at 90 of its 100, no longer reads the fleet's count first")
		}
	}
	// And when its people's take nears their limit, it reads first again.
	serve(a, now, nat, 90, 2500)
	admit(nat, 30*100)
	if admit(nat, 30*100) != 1 {
		t.Error("the address of thirty people, at 2,500 of their 3,000, did not read the fleet's count first")
	}
}

// A flush of more records than one pipeline carries sends them in several,
// and every count it reads back is after them all: in one pipeline, a busy
// proxy's flush overran the client's write timeout and Redis was taken for
// down, flush after flush (bench/state.sh 15 64 default, 2026-12-05).
func TestALargeFlushGoesInSeveralPipelinesAndCountsThemAll(t *testing.T) {
	a, b := fleetOfTwo(t)
	now := time.Unix(1_800_000_000, 0).UnixNano()
	const keys = 2 * flushCmds
	for i := range keys {
		serve(a, now, identity.Key{Kind: identity.IP, Hash: uint64(i + 1)}, i, i+1)
	}
	flush(t, a, now)
	serve(b, now, identity.Key{Kind: identity.IP, Hash: 1}, 1_000_000, 1_000_001)
	flush(t, b, now)
	for i := 1; i < keys; i++ {
		if got := a.fleet(identity.Key{Kind: identity.IP, Hash: uint64(i + 1)}, 0, 0); got != 1 {
			t.Fatalf("key %d counts %d in the fleet after its flush, want 1", i+1, got)
		}
	}
	if got := b.fleet(identity.Key{Kind: identity.IP, Hash: 1}, 0, 0); got != 2 {
		t.Errorf("the key both served counts %d in the fleet, want 2", got)
	}
	if !a.Up() || !b.Up() {
		t.Error("a proxy took Redis for down")
	}
}

// A key another proxy found near stays near here, though this proxy's view
// of it, a flush old, says it is far: a proxy serving a tenth of a key's
// requests took the announcement back at its next request, and served it
// unread by the fleet until its next flush.
func TestANearKeyHeardFromAnotherProxyStaysNear(t *testing.T) {
	a, _ := fleetOfTwo(t) // 100 per address
	now := time.Unix(1_800_000_000, 0).UnixNano()
	k := identity.Key{Kind: identity.IP, Hash: 9}
	serve(a, now, k, 0, 10) // a's tenth
	flush(t, a, now)        // its view: 10 of the fleet's, far from 100
	a.heardNear(k, now)     // the proxy serving the rest finds it near
	now++
	before := a.Stats().Consults
	a.Bound(now, k, 0, 0)
	a.Limiting(now, k, 0, 0, 100)
	now++
	a.Bound(now, k, 0, 0)
	if n := a.Stats().Consults - before; n != 2 {
		t.Errorf("the key announced near read the fleet's count before %d of 2 requests here", n)
	}
}

// A flush puts each record in the bucket of the window its time falls in,
// with the bucket kept until it leaves the window, and a record served in
// two buckets in both: a record in a wrong bucket counts in the fleet for
// longer or shorter than its window, which no count read at once shows.
func TestAFlushPutsEachRecordInItsBucket(t *testing.T) {
	a, _ := fleetOfTwo(t) // one window of an hour: buckets of 5 minutes
	width := int64(time.Hour) / memory.Buckets
	start := time.Unix(1_800_000_000, 0).UnixNano() + 7*int64(time.Second)
	keys := []identity.Key{{Kind: identity.IP, Hash: 3}, {Kind: identity.Session, Hash: 3}}
	want := map[identity.Key]map[int64]map[uint64]bool{}
	counts := make([]uint64, 1)
	at := start
	for i := range 40 {
		at = start + int64(i)*int64(100*time.Second) // 40 records over 65 minutes, 2 or 3 a bucket
		for j, k := range keys {
			h := uint64(i%30+j*1000)*0x9e3779b97f4a7c15 + 1 // ten of them again, buckets later
			a.Observe(at, k, []records.Found{{Entity: 0, Hash: h}}, false, counts)
			if want[k] == nil {
				want[k] = map[int64]map[uint64]bool{}
			}
			if want[k][at/width] == nil {
				want[k][at/width] = map[uint64]bool{}
			}
			want[k][at/width][h] = true
		}
	}
	flush(t, a, at)
	ctx := context.Background()
	for _, k := range keys {
		if len(want[k]) < 13 {
			t.Fatalf("the records span %d buckets; the test wants more than a window's", len(want[k]))
		}
		for epoch, hs := range want[k] {
			key := a.bucketKey(k, 0, 0, epoch)
			n, err := a.o.Client.PFCount(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(hs)) {
				t.Errorf("%v bucket %d holds %d records, want %d", k, epoch-start/width, n, len(hs))
			}
			until, err := a.o.Client.PExpireTime(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := until.Milliseconds(), (epoch+memory.Buckets+2)*width/int64(time.Millisecond); got != want {
				t.Errorf("%v bucket %d expires at %d ms, want %d", k, epoch-start/width, got, want)
			}
		}
		// The fleet's count at the last record: the window's buckets only.
		inWindow := map[uint64]bool{}
		for epoch, hs := range want[k] {
			if epoch > at/width-memory.Buckets-1 {
				for h := range hs {
					inWindow[h] = true
				}
			}
		}
		// (a sketch's estimate: one either way)
		if got := int(a.fleet(k, 0, 0)); got < len(inWindow)-1 || got > len(inWindow)+1 {
			t.Errorf("%v counts %d in the fleet, want %d (its window's records)", k, got, len(inWindow))
		}
	}
}

// Bounds, the engine's question for all of a key's budgets at once, gives
// what Bound gives for each: the fleet's count where it is higher than
// this proxy's, for every entity and window, near or not.
func TestBoundsAreTheBoundsOneByOne(t *testing.T) {
	srv := testserver.Redis(t)
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	mk := func(id string) *Meter {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		t.Cleanup(func() { c.Close() })
		m := New(Options{
			Client:   c,
			Local:    memory.New(memory.Options{Windows: windows, Entities: 2, ExactUpTo: 1024, MaxActors: 1000}),
			Entities: []string{"user", "phone"},
			Interval: time.Hour,
			ID:       id,
		})
		m.SetLimits([]Limit{{Kind: identity.IP, Ent: 0, Window: 0, Limit: 100}, {Kind: identity.IP, Ent: 1, Window: 1, Limit: 1000}})
		return m
	}
	a, b := mk("a"), mk("b")
	now := time.Unix(1_800_000_000, 0).UnixNano()
	counts := make([]uint64, 4)
	far, near := identity.Key{Kind: identity.IP, Hash: 1}, identity.Key{Kind: identity.IP, Hash: 2}
	for i := range 95 {
		for _, k := range []identity.Key{far, near} {
			m := a
			if i%3 == 0 {
				m = b
			}
			n := 1
			if k == far {
				n = i % 2 // far: fewer records, phones only on odd calls
			}
			recs := []records.Found{{Entity: 0, Hash: uint64(i)*0x9e3779b97f4a7c15 + uint64(k.Hash)}}
			if n > 0 {
				recs = append(recs, records.Found{Entity: 1, Hash: uint64(i) + 7})
			}
			m.Observe(now, k, recs, false, counts)
		}
	}
	flush(t, b, now)
	flush(t, a, now)
	for i := 200; i < 210; i++ { // b's since its flush, and near
		b.Observe(now, near, []records.Found{{Entity: 0, Hash: uint64(i)*0x9e3779b97f4a7c15 + 2}}, false, counts)
	}
	for _, m := range []*Meter{a, b} {
		for _, k := range []identity.Key{far, near} {
			now++
			for want := uint64(1); want < 16; want++ {
				dst := make([]uint64, 4)
				m.Bounds(now, k, want, dst)
				for i := range 4 {
					if want&(1<<i) == 0 {
						if dst[i] != 0 {
							t.Errorf("%s %v: bit %d not asked for, written %d", m.o.ID, k, i, dst[i])
						}
						continue
					}
					if one := m.Bound(now, k, i/2, i%2); dst[i] != one {
						t.Errorf("%s %v entity %d window %d: Bounds %d, Bound %d", m.o.ID, k, i/2, i%2, dst[i], one)
					}
				}
			}
		}
	}
	if a.fleet(near, 0, 0) <= a.local.Bound(now, near, 0, 0) {
		t.Error("the test does not exercise a fleet's count above a proxy's own")
	}
}

// The views of a flood of fresh keys stay under MaxViews once a flush is
// answered, the ones in use kept; and a key not seen for its longest
// window is forgotten.
func TestViewsStayUnderMaxViews(t *testing.T) {
	srv := testserver.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	windows := []time.Duration{time.Minute, time.Hour}
	m := New(Options{
		Client:   c,
		Local:    memory.New(memory.Options{Windows: windows, Entities: 2, ExactUpTo: 64, MaxActors: 100_000}),
		Entities: []string{"user", "phone"},
		Interval: time.Hour,
		ID:       "a",
		MaxViews: 16 * 50, // 50 a shard
	})
	now := time.Unix(1_800_000_000, 0).UnixNano()
	counts := make([]uint64, 4)
	for i := range 5_000 {
		m.Observe(now, identity.Key{Kind: identity.IP, Hash: uint64(i + 1)}, []records.Found{{Entity: i % 2, Hash: uint64(i)}}, false, counts)
	}
	if n := m.Views(); n != 5_000*len(windows) {
		t.Fatalf("%d views before the flush, want one a key's entity and window: %d", n, 5_000*len(windows))
	}
	flush(t, m, now)
	if n := m.Views(); n > 16*50 || n < 16*40 {
		t.Errorf("%d views after the flush, want at most MaxViews (800), and most of them kept", n)
	}
	keep := identity.Key{Kind: identity.IP, Hash: 1_000_000}
	m.Observe(now, keep, []records.Found{{Entity: 0, Hash: 42}}, false, counts) // served since: kept
	for i := range 2_000 {
		m.Observe(now, identity.Key{Kind: identity.IP, Hash: uint64(10_000 + i)}, []records.Found{{Entity: 0, Hash: uint64(i)}}, false, counts)
	}
	flush(t, m, now)
	if got := m.Count(now, keep, 0, 1); got != 1 {
		t.Errorf("the key in use counts %d, want 1", got)
	}
	flush(t, m, now+int64(2*time.Hour)) // past the longest window and a bucket
	if n := m.Views(); n != 0 {
		t.Errorf("%d views two hours on, want none", n)
	}
}

// A key of the fleet's that holds something other than a HyperLogLog
// (written by hand, by another program sharing the prefix, or corrupted)
// is refused by Redis for that key alone. It had the fleet taken for down:
// every flush failed on it and put its records back, and under
// state.fail: closed every record request of every client was answered
// 503 until the key expired (found by a probe, 2026-12-05).
func TestABadKeyDoesNotTakeTheFleetDown(t *testing.T) {
	a, b := fleetOfTwo(t)
	ctx := context.Background()
	now := time.Now().UnixNano()
	bad, good := identity.Key{Kind: identity.IP, Hash: 0xbad}, identity.Key{Kind: identity.IP, Hash: 0x600d}
	serve(a, now, bad, 0, 10)
	flush(t, a, now)
	key := a.bucketKey(bad, 0, 0, now/a.widths[0])
	if n := a.o.Client.Exists(ctx, key).Val(); n != 1 {
		t.Fatalf("the bucket %s is not in Redis", key)
	}
	if err := a.o.Client.Set(ctx, key, "not a hyperloglog", 0).Err(); err != nil {
		t.Fatal(err)
	}
	serve(a, now, bad, 10, 20)
	serve(a, now, good, 0, 40)
	flush(t, a, now)
	if !a.Up() {
		t.Fatal("one bad key took Redis for down")
	}
	if got := a.o.Client.PFCount(ctx, a.bucketKey(good, 0, 0, now/a.widths[0])).Val(); got != 40 {
		t.Errorf("the good key's bucket counts %d in Redis, want its 40 records", got)
	}
	if a.Stats().KeyErrors == 0 {
		t.Error("the refused commands were not counted")
	}
	// Near its budget, the key's records are written as served: the same.
	serve(a, now, bad, 20, 120)
	if a.o.Client.Exists(ctx, key).Val() != 1 || !a.Up() {
		t.Fatal("the bad key's write through took Redis for down")
	}
	// The other proxy reads the bad key's window and keeps counting.
	serve(b, now, bad, 0, 5)
	flush(t, b, now)
	if !b.Up() {
		t.Fatal("reading a bad key's window took Redis for down")
	}
}
