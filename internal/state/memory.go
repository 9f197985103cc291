package state

import (
	"bytes"
	"context"
	"maps"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
)

var _ State = (*Memory)(nil)

// memoryCanaries bounds the in-memory canary registry: past it, it is
// thinned as the stored ones are (store.KeepsCanary). At ~130 bytes a
// receipt, 8 MiB at most.
const memoryCanaries = 65_536

// Memory keeps state in the process only (state.persist: false): a restart
// forgets every block, run-time allowlist entry and canary receipt. The
// engine holds the sanctions in force anyway; Memory keeps its own copy so
// that it answers like the other backends.
type Memory struct {
	mu          sync.Mutex
	sanctions   map[sanctionID]engine.Sanction
	pruneAt     int // prune expired sanctions when the map reaches this size
	allows      map[netip.Prefix]bool
	canaries    map[canaryID]canary.Issued
	canaryLevel int // see store.KeepsCanary
	maxCanaries int
	fingerprint string
	ledger      *canary.Ledger
	learnt      map[string]uint64
	snapshots   map[Snapshot][]byte
}

type sanctionID struct {
	key  identity.Key
	rule string
}

type canaryID struct {
	kind records.Kind
	hash uint64
}

// NewMemory returns an empty in-memory state.
func NewMemory() *Memory {
	return &Memory{sanctions: map[sanctionID]engine.Sanction{}, pruneAt: 1024,
		allows: map[netip.Prefix]bool{}, canaries: map[canaryID]canary.Issued{}, maxCanaries: memoryCanaries}
}

// Hooks implements State: the meter keeps nothing beyond itself.
func (m *Memory) Hooks() Hooks { return Hooks{} }

// Open implements State. Nothing to restore.
func (m *Memory) Open(env Env) error {
	if err := m.CheckSecret(context.Background(), env.Fingerprint); err != nil {
		return err
	}
	m.mu.Lock()
	m.ledger = env.Ledger
	m.mu.Unlock()
	env.log().Warn("state: not persisted (state.persist: false): a restart forgets every count and block")
	return nil
}

// Impose implements State.
func (m *Memory) Impose(x engine.Sanction) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sanctions[sanctionID{x.Key, x.Rule}] = x
	if len(m.sanctions) >= m.pruneAt {
		// Amortised: expired sanctions go when the map has doubled since
		// the last prune, so a flood of blocks cannot grow it for ever.
		now := time.Now().UnixNano()
		for id, s := range m.sanctions {
			if s.Until <= now {
				delete(m.sanctions, id)
			}
		}
		m.pruneAt = max(1024, 2*len(m.sanctions))
	}
}

// Lift implements State.
func (m *Memory) Lift(_ context.Context, k identity.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.sanctions {
		if id.key == k {
			delete(m.sanctions, id)
		}
	}
	return nil
}

// Sanctions implements State.
func (m *Memory) Sanctions(_ context.Context, now int64) ([]engine.Sanction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []engine.Sanction
	for _, x := range m.sanctions {
		if x.Until > now {
			out = append(out, x)
		}
	}
	return out, nil
}

// Allow implements State.
func (m *Memory) Allow(_ context.Context, p netip.Prefix) error {
	m.mu.Lock()
	m.allows[p.Masked()] = true
	m.mu.Unlock()
	return nil
}

// Disallow implements State.
func (m *Memory) Disallow(_ context.Context, p netip.Prefix) error {
	m.mu.Lock()
	delete(m.allows, p.Masked())
	m.mu.Unlock()
	return nil
}

// Allows implements State.
func (m *Memory) Allows(context.Context) ([]netip.Prefix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]netip.Prefix, 0, len(m.allows))
	for p := range m.allows {
		out = append(out, p)
	}
	return out, nil
}

// Keeps implements State.
func (m *Memory) Keeps() string {
	return "until restart (state is not persisted): add it to detect.allow in the config to keep it"
}

// Issue implements State.
func (m *Memory) Issue(_ context.Context, xs []canary.Issued) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.issue(xs)
	return nil
}

func (m *Memory) issue(xs []canary.Issued) {
	for _, x := range xs {
		if store.KeepsCanary(m.canaryLevel, x.Hash) {
			m.canaries[canaryID{x.Kind, x.Hash}] = x
		}
	}
	for len(m.canaries) > m.maxCanaries && m.canaryLevel < store.MaxCanaryLevel {
		m.canaryLevel++
		for id := range m.canaries {
			if !store.KeepsCanary(m.canaryLevel, id.hash) {
				delete(m.canaries, id)
			}
		}
	}
}

// Lookup implements State. Canaries served since are taken from the
// ledger first: there is no flush to wait for in memory.
func (m *Memory) Lookup(_ context.Context, keys []records.Found) ([]canary.Issued, []bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drainLedger()
	out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		out[i], found[i] = m.canaries[canaryID{records.Kind(k.Entity), k.Hash}]
	}
	return out, found, nil
}

func (m *Memory) drainLedger() {
	if m.ledger != nil {
		m.issue(m.ledger.Drain())
	}
}

// CheckSecret implements State: the fingerprint lasts as long as the
// process.
func (m *Memory) CheckSecret(_ context.Context, fingerprint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fingerprint == "" {
		m.fingerprint = fingerprint
	}
	if m.fingerprint != fingerprint {
		return ErrSecretMismatch
	}
	return nil
}

// Flush implements State.
func (m *Memory) Flush(context.Context) error {
	m.mu.Lock()
	m.drainLedger()
	m.mu.Unlock()
	return nil
}

// FailClosed implements State: memory cannot be unreachable.
func (m *Memory) FailClosed() func() bool { return nil }

// Register implements State: nothing to measure.
func (m *Memory) Register(prometheus.Registerer) {}

// Close implements State.
func (m *Memory) Close() error { return nil }

func (m *Memory) setMaxCanaries(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maxCanaries = n
}

// KeepLearnt implements State.
func (m *Memory) KeepLearnt(_ context.Context, learnt map[string]uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.learnt = maps.Clone(learnt)
	return nil
}

// KeepSnapshot implements State.
func (m *Memory) KeepSnapshot(_ context.Context, name Snapshot, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snapshots == nil {
		m.snapshots = map[Snapshot][]byte{}
	}
	m.snapshots[name] = bytes.Clone(p)
	return nil
}

// Snapshot implements State.
func (m *Memory) Snapshot(_ context.Context, name Snapshot) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.snapshots[name]), nil
}

// Learnt implements State.
func (m *Memory) Learnt(context.Context) (map[string]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := maps.Clone(m.learnt)
	if out == nil {
		out = map[string]uint64{}
	}
	return out, nil
}
