package cli

import (
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/state"
)

// applyMemoryBudget is state.ApplyMemoryBudget, by the name the state tests
// call it.
func applyMemoryBudget(cfg *config.Config) { state.ApplyMemoryBudget(cfg) }
