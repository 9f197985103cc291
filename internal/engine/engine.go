// Package engine is leakguard's one detection engine. It is driven by the
// event time it is given, never the wall clock, so the same code decides
// live in the proxy, over months of replayed logs, and in simulation.
//
// Per request it is called twice: Admit before the request is forwarded (is
// any key of this actor under a sanction, or over a budget?) and Observe
// once the records served are known (meter them, trip budgets).
package engine

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Meter counts the distinct records each actor key receives. meter/memory
// implements it.
type Meter interface {
	// Observe meters one request and writes upper bounds of the counts.
	Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) (touched uint64)
	// Bound is a cheap upper bound of Count.
	Bound(now int64, k identity.Key, ent, window int) uint64
	// Count is the distinct count (an estimate for large actors).
	Count(now int64, k identity.Key, ent, window int) uint64
	Windows() []time.Duration
	// Resolution is how often a window's count can fall: its bucket width.
	Resolution(window int) time.Duration
}

// boundsMeter is a meter that answers several of a key's bounds at once
// (meter/memory, meter/redis): Admit asks it once per key instead of once
// per budget.
type boundsMeter interface {
	// Bounds writes Bound(now, k, i/windows, i%windows) to dst[i] for
	// every bit i of want.
	Bounds(now int64, k identity.Key, want uint64, dst []uint64)
}

// limitsMeter is a meter that wants to know what each budget holds a key
// to (meter/redis): it reads the fleet's count before a request only for
// keys near their limits, and the limit of a busy address is its people's,
// far above the budget's written one. Every carrier-NAT address was near
// its written limit for good, and each of its requests waited on Redis
// (the fleet kept 0.23x of memory-only throughput under 20,000 people,
// bench/state.sh 15 64 default, 2026-12-05).
type limitsMeter interface {
	// Limiting tells the meter that a budget of the admission at now holds
	// k's records of entity ent in the window to limit: the limit worked
	// out for k, or the written one where k's bound is under it.
	Limiting(now int64, k identity.Key, ent, window int, limit uint64)
}

// Action is what the engine does about an actor.
type Action uint8

const (
	Allow Action = iota
	Log
	Throttle
	// Challenge: browsers get a proof-of-work page, API clients a 429 with
	// a challenge header; a client that solved one passes.
	Challenge
	// Decoy: the actor keeps getting answers, with its personal data
	// replaced by synthetic values traceable to it, so a scraper does not
	// learn it was caught.
	Decoy
	Block
)

var actionNames = [...]string{"allow", "log", "throttle", "challenge", "decoy", "block"}

func (a Action) String() string { return actionNames[a] }

// ParseAction parses log, throttle, challenge, decoy or block.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames[1:] {
		if n == s {
			return Action(i + 1), nil
		}
	}
	return Allow, fmt.Errorf("unknown action %q", s)
}

// Budget limits the distinct records of one entity an actor key may receive in a window.
type Budget struct {
	ID       string
	Entity   string
	Per      identity.Kind
	Window   time.Duration
	Limit    uint64
	Action   Action
	BlockFor time.Duration
	// PerPerson: on address and network keys, Limit is per person seen
	// behind the key (distinct accounts, page-loading sessions, or
	// browsers), so a carrier NAT's hundreds of shoppers are not one actor.
	PerPerson bool
	// Learn: Calibrate may raise Limit (up to LearnMax times) above the
	// legitimate tail of what keys of this kind take. A per-person budget
	// follows instead what the session budget of its entity and window
	// learnt: a person behind an address may take what a session may.
	Learn bool
	// Allowlisted: the budget is for allowlisted actors (and verified
	// search bots) alone; every other budget skips them. Nothing is
	// unmetered: a partner meets budgets of its own.
	Allowlisted bool

	ent, wi int
	// follows is the session budget a learning per-person budget takes
	// its learnt limit from, or -1.
	follows int
}

// MaxPeople caps the people a per-person budget multiplies by.
const MaxPeople = 1000

// Decision is one budget tripping: the line an operator reads in the decision log.
type Decision struct {
	Time   time.Time
	Rule   string
	Action Action
	Shadow bool // decided but not enforced
	Key    identity.Key
	Actor  identity.Actor
	Route  string
	Entity string
	Count  uint64
	Limit  uint64
	Window time.Duration
	Until  time.Time
	// Signals are the detector's signals on the request that tripped the
	// rule; Score their weighted sum (risk bands: the score is the Count).
	Signals detect.Signals
	Score   int
	// Normal, for a partner held to its own history, is the most it took
	// in the window in an hour of the week before: Limit came from it.
	Normal uint64
}

// Verdict is what to do with one request.
type Verdict struct {
	Action     Action // Allow, Throttle or Block
	Shadow     bool   // the action is only logged, not applied
	RetryAfter time.Duration
	Rule       string
	Key        identity.Key
	Signals    detect.Signals
	Score      int
}

// Enforced reports whether the request must be refused.
func (v Verdict) Enforced() bool { return v.Action >= Throttle && v.Action != Decoy && !v.Shadow }

// Decoyed reports whether the request is answered with decoys.
func (v Verdict) Decoyed() bool { return v.Action == Decoy && !v.Shadow }

