package config

import (
	"testing"
)

// Validate compiles each rule and parses each prefix once; building from
// the config reuses them (issue 15: Validate compiled rules and prefixes,
// and the stack did it all again).
func TestValidateCompilesOnce(t *testing.T) {
	c, err := Decode("t.yaml", []byte(`upstream: http://127.0.0.1:9
records: [{route: "GET /api/users/{id}", entity: user}]
detect: {allow: [198.51.100.0/24, 192.0.2.7]}
identity: {trusted_proxies: [10.0.0.0/8]}
rules: [{name: night, when: 'requests > 2', action: block}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, _ := c.Rules[0].Compiled()
	b, _ := c.Rules[0].Compiled()
	if a == nil || a != b {
		t.Fatalf("rule compiled again on use: %p %p", a, b)
	}
	allow, err := c.AllowPrefixes()
	if err != nil || len(allow) != 2 || allow[1].Bits() != 32 {
		t.Fatalf("allow prefixes %v %v", allow, err)
	}
	trusted, err := c.TrustedPrefixes()
	if err != nil || len(trusted) != 1 {
		t.Fatalf("trusted prefixes %v %v", trusted, err)
	}
	// A config built in code, never validated, still works.
	code := Rule{Name: "x", When: "requests > 2", Action: "block"}
	if m, err := code.Compiled(); m == nil || err != nil {
		t.Fatalf("unvalidated rule: %v %v", m, err)
	}
}
