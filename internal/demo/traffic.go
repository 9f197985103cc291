// Package demo drives live traffic through leakguard over real HTTP on
// loopback: legitimate shoppers (many behind shared carrier-NAT addresses)
// and scraping campaigns, each keeping score of what it received.
//
// Clients claim their addresses with X-Forwarded-For, which leakguard
// believes because the demo runs it with 127.0.0.1 as a trusted proxy: the
// demo plays the load balancer.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/shop"
)

// Score is one traffic source's tally.
type Score struct {
	Name        string
	Desc        string
	Legit       bool
	Requests    atomic.Int64
	OK          atomic.Int64
	Refused     atomic.Int64 // 403 or 429
	Records     atomic.Int64 // personal records received in 2xx responses
	FirstRefuse atomic.Int64 // ns since start of the first refusal, 0 if none
	// records received before the first refusal
	BeforeRefuse atomic.Int64

	mu     sync.Mutex
	people map[int32]struct{} // the users whose records were received
	// visits: of a legitimate source, each session's first record call
	// and how many of its requests were refused (mu); pruneAt: its size
	// at which the visits over and never refused are forgotten, so that
	// a demo run for hours stays bounded
	visits  map[string]*visit
	pruneAt int
	late    int // Refusals.Late (mu)
}

// visit is one session of a legitimate source, as the refusals it met
// are judged: in its first detect.StaysFor, or past them. Those in it are
// a visit's first seconds, the price the docs state for people who arrive
// on an address where a churner's young sessions are held
// (docs/default-policy.md, people behind an address), as the simulator's
// requests_refused_late draws it.
type visit struct {
	first   time.Time // its first record call
	last    time.Time // its last request
	refused int
}

// Refusals are a legitimate source's refused requests by session.
type Refusals struct {
	Sessions int // sessions with a request refused
	Most     int // the most requests refused in one session
	// Late: requests refused detect.StaysFor or more after their session's
	// first record call, or not record calls, or without a session
	Late int
}

// Refusals counts the source's refusals by session (legitimate sources).
func (s *Score) Refusals() Refusals {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Refusals{Late: s.late}
	for _, v := range s.visits {
		if v.refused > 0 {
			r.Sessions++
			r.Most = max(r.Most, v.refused)
		}
	}
	return r
}

// judge notes a legitimate source's record call or refusal in session
// sid (nil: none) at now: a record call (record) starts its session's
// clock, a refusal counts in its session's first detect.StaysFor or past
// them. A record call detect.VisitGap or more after the session's last
// request begins a visit anew, as the detector's do.
func (s *Score) judge(sid *http.Cookie, now time.Time, record, refused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v *visit
	if sid != nil {
		if s.visits == nil {
			s.visits = map[string]*visit{}
		}
		v = s.visits[sid.Value]
		if v != nil && record && now.Sub(v.last) >= detect.VisitGap {
			v.first = now
		}
		if v == nil && record {
			if len(s.visits) >= max(s.pruneAt, 4096) {
				s.prune(now)
			}
			v = &visit{first: now}
			s.visits[sid.Value] = v
		}
		if v != nil {
			v.last = now
		}
	}
	if !refused {
		return
	}
	if v == nil || !record || now.Sub(v.first) >= detect.StaysFor {
		s.late++
	}
	if v != nil {
		v.refused++
	}
}

// prune forgets the visits over at now (detect.VisitGap since their last
// request) that had nothing refused: what they would count is counted
// again as a visit anew.
func (s *Score) prune(now time.Time) {
	for k, v := range s.visits {
		if v.refused == 0 && now.Sub(v.last) >= detect.VisitGap {
			delete(s.visits, k)
		}
	}
	s.pruneAt = 2 * len(s.visits)
}

// People is the number of distinct users whose records the source
// received: what issue 13's bounds count. Records counts a popular
// item's reviewers again with each response.
func (s *Score) People() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.people)
}

func (s *Score) took(ids []int32) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	if s.people == nil {
		s.people = map[int32]struct{}{}
	}
	for _, id := range ids {
		s.people[id] = struct{}{}
	}
	s.mu.Unlock()
}

// Contained reports when the source was first refused, if it was.
func (s *Score) Contained() (time.Duration, bool) {
	ns := s.FirstRefuse.Load()
	return time.Duration(ns), ns != 0
}

