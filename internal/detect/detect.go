// Package detect reads what a request shows beyond its keys — what kind of
// request it is, what its User-Agent claims, whether its session ever loaded
// a page — and turns it into signals the engine scores, and into the crew
// key that links the addresses of one scraping operation.
//
// A crew is the actors that share a client fingerprint *and* a scraper's
// behaviour: record requests without a session cookie, or from a session
// that never loaded a page or an asset. Browsers of the same build that
// behave like people are not in it, so a budget per crew can be tight
// without touching them, while a thousand rotating addresses meet it as one.
package detect

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Kind is what a request is for.
type Kind uint8

const (
	Other  Kind = iota
	Page        // an HTML page
	Asset       // a static asset (script, style, image, font)
	Record      // a record route
)

// Signals is a set of signals, as bits.
type Signals uint32

const (
	AutomationUA   Signals = 1 << iota // a scraping library, headless browser or no User-Agent
	UnverifiedBot                      // claims a search engine's crawler from an address that is not one
	VerifiedBot                        // a search engine's crawler, verified by reverse and forward DNS
	Sessionless                        // a record request without a session
	NoAssets                           // a record request from a session that never loaded a page or asset
	Enumeration                        // mostly misses on record routes: guessing ids or numbers
	Allowlisted                        // matches a configured allowlist entry
	ColdSweep                          // the address's recent records are mostly ones hardly anyone is served
	MachineTiming                      // the address's record requests come at machine-regular intervals
	SequentialIDs                      // the address walks record ids in order
	HeaderMismatch                     // claims a browser but lacks headers every browser sends
	UnshownLookups                     // the address looks up values the platform never served to anyone
	Rapid                              // the address's record requests come faster than a person reads
	APIHeavy                           // record requests with hardly a page or asset loaded around them
	SessionChurn                       // the address's sessions do not outlive their first half minute, or its network's are born in a surge
	StrangerCrowd                      // a session first on its address, shown colder records than people, while such sessions together are (Behaviour.StrangersColder)
	numSignals     = iota
)

var signalNames = [numSignals]string{"automation_ua", "unverified_bot", "verified_bot", "sessionless", "no_assets", "enumeration", "allowlisted", "cold_sweep", "machine_timing", "sequential_ids", "header_mismatch", "unshown_lookups", "rapid", "api_heavy", "session_churn", "stranger_crowd"}

// SignalNames are the signal names, as the config and decision log spell them.
func SignalNames() []string { return signalNames[:] }

// SignalByName parses a signal name.
func SignalByName(s string) (Signals, bool) {
	for i, n := range signalNames {
		if n == s {
			return 1 << i, true
		}
	}
	return 0, false
}

