package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leakguard/leakguard/internal/testserver"
)

// The shipped monitoring, relative to this package's directory.
const (
	promRulesFile    = "../../deploy/prometheus/leakguard-rules.yml"
	promRulesTest    = "../../deploy/prometheus/leakguard-rules.test.yml"
	promExampleFile  = "../../deploy/prometheus/prometheus.example.yml"
	grafanaDashboard = "../../deploy/grafana/leakguard-dashboard.json"
	integrationsDoc  = "../../docs/integrations/prometheus.md"
)

const promTestToken = "prometheus-scrape-token-0123456789"

// promProxyConfig: enforce mode, a small budget; the state section varies.
const promProxyConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin:
  listen: 127.0.0.1:0
  token_env: LG_PROM_TOKEN
identity:
  trusted_proxies: [127.0.0.1/32]
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - entity: user
    per: ip
    window: 1h
    limit: 20
    action: block
    block_for: 1h
risk:
  bands: [] # budgets only: the Go client would be challenged as automation
log:
  decisions: %s
secret:
  env: LG_PROM_SECRET
state:
%s
`

type promProxy struct {
	cmd   *ProxyCommand
	base  string // the proxy
	admin string // host:port of the admin listener, Prometheus's target
}

// startPromProxy runs `leakguard proxy --config` in process with state
// (indented YAML under "state:").
func startPromProxy(t *testing.T, upstream, state string) *promProxy {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "leakguard.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(promProxyConfig, upstream, filepath.Join(dir, "decisions.jsonl"), state)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, _ := serveConfigEnv(t, cfg, io.Discard, func(k string) string {
		switch k {
		case "LG_PROM_TOKEN":
			return promTestToken
		case "LG_PROM_SECRET":
			return "prometheus-test-secret-0123456789abcdef"
		}
		return ""
	})
	return &promProxy{cmd: c, base: "http://" + c.Addr(), admin: strings.TrimPrefix(c.AdminURL(), "http://")}
}

// promStoreAndFleet starts two proxies in front of upstream: one keeping
// state in its embedded store, one sharing it through a real Redis, so
// that between them every leakguard metric is exposed.
func promStoreAndFleet(t *testing.T, upstream string) (store, fleet *promProxy, redis *testserver.Server) {
	t.Helper()
	redis = testserver.Redis(t)
	store = startPromProxy(t, upstream, fmt.Sprintf("  dir: %s\n  flush_interval: 100ms", t.TempDir()))
	fleet = startPromProxy(t, upstream, fmt.Sprintf("  dir: %s\n  redis: redis://%s/0\n  flush_interval: 50ms", t.TempDir(), redis.Addr))
	return store, fleet, redis
}

// promScrapeOverBudget fetches user records from one address until it is
// refused, and fails unless the refusal came right after the budget.
func promScrapeOverBudget(t *testing.T, p *promProxy, ip string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	served := 0
	for id := 1; id <= 40; id++ {
		code, _ := get(t, c, fmt.Sprintf("%s/api/users/%d", p.base, id), "X-Forwarded-For", ip, "User-Agent", "python-requests/2.31")
		if code == http.StatusOK {
			served++
		}
	}
	if served < 20 || served > 30 {
		t.Fatalf("scraper %s through %s got %d of 40 records, want its budget of 20 (and a little slack) then refusals", ip, p.base, served)
	}
}

// promMetricNames scrapes the admin /metrics of each proxy as Prometheus
// does and returns the sample names (histograms as _bucket, _sum, _count).
func promMetricNames(t *testing.T, proxies ...*promProxy) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, p := range proxies {
		req, _ := http.NewRequest("GET", "http://"+p.admin+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+promTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics on %s: %d %s", p.admin, resp.StatusCode, b)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || line[0] == '#' {
				continue
			}
			if i := strings.IndexAny(line, "{ "); i > 0 {
				names[line[:i]] = true
			}
		}
	}
	return names
}

var (
	promStringRe      = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promGrafanaVar    = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promBracesRe      = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGroupingRe    = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promLabelValuesRe = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	promOffsetRe      = regexp.MustCompile(`\boffset\s+-?[0-9a-zA-Z]+`)
	promTokenRe       = regexp.MustCompile(`[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords      = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "offset": true, "inf": true, "nan": true}
)

