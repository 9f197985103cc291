package detect

import (
	"sync/atomic"
	"time"
)

// Strangers: a crowd of sessions on residential proxies' addresses, one
// session to an address, each as a person who lands on the home page
// (the page, a script and a call, then two or three calls more, each
// after a script), shows nothing in any one session: three or four
// responses, half of them mostly cold where people's are a fifth, are
// within a person's chance (sim landing-crowd: nearly every person of
// the shop's 50,000 taken in a simulated day, 54,721 to 5,296,623
// records at 0.02 to 2.4 new sessions a second; live 10,085 in 90 s;
// never refused, 2026-12-04). Together they are plain: the sessions
// that were the first on their address are shown colder records than
// people who came back are, and a crowd cannot come back without
// keeping its addresses. Which of them is the crowd's, one session
// cannot tell. Holding, while strangers are colder, those shown colder
// records than people would have refused 951 requests of people new to
// the shop for 2,351 of the crowd's 6,892 (a debug build, 0.02 new
// sessions a second); challenging them (stranger_crowd weighed 5) cost
// people 2,644 and 4,235 requests, and the crowd kept 40% and 68% of
// its take (seeds 1, 2). So the many are reported (StrangersColder, the
// stranger_crowd signal), and held only where the operator weighs
// stranger_crowd.
//
// strangersWindow: the strangers' responses counted at a time (halved
// past it); strangersMin: before that many, no measure.
const (
	strangersWindow = 2000
	strangersMin    = 200
)

// coldCount counts responses, how many of them were mostly cold and, for
// strangers', the share of regulars' that were when each was served (in
// millionths), halved together past a window.
type coldCount struct{ n, cold, exp atomic.Uint64 }

func (c *coldCount) add(mostlyCold uint16, exp float64, window uint64) {
	if c.n.Add(1) > window {
		c.n.Store(c.n.Load() / 2)
		c.cold.Store(c.cold.Load() / 2)
		c.exp.Store(c.exp.Load() / 2)
	}
	c.cold.Add(uint64(mostlyCold))
	c.exp.Add(uint64(exp * 1e6))
}

func (c *coldCount) load() (n, cold uint64, exp float64) {
	n, cold = c.n.Load(), c.cold.Load()
	return n, min(cold, n), float64(c.exp.Load()) / 1e6 // halved apart under a race
}

// share is the share of the responses that were mostly cold (0: none).
func (c *coldCount) share() (n uint64, share float64) {
	n, cold, _ := c.load()
	if n == 0 {
		return 0, 0
	}
	return n, float64(cold) / float64(n)
}

// Strangers is what the proxy sees of the sessions that were the first
// on their address (Behaviour.StrangersColder).
type Strangers struct {
	// Share and Regulars: the share of recent responses that were mostly
	// cold, to strangers and to the other keys at a person's pace
	Share, Regulars float64
	// Colder: strangers are shown colder records than regulars, beyond
	// chance and by half again at least
	Colder bool
}

// Strangers returns what b sees of strangers now.
func (b *Behaviour) Strangers() Strangers {
	sn, sc, exp := b.strangers.load()
	var st Strangers
	_, st.Regulars = b.regulars.share()
	if sn == 0 {
		return st
	}
	st.Share = float64(sc) / float64(sn)
	p := exp / float64(sn)
	st.Colder = sn >= strangersMin && st.Share >= 1.5*p && colderThanPeople(uint32(sc), uint32(sn), p)
	return st
}

// regularsShare is regulars' share of mostly cold responses, once they
// have minPaced.
func (b *Behaviour) regularsShare() (share float64, measured bool) {
	rn, share := b.regulars.share()
	return share, rn >= minPaced
}

// StrangersColder reports whether the sessions that were the first on
// their address without an account (strangers) are shown colder records
// than the other keys at a person's pace (regulars), beyond chance and by
// half again at least: a crowd on addresses of its own is about. By half
// again: over thousands of responses a share a few points above
// people's is beyond chance, and people new to a shop read a little
// differently from those who came back.
func (b *Behaviour) StrangersColder() bool { return b.Strangers().Colder }

