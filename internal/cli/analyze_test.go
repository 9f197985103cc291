package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/store"
)

// What analyze finds is tested in internal/analyze, on the Analyzer
// itself. These test the command: its flags, what it prints and where,
// and its exit status.

const analyzeConfig = `
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, action: block}
state: {dir: %s}
`

// analyzeFixture writes analyzeConfig and a log of a scraper (400
// profiles, one every 5 s, over the budget of 300 an hour), a person
// reading 10 profiles and, last, one malformed line.
func analyzeFixture(t *testing.T) (dir, cfg, log string, lines int) {
	t.Helper()
	dir = t.TempDir()
	cfg = filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(analyzeConfig, filepath.Join(dir, "state"))), 0o600)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 400 {
		at := start.Add(time.Duration(i) * 5 * time.Second)
		fmt.Fprintf(&b, "203.0.113.66 - - [%s] \"GET /api/users/%d HTTP/1.1\" 200 312 \"-\" \"python-requests/2.31\"\n", at.Format("02/Jan/2006:15:04:05 -0700"), i)
		if i%40 == 0 {
			fmt.Fprintf(&b, "198.51.100.9 - - [%s] \"GET /api/users/%d HTTP/1.1\" 200 312 \"-\" \"Mozilla/5.0\"\n", at.Format("02/Jan/2006:15:04:05 -0700"), 7*i)
		}
	}
	b.WriteString("not a log line\n")
	log = filepath.Join(dir, "access.log")
	os.WriteFile(log, []byte(b.String()), 0o600)
	return dir, cfg, log, 411
}

// runAnalyzeCommand parses args and runs the command as `leakguard
// analyze` does, with stdin.
func runAnalyzeCommand(t *testing.T, stdin string, args ...string) (c *AnalyzeCommand, stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	c = &AnalyzeCommand{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	if err = c.ParseFlags(args); err == nil {
		err = c.Run(context.Background())
	}
	return c, out.String(), errb.String(), err
}

func TestAnalyzeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"x.log"}, "--config is required"},
		{[]string{"--config", "lg.yaml"}, "no logs given"},
		{[]string{"--config", "lg.yaml", "--format", "w3c", "x"}, `--format "w3c"`},
		{[]string{"--config", "lg.yaml", "--format", "nginx", "x"}, "--format nginx needs --log-format"},
		{[]string{"--config", "lg.yaml", "--format", "nginx", "--log-format", `$remote_addr [$time_local] "$request" $status`, "--tls-var", "http_x_ja4", "x"}, "the TLS fingerprint variable $http_x_ja4 is not in the log_format"},
		{[]string{"--config", "lg.yaml", "--tls-var", "http_x_ja4", "x"}, "--format combined: format combined logs no account, session or TLS fingerprint"},
		{[]string{"--config", "lg.yaml", "--since", "yesterday", "x"}, `--since "yesterday"`},
		{[]string{"--config", "lg.yaml", "--until", "2026-13-01", "x"}, `--until "2026-13-01"`},
		{[]string{"--config", "lg.yaml", "--since", "2026-02-01", "--until", "2026-01-01", "x"}, "--since must be before --until"},
		{[]string{"--config", "lg.yaml", "--max-keys", "999", "x"}, "--max-keys must be at least 1000"},
		{[]string{"--config", "lg.yaml", "--workers", "-1", "x"}, "--workers must be 0"},
		{[]string{"--config", "lg.yaml", "--top", "0", "x"}, "--top must be positive"},
		{[]string{"--config", "lg.yaml", "--no-such-flag", "x"}, "flag provided but not defined"},
		{[]string{"--config", "lg.yaml", "--shard", "3/3", "--partial", "p", "x"}, `--shard "3/3": want i/N`},
		{[]string{"--config", "lg.yaml", "--shard", "0/65", "--partial", "p", "x"}, `--shard "0/65"`},
		{[]string{"--config", "lg.yaml", "--shard", "1", "--partial", "p", "x"}, `--shard "1"`},
		{[]string{"--config", "lg.yaml", "--shard", "0/2", "x"}, "--shard needs --partial"},
		{[]string{"--config", "lg.yaml", "--partial", "p", "x"}, "--partial needs --shard"},
		{[]string{"--config", "lg.yaml", "--shard", "0/2", "--partial", "p", "--json", "-", "x"}, "--json with --shard"},
		{[]string{"--config", "lg.yaml", "--merge", "--shard", "0/2", "--partial", "p", "x"}, "--merge and --shard"},
		{[]string{"--config", "lg.yaml", "--merge"}, "--merge: name the partial files"},
		{[]string{"--config", "lg.yaml", "--merge", "--since", "2026-01-01", "p0"}, "--since with --merge"},
	} {
		c := &AnalyzeCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if err := c.ParseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	// What the flags set: the defaults, and --since/--until as RFC 3339 or a date.
	c := &AnalyzeCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	if err := c.ParseFlags([]string{"--config", "lg.yaml", "--since", "2026-01-02T15:04:05Z", "--until", "2026-01-03", "a.log", "b.log.gz"}); err != nil {
		t.Fatal(err)
	}
	if c.Format != "combined" || c.Top != 20 || c.MaxKeys != 1_000_000 || c.Workers != 0 || strings.Join(c.Inputs, " ") != "a.log b.log.gz" ||
		!c.since.Equal(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)) || !c.until.Equal(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("parsed %+v", c)
	}
}

