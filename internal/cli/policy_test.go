package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/config"
)

// What `leakguard policy` prints can be pasted under budgets: and gives
// the same policy, written out: the defaults can be frozen.
func TestPolicyFreezesIntoYAML(t *testing.T) {
	dir := t.TempDir()
	routes := "records:\n  - {route: 'GET /api/users/{id}', entity: user}\n"
	cfgPath := filepath.Join(dir, "routes.yaml")
	os.WriteFile(cfgPath, []byte(routes), 0o600)
	var out bytes.Buffer
	c := &PolicyCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the default policy") || !strings.Contains(out.String(), "window: 1h\n") {
		t.Fatalf("policy output:\n%s", out.String())
	}
	frozen := filepath.Join(dir, "frozen.yaml")
	os.WriteFile(frozen, []byte(routes+out.String()), 0o600)
	a, err := config.LoadOffline(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.LoadOffline(frozen)
	if err != nil {
		t.Fatalf("the printed policy does not load: %v", err)
	}
	if len(b.Budgets) == 0 || !reflect.DeepEqual(a.EffectiveBudgets(), b.EffectiveBudgets()) {
		t.Fatalf("frozen policy differs:\n%v\n%v", a.EffectiveBudgets(), b.EffectiveBudgets())
	}
	if err := (&PolicyCommand{Stderr: &out}).ParseFlags(nil); err == nil {
		t.Error("no --config and no --entities accepted")
	}
}
