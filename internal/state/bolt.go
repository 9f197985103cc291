package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
)

var _ State = (*Bolt)(nil)

// BoltOptions configure the embedded backend.
type BoltOptions struct {
	Dir      string        // holds state.db
	Interval time.Duration // between flushes
	// MaxActors bounds the actors state.db keeps (0: no bound beyond
	// expiry); see store.Options.
	MaxActors int
	// MaxCanaries bounds the canary registry (0: store.DefaultMaxCanaries);
	// see store.KeepsCanary.
	MaxCanaries int
}

// Bolt keeps state in dir/state.db, a bbolt file: actor meter state
// (memory is a cache of it), sanctions, the run-time allowlist and the
// canary registry survive a restart. A Syncer writes what changed every
// Interval in one transaction, off the request path.
type Bolt struct {
	o BoltOptions

	mu     sync.Mutex // guards store and syncer while they are being set
	store  *store.Store
	syncer *store.Syncer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewBolt returns the embedded backend; Open opens the file.
func NewBolt(o BoltOptions) *Bolt {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	return &Bolt{o: o}
}

func (b *Bolt) get() (*store.Store, *store.Syncer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.store, b.syncer
}

var errNotOpen = errors.New("state: not open")

// Hooks implements State: memory becomes a cache of the stored actors.
// Load is bound late: the store opens once the catalog names the entities,
// before the first request.
func (b *Bolt) Hooks() Hooks {
	return Hooks{Persist: true, Load: func(k identity.Key) []byte {
		if s, _ := b.get(); s != nil {
			return s.Load(k)
		}
		return nil
	}}
}

// noDrain stands in for a meter when none is given (a store opened for
// its sanctions and registry alone).
type noDrain struct{}

func (noDrain) Drain() ([]memory.Saved, uint64) { return nil, 0 }

// Open implements State: it opens state.db, refuses one written under
// another secret, restores sanctions and allowlist entries, and starts the
// syncer.
func (b *Bolt) Open(env Env) error {
	log := env.log()
	var windows []time.Duration
	var drain store.Drainer = noDrain{}
	retain := 31 * 24 * time.Hour
	if env.Local != nil {
		windows = env.Local.Windows()
		drain = env.Local
		last := len(windows) - 1
		retain = windows[last] + env.Local.Resolution(last)
	}
	s, rec, err := store.Open(b.o.Dir, store.Meta{Windows: windows, Entities: env.Entities},
		store.Options{MaxActors: b.o.MaxActors, MaxCanaries: b.o.MaxCanaries, Log: log})
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := s.CheckSecret(env.Fingerprint); err != nil {
		s.Close()
		if errors.Is(err, store.ErrSecretMismatch) {
			err = secretMismatch{err}
		}
		return fmt.Errorf("state: %w; restore the secret (secret.env or secret.file), or move %s aside to start afresh", err, rec.Path)
	}
	y := &store.Syncer{Store: s, Meter: drain, Interval: b.o.Interval, Retain: retain, Log: log, Now: env.Now}
	if y.Now == nil {
		y.Now = time.Now
	}
	if env.Ledger != nil {
		y.Canaries = env.Ledger
	}
	b.mu.Lock()
	b.store, b.syncer = s, y
	b.mu.Unlock()
	restored, shadowed, allows, err := restore(context.Background(), b, env)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	now := env.now()
	attrs := []any{"file", rec.Path, "actors", rec.Actors, "sanctions_in_force", restored, "allowlisted_at_run_time", allows,
		"flush_interval", b.o.Interval.String()}
	if shadowed > 0 {
		// blocks a shadow run logged: this enforcing proxy judges those keys again
		attrs = append(attrs, "shadow_sanctions_not_enforced", shadowed)
	}
	if !rec.LastFlush.IsZero() {
		attrs = append(attrs, "last_flush", rec.LastFlush.UTC().Format(time.RFC3339), "last_flush_age", now.Sub(rec.LastFlush).Round(time.Second).String())
	}
	if rec.Compacted != "" {
		attrs = append(attrs, "compacted", rec.Compacted)
	}
	log.Info("state: recovered from disk", attrs...)
	if rec.Reset != "" {
		log.Warn("state: " + rec.Reset)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(1)
	go func() { defer b.wg.Done(); y.Run(ctx) }()
	return nil
}

// Impose implements State: written with the next flush.
func (b *Bolt) Impose(x engine.Sanction) {
	if _, y := b.get(); y != nil {
		y.Impose(x)
	}
}

// Lift implements State, at once: an operator's unblock must not wait for
// a flush, nor be undone by a sanction queued before it.
func (b *Bolt) Lift(_ context.Context, k identity.Key) error {
	_, y := b.get()
	if y == nil {
		return errNotOpen
	}
	y.Forget(k)
	y.Unblocked(k)
	return y.Flush()
}

// Sanctions implements State.
func (b *Bolt) Sanctions(_ context.Context, now int64) ([]engine.Sanction, error) {
	s, _ := b.get()
	if s == nil {
		return nil, errNotOpen
	}
	return s.Sanctions(now)
}

// Allow implements State. Written at once: a rare operator action.
func (b *Bolt) Allow(_ context.Context, p netip.Prefix) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	return s.AddAllow(p, time.Now())
}

// Disallow implements State.
func (b *Bolt) Disallow(_ context.Context, p netip.Prefix) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	return s.RemoveAllow(p)
}