// Options configure the traffic.
type Options struct {
	Base      string // the proxy's URL
	Seed      uint64
	Users     int // shop users
	Items     int // shop items
	Shoppers  int // legitimate shoppers
	NATs      int // shoppers share this many addresses
	ThinkTime time.Duration
	// ScraperRate is each scraper's requests per second.
	ScraperRate float64
	// PartnerSyncFor is how long the partner syncs at its normal pace
	// before it starts harvesting.
	PartnerSyncFor time.Duration
	// ScrapersAfter: the shoppers and clerks alone this long before any
	// scraper starts, as on a proxy that has been running: its popularity
	// sketch and its measure of people warm. Scrapers that start with the
	// proxy meet a shop where everything is cold, and in the demo's small
	// shop that flattered every rule that looks for cold records: the
	// account crew took 797 profiles starting with the proxy and 7,768
	// starting 30 s later.
	ScrapersAfter time.Duration
	// ChurnersAt: net-churn and spread-churn start this long after the
	// proxy (and not before the other scrapers): past its first minute,
	// which spares a surge, by default (cli: 65 s).
	ChurnersAt time.Duration
	// SPA: the shop is a single-page app: people load the home page and
	// its scripts once a visit, then ask the API about each item with no
	// page of its own loaded (the rules on a session's pages must leave
	// them alone).
	SPA bool
	// EdgeJA4: every client sends its JA4 in JA4Header, as a TLS edge
	// would pass it: people's browsers Chrome's, each scraper class (the
	// partner's integration too) a TLS client of its own.
	EdgeJA4 bool
	// Classes: the scraper classes that run (nil: every one; Classes
	// names them). The people always do. One class alone shows what it
	// takes without the others': a rule that holds what many sessions
	// do together may be held sooner beside another class.
	Classes []string
}

// JA4Header is where the demo's clients put their JA4 (Options.EdgeJA4).
const JA4Header = "X-JA4"

// chromeJA4 is Chrome's JA4, which people's browsers send.
const chromeJA4 = "t13d1516h2_8daaf6152771_02713d6af862"

// ja4Of is the JA4 score s's client sends: Chrome's for people; for each
// scraper class a TLS client of its own (shaped like an HTTP library's),
// which scripts sending a browser's headers still have. One per class,
// so that what a class shows is its own evidence, not another's on a
// shared library.
func ja4Of(s *Score) string {
	if s.Legit {
		return chromeJA4
	}
	h := fnv.New64a()
	h.Write([]byte(s.Name))
	return fmt.Sprintf("t13d1012h2_%012x_882d495ac381", h.Sum64()>>16)
}

// Traffic runs sources until its context ends.
type Traffic struct {
	o      Options
	client *http.Client
	start  time.Time
	Scores []*Score
}

func New(o Options) *Traffic {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second}
	t := &Traffic{o: o, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	t.Scores = []*Score{
		{Name: "shoppers", Desc: fmt.Sprintf("%d people, %d carrier-NAT addresses, sessions, assets", o.Shoppers-o.Shoppers/10, o.NATs), Legit: true},
		{Name: "office", Desc: fmt.Sprintf("an office /24: %d shoppers on addresses of their own, and %d customer-service clerks, signed in, looking customers up through the API every 10-40 s", o.Shoppers/10, clerks), Legit: true},
		{Name: "naive", Desc: fmt.Sprintf("1 address, sequential profile ids, %.0f req/s, python-requests", o.ScraperRate)},
		{Name: "review-sweep", Desc: fmt.Sprintf("1 address, every item's reviews in order, %.0f req/s, browser UA", o.ScraperRate)},
	}
	t.Scores = append(t.Scores, campaignScores()...)
	if o.Classes != nil {
		keep := t.Scores[:0]
		for _, s := range t.Scores {
			if s.Legit || t.runs(s.Name) {
				keep = append(keep, s)
			}
		}
		t.Scores = keep
	}
	return t
}

// runs reports whether scraper class name runs (Options.Classes).
func (t *Traffic) runs(name string) bool {
	return t.o.Classes == nil || slices.Contains(t.o.Classes, name)
}

// Classes returns the names of the scraper classes, in the scoreboard's
// order.
func Classes() []string {
	var names []string
	for _, s := range New(Options{}).Scores {
		if !s.Legit {
			names = append(names, s.Name)
		}
	}
	return names
}

