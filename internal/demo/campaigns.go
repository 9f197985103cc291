package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/shop"
)

// The campaign classes that took everything from a routes-only config
// when the product was tried from outside (issue 13), live. Their
// parameters are drawn from the seed, so a run checks a class, not one
// instance tuned to pass.

// PartnerAddress is the partner integration's address: the demo's config
// allowlists it, as an operator would.
const PartnerAddress = "198.51.100.20"

func campaignScores() []*Score {
	return []*Score{
		{Name: "fast-session", Desc: "one session cookie, browser headers, 10-30 req/s: random items' reviews, then reviewers' profiles"},
		{Name: "account-crew", Desc: "24-48 addresses in 3-6 /24s, an account and a session each, ~2 req/s each of random items' reviews, an asset now and then"},
		{Name: "page-crew", Desc: "the account crew of a reader of the docs: 24-48 accounts, each loads an item's page and script before its reviews, ~1 item/s each"},
		{Name: "page-crew-reload", Desc: "page-crew of a reader of the docs on reloads: 24-48 accounts, each asks for 30-70% of its items' reviews a second time, 0.2-0.8 s after the first"},
		{Name: "page-crew-paced", Desc: "red team: page-crew with more members, a little slower: 50-70 accounts in 4-6 /24s, each loads an item's page before its reviews, 1.2-2.1 s between items, half of them popular ones"},
		{Name: "slow-crew", Desc: "the account crew at a person's pace: 80-200 accounts in 8-20 /24s, a call every 3-8 s each (never rapid), random items' reviews, an asset now and then"},
		{Name: "swarm", Desc: "1,000-3,000 addresses in random /16s, 5-10 profiles each, no cookie, one browser header set"},
		{Name: "session-swarm", Desc: "the swarm of a reader of the docs: 1,000-3,000 addresses in random /16s, each a session of its own that loads a script first, then 5-10 profiles"},
		{Name: "build-swarm", Desc: "red team: the swarm over people's browser builds: 1,000-3,000 addresses in random /16s, each with one of 6-12 builds' headers (the shoppers' among them) and a made-up session cookie (or, in half the runs, none), nothing loaded, 5-10 profiles each"},
		{Name: "warm-swarm", Desc: "red team: build-swarm whose every address is made a home first: a throwaway session loads a popular item's page and a script, asks for its reviews, and again 6-8 s on; 10 s after it a session with a made-up cookie loads a script (or, in half the runs, nothing) and reads 5-10 profiles 1.5-4.5 s apart (a person's pace, as the simulator's class); 5 addresses a second"},
		{Name: "page-swarm", Desc: "red team: build-swarm whose every reading session loads a popular item's page and a script and asks for its reviews first, as a person's visit does, then reads 5-10 profiles by id (or, in half the runs, random items' reviews) 1.5-4.5 s apart; 5 addresses a second"},
		{Name: "page-swarm-once", Desc: "page-swarm whose sessions each read one profile by id after the popular item's reviews, five sessions on each address one after the other (1 s apart); 5 addresses a second"},
		{Name: "account-swarm", Desc: "red team: build-swarm's addresses on the shoppers' browser build, each a session signed in with a throwaway account, nothing loaded, 5-10 profiles by id 1.5-4.5 s apart; 5 addresses a second"},
		{Name: "cookie-churn", Desc: "one address, browser headers, 10-30 req/s of random items' reviews, a fresh session cookie for every 2-4 of them, each loading 1-2 scripts first"},
		{Name: "churn-mixed", Desc: "the cookie churner of a reader of the docs: 30-60% of its items popular ones, so that fewer of its responses are cold"},
		{Name: "office-churn", Desc: "red team: the churner of a reader of the docs on an address of the office, among the people behind it: 10-30 req/s, a fresh session every 2-4 calls, each loading 1-2 scripts first, 30-60% of its items popular ones"},
		{Name: "office-paged", Desc: "red team: office-churn as a reader of the docs runs it once sessions that ask about their page's item are judged apart: each item's page before its reviews, a fresh session every 1-2 items, on another address of the office"},
		{Name: "nat-churn", Desc: "red team: the churner of a reader of the docs on a carrier-NAT address, among the hundreds of people behind it: 20-50 req/s, a fresh session every 2-4 calls, each loading 1-2 scripts first, 30-60% of its items popular ones"},
		{Name: "nat-landing", Desc: "red team: nat-churn as a reader of the docs runs it once sessions that load a script but no page are judged apart: each session loads the home page, then 1-2 scripts, then 2-4 calls, on another carrier-NAT address"},
		{Name: "nat-once", Desc: "red team: nat-landing as a reader of the docs runs it once a landing session's second call is judged: each session loads the home page, then 1-2 scripts, then one call, on a third carrier-NAT address"},
		{Name: "nat-stay", Desc: "red team: nat-once as a reader of the docs runs it once a landing session's second call with nothing loaded since is judged: one session in 3-9 loads a script and calls again 6-30 s on, on a fourth carrier-NAT address"},
		{Name: "nat-named", Desc: "red team: nat-once as a reader of the docs runs it once a landing session's first call is judged against what its pages named: its one call is about one of the twelve items the home page recommended the session, on a fifth carrier-NAT address"},
		{Name: "paced-pages", Desc: "red team: 60-150 sessions (fewer among fewer than 3,000 people), each on an address of its own in random /16s, no account, each item's page, stylesheet and script before its reviews, 2.5-5 s between items, random items"},
		{Name: "console-crew", Desc: "red team: 150-300 accounts (fewer among fewer than 3,000 people), ten to an address, each a session that loads a script once, then a random item's reviews through the API every 10.5-14 s (a clerk's pace)"},
		{Name: "console-landing", Desc: "console-crew as a reader of the docs runs it once sessions that load a script and no page are pooled: each session loads the home page first"},
		{Name: "partner-turns", Desc: "the allowlisted partner: syncs ~3 profiles/s, then harvests at 20-40 req/s"},
		{Name: "net-churn", Desc: "red team: a fresh session for every cycle (1-2 scripts, then 2-3 reviews calls of random items), each on the next of the 254 addresses of one /24, 150-400 req/s, from the proxy's 65th second"},
		{Name: "landing-crowd", Desc: "red team: sessions over 300-1,000 /24s in random /16s, each on an address of its own, as people who land on the home page: the page, a script and a call, then 2-3 calls more 6-20 s on, each after a script; 2-8 new sessions a second (fewer among fewer than 3,000 people), 30-60% of its items popular ones"},
		{Name: "spread-churn", Desc: "red team: net-churn over 30 /24s in random /16s, each cycle on the next /24 (under fifty new sessions in 10 s on each), 150-400 req/s, from the proxy's 65th second"},
	}
}