// Names lists the signals in s.
func (s Signals) Names() []string {
	var out []string
	for i, n := range signalNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (s Signals) String() string { return strings.Join(s.Names(), ",") }

// Exempt reports whether the signals exempt the actor from sanctions.
func (s Signals) Exempt() bool { return s&(Allowlisted|VerifiedBot) != 0 }

// Traits are what the front end (proxy, log reader, simulator) saw of one
// request.
type Traits struct {
	Kind Kind
	UA   UAClass
	Addr netip.Addr // the client address, for allowlists and bot verification
	// NoSessions: the source cannot see sessions (access logs), so their
	// absence says nothing.
	NoSessions bool
	// At is the request's event time (unix ns), for timing signals.
	At int64
	// IDLow is the low 8 bits of the record id in the path (-1: none).
	IDLow int
	// PathID names the item the path is about (PathID; 0: none): an
	// item's page and the API calls it makes for that item share it.
	PathID int
	// Unserved: a page whose answer is still to come (a proxy asks
	// before the upstream answers). It counts as the session's page (its
	// lineage, a page seen) only once PageServed says it was served: a
	// GET of a page that is not there (404) is no page a person read.
	Unserved bool
	// MissingBrowserHeaders: the UA claims a browser but the request lacks
	// Accept-Language, which every browser sends.
	MissingBrowserHeaders bool
	// Lookup is the record hash of the value a lookup route was asked for
	// (0: not a lookup, or no recognisable value).
	Lookup uint64
	// App: the User-Agent is one of the operator's apps (Detector.App).
	App bool
	// Route names the record route (its index plus one; 0: none or
	// unknown): one behaviour of a cohort's keys is one route's.
	Route int
}

// Options configure a Detector.
type Options struct {
	// Allow exempts addresses in these prefixes, and actors with these
	// keys (accounts, hashed as the resolver hashes them), from sanctions.
	Allow     []netip.Prefix
	AllowKeys []identity.Key
	// Verify, if set, verifies claimed search-engine crawlers.
	Verify *BotVerifier
	// Sessions bounds the sessions whose page loads are remembered.
	Sessions int
	// Behaviour, if set, adds the history signals (cold_sweep,
	// machine_timing); feed it with Served.
	Behaviour *Behaviour
	// APIClients: legitimate clients call the API without sessions or
	// without the pages a browser loads (an app, a frontend served
	// elsewhere), so neither sessionless nor no_assets is raised.
	APIClients bool
	// AppUserAgents are User-Agent prefixes of the operator's own apps:
	// their record calls need neither a session nor page loads, while
	// the web's (an API serving both) keep sessionless and no_assets.
	AppUserAgents []string
}

// Detector is safe for concurrent use.
type Detector struct {
	allow     atomic.Pointer[[]netip.Prefix] // copy on write: AddAllow at run time
	allowKeys map[identity.Key]bool
	verify    *BotVerifier
	behaviour *Behaviour
	// crewSanctioned returns when the sanctions of a crew in force at now
	// end, the latest (0: none; nil: none known).
	crewSanctioned func(now int64, crew identity.Key) (until int64)
	recruits       recruits
	cohorts        cohorts
	shards         [64]sessionShard
	shardCap       int
	apiClients     bool
	appUAs         []string
	// pages: HTML pages served (Clients)
	pages atomic.Uint64
}

type sessionShard struct {
	// the sessions that loaded a page or asset: a flood of fresh
	// sessions forgets those unused longest, not people's
	table[struct{}]
	// record calls (Clients): from sessions (by the session's shard), of
	// those from sessions that never loaded a page or asset, and without
	// a session (by the address's shard)
	calls, pageless, sessionless uint64
}

// New returns a Detector.
func New(o Options) *Detector {
	if o.Sessions <= 0 {
		o.Sessions = 1 << 20
	}
	d := &Detector{allowKeys: map[identity.Key]bool{}, verify: o.Verify, behaviour: o.Behaviour, shardCap: max(o.Sessions/64, 16), apiClients: o.APIClients,
		appUAs: slices.Clone(o.AppUserAgents)}
	for _, k := range o.AllowKeys {
		d.allowKeys[k] = true
	}
	allow := append([]netip.Prefix(nil), o.Allow...)
	d.allow.Store(&allow)
	return d
}

// Assess returns the signals of one request and sets the actor's crew key
// when the request behaves like a scraper's.
func (d *Detector) Assess(a *identity.Actor, t Traits) Signals {
	var s Signals
	if p, ok := d.allowedBy(a, t.Addr); ok {
		s |= Allowlisted
		if p.IsValid() && p.Bits() < p.Addr().BitLen() && a.Keys[identity.IP].Hash != 0 {
			// A partner allowlisted by a prefix is one actor on all its
			// addresses: its allowlisted budgets per address held each
			// of them apart, and a red team's partner harvesting over 14
			// addresses of its /28 took 3,363 in 90 s, never refused
			// (TestEvasionPartnerSpreadOverItsPrefix).
			a.Keys[identity.IP] = prefixKey(p)
		}
	}
	switch t.UA {
	case UAAutomation:
		s |= AutomationUA
	case UASearchBot:
		// Without a verifier (verification turned off, or a log replay
		// where today's DNS says nothing of then) a claim is neither trusted
		// nor held against the client.
		if d.verify != nil {
			if t.Addr.IsValid() && d.verify.Verified(t.Addr) {
				s |= VerifiedBot
			} else {
				s |= UnverifiedBot
			}
		}
	}
	sess := a.Keys[identity.Session]
	switch t.Kind {
	case Page, Asset:
		if sess.Hash != 0 {
			d.loaded(sess.Hash)
		}
	case Record:
		switch {
		case t.NoSessions, t.App:
			// The lack of a session or of page loads says nothing: the
			// source cannot see sessions, or the caller is an app of
			// the operator's (and is left out of Clients' counts).
		case sess.Hash == 0:
			d.sessionlessCall(a.Keys[identity.IP].Hash)
			if !d.apiClients {
				s |= Sessionless
			}
		case !d.recordCall(sess.Hash) && !d.apiClients:
			s |= NoAssets
		}
	}
	if t.UA == UABrowser && t.MissingBrowserHeaders {
		s |= HeaderMismatch
	}
	var ev evidence
	// A page a proxy has yet to see answered counts once PageServed
	// says it was served.
	page := t.Kind == Page && !t.Unserved
	if page {
		d.pages.Add(1)
	}
	if d.behaviour != nil {
		low := t.IDLow
		if t.Kind != Record {
			low = -1
		}
		var hist Signals
		o := d.originOf(a)
		// Where pages come from elsewhere (api_clients) every session
		// is an app's to the proxy: an outside red team's people, with
		// api_clients on, were one crew of sweepers blocked for a day
		// within a minute (live, 2026-12-06).
		o.page, o.pathID, o.route, o.app = page, t.PathID, t.Route, t.App || d.apiClients
		if s&Sessionless == 0 {
			o.client = 0
		}
		hist, ev = d.behaviour.signals(behaviourKey(a), o, t.At, t.Kind == Record, t.Kind == Page || t.Kind == Asset, low)
		s |= hist
		if t.Lookup != 0 {
			s |= d.behaviour.lookup(behaviourKey(a), t.Lookup)
		}
	}
	if ev.arrived {
		d.behaviour.arrive(t.Route, ev.firstAt)
	}
	if ev.crowd && t.Kind == Record {
		s |= StrangerCrowd
	}
	a.Keys[identity.Crew] = identity.Key{}
	// A fast cold sweep is a scraper's behaviour too, with browser
	// headers and a loaded session: the accounts of one operation
	// sweeping the long tail from many addresses share a crew budget.
	sig := s & (Sessionless | NoAssets | AutomationUA)
	// crew: the crew's base when it is not the one crewKey picks.
	var crew uint64
	if a.Keys[identity.Account].Hash != 0 {
		// A signed-up account calling the API without page loads is a
		// staff console or an app as often as a scraper; it meets its
		// account's budgets rather than a crew's with every other, until
		// it sweeps the long tail (an account farm). From a session at
		// a clerk's pace, sweeping the tail is what a clerk does: a
		// profile with its phone and email is three cold records, and
		// after four lookups (a minute or two) the demo's clerks were in
		// the crew of every account sweeping through the API from
		// sessions without assets, and refused with it when it was
		// blocked (TestAClerkIsNotInTheCrewOfAPISweepers).
		switch {
		case s&ColdSweep == 0:
			sig &^= Sessionless | NoAssets
		case (s|ev.early)&Rapid == 0 && !ev.brisk:
			sig &^= NoAssets
		}
	}
	// Sweeping the long tail through the API, faster than a person reads
	// and without the pages a browser loads around its calls: a person
	// browsing the tail does it at a person's pace, page by page. The
	// sweep alone names the crew (with the fingerprint), not whether a
	// member's session has loaded an asset yet or has a cookie at all,
	// so a member keeps one crew from its first call to its last.
	const sweep = ColdSweep | Rapid | APIHeavy
	switch {
	case s&sweep == sweep:
		sig = ColdSweep | sig&AutomationUA
	case ev.churn:
		// The address's young sessions sweep together: one sweeper
		// making a fresh session every few calls, or many sessions
		// started at once; or the young sessions of a TLS fingerprint
		// do, each on an address of its own (a swarm). Either way its
		// sessions stay the crew's past their youth: a red team's
		// hundred sessions on one address, each at a person's pace,
		// were blocked at 8 s with 95 records, and each went on as it
		// turned 30 s old (4,934 in 90 s).
		s |= ColdSweep
		sig = ColdSweep | sig&AutomationUA
		d.behaviour.enlist(behaviourKey(a), t.At+recruitKeep, true)
	case ev.surge:
		// The young sessions held in surges are one crew wherever they
		// are: each network's plain limit alone let a churner spread
		// over 257 /24s take 154,441 records in ten simulated minutes
		// (2026-12-03).
		sig = SessionChurn | sig&AutomationUA
	case ev.pooled:
		// The pool's sessions are one crew of their own, apart from the
		// surges': in a log replay one crew of both had more addresses
		// (spread-churn's and the session swarm's) than a report
		// reveals, and a third of spread-churn's went unnamed.
		sig = SessionChurn | sig&AutomationUA
	case t.Kind == Record:
		// A crew recruits its lookalikes early (see recruits): a quorum
		// of them sweeping the tail through the API, fast or at a
		// person's pace, or (rapid on the full evidence, responses
		// colder than people's) loading the pages around their calls
		// as a crew that read these docs would; past the quorum's
		// first minute, and into a
		// sanctioned crew, only those convincing alone. All but the
		// fast API sweep need responses colder than people's beyond
		// chance: fast shoppers are rapid too, and while most of what
		// people are served is cold (a proxy just started, a small shop)
		// their records look like a sweep's; and a person at the API at
		// a person's pace is a mobile app's user as often as a crew's
		// member. At a person's pace it takes briskness, or no account:
		// a clerk looks a customer up every minute or two, and a swarm's
		// sessions each make a handful of calls.
		atPace := ev.brisk || a.Keys[identity.Account].Hash == 0
		if ev.early == sweep || ev.apiSweep && atPace || ev.colder {
			crew := crewKey(a, ColdSweep|sig&AutomationUA)
			alone := ev.early == sweep || ev.colder || ev.apiAlone && atPace
			if crew.Hash != 0 && (d.recruits.join(crew.Hash, behaviourKey(a).Hash, t.At, ev.firstAt, alone) ||
				alone && d.sanctionedUntil(t.At, crew) != 0) {
				s |= ev.early
				ev.enlisted = true
			}
		}
		// A crew that loads the page around each call, rapid: each member
		// is colder than people beyond chance only after a dozen or more
		// responses (the chance a person's are as cold is read off
		// people's share, half of them mostly cold just after a start),
		// and forty members starting at once took that forty times
		// before any was held (live page-crew: 4,461 records in 90 s,
		// every member first held at its 13th to 19th call, 2026-12-03).
		// Together they are a crew on the early evidence, as an API
		// crew's quorum is, but five on one /24, each on an address of
		// its own that no people share, started within a minute: five
		// people there reading the tail that fast at once are not.
		// Five beyond chance among the /24's keys weighed so in the
		// minute, not five at all: an office's people clicking through
		// a page a second are each as cold as that about one time in six
		// (recruits.beyondChance).
		if !ev.enlisted && ev.pagedWeighed && a.Keys[identity.Net].Hash != 0 && !d.behaviour.shared(a.Keys[identity.IP].Hash) {
			crew, member := crewOf(a.Keys[identity.Net].Hash^pagedCrew, ColdSweep).Hash, behaviourKey(a).Hash
			if d.recruits.beyondChance(crew, member, t.At, ev.pagedSweep) && ev.pagedSweep && d.recruits.join(crew, member, t.At, ev.firstAt, false) {
				s |= ev.early
				ev.enlisted = true
				d.behaviour.enlist(behaviourKey(a), t.At+recruitKeep, false)
			}
		}
		// An operation at a person's pace, each member convincing only
		// as a tail reader, is a cohort of them starting at once
		// (cohorts); recruited, a member stays the crew's for an hour,
		// and for as long after as it shows the same.
		// Not the people behind a shared address (a carrier NAT's, an
		// office's): a shopper behind a carrier NAT reading the tail at
		// a paced cohort's pace, who started within its minute, was
		// recruited with it, and refused (the live demo, once its
		// return visits' pages came from the browser's cache, 6 requests
		// in three runs of eight, 2026-12-03). A cohort's members are
		// each nobody else's address.
		// So is a stranger convincing alone (ev.alone) while strangers
		// have been seen colder than regulars for a quarter hour
		// (ev.crowdHeld): the crowd's, as who joins a stream is. A
		// stream that starts a member every 100-140 s never makes a
		// quorum in half an hour, and each member was held by its own
		// budgets only, for hours colder than people beyond chance (sim
		// paced-trickle: 260,750 records in an afternoon, 2026-12-06).
		// Where strangers are not colder, a collector of the obscure on
		// an address of its own is left to its budgets.
		if ev.tail && t.Route != 0 && !d.behaviour.shared(a.Keys[identity.IP].Hash) && (d.cohorts.join(cohortSig(t.Route, ev), behaviourKey(a).Hash, a.Keys[identity.Net].Hash, t.At, ev.firstAt,
			func(from, to int64) uint64 { return d.behaviour.arrived(t.Route, from, to) }, ev.alone) || ev.alone && ev.crowdHeld) {
			if !ev.enlisted {
				s |= ev.early
				ev.enlisted = true
			}
			d.behaviour.enlist(behaviourKey(a), t.At+recruitKeep, false)
		}
		// So is a key that started in a burst (bursts): dozens at once on
		// a few /24s that had been quiet, shown together colder than
		// people, each no warmer. Not behind a shared address, as for
		// cohorts.
		if ev.burst && !d.behaviour.shared(a.Keys[identity.IP].Hash) {
			if !ev.enlisted {
				s |= ev.early
				ev.enlisted = true
			}
			d.behaviour.enlist(behaviourKey(a), t.At+recruitKeep, false)
		}
		// A recruit stays the crew's for an hour, on calls that show
		// less (an asset just loaded, records someone else read: a crew
		// that has taken much of the catalogue has warmed it), and for
		// as long after as it calls the API at its pace or shows the
		// colder responses it was recruited on (live page-crew's members
		// went back to their own budgets when their evidence wavered:
		// 60 of 627 calls allowed after a first refusal, 2026-12-03).
		if ev.enlisted {
			sig = ColdSweep | sig&AutomationUA
			if ev.early&APIHeavy != 0 && atPace || ev.colder {
				d.behaviour.enlist(behaviourKey(a), t.At+recruitKeep, false)
			}
		}
	}
	// The pool's crew, whatever else the call shows, but a churner's or
	// a surge's.
	if ev.pooled && !ev.churn && !ev.surge {
		crew = poolCrew
	}
	// A session that loaded a script but never a page shows no signal of
	// its own here (the pageless pool holds it only while it sweeps, and
	// not on an address its people have paged from): it is a pageless
	// stranger as one that loaded nothing is, unless signed in (a clerk's
	// console, an app; an account crew is judged on its sweep).
	// So is a session that loaded a page and reads what it was not shown
	// (ev.astray), unless its other signals make it a crew's already: a
	// churner's sessions that each call again twice left their build's
	// crew for the strangers', a budget more (sim nat-once-stay: 1,304
	// people in a day where 1,155).
	unpaged := (ev.unpaged || ev.astray && sig == 0) && a.Keys[identity.Account].Hash == 0
	// Not an exempt actor's (allowlisted, a verified bot): it meets no
	// crew's budget, and a log replay's report would name it among the
	// crew's members (an outside red team's clerks, allowlisted as the
	// docs say, were listed in an account crew's, 2026-12-06).
	if (sig != 0 || unpaged) && t.Kind == Record && !s.Exempt() {
		switch {
		case crew != 0:
			a.Keys[identity.Crew] = crewOf(crew, sig)
		case sig&(ColdSweep|SessionChurn|AutomationUA) == 0 && (sig&(Sessionless|NoAssets) != 0 || unpaged) && d.behaviour != nil &&
			d.behaviour.pagelessStranger(t.At, ev.firstAt, ev.began, sig&Sessionless != 0, a.Keys[identity.IP].Hash):
			// One key whatever the signature: a swarm whose members in
			// turn sent no cookie, loaded a script, or loaded nothing was
			// three crews (sim: 1,493 people in a day where 511).
			a.Keys[identity.Crew] = crewOf(pagelessStrangerCrew, 0)
		case sig == 0:
		default:
			a.Keys[identity.Crew] = crewKey(a, sig)
		}
	}
	// Refused with its crew, a recruit is served nothing and shows
	// nothing new: it stays the crew's while the crew is sanctioned.
	// Members recruited in their first seconds went back to their own
	// budgets an hour on, a session's 300 each (sim nat-pages from noon:
	// 65,999 records in the afternoon where 7,125 in its first hour), and
	// sessions that stopped for an hour when first refused came back so
	// (nat-pages-pause: 278,718, never held, 2026-12-07). A session stays
	// so for as long as the crew's sanction (the default policy's crew
	// block: a day; an operator's block_for moves it), an hour at least;
	// other keys (an address, an account: people's too) an hour from
	// each call.
	if crew := a.Keys[identity.Crew]; t.Kind == Record && crew.Hash != 0 && d.behaviour != nil {
		if end := d.sanctionedUntil(t.At, crew); end != 0 {
			k := behaviourKey(a)
			until := t.At + recruitKeep
			if k.Kind == identity.Session {
				until = max(until, end)
			}
			d.behaviour.keep(k, t.At, until)
		}
	}
	return s
}

// sanctionedUntil returns when crew's sanctions in force at now end (0:
// none).
func (d *Detector) sanctionedUntil(now int64, crew identity.Key) int64 {
	if d.crewSanctioned == nil {
		return 0
	}
	return d.crewSanctioned(now, crew)
}

// crewKey is the crew of actor a for the scraper's signals sig: its
// fingerprint (else its /24) and the signals, so browsers of one build
// that behave differently are different crews. A sweep (cold records,
// fast, through the API or recruited beside one) is one crew whatever
// headers each member sends: an operation that gave each account its own
// browser version and language took 46,014 records in a simulated day as
// 48 crews of one (bench --scenario fp-crew).
func crewKey(a *identity.Actor, sig Signals) identity.Key {
	base := a.Keys[identity.Fingerprint].Hash
	if base == 0 {
		base = a.Keys[identity.Net].Hash
	}
	switch {
	case sig&ColdSweep != 0:
		base = sweepCrew
	case sig&SessionChurn != 0:
		base = surgeCrew
	}
	return crewOf(base, sig)
}

// crewOf is the crew key of base (a fingerprint, a /24 or a crew's own
// base) for the signals sig; the zero key without a base.
func crewOf(base uint64, sig Signals) identity.Key {
	if base == 0 {
		return identity.Key{}
	}
	return identity.Key{Kind: identity.Crew, Hash: mix(base ^ uint64(sig)<<48)}
}

// cohortSig is the behaviour a cohort's keys share: the record route,
// whether pages are loaded around the calls, and the pace band.
func cohortSig(route int, ev evidence) uint64 {
	pages := uint64(1)
	if ev.early&APIHeavy != 0 {
		pages = 0
	}
	return mix(uint64(route)<<8 | pages<<4 | paceBand(ev.pace))
}

// sweepCrew is the base of the sweepers' crew key, in place of a
// fingerprint.
const sweepCrew = 0x5ee9c4e3a11d0b17

// pagelessStrangerCrew is the base of the crew key of pageless
// strangers' calls (Behaviour.pagelessStranger), in place of a
// fingerprint.
const pagelessStrangerCrew = 0x57a9e1e55c4e3a11

// poolCrew is the base of the crew key of the pageless pool's sessions
// held while it sweeps.
const poolCrew = 0x9a6e1e55c4e3a11d

// pagedCrew salts the /24 of a crew recruited on pagedSweep, apart from
// the /24's other crews.
const pagedCrew = 0x9a6edc4e3a11d5e5

// surgeCrew is the base of the crew key of the young sessions held in
// surges.
const surgeCrew = 0x5e7c4e5a11ce0b1d

// App reports whether ua is one of the operator's apps
// (Options.AppUserAgents), by prefix.
func (d *Detector) App(ua string) bool {
	for _, p := range d.appUAs {
		if strings.HasPrefix(ua, p) {
			return true
		}
	}
	return false
}

// SetCrewSanctioned tells the detector which crews are sanctioned, and
// until when (fn returns the latest end of a crew's sanctions in force at
// now, 0 for none), so that lookalikes of a sanctioned crew join it on
// less evidence, and its refused members stay its while it is. The
// engine, which holds the sanctions, is built after the detector.
func (d *Detector) SetCrewSanctioned(fn func(now int64, crew identity.Key) (until int64)) {
	d.crewSanctioned = fn
}

// Served notes the records a request was served, for the history signals.
func (d *Detector) Served(a *identity.Actor, recs []records.Found) {
	if d.behaviour != nil {
		d.behaviour.Served(behaviourKey(a), d.originOf(a), recs)
	}
}

// PageServed notes that a's page about item pathID (Traits.PathID),
// assessed Unserved, was served (a 2xx or 304).
func (d *Detector) PageServed(a *identity.Actor, pathID int) {
	d.pages.Add(1)
	if d.behaviour != nil {
		d.behaviour.pageServed(behaviourKey(a), pathID)
	}
}

// PageNamed notes the items a's page (served: PageServed) named in its
// links and attributes (NameScanner), against which its session's first
// record call is judged (id lineage, Behaviour.ItemsNamed).
func (d *Detector) PageNamed(a *identity.Actor, names *Names) {
	if d.behaviour != nil {
		d.behaviour.pageNamed(behaviourKey(a), names)
	}
}

// behaviourKey is whose history the behaviour signals read: the session,
// else the account, else the address. The most specific key: the hundreds
// of shoppers behind a carrier NAT each keep their own pace and their own
// share of cold records, rather than one address's that looks like a fast
// sweep; a scraper without a session is its address.
func behaviourKey(a *identity.Actor) identity.Key {
	for _, k := range [...]identity.Kind{identity.Session, identity.Account, identity.IP} {
		if a.Keys[k].Hash != 0 {
			return a.Keys[k]
		}
	}
	return identity.Key{}
}

// originOf is where a's request came from, for the history kept beyond
// its behaviour key.
func (d *Detector) originOf(a *identity.Actor) origin {
	o := origin{addr: a.Keys[identity.IP].Hash, account: a.Keys[identity.Account].Hash != 0, net: a.Keys[identity.Net].Hash}
	// A fingerprint that holds the client's TLS fingerprint
	// (identity.Actor.TLS: the proxy terminated TLS, the edge passed it,
	// or the log recorded it) is a TLS library's: a script sending a
	// browser's headers has one of its own, and the young sessions of one
	// are followed together like those of one address (a swarm of
	// sessions, each a few calls from an address of its own). The header
	// shape or a User-Agent alone would be every new visitor of a browser
	// build.
	if a.TLS {
		o.fp = a.Keys[identity.Fingerprint].Hash
	}
	if a.Keys[identity.Session].Hash == 0 && !o.account {
		o.client = a.Keys[identity.Fingerprint].Hash
	}
	return o
}

// ClientCalls counts record calls where sessions can be seen: what they
// say of the clients (Detector.Clients).
type ClientCalls struct {
	Sessions    uint64 // from a session
	Pageless    uint64 // of those, from a session that never loaded a page or asset
	Sessionless uint64 // without a session
	// Pages counts the HTML pages served (Traits.Unserved ones once
	// PageServed): none, and no session is paged or pageless.
	Pages uint64
	// Later: the calls past their first of sessions that loaded a page;
	// Astray: of those, the ones about an item no page or response had
	// shown the session (id lineage): where many are, the shop's pages
	// ask about ids leakguard does not see (a route it does not read)
	Later, Astray uint64
}

// Clients counts the record calls so far. Where most sessions never load a
// page or asset, pages and assets do not come through leakguard (an API's
// own proxy, a frontend served from elsewhere); where many calls carry no
// session, an app may call the API without the configured one. Either
// way no_assets or sessionless would make one crew of each client
// build's people: detect.api_clients.
func (d *Detector) Clients() ClientCalls {
	var c ClientCalls
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		c.Sessions, c.Pageless, c.Sessionless = c.Sessions+sh.calls, c.Pageless+sh.pageless, c.Sessionless+sh.sessionless
		sh.mu.Unlock()
	}
	c.Pages = d.pages.Load()
	if d.behaviour != nil {
		c.Later, c.Astray = d.behaviour.laterCalls.Load(), d.behaviour.astrayCalls.Load()
	}
	return c
}

