package analyze

import (
	"encoding/json"
	"io"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/stack"
)

// FromConfig builds the Analyzer `leakguard analyze` runs: cfg in shadow
// mode (a log is history: the engine only says when each actor would have
// been stopped), the stack built by internal/stack with search-bot DNS off
// (today's DNS says nothing of the addresses of years ago), and the engine
// metering through a Capture that keeps each line's bounds for the peaks,
// unless plain. o's report options are kept; what the stack builds and
// what cfg says of windows are filled in.
func FromConfig(cfg *config.Config, h *keyed.Hasher, getenv func(string) string, o Options, plain bool) (*Analyzer, error) {
	cfg.Mode = config.ModeShadow
	var a *Analyzer
	var capture *Capture
	opts := stack.Options{NoBotDNS: true}
	opts.Fleet = func(local *memory.Memory, _ []string) engine.Meter {
		// In every replay, sharded or not, so that all evict alike.
		local.SeparateAddresses()
		if risk, err := stack.Risk(cfg); err == nil { // else Build fails
			local.AddressTrafficOnly(risk.Window)
		}
		if plain {
			return local
		}
		if capture = NewCapture(local, cfg.Meter.MaxActors); capture == nil {
			return local
		}
		return capture
	}
	st, err := stack.Build(cfg, h, func(d engine.Decision) { a.OnDecision(d) }, getenv, opts)
	if err != nil {
		return nil, err
	}
	o.Resolver, o.Catalog, o.Engine, o.Detector, o.UA, o.Meter, o.Capture = st.Resolver, st.Catalog, st.Engine, st.Detector, st.UA, st.Meter, capture
	o.Idle, o.ReportWindows = cfg.LongestBudget(), cfg.ReportDurations()
	o.BodyRoutes = nil
	for _, r := range cfg.Records {
		if r.Body != "" {
			o.BodyRoutes = append(o.BodyRoutes, r.Route)
		}
	}
	a = New(o)
	// Not a shard pass: it holds a part of the keys, and would learn
	// from those alone, another limit than the whole replay's.
	if o.Learn && o.Parts == 0 {
		a.learn = newLearner(st.Meter, st.Engine, cfg.Meter.CalibrateEvery.D())
	}
	return a, nil
}

// WriteJSON writes the report as --json does: indented, and "risk>=5" as
// the decision log writes it, not escaped for HTML.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
