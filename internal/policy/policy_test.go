package policy

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

func TestRules(t *testing.T) {
	var anon, member identity.Actor
	anon.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 1}
	member = anon
	member.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 2}
	for _, tc := range []struct {
		when string
		in   engine.RuleInput
		want bool
	}{
		{`route == "GET /api/lookup" && !has.account`, engine.RuleInput{Route: "GET /api/lookup", Actor: &anon}, true},
		{`route == "GET /api/lookup" && !has.account`, engine.RuleInput{Route: "GET /api/lookup", Actor: &member}, false},
		{`"sessionless" in signals && score >= 1`, engine.RuleInput{Signals: detect.Sessionless, Score: 1, Actor: &anon}, true},
		{`"sessionless" in signals`, engine.RuleInput{Signals: detect.NoAssets, Actor: &anon}, false},
		{`requests > 100 && misses * 10 > requests`, engine.RuleInput{Requests: 200, Misses: 30, Actor: &anon}, true},
		{`route startsWith "GET /api/users"`, engine.RuleInput{Route: "GET /api/users/{id}", Actor: &anon}, true},
	} {
		r, err := Compile("t", tc.when)
		if err != nil {
			t.Fatalf("%s: %v", tc.when, err)
		}
		if got := r.Match(tc.in); got != tc.want {
			t.Errorf("%s on %+v = %v, want %v", tc.when, tc.in, got, tc.want)
		}
	}
}

func TestRuleCompileErrors(t *testing.T) {
	for src, want := range map[string]string{
		`score + 1`:   "bool", // not a condition
		`nosuch == 1`: "unknown name nosuch",
		`route == 1`:  "mismatched types",
		`score >= `:   "unexpected token",
	} {
		if _, err := Compile("bad", src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v, want an error containing %q", src, err, want)
		}
	}
}