// ColdShare is the platform-wide share of recent records that were cold
// (0 without a Behaviour).
func (d *Detector) ColdShare() float64 {
	if d.behaviour == nil {
		return 0
	}
	return d.behaviour.ColdShare()
}

// ItemsPaged is Behaviour.ItemsPaged (false without behaviour signals).
func (d *Detector) ItemsPaged() bool { return d.behaviour != nil && d.behaviour.ItemsPaged() }

// ItemsNamed is Behaviour.ItemsNamed (false without behaviour signals).
func (d *Detector) ItemsNamed() bool { return d.behaviour != nil && d.behaviour.ItemsNamed() }

// Strangers is Behaviour.Strangers (zero without behaviour signals).
func (d *Detector) Strangers() Strangers {
	if d.behaviour == nil {
		return Strangers{}
	}
	return d.behaviour.Strangers()
}

// AddAllow adds an allowlist prefix at run time (the dashboard's control).
// Adding one already there does nothing (a fleet echoes its own).
func (d *Detector) AddAllow(p netip.Prefix) {
	for {
		old := d.allow.Load()
		if slices.Contains(*old, p) {
			return
		}
		next := append(append([]netip.Prefix(nil), (*old)...), p)
		if d.allow.CompareAndSwap(old, &next) {
			return
		}
	}
}