// Band maps a risk score to an action: a request on a record route whose
// signals weigh at least Min gets Action, and its crew key (else its
// address) keeps it for For (challenges: until solved).
type Band struct {
	Min    int
	Action Action
	For    time.Duration
}

// Risk weighs signals into a score and maps scores to actions.
type Risk struct {
	Weights map[detect.Signals]int
	Bands   []Band
	// Enumeration: at least MinRequests in the smallest window from one
	// address, and at least MissRatio of them misses on record routes.
	EnumMinRequests uint64
	EnumMissRatio   float64
	// Window is the meter window requests and misses are read in (an
	// index into the meter's windows; the smallest report window).
	Window int
}

// RuleInput is what a custom rule sees of a record request.
type RuleInput struct {
	Route            string
	Signals          detect.Signals
	Score            int
	Actor            *identity.Actor
	Requests, Misses uint64 // the address's, in the smallest window
}

// Matcher is a compiled custom rule (package policy compiles them).
type Matcher interface {
	Match(RuleInput) bool
}

// Rule is a custom rule: when Match holds on a record request, Action
// applies, kept on the crew key (else the address) for For.
type Rule struct {
	Name   string
	Match  Matcher
	Action Action
	For    time.Duration
}

// Options configure an Engine.
type Options struct {
	Rules    []Rule
	Entities []string // entity names; records.Found.Entity indexes this
	Budgets  []Budget
	Risk     Risk
	Shadow   bool
	// People is the meter's entity index where the people seen behind
	// address and network keys are counted (for PerPerson budgets); -1 or
	// 0 with no such budget: not counted. The meter must hold one entity
	// more than Entities for it.
	People int
	// OnDecision receives every decision, in the goroutine that made it.
	OnDecision func(Decision)
}

// Engine meters actors and applies budgets.
type Engine struct {
	meter     Meter
	bounds    boundsMeter // the meter, when it has Bounds
	limiting  limitsMeter // the meter, when it wants the limits
	entities  []string
	windows   []time.Duration
	budgets   []Budget
	byKind    [identity.NumKinds][]int
	shadow    atomic.Bool
	sanctions sanctions
	onDecide  func(Decision)
	countsLen int
	pool      sync.Pool
	recPool   sync.Pool // *[]records.Found, for a request's records with its person
	risk      Risk
	bandIdx   []int // budget index of each band's pseudo-budget
	rules     []Rule
	ruleIdx   []int
	people    int // meter entity of people behind ip/net keys, -1 none
	// learned holds each budget's calibrated limit (0: none), which only
	// ever raises Limit: see Calibrate.
	learned []atomic.Uint64
	// own holds partners' histories, which lower their allowlisted
	// budgets' limits once known (partners.go).
	own ownNormals
}

// New returns an engine over a meter. Every budget's window must be one of the meter's.
func New(m Meter, o Options) (*Engine, error) {
	e := &Engine{meter: m, entities: o.Entities, windows: m.Windows(), onDecide: o.OnDecision}
	e.bounds, _ = m.(boundsMeter)
	e.limiting, _ = m.(limitsMeter)
	if e.onDecide == nil {
		e.onDecide = func(Decision) {}
	}
	e.shadow.Store(o.Shadow)
	e.people = -1
	for _, b := range o.Budgets {
		if b.PerPerson && (b.Per == identity.IP || b.Per == identity.Net) {
			if o.People < len(o.Entities) || o.People >= 64 {
				return nil, fmt.Errorf("budget %s: per-person budgets need a people entity after the %d entities", b.ID, len(o.Entities))
			}
			e.people = o.People
		}
	}
	for i, b := range o.Budgets {
		b.ent = -1
		for j, name := range o.Entities {
			if name == b.Entity {
				b.ent = j
			}
		}
		if b.ent < 0 {
			return nil, fmt.Errorf("budget %s: unknown entity %q", b.ID, b.Entity)
		}
		if b.ent >= 64 {
			return nil, fmt.Errorf("budget %s: at most 64 entities can carry budgets", b.ID)
		}
		b.wi = -1
		for j, w := range e.windows {
			if w == b.Window {
				b.wi = j
			}
		}
		if b.wi < 0 {
			return nil, fmt.Errorf("budget %s: window %s is not metered", b.ID, b.Window)
		}
		if (b.Action == Block || b.Action == Decoy || b.Action == Challenge) && b.BlockFor <= 0 {
			b.BlockFor = b.Window
		}
		e.budgets = append(e.budgets, b)
		e.byKind[b.Per] = append(e.byKind[b.Per], i)
	}
	// Risk bands are pseudo-budgets per address: they share the sanction
	// table (so a band's decision is logged once, persisted and shared like
	// a budget's) but no entity.
	e.risk = o.Risk
	for _, b := range o.Risk.Bands {
		e.bandIdx = append(e.bandIdx, len(e.budgets))
		d := b.For
		if d <= 0 {
			d = 10 * time.Minute
		}
		// Limit: the band's threshold, as the decision log reports it.
		e.budgets = append(e.budgets, Budget{ID: fmt.Sprintf("risk>=%d", b.Min), Per: identity.IP, Limit: uint64(b.Min), Action: b.Action, BlockFor: d, ent: -1, wi: 0})
	}
	e.rules = o.Rules
	for _, r := range o.Rules {
		e.ruleIdx = append(e.ruleIdx, len(e.budgets))
		d := r.For
		if d <= 0 {
			d = 10 * time.Minute
		}
		e.budgets = append(e.budgets, Budget{ID: "rule/" + r.Name, Per: identity.IP, Action: r.Action, BlockFor: d, ent: -1})
	}
	metered := len(o.Entities)
	if e.people >= 0 {
		metered = e.people + 1
	}
	e.countsLen = metered * len(e.windows)
	e.learned = make([]atomic.Uint64, len(e.budgets))
	for bi := range e.budgets {
		b := &e.budgets[bi]
		b.follows = -1
		if !b.PerPerson || !b.Learn || b.Allowlisted || e.people < 0 {
			continue
		}
		for si, sb := range e.budgets {
			if sb.Per == identity.Session && sb.Learn && !sb.Allowlisted && !sb.PerPerson && sb.ent == b.ent && sb.wi == b.wi {
				b.follows = si
			}
		}
	}
	e.pool.New = func() any { s := make([]uint64, e.countsLen); return &s }
	e.recPool.New = func() any { s := make([]records.Found, 0, 16); return &s }
	e.sanctions.init()
	return e, nil
}

