package state

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

func TestForConfigPicksTheBackend(t *testing.T) {
	off := false
	for name, tc := range map[string]struct {
		set  func(*config.State)
		want func(State) bool
	}{
		"default: bbolt":   {func(s *config.State) {}, func(s State) bool { _, ok := s.(*Bolt); return ok }},
		"persist: false":   {func(s *config.State) { s.Persist = &off }, func(s State) bool { _, ok := s.(*Memory); return ok }},
		"redis: the fleet": {func(s *config.State) { s.Redis = "redis://127.0.0.1:1/0" }, func(s State) bool { _, ok := s.(*Redis); return ok }},
	} {
		cfg := config.Default()
		cfg.State.Dir = t.TempDir()
		tc.set(&cfg.State)
		st, err := ForConfig(cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !tc.want(st) {
			t.Errorf("%s: %T", name, st)
		}
	}
}

// meter.max_bytes lowers max_actors to what it pays for, never raises it.
func TestApplyMemoryBudget(t *testing.T) {
	cfg := config.Default()
	cfg.Records = []config.Record{{Route: "GET /api/users/{id}", Entity: "user"}}
	cfg.Meter.MaxActors, cfg.Meter.MaxBytes = 500_000, 64<<20
	ApplyMemoryBudget(cfg)
	if n := cfg.Meter.MaxActors; n >= 500_000 || n < 1000 {
		t.Errorf("64 MiB: max_actors %d", n)
	}
	cfg.Meter.MaxActors, cfg.Meter.MaxBytes = 1000, 1<<30
	ApplyMemoryBudget(cfg)
	if cfg.Meter.MaxActors != 1000 {
		t.Errorf("a larger byte budget raised max_actors to %d", cfg.Meter.MaxActors)
	}
	cfg.Meter.MaxBytes = 0
	ApplyMemoryBudget(cfg)
	if cfg.Meter.MaxActors != 1000 {
		t.Errorf("no byte budget changed max_actors to %d", cfg.Meter.MaxActors)
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint(keyed.New([]byte("secret one"))), Fingerprint(keyed.New([]byte("secret two")))
	if a != Fingerprint(keyed.New([]byte("secret one"))) || a == b || len(a) != 32 {
		t.Errorf("fingerprints %q %q", a, b)
	}
}

// A proxy's lifecycle on memory: a decision's sanction and the operator's
// allowlist changes reach the backend; an unblock lifts the kept sanction.
func TestLifecycle(t *testing.T) {
	off := false
	cfg := config.Default()
	cfg.State.Persist = &off
	l, err := NewLifecycle(cfg, keyed.New([]byte("secret")), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	local := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	eng, err := engine.New(local, engine.Options{Entities: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	var allowed []netip.Prefix
	if err := l.Open(eng, local, []string{"user"}, func(p netip.Prefix) { allowed = append(allowed, p) }, func(netip.Prefix) {}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Ledger() == nil {
		t.Fatal("no ledger")
	}
	now := time.Now()
	k := identity.Key{Kind: identity.IP, Hash: 7}
	l.Decided(engine.Decision{Key: k, Rule: "r", Action: engine.Log, Until: now.Add(time.Hour)})
	l.Decided(engine.Decision{Key: k, Rule: "r", Action: engine.Block, Until: now.Add(time.Hour)})
	if xs, _ := l.Sanctions(t.Context(), now.UnixNano()); len(xs) != 1 || xs[0].Action != engine.Block {
		t.Errorf("kept sanctions %+v, want the block alone (a log decision installs none)", xs)
	}
	l.Unblocked(k)
	if xs, _ := l.Sanctions(t.Context(), now.UnixNano()); len(xs) != 0 {
		t.Errorf("after unblock: %+v", xs)
	}
	p := netip.MustParsePrefix("192.0.2.0/24")
	if where, err := l.Allowed(p); err != nil || where != l.Keeps() {
		t.Errorf("allowed: %q %v", where, err)
	}
	if ps, _ := l.Allows(t.Context()); len(ps) != 1 || ps[0] != p {
		t.Errorf("allows %v", ps)
	}
	if err := l.Disallowed(p); err != nil {
		t.Fatal(err)
	}
	if ps, _ := l.Allows(t.Context()); len(ps) != 0 {
		t.Errorf("after disallow: %v", ps)
	}
}