func (t *Traffic) score(name string) *Score {
	for _, s := range t.Scores {
		if s.Name == name {
			return s
		}
	}
	panic("demo: no score " + name)
}

// campaigns starts each class's goroutines with run.
func (t *Traffic) campaigns(ctx context.Context, run func(class string, fn func()), rng *rand.Rand) {
	fastRate := 10 + rng.Float64()*20
	fastIP := fmt.Sprintf("198.18.%d.%d", 40+rng.IntN(50), 1+rng.IntN(250))
	fastSID := &http.Cookie{Name: "sid", Value: fmt.Sprintf("f-%x", rng.Uint64())}
	fastRng := rand.New(rand.NewPCG(rng.Uint64(), 1)) // drawn here: rng is this goroutine's
	run("fast-session", func() { t.fastSession(ctx, fastRng, fastRate, fastIP, fastSID) })

	members, nets := 24+rng.IntN(25), 3+rng.IntN(4)
	for i := range members {
		ip := fmt.Sprintf("45.%d.%d.%d", 10+i%nets*7, 3*(i%nets)+1, 10+i)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("c%d-%x", i, rng.Uint64())}
		account, seed := fmt.Sprintf("crew-%d", i), rng.Uint64()
		assetEvery := 8 + rng.IntN(8)
		run("account-crew", func() { t.crewMember(ctx, rand.New(rand.NewPCG(seed, 2)), ip, sid, account, assetEvery) })
	}

	members, nets = 24+rng.IntN(25), 3+rng.IntN(4)
	for i := range members {
		ip := fmt.Sprintf("46.%d.%d.%d", 10+i%nets*7, 3*(i%nets)+1, 10+i)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("p%d-%x", i, rng.Uint64())}
		account, seed := fmt.Sprintf("page-crew-%d", i), rng.Uint64()
		run("page-crew", func() { t.pageCrewMember(ctx, rand.New(rand.NewPCG(seed, 4)), ip, sid, account) })
	}

	members, nets = 80+rng.IntN(121), 8+rng.IntN(13)
	each := time.Duration(3+rng.IntN(6)) * time.Second
	for i := range members {
		ip := fmt.Sprintf("44.%d.%d.%d", 10+i%nets*7, 3*(i%nets)+1, 10+i%200)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("w%d-%x", i, rng.Uint64())}
		account, seed := fmt.Sprintf("slow-crew-%d", i), rng.Uint64()
		assetEvery := 8 + rng.IntN(8)
		run("slow-crew", func() { t.slowCrewMember(ctx, rand.New(rand.NewPCG(seed, 5)), ip, sid, account, assetEvery, each) })
	}

	n, per := 1000+rng.IntN(2001), 5+rng.IntN(6)
	ips := make([]string, n)
	for i := range ips {
		ips[i] = residentialAddr(rng)
	}
	swarmSeed := rng.Uint64()
	run("swarm", func() { t.swarm(ctx, rand.New(rand.NewPCG(swarmSeed, 3)), ips, per) })

	// new variables: the swarm's goroutine holds n and per
	sn, sper := 1000+rng.IntN(2001), 5+rng.IntN(6)
	sips := make([]string, sn)
	sids := make([]*http.Cookie, sn)
	for i := range sips {
		sips[i] = residentialAddr(rng)
		sids[i] = &http.Cookie{Name: "sid", Value: fmt.Sprintf("ss%d-%x", i, rng.Uint64())}
	}
	sessionSwarmSeed := rng.Uint64()
	run("session-swarm", func() { t.sessionSwarm(ctx, rand.New(rand.NewPCG(sessionSwarmSeed, 7)), sips, sids, sper) })

	// Drawn from a source of its own, added later than the others: the
	// classes drawn after it keep the parameters they had.
	brng := rand.New(rand.NewPCG(t.o.Seed, 0xb5))
	bn, bper, nbuilds, cookies := 1000+brng.IntN(2001), 5+brng.IntN(6), 6+brng.IntN(7), brng.IntN(2) == 0
	bips, bbuilds, builds := make([]string, bn), make([]build, bn), browserBuilds()
	var bsids []*http.Cookie
	for i := range bips {
		bips[i] = residentialAddr(brng)
		bbuilds[i] = builds[brng.IntN(nbuilds)]
		if cookies {
			bsids = append(bsids, &http.Cookie{Name: "sid", Value: fmt.Sprintf("bs%d-%x", i, brng.Uint64())})
		}
	}
	run("build-swarm", func() { t.buildSwarm(ctx, brng, bips, bbuilds, bsids, bper) })

	// Its own source too (added later still).
	wrng := rand.New(rand.NewPCG(t.o.Seed, 0x3a))
	wper, wbuilds, wscript := 5+wrng.IntN(6), 6+wrng.IntN(7), wrng.IntN(2) == 0
	wseed := wrng.Uint64()
	run("warm-swarm", func() { t.warmSwarm(ctx, rand.New(rand.NewPCG(wseed, 0x3b)), builds[:wbuilds], wscript, wper) })

	// Its own source too (added later still).
	prng := rand.New(rand.NewPCG(t.o.Seed, 0x9a))
	pper, pbuilds, previews := 5+prng.IntN(6), 6+prng.IntN(7), prng.IntN(2) == 0
	pseed := prng.Uint64()
	run("page-swarm", func() { t.pageSwarm(ctx, rand.New(rand.NewPCG(pseed, 0x9b)), builds[:pbuilds], previews, pper) })

	// Its own source too (added later still).
	orng := rand.New(rand.NewPCG(t.o.Seed, 0x9d))
	obuilds, oseed := 6+orng.IntN(7), orng.Uint64()
	run("page-swarm-once", func() { t.pageSwarmOnce(ctx, rand.New(rand.NewPCG(oseed, 0x9e)), builds[:obuilds]) })

	// Its own source too (added later still), on the shoppers' build
	// only: the demo's people all send one, and with 6-12 builds the
	// calls of the builds no person sends were a rapid cold sweep of
	// their own, held at 7-22 s (live, 2026-12-07), where the simulated
	// day's, over the builds people use, is never held.
	arng := rand.New(rand.NewPCG(t.o.Seed, 0xa5))
	aper, aseed := 5+arng.IntN(6), arng.Uint64()
	run("account-swarm", func() { t.accountSwarm(ctx, rand.New(rand.NewPCG(aseed, 0xa6)), builds[:1], aper) })

	// Its own source too: a response served again is no evidence of a
	// key's (2026-12-07), and this crew asks for it to look warmer.
	rrng := rand.New(rand.NewPCG(t.o.Seed, 0xc1))
	rmembers, rnets, again := 24+rrng.IntN(25), 3+rrng.IntN(4), 30+rrng.IntN(41)
	for i := range rmembers {
		ip := fmt.Sprintf("43.%d.%d.%d", 10+i%rnets*7, 3*(i%rnets)+1, 10+i)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("r%d-%x", i, rrng.Uint64())}
		account, seed := fmt.Sprintf("reload-crew-%d", i), rrng.Uint64()
		run("page-crew-reload", func() {
			t.pageCrewMemberAgain(ctx, rand.New(rand.NewPCG(seed, 0xc2)), "page-crew-reload", ip, sid, account, again)
		})
	}

	// The ninth red team's crew: more members, a little slower, so
	// that each is rapid late or never (its own source too).
	qrng := rand.New(rand.NewPCG(t.o.Seed, 0xc3))
	qmembers, qnets := 50+qrng.IntN(21), 4+qrng.IntN(3)
	qzipf := shop.NewZipf(t.o.Items, 1.1)
	for i := range qmembers {
		ip := fmt.Sprintf("42.%d.%d.%d", 10+i%qnets*7, 3*(i%qnets)+1, 10+i)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("q%d-%x", i, qrng.Uint64())}
		account, seed := fmt.Sprintf("paced-crew-%d", i), qrng.Uint64()
		run("page-crew-paced", func() {
			rng := rand.New(rand.NewPCG(seed, 0xc4))
			t.pagedPacedMember(ctx, rng, ip, sid, account, t.mixedItems(rng, qzipf, 50))
		})
	}

	churnRate, churnAssets := 10+rng.Float64()*20, 1+rng.IntN(2)
	churnEvery := churnAssets + 2 + rng.IntN(3)
	churnIP := fmt.Sprintf("198.18.%d.%d", 100+rng.IntN(50), 1+rng.IntN(250))
	churnRng := rand.New(rand.NewPCG(rng.Uint64(), 8))
	run("cookie-churn", func() {
		t.cookieChurn(ctx, t.score("cookie-churn"), churnRng, churnRate, churnEvery, churnAssets, churnIP, func() int { return 1 + churnRng.IntN(t.o.Items) })
	})
	mixRate, mixAssets, mixPopular := 10+rng.Float64()*20, 1+rng.IntN(2), 30+rng.IntN(31)
	mixEvery := mixAssets + 2 + rng.IntN(3)
	mixIP := fmt.Sprintf("198.18.%d.%d", 150+rng.IntN(50), 1+rng.IntN(250))
	mixRng := rand.New(rand.NewPCG(rng.Uint64(), 9))
	zipf := shop.NewZipf(t.o.Items, 1.1) // the shoppers' popularity
	run("churn-mixed", func() {
		t.cookieChurn(ctx, t.score("churn-mixed"), mixRng, mixRate, mixEvery, mixAssets, mixIP, t.mixedItems(mixRng, zipf, mixPopular))
	})

	// Two classes a red team (a helper reading only the README and docs)
	// found taking over 10,000 records in 90 s, never refused. Sized for
	// the scoreboard's 3,000 people, and smaller among fewer: at full
	// size beside CI's 90 shoppers under the race detector they were
	// most of the load, and the other classes' pacing went with it.
	scale := min(1, float64(t.o.Shoppers)/3000)
	for range max(1, int(float64(60+rng.IntN(91))*scale)) {
		ip := residentialAddr(rng)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("pp-%x", rng.Uint64())}
		seed := rng.Uint64()
		run("paced-pages", func() { t.pacedPages(ctx, rand.New(rand.NewPCG(seed, 10)), ip, sid) })
	}
	t.consoleCrew(ctx, run, rng, scale, false)
	// console-crew once pageless sessions are pooled (detect.pagelessPool):
	// the home page first. Drawn apart, so that the other classes are
	// what they were.
	t.consoleCrew(ctx, run, rand.New(rand.NewPCG(t.o.Seed, 17)), scale, true)

	harvest := 20 + rng.Float64()*20
	run("partner-turns", func() { t.partner(ctx, harvest) })

	// The second red team's churner among people (on a carrier NAT's
	// address there, where it out-called 270 shoppers): here on an
	// office address, which one or two of the office's shoppers use, so
	// that a churner at 10-30 req/s out-calls them.
	offRate, offAssets, offPopular := 10+rng.Float64()*20, 1+rng.IntN(2), 30+rng.IntN(31)
	offEvery := offAssets + 2 + rng.IntN(3)
	offN := max(1, min(100, t.o.Shoppers/10))
	offAt := 1 + rng.IntN(offN)
	offIP := fmt.Sprintf("192.0.2.%d", offAt)
	offRng := rand.New(rand.NewPCG(rng.Uint64(), 12))
	run("office-churn", func() {
		t.cookieChurn(ctx, t.score("office-churn"), offRng, offRate, offEvery, offAssets, offIP, t.mixedItems(offRng, zipf, offPopular))
	})

	// office-churn once the sessions that ask about their page's item
	// are judged apart from the address's other young sessions
	// (detect.pagedKey): each item's page first, on another office
	// address that one or two of the office's shoppers use.
	// Drawn apart, so that the other classes are what they were.
	pagedRng := rand.New(rand.NewPCG(t.o.Seed, 14))
	pagedRate, pagedAssets, pagedPopular := 10+pagedRng.Float64()*20, 1+pagedRng.IntN(2), 30+pagedRng.IntN(31)
	pagedEvery := pagedAssets + 2*(1+pagedRng.IntN(2))
	pagedIP := fmt.Sprintf("192.0.2.%d", offAt%offN+1)
	run("office-paged", func() {
		t.churn(ctx, t.score("office-paged"), pagedRng, pagedRate, pagedEvery, pagedAssets, pagedIP, t.mixedItems(pagedRng, zipf, pagedPopular), churnItemPages, nil)
	})

	// A tenth red team's churner on a busy carrier-NAT address, among
	// hundreds of people whose sessions outlive their youth: never
	// refused at 20-50 sessions a second in its harness (2026-12-03).
	natRng := rand.New(rand.NewPCG(t.o.Seed, 15))
	natRate, natAssets, natPopular := 20+natRng.Float64()*30, 1+natRng.IntN(2), 30+natRng.IntN(31)
	natEvery := natAssets + 2 + natRng.IntN(3)
	natK := natRng.IntN(t.o.NATs)
	natIP := fmt.Sprintf("100.64.%d.%d", natK/250, natK%250+1)
	run("nat-churn", func() {
		t.cookieChurn(ctx, t.score("nat-churn"), natRng, natRate, natEvery, natAssets, natIP, t.mixedItems(natRng, zipf, natPopular))
	})
	// nat-churn once script-only sessions are judged apart
	// (detect.pagelessKey): the home page first, on the next NAT address.
	landRng := rand.New(rand.NewPCG(t.o.Seed, 16))
	landRate, landAssets, landPopular := 20+landRng.Float64()*30, 1+landRng.IntN(2), 30+landRng.IntN(31)
	landEvery := 1 + landAssets + 2 + landRng.IntN(3)
	landK := (natK + 1) % t.o.NATs
	landIP := fmt.Sprintf("100.64.%d.%d", landK/250, landK%250+1)
	run("nat-landing", func() {
		t.churn(ctx, t.score("nat-landing"), landRng, landRate, landEvery, landAssets, landIP, t.mixedItems(landRng, zipf, landPopular), churnLanding, nil)
	})

	// nat-landing once a landing session's second call reads as pageless
	// (46c3ee9) and a landing session's first call on a peopled address
	// is spared the address's churn (2716c07): one call per session, as
	// the people who land on the home page and leave make, on the next
	// NAT address but one.
	onceRng := rand.New(rand.NewPCG(t.o.Seed, 17))
	onceRate, onceAssets, oncePopular := 20+onceRng.Float64()*30, 1+onceRng.IntN(2), 30+onceRng.IntN(31)
	onceK := (natK + 2) % t.o.NATs
	onceIP := fmt.Sprintf("100.64.%d.%d", onceK/250, onceK%250+1)
	run("nat-once", func() {
		t.churn(ctx, t.score("nat-once"), onceRng, onceRate, 1+onceAssets+1, onceAssets, onceIP, t.mixedItems(onceRng, zipf, oncePopular), churnLanding, nil)
	})

	// nat-once as a reader of the docs runs it once a landing session's
	// first call is judged against the items its pages named (id
	// lineage): its one call is about an item the home page recommended
	// the session, on the fifth NAT address. Drawn apart, so that the
	// other classes are what they were.
	namedRng := rand.New(rand.NewPCG(t.o.Seed, 20))
	namedRate, namedAssets := 20+namedRng.Float64()*30, 1+namedRng.IntN(2)
	namedK := (natK + 4) % t.o.NATs
	namedIP := fmt.Sprintf("100.64.%d.%d", namedK/250, namedK%250+1)
	run("nat-named", func() {
		t.churn(ctx, t.score("nat-named"), namedRng, namedRate, 1+namedAssets+1, namedAssets, namedIP, nil, churnNamed, nil)
	})

	// nat-once as a reader of the docs runs it once a landing session
	// whose second call comes with nothing loaded since no longer stays
	// (3f6b6e2): one session in 3-9 loads a script and calls again 6-30 s
	// on, so that the address's sessions outlive their youth; on the
	// fourth NAT address.
	stayRng := rand.New(rand.NewPCG(t.o.Seed, 18))
	stayRate, stayAssets, stayPopular := 20+stayRng.Float64()*30, 1+stayRng.IntN(2), 30+stayRng.IntN(31)
	stay := &lingering{every: 3 + stayRng.IntN(7), assets: 1, after: 6*time.Second + time.Duration(stayRng.IntN(25))*time.Second}
	stayK := (natK + 3) % t.o.NATs
	stayIP := fmt.Sprintf("100.64.%d.%d", stayK/250, stayK%250+1)
	run("nat-stay", func() {
		t.churn(ctx, t.score("nat-stay"), stayRng, stayRate, 1+stayAssets+1, stayAssets, stayIP, t.mixedItems(stayRng, zipf, stayPopular), churnLanding, stay)
	})

	// The sixth red team's churner over the 254 addresses of one /24 (it
	// took 47,433 records in 30 s at 2,400 requests a second), here at
	// what the demo's machine has to spare. It starts once the proxy has
	// run past its first minute, which a surge of arrivals is forgiven
	// (everyone already about arrives at once when a proxy starts).
	netRate, netAssets, netCalls := 150+rng.Float64()*250, 1+rng.IntN(2), 2+rng.IntN(2)
	netPrefix, netSeed := fmt.Sprintf("198.19.%d", 1+rng.IntN(250)), rng.Uint64()
	run("net-churn", func() {
		t.netChurn(ctx, t.score("net-churn"), rand.New(rand.NewPCG(netSeed, 13)), netRate, netAssets, netCalls, []string{netPrefix})
	})
	// A seventh red team's: the same churner over /24s in random /16s,
	// each under fifty new sessions in 10 s.
	spreadRate, spreadAssets, spreadCalls := 150+rng.Float64()*250, 1+rng.IntN(2), 2+rng.IntN(2)
	spreadSeed := rng.Uint64()
	var spreadPrefixes []string
	for i := range spreadNets {
		spreadPrefixes = append(spreadPrefixes, fmt.Sprintf("%d.%d.%d", 24+rng.IntN(70), rng.IntN(256), 3*i+1))
	}
	run("spread-churn", func() {
		t.netChurn(ctx, t.score("spread-churn"), rand.New(rand.NewPCG(spreadSeed, 14)), spreadRate, spreadAssets, spreadCalls, spreadPrefixes)
	})

	// The crowd stop 44 left unmeasured (2026-12-04): residential
	// proxies' addresses, one session each, each a person landing on the
	// home page as far as its requests tell.
	crowdRng := rand.New(rand.NewPCG(t.o.Seed, 19))
	crowd := landingCrowd{births: max(0.5, (2+crowdRng.Float64()*6)*scale), calls: 2 + crowdRng.IntN(2),
		after: 6*time.Second + time.Duration(crowdRng.IntN(15))*time.Second, item: t.mixedItems(crowdRng, zipf, 30+crowdRng.IntN(31))}
	for range 300 + crowdRng.IntN(701) {
		crowd.nets = append(crowd.nets, fmt.Sprintf("%d.%d.%d", 24+crowdRng.IntN(170), crowdRng.IntN(256), crowdRng.IntN(256)))
	}
	run("landing-crowd", func() { t.landingCrowd(ctx, crowdRng, crowd) })
}

