package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	redismeter "github.com/leakguard/leakguard/internal/meter/redis"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/resplimit"
)

var _ State = (*Redis)(nil)

// RedisOptions configure the fleet backend.
type RedisOptions struct {
	// URL names one Redis, or a cluster with more nodes:
	// redis://node1:7000?addr=node2:7001&addr=node3:7002.
	URL string
	// Prefix of every key (default "lg:"): fleets sharing a Redis must
	// differ in it.
	Prefix   string
	Interval time.Duration // between flushes: the staleness bound
	// Fail is state.fail: "closed" refuses record routes while Redis is
	// unreachable; anything else serves on local state.
	Fail string
	// MaxCanaries bounds the fleet's canary registry (0:
	// store.DefaultMaxCanaries); see store.KeepsCanary.
	MaxCanaries int
	Log         *slog.Logger
}

// Redis shares state with every proxy of a fleet through one Redis: counts
// (the fleet meter), sanctions and allowlist entries (stored, and announced
// by publish/subscribe), the canary registry and the secret's fingerprint.
// Redis keeps them across restarts of any proxy.
type Redis struct {
	o         RedisOptions
	client    goredis.UniversalClient
	sanctions *redismeter.Sanctions
	canaries  *redismeter.Canaries
	log       *slog.Logger

	fleet         *redismeter.Meter
	fleetEntities []string // the fleet meter's entity names, in its order

	ledger    *canary.Ledger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	publishes sync.WaitGroup // sanctions being published, for Flush
	closeOnce sync.Once
	closeErr  error

	// shared are the allowlist entries in force here because the fleet's
	// Redis set holds them, so a resync can tell which to drop.
	sharedMu        sync.Mutex
	shared          map[netip.Prefix]bool
	allow, disallow func(netip.Prefix)
}

