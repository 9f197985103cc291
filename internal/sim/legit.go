package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
)

// LegitStats is the false-positive side of the scoreboard.
type LegitStats struct {
	Actors          int // people and staff
	ActorsRefused   int
	Sessions        int
	SessionsRefused int
	Requests        int
	Refused         int
	// RefusedLate: of Refused, a shopper's calls staysFor (5 s) or more
	// into their session, and any of staff's, a crawler's or the
	// partner's: a person who arrives on a churner's address while it
	// runs may lose the first call or two of a visit, which look like
	// the churner's sessions' (first call, then gone), but not the rest
	RefusedLate int
	Records     int
	// Crowd: requests that carried stranger_crowd
	Crowd int
	// per logged-in account: user records received, and days active
	accountRecords map[uint64]int
	accountDays    map[uint64]map[int]bool
	refusedActor   map[int]bool
}

func newLegitStats() *LegitStats {
	return &LegitStats{accountRecords: map[uint64]int{}, accountDays: map[uint64]map[int]bool{}, refusedActor: map[int]bool{}}
}

// AccountRecordsPerDay returns each logged-in account's user records per active day.
func (s *LegitStats) AccountRecordsPerDay() []float64 {
	var out []float64
	for acct, n := range s.accountRecords {
		if d := len(s.accountDays[acct]); d > 0 {
			out = append(out, float64(n)/float64(d))
		}
	}
	return out
}

// Population says who the legitimate users are.
type Population struct {
	Shoppers  int     // people
	NATShare  float64 // share of shoppers behind carrier NAT
	NATs      int     // carrier NAT addresses they share
	Offices   int     // office addresses
	OfficeShr float64
	LoggedIn  float64 // share with an account
	// ShortVisits: the share of visits that are short (one to four
	// pages, 3-8 s apart: a bounce from a search result)
	ShortVisits float64
	Agents      int  // customer-service staff in one office, viewing many profiles
	Crawler     bool // a search engine crawler on item pages
	Partner     bool // a partner integration syncing profiles (to be allowlisted)
	// SPA: the shop is a single-page app: each visit loads the home page
	// and its script once, then calls the API for each item with no
	// item page (as demo --spa). Until 2026-12-05 no simulated person
	// did, and live such people were refused by the thousand.
	SPA bool
}

// DefaultPopulation is 2,000 shoppers, 30% behind 4 carrier NAT addresses
// (150 people each), 10% in 4 offices, 40% logged in, a third of their
// visits short; 10 customer-service agents; a search crawler; the partner
// integration. A function, so no caller changes it for every other.
//
// Short visits since 2026-12-03: a ninth red team's people behind a
// carrier NAT whose visits lasted 10-35 s were all refused live, and the
// simulator's, whose visits all lasted minutes, had never shown it.
func DefaultPopulation() Population {
	return Population{Shoppers: 2000, NATShare: 0.3, NATs: 4, Offices: 4, OfficeShr: 0.1, LoggedIn: 0.4, ShortVisits: 0.35, Agents: 10, Crawler: true, Partner: true}
}

// PartnerAddress is the partner integration's address, for allowlists.
const PartnerAddress uint32 = 198<<24 | 51<<16 | 100<<8 | 20

// CrawlerAddress is the search engine crawler's address i (of 4).
func CrawlerAddress(i int) uint32 { return ip4(66, 249, 66, 1+i) }

// OfficeCS is the customer-service office's address, for allowlists.
const OfficeCS = officeCS

// NATAddress returns the carrier NAT address of NAT i.
func NATAddress(i int) uint32 { return ip4(100, 64, 0, 1+i) }