// landingCrowd is a crowd of sessions on residential proxies' addresses,
// a fresh one each (the next /24 of nets, the next address in it), each
// landing on the home page: the page, a script and a call, then calls
// more, each after a script, after apart. births: new sessions a second.
type landingCrowd struct {
	births float64
	calls  int
	after  time.Duration
	nets   []string
	item   func() int
}

func (t *Traffic) landingCrowd(ctx context.Context, rng *rand.Rand, c landingCrowd) {
	s := t.score("landing-crowd")
	var wg sync.WaitGroup
	defer wg.Wait()
	paced(ctx, c.births, func(n int) {
		ip := fmt.Sprintf("%s.%d", c.nets[n%len(c.nets)], 1+n/len(c.nets)%254)
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("lc-%x", rng.Uint64())}
		items := make([]int, 1+c.calls)
		for i := range items {
			items[i] = c.item()
		}
		wg.Go(func() {
			t.fetch(ctx, s, "/", ip, browserUA, sid, "", nil)
			for i, id := range items {
				if i > 0 && !sleep(ctx, c.after) {
					return
				}
				t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, "", nil)
				t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", id), ip, browserUA, sid, "", reviewers)
			}
		})
	})
}

// spreadNets: the /24s spread-churn's sessions are spread over.
const spreadNets = 30

