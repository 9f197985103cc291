package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// Drainer gives up the actor state changed since the last call.
type Drainer interface {
	Drain() ([]memory.Saved, uint64)
}

// Syncer writes changed state to the store every Interval, in one
// transaction per flush, off the request path.
type Syncer struct {
	Store    *Store
	Meter    Drainer
	Interval time.Duration
	// Retain is how long an actor's state matters after it was last seen:
	// the longest window plus one bucket.
	Retain time.Duration
	Log    *slog.Logger
	Now    func() time.Time
	// Canaries, if set, gives up the canaries issued since the last flush.
	Canaries interface{ Drain() []canary.Issued }

	mu        sync.Mutex
	sanctions []engine.Sanction
	unblocked []identity.Key
	lastSweep time.Time
	stats     Stats
}

// Stats are the syncer's counters, for metrics.
type Stats struct {
	Flushes, ActorsWritten, ActorsDropped, Expired, Errors uint64
	LastFlush                                              time.Time
	LastDuration                                           time.Duration
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

// Unblocked queues the removal of k's sanctions.
func (y *Syncer) Unblocked(k identity.Key) {
	y.mu.Lock()
	y.unblocked = append(y.unblocked, k)
	y.mu.Unlock()
}

// Stats returns the counters.
func (y *Syncer) Stats() Stats {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.stats
}

// Flush writes everything changed since the last flush.
func (y *Syncer) Flush() error {
	start := time.Now()
	now := y.Now()
	actors, dropped := y.Meter.Drain()
	y.mu.Lock()
	b := Batch{Actors: actors, Sanctions: y.sanctions, Unblocked: y.unblocked, Now: now}
	if y.Canaries != nil {
		b.Canaries = y.Canaries.Drain()
	}
	y.sanctions, y.unblocked = nil, nil
	sweep := now.Sub(y.lastSweep) >= 30*time.Second
	if sweep {
		y.lastSweep = now
	}
	y.mu.Unlock()
	err := y.Store.Write(b)
	var expired int
	if err == nil && sweep {
		expired, err = y.Store.Expire(now.Add(-y.Retain).UnixNano(), now.UnixNano(), 100_000)
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	y.stats.Flushes++
	y.stats.ActorsWritten += uint64(len(actors))
	y.stats.ActorsDropped += dropped
	y.stats.Expired += uint64(expired)
	y.stats.LastDuration = time.Since(start)
	if err != nil {
		y.stats.Errors++
		// Keep the sanctions for the next try; actor state is drained again
		// as soon as those actors change.
		y.sanctions = append(b.Sanctions, y.sanctions...)
		y.unblocked = append(b.Unblocked, y.unblocked...)
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
