package config

import (
	"slices"
	"strings"
	"testing"
)

// What a config gets without writing budgets: the default policy for
// every entity (record routes' and PII's), and with some budgets written,
// the defaults still cover the entities they leave out.
func TestEffectiveBudgets(t *testing.T) {
	routes := "upstream: http://127.0.0.1:9\nrecords:\n - {route: 'GET /u/{id}', entity: user}\n"
	for _, tt := range []struct {
		name, yaml string
		want       map[string]bool // entity -> has default budgets
		written    int
	}{
		{"routes only", routes, map[string]bool{"user": true, "phone": true, "email": true, "cn_id": true, "bank_card": true}, 0},
		{"one entity budgeted", routes + "budgets:\n - {entity: user, per: ip, window: 1h, limit: 5}\n",
			map[string]bool{"user": false, "phone": true}, 1},
		{"defaults off", routes + "default_policy: false\n", map[string]bool{"user": false, "phone": false}, 0},
		{"no PII scan", routes + "pii: {scan: 'off'}\n", map[string]bool{"user": true, "phone": false}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			written := 0
			for _, b := range c.EffectiveBudgets() {
				if strings.HasPrefix(b.ID(), "default/") {
					got[b.Entity] = true
				} else if !b.Allowlisted {
					written++
				}
			}
			for ent, want := range tt.want {
				if got[ent] != want {
					t.Errorf("%s has default budgets: %v, want %v", ent, got[ent], want)
				}
			}
			if written != tt.written {
				t.Errorf("%d written budgets, want %d", written, tt.written)
			}
			// Whatever is written, allowlisted actors meet a budget for
			// every metered entity, unless default_policy is off.
			if c.DefaultsOn() {
				for _, ent := range c.Entities() {
					if !slices.ContainsFunc(c.EffectiveBudgets(), func(b Budget) bool { return b.Allowlisted && b.Entity == ent }) {
						t.Errorf("allowlisted actors are unmetered for %s", ent)
					}
				}
			}
		})
	}
}

// The default policy validates like a written one, and every entity's
// allowlisted actors meet budgets of their own: nothing is unmetered.
func TestDefaultPolicyValidatesAndMetersPartners(t *testing.T) {
	c := Default()
	c.Upstream = "http://127.0.0.1:9"
	c.Budgets = DefaultBudgetsFor("user")
	c.Records = []Record{{Route: "GET /u/{id}", Entity: "user"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	partner := 0
	for _, b := range c.Budgets {
		if b.Allowlisted {
			partner++
		}
		if b.PerPerson && b.Per != "ip" && b.Per != "net" {
			t.Errorf("%s: per_person on %s", b.ID(), b.Per)
		}
	}
	if partner == 0 {
		t.Error("no budget for allowlisted actors")
	}
	c.Budgets = append(c.Budgets, Budget{Entity: "user", Per: "account", Window: Duration(3600e9), Limit: 5, PerPerson: true, Action: "log"})
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "per_person") {
		t.Errorf("per_person on account: %v", err)
	}
}