// SetShadow switches between shadow (decide and log only) and enforce.
func (e *Engine) SetShadow(on bool) { e.shadow.Store(on) }

// Shadow reports whether the engine is in shadow mode.
func (e *Engine) Shadow() bool { return e.shadow.Load() }

// Budgets returns the budgets in force.
func (e *Engine) Budgets() []Budget { return e.budgets }

// Admit decides whether a request from a may be served at now. It trips
// blocking and throttling budgets an actor is already over (for instance
// after a block expires while its window still holds too many records),
// and scores the detector's signals on record routes (route != "").
// Allowlisted and verified actors are exempt from everything. A client
// that passed a challenge (passed) is not challenged again.
func (e *Engine) Admit(now time.Time, a *identity.Actor, route string, sig detect.Signals, passed bool) Verdict {
	t := now.UnixNano()
	var v Verdict
	exempt := sig.Exempt()
	var bounds []uint64
	if e.bounds != nil {
		cp := e.pool.Get().(*[]uint64)
		defer e.pool.Put(cp)
		bounds = *cp
	}
	for kind := range identity.NumKinds {
		if k := a.Keys[kind]; k.Hash != 0 {
			e.admitKey(now, t, a, kind, k, route, sig, passed, exempt, bounds, &v, e.onDecide)
		}
	}
	if route != "" && !exempt {
		if rv, ok := e.assess(now, a, route, &sig, passed); ok {
			if rv.Action > v.Action {
				v = rv
			}
			v.Score = rv.Score
		}
	}
	v.Signals = sig
	if v.Action == Log {
		v.Action = Allow
	}
	v.Shadow = v.Action != Allow && e.shadow.Load()
	return v
}

// admitKey is Admit's work on one key k of a: its sanctions and the
// budgets of its kind, raising *v. Nothing in it reads or changes another
// key's state, which is what lets a replay run it for different keys on
// different goroutines (AdmitKey).
func (e *Engine) admitKey(now time.Time, t int64, a *identity.Actor, kind identity.Kind, k identity.Key, route string, sig detect.Signals, passed, exempt bool, bounds []uint64, v *Verdict, decide func(Decision)) {
	nw := len(e.windows)
	active := e.active(k, t)
	for _, s := range active {
		// A sanction on an address's young sessions refuses their record
		// calls only: a ninth red team's people behind a carrier NAT,
		// held as its young sessions, lost pages and stylesheets too
		// (2026-12-03).
		if s.action == Challenge && passed || s.young && (sig&detect.SessionChurn == 0 || route == "") {
			continue
		}
		// An exempt actor answers only to its own budgets; a sanction
		// on a key it shares (its /24, a crew) is someone else's.
		if exempt && (s.budget >= len(e.budgets) || !e.budgets[s.budget].Allowlisted) {
			continue
		}
		if s.action > v.Action {
			*v = Verdict{Action: s.action, RetryAfter: time.Duration(s.until - t), Rule: e.ruleID(s.budget, s.young), Key: k}
		}
	}
	churn := sig&detect.SessionChurn != 0
	// checked reports whether budget bi can trip on this request. Not
	// a young-sessions limit on a page or asset: its sanction would
	// refuse record calls only, and the next one trips it
	// (TestAPageLoadDoesNotTripTheYoungSessionsLimit).
	checked := func(bi int) bool {
		b := &e.budgets[bi]
		return b.Action >= Throttle && b.Allowlisted == exempt && !sanctioned(active, bi, churn) && (route != "" || !e.youngOnly(k, bi, sig))
	}
	// The bounds of every budget checked below, in one call: the
	// same values Bound gives, as long as no Count on that entity and
	// window replaced the bound with an estimate meanwhile (counted).
	var want, counted uint64
	if bounds != nil {
		for _, bi := range e.byKind[kind] {
			if !checked(bi) {
				continue
			}
			b := &e.budgets[bi]
			if i := b.ent*nw + b.wi; i < 64 && i < len(bounds) {
				want |= 1 << i
			}
		}
		if want != 0 {
			e.bounds.Bounds(t, k, want, bounds)
		}
	}
	for _, bi := range e.byKind[kind] {
		if !checked(bi) {
			// Not a limit of this key's now (an allowlisted partner's
			// budget, one already sanctioned, one that only logs): the
			// fleet need not read its count for it.
			if b := &e.budgets[bi]; e.limiting != nil && b.ent >= 0 {
				e.limiting.Limiting(t, k, b.ent, b.wi, math.MaxUint64)
			}
			continue
		}
		b := &e.budgets[bi]
		// The bound against the least limit first: limit() may
		// count the people behind an address, and every learnt or
		// per-person limit is at least the written one.
		var bound uint64
		i := uint(b.ent*nw + b.wi)
		if i < 64 && want&^counted&(1<<i) != 0 {
			bound = bounds[i]
		} else {
			bound = e.meter.Bound(t, k, b.ent, b.wi)
		}
		if least := e.least(t, k, bi, sig); bound < least {
			if e.limiting != nil && b.ent >= 0 {
				e.limiting.Limiting(t, k, b.ent, b.wi, least)
			}
			continue
		}
		limit := e.limit(t, k, bi, sig)
		if e.limiting != nil && b.ent >= 0 {
			e.limiting.Limiting(t, k, b.ent, b.wi, limit)
		}
		if bound < limit {
			continue
		}
		if i < 64 {
			counted |= 1 << i
		}
		if c := e.meter.Count(t, k, b.ent, b.wi); c >= limit {
			s := e.trip(now, a, k, bi, c, route, sig, 0, decide)
			if s.action > v.Action {
				*v = Verdict{Action: s.action, RetryAfter: time.Duration(s.until - t), Rule: e.ruleID(bi, s.young), Key: k}
			}
		}
	}
}

