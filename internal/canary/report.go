package canary

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/human"
)

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

// WriteText writes the report for a terminal: what was read, each
// recipient, and how far the matches are from chance. inputs is the number
// of dumps read, elapsed how long it took, and registry says which
// registry was asked.
func (r Report) WriteText(w io.Writer, inputs int, elapsed time.Duration, registry string) {
	fmt.Fprintf(w, "leakguard canary trace: %d input(s), %s, %s personal values scanned in %s; %d canaries found (%s)\n",
		inputs, human.Bytes(r.Bytes), human.Count(r.Values), elapsed.Round(time.Millisecond), r.Found, registry)
	if len(r.Recipients) == 0 {
		fmt.Fprintln(w, "\nno canaries: nothing in this data was served by leakguard as a canary")
	}
	for _, rc := range r.Recipients {
		fmt.Fprintf(w, "\nrecipient %s\n  %d distinct canaries (%s), issued %s to %s\n", rc.Names(),
			rc.Canaries, strings.Join(rc.Kinds, ", "), rc.FirstSent.Format(time.RFC3339), rc.LastSent.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\nconfidence: each canary is one value among at least %.1e valid ones, issued to one actor. Unrelated data of this size would hold about %.2g canary matches by chance, so %d or more matches for one recipient is not chance.\n",
		SmallestSpace, r.Chance, r.NotChance())
}
