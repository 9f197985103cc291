package analyze_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/sim"
)

// simLog writes the simulation's traffic as a combined access log: the
// legitimate population and the named campaigns, for hours.
func simLog(t *testing.T, hours int, campaigns ...string) (path string, profiles map[string]int, campaignOf map[string]string) {
	t.Helper()
	w := sim.NewWorld(3, 20000, 5000)
	end := sim.Start.Add(time.Duration(hours) * time.Hour)
	pop := sim.DefaultPopulation()
	pop.Shoppers = 400
	sources, _ := sim.Legit(w, pop, 3, end)
	names := make([]string, len(sources)) // "" for legitimate sources
	for _, sc := range sim.Scenarios() {
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
	r := replay{config: cfg, inputs: []string{log}, top: 100000, opts: analyze.Options{Reveal: true}}.mustRun(t).report
	suspects := map[string]bool{}
	for _, a := range r.Top {
		if a.Suspect && a.Revealed != nil && strings.HasPrefix(a.Key, "crew:") {
			// A crew's row names its members' addresses: keys tied to a
			// suspect are not reported again.
			for _, ip := range a.Revealed.IPs {
				suspects[ip] = true
			}
		}
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

// campaignLog is an nginx log (address, time, request, status, agent,
// account, session) of two days of a shop's legitimate traffic, with
// the campaigns of issue 13 merged in. It returns the log and who is who.
type campaignLog struct {
	path string
	// actors per campaign ("" for the legitimate): addresses and accounts
	ips, accounts map[string]string
	// the legitimate keys' exact peak distinct profiles in any 1h and 1d
	// window, per key kind
	legitPeak map[string]int
}

const campaignLogFormat = `$remote_addr - - [$time_local] "$request" $status 512 "-" "$http_user_agent" $http_x_account $cookie_sid`

func writeCampaignLog(t *testing.T, dir string) campaignLog { return writeCampaignLogOf(t, dir, false) }

// writeCampaignLogOf is writeCampaignLog, with the classes of readers of
// the docs as well if more: a session swarm, a cookie churner, a crew
// that loads a page and a script before each profile, and the two
// classes a red team found (paced pages, a console crew).
func writeCampaignLogOf(t *testing.T, dir string, more bool) campaignLog {
	t.Helper()
	rng := rand.New(rand.NewPCG(13, 13))
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	const days = 2
	end := start.Add(days * 24 * time.Hour)
	browsers := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	}
	type line struct {
		at                          time.Time
		ip, path, ua, account, sess string
	}
	var lines []line
	cl := campaignLog{ips: map[string]string{}, accounts: map[string]string{}, legitPeak: map[string]int{}}
	// Profiles people look at: the popular ones, Zipf over the first 50,000.
	popular := rand.NewZipf(rand.New(rand.NewPCG(7, 7)), 1.1, 20, 49_999)
	type take struct {
		at time.Time
		id int
	}
	takes := map[string][]take{} // legitimate keys' profiles, by "kind:value"
	// A person's visit: a page, its assets, then profiles at reading pace.
	visit := func(ip, account, ua string, at time.Time, profiles int, day int, who int) {
		sess := fmt.Sprintf("s%d-%d", who, day)
		add := func(path string) {
			lines = append(lines, line{at, ip, path, ua, account, sess})
			at = at.Add(time.Duration(4+rng.IntN(50)) * time.Second)
		}
		add(fmt.Sprintf("/items/%d", 1+rng.IntN(5000)))
		add("/static/app.js")
		add("/static/app.css")
		for range profiles {
			id := 1 + int(popular.Uint64())
			if rng.IntN(4) == 0 {
				add(fmt.Sprintf("/items/%d", 1+rng.IntN(5000)))
			}
			takes["ip:"+ip] = append(takes["ip:"+ip], take{at, id})
			if account != "-" {
				takes["account:"+account] = append(takes["account:"+account], take{at, id})
			}
			add(fmt.Sprintf("/api/users/%d", id))
		}
	}
	person := func(who int, ip string, heavy bool) {
		account := "-"
		if who%10 < 7 {
			account = fmt.Sprintf("shopper%d", who)
			cl.accounts[account] = ""
		}
		cl.ips[ip] = ""
		ua := browsers[who%len(browsers)]
		for day := range days {
			for range 1 + rng.IntN(2) {
				at := start.Add(time.Duration(day)*24*time.Hour + time.Duration(rng.IntN(22*3600))*time.Second)
				n := 2 + rng.IntN(15)
				if heavy {
					n = 60 + rng.IntN(90)
				}
				visit(ip, account, ua, at, n, day, who)
			}
		}
	}
	who := 0
	for i := range 1000 { // ordinary shoppers, an address each
		person(who, fmt.Sprintf("81.%d.%d.%d", 1+i%200, rng.IntN(256), 1+rng.IntN(254)), false)
		who++
	}
	for i := range 60 { // heavy shoppers: up to ~450 profiles a day
		person(who, fmt.Sprintf("82.%d.%d.%d", 1+i, rng.IntN(256), 1+rng.IntN(254)), true)
		who++
	}
	for n := range 4 { // carrier NATs: 80 shoppers behind each address
		for range 80 {
			person(who, fmt.Sprintf("100.64.%d.1", n), who%20 == 0)
			who++
		}
	}
	for i := range 40 { // an office /24
		person(who, fmt.Sprintf("192.0.2.%d", 10+i), false)
		who++
	}
	// (a) 40 accounts, each on its own address in five /24s with its own
	// session a day, browser headers, an asset now and then: random
	// profiles, one every 8-16 s for two days (~14,400 each).
	for i := range 40 {
		ip, account := fmt.Sprintf("45.%d.7.%d", 10+i%5, 20+i), fmt.Sprintf("member%d", 9000+i)
		cl.ips[ip], cl.accounts[account] = "account-crew", "account-crew"
		ua := browsers[i%2]
		for at, n := start.Add(time.Duration(rng.IntN(3600))*time.Second), 0; at.Before(end); n++ {
			sess := fmt.Sprintf("c%d-%d", i, at.Sub(start)/(24*time.Hour))
			path := fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000))
			if n%15 == 0 {
				path = "/static/app.js"
			}
			lines = append(lines, line{at, ip, path, ua, account, sess})
			at = at.Add(time.Duration(8000+rng.IntN(8000)) * time.Millisecond)
		}
	}
	// (b) a residential swarm: 2,500 addresses in random /16s, five
	// profiles each, no account, no cookie, one browser's headers.
	swarmAt := start.Add(20 * time.Hour)
	for i := range 2500 {
		ip := fmt.Sprintf("%d.%d.%d.%d", 150+rng.IntN(50), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		cl.ips[ip] = "swarm"
		at := swarmAt.Add(time.Duration(i) * 2 * time.Second)
		for range 5 {
			lines = append(lines, line{at, ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000)), browsers[0], "-", "-"})
			at = at.Add(time.Duration(1+rng.IntN(20)) * time.Second)
		}
	}
	if more {
		writeMoreCampaigns(&cl, rng, start, func(at time.Time, ip, path, ua, account, sess string) {
			lines = append(lines, line{at, ip, path, ua, account, sess})
		})
	}
	// (c) a python-requests burst: 3,000 profiles in order in 15 minutes.
	cl.ips["203.0.113.66"] = "python"
	for i := range 3000 {
		lines = append(lines, line{start.Add(40*time.Hour + time.Duration(i)*300*time.Millisecond), "203.0.113.66",
			fmt.Sprintf("/api/users/%d", 2_000_000+i), "python-requests/2.31.0", "-", "-"})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s - - [%s] \"GET %s HTTP/1.1\" 200 512 \"-\" \"%s\" %s %s\n", l.ip, l.at.Format("02/Jan/2006:15:04:05 -0700"), l.path, l.ua, l.account, l.sess)
	}
	cl.path = filepath.Join(dir, "access.log")
	if err := os.WriteFile(cl.path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The legitimate tail, exactly: the most distinct profiles any
	// legitimate key took in a sliding hour and day.
	for k, ts := range takes {
		sort.Slice(ts, func(i, j int) bool { return ts[i].at.Before(ts[j].at) })
		kind, _, _ := strings.Cut(k, ":")
		for _, w := range []struct {
			name string
			d    time.Duration
		}{{"1h", time.Hour}, {"1d", 24 * time.Hour}} {
			in, lo := map[int]int{}, 0
			for _, x := range ts {
				in[x.id]++
				for ts[lo].at.Before(x.at.Add(-w.d)) {
					if in[ts[lo].id]--; in[ts[lo].id] == 0 {
						delete(in, ts[lo].id)
					}
					lo++
				}
				cl.legitPeak[kind+"/"+w.name] = max(cl.legitPeak[kind+"/"+w.name], len(in))
			}
		}
	}
	t.Logf("%d lines; legitimate peaks %v", len(lines), cl.legitPeak)
	return cl
}