// netChurn is the sixth red team's churner: eight goroutines making, in
// all, rate requests a second in cycles of a fresh session on the next
// /24 of prefixes and the next address in it: assets scripts, then calls
// reviews of random items.
func (t *Traffic) netChurn(ctx context.Context, s *Score, rng *rand.Rand, rate float64, assets, calls int, prefixes []string) {
	if !sleep(ctx, max(0, t.o.ChurnersAt-t.o.ScrapersAfter)) {
		return
	}
	const workers = 8
	var next atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			paced(ctx, rate/workers/float64(assets+calls), func(int) {
				n := next.Add(1)
				ip := fmt.Sprintf("%s.%d", prefixes[n%uint64(len(prefixes))], 1+n/uint64(len(prefixes))%254)
				sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("nc-%x", wrng.Uint64())}
				for range assets {
					t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, "", nil)
				}
				for range calls {
					t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", 1+wrng.IntN(t.o.Items)), ip, browserUA, sid, "", reviewers)
				}
			})
		}()
	}
	wg.Wait()
}

// mixedItems draws a popular item (the shoppers' popularity, zipf)
// popular% of the time, a random one otherwise: a churner's dilution.
func (t *Traffic) mixedItems(rng *rand.Rand, zipf *shop.Zipf, popular int) func() int {
	return func() int {
		if rng.IntN(100) < popular {
			return zipf.Sample(rng)
		}
		return 1 + rng.IntN(t.o.Items)
	}
}