// Exchange is what one request was served.
type Exchange struct {
	Route   string // the record route matched, for the decision log
	Records []records.Found
	Miss    bool // a 4xx on a record route
	Signals detect.Signals
}

// Observe meters what a request from a was served at now and trips budgets
// its keys now exceed. Whatever it trips applies from the next request on.
func (e *Engine) Observe(now time.Time, a *identity.Actor, x Exchange) {
	t := now.UnixNano()
	cp := e.pool.Get().(*[]uint64)
	counts := *cp
	exempt := x.Signals.Exempt()
	var withPerson []records.Found
	if e.people >= 0 {
		if p := person(a, x.Signals); p != 0 {
			// The request's records and its person, in a pooled slice:
			// this runs on every request under the default policy.
			rp := e.recPool.Get().(*[]records.Found)
			withPerson = append(append((*rp)[:0], x.Records...), records.Found{Entity: e.people, Hash: p})
			defer func() { *rp = withPerson[:0]; e.recPool.Put(rp) }()
		}
	}
	for kind := range identity.NumKinds {
		k := a.Keys[kind]
		if k.Hash == 0 {
			continue
		}
		if exempt && (kind == identity.Net || kind == identity.Crew) {
			continue // a partner's take is its own, not its neighbours'
		}
		recs := x.Records
		if withPerson != nil && (kind == identity.IP || kind == identity.Net) {
			recs = withPerson
		}
		e.observeKey(now, t, a, kind, k, recs, &x, exempt, counts, e.onDecide)
	}
	e.pool.Put(cp)
}

// observeKey is Observe's work on one key k of a: meter recs, then trip
// the budgets of its kind the key now exceeds. counts receives the bounds
// the meter wrote. It returns the entities metered and, as bits
// entity*windows+window, the counts asked of the meter since (each may
// have replaced a bound with an estimate). Like admitKey it touches no
// other key's state.
func (e *Engine) observeKey(now time.Time, t int64, a *identity.Actor, kind identity.Kind, k identity.Key, recs []records.Found, x *Exchange, exempt bool, counts []uint64, decide func(Decision)) (touched, counted uint64) {
	touched = e.meter.Observe(t, k, recs, x.Miss, counts)
	if kind == identity.IP && e.people >= 0 && e.risk.EnumMinRequests > 0 && person(a, x.Signals) == 0 {
		e.meter.Observe(t, nobodyKey(k), nil, x.Miss, nil)
	}
	if touched == 0 {
		return 0, 0
	}
	nw := len(e.windows)
	var active []sanction
	looked := false
	for _, bi := range e.byKind[kind] {
		b := &e.budgets[bi]
		if touched&(1<<b.ent) == 0 || b.Allowlisted != exempt {
			continue
		}
		if b.Allowlisted && x.Signals&detect.Allowlisted != 0 {
			e.own.note(k, bi, t, counts[b.ent*nw+b.wi])
		}
		if counts[b.ent*nw+b.wi] < e.least(t, k, bi, x.Signals) {
			continue // per-person limits are multiples of Limit
		}
		limit := e.limit(t, k, bi, x.Signals)
		if e.people >= 0 && b.PerPerson {
			counted |= bit(e.people*nw + b.wi)
		}
		if counts[b.ent*nw+b.wi] < limit {
			continue
		}
		if !looked {
			active, looked = e.active(k, t), true
		}
		if sanctioned(active, bi, x.Signals&detect.SessionChurn != 0) {
			continue
		}
		// The bound reached the limit: now it is worth an estimate.
		counted |= bit(b.ent*nw + b.wi)
		if c := e.meter.Count(t, k, b.ent, b.wi); c >= limit {
			e.trip(now, a, k, bi, c, x.Route, x.Signals, 0, decide)
		}
	}
	return touched, counted
}

