package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/store"
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

// The limits a proxy learnt can be frozen into YAML (issue 13: "the
// learned limits ... can be frozen into YAML"): each learning budget at
// its learnt limit, within the bounds calibration keeps to, learning off.
func TestPolicyFreezesTheLearntLimits(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	st, _, err := store.Open(stateDir, store.Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user"}}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.KeepLearnt(map[string]uint64{
		"default/user/session/1h": 840,
		"default/user/ip/1h":      840,     // a per-person budget follows the session's
		"default/user/account/1h": 999_999, // past ten times the written 500
		"default/user/gone/1h":    700,     // a budget no longer in the config
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	routes := "records:\n  - {route: 'GET /api/users/{id}', entity: user}\nstate: {dir: " + stateDir + "}\n"
	cfgPath := filepath.Join(dir, "routes.yaml")
	os.WriteFile(cfgPath, []byte(routes), 0o600)
	var out bytes.Buffer
	c := &PolicyCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--config", cfgPath, "--learnt"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# 3 learnt limits frozen from "+filepath.Join(stateDir, "state.db")) {
		t.Fatalf("policy output:\n%s", out.String())
	}
	frozen := filepath.Join(dir, "frozen.yaml")
	os.WriteFile(frozen, []byte(routes+out.String()), 0o600)
	cfg, err := config.LoadOffline(frozen)
	if err != nil {
		t.Fatalf("the printed policy does not load: %v", err)
	}
	want := map[string]int64{"default/user/session/1h": 840, "default/user/ip/1h": 840, "default/user/account/1h": 5000, "default/user/account/1d": 2000, "default/user/crew/1h": 500}
	for _, b := range cfg.EffectiveBudgets() {
		if b.Learn {
			t.Errorf("%s still learns", b.Name)
		}
		if w, ok := want[b.Name]; ok && b.Limit != w {
			t.Errorf("%s: limit %d, want %d", b.Name, b.Limit, w)
		}
	}
	for _, args := range [][]string{{"--entities", "user", "--learnt"}, {"--config", cfgPath, "--state", stateDir}} {
		if err := (&PolicyCommand{Stderr: &out}).ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	c = &PolicyCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--config", cfgPath, "--learnt", "--state", filepath.Join(dir, "none")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "learnt limits") {
		t.Errorf("a state directory without state.db: %v", err)
	}
	// a running proxy holds its state.db: the error says what to do
	st, _, err = store.Open(stateDir, store.Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user"}}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c = &PolicyCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--config", cfgPath, "--learnt"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "in use by a running proxy") || !strings.Contains(err.Error(), "--state") {
		t.Errorf("a state.db held by a proxy: %v", err)
	}
}
