package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/testserver"
)

const e2eConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: %s
admin:
  listen: 127.0.0.1:0
  token_env: LG_TEST_TOKEN
identity:
  trusted_proxies: [127.0.0.1/32]
  account: {header: X-Account}
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
budgets:
  - entity: user
    per: ip
    window: 1h
    limit: 300
    action: block
    block_for: 1h
default_policy: false # these tests pin one budget, alone
# These tests pin budgets; the Go test client's User-Agent would otherwise
# be challenged as automation (risk bands have their own tests).
risk:
  bands: []
limits:
  read_header_timeout: 1s
  max_header_bytes: 8192
log:
  decisions: %s
state:
  dir: %s
`

const testToken = "test-admin-token-0123456789"

type running struct {
	cmd       *ProxyCommand
	base      string
	decisions string
	stderr    *testserver.Buffer
	cancel    func()
	done      chan error
}

// startProxy runs `leakguard proxy --config` as a user would, in process.
func startProxy(t *testing.T, upstream, mode string) *running {
	t.Helper()
	dir := t.TempDir()
	decisions := filepath.Join(dir, "decisions.jsonl")
	cfg := filepath.Join(dir, "leakguard.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(e2eConfig, upstream, mode, decisions, filepath.Join(dir, "state"))), 0o600)
	r := &running{decisions: decisions, stderr: &testserver.Buffer{}, done: make(chan error, 1)}
	r.cmd = &ProxyCommand{Stdout: io.Discard, Stderr: r.stderr, Getenv: func(k string) string {
		if k == "LG_TEST_TOKEN" {
			return testToken
		}
		return ""
	}}
	if err := r.cmd.ParseFlags([]string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.cmd.Serve(ctx) }()
	r.base = "http://" + r.cmd.Addr()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("proxy did not shut down")
		}
		r.cmd.Close()
	})
	return r
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// writeEnforcing writes, in dir, an enforcing routes-only config in front
// of a shop of its own, with one record route, the identity and detect
// sections given (flow mappings), decisions logged to dir/decisions.jsonl.
func writeEnforcing(t *testing.T, dir, identity, detect, route string) string {
	t.Helper()
	cfg := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`upstream: %s
listen: 127.0.0.1:0
mode: enforce
admin: {listen: "off"}
identity: %s
detect: %s
records:
  - %s