// bit is 1<<i, or every bit past 63: a caller that cannot tell which
// count was asked takes all as asked.
func bit(i int) uint64 {
	if i < 64 {
		return 1 << i
	}
	return ^uint64(0)
}

// Replays that shard an actor's keys across goroutines (analyze) call
// the engine a key at a time, with the decisions going to a sink of their
// own: AdmitKey and ObserveKey do what Admit and Observe do to one key of
// the actor, and Score and Sanction split Admit's risk assessment into
// the part that reads the address key (Score) and the part that changes
// the key the sanction goes on (Sanction). A request's work on one key
// touches no other key's state, so each key's calls, made in event order,
// decide what Admit and Observe would.

// AdmitKey is Admit's work on the key of the given kind: its sanctions and
// its budgets, decisions to decide. The risk assessment is Score's.
func (e *Engine) AdmitKey(now time.Time, a *identity.Actor, kind identity.Kind, route string, sig detect.Signals, decide func(Decision)) {
	k := a.Keys[kind]
	if k.Hash == 0 {
		return
	}
	var bounds []uint64
	if e.bounds != nil {
		cp := e.pool.Get().(*[]uint64)
		defer e.pool.Put(cp)
		bounds = *cp
	}
	var v Verdict
	e.admitKey(now, now.UnixNano(), a, kind, k, route, sig, false, sig.Exempt(), bounds, &v, decide)
}

// Score assesses a request as Admit does after the keys' budgets: it reads
// the address key's traffic (run it where that key's calls run) and
// returns the signals with Enumeration when the traffic shows it.
func (e *Engine) Score(now time.Time, a *identity.Actor, route string, sig detect.Signals) Scored {
	if route == "" || sig.Exempt() {
		return Scored{Signals: sig, bi: -1}
	}
	return e.score(now, a, route, sig, false)
}

// Key is the key r's sanction goes on (the zero key: none); Sanction runs
// where that key's calls run.
func (r *Scored) Key(a *identity.Actor) identity.Key { return r.key(a) }

// Sanction applies r's band or rule to its key, decisions to decide.
func (e *Engine) Sanction(now time.Time, a *identity.Actor, route string, r *Scored, decide func(Decision)) {
	e.sanction(now, a, route, r, decide)
}

// CountsLen is the length ObserveKey's counts need.
func (e *Engine) CountsLen() int { return e.countsLen }

// ObserveKey is Observe's work on the key of the given kind: it meters
// what the request was served and trips the key's budgets, decisions to
// decide. counts (CountsLen long) receives the meter's bounds; it returns
// the entities metered and, as bits entity*windows+window, the counts
// asked of the meter after it wrote them.
func (e *Engine) ObserveKey(now time.Time, a *identity.Actor, kind identity.Kind, x Exchange, counts []uint64, decide func(Decision)) (touched, counted uint64) {
	k := a.Keys[kind]
	exempt := x.Signals.Exempt()
	if k.Hash == 0 || exempt && (kind == identity.Net || kind == identity.Crew) {
		return 0, 0
	}
	recs := x.Records
	if e.people >= 0 && (kind == identity.IP || kind == identity.Net) {
		if p := person(a, x.Signals); p != 0 {
			rp := e.recPool.Get().(*[]records.Found)
			withPerson := append(append((*rp)[:0], x.Records...), records.Found{Entity: e.people, Hash: p})
			defer func() { *rp = withPerson[:0]; e.recPool.Put(rp) }()
			recs = withPerson
		}
	}
	return e.observeKey(now, now.UnixNano(), a, kind, k, recs, &x, exempt, counts, decide)
}

// limit is budget b's limit on key k at t, for a request with signals
// sig: per-person budgets on address and network keys multiply it by the
// people seen behind the key, but for the young sessions of an address
// whose sessions do not outlive their youth, or of a network whose
// sessions are born by the hundred (session_churn): a scraper that makes
// a fresh session every few calls would be as many people, on its
// address and on its /24 (a sixth red team over the 254 addresses of one
// /24: 47,433 records in 30 s, TestEvasionChurnOverOneSlash24). Their
// trips hold those young sessions only (youngOnly). Counting a
// session as a person only past its youth, everywhere, let a burst of
// fresh sessions at night bring a carrier NAT's /24 down instead (sim
// nat-pages, 38 people refused, 2026-12-02).
func (e *Engine) limit(t int64, k identity.Key, bi int, sig detect.Signals) uint64 {
	b := &e.budgets[bi]
	lim := max(b.Limit, e.learned[bi].Load())
	if b.Allowlisted && sig&detect.Allowlisted != 0 {
		own, _ := e.own.limit(k, bi, t, lim)
		return own
	}
	if !b.PerPerson || e.people < 0 || (k.Kind != identity.IP && k.Kind != identity.Net) || sig&detect.SessionChurn != 0 {
		return lim
	}
	if b.follows >= 0 {
		// A person behind the address may take what a session may. Not
		// learnt from the addresses themselves: there are far fewer of
		// them than sessions, so their 99.9th percentile is their top
		// few, and an unsanctioned scraper's address among them set it
		// (a live demo, 2026-12-02: 525 a person, against people's
		// sessions' 276).
		lim = max(lim, e.learned[b.follows].Load())
	}
	n := min(max(e.meter.Count(t, k, e.people, b.wi), 1), MaxPeople)
	return lim * n
}