// The report goes to stdout as text, or as JSON with --json -; --json
// FILE and --html FILE write files beside the text; progress goes to
// stderr; --reveal, --suggest-budgets, --exact and --since reach the
// replay and show in the text.
func TestAnalyzeCommandOutput(t *testing.T) {
	dir, cfg, log, lines := analyzeFixture(t)

	c, out, errOut, err := runAnalyzeCommand(t, "", "--config", cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("%d lines (1 malformed, 0 with a truncated user agent)", lines)
	for _, want := range []string{summary, "suspected scraper keys; breach scope: 400 user distinct", "would have been stopped", "by user/ip/1h (block)"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "203.0.113.66") || strings.Contains(out, "revealed") || strings.Contains(out, "suggested budgets") || strings.Contains(out, "{") {
		t.Errorf("stdout shows what no flag asked for:\n%s", out)
	}
	if !strings.Contains(errOut, fmt.Sprintf("analyze: %d lines in ", lines)) || strings.Contains(errOut, "\r") {
		t.Errorf("stderr (not a terminal) lacks the final progress line: %q", errOut)
	}
	if c.Report.Lines != lines || c.Report.Suspects == 0 {
		t.Errorf("report: %d lines, %d suspects", c.Report.Lines, c.Report.Suspects)
	}

	// --json -: the JSON report alone on stdout.
	_, out, _, err = runAnalyzeCommand(t, "", "--config", cfg, "--json", "-", "--top", "2", log)
	if err != nil {
		t.Fatal(err)
	}
	var r analyze.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Lines != lines || len(r.Top) != 2 || r.Timeline != nil || r.Suggestions != nil {
		t.Fatalf("--json -: %v, %+v:\n%.400s", err, r, out)
	}
	if strings.Contains(out, summary) {
		t.Error("--json - also printed the text report")
	}

	// --json FILE and --html FILE, with --reveal and --suggest-budgets:
	// both files, and the text on stdout.
	jsonPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	_, out, _, err = runAnalyzeCommand(t, "", "--config", cfg, "--json", jsonPath, "--html", htmlPath, "--reveal", "--suggest-budgets", log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{summary, "203.0.113.66", "revealed (--reveal", "suggested budgets"} {
		if !strings.Contains(out, want) {
			t.Errorf("with --json FILE --html FILE --reveal --suggest-budgets, stdout lacks %q:\n%s", want, out)
		}
	}
	j, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	r = analyze.Report{}
	if err := json.Unmarshal(j, &r); err != nil || r.Lines != lines || r.Timeline == nil || len(r.Suggestions) == 0 || r.Top[0].Revealed == nil {
		t.Fatalf("--json FILE: %v, %+v", err, r)
	}
	if fi, err := os.Stat(jsonPath); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("--json FILE: mode %v, want 0600 (it can hold raw addresses)", fi.Mode())
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil || !strings.Contains(string(h), "<svg") || !strings.Contains(string(h), "203.0.113.66") {
		t.Fatalf("--html FILE: %v, %.200s", err, h)
	}

	// --exact and --since reach the replay.
	_, out, _, err = runAnalyzeCommand(t, "", "--config", cfg, "--exact", "--since", "2026-03-01T08:20:00Z", log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "distinct (exact)") || !strings.Contains(out, "lines outside --since/--until were read, not replayed") {
		t.Errorf("--exact --since:\n%s", out)
	}

	// stdin, and --strict.
	text, _ := os.ReadFile(log)
	c, _, _, err = runAnalyzeCommand(t, string(text), "--config", cfg, "-")
	if err != nil || c.Report.Lines != lines || c.Report.Malformed != 1 {
		t.Errorf("stdin: %v, %d lines, %d malformed", err, c.Report.Lines, c.Report.Malformed)
	}
	if _, _, _, err := runAnalyzeCommand(t, "", "--config", cfg, "--strict", log); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("access.log:%d:", lines)) {
		t.Errorf("--strict: %v, want an error naming line %d", err, lines)
	}
	if _, _, _, err := runAnalyzeCommand(t, "", "--config", filepath.Join(dir, "missing.yaml"), log); err == nil {
		t.Error("a missing config gave no error")
	}
	if _, _, _, err := runAnalyzeCommand(t, "", "--config", cfg, filepath.Join(dir, "missing.log")); err == nil {
		t.Error("a missing log gave no error")
	}
}

// Each --format gives its reader, with --log-format, --account-var,
// --session-var and --fields: the account and session logged become keys.
func TestAnalyzeCommandFormats(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(analyzeConfig, filepath.Join(dir, "state"))), 0o600)
	for _, tc := range []struct {
		name  string
		args  []string
		line  string
		kinds []string // key kinds the report must hold
	}{
		{"combined", nil, `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /api/users/1 HTTP/1.1" 200 1 "-" "Mozilla/5.0"`, []string{"ip"}},
		{"common", []string{"--format", "common"}, `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /api/users/1 HTTP/1.1" 200 1`, []string{"ip"}},
		{"nginx", []string{"--format", "nginx", "--log-format", `$remote_addr [$time_local] "$request" $status "$http_user_agent" $http_x_account $cookie_sid`,
			"--account-var", "$http_x_account", "--session-var", "cookie_sid"},
			`1.2.3.4 [01/Jan/2024:00:00:00 +0000] "GET /api/users/1 HTTP/1.1" 200 "Mozilla/5.0" acct-1 sess-1`, []string{"ip", "account", "session"}},
		{"json", []string{"--format", "json", "--fields", "time=ts,addr=client.ip,path=uri,status=code,account=user.id,session=sid"},
			`{"ts":"2024-01-01T00:00:00Z","client":{"ip":"1.2.3.4"},"uri":"/api/users/1","code":200,"user":{"id":"acct-1"},"sid":"sess-1"}`, []string{"ip", "account", "session"}},
		{"alb", []string{"--format", "alb"},
			`https 2024-01-01T00:00:00.186641Z app/x 1.2.3.4:44740 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/api/users/1 HTTP/1.1" "Mozilla/5.0" x`, []string{"ip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "access.log")
			os.WriteFile(log, []byte(tc.line+"\n"), 0o600)
			c, out, _, err := runAnalyzeCommand(t, "", append(append([]string{"--config", cfg, "--json", "-"}, tc.args...), log)...)
			if err != nil {
				t.Fatal(err)
			}
			r := c.Report
			if r.Lines != 1 || r.Malformed != 0 {
				t.Fatalf("%d lines, %d malformed %v:\n%s", r.Lines, r.Malformed, r.MalformedSample, out)
			}
			kinds := map[string]int{}
			for _, a := range r.Top {
				kind, _, _ := strings.Cut(a.Key, ":")
				kinds[kind] += a.Records["user"]
			}
			for _, k := range tc.kinds {
				if kinds[k] != 1 {
					t.Errorf("no %s key with the record: %v", k, kinds)
				}
			}
			if (kinds["account"] > 0 || kinds["session"] > 0) != (len(tc.kinds) > 1) {
				t.Errorf("account or session keys without a flag naming them: %v", kinds)
			}
			if strings.Contains(out, "acct-1") || strings.Contains(out, "sess-1") {
				t.Error("a raw account or session in the report")
			}
		})
	}
}

