package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testserver"
)

// Idle connections up to limits.max_conns fill the proxy listener; more
// wait unaccepted, without a descriptor each, and the admin listener keeps
// answering health checks and metrics scrapes. Without the cap a flood of
// idle connections exhausted descriptors and a metrics scrape failed.
func TestConnectionCapKeepsAdminReachable(t *testing.T) {
	up := upstreamShop(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
upstream: %s
admin: {listen: "127.0.0.1:0", token_env: LG_TEST_TOKEN}
limits: {max_conns: 4}
secret: {env: LG_TEST_SECRET}
log: {decisions: %s}
state: {dir: %s, persist: false}
`, up.URL, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state"))), 0o600)
	p, base, _ := serveConfig(t, cfg, io.Discard)

	var idle []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// Saturated: a new client waits (here, past its timeout).
	quick := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := quick.Get(base + "/static/app.js"); err == nil {
		resp.Body.Close()
		t.Fatalf("the proxy served a client past max_conns: 4 (%d)", resp.StatusCode)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(p.AdminURL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin /healthz with the proxy listener saturated: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", p.AdminURL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err = hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics scrape with the proxy listener saturated: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "leakguard_shadow_mode") {
		t.Fatal("metrics scrape incomplete")
	}
	// The idle clients leave: the proxy serves again.
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	testserver.WaitFor(t, 5*time.Second, "the proxy to serve once the idle connections left", func() bool {
		resp, err := quick.Get(base + "/static/app.js")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}
