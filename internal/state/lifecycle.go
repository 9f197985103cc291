package state

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// Lifecycle is the State a running proxy keeps, in the order the proxy
// needs it: picked from the config (NewLifecycle) before the meter is
// built, so Hooks can tie the meter to it; Open once the engine exists,
// which restores sanctions and run-time allowlist entries and starts the
// fleet's resync; then the engine's sanctions and the operator's changes as
// they happen; Close after the listeners, so the final flush sees every
// request served.
type Lifecycle struct {
	State
	log *slog.Logger
	// ledger collects the canaries served, for the backend's registry.
	ledger *canary.Ledger
	// fingerprint identifies the hashing secret to the backend, so state
	// kept under another secret is refused.
	fingerprint string
	// popularity and partners: what was last kept of each snapshot.
	popularity, partners kept
}

// kept is what a Lifecycle knows of a snapshot it keeps.
type kept struct {
	mu sync.Mutex
	// at: its owner's count of changes (the records the behaviour tracker
	// served; the changes to partners' histories) when it was last kept
	// or restored. An owner that changed nothing since is not kept again:
	// an idle proxy would rewrite a megabyte a minute for nothing,
	// overwrite a busier one's in a fleet, and, its popularity snapshot
	// stamped anew at each keep, a proxy restarted over and over without
	// traffic would never let a day-old one go stale.
	at uint64
	// failing: the last keep failed. A backend down (Redis, a full disk)
	// fails every minute; its operator hears of it once, and when it works
	// again.
	failing bool
}

