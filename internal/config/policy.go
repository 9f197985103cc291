package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The default policy: what a config that names only its record routes
// gets. Defaults are the product: an operator who writes no budget is
// protected from the first request, and one who writes some still has
// every other entity covered (nothing is unmetered).
//
// The numbers are per entity (profiles, reviewers, phones...), sized
// above what one person takes: a person reads a few hundred records an
// hour at most, an account a couple of thousand a day. Address and /24
// budgets are per person seen behind the key, so a carrier NAT with 300
// shoppers has 300 times the room of a lone scraper. Crew keys are only
// ever set on requests that behave like a scraper's, so theirs is tight.
// Allowlisted partners meet budgets of their own on a short window: a
// steady integration passes, one that turns into a harvester is stopped
// within minutes.
func defaultBudgets(entity string) []Budget {
	const hour, day = Duration(time.Hour), Duration(24 * time.Hour)
	tenMin := Duration(10 * time.Minute)
	name := func(per string, w Duration) string {
		return fmt.Sprintf("default/%s/%s/%s", entity, per, FormatDuration(w.D()))
	}
	return []Budget{
		{Name: name("crew", hour), Entity: entity, Per: "crew", Window: hour, Limit: 500, Action: "block", BlockFor: day},
		{Name: name("session", hour), Entity: entity, Per: "session", Window: hour, Learn: true, Limit: 300, Action: "block", BlockFor: hour},
		{Name: name("account", hour), Entity: entity, Per: "account", Window: hour, Learn: true, Limit: 500, Action: "block", BlockFor: hour},
		{Name: name("account", day), Entity: entity, Per: "account", Window: day, Learn: true, Limit: 2000, Action: "block", BlockFor: day},
		{Name: name("ip", hour), Entity: entity, Per: "ip", Window: hour, Learn: true, Limit: 300, PerPerson: true, Action: "block", BlockFor: hour},
		{Name: name("net", hour), Entity: entity, Per: "net", Window: hour, Learn: true, Limit: 300, PerPerson: true, Action: "block", BlockFor: hour},
		{Name: "allowlisted/" + name("ip", tenMin)[len("default/"):], Entity: entity, Per: "ip", Window: tenMin, Limit: 400, Allowlisted: true, Action: "block", BlockFor: hour},
		{Name: "allowlisted/" + name("account", tenMin)[len("default/"):], Entity: entity, Per: "account", Window: tenMin, Limit: 400, Allowlisted: true, Action: "block", BlockFor: hour},
	}
}

// DefaultsOn reports whether the default policy covers the entities the
// configured budgets leave out (default_policy, default true).
func (c *Config) DefaultsOn() bool { return c.DefaultPolicy == nil || *c.DefaultPolicy }

// Entities returns the entities records are counted as: the record
// routes' in order, then the PII detectors' when scanning is on.
func (c *Config) Entities() []string {
	var out []string
	for _, r := range c.Records {
		if !slices.Contains(out, r.Entity) {
			out = append(out, r.Entity)
		}
	}
	if c.PII.Scan != "off" {
		for _, p := range c.PII.Detect {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// EffectiveBudgets returns the budgets in force: the configured ones, and
// (unless default_policy is off) the default policy's for every entity
// that no configured budget names.
func (c *Config) EffectiveBudgets() []Budget {
	out := append([]Budget(nil), c.Budgets...)
	if !c.DefaultsOn() {
		return out
	}
	named, partnerNamed := map[string]bool{}, map[string]bool{}
	for _, b := range c.Budgets {
		named[b.Entity] = true
		partnerNamed[b.Entity] = partnerNamed[b.Entity] || b.Allowlisted
	}
	for _, e := range c.Entities() {
		for _, b := range defaultBudgets(e) {
			// Written budgets replace the defaults of their entity, but
			// allowlisted actors skip written budgets that are not theirs:
			// their defaults stay until a written one is for them, so a
			// partner is never unmetered.
			if !named[e] || (b.Allowlisted && !partnerNamed[e]) {
				out = append(out, b)
			}
		}
	}
	return out
}

// DefaultBudgetsFor returns the default policy's budgets for entities, as
// `leakguard policy` prints them for freezing into YAML.
func DefaultBudgetsFor(entities ...string) []Budget {
	var out []Budget
	for _, e := range entities {
		out = append(out, defaultBudgets(e)...)
	}
	return out
}

// PolicySummary says in one line what decides: the operator's budgets,
// the default policy's, or both.
func (cfg *Config) PolicySummary() string {
	written, defaults := len(cfg.Budgets), 0
	var covered []string
	for _, b := range cfg.EffectiveBudgets()[written:] {
		defaults++
		if len(covered) == 0 || covered[len(covered)-1] != b.Entity {
			covered = append(covered, b.Entity)
		}
	}
	switch {
	case defaults == 0:
		return fmt.Sprintf("%d written budgets, default policy off or not needed", written)
	case written == 0:
		return fmt.Sprintf("the default policy (%d budgets) for %s", defaults, strings.Join(covered, ", "))
	}
	return fmt.Sprintf("%d written budgets, and the default policy (%d budgets) for %s", written, defaults, strings.Join(covered, ", "))
}

// ReportDurations are the windows outliers are judged in: the report
// windows, or every metered window when the config names none.
func (cfg *Config) ReportDurations() []time.Duration {
	var ws []time.Duration
	for _, w := range cfg.Meter.ReportWindows {
		ws = append(ws, w.D())
	}
	return ws
}

// LongestBudget is the longest window a budget in force counts over (the
// longest metered window if there are none): a key idle for longer has an
// empty count in every budget.
func (cfg *Config) LongestBudget() time.Duration {
	var d time.Duration
	for _, b := range cfg.EffectiveBudgets() {
		d = max(d, b.Window.D())
	}
	if d == 0 {
		ws := cfg.Windows()
		d = ws[len(ws)-1]
	}
	return d
}
