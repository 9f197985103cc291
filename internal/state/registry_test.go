package state

import (
	"context"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// A stopped proxy's state.db is read for its canaries, and says how many
// it issued.
func TestOpenRegistryBolt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := NewBolt(BoltOptions{Dir: dir, Interval: time.Hour})
	openState(t, b)
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 9}
	if err := b.Issue(ctx, []canary.Issued{{Kind: records.Kind(1), Hash: 77, Actor: a, At: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.State.Dir = "/nonexistent" // the dir given wins
	reg, err := OpenRegistry(ctx, cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if reg.Issued != 1 || reg.Lookup == nil || reg.Batch != nil {
		t.Fatalf("registry: %+v", reg)
	}
	if x, ok := reg.Lookup(records.Kind(1), 77); !ok || x.Actor.Keys[identity.IP] != a.Keys[identity.IP] {
		t.Errorf("lookup: %+v %v", x, ok)
	}
	if _, ok := reg.Lookup(records.Kind(1), 78); ok {
		t.Error("a value never issued was found")
	}
}
