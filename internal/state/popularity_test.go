package state

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
)

// A restarted proxy (or the fleet's next one) starts from the popularity
// its behaviour tracker had learnt: people's cold share measured and the
// sketch warm at once. Without it every restart was a cold start, during
// which a crew at a person's pace and a crew that loads pages went
// unrecognised, for seconds at a busy shop and for hours at a small one at
// night.
func TestPopularityOutlivesARestart(t *testing.T) {
	srv := testserver.Redis(t)
	dir := t.TempDir()
	for name, open := range map[string]func() State{
		"bolt": func() State { return NewBolt(BoltOptions{Dir: dir, Interval: time.Hour}) },
		"redis": func() State {
			r, err := NewRedis(RedisOptions{URL: "redis://" + srv.Addr + "/0", Prefix: "lgpopularity:", Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			first, _ := popularityProxy(t, open())
			b := detect.NewBehaviour(1 << 10)
			popularPeople(t, b)
			first.KeepPopularityOf(b)
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}

			second, logs := popularityProxy(t, open())
			defer second.Close()
			fresh := detect.NewBehaviour(1 << 10)
			second.RestorePopularity(fresh, time.Now())
			if got := fresh.Popularity(); !got.PeopleMeasured || !got.Warm || got != b.Popularity() {
				t.Fatalf("after a restart the tracker knows %+v, want %+v; log:\n%s", got, b.Popularity(), logs)
			}
			if !strings.Contains(logs.String(), "state: popularity restored") {
				t.Fatalf("restored without a word:\n%s", logs)
			}
			t.Logf("%s", strings.TrimSpace(logs.String()))

			// Nothing served since: nothing kept again (the snapshot
			// would be stamped anew, and never go stale).
			kept, err := second.Snapshot(t.Context(), Popularity)
			if err != nil {
				t.Fatal(err)
			}
			second.KeepPopularityOf(fresh)
			if again, err := second.Snapshot(t.Context(), Popularity); err != nil || !bytes.Equal(again, kept) {
				t.Fatalf("kept again with nothing served since the restore (%v)", err)
			}

			// A day later it says little: the tracker starts cold, with a
			// warning, and the proxy starts.
			logs.Reset()
			late := detect.NewBehaviour(1 << 10)
			second.RestorePopularity(late, time.Now().Add(detect.SnapshotMaxAge+time.Minute))
			if got := late.Popularity(); got.PeopleMeasured || got.Warm {
				t.Fatalf("a stale snapshot restored: %+v", got)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "stale") {
				t.Fatalf("a stale snapshot refused without a warning:\n%s", logs)
			}
		})
	}
}

// A snapshot that does not read (damaged, another build's) is a cold start
// with a warning, not a failed start; no snapshot is a cold start in
// silence.
func TestPopularityDamagedOrMissingStartsCold(t *testing.T) {
	l, logs := popularityProxy(t, NewBolt(BoltOptions{Dir: t.TempDir(), Interval: time.Hour}))
	defer l.Close()
	logs.Reset() // what Open says
	b := detect.NewBehaviour(1 << 10)
	l.RestorePopularity(b, time.Now())
	if logs.Len() != 0 || b.Popularity().Warm {
		t.Fatalf("nothing kept: %+v; log:\n%s", b.Popularity(), logs)
	}
	src := detect.NewBehaviour(1 << 10)
	popularPeople(t, src)
	p := src.Snapshot()
	p[len(p)/2] ^= 1
	if err := l.KeepSnapshot(t.Context(), Popularity, p); err != nil {
		t.Fatal(err)
	}
	l.RestorePopularity(b, time.Now())
	if b.Popularity().Warm || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "corrupt") {
		t.Fatalf("a damaged snapshot: %+v; log:\n%s", b.Popularity(), logs)
	}
}

// A backend that cannot keep the snapshot (Redis down, a full disk)
// fails every minute: the operator hears of it once, and when it works
// again.
func TestPopularityKeepFailingIsSaidOnce(t *testing.T) {
	srv := testserver.Redis(t)
	r, err := NewRedis(RedisOptions{URL: "redis://" + srv.Addr + "/0", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l, logs := popularityProxy(t, r)
	defer l.Close()
	b := detect.NewBehaviour(1 << 10)
	popularPeople(t, b)
	srv.Stop()
	logs.Reset()
	l.KeepPopularityOf(b)
	l.KeepPopularityOf(b)
	if n := strings.Count(logs.String(), "could not keep the popularity snapshot"); n != 1 {
		t.Fatalf("two failed keeps said %d times:\n%s", n, logs)
	}
	srv.Start()
	waitFor := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "popularity snapshot kept again") {
		if time.Now().After(waitFor) {
			t.Fatalf("never kept again:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
		l.KeepPopularityOf(b)
	}
	if p, err := l.Snapshot(t.Context(), Popularity); err != nil || p == nil {
		t.Fatalf("kept %d bytes, %v", len(p), err)
	}
}

// popularPeople has people browse a shop at a person's pace through a
// detector on b (each loads an item's page, then asks for its record a
// second later, every five seconds, from an address of its own) until
// people's cold share is measured.
func popularPeople(t *testing.T, b *detect.Behaviour) {
	t.Helper()
	d := detect.New(detect.Options{Behaviour: b})
	start := time.Now().Add(-time.Hour).UnixNano()
	for i := range 5000 {
		if b.Popularity().PeopleMeasured {
			t.Logf("people measured after %d people: %+v", i, b.Popularity())
			return
		}
		var a identity.Actor
		a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: uint64(i)<<8 | 1}
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: uint64(i)<<8 | 2}
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for c := range 6 {
			at := start + int64(i)*1e6 + int64(c)*5e9
			d.Assess(&a, detect.Traits{Kind: detect.Page, UA: detect.UABrowser, Addr: addr, At: at - 1e9, IDLow: -1})
			d.Assess(&a, detect.Traits{Kind: detect.Record, UA: detect.UABrowser, Addr: addr, At: at, IDLow: -1})
			d.Served(&a, []records.Found{{Hash: uint64((i*6+c)%200) + 1}})
		}
	}
	t.Fatalf("people not measured: %+v", b.Popularity())
}

// popularityProxy opens s as a proxy's lifecycle does, logging to the
// buffer returned.
func popularityProxy(t *testing.T, s State) (*Lifecycle, *testserver.Buffer) {
	t.Helper()
	logs := &testserver.Buffer{}
	l := &Lifecycle{State: s, log: slog.New(slog.NewTextHandler(logs, nil)), ledger: &canary.Ledger{}, fingerprint: testFingerprint}
	if err := l.Open(nil, nil, []string{"user"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	return l, logs
}