// Legit returns the legitimate traffic sources.
func Legit(w *World, p Population, seed uint64, end time.Time) ([]Source, *LegitStats) {
	st := newLegitStats()
	rng := rand.New(rand.NewPCG(seed, 0x1e9))
	var out []Source
	nat := int(float64(p.Shoppers) * p.NATShare)
	office := int(float64(p.Shoppers) * p.OfficeShr)
	for i := 0; i < p.Shoppers; i++ {
		s := &shopper{w: w, st: st, id: i, end: end, rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(i))), shortVisits: p.ShortVisits, spa: p.SPA}
		switch {
		case i < nat:
			s.ip = NATAddress(i % p.NATs)
		case i < nat+office:
			s.ip = ip4(192, 0, 2, 100+i%p.Offices)
		default:
			s.ip = ip4(101+rng.IntN(100), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		}
		if rng.Float64() < p.LoggedIn {
			s.account = uint64(i + 1)
		}
		s.fp = uint64(1 + rng.IntN(12)) // a dozen common browser builds
		s.me = 1 + rng.IntN(w.Shop.Users)
		s.now = Start.Add(expDur(rng, 6*time.Hour))
		out = append(out, s)
	}
	for i := 0; i < p.Agents; i++ {
		out = append(out, &agent{w: w, st: st, id: p.Shoppers + i, account: uint64(9_000_000 + i), end: end,
			rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))})
	}
	if p.Crawler {
		out = append(out, &crawler{st: st, id: p.Shoppers + p.Agents, now: Start, end: end, rng: rand.New(rand.NewPCG(rng.Uint64(), 7))})
	}
	if p.Partner {
		out = append(out, &partner{w: w, st: st, id: p.Shoppers + p.Agents + 1, end: end})
	}
	st.Actors = len(out)
	return out, st
}

// shopper browses in sessions: popular items, each page with its asset and
// reviews, now and then their own profile, human pauses between pages.
type shopper struct {
	w                    *World
	st                   *LegitStats
	rng                  *rand.Rand
	id, me               int
	ip                   uint32
	account, fp, session uint64
	now, end             time.Time
	pagesLeft            int
	sessionRefused       bool
	began                time.Time // the session's first record call
	// shortVisits: the share of its visits that are short; short: this one is
	shortVisits float64
	short       bool
	// landing: this session lands on the home page first (landers)
	landing bool
	// spa: the shop is a single-page app (Population.SPA); app: this
	// session has yet to load it
	spa, app bool
	pending  []Request
}

// landers: the share of the shoppers' sessions that land on the home
// page, whose widget asks about the first item it recommends them, before their first item's
// page, as three in ten of the live demo's visits do. Drawn from the
// session, not the shopper's generator, so that the rest of the day is
// as it was. Until 2026-12-04 the simulator's people never landed, and a
// rule for sessions that land and never open an item's page had not been
// measured among them: once they did, 24 people were refused beside
// nat-churn and paged-churn.
const landers = 3

// reviewerClicks: one in reviewerClicks of people's item views opens
// the profile of a reviewer the item's reviews showed them, as the live
// demo's shoppers do: a profile asked for that the session was shown
// (id lineage past a session's first call). Drawn from the session and
// the item, not the shopper's generator, so that the rest of the day is
// as it was.
const reviewerClicks = 6

// profileFirst: one in profileFirst of the signed-in people who land ask
// first about their own profile (the page's account menu), an item no
// page named them, rather than about what the page recommended.
const profileFirst = 6

func (s *shopper) actor() identity.Actor {
	var a identity.Actor
	ipKeys(&a, s.ip)
	setKey(&a, identity.Account, s.account)
	setKey(&a, identity.Session, s.session)
	setKey(&a, identity.Fingerprint, s.fp)
	return a
}

