package detect

import (
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// youngFor: a session is young for this long after its first record
// request (ns), and its calls count towards its address's young sessions
// too. Half a minute: a churner's sessions live a second, and the
// shorter a session's youth, the sooner an address whose sessions never
// outlive it is seen (session_churn, ephemeral).
const youngFor = int64(30e9)

// staysFor: a session that makes a record call this long or more after
// its first stays (it grew, and its calls count as those of sessions that
// outlive their youth). Not youngFor: people who leave within half a
// minute are many, and a ninth red team's people behind a carrier NAT,
// whose visits lasted 10-35 s, were all refused as a churner from 60 s
// (2026-12-03). A churner's sessions live a second; one whose sessions
// stay five seconds or more meets the surge of its network's births
// (surge) and the cold sweeps instead.
const staysFor = int64(5e9)

// StaysFor is staysFor as a duration: refusals before it are a visit's
// first seconds, as the simulator and the demo judge people's.
const StaysFor = time.Duration(staysFor)

// loadCalls: the record calls a page may make as it loads (within
// staysFor of the first): an account menu and a widget or two. The call
// after them is the first a session makes of its own (see unpagedTwice).
const loadCalls = 3

// pagelessJudgedAfter: an address's pageless young sessions are judged
// to die young (ephemeral) once their first sessions have had the time
// to stay: a person's next call comes 3-8 s after the last in the
// shortest visits seen (the ninth red team's), so by three times
// staysFor the first people's sessions have made a call past it. Not
// after a minute, as the address's: people are seldom pageless, so what
// spares a carrier NAT's shoppers at a start is not needed here, and
// live nat-churn took 9,097 records in that minute (2026-12-03); nor
// after youngFor+staysFor, as until 2026-12-04: nat-churn took 5,265 in
// those 35 s, nat-landing 10,166.
const pagelessJudgedAfter = 3 * staysFor

// young reports whether a request of key k (state st) at now is a young
// session's on address addr: its first record request under youngFor ago,
// or none yet, or a session held in its youth (heldYoung) that has not
// stayed since: it is still a newcomer, and a churner whose sessions,
// held, call again past their youth took those calls (sim
// nat-once-stay, 284,653 records in a day, 2026-12-04).
func (b *Behaviour) young(k identity.Key, addr uint64, st *addrState, now int64) bool {
	return k.Kind == identity.Session && addr != 0 && (st.firstAt == 0 || now-st.firstAt < youngFor || st.heldYoung && !st.hasGrown)
}

// ephemeral reports, of an address's young sessions' state st, whether
// the address's sessions do not outlive their youth: for over a minute,
// at least twenty record calls, nine in ten of them from sessions that
// never stayed (staysFor), from more sessions that never stayed than
// people's would by chance (peopleDieYoung). A carrier NAT's shoppers are
// all young at a start, but a minute on most of their calls come from
// sessions that stayed; a scraper that makes a fresh session every few
// calls never has one.
//
// Or, counted by sessions, 31 in 32 never stayed: a third red team kept 15% of a churner's calls on four long-lived
// sessions and took 26,890 records in 90 s unrefused (2026-12-02). A shop's
// visitors who leave within five seconds are many, but not 31 in 32.
func (st *addrState) ephemeral(now int64) bool {
	return st.ephemeralAfter(now, 2*youngFor)
}

// ephemeralAfter is ephemeral, judged once the state's first call is
// over after ago.
func (st *addrState) ephemeralAfter(now, after int64) bool {
	if st.firstAt == 0 || now-st.firstAt <= after {
		return false
	}
	return st.apiCalls >= 20 && 10*uint32(st.older) < uint32(st.apiCalls) && beyond(uint32(st.born-st.grown), uint32(st.born), peopleDieYoung) || st.born >= 64 && 32*uint32(st.grown) < uint32(st.born)
}

// peopleDieYoung: the share of people's sessions that may never stay
// (staysFor) by chance. People who click fast finish a visit of a few
// pages within five seconds: at a page a second, six such sessions on an
// office address, twenty calls and none past its fifth second, were
// judged to die young, and the live demo refused 6 to 12 office requests
// (2026-12-05; TestPeopleWhoClickFastAreNoChurn). Of the demo's visits,
// 21% never stay at a page a second, 36% at a page every 0.75 s; half
// is people clicking faster still. A churner's sessions, none staying,
// are beyond it from the fourteenth (colderEvidence: 1 in 10,000).
const peopleDieYoung = 0.5

// admit counts a stay on an address's landing sessions' state st
// (landingKey), weak when its session has loaded no HTML page since its
// first call, and reports whether it counts towards the address's older
// calls and grown sessions: a weak one only while they are a fifth of the
// stays at most. People who land on the home page and stay open an
// item's page; those whose pages come from the browser's cache stay
// without, but are few (a tenth of the live demo's return visits). A
// churner whose landing sessions, one in three to nine, loaded a script
// and called again 6-30 s on made its address's sessions outlive their
// youth with those alone, and took 1,856,482 to 3,193,297 records in a
// simulated day (nat-once-stay, three seeds, 2026-12-04).
func (st *addrState) admit(weak bool) bool {
	if st.strongStays > 256 || st.weakStays > 256 {
		st.strongStays, st.weakStays = st.strongStays/2, st.weakStays/2
	}
	if !weak {
		st.strongStays++
		return true
	}
	st.weakStays++
	return 4*st.weakStays <= st.strongStays
}

// bear counts a young session's first record call on the young sessions'
// state st.
func (st *addrState) bear() {
	st.born++
	if st.born > 256 {
		st.born, st.grown, st.strays = st.born/2, st.grown/2, st.strays/2
	}
}

// strayedAgain reports, of an address's young sessions' state st, at a
// record call of a young session there that has not stayed and first
// called at began, whether two sessions there went astray one after the
// other in their youth (strays, strayOn), each having asked first about
// its page's item, and have not stayed since; this session first called
// after the last of them did so, under regularAfter ago; and they are
// half or more of the sessions born there that never stayed. Such a call
// is a pageless stranger's (ev.astray).
//
// A swarm whose sessions each load a popular item's page and ask for its
// reviews, then read one profile by id and leave, five on each address
// one after the other, was a person to every rule (sim page-swarm-once:
// 21,937 people in a day, never held; live 2,070 in 90 s, 2026-12-06).
// A person's one astray call is their own profile, and their visit goes
// on (it stays); on a carrier NAT's address those who have not yet are a
// few of the many there who never stayed. One after the other: two
// people on an office address, one of whom asked for their own profile
// in a visit of one item and left while the other had just done so, and
// the next visit there, were held in its first seconds when any astray
// two counted (live, beside page-swarm-once: 1 and 2 office requests in
// two runs). Two, not one: a person's visit of one item that asked for
// their own profile, then the next person's on the address doing so
// before staying, is about one visit in a thousand in the demo. Paged
// sessions only: on a carrier NAT whose address a churner landing on the
// home page shares, the churner's sessions went astray and were the most
// of those that never stayed, and the people arriving there were held
// with it (sim nat-landing: 56 people refused where 27).
func (st *addrState) strayedAgain(now, began int64) bool {
	if st.strays > 0 && now-st.strayAt >= regularAfter {
		st.strays = 0
	}
	return st.strays >= 2 && began >= st.strayAt && 2*uint32(st.strays) >= uint32(st.born-min(st.grown, st.born))
}

// strayOn counts on an address's young sessions' state st a session that
// first called at began going astray at now (addrState.strayed): one
// more of them one after the other if it first called after the last
// one went astray, else the first of them.
func (st *addrState) strayOn(now, began int64) {
	if st.strays > 0 && began >= st.strayAt {
		st.strays = sat8(st.strays, 1)
	} else {
		st.strays = 1
	}
	st.strayAt = now
}

// origin is where a request came from, beyond its behaviour key.
type origin struct {
	// addr: the client address's key (hash; 0: unknown). Popularity
	// counts a record once per address.
	addr uint64
	// app: the request is one of the operator's apps' (Traits.App), or
	// every request is, to the proxy (Options.APIClients): no page of
	// its is seen
	app bool
	// account: the request carries a signed-up account, which meets its
	// own budgets however many sessions it makes: its sessions are not
	// among its address's young sessions.
	account bool
	// fp: the client's fingerprint, when it holds its TLS fingerprint
	// (identity.Actor.TLS; 0 otherwise): its young sessions are
	// followed together too.
	fp uint64
	// net: the client network's key (hash; 0: unknown), whose young
	// sessions are counted for surges.
	net uint64
	// page: the request is for an HTML page; pathID: the item its
	// path is about (Traits.PathID; 0: none).
	page   bool
	pathID int
	// route: the record route (Traits.Route; 0: none)
	route int
	// client: a request without a session or account that shows the
	// sessionless signal: its fingerprint, a person behind the address
	// (0: otherwise), whose first calls there are counted for surges as
	// a young session's are.
	client uint64
}

// pooled reports whether a pageless session's requests of origin o count
// on the pageless pool (pagelessPool): every one on an address, whether
// or not the TLS fingerprint is known. Until 2026-12-04, where it was,
// only a signed-in session's did (its calls are not its address's or its
// fingerprint's young sessions: with the edge's JA4 console-crew took
// 11,478 records in 90 s, slow-crew 4,379, held without it), and the
// others were left to their fingerprint's young sessions (youngFPKey),
// which a swarm that gives each member a TLS client of its own splits
// into as many, none sweeping (a test's swarm: 6,004 of 10,000 profiles).
// In the live scoreboard, every class at once, the JA4 had churn-mixed
// take 6,770 records in 90 s and office-churn 1,483, where without it
// they were held with the pool's other sweepers (114 and 42). The pool's
// people are the same with the JA4 or without: pageless sessions on
// addresses without paged people.
func (o origin) pooled() bool {
	return o.addr != 0
}

// youngOn is the address whose young sessions the request counts towards
// (0: none).
func (o origin) youngOn() uint64 {
	if o.account {
		return 0
	}
	return o.addr
}

// youngKey is the state of the young sessions of address addr together.
func youngKey(addr uint64) identity.Key {
	return identity.Key{Kind: identity.IP, Hash: mix(addr ^ 0x7e5a11d0c0ffee15)}
}

// youngFPKey is the state of the young sessions of TLS fingerprint fp
// together.
func youngFPKey(fp uint64) identity.Key {
	return identity.Key{Kind: identity.Fingerprint, Hash: mix(fp ^ 0x5a4e3f1b9c2d7e61)}
}

// pagedKey is the state of the paged young sessions of address addr
// together: those whose first record call asked for the id of the page
// they had loaded just before (addrState.paged). Where no TLS
// fingerprint tells a churner's client from people's browsers, this is
// what tells its sessions from people's on their address: office
// people who shared the address of a churner that loads a script and
// calls the API lost their first calls of each visit with its young
// sessions (the live demo: 3 to 12 of the office's requests, 2026-12-03).
// A churner that loads each item's page first joins the paged ones,
// and they are judged as the address's are: churning when they do not
// outlive their youth.
func pagedKey(addr uint64) identity.Key {
	return identity.Key{Kind: identity.IP, Hash: mix(addr ^ 0x9a6ed5e55101a6e5)}
}

// pagelessKey is the state of the young sessions of address addr that
// loaded a script or stylesheet but no page before their first record
// call (addrState.pageless): a browser loads the page that names its
// scripts first, and a churner that loads a script to look like one does
// not. They are judged apart
// from the address's other young sessions where its paged sessions are
// peopled (the proxy sees pages there): among hundreds of people behind
// a carrier NAT, whose sessions outlive their youth, a churner's never
// made the address's young sessions look like churn (live nat-churn:
// 13,616 records in 90 s, never refused, 2026-12-03).
func pagelessKey(addr uint64) identity.Key {
	return identity.Key{Kind: identity.IP, Hash: mix(addr ^ 0x0b9a6ed5e55101a6)}
}

// landingKey is the state of the young sessions of address addr that
// loaded a page before their first record call, neither about that
// page's item (pagedKey) nor, since, read as pageless (landed): people
// who land on the home page, whose widget asks about an item, and
// churners that land there too.
func landingKey(addr uint64) identity.Key {
	return identity.Key{Kind: identity.IP, Hash: mix(addr ^ 0x1a4d1a4de55101a6)}
}

// pagelessPool is the state of the pageless sessions (see pagelessKey)
// on addresses whose paged sessions have not shown people (a carrier
// NAT's and an office's have), all together, where no TLS fingerprint is
// known: a residential swarm that gives each of its thousands of
// addresses a session loading a script before its five to ten profile
// calls showed nothing on any address or in any session, and took every
// profile it asked for (live session-swarm: 2,008 in 90 s at 50 requests
// a second, 7,104 at 200; the simulator's: 10,225 of 10,225 in a day,
// 2026-12-03). People's sessions are seldom pageless: a browser loads the
// page that names a script first, and one whose page came from its cache
// was here before, with its session. They are held while they sweep as an
// address's young sessions do (churning: cold and rapid together, colder
// than people beyond chance). All together, not by header shape: a swarm
// that gives each member its own browser build's User-Agent would be as
// many pools of a few members, none sweeping (fp-crew's evasion); nor by
// TLS fingerprint where it is known (origin.pooled). Signed in or
// not: crews of accounts, each session loading a script before its calls
// at a clerk's pace or a person's, showed nothing per member in 90 s
// (live console-crew: 11,480 records; slow-crew: 4,392; 2026-12-03), and
// a clerk's console calls the API without a script, or loads its page
// first. A session on an address whose only session it is stays when it
// calls again, so its address would be peopled by the address's measure:
// the paged sessions' is asked.
func pagelessPool() identity.Key {
	return identity.Key{Kind: identity.Fingerprint, Hash: mix(0x9a6e1e55f00d5eed)}
}

// pagelessSweep notes a pageless session's record call at now (record),
// or loads of its scripts, on their pool (pagelessPool), and reports
// whether they sweep together (sweeping, as an address's young sessions
// churn), or did within youngFor of a response: the calls held are not
// served, and what the
// people among them are shown meanwhile would let the sweep go on every
// few seconds (a test's swarm took a fifth of its calls so). Only a
// response renews it: the calls it holds leave it as it was. The state's
// enlisted is until when its sessions are held.
func (b *Behaviour) pagelessSweep(now int64, record bool, loads uint16) bool {
	k := pagelessPool()
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := b.state(k, true)
	st.pageLoads = sat16(st.pageLoads, loads)
	if !record {
		return now < st.enlisted
	}
	s, _ := b.note(st, now, true, false, -1)
	// Before people are measured (a proxy just started, a shop at
	// night), only while its sessions make half as many calls again as
	// they load scripts: the pool does not follow whether its sessions
	// die young, and a carrier NAT's shoppers whose pages come from the
	// cache load a script before each call.
	if st.fresh && b.sweeping(st, s, now, false) {
		st.enlisted = now + youngFor
	}
	st.fresh = false
	return now < st.enlisted
}

// youngOf returns the keys of the young-session states a request of
// origin o on address addr counts towards: its address's (keys[0]), and
// where the fingerprint holds the TLS fingerprint, its fingerprint's (a
// swarm's, keys[1]) and its fingerprint's on the address (session_churn,
// keys[2]); else the address's paged sessions' (pagedKey, keys[2]) for a
// paged session (keys[3] with the TLS fingerprint); its pageless
// ones' (pagelessKey, keys[3]) for a pageless one, and its landing ones'
// (landingKey, keys[3]) for one that landed on a page and is neither.
// A pageless one that landed on a page and asked first about an item it
// was not shown (strayed) counts with the landing ones too (keys[4]):
// their state is what the address's landing sessions do, named or not.
// Without, a churner whose sessions land was judged on its calls that
// named an item by chance, beside the people landing there, and those
// were spared its address's churn (sim nat-once: 4,316 records where
// 1,638, 2026-12-05). Keys not used are zero.
func youngOf(addr uint64, o origin, paged, pageless, landing, strayed bool) (keys [5]identity.Key) {
	if addr == 0 {
		return keys
	}
	keys[0] = youngKey(addr)
	switch {
	case o.fp != 0:
		keys[1], keys[2] = youngFPKey(o.fp), youngKey(addr^mix(o.fp))
	case paged:
		keys[2] = pagedKey(addr)
	}
	// With the TLS fingerprint too: a churner's own TLS client's
	// sessions there are seen to die young a minute on (live nat-churn
	// with the edge's JA4: 9,097 records, held at 60 s). The paged ones
	// are then counted there too, for whether they are peopled.
	switch {
	case pageless:
		keys[3] = pagelessKey(addr)
	case paged && o.fp != 0:
		keys[3] = pagedKey(addr)
	case landing:
		keys[3] = landingKey(addr)
	}
	if strayed && pageless {
		keys[4] = landingKey(addr)
	}
	return keys
}