// least is the lowest limit budget bi can have on key k for a request
// with signals sig: a count under it needs no other. It is the written
// limit, but for a partner held to its own history (partners.go).
func (e *Engine) least(t int64, k identity.Key, bi int, sig detect.Signals) uint64 {
	if b := &e.budgets[bi]; !b.Allowlisted || sig&detect.Allowlisted == 0 {
		return b.Limit
	}
	return e.limit(t, k, bi, sig)
}

// nobodyKey is the meter's key for the traffic of the requests on address
// ip that show nobody behind it (person), for the enumeration signal. It
// falls in ip's meter shard and replay partition (both take the top bits
// of the key's hash times the golden ratio: the product's lowest bit is
// flipped and multiplied back), so that a sharded replay meters it on the
// goroutine of ip's, in line order, and the meter evicts it beside ip.
func nobodyKey(ip identity.Key) identity.Key {
	const golden, goldenInverse = 0x9e3779b97f4a7c15, 0xf1de83e19937733d
	k := uint64(identity.IP)
	return identity.Key{Kind: identity.IP, Hash: (((ip.Hash^k)*golden)^1)*goldenInverse ^ k}
}

// youngOnly reports whether budget bi's trip on key k, by a request with
// signals sig, holds only the young sessions of the address or network:
// k is an address or network whose sessions do not outlive their youth
// or are born in a surge, and the request is one of those sessions'.
// Such a request meets the plain limit (limit),
// and the sanction must not fall on the people behind the address: a
// red team churning sessions on a carrier-NAT address, out-calling its
// 270 shoppers, had the address blocked with them, 18,804 of their
// requests refused (2026-12-02; TestAChurnerOnANATDoesNotBringItsPeopleDown).
// Its fresh sessions are refused while the address stays over the plain
// limit; people's sessions past their youth are not.
func (e *Engine) youngOnly(k identity.Key, bi int, sig detect.Signals) bool {
	return (k.Kind == identity.IP || k.Kind == identity.Net) && sig&detect.SessionChurn != 0 && e.budgets[bi].PerPerson && e.people >= 0
}

// youngSuffix marks the rule of a sanction on an address's young sessions
// only (youngOnly), in decisions and in sanctions persisted or shared.
const youngSuffix = "/young-sessions"

// ruleID is budget bi's ID as a sanction's rule: with youngSuffix when the
// sanction holds the address's young sessions only.
func (e *Engine) ruleID(bi int, young bool) string {
	if young {
		return e.budgets[bi].ID + youngSuffix
	}
	return e.budgets[bi].ID
}

// person is who a request shows to be behind its address, for per-person
// budgets: an account, else a session that behaves like a browser's, else
// (sources without sessions, or page loads) the client fingerprint. A
// request that behaves like a scraper's shows nobody: fake sessions must
// not buy a scraper more budget.
func person(a *identity.Actor, sig detect.Signals) uint64 {
	if sig&(detect.AutomationUA|detect.UnverifiedBot|detect.HeaderMismatch) != 0 {
		return 0
	}
	// An account is someone the platform signed up: it counts whatever
	// its session did (staff consoles call APIs without page loads).
	if h := a.Keys[identity.Account].Hash; h != 0 {
		return h ^ uint64(identity.Account)<<56
	}
	if sig&(detect.NoAssets|detect.SessionChurn) != 0 {
		// A session that never loaded a page may be made up, and so may
		// the young sessions of an address whose sessions never outlive
		// their youth.
		return 0
	}
	kinds := [...]identity.Kind{identity.Session, identity.Fingerprint}
	if sig&detect.Sessionless != 0 {
		// An API without sessions (a mobile app's) still shows its
		// people by their devices' fingerprints.
		kinds[0] = identity.Fingerprint
	}
	for _, k := range kinds {
		if h := a.Keys[k].Hash; h != 0 {
			return h ^ uint64(k)<<56
		}
	}
	return 0
}

// assess scores a record request's signals and applies the highest band
// reached, as a sanction on the client address.
func (e *Engine) assess(now time.Time, a *identity.Actor, route string, sig *detect.Signals, passed bool) (Verdict, bool) {
	r := e.score(now, a, route, *sig, passed)
	if !r.ok {
		return Verdict{}, false
	}
	*sig = r.Signals
	return e.sanction(now, a, route, &r, e.onDecide), true
}

// Scored is a record request's assessment: its signals (with Enumeration
// when its address's traffic shows it), their score, and the band or rule
// it meets, if any.
type Scored struct {
	Signals detect.Signals
	Score   int
	ok      bool // the engine has bands or rules: there was something to assess
	bi      int  // the budget index of the band or rule applied, -1 none
	act     Action
	// shared: people are behind the address (Engine.people: two or
	// more, or one beside a request that shows nobody)
	shared bool
}