// RemoveAllow removes an allowlist prefix (entries equal to p; an entry
// from the config's detect.allow returns at the next start).
func (d *Detector) RemoveAllow(p netip.Prefix) (removed bool) {
	p = p.Masked()
	for {
		old := d.allow.Load()
		next := make([]netip.Prefix, 0, len(*old))
		for _, q := range *old {
			if q.Masked() != p {
				next = append(next, q)
			}
		}
		if len(next) == len(*old) {
			return false
		}
		if d.allow.CompareAndSwap(old, &next) {
			return true
		}
	}
}

// Allows returns the allowlist in force.
func (d *Detector) Allows() []netip.Prefix { return append([]netip.Prefix(nil), (*d.allow.Load())...) }

// allowedBy reports whether a is allowlisted, and the prefix of
// detect.allow that holds its address (none: an allowlisted account).
func (d *Detector) allowedBy(a *identity.Actor, addr netip.Addr) (netip.Prefix, bool) {
	if addr.IsValid() {
		for _, p := range *d.allow.Load() {
			if p.Contains(addr) {
				return p, true
			}
		}
	}
	if len(d.allowKeys) > 0 {
		for _, k := range a.Keys {
			if k.Hash != 0 && d.allowKeys[k] {
				return netip.Prefix{}, true
			}
		}
	}
	return netip.Prefix{}, false
}