// promqlMetricNames returns the metric names an expression selects: every
// identifier that is not a function, an aggregation, a keyword, a label
// (inside {} or a grouping) or a Grafana variable.
func promqlMetricNames(expr string) []string {
	s := promStringRe.ReplaceAllString(expr, `""`)
	s = promGrafanaVar.ReplaceAllString(s, "")
	s = promBracesRe.ReplaceAllString(s, " ")
	s = promGroupingRe.ReplaceAllString(s, " ")
	s = promOffsetRe.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promTokenRe.FindAllStringIndex(s, -1) {
		tok := s[m[0]:m[1]]
		if tok[0] >= '0' && tok[0] <= '9' || promKeywords[strings.ToLower(tok)] {
			continue
		}
		if rest := strings.TrimLeft(s[m[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or an aggregation
		}
		names = append(names, tok)
	}
	return names
}

func TestPromqlMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (job, instance) (rate(leakguard_records_served_total{entity="user", job=~"$job"}[$__rate_interval])) > 1`: "leakguard_records_served_total",
		`histogram_quantile(0.99, sum by (le) (rate(leakguard_engine_seconds_bucket[5m])))`:                               "leakguard_engine_seconds_bucket",
		`a > 2 * avg_over_time(b[1d] offset 1h) and on (job, instance) (time() - c) > 3600`:                               "a b c",
		`x unless x offset 10m or sum without (le) (y{a="by (z)"}) > 1e-3`:                                                "x x y",
		`label_values(leakguard_shadow_mode{job=~"$job"}, instance)`:                                                      "leakguard_shadow_mode instance",
	} {
		if got := strings.Join(promqlMetricNames(expr), " "); got != want {
			t.Errorf("promqlMetricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// promBinary finds a Prometheus binary, skipping the test when it is not
// installed unless LEAKGUARD_REQUIRE_SERVERS=1 (as internal/testserver).
func promBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/bin", name); isExecutable(p) {
		return p
	}
	msg := fmt.Sprintf("%s not found: install Debian package prometheus (apt-get install prometheus)", name)
	if os.Getenv("LEAKGUARD_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func promRun(t *testing.T, dir string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// promRenderConfig is deploy/prometheus/prometheus.example.yml as the docs
// show it, with only the intervals, the paths and the targets replaced.
func promRenderConfig(t *testing.T, example, rules, tokenFile string, targets []string) string {
	t.Helper()
	var tl strings.Builder
	for i, a := range targets {
		if i > 0 {
			tl.WriteString("\n")
		}
		tl.WriteString("          - " + a)
	}
	out := example
	for _, r := range [][2]string{
		{"  scrape_interval: 15s\n", "  scrape_interval: 1s\n"},
		{"  evaluation_interval: 15s\n", "  evaluation_interval: 1s\n"},
		{"  - /etc/prometheus/leakguard-rules.yml\n", "  - " + rules + "\n"},
		{"credentials_file: /etc/prometheus/leakguard-admin-token\n", "credentials_file: " + tokenFile + "\n"},
		{"          - 127.0.0.1:9090\n", tl.String() + "\n"},
	} {
		if strings.Count(out, r[0]) != 1 {
			t.Fatalf("%s no longer has %q exactly once; keep the test's rendering in step with it", promExampleFile, r[0])
		}
		out = strings.Replace(out, r[0], r[1], 1)
	}
	return out
}

type promServer struct {
	url  string
	cmd  *exec.Cmd
	log  *testserver.Buffer
	done chan struct{}
}

// startPrometheus runs prometheus on a free loopback port with its own
// storage, and waits until it is ready.
func startPrometheus(t *testing.T, bin, config string) *promServer {
	t.Helper()
	port := testserver.FreePort(t)
	p := &promServer{url: "http://127.0.0.1:" + strconv.Itoa(port), log: &testserver.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("prometheus exited at start:\n%s", p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready on %s within 60s:\n%s", p.url, p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api GETs one endpoint of Prometheus's HTTP API into data.
func (p *promServer) api(t *testing.T, path string, q url.Values, data any) {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/" + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if env.Status != "success" {
		t.Fatalf("%s %s: %s", path, q.Encode(), env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (p *promServer) alerts(t *testing.T) []promAlert {
	t.Helper()
	var d struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.api(t, "alerts", nil, &d)
	return d.Alerts
}

type promRule struct {
	Name           string    `json:"name"`
	Query          string    `json:"query"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

func (p *promServer) rules(t *testing.T) []promRule {
	t.Helper()
	var d struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	p.api(t, "rules", nil, &d)
	var out []promRule
	for _, g := range d.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// promWait polls ok every 200ms until it holds or d passes; then it fails
// with what the last poll said.
func promWait(t *testing.T, d time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		done, last := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", d, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func promAlertsString(as []promAlert) string {
	var s []string
	for _, a := range as {
		s = append(s, fmt.Sprintf("%s{instance=%s action=%s}=%s", a.Labels["alertname"], a.Labels["instance"], a.Labels["action"], a.State))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestPrometheusAlerts: a real Prometheus scrapes two leakguard proxies
// (embedded store, Redis fleet) with the shipped rules file loaded as is.
// At rest no alert is pending; a scraper over budget on each proxy makes
// the sanction alert fire for both, checked through Prometheus's API;
// Redis going away makes the Redis alert pending. promtool checks and
// unit-tests the rules, and every rule and dashboard query evaluates
// without error against the live data.
func TestPrometheusAlerts(t *testing.T) {
	example, err := os.ReadFile(promExampleFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(integrationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(example)+"```\n") {
		t.Fatalf("%s must show %s verbatim in a yaml block (the config this test runs)", integrationsDoc, promExampleFile)
	}
	promtool := promBinary(t, "promtool")
	prometheus := promBinary(t, "prometheus")

	rules, err := filepath.Abs(promRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	promRun(t, ".", promtool, "check", "rules", rules)
	promRun(t, filepath.Dir(rules), promtool, "test", "rules", filepath.Base(promRulesTest))

	up := upstreamShop(t)
	store, fleet, redis := promStoreAndFleet(t, up.URL)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "leakguard-admin-token")
	if err := os.WriteFile(tokenFile, []byte(promTestToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(promRenderConfig(t, string(example), rules, tokenFile, []string{store.admin, fleet.admin})), 0o600); err != nil {
		t.Fatal(err)
	}
	promRun(t, ".", promtool, "check", "config", config)
	prom := startPrometheus(t, prometheus, config)

	// Both targets scraped with the bearer token.
	promWait(t, 60*time.Second, "both leakguard targets up", func() (bool, string) {
		var d struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		prom.api(t, "targets", url.Values{"state": {"active"}}, &d)
		n := 0
		for _, tg := range d.ActiveTargets {
			if tg.Labels["job"] == "leakguard" && tg.Health == "up" {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%+v", d.ActiveTargets)
	})

	// Every rule of the file loaded and evaluated without error on real
	// series, twice after the targets came up, and nothing alerts at rest.
	var want []string
	{
		var f struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		b, _ := os.ReadFile(rules)
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				want = append(want, r.Alert)
			}
		}
		for _, a := range []string{"LeakguardSanctionImposed", "LeakguardRedisDown"} {
			if !slices.Contains(want, a) {
				t.Fatalf("%s has no alert %s", promRulesFile, a)
			}
		}
	}
	healthy := func(since time.Time) func() (bool, string) {
		return func() (bool, string) {
			rs := prom.rules(t)
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
				if r.Health != "ok" || r.LastEvaluation.Before(since) {
					return false, fmt.Sprintf("%s: health %q %s, last evaluated %s", r.Name, r.Health, r.LastError, r.LastEvaluation)
				}
			}
			if !slices.Equal(got, want) {
				return false, fmt.Sprintf("rules loaded %v, want %v", got, want)
			}
			return true, ""
		}
	}
	promWait(t, 30*time.Second, "every rule evaluated and healthy", healthy(time.Now().Add(2*time.Second)))
	if as := prom.alerts(t); len(as) > 0 {
		t.Fatalf("alerts before any scraping: %s", promAlertsString(as))
	}

	// A scraper over budget on each proxy: the sanction alert fires for
	// both (for: 0m, so no pending stage to wait out).
	promScrapeOverBudget(t, store, "203.0.113.10")
	promScrapeOverBudget(t, fleet, "203.0.113.20")
	promWait(t, 60*time.Second, "LeakguardSanctionImposed firing on both proxies", func() (bool, string) {
		as := prom.alerts(t)
		firing := map[string]bool{}
		for _, a := range as {
			if a.Labels["alertname"] == "LeakguardSanctionImposed" && a.State == "firing" && a.Labels["action"] == "block" && a.Labels["job"] == "leakguard" {
				firing[a.Labels["instance"]] = true
			}
		}
		return firing[store.admin] && firing[fleet.admin], promAlertsString(as)
	})

	// The dashboard's queries are valid PromQL, evaluate without error and
	// show data for these two proxies.
	exprs := grafanaExprs(t)
	promWait(t, 30*time.Second, "every dashboard query returning data", func() (bool, string) {
		for _, e := range exprs {
			q := strings.NewReplacer("$__rate_interval", "1m", "$job", ".*", "$instance", ".*").Replace(e)
			if m := promLabelValuesRe.FindStringSubmatch(q); m != nil {
				q = m[1]
			}
			var d struct {
				Result []json.RawMessage `json:"result"`
			}
			prom.api(t, "query", url.Values{"query": {q}}, &d)
			if len(d.Result) == 0 {
				return false, "no data for " + q
			}
		}
		return true, ""
	})

	// Redis goes away: the fleet proxy reports it and the Redis alert goes
	// pending (for: 1m; the promtool unit test covers it firing).
	redis.Stop()
	promWait(t, 60*time.Second, "LeakguardRedisDown pending for the fleet proxy", func() (bool, string) {
		as := prom.alerts(t)
		for _, a := range as {
			if a.Labels["alertname"] == "LeakguardRedisDown" && a.Labels["instance"] == store.admin {
				t.Fatalf("Redis alert for the proxy without Redis: %s", promAlertsString(as))
			}
			if a.Labels["alertname"] == "LeakguardRedisDown" && a.Labels["instance"] == fleet.admin {
				return true, ""
			}
		}
		return false, promAlertsString(as)
	})
	promWait(t, 30*time.Second, "every rule still healthy", healthy(time.Now().Add(time.Second)))
}

// grafanaExprs reads the dashboard, checks its structure for import
// (datasource input, ids, targets), and returns its PromQL: every target's
// expr and every template variable's query.
func grafanaExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Datasource struct{ UID string } `json:"datasource"`
		Expr       string               `json:"expr"`
	}
	type panel struct {
		ID         int                  `json:"id"`
		Type       string               `json:"type"`
		Title      string               `json:"title"`
		Datasource struct{ UID string } `json:"datasource"`
		Targets    []target             `json:"targets"`
		Panels     []json.RawMessage    `json:"panels"`
		GridPos    *struct{ H, W int }  `json:"gridPos"`
	}
	var d struct {
		Inputs []struct {
			Name, Type, PluginID string
		} `json:"__inputs"`
		UID        string            `json:"uid"`
		Title      string            `json:"title"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name       string                 `json:"name"`
				Type       string                 `json:"type"`
				Datasource struct{ UID string }   `json:"datasource"`
				Query      struct{ Query string } `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", grafanaDashboard, err)
	}
	const ds = "${DS_PROMETHEUS}"
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Fatalf("dashboard __inputs: want one Prometheus datasource DS_PROMETHEUS, got %+v", d.Inputs)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard needs a uid and a title")
	}
	var exprs []string
	ids := map[int]bool{}
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			if p.ID == 0 || ids[p.ID] || p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 {
				t.Fatalf("panel %q: want a unique id, a title and a gridPos (id %d)", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource.UID != ds || len(p.Targets) == 0 {
				t.Fatalf("panel %q: want datasource %s and at least one target", p.Title, ds)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.UID != ds || strings.TrimSpace(tg.Expr) == "" {
					t.Fatalf("panel %q: a target without datasource %s or expr", p.Title, ds)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			if v.Datasource.UID != ds || v.Query.Query == "" {
				t.Fatalf("template variable %s: want datasource %s and a query", v.Name, ds)
			}
			exprs = append(exprs, v.Query.Query)
		}
	}
	if len(exprs) == 0 {
		t.Fatal("dashboard has no queries")
	}
	return exprs
}

// TestGrafanaDashboard: the shipped dashboard imports (a datasource input,
// well-formed panels) and every query selects only metrics leakguard
// really exposes, taken from a live scrape of a proxy with the embedded
// store and one with Redis, both after a scraper was blocked. The shipped
// alert rules are held to the same check. A renamed or removed metric
// fails here instead of leaving an empty panel or a silent alert.
func TestGrafanaDashboard(t *testing.T) {
	exprs := grafanaExprs(t)
	up := upstreamShop(t)
	store, fleet, _ := promStoreAndFleet(t, up.URL)
	promScrapeOverBudget(t, store, "203.0.113.30")
	promScrapeOverBudget(t, fleet, "203.0.113.40")
	live := promMetricNames(t, store, fleet)

	check := func(where string, exprs []string, extra ...string) map[string]bool {
		used := map[string]bool{}
		for _, e := range exprs {
			names := promqlMetricNames(strings.Replace(e, "label_values(", "(", 1))
			if strings.HasPrefix(e, "label_values(") {
				names = names[:1] // the second argument is a label
			}
			if len(names) == 0 {
				t.Errorf("%s: %q selects no metric", where, e)
			}
			for _, n := range names {
				used[n] = true
				if !live[n] && !slices.Contains(extra, n) {
					t.Errorf("%s: %q uses %s, which leakguard does not expose", where, e, n)
				}
			}
		}
		return used
	}
	used := check(grafanaDashboard, exprs)

	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(promRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	var rexprs []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			rexprs = append(rexprs, r.Expr)
		}
	}
	check(promRulesFile, rexprs, "up") // up: Prometheus's own, per target

	var missing []string
	for n := range live {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(n, "leakguard_") && !used[n] && !used[base+"_bucket"] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("leakguard metrics not on the dashboard: %v", missing)
	}
}
