package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/testserver"
)

// configChooser turns fuzz bytes into choices; past the end every choice
// is the first option, so short inputs are plain configs.
type configChooser struct {
	b []byte
	i int
}

func (c *configChooser) pick(opts ...string) string {
	if c.i >= len(c.b) {
		return opts[0]
	}
	v := c.b[c.i]
	c.i++
	return opts[int(v)%len(opts)]
}

func (c *configChooser) n(max int) int {
	if c.i >= len(c.b) {
		return 0
	}
	v := c.b[c.i]
	c.i++
	return int(v) % (max + 1)
}

// fuzzConfig writes a config from fuzz bytes: the sections whose
// combinations have crashed a valid config before (windows, budgets,
// report windows, rules, risk bands, PII, meter sizes, default policy).
// Empty strings leave a key out.
func fuzzConfig(data []byte, upstream, dir string) string {
	c := &configChooser{b: data}
	var y strings.Builder
	fmt.Fprintf(&y, "listen: 127.0.0.1:0\nupstream: %s\nmode: %s\n", upstream, c.pick("enforce", "shadow"))
	y.WriteString("admin: {listen: " + c.pick(`"off"`, `"127.0.0.1:0"`) + ", token_env: LG_TEST_TOKEN}\n")
	if v := c.pick("", "false", "true"); v != "" {
		y.WriteString("default_policy: " + v + "\n")
	}
	windows := []string{"1m", "10m", "1h", "24h", "7d"}
	entities := []string{"user", "phone", "email", "review", "nobody"}
	routes := []string{
		"  - {route: \"GET /api/users/{id}\", entity: user}\n",
		"  - {route: \"GET /api/items/{id}/reviews\", entity: review, body: \"$.reviews[*].user.id\"}\n",
		"  - {route: \"GET /api/lookup\", entity: user, body: $.id, lookup: phone}\n",
	}
	if n := c.n(3); n > 0 {
		y.WriteString("records:\n")
		for i := 0; i < n; i++ {
			y.WriteString(routes[(i+c.n(2))%len(routes)])
		}
	} else if c.pick("omit", "empty") == "empty" {
		y.WriteString("records: []\n")
	}
	switch c.pick("", "off", "records", "some") {
	case "off":
		y.WriteString("pii: {scan: off}\n")
	case "records":
		y.WriteString("pii: {scan: records}\n")
	case "some":
		y.WriteString("pii: {detect: [" + c.pick("phone", "email", "phone, email", "") + "]}\n")
	}
	if n := c.n(3); n > 0 {
		y.WriteString("budgets:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&y, "  - {entity: %s, per: %s, window: %s, limit: %s, action: %s%s}\n",
				c.pick(entities...), c.pick("ip", "net", "account", "session", "fingerprint", "crew"), c.pick(windows...),
				c.pick("3", "1", "300"), c.pick("block", "log", "throttle", "challenge", "decoy"), c.pick("", ", block_for: 10m"))
		}
	} else if c.pick("omit", "empty") == "empty" {
		y.WriteString("budgets: []\n")
	}
	switch c.pick("", "empty", "one", "two") {
	case "empty":
		y.WriteString("meter: {report_windows: []" + c.pick("", ", max_actors: 1", ", exact_up_to: 1") + "}\n")
	case "one":
		y.WriteString("meter: {report_windows: [" + c.pick(windows...) + "]}\n")
	case "two":
		y.WriteString("meter: {report_windows: [" + c.pick(windows...) + ", " + c.pick(windows...) + "]" + c.pick("", ", max_actors: 1", ", exact_up_to: 1") + "}\n")
	}
	y.WriteString("risk:\n")
	switch c.pick("none", "default", "block", "two") {
	case "none":
		y.WriteString("  bands: []\n")
	case "block":
		y.WriteString("  bands: [{min: 1, action: block, for: 1m}]\n")
	case "two":
		y.WriteString("  bands: [{min: 5, action: challenge}, {min: 10, action: decoy}]\n")
	}
	if c.pick("", "weights") != "" {
		y.WriteString("  weights: {enumeration: 10, automation_ua: " + c.pick("0", "5") + "}\n")
	}
	if c.pick("", "enum") != "" {
		y.WriteString("  enumeration: {min_requests: " + c.pick("1", "20") + ", miss_ratio: " + c.pick("0.5", "1") + "}\n")
	}
	switch c.pick("", "one", "two") {
	case "one":
		y.WriteString("rules:\n  - {name: misses, when: 'misses > 1 && requests >= misses', action: " + c.pick("block", "log", "challenge") + "}\n")
	case "two":
		y.WriteString("rules:\n  - {name: anon, when: '!has.account', action: log}\n  - {name: sweep, when: 'requests > 2', action: throttle, for: 1m}\n")
	}
	if c.pick("", "account") != "" {
		y.WriteString("identity: {account: {header: X-Account}, session: {cookie: sid}}\n")
	}
	fmt.Fprintf(&y, "log: {decisions: %q}\n", filepath.Join(dir, "decisions.jsonl"))
	y.WriteString("secret: {env: LG_TEST_SECRET}\n")
	fmt.Fprintf(&y, "state: {dir: %q, persist: %s}\n", filepath.Join(dir, "state"), c.pick("false", "true"))
	return y.String()
}