// NewRedis makes the client (it does not reach Redis yet: Open does).
func NewRedis(o RedisOptions) (*Redis, error) {
	client, err := RedisClient(o.URL)
	if err != nil {
		return nil, fmt.Errorf("state.redis: %w", err)
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	log := logOrDiscard(o.Log)
	logRedisClientTo(log)
	return &Redis{o: o, client: client, log: log,
		sanctions: &redismeter.Sanctions{Client: client, Prefix: o.Prefix, Log: log},
		canaries:  &redismeter.Canaries{Client: client, Prefix: o.Prefix, Max: o.MaxCanaries},
		shared:    map[netip.Prefix]bool{}}, nil
}

// Client is the Redis client, for callers that read the fleet's keys.
func (r *Redis) Client() goredis.UniversalClient { return r.client }

// Fleet is the fleet meter (nil until the meter is built), for its
// health and counters.
func (r *Redis) Fleet() *redismeter.Meter { return r.fleet }

// Hooks implements State: the local meter is wrapped in the fleet's.
func (r *Redis) Hooks() Hooks {
	return Hooks{Fleet: func(local *memory.Memory, entities []string) engine.Meter {
		r.fleet = redismeter.New(redismeter.Options{
			Client: r.client, Local: local, Entities: entities, Prefix: r.o.Prefix,
			Interval: r.o.Interval, Log: r.log,
		})
		r.fleetEntities = entities
		return r.fleet
	}}
}

// Open implements State: it compares the secret with the fleet's, loads
// the fleet's sanctions and allowlist, and starts the flushes and
// subscriptions. Redis unreachable at start is not fatal: the proxy counts
// on local state until it answers.
func (r *Redis) Open(env Env) error {
	r.ledger = env.Ledger
	r.allow, r.disallow = env.Allow, env.Disallow
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if r.fleet != nil && env.Engine != nil && env.Local != nil {
		r.fleet.SetLimits(fleetLimits(env.Engine, r.fleetEntities, env.Local.Windows()))
	}
	lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
	defer lcancel()
	err := r.CheckSecret(lctx, env.Fingerprint)
	if errors.Is(err, ErrSecretMismatch) {
		r.Close()
		return fmt.Errorf("state.redis: %w", err)
	}
	if err != nil {
		r.log.Warn("state: could not compare the hashing secret with the fleet's (redis unreachable); a proxy with another secret would count apart", "err", err)
	} else if r.fleet != nil {
		r.fleet.Join(lctx) // unreachable now: Load says so below
	}
	now := env.now().UnixNano()
	shadowed := 0
	n, err := r.sanctions.Load(lctx, 1_000_000, func(x engine.Sanction) {
		if env.Engine != nil && env.Engine.Impose(now, x) && x.Shadow && !env.Engine.Shadow() {
			shadowed++ // a proxy in shadow mode decided it: this one judges the key itself
		}
	})
	if err == nil {
		err = r.syncAllows(lctx)
	}
	r.sanctions.OnAllow = func(p netip.Prefix) { r.sharedAllow(p, true) }
	r.sanctions.OnDisallow = func(p netip.Prefix) { r.sharedAllow(p, false) }
	if err != nil {
		r.log.Error("state: redis unreachable at start; counting on local state until it is back", "redis", redactURL(r.o.URL), "fail", r.o.Fail, "err", err)
	} else {
		attrs := []any{"redis", redactURL(r.o.URL), "sanctions_loaded", n, "staleness_bound", r.o.Interval.String(), "fail", r.o.Fail}
		if shadowed > 0 {
			attrs = append(attrs, "shadow_sanctions_not_enforced", shadowed)
		}
		r.log.Info("state: sharing counts and blocks through redis", attrs...)
	}
	r.wg.Add(3)
	go func() { defer r.wg.Done(); r.resyncAllows(ctx) }()
	go func() { defer r.wg.Done(); r.shareCanaries(ctx) }()
	go func() {
		defer r.wg.Done()
		r.sanctions.Subscribe(ctx, func(x engine.Sanction) {
			if env.Engine != nil {
				env.Engine.Impose(time.Now().UnixNano(), x)
			}
		}, func(k identity.Key) {
			if env.Engine != nil {
				env.Engine.Unblock(k)
			}
		})
	}()
	if r.fleet != nil {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.fleet.Run(ctx, time.Now) }()
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

// Impose implements State: stored with its expiry and announced to the
// fleet, off the caller's goroutine (the block is already in force here).
func (r *Redis) Impose(x engine.Sanction) {
	r.publishes.Add(1)
	go func() {
		defer r.publishes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r.sanctions.Publish(ctx, x)
	}()
}

// Lift implements State, on every proxy of the fleet.
func (r *Redis) Lift(ctx context.Context, k identity.Key) error {
	r.publishes.Wait() // a sanction still being published would outlive the unblock
	return r.sanctions.Unblock(ctx, k)
}

// Sanctions implements State. Redis expires them too; the filter covers
// a clock between the two.
func (r *Redis) Sanctions(ctx context.Context, now int64) ([]engine.Sanction, error) {
	var out []engine.Sanction
	_, err := r.sanctions.Load(ctx, 1_000_000, func(x engine.Sanction) {
		if x.Until > now {
			out = append(out, x)
		}
	})
	return out, err
}

// Allow implements State: for the whole fleet.
func (r *Redis) Allow(ctx context.Context, p netip.Prefix) error { return r.sanctions.Allow(ctx, p) }

// Disallow implements State: for the whole fleet.
func (r *Redis) Disallow(ctx context.Context, p netip.Prefix) error {
	return r.sanctions.Disallow(ctx, p)
}

// Allows implements State.
func (r *Redis) Allows(ctx context.Context) ([]netip.Prefix, error) {
	ps, err := r.sanctions.Allows(ctx)
	for i := range ps {
		ps[i] = ps[i].Masked()
	}
	return ps, err
}

// Keeps implements State.
func (r *Redis) Keeps() string { return "shared with the fleet through redis, kept across restarts" }

// Issue implements State.
func (r *Redis) Issue(ctx context.Context, xs []canary.Issued) error {
	return r.canaries.Issue(ctx, xs)
}

// Lookup implements State: the fleet's registry, whichever proxy served
// the canary. Canaries issued since a proxy's last flush are not there yet.
func (r *Redis) Lookup(ctx context.Context, keys []records.Found) ([]canary.Issued, []bool, error) {
	return r.canaries.Lookup(ctx, keys)
}

// CheckSecret implements State: the fleet keeps a keyed fingerprint of its
// secret, and a proxy with another one must not join it.
func (r *Redis) CheckSecret(ctx context.Context, fingerprint string) error {
	err := redismeter.CheckSecret(ctx, r.client, r.o.Prefix, fingerprint)
	if errors.Is(err, redismeter.ErrSecretMismatch) {
		return secretMismatch{err}
	}
	return err
}

// KeepLearnt implements State: the fleet's learnt limits are the last
// writer's.
func (r *Redis) KeepLearnt(ctx context.Context, learnt map[string]uint64) error {
	key := redismeter.LearntKey(r.o.Prefix)
	_, err := r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, key)
		for id, v := range learnt {
			p.HSet(ctx, key, id, v)
		}
		return nil
	})
	return err
}

