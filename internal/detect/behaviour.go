package detect

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Behaviour follows what each address is served over time, for the
// signals that need history: cold-record sweeps and machine timing.
//
// Popularity: a count-min sketch (4 rows of 2^16 16-bit counters, 512 KiB)
// counts how many addresses every record has been served to, halving all
// counters every 2^20 records so it follows what is popular now. A record
// served to at most ColdMax addresses before is cold. People mostly see popular
// records; a sweep walks the long tail, so nearly everything it gets is
// cold. The platform-wide cold share (ColdShare) rises when a sweep is
// spread over so many addresses that none stands out.
//
// Timing: the intervals between an address's record requests. People
// pause irregularly; a script on a timer does not.
type Behaviour struct {
	// cms: how many addresses were shown each record since the sketch
	// last halved, as a count-min sketch as wide as the pairs a halving
	// allows, so that a record nobody was shown reads as such however
	// busy the platform. At 65,536 wide, by the second morning of a
	// two-day test log 1 of 59 responses of random profiles nobody had
	// been shown read as cold, and a session swarm of 2,500 addresses
	// went unflagged even with each client's JA4 logged. Counts past a
	// byte say nothing more: only whether a record was shown at all, or
	// to one address, is ever asked.
	cms      [cmsRows][cmsWidth]uint8
	cmsMu    sync.Mutex
	inserted uint64
	// seen: the (record, address) pairs served since the sketch last
	// halved, as a Bloom filter (2^23 bits, two hashes: about 5% false
	// positives at the 2^20 pairs a halving allows). A record counts once
	// per address: popularity is how many addresses were shown it, so a
	// scraper serving itself the catalogue over and over from one address
	// does not warm it (cookie-churn took the whole catalogue within the
	// hour, and with it every cold share).
	seen     []uint64
	shards   [64]table[*addrState]
	shardCap int
	// ColdMax: a record served to this many addresses or fewer before is
	// cold, at the least (coldMax).
	ColdMax uint16
	// coldMax: a record served to this many addresses or fewer before is
	// cold (cmsMu): ColdMax, raised while more than coldTarget of people's
	// records would be cold at it (coldHist). On a busy
	// platform's catalogue most records were shown to nobody in the
	// sketch's memory, and ColdMax tells the tail from what people see; on
	// a small shop that many browse (the demo's: 50,000 users, 3,000
	// shoppers) everything has been shown to two or more within a minute,
	// and a crew asking for records at random, starting once the shop was
	// warm, found half its responses cold against people's tenth: several
	// times the calls' evidence it needed at the start, and thousands of
	// records more.
	coldMax uint16
	// coldHist (cmsMu): of the records of responses to keys at a person's
	// pace (their 8th to 72nd response: no key sets the measure alone, and
	// one shown the tail only is left out first, as from people's share;
	// sixteen records a response at most), how many had been shown to how
	// many addresses before, up to coldHistLen-1 or more; coldHistN
	// records since coldMax was last set from it.
	coldHist  [coldHistLen]uint32
	coldHistN uint32
	// ColdMin and ColdShare: an address with at least ColdMin recent
	// records, at least ColdRatio of them cold, is sweeping.
	ColdMin   uint32
	ColdRatio float64
	// TimingMin and TimingCV: at least TimingMin intervals whose coefficient
	// of variation is below TimingCV look machine-made.
	TimingMin int
	TimingCV  float64
	// RapidMin and RapidInterval: at least RapidMin intervals averaging
	// under RapidInterval (ns) are faster than a person reads.
	RapidMin      int
	RapidInterval int64
	// BriskInterval: calls averaging under it (ns) are brisk, a person's
	// pace at the API but not a clerk's (customer-service staff look a
	// customer up every minute or two): what a crew that keeps each
	// member at a person's pace is recruited at (see evidence).
	BriskInterval int64
	// SeqMin: this many near-sequential ids in a row is a walk.
	SeqMin uint16

	// ColdWarmup: records the platform must have served before cold_sweep
	// can fire.
	ColdWarmup uint64

	recent, recentCold atomic.Uint64 // platform-wide, decayed with the sketch
	// responses with records served to keys at a person's pace, and how
	// many were mostly cold: what people are shown, which a fast crew
	// cannot dilute
	paced, pacedCold atomic.Uint64
	// halvings of paced and pacedCold, so that a key's part in them is
	// halved with them (addrState.lent)
	pacedHalvings atomic.Uint32
	// strangers: the responses to sessions that were the first on their
	// address (addrState.stranger), and regulars: to the other keys at a
	// person's pace (StrangersColder)
	strangers, regulars coldCount
	// colderSince: since when strangers have been seen colder, as the
	// strangers' calls that asked saw it (crowdSince; 0: not)
	colderSince atomic.Int64
	// arrivals: behaviour keys making their first record call, per record
	// route (modulo arrivalRoutes) and minute of event time, for the last
	// arrivalSlots minutes: how many keys a cohort's members started
	// among (cohorts). Per route: a cohort reads one route, and keys
	// that started on another are not what it is weighed against. Counted
	// over every route, the demo's swarms (thousands of new addresses a
	// minute, each on the profiles route) held the red team's paced-pages
	// cohort on the reviews route under chance: 15,850 records live.
	arrivals   [arrivalRoutes][arrivalSlots]arrivalCount
	everServed atomic.Uint64
	// SurgeBirths and SurgeRatio: more sessions than SurgeBirths making
	// a first record call on one network within surgeSpan, and than
	// SurgeRatio times as many as the network's rate in the last hour,
	// is a surge (SurgeBirths 0: never; surge).
	SurgeBirths int
	SurgeRatio  float64
	// SinglePageApp: the operator says the shop is a single-page app
	// (config detect.single_page_app): its items have no pages
	// (itemsPaged), and a session that loaded its page calls the API
	// with nothing around as people do (no early api_heavy evidence).
	SinglePageApp bool
	// ItemPages: the operator says the shop's items have pages (config
	// detect.item_pages): itemsPaged whatever the sessions vote.
	ItemPages bool
	// startAt: the event time of the first young session's record
	// request (surgeQuiet)
	startAt atomic.Int64
	// firstCall: the event time of the first record call
	// (pagelessStranger)
	firstCall atomic.Int64
	surges    [64]table[surgeState]
	// pagesSeen: an HTML page was loaded (in an access log, a GET answered
	// for a page's path: KindOfLogged);
	// pageless: each address's pageless young sessions' births
	// (pagelessBirths)
	pagesSeen atomic.Bool
	// namesRead: a page's names were read (PageNamed): the pages' bodies
	// come through, and so do the record responses', which an access
	// log has neither of (id lineage needs what a session was shown)
	namesRead atomic.Bool
	pageless  [64]table[surgeState]
	// firstPaged, firstUnpaged: sessions that loaded a page before their
	// first record call, by whether that call, or the one when they
	// stayed, was about the page's item (at most netVotes of each
	// network's; halved together past landedWindow): whether this shop's
	// browsers load an item's page before asking about it (landed).
	// People who land on the home page, whose widget asks about an item,
	// and then open an item's page vote paged.
	firstPaged, firstUnpaged atomic.Uint64
	// firstNamed, firstUnnamed: of those, the ones that landed on a page
	// that named items (Names) and whose first call was about an item
	// other than the page's, by whether a page they loaded named it
	// (counted and halved with them): whether this shop's people who
	// land ask about what they were shown (itemsNamed).
	firstNamed, firstUnnamed atomic.Uint64
	// laterCalls, astrayCalls: the record calls past their first of
	// sessions that loaded a page, and of those the ones about an item
	// the session had not been shown (ClientCalls)
	laterCalls, astrayCalls atomic.Uint64
	// votes (cmsMu): each network's sessions' votes (countFirst)
	votes map[uint64]netVote
	// rising: the first record calls of young sessions, in the
	// surgeSpan numbered at and the one before, on networks rising at
	// the time (surge)
	rising struct {
		sync.Mutex
		at        int32
		now, prev uint32
		// the same in the surgeMinute numbered minute and the one before
		minute                 int32
		thisMinute, lastMinute uint32
		// the responses to their young sessions, and how many were
		// mostly cold (halved past 4096)
		served, coldServed uint32
	}
	// clients: each client without a session or account (origin.
	// client) on each address that made a record call, for surges
	clients   [64]table[clientState]
	anyClient atomic.Bool // clients has had one
	anyRising atomic.Bool // surges has had a rising network
	// bursts: keys' first record calls by network and slot, and
	// births: each network's rate of them (bursts)
	bursts bursts
	births [64]table[netBirths]
}

const (
	cmsRows = 4
	// halveEvery: the sketch halves after this many records served (a
	// busy platform's popularity is of the last minutes, a small shop's
	// of days).
	halveEvery = 1 << 20
	cmsWidth   = halveEvery
	ivSlots    = 16
	// coldTarget: at most this share of people's records is cold, unless
	// that is so at ColdMax already (coldMax).
	coldTarget    = 0.2
	coldHistLen   = 16
	coldHistEvery = 4096
)