// pacedPages is one session of a red team's class: every item as a
// browser shows it (page, stylesheet, script, reviews) at a person's
// pace, but items at random, from an address of its own.
func (t *Traffic) pacedPages(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie) {
	s := t.score("paced-pages")
	if !sleep(ctx, time.Duration(rng.Int64N(int64(5*time.Second)))) {
		return
	}
	for ctx.Err() == nil {
		item := 1 + rng.IntN(t.o.Items)
		t.fetch(ctx, s, fmt.Sprintf("/items/%d", item), ip, browserUA, sid, "", nil)
		t.fetch(ctx, s, "/static/app.css", ip, browserUA, sid, "", nil)
		t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, "", nil)
		t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", item), ip, browserUA, sid, "", reviewers)
		if !sleep(ctx, time.Duration(float64(2500*time.Millisecond)+rng.Float64()*float64(2500*time.Millisecond))) {
			return
		}
	}
}

// consoleCrew starts console-crew's members, drawn from rng, a share
// scale of 150-300 (ten at least); landing: console-landing's, each
// loading the home page first.
func (t *Traffic) consoleCrew(ctx context.Context, run func(string, func()), rng *rand.Rand, scale float64, landing bool) {
	class, sids, accounts, stream := "console-crew", "cc", "console-", uint64(11)
	if landing {
		class, sids, accounts, stream = "console-landing", "cl", "console-landing-", 18
	}
	var consoleIP string
	for i := range max(10, int(float64(150+rng.IntN(151))*scale)) {
		if i%10 == 0 {
			consoleIP = residentialAddr(rng)
		}
		ip, seed := consoleIP, rng.Uint64()
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("%s%d-%x", sids, i, rng.Uint64())}
		account := fmt.Sprintf("%s%d", accounts, i)
		run(class, func() { t.consoleMember(ctx, rand.New(rand.NewPCG(seed, stream)), ip, sid, account, landing) })
	}
}

