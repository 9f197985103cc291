package detect

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// A swarm whose members each send one of the browser builds people use,
// a made-up session cookie or none, loading nothing, was a crew per build,
// each under the crew budget (an outside red team's over nine builds took
// 3,379 people live, 2026-12-06). Its pageless strangers are one crew;
// a pageless session on an address the proxy knows, and a tab open when
// the proxy started, stay in their build's.
func TestASwarmOverManyBuildsIsOneCrewOfPagelessStrangers(t *testing.T) {
	const builds = 9
	crewOf := func(d *Detector, ip, session, fp uint64, at int64) identity.Key {
		a := actor(ip, session, fp)
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
		oneCrew   bool
		knownAddr bool
		noPages   bool // no page ever seen (an access log of the API alone)
		// warmed: a session there earlier that loaded nothing and stayed,
		// so that the member's session is not the first on its address
		warmed bool
	}{
		{name: "made-up sessions", sessions: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, oneCrew: true},
		{name: "no cookie", at: func(i int) int64 { return swarm + int64(i)*25e6 }, oneCrew: true},
		// a tab open at the start, finishing its page: its build's crew
		{name: "tabs open at the start", sessions: true, at: func(i int) int64 { return int64(i) * 1e8 }},
		// a person's tab has its cookie: without one, one crew from the
		// start (a one-build swarm started with the proxy was two)
		{name: "no cookie, from the start", at: func(i int) int64 { return int64(i) * 1e8 }, oneCrew: true},
		// a swarm started before the proxy, calling on past that: one crew
		{name: "a swarm from before the start, calling on", sessions: true,
			firstAt: func(i int) int64 { return int64(i) * 1e8 }, at: func(i int) int64 { return 45e9 + int64(i)*1e8 }, oneCrew: true},
		// an address where a session called before: people live there
		{name: "pageless sessions on known addresses", sessions: true, knownAddr: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }},
		// an address whose sessions load nothing is no one's home: a
		// thirteenth red team warmed each address with a session that
		// stayed, or kept a dozen addresses busy with one session after
		// another (sim warm-swarm 5,679 people, bare-few 3,067)
		{name: "sessions after one that stayed, nothing loaded", sessions: true, warmed: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }, oneCrew: true},
		// where no page was ever seen, everyone is pageless
		{name: "no page ever seen", sessions: true, noPages: true, at: func(i int) int64 { return swarm + int64(i)*25e6 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := start(!tc.noPages)
			crews := map[identity.Key]int{}
			for i := range 3 * builds {
				ip, fp := uint64(0x30000000+i<<12+1), uint64(0xb0+i%builds)
				var session uint64
				if tc.sessions {
					session = mix(uint64(i) + 1<<50)
				}
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
				if tc.firstAt != nil {
					crewOf(d, ip, session, fp, epoch+tc.firstAt(i))
				}
				crews[crewOf(d, ip, session, fp, epoch+tc.at(i))]++
			}
			delete(crews, identity.Key{})
			if tc.oneCrew && len(crews) != 1 || !tc.oneCrew && len(crews) != builds {
				t.Fatalf("%d crews, want %d (%v)", len(crews), map[bool]int{true: 1, false: builds}[tc.oneCrew], crews)
			}
		})
	}
}
