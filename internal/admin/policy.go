package admin

import (
	"go.yaml.in/yaml/v3"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
)

// PolicyView is the policy in force as GET /api/policy shows it: the same
// keys and units as the YAML a config is written in (an operator pastes
// from one to the other), with summary saying what decides, learnt the
// limits calibration raised, and partners each partner's own normal and
// the limit it holds it to.
func PolicyView(cfg *config.Config, summary string, learnt map[string]uint64, partners []engine.PartnerNormal) map[string]any {
	view := map[string]any{"summary": summary}
	budgets := cfg.EffectiveBudgets()
	in := map[string]any{"budgets": budgets, "risk": cfg.Risk}
	if out, err := yaml.Marshal(in); err == nil {
		var back map[string]any
		if yaml.Unmarshal(out, &back) == nil {
			for k, v := range back {
				view[k] = v
			}
		}
	}
	// each budget's id, as learnt and the decision log name it
	if bs, ok := view["budgets"].([]any); ok && len(bs) == len(budgets) {
		for i, b := range bs {
			if m, ok := b.(map[string]any); ok {
				m["id"] = budgets[i].ID()
			}
		}
	}
	view["learnt"] = learnt
	view["partners"] = partners
	return view
}
