package admin

import (
	"testing"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
)

// The API shows budgets in the config's own units, with what decides and
// what calibration learnt.
func TestPolicyView(t *testing.T) {
	cfg := config.Default()
	cfg.Records = []config.Record{{Route: "GET /api/users/{id}", Entity: "user"}}
	partners := []engine.PartnerNormal{{Key: "ip:1122334455667788", Budget: "default/user/ip/10m/allowlisted", OwnNormal: 30, Limit: 120}}
	v := PolicyView(cfg, "the default policy", map[string]uint64{"b": 7}, partners)
	budgets, ok := v["budgets"].([]any)
	if v["summary"] != "the default policy" || !ok || len(budgets) != len(cfg.EffectiveBudgets()) || v["risk"] == nil {
		t.Fatalf("view: %v", v)
	}
	if w := budgets[0].(map[string]any)["window"]; w == nil || w == "" {
		t.Errorf("window %v", w)
	}
	// each budget carries the id learnt and the decision log name it by
	for i, b := range cfg.EffectiveBudgets() {
		if id := budgets[i].(map[string]any)["id"]; id != b.ID() {
			t.Errorf("budget %d: id %v, want %s", i, id, b.ID())
		}
	}
	if v["learnt"].(map[string]uint64)["b"] != 7 {
		t.Errorf("learnt %v", v["learnt"])
	}
	if p, ok := v["partners"].([]engine.PartnerNormal); !ok || len(p) != 1 || p[0].Limit != 120 {
		t.Errorf("partners %v", v["partners"])
	}
}
