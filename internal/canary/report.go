package canary

import "strings"

// Report is a trace's result, as canary trace --json writes it.
type Report struct {
	Bytes  int64 `json:"bytes"`
	Values int64 `json:"values_scanned"`
	Found  int   `json:"canaries_found"`
	// Registry is how many canaries had been issued; -1 when the registry
	// cannot say (Redis, or a running proxy asked through its admin API).
	Registry   int         `json:"canaries_issued"`
	Chance     float64     `json:"expected_chance_matches"`
	Recipients []Recipient `json:"recipients"`
}

// Report sums the trace up against a registry of issued canaries (-1:
// unknown).
func (t *Tracer) Report(issued int) Report {
	registry := issued
	if registry < 0 {
		registry = len(t.Matches) * 1000 // unknown: a generous stand-in, so the chance errs high
	}
	return Report{Bytes: t.Bytes, Values: t.Values, Found: len(t.Matches), Registry: issued,
		Chance: ExpectedChance(t.Values, registry), Recipients: t.Recipients()}
}

// NotChance is how many matches for one recipient are more than chance
// would give: ten times the expected chance matches, and at least two.
func (r Report) NotChance() int { return max(2, int(r.Chance*10)+2) }

// keyOrder is the order a recipient's keys are named in: who it is
// before where it came from.
var keyOrder = [...]string{"account", "ip", "net", "session", "fingerprint", "crew"}

// Names lists the recipient's keys as kind:hash, in a fixed order.
func (r Recipient) Names() string {
	var keys []string
	for _, k := range keyOrder {
		if v, ok := r.Keys[k]; ok {
			keys = append(keys, k+":"+v)
		}
	}
	return strings.Join(keys, " ")
}
