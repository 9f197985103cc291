package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	redismeter "github.com/leakguard/leakguard/internal/meter/redis"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
)

// proxyState is the proxy's state beyond memory: the embedded store, or a
// Redis shared by a fleet. It owns the background flushes.
type proxyState struct {
	cfg *config.Config
	log *slog.Logger

	store  *store.Store
	syncer *store.Syncer
	// ledger collects the canaries served, for the store's registry.
	ledger *canary.Ledger

	client goredis.UniversalClient
	// secretFingerprint identifies the hashing secret to the fleet, so a
	// proxy with another secret refuses to join it.
	secretFingerprint string
	fleet             *redismeter.Meter
	fleetEntities     []string // the fleet meter's entity names, in its order
	sanctions         *redismeter.Sanctions

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// shared are the allowlist entries in force here because the fleet's
	// Redis set holds them, so a resync can tell which to drop.
	sharedMu sync.Mutex
	shared   map[netip.Prefix]bool
}

// stackOptions returns the meter hooks for cfg's state.
func (ps *proxyState) stackOptions() (stackOptions, error) {
	var so stackOptions
	st := &ps.cfg.State
	switch {
	case st.Redis != "":
		client, err := redisClient(st.Redis)
		if err != nil {
			return so, fmt.Errorf("state.redis: %w", err)
		}
		ps.client = client
		ps.sanctions = &redismeter.Sanctions{Client: ps.client, Log: ps.log}
		so.Fleet = func(local *memory.Memory, entities []string) engine.Meter {
			ps.fleet = redismeter.New(redismeter.Options{
				Client: ps.client, Local: local, Entities: entities,
				Interval: st.FlushInterval.D(), Log: ps.log,
			})
			ps.fleetEntities = entities
			return ps.fleet
		}
	case st.Persisting():
		so.Persist = true
		// Bound late: the store opens once the catalog names the entities,
		// before the first request.
		so.Load = func(k identity.Key) []byte { return ps.store.Load(k) }
	}
	return so, nil
}