// keep keeps the snapshot of name that snapshot makes, if its owner's
// count of changes moved from k.at to changed; lost says what a restart
// loses while it cannot be kept.
func (l *Lifecycle) keep(k *kept, name Snapshot, changed uint64, snapshot func() []byte, lost string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if changed == k.at {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	if err := l.KeepSnapshot(ctx, name, snapshot()); err != nil {
		if !k.failing {
			l.log.Error(fmt.Sprintf("state: could not keep the %s snapshot; %s (said once until it is kept again)", name, lost), "err", err)
		}
		k.failing = true
		return
	}
	if k.failing {
		l.log.Info(fmt.Sprintf("state: %s snapshot kept again", name))
	}
	k.at, k.failing = changed, false
}

// restored notes that a snapshot was restored at its owner's count of
// changes.
func (k *kept) restored(changed uint64) {
	k.mu.Lock()
	k.at = changed
	k.mu.Unlock()
}

// storeActorsPerMeterActor is how many actor states state.db keeps per
// actor the meter holds in memory: evicted actors come back with their
// counts, and a flood of fresh addresses cannot grow the file past it.
const storeActorsPerMeterActor = 2

// NewLifecycle picks the backend cfg names, keyed to h's secret. It first
// lowers meter.max_actors to what meter.max_bytes pays for, so the meter,
// the behaviour tracker and the store's bound all follow the byte budget.
func NewLifecycle(cfg *config.Config, h *keyed.Hasher, log *slog.Logger) (*Lifecycle, error) {
	ApplyMemoryBudget(cfg)
	st, err := ForConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	return &Lifecycle{State: st, log: logOrDiscard(log), ledger: &canary.Ledger{}, fingerprint: Fingerprint(h)}, nil
}

// ForConfig returns the backend cfg names: Redis for a fleet, else the
// bbolt file unless persistence is off, else memory only.
func ForConfig(cfg *config.Config, log *slog.Logger) (State, error) {
	sc := &cfg.State
	switch {
	case sc.Redis != "":
		return NewRedis(RedisOptions{URL: sc.Redis, Interval: sc.FlushInterval.D(), Fail: sc.Fail, Log: log})
	case sc.Persisting():
		return NewBolt(BoltOptions{Dir: sc.Dir, Interval: sc.FlushInterval.D(),
			MaxActors: storeActorsPerMeterActor * cfg.Meter.MaxActors}), nil
	}
	return NewMemory(), nil
}

// ApplyMemoryBudget derives meter.max_actors from meter.max_bytes at the
// measured cost of an actor key. The catalog is not built yet: entities
// are counted from the config, which is at least as many as it meters
// (one more for per-person budgets), so the estimate errs on the side of
// fewer actors.
func ApplyMemoryBudget(cfg *config.Config) {
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

// Fingerprint is what a backend compares of its proxies' secrets: an HMAC
// of a fixed label under a key derived from the secret, which says nothing
// of the secret but changes with it.
func Fingerprint(h *keyed.Hasher) string {
	m := hmac.New(sha256.New, h.Derive("leakguard fleet fingerprint key"))
	m.Write([]byte("leakguard fleet secret fingerprint v1"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Ledger collects the canaries the proxy serves; the backend drains it
// into its registry.
func (l *Lifecycle) Ledger() *canary.Ledger { return l.ledger }

// Open reaches the backend, restores sanctions into eng and run-time
// allowlist entries through allow, and starts the background flushes.
// It starts eng from the learnt limits kept: a restarted proxy is not
// back to the written limits, refusing the heavy readers it had learnt
// were people.
func (l *Lifecycle) Open(eng *engine.Engine, local *memory.Memory, entities []string, allow, disallow func(netip.Prefix)) error {
	err := l.State.Open(Env{Engine: eng, Local: local, Entities: entities, Allow: allow, Disallow: disallow,
		Ledger: l.ledger, Fingerprint: l.fingerprint, Log: l.log})
	if err != nil || eng == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	learnt, err := l.State.Learnt(ctx)
	if err != nil {
		// The written limits protect; learning starts again.
		l.log.Error("state: could not read the learnt limits; starting from the written ones", "err", err)
		return nil
	}
	if n := eng.Restore(learnt); n > 0 {
		l.log.Info("state: learnt limits restored", "budgets", n)
	}
	return nil
}

// KeepLearntOf keeps the limits eng has learnt, for a restart and the fleet.
func (l *Lifecycle) KeepLearntOf(eng *engine.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	if err := l.KeepLearnt(ctx, eng.Learned()); err != nil {
		l.log.Error("state: could not keep the learnt limits; a restart starts from the written ones", "err", err)
	}
}

// RestorePopularity starts b from the popularity snapshot kept, if there
// is one and it is whole, this build's and under a day old at now. It
// never fails a start: without a snapshot b starts cold, as a first start
// does, which only delays recognising some crews.
func (l *Lifecycle) RestorePopularity(b *detect.Behaviour, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	p, err := l.Snapshot(ctx, Popularity)
	switch {
	case err != nil:
		l.log.Warn("state: could not read the popularity snapshot; popularity starts cold", "err", err)
		return
	case p == nil:
		return
	}
	if err := b.Restore(p, now); err != nil {
		l.log.Warn("state: popularity snapshot not restored; popularity starts cold", "err", err, "bytes", len(p))
		return
	}
	pop := b.Popularity()
	l.popularity.restored(pop.Served)
	savedAt, _ := detect.SnapshotSavedAt(p)
	l.log.Info("state: popularity restored", "age", now.Sub(savedAt).Round(time.Second), "bytes", len(p),
		"records", pop.Served, "people_measured", pop.PeopleMeasured, "warm", pop.Warm)
}

// KeepPopularityOf keeps what b has learnt of popularity, for a restart
// and the fleet's next proxy, if b served records since it was last kept
// or restored.
func (l *Lifecycle) KeepPopularityOf(b *detect.Behaviour) {
	l.keep(&l.popularity, Popularity, b.Popularity().Served, b.Snapshot, "a restart may start it cold")
}

// RestorePartners adds the partners' histories kept to eng's, so that a
// restarted proxy holds each partner to its own normal at once. It never
// fails a start: without them the written limits hold partners until a
// day of history is known again.
func (l *Lifecycle) RestorePartners(eng *engine.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	p, err := l.Snapshot(ctx, Partners)
	switch {
	case err != nil:
		l.log.Warn("state: could not read the partners' histories; partners meet the written limits until a day of theirs is known", "err", err)
		return
	case p == nil:
		return
	}
	n, err := eng.RestorePartners(p)
	if err != nil {
		l.log.Warn("state: partners' histories not restored; partners meet the written limits until a day of theirs is known", "err", err, "bytes", len(p))
		return
	}
	l.partners.restored(eng.PartnersChanged())
	l.log.Info("state: partners' histories restored", "partners", n, "bytes", len(p))
}

// KeepPartnersOf keeps the partners' histories eng holds, for a restart
// and the fleet's next proxy, if they changed since they were last kept
// or restored.
func (l *Lifecycle) KeepPartnersOf(eng *engine.Engine) {
	l.keep(&l.partners, Partners, eng.PartnersChanged(), eng.Partners, "a restart holds partners to the written limits until a day of theirs is known")
}

// Decided keeps or shares a sanction a decision installed (a log-only
// decision installs none).
func (l *Lifecycle) Decided(d engine.Decision) {
	if d.Action >= engine.Throttle {
		l.Impose(d.Sanction())
	}
}

// The operator's changes wait at most this long for the backend: the
// admin API answers, and says what was not kept.
const operatorWait = 2 * time.Second

// Unblocked lifts an operator's unblock where the state is kept. The
// engine has lifted it already: a backend that cannot be reached is
// logged, not refused.
func (l *Lifecycle) Unblocked(k identity.Key) {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	if err := l.Lift(ctx, k); err != nil {
		l.log.Error("state: could not keep an unblock; the block may come back after a restart, or stay on other proxies until it expires", "key", k.String(), "err", err)
	}
}

// Allowed keeps an allowlist entry an operator added at run time, and
// says where.
func (l *Lifecycle) Allowed(p netip.Prefix) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	if err := l.Allow(ctx, p); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return l.Keeps(), nil
}

// Disallowed forgets a run-time allowlist entry where Allowed kept it.
func (l *Lifecycle) Disallowed(p netip.Prefix) error {
	ctx, cancel := context.WithTimeout(context.Background(), operatorWait)
	defer cancel()
	return l.Disallow(ctx, p)
}

// LookupCanaries answers the admin API's canary lookups from the registry
// this proxy writes to. Canaries issued since the last flush may not be
// there yet: at most state.flush_interval.
func (l *Lifecycle) LookupCanaries(keys []records.Found) ([]canary.Issued, []bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.Lookup(ctx, keys)
}