// Run starts every source and returns when ctx ends and they have stopped.
func (t *Traffic) Run(ctx context.Context) {
	t.start = time.Now()
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(t.o.Seed, 0xde70))
	zipf := shop.NewZipf(t.o.Items, 1.1)
	for i := 0; i < t.o.Shoppers; i++ {
		wg.Add(1)
		seed := rng.Uint64()
		s, ip := t.Scores[0], fmt.Sprintf("100.64.%d.%d", i%t.o.NATs/250, i%t.o.NATs%250+1)
		if i%10 == 9 { // every tenth at the office
			s, ip = t.Scores[1], fmt.Sprintf("192.0.2.%d", i/10%200+1)
		}
		go func() {
			defer wg.Done()
			t.shopper(ctx, rand.New(rand.NewPCG(seed, uint64(i))), s, ip, i, zipf)
		}()
	}
	for i := range clerks {
		wg.Add(1)
		seed := rng.Uint64()
		go func() {
			defer wg.Done()
			t.clerk(ctx, rand.New(rand.NewPCG(seed, 6)), fmt.Sprintf("192.0.2.%d", 240+i), i)
		}()
	}
	run := func(class string, fn func()) {
		if !t.runs(class) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sleep(ctx, t.o.ScrapersAfter) {
				fn()
			}
		}()
	}
	run("naive", func() { t.naive(ctx) })
	run("review-sweep", func() { t.sweep(ctx) })
	t.campaigns(ctx, run, rand.New(rand.NewPCG(t.o.Seed, 0xca3))) // the classes that got through before
	wg.Wait()
}

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

// get fetches a path as a client and counts the records in the answer.
func (t *Traffic) get(ctx context.Context, s *Score, path, ip, ua string, cookie *http.Cookie, countRecords func([]byte) []int32) (ok bool) {
	ok, _ = t.fetch(ctx, s, path, ip, ua, cookie, "", countRecords)
	return ok
}

// fetch is get with an account header (X-Account, as the demo's identity
// section reads it), returning the body of a 2xx.
func (t *Traffic) fetch(ctx context.Context, s *Score, path, ip, ua string, cookie *http.Cookie, account string, countRecords func([]byte) []int32) (ok bool, body []byte) {
	b := build{ua: ua}
	if ua == browserUA {
		b.lang = "zh-CN,zh;q=0.9"
	}
	return t.fetchAs(ctx, s, path, ip, b, cookie, account, countRecords)
}

// build is a browser build's headers: its User-Agent and the language
// its user set (empty: not a browser's; no Accept headers are sent).
type build struct{ ua, lang string }

