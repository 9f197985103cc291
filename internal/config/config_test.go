package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../leakguard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream != "http://127.0.0.1:9000" || len(c.Records) != 3 || len(c.Budgets) != 4 || c.Budgets[3].Per != "crew" || len(c.Risk.Bands) != 2 {
		t.Fatalf("unexpected example config: %+v", c)
	}
	if c.Budgets[1].Window.D() != 24*time.Hour || c.Budgets[2].Window.D() != 30*24*time.Hour {
		t.Errorf("windows: %v %v", c.Budgets[1].Window, c.Budgets[2].Window)
	}
	// The example's budgets, and the default policy's for the PII
	// entities they leave out (a partner's ten minutes).
	got := c.Windows()
	for _, w := range []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		if !slices.Contains(got, w) {
			t.Errorf("Windows() = %v, missing %v", got, w)
		}
	}
}

// Every problem is reported at once, each with its file and line.
func TestValidateReportsEveryErrorWithLine(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	if err == nil {
		t.Fatal("bad config loaded")
	}
	want, _ := os.ReadFile("testdata/bad.golden")
	if got := err.Error() + "\n"; got != string(want) {
		t.Errorf("errors differ from testdata/bad.golden:\n--- got\n%s--- want\n%s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "upstream: http://x\nlisten: 127.0.0.1:1\nbudget: []\n", "c.yaml:3: field budget not found"},
		{"bad duration", "upstream: http://x\nrecords:\n - route: GET /u/{id}\n   entity: user\nbudgets:\n - entity: user\n   per: ip\n   window: 1x\n   limit: 5\n", "c.yaml:8: invalid duration"},
		{"not yaml", "upstream: [\n", "c.yaml:1: did not find expected node content"},
		{"missing upstream", "mode: shadow\n", "upstream: required"},
		{"PII budget with scanning off", "upstream: http://x\npii: {scan: 'off'}\nbudgets:\n - {entity: phone, per: ip, window: 1h, limit: 5}\n", "c.yaml:4: budgets[0].entity"},
		{"block_for negative", "upstream: http://x\nrecords:\n - route: GET /u/{id}\n   entity: user\nbudgets:\n - {entity: user, per: ip, window: 1h, limit: 5, action: block, block_for: -1h}\n", "block_for: must not be negative"},
		{"window too small", "upstream: http://x\nrecords:\n - route: GET /u/{id}\n   entity: user\nbudgets:\n - {entity: user, per: ip, window: 500ms, limit: 5}\n", "c.yaml:6: budgets[0].window"},
		{"param not in route", "upstream: http://x\nrecords:\n - {route: 'GET /u/{id}', entity: user, param: uid}\n", "c.yaml:3: records[0].param"},
		{"route without param or body", "upstream: http://x\nrecords:\n - {route: GET /u, entity: user}\n", "needs body"},
		{"account twice", "upstream: http://x\nidentity:\n  account: {header: A, cookie: b}\n", "c.yaml:3: identity.account: set only one"},
		{"jwt key without claim", "upstream: http://x\nidentity:\n  account: {header: A, jwt_key_env: K}\n", "jwt_key_env and jwt_public_key_file go with jwt_claim"},
		{"two jwt keys", "upstream: http://x\nidentity:\n  account: {jwt_claim: sub, jwt_key_env: K, jwt_public_key_file: f}\n", "not both"},
		{"bad trusted proxy", "upstream: http://x\nidentity:\n  trusted_proxies: [10.0.0.0/33]\n", "identity.trusted_proxies[0]"},
		{"app User-Agent that matches browsers", "upstream: http://x\ndetect:\n  app_user_agents: [ShopApp/, Mozilla/5.0]\n", "c.yaml:3: detect.app_user_agents[1]: \"Mozilla/5.0\" would match browsers"},
		{"app User-Agent too short", "upstream: http://x\ndetect:\n  app_user_agents: [Sh]\n", "detect.app_user_agents[0]"},
		{"a single-page app whose items have pages", "upstream: http://x\ndetect:\n  single_page_app: true\n  item_pages: true\n", "c.yaml:4: detect.item_pages: a single-page app's items have no pages"},
		{"surge births below -1", "upstream: http://x\ndetect:\n  surge_births: -5\n", "c.yaml:3: detect.surge_births: want a positive number of sessions, or -1 for off, got -5"},
		{"TLS fingerprint header without the edge trusted", "upstream: http://x\nidentity:\n  tls_fingerprint_header: X-JA4\n", "c.yaml:3: identity.tls_fingerprint_header: needs identity.trusted_proxies"},
		{"TLS fingerprint header not a name", "upstream: http://x\nidentity:\n  trusted_proxies: [10.0.0.0/8]\n  tls_fingerprint_header: 'X JA4'\n", "c.yaml:4: identity.tls_fingerprint_header: \"X JA4\" is not a header name"},
		{"TLS fingerprint header is the session's", "upstream: http://x\nidentity:\n  trusted_proxies: [10.0.0.0/8]\n  session: {header: X-Sid}\n  tls_fingerprint_header: x-sid\n", "already the account or session header"},
		{"TLS certificate without its key", "upstream: http://x\ntls:\n  cert_file: c.pem\n", "c.yaml:2: tls: give both cert_file and key_file"},
		{"TLS certificate not there", "upstream: http://x\ntls: {cert_file: testdata/none.pem, key_file: testdata/none.key}\n", "c.yaml:2: tls.cert_file: open testdata/none.pem"},
		{"followed log's TLS variable not logged", "upstream: http://x\nfollow:\n  syslog: 127.0.0.1:5140\n  format: nginx\n  log_format: '$remote_addr [$time_local] \"$request\" $status'\n  tls_var: ssl_ja4\n", "c.yaml:2: follow: the TLS fingerprint variable $ssl_ja4 is not in the log_format"},
		{"negative read timeout", "upstream: http://x\nlimits:\n  read_timeout: -1s\n", "c.yaml:3: limits.read_timeout: must not be negative"},
		{"negative read header timeout", "upstream: http://x\nlimits:\n  read_header_timeout: -1s\n", "c.yaml:3: limits.read_header_timeout: must not be negative"},
		{"negative idle timeout", "upstream: http://x\nlimits:\n  idle_timeout: -5s\n", "c.yaml:3: limits.idle_timeout: must not be negative"},
		{"negative upstream timeout", "upstream: http://x\nlimits:\n  upstream_timeout: -1s\n", "c.yaml:3: limits.upstream_timeout: must not be negative"},
		{"negative header bytes", "upstream: http://x\nlimits:\n  max_header_bytes: -5\n", "c.yaml:3: limits.max_header_bytes: must not be negative"},
		{"negative idle conns", "upstream: http://x\nlimits:\n  upstream_idle_conns: -1\n", "c.yaml:3: limits.upstream_idle_conns: must not be negative"},
		{"duplicate budget", "upstream: http://x\nrecords:\n - {route: 'GET /u/{id}', entity: user}\nbudgets:\n - {entity: user, per: ip, window: 1h, limit: 5}\n - {entity: user, per: ip, window: 1h, limit: 9}\n", "duplicate budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A value of the wrong type hid every other problem of the file: fixed,
// the next run found the next (found by a probe, 2026-12-05).
func TestEveryProblemIsReportedBesideAValueOfTheWrongType(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"a duration that is not one", "upstream: http://x\nrecords:\n  - {route: 'GET /a/{id}', entity: user}\nbudgets:\n  - {entity: user, per: ip, window: 1h, limit: 0}\n  - {entity: user, per: ip, window: abc, limit: 5}\nmode: sideways\n",
			[]string{"c.yaml:5: budgets[0].limit: want a positive number", "c.yaml:6: invalid duration \"abc\"", "c.yaml:7: mode: want shadow or enforce"}},
		{"a number that is not one", "upstream: http://x\nlimits:\n  max_conns: many\nmode: sideways\n",
			[]string{"c.yaml:3: cannot unmarshal !!str `many` into int", "c.yaml:4: mode: want shadow or enforce"}},
		{"a field of state that is not one", "upstream: http://x\nstate:\n  flush: 1s\nmode: sideways\n",
			[]string{"c.yaml:3: field flush not found in state", "c.yaml:4: mode: want shadow or enforce"}},
		{"an unknown field", "upstream: http://x\nmeter:\n  windows: [1h]\nmode: sideways\n",
			[]string{"c.yaml:3: field windows not found", "c.yaml:4: mode: want shadow or enforce"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want it to contain %q", i+1, got[i], w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte("upstream: http://127.0.0.1:9\nrecords:\n - {route: 'GET /u/{id}', entity: user}\nbudgets:\n - {entity: user, per: ip, window: 2h, limit: 5, action: block}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeShadow {
		t.Errorf("default mode %q, want shadow: enforcement is opted into", c.Mode)
	}
	if c.Budgets[0].BlockFor.D() != 2*time.Hour {
		t.Errorf("block_for default %v, want the window", c.Budgets[0].BlockFor)
	}
	if c.Inspect.MaxBodyBytes != 1<<20 || c.Meter.MaxActors != 500_000 {
		t.Errorf("defaults: %+v %+v", c.Inspect, c.Meter)
	}
}

// The flush interval's default follows what it costs and buys: on local
// disk only a crash's loss (each flush rewrites every changed actor), in a
// fleet also the other proxies' staleness.
func TestFlushIntervalDefaultsToTheStateKept(t *testing.T) {
	tests := []struct {
		name, state string
		want        time.Duration
	}{
		{"local disk", "", 10 * time.Second},
		{"local disk, dir named", "state: {dir: ./s}\n", 10 * time.Second},
		{"fleet", "state: {redis: 'redis://127.0.0.1:6379/0'}\n", 2 * time.Second},
		{"fleet, short form", "state: redis://127.0.0.1:6379/0\n", 2 * time.Second},
		{"written", "state: {dir: ./s, flush_interval: 3s}\n", 3 * time.Second},
		{"written, fleet", "state: {redis: 'redis://127.0.0.1:6379/0', flush_interval: 500ms}\n", 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte("upstream: http://127.0.0.1:9\n"+tt.state))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.State.FlushInterval.D(); got != tt.want {
				t.Errorf("flush_interval %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m", time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"d", 0, false},
		{"1x", 0, false},
		{"", 0, false},
		{"10d5", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
	if s := FormatDuration(30 * 24 * time.Hour); s != "30d" {
		t.Errorf("FormatDuration(30d) = %s", s)
	}
	if s := FormatDuration(time.Hour); s != "1h" {
		t.Errorf("FormatDuration(1h) = %s", s)
	}
}

func FuzzParse(f *testing.F) {
	ex, _ := os.ReadFile("../../leakguard.example.yaml")
	f.Add(ex)
	f.Add([]byte("upstream: http://x\nbudgets: [{window: 1d}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if err == nil && c.Validate() != nil {
			t.Fatal("Parse accepted a config that does not validate")
		}
	})
}