type addrState struct {
	lastAt     int64
	firstAt    int64          // the first record request (ns)
	iv         [ivSlots]int64 // intervals, ns
	n, pos     uint8
	recs, cold uint32 // recent records served, and how many were cold (halved past 256)
	// recent responses with records, and how many were mostly cold
	// (halved past 256): the records of one response are not independent
	// draws (one tail item's reviewers are all cold together), its
	// response is
	served, coldServed uint16
	// expCold: the cold share people were being shown when each of
	// those responses was served, summed (halved with served): what
	// the key's responses are weighed against for cohorts. Just after a
	// start everything is cold for everyone, and a shopper whose first
	// responses were was, against people's share a minute on, colder
	// than people (37 requests of shoppers refused in a live run).
	expCold float32
	// lent, lentCold: the responses this key added to people's (paced)
	// counts, and how many were mostly cold, as of lentAt halvings of
	// those counts: taken back when the key turns out to be shown the
	// tail almost only (Behaviour.Served)
	lent, lentCold uint16
	lentAt         uint32
	lastLow        int16  // low 8 bits of the last record id requested, -1 none
	run            uint16 // consecutive near-sequential ids
	// record requests, and page or asset loads (halved past 256): a
	// browser loads pages around the API calls it makes
	apiCalls, pageLoads uint16
	// on an address's young sessions' state (youngKey): record calls of
	// its sessions that stayed (staysFor; halved with apiCalls)
	older uint16
	// on an address's landing sessions' state (landingKey): the stays
	// (record calls past staysFor) of its sessions with an HTML page
	// loaded since their first call, and of those without (admit;
	// halved together)
	strongStays, weakStays uint16
	lookups                uint16 // recent lookups, and how many were of values never served
	unshown                uint16
	// on an address's young sessions' state: its sessions that made a
	// first record call, and those of them that stayed (staysFor;
	// halved together past 256)
	born, grown uint16
	// stranger: on a session's state, it was the first session on its
	// address that the proxy knows of, or came within regularAfter of
	// the first before any there stayed, without an account
	// (Behaviour.StrangersColder)
	stranger bool
	// tail: its responses were, at its last record call, colder than a
	// person's would be 1 time in 100 (evidence.tail): what it is shown
	// does not make records popular (Served)
	tail bool
	// hasGrown: on a session's state, it has stayed (staysFor; counted
	// in its address's grown)
	hasGrown bool
	// page: on a session's state, the item of the last HTML page it
	// loaded (origin.pathID; 0: none); paged: its first record call was
	// about that item (an item's page, then its reviews), as a
	// browser's is. See pagedKey.
	page  uint16
	paged bool
	// sawPage: on a session's state, it loaded an HTML page; pageless:
	// it loaded a script or stylesheet but no page before its first
	// record call, which no browser does (see pagelessKey); began: it
	// loaded a page before its first record call, a visit begun under the
	// proxy, not a tab from before it (pagelessStranger)
	sawPage, pageless, began bool
	// uncounted: on a session's state, it loaded a page before its first
	// record call and has not stayed yet, when that call counts towards
	// itemsPaged (countFirst)
	uncounted bool
	// loadedSince: on a session's state, it loaded a page or asset since
	// its first record call; unpagedTwice: it landed on a page and its
	// first record call past the page's own (loadCalls) was about
	// another item, with nothing loaded since (landed); unpagedJudged:
	// that call has been made
	loadedSince, unpagedTwice, unpagedJudged bool
	// named: on a session's state, the items the pages it loaded before
	// its first record call named (Detector.PageNamed; nil: none, or its
	// first call is made). lineage: its first call was judged against
	// them (it landed on a page that named items and asked about another
	// item than the page's); unnamed: none of them was the call's item.
	named            *Names
	lineage, unnamed bool
	// strayed: on a session's state, it asked first about its page's
	// item (paged), then went astray in its youth before it stayed, and
	// is counted in its address's strays until it stays. strays,
	// strayAt: on an address's young sessions' state, how many of its
	// sessions did so one after the other (each first calling after the
	// last one's astray call) and have not stayed since, and when the
	// last did (see strayedAgain)
	strayed bool
	strays  uint8
	// shown: on a session's state, the items it was shown: its pages'
	// own, what they named, and the records it was served (Found.Item;
	// nil: none yet). later: its record calls past the first (at most
	// 255); astray: of those, the ones about an item it had not been
	// shown (each item once: what it was served is shown from then on).
	// readsAstray: the astray calls are two or more, and more than two
	// in three of its later ones (see ev.astray).
	shown         *Names
	later, astray uint8
	readsAstray   bool
	// pageRoutes: on a session's state, the record routes it asked about
	// the item of the page it had loaded (bit (route-1)%32)
	pageRoutes uint32
	// pageSince: on a session's state, it loaded an HTML page since its
	// first record call (a weak stay without, see admit)
	pageSince bool
	// arrived: counted in the arrivals (at its arrivalCalls-th record
	// call)
	arrived bool
	// surged: on a session's state, held in a surge in its youth (surge)
	surged bool
	// heldYoung: on a session's state, shown session_churn in its
	// youth: young until it stays (young)
	heldYoung bool
	// app: it made a call as one of the operator's apps (origin.app):
	// never api_heavy
	app bool
	// fresh: on the pageless sessions' pool (pagelessPool), served since
	// it was last weighed: what a hold keeps from being served does not
	// renew it
	fresh bool
	// byChurn: enlisted because its address's young sessions swept
	// together when it was young (see Detector's ev.churn)
	byChurn bool
	// enlisted: until then (ns) the key is a recruited member of the
	// sweepers' crew, whatever one call shows: a member at a person's
	// pace shows the early evidence on some calls and not the next (an
	// asset loaded, a warm record), and went on outside its crew
	enlisted int64
	strayAt  int64 // see strays
	// again: digests of the key's last responses (respDigest), in turn
	// from againAt: a response it was served again (Served)
	again   [4]uint32
	againAt uint8
}

// respDigest names the records of a response, in any order (never 0).
func respDigest(recs []records.Found) uint32 {
	var sum uint64
	for _, r := range recs {
		sum += r.Hash
	}
	return uint32(mix(sum^uint64(len(recs))<<56)) | 1
}

// servedAgain reports whether st (locked) was served the response of
// digest d among its last ones, and notes it among them when it was not.
func (st *addrState) servedAgain(d uint32) bool {
	for _, a := range st.again {
		if a == d {
			return true
		}
	}
	st.again[st.againAt%uint8(len(st.again))] = d
	st.againAt++
	return false
}

// NewBehaviour returns a tracker for up to addrs addresses (older ones are
// forgotten past that).
func NewBehaviour(addrs int) *Behaviour {
	b := &Behaviour{seen: make([]uint64, seenBits/64), shardCap: max(addrs/64, 16), ColdMax: 1, coldMax: 1, ColdMin: 12, ColdRatio: 0.8, ColdWarmup: 500, TimingMin: ivSlots, TimingCV: 0.1, RapidMin: 6, RapidInterval: int64(2 * time.Second), BriskInterval: int64(10 * time.Second), SeqMin: 20, SurgeBirths: 50, SurgeRatio: 10}
	return b
}

// state returns key k's state (its shard locked), making one if create.
func (b *Behaviour) state(k identity.Key, create bool) *addrState {
	sh := &b.shards[k.Hash>>58]
	st, _ := sh.get(k.Hash)
	if st == nil && create {
		st = &addrState{lastLow: -1}
		sh.put(k.Hash, st, b.shardCap)
	}
	return st
}

// evidence is what a key shows towards a crew it does not belong to yet
// (Detector.Assess, recruits).
type evidence struct {
	// early: a sweep at a lookalike's thresholds: ColdSweep on a third of
	// the records, Rapid on a third of the intervals, APIHeavy on three
	// calls and four for every page or asset.
	early Signals
	// colder: rapid on the full evidence, with cold_sweep or ColdMin
	// responses, and responses colder than people's beyond chance (a
	// crew that loads pages around its calls).
	colder bool
	// apiSweep: through the API on the early evidence, at any pace, with
	// two responses or more, so cold that five such keys together are
	// beyond chance (a crew keeping each member under Rapid, a swarm of
	// sessions that each load an asset first, a fast crew on a shop
	// whose records others were shown too); for a single-page app's
	// session (appSession), against people's share at its worst
	// (unmeasuredColdShare), or with apiAlone. Evidence when brisk, or
	// without an account (Detector.Assess).
	apiSweep bool
	// apiAlone: apiSweep with responses colder than people's beyond
	// chance on its own: what a lookalike needs to join a crew past its
	// quorum (a lone app user, or a clerk looking customers up, on the
	// tail while a crew is about).
	apiAlone bool
	// pagedSweep: rapid on the early evidence, with four responses or
	// more, so cold that five such keys together are beyond chance,
	// whatever pages it loads: a member of a crew that loads the page
	// around each call, on the evidence a quorum of them shows at once
	// (Detector.Assess joins them by their /24).
	pagedSweep bool
	// pagedWeighed: pagedSweep was weighed (rapid on the early evidence,
	// with four responses or more), whether or not it held: the keys of
	// a /24 a quorum's members are counted among (recruits.beyondChance).
	pagedWeighed bool
	// brisk: through the API (early) at under BriskInterval.
	brisk bool
	// firstAt: the key's first record request (ns): whether it started
	// with a crew (recruits.join).
	firstAt int64
	// arrived: the key is to be counted in the arrivals now, at its
	// arrivalCalls-th record request, as of its first (firstAt).
	arrived bool
	// swarm: churn is of the young sessions of the request's TLS
	// fingerprint, each on an address of its own.
	swarm bool
	// enlisted: recruited within the last recruitKeep (Behaviour.enlist).
	enlisted bool
	// alone: with two responses or more, colder than people's beyond
	// chance on its own, at any pace, pages or none: what a cohort's
	// members who join it once it has formed show (cohorts).
	alone bool
	// tail: the same at cohortEvidence, what counts a key towards a
	// cohort's quorum.
	tail bool
	// pace: the mean interval of the key's record calls (ns; +Inf for
	// fewer than RapidMin/3 intervals).
	pace float64
	// churn: a young session's record request on an address whose young
	// sessions together sweep: cold and rapid on the full evidence, with
	// responses colder than people's beyond chance. A scraper that makes
	// a fresh session every few calls, each loading a script first, shows
	// nothing in any one session, and each would be a person behind the
	// address, growing its per-person budget.
	churn bool
	// surge: held in a surge (SessionChurn by its network's).
	surge bool
	// pooled: held with the pageless pool's sweep (pagelessPool).
	pooled bool
	// crowd: a stranger's (addrState.stranger) record request, shown
	// colder records than people so far (asWarm), while strangers are
	// shown colder records than regulars (StrangersColder).
	crowd bool
	// crowdHeld: crowd, and strangers have been seen colder for
	// crowdHeld
	crowdHeld bool
	// unpaged: a record call of a session that has loaded no HTML page,
	// not an app's (Behaviour.pagelessStranger)
	unpaged bool
	// astray: a record call of a session that loaded a page and reads
	// what it was not shown (addrState.readsAstray), on a shop whose
	// people ask about what its pages show them (itemsPaged,
	// itemsNamed): a pageless stranger's as far as its reading goes
	astray bool
	// began: the session loaded a page before its first record call
	// (addrState.began)
	began bool
	// burst: the key started in a formed burst, on one of its networks,
	// and has been shown no warmer than people (bursts)
	burst bool
}

// servedPage notes on st (a behaviour key's, its shard locked) that it
// was served the page about item pathID.
func (b *Behaviour) servedPage(st *addrState, kind identity.Kind, pathID int) {
	st.page, st.sawPage = uint16(pathID), true
	if kind == identity.Session {
		st.show(pathID)
	}
	st.pageSince = st.pageSince || st.firstAt != 0
	if !b.pagesSeen.Load() {
		b.pagesSeen.Store(true)
	}
}

// landedWindow: the sessions' votes counted for itemsPaged (halved past
// it).
const landedWindow = 1 << 14