// prefixKey is the address key of a partner allowlisted by prefix p. It
// is not keyed: p is the operator's config, no client's address.
func prefixKey(p netip.Prefix) identity.Key {
	b := p.Masked().Addr().As16()
	h := uint64(p.Bits()) << 56
	for i := 0; i < 16; i += 8 {
		h = mix(h ^ binary.BigEndian.Uint64(b[i:]))
	}
	return identity.Key{Kind: identity.IP, Hash: h | 1}
}

func (d *Detector) shard(h uint64) *sessionShard { return &d.shards[h>>58] }

func (d *Detector) loaded(h uint64) {
	sh := d.shard(h)
	sh.mu.Lock()
	// Past the bound a forgotten session's next record request counts as
	// from a session without page loads, a weak signal that its next
	// page load clears.
	sh.put(h, struct{}{}, d.shardCap)
	sh.mu.Unlock()
}

// sessionlessCall notes a record call without a session from address h.
func (d *Detector) sessionlessCall(h uint64) {
	sh := d.shard(h)
	sh.mu.Lock()
	sh.sessionless++
	sh.mu.Unlock()
}

// recordCall notes a record call of session h and reports whether the
// session loaded a page or asset.
func (d *Detector) recordCall(h uint64) bool {
	sh := d.shard(h)
	sh.mu.Lock()
	_, ok := sh.get(h)
	sh.calls++
	if !ok {
		sh.pageless++
	}
	sh.mu.Unlock()
	return ok
}