// The exit status: 0 for a report or -h, 1 and a message on stderr for
// a flag error or a failed replay.
func TestAnalyzeExitStatus(t *testing.T) {
	_, cfg, log, _ := analyzeFixture(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"analyze", "--config", cfg, log}, 0, "suspected scraper keys", "lines in"},
		{[]string{"analyze", "-h"}, 0, "", "Usage: leakguard analyze --config FILE"},
		{[]string{"analyze", log}, 1, "", "leakguard analyze: --config is required"},
		{[]string{"analyze", "--config", cfg, "--strict", log}, 1, "", "leakguard analyze: "},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args[1:], code, tc.code, out.String(), errb.String())
		}
	}
}

// Past one machine, as a user runs it: three shard passes (--shard i/3
// --partial) and their merge (--merge) print and write the report of
// one replay of the log; a merge of the wrong files says what is wrong.
func TestAnalyzeShardsAndMerge(t *testing.T) {
	dir, cfg, log, _ := analyzeFixture(t)
	whole := filepath.Join(dir, "whole.json")
	_, wantText, _, err := runAnalyzeCommand(t, "", "--config", cfg, "--reveal", "--json", whole, log)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("p%d.lgp", i))
		_, out, _, err := runAnalyzeCommand(t, "", "--config", cfg, "--reveal", "--shard", fmt.Sprintf("%d/3", i), "--partial", p, log)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("shard %d/3: 411 lines, ", i); !strings.HasPrefix(out, want) || !strings.Contains(out, p) {
			t.Errorf("shard %d/3 printed %q, want %q... and the file", i, out, want)
		}
		parts = append(parts, p)
	}
	merged := filepath.Join(dir, "merged.json")
	_, text, _, err := runAnalyzeCommand(t, "", append([]string{"--config", cfg, "--merge", "--json", merged}, parts[2], parts[0], parts[1])...)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(whole)
	got, _ := os.ReadFile(merged)
	if !bytes.Equal(got, want) || len(want) == 0 || text != wantText {
		t.Errorf("the merged report differs from the single replay's:\n%s\nvs\n%s\n%s\nvs\n%s", got, want, text, wantText)
	}
	if !strings.Contains(string(want), `"suspect": true`) {
		t.Error("the fixture's report has no suspect: the comparison says little")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{parts[:2], "shard 2/3 is missing"},
		{[]string{parts[0], parts[1], parts[1]}, "are both shard 1/3"},
		{[]string{parts[0], parts[1], log}, "not a leakguard partial file"},
		{[]string{"--suggest-budgets", parts[0], parts[1], parts[2]}, "--suggest-budgets: the shard passes were run without it"},
	} {
		if _, _, _, err := runAnalyzeCommand(t, "", append([]string{"--config", cfg, "--merge"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--merge %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	// Another config file (the same policy, one more comment): refused.
	other := filepath.Join(dir, "other.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(other, append(b, "# edited\n"...), 0o600)
	if _, _, _, err := runAnalyzeCommand(t, "", append([]string{"--config", other, "--merge"}, parts...)...); err == nil || !strings.Contains(err.Error(), "another config file than --config") {
		t.Errorf("--merge with another config: %v", err)
	}
	// A pass cut short (a copy that stopped half way).
	full, _ := os.ReadFile(parts[1])
	os.WriteFile(parts[1], full[:len(full)/2], 0o600)
	if _, _, _, err := runAnalyzeCommand(t, "", append([]string{"--config", cfg, "--merge"}, parts...)...); err == nil || !strings.Contains(err.Error(), parts[1]+": not a usable partial state: cut short") {
		t.Errorf("--merge of a file cut short: %v", err)
	}
}

type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A report that could not be written (stdout to a full disk, a closed
// pipe) was lost while analyze and canary trace exited 0 (found by a
// probe, 2026-12-05).
func TestAReportThatCannotBeWrittenFailsTheCommand(t *testing.T) {
	dir, cfg, log, _ := analyzeFixture(t)
	dump := filepath.Join(dir, "dump.csv")
	os.WriteFile(dump, []byte("id,phone\n1,13800138000\n"), 0o600)
	s, _, err := store.Open(filepath.Join(dir, "state"), store.Meta{}, store.Options{}) // a stopped proxy's, with no canary
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, args := range [][]string{
		{"analyze", "--config", cfg, log},
		{"canary", "trace", "--config", cfg, dump},
	} {
		var errb bytes.Buffer
		code := Main(context.Background(), args, fullDisk{}, &errb)
		if code == 0 || !strings.Contains(errb.String(), "writing the report: no space left on device") {
			t.Errorf("%v: exit %d with stdout failing; stderr: %s", args, code, errb.String())
		}
	}
}

// TestAnalyzeSaysABodyRouteCountsNothing: a route whose records are in
// its responses' bodies (the README's reviews route) counts nothing from
// an access log, which holds no bodies. A red team's replay of a session
// reading 7,200 items' reviews in an hour said only "no actor received
// records on the configured routes", a clean report of a sweep.
func TestAnalyzeSaysABodyRouteCountsNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
state: {dir: %s}
`, filepath.Join(dir, "state"))), 0o600)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "203.0.113.66 - - [%s] \"GET /api/items/%d/reviews HTTP/1.1\" 200 900 \"-\" \"Mozilla/5.0\"\n", start.Add(time.Duration(i)*time.Second).Format("02/Jan/2006:15:04:05 -0700"), i)
	}
	log := filepath.Join(dir, "access.log")
	os.WriteFile(log, []byte(b.String()), 0o600)

	c, out, errOut, err := runAnalyzeCommand(t, "", "--config", cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg + `:6: route "GET /api/items/{id}/reviews" reads its records from response bodies`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if want := "1 route read records from response bodies, which a log does not hold: it counted nothing (GET /api/items/{id}/reviews)"; !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	if got := c.Report.RoutesNotCounted; len(got) != 1 || got[0] != "GET /api/items/{id}/reviews" {
		t.Errorf("routes_not_counted = %q", got)
	}
	if strings.Contains(errOut, "/api/users/{id}\" reads") {
		t.Errorf("the profiles route, whose id is in its path, is named:\n%s", errOut)
	}
}