// countFirst counts the first record call of a session that loaded a
// page before it, paged or not, once the session stayed (itemsPaged),
// at most netVotes of them on each network (net: its key, else its
// address's) at a time (halved together past landedWindow). A network's
// sessions are one voice, however many: a churner on a carrier NAT's
// address whose lingerers, one session in three to nine, opened an
// item's page before their late calls voted a single-page app's shop as
// paged with those alone, and its people read as landed were held on its
// crew's budget (sim --spa nat-once-pages: 381 calls past their first
// 5 s, 2026-12-04). Not one vote a network: the live demo's 3,000 people
// are on two /24s, and the crews that load items' pages outvoted them
// (demo --spa: 37,311 shoppers' requests refused).
//
// named is 1 or -1 for a session whose first call was judged against the
// items its pages named (addrState.lineage), by whether it was one of
// them; 0 otherwise (itemsNamed).
func (b *Behaviour) countFirst(net uint64, paged bool, named int) {
	b.cmsMu.Lock()
	defer b.cmsMu.Unlock()
	if b.votes == nil {
		b.votes = map[uint64]netVote{}
	}
	v := b.votes[net]
	switch {
	case paged && v.paged < netVotes:
		v.paged++
		b.firstPaged.Add(1)
	case !paged && v.unpaged < netVotes:
		v.unpaged++
		b.firstUnpaged.Add(1)
	}
	switch {
	case named > 0 && v.named < netVotes:
		v.named++
		b.firstNamed.Add(1)
	case named < 0 && v.unnamed < netVotes:
		v.unnamed++
		b.firstUnnamed.Add(1)
	}
	b.votes[net] = v
	if b.firstPaged.Load()+b.firstUnpaged.Load() > landedWindow {
		var p, u, nm, un uint64
		for n, v := range b.votes {
			v.paged, v.unpaged, v.named, v.unnamed = v.paged/2, v.unpaged/2, v.named/2, v.unnamed/2
			if v == (netVote{}) {
				delete(b.votes, n)
				continue
			}
			b.votes[n] = v
			p, u = p+uint64(v.paged), u+uint64(v.unpaged)
			nm, un = nm+uint64(v.named), un+uint64(v.unnamed)
		}
		b.firstPaged.Store(p)
		b.firstUnpaged.Store(u)
		b.firstNamed.Store(nm)
		b.firstUnnamed.Store(un)
	}
}

// netVotes: the votes of one network's sessions counted at a time on
// whether the shop's items have pages (countFirst). At 256 the live
// demo's people, on two /24s, were outvoted by the crews that land on
// the home page and call on, and the shop read as one whose items have
// no pages: nat-landing took 12,281 records where 8,502 (2026-12-04).
const netVotes = 1024

// netVote is a network's sessions' votes on itemsPaged and itemsNamed.
type netVote struct{ paged, unpaged, named, unnamed uint16 }

// itemsPaged reports whether three in four at least of the sessions
// that loaded a page and stayed (sixteen at least, netVotes at most of
// each network's) asked about a page's item (countFirst): the shop's
// items have pages that its browsers load before asking about them.
// Three in four, not one in two: a single-page app's people never ask
// about a page's item, and paced-pages, 107 sessions on as many
// networks, each loading items' pages before its calls, started with
// the proxy and outvoted them for hours (sim --spa: 7 people held for
// their visits, 2026-12-04; 4 at two in three). On a shop whose items
// have pages its people vote so but for their cached visits, and a crew
// that asks about no page's item has to outvote a third of them.
func (b *Behaviour) itemsPaged() bool {
	if b.ItemPages {
		return true
	}
	p := b.firstPaged.Load()
	return !b.SinglePageApp && p >= 16 && p >= 3*b.firstUnpaged.Load()
}

// itemsNamed reports whether nine in ten at least of the sessions that
// landed on a page naming items, asked first about another item than the
// page's, and stayed (sixteen at least, counted as for itemsPaged) asked
// about an item a page of theirs named: this shop's people who land ask
// about what they were shown, and a landing session that asks about
// something else is judged as pageless (strayed). Where the first call
// is the person's own profile, or an item found through a response the
// proxy does not read, people vote otherwise and the rule is off. Nine
// in ten: a shop whose landers one in five ask about their own profile
// first must not hold them with a churner.
func (b *Behaviour) itemsNamed() bool {
	n := b.firstNamed.Load()
	return n >= 16 && n >= 9*b.firstUnnamed.Load()
}

// ItemsNamed reports whether the shop reads as one whose people who land
// on a page ask first about an item it named (itemsNamed).
func (b *Behaviour) ItemsNamed() bool { return b.itemsNamed() }

// ItemsPaged reports whether the shop reads as one whose items have
// pages that its browsers load before asking about them (itemsPaged):
// the rules on a session's page lineage apply.
func (b *Behaviour) ItemsPaged() bool { return b.itemsPaged() }

// pageServed is Detector.PageServed on key k.
func (b *Behaviour) pageServed(k identity.Key, pathID int) {
	if k.Hash == 0 {
		return
	}
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	if st := b.state(k, true); st != nil {
		b.servedPage(st, k.Kind, pathID)
	}
	sh.mu.Unlock()
}

// pageNamed is Detector.PageNamed on key k.
func (b *Behaviour) pageNamed(k identity.Key, names *Names) {
	if k.Hash == 0 || k.Kind != identity.Session || names.Empty() {
		return
	}
	if !b.namesRead.Load() {
		b.namesRead.Store(true)
	}
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	// Only before the session's first record call, the one judged
	// against them (addrState.lineage).
	if st := b.state(k, true); st != nil {
		if st.firstAt == 0 {
			if st.named == nil {
				st.named = new(Names)
			}
			st.named.union(names)
		}
		st.showAll(names)
	}
	sh.mu.Unlock()
}

// routeBit is record route's bit in addrState.pageRoutes.
func routeBit(route int) uint32 { return 1 << (uint(route-1) % 32) }

// show notes on st (a session's, its shard locked) that it was shown
// item pathID (addrState.shown).
func (st *addrState) show(pathID int) {
	if pathID != 0 {
		st.shownSet().Add(pathID)
	}
}

// showAll notes on st that it was shown the items of names.
func (st *addrState) showAll(names *Names) { st.shownSet().union(names) }

// shownSet is st.shown, made when there is none yet.
func (st *addrState) shownSet() *Names {
	if st.shown == nil {
		st.shown = new(Names)
	}
	return st.shown
}