// regularAfter: a session born on an address whose first session came
// less than this before it, none there having stayed yet (staysFor), is
// a stranger too. The first on its address alone was a throwaway
// session away: a paced stream whose members each opened a popular
// item's page and its reviews before reading in a session of their own
// was read as regulars, and made regulars colder instead (sim
// paced-regulars: 262,371 records at seed 1, never held, 2026-12-06). A
// quarter hour, as a stream's window: an operation must hold each
// address that long before it reads there, or stay there first. Not a
// person's next visit after one that stayed: those, strangers too, made
// strangers read as warm as regulars on a single-page app's shop at the
// minute a crowd arrived, which then warmed what it read for seven hours
// unseen (sim --spa paced-mixed, seed 1: 332,032 records, a person
// refused; 228,073 before).
const regularAfter = streamWindow

// crowdHeld: how long strangers must have been seen colder before a
// stranger convincing alone is taken for the crowd's (evidence.crowdHeld):
// a quarter hour, as the alert LeakguardStrangersColder waits. A few tail
// readers who are for minutes the only strangers about, or a burst of
// them, make strangers colder too.
const crowdHeld = streamWindow

// crowdSince notes at now whether strangers are seen colder
// (StrangersColder), and returns since when they have been, as far as the
// strangers' calls that asked saw (0: they are not).
func (b *Behaviour) crowdSince(now int64) int64 {
	if !b.StrangersColder() {
		b.colderSince.Store(0)
		return 0
	}
	if since := b.colderSince.Load(); since != 0 {
		return since
	}
	b.colderSince.CompareAndSwap(0, now)
	return b.colderSince.Load()
}

// Pageless strangers: a residential swarm whose members each send the
// headers of one of the browser builds people use, and a made-up session
// cookie or none, loading nothing, was as many crews as it had builds,
// each a crew of its build's pageless sessions under the crew budget: an
// outside red team's over nine builds took 3,379 people live before it
// was held at 87 s (2026-12-06); the demo's build-swarm 3,782 to 4,312 in
// 90 s at seeds 1-3, two of them never refused; the simulator's 3,038 to
// 6,029 records in a day. People do not call the API from a session that
// has loaded no page, nor without the cookie their page set, past the
// tabs open when the proxy started: so those calls are one crew, whatever
// the build (pagelessStrangerCrew), wherever they come from. Until
// 2026-12-06 only on an address the proxy knew no person on: a thirteenth
// red team made each address a home first with a throwaway session that
// loaded a page and a script and stayed (sim warm-asset-swarm: 5,679
// people in a day, never held), and the same with a script loaded by
// each reading session, or no cookie, took 9,214 and 5,688. A person's
// session that has loaded no page is a tab from before the proxy, or one
// whose state was forgotten (Behaviour's tables are bounded): its next
// page load makes it paged. Not an automation client's: its headers name
// its operator's tool, and two tools are two operators as often as not.
//
// pagelessStrangersAfter: a session whose first record call came this
// soon after the proxy's first may be a person's tab that was open before
// the proxy was there, finishing the page it had loaded (an outside red
// team's people mid-visit at a start made their pageless calls within
// 5 s of it, 2026-12-06): for as long again from its first call it stays
// in its build's crew. A swarm started before the proxy goes on calling
// past that, pageless; a person's tab loads a page. Not a call without a
// session: a person's tab has its cookie, and a swarm of one build that
// started with the proxy was two crews, its first half minute's members
// and the rest (sim residential-swarm: 1,006 records where 504). Nor a
// session that loaded a page before its first record call and then reads
// what it was not shown (began, ev.astray): its visit began under the
// proxy, so what it was shown is known, and a tab from before the proxy
// makes its first call before any page. The README's demo, whose
// scrapers start with the proxy, had page-swarm's sessions, each a page,
// its reviews and profiles by id, take 8,960 people in its first 20 s
// (2026-12-06).
const pagelessStrangersAfter = int64(30 * time.Second)

// pagelessStranger reports whether a pageless record call at now
// (sessionless: without a session, from address addr; began: of a
// session that loaded a page before its first record call) of a key
// first seen calling at first is a stranger's to the shop's pages.
func (b *Behaviour) pagelessStranger(now, first int64, began, sessionless bool, addr uint64) bool {
	// Not where no page was ever seen: an access log of the API alone,
	// or a shop whose pages come from elsewhere, has everyone pageless.
	if !b.pagesSeen.Load() {
		return false
	}
	if sessionless {
		return addr != 0
	}
	if began {
		return true
	}
	start := b.firstCall.Load()
	return start != 0 && first != 0 && (first-start >= pagelessStrangersAfter || now-first >= pagelessStrangersAfter)
}