// open opens the store (or reaches Redis), restores sanctions into eng and
// run-time allowlist entries through allow, and starts the background
// flushes.
func (ps *proxyState) open(eng *engine.Engine, local *memory.Memory, entities []string, allow func(netip.Prefix), disallow func(netip.Prefix)) error {
	ctx, cancel := context.WithCancel(context.Background())
	ps.cancel = cancel
	now := time.Now()
	switch {
	case ps.client != nil:
		ps.fleet.SetLimits(fleetLimits(eng, ps.fleetEntities, local.Windows()))
		lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
		err := redismeter.CheckSecret(lctx, ps.client, "", ps.secretFingerprint)
		if errors.Is(err, redismeter.ErrSecretMismatch) {
			lcancel()
			cancel()
			ps.client.Close()
			ps.client = nil
			return fmt.Errorf("state.redis: %w", err)
		}
		if err != nil {
			ps.log.Warn("state: could not compare the hashing secret with the fleet's (redis unreachable); a proxy with another secret would count apart", "err", err)
		} else {
			ps.fleet.Join(lctx) // unreachable now: Load says so below
		}
		n, err := ps.sanctions.Load(lctx, 1_000_000, func(x engine.Sanction) { eng.Impose(now.UnixNano(), x) })
		ps.shared = map[netip.Prefix]bool{}
		if err == nil {
			err = ps.syncAllows(lctx, allow, disallow)
		}
		lcancel()
		ps.sanctions.OnAllow = func(p netip.Prefix) { ps.sharedAllow(p, true, allow, disallow) }
		ps.sanctions.OnDisallow = func(p netip.Prefix) { ps.sharedAllow(p, false, allow, disallow) }
		if err != nil {
			ps.log.Error("state: redis unreachable at start; counting on local state until it is back", "redis", redactURL(ps.cfg.State.Redis), "fail", ps.cfg.State.Fail, "err", err)
		} else {
			ps.log.Info("state: sharing counts and blocks through redis", "redis", redactURL(ps.cfg.State.Redis), "sanctions_loaded", n,
				"staleness_bound", ps.cfg.State.FlushInterval.D().String(), "fail", ps.cfg.State.Fail)
		}
		ps.wg.Add(4)
		go func() { defer ps.wg.Done(); ps.resyncAllows(ctx, allow, disallow) }()
		go func() { defer ps.wg.Done(); ps.fleet.Run(ctx, time.Now) }()
		go func() { defer ps.wg.Done(); ps.shareCanaries(ctx) }()
		go func() {
			defer ps.wg.Done()
			ps.sanctions.Subscribe(ctx, func(x engine.Sanction) { eng.Impose(time.Now().UnixNano(), x) }, func(k identity.Key) { eng.Unblock(k) })
		}()
	case ps.cfg.State.Persisting():
		ws := ps.cfg.Windows()
		s, rec, err := store.Open(ps.cfg.State.Dir, store.Meta{Windows: ws, Entities: entities})
		if err != nil {
			cancel()
			return fmt.Errorf("state: %w", err)
		}
		ps.store = s
		sans, err := s.Sanctions(now.UnixNano())
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		restored := 0
		for _, x := range sans {
			if eng.Impose(now.UnixNano(), x) {
				restored++
			}
		}
		allows, err := s.Allows()
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		for _, p := range allows {
			allow(p)
		}
		attrs := []any{"file", rec.Path, "actors", rec.Actors, "sanctions_in_force", restored, "allowlisted_at_run_time", len(allows),
			"flush_interval", ps.cfg.State.FlushInterval.D().String()}
		if !rec.LastFlush.IsZero() {
			attrs = append(attrs, "last_flush", rec.LastFlush.UTC().Format(time.RFC3339), "last_flush_age", now.Sub(rec.LastFlush).Round(time.Second).String())
		}
		ps.log.Info("state: recovered from disk", attrs...)
		if rec.Reset != "" {
			ps.log.Warn("state: " + rec.Reset)
		}
		ps.syncer = &store.Syncer{Store: s, Meter: local, Interval: ps.cfg.State.FlushInterval.D(),
			Retain: ws[len(ws)-1] + local.Resolution(len(ws)-1), Log: ps.log, Now: time.Now, Canaries: ps.ledger}
		ps.wg.Add(1)
		go func() { defer ps.wg.Done(); ps.syncer.Run(ctx) }()
	default:
		ps.log.Warn("state: not persisted (state.persist: false): a restart forgets every count and block")
	}
	return nil
}

// fleetLimits are the engine's budgets as the fleet meter indexes them,
// so it knows which keys are near one.
func fleetLimits(eng *engine.Engine, entities []string, windows []time.Duration) []redismeter.Limit {
	var out []redismeter.Limit
	for _, b := range eng.Budgets() {
		ent, wi := slices.Index(entities, b.Entity), slices.Index(windows, b.Window)
		if b.Entity == "" || ent < 0 || wi < 0 || b.Action < engine.Throttle {
			continue // risk bands and rules count no records; log-only budgets refuse nothing
		}
		out = append(out, redismeter.Limit{Kind: b.Per, Ent: ent, Window: wi, Limit: b.Limit})
	}
	return out
}