// writeMoreCampaigns adds to the campaign log the classes of readers of
// the docs (as the live demo runs them), with add.
func writeMoreCampaigns(cl *campaignLog, rng *rand.Rand, start time.Time, add func(at time.Time, ip, path, ua, account, sess string)) {
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	const safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
	// (d) a session swarm: 2,500 addresses in random /16s, a session
	// each that loads a script, then 5-10 random profiles.
	for i := range 2500 {
		ip := fmt.Sprintf("%d.%d.%d.%d", 210+rng.IntN(30), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		cl.ips[ip] = "session-swarm"
		sess := fmt.Sprintf("ss%d", i)
		at := start.Add(30*time.Hour + time.Duration(i)*2*time.Second)
		add(at, ip, "/static/app.js", chrome, "-", sess)
		for range 5 + rng.IntN(6) {
			at = at.Add(time.Duration(1+rng.IntN(20)) * time.Second)
			add(at, ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000)), chrome, "-", sess)
		}
	}
	// (e) a cookie churner: one address, ten requests a second for 15
	// minutes, a fresh session every four that loads a script first.
	cl.ips["198.18.120.7"] = "cookie-churn"
	for n := range 9000 {
		path := fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000))
		if n%4 == 0 {
			path = "/static/app.js"
		}
		add(start.Add(10*time.Hour+time.Duration(n)*100*time.Millisecond), "198.18.120.7", path, chrome, "-", fmt.Sprintf("cc%d", n/4))
	}
	// (f) a page crew: 36 accounts on addresses in four /24s for two
	// hours, each loading an item's page and a script before a random
	// profile, one every 1-2 s.
	for i := range 36 {
		ip, account := fmt.Sprintf("46.%d.9.%d", 10+i%4, 20+i), fmt.Sprintf("pager%d", 9000+i)
		cl.ips[ip], cl.accounts[account] = "page-crew", "page-crew"
		sess := fmt.Sprintf("pc%d", i)
		for at := start.Add(5*time.Hour + time.Duration(rng.IntN(60))*time.Second); at.Before(start.Add(7 * time.Hour)); {
			add(at, ip, fmt.Sprintf("/items/%d", 1+rng.IntN(5000)), safari, account, sess)
			add(at.Add(100*time.Millisecond), ip, "/static/app.js", safari, account, sess)
			add(at.Add(300*time.Millisecond), ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000)), safari, account, sess)
			at = at.Add(time.Duration(1000+rng.IntN(1000)) * time.Millisecond)
		}
	}
	// (g) a red team's paced pages: 100 workers for an hour, each a
	// session on an address of its own that loads an item's page and
	// assets before a random profile every 2.5-5 s, and moves to a fresh
	// address and session every ten minutes.
	for w := range 100 {
		at := start.Add(20*time.Hour + time.Duration(rng.IntN(60))*time.Second)
		for turn := range 6 {
			ip := fmt.Sprintf("%d.%d.%d.%d", 150+rng.IntN(40), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
			cl.ips[ip] = "paced-pages"
			sess := fmt.Sprintf("pp%d-%d", w, turn)
			for until := at.Add(10 * time.Minute); at.Before(until); {
				add(at, ip, fmt.Sprintf("/items/%d", 1+rng.IntN(5000)), chrome, "-", sess)
				add(at.Add(100*time.Millisecond), ip, "/static/app.js", chrome, "-", sess)
				add(at.Add(150*time.Millisecond), ip, "/static/app.css", chrome, "-", sess)
				add(at.Add(400*time.Millisecond), ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000)), chrome, "-", sess)
				at = at.Add(time.Duration(2500+rng.IntN(2500)) * time.Millisecond)
			}
		}
	}
	// (h) a red team's console crew: 200 accounts, ten to an address, for
	// an hour, each a session that loads a script once, then a random
	// profile through the API every 10.5-14 s.
	for i := range 200 {
		ip, account := fmt.Sprintf("47.%d.%d.%d", 20+i/10%5, i/50, 10+i/10), fmt.Sprintf("console%d", i)
		cl.ips[ip], cl.accounts[account] = "console-crew", "console-crew"
		sess := fmt.Sprintf("cc-%d", i)
		at := start.Add(26*time.Hour + time.Duration(rng.IntN(12000))*time.Millisecond)
		add(at, ip, "/static/app.js", safari, account, sess)
		for until := at.Add(time.Hour); at.Before(until); {
			at = at.Add(time.Duration(10500+rng.IntN(3500)) * time.Millisecond)
			add(at, ip, fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000)), safari, account, sess)
		}
	}
	// (i) a sixth red team's churner over one /24, and (j) a seventh's
	// over forty, each /24 under fifty new sessions in 10 s: for five
	// minutes, 200 requests a second, a fresh session every four on the
	// next address (of the next /24) that loads a script first. At
	// 5e9e0bc neither was named (0 of 254 and 0 of 10,160 addresses):
	// the one /24's young sessions were sanctioned on its net key only,
	// and the forty never surged.
	for c, nets := range []int{1, 40} {
		name := []string{"net-churn", "spread-churn"}[c]
		at := start.Add(time.Duration(32+c) * time.Hour)
		for n := range 60_000 {
			cycle := n / 4
			ip := fmt.Sprintf("%d.%d.%d.%d", 90+c, cycle%nets, 7, 1+cycle/nets%254)
			cl.ips[ip] = name
			path := fmt.Sprintf("/api/users/%d", 1+rng.IntN(3_000_000))
			if n%4 == 0 {
				path = "/static/app.js"
			}
			add(at.Add(time.Duration(n)*5*time.Millisecond), ip, path, chrome, "-", fmt.Sprintf("%s-%d", name, cycle))
		}
	}
}