// KeepSnapshot implements State: one snapshot of each for the fleet, the
// last writer's. Each proxy sees the fleet's traffic through its own
// door; the records people are shown are the same ones whichever proxy
// serves them, so any one proxy's recent view of popularity is the
// fleet's, near enough, and merging them would count twice the pairs both
// had seen. A partner's take is metered by the fleet, so any proxy's
// history of it is the fleet's too.
func (r *Redis) KeepSnapshot(ctx context.Context, name Snapshot, p []byte) error {
	return r.client.Set(ctx, snapshotKey(r.o.Prefix, name), p, 0).Err()
}

// Snapshot implements State.
func (r *Redis) Snapshot(ctx context.Context, name Snapshot) ([]byte, error) {
	p, err := r.client.Get(ctx, snapshotKey(r.o.Prefix, name)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return p, err
}

// snapshotKey is where a fleet keeps its snapshot of name.
func snapshotKey(prefix string, name Snapshot) string {
	if prefix == "" {
		prefix = "lg:"
	}
	return prefix + string(name)
}

// Learnt implements State.
func (r *Redis) Learnt(ctx context.Context) (map[string]uint64, error) {
	return learntIn(ctx, r.client, r.o.Prefix)
}

// learntIn reads the learnt limits a fleet keeps in Redis under prefix.
func learntIn(ctx context.Context, client goredis.UniversalClient, prefix string) (map[string]uint64, error) {
	m, err := client.HGetAll(ctx, redismeter.LearntKey(prefix)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(m))
	for id, v := range m {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			out[id] = n
		}
	}
	return out, nil
}

// Flush implements State: sanctions being published, buffered records and
// canaries go now.
func (r *Redis) Flush(ctx context.Context) error {
	r.publishes.Wait()
	var errs []error
	if r.fleet != nil {
		errs = append(errs, r.fleet.Flush(ctx, time.Now().UnixNano()))
	}
	errs = append(errs, r.flushCanaries(ctx))
	return errors.Join(errs...)
}

func (r *Redis) flushCanaries(ctx context.Context) error {
	if r.ledger == nil {
		return nil
	}
	xs := r.ledger.Drain()
	if err := r.canaries.Issue(ctx, xs); err != nil {
		r.ledger.Issue(xs...) // keep them (bounded) for the next try
		return err
	}
	return nil
}

