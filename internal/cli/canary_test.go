package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/testserver"
)

const canaryConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin: {listen: "off"}
identity:
  trusted_proxies: [127.0.0.1/32]
records:
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
risk:
  bands: []
canary:
  sprinkle:
    - route: GET /api/items/{id}/reviews
      array: $.reviews
      rate: 1
secret:
  env: LG_TEST_SECRET
log:
  decisions: %s
state:
  dir: %s
  flush_interval: 50ms
%s`

// The canary issue's end-to-end test: a scraper pulls review pages through
// the proxy with sprinkling on, its haul leaks as a CSV mixed with
// unrelated rows, and canary trace names that scraper and no other.
func TestCanaryTraceNamesTheScraper(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { canaryTrace(t, "", false) })
	t.Run("redis", func(t *testing.T) {
		srv := testserver.Redis(t)
		canaryTrace(t, fmt.Sprintf("  redis: redis://%s/0\n", srv.Addr), false)
	})
	// The proxy keeps running (it holds state.db): trace through its
	// admin API.
	t.Run("live", func(t *testing.T) { canaryTrace(t, "", true) })
}

func canaryTrace(t *testing.T, redis string, live bool) {
	up := upstreamShop(t)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfgPath := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(canaryConfig, up.URL, filepath.Join(dir, "d.jsonl"), stateDir, redis)), 0o600)
	if live {
		withAdmin(t, cfgPath)
	}
	proxy, base, stop := serveConfig(t, cfgPath, io.Discard)
	hc := &http.Client{Timeout: 5 * time.Second}
	type reviewer struct {
		ID    int    `json:"id"`
		Nick  string `json:"nick"`
		Phone string `json:"phone"`
	}
	pull := func(ip string, items int) []reviewer {
		var out []reviewer
		for i := 1; i <= items; i++ {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/items/%d/reviews", base, i), nil)
			req.Header.Set("X-Forwarded-For", ip)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Reviews []struct {
					User reviewer `json:"user"`
				} `json:"reviews"`
			}
			json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			for _, r := range page.Reviews {
				out = append(out, r.User)
			}
		}
		return out
	}
	haul := pull("203.0.113.77", 40) // the scraper
	pull("198.51.100.5", 10)         // a person: gets canaries too, leaks nothing
	if !live {
		stop() // and the final flush of the registry
	}

	// The leak: the scraper's rows, shuffled among unrelated valid-looking rows.
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []string
	for _, r := range haul {
		rows = append(rows, fmt.Sprintf("%d,%s,%s", r.ID, r.Nick, r.Phone))
	}
	for i := 0; i < 5000; i++ {
		rows = append(rows, fmt.Sprintf("%d,user%d,1%d%09d", 900000+i, i, 3+rng.IntN(7), rng.IntN(1_000_000_000)))
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	leak := filepath.Join(dir, "leak.csv")
	os.WriteFile(leak, []byte("id,nick,phone\n"+strings.Join(rows, "\n")+"\n"), 0o600)

	var stdout, stderr bytes.Buffer
	t.Setenv("LG_TEST_SECRET", testGetenv("LG_TEST_SECRET")) // Main reads the process environment
	jsonPath := filepath.Join(dir, "trace.json")
	args := []string{"canary", "trace", "--config", cfgPath, "--json", jsonPath, leak}
	if live {
		t.Setenv("LG_TEST_TOKEN", testToken)
		args = append([]string{"canary", "trace", "--admin", proxy.AdminURL()}, args[2:]...)
		// Without --admin, the running proxy's lock is named, with the way out.
		var so, se bytes.Buffer
		if code := Main(context.Background(), []string{"canary", "trace", "--config", cfgPath, leak}, &so, &se); code == 0 || !strings.Contains(se.String(), "--admin") {
			t.Errorf("trace of a running proxy's state.db: exit %d\n%s", code, &se)
		}
		// The registry is written every flush_interval (50ms): wait for it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			stdout.Reset()
			code := Main(context.Background(), args, &stdout, &stderr)
			if code == 0 && strings.Contains(stdout.String(), "40 canaries found") || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	} else if code := Main(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	t.Log("\n" + stdout.String())
	var res struct {
		Found      int `json:"canaries_found"`
		Recipients []struct {
			Keys     map[string]string `json:"keys"`
			Canaries int               `json:"canaries"`
		} `json:"recipients"`
	}
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	// One canary a page, so 40 in the haul; the unrelated rows match none.
	if len(res.Recipients) != 1 || res.Recipients[0].Canaries != 40 || res.Found != 40 {
		t.Fatalf("trace: %+v", res)
	}
	// And the recipient is the scraper: its address key, as the proxy hashes it.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _, err := configHasher(cfg, testGetenv) // the same secret as the proxy and the trace
	want := identity.NewResolver(identity.Options{}, h).IdentifyLog(netip.MustParseAddr("203.0.113.77"), nil).Keys[identity.IP]
	if got := res.Recipients[0].Keys["ip"]; "ip:"+got != want.String() {
		t.Fatalf("recipient ip:%s, want the scraper's %s", got, want)
	}
	if strings.Contains(stdout.String(), "203.0.113.77") {
		t.Fatal("the trace report shows a raw address")
	}
}