var configLineRe = regexp.MustCompile(`^\S*fuzz\.yaml:\d+: `)

// Every config that validates runs: the proxy starts, serves a few
// requests and stops, and analyze replays a few lines with it. One that
// does not validate says so with the line of each problem. It found the
// crashes of report_windows: [] with no budgets (a meter with no window).
// Seed corpus runs are quick (they run with the tests); fuzz with
// -test.fuzzminimizetime=0, since an execution starts a proxy.
func FuzzValidConfigRuns(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1})    // default_policy off, no budgets, report_windows: []: no window at all
	f.Add([]byte{0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1}) // the same with records, the admin API and max_actors: 1
	f.Add([]byte{0, 0, 2, 1, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{1, 1, 1, 3, 0, 1, 2, 3, 0, 1, 2, 3, 1, 2, 3, 4, 0, 1, 4, 0, 1, 3, 2, 1, 1, 1, 1, 1, 2, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 3, 2, 0, 0, 2, 4, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 2, 1})
	f.Add([]byte("report windows and rules, no budgets, decoy bands, accounts"))
	up := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
	f.Cleanup(up.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		yaml := fuzzConfig(data, up.URL, dir)
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		stderr := &testserver.Buffer{}
		p := &ProxyCommand{Stdout: io.Discard, Stderr: stderr, Getenv: testGetenv}
		if err := p.ParseFlags([]string{"--config", path}); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !configLineRe.MatchString(line) {
					t.Fatalf("invalid config, error without its line: %q\n%s", line, yaml)
				}
			}
			return
		}
		if err := p.Open(); err != nil {
			t.Fatalf("a config that validates does not start: %v\n%s", err, yaml)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Serve(ctx) }()
		hc := &http.Client{Timeout: 5 * time.Second}
		for _, path := range []string{"/api/users/1", "/api/users/2", "/api/users/999999", "/api/items/1/reviews", "/api/lookup?phone=13800138000", "/"} {
			resp, err := hc.Get("http://" + p.Addr() + path)
			if err != nil {
				t.Fatalf("GET %s: %v\n%s", path, err, yaml)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET %s: %d\n%s\n%s", path, resp.StatusCode, yaml, stderr)
			}
		}
		if p.AdminURL() != "off" {
			req, _ := http.NewRequest("GET", p.AdminURL()+"/api/actors", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("admin /api/actors: %v %v\n%s", resp, err, yaml)
			}
			resp.Body.Close()
		}
		cancel()
		<-done
		if err := p.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}

		logPath := filepath.Join(dir, "access.log")
		os.WriteFile(logPath, []byte(strings.Join([]string{
			`198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "GET /api/users/1 HTTP/1.1" 200 10 "-" "python-requests/2.31"`,
			`198.51.100.1 - - [01/Jan/2024:00:00:01 +0000] "GET /api/users/2 HTTP/1.1" 200 10 "-" "python-requests/2.31"`,
			`198.51.100.1 - - [01/Jan/2024:00:00:02 +0000] "GET /api/users/9 HTTP/1.1" 404 10 "-" "python-requests/2.31"`,
			`198.51.100.2 - - [01/Jan/2024:00:10:00 +0000] "GET /api/items/1/reviews HTTP/1.1" 200 10 "-" "Mozilla/5.0"`,
		}, "\n")+"\n"), 0o600)
		var out bytes.Buffer
		a := &AnalyzeCommand{Stdout: &out, Stderr: &out, Getenv: testGetenv}
		if err := a.ParseFlags([]string{"--config", path, "--workers", "1", logPath}); err != nil {
			t.Fatalf("analyze flags: %v\n%s", err, yaml)
		}
		if err := a.Run(context.Background()); err != nil {
			t.Fatalf("analyze: %v\n%s\n%s", err, yaml, out.String())
		}
	})
}

// bench --config with a policy that names no budgets measured nothing and
// panicked: the bench meters only budgets' windows, so its meter had none.
func TestBenchConfigWithoutBudgets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lg.yaml")
	os.WriteFile(path, []byte("records:\n  - {route: \"GET /api/users/{id}\", entity: user}\ndefault_policy: false\n"), 0o600)
	var out bytes.Buffer
	c := &BenchCommand{Scenario: "naive", Seed: 1, ConfigPath: path, Days: 1, Shoppers: 20, Workers: 1, Stdout: &out, Stderr: &out}
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	if len(c.Report.Scenarios) != 1 {
		t.Fatalf("report: %+v", c.Report)
	}
}