func (s *shopper) Next() (Request, bool) {
	if len(s.pending) > 0 {
		r := s.pending[0]
		s.pending = s.pending[1:]
		return r, true
	}
	if s.pagesLeft == 0 {
		// a new session, on average twice a day
		s.now = s.now.Add(expDur(s.rng, 12*time.Hour))
		s.began = time.Time{}
		s.pagesLeft = 3 + s.rng.IntN(15)
		s.session = s.rng.Uint64() | 1
		s.landing = mix(s.session^0x1a4d)%10 < landers
		s.app = s.spa
		s.sessionRefused = false
		s.st.Sessions++
		s.short = s.shortVisits > 0 && s.rng.Float64() < s.shortVisits
		if s.short {
			s.pagesLeft = 1 + s.rng.IntN(4)
		}
	} else if s.short {
		s.now = s.now.Add(3*time.Second + time.Duration(s.rng.IntN(5000))*time.Millisecond)
	} else {
		s.now = s.now.Add(5*time.Second + expDur(s.rng, 25*time.Second))
	}
	if s.now.After(s.end) {
		return Request{}, false
	}
	s.pagesLeft--
	a := s.actor()
	item := s.w.Zipf.Sample(s.rng)
	landing, land := s.landing, s.now
	s.landing = false
	s.pending = s.pending[:0]
	if s.spa {
		return s.appNext(a, item, landing)
	}
	if landing {
		// The home page's asset and its widget's call, 4 s before the
		// first item's page.
		first := Request{At: land.Add(600 * time.Millisecond), Actor: a, Route: RouteReviews, ID: s.w.Recommended(&a)[0], IP: s.ip}
		if s.account != 0 && mix(s.session^0x9f1)%profileFirst == 0 {
			// the page's account menu asks about the person first
			first.Route, first.ID = RouteProfile, s.me
		}
		s.pending = append(s.pending,
			Request{At: land.Add(300 * time.Millisecond), Actor: a, Route: RouteAsset, IP: s.ip}, first)
		s.now = s.now.Add(4 * time.Second)
	}
	at := s.now
	page := Request{At: at, Actor: a, Route: RoutePage, ID: item, IP: s.ip}
	if landing {
		s.pending = append(s.pending, page)
	}
	s.pending = append(s.pending,
		Request{At: at.Add(300 * time.Millisecond), Actor: a, Route: RouteAsset, IP: s.ip},
		Request{At: at.Add(600 * time.Millisecond), Actor: a, Route: RouteReviews, ID: item, IP: s.ip})
	if s.rng.IntN(10) == 0 {
		s.pending = append(s.pending, Request{At: at.Add(2 * time.Second), Actor: a, Route: RouteProfile, ID: s.me, IP: s.ip})
	}
	if rs := s.w.reviewers[item]; len(rs) > 0 {
		if h := mix(s.session ^ uint64(item)<<20 ^ 0x7e71); h%reviewerClicks == 0 {
			// a reviewer the reviews showed, 3 s on
			s.pending = append(s.pending, Request{At: at.Add(3 * time.Second), Actor: a, Route: RouteProfile, ID: int(rs[(h>>8)%uint64(len(rs))]), IP: s.ip, Click: true})
		}
	}
	if landing {
		return Request{At: land, Actor: a, Route: RoutePage, ID: homePage, IP: s.ip}, true
	}
	return page, true
}

// appNext is Next on a single-page app: the app's page and script once
// a visit (its widget's call if the visit lands on it), then each item
// by its API call alone.
func (s *shopper) appNext(a identity.Actor, item int, landing bool) (Request, bool) {
	first := Request{At: s.now, Actor: a, Route: RouteReviews, ID: item, IP: s.ip}
	if s.app {
		s.app = false
		app := Request{At: s.now, Actor: a, Route: RoutePage, ID: homePage, IP: s.ip}
		s.pending = append(s.pending, Request{At: s.now.Add(300 * time.Millisecond), Actor: a, Route: RouteAsset, IP: s.ip})
		if landing {
			// A popular item, as the live demo's single-page app's people
			// ask: its app's page is a shell, and lineage is off there.
			widget := s.w.Zipf.Sample(rand.New(rand.NewPCG(s.session, 0x1a4d)))
			s.pending = append(s.pending, Request{At: s.now.Add(600 * time.Millisecond), Actor: a, Route: RouteReviews, ID: widget, IP: s.ip})
		}
		s.now = s.now.Add(4 * time.Second)
		first.At = s.now
		s.pending = append(s.pending, first)
		first = app
	}
	if s.rng.IntN(10) == 0 {
		s.pending = append(s.pending, Request{At: s.now.Add(2 * time.Second), Actor: a, Route: RouteProfile, ID: s.me, IP: s.ip})
	}
	return first, true
}

func (s *shopper) Done(r Request, o Outcome) {
	if o.Refused && r.Route == RouteReviews {
		// no reviewer to open
		s.pending = slices.DeleteFunc(s.pending, func(p Request) bool { return p.Click })
	}
	if s.began.IsZero() && routeKinds[r.Route] == detect.Record {
		s.began = r.At
	}
	s.st.done(s.id, s.account, r, o, &s.sessionRefused, !s.began.IsZero() && r.At.Sub(s.began) >= detect.StaysFor)
}

func (st *LegitStats) done(id int, account uint64, r Request, o Outcome, sessionRefused *bool, late bool) {
	st.Requests++
	if o.Crowd {
		st.Crowd++
	}
	if o.Refused {
		st.Refused++
		if late {
			st.RefusedLate++
		}
		if !*sessionRefused {
			*sessionRefused = true
			st.SessionsRefused++
		}
		if !st.refusedActor[id] {
			st.refusedActor[id] = true
			st.ActorsRefused++
		}
		return
	}
	st.Records += o.Records
	if account != 0 {
		st.accountRecords[account] += o.Records
		day := int(r.At.Sub(Start) / (24 * time.Hour))
		if st.accountDays[account] == nil {
			st.accountDays[account] = map[int]bool{}
		}
		st.accountDays[account][day] = true
	}
}