// fleetFingerprint is what a fleet compares of its proxies' secrets: an
// HMAC of a fixed label under a key derived from the secret, which says
// nothing of the secret but changes with it.
func fleetFingerprint(h *keyed.Hasher) string {
	m := hmac.New(sha256.New, h.Derive("leakguard fleet fingerprint key"))
	m.Write([]byte("leakguard fleet secret fingerprint v1"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// shareCanaries writes the canaries served to the fleet's registry in
// Redis every flush interval (and once more at shutdown).
func (ps *proxyState) shareCanaries(ctx context.Context) {
	reg := &redismeter.Canaries{Client: ps.client}
	t := time.NewTicker(ps.cfg.State.FlushInterval.D())
	defer t.Stop()
	failing := false
	flush := func(ctx context.Context) {
		xs := ps.ledger.Drain()
		if err := reg.Issue(ctx, xs); err != nil {
			ps.ledger.Issue(xs...) // keep them (bounded) for the next try
			if !failing {
				ps.log.Error("state: could not write canaries to redis; keeping them until it answers", "err", err)
				failing = true
			}
			return
		}
		failing = false
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			flush(fctx)
			cancel()
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			flush(fctx)
			cancel()
		}
	}
}

// decided shares or persists a sanction a decision installed.
func (ps *proxyState) decided(d engine.Decision) {
	if ps.syncer != nil {
		ps.syncer.Decided(d)
	}
	if ps.sanctions != nil && d.Action >= engine.Throttle {
		x := d.Sanction()
		// Off the request path: the block is already in force here.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			ps.sanctions.Publish(ctx, x)
		}()
	}
}

// unblocked persists or shares an operator's unblock.
func (ps *proxyState) unblocked(k identity.Key) {
	if ps.syncer != nil {
		ps.syncer.Unblocked(k)
	}
	if ps.sanctions != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ps.sanctions.Unblock(ctx, k); err != nil {
			ps.log.Error("state: could not share an unblock through redis; other proxies keep the block until it expires", "key", k.String(), "err", err)
		}
	}
}

// allowed keeps an allowlist entry an operator added at run time, and
// says where.
func (ps *proxyState) allowed(p netip.Prefix) (string, error) {
	switch {
	case ps.sanctions != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ps.sanctions.Allow(ctx, p); err != nil {
			return "", fmt.Errorf("redis: %w", err)
		}
		return "shared with the fleet through redis, kept across restarts", nil
	case ps.store != nil:
		if err := ps.store.AddAllow(p, time.Now()); err != nil {
			return "", err
		}
		return "kept in state.db across restarts", nil
	}
	return "until restart (state is not persisted): add it to detect.allow in the config to keep it", nil
}

// sharedAllow applies a fleet allowlist change.
func (ps *proxyState) sharedAllow(p netip.Prefix, add bool, allow, disallow func(netip.Prefix)) {
	ps.sharedMu.Lock()
	defer ps.sharedMu.Unlock()
	if add {
		allow(p)
		ps.shared[p] = true
	} else if ps.shared[p] {
		disallow(p)
		delete(ps.shared, p)
	}
}

// syncAllows makes the entries in force from the fleet match its Redis
// set: publish/subscribe is not durable, so a proxy that was starting, or
// cut off from Redis, when an entry was added or removed catches up here.
func (ps *proxyState) syncAllows(ctx context.Context, allow, disallow func(netip.Prefix)) error {
	ps2, err := ps.sanctions.Allows(ctx)
	if err != nil {
		return err
	}
	want := map[netip.Prefix]bool{}
	for _, p := range ps2 {
		want[p.Masked()] = true
	}
	ps.sharedMu.Lock()
	defer ps.sharedMu.Unlock()
	for p := range want {
		if !ps.shared[p] {
			allow(p)
			ps.shared[p] = true
		}
	}
	for p := range ps.shared {
		if !want[p] {
			disallow(p)
			delete(ps.shared, p)
		}
	}
	return nil
}

// resyncAllows runs syncAllows every few flush intervals (1–30 s).
func (ps *proxyState) resyncAllows(ctx context.Context, allow, disallow func(netip.Prefix)) {
	every := min(max(5*ps.cfg.State.FlushInterval.D(), time.Second), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			ps.syncAllows(sctx, allow, disallow) // Redis down: the fleet meter already says so
			cancel()
		}
	}
}

// disallowed forgets a run-time allowlist entry where allowed kept it.
func (ps *proxyState) disallowed(p netip.Prefix) error {
	switch {
	case ps.sanctions != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return ps.sanctions.Disallow(ctx, p)
	case ps.store != nil:
		return ps.store.RemoveAllow(p)
	}
	return nil
}