// score is assess without its sanction: it reads the address key's
// traffic and nothing else of the engine's state.
func (e *Engine) score(now time.Time, a *identity.Actor, route string, sig detect.Signals, passed bool) Scored {
	if len(e.bandIdx) == 0 && len(e.rules) == 0 {
		return Scored{Signals: sig, bi: -1}
	}
	ip := a.Keys[identity.IP]
	t := now.UnixNano()
	var req, miss uint64
	if tm, ok := e.meter.(trafficMeter); ok && ip.Hash != 0 {
		req, miss = tm.Traffic(t, ip, e.risk.Window)
	}
	// Enumeration is the address's misses, which on an address several
	// people share (a carrier NAT) are anyone's: there it is held only
	// against requests without a session or account of their own. A red
	// team enumerating from a carrier-NAT address got it blocked with
	// the 270 shoppers behind it, whose requests carried the address's
	// enumeration (TestAnEnumeratorBehindANATDoesNotBringItsPeopleDown).
	//
	// And the misses of requests that show nobody behind the address
	// (nobodyKey: made-up sessions, automation) are held against those
	// only, and people's against people: a red team asking for missing
	// profiles with browser headers and a made-up session from the
	// address of a clerk, or of an office's lone shopper, had the address
	// blocked and the clerk or shopper refused (2026-12-02), as only
	// addresses with two people behind them were spared.
	ereq, emiss := req, miss
	nobody := person(a, sig) == 0
	// Split only where the address has enough requests to show it: a
	// second meter lookup on every record request otherwise.
	if tm, ok := e.meter.(trafficMeter); ok && ip.Hash != 0 && e.people >= 0 && e.risk.EnumMinRequests > 0 && req >= e.risk.EnumMinRequests {
		nreq, nmiss := tm.Traffic(t, nobodyKey(ip), e.risk.Window)
		if nobody {
			ereq, emiss = nreq, nmiss
		} else {
			ereq, emiss = req-min(nreq, req), miss-min(nmiss, miss)
		}
	}
	n := e.peopleBehind(t, ip)
	own := a.Keys[identity.Session].Hash != 0 || a.Keys[identity.Account].Hash != 0
	if e.risk.EnumMinRequests > 0 && ereq >= e.risk.EnumMinRequests && float64(emiss) >= e.risk.EnumMissRatio*float64(ereq) && (nobody || !(n >= 2 && own)) {
		sig |= detect.Enumeration
	}
	score := 0
	for bit, w := range e.risk.Weights {
		if sig&bit != 0 {
			score += w
		}
	}
	// The highest action among the bands reached and the rules that match.
	bi, act := -1, Allow
	for i, b := range e.risk.Bands {
		if score >= b.Min && b.Action > act && !(b.Action == Challenge && passed) {
			bi, act = e.bandIdx[i], b.Action
		}
	}
	if len(e.rules) > 0 {
		in := RuleInput{Route: route, Signals: sig, Score: score, Actor: a, Requests: req, Misses: miss}
		for i, r := range e.rules {
			if r.Action > act && !(r.Action == Challenge && passed) && r.Match.Match(in) {
				bi, act = e.ruleIdx[i], r.Action
			}
		}
	}
	// A request that shows nobody beside one person is not that person.
	shared := n >= 2 || n == 1 && nobody
	return Scored{Signals: sig, Score: score, ok: true, bi: bi, act: act, shared: shared}
}

// peopleBehind is how many people are behind address ip at t, in the risk
// window (accounts, sessions that loaded a page, the devices of an API
// without sessions: person).
func (e *Engine) peopleBehind(t int64, ip identity.Key) uint64 {
	if e.people < 0 || ip.Hash == 0 {
		return 0
	}
	return e.meter.Count(t, ip, e.people, e.risk.Window)
}

// riskKey is the key a risk's sanction goes on: the crew key when there is
// one (it is set only on requests that behave like a scraper's, so the
// people behind a shared address are not caught with it), else, on an
// address people share, the request's session or account, else the
// address; the zero key when there is no sanction to apply.
func (r *Scored) key(a *identity.Actor) identity.Key {
	ip := a.Keys[identity.IP]
	if !r.ok || r.bi < 0 || ip.Hash == 0 {
		return identity.Key{}
	}
	if c := a.Keys[identity.Crew]; c.Hash != 0 {
		return c
	}
	if r.shared {
		for _, k := range [...]identity.Kind{identity.Session, identity.Account} {
			if a.Keys[k].Hash != 0 {
				return a.Keys[k]
			}
		}
	}
	return ip
}

// sanction applies a scored risk: the band or rule's sanction on its key,
// unless that key is under it already.
func (e *Engine) sanction(now time.Time, a *identity.Actor, route string, r *Scored, decide func(Decision)) Verdict {
	k := r.key(a)
	if k.Hash == 0 {
		return Verdict{Score: r.Score}
	}
	if !sanctioned(e.active(k, now.UnixNano()), r.bi, false) {
		e.trip(now, a, k, r.bi, uint64(r.Score), route, r.Signals, r.Score, decide)
	}
	return Verdict{Action: r.act, RetryAfter: e.budgets[r.bi].BlockFor, Rule: e.budgets[r.bi].ID, Key: k, Score: r.Score}
}

// trafficMeter is a meter that also counts requests and misses.
type trafficMeter interface {
	Traffic(now int64, k identity.Key, wi int) (req, miss uint64)
}

