package admin

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// The drill-down names windows and buckets as a config writes them, lists
// only entities with records, and shows the sanction in force; an unblock
// through the admin API is also kept.
func TestDetailOfAndKeptUnblock(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: 2, ExactUpTo: 16, MaxActors: 1000})
	eng, err := engine.New(m, engine.Options{Entities: []string{"user", "phone"},
		Budgets: []engine.Budget{{ID: "user/ip/1h", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 300, Action: engine.Block, BlockFor: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	k := identity.Key{Kind: identity.IP, Hash: 42}
	m.Observe(now.UnixNano(), k, []records.Found{{Entity: 0, Hash: 1}, {Entity: 0, Hash: 2}}, false, make([]uint64, 4))
	eng.Impose(now.UnixNano(), engine.Sanction{Key: k, Rule: "user/ip/1h", Action: engine.Block, Until: now.Add(time.Hour).UnixNano()})

	d := DetailOf(m, eng, []string{"user", "phone"}, k, now)
	if d.Key != k.String() || len(d.Series) != 2 || d.Buckets["1d"] == "" || d.Buckets["1h"] == "" {
		t.Fatalf("detail: %+v", d)
	}
	var total uint64
	for _, v := range d.Series["1h"]["user"] {
		total = max(total, v)
	}
	if _, ok := d.Series["1h"]["phone"]; ok || total != 2 {
		t.Errorf("1h series: %v", d.Series["1h"])
	}
	if len(d.Sanctions) != 1 || d.Sanctions[0]["rule"] != "user/ip/1h" || d.Sanctions[0]["action"] != "block" {
		t.Errorf("sanctions: %v", d.Sanctions)
	}

	var kept []identity.Key
	if !KeepUnblocks(eng, func(k identity.Key) { kept = append(kept, k) }).Unblock(k) || len(kept) != 1 || kept[0] != k {
		t.Errorf("unblock kept %v", kept)
	}
	if d := DetailOf(m, eng, []string{"user", "phone"}, k, now); len(d.Sanctions) != 0 {
		t.Errorf("after unblock: %v", d.Sanctions)
	}
}