// lookupCanaries answers the admin API's canary lookups from the registry
// this proxy writes to. Canaries issued since the last flush are not there
// yet: at most state.flush_interval.
func (ps *proxyState) lookupCanaries(keys []records.Found) ([]canary.Issued, []bool, error) {
	switch {
	case ps.client != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return (&redismeter.Canaries{Client: ps.client}).Lookup(ctx, keys)
	case ps.store != nil:
		out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
		for i, k := range keys {
			out[i], found[i] = ps.store.Canary(records.Kind(k.Entity), k.Hash)
		}
		return out, found, nil
	}
	return nil, nil, errors.New("state is not persisted (state.persist: false): no canary registry")
}

// failClosed reports whether record routes must be refused now.
func (ps *proxyState) failClosed() func() bool {
	if ps.fleet == nil || ps.cfg.State.Fail != "closed" {
		return nil
	}
	return func() bool { return !ps.fleet.Up() }
}

// register adds the state's metrics.
func (ps *proxyState) register(reg *prometheus.Registry) {
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	if y := ps.syncer; y != nil {
		counter("leakguard_state_flushes_total", "Flushes of state to the embedded store.", func() float64 { return float64(y.Stats().Flushes) })
		counter("leakguard_state_flush_errors_total", "Flushes to the embedded store that failed.", func() float64 { return float64(y.Stats().Errors) })
		counter("leakguard_state_actors_written_total", "Actor states written to the embedded store.", func() float64 { return float64(y.Stats().ActorsWritten) })
		counter("leakguard_state_actors_dropped_total", "Actor states dropped before a flush could write them (evicted past the spill buffer, or held back past the retry bound while the disk failed).", func() float64 { return float64(y.Stats().ActorsDropped) })
		counter("leakguard_state_canaries_dropped_total", "Canary receipts dropped while the disk failed, past the retry bound.", func() float64 { return float64(y.Stats().CanariesDropped) })
		gauge("leakguard_state_last_flush_timestamp_seconds", "When state was last written to disk.", func() float64 {
			return float64(y.Stats().LastFlush.UnixNano()) / 1e9
		})
	}
	if f := ps.fleet; f != nil {
		gauge("leakguard_state_redis_up", "1 while Redis answers, 0 while the proxy counts on local state.", func() float64 {
			if f.Up() {
				return 1
			}
			return 0
		})
		gauge("leakguard_state_redis_pending_records", "Records buffered for Redis.", func() float64 { return float64(f.Stats().Pending) })
		counter("leakguard_state_redis_flushed_records_total", "Records sent to Redis.", func() float64 { return float64(f.Stats().Flushed) })
		counter("leakguard_state_redis_dropped_records_total", "Records dropped while Redis was unreachable, past the buffer.", func() float64 { return float64(f.Stats().Dropped) })
		counter("leakguard_state_redis_failures_total", "Failed exchanges with Redis.", func() float64 { return float64(f.Stats().Failures) })
		gauge("leakguard_state_redis_fleet_members", "Proxies that flushed to the fleet's Redis lately.", func() float64 { return float64(f.Stats().Members) })
		counter("leakguard_state_redis_write_through_total", "Requests of keys near a budget whose records were written to Redis as served.", func() float64 { return float64(f.Stats().Throughs) })
		counter("leakguard_state_redis_consults_total", "Admissions of keys near a budget that read the fleet's count first.", func() float64 { return float64(f.Stats().Consults) })
	}
}

// close stops the background work (with a final flush) and releases the
// store or the Redis client.
func (ps *proxyState) close() error {
	if ps.cancel != nil {
		ps.cancel()
	}
	ps.wg.Wait()
	var err error
	if ps.store != nil {
		err = ps.store.Close()
	}
	if ps.client != nil {
		ps.client.Close()
	}
	return err
}

// redisClient connects to one Redis, or to a Redis Cluster when the URL
// names more nodes: redis://node1:7000?addr=node2:7001&addr=node3:7002.
func redisClient(raw string) (goredis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Query().Has("addr") {
		opts, err := goredis.ParseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
		opts.MaxRetries = -1 // a flush that fails is retried on the next tick, with its records
		opts.DisableIdentity = true
		return goredis.NewClusterClient(opts), nil
	}
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	opts.MaxRetries = -1
	opts.DisableIdentity = true
	return goredis.NewClient(opts), nil
}

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}
