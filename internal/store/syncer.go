package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

var errExpire = errors.New("expiry sweep")

// Drainer gives up the actor state changed since the last call.
type Drainer interface {
	Drain() ([]memory.Saved, uint64)
}

// Writer is what the Syncer needs of the store.
type Writer interface {
	Write(Batch) error
	Expire(before, now int64, max int) (int, error)
}

var _ Writer = (*Store)(nil)

// maxRetry bounds what a failing disk holds back in memory: actor states
// and canaries kept for the next try. Past it the oldest are dropped, and
// counted.
const maxRetry = 1 << 20

// Syncer writes changed state to the store every Interval, in one
// transaction per flush, off the request path. A flush that fails is
// retried whole at the next interval: nothing drained is lost while the
// disk recovers, up to maxRetry actors and canaries.
type Syncer struct {
	Store    Writer
	Meter    Drainer
	Interval time.Duration
	// Retain is how long an actor's state matters after it was last seen:
	// the longest window plus one bucket.
	Retain time.Duration
	Log    *slog.Logger
	Now    func() time.Time
	// Canaries, if set, gives up the canaries issued since the last flush.
	Canaries interface{ Drain() []canary.Issued }

	// flushMu makes flushes one at a time, so a flush drained later is
	// also written later (newer actor state wins) and an unblock flushed
	// at once lands after any flush of the sanction it lifts.
	flushMu   sync.Mutex
	mu        sync.Mutex
	sanctions []engine.Sanction
	unblocked []identity.Key
	// from failed flushes, written before what was drained since (so the
	// newer state of an actor wins)
	retryActors   []memory.Saved
	retryCanaries []canary.Issued
	lastSweep     time.Time
	stats         Stats
}

// Stats are the syncer's counters, for metrics.
type Stats struct {
	Flushes, ActorsWritten, ActorsDropped, CanariesDropped, Expired, Errors uint64
	// Trimmed are actor states deleted to keep the store under its bound.
	Trimmed      uint64
	LastFlush    time.Time
	LastDuration time.Duration
}

// Decided queues the sanction a decision installed.
func (y *Syncer) Decided(d engine.Decision) {
	if d.Action < engine.Throttle {
		return
	}
	y.mu.Lock()
	y.sanctions = append(y.sanctions, d.Sanction())
	y.mu.Unlock()
}

// Impose queues a sanction for the next flush.
func (y *Syncer) Impose(x engine.Sanction) {
	y.mu.Lock()
	y.sanctions = append(y.sanctions, x)
	y.mu.Unlock()
}

// Forget drops k's sanctions queued for the next flush, so that one
// imposed just before an unblock is not written after it.
func (y *Syncer) Forget(k identity.Key) {
	y.mu.Lock()
	y.sanctions = slices.DeleteFunc(y.sanctions, func(x engine.Sanction) bool { return x.Key == k })
	y.mu.Unlock()
}

// Unblocked queues the removal of k's sanctions.
func (y *Syncer) Unblocked(k identity.Key) {
	y.mu.Lock()
	y.unblocked = append(y.unblocked, k)
	y.mu.Unlock()
}

// Stats returns the counters.
func (y *Syncer) Stats() Stats {
	y.mu.Lock()
	st := y.stats
	y.mu.Unlock()
	if t, ok := y.Store.(interface{ Trimmed() uint64 }); ok {
		st.Trimmed = t.Trimmed()
	}
	return st
}

// Flush writes everything changed since the last flush.
func (y *Syncer) Flush() error {
	y.flushMu.Lock()
	defer y.flushMu.Unlock()
	start := time.Now()
	now := y.Now()
	actors, dropped := y.Meter.Drain()
	y.mu.Lock()
	actors = append(y.retryActors, actors...)
	b := Batch{Actors: actors, Sanctions: y.sanctions, Unblocked: y.unblocked, Now: now, Canaries: y.retryCanaries}
	if y.Canaries != nil {
		b.Canaries = append(b.Canaries, y.Canaries.Drain()...)
	}
	y.sanctions, y.unblocked, y.retryActors, y.retryCanaries = nil, nil, nil, nil
	sweep := now.Sub(y.lastSweep) >= 30*time.Second
	if sweep {
		y.lastSweep = now
	}
	y.mu.Unlock()
	err := y.Store.Write(b)
	var expired int
	if err == nil && sweep {
		if expired, err = y.Store.Expire(now.Add(-y.Retain).UnixNano(), now.UnixNano(), 100_000); err != nil {
			err = fmt.Errorf("%w: %w", errExpire, err) // the batch itself is written
		}
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	y.stats.Flushes++
	y.stats.ActorsDropped += dropped
	y.stats.Expired += uint64(expired)
	y.stats.LastDuration = time.Since(start)
	if err != nil && !errors.Is(err, errExpire) {
		y.stats.Errors++
		// Keep everything for the next try.
		y.sanctions = append(b.Sanctions, y.sanctions...)
		y.unblocked = append(b.Unblocked, y.unblocked...)
		if n := len(b.Actors) - maxRetry; n > 0 {
			y.stats.ActorsDropped += uint64(n)
			b.Actors = b.Actors[n:]
		}
		if n := len(b.Canaries) - maxRetry; n > 0 {
			y.stats.CanariesDropped += uint64(n)
			b.Canaries = b.Canaries[n:]
		}
		y.retryActors, y.retryCanaries = b.Actors, b.Canaries
		return err
	}
	y.stats.ActorsWritten += uint64(len(actors))
	if err != nil {
		y.stats.Errors++
		return err
	}
	y.stats.LastFlush = now
	return nil
}

// Run flushes every Interval until ctx is done, then flushes once more.
func (y *Syncer) Run(ctx context.Context) {
	t := time.NewTicker(y.Interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			if err := y.Flush(); err != nil {
				y.Log.Error("state: final flush failed", "err", err)
			}
			return
		case <-t.C:
			err := y.Flush()
			switch {
			case err != nil && !failing:
				y.Log.Error("state: flush to disk failed; retrying every interval", "err", err)
				failing = true
			case err == nil && failing:
				y.Log.Info("state: flushing to disk again")
				failing = false
			}
		}
	}
}