// consoleMember is one account of a red team's class: a session that
// loads a script once (the home page first, landing), then calls the API
// at a clerk's pace, a random item's reviews each time.
func (t *Traffic) consoleMember(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie, account string, landing bool) {
	class := "console-crew"
	if landing {
		class = "console-landing"
	}
	s := t.score(class)
	if !sleep(ctx, time.Duration(rng.Int64N(int64(12*time.Second)))) {
		return
	}
	if landing {
		t.fetch(ctx, s, "/", ip, browserUA, sid, account, nil)
	}
	t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
	for ctx.Err() == nil {
		t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", 1+rng.IntN(t.o.Items)), ip, browserUA, sid, account, reviewers)
		if !sleep(ctx, time.Duration(float64(10500*time.Millisecond)+rng.Float64()*float64(3500*time.Millisecond))) {
			return
		}
	}
}

// userIDs returns the reviewers' ids in a reviews page.
func userIDs(b []byte) []int {
	var page struct {
		Reviews []struct {
			User struct {
				ID int `json:"id"`
			} `json:"user"`
		} `json:"reviews"`
	}
	if json.Unmarshal(b, &page) != nil {
		return nil
	}
	ids := make([]int, 0, len(page.Reviews))
	for _, r := range page.Reviews {
		ids = append(ids, r.User.ID)
	}
	return ids
}

// fastSession harvests comments and commenters, as the Taobao crawler did,
// from one browser-like session that never loads a page.
func (t *Traffic) fastSession(ctx context.Context, rng *rand.Rand, rate float64, ip string, sid *http.Cookie) {
	s := t.score("fast-session")
	var queue []int
	paced(ctx, rate, func(int) {
		if len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", id), ip, browserUA, sid, "", one)
			return
		}
		if ok, body := t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", 1+rng.IntN(t.o.Items)), ip, browserUA, sid, "", reviewers); ok {
			queue = userIDs(body)
		}
	})
}

// crewMember is one of an operation's signed-up accounts: random items'
// reviews at about two a second, an asset now and then so its session
// looks like a browser's.
func (t *Traffic) crewMember(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie, account string, assetEvery int) {
	t.reviewSweep(ctx, t.score("account-crew"), rng, ip, sid, account, assetEvery, func() time.Duration {
		return time.Duration(float64(250*time.Millisecond) + rng.Float64()*float64(500*time.Millisecond))
	})
}

// slowCrewMember is a member of a crew that keeps each account at a
// person's pace (a call every each on average, never under rapid's two
// seconds), so that the crew's volume comes from its size.
func (t *Traffic) slowCrewMember(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie, account string, assetEvery int, each time.Duration) {
	if !sleep(ctx, time.Duration(rng.Int64N(int64(each)))) { // members start over one interval
		return
	}
	t.reviewSweep(ctx, t.score("slow-crew"), rng, ip, sid, account, assetEvery, func() time.Duration {
		return time.Duration(float64(each) * (0.4 + 1.2*rng.Float64()))
	})
}

// reviewSweep is a crew member's loop: random items' reviews, a script
// every assetEvery requests so its session looks like a browser's, and
// pause() between requests.
func (t *Traffic) reviewSweep(ctx context.Context, s *Score, rng *rand.Rand, ip string, sid *http.Cookie, account string, assetEvery int, pause func() time.Duration) {
	for n := 0; ctx.Err() == nil; n++ {
		if n%assetEvery == 0 {
			t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
		} else {
			t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", 1+rng.IntN(t.o.Items)), ip, browserUA, sid, account, reviewers)
		}
		if !sleep(ctx, pause()) {
			return
		}
	}
}

// pageCrewMember is a crew member whose operator read the docs: it loads
// each item's page and script before the reviews, as a browser would, so
// it is never api_heavy.
func (t *Traffic) pageCrewMember(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie, account string) {
	t.pageCrewMemberAgain(ctx, rng, "page-crew", ip, sid, account, 0)
}

// pageCrewMemberAgain is pageCrewMember that asks for again in 100 of its
// items' reviews a second time, 0.2-0.8 s after the first (scored as
// class).
func (t *Traffic) pageCrewMemberAgain(ctx context.Context, rng *rand.Rand, class, ip string, sid *http.Cookie, account string, again int) {
	s := t.score(class)
	for ctx.Err() == nil {
		item := 1 + rng.IntN(t.o.Items)
		t.fetch(ctx, s, fmt.Sprintf("/items/%d", item), ip, browserUA, sid, account, nil)
		t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, account, nil)
		reviews := fmt.Sprintf("/api/items/%d/reviews", item)
		t.fetch(ctx, s, reviews, ip, browserUA, sid, account, reviewers)
		if again > 0 && rng.IntN(100) < again {
			if !sleep(ctx, time.Duration(float64(200*time.Millisecond)+rng.Float64()*float64(600*time.Millisecond))) {
				return
			}
			t.fetch(ctx, s, reviews, ip, browserUA, sid, account, reviewers)
		}
		if !sleep(ctx, time.Duration(float64(500*time.Millisecond)+rng.Float64()*float64(time.Second))) {
			return
		}
	}
}

// pagedPacedMember is a member of page-crew-paced: an item's page (of
// next's items), then its reviews, then 1.2-2.1 s before the next (about
// 1.2 requests a second with the responses' time).
func (t *Traffic) pagedPacedMember(ctx context.Context, rng *rand.Rand, ip string, sid *http.Cookie, account string, next func() int) {
	s := t.score("page-crew-paced")
	for ctx.Err() == nil {
		item := next()
		t.fetch(ctx, s, fmt.Sprintf("/items/%d", item), ip, browserUA, sid, account, nil)
		t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", item), ip, browserUA, sid, account, reviewers)
		if !sleep(ctx, time.Duration(float64(1200*time.Millisecond)+rng.Float64()*float64(900*time.Millisecond))) {
			return
		}
	}
}

// swarm spreads profile requests by id over residential proxies, a few
// each, at about fifty a second in all.
func (t *Traffic) swarm(ctx context.Context, rng *rand.Rand, ips []string, per int) {
	s := t.score("swarm")
	total := len(ips) * per
	paced(ctx, 50, func(n int) {
		if n > total {
			return
		}
		t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", 1+rng.IntN(t.o.Users)), ips[(n-1)%len(ips)], browserUA, nil, "", one)
	})
}

