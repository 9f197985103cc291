package sim

import (
	"math/rand/v2"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
)

// CampaignStats is the scraper side of the scoreboard.
type CampaignStats struct {
	Requests  int
	Refused   int
	Records   int // user records taken
	Attempted int // user records its requests asked for: what it would have taken unprotected
	hours     []hourStat
}

type hourStat struct {
	req, refused, records int
	firstRefusal          time.Time
}

// Containment is the first hour in which at least 90% of the campaign's
// requests were refused: when it was contained, and the records it had
// taken by the end of that hour.
func (s *CampaignStats) Containment() (at time.Duration, before int, ok bool) {
	cum := 0
	for _, hs := range s.hours {
		cum += hs.records
		if hs.req > 0 && hs.refused*10 >= hs.req*9 {
			return hs.firstRefusal.Sub(Start), cum, true
		}
	}
	return 0, cum, false
}

func (s *CampaignStats) done(r Request, o Outcome, attempted int) {
	h := int(r.At.Sub(Start) / time.Hour)
	for len(s.hours) <= h {
		s.hours = append(s.hours, hourStat{})
	}
	hs := &s.hours[h]
	s.Requests++
	hs.req++
	s.Attempted += attempted
	if o.Refused {
		s.Refused++
		hs.refused++
		if hs.firstRefusal.IsZero() {
			hs.firstRefusal = r.At
		}
		return
	}
	s.Records += o.Records
	hs.records += o.Records
}

// campaign is a scraper: addresses (with optional accounts), a client
// fingerprint, a pace, and what it fetches.
type campaign struct {
	w        *World
	st       *CampaignStats
	rng      *rand.Rand
	ips      []uint32
	accounts []uint64 // parallel to ips; nil for none
	fp       uint64
	interval time.Duration
	now, end time.Time
	n        int
	fetch    func(c *campaign) Request // fills Route, ID, Hit
}

func (c *campaign) Next() (Request, bool) {
	c.now = c.now.Add(c.interval)
	if c.now.After(c.end) {
		return Request{}, false
	}
	r := c.fetch(c)
	i := c.n % len(c.ips) // round robin over its addresses
	c.n++
	ipKeys(&r.Actor, c.ips[i])
	if c.accounts != nil {
		setKey(&r.Actor, identity.Account, c.accounts[i])
	}
	setKey(&r.Actor, identity.Fingerprint, c.fp)
	r.At, r.IP = c.now, c.ips[i]
	r.UA = detect.UABrowser
	if c.fp == fpPython {
		r.UA = detect.UAAutomation
	}
	return r, true
}

func (c *campaign) Done(r Request, o Outcome) {
	attempted := 0
	switch r.Route {
	case RouteReviews:
		attempted = len(c.w.reviewers[r.ID])
	case RouteProfile:
		attempted = 1
	case RouteLookup:
		if r.Hit {
			attempted = 1
		}
	}
	c.st.done(r, o, attempted)
}

// fetchers
func profilesInOrder(c *campaign) Request {
	return Request{Route: RouteProfile, ID: c.n%c.w.Shop.Users + 1}
}

func reviewsInOrder(c *campaign) Request {
	return Request{Route: RouteReviews, ID: c.n%c.w.Shop.Items + 1}
}

// reviewsThenProfiles alternates an item's reviews and a reviewer's profile,
// as the Taobao crawler took comments and users.
func reviewsThenProfiles(c *campaign) Request {
	if c.n%2 == 0 {
		return Request{Route: RouteReviews, ID: (c.n/2)%c.w.Shop.Items + 1}
	}
	revs := c.w.reviewers[(c.n/2)%c.w.Shop.Items+1]
	return Request{Route: RouteProfile, ID: int(revs[c.rng.IntN(len(revs))])}
}

// lookupGuesses enumerates generated numbers: one in twenty is a user's.
func lookupGuesses(c *campaign) Request {
	hit := c.rng.IntN(20) == 0
	return Request{Route: RouteLookup, ID: 1 + c.rng.IntN(c.w.Shop.Users), Hit: hit}
}

// Fingerprints: a scripting library, and the one browser build a crew shares.
const (
	fpPython  = 1001
	fpBrowser = 5 // the same as some shoppers: a common browser
)

// Scenario is a named campaign and how long it runs.
type Scenario struct {
	Name string
	Desc string
	Days int
	make func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign
}

func spread(n int, rng *rand.Rand, perNet int) []uint32 {
	ips := make([]uint32, n)
	for i := range ips {
		net := i / perNet
		ips[i] = ip4(20+net%200, (net/200)%256, rng.IntN(256), 1+i%perNet)
	}
	return ips
}

func seqAccounts(n int, base uint64) []uint64 {
	a := make([]uint64, n)
	for i := range a {
		a[i] = base + uint64(i)
	}
	return a
}

// Scenarios are the campaigns of the scoreboard, in order.
var Scenarios = []Scenario{
	{Name: "naive", Desc: "1 address, sequential profiles, 5 req/s, python-requests", Days: 1,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			return &campaign{ips: []uint32{ip4(203, 0, 113, 66)}, fp: fpPython, interval: 200 * time.Millisecond, fetch: profilesInOrder}
		}},
	{Name: "taobao", Desc: "~53 records/s for 30 days from 8 addresses with an account each, browser UA, reviews and profiles", Days: 30,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			// a review page carries ~7.5 people and a profile 1: 12.5 req/s ≈ 53 records/s
			return &campaign{ips: spread(8, rng, 1), accounts: seqAccounts(8, 7_000_000), fp: fpBrowser, interval: 80 * time.Millisecond, fetch: reviewsThenProfiles}
		}},
	{Name: "rotating-ips", Desc: "1,000 residential-proxy addresses in 250 /24s, one shared fingerprint, 3 req/s of reviews", Days: 30,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			return &campaign{ips: spread(1000, rng, 4), fp: fpBrowser, interval: time.Second / 3, fetch: reviewsInOrder}
		}},
	{Name: "account-farm", Desc: "200 accounts on 200 addresses, each a review page every 2 minutes", Days: 30,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			return &campaign{ips: spread(200, rng, 1), accounts: seqAccounts(200, 8_000_000), fp: fpBrowser, interval: 600 * time.Millisecond, fetch: reviewsInOrder}
		}},
	{Name: "low-and-slow", Desc: "500 addresses, one profile a minute each (60/h, under any per-address budget), for 30 days", Days: 30,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			return &campaign{ips: spread(500, rng, 1), fp: fpBrowser, interval: 120 * time.Millisecond, fetch: profilesInOrder}
		}},
	{Name: "phone-lookup", Desc: "contact lookup with generated numbers from 4 addresses, 20 req/s, 1 in 20 a hit", Days: 3,
		make: func(w *World, st *CampaignStats, rng *rand.Rand, end time.Time) *campaign {
			return &campaign{ips: spread(4, rng, 4), fp: fpPython, interval: 50 * time.Millisecond, fetch: lookupGuesses}
		}},
	{Name: "legit-only", Desc: "no campaign: the false-positive baseline", Days: 30},
}

// Campaign returns the scenario's campaign source, or nil for legit-only.
func (sc Scenario) Campaign(w *World, seed uint64, end time.Time) (Source, *CampaignStats) {
	if sc.make == nil {
		return nil, nil
	}
	st := &CampaignStats{}
	rng := rand.New(rand.NewPCG(seed, 0xca))
	c := sc.make(w, st, rng, end)
	c.w, c.st, c.rng, c.now, c.end = w, st, rng, Start, end
	return c, st
}
