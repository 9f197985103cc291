package state

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	redismeter "github.com/leakguard/leakguard/internal/meter/redis"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
)

// Registry is a proxy's canary registry opened for reading, by canary
// trace: a fleet's Redis, read live, or a state.db opened read-only
// (bbolt is single-writer: the proxy must be stopped, or the file a copy).
type Registry struct {
	// One of Lookup (a local file, read value by value) and Batch (a
	// remote registry, asked in batches) is set.
	Lookup canary.Lookup
	Batch  canary.BatchLookup
	// Issued is how many canaries the registry holds; -1 when unknown.
	Issued int
	close  func() error
}

// OpenRegistry opens the registry cfg's proxy writes to: its Redis when
// it is in a fleet and dir is empty, else the state.db in dir (default
// state.dir).
func OpenRegistry(ctx context.Context, cfg *config.Config, dir string) (*Registry, error) {
	if cfg.State.Redis != "" && dir == "" {
		client, err := RedisClient(cfg.State.Redis)
		if err != nil {
			return nil, fmt.Errorf("state.redis: %w", err)
		}
		reg := &redismeter.Canaries{Client: client}
		return &Registry{Issued: -1, close: client.Close,
			Batch: func(keys []records.Found) ([]canary.Issued, []bool, error) { return reg.Lookup(ctx, keys) }}, nil
	}
	if dir == "" {
		dir = cfg.State.Dir
	}
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		return nil, err
	}
	return &Registry{Lookup: st.Canary, Issued: st.CanaryCount(), close: st.Close}, nil
}

// Close releases the file or the connection.
func (r *Registry) Close() error { return r.close() }

// ReadLearnt returns the learnt limits cfg's proxy keeps, by budget id,
// and where they were read: its Redis when it is in a fleet and dir is
// empty, else the state.db in dir (default state.dir), read-only (a
// running proxy holds that file: read a stopped proxy's, or a copy).
func ReadLearnt(ctx context.Context, cfg *config.Config, dir string) (map[string]uint64, string, error) {
	if cfg.State.Redis != "" && dir == "" {
		client, err := RedisClient(cfg.State.Redis)
		if err != nil {
			return nil, "", fmt.Errorf("state.redis: %w", err)
		}
		defer client.Close()
		learnt, err := learntIn(ctx, client, "")
		if err != nil {
			return nil, "", fmt.Errorf("state.redis: %w", err)
		}
		return learnt, "the fleet's Redis (" + redismeter.LearntKey("") + ")", nil
	}
	if dir == "" {
		dir = cfg.State.Dir
	}
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	learnt, err := st.Learnt()
	return learnt, filepath.Join(dir, "state.db"), err
}