// thin forgets about a quarter of m's keys, chosen by their hash and the
// round (which it advances), not by the map's order, which is random: a
// log replayed twice forgets the same keys and gives the same report.
func thin[V any](m map[uint64]V, round *uint8) {
	r := uint64(*round & 3)
	*round++
	for k := range m {
		if mix(k)>>62 == r {
			delete(m, k)
		}
	}
}

// forgetIdle forgets the quarter of m's entries idle longest (with any
// idle as long as the last of them) by idle, each entry's idle time in
// whatever clock the caller keeps; buf is its buffer. A log replayed
// twice forgets the same keys, as with thin; a flood of keys used once
// goes first, and the keys in use stay. The quarter is read off the keys
// of one hash in sampleOf, chosen by their hash as thin's are: sorting
// every key's age of a full table cost a churner's simulated day 3.5 s
// in 40.
func forgetIdle[V any](m map[uint64]V, idle func(V) uint64, buf *[]uint64) {
	*buf = (*buf)[:0]
	sampled := len(m) >= 8*sampleOf
	for k, v := range m {
		if !sampled || mix(k)%sampleOf == 0 {
			*buf = append(*buf, idle(v))
		}
	}
	if len(*buf) == 0 {
		return
	}
	slices.Sort(*buf)
	// Never one just used: a request holds what it uses.
	cut := max((*buf)[len(*buf)*3/4], 1)
	for k, v := range m {
		if idle(v) >= cut {
			delete(m, k)
		}
	}
}