// signals returns the history signals of key k (a request's behaviour
// key) at now, and notes a record request at now when record is true,
// with what the key shows towards a crew, and towards its address's young
// sessions (churn).
func (b *Behaviour) signals(k identity.Key, o origin, now int64, record, page bool, low int) (s Signals, ev evidence) {
	if k.Hash == 0 {
		return 0, ev
	}
	if record && b.firstCall.Load() == 0 {
		b.firstCall.CompareAndSwap(0, now)
	}
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	// A page or asset before any record request counts too: a browser
	// loads the page first.
	st := b.state(k, record || page)
	if st == nil {
		sh.mu.Unlock()
		return 0, ev
	}
	addr := o.youngOn()
	young := b.young(k, addr, st, now)
	// A session held in a surge (surged) that goes on as a browser does,
	// asking about the item of the page it has just loaded, staysFor or
	// more after its first call, is let go: people whose first calls on
	// a paged churner's carrier-NAT address were held in its network's
	// surge were held for as long as the surge lasted, every call of
	// their visits (sim paged-churn among 2,000 people: 719 calls in 100
	// sessions, 577 past their first 5 s; none past since, 2026-12-04).
	// A churner's session that calls again past its youth without its
	// page stays held.
	//
	// On a shop whose items have no pages (a single-page app) a person
	// never asks about the page's item: there a session that loaded the
	// app's page and calls again past its first 5 s, shown nothing
	// colder than people are (asWarm), is let go (appGoesOn). Such
	// people held in a nat-once churner's surge were held for whole
	// visits (sim --spa: 346 calls past their first 5 s, in 100
	// sessions, 2026-12-04). Shown nothing colder: a crew's sessions
	// reading the tail at a person's pace on one address were let go so
	// at their third call (TestChurnersSessionsStayTheCrewsPastTheirYouth).
	appGoesOn := (st.surged || st.byChurn) && b.appSession(st) && st.apiCalls >= 1 && b.asWarm(st)
	goesOn := o.pathID != 0 && uint16(o.pathID) == st.page && st.loadedSince || appGoesOn
	if st.surged && record && goesOn && st.firstAt != 0 && now-st.firstAt >= staysFor {
		st.surged = false
	}
	// So is one there that its address's churn enlisted in its youth:
	// people
	// who arrived on a churner's carrier-NAT address were its crew's for
	// an hour, and refused on its budget for the rest of their visits
	// (sim --spa nat-once-stay: 381 calls past their first 5 s, 44
	// people, 2026-12-04). Where items have pages a person's session is
	// paged, and not enlisted so (youngOf).
	if st.byChurn && st.enlisted > now && record && appGoesOn && st.firstAt != 0 && now-st.firstAt >= staysFor {
		st.enlisted, st.byChurn = 0, false
	}
	// A session stays (stayed) when it makes a record call staysFor or
	// more after its first. A session held in a surge is not a person
	// when it stays either (peopled).
	stayed := record && k.Kind == identity.Session && addr != 0 && !st.surged && st.firstAt != 0 && now-st.firstAt >= staysFor
	born := young && record && st.firstAt == 0
	if o.page {
		b.servedPage(st, k.Kind, o.pathID)
	}
	// A signed-in session is judged paged or pageless at its first
	// record call too, though its calls are not its address's young
	// sessions' (origin.youngOn): the pageless pool takes it in
	// (pagelessPool).
	first := record && st.firstAt == 0 && k.Kind == identity.Session && o.addr != 0
	keyBorn := record && st.firstAt == 0 && o.net != 0
	if first {
		st.paged = o.pathID != 0 && uint16(o.pathID) == st.page
		st.pageless = !st.sawPage && st.pageLoads > 0
		st.uncounted, st.began = st.sawPage, st.sawPage
		st.lineage = st.sawPage && !st.paged && o.pathID != 0 && st.named != nil
		st.unnamed = st.lineage && !st.named.Has(o.pathID)
		st.named = nil
	}
	// Counted once the session stays (staysFor): a churner whose sessions
	// land on the home page, make a call and never stay made most of the
	// first calls of the live demo's 200 people's shop, which then read
	// as one whose items have no pages, and no landing session ever read
	// as landed: console-landing took 459 records never refused where it
	// took 98, nat-landing 9,364 where it took 5,593 (2026-12-04).
	//
	// An unpaged one only once the session has loaded a page since, or
	// at its fourth call: a churner whose landing sessions, one in
	// three, loaded a script and called again 6 s on taught it so with
	// those alone (2026-12-04); but a single-page app's people never load
	// a page since, and without their votes the paged sessions of the
	// scrapers that load items' pages made the shop read as paged, and
	// its people pageless: live with --spa, 21,420 of 112,005 shoppers'
	// requests refused (18,047 before either, 2026-12-04).
	//
	// Not a stranger's (addrState.stranger): a crowd on addresses of its
	// own, one session each, landing on the home page and calling on, at
	// 0.02 new sessions a second cast 1,723 unpaged votes in a simulated
	// day to people's 2,649 paged and 103 unpaged, and a shop whose items
	// have pages read as a single-page app (a debug build, 2026-12-05).
	if record && !first && st.uncounted && !(st.stranger && b.StrangersColder()) && st.firstAt != 0 && now-st.firstAt >= staysFor && (st.paged || st.pageSince || st.apiCalls >= 3) {
		st.uncounted = false
		net := o.net
		if net == 0 {
			net = o.addr
		}
		// On lineage, only a session that has loaded a page since, as a
		// person who landed and opens an item does: a crew of accounts
		// at a clerk's pace that landed on the home page, then called the
		// API about its customers, voted that people who land ask about
		// what they were not shown, and a churner landing on a carrier
		// NAT's address was held one call in three, not four in five
		// (live console-landing beside nat-once, 2026-12-05).
		named := 0
		if st.lineage && st.pageSince {
			named = 1
			if st.unnamed {
				named = -1
			}
		}
		b.countFirst(net, st.paged || o.pathID != 0 && uint16(o.pathID) == st.page, named)
	}
	// A session that landed on a page and asked about another item than
	// the page's, then asks about another again having loaded nothing
	// since, reads as pageless from then on (landed): on a shop whose
	// items have pages a browser loads an item's page before it asks
	// about the item, and people who land on the home page, whose widget
	// asks about a recommended item, open an item's page next or leave.
	// A crew of accounts at a clerk's pace that loaded the home page
	// before its script and calls, and a churner on a carrier NAT's
	// address whose sessions did, were neither pageless nor paged (live,
	// 10,696 and 14,769 records in 90 s, never refused, 2026-12-03).
	// Nothing loaded between the calls: a person coming back with the
	// item's page from the browser's cache loads its scripts again, and
	// an office shopper who did, after a landing visit of one call, was
	// held with the crew (live, 2026-12-04). Not on a shop whose sessions
	// mostly ask about other items than their first page's (a
	// single-page app), where people all do this (itemsPaged); and judged
	// when that is known, not only at the second call: a crew that starts
	// with the proxy makes its second calls before people have shown it.
	//
	// The calls a page makes as it loads are the page's, not a person
	// going on without pages: a home page whose account menu asks about
	// the signed-in person (their own profile) and whose widget then asks
	// about a recommended item made two calls with nothing loaded between,
	// and an outside red team's log replay put 261 of its 2,668 signed-in
	// people (and 18 of its 40 heavy shoppers) in an account crew's
	// pageless pool, under the crew's day-long block (2026-12-06). So the
	// call judged is the first one past the page's (loadCalls).
	if record && !first && k.Kind == identity.Session && o.addr != 0 && st.firstAt != 0 && !st.unpagedJudged &&
		(now-st.firstAt >= staysFor || st.apiCalls >= loadCalls) && st.sawPage && !st.paged && !st.pageless {
		st.unpagedJudged = true
		st.unpagedTwice = !st.loadedSince && !(o.pathID != 0 && uint16(o.pathID) == st.page)
	}
	// So does one that landed on a page and asks first about an item no
	// page it loaded named (strayed), from that call, where people who
	// land ask about what they were shown (itemsNamed): a churner whose
	// sessions land on the home page and make one call each, about an
	// item of its own choosing, was a person who lands and leaves on a
	// busy carrier NAT's address, and was never held (live nat-once,
	// 11,687 records in 90 s, 2026-12-05).
	strayed := first && st.unnamed && !st.pageless && b.itemsPaged() && b.itemsNamed()
	// Id lineage past the first call: a session that loaded a page and
	// goes on asking mostly about what it was not shown (two items or
	// more, over two in three of its calls past the first) reads as a
	// pageless stranger from then on (ev.astray). Two in three, not
	// half: the demo's person who asked for their own profile and then,
	// back with the home page from the browser's cache, about an item it
	// had never shown them, was held for the rest of the visit (14
	// calls, live, 2026-12-06). A
	// browser asks about what the page it loaded shows: the page's item,
	// what the page names, the reviewers in the reviews it was served;
	// a person's own profile, asked for once, is shown from then on. A
	// swarm whose sessions each load a popular item's page and ask for
	// its reviews, then read profiles by id, was a person to every rule
	// (sim page-swarm: 13,631 people in a day, never held, 2026-12-06).
	var firstStray bool
	if record && !first && k.Kind == identity.Session && o.addr != 0 && st.sawPage && st.firstAt != 0 && !st.readsAstray {
		if st.later < 255 {
			st.later++
		}
		b.laterCalls.Add(1)
		if o.pathID != 0 && !st.shown.Has(o.pathID) {
			b.astrayCalls.Add(1)
			firstStray = st.astray == 0 && young && st.paged && !st.hasGrown && !stayed
			st.astray++
			// On a route the session asked about its page's item, as
			// the page does, it weighs two: a person's one astray call
			// is one their page makes on a route of its own (their own
			// profile, an account menu's), while a reader choosing ids
			// asks the page's route about items the shop did not show
			// it. A swarm whose sessions each asked a popular item's
			// page's reviews, then random items', took about nine
			// people in each session's first such call (live
			// page-swarm: 4,060 people in 90 s, held at 4.3 s,
			// 2026-12-06).
			if o.route != 0 && st.pageRoutes&routeBit(o.route) != 0 && st.astray < 255 {
				st.astray++
			}
			st.show(o.pathID)
		}
		st.readsAstray = st.astray >= 2 && 3*int(st.astray) > 2*int(st.later)
	}
	if record && k.Kind == identity.Session && o.route != 0 && o.pathID != 0 && uint16(o.pathID) == st.page {
		st.pageRoutes |= routeBit(o.route)
	}
	astray := record && st.readsAstray && b.itemsPaged() && b.namesRead.Load()
	landed := record && (st.unpagedTwice && !st.pageless && b.itemsPaged() || strayed)
	// A session that strayed and goes on as a person's, asking about the
	// item of a page it loaded since, is a lander again: a signed-in
	// person whose page's account menu asks about them first is one
	// (their own profile, which no page named), and those of the
	// simulator's people were held with the crews for their visits
	// (account-crew: 24 people, 97 calls past their first 5 s,
	// 2026-12-05).
	if record && !first && st.unnamed && st.pageless && st.pageSince && o.pathID != 0 && uint16(o.pathID) == st.page {
		st.unnamed, st.pageless = false, false
	}
	// Nor does a session that reads as landed stay: its stays are no
	// person's, and a churner that gave one landing session in six a
	// second call 6 s on made its address's sessions outlive their
	// youth, and took 2,034,446 records in a simulated day, never held
	// (2026-12-04). Only where it reads as landed, on a shop whose items
	// have pages: a single-page app's people, who call on without pages,
	// never stayed, and all of a busy address's were held as a churner
	// (the row `a single-page app` of
	// TestAPagelessChurnerAmongPagedPeopleIsHeld: 1,581 of 2,004 calls).
	stayed = stayed && !((st.unpagedTwice || st.unnamed && b.itemsNamed()) && b.itemsPaged()) && !astray
	if landed {
		st.pageless = true
	}
	if page && !record && st.firstAt != 0 {
		st.loadedSince = true
	}
	pageless := st.pageless && b.pagesSeen.Load()
	// Before its first record call a session that loaded an item's page
	// is counted with the paged ones.
	paged := st.paged || st.firstAt == 0 && !record && st.page != 0
	// landing: it loaded a page and is neither paged nor pageless: a
	// person who landed on the home page, so far
	landing := st.sawPage && !paged && !st.pageless
	weak := !st.pageSince
	grew := stayed && !st.hasGrown
	strayGrew := grew && st.strayed
	if strayGrew {
		st.strayed = false
	}
	if firstStray {
		st.strayed = true
	}
	st.hasGrown = st.hasGrown || stayed
	hasGrown := st.hasGrown
	surged, heldYoung := st.surged, st.heldYoung
	// goneOn: on a shop whose items have no pages, a session that
	// loaded the app's page and stayed, shown records no colder than
	// people's: a person's visit, as far as one session can tell there
	// (see the address's churn below)
	goneOn := hasGrown && b.appSession(st) && b.asWarm(st)
	// The scripts a pageless session loads count on the pool with its
	// calls: those before its first call when it is born, as one.
	var poolLoads uint16
	switch {
	case first, landed:
		poolLoads = st.pageLoads
	case page && !record:
		poolLoads = 1
	}
	st.app = st.app || o.app
	s, ev = b.note(st, now, record, page, low)
	ev.crowd = record && st.stranger && !b.asWarm(st)
	ev.unpaged = record && k.Kind == identity.Session && !st.sawPage && !st.app
	ev.astray = astray && !st.app
	app := st.app
	ev.began = st.began
	// pagedOn: a paged session that has stayed asks about the item of
	// the page it has just loaded, shown nothing colder than people
	// beyond chance: a person's visit going on, as far as one session
	// can tell (see goesOnAmongChurn below).
	wentOn := record && hasGrown && o.fp == 0 && o.pathID != 0 && uint16(o.pathID) == st.page && st.loadedSince &&
		!colderThanPeople(uint32(st.coldServed), uint32(st.served), b.peopleFor(st))
	pagedOn := wentOn && st.paged
	// landedOn: a session that landed on a page (landing) and goes on
	// so (see landsOn below)
	landedOn := wentOn && landing
	byChurn := st.byChurn && st.enlisted > now
	strayedSt := st.unnamed && st.sawPage && !paged
	asWarm := b.asWarm(st)
	sh.mu.Unlock()
	keys := youngOf(addr, o, paged, pageless, landing, strayedSt)
	own := keys[2].Hash != 0
	var addrEph, addrPeopled, ownEph, ownGrown, pagelessEph, landingEph, landingPeopled bool
	var churned [len(keys)]bool
	stranger := false
	// A landing session's stay counts where its address's landing
	// sessions' stays have had pages (admit). Only on a shop whose items
	// have pages: a single-page app's people load one page, then call on
	// without (itemsPaged).
	counted := stayed
	if stayed && landing && keys[3].Hash != 0 && b.itemsPaged() {
		lsh := &b.shards[keys[3].Hash>>58]
		lsh.mu.Lock()
		if lst := b.state(keys[3], young); lst != nil {
			counted = lst.admit(weak)
		}
		lsh.mu.Unlock()
	}
	var strayedAgain bool
	for i, yk := range keys {
		if yk.Hash == 0 {
			continue
		}
		// One lock at a time: the address's state may be in another shard.
		ysh := &b.shards[yk.Hash>>58]
		ysh.mu.Lock()
		var yst *addrState
		if young {
			yst = b.state(yk, true)
			stranger = stranger || i == 0 && born && (yst.born == 0 || now-yst.firstAt < regularAfter && yst.grown == 0)
			if born || landed && i == 3 {
				yst.bear()
			}
			if i == 0 && record && !hasGrown {
				strayedAgain = yst.strayedAgain(now, ev.firstAt)
				if firstStray {
					yst.strayOn(now, ev.firstAt)
				}
			}
			ys, _ := b.note(yst, now, record, page, -1)
			churned[i] = record && b.churning(yst, ys, now)
		} else if stayed {
			// A record call of a session past its youth, on an address
			// (a fingerprint) whose young sessions are followed.
			yst = b.state(yk, false)
		}
		if i == 0 && strayGrew && yst != nil && yst.strays > 0 {
			yst.strays--
		}
		if counted && yst != nil {
			if yst.older < math.MaxUint16 {
				yst.older++
			}
			if grew && yst.grown < yst.born {
				yst.grown++
			}
		}
		if young {
			switch i {
			case 0:
				addrEph, addrPeopled = yst.ephemeral(now), yst.peopled()
			case 2:
				ownEph, ownGrown = yst.ephemeral(now), yst.older > 0
				// A TLS client's own sessions on the address are judged
				// as the pageless ones are, once its first have had the
				// time to stay: a carrier NAT's people share their
				// browsers' client, and a churner's is its own. After a
				// minute, live nat-once (one call per landing session)
				// took 7,883 records, 1,992 at 15 s; with every class
				// started with the proxy no person was refused either
				// way (2026-12-04).
				if o.fp != 0 {
					ownEph = yst.ephemeralAfter(now, pagelessJudgedAfter)
				}
			case 3:
				pagelessEph = pageless && yst.ephemeralAfter(now, pagelessJudgedAfter)
				landingEph = landing && yst.ephemeralAfter(now, pagelessJudgedAfter)
				landingPeopled = landing && yst.peopled()
			}
		}
		ysh.mu.Unlock()
	}
	if strayedAgain && !app && b.itemsPaged() && b.namesRead.Load() {
		ev.astray = true
	}
	if stranger {
		sh.mu.Lock()
		st.stranger = true
		sh.mu.Unlock()
	}
	if ev.crowd {
		since := b.crowdSince(now)
		ev.crowd = since != 0
		ev.crowdHeld = since != 0 && now-since >= crowdHeld
	}
	// Nor has the session stayed, when its stay counted nowhere: a
	// lingerer of a churner whose sessions stay weakly is no person
	// whose visit went on.
	if stayed && !counted && grew {
		sh.mu.Lock()
		st.hasGrown = false
		sh.mu.Unlock()
		grew, hasGrown = false, false
	}
	// The young sessions of the address sweeping together enlist a young
	// session there in their crew, but not a paged one (youngOf), nor
	// one of a TLS client whose sessions there outlived their youth:
	// those are enlisted by their own sweeping together. An office
	// shopper on a churner's address was enlisted with it on the first
	// call of a visit, and challenged for the rest of it (the live demo,
	// 2026-12-03). A TLS client's sessions there may be new because the
	// churner gave its next batch another User-Agent; the paged ones
	// there are one state whatever it does.
	//
	// Nor, on a shop whose items have no pages, a session that has gone
	// on as a person's there (goneOn): people who arrived on a churner's
	// carrier-NAT address were enlisted in their youth, and refused on
	// its crew's budget all through it (sim --spa nat-once-linger: 122
	// calls, 56 past their first 5 s, 2026-12-04).
	//
	// Nor a paged session that has stayed and goes on as a person's
	// (pagedOn) on an address whose paged sessions mostly die young: an
	// office shopper on the address of a churner that loads each item's
	// page first (office-paged) was enlisted with it mid-visit, 23 s
	// into a session that had stayed at its 5th, and refused on its
	// crew's block for the rest of the visit (live, 2026-12-05). One
	// enlisted so at its first call, which looks like the churner's, is
	// let go once it goes on so. Not where the paged sessions stay as
	// people's do (peopled): a churner whose sessions all stay would be
	// let go with them; the few of its sessions that stay where most
	// die young go on at a session's pace, on a session's budget.
	//
	// Nor a landing session that has stayed and goes on as a person's
	// (landedOn) where what sweeps is not the address's landing sessions
	// (churned[3]): an office shopper who landed on the home page, on
	// the address of a churner whose sessions load a script and call
	// (office-churn), was enlisted with it at the widget's call, and
	// challenged again 5.6 s on, at the reviews of an item whose page
	// they had just loaded (live README demo, 49.1 s and 54.7 s,
	// 2026-12-07). Its first call is the known price beside a churner on
	// one's address; the rest of the visit is not. A churner whose
	// landing sessions sweep stays enlisted.
	landsOn := landedOn && !churned[3]
	goesOnAmongChurn := pagedOn && !b.peopledState(pagedKey(addr)) || landsOn
	if goesOnAmongChurn && byChurn {
		sh.mu.Lock()
		st.enlisted, st.byChurn = 0, false
		sh.mu.Unlock()
		ev.enlisted = false
	}
	if churned[1] || churned[2] && !goesOnAmongChurn || churned[0] && !(own && (ownGrown || o.fp == 0)) && !goneOn && !landsOn {
		ev.churn, ev.swarm = true, churned[1]
	}
	// The pageless sessions on addresses that have not shown people,
	// sweeping together: a swarm that gives each address a session
	// loading a script before its few calls (see pagelessPool). Young or
	// not: its members call once in every cycle over its addresses, each
	// call but the first past its youth. Held as a surge's are, in one
	// crew, while they sweep: a person among them is not enlisted for an
	// hour.
	if pageless && o.pooled() && (record || poolLoads > 0) && !b.peopledState(pagedKey(o.addr)) && b.pagelessSweep(now, record, poolLoads) && record {
		s |= SessionChurn
		ev.pooled = true
	}
	// session_churn is the address's (a fingerprint's sessions are many
	// people's), or, where the TLS fingerprint is known, its TLS
	// client's there, whose sessions that stayed (staysFor) clear it
	// of the address's: a churner's TLS client is its own, and people who
	// arrive on a carrier-NAT address while it churns there came with
	// their browsers' (sim nat-churn: without this, 64 people refused for
	// their first half minute). A client it has not seen there yet is
	// not cleared: a churner that gives each batch of sessions another
	// User-Agent has a new fingerprint each time. Nor a session that has
	// stayed: what the address's churn says is about its newcomers, and
	// an office shopper whose visit was under way when a churner there
	// was judged lost the rest of it (live office-paged, 12 of the 18
	// office requests refused, 2026-12-03). A churner whose sessions stay
	// is not ephemeral anyway; its young sessions sweeping together
	// enlist it (churned, above).
	//
	// Nor a session that landed on a page and has not read as pageless
	// since (lander), on an address whose paged sessions are peopled:
	// its first call is a person's who landed on the home page, and
	// what a churner landing there does next (pageless, held with the
	// address's pageless sessions) tells it apart. Nor is it held by its
	// network's churn or surge below: the simulator's people landing on a
	// carrier NAT's address beside nat-churn and paged-churn had their
	// visits held there (24 people, seed 1, once they landed, 2026-12-04),
	// as paged people, whose own sessions there stay, are not.
	//
	// Not while the address's landing sessions die young (landingEph):
	// a churner whose sessions land on the home page took their first
	// calls thus spared all day in the simulator (nat-landing 1,350,993
	// records, nat-once 1,887,884 with one call each, 2026-12-04). And
	// where the address's landing sessions are peopled though its paged
	// ones are not: people who landed on the home page of a paged
	// churner's address were held in its network's surge (sim
	// paged-churn: 100 sessions refused, 72 with this, 2026-12-04).
	lander := landing && addr != 0 && !landingEph && (landingPeopled || b.peopledState(pagedKey(addr)))
	// A landing session held so in its youth that has not stayed since
	// stays held while the address's landing sessions die young: the
	// address's own churn comes and goes at its edge where people stay
	// beside a churner's, and a lingerer's late call was served then.
	if (ownEph || addrEph && !(own && ownGrown) && !lander || heldYoung && landingEph) && !hasGrown {
		s |= SessionChurn
	}
	// The pageless young sessions (pagelessKey) of an address whose
	// paged ones are peopled are held while more than surgeFloor are
	// born in a surgeSpan and they die young (ephemeral). Not on their
	// number alone: people whose pages come from the browser's cache or
	// a CDN are pageless too, and a red team's harness had 316 of 389
	// such visits refused on a busy carrier NAT, and 40 of 40 people
	// who opened cached pages at once (a push notification), when more
	// than 20 born in 10 s held them (2026-12-03). Not a session that
	// has stayed, as for session_churn above: people whose cached pages
	// had them pageless were held for the rest of their youth (44 of a
	// test's 61 people's calls held).
	if young && record && pageless && addr != 0 && !hasGrown && b.peopledState(pagedKey(addr)) {
		if b.pagelessBirths(keys[3].Hash, now, born || landed) > surgeFloor && pagelessEph {
			s |= SessionChurn
		}
	}
	// A session or client held in a surge in its youth stays held while
	// the surge lasts: a seventh red team gave each session one more
	// call past its youth, and took 37,800 records with those (2026-12-02).
	// Not on an address whose sessions outlive their youth: people
	// arriving on the carrier NAT's other addresses while a churner ran
	// on one were held with it (sim nat-churn, 225 people refused). Nor
	// for a TLS client whose sessions there do, as for session_churn
	// (with the edge's JA4, 27 people on the churner's address).
	switch {
	case young && record && !hasGrown && o.net != 0 && b.surge(o.net, now, born) && !addrPeopled && !(own && ownGrown) && !lander:
		s |= SessionChurn
		ev.surge = true
		if !surged {
			sh.mu.Lock()
			st.surged = true
			sh.mu.Unlock()
		}
	case surged && record && o.net != 0 && b.surge(o.net, now, false):
		s |= SessionChurn
		ev.surge = true
	}
	// So is the network's, for newcomers on addresses that have not
	// shown people (peopled): a churner that keeps each /24 under a
	// surge, or reads what people read, makes a call or two on each
	// address in a minute, too few for the address's to show (a seventh
	// red team: 15,283 records in 90 s just under a surge, 38,654 reading
	// popular items; 2026-12-02).
	// Nor a session that has stayed, which is no newcomer: people who
	// landed on a landing churner's address went on being held past
	// their visit's first seconds (sim nat-once, 11 calls, 2026-12-04).
	if o.net != 0 && addr != 0 && record && (young || grew) && b.netChurn(o.net, now, born, grew) && !hasGrown && !addrPeopled && !(own && ownGrown) && !lander {
		s |= SessionChurn
		ev.surge = true
	}
	if young && record && s&SessionChurn != 0 && !heldYoung {
		sh.mu.Lock()
		st.heldYoung = true
		sh.mu.Unlock()
	}
	if record && o.client != 0 && o.net != 0 {
		c, born := b.client(o.addr, o.client, now)
		young := now-c.first < youngFor
		held := (young || c.surged) && b.surge(o.net, now, born)
		grew := !young && !c.grown
		if young || grew {
			held = b.netChurn(o.net, now, born, grew) || held
		}
		held = held && (c.surged || !b.peopled(o.addr))
		if held {
			s |= SessionChurn
			ev.surge = true
		}
		if held && !c.surged || grew {
			b.markClient(o.addr, o.client, held, grew)
		}
	}
	// Not on an address people share: a carrier NAT's arrivals are its
	// people's.
	if keyBorn && !b.shared(o.addr) {
		b.bursts.born(o.net, now, b.netBorn(o.net, now))
	}
	ev.burst = record && o.net != 0 && !asWarm && b.bursts.of(o.net, ev.firstAt)
	return s, ev
}