// browserBuilds are builds people use (the shoppers' first), as a swarm
// that copies them sends them.
func browserBuilds() []build {
	return []build{
		{browserUA, "zh-CN,zh;q=0.9"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36", "en-US,en;q=0.9"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "zh-CN,zh;q=0.9,en;q=0.8"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "zh-CN,zh;q=0.9,en;q=0.8,en-GB;q=0.7,en-US;q=0.6"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "zh-CN,zh;q=0.8,zh-TW;q=0.7,zh-HK;q=0.5,en-US;q=0.3,en;q=0.2"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "en-US,en;q=0.5"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15", "zh-CN,zh-Hans;q=0.9"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1", "zh-CN,zh-Hans;q=0.9"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "zh-CN,zh;q=0.9,en-US;q=0.8,en;q=0.7"},
		{"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36", "en-US,en;q=0.9"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36", "en-US,en;q=0.9"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "zh-CN,zh;q=0.9"},
	}
}

// fetchAs is fetch as browser build b.
func (t *Traffic) fetchAs(ctx context.Context, s *Score, path, ip string, b build, cookie *http.Cookie, account string, countRecords func([]byte) []int32) (ok bool, body []byte) {
	ua := b.ua
	req, err := http.NewRequestWithContext(ctx, "GET", t.o.Base+path, nil)
	if err != nil {
		return false, nil
	}
	if account != "" {
		req.Header.Set("X-Account", account)
	}
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", ua)
	if b.lang != "" {
		// A browser navigates to an item's page with text/html and calls
		// the API from it with JSON.
		accept := "application/json, text/plain, */*"
		if path == "/" || strings.HasPrefix(path, "/items/") {
			accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("Accept-Language", b.lang)
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if t.o.EdgeJA4 {
		req.Header.Set(JA4Header, ja4Of(s))
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return false, nil
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s.Requests.Add(1)
	if s.Legit {
		s.judge(cookie, time.Now(), countRecords != nil, resp.StatusCode == 403 || resp.StatusCode == 429)
	}
	switch {
	case resp.StatusCode == 403 || resp.StatusCode == 429:
		s.Refused.Add(1)
		since := time.Since(t.start)
		if !s.Legit {
			since -= t.o.ScrapersAfter // from the scrapers' start
		}
		s.FirstRefuse.CompareAndSwap(0, int64(max(since, 1)))
		return false, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		s.OK.Add(1)
		if countRecords != nil {
			ids := countRecords(body)
			n := int64(len(ids))
			s.took(ids)
			s.Records.Add(n)
			if s.FirstRefuse.Load() == 0 {
				s.BeforeRefuse.Add(n)
			}
		}
		return true, body
	}
	return false, nil
}

// one is the user of a profile (or a lookup's answer).
func one(b []byte) []int32 {
	var u struct {
		ID int32 `json:"id"`
	}
	if json.Unmarshal(b, &u) != nil || u.ID == 0 {
		return nil
	}
	return []int32{u.ID}
}

// recommended appends to ids the items a home page links to.
func recommended(home []byte, ids []int) []int {
	const link = `href="/items/`
	for {
		i := bytes.Index(home, []byte(link))
		if i < 0 {
			return ids
		}
		home = home[i+len(link):]
		j := bytes.IndexByte(home, '"')
		if id, err := strconv.Atoi(string(home[:max(j, 0)])); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
}

// profileFirst reports whether a signed-in person who lands with session
// sid asks about their own profile first: one in six.
func profileFirst(sid string) bool {
	h := fnv.New32a()
	h.Write([]byte(sid))
	return h.Sum32()%6 == 0
}

// widgetItem is the item the home page's widget asks about (its
// data-src), or else the fallback.
func widgetItem(home []byte, fallback int) int {
	const attr = `data-src="/api/items/`
	i := bytes.Index(home, []byte(attr))
	if i < 0 {
		return fallback
	}
	rest := home[i+len(attr):]
	j := bytes.IndexByte(rest, '/')
	if id, err := strconv.Atoi(string(rest[:max(j, 0)])); err == nil && id > 0 {
		return id
	}
	return fallback
}

// reviewers are the users of an item's reviews.
func reviewers(b []byte) []int32 {
	var page struct {
		Reviews []struct {
			User struct {
				ID int32 `json:"id"`
			} `json:"user"`
		} `json:"reviews"`
	}
	if json.Unmarshal(b, &page) != nil {
		return nil
	}
	ids := make([]int32, len(page.Reviews))
	for i, r := range page.Reviews {
		ids[i] = r.User.ID
	}
	return ids
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// shopper browses like a person: popular items (Zipf), the page's assets,
// the reviews, human pauses, a session cookie, now and then their own
// profile. A visit is 3-17 items, or for a third of them (shortVisits)
// 1-4 items 3-8 s apart; then someone else behind the same address
// arrives with a session of their own. Until 2026-12-03 each shopper kept
// one session for the whole demo, and people behind a NAT whose visits
// last 10-35 s, whom the proxy refused all of (a ninth red team), were
// never among the demo's.
func (t *Traffic) shopper(ctx context.Context, rng *rand.Rand, s *Score, ip string, n int, z *shop.Zipf) {
	// A tenth of the return visits have their pages from the browser's
	// cache: only the scripts and the API reach the proxy, as a pageless
	// scraper's do. Pages the browser loaded before, with the cookie it
	// still has (viewed): until 2026-12-06 a cached visit drew its items
	// afresh, pages no browser could have had in its cache.
	const shortVisits, landers, cachedPages = 0.35, 0.3, 0.1
	var me, left int
	// homeWidget: the item the home page's widget asked about when this
	// cookie's browser last loaded it (0: it never did), what a cached
	// home page asks about again
	var viewed []int
	var homeWidget int
	var sid *http.Cookie
	var account string
	short, cached := false, false
	// stagger arrivals
	if !sleep(ctx, time.Duration(rng.Int64N(int64(t.o.ThinkTime)+1))) {
		return
	}
	for visit := 0; ctx.Err() == nil; {
		if left == 0 {
			// A page from the browser's cache is a browser's that was
			// here before, with its cookie.
			cached = visit > 0 && rng.Float64() < cachedPages && len(viewed) > 0
			if !cached {
				viewed, homeWidget = viewed[:0], 0
				me = rng.IntN(t.o.Users) + 1
				sid = &http.Cookie{Name: "sid", Value: fmt.Sprintf("s%d-%d-%x", n, visit, rng.Uint64())}
				account = ""
				if (n+visit)%3 == 0 { // a third are signed in
					account = fmt.Sprintf("shopper-%d-%d", n, visit)
				}
			}
			short = rng.Float64() < shortVisits
			left = 3 + rng.IntN(15)
			if short {
				left = 1 + rng.IntN(4)
			}
			visit++
			if t.o.SPA && !cached {
				// the app, once a visit (from the browser's cache on a
				// cached one)
				t.fetch(ctx, s, "/", ip, browserUA, sid, account, nil)
				t.fetch(ctx, s, "/static/app.css", ip, browserUA, sid, account, nil)
				t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
			}
			// Some visits land on the home page, whose widget asks about
			// the first item it recommends (no page of its own), and half
			// of those leave at once: people a churner landing there
			// looks like.
			// A cached visit lands only on a home page its browser loaded
			// before: until 2026-12-06 its widget asked about an item of
			// its own, which no page had shown the session.
			if rng.Float64() < landers && !(cached && !t.o.SPA && homeWidget == 0) {
				widget := z.Sample(rng)
				if !t.o.SPA {
					if !cached {
						_, home := t.fetch(ctx, s, "/", ip, browserUA, sid, account, nil)
						homeWidget = widgetItem(home, widget)
					}
					widget = homeWidget
					t.fetch(ctx, s, "/static/app.css", ip, browserUA, sid, account, nil)
					t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
				}
				first := fmt.Sprintf("/api/items/%d/reviews", widget)
				count := reviewers
				if account != "" && !cached && profileFirst(sid.Value) {
					// the page's account menu asks about the person
					// first: an item no page named them
					first, count = fmt.Sprintf("/api/users/%d", me), one
				}
				t.fetch(ctx, s, first, ip, browserUA, sid, account, count)
				if rng.IntN(2) == 0 {
					left = 0
				}
				if !sleep(ctx, 3*time.Second+time.Duration(rng.Int64N(int64(5*time.Second)))) {
					return
				}
				if left == 0 {
					continue
				}
			}
		}
		left--
		item := z.Sample(rng)
		if cached {
			item = viewed[rng.IntN(len(viewed))]
		} else {
			viewed = append(viewed, item)
		}
		if !t.o.SPA {
			if !cached {
				t.fetch(ctx, s, fmt.Sprintf("/items/%d", item), ip, browserUA, sid, account, nil)
			}
			t.fetch(ctx, s, "/static/app.css", ip, browserUA, sid, account, nil)
			t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
		}
		_, revs := t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", item), ip, browserUA, sid, account, reviewers)
		if rng.IntN(10) == 0 {
			t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", me), ip, browserUA, sid, account, one)
		}
		// One item view in six opens a reviewer the reviews showed.
		if rs := reviewers(revs); len(rs) > 0 && rng.IntN(6) == 0 {
			if !sleep(ctx, time.Second+time.Duration(rng.Int64N(int64(2*time.Second)))) {
				return
			}
			t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", rs[rng.IntN(len(rs))]), ip, browserUA, sid, account, one)
		}
		think := time.Duration(float64(t.o.ThinkTime) * (0.5 + rng.ExpFloat64()))
		if short {
			think = 3*time.Second + time.Duration(rng.Int64N(int64(5*time.Second)))
		}
		if !sleep(ctx, think) {
			return
		}
	}
}

// clerks: customer-service staff in the office.
const clerks = 10

// clerk is customer-service staff: signed in, a console that calls the
// API without pages, a customer's profile every 10-40 s, each one a
// customer nobody else was shown: the long tail, at a clerk's pace.
func (t *Traffic) clerk(ctx context.Context, rng *rand.Rand, ip string, n int) {
	s := t.Scores[1]
	sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("staff%d-%x", n, rng.Uint64())}
	account := fmt.Sprintf("staff-%d", n)
	for {
		if !sleep(ctx, time.Duration(10+rng.IntN(31))*time.Second) {
			return
		}
		t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", 1+rng.IntN(t.o.Users)), ip, browserUA, sid, account, one)
	}
}

// paced calls fn(1), fn(2), ... at rate per second until ctx ends.
func paced(ctx context.Context, rate float64, fn func(n int)) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fn(n)
	}
}

// naive is the simplest scraper: one address, user ids in order.
func (t *Traffic) naive(ctx context.Context) {
	paced(ctx, t.o.ScraperRate, func(n int) {
		t.get(ctx, t.score("naive"), fmt.Sprintf("/api/users/%d", (n-1)%t.o.Users+1), "203.0.113.66", "python-requests/2.31.0", nil, one)
	})
}

// sweep takes every item's reviews in order (the long tail too) with a browser's headers.
func (t *Traffic) sweep(ctx context.Context) {
	paced(ctx, t.o.ScraperRate, func(n int) {
		t.get(ctx, t.score("review-sweep"), fmt.Sprintf("/api/items/%d/reviews", (n-1)%t.o.Items+1), "198.18.7.9", browserUA, nil, reviewers)
	})
}
