package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testserver"
)

// partnersConfig is a routes-only config (the default policy) with a
// partner allowlisted, and the state of %s.
const partnersConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin: {listen: "127.0.0.1:0", token_env: LG_TEST_TOKEN}
identity:
  trusted_proxies: [127.0.0.1/32]
records:
  - route: GET /api/users/{id}
    entity: user
detect: {allow: [203.0.113.50]}
risk:
  bands: [] # the Go test client would be challenged as automation
secret:
  env: LG_TEST_SECRET
state:
%s
`

// A proxy deployed every day never held a day of a partner's history, so
// never its own normal: a restarted proxy, on its state.db or on the
// fleet's Redis, starts from the partners' histories it kept, and says so.
func TestProxyKeepsPartnersHistoriesAcrossARestart(t *testing.T) {
	up := upstreamShop(t)
	srv := testserver.Redis(t)
	for name, state := range map[string]string{
		"bolt":  fmt.Sprintf("  dir: %s", t.TempDir()),
		"redis": fmt.Sprintf("  redis: redis://%s/0", srv.Addr),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "leakguard.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(partnersConfig, up.URL, state)), 0o600)
			first, base, stop := serveConfig(t, cfg, &testserver.Buffer{})
			if n := crawl(t, base, "203.0.113.50", 0, 20); n != 20 {
				t.Fatalf("the partner served %d of 20", n)
			}
			kept := len(first.Engine.Partners())
			stop() // listeners, then the histories are kept, then the state closes

			stderr := &testserver.Buffer{}
			second, _, stop := serveConfig(t, cfg, stderr)
			defer stop()
			m := regexp.MustCompile(`msg="state: partners' histories restored" partners=(\d+) `).FindStringSubmatch(stderr.String())
			if m == nil || m[1] == "0" {
				t.Fatalf("no restore line:\n%s", stderr)
			}
			if got := len(second.Engine.Partners()); got != kept || kept < 100 {
				t.Fatalf("restarted with %d bytes of histories, kept %d", got, kept)
			}
			// The admin API lists each partner's history, behind its token.
			c := &http.Client{Timeout: 5 * time.Second}
			code, body := get(t, c, second.AdminURL()+"/api/policy", "Authorization", "Bearer "+testToken)
			if code != 200 || !strings.Contains(string(body), `"partners": [`) || !strings.Contains(string(body), `"own_normal"`) {
				t.Fatalf("/api/policy: %d %s", code, body)
			}
		})
	}
}