// peopledState reports whether the young-session state k exists and is
// peopled.
func (b *Behaviour) peopledState(k identity.Key) bool {
	return b.stateIs(k, (*addrState).peopled)
}

// stateIs reports whether state k exists and is(state) holds (asked
// under its shard's lock).
func (b *Behaviour) stateIs(k identity.Key, is func(*addrState) bool) bool {
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := b.state(k, false)
	return st != nil && is(st)
}

// sharedBirths: an address with people behind it (peopled) whose young
// sessions made this many first record calls or more is shared: a
// carrier NAT's, an office's. One member of an operation, a session of
// its own, is one birth.
const sharedBirths = 8

// shared reports whether address addr is shared by people (sharedBirths).
func (b *Behaviour) shared(addr uint64) bool {
	return addr != 0 && b.stateIs(youngKey(addr), func(st *addrState) bool { return st.born >= sharedBirths && st.peopled() })
}

// peopled reports whether address addr has people behind it (its young
// sessions' state's peopled).
func (b *Behaviour) peopled(addr uint64) bool {
	return addr != 0 && b.peopledState(youngKey(addr))
}

// peopled reports, of an address's young sessions' state st, whether
// the address has people behind it: of its sessions that made a record
// call, one in eight or more stayed (staysFor; a surge's not counted).
func (st *addrState) peopled() bool {
	return st.grown > 0 && 8*uint32(st.grown) >= uint32(st.born)
}

