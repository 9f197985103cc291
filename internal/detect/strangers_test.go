package detect

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// A swarm whose members each send one of the browser builds people use,
// a made-up session cookie or none, loading nothing, was a crew per build,
// each under the crew budget (an outside red team's over nine builds took
// 3,379 people live, 2026-12-06). Its pageless strangers are one crew,
// on addresses where people were too (a thirteenth red team's, warmed by
// a session that loaded a page and a script: 5,679 people in a simulated
// day); a tab open when the proxy started stays in its build's, and a
// signed-in session in none.
func TestASwarmOverManyBuildsIsOneCrewOfPagelessStrangers(t *testing.T) {
	const builds = 9
	crewOf := func(d *Detector, ip, session, account, fp uint64, at int64, script bool) identity.Key {
		a := actor(ip, session, fp)
		if account != 0 {
			a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: account}
		}
		if script {
			d.Assess(&a, Traits{Kind: Asset, UA: UABrowser, At: at - 3e8})
		}
		d.Assess(&a, Traits{Kind: Record, UA: UABrowser, At: at, IDLow: -1, PathID: 1})
		return a.Keys[identity.Crew]
	}
	start := func(pages bool) *Detector {
		d := New(Options{Behaviour: NewBehaviour(1 << 12)})
		// the proxy's first record call: a person's, page first
		a := actor(0x0a000001, mix(1), 0xb1)
		if pages {
			d.Assess(&a, Traits{Kind: Page, UA: UABrowser, At: epoch - 1e9, PathID: 1})
		}
		d.Assess(&a, Traits{Kind: Record, UA: UABrowser, At: epoch, IDLow: -1, PathID: 1})
		return d
	}
	swarm := int64(2 * time.Minute)
	for _, tc := range []struct {
		name      string
		sessions  bool
		at        func(i int) int64 // member i's call, from the proxy's first
		firstAt   func(i int) int64 // member i's first call (0: this one)
		crews     int               // 1, builds, or none
		knownAddr bool
		script    bool // each session loads a script before its call
		// mixed: the members in turn without a cookie, with a script,
		// and with nothing loaded, so that three signatures would be
		// three crews
		mixed    bool
		accounts bool // each session signed in
		noPages  bool // no page ever seen (an access log of the API alone)
		// warmed: a session there earlier that loaded nothing and stayed,
		// so that the member's session is not the first on its address
		warmed bool
	}{
		{name: "made-up sessions", sessions: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		{name: "no cookie", at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		// a tab open at the start, finishing its page: its build's crew
		{name: "tabs open at the start", sessions: true, at: func(i int) int64 { return int64(i) * 1e8 }, crews: builds},
		// a person's tab has its cookie: without one, one crew from the
		// start (a one-build swarm started with the proxy was two)
		{name: "no cookie, from the start", at: func(i int) int64 { return int64(i) * 1e8 }, crews: 1},
		// a swarm started before the proxy, calling on past that: one crew
		{name: "a swarm from before the start, calling on", sessions: true,
			firstAt: func(i int) int64 { return int64(i) * 1e8 }, at: func(i int) int64 { return 45e9 + int64(i)*1e8 }, crews: 1},
		// an address where a person's visit loaded a page and stayed (a
		// thirteenth red team's warm-up): its pageless sessions are no
		// person's either (sim warm-asset-swarm: 5,679 people a day
		// while they were their builds' crews)
		{name: "pageless sessions where a person was", sessions: true, knownAddr: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		{name: "sessions that loaded a script where a person was", sessions: true, knownAddr: true, script: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		{name: "no cookie where a person was", knownAddr: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		{name: "sessions after one that stayed, nothing loaded", sessions: true, warmed: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		// no cookie, a script, nothing: one crew still (three, one per
		// signature, took 1,493 people in a simulated day where 511)
		{name: "no cookie, a script and nothing loaded, in turn, where a person was", sessions: true, knownAddr: true, mixed: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: 1},
		// a clerk's console, an app: signed in, judged on its sweep
		{name: "signed in, a script loaded", sessions: true, accounts: true, script: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }},
		// where no page was ever seen, everyone is pageless
		{name: "no page ever seen", sessions: true, noPages: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, crews: builds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := start(!tc.noPages)
			crews := map[identity.Key]int{}
			for i := range 3 * builds {
				ip, fp := uint64(0x30000000+i<<12+1), uint64(0xb0+i%builds)
				var session uint64
				if tc.sessions && !(tc.mixed && i%3 == 0) {
					session = mix(uint64(i) + 1<<50)
				}
				script := tc.script || tc.mixed && i%3 == 1
				if tc.knownAddr {
					// a person's visit there, earlier: its page, then calls
					// that stay past its first 5 s
					p := actor(ip, mix(uint64(i)+1<<51), fp)
					d.Assess(&p, Traits{Kind: Page, UA: UABrowser, At: epoch + int64(time.Minute) - 1e9, PathID: 1})
					for c := range int64(3) {
						d.Assess(&p, Traits{Kind: Record, UA: UABrowser, At: epoch + int64(time.Minute) + c*4e9, IDLow: -1, PathID: 1})
					}
				}
				if tc.warmed {
					w := actor(ip, mix(uint64(i)+1<<52), fp)
					for c := range int64(3) {
						d.Assess(&w, Traits{Kind: Record, UA: UABrowser, At: epoch + int64(time.Minute) + c*4e9, IDLow: -1, PathID: 1})
					}
				}
				var account uint64
				if tc.accounts {
					account = mix(uint64(i) + 1<<53)
				}
				if tc.firstAt != nil {
					crewOf(d, ip, session, account, fp, epoch+tc.firstAt(i), script)
				}
				crews[crewOf(d, ip, session, account, fp, epoch+tc.at(i), script)]++
			}
			delete(crews, identity.Key{})
			if len(crews) != tc.crews {
				t.Fatalf("%d crews, want %d (%v)", len(crews), tc.crews, crews)
			}
		})
	}
}

// A fourteenth red team's swarm made each reading session load a popular
// item's page and ask for its reviews, as a person's visit does, and then
// read profiles by id, which no page or response had shown it (sim
// page-swarm: 13,631 people in a day, never held, 2026-12-06). A session
// that loaded a page and asks mostly about what it was not shown, two
// items or more, is a pageless stranger from then on; people ask about
// the page's item, the reviewers its reviews showed, and their own
// profile, again and again.
func TestSessionsThatReadWhatTheyWereNotShownAreStrangers(t *testing.T) {
	stranger := crewOf(pagelessStrangerCrew, 0)
	const item, reviewer1, reviewer2, reviewer3 = 10, 300, 301, 302
	reviewers := []records.Found{{Hash: 1, Item: 1 + reviewer1&0xff}, {Hash: 2, Item: 1 + reviewer2&0xff}, {Hash: 3, Item: 1 + reviewer3&0xff}}
	for _, tc := range []struct {
		name string
		// calls: the ids asked for after the page's item's reviews (a
		// profile each), 3 s apart
		calls   []int
		spa     bool // the shop's items have no pages
		account bool
		early   bool // the session's calls within the proxy's first 30 s
		// tab: the session's first record call comes before its page, as
		// a tab's open when the proxy started
		tab bool
		// reviews: the calls are the ids' items' reviews, on the route the
		// session asked its page's item's reviews on, not profiles
		reviews bool
		// log: no page's names read (an access log's replay, which has
		// no response bodies either)
		log bool
		// strangerFrom: the first of calls that is the strangers' crew's
		// (-1: none)
		strangerFrom int
	}{
		{name: "profiles by id", calls: []int{7001, 7002, 7003, 7004}, strangerFrom: 1},
		{name: "one profile by id, then what the reviews showed", calls: []int{7001, reviewer1, reviewer2, reviewer3}, strangerFrom: -1},
		{name: "the reviewers shown", calls: []int{reviewer1, reviewer2, reviewer3, reviewer1}, strangerFrom: -1},
		{name: "their own profile, again and again", calls: []int{7001, 7001, 7001, 7001}, strangerFrom: -1},
		// the page's route about items it did not show: from the first
		{name: "other items' reviews", reviews: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: 0},
		{name: "the page's item's reviews again, then another's", reviews: true, calls: []int{item, 7002, 7003, 7004}, strangerFrom: 1},
		{name: "a single-page app's", spa: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: -1},
		{name: "signed in", account: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: -1},
		// a tab open at the start: its build's crew at most
		{name: "a tab open at the proxy's start", early: true, tab: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: -1},
		// but a visit begun under the proxy was seen whole
		{name: "a visit begun in the proxy's first 30 s", early: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: 1},
		// a log has no reviews' bodies: the reviewers a person opened
		// were shown them, unseen
		{name: "an access log's", log: true, calls: []int{7001, 7002, 7003, 7004}, strangerFrom: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBehaviour(1 << 12)
			b.ItemPages, b.SinglePageApp = !tc.spa, tc.spa
			d := New(Options{Behaviour: b})
			// the proxy's first record call: a person's, page first
			p := actor(0x0a000001, mix(1), 0xb1)
			d.Assess(&p, Traits{Kind: Page, UA: UABrowser, At: epoch - 1e9, PathID: 1})
			if !tc.log {
				var home Names
				home.Add(1)
				d.PageNamed(&p, &home)
			}
			d.Assess(&p, Traits{Kind: Record, UA: UABrowser, At: epoch, IDLow: -1, PathID: 1})
			at := epoch + int64(2*time.Minute)
			if tc.early {
				at = epoch + 1e9
			}
			a := actor(0x30000001, mix(2), 0xb2)
			if tc.account {
				a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: mix(3)}
			}
			if tc.tab {
				d.Assess(&a, Traits{Kind: Record, UA: UABrowser, At: at - 5e8, IDLow: -1, PathID: 50})
			}
			d.Assess(&a, Traits{Kind: Page, UA: UABrowser, At: at, PathID: 1 + item})
			d.PageServed(&a, 1+item)
			d.Assess(&a, Traits{Kind: Asset, UA: UABrowser, At: at + 2e8})
			const reviewsRoute, profilesRoute = 1, 2
			d.Assess(&a, Traits{Kind: Record, UA: UABrowser, At: at + 6e8, IDLow: -1, PathID: 1 + item, Route: reviewsRoute})
			d.Served(&a, reviewers)
			for i, id := range tc.calls {
				tr := Traits{Kind: Record, UA: UABrowser, At: at + int64(i+1)*3e9, IDLow: id & 0xff, PathID: 1 + id&0xff, Route: profilesRoute}
				if tc.reviews {
					tr.IDLow, tr.Route = -1, reviewsRoute
				}
				d.Assess(&a, tr)
				if got := a.Keys[identity.Crew] == stranger; got != (tc.strangerFrom >= 0 && i >= tc.strangerFrom) {
					t.Fatalf("call %d (id %d): the strangers' crew %v, want from call %d", i, id, got, tc.strangerFrom)
				}
				d.Served(&a, []records.Found{{Hash: uint64(id), Item: uint16(1 + id&0xff)}})
			}
		})
	}
}

// A swarm whose sessions each open a popular item's page, ask for its
// reviews, read one profile by id and leave, five on each address one
// after the other, was a person to every rule (sim page-swarm-once:
// 21,937 people in a day, never held, 2026-12-06). Once two sessions on
// an address have strayed so one after the other and not stayed, and
// they are most of those born there that never stayed, the young sessions
// there are strangers.
// People whose visits go on past their own profile, two people at once on
// an address, the many people of a carrier NAT's address, a quarter hour
// between strays, and signed-in sessions are not.
func TestSessionsThatStrayOnceAndLeaveMakeTheirAddressStrangers(t *testing.T) {
	stranger := crewOf(pagelessStrangerCrew, 0)
	const reviewsRoute, profilesRoute = 1, 2
	reviewers := []records.Found{{Hash: 1, Item: 1 + 300&0xff}, {Hash: 2, Item: 1 + 301&0xff}}
	// visit is one session's requests: item's page and a script, its
	// reviews, then a profile by id 3 s on (stray, 0: none) and, when
	// stays, the item's reviews again 7 s on.
	type visit struct {
		addr, session uint64
		at            int64
		stray         int
		stays, signed bool
	}
	type call struct {
		at     int64
		v      int // index in visits
		kind   Kind
		pathID int
		route  int
		served []records.Found
	}
	for _, tc := range []struct {
		name   string
		visits []visit
		// want: the visits whose record calls are all the strangers'
		// crew's; every other visit's are none
		want []int
	}{
		{name: "five sessions on an address, one profile each", want: []int{2, 3, 4}, visits: func() (vs []visit) {
			for k := range 5 {
				vs = append(vs, visit{addr: 0x30000001, session: mix(uint64(100 + k)), at: int64(k) * 5e9, stray: 7001 + k})
			}
			return vs
		}()},
		{name: "signed in", visits: func() (vs []visit) {
			for k := range 5 {
				vs = append(vs, visit{addr: 0x30000001, session: mix(uint64(100 + k)), at: int64(k) * 5e9, stray: 7001 + k, signed: true})
			}
			return vs
		}()},
		{name: "visits that go on past their own profile", visits: func() (vs []visit) {
			for k := range 5 {
				vs = append(vs, visit{addr: 0x30000001, session: mix(uint64(100 + k)), at: int64(k) * 10e9, stray: 7001 + k, stays: true})
			}
			return vs
		}()},
		{name: "a quarter hour between them", visits: func() (vs []visit) {
			for k := range 5 {
				vs = append(vs, visit{addr: 0x30000001, session: mix(uint64(100 + k)), at: int64(k) * int64(16*time.Minute), stray: 7001 + k})
			}
			return vs
		}()},
		// two people on an office's address, the first leaving after
		// their own profile while the other's visit has begun and done
		// so too; then the first's next visit
		{name: "two people at once on an address, then the next visit", visits: []visit{
			{addr: 0xc0000201, session: mix(100), stray: 7001}, {addr: 0xc0000201, session: mix(101), at: 1e9, stray: 7002},
			{addr: 0xc0000201, session: mix(102), at: 8e9}}},
		// 40 people arriving at once, a fifth of them asking for their
		// own profile before their next page
		{name: "a carrier NAT's address at a start", visits: func() (vs []visit) {
			for k := range 40 {
				v := visit{addr: 0x64400001, session: mix(uint64(100 + k)), at: int64(k) * 5e8}
				if k%5 == 0 {
					v.stray = 7001 + k
				}
				vs = append(vs, v)
			}
			return vs
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBehaviour(1 << 12)
			b.ItemPages = true
			d := New(Options{Behaviour: b})
			// the proxy's first record call: a person's, page first
			p := actor(0x0a000001, mix(1), 0xb1)
			d.Assess(&p, Traits{Kind: Page, UA: UABrowser, At: epoch - 1e9, PathID: 1})
			var home Names
			home.Add(1)
			d.PageNamed(&p, &home)
			d.Assess(&p, Traits{Kind: Record, UA: UABrowser, At: epoch, IDLow: -1, PathID: 1})
			start := epoch + int64(2*time.Minute)
			var calls []call
			for i, v := range tc.visits {
				item := 10 + i%3
				at := start + v.at
				calls = append(calls, call{at: at, v: i, kind: Page, pathID: 1 + item}, call{at: at + 2e8, v: i, kind: Asset},
					call{at: at + 6e8, v: i, kind: Record, pathID: 1 + item, route: reviewsRoute, served: reviewers})
				if v.stray != 0 {
					calls = append(calls, call{at: at + 3e9, v: i, kind: Record, pathID: 1 + v.stray&0xff, route: profilesRoute,
						served: []records.Found{{Hash: uint64(v.stray), Item: uint16(1 + v.stray&0xff)}}})
				}
				if v.stays {
					calls = append(calls, call{at: at + 7e9, v: i, kind: Record, pathID: 1 + item, route: reviewsRoute, served: reviewers})
				}
			}
			slices.SortStableFunc(calls, func(x, y call) int { return cmp.Compare(x.at, y.at) })
			strangers := map[int]int{} // visit: its record calls in the strangers' crew
			records := map[int]int{}
			for _, c := range calls {
				v := tc.visits[c.v]
				a := actor(v.addr, v.session, 0xb2)
				if v.signed {
					a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: v.session ^ 1}
				}
				tr := Traits{Kind: c.kind, UA: UABrowser, At: c.at, IDLow: -1, PathID: c.pathID, Route: c.route}
				d.Assess(&a, tr)
				if c.kind == Page {
					d.PageServed(&a, c.pathID)
				}
				if c.kind != Record {
					continue
				}
				records[c.v]++
				if a.Keys[identity.Crew] == stranger {
					strangers[c.v]++
				}
				d.Served(&a, c.served)
			}
			for i := range tc.visits {
				want := 0
				if slices.Contains(tc.want, i) {
					want = records[i]
				}
				if strangers[i] != want {
					t.Errorf("visit %d: %d of its %d record calls the strangers' crew's, want %d", i, strangers[i], records[i], want)
				}
			}
		})
	}
}
