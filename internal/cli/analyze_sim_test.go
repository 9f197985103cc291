package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/sim"
)

// simLog writes the simulation's traffic as a combined access log: the
// legitimate population and the named campaigns, for hours.
func simLog(t *testing.T, hours int, campaigns ...string) (path string, profiles map[string]int, campaignOf map[string]string) {
	t.Helper()
	w := sim.NewWorld(3, 20000, 5000)
	end := sim.Start.Add(time.Duration(hours) * time.Hour)
	pop := sim.DefaultPopulation
	pop.Shoppers = 400
	sources, _ := sim.Legit(w, pop, 3, end)
	names := make([]string, len(sources)) // "" for legitimate sources
	for _, sc := range sim.Scenarios {
		for _, name := range campaigns {
			if sc.Name == name {
				src, _ := sc.Campaign(w, 3, end)
				sources = append(sources, src)
				names = append(names, name)
			}
		}
	}
	campaignOf = map[string]string{}
	var reqs []sim.Request
	for i, s := range sources {
		for {
			r, ok := s.Next()
			if !ok || r.At.After(end) {
				break
			}
			reqs = append(reqs, r)
			if names[i] != "" {
				campaignOf[r.Addr().String()] = names[i]
			}
			s.Done(r, sim.Outcome{})
		}
	}
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].At.Before(reqs[j].At) })
	ua := map[detect.UAClass]string{
		detect.UABrowser:    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		detect.UAAutomation: "python-requests/2.31.0",
		detect.UASearchBot:  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		detect.UAOther:      "PartnerSync/3.2",
	}
	profiles = map[string]int{} // profile requests per address
	var b strings.Builder
	for _, r := range reqs {
		var path string
		switch r.Route {
		case sim.RoutePage:
			path = fmt.Sprintf("/items/%d", r.ID)
		case sim.RouteAsset:
			path = "/static/app.js"
		case sim.RouteReviews:
			path = fmt.Sprintf("/api/items/%d/reviews", r.ID)
		case sim.RouteProfile:
			path = fmt.Sprintf("/api/users/%d", r.ID)
		case sim.RouteLookup:
			path = "/api/lookup?phone=x"
		}
		addr := r.Addr().String()
		if r.Route == sim.RouteProfile {
			profiles[addr]++
		}
		fmt.Fprintf(&b, "%s - - [%s] \"GET %s HTTP/1.1\" 200 512 \"-\" \"%s\"\n", addr, r.At.Format("02/Jan/2006:15:04:05 -0700"), path, ua[r.UA])
	}
	path = filepath.Join(t.TempDir(), "sim.log")
	os.WriteFile(path, []byte(b.String()), 0o600)
	return path, profiles, campaignOf
}

// Golden test on logs generated from the simulation: the known scrapers are
// found with their record counts, and the legitimate population — carrier
// NATs, offices, the search crawler, the partner and customer service
// (allowlisted, as the bench's policy does) — is not reported.
func TestAnalyzeSimulatedLogs(t *testing.T) {
	log, profiles, campaignOf := simLog(t, 4, "naive", "low-and-slow")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, action: block}
detect:
  allow: [198.51.100.20/32, 192.0.2.10/32]   # the partner and the customer-service office
state: {dir: %s}
`, filepath.Join(dir, "state"))), 0o600)
	var out, errb bytes.Buffer
	c := &AnalyzeCommand{Stdout: &out, Stderr: &errb}
	if err := c.ParseFlags([]string{"--config", cfg, "--top", "100000", "--reveal", log}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	suspects := map[string]bool{}
	for _, a := range c.Report.Top {
		if a.Suspect && a.Address != "" {
			suspects[a.Address] = true
			// The naive scraper walks the users in order, round and round.
			// Its address key holds them all; its crew keys (one per
			// signature: a cold sweep makes another) each hold a part.
			if a.Address == "203.0.113.66" && strings.HasPrefix(a.Key, "ip:") {
				if n, want := a.Records["user"], min(profiles[a.Address], 20000); n < want*97/100 || n > want*103/100 {
					t.Errorf("naive scraper: %d distinct records, want %d ±3%% (HyperLogLog)", n, want)
				}
			}
		}
	}
	if !suspects["203.0.113.66"] {
		t.Error("the naive scraper is not reported")
	}
	slow := 0
	for addr, name := range campaignOf {
		if name == "low-and-slow" && suspects[addr] {
			slow++
		}
	}
	if slow < 450 {
		t.Errorf("%d of low-and-slow's 500 addresses reported, want at least 450", slow)
	}
	for addr := range suspects {
		if campaignOf[addr] == "" {
			t.Errorf("legitimate address %s reported as a scraper", addr)
		}
	}
	t.Logf("%d suspects: the naive scraper and %d of low-and-slow's 500 addresses", len(suspects), slow)
}