// trip installs a sanction for budget bi on key k and reports the decision.
func (e *Engine) trip(now time.Time, a *identity.Actor, k identity.Key, bi int, count uint64, route string, sig detect.Signals, score int, decide func(Decision)) sanction {
	b := &e.budgets[bi]
	t := now.UnixNano()
	young := e.youngOnly(k, bi, sig) && score == 0
	var until int64
	switch {
	case b.Action == Block, b.Action == Decoy, b.Action == Challenge, b.ent < 0:
		// A repeat offender waits longer each time: a scraper that resumes
		// the moment its block ends takes a budget an hour otherwise.
		until = t + int64(b.BlockFor)<<e.sanctions.strike(k, bi, young, t)
	default:
		// Throttle (and re-log) until the oldest bucket leaves the window,
		// the first moment the count can fall.
		width := max(int64(e.meter.Resolution(b.wi)), 1)
		until = (t/width + 1) * width
	}
	s := sanction{budget: bi, action: b.Action, until: until, young: young, shadow: e.shadow.Load()}
	e.sanctions.add(k, s)
	d := Decision{
		Time: now, Rule: e.ruleID(bi, s.young), Action: b.Action, Shadow: s.shadow,
		Key: k, Actor: *a, Route: route, Entity: b.Entity,
		Count: count, Limit: b.Limit, Window: b.Window, Until: time.Unix(0, until),
		Signals: sig, Score: score,
	}
	if b.Allowlisted && sig&detect.Allowlisted != 0 {
		if own, normal := e.own.limit(k, bi, t, max(b.Limit, e.learned[bi].Load())); normal > 0 && own < b.Limit {
			d.Rule, d.Limit, d.Normal = d.Rule+ownNormalSuffix, own, normal
		}
	}
	decide(d)
	return s
}

// Unblock lifts every sanction on key k and reports whether there was one.
func (e *Engine) Unblock(k identity.Key) bool { return e.sanctions.remove(k) }

// Sanctioned returns the number of keys under a sanction.
func (e *Engine) Sanctioned() int { return e.sanctions.len() }

// Sanction is a sanction in force, as persisted or shared between nodes.
type Sanction struct {
	Key    identity.Key
	Rule   string // the budget's ID
	Action Action
	Until  int64 // unix ns, event time
	// Shadow: decided in shadow mode. An enforcing engine does not hold a
	// key to it, and judges the key again.
	Shadow bool
}

// Sanction returns the sanction a decision installed.
func (d Decision) Sanction() Sanction {
	return Sanction{Key: d.Key, Rule: d.Rule, Action: d.Action, Until: d.Until.UnixNano(), Shadow: d.Shadow}
}

// shadowPrefix marks a sanction decided in shadow mode where sanctions are
// stored or shared as text (state.db, Redis): a version that does not know
// it reads an action it lacks, and ignores the sanction.
const shadowPrefix = "shadow-"

// ActionName is x's action as stored or shared: its name, marked if x was
// decided in shadow mode (ParseSanctionAction reads it).
func (x Sanction) ActionName() string {
	if x.Shadow {
		return shadowPrefix + x.Action.String()
	}
	return x.Action.String()
}

// ParseSanctionAction reads what ActionName wrote.
func ParseSanctionAction(s string) (a Action, shadow bool, err error) {
	s, shadow = strings.CutPrefix(s, shadowPrefix)
	a, err = ParseAction(s)
	return a, shadow, err
}

// active is k's sanctions in force at t: in enforce mode, without those
// decided in shadow mode.
func (e *Engine) active(k identity.Key, t int64) []sanction {
	return e.sanctions.active(k, t, !e.shadow.Load())
}

// Impose installs a sanction decided elsewhere (restored from disk, or
// another node's) without reporting a decision. A rule no budget has any
// more, or a sanction already over at now, is ignored.
func (e *Engine) Impose(now int64, s Sanction) bool {
	if s.Until <= now {
		return false
	}
	for bi := range e.budgets {
		id, young := strings.CutSuffix(strings.TrimSuffix(s.Rule, ownNormalSuffix), youngSuffix)
		if e.budgets[bi].ID == id {
			e.sanctions.add(s.Key, sanction{budget: bi, action: s.Action, until: s.Until, young: young, shadow: s.Shadow})
			return true
		}
	}
	return false
}

// EachSanction calls fn for every sanction in force at now.
func (e *Engine) EachSanction(now int64, fn func(Sanction)) {
	for i := range e.sanctions.shards {
		sh := &e.sanctions.shards[i]
		sh.mu.RLock()
		for k, list := range sh.m {
			for _, x := range list {
				if x.until > now {
					fn(Sanction{Key: k, Rule: e.ruleID(x.budget, x.young), Action: x.action, Until: x.until, Shadow: x.shadow})
				}
			}
		}
		sh.mu.RUnlock()
	}
}

// SanctionedUntil returns the latest end of key k's sanctions in force at
// now (unix ns; 0: none).
func (e *Engine) SanctionedUntil(now int64, k identity.Key) int64 {
	var until int64
	for _, x := range e.active(k, now) {
		until = max(until, x.until)
	}
	return until
}

// EachSanctionOf calls fn for every sanction on key k in force at now.
func (e *Engine) EachSanctionOf(now int64, k identity.Key, fn func(Sanction)) {
	for _, x := range e.active(k, now) {
		fn(Sanction{Key: k, Rule: e.ruleID(x.budget, x.young), Action: x.action, Until: x.until, Shadow: x.shadow})
	}
}
