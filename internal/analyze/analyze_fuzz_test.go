package analyze_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/stack"
)

// Whatever the parsers let through, the rest of a replay (addresses with
// ports, absolute targets, route matching, the detector, the engine, the
// report) must not panic or hang. Each reader has its own fuzzer; this one
// drives whole lines through Read with the combined, JSON and ALB readers.
// It found the year-9999 crash (TestAnalyzeDateOutOfRangeIsMalformedNotACrash).
// An execution replays three times and builds a report, so run it with
// -test.fuzzminimizetime=0: minimizing each new input otherwise takes the
// whole budget.
func FuzzAnalyzeLines(f *testing.F) {
	for _, s := range []string{
		`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /api/users/1 HTTP/1.1" 200 1 "-" "python-requests/2.31"`,
		`[::1]:80 - - [01/Jan/2024:00:00:00 +0000] "GET http://h?x=1 HTTP/1.1" 200 1 "-" "-"`,
		`1.2.3.4:99999 - - [01/Jan/2024:00:00:00 +0000] "GET HTTPS:// HTTP/1.1" 404 - "-" "Mozilla/5.0"`,
		`2025-12-31T17:37:40Z stdout F {"time":"2025-12-31T16:37:40Z","remote_addr":"10.0.0.12:59292","path":"https://x/api/users/2"}`,
		`https 2023-04-26T12:23:00.186641Z app/x 192.168.1.100:44740 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/api/users/3 HTTP/1.1" "curl/7.46.0" x`,
	} {
		f.Add([]byte(s + "\n" + s + "\n"))
	}
	dir := f.TempDir()
	cfgPath := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /{page...}
    entity: page
budgets:
  - {entity: user, per: ip, window: 1h, limit: 3, action: block}
state: {dir: %s}
`, filepath.Join(dir, "state"))), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		f.Fatal(err)
	}
	h, _, _, err := stack.Hasher(cfg, testGetenv)
	if err != nil {
		f.Fatal(err)
	}
	var a *analyze.Analyzer
	st, err := stack.Build(cfg, h, func(d engine.Decision) { a.OnDecision(d) }, testGetenv, stack.Options{NoBotDNS: true})
	if err != nil {
		f.Fatal(err)
	}
	a = analyze.New(analyze.Options{Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine, Detector: st.Detector, UA: st.UA,
		Reveal: true, Meter: st.Meter, Suggest: true, Exact: true, MaxKeys: 1000, Idle: 1})
	alb, _ := logs.NewNginxFormat(logs.ALBFormat)
	parsers := []logs.Parser{logs.Combined{}, logs.DefaultJSONFields(), alb}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range parsers {
			if err := a.Read([]analyze.Input{{Name: "-", Stdin: bytes.NewReader(data)}}, p, analyze.ReadOptions{Workers: 2}); err != nil {
				t.Fatal(err)
			}
		}
		r := a.Report(5)
		tl := a.Timelines(r.Top)
		r.Timeline = &tl
		r.Suggestions = a.Suggestions()
		if err := r.WriteHTML(&bytes.Buffer{}, true); err != nil {
			t.Fatal(err)
		}
	})
}
