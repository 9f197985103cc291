package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/testserver"
)

// The audit as a user runs it: real servers, exit status as the verdict,
// JSON and HTML written, no raw personal data anywhere.
func TestAuditCommandEndToEnd(t *testing.T) {
	ctx := context.Background()
	open := testserver.Redis(t)
	closed := testserver.Redis(t, "--requirepass", "pw")
	c := goredis.NewClient(&goredis.Options{Addr: open.Addr})
	for i := 0; i < 50; i++ {
		c.HSet(ctx, fmt.Sprintf("customer:%d", i), "phone", fmt.Sprintf("1391234%04d", i), "city", "Hangzhou")
	}
	c.Close()
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "audit.json"), filepath.Join(dir, "audit.html")
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"audit", "--target", "redis://" + open.Addr, "--target", "redis://" + closed.Addr,
		"--json", jsonPath, "--html", htmlPath, "--timeout", "20s"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (exposure found)\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "50 personal records at risk") || !strings.Contains(stderr.String(), "exposed") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}
	var rep struct {
		Exposed  int `json:"exposed"`
		Findings []struct {
			Status   string `json:"status"`
			Severity string `json:"severity"`
		} `json:"findings"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Exposed != 1 || rep.Findings[0].Severity != "critical" || rep.Findings[1].Status != "closed" {
		t.Errorf("json report: %+v", rep)
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), "customer:*") || !strings.Contains(string(h), "139****") {
		t.Errorf("html report lacks the collection or the masked example")
	}
	all := stdout.String() + stderr.String() + string(b) + string(h)
	for i := 0; i < 50; i++ {
		if strings.Contains(all, fmt.Sprintf("1391234%04d", i)) {
			t.Fatalf("raw phone %d in the output", i)
		}
	}

	// Clean: only the closed store. Exit 0.
	stdout.Reset()
	if code := Main(ctx, []string{"audit", "--quiet", "--target", "redis://" + closed.Addr}, &stdout, &stderr); code != 0 {
		t.Errorf("closed store: exit %d\n%s", code, &stdout)
	}
	// Unreachable: exit 2.
	if code := Main(ctx, []string{"audit", "--quiet", "--target", fmt.Sprintf("postgres://127.0.0.1:%d", testserver.FreePort(t))}, &stdout, &stderr); code != 2 {
		t.Errorf("unreachable store: exit %d", code)
	}
}

func TestAuditUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "targets.yaml")
	os.WriteFile(bad, []byte("targets:\n  - url: es://10.0.3.7:9200\n  - url: ftp://x\n  - url: postgres://db\n    password_env: NOPE_UNSET\n    timeout: soon\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"audit"}, []string{"no targets"}},
		{[]string{"audit", "--target", "db-1:5432"}, []string{"want scheme://host"}},
		{[]string{"audit", "--targets", bad}, []string{"targets.yaml:3: targets[1]: target \"ftp://x\": unknown scheme",
			"targets.yaml:4: targets[2]: password_env: $NOPE_UNSET is empty", "targets.yaml:4: targets[2]: timeout \"soon\""}},
		{[]string{"audit", "--target", "redis://x", "--sample", "0"}, []string{"--sample"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, &stderr)
			}
		}
	}
}
