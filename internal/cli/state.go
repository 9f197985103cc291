package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/state"
)

// proxyState is the proxy's state beyond memory, in whichever backend the
// config names: cli picks it (newState) and otherwise only talks to
// state.State.
type proxyState struct {
	cfg *config.Config
	log *slog.Logger
	// ledger collects the canaries served, for the backend's registry.
	ledger *canary.Ledger
	// secretFingerprint identifies the hashing secret to the backend, so
	// state kept under another secret is refused.
	secretFingerprint string
	st                state.State
}

// storeActorsPerMeterActor is how many actor states state.db keeps per
// actor the meter holds in memory: evicted actors come back with their
// counts, and a flood of fresh addresses cannot grow the file past it.
const storeActorsPerMeterActor = 2

// newState picks the backend cfg names.
func newState(cfg *config.Config, log *slog.Logger) (state.State, error) {
	sc := &cfg.State
	switch {
	case sc.Redis != "":
		return state.NewRedis(state.RedisOptions{URL: sc.Redis, Interval: sc.FlushInterval.D(), Fail: sc.Fail, Log: log})
	case sc.Persisting():
		return state.NewBolt(state.BoltOptions{Dir: sc.Dir, Interval: sc.FlushInterval.D(),
			MaxActors: storeActorsPerMeterActor * cfg.Meter.MaxActors}), nil
	}
	return state.NewMemory(), nil
}

// stackOptions returns the meter hooks for cfg's state. It first lowers
// meter.max_actors to what meter.max_bytes pays for, so the meter, the
// behaviour tracker and the store's bound all follow the byte budget.
func (ps *proxyState) stackOptions() (stackOptions, error) {
	applyMemoryBudget(ps.cfg)
	if ps.st == nil {
		st, err := newState(ps.cfg, ps.log)
		if err != nil {
			return stackOptions{}, err
		}
		ps.st = st
	}
	h := ps.st.Hooks()
	return stackOptions{Persist: h.Persist, Load: h.Load, Fleet: h.Fleet}, nil
}

// applyMemoryBudget derives meter.max_actors from meter.max_bytes at the
// measured cost of an actor key. The catalog is not built yet: entities
// are counted from the config, which is at least as many as it meters
// (one more for per-person budgets), so the estimate errs on the side of
// fewer actors.
func applyMemoryBudget(cfg *config.Config) {
	if cfg.Meter.MaxBytes <= 0 {
		return
	}
	ents := map[string]bool{}
	for _, r := range cfg.Records {
		ents[r.Entity] = true
	}
	for _, d := range cfg.PII.Detect {
		ents[d] = true
	}
	per := memory.ActorBytes(max(len(cfg.Windows()), 1), len(ents)+1)
	cfg.Meter.MaxActors = min(cfg.Meter.MaxActors, int(cfg.Meter.MaxBytes/int64(per)))
}

// open reaches the backend, restores sanctions into eng and run-time
// allowlist entries through allow, and starts the background flushes.
func (ps *proxyState) open(eng *engine.Engine, local *memory.Memory, entities []string, allow func(netip.Prefix), disallow func(netip.Prefix)) error {
	return ps.st.Open(state.Env{Engine: eng, Local: local, Entities: entities, Allow: allow, Disallow: disallow,
		Ledger: ps.ledger, Fingerprint: ps.secretFingerprint, Log: ps.log})
}

// fleetFingerprint is what a fleet compares of its proxies' secrets: an
// HMAC of a fixed label under a key derived from the secret, which says
// nothing of the secret but changes with it.
func fleetFingerprint(h *keyed.Hasher) string {
	m := hmac.New(sha256.New, h.Derive("leakguard fleet fingerprint key"))
	m.Write([]byte("leakguard fleet secret fingerprint v1"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// decided keeps or shares a sanction a decision installed.
func (ps *proxyState) decided(d engine.Decision) {
	if d.Action >= engine.Throttle {
		ps.st.Impose(d.Sanction())
	}
}

// unblocked lifts an operator's unblock where the state is kept.
func (ps *proxyState) unblocked(k identity.Key) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ps.st.Lift(ctx, k); err != nil {
		ps.log.Error("state: could not keep an unblock; the block may come back after a restart, or stay on other proxies until it expires", "key", k.String(), "err", err)
	}
}

// allowed keeps an allowlist entry an operator added at run time, and
// says where.
func (ps *proxyState) allowed(p netip.Prefix) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ps.st.Allow(ctx, p); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return ps.st.Keeps(), nil
}

// disallowed forgets a run-time allowlist entry where allowed kept it.
func (ps *proxyState) disallowed(p netip.Prefix) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return ps.st.Disallow(ctx, p)
}

// lookupCanaries answers the admin API's canary lookups from the registry
// this proxy writes to. Canaries issued since the last flush may not be
// there yet: at most state.flush_interval.
func (ps *proxyState) lookupCanaries(keys []records.Found) ([]canary.Issued, []bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ps.st.Lookup(ctx, keys)
}

// failClosed reports whether record routes must be refused now.
func (ps *proxyState) failClosed() func() bool { return ps.st.FailClosed() }

// register adds the state's metrics.
func (ps *proxyState) register(reg *prometheus.Registry) { ps.st.Register(reg) }

// close stops the background work (with a final flush) and releases the
// backend.
func (ps *proxyState) close() error {
	if ps.st == nil {
		return nil
	}
	return ps.st.Close()
}

// redisClient connects to the Redis (or cluster) a state.redis URL names.
func redisClient(raw string) (goredis.UniversalClient, error) { return state.RedisClient(raw) }