log: {decisions: %s}
state: {dir: %s}
`, upstreamShop(t).URL, identity, detect, route, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func upstreamShop(t *testing.T) *httptest.Server {
	s := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
	t.Cleanup(s.Close)
	return s
}

func readDecisions(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("decision log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// The acceptance test: a sequential crawler is blocked having received
// at most its budget, while another actor keeps full access.
func TestProxyBlocksSequentialCrawlerAtBudget(t *testing.T) {
	up := upstreamShop(t)
	p := startProxy(t, up.URL, "enforce")
	c := &http.Client{Timeout: 5 * time.Second}

	served, refusedAt := 0, 0
	for id := 1; id <= 1000; id++ {
		code, _ := get(t, c, fmt.Sprintf("%s/api/users/%d", p.base, id), "X-Forwarded-For", "203.0.113.5", "User-Agent", "python-requests/2.31")
		if code == 200 {
			served++
		} else if code == 403 && refusedAt == 0 {
			refusedAt = id
		} else if code != 403 {
			t.Fatalf("unexpected status %d", code)
		}
	}
	if served != 300 || refusedAt != 301 {
		t.Fatalf("crawler received %d records, first refused at %d; want exactly 300 then refusal", served, refusedAt)
	}
	// Another client, same proxy, keeps full access.
	for id := 1; id <= 100; id++ {
		if code, _ := get(t, c, fmt.Sprintf("%s/api/users/%d", p.base, id), "X-Forwarded-For", "198.51.100.7"); code != 200 {
			t.Fatalf("other actor refused at request %d with %d", id, code)
		}
	}
	// A refused request says how long.
	req, _ := http.NewRequest("GET", p.base+"/api/users/1", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("blocked response: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	ds := readDecisions(t, p.decisions)
	if len(ds) != 1 || ds[0]["action"] != "block" || ds[0]["shadow"] != false || ds[0]["count"].(float64) != 300 {
		t.Fatalf("decision log: %v", ds)
	}
	raw, _ := os.ReadFile(p.decisions)
	checkNoRawPII(t, "decision log", string(raw)+p.stderr.String())
	checkAdmin(t, p)
}

// Concurrent crawling: the budget holds within in-flight slack, one request per worker.
func TestProxyConcurrentCrawlerSlack(t *testing.T) {
	up := upstreamShop(t)
	p := startProxy(t, up.URL, "enforce")
	const workers = 8
	var mu sync.Mutex
	served := 0
	var wg sync.WaitGroup
	ids := make(chan int)
	go func() {
		for id := 1; id <= 600; id++ {
			ids <- id
		}
		close(ids)
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for id := range ids {
				resp, err := c.Get(fmt.Sprintf("%s/api/users/%d", p.base, id))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					served++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if served < 300 || served > 300+workers {
		t.Fatalf("concurrent crawler received %d records, want 300..%d", served, 300+workers)
	}
	t.Logf("8 concurrent workers received %d records against a budget of 300", served)
}

// Records in response bodies count too: review pages leak reviewers.
func TestProxyCountsBodyRecords(t *testing.T) {
	up := upstreamShop(t)
	p := startProxy(t, up.URL, "enforce")
	c := &http.Client{Timeout: 5 * time.Second}
	served := 0
	for id := 1; id <= 200; id++ {
		code, _ := get(t, c, fmt.Sprintf("%s/api/items/%d/reviews", p.base, id), "X-Forwarded-For", "203.0.113.77")
		if code == 200 {
			served++
		}
	}
	// 3-12 reviewers a page: the 300-user budget is spent within ~25-100 pages.
	if served < 20 || served > 110 {
		t.Fatalf("review crawler got %d pages before the user budget stopped it", served)
	}
	ds := readDecisions(t, p.decisions)
	if len(ds) != 1 || ds[0]["route"] != "GET /api/items/{id}/reviews" {
		t.Fatalf("decisions: %v", ds)
	}
	if n := ds[0]["count"].(float64); n < 300 || n > 312 {
		t.Fatalf("tripped at %v records; a page can overshoot by at most 12", n)
	}
}

func TestProxyShadowModeNeverBlocks(t *testing.T) {
	up := upstreamShop(t)
	p := startProxy(t, up.URL, "shadow")
	c := &http.Client{Timeout: 5 * time.Second}
	for id := 1; id <= 1000; id++ {
		if code, _ := get(t, c, fmt.Sprintf("%s/api/users/%d", p.base, id), "X-Forwarded-For", "203.0.113.5"); code != 200 {
			t.Fatalf("shadow mode answered %d at request %d", code, id)
		}
	}
	ds := readDecisions(t, p.decisions)
	if len(ds) != 1 || ds[0]["shadow"] != true || ds[0]["would"] != "would have blocked" {
		t.Fatalf("shadow decision log: %v", ds)
	}
	code, body := get(t, c, p.cmd.AdminURL()+"/metrics", "Authorization", "Bearer "+testToken)
	if code != 200 || !strings.Contains(string(body), `leakguard_requests_total{outcome="would_block"} 700`) {
		t.Fatalf("metrics do not show 700 would-be blocks:\n%s", grep(string(body), "leakguard_requests_total"))
	}
}

func TestProxyUpstreamDownGives502(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	p := startProxy(t, dead, "enforce")
	code, _ := get(t, &http.Client{Timeout: 10 * time.Second}, p.base+"/api/users/1")
	if code != 502 {
		t.Fatalf("status %d, want 502", code)
	}
	if !strings.Contains(p.stderr.String(), "upstream unreachable") {
		t.Fatalf("no clear log line:\n%s", p.stderr.String())
	}
}

func TestProxyHostileRequests(t *testing.T) {
	up := upstreamShop(t)
	p := startProxy(t, up.URL, "enforce")
	// Huge headers: refused, not buffered.
	req, _ := http.NewRequest("GET", p.base+"/api/users/1", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %d, want 431", resp.StatusCode)
	}
	// Slow headers: the connection is cut after read_header_timeout (1s).
	conn, err := net.Dial("tcp", p.cmd.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /api/users/1 HTTP/1.1\r\nHost: x\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if took := time.Since(start); err != nil || took > 4*time.Second {
		t.Fatalf("slow client held the connection %v (err %v)", took, err)
	}
	// Still serving.
	if code, _ := get(t, http.DefaultClient, p.base+"/api/users/2"); code != 200 {
		t.Fatalf("after hostile clients: %d", code)
	}
}

func TestProxyBadConfigNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte("upstream: http://127.0.0.1:1\nbudgets:\n  - entity: user\n    per: ip\n    window: 1h\n    limit: 5\n"), 0o600)
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"proxy", "--config", cfg}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "bad.yaml:3: budgets[0].entity") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func checkAdmin(t *testing.T, p *running) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	admin := p.cmd.AdminURL()
	if code, _ := get(t, c, admin+"/healthz"); code != 200 {
		t.Errorf("/healthz without token: %d", code)
	}
	for _, path := range []string{"/metrics", "/api/actors", "/api/mode"} {
		if code, _ := get(t, c, admin+path); code != 401 {
			t.Errorf("%s without token: %d, want 401", path, code)
		}
		if code, _ := get(t, c, admin+path, "Authorization", "Bearer wrong-token-0123456789"); code != 401 {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
	}
	auth := []string{"Authorization", "Bearer " + testToken}
	if code, body := get(t, c, admin+"/api/policy", auth...); code != 200 || !strings.Contains(string(body), `"window": "1h"`) || !strings.Contains(string(body), `"summary"`) || !strings.Contains(string(body), `"learnt"`) {
		t.Errorf("/api/policy: %d %s", code, body)
	}
	if code, _ := get(t, c, admin+"/api/policy"); code != 401 {
		t.Errorf("/api/policy without token: %d, want 401", code)
	}
	code, body := get(t, c, admin+"/metrics", auth...)
	m := string(body)
	for _, want := range []string{
		`leakguard_requests_total{outcome="blocked"}`,
		`leakguard_records_served_total{entity="user"}`,
		`leakguard_decisions_total{action="block",shadow="false"} 1`,
		`leakguard_engine_seconds_bucket`,
	} {
		if code != 200 || !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	code, body = get(t, c, admin+"/api/actors?top=1&kind=ip&entity=user", auth...)
	var top struct {
		Actors []struct {
			Key     string            `json:"key"`
			Records map[string]uint64 `json:"records"`
		} `json:"actors"`
	}
	if err := json.Unmarshal(body, &top); code != 200 || err != nil || len(top.Actors) != 1 || top.Actors[0].Records["user"] != 300 {
		t.Fatalf("/api/actors: %d %s", code, body)
	}
	checkNoRawPII(t, "/api/actors", string(body))
	// The dashboard's live view and the blocked key's drill-down.
	var stats struct {
		Mode          string            `json:"mode"`
		ActorKeys     int               `json:"actor_keys"`
		Sanctioned    int               `json:"sanctioned_keys"`
		TimelineEvery string            `json:"timeline_every"`
		Records       map[string]uint64 `json:"records"`
	}
	if code, body := get(t, c, admin+"/api/stats", auth...); code != 200 || json.Unmarshal(body, &stats) != nil ||
		stats.Mode != "enforce" || stats.ActorKeys == 0 || stats.Sanctioned == 0 || stats.TimelineEvery != "5s" || stats.Records["user"] < 300 {
		t.Errorf("/api/stats: %d %s", code, body)
	}
	var detail struct {
		Series    map[string]map[string][]uint64 `json:"series"`
		Sanctions []map[string]any               `json:"sanctions"`
		Decisions []map[string]any               `json:"decisions"`
	}
	if code, body := get(t, c, admin+"/api/actor?key="+top.Actors[0].Key, auth...); code != 200 || json.Unmarshal(body, &detail) != nil ||
		len(detail.Sanctions) == 0 || detail.Sanctions[0]["action"] != "block" || len(detail.Series["1h"]["user"]) == 0 || len(detail.Decisions) == 0 {
		t.Errorf("/api/actor: %d %s", code, body)
	}
	// Unblock through the API, audited in the decision log.
	req, _ := http.NewRequest("POST", admin+"/api/unblock?key="+top.Actors[0].Key, nil)
	req.Header.Set(auth[0], auth[1])
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unblock: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(readFile(t, p.decisions), `"msg":"operator","action":"unblock"`) &&
		!strings.Contains(readFile(t, p.decisions), `"action":"unblock"`) {
		t.Error("unblock not audited in the decision log")
	}
}

// The guard must never become the leak: no raw addresses or personal data in its outputs.
func checkNoRawPII(t *testing.T, what, s string) {
	t.Helper()
	for _, raw := range []string{"203.0.113.5", "198.51.100.7", "@example.com"} {
		if strings.Contains(s, raw) {
			t.Errorf("%s contains raw %q", what, raw)
		}
	}
	sh := shop.New(7, 5000, 1000)
	for id := 1; id <= 300; id++ {
		if strings.Contains(s, sh.Phone(id)) {
			t.Fatalf("%s contains a raw phone number", what)
		}
	}
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The README says flags override the file; a file without upstream must
// therefore be complete once --upstream is given (it failed validation
// before the flag was applied).
func TestProxyConfigWithoutUpstreamTakesTheFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "routes.yaml")
	os.WriteFile(cfg, []byte("records:\n  - {route: 'GET /api/users/{id}', entity: user}\nstate: {dir: "+dir+"}\n"), 0o600)
	c := &ProxyCommand{Stdout: io.Discard, Stderr: io.Discard}
	if err := c.ParseFlags([]string{"--config", cfg, "--upstream", "http://127.0.0.1:9000"}); err != nil {
		t.Fatalf("--config F --upstream U: %v", err)
	}
	if c.Config.Upstream != "http://127.0.0.1:9000" || len(c.Config.Records) != 1 {
		t.Fatalf("config: upstream %q, %d routes", c.Config.Upstream, len(c.Config.Records))
	}
	// Still refused, with the file named, when neither gives one.
	c = &ProxyCommand{Stdout: io.Discard, Stderr: io.Discard}
	if err := c.ParseFlags([]string{"--config", cfg}); err == nil || !strings.Contains(err.Error(), "routes.yaml: upstream: required") {
		t.Fatalf("no upstream anywhere: %v", err)
	}
	// A flag's bad value is reported like the file's.
	c = &ProxyCommand{Stdout: io.Discard, Stderr: io.Discard}
	if err := c.ParseFlags([]string{"--config", cfg, "--upstream", "ftp://x"}); err == nil || !strings.Contains(err.Error(), "want an http://") {
		t.Fatalf("bad --upstream: %v", err)
	}
}

// Clients the config gives no way to tell apart from a swarm. With no
// session source every request lacked a session, so anonymous people of
// one browser build were one sessionless crew and met its 500 an hour
// together: 1,114 of 1,200 requests from 400 people refused (2026-12-01).
// Without a session source the lack of one says nothing, as in an access
// log, and the proxy says so at start. Where pages and assets do not come
// through leakguard (a frontend served elsewhere, an app), every session
// is no_assets, with the same result (1,125 of 1,200): the proxy says so
// once it sees it, and detect.api_clients turns both signals off.
func TestProxySparesPeopleItCannotTellFromASwarm(t *testing.T) {
	for _, tt := range []struct {
		name, identity, detect string
		cookie, assets         bool   // each person sends a session cookie; loads a script before each call
		warn                   string // in the log
		spared                 bool   // no request refused
	}{
		{"no session source", "{trusted_proxies: [127.0.0.1/32]}", "{}", true, true, "identity.session is not set", true},
		{"pages served elsewhere", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{}", true, false, "sessions that never loaded a page", false},
		{"pages served elsewhere, api_clients", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{api_clients: true}", true, false, "", true},
		{"an app without the session cookie", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{}", false, false, "a quarter or more of the record calls carry no session", false},
		{"an app without the session cookie, api_clients", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{api_clients: true}", false, false, "", true},
		// The app named by its User-Agent: the website's swarms stay
		// sessionless (TestAppUserAgentsSpareTheAppNotTheWeb).
		{"an app without the session cookie, app_user_agents", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{app_user_agents: [ShopApp/]}", false, false, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeEnforcing(t, dir, tt.identity, tt.detect, "{route: 'GET /api/items/{id}/reviews', entity: user, body: '$.reviews[*].user.id'}")
			var stderr testserver.Buffer
			c, _, stop := serveConfigEnv(t, cfg, &stderr, func(string) string { return "" })
			defer stop()
			client := &http.Client{Timeout: 5 * time.Second}
			refused := 0
			// Each looks at three of the shop's 200 most popular items, in
			// turn with the others: together more people's records than a
			// crew's 500 an hour.
			hdr := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
				"Accept-Language", "en", "Accept", "application/json"}
			if strings.Contains(tt.detect, "app_user_agents") {
				hdr[1] = "ShopApp/3.2 (iPhone; iOS 17.1; Scale/3.00)"
			}
			for r := range 3 {
				for p := range 400 {
					who := append([]string{"X-Forwarded-For", fmt.Sprintf("10.%d.%d.7", p/200, p%200)}, hdr...)
					if tt.cookie {
						who = append(who, "Cookie", fmt.Sprintf("sid=s%d", p))
					}
					if tt.assets {
						get(t, client, fmt.Sprintf("http://%s/static/app.js", c.Addr()), who...)
					}
					if code, _ := get(t, client, fmt.Sprintf("http://%s/api/items/%d/reviews", c.Addr(), 1+(p*7+r*13)%200), who...); code != http.StatusOK {
						refused++
					}
				}
			}
			wctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			c.warnClients(wctx, 10*time.Millisecond)
			cancel()
			if tt.spared && refused != 0 {
				t.Errorf("%d of 1,200 requests from 400 people refused:\n%s", refused, grep(readFile(t, filepath.Join(dir, "decisions.jsonl")), `"decision"`))
			}
			if tt.warn != "" && !strings.Contains(stderr.String(), tt.warn) {
				t.Errorf("no warning %q in the log:\n%s", tt.warn, stderr.String())
			}
			if tt.warn == "" && strings.Contains(stderr.String(), "level=WARN") {
				t.Errorf("a warning where none is due:\n%s", stderr.String())
			}
		})
	}
}

// A page counts for the detector once the shop served it: a red team's
// churner that asked for a page that is not there (a 404) before each
// call was a paged session, and took 18,826 records (2026-12-03). Where
// no page is served through the proxy, it says that the rules on a
// session's page lineage stay off.
func TestProxyCountsAPageOnceTheShopServedIt(t *testing.T) {
	cfg := writeEnforcing(t, t.TempDir(), "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{}", "{route: 'GET /api/items/{id}/reviews', entity: user, body: '$.reviews[*].user.id'}")
	var stderr testserver.Buffer
	c, _, stop := serveConfigEnv(t, cfg, &stderr, func(string) string { return "" })
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second}
	page := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Accept-Language", "en", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
	// The shop has 1,000 items: item 5,000's page is not there.
	for p := range clientsMinCalls {
		who := append([]string{"X-Forwarded-For", fmt.Sprintf("10.%d.%d.7", p/200, p%200), "Cookie", fmt.Sprintf("sid=s%d", p)}, page...)
		if code, _ := get(t, client, fmt.Sprintf("http://%s/items/%d", c.Addr(), 5000+p), who...); code != http.StatusNotFound {
			t.Fatalf("the missing page answered %d", code)
		}
		who[len(who)-1] = "application/json"
		get(t, client, fmt.Sprintf("http://%s/api/items/%d/reviews", c.Addr(), 1+p%1000), who...)
	}
	if n := c.detector.Clients(); n.Pages != 0 || n.Sessions < clientsMinCalls {
		t.Fatalf("after %d missing pages: %d pages counted, %d record calls", clientsMinCalls, n.Pages, n.Sessions)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	c.warnClients(wctx, 10*time.Millisecond)
	cancel()
	if !strings.Contains(stderr.String(), "no HTML page has been served") {
		t.Errorf("no word that page lineage is off in the log:\n%s", stderr.String())
	}
	who := append([]string{"X-Forwarded-For", "10.9.9.9", "Cookie", "sid=person"}, page...)
	if code, _ := get(t, client, fmt.Sprintf("http://%s/items/5", c.Addr()), who...); code != http.StatusOK {
		t.Fatalf("item 5's page answered %d", code)
	}
	if n := c.detector.Clients(); n.Pages != 1 {
		t.Errorf("after a page served: %d pages counted, want 1", n.Pages)
	}
}

// The session swarm through the proxy: 900 addresses in random /16s, each
// a session of its own that loads a script, then asks for two profiles,
// with a browser's headers. On the header shape it is never refused: each
// address shows nothing, and its fingerprint is every such browser's (no
// page is served here, so its pageless sessions are not followed
// together: detect.pagelessPool).
// Where the TLS edge passes the client's JA4 (the script's own), the
// swarm's young sessions together are one sweep, held to the crew's 500.
func TestProxyHoldsASessionSwarmByItsTLSFingerprint(t *testing.T) {
	for _, tt := range []struct {
		name, identity string
		held           bool
	}{
		{"the edge's JA4", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}, tls_fingerprint_header: X-JA4}", true},
		{"header shape only", "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeEnforcing(t, dir, tt.identity, "{}", "{route: 'GET /api/users/{id}', entity: user}")
			var stderr testserver.Buffer
			c, _, stop := serveConfigEnv(t, cfg, &stderr, func(string) string { return "" })
			defer stop()
			// Without a JA4 the proxy says at start where one would come from.
			if hint := strings.Contains(stderr.String(), "no client TLS fingerprint (JA4)"); hint == tt.held {
				t.Errorf("%s: the start's hint about a TLS fingerprint: %v, want %v", tt.name, hint, !tt.held)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			rng := rand.New(rand.NewPCG(9, 9))
			taken, refused := 0, 0
			for i := range 900 {
				who := []string{"X-Forwarded-For", fmt.Sprintf("%d.%d.%d.9", 24+rng.IntN(170), rng.IntN(256), rng.IntN(256)),
					"User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
					"Accept-Language", "en", "Accept", "application/json", "Cookie", fmt.Sprintf("sid=w%d", i),
					"X-JA4", "t13d1012h2_1d37bd780c83_882d495ac381"} // Go's TLS client, not Chrome's
				get(t, client, fmt.Sprintf("http://%s/static/app.js", c.Addr()), who...)
				for range 2 {
					if code, _ := get(t, client, fmt.Sprintf("http://%s/api/users/%d", c.Addr(), 1+rng.IntN(5000)), who...); code == http.StatusOK {
						taken++
					} else {
						refused++
					}
				}
			}
			t.Logf("%s: %d profiles taken, %d refused", tt.name, taken, refused)
			if held := refused > 0; held != tt.held {
				t.Fatalf("%s: the swarm refused %d times, taken %d: held %v, want %v", tt.name, refused, taken, held, tt.held)
			}
			// 691 seen: the sketch warms after 500 records, the young
			// sessions together are beyond chance some 40 responses on,
			// and the crew's budget is 500.
			if tt.held && taken > 900 {
				t.Fatalf("%s: the swarm took %d profiles, want at most 900 (the crew's 500 and the evidence before)", tt.name, taken)
			}
			// Each member refused under the crew's sanction has a line of
			// its own, once (an outside red team's people refused under a
			// crew had none, 2026-12-06).
			members := map[string]int{}
			for _, d := range readDecisions(t, filepath.Join(dir, "decisions.jsonl")) {
				if d["msg"] != "refused" {
					continue
				}
				keys, _ := d["keys"].(map[string]any)
				if key, _ := d["key"].(string); !strings.HasPrefix(key, "crew:") || keys["session"] == nil {
					t.Fatalf("a refused line names %v with keys %v, want a crew and the member's session", d["key"], keys)
				}
				members[keys["session"].(string)]++
			}
			for m, n := range members {
				if n > 1 {
					t.Fatalf("member %s refused under the crew written %d times, want once", m, n)
				}
			}
			if got := len(members) > 0; got != tt.held {
				t.Fatalf("%s: %d members written refused under a crew, want some: %v", tt.name, len(members), tt.held)
			}
		})
	}
}

// The same swarm, where the proxy terminates TLS itself (tls: cert_file,
// key_file) and no edge passes anything: each member connects from an
// address of its own (127.x.y.z, in /16s apart), with Go's TLS client and a
// Chrome's headers. The proxy reads the JA4 off each handshake; over plain
// HTTP the same swarm is the header shape every Chrome shares, and is never
// refused.
func TestProxyTerminatingTLSHoldsASessionSwarm(t *testing.T) {
	certFile, keyFile, _ := testserver.Cert(t)
	for _, tt := range []struct {
		name string
		tls  bool
	}{
		{"TLS terminated by the proxy", true},
		{"plain HTTP", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeEnforcing(t, dir, "{session: {cookie: sid}}", "{}", "{route: 'GET /api/users/{id}', entity: user}")
			scheme := "http"
			if tt.tls {
				scheme = "https"
				f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(f, "tls: {cert_file: %s, key_file: %s}\n", certFile, keyFile)
				f.Close()
			}
			c, _, stop := serveConfigEnv(t, cfg, &testserver.Buffer{}, func(string) string { return "" })
			defer stop()
			rng := rand.New(rand.NewPCG(9, 9))
			taken, refused := 0, 0
			for i := range 900 {
				// a member per /16: 127.a.b.1, with a and b from its number
				ip := net.IPv4(127, byte(1+i/30), byte(1+i%30*8), 1)
				tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext,
					TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
				client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
				who := []string{"User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
					"Accept-Language", "en", "Accept", "application/json", "Cookie", fmt.Sprintf("sid=w%d", i)}
				get(t, client, fmt.Sprintf("%s://%s/static/app.js", scheme, c.Addr()), who...)
				for range 2 {
					if code, _ := get(t, client, fmt.Sprintf("%s://%s/api/users/%d", scheme, c.Addr(), 1+rng.IntN(5000)), who...); code == http.StatusOK {
						taken++
					} else {
						refused++
					}
				}
				tr.CloseIdleConnections()
			}
			t.Logf("%s: %d profiles taken, %d refused", tt.name, taken, refused)
			if held := refused > 0; held != tt.tls {
				t.Fatalf("%s: the swarm refused %d times, taken %d: held %v, want %v", tt.name, refused, taken, held, tt.tls)
			}
			if tt.tls && taken > 900 {
				t.Fatalf("%s: the swarm took %d profiles, want at most 900 (the crew's 500 and the evidence before)", tt.name, taken)
			}
		})
	}
}

// What a record response showed a session counts as shown through the
// proxy: the reviewers in a reviews body (read as it streams) are what a
// person opens next, and no call about them goes astray; profiles by id
// that no page or response showed do (id lineage past a session's first
// call, TestSessionsThatReadWhatTheyWereNotShownAreStrangers).
func TestProxyKnowsWhatARecordResponseShowed(t *testing.T) {
	routes := "{route: 'GET /api/items/{id}/reviews', entity: user, body: '$.reviews[*].user.id'}\n  - {route: 'GET /api/users/{id}', entity: user}"
	cfg := writeEnforcing(t, t.TempDir(), "{trusted_proxies: [127.0.0.1/32], session: {cookie: sid}}", "{item_pages: true}", routes)
	c, base, stop := serveConfigEnv(t, cfg, io.Discard, func(string) string { return "" })
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second}
	browser := func(sid, accept string) []string {
		return []string{"X-Forwarded-For", "10.1.2.3", "Cookie", "sid=" + sid, "Accept", accept, "Accept-Language", "en",
			"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"}
	}
	const html, api = "text/html,application/xhtml+xml,*/*;q=0.8", "application/json"
	// visit loads item's page, asks for its reviews, and returns the
	// reviewers they showed.
	visit := func(sid string, item int) []int {
		if code, _ := get(t, client, fmt.Sprintf("%s/items/%d", base, item), browser(sid, html)...); code != http.StatusOK {
			t.Fatalf("item %d's page answered %d", item, code)
		}
		code, body := get(t, client, fmt.Sprintf("%s/api/items/%d/reviews", base, item), browser(sid, api)...)
		if code != http.StatusOK {
			t.Fatalf("item %d's reviews answered %d", item, code)
		}
		var page struct {
			Reviews []struct {
				User struct{ ID int } `json:"user"`
			} `json:"reviews"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Reviews) < 3 {
			t.Fatalf("item %d's reviews: %v, %d reviews", item, err, len(page.Reviews))
		}
		var ids []int
		for _, r := range page.Reviews {
			ids = append(ids, r.User.ID)
		}
		return ids
	}
	// the home page names items: the proxy reads what pages name
	get(t, client, base+"/", browser("home", html)...)
	shown := visit("person", 5)
	for _, id := range shown[:3] {
		get(t, client, fmt.Sprintf("%s/api/users/%d", base, id), browser("person", api)...)
	}
	if n := c.detector.Clients(); n.Later != 3 || n.Astray != 0 {
		t.Fatalf("a person who opened three reviewers shown: %d later calls, %d astray; want 3 and 0", n.Later, n.Astray)
	}
	// ids whose items (their low bytes) none of the reviewers has
	taken := map[int]bool{}
	for _, id := range visit("scraper", 6) {
		taken[id&0xff] = true
	}
	var unshown []int
	for id := 1; len(unshown) < 3; id++ {
		if !taken[id&0xff] && id&0xff != 6 {
			unshown = append(unshown, id)
		}
	}
	for _, id := range unshown {
		get(t, client, fmt.Sprintf("%s/api/users/%d", base, id), browser("scraper", api)...)
	}
	// counted until the session is judged, at its second
	if n := c.detector.Clients(); n.Later != 5 || n.Astray != 2 {
		t.Fatalf("a session that asked for three profiles nobody showed it: %d later calls in all, %d astray; want 5 and 2", n.Later, n.Astray)
	}
}