// Allows implements State.
func (b *Bolt) Allows(context.Context) ([]netip.Prefix, error) {
	s, _ := b.get()
	if s == nil {
		return nil, errNotOpen
	}
	return s.Allows()
}

// Keeps implements State.
func (b *Bolt) Keeps() string { return "kept in state.db across restarts" }

// Issue implements State, at once (the ledger's canaries go with flushes).
func (b *Bolt) Issue(_ context.Context, xs []canary.Issued) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	return s.Write(store.Batch{Canaries: xs})
}

// Lookup implements State. Canaries issued since the last flush are not
// there yet: at most one flush interval.
func (b *Bolt) Lookup(_ context.Context, keys []records.Found) ([]canary.Issued, []bool, error) {
	s, _ := b.get()
	if s == nil {
		return nil, nil, errNotOpen
	}
	out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		out[i], found[i] = s.Canary(records.Kind(k.Entity), k.Hash)
	}
	return out, found, nil
}

// CheckSecret implements State.
func (b *Bolt) CheckSecret(_ context.Context, fingerprint string) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	err := s.CheckSecret(fingerprint)
	if errors.Is(err, store.ErrSecretMismatch) {
		return secretMismatch{err}
	}
	return err
}

// KeepLearnt implements State.
func (b *Bolt) KeepLearnt(_ context.Context, learnt map[string]uint64) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	return s.KeepLearnt(learnt)
}

// KeepSnapshot implements State.
func (b *Bolt) KeepSnapshot(_ context.Context, name Snapshot, p []byte) error {
	s, _ := b.get()
	if s == nil {
		return errNotOpen
	}
	return s.KeepSnapshot(string(name), p)
}

// Snapshot implements State.
func (b *Bolt) Snapshot(_ context.Context, name Snapshot) ([]byte, error) {
	s, _ := b.get()
	if s == nil {
		return nil, errNotOpen
	}
	return s.Snapshot(string(name))
}

// Learnt implements State.
func (b *Bolt) Learnt(context.Context) (map[string]uint64, error) {
	s, _ := b.get()
	if s == nil {
		return nil, errNotOpen
	}
	return s.Learnt()
}

// Flush implements State.
func (b *Bolt) Flush(context.Context) error {
	_, y := b.get()
	if y == nil {
		return errNotOpen
	}
	return y.Flush()
}

// FailClosed implements State: a local file is never "unreachable"; a
// failing disk is retried and counted instead.
func (b *Bolt) FailClosed() func() bool { return nil }

// Register implements State.
func (b *Bolt) Register(reg prometheus.Registerer) {
	_, y := b.get()
	if y == nil {
		return
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	counter("leakguard_state_flushes_total", "Flushes of state to the embedded store.", func() float64 { return float64(y.Stats().Flushes) })
	counter("leakguard_state_flush_errors_total", "Flushes to the embedded store that failed.", func() float64 { return float64(y.Stats().Errors) })
	counter("leakguard_state_actors_written_total", "Actor states written to the embedded store.", func() float64 { return float64(y.Stats().ActorsWritten) })
	counter("leakguard_state_actors_dropped_total", "Actor states dropped before a flush could write them (evicted past the spill buffer, or held back past the retry bound while the disk failed).", func() float64 { return float64(y.Stats().ActorsDropped) })
	counter("leakguard_state_canaries_dropped_total", "Canary receipts dropped while the disk failed, past the retry bound.", func() float64 { return float64(y.Stats().CanariesDropped) })
	counter("leakguard_state_actors_trimmed_total", "Actor states deleted from the embedded store to keep it under meter.max_actors.", func() float64 { return float64(y.Stats().Trimmed) })
	gauge("leakguard_state_last_flush_timestamp_seconds", "When state was last written to disk.", func() float64 {
		return float64(y.Stats().LastFlush.UnixNano()) / 1e9
	})
	// A flush that nears the interval is a disk (or a load) the syncer
	// cannot keep up with: the next flush starts as soon as it ends.
	gauge("leakguard_state_last_flush_duration_seconds", "How long the last flush to the embedded store took, draining the meter's changed actors included (state.flush_interval is the time between flushes).", func() float64 {
		return y.Stats().LastDuration.Seconds()
	})
}

// Close implements State: a final flush, then the file is released.
func (b *Bolt) Close() error {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	s, _ := b.get()
	if s == nil {
		return nil
	}
	b.mu.Lock()
	b.store, b.syncer = nil, nil
	b.mu.Unlock()
	return s.Close()
}

// logOrDiscard avoids nil loggers in helpers.
func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func (b *Bolt) setMaxCanaries(n int) {
	if s, _ := b.get(); s != nil {
		s.SetMaxCanaries(n)
	}
}
