// Package state is where a proxy keeps what outlives a request: the
// sanctions in force, the allowlist entries an operator added at run time,
// the canary registry, the fingerprint of the hashing secret, and whatever
// the meter needs to persist or share. Three backends implement State:
//
//   - Memory: the process only (state.persist: false); a restart forgets.
//   - Bolt: an embedded bbolt file, state.dir/state.db (the default).
//   - Redis: a Redis shared by a fleet of proxies (state.redis).
//
// The proxy picks one from its config and talks to it only through State,
// so it has no mode of its own to tell apart; one conformance suite
// (conformance_test.go) holds every backend to the same expectations.
package state

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// ErrSecretMismatch is returned (wrapped, errors.Is) by CheckSecret and
// Open when the state was kept under another hashing secret.
var ErrSecretMismatch = errors.New("hashing secret differs from the one the state was kept under")

// secretMismatch keeps a backend's own message (which says where the
// other fingerprint is kept, and what to do) while matching
// ErrSecretMismatch.
type secretMismatch struct{ err error }

func (e secretMismatch) Error() string        { return e.err.Error() }
func (e secretMismatch) Unwrap() error        { return e.err }
func (e secretMismatch) Is(target error) bool { return target == ErrSecretMismatch }

// State is a proxy's state beyond its in-memory meter. Methods are safe for
// concurrent use. Lifecycle: Hooks (before the meter is built), Open (once
// the engine exists), then any of the rest, then Close.
type State interface {
	// Hooks says how the in-memory meter is tied to this state. It is
	// called before the meter is built, and before Open.
	Hooks() Hooks
	// Open reaches the backend, restores what it keeps into env (sanctions
	// into the engine, run-time allowlist entries through env.Allow) and
	// starts its background work (flushes, subscriptions) until Close. A
	// backend written under another hashing secret fails with
	// ErrSecretMismatch.
	Open(env Env) error

	// Impose keeps (or shares) a sanction the engine installed. It does
	// not block: a backend may batch it into its next Flush.
	Impose(x engine.Sanction)
	// Lift removes every sanction of k, here and (for a shared backend)
	// on every proxy.
	Lift(ctx context.Context, k identity.Key) error
	// Sanctions returns the kept sanctions still in force at now (unix ns).
	Sanctions(ctx context.Context, now int64) ([]engine.Sanction, error)

	// Allow keeps a run-time allowlist entry; Disallow forgets it. Both are
	// idempotent, and Allows lists each entry once, masked.
	Allow(ctx context.Context, p netip.Prefix) error
	Disallow(ctx context.Context, p netip.Prefix) error
	Allows(ctx context.Context) ([]netip.Prefix, error)
	// Keeps says, for an operator, how long a run-time allowlist entry
	// lasts and where.
	Keeps() string

	// Issue records who received which canary. Lookup answers, for each
	// key, who received it (found false if nobody here did).
	Issue(ctx context.Context, xs []canary.Issued) error
	Lookup(ctx context.Context, keys []records.Found) ([]canary.Issued, []bool, error)

	// KeepLearnt keeps the limits calibration learnt (budget id →
	// limit), replacing what was kept; Learnt returns them, so a restart
	// (or, on a shared backend, the fleet's next proxy) starts from what
	// was learnt rather than from the written limits.
	KeepLearnt(ctx context.Context, learnt map[string]uint64) error
	Learnt(ctx context.Context) (map[string]uint64, error)

	// KeepSnapshot keeps snapshot p of what name learnt (Popularity,
	// Partners), replacing the one kept; Snapshot returns it (nil, nil if
	// none is kept), so a restart does not begin from nothing. A snapshot
	// is opaque here: its owner checks it when restored. On a shared
	// backend there is one of each for the fleet, the last writer's.
	KeepSnapshot(ctx context.Context, name Snapshot, p []byte) error
	Snapshot(ctx context.Context, name Snapshot) ([]byte, error)

	// CheckSecret pins the fingerprint of the hashing secret on first use
	// and returns ErrSecretMismatch if another one is pinned: counts and
	// blocks kept under one secret belong to other actor keys under
	// another.
	CheckSecret(ctx context.Context, fingerprint string) error

	// Flush writes what is batched (meter state, sanctions, canaries) now.
	Flush(ctx context.Context) error
	// FailClosed, if not nil, reports whether record routes must be
	// refused now (the backend is shared, unreachable, and state.fail is
	// closed).
	FailClosed() func() bool
	// Register adds the backend's metrics.
	Register(reg prometheus.Registerer)
	// Close stops the background work with a final flush and releases the
	// backend.
	Close() error
}

// Snapshot names a snapshot a backend keeps (State.KeepSnapshot).
type Snapshot string

const (
	// Popularity is what the behaviour tracker learnt of popularity
	// (detect.Behaviour.Snapshot): without it a restart begins with a
	// cold sketch and unmeasured people.
	Popularity Snapshot = "popularity"
	// Partners is the partners' histories (engine.Engine.Partners):
	// without them a proxy deployed every day never knows a partner's
	// own normal.
	Partners Snapshot = "partners"
)

// Hooks tie the in-memory meter to a backend.
type Hooks struct {
	// Persist and Load make memory a cache of stored actor state: changed
	// actors are drained to the backend, and an actor not in memory is
	// loaded from it.
	Persist bool
	Load    func(identity.Key) []byte
	// Fleet, if set, wraps the local meter in one shared with other
	// proxies; entities are the metered entities' names, in order.
	Fleet func(local *memory.Memory, entities []string) engine.Meter
}

// Env is what Open restores into and meters from.
type Env struct {
	Engine *engine.Engine
	Local  *memory.Memory
	// Entities are the metered entity names (the store discards actor
	// state written under other ones).
	Entities []string
	// Allow and Disallow change the detector's allowlist.
	Allow, Disallow func(netip.Prefix)
	// Ledger collects the canaries served, for the registry.
	Ledger *canary.Ledger
	// Fingerprint identifies the hashing secret (see CheckSecret).
	Fingerprint string
	Log         *slog.Logger
	Now         func() time.Time
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// restore imposes kept sanctions and applies kept allowlist entries, for
// the backends that have no subscription doing it. shadowed counts the
// sanctions decided in shadow mode that an enforcing engine keeps but does
// not hold keys to (it judges them again).
func restore(ctx context.Context, s State, env Env) (sanctions, shadowed, allows int, err error) {
	now := env.now().UnixNano()
	xs, err := s.Sanctions(ctx, now)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, x := range xs {
		switch {
		case env.Engine == nil || !env.Engine.Impose(now, x):
		case x.Shadow && !env.Engine.Shadow():
			shadowed++ // kept, not enforced: each key is judged again
		default:
			sanctions++
		}
	}
	ps, err := s.Allows(ctx)
	if err != nil {
		return sanctions, shadowed, 0, err
	}
	for _, p := range ps {
		if env.Allow != nil {
			env.Allow(p)
		}
	}
	return sanctions, shadowed, len(ps), nil
}
