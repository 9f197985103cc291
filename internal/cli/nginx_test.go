package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/testserver"
)

const authRequestConf = "../../deploy/nginx/leakguard-auth-request.conf"

const authConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin:
  listen: "off"
auth:
  listen: 127.0.0.1:0
identity:
  trusted_proxies: [127.0.0.1/32]
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - entity: user
    per: ip
    window: 1h
    limit: 300
    action: block
    block_for: 1h
default_policy: false
# One signal, so the scraper meets its budget and the bot its challenge:
# other signals have their own tests.
risk:
  weights: {automation_ua: 5}
  bands:
    - {min: 5, action: challenge, for: 10m}
log:
  decisions: %s
state:
  dir: %s
`

// startAuth runs leakguard proxy with its auth endpoint on, as a user would.
func startAuth(t *testing.T, upstream string) *ProxyCommand {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "leakguard.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(authConfig, upstream, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state"))), 0o600)
	cmd, _, _ := serveConfigEnv(t, cfg, &testserver.Buffer{}, func(string) string { return "" })
	return cmd
}

// nginxAuthConf is deploy/nginx/leakguard-auth-request.conf with its
// addresses changed to the test's, after checking that
// docs/integrations/nginx-auth-request.md shows the file verbatim.
func nginxAuthConf(t *testing.T, app, auth string, port int) string {
	return docConf(t, authRequestConf, "../../docs/integrations/nginx-auth-request.md", map[string]string{
		"server 127.0.0.1:8000;": "server " + app + ";",
		"server 127.0.0.1:9100;": "server " + auth + ";",
		"listen 80;":             fmt.Sprintf("listen 127.0.0.1:%d;", port),
	})
}

// docConf reads a shipped nginx config, fails unless doc shows it verbatim
// in an nginx block (the page's copy-paste config is what the test runs),
// and makes each replacement, each of whose text must occur exactly once.
func docConf(t *testing.T, file, doc string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "```nginx\n"+string(b)+"```\n") {
		t.Fatalf("%s does not show %s verbatim in an nginx block", doc, file)
	}
	conf := string(b)
	for old, new := range replace {
		if n := strings.Count(conf, old); n != 1 {
			t.Fatalf("%s: %q found %d times, want once", file, old, n)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	return conf
}

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// TestNginxAuthRequest: real nginx with auth_request in front of the shop,
// configured as docs/integrations/nginx-auth-request.md shows, asking leakguard's auth
// endpoint. A scraper is refused by nginx once over its budget (exactly
// the budget's records served), shoppers pass throughout, and an API
// client that is challenged solves the challenge through nginx and passes.
func TestNginxAuthRequest(t *testing.T) {
	app := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
	defer app.Close()
	lg := startAuth(t, app.URL)
	authURL, err := url.Parse(lg.AuthURL())
	if err != nil || lg.AuthURL() == "off" {
		t.Fatalf("auth endpoint: %q %v", lg.AuthURL(), err)
	}
	ng := testserver.NginxHTTP(t, func(port int) string {
		return nginxAuthConf(t, strings.TrimPrefix(app.URL, "http://"), authURL.Host, port)
	})
	base := "http://" + ng.Addr
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("User-Agent", chromeUA)
		req.Header.Set("Accept-Language", "en")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	shoppers := func(round int) {
		t.Helper()
		for s := 1; s <= 5; s++ {
			for i := 0; i < 10; i++ {
				path := fmt.Sprintf("/api/users/%d", 1+(s*37+i*11+round)%500)
				resp, body := do("GET", path, nil, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", s))
				if resp.StatusCode != 200 || !strings.Contains(body, `"phone"`) {
					t.Fatalf("shopper %d refused %s: %d %q", s, path, resp.StatusCode, body)
				}
			}
		}
	}
	shoppers(0)

	// The scraper walks the users: 300 served, then nginx refuses.
	served, refusedAt := 0, 0
	var refusal *http.Response
	var refusalBody string
	for id := 1; id <= 400; id++ {
		resp, body := do("GET", fmt.Sprintf("/api/users/%d", id), nil, "X-Forwarded-For", "203.0.113.5")
		switch {
		case resp.StatusCode == 200:
			served++
		case resp.StatusCode == 403:
			if refusedAt == 0 {
				refusedAt, refusal, refusalBody = id, resp, body
			}
		default:
			t.Fatalf("scraper request %d: %d %q", id, resp.StatusCode, body)
		}
	}
	if served != 300 || refusedAt != 301 {
		t.Fatalf("scraper served %d, first refused at %d; want exactly 300 served, refused from 301 on", served, refusedAt)
	}
	if ra, _ := strconv.Atoi(refusal.Header.Get("Retry-After")); ra < 3000 || !strings.Contains(refusalBody, `"forbidden"`) {
		t.Fatalf("nginx's refusal: Retry-After %q, body %q; want leakguard's (about an hour)", refusal.Header.Get("Retry-After"), refusalBody)
	}
	// Shoppers still pass.
	shoppers(1)

	// An API client with an automation user agent is challenged (429, the
	// challenge in JSON, through nginx's error_page), solves it, posts the
	// solution through nginx and passes with the cookie it gets.
	bot := []string{"User-Agent", "python-requests/2.31", "Accept", "application/json", "X-Forwarded-For", "192.0.2.9"}
	resp, body := do("GET", "/api/users/42", nil, bot...)
	var ch struct {
		Seed       string
		Difficulty int
		Submit     string
	}
	if err := json.Unmarshal([]byte(body), &ch); err != nil || resp.StatusCode != 429 || ch.Seed == "" || ch.Submit != proxy.ChallengePath ||
		resp.Header.Get("Leakguard-Challenge") == "" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("bot not challenged: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	form := url.Values{"seed": {ch.Seed}, "nonce": {proxy.Solve(ch.Seed, ch.Difficulty)}, "back": {"/api/users/42"}}
	resp, body = do("POST", ch.Submit, strings.NewReader(form.Encode()), append(bot, "Content-Type", "application/x-www-form-urlencoded")...)
	var pass *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "lg_pass" {
			pass = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || pass == nil {
		t.Fatalf("challenge solution through nginx: %d %q, cookies %v", resp.StatusCode, body, resp.Cookies())
	}
	if resp, body = do("GET", "/api/users/42", nil, append(bot, "Cookie", "lg_pass="+pass.Value)...); resp.StatusCode != 200 {
		t.Fatalf("bot with its pass: %d %q", resp.StatusCode, body)
	}
	// A browser asking for a page gets the challenge page.
	resp, body = do("GET", "/api/users/43", nil, "User-Agent", "python-requests/2.31", "Accept", "text/html", "X-Forwarded-For", "192.0.2.10")
	if resp.StatusCode != 429 || !strings.Contains(body, `action="/.well-known/leakguard/challenge"`) {
		t.Fatalf("challenge page through nginx: %d %q", resp.StatusCode, body)
	}
}