// table is a shard of a map kept within shardCap entries: past it, the
// quarter unused longest is forgotten rather than grow (forgetIdle), not a
// random quarter: a churner making a session for each refusal on a
// carrier-NAT address filled the key states' table (500,000 keys by
// default) within 85 minutes and had it thinned twice a minute, and
// people back on the address minutes after their last call were
// forgotten with it, born again young beside a churner and held (sim
// nat-pages-fresh, seed 1: 11 people's calls past their first 5 s,
// 2026-12-07). The churner's dead sessions go first now, and its own
// live states stay. Age is counted in the keys put since, the same in a
// log replayed twice.
type table[V any] struct {
	mu    sync.Mutex
	m     map[uint64]used[V]
	clock uint32 // the keys put
	// slack: an entry used again within it is not stamped again (a
	// sixteenth of the bound): a map write on every use cost a
	// churner's simulated day 2 s in 40, and an age a sixteenth of the
	// table out changes nothing of what goes first
	slack uint32
	idle  []uint64 // forgetIdle's
}

// used is a table's value, with the table's clock when it was last used.
type used[V any] struct {
	v  V
	at uint32
}

// get returns k's value (locked), if any, as used now.
func (t *table[V]) get(k uint64) (V, bool) {
	e, ok := t.m[k]
	if ok && t.clock-e.at > t.slack {
		e.at = t.clock
		t.m[k] = e
	}
	return e.v, ok
}

// put sets k's value in t (locked), making room first for a new key.
func (t *table[V]) put(k uint64, v V, max int) {
	if t.m == nil {
		t.m = map[uint64]used[V]{}
		t.slack = uint32(max / 16)
	}
	if _, ok := t.m[k]; !ok {
		if len(t.m) >= max {
			forgetIdle(t.m, func(e used[V]) uint64 { return uint64(t.clock - e.at) }, &t.idle)
		}
		t.clock++
	}
	t.m[k] = used[V]{v, t.clock}
}

// churning reports whether the young sessions of an address together
// (state st, signals s) sweep: faster than a person reads, with at least
// ColdMin responses, ColdRatio of them mostly cold, colder than people's
// beyond chance. Cold by the response: as people warm the catalogue over
// the day, a review's authors are read elsewhere too, and a churner's
// records fell under ColdRatio while its responses stayed mostly cold.
// Before people are measured, their share is taken as
// unmeasuredColdShare, and only for young sessions that make half as many
// record calls again as they load pages and assets, or that have made
// nine in ten of the address's record calls for over a minute: at a
// start, when everything is cold for everyone, a carrier NAT's shoppers
// are young sessions of one address too, but they load the pages around
// their calls, and a minute on most of their calls are from sessions past
// their youth.
func (b *Behaviour) churning(st *addrState, s Signals, now int64) bool {
	return b.sweeping(st, s, now, true)
}

// sweeping is churning; dying says whether, before people are measured,
// sessions that do not outlive their youth (ephemeral) sweep too, not
// only those heavy on the API.
func (b *Behaviour) sweeping(st *addrState, s Signals, now int64, dying bool) bool {
	if s&Rapid == 0 || !b.warm() || uint32(st.served) < b.ColdMin || float64(st.coldServed) < b.ColdRatio*float64(st.served) {
		return false
	}
	people, measured := b.people()
	if !measured {
		apiHeavy := 2*uint32(st.apiCalls) > 3*uint32(st.pageLoads)
		if !apiHeavy && !(dying && st.ephemeral(now)) {
			return false
		}
		// Outright, not at least: at night in a shop just started,
		// the few people about are shown the tail too, for an hour.
		people = unmeasuredColdShare
	}
	return colderThanPeople(uint32(st.coldServed), uint32(st.served), people)
}

// note adds a request at now to key state st and returns its signals.
func (b *Behaviour) note(st *addrState, now int64, record, page bool, low int) (s Signals, ev evidence) {
	ev.enlisted = st.enlisted > now
	if record && st.lastAt != 0 && now-st.lastAt > visitGap {
		// A visit hours after the last: what it was shown then (just
		// after a start, when everything was cold) says nothing of it
		// now. A heavy shopper whose session had opened at midnight
		// was, at 20:00, colder than people by its morning.
		st.recs, st.cold, st.served, st.coldServed, st.expCold = 0, 0, 0, 0, 0
	}
	switch {
	case record:
		st.apiCalls++
	case page:
		st.pageLoads++
	}
	if st.apiCalls > 256 || st.pageLoads > 256 || st.older > 256 {
		st.apiCalls, st.pageLoads, st.older = st.apiCalls/2, st.pageLoads/2, st.older/2
	}
	coldShare := float64(st.cold) >= b.ColdRatio*float64(st.recs) && st.recs > 0 && b.warm()
	if st.recs >= b.ColdMin && coldShare {
		s |= ColdSweep
	}
	if record {
		if st.lastAt != 0 && now > st.lastAt {
			st.iv[st.pos] = now - st.lastAt
			st.pos = (st.pos + 1) % ivSlots
			if st.n < ivSlots {
				st.n++
			}
		}
		st.lastAt = now
		if st.firstAt == 0 {
			st.firstAt = now
		}
		if !st.arrived && st.apiCalls >= arrivalCalls {
			st.arrived = true
			ev.arrived = true
		}
		if low >= 0 {
			// ids walked in order, up or down, in steps of 1 to 3
			if d := (low - int(st.lastLow)) & 0xff; st.lastLow >= 0 && (d >= 1 && d <= 3 || d >= 253) {
				if st.run < math.MaxUint16 {
					st.run++
				}
			} else {
				st.run = 0
			}
			st.lastLow = int16(low)
		}
	}
	ev.firstAt = st.firstAt
	if st.run >= b.SeqMin {
		s |= SequentialIDs
	}
	if int(st.n) >= b.TimingMin && cv(st.iv[:st.n]) < b.TimingCV {
		s |= MachineTiming
	}
	if int(st.n) >= b.RapidMin && mean(st.iv[:st.n]) < float64(b.RapidInterval) {
		s |= Rapid
	}
	// Not an app's (app): it loads no pages, which says nothing, as for
	// no_assets. An outside red team's app users, two calls a screen,
	// some of them long-tail items, were enlisted into the sweepers'
	// crew while it was challenged: 17 to 28 of 131 to 268 each run
	// (live, 2026-12-06).
	if st.apiCalls >= 8 && st.apiCalls >= 4*(st.pageLoads+1) && !st.app {
		s |= APIHeavy
	}
	if coldShare && st.recs >= (b.ColdMin+2)/3 {
		ev.early |= ColdSweep
	}
	pace := math.Inf(1) // mean interval, on a third of Rapid's
	if int(st.n) >= (b.RapidMin+2)/3 {
		pace = mean(st.iv[:st.n])
	}
	if pace < float64(b.RapidInterval) {
		ev.early |= Rapid
	}
	// Not for a session that loaded a page of a shop that is a
	// single-page app (SinglePageApp): its people call the API with
	// nothing loaded around, and were recruited into the crews sweeping
	// beside them (live demo --spa: 1,288 shoppers' requests challenged,
	// none with this, 2026-12-04). Not where the shop is merely not
	// known to have item pages: a crew that loads the home page before
	// its calls votes as a single-page app's people do (sim
	// console-landing: 278,353 records where 46,966).
	if st.apiCalls >= 3 && st.apiCalls >= 4*st.pageLoads && !(b.SinglePageApp && st.sawPage) && !st.app {
		ev.early |= APIHeavy
	}
	// People's share is read only for a key that shows evidence: most
	// requests show none. Cold by the response too (below): a live crew
	// that loads each item's page and script before its reviews had a
	// quarter of its members under the record's 80% for their first
	// minute, each taking its address's budget (live page-crew: 10,319
	// to 12,898 records in 90 s, 2026-12-03).
	if s&Rapid != 0 && (s&ColdSweep != 0 || uint32(st.served) >= b.ColdMin) {
		if people, measured := b.people(); measured {
			ev.colder = colderThanPeople(uint32(st.coldServed), uint32(st.served), people)
		}
	}
	ev.brisk = ev.early&APIHeavy != 0 && pace < float64(b.BriskInterval)
	ev.pace = pace
	if record && st.served >= 2 && b.warm() {
		// Against what people were being shown when each of the key's
		// responses was served (Behaviour.expected): before people are
		// measured that is taken to be unmeasuredColdShare, and a key
		// needs over forty responses, every one cold.
		e := coldEvidence(uint32(st.coldServed), uint32(st.served), b.peopleFor(st))
		ev.alone, ev.tail = e >= colderEvidence, e >= cohortEvidence
	}
	if record {
		st.tail = ev.tail
	}
	// Cold by the response, not the record: a review's authors review
	// other items too, and a crew's records warmed past the early
	// ColdSweep's 80% while each of its responses stayed mostly cold.
	// Fast or not: on a shop that has been running, what a crew asks for
	// at random was shown to others too, and a fast one never reached
	// the sweep's 80% (TestAFastAPICrewOnAWarmShopIsRecruited).
	if ev.early&APIHeavy != 0 && st.served >= 2 && b.warm() {
		people, measured := b.people()
		if !measured {
			// Before people are measured (a proxy just started, a shop
			// at night), assume the worst of them short of everything:
			// a crew is recruited once each member's responses would be
			// beyond chance at that, after about nine. Not the few
			// paced responses seen so far: just after a start they are
			// all cold, as everything is until records repeat, and the
			// share of the first of them (or of none, 1) kept a crew at
			// a person's pace unrecruited for the first hour of a
			// simulated night (bench --scenario slow-crew: 57,133
			// records).
			people = unmeasuredColdShare
		}
		// A single-page app's person calls the API with nothing around,
		// as a crew does, and people differ: one a little colder than
		// people's share is beyond chance by the quorum's measure, and
		// those who started within a minute of a crew were recruited
		// into it and refused with it (live demo --spa: 404 shoppers'
		// requests and 33 office ones refused, every one recruited so,
		// 2026-12-05; the recruited people's share 0.55-0.8, people's
		// 0.24). Not only at a person's pace: a shopper flipping items
		// every 1.9 s is rapid (seed 3: 16 requests). There the quorum
		// weighs it against people at their worst short of everything,
		// as before people are measured, or it takes its own evidence.
		// Not its own evidence alone: a crew of signed-in sessions at a
		// clerk's pace that loads the home page, started with the proxy
		// before people's votes say items have pages, was then held by
		// its sessions' budgets at an hour, not as a crew at two
		// minutes (sim console-landing: 102,477 records where 44,405).
		quorumAgainst := people
		if b.appSession(st) {
			quorumAgainst = max(people, unmeasuredColdShare)
		}
		// Its own evidence implies the quorum's at the same share.
		ev.apiAlone = colderThanPeople(uint32(st.coldServed), uint32(st.served), people)
		ev.apiSweep = ev.apiAlone || colderThanPeople(recruitQuorum*uint32(st.coldServed), recruitQuorum*uint32(st.served), quorumAgainst)
	}
	if record && ev.early&Rapid != 0 && st.served >= pagedSweepMin && b.warm() {
		people, measured := b.people()
		if !measured {
			people = unmeasuredColdShare // as for apiSweep: about nine responses each
		}
		ev.pagedSweep = colderThanPeople(recruitQuorum*uint32(st.coldServed), recruitQuorum*uint32(st.served), people)
		ev.pagedWeighed = true
	}
	return s, ev
}