// writeSanctioningConfig writes, in dir, a config whose budgets sanction
// addresses (per person), accounts and crews.
func writeSanctioningConfig(t testing.TB, dir string) string {
	return writeConfig(t, dir, fmt.Sprintf(`
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, per_person: true, action: block, block_for: 1h}
  - {entity: user, per: account, window: 1d, limit: 2000, action: block}
  - {entity: user, per: crew, window: 1h, limit: 500, action: block}
state: {dir: %s}
`, filepath.Join(dir, "state")))
}

// campaignReplay is a replay of the campaign log, its accounts and
// sessions read, every key listed.
func campaignReplay(t *testing.T, cfg string, cl campaignLog) replay {
	return replay{config: cfg, inputs: []string{cl.path}, top: 100000,
		parser: nginxFormat(t, campaignLogFormat, "http_x_account", "cookie_sid"), sessions: true}
}

// analyzeCampaigns replays the campaign log under policy with opts,
// learning as `leakguard analyze` does unless told --learn=false.
func analyzeCampaigns(t *testing.T, dir string, cl campaignLog, policy string, opts analyze.Options) analyze.Report {
	t.Helper()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
%s
state: {dir: %s}
`, policy, filepath.Join(dir, "state"))), 0o600)
	r := campaignReplay(t, cfg, cl)
	r.opts = opts
	r.opts.Learn = true
	return r.mustRun(t).report
}

// flagged is who the report names: addresses and accounts whose own key
// is a suspect, the accounts a suspect crew's row names, and the
// addresses of suspect crews.
func flagged(r analyze.Report) (ips, accounts, crewIPs map[string]string) {
	ips, accounts, crewIPs = map[string]string{}, map[string]string{}, map[string]string{}
	for _, a := range r.Top {
		if !a.Suspect || a.Revealed == nil {
			continue
		}
		switch kind, _, _ := strings.Cut(a.Key, ":"); kind {
		case "ip":
			for _, v := range a.Revealed.IPs {
				ips[v] = a.Rule
			}
		case "account":
			for _, v := range a.Revealed.Accounts {
				accounts[v] = a.Rule
			}
		case "crew":
			for _, v := range a.Revealed.IPs {
				crewIPs[v] = a.Rule
			}
			// a crew's row names its accounts too
			for _, v := range a.Revealed.Accounts {
				accounts[v] = a.Rule
			}
		}
	}
	return ips, accounts, crewIPs
}

// flaggedActors counts, per campaign, its actors (addresses, and the
// crews' accounts) and how many r flags (own key, or in a suspect crew),
// and fails t for every legitimate address or account flagged.
func flaggedActors(t *testing.T, cl campaignLog, r analyze.Report) (found, actors map[string]int) {
	t.Helper()
	ips, accounts, crewIPs := flagged(r)
	found, actors = map[string]int{}, map[string]int{}
	for ip, c := range cl.ips {
		_, own := ips[ip]
		_, crew := crewIPs[ip]
		switch {
		case c == "" && own:
			t.Errorf("legitimate address %s flagged by %s", ip, ips[ip])
		case c == "" && crew:
			t.Errorf("legitimate address %s in a suspect crew (%s)", ip, crewIPs[ip])
		case c == "page-crew" || c == "account-crew" || c == "console-crew" || c == "":
			// the crews' actors are their accounts
		default:
			actors[c]++
			if own || crew {
				found[c]++
			}
		}
	}
	for acct, c := range cl.accounts {
		_, ok := accounts[acct]
		switch {
		case c == "" && ok:
			t.Errorf("legitimate account %s flagged by %s", acct, accounts[acct])
		case c != "":
			actors[c]++
			if ok {
				found[c]++
			}
		}
	}
	return found, actors
}

// Issue 13's log replay (two days), with a config that names routes and no budgets:
// every campaign is flagged for at least 90% of its actors, no legitimate
// address or account is (carrier NATs, an office and heavy shoppers
// included), and the suggested budgets sit at the legitimate tail, not the
// scrapers'. With the default policy off too, the population alone still
// finds the 40 accounts.
func TestAnalyzeCampaignsRoutesOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-day log")
	}
	dir := t.TempDir()
	cl := writeCampaignLog(t, dir)
	r := analyzeCampaigns(t, dir, cl, "", analyze.Options{Reveal: true, Suggest: true})
	found, actors := flaggedActors(t, cl, r)
	for _, c := range []string{"account-crew", "swarm", "python"} {
		t.Logf("%s: %d of %d actors flagged", c, found[c], actors[c])
		if found[c]*10 < actors[c]*9 {
			t.Errorf("%s: %d of %d actors flagged, want at least 90%%", c, found[c], actors[c])
		}
	}
	for _, s := range r.Suggestions {
		legit, ok := cl.legitPeak[s.Per+"/"+s.Window]
		if s.Entity != "user" || !ok {
			continue
		}
		t.Logf("suggested %s/%s/%s: %d (p99.99 %d, max %d over %d keys; legitimate peak %d)", s.Entity, s.Per, s.Window, s.Suggested, s.P9999, s.Max, s.Actors, legit)
		// The peaks of sketched keys are estimates, not their bounds
		// (which added up every insert, repeats included: a carrier NAT's
		// peaks were 5.8 times its distinct count), within a sixteenth;
		// the meter's buckets also reach up to one bucket past the
		// window. A scraper's peak is far above either (account-crew:
		// ~7,000 a day).
		if float64(s.Max) > 1.25*float64(legit)+5 {
			t.Errorf("suggested %s per %s per %s: %d (max %d), want the max within 25%% of the legitimate peak %d", s.Entity, s.Per, s.Window, s.Suggested, s.Max, legit)
		}
	}

	// The population alone: no budget, no default policy.
	r = analyzeCampaigns(t, dir, cl, "default_policy: false", analyze.Options{Reveal: true})
	_, accounts, _ := flagged(r)
	// The accounts each key of an outlier's row names (an account's, or a
	// session's): since cohorts need four /24s (2026-12-08) the crew's
	// forty are one cohort, named by its crew's row, and each account is
	// tied to it; its sessions are still each an outlier.
	byOutlier := map[string]bool{}
	for _, a := range r.Top {
		if a.Suspect && a.Revealed != nil && strings.HasPrefix(a.Rule, "outlier/user/") {
			for _, acct := range a.Revealed.Accounts {
				byOutlier[acct] = true
			}
		}
	}
	n := 0
	for acct, c := range cl.accounts {
		rule, ok := accounts[acct]
		switch {
		case c == "" && (ok || byOutlier[acct]):
			t.Errorf("no budgets: legitimate account %s flagged by %s", acct, rule)
		case c != "" && byOutlier[acct]:
			n++
		}
	}
	t.Logf("no budgets: %d of 40 accounts named by outliers; tails %+v", n, r.OutlierTails)
	if n < 36 {
		t.Errorf("no budgets: %d of the 40 accounts named by outliers, want at least 36", n)
	}
}

// The log replay against the classes of readers of the docs, with the
// routes-only config: the cookie churner, the page crew, a red team's
// paced pages and console crew, and the churners over one /24 and over
// forty are flagged (each a cohort of tail readers
// that started together; before cohorts, 3 of 600 and, counting only
// the accounts' own keys, 0 of 200), and so is the session swarm (each
// address a few calls, each session a script first: its pageless
// sessions together, once a log's pages are seen, detect.KindOfLogged;
// 408 of 2,500 before), and no legitimate address or account is. With
// the page crew added, heavy
// shoppers' addresses were in its suspect crew: sessions shown cold
// records at midnight, still colder than people at 20:00
// (TestAVisitHoursLaterStartsAfresh), and a reader since before the crew
// formed taken as one of its starters (TestReaderSinceBeforeACrewIsNotOfIt).
func TestAnalyzeMoreCampaignsRoutesOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2-day log")
	}
	dir := t.TempDir()
	cl := writeCampaignLogOf(t, dir, true)
	found, actors := flaggedActors(t, cl, analyzeCampaigns(t, dir, cl, "", analyze.Options{Reveal: true}))
	for _, c := range []string{"account-crew", "swarm", "python", "cookie-churn", "page-crew", "paced-pages", "console-crew", "net-churn", "spread-churn", "session-swarm"} {
		t.Logf("%s: %d of %d actors flagged", c, found[c], actors[c])
		if found[c]*10 < actors[c]*9 {
			t.Errorf("%s: %d of %d actors flagged, want at least 90%%", c, found[c], actors[c])
		}
	}
}

// The replay's fast path (two stages on two goroutines, the peaks' bounds
// kept from the engine's own metering, parse workers) gives byte for byte
// the report of the plainest replay (one goroutine, every bound asked of
// the meter) on a log with carrier NATs, an office, heavy shoppers, an
// account crew, a residential swarm and a python burst, under budgets
// that sanction addresses, accounts and crews, with outliers, suggestions,
// the timeline and revealed identities.
func TestAnalyzeStagedReplayIsExact(t *testing.T) {
	dir := t.TempDir()
	cl := writeCampaignLog(t, dir)
	cfg := writeSanctioningConfig(t, dir)
	// After the campaign, in a second input: enumerators whose misses on
	// record routes raise Enumeration from their address's traffic, a
	// signal the engine's goroutine of the address hands to the others
	// (an account's decision carries it; a crew's risk band rests on it).
	enum := writeEnumerationLog(t, dir)
	var plain result
	run := func(serial, noCapture bool, workers, shards int, oneTally bool) (string, string) {
		r := campaignReplay(t, cfg, cl)
		r.inputs = append(r.inputs, enum)
		r.opts = analyze.Options{Reveal: true, Suggest: true}
		r.html, r.noCapture, r.read = true, noCapture, analyze.ReadOptions{Serial: serial, Workers: workers, Shards: shards, OneTally: oneTally}
		res := r.mustRun(t)
		plain = res
		return res.json, res.html
	}
	want, wantHTML := run(true, true, 1, 0, false)
	wantText := plain.text
	for _, s := range []string{`"suspect": true`, `"rule": "user/ip/1h"`, `"rule": "user/account/1d"`, `"rule": "user/crew/1h"`, `"rule": "risk>=`, `"enumeration"`, `"records_before_detection"`, `"suggested_budgets"`, `"revealed"`} {
		if !strings.Contains(want, s) {
			t.Fatalf("the reference report lacks %s: the log no longer exercises what this test compares", s)
		}
	}
	// shards 0 is the default, one engine goroutine per worker: at one
	// worker, the two-stage replay; at more, the sharded one, with the
	// analyzer's stage on as many goroutines (tally.go) unless oneTally.
	// Each path a user's replay takes (one core: two stages; more:
	// sharded; the meter's bounds kept or asked of it) once, and the
	// test-only oneTally once: a variant whose every path is another's
	// (serial with the kept bounds, two stages without them, two stages
	// parsed on two workers, oneTally at two shards) cost 24 s of the
	// suite's 15 minutes and found nothing the others would not.
	for _, v := range []struct {
		serial, noCapture bool
		workers, shards   int
		oneTally          bool
	}{{false, false, 1, 0, false}, {false, false, 2, 0, false}, {false, true, 2, 0, false},
		{false, false, 5, 3, false}, {false, false, 5, 3, true}} {
		got, gotHTML := run(v.serial, v.noCapture, v.workers, v.shards, v.oneTally)
		if got != want || gotHTML != wantHTML {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("serial=%v noCapture=%v workers=%d shards=%d oneTally=%v: the report differs from the plain replay's at byte %d: %.200q vs %.200q",
				v.serial, v.noCapture, v.workers, v.shards, v.oneTally, i, got[min(i, len(got)):], want[min(i, len(want)):])
		}
	}

	// Past one machine (partial.go): the log cut in N shard passes, each
	// writing its partial state, and their merge give the same reports.
	// Here, not in a test of its own, because CI runs the replays of this
	// log without the race detector (.ci/run) and the merge reuses the
	// plain replay's report; TestAnalyzeShardMerge checks the files.
	r := campaignReplay(t, cfg, cl)
	r.inputs = append(r.inputs, enum)
	r.opts, r.html, r.read = analyze.Options{Reveal: true, Suggest: true}, true, analyze.ReadOptions{Workers: 2}
	// (One pass is a merge of one file, which two and three cover.)
	shardsMatch(t, "reveal+suggest+html", r, result{json: want, html: wantHTML, text: wantText}, 2, 3)
	// --exact given up part way: every count is then an estimate, those
	// before detection too, in the single replay as in the merge (which
	// only knows the total of key-record pairs). (Kept to the end:
	// TestAnalyzeShardMerge, on a smaller log, whose counts are too small
	// for an estimate to differ.)
	r.opts, r.html = analyze.Options{Exact: true, ExactLimit: 200_000, Reveal: true}, false
	ref := r.mustRun(t)
	if !ref.report.ExactAbandoned {
		t.Fatal("exact counts not given up at 200,000 pairs")
	}
	// ... and the analyzer's stage on two goroutines, adding to one count
	// of pairs, gives the one-goroutine replay's report.
	r.read = analyze.ReadOptions{Serial: true, Workers: 1}
	if serial := r.mustRun(t); serial.json != ref.json || serial.text != ref.text {
		t.Errorf("exact given up: the replay on 2 workers differs from the serial one:\n%.600s\nvs\n%.600s", ref.json, serial.json)
	}
	r.read = analyze.ReadOptions{Workers: 2}
	shardsMatch(t, "exact given up", r, ref, 2)
}

