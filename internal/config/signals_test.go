package config

import (
	"slices"
	"testing"

	"github.com/leakguard/leakguard/internal/detect"
)

// Every signal the detector raises can be weighed in risk.weights, but for
// the two that exempt rather than weigh. rapid and api_heavy were added to
// the detector and not here: a config weighing them failed validation.
func TestEverySignalCanBeWeighed(t *testing.T) {
	for _, name := range detect.SignalNames() {
		if name == "allowlisted" || name == "verified_bot" {
			continue
		}
		if !slices.Contains(signalNames, name) {
			t.Errorf("risk.weights cannot name %q", name)
		}
	}
	for _, name := range signalNames {
		if _, ok := detect.SignalByName(name); !ok {
			t.Errorf("risk.weights names %q, which the detector does not raise", name)
		}
	}
}