// pagedSweepMin: the responses a key needs for pagedSweep. Four, not
// the two of apiSweep: people load pages too, and a person who opens a
// handful of items in tabs at once is rapid on three calls.
const pagedSweepMin = 4

// expected is the share of people's responses that are mostly cold now,
// as a response is weighed against for cohorts: unmeasuredColdShare until
// it is measured, and everything before the sketch is warm.
func (b *Behaviour) expected() float64 {
	people, measured := b.people()
	switch {
	case !b.warm():
		return 1
	case !measured:
		return unmeasuredColdShare
	}
	return people
}

const (
	arrivalSlots  = 128 // two hours
	arrivalRoutes = 8
	// arrivalCalls: a key counts among the arrivals once it has made this
	// many record calls (as of its first): the keys that could have shown
	// a tail reader's evidence, which takes about a dozen responses. A
	// red team counted at its first call hid a paced cohort behind 130
	// throwaway sessions a second, each one reviews call on the cohort's
	// route (10,594 records in 90 s, never refused; 2026-12-02).
	arrivalCalls = trimMin
)

type arrivalCount struct {
	minute atomic.Int64
	n      atomic.Uint64
}

// arrive counts a key's first record call, on route, at now.
func (b *Behaviour) arrive(route int, now int64) {
	m := now / 60e9
	a := &b.arrivals[uint(route)%arrivalRoutes][uint64(m)%arrivalSlots]
	if old := a.minute.Load(); old != m && a.minute.CompareAndSwap(old, m) {
		a.n.Store(0)
	}
	a.n.Add(1)
}

// arrived returns how many keys made their first record call on route in
// the minutes from from to to (ns), as far as the last arrivalSlots
// minutes are kept.
func (b *Behaviour) arrived(route int, from, to int64) (n uint64) {
	for m := from / 60e9; m <= to/60e9; m++ {
		if a := &b.arrivals[uint(route)%arrivalRoutes][uint64(m)%arrivalSlots]; a.minute.Load() == m {
			n += a.n.Load()
		}
	}
	return n
}

// visitGap: a key's record calls this far apart (ns) are two visits.
const visitGap = int64(time.Hour)

// VisitGap is visitGap as a duration, as the demo judges people's visits.
const VisitGap = time.Duration(visitGap)

// people returns people's cold share, and whether it is a measure yet
// (minPaced responses). While strangers are seen colder than regulars
// (StrangersColder), at most regulars' share: a crowd of strangers at a
// person's pace is then most of the paced responses, and would set what
// people are shown. A relay of members, one started every 8-15 s, each
// for its first two minutes only, had people's share read 0.5-0.68 where
// regulars' was 0.2-0.3, and each member needed twice the responses to
// be told from a person (sim paced-relay: 632,752 records in an
// afternoon, 320,727 with this; 2026-12-06). Its members are each taken
// back from people's share once nine in ten of their responses are cold,
// and a random item's reviews are warm often enough that most are not.
func (b *Behaviour) people() (share float64, measured bool) {
	share, measured = b.PacedColdShare(), b.paced.Load() >= minPaced
	if b.StrangersColder() {
		if r, ok := b.regularsShare(); ok {
			share = min(share, r)
		}
	}
	return share, measured
}

// pacedWindow: people's cold share is of their last pacedWindow/2 to
// pacedWindow responses. From a start it was of every response since
// (halved only with the sketch, every 1M records), and the first
// seconds, when everything is cold, held it at twice what people were
// being shown: 0.17 after 90 s of the live scoreboard while the last
// 2,500 responses were 9% cold.
const pacedWindow = 4 * minPaced

// halvePaced halves people's responses and their cold ones together,
// once per crossing of pacedWindow however many callers see it.
func (b *Behaviour) halvePaced() {
	b.cmsMu.Lock()
	if n := b.paced.Load(); n >= pacedWindow {
		b.pacedCold.Store(b.pacedCold.Load() / 2) // the part first: a share read meanwhile stays at most 1
		b.paced.Store(n / 2)
		b.pacedHalvings.Add(1)
	}
	b.cmsMu.Unlock()
}

// unmeasuredColdShare: what people's cold share is taken to be until it
// is measured, for lookalikes at the API at a person's pace.
const unmeasuredColdShare = 0.8

// enlist keeps key k in the sweepers' crew until until (ns).
func (b *Behaviour) enlist(k identity.Key, until int64, churn bool) {
	if k.Hash == 0 {
		return
	}
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	if st := b.state(k, true); st.enlisted < until {
		st.enlisted, st.byChurn = until, churn
	}
	sh.mu.Unlock()
}

// keep keeps key k, enlisted at now, in the sweepers' crew until until
// (ns), enlisted as it was (by its address's churn or not).
func (b *Behaviour) keep(k identity.Key, now, until int64) {
	if k.Hash == 0 {
		return
	}
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	if st := b.state(k, false); st != nil && st.enlisted > now && st.enlisted < until {
		st.enlisted = until
	}
	sh.mu.Unlock()
}

// asWarm reports whether what key state st has been shown, if anything,
// is no colder than what people were shown (Behaviour.expected) when it
// was served: not merely not colder beyond chance, which a crew reading
// the tail is not either for its first eight responses or so. A key
// refused from its first call has been shown nothing.
func (b *Behaviour) asWarm(st *addrState) bool {
	return st.served == 0 || float64(st.coldServed) <= b.peopleFor(st)*float64(st.served)
}

// peopleFor is people's cold share to weigh key state st's responses
// against: at least what people were being shown when each was served
// (st.served > 0).
func (b *Behaviour) peopleFor(st *addrState) float64 {
	people, _ := b.people()
	return max(people, float64(st.expCold)/float64(st.served))
}

// appSession reports whether key state st is a session that loaded a
// page (the app's) and did not read as pageless, on a shop not known to
// have item pages: a single-page app's person, as far as its loads tell.
func (b *Behaviour) appSession(st *addrState) bool {
	return st.sawPage && !st.pageless && !b.itemsPaged()
}

// minPaced: responses to people at a person's pace before their cold share
// is a measure. Where most people click fast (the short demo's shoppers,
// one page a second) the few paced keys said little, and a fast shopper
// was found colder than them and recruited into a crew.
const minPaced = 500

// colderEvidence: ln(10^4). A key's responses are colder than a person's
// when the chance that a person's, each mostly cold with the paced share,
// are as cold is under 1 in 10,000.
const colderEvidence = 9.21

// colderThanPeople reports whether cold of n responses being mostly cold
// is beyond chance for a person, whose responses each are with
// probability p (the paced share): the Chernoff bound
// exp(-n·KL(cold/n ‖ p)) under e^-colderEvidence. Just after start, when p
// is near 1, no key is; on a warm platform a handful of responses tells.
func colderThanPeople(cold, recs uint32, p float64) bool {
	return coldEvidence(cold, recs, p) >= colderEvidence
}

// coldEvidence is how far beyond a person's chance cold of recs responses
// being mostly cold is: n·KL(cold/n ‖ p), the chance being e^-evidence;
// 0 when no colder than p, +Inf when p is 0 and any is cold.
func coldEvidence(cold, recs uint32, p float64) float64 {
	if recs == 0 {
		return 0
	}
	q := float64(cold) / float64(recs)
	if q <= p {
		return 0
	}
	if p <= 0 {
		return math.Inf(1)
	}
	return float64(recs) * bernoulliKL(q, p)
}

// bernoulliKL is KL(q ‖ p) of two Bernoulli distributions, for 0 < p < 1:
// how fast the chance of seeing a share q where each is p falls with n.
func bernoulliKL(q, p float64) float64 {
	kl := 0.0
	if q > 0 {
		kl = q * math.Log(q/p)
	}
	if q < 1 {
		kl += (1 - q) * math.Log((1-q)/(1-p))
	}
	return kl
}

func mean(xs []int64) float64 {
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs))
}

func cv(xs []int64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += float64(x)
	}
	mean := sum / float64(len(xs))
	if mean <= 0 {
		return math.Inf(1)
	}
	for _, x := range xs {
		d := float64(x) - mean
		sq += d * d
	}
	return math.Sqrt(sq/float64(len(xs))) / mean
}