// shareCanaries writes the canaries served to the fleet's registry every
// flush interval (and once more at shutdown).
func (r *Redis) shareCanaries(ctx context.Context) {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	failing := false
	flush := func(ctx context.Context) {
		if err := r.flushCanaries(ctx); err != nil {
			if !failing {
				r.log.Error("state: could not write canaries to redis; keeping them until it answers", "err", err)
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

// sharedAllow applies a fleet allowlist change.
func (r *Redis) sharedAllow(p netip.Prefix, add bool) {
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	if add {
		if r.allow != nil {
			r.allow(p)
		}
		r.shared[p] = true
	} else if r.shared[p] {
		if r.disallow != nil {
			r.disallow(p)
		}
		delete(r.shared, p)
	}
}

// syncAllows makes the entries in force from the fleet match its Redis
// set: publish/subscribe is not durable, so a proxy that was starting, or
// cut off from Redis, when an entry was added or removed catches up here.
func (r *Redis) syncAllows(ctx context.Context) error {
	fleetAllows, err := r.Allows(ctx)
	if err != nil {
		return err
	}
	want := map[netip.Prefix]bool{}
	for _, p := range fleetAllows {
		want[p] = true
	}
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	for p := range want {
		if !r.shared[p] {
			if r.allow != nil {
				r.allow(p)
			}
			r.shared[p] = true
		}
	}
	for p := range r.shared {
		if !want[p] {
			if r.disallow != nil {
				r.disallow(p)
			}
			delete(r.shared, p)
		}
	}
	return nil
}

// resyncAllows runs syncAllows every few flush intervals (1–30 s).
func (r *Redis) resyncAllows(ctx context.Context) {
	every := min(max(5*r.o.Interval, time.Second), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			r.syncAllows(sctx) // Redis down: the fleet meter already says so
			cancel()
		}
	}
}

// FailClosed implements State.
func (r *Redis) FailClosed() func() bool {
	if r.fleet == nil || r.o.Fail != "closed" {
		return nil
	}
	return func() bool { return !r.fleet.Up() }
}

// Register implements State.
func (r *Redis) Register(reg prometheus.Registerer) {
	f := r.fleet
	if f == nil {
		return
	}
	gauge := func(name, help string, fn func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
	}
	counter := func(name, help string, fn func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
	}
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
	counter("leakguard_state_redis_key_errors_total", "Commands Redis refused for their key alone (a fleet key holding something other than a HyperLogLog): their records are dropped, Redis is not taken for down.", func() float64 { return float64(f.Stats().KeyErrors) })
	gauge("leakguard_state_redis_fleet_members", "Proxies that flushed to the fleet's Redis lately.", func() float64 { return float64(f.Stats().Members) })
	counter("leakguard_state_redis_write_through_total", "Requests of keys near a budget whose records were written to Redis as served.", func() float64 { return float64(f.Stats().Throughs) })
	counter("leakguard_state_redis_consults_total", "Admissions of keys near a budget that read the fleet's count first.", func() float64 { return float64(f.Stats().Consults) })
}

// Close implements State: the final flushes, then the client.
// A second call does nothing.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
		r.publishes.Wait()
		r.closeErr = r.client.Close()
	})
	return r.closeErr
}

// RedisClient connects to one Redis, or to a Redis Cluster when the URL
// names more nodes: redis://node1:7000?addr=node2:7001&addr=node3:7002.
// Its connections refuse replies beyond replyLimits.
func RedisClient(raw string) (goredis.UniversalClient, error) {
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
		// The dialer go-redis gives each node (which does TLS) from
		// these, wrapped.
		dial := goredis.NewDialer(&goredis.Options{DialTimeout: opts.DialTimeout, TLSConfig: opts.TLSConfig})
		opts.Dialer = resplimit.Dialer(replyLimits(), dial)
		return goredis.NewClusterClient(opts), nil
	}
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	opts.MaxRetries = -1
	opts.DisableIdentity = true
	opts.Dialer = resplimit.Dialer(replyLimits(), goredis.NewDialer(opts)) // go-redis's does TLS
	return goredis.NewClient(opts), nil
}

// replyLimits bound the fleet's replies: go-redis allocates what a reply
// header announces, and a Redis that is not what it seems (or a broken
// one) would otherwise take every proxy of the fleet down with one line.
// The largest value the fleet reads back is the popularity snapshot
// (detect's 5 MiB of sketch, DEFLATEd); the rest are short strings,
// counts, SCAN pages of about 1,000 keys, the allowlist's set and the
// learnt limits' hash (one field a budget). 64 MiB a string and a million
// elements open at once leave more than ten times the room, and bound
// what one header can make a connection allocate to under 100 MiB. The
// deepest replies are CLUSTER SLOTS' and HELLO's, 4 levels.
func replyLimits() resplimit.Limits {
	return resplimit.Limits{MaxBulk: 64 << 20, MaxElems: 1_000_000, MaxDepth: 16, Name: "the fleet client"}
}

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

func (r *Redis) setMaxCanaries(n int) { r.canaries.Max = n }