// sessionSwarm is the swarm with a session cookie per address, each of
// which loads a script before its profile requests, so that none is
// sessionless or without assets.
func (t *Traffic) sessionSwarm(ctx context.Context, rng *rand.Rand, ips []string, sids []*http.Cookie, per int) {
	s := t.score("session-swarm")
	total := len(ips) * (per + 1)
	paced(ctx, 50, func(n int) {
		if n > total {
			return
		}
		i := (n - 1) % len(ips)
		if n <= len(ips) {
			t.fetch(ctx, s, "/static/app.js", ips[i], browserUA, sids[i], "", nil)
			return
		}
		t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", 1+rng.IntN(t.o.Users)), ips[i], browserUA, sids[i], "", one)
	})
}

// buildSwarm is the swarm with each address sending a browser build's
// headers (builds), and a made-up session cookie each (sids; nil: none).
func (t *Traffic) buildSwarm(ctx context.Context, rng *rand.Rand, ips []string, builds []build, sids []*http.Cookie, per int) {
	s := t.score("build-swarm")
	total := len(ips) * per
	paced(ctx, 50, func(n int) {
		if n > total {
			return
		}
		i := (n - 1) % len(ips)
		var sid *http.Cookie
		if sids != nil {
			sid = sids[i]
		}
		t.fetchAs(ctx, s, fmt.Sprintf("/api/users/%d", 1+rng.IntN(t.o.Users)), ips[i], builds[i], sid, "", one)
	})
}

// warmSwarm is buildSwarm with each address made a home before its
// reading session: a throwaway session there loads a popular item's page
// and a script and asks for its reviews twice, 6-8 s apart (it stayed),
// as a thirteenth red team planned it (sim warm-asset-swarm, 2026-12-06);
// the reading session 10 s after it loads a script first when script.
func (t *Traffic) warmSwarm(ctx context.Context, rng *rand.Rand, builds []build, script bool, per int) {
	s := t.score("warm-swarm")
	t.addressSwarm(ctx, rng, builds, func(n int, ip string, b build, item int, seed uint64) func() {
		warm := &http.Cookie{Name: "sid", Value: fmt.Sprintf("wh%d-%x", n, rng.Uint64())}
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("wr%d-%x", n, rng.Uint64())}
		return func() {
			r := rand.New(rand.NewPCG(seed, 0x3c))
			t.openItem(ctx, s, item, ip, b, warm)
			if !sleep(ctx, 6*time.Second+time.Duration(r.Int64N(int64(2*time.Second)))) {
				return
			}
			t.fetchAs(ctx, s, fmt.Sprintf("/api/items/%d/reviews", item), ip, b, warm, "", reviewers)
			if !sleep(ctx, 3*time.Second) {
				return
			}
			if script {
				t.fetchAs(ctx, s, "/static/app.js", ip, b, sid, "", nil)
			}
			for range per {
				t.fetchAs(ctx, s, fmt.Sprintf("/api/users/%d", 1+r.IntN(t.o.Users)), ip, b, sid, "", one)
				if !sleep(ctx, 1500*time.Millisecond+time.Duration(r.Int64N(int64(3*time.Second)))) {
					return
				}
			}
		}
	})
}

// addressSwarm starts a member on a residential address of its own five
// times a second until ctx ends, each with one of builds, a popular item
// (1-20) and a seed of its own, drawn from rng in that order; member
// draws what else it needs from rng and returns what runs on its own.
func (t *Traffic) addressSwarm(ctx context.Context, rng *rand.Rand, builds []build, member func(n int, ip string, b build, item int, seed uint64) func()) {
	var wg sync.WaitGroup
	defer wg.Wait()
	paced(ctx, 5, func(n int) {
		ip := residentialAddr(rng)
		b, item, seed := builds[rng.IntN(len(builds))], 1+rng.IntN(20), rng.Uint64()
		wg.Go(member(n, ip, b, item, seed))
	})
}

// openItem is a visit's first seconds as a browser of build b makes
// them: item's page, a script, the item's reviews.
func (t *Traffic) openItem(ctx context.Context, s *Score, item int, ip string, b build, sid *http.Cookie) {
	t.fetchAs(ctx, s, fmt.Sprintf("/items/%d", item), ip, b, sid, "", nil)
	t.fetchAs(ctx, s, "/static/app.js", ip, b, sid, "", nil)
	t.fetchAs(ctx, s, fmt.Sprintf("/api/items/%d/reviews", item), ip, b, sid, "", reviewers)
}

// pageSwarm is build-swarm whose reading sessions each open as a
// person's visit does: a popular item's page and a script, then that
// item's reviews; then per profiles by id (random items' reviews when
// reviews) 1.5-4.5 s apart, none of them shown to the session, as a
// fourteenth red team planned it (sim page-swarm, 2026-12-06).
func (t *Traffic) pageSwarm(ctx context.Context, rng *rand.Rand, builds []build, reviews bool, per int) {
	s := t.score("page-swarm")
	t.addressSwarm(ctx, rng, builds, func(n int, ip string, b build, item int, seed uint64) func() {
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("ps%d-%x", n, rng.Uint64())}
		return func() {
			r := rand.New(rand.NewPCG(seed, 0x9c))
			t.openItem(ctx, s, item, ip, b, sid)
			for range per {
				if !sleep(ctx, 1500*time.Millisecond+time.Duration(r.Int64N(int64(3*time.Second)))) {
					return
				}
				if reviews {
					t.fetchAs(ctx, s, fmt.Sprintf("/api/items/%d/reviews", 1+r.IntN(t.o.Items)), ip, b, sid, "", reviewers)
				} else {
					t.fetchAs(ctx, s, fmt.Sprintf("/api/users/%d", 1+r.IntN(t.o.Users)), ip, b, sid, "", one)
				}
			}
		}
	})
}

