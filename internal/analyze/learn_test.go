package analyze_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
)

// An outside red team's log (2026-12-06) had 40 heavy shoppers reading
// 309-328 profiles in a session-hour, and a replay that held every
// session to the written 300 an hour flagged 10 of their addresses and 5
// sessions, where a proxy in front of the same traffic would have
// learnt. With the routes-only config, a replay that learns as the proxy
// does, on the log's clock, flags none of them, and still the session
// that took 3,000; one that does not learn (a --shard pass, --learn=false)
// flags them, so the test can fail.
func TestHeavyShoppersOverTheWrittenLimitAreNotFlaggedWhenTheReplayLearns(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(21, 21))
	start := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	type line struct {
		at       time.Time
		ip, path string
		sess     string
	}
	var lines []line
	// read: a session on an address of its own, from a few minutes into
	// the log, an item's page now and then, n profiles of the shop's
	// popular 1,500 (which everyone reads, so few are cold) gap apart
	read := func(who string, ip string, n int, gap func() time.Duration) {
		at := start.Add(time.Duration(rng.IntN(600)) * time.Second)
		for i := range n {
			if i%4 == 0 {
				lines = append(lines, line{at, ip, fmt.Sprintf("/items/%d", 1+rng.IntN(5000)), who})
				lines = append(lines, line{at.Add(time.Second), ip, "/static/app.js", who})
			}
			at = at.Add(gap())
			lines = append(lines, line{at, ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(1500)), who})
		}
	}
	person := func() time.Duration { return 2*time.Second + time.Duration(rng.ExpFloat64()*5.6*float64(time.Second)) }
	for i := range 300 {
		read(fmt.Sprintf("p%d", i), fmt.Sprintf("81.%d.%d.%d", 1+i%200, rng.IntN(256), 1+rng.IntN(254)), 20+rng.IntN(100), person)
	}
	heavy := map[string]bool{}
	for i := range 20 { // ~390 profiles in the hours of their 70 minutes
		ip := fmt.Sprintf("82.%d.%d.%d", 1+i, rng.IntN(256), 1+rng.IntN(254))
		heavy[ip] = true
		read(fmt.Sprintf("h%d", i), ip, 550, person)
	}
	const scraper = "45.10.7.20"
	read("x", scraper, 3000, func() time.Duration { return 2500 * time.Millisecond })
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s - - [%s] \"GET %s HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\" - %s\n",
			l.ip, l.at.Format("02/Jan/2006:15:04:05 -0700"), l.path, l.sess)
	}
	log := filepath.Join(dir, "access.log")
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf(`
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
state: {dir: %s}
`, filepath.Join(dir, "state")))
	for _, learn := range []bool{true, false} {
		r := replay{config: cfg, inputs: []string{log}, top: 100000, sessions: true,
			parser: nginxFormat(t, campaignLogFormat, "http_x_account", "cookie_sid"),
			opts:   analyze.Options{Reveal: true, Learn: learn}}
		rep := r.mustRun(t).report
		ips, _, crewIPs := flagged(rep)
		n := 0
		for ip := range heavy {
			rule, ok := ips[ip]
			if !ok {
				rule, ok = crewIPs[ip]
			}
			if ok {
				n++
				if learn {
					t.Logf("heavy shopper %s flagged by %s", ip, rule)
				}
			}
		}
		_, caught := ips[scraper]
		t.Logf("learn %v: %d of 20 heavy shoppers' addresses flagged, the scraper's %v; learnt %+v", learn, n, caught, rep.Learnt)
		if !caught {
			t.Errorf("learn %v: the session that took 3,000 profiles was not flagged", learn)
		}
		switch {
		case learn && n != 0:
			t.Errorf("learning: %d of 20 heavy shoppers' addresses flagged, want none", n)
		case learn && len(rep.Learnt) == 0:
			t.Error("learning: no limit learnt")
		case !learn && n == 0:
			t.Error("without learning no heavy shopper was flagged: the log does not test what it should")
		}
		if !learn {
			continue
		}
		// Each path a replay takes calibrates at the same line, the
		// engine as it stands after the line before: the same report.
		r.read = analyze.ReadOptions{Serial: true, Workers: 1}
		want := r.mustRun(t).json
		for _, ro := range []analyze.ReadOptions{{Workers: 1}, {Workers: 2}, {Workers: 5, Shards: 3}} {
			r.read = ro
			if got := r.mustRun(t).json; got != want {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("learning, %+v: the report differs from the one-goroutine replay's at byte %d: %.200q vs %.200q", ro, i, got[i:], want[i:])
			}
		}
	}
}