// Served notes the records key k was served, from origin o.
func (b *Behaviour) Served(k identity.Key, o origin, recs []records.Found) {
	if len(recs) == 0 {
		return
	}
	cold := uint32(0)
	var shown [coldHistLen]uint32 // how many records were shown to how many addresses before
	// What a rising network is shown does not make records popular: a
	// churner spread over 257 /24s read the whole catalogue, which was
	// warm to it from then on, and it took 5,121,932 records in ten
	// simulated minutes, never refused (2026-12-03).
	// Nor, while strangers are shown colder records than regulars, what
	// a stranger is: a crowd that read the catalogue a hundred times over
	// in a day warmed it, and strangers read as colder for 16 minutes of
	// its twelve hours (sim landing-crowd, seed 1, 2026-12-04).
	strangers := b.StrangersColder()
	counts := !b.netRising(o.net) && !b.stateIs(k, func(st *addrState) bool { return st.tail || strangers && st.stranger })
	b.cmsMu.Lock()
	coldMax := max(b.coldMax, b.ColdMax)
	for _, r := range recs {
		var before uint16
		if counts && b.firstTo(r.Hash, o.addr) {
			before = b.bump(r.Hash)
		} else {
			before = b.estimate(r.Hash)
		}
		if before <= coldMax {
			cold++
		}
		shown[min(before, coldHistLen-1)]++
	}
	b.inserted += uint64(len(recs))
	if b.inserted >= halveEvery {
		b.inserted = 0
		// Popularity halves, and with it what people were shown.
		b.coldMax = max(b.ColdMax, b.coldMax/2)
		for v := 1; v < coldHistLen; v++ {
			b.coldHist[v/2] += b.coldHist[v]
			b.coldHist[v] = 0
		}
		clear(b.seen)
		for i := range b.cms {
			for j := range b.cms[i] {
				b.cms[i][j] >>= 1
			}
		}
		for _, c := range [...]*atomic.Uint64{&b.recent, &b.recentCold, &b.paced, &b.pacedCold} {
			c.Store(c.Load() / 2)
		}
		b.pacedHalvings.Add(1)
	}
	b.cmsMu.Unlock()
	b.recent.Add(uint64(len(recs)))
	b.recentCold.Add(uint64(cold))
	b.everServed.Add(uint64(len(recs)))
	if k.Hash == 0 {
		return
	}
	onShared := b.shared(o.addr)
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	st := b.state(k, true)
	// A response the key was served among its last takes nothing new:
	// it is left out of the key's own evidence, and is warm to what the
	// key is followed with (its address's young sessions, the pageless
	// pool, a surge). People back on a tail item's page from the
	// browser's cache, reloading its reviews a second apart, were as cold
	// as a sweep (15 responses of 15) and were recruited into the crew of
	// a swarm started beside them (demo --think 1s, seed 6: 35 shoppers'
	// requests refused, 2026-12-07). Counted warm for the key too, a
	// reload diluted a crew's coldness as a popular item does, at no cost
	// to its budgets (sim page-crew-reload, seed 1: 17,399 people; 3,650
	// left out). Behind an address people share it is warm to the key
	// still: left out there, a person at a page a second through tail
	// items, each reloaded, was as cold as a page crew's member (live,
	// page-crew-reload alone: shoppers' requests refused in four runs
	// of five, 2-10 each), and not counting that coldness behind such an
	// address at all let nat-pages take all it asked for (sim: 34,611
	// people → 46,092).
	//
	// Counted as it is for what the key is followed with, a churner's
	// reloads no longer diluted its address's young sessions (sim
	// cookie-churn-reload, seed 2: 3,526 people, 1,198), but people's did
	// not either, and the demo's shoppers were refused again (10 and 25
	// requests beside account-swarm, 0 with reloads warm); left out
	// there, a single-page app's people were held beside nat-once-linger
	// (TestBenchASinglePageAppsPeopleBesideChurners). Open. Still what
	// people are shown, as it was (shownCold): warm there too, people's
	// share fell, and people behind churners' addresses were held the
	// longer (sim, seeds 1-3: ten more calls past a visit's first 5 s).
	var shownCold uint16
	if 2*cold > uint32(len(recs)) {
		shownCold = 1
	}
	again := st.servedAgain(respDigest(recs))
	if again {
		cold = 0
	}
	var mostlyCold uint16
	if !again || onShared {
		mostlyCold = st.took(uint32(len(recs)), cold, b.expected())
	}
	if k.Kind == identity.Session {
		for _, r := range recs {
			st.show(int(r.Item))
		}
	}
	addr := o.youngOn()
	young, paged, pageless := b.young(k, addr, st, st.lastAt), st.paged, st.pageless && b.pagesSeen.Load()
	landing := st.sawPage && !st.paged && !st.pageless
	strayed := st.sawPage && !st.paged && st.unnamed
	// At a person's pace: two intervals at least, averaging a person's,
	// with a page or asset for every two calls at least. A key too new
	// to tell is left out, so a crew's first calls, before it is rapid,
	// do not count as what people are shown; so is a key calling the API
	// more than the pages around it: a crew that keeps each member at a
	// person's pace would teach that people are shown the tail (in the
	// simulated shop at night its responses are most of the paced
	// ones). Leaving out people whose responses are mostly cold instead
	// left a share of none, against which a shopper who opened three
	// tail items was a sweeper.
	//
	// On a shop not known to have item pages, a key that loaded the
	// app's page is at a person's pace with no more loads: a single-page
	// app's people call the API with nothing loaded around, and were
	// never what people are shown. People's share was then the few
	// paged keys', and people, colder than that, were recruited into
	// crews of their own browser build (live demo --spa: 911 of the
	// 930 shoppers' requests challenged so, 2026-12-04).
	paced := st.n >= 2 && mean(st.iv[:st.n]) >= float64(b.RapidInterval) &&
		(2*st.pageLoads >= st.apiCalls || b.appSession(st))
	// Nor is a key shown the tail almost only, and what it added is
	// taken back: an operation at a person's pace that loads the pages
	// around its calls (red team, paced-pages) is most of the paced
	// responses in a shop at night, and in a log replay its sessions and
	// the other campaigns' held people's share at 0.8 where people's own
	// was under half.
	var back, backCold uint64
	halvings := b.pacedHalvings.Load()
	st.ageLent(halvings)
	if paced && st.served >= trimMin && 10*uint32(st.coldServed) >= 9*uint32(st.served) {
		paced = false
		back, backCold = uint64(st.lent), uint64(st.lentCold)
		st.lent, st.lentCold = 0, 0
	} else if paced {
		st.lent, st.lentCold = sat16(st.lent, 1), sat16(st.lentCold, shownCold)
	}
	served, last, stranger, first := st.served, st.lastAt, st.stranger, st.firstAt
	sh.mu.Unlock()
	if o.net != 0 && !onShared && !again && first != 0 {
		b.bursts.served(o.net, first, last, mostlyCold, b.expected(), b.SurgeRatio)
	}
	if stranger {
		// Against regulars' share as each response is served: strangers
		// are many at a start and at night, when more is cold for
		// everyone, and over a day people's first visits were a third
		// colder than regulars' last responses (sim legit-only, seeds
		// 1-3: 1.40-1.49 times, 2026-12-04).
		if exp, measured := b.regularsShare(); measured {
			b.strangers.add(shownCold, exp, strangersWindow)
		}
	} else if paced {
		b.regulars.add(shownCold, 0, pacedWindow)
	}
	if back > 0 {
		b.takeBack(back, backCold)
	}
	if paced {
		n := b.paced.Add(1) // the whole before its part, as Snapshot reads them
		b.pacedCold.Add(uint64(shownCold))
		if n >= pacedWindow {
			b.halvePaced()
		}
		if served >= trimMin && served < trimMin+64 {
			b.notePeopleShown(&shown, len(recs))
		}
	}
	if pageless && o.pooled() && !b.peopledState(pagedKey(o.addr)) {
		fk := pagelessPool()
		fsh := &b.shards[fk.Hash>>58]
		fsh.mu.Lock()
		fst := b.state(fk, true)
		fst.took(uint32(len(recs)), cold, 0)
		fst.fresh = true
		fsh.mu.Unlock()
	}
	if young {
		for _, yk := range youngOf(addr, o, paged, pageless, landing, strayed) {
			if yk.Hash == 0 {
				continue
			}
			ysh := &b.shards[yk.Hash>>58]
			ysh.mu.Lock()
			yst := b.state(yk, true)
			yst.took(uint32(len(recs)), cold, 0)
			ysh.mu.Unlock()
		}
		if o.net != 0 {
			b.surgeServed(o.net, mostlyCold)
		}
	}
	if o.client != 0 && o.net != 0 {
		if c, ok := b.clientAt(o.addr, o.client); ok && (last-c.first < youngFor || c.surged) {
			b.surgeServed(o.net, mostlyCold)
		}
	}
}

// notePeopleShown counts the records of a response to a key at a person's
// pace, shown[v] of its n records shown to v addresses before (sixteen at
// most, in proportion: no response sets the measure alone), and every
// coldHistEvery records sets coldMax from the counts and halves them.
func (b *Behaviour) notePeopleShown(shown *[coldHistLen]uint32, n int) {
	b.cmsMu.Lock()
	defer b.cmsMu.Unlock()
	for v, c := range shown {
		if n > maxShownPerResponse {
			c = c * maxShownPerResponse / uint32(n)
		}
		b.coldHist[v] += c
	}
	if b.coldHistN += uint32(min(n, maxShownPerResponse)); b.coldHistN < coldHistEvery {
		return
	}
	var total uint32
	for _, c := range b.coldHist {
		total += c
	}
	// At most doubling at a time: a measure that moved far since the
	// last is checked again before it is trusted.
	b.coldMax = min(coldMaxFor(&b.coldHist, total, b.ColdMax), 2*b.coldMax+1)
	for v := range b.coldHist {
		b.coldHist[v] /= 2
	}
	b.coldHistN = 0
}

// maxShownPerResponse: a response's records counted in coldHist at most.
const maxShownPerResponse = 16

// coldMaxFor is the cold threshold for people's records counted in h (of
// total) by how many addresses each had been shown to before: the largest
// count at which at most coldTarget of them are cold, and least if that
// is less. Only counts at which people's records are seen (a hundredth of
// them at least) are taken: where people are shown records that ten
// addresses had been shown and records that two had, and hardly any
// between, the tail is what two had been shown, not nine; taking nine
// made cold what a person opening middling items is shown.
func coldMaxFor(h *[coldHistLen]uint32, total uint32, least uint16) uint16 {
	limit, cum := coldTarget*float64(total), uint32(0)
	for v := range coldHistLen - 1 {
		cum += h[v]
		if float64(cum) > limit {
			break
		}
		if h[v] > 0 && 100*h[v] >= total {
			least = max(least, uint16(v))
		}
	}
	return least
}

// trimMin: responses a key needs before it is found shown the tail almost
// only, and left out of people's share.
const trimMin = 8

// ageLent halves the key's part in people's counts as often as those
// were halved since it was last brought up to date.
func (st *addrState) ageLent(halvings uint32) {
	if d := halvings - st.lentAt; d > 0 {
		if d >= 16 {
			st.lent, st.lentCold = 0, 0
		} else {
			st.lent, st.lentCold = st.lent>>d, st.lentCold>>d
		}
		st.lentAt = halvings
	}
}

// takeBack removes n responses, cold of them mostly cold, from people's
// counts.
func (b *Behaviour) takeBack(n, cold uint64) {
	b.cmsMu.Lock()
	p, c := b.paced.Load(), b.pacedCold.Load()
	p -= min(p, n)
	b.pacedCold.Store(min(c-min(c, cold), p)) // the part first, as halvePaced
	b.paced.Store(p)
	b.cmsMu.Unlock()
}

func sat8(x, d uint8) uint8 {
	if x > math.MaxUint8-d {
		return math.MaxUint8
	}
	return x + d
}

func sat16(x, d uint16) uint16 {
	if x > math.MaxUint16-d {
		return math.MaxUint16
	}
	return x + d
}

// took notes a response of n records, cold of them cold, when people were
// being shown mostly cold responses at the share exp, and returns 1 if it
// was mostly cold.
func (st *addrState) took(n, cold uint32, exp float64) (mostlyCold uint16) {
	st.recs += n
	st.cold += cold
	if st.recs > 256 {
		st.recs, st.cold = st.recs/2, st.cold/2
	}
	if 2*cold > n {
		mostlyCold = 1
	}
	st.served++
	st.coldServed += mostlyCold
	st.expCold += float32(exp)
	if st.served > 256 {
		st.served, st.coldServed, st.expCold = st.served/2, st.coldServed/2, st.expCold/2
	}
	return mostlyCold
}