// pageSwarmOnce is page-swarm whose sessions each read one profile by
// id after the popular item's reviews, five sessions on each address one
// after the other, as a reader of the docs runs it once a second astray
// call on the page's route is judged (sim page-swarm-once, 2026-12-06).
func (t *Traffic) pageSwarmOnce(ctx context.Context, rng *rand.Rand, builds []build) {
	s := t.score("page-swarm-once")
	t.addressSwarm(ctx, rng, builds, func(n int, ip string, b build, item int, seed uint64) func() {
		return func() {
			r := rand.New(rand.NewPCG(seed, 0x9f))
			for k := range 5 {
				sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("po%d-%d-%x", n, k, r.Uint64())}
				t.openItem(ctx, s, item, ip, b, sid)
				if !sleep(ctx, 1500*time.Millisecond+time.Duration(r.Int64N(int64(3*time.Second)))) {
					return
				}
				t.fetchAs(ctx, s, fmt.Sprintf("/api/users/%d", 1+r.IntN(t.o.Users)), ip, b, sid, "", one)
				if !sleep(ctx, 500*time.Millisecond+time.Duration(r.Int64N(int64(time.Second)))) {
					return
				}
				item = 1 + r.IntN(20)
			}
		}
	})
}

// accountSwarm is build-swarm whose every address is a session signed in
// with a throwaway account that loads nothing, then reads per profiles by
// id 1.5-4.5 s apart, as a fourteenth red team planned it (sim
// account-swarm, 2026-12-06): signed-in sessions are not pageless
// strangers, for a clerk's console and an app call the API with no page.
func (t *Traffic) accountSwarm(ctx context.Context, rng *rand.Rand, builds []build, per int) {
	s := t.score("account-swarm")
	t.addressSwarm(ctx, rng, builds, func(n int, ip string, b build, item int, seed uint64) func() {
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprintf("as%d-%x", n, rng.Uint64())}
		account := fmt.Sprintf("throwaway-%d-%x", n, rng.Uint32())
		return func() {
			r := rand.New(rand.NewPCG(seed, 0xa7))
			for k := range per {
				if k > 0 && !sleep(ctx, 1500*time.Millisecond+time.Duration(r.Int64N(int64(3*time.Second)))) {
					return
				}
				t.fetchAs(ctx, s, fmt.Sprintf("/api/users/%d", 1+r.IntN(t.o.Users)), ip, b, sid, account, one)
			}
		}
	})
}

// cookieChurn is one address that makes a fresh session every few
// requests, each loading assets scripts first, so that every session is
// a person behind the address and none lives long enough to show
// anything; item picks the items whose reviews it takes.
func (t *Traffic) cookieChurn(ctx context.Context, s *Score, rng *rand.Rand, rate float64, every, assets int, ip string, item func() int) {
	t.churn(ctx, s, rng, rate, every, assets, ip, item, churnScripts, nil)
}

// churnPages is what a churner's session loads besides its calls.
type churnPages int

const (
	churnScripts   churnPages = iota // scripts only
	churnItemPages                   // scripts, then each item's page before its reviews
	churnLanding                     // the home page, then scripts
	churnNamed                       // churnLanding, each call about an item the home page named
)

// lingering: one of a churner's sessions in every calls once more after
// its cycle, having loaded assets scripts first.
type lingering struct {
	every, assets int
	after         time.Duration
}

// churn is cookieChurn, with the pages of mode: for churnItemPages,
// every - assets is even, so that each session's first call is about the
// page it loaded; for churnLanding, the first of every is the home page.
// stay, when not nil, has some of its sessions call again later.
func (t *Traffic) churn(ctx context.Context, s *Score, rng *rand.Rand, rate float64, every, assets int, ip string, item func() int, mode churnPages, stay *lingering) {
	var sid *http.Cookie
	page := 0
	pages := mode == churnItemPages
	var late sync.WaitGroup
	defer late.Wait()
	var named []int // what the session's home page recommended (churnNamed)
	paced(ctx, rate, func(n int) {
		if stay != nil && n%every == 0 && (n/every)%stay.every == 0 {
			// the session's last request: it comes back
			sid, id := sid, item()
			late.Go(func() {
				if !sleep(ctx, stay.after) {
					return
				}
				for range stay.assets {
					t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, "", nil)
				}
				t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", id), ip, browserUA, sid, "", reviewers)
			})
		}
		if (n-1)%every == 0 {
			sid = &http.Cookie{Name: "sid", Value: fmt.Sprintf("cc-%x", rng.Uint64())}
		}
		if mode == churnLanding || mode == churnNamed {
			if (n-1)%every == 0 {
				_, home := t.fetch(ctx, s, "/", ip, browserUA, sid, "", nil)
				named = recommended(home, named[:0])
				return
			}
			n--
		}
		if (n-1)%every < assets {
			t.fetch(ctx, s, "/static/app.js", ip, browserUA, sid, "", nil)
			return
		}
		if pages && page == 0 {
			page = item()
			t.fetch(ctx, s, fmt.Sprintf("/items/%d", page), ip, browserUA, sid, "", nil)
			return
		}
		var id int
		switch {
		case mode != churnNamed:
			id = item()
		case len(named) == 0:
			return // its home page was refused
		default:
			id = named[rng.IntN(len(named))]
		}
		if pages {
			id, page = page, 0
		}
		t.fetch(ctx, s, fmt.Sprintf("/api/items/%d/reviews", id), ip, browserUA, sid, "", reviewers)
	})
}

// partner is the integration the operator allowlisted: it syncs profiles
// at a steady few a second for the first third of the run, then takes
// everything it can.
func (t *Traffic) partner(ctx context.Context, harvest float64) {
	s := t.score("partner-turns")
	n := 0
	next := func() {
		n++
		t.fetch(ctx, s, fmt.Sprintf("/api/users/%d", n%t.o.Users+1), PartnerAddress, "partner-sync/2.1", nil, "partner-acme", one)
	}
	sctx, cancel := context.WithTimeout(ctx, t.o.PartnerSyncFor)
	paced(sctx, 3, func(int) { next() })
	cancel()
	paced(ctx, harvest, func(int) { next() })
}

// residentialAddr is an address drawn at random from 24-193.x.x.x, as a
// residential proxy's would be: most in /16s no other source uses.
func residentialAddr(rng *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", 24+rng.IntN(170), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
}