// sampleOf: forgetIdle weighs one key in sampleOf of a table of 8 ×
// sampleOf keys or more.
const sampleOf = 16

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// PathID names the item a path is about: one plus the low 8 bits of its
// last all-digit segment (/items/1234 and /api/items/1234/reviews: 1 +
// 1234&0xff), or 0 for none. A browser loads an item's page, then asks
// the API about that item; only 8 bits are kept, as for IDLow.
func PathID(path string) int {
	for len(path) > 0 {
		i := strings.LastIndexByte(path, '/')
		seg := path[i+1:]
		path = path[:max(i, 0)]
		if it := records.Item(seg); it != 0 {
			return int(it)
		}
	}
	return 0
}

// KindOf classifies a request the proxy sees: record routes are decided by
// the catalog; assets by extension; pages by a GET with an HTML Accept
// header. A script asked for with an HTML Accept is a script, and a HEAD
// loads no page: a red team's churner made its sessions' script request
// a page, or sent a HEAD for the item before its call, and was neither
// pageless nor unpaged (18,711 and 18,800 records in 90 s, 2026-12-03).
func KindOf(record bool, method, path, accept string) Kind {
	switch {
	case record:
		return Record
	case method != "GET" && method != "HEAD":
		return Other
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 && i > strings.LastIndexByte(path, '/') {
		switch strings.ToLower(path[i+1:]) {
		case "js", "mjs", "css", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "woff", "woff2", "ttf", "map":
			return Asset
		}
	}
	if method == "GET" && strings.Contains(accept, "text/html") {
		return Page
	}
	return Other
}

// KindOfLogged classifies a request an access log recorded: no Accept
// header is logged, so a page is a GET answered 2xx or 304 for a path a
// browser navigates to: no extension but .html or .htm, and no "api"
// segment (an API the record routes do not name is not a page). Without
// it a log replay saw no pages, and the rules that follow which sessions
// load them (the pageless pool, a page's lineage) were off there: the
// session swarm took its profiles unflagged in replay as live until
// 2026-12-03.
func KindOfLogged(record bool, method, path string, status int) Kind {
	k := KindOf(record, method, path, "")
	if k != Other || method != "GET" || !(status >= 200 && status <= 299 || status == 304) {
		return k
	}
	last := path[strings.LastIndexByte(path, '/')+1:]
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		if ext := strings.ToLower(last[i+1:]); ext != "html" && ext != "htm" {
			return Other
		}
	}
	for seg := range strings.SplitSeq(path, "/") {
		if strings.EqualFold(seg, "api") {
			return Other
		}
	}
	return Page
}
