package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
	"github.com/leakguard/leakguard/internal/testserver"
)

// backend makes a State for the conformance suite. open returns an opened
// state over the backend's storage; a second call opens the same storage
// again (after the first was closed), as a restart would. persists says
// whether what the first kept is there for the second.
type backend struct {
	open     func(t *testing.T) State
	persists bool
}

func TestConformanceMemory(t *testing.T) {
	conformance(t, func(t *testing.T) backend {
		return backend{open: func(t *testing.T) State { return openState(t, NewMemory()) }}
	})
}

func TestConformanceBolt(t *testing.T) {
	conformance(t, func(t *testing.T) backend {
		dir := t.TempDir() // a real bbolt file, reopened by the second open
		return backend{persists: true, open: func(t *testing.T) State {
			return openState(t, NewBolt(BoltOptions{Dir: dir, Interval: time.Hour}))
		}}
	})
}

func TestConformanceRedis(t *testing.T) {
	srv := testserver.Redis(t)
	conformance(t, func(t *testing.T) backend {
		// One real redis-server for every subtest; a prefix of its own for
		// each, as two fleets sharing a Redis would have.
		prefix := fmt.Sprintf("lgtest%d:", time.Now().UnixNano())
		return backend{persists: true, open: func(t *testing.T) State {
			r, err := NewRedis(RedisOptions{URL: "redis://" + srv.Addr + "/0", Prefix: prefix, Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return openState(t, r)
		}}
	})
}

const testFingerprint = "0123456789abcdef0123456789abcdef"

// openState opens s as the proxy does, with a meter and a ledger, and
// closes it when the test ends.
func openState(t *testing.T, s State) State {
	t.Helper()
	local := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000, Persist: s.Hooks().Persist})
	if err := s.Open(Env{Local: local, Entities: []string{"user"}, Ledger: &canary.Ledger{}, Fingerprint: testFingerprint}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func conformance(t *testing.T, newBackend func(t *testing.T) backend) {
	ctx := context.Background()
	now := time.Now()
	k1 := identity.Key{Kind: identity.IP, Hash: 0x1111}
	k2 := identity.Key{Kind: identity.Account, Hash: 0x2222}

	t.Run("sanctions set, expire and lift", func(t *testing.T) {
		s := newBackend(t).open(t)
		a := engine.Sanction{Key: k1, Rule: "user/ip/24h", Action: engine.Block, Until: now.Add(time.Hour).UnixNano()}
		// decided in shadow mode: kept as such, so an enforcing proxy judges the key again
		b := engine.Sanction{Key: k1, Rule: "risk>=5", Action: engine.Challenge, Until: now.Add(2 * time.Hour).UnixNano(), Shadow: true}
		c := engine.Sanction{Key: k2, Rule: "user/account/24h", Action: engine.Throttle, Until: now.Add(time.Hour).UnixNano()}
		// The same budget on the same address, holding its young
		// sessions only (engine.youngOnly): a sanction of its own.
		young := engine.Sanction{Key: k1, Rule: "user/ip/24h/young-sessions", Action: engine.Block, Until: now.Add(time.Hour).UnixNano()}
		for _, x := range []engine.Sanction{a, b, c, young} {
			s.Impose(x)
		}
		mustFlush(t, s)
		if got := sanctions(t, s, now); !equalSanctions(got, []engine.Sanction{a, b, c, young}) {
			t.Fatalf("kept %+v, want the four imposed", got)
		}
		// Imposed again, a sanction replaces itself: no duplicate.
		s.Impose(a)
		mustFlush(t, s)
		if got := sanctions(t, s, now); len(got) != 4 {
			t.Fatalf("re-imposed: %d sanctions, want 4", len(got))
		}
		if got := sanctions(t, s, now.Add(90*time.Minute)); !equalSanctions(got, []engine.Sanction{b}) {
			t.Fatalf("90 minutes on: %+v, want only the 2-hour one", got)
		}
		if err := s.Lift(ctx, k1); err != nil {
			t.Fatal(err)
		}
		if got := sanctions(t, s, now); !equalSanctions(got, []engine.Sanction{c}) {
			t.Fatalf("after lifting %s: %+v, want only %s's", k1, got, k2)
		}
		// An unblock right after a block: the block must not come back.
		s.Impose(a)
		if err := s.Lift(ctx, k1); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)
		if got := sanctions(t, s, now); !equalSanctions(got, []engine.Sanction{c}) {
			t.Fatalf("imposed then lifted: %+v, want only %s's", got, k2)
		}
		if err := s.Lift(ctx, identity.Key{Kind: identity.IP, Hash: 0x9999}); err != nil {
			t.Fatalf("lifting a key without sanctions: %v", err)
		}
	})

	t.Run("allowlist add, remove, list, idempotent", func(t *testing.T) {
		s := newBackend(t).open(t)
		p1 := netip.MustParsePrefix("203.0.113.7/32")
		p2 := netip.MustParsePrefix("2001:db8::/48")
		for _, p := range []netip.Prefix{p1, p1, netip.MustParsePrefix("2001:db8::1/48"), p2} {
			if err := s.Allow(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if got := allows(t, s); !slices.Equal(got, []netip.Prefix{p1, p2}) {
			t.Fatalf("allows %v, want %v (each once, masked)", got, []netip.Prefix{p1, p2})
		}
		for range 2 {
			if err := s.Disallow(ctx, p1); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Disallow(ctx, netip.MustParsePrefix("198.51.100.0/24")); err != nil {
			t.Fatalf("removing an entry never added: %v", err)
		}
		if got := allows(t, s); !slices.Equal(got, []netip.Prefix{p2}) {
			t.Fatalf("after removing %s: %v", p1, got)
		}
		if s.Keeps() == "" {
			t.Error("Keeps says nothing to the operator")
		}
	})

	t.Run("canary registry", func(t *testing.T) {
		s := newBackend(t).open(t)
		x := canary.Issued{Kind: records.Kind(3), Hash: 0xfeedface12345678, At: now.UnixNano()}
		x.Actor.Keys[identity.IP] = k1
		x.Actor.Keys[identity.Account] = k2
		if err := s.Issue(ctx, []canary.Issued{x}); err != nil {
			t.Fatal(err)
		}
		got, found, err := s.Lookup(ctx, []records.Found{{Entity: 3, Hash: x.Hash}, {Entity: 3, Hash: 0x42}, {Entity: 2, Hash: x.Hash}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(found, []bool{true, false, false}) {
			t.Fatalf("found %v, want only the issued kind and hash", found)
		}
		if got[0] != x {
			t.Fatalf("lookup %+v, want %+v", got[0], x)
		}
	})

	t.Run("a flood's canaries in one interval, every one kept", func(t *testing.T) {
		// More than one of the fleet's pipelines carries (2,048 commands):
		// in one, a flush this size overran the client's timeout.
		s := newBackend(t).open(t)
		xs := make([]canary.Issued, 5000)
		keys := make([]records.Found, len(xs))
		for i := range xs {
			xs[i] = canary.Issued{Kind: records.Phone, Hash: uint64(i+1) * 0x9e3779b97f4a7c15, At: now.UnixNano()}
			xs[i].Actor.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: uint64(i%7 + 1)}
			keys[i] = records.Found{Entity: int(records.Phone), Hash: xs[i].Hash}
		}
		if err := s.Issue(ctx, xs); err != nil {
			t.Fatal(err)
		}
		got, found, err := s.Lookup(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := range xs {
			if !found[i] || got[i] != xs[i] {
				t.Fatalf("canary %d of 5,000: found %v, %+v", i, found[i], got[i])
			}
		}
	})

	t.Run("canary registry bounded, every recipient still traceable", func(t *testing.T) {
		b := newBackend(t)
		s := b.open(t)
		const max = 100
		s.(interface{ setMaxCanaries(int) }).setMaxCanaries(max)
		issue := func(s State, who identity.Key, from, n int, at time.Time) []canary.Issued {
			t.Helper()
			xs := make([]canary.Issued, n)
			for i := range xs {
				// Spread as keyed hashes are.
				xs[i] = canary.Issued{Kind: records.Phone, Hash: uint64(from+i+1) * 0x9e3779b97f4a7c15, At: at.UnixNano()}
				xs[i].Actor.Keys[who.Kind] = who
			}
			if err := s.Issue(ctx, xs); err != nil {
				t.Fatal(err)
			}
			return xs
		}
		// A scraper months ago, then a year's sprinkles to 20 shoppers: 22
		// times the bound in all.
		scraper := identity.Key{Kind: identity.IP, Hash: 0x5c4a9e4}
		old := issue(s, scraper, 0, 200, now.Add(-240*24*time.Hour))
		var all []canary.Issued
		all = append(all, old...)
		for i := 0; i < 20; i++ {
			all = append(all, issue(s, identity.Key{Kind: identity.IP, Hash: uint64(0x5b0 + i)}, 1000+100*i, 100, now)...)
		}
		keys := make([]records.Found, len(all))
		for i, x := range all {
			keys[i] = records.Found{Entity: int(x.Kind), Hash: x.Hash}
		}
		got, found, err := s.Lookup(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		kept, oldKept := 0, 0
		for i, f := range found {
			if !f {
				continue
			}
			kept++
			if i < len(old) {
				oldKept++
			}
			if got[i] != all[i] {
				t.Fatalf("kept receipt %+v, issued %+v", got[i], all[i])
			}
		}
		if kept > max || kept < max/4 {
			t.Fatalf("registry holds %d of %d issued receipts, want at most %d and not emptied", kept, len(all), max)
		}
		// Oldest-first pruning would have forgotten the scraper: a dump of
		// its canaries would name nobody.
		if oldKept < 2 {
			t.Fatalf("the scraper's 200 canaries from months ago: %d kept, want 2 or more (trace's proof)", oldKept)
		}
		// Every backend keeps the same receipts: those of one level.
		level := -1
		for l := 0; l <= store.MaxCanaryLevel && level < 0; l++ {
			match := true
			for i, x := range all {
				if found[i] != store.KeepsCanary(l, x.Hash) {
					match = false
					break
				}
			}
			if match {
				level = l
			}
		}
		if level < 0 {
			t.Fatalf("the %d receipts kept are not those of one thinning level", kept)
		}
		t.Logf("kept %d of %d receipts (level %d), %d of the old scraper's 200", kept, len(all), level, oldKept)
		if !b.persists {
			return
		}
		// The level is kept: after a restart, canaries it does not keep are
		// not written.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		again := b.open(t)
		again.(interface{ setMaxCanaries(int) }).setMaxCanaries(max)
		late := issue(again, scraper, 5000, 64, now)
		lk := make([]records.Found, len(late))
		for i, x := range late {
			lk[i] = records.Found{Entity: int(x.Kind), Hash: x.Hash}
		}
		_, found, err = again.Lookup(ctx, lk)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range late {
			if found[i] != store.KeepsCanary(level, x.Hash) {
				t.Fatalf("after reopening, canary %x kept %v at level %d", x.Hash, found[i], level)
			}
		}
	})

	t.Run("learnt limits replaced and kept", func(t *testing.T) {
		b := newBackend(t)
		s := b.open(t)
		if got, err := s.Learnt(ctx); err != nil || len(got) != 0 {
			t.Fatalf("fresh: %v %v, want none", got, err)
		}
		if err := s.KeepLearnt(ctx, map[string]uint64{"a": 900, "b": 1200}); err != nil {
			t.Fatal(err)
		}
		want := map[string]uint64{"a": 1500} // b no longer learns: forgotten
		if err := s.KeepLearnt(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Learnt(ctx); err != nil || !maps.Equal(got, want) {
			t.Fatalf("kept %v %v, want %v", got, err, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := b.open(t).Learnt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.persists && !maps.Equal(got, want) || !b.persists && len(got) != 0 {
			t.Fatalf("after reopening: %v (backend persists: %v)", got, b.persists)
		}
	})

	for _, name := range []Snapshot{Popularity, Partners} {
		t.Run(string(name)+" replaced and kept, apart from the others", func(t *testing.T) {
			b := newBackend(t)
			s := b.open(t)
			if got, err := s.Snapshot(ctx, name); err != nil || got != nil {
				t.Fatalf("fresh: %d bytes, %v; want nil, nil", len(got), err)
			}
			if err := s.KeepSnapshot(ctx, name, []byte("an older snapshot, longer than the next")); err != nil {
				t.Fatal(err)
			}
			// Binary, and the size of a busy shop's (about a megabyte).
			want := make([]byte, 1<<20)
			for i := range want {
				want[i] = byte(i * 7)
			}
			if err := s.KeepSnapshot(ctx, name, want); err != nil {
				t.Fatal(err)
			}
			// Another snapshot is apart: it neither replaces this one nor is
			// read for it.
			for _, other := range []Snapshot{Popularity, Partners} {
				if other != name {
					if err := s.KeepSnapshot(ctx, other, []byte("the other snapshot")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got, err := s.Snapshot(ctx, name); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("kept %d bytes, %v; want the %d kept last", len(got), err, len(want))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := b.open(t).Snapshot(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if b.persists && !bytes.Equal(got, want) || !b.persists && got != nil {
				t.Fatalf("after reopening: %d bytes (backend persists: %v)", len(got), b.persists)
			}
		})
	}

	t.Run("secret fingerprint", func(t *testing.T) {
		s := newBackend(t).open(t) // pinned testFingerprint at Open
		if err := s.CheckSecret(ctx, testFingerprint); err != nil {
			t.Fatalf("same secret: %v", err)
		}
		err := s.CheckSecret(ctx, strings.Repeat("f", 32))
		if !errors.Is(err, ErrSecretMismatch) {
			t.Fatalf("another secret: %v, want ErrSecretMismatch", err)
		}
	})

	t.Run("persistence across reopen", func(t *testing.T) {
		b := newBackend(t)
		s := b.open(t)
		x := engine.Sanction{Key: k2, Rule: "user/account/24h", Action: engine.Block, Until: now.Add(time.Hour).UnixNano()}
		s.Impose(x)
		p := netip.MustParsePrefix("192.0.2.0/24")
		if err := s.Allow(ctx, p); err != nil {
			t.Fatal(err)
		}
		c := canary.Issued{Kind: 1, Hash: 77, At: now.UnixNano()}
		c.Actor.Keys[identity.IP] = k1
		if err := s.Issue(ctx, []canary.Issued{c}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil { // the final flush writes x
			t.Fatal(err)
		}
		again := b.open(t)
		gotS, gotA := sanctions(t, again, now), allows(t, again)
		_, found, err := again.Lookup(ctx, []records.Found{{Entity: 1, Hash: 77}})
		if err != nil {
			t.Fatal(err)
		}
		if b.persists {
			if !equalSanctions(gotS, []engine.Sanction{x}) || !slices.Equal(gotA, []netip.Prefix{p}) || !found[0] {
				t.Fatalf("after reopening: sanctions %+v, allows %v, canary found %v; want all kept", gotS, gotA, found[0])
			}
			// The fingerprint is kept too: another secret is refused at Open.
			if err := again.CheckSecret(ctx, strings.Repeat("e", 32)); !errors.Is(err, ErrSecretMismatch) {
				t.Fatalf("another secret after reopening: %v", err)
			}
		} else if len(gotS) != 0 || len(gotA) != 0 || found[0] {
			t.Fatalf("a backend that does not persist kept %+v %v %v", gotS, gotA, found)
		}
	})
}

func mustFlush(t *testing.T, s State) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func sanctions(t *testing.T, s State, at time.Time) []engine.Sanction {
	t.Helper()
	xs, err := s.Sanctions(context.Background(), at.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

func allows(t *testing.T, s State) []netip.Prefix {
	t.Helper()
	ps, err := s.Allows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return ps
}

func equalSanctions(got, want []engine.Sanction) bool {
	key := func(x engine.Sanction) string { return x.Key.String() + " " + x.Rule }
	cmp := func(a, b engine.Sanction) int { return strings.Compare(key(a), key(b)) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	return slices.Equal(got, want)
}

// A proxy whose secret differs from the one the state was kept under
// refuses to start, whichever backend keeps it.
func TestOpenRefusesAnotherSecret(t *testing.T) {
	srv := testserver.Redis(t)
	dir := t.TempDir()
	for name, mk := range map[string]func() State{
		"bolt": func() State { return NewBolt(BoltOptions{Dir: dir}) },
		"redis": func() State {
			r, err := NewRedis(RedisOptions{URL: "redis://" + srv.Addr + "/0"})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			first := mk()
			if err := first.Open(Env{Fingerprint: testFingerprint}); err != nil {
				t.Fatal(err)
			}
			first.Close()
			second := mk()
			err := second.Open(Env{Fingerprint: strings.Repeat("9", 32)})
			second.Close()
			if !errors.Is(err, ErrSecretMismatch) {
				t.Fatalf("opened with another secret: %v", err)
			}
		})
	}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	if v, _ := rc.Get(context.Background(), "lg:secret-fingerprint").Result(); v != testFingerprint {
		t.Fatalf("fleet fingerprint %q, want the first proxy's", v)
	}
}
