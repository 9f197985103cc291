// Package policy compiles the config's custom rules: expressions in
// expr-lang (a maintained, sandboxed expression language with static type
// checks; no loops, no I/O) over what the engine knows of a record request.
package policy

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

// Env is what a rule's expression can read.
type Env struct {
	Route    string   `expr:"route"`    // the record route, e.g. "GET /api/users/{id}"
	Signals  []string `expr:"signals"`  // names of the signals present
	Score    int      `expr:"score"`    // their weighted sum
	Has      Keys     `expr:"has"`      // key kinds present: has.account, has.session, has.crew
	Requests uint64   `expr:"requests"` // the address's requests in the smallest window
	Misses   uint64   `expr:"misses"`   // of which misses on record routes
}

// Keys says which key kinds a request has. A struct, not a map, so a
// misspelt has.acount is a compile error rather than always false.
type Keys struct {
	IP          bool `expr:"ip"`
	Net         bool `expr:"net"`
	Account     bool `expr:"account"`
	Session     bool `expr:"session"`
	Fingerprint bool `expr:"fingerprint"`
	Crew        bool `expr:"crew"`
}

// Rule is one compiled rule; it implements engine.Matcher.
type Rule struct {
	name string
	prog *vm.Program
}

var _ engine.Matcher = (*Rule)(nil)

// Compile compiles a rule's expression, which must be boolean.
func Compile(name, src string) (*Rule, error) {
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", name, err)
	}
	return &Rule{name: name, prog: prog}, nil
}

// Match evaluates the rule on one request.
func (r *Rule) Match(in engine.RuleInput) bool {
	has := func(k identity.Kind) bool { return in.Actor.Keys[k].Hash != 0 }
	env := Env{Route: in.Route, Signals: in.Signals.Names(), Score: in.Score, Requests: in.Requests, Misses: in.Misses,
		Has: Keys{IP: has(identity.IP), Net: has(identity.Net), Account: has(identity.Account),
			Session: has(identity.Session), Fingerprint: has(identity.Fingerprint), Crew: has(identity.Crew)}}
	out, err := expr.Run(r.prog, env)
	if err != nil {
		return false // a runtime error (none expected after type checks) never sanctions
	}
	b, _ := out.(bool)
	return b
}
