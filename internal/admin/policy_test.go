package admin

import (
	"testing"

	"github.com/leakguard/leakguard/internal/config"
)

// The API shows budgets in the config's own units, with what decides and
// what calibration learnt.
func TestPolicyView(t *testing.T) {
	cfg := config.Default()
	cfg.Records = []config.Record{{Route: "GET /api/users/{id}", Entity: "user"}}
	v := PolicyView(cfg, "the default policy", map[string]uint64{"b": 7})
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
}
