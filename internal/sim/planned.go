package sim

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// Planned swarms, written by a thirteenth red team (a helper reading only
// the docs, 2026-12-06) after "pageless strangers are one crew, whatever
// the build": residential swarms planned in advance, address by address,
// each address made known first (warmed) if the plan says so, so that the
// sessions that then read there are not strangers.

// Warm-ups of an address, before its reading starts.
const (
	warmNone       = iota
	warmStay       // a throwaway session that loads nothing: a popular item's reviews, again 6-8 s on (it stayed)
	warmOnce       // the same with one call only (it never stayed)
	warmAsset      // a throwaway session that loads a popular item's page and a script, asks for its reviews, again 6-8 s on
	warmAssetOnce  // the same with one call only
	warmAssetShort // page and script, no call at all
)

// Fetches of the reading sessions.
const (
	fetchProfiles = iota // profiles by id at random (a list of ids)
	fetchReviews         // random items' reviews
	fetchDiluted         // random items' reviews, popular% of them popular items
)

type swarmPlan struct {
	n int // addresses
	// nat: the addresses are the carrier NATs' (cycled), among their people
	nat bool
	// builds: each address one of builds browser builds, from buildBase
	// (people's are 1-12); buildsRandom: drawn at random, else in turn
	builds       int
	buildBase    uint64
	buildsRandom bool
	start        time.Duration // from midnight
	every        time.Duration // address i starts at start + i×every (±50%)
	warm         int
	warmAhead    time.Duration // the warm-up's first request this long before the reading starts
	warmItem     int           // 0: a Zipf sample each; else this item
	// sessions: reading sessions per address, one after the other,
	// sessGap apart; cookieless: the reading calls carry no session
	sessions   int
	cookieless bool
	calls      int           // record calls per reading session
	gap        time.Duration // between a session's calls (±50%)
	sessGap    time.Duration
	// buildPerSession: each reading session on the next build (in turn),
	// whatever its address's
	buildPerSession bool
	assets          int // scripts each reading session loads before its calls
	fetch           int
	popular         int // fetchDiluted's share of popular items, in 100
	// paged: each reading session loads a popular item's page and a
	// script before its calls, and asks for that item's reviews first
	// (a fourteenth red team's, 2026-12-06); account: each reading
	// session signed in with a throwaway account
	paged, account bool
	// repage: a paged session loads a popular item's page and a script
	// again before every repage-th call after its first (0: never)
	repage int
	// stay: a paged session asks for its page's item's reviews again
	// 5.5 s after its first call, before its other calls (it stays)
	stay bool
}

func (p swarmPlan) build(w *World, rng *rand.Rand) []Request {
	var out []Request
	jit := func(d time.Duration) time.Duration {
		if d <= 0 {
			return 0
		}
		return time.Duration(float64(d) * (0.5 + rng.Float64()))
	}
	item := func() int {
		switch p.fetch {
		case fetchReviews:
			return 1 + rng.IntN(w.Shop.Items)
		case fetchDiluted:
			if rng.IntN(100) < p.popular {
				return w.Zipf.Sample(rng)
			}
			return 1 + rng.IntN(w.Shop.Items)
		}
		return 0
	}
	call := func() Request {
		if p.fetch == fetchProfiles {
			return Request{Route: RouteProfile, ID: 1 + rng.IntN(w.Shop.Users)}
		}
		return Request{Route: RouteReviews, ID: item()}
	}
	at := Start.Add(p.start)
	for i := range p.n {
		var ip uint32
		if p.nat {
			ip = NATAddress(i % DefaultPopulation().NATs)
		} else {
			ip = ip4(24+rng.IntN(170), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		}
		fp := p.buildBase + uint64(i%max(1, p.builds))
		if p.buildsRandom {
			fp = p.buildBase + uint64(rng.IntN(max(1, p.builds)))
		}
		add := func(t time.Time, sess uint64, r Request) {
			r.At, r.IP = t, ip
			ipKeys(&r.Actor, ip)
			setKey(&r.Actor, identity.Session, sess)
			setKey(&r.Actor, identity.Fingerprint, fp)
			out = append(out, r)
		}
		at = at.Add(jit(p.every))
		t := at.Add(-p.warmAhead)
		if p.warm != warmNone {
			ws := rng.Uint64() | 1
			wi := p.warmItem
			if wi == 0 {
				wi = w.Zipf.Sample(rng)
			}
			switch p.warm {
			case warmAsset, warmAssetOnce, warmAssetShort:
				add(t, ws, Request{Route: RoutePage, ID: wi})
				add(t.Add(200*time.Millisecond), ws, Request{Route: RouteAsset})
				t = t.Add(time.Second)
			}
			if p.warm != warmAssetShort {
				add(t, ws, Request{Route: RouteReviews, ID: wi})
			}
			if p.warm == warmStay || p.warm == warmAsset {
				add(t.Add(6*time.Second+jit(time.Second)), ws, Request{Route: RouteReviews, ID: wi})
			}
		}
		t = at
		for k := range max(1, p.sessions) {
			if p.buildPerSession {
				fp = p.buildBase + uint64(k%max(1, p.builds))
			}
			var s uint64
			if !p.cookieless {
				s = rng.Uint64() | 1
			}
			var account uint64
			if p.account {
				account = 20_000_000 + rng.Uint64N(1<<30)
			}
			read := func(t time.Time, r Request) {
				add(t, s, r)
				setKey(&out[len(out)-1].Actor, identity.Account, account)
			}
			for range p.assets {
				read(t, Request{Route: RouteAsset})
				t = t.Add(300 * time.Millisecond)
			}
			if p.paged {
				item := w.Zipf.Sample(rng)
				read(t, Request{Route: RoutePage, ID: item})
				read(t.Add(300*time.Millisecond), Request{Route: RouteAsset})
				t = t.Add(600 * time.Millisecond)
				read(t, Request{Route: RouteReviews, ID: item})
				if p.stay {
					t = t.Add(5500 * time.Millisecond)
					read(t, Request{Route: RouteReviews, ID: item})
				}
				t = t.Add(jit(p.gap))
			}
			for c := range p.calls {
				if p.paged && p.repage > 0 && c > 0 && c%p.repage == 0 {
					read(t, Request{Route: RoutePage, ID: w.Zipf.Sample(rng)})
					read(t.Add(300*time.Millisecond), Request{Route: RouteAsset})
					t = t.Add(600 * time.Millisecond)
				}
				read(t, call())
				t = t.Add(jit(p.gap))
			}
			t = t.Add(jit(p.sessGap))
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].At.Before(out[b].At) })
	return out
}

// planned makes a campaign that replays p's requests.
func planned(w *World, rng *rand.Rand, p swarmPlan) *campaign {
	c := &campaign{plan: p.build(w, rng)}
	if len(c.plan) > 0 && c.plan[0].At.Before(Start.Add(p.start)) {
		c.warmAhead = Start.Add(p.start).Sub(c.plan[0].At)
	}
	c.startAfter = p.start
	return c
}

// nextPlanned is campaign.Next for a planned campaign.
func (c *campaign) nextPlanned() (Request, bool) {
	if c.pi >= len(c.plan) {
		return Request{}, false
	}
	r := c.plan[c.pi]
	c.pi++
	if r.At.After(c.end) {
		return Request{}, false
	}
	c.now = r.At
	return r, true
}