// writeEnumerationLog writes a log, in the campaign log's format, of the
// day after the campaign: a python client walking profile ids with three
// accounts, every other request a miss, and a browser-like client without
// account or session whose requests miss seven times in ten.
func writeEnumerationLog(t testing.TB, dir string) string {
	t.Helper()
	start := time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)
	var b strings.Builder
	line := func(at time.Time, ip string, id, status int, ua, account string) {
		fmt.Fprintf(&b, "%s - - [%s] \"GET /api/users/%d HTTP/1.1\" %d 512 \"-\" \"%s\" %s -\n", ip, at.Format("02/Jan/2006:15:04:05 -0700"), id, status, ua, account)
	}
	for i := range 15000 {
		status := 200
		if i%2 == 0 {
			status = 404
		}
		line(start.Add(time.Duration(i)*300*time.Millisecond), "198.51.100.7", 3_000_000+i, status,
			"python-requests/2.31.0", fmt.Sprintf("enum%d", i%3))
		if i%4 == 0 {
			status = 200
			if i%40 < 28 {
				status = 404
			}
			line(start.Add(time.Duration(i)*300*time.Millisecond+100*time.Millisecond), "198.51.100.9", 4_000_000+i/4, status,
				"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "-")
		}
	}
	path := filepath.Join(dir, "enumeration.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeLookalikeLog writes a log, in the campaign log's format, of the day
// after the enumerators: a python client sweeping fresh profile ids, one
// every 0.3 s, then three browser-like clients on other addresses, one
// after another, each sweeping fresh ids every 0.5 s (the last with an
// account). The browsers are one crew of sweepers; the later ones join it
// only because the detector finds it sanctioned by then (the engine's
// state, which the detector reads: a replay must give it the engine as it
// stands after the line before).
func writeLookalikeLog(t testing.TB, dir string) string {
	t.Helper()
	start := time.Date(2026, 11, 5, 6, 0, 0, 0, time.UTC)
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	add := func(at time.Time, ip string, id int, ua, account string) {
		lines = append(lines, line{at, fmt.Sprintf("%s - - [%s] \"GET /api/users/%d HTTP/1.1\" 200 512 \"-\" \"%s\" %s -\n",
			ip, at.Format("02/Jan/2006:15:04:05 -0700"), id, ua, account)})
	}
	for i := range 1500 {
		add(start.Add(time.Duration(i)*300*time.Millisecond), "203.0.113.90", 5_000_000+i, "python-requests/2.31.0", "-")
	}
	for j, ip := range []string{"203.0.113.91", "198.18.4.7", "198.18.9.12"} {
		account := "-"
		if j == 2 {
			account = "look2"
		}
		for i := range 800 {
			add(start.Add(time.Duration(180+j*400)*time.Second+time.Duration(i)*500*time.Millisecond+100*time.Millisecond), ip, 6_000_000+j*100_000+i,
				"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", account)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	path := filepath.Join(dir, "lookalikes.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