// agent is customer-service staff: from one office address, logged in,
// viewing a customer's profile every ~90 s through the working day: ~300
// distinct people a day each, which is legitimate.
type agent struct {
	w              *World
	st             *LegitStats
	rng            *rand.Rand
	id             int
	account        uint64
	now, end       time.Time
	day            int
	sessionRefused bool
}

const officeCS uint32 = 192<<24 | 0<<16 | 2<<8 | 10

func (g *agent) Next() (Request, bool) {
	if g.now.IsZero() {
		g.now = Start.Add(9 * time.Hour)
		g.st.Sessions++
	} else {
		g.now = g.now.Add(30*time.Second + expDur(g.rng, 60*time.Second))
	}
	if g.now.Sub(Start.Add(time.Duration(g.day)*24*time.Hour)) > 17*time.Hour { // after 17:00: next morning
		g.day++
		g.now = Start.Add(time.Duration(g.day)*24*time.Hour + 9*time.Hour)
		g.sessionRefused = false
		g.st.Sessions++
	}
	if g.now.After(g.end) {
		return Request{}, false
	}
	var a identity.Actor
	ipKeys(&a, officeCS)
	setKey(&a, identity.Account, g.account)
	setKey(&a, identity.Session, g.account<<8|uint64(g.day))
	setKey(&a, identity.Fingerprint, 3)
	return Request{At: g.now, Actor: a, Route: RouteProfile, ID: 1 + g.rng.IntN(g.w.Shop.Users), IP: officeCS}, true
}

func (g *agent) Done(r Request, o Outcome) { g.st.done(g.id, g.account, r, o, &g.sessionRefused, true) }

// crawler is a search engine's verified crawler on item pages: lots of
// requests, no personal records.
type crawler struct {
	st             *LegitStats
	rng            *rand.Rand
	id             int
	now, end       time.Time
	day            int
	sessionRefused bool
}

func (c *crawler) Next() (Request, bool) {
	c.now = c.now.Add(time.Second)
	if c.now.After(c.end) {
		return Request{}, false
	}
	if day := int(c.now.Sub(Start) / (24 * time.Hour)); day != c.day || c.st.Sessions == 0 {
		c.day = day // a crawl session a day
		c.st.Sessions++
		c.sessionRefused = false
	}
	var a identity.Actor
	ip := CrawlerAddress(c.rng.IntN(4))
	ipKeys(&a, ip)
	setKey(&a, identity.Fingerprint, 99)
	return Request{At: c.now, Actor: a, Route: RoutePage, ID: 1 + c.rng.IntN(1000), IP: ip, UA: detect.UASearchBot}, true
}

func (c *crawler) Done(r Request, o Outcome) { c.st.done(c.id, 0, r, o, &c.sessionRefused, true) }

// partner is an integration the platform signed up: from one address with
// its own account, it syncs 1,000 customer profiles an hour, around the clock.
// It is legitimate; a policy must allowlist it rather than block it.
type partner struct {
	w              *World
	st             *LegitStats
	id, n, day     int
	now, end       time.Time
	sessionRefused bool
}

func (p *partner) Next() (Request, bool) {
	p.now = Start.Add(time.Duration(p.n) * 3600 * time.Millisecond) // 1,000 an hour
	if p.now.After(p.end) {
		return Request{}, false
	}
	if day := int(p.now.Sub(Start) / (24 * time.Hour)); day != p.day || p.n == 0 {
		p.day = day
		p.st.Sessions++
		p.sessionRefused = false
	}
	p.n++
	var a identity.Actor
	ipKeys(&a, PartnerAddress)
	setKey(&a, identity.Account, 9_500_000)
	setKey(&a, identity.Fingerprint, 2001)
	return Request{At: p.now, Actor: a, Route: RouteProfile, ID: p.n%p.w.Shop.Users + 1, IP: PartnerAddress, UA: detect.UAOther}, true
}

func (p *partner) Done(r Request, o Outcome) {
	p.st.done(p.id, 9_500_000, r, o, &p.sessionRefused, true)
}
