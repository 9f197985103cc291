package engine

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

type harness struct {
	t         *testing.T
	e         *Engine
	decisions []Decision
}

func newHarness(t *testing.T, shadow bool, budgets ...Budget) *harness {
	h := &harness{t: t}
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	m := memory.New(memory.Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 100000})
	var err error
	h.e, err = New(m, Options{Entities: []string{"user", "phone"}, Budgets: budgets, Shadow: shadow,
		OnDecision: func(d Decision) { h.decisions = append(h.decisions, d) }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func actor(ip, account uint64) *identity.Actor {
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: ip}
	if account != 0 {
		a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: account}
	}
	return &a
}

// crawl makes sequential requests for new records, one a second from at,
// until refused; it returns how many were served and when it was refused.
func (h *harness) crawl(a *identity.Actor, at time.Time, first, max int) (served int, v Verdict, when time.Time) {
	for i := 0; i < max; i++ {
		now := at.Add(time.Duration(i) * time.Second)
		v = h.e.Admit(now, a, "GET /u/{id}", 0, false)
		if v.Enforced() {
			return served, v, now
		}
		h.e.Observe(now, a, Exchange{Records: []records.Found{{Entity: 0, Hash: uint64(first+i) + 1}}})
		served++
	}
	return served, v, time.Time{}
}

func userBudget(per identity.Kind, limit uint64, act Action) Budget {
	return Budget{ID: "b", Entity: "user", Per: per, Window: time.Hour, Limit: limit, Action: act, BlockFor: 2 * time.Hour}
}

func TestBlockAtBudget(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 300, Block))
	crawler, other := actor(1, 0), actor(2, 0)
	served, v, _ := h.crawl(crawler, t0, 0, 1000)
	if served != 300 || v.Action != Block || v.RetryAfter < 2*time.Hour-2*time.Second || v.RetryAfter > 2*time.Hour {
		t.Fatalf("served %d, verdict %+v; want 300 then a 2h block", served, v)
	}
	if len(h.decisions) != 1 || h.decisions[0].Count != 300 || h.decisions[0].Key != crawler.Keys[identity.IP] || h.decisions[0].Shadow {
		t.Fatalf("decisions %+v", h.decisions)
	}
	// Another actor is untouched.
	if n, _, _ := h.crawl(other, t0.Add(time.Minute), 0, 50); n != 50 {
		t.Fatalf("other actor served %d of 50", n)
	}
	// Repeat records do not count against the budget, so at 299 they still flow.
	h2 := newHarness(t, false, userBudget(identity.IP, 300, Block))
	h2.crawl(crawler, t0, 0, 299)
	if n, _, _ := h2.crawl(crawler, t0.Add(time.Hour/2), 0, 299); n != 299 {
		t.Fatalf("re-reading the same records was refused after %d", n)
	}
}

func TestBlockExpiresAndRetripsIfStillOver(t *testing.T) {
	h := newHarness(t, false, Budget{ID: "b", Entity: "user", Per: identity.IP, Window: 24 * time.Hour, Limit: 10, Action: Block, BlockFor: time.Hour})
	a := actor(1, 0)
	h.crawl(a, t0, 0, 100)
	// After the hour's block the day's window still holds 10 records: blocked again at once.
	v := h.e.Admit(t0.Add(90*time.Minute), a, "", 0, false)
	if v.Action != Block || len(h.decisions) != 2 {
		t.Fatalf("after block expiry: %+v, %d decisions; want a new block", v, len(h.decisions))
	}
	// After the window passes, it is served again.
	if v := h.e.Admit(t0.Add(27*time.Hour), a, "", 0, false); v.Action != Allow {
		t.Fatalf("after the window: %+v", v)
	}
}

func TestThrottleUntilWindowFrees(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 20, Throttle))
	a := actor(1, 0)
	served, v, when := h.crawl(a, t0, 0, 100)
	if served != 20 || v.Action != Throttle || v.RetryAfter <= 0 || v.RetryAfter > 5*time.Minute {
		t.Fatalf("served %d, %+v; want 20 then throttle with Retry-After ≤ one bucket", served, v)
	}
	// Still throttled later within the window...
	if v := h.e.Admit(when.Add(30*time.Minute), a, "", 0, false); v.Action != Throttle {
		t.Fatalf("30m later: %+v", v)
	}
	// ...and free once the records leave it.
	if v := h.e.Admit(when.Add(66*time.Minute), a, "", 0, false); v.Action != Allow {
		t.Fatalf("66m later: %+v", v)
	}
}

func TestShadowDecidesButNeverEnforces(t *testing.T) {
	h := newHarness(t, true, userBudget(identity.IP, 50, Block))
	a := actor(1, 0)
	served, v, _ := h.crawl(a, t0, 0, 200)
	if served != 200 || v.Enforced() {
		t.Fatalf("shadow mode refused a request after %d", served)
	}
	if v.Action != Block || !v.Shadow {
		t.Fatalf("verdict %+v, want a shadow block", v)
	}
	if len(h.decisions) != 1 || !h.decisions[0].Shadow {
		t.Fatalf("decisions %+v; want one would-be block", h.decisions)
	}
	h.e.SetShadow(false)
	if v := h.e.Admit(t0.Add(201*time.Second), a, "", 0, false); !v.Enforced() {
		t.Fatalf("after switching to enforce: %+v", v)
	}
	// judged again, and the refusal logged: not the shadow run's sanction
	if len(h.decisions) != 2 || h.decisions[1].Shadow || h.decisions[1].Action != Block {
		t.Fatalf("decisions %+v; want the would-be block, then a block", h.decisions)
	}
}

// A sanction decided in shadow mode, restored from state.db or heard from
// a fleet, is not enforced by an engine that enforces: the key is judged
// again. A README user who ran shadow first, read the log, fixed what was
// wrong and restarted with --mode enforce had every actor the shadow run
// would have blocked refused, with no decision logged, until the shadow
// sanction's end (2026-12-05, found trying the README's commands).
func TestAShadowSanctionIsNotEnforcedAfterTheSwitch(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 50, Block))
	judged, decided := actor(1, 0), actor(2, 0)
	until := t0.Add(time.Hour).UnixNano()
	for _, x := range []Sanction{
		{Key: judged.Keys[identity.IP], Rule: h.e.budgets[0].ID, Action: Block, Until: until, Shadow: true},
		{Key: decided.Keys[identity.IP], Rule: h.e.budgets[0].ID, Action: Block, Until: until},
	} {
		if !h.e.Impose(t0.UnixNano(), x) {
			t.Fatalf("%+v not imposed", x)
		}
	}
	if v := h.e.Admit(t0.Add(time.Second), judged, "", 0, false); v.Action != Allow {
		t.Errorf("a key under its limit, sanctioned only in shadow mode: %+v", v)
	}
	if v := h.e.Admit(t0.Add(time.Second), decided, "", 0, false); !v.Enforced() {
		t.Errorf("a key sanctioned in enforce mode: %+v", v)
	}
	n := 0
	h.e.EachSanction(t0.Add(time.Second).UnixNano(), func(x Sanction) {
		if x.Shadow {
			t.Errorf("the shadow sanction is still kept: %+v", x)
		}
		n++
	})
	if n != 1 {
		t.Errorf("%d sanctions in force, want 1", n)
	}
	// In shadow mode it is a sanction like any other: logged, not enforced.
	h.e.SetShadow(true)
	h.e.Impose(t0.UnixNano(), Sanction{Key: judged.Keys[identity.IP], Rule: h.e.budgets[0].ID, Action: Block, Until: until, Shadow: true})
	if v := h.e.Admit(t0.Add(2*time.Second), judged, "", 0, false); v.Action != Block || !v.Shadow {
		t.Errorf("in shadow mode: %+v, want a would-be block", v)
	}
}

// The detector keeps a crew's refused members its for as long as the
// crew is sanctioned: the end of its sanctions in force, none once over,
// and none for one decided in shadow mode while enforcing.
func TestSanctionedUntil(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 50, Block))
	blocked, shadowed := actor(1, 0), actor(2, 0)
	until := t0.Add(time.Hour).UnixNano()
	h.e.Impose(t0.UnixNano(), Sanction{Key: blocked.Keys[identity.IP], Rule: h.e.budgets[0].ID, Action: Block, Until: until})
	h.e.Impose(t0.UnixNano(), Sanction{Key: shadowed.Keys[identity.IP], Rule: h.e.budgets[0].ID, Action: Block, Until: until, Shadow: true})
	for _, tt := range []struct {
		name string
		key  identity.Key
		at   time.Time
		want int64
	}{
		{"blocked", blocked.Keys[identity.IP], t0.Add(time.Second), until},
		{"blocked, once over", blocked.Keys[identity.IP], t0.Add(time.Hour), 0},
		{"shadow, while enforcing", shadowed.Keys[identity.IP], t0.Add(time.Second), 0},
		{"never sanctioned", actor(3, 0).Keys[identity.IP], t0.Add(time.Second), 0},
	} {
		if got := h.e.SanctionedUntil(tt.at.UnixNano(), tt.key); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// Stored and shared as text, a sanction says whether it was decided in
// shadow mode, and a version that does not know the mark ignores it.
func TestSanctionActionNames(t *testing.T) {
	for _, x := range []Sanction{{Action: Block}, {Action: Challenge, Shadow: true}, {Action: Throttle, Shadow: true}} {
		a, shadow, err := ParseSanctionAction(x.ActionName())
		if err != nil || a != x.Action || shadow != x.Shadow {
			t.Errorf("%+v: %q reads back as %v %v %v", x, x.ActionName(), a, shadow, err)
		}
	}
	if _, err := ParseAction((Sanction{Action: Block, Shadow: true}).ActionName()); err == nil {
		t.Error("a shadow sanction's action reads as an action where the mark is not known")
	}
}

func TestLogOnlyLogs(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 10, Log))
	served, _, _ := h.crawl(actor(1, 0), t0, 0, 100)
	if served != 100 {
		t.Fatalf("log action refused after %d", served)
	}
	// one decision per bucket (5m) at most: 100s of crawling is within one or two buckets
	if n := len(h.decisions); n < 1 || n > 2 {
		t.Fatalf("%d decisions, want 1-2", n)
	}
}

func TestBudgetAppliesToItsKeyOnly(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.Account, 30, Block))
	// Account 7 crawls from many addresses: blocked on the account key.
	served := 0
	for i := 0; i < 100; i++ {
		a := actor(uint64(100+i), 7)
		n, v, _ := h.crawl(a, t0.Add(time.Duration(i)*time.Minute), i, 1)
		served += n
		if v.Enforced() {
			if v.Key.Kind != identity.Account {
				t.Fatalf("blocked on %v, want the account key", v.Key)
			}
			break
		}
	}
	if served != 30 {
		t.Fatalf("account served %d, want 30", served)
	}
	// Same address as a blocked request, another account: served.
	if v := h.e.Admit(t0.Add(2*time.Hour/3), actor(100, 8), "", 0, false); v.Action != Allow {
		t.Fatalf("innocent account on a shared address refused: %+v", v)
	}
}

func TestUnblock(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 5, Block))
	a := actor(1, 0)
	_, _, when := h.crawl(a, t0, 0, 10)
	if !h.e.Unblock(a.Keys[identity.IP]) {
		t.Fatal("Unblock found nothing")
	}
	// The count is still over, so the next Admit re-trips: unblocking lifts a
	// sanction, it does not forgive the records taken.
	if v := h.e.Admit(when, a, "", 0, false); v.Action != Block {
		t.Fatalf("after unblock: %+v", v)
	}
}

func TestNewRejectsBadBudgets(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	if _, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{{ID: "x", Entity: "order", Window: time.Hour}}}); err == nil {
		t.Error("unknown entity accepted")
	}
	if _, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{{ID: "x", Entity: "user", Window: time.Minute}}}); err == nil {
		t.Error("unmetered window accepted")
	}
}

// Windows from 1m to 30d work in event time: a month of a slow crawler (one
// new record a minute, the pace no rate limit sees) replays in milliseconds,
// and the 30-day budget trips at the event time it should.
func TestEventTimeWindowsFromMinuteToMonth(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Minute, 30 * 24 * time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 1000})
	var decisions []Decision
	e, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{
		{ID: "burst", Entity: "user", Per: identity.IP, Window: time.Minute, Limit: 30, Action: Throttle},
		{ID: "month", Entity: "user", Per: identity.IP, Window: 30 * 24 * time.Hour, Limit: 20000, Action: Block, BlockFor: 24 * time.Hour},
	}, OnDecision: func(d Decision) { decisions = append(decisions, d) }})
	if err != nil {
		t.Fatal(err)
	}
	slow := actor(1, 0)
	start := time.Now()
	var blockedAt time.Time
	for i := 0; i < 30*24*60; i++ {
		now := t0.Add(time.Duration(i) * time.Minute)
		if v := e.Admit(now, slow, "", 0, false); v.Enforced() {
			blockedAt = now
			break
		}
		e.Observe(now, slow, Exchange{Records: []records.Found{{Entity: 0, Hash: uint64(i) + 1}}})
	}
	// 20,000 records at one a minute: the budget is spent at minute 19,999 and
	// the next request, at minute 20,000 (13d 21h 20m), is refused.
	want := t0.Add(20000 * time.Minute)
	if !blockedAt.Equal(want) {
		t.Fatalf("blocked at %v, want %v", blockedAt, want)
	}
	if len(decisions) != 1 || decisions[0].Rule != "month" {
		t.Fatalf("decisions: %+v (the 1-minute burst budget must never trip at one a minute)", decisions)
	}
	t.Logf("replayed %d minutes of event time in %v", 20000, time.Since(start))

	// The same actor bursting: the 1-minute budget throttles within the minute.
	burst := actor(2, 0)
	served, v, _ := func() (int, Verdict, time.Time) {
		for i := 0; i < 100; i++ {
			now := t0.Add(time.Duration(i) * time.Second / 2)
			if v := e.Admit(now, burst, "", 0, false); v.Enforced() {
				return i, v, now
			}
			e.Observe(now, burst, Exchange{Records: []records.Found{{Entity: 0, Hash: uint64(1e9 + i)}}})
		}
		return 100, Verdict{}, time.Time{}
	}()
	if served != 30 || v.Action != Throttle || v.RetryAfter > 5*time.Second {
		t.Fatalf("burst served %d, verdict %+v; want 30 then a throttle of at most one 5s bucket", served, v)
	}
}

func riskEngine(t *testing.T) (*Engine, *[]Decision) {
	t.Helper()
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 10000})
	var got []Decision
	e, err := New(m, Options{Entities: []string{"user"}, Risk: testRisk(),
		OnDecision: func(d Decision) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	return e, &got
}

// testRisk is a challenge at 5 and a block at 10, automation_ua 5,
// sessionless 1, enumeration 10 (20 requests, half misses).
func testRisk() Risk {
	return Risk{
		Weights:         map[detect.Signals]int{detect.AutomationUA: 5, detect.Sessionless: 1, detect.Enumeration: 10},
		Bands:           []Band{{Min: 5, Action: Challenge, For: 10 * time.Minute}, {Min: 10, Action: Block, For: time.Hour}},
		EnumMinRequests: 20, EnumMissRatio: 0.5,
	}
}

func TestRiskBands(t *testing.T) {
	e, got := riskEngine(t)
	a := actor(1, 5)
	route := "GET /u/{id}"
	// Sessionless alone (score 1): allowed.
	if v := e.Admit(t0, a, route, detect.Sessionless, false); v.Action != Allow {
		t.Fatalf("score 1: %s", v.Action)
	}
	// Automation UA on a record route (score 6): challenged, once logged, with its signals.
	for i := 0; i < 3; i++ {
		if v := e.Admit(t0.Add(time.Duration(i)*time.Second), a, route, detect.AutomationUA|detect.Sessionless, false); v.Action != Challenge || v.Score != 6 {
			t.Fatalf("score 6: %s score %d", v.Action, v.Score)
		}
	}
	if len(*got) != 1 || (*got)[0].Signals != detect.AutomationUA|detect.Sessionless || (*got)[0].Rule != "risk>=5" {
		t.Fatalf("decisions %+v", *got)
	}
	// Pages (no record route) are never scored.
	if v := e.Admit(t0, actor(2, 5), "", detect.AutomationUA, false); v.Action != Allow {
		t.Fatalf("automation UA on a page: %s", v.Action)
	}
	// A client that solved the challenge passes it, sanction and all.
	if v := e.Admit(t0.Add(time.Minute), a, route, detect.AutomationUA, true); v.Action != Allow {
		t.Fatalf("passed client: %s", v.Action)
	}
	// Exempt actors: nothing applies.
	if v := e.Admit(t0.Add(time.Minute), a, route, detect.AutomationUA|detect.Allowlisted, false); v.Action != Allow {
		t.Fatalf("allowlisted: %s", v.Action)
	}
}

// Enumeration: a lookup scraper mostly misses; a person rarely does.
func TestEnumerationSignal(t *testing.T) {
	e, _ := riskEngine(t)
	route := "GET /lookup"
	guesser, person := actor(10, 5), actor(11, 6)
	now := t0
	for i := 0; i < 40; i++ {
		now = now.Add(time.Second)
		e.Observe(now, guesser, Exchange{Route: route, Miss: i%20 != 0})
		e.Observe(now, person, Exchange{Route: route, Miss: i%10 == 0})
	}
	if v := e.Admit(now, guesser, route, 0, false); v.Action != Block || v.Signals&detect.Enumeration == 0 {
		t.Fatalf("guesser: %s signals %s", v.Action, v.Signals)
	}
	if v := e.Admit(now, person, route, 0, false); v.Action != Allow {
		t.Fatalf("person with 10%% misses: %s signals %s", v.Action, v.Signals)
	}
	// Below the minimum number of requests the ratio says nothing.
	e2, _ := riskEngine(t)
	few := actor(12, 5)
	for i := 0; i < 10; i++ {
		e2.Observe(t0, few, Exchange{Route: route, Miss: true})
	}
	if v := e2.Admit(t0, few, route, 0, false); v.Action != Allow {
		t.Fatalf("10 misses: %s", v.Action)
	}
}

type matchRoute string

func (m matchRoute) Match(in RuleInput) bool {
	return in.Route == string(m) && in.Actor.Keys[identity.Account].Hash == 0
}

// A custom rule applies its action on the requests it matches, and only those.
func TestCustomRule(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 10000})
	var got []Decision
	e, err := New(m, Options{Entities: []string{"user"},
		Rules:      []Rule{{Name: "anon-lookup", Match: matchRoute("GET /lookup"), Action: Block, For: time.Hour}},
		OnDecision: func(d Decision) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	anon, member := actor(1, 0), actor(2, 7)
	if v := e.Admit(t0, member, "GET /lookup", 0, false); v.Action != Allow {
		t.Fatalf("member: %s", v.Action)
	}
	if v := e.Admit(t0, anon, "GET /users/{id}", 0, false); v.Action != Allow {
		t.Fatalf("other route: %s", v.Action)
	}
	if v := e.Admit(t0, anon, "GET /lookup", 0, false); v.Action != Block || v.Rule != "rule/anon-lookup" {
		t.Fatalf("anonymous lookup: %s %s", v.Action, v.Rule)
	}
	// The block stays on the address for the rule's time, on any route.
	if v := e.Admit(t0.Add(30*time.Minute), anon, "", 0, false); v.Action != Block {
		t.Fatalf("after the rule fired: %s", v.Action)
	}
	if len(got) != 1 {
		t.Fatalf("%d decisions, want 1", len(got))
	}
}

// A carrier NAT: one address, many people, each with an account or a
// browsing session. A per-person budget gives the address room for all of
// them, while a lone scraper on its own address meets the plain limit, and
// fake sessions that never loaded a page buy it nothing.
func TestPerPersonBudgetSparesNATNotScraper(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 3, ExactUpTo: 128, MaxActors: 100000})
	var decisions []Decision
	b := userBudget(identity.IP, 50, Block)
	b.PerPerson = true
	e, err := New(m, Options{Entities: []string{"user", "phone"}, Budgets: []Budget{b}, People: 2,
		OnDecision: func(d Decision) { decisions = append(decisions, d) }})
	if err != nil {
		t.Fatal(err)
	}
	// 40 shoppers behind one address, 20 records each: 800 > 50.
	rec := uint64(1)
	for p := range 40 {
		a := actor(77, 0)
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: uint64(1000 + p)}
		for i := range 20 {
			now := t0.Add(time.Duration(p*20+i) * time.Second)
			if v := e.Admit(now, a, "GET /u/{id}", 0, false); v.Enforced() {
				t.Fatalf("shopper %d refused at record %d: %+v", p, i, v)
			}
			e.Observe(now, a, Exchange{Records: []records.Found{{Entity: 0, Hash: rec}}})
			rec++
		}
	}
	// A scraper with a new made-up session each request (never a page load).
	a := actor(78, 0)
	served := 0
	for i := range 200 {
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: uint64(5000 + i)}
		now := t0.Add(time.Duration(i) * time.Second)
		if v := e.Admit(now, a, "GET /u/{id}", detect.NoAssets, false); v.Enforced() {
			break
		}
		e.Observe(now, a, Exchange{Records: []records.Found{{Entity: 0, Hash: rec}}, Signals: detect.NoAssets})
		rec++
		served++
	}
	if served != 50 {
		t.Fatalf("scraper with fake sessions served %d, want the plain limit 50", served)
	}
	if len(decisions) != 1 {
		t.Fatalf("decisions: %+v", decisions)
	}
	if _, err := New(m, Options{Entities: []string{"user", "phone"}, Budgets: []Budget{b}, People: 1}); err == nil {
		t.Fatal("a people entity inside the entities was accepted")
	}
}

// An address that makes a fresh session every few calls, each loading a
// script, was as many people as it made sessions (cookie-churn: 5.7
// million records in a simulated day). Once its sessions are seen not to
// outlive their first minute (session_churn), it meets the plain limit,
// however many it made before.
func TestSessionChurnGetsNoPerPersonBudget(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 3, ExactUpTo: 128, MaxActors: 100000})
	b := userBudget(identity.IP, 50, Block)
	b.PerPerson = true
	e, err := New(m, Options{Entities: []string{"user", "phone"}, Budgets: []Budget{b}, People: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := actor(79, 0)
	served, rec := 0, uint64(1)
	for i := range 2000 {
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: uint64(9000 + i/3)}
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		var sig detect.Signals
		if i >= 1200 { // two minutes on
			sig = detect.SessionChurn
		}
		if v := e.Admit(now, a, "GET /u/{id}", sig, false); v.Enforced() {
			if i < 1200 {
				t.Fatalf("refused at call %d, before its sessions were seen to churn: the test would prove nothing", i)
			}
			break
		}
		e.Observe(now, a, Exchange{Records: []records.Found{{Entity: 0, Hash: rec}}, Signals: sig})
		rec++
		served++
	}
	if served != 1200 {
		t.Fatalf("a churning address served %d, want its 1,200 before session_churn and none after", served)
	}
}

// Allowlisted actors skip signals and the budgets for everyone else, and
// meet budgets of their own: a partner that turns into a harvester is
// stopped. (Before, detect.allow exempted it from everything.)
func TestAllowlistedPartnerMeetsItsOwnBudget(t *testing.T) {
	everyone := userBudget(identity.IP, 10, Block)
	partnerB := userBudget(identity.IP, 100, Block)
	partnerB.ID, partnerB.Allowlisted = "partner", true
	h := newHarness(t, false, everyone, partnerB)
	partner := actor(5, 0)
	served := 0
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * time.Second)
		if v := h.e.Admit(now, partner, "GET /u/{id}", detect.Allowlisted|detect.AutomationUA, false); v.Enforced() {
			if v.Rule != "partner" {
				t.Fatalf("partner stopped by %s", v.Rule)
			}
			break
		}
		h.e.Observe(now, partner, Exchange{Records: []records.Found{{Entity: 0, Hash: uint64(i + 1)}}, Signals: detect.Allowlisted})
		served++
	}
	if served != 100 {
		t.Fatalf("allowlisted partner served %d, want its own budget of 100 (not everyone's 10, not unlimited)", served)
	}
	if n, _, _ := h.crawl(actor(6, 0), t0, 5000, 50); n != 10 {
		t.Fatalf("an ordinary actor served %d, want 10", n)
	}
}

// A scraper that waits out its block and resumes is blocked for twice as
// long each time (up to 16 times block_for), so it takes a budget a day
// rather than a budget an hour; after a week clean, it starts afresh.
func TestRepeatOffenderWaitsLonger(t *testing.T) {
	h := newHarness(t, false, userBudget(identity.IP, 10, Block)) // block_for 2h
	a := actor(9, 0)
	at, first := t0, 0
	var blocks []time.Duration
	for range 6 {
		_, v, when := h.crawl(a, at, first, 100)
		if v.Action != Block {
			t.Fatalf("not blocked: %+v", v)
		}
		blocks = append(blocks, v.RetryAfter.Round(time.Minute))
		at, first = when.Add(v.RetryAfter+time.Hour), first+100 // after the block, and past the window
	}
	want := []time.Duration{2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 32 * time.Hour, 32 * time.Hour}
	for i := range want {
		if blocks[i] < want[i]-2*time.Minute || blocks[i] > want[i] {
			t.Fatalf("blocks %v, want %v", blocks, want)
		}
	}
	_, v, _ := h.crawl(a, at.Add(8*24*time.Hour), first, 100)
	if v.RetryAfter.Round(time.Minute) != 2*time.Hour {
		t.Fatalf("a week later: blocked %v, want a first offence's 2h", v.RetryAfter)
	}
}

// oneByOne hides the meter's Bounds: the engine asks Bound per budget.
type oneByOne struct{ meterWithTraffic }

type meterWithTraffic interface {
	Meter
	trafficMeter
}

// Admit's bounds asked once per key decide exactly as a Bound per budget
// does: the same decisions and verdicts, request by request, on NAT
// traffic under per-person budgets, with exempt actors among it.
func TestBoundsOnceDecideAsBoundEach(t *testing.T) {
	run := func(hide bool) (vs []Verdict, ds []Decision) {
		var m Meter = memory.New(memory.Options{Windows: []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}, Entities: 3, ExactUpTo: 16, MaxActors: 1_000_000})
		if hide {
			m = oneByOne{m.(*memory.Memory)}
		}
		e, err := shoppersBehindNATs(m, func(d Decision) { ds = append(ds, d) })
		if err != nil {
			t.Fatal(err)
		}
		var a identity.Actor
		var recs []records.Found
		now := t0
		for i := 0; i < 60_000; i++ {
			now = now.Add(time.Duration(i%7) * 100 * time.Millisecond)
			recs = shopper(i*13, &a, recs)
			sig := detect.Signals(0)
			if i%97 == 0 {
				sig = detect.Allowlisted
			}
			vs = append(vs, e.Admit(now, &a, "GET /u/{id}", sig, false))
			e.Observe(now, &a, Exchange{Records: recs, Signals: sig})
		}
		return vs, ds
	}
	v1, d1 := run(false)
	v2, d2 := run(true)
	if len(d1) == 0 {
		t.Fatal("no decisions: the traffic trips nothing")
	}
	if len(d1) != len(d2) {
		t.Fatalf("%d decisions with Bounds, %d with Bound each", len(d1), len(d2))
	}
	for i := range d1 {
		if d1[i] != d2[i] {
			t.Fatalf("decision %d: %+v with Bounds, %+v with Bound each", i, d1[i], d2[i])
		}
	}
	for i := range v1 {
		if v1[i] != v2[i] {
			t.Fatalf("request %d: %+v with Bounds, %+v with Bound each", i, v1[i], v2[i])
		}
	}
}

// limitsHeard is a meter that hears the limits (meter/redis does).
type limitsHeard struct {
	*memory.Memory
	heard map[string]uint64 // the lowest limit heard at the last admission, by entity and window
	at    int64
}

func (l *limitsHeard) Limiting(now int64, k identity.Key, ent, wi int, limit uint64) {
	if now != l.at {
		l.heard, l.at = map[string]uint64{}, now
	}
	key := fmt.Sprint(ent, "/", wi)
	if have, ok := l.heard[key]; !ok || limit < have {
		l.heard[key] = limit
	}
}

// A fleet reads a key's count from Redis before each of its requests only
// while the key is near a limit: the engine tells it the limits that hold
// the key, the written one under it, none for a budget that is not the
// key's (an allowlisted partner's), and the one worked out over it.
func TestTheMeterHearsTheLimitsThatHoldAKey(t *testing.T) {
	m := &limitsHeard{Memory: memory.New(memory.Options{Windows: []time.Duration{time.Hour, 10 * time.Minute}, Entities: 1, ExactUpTo: 128, MaxActors: 1000})}
	e, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{
		{ID: "ip", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 10, Action: Block, Learn: true},
		{ID: "partner", Entity: "user", Per: identity.IP, Window: 10 * time.Minute, Limit: 4, Action: Block, Allowlisted: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := &identity.Actor{}
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 7}
	now := t0
	admit := func() map[string]uint64 {
		now = now.Add(time.Second)
		e.Admit(now, a, "GET /u/{id}", 0, false)
		return m.heard
	}
	if h := admit(); h["0/0"] != 10 || h["0/1"] != math.MaxUint64 {
		t.Fatalf("heard %v, want the written 10 for the hour and none for the partner's 10 minutes", h)
	}
	for i := range 8 {
		e.Observe(now, a, Exchange{Route: "GET /u/{id}", Records: []records.Found{{Entity: 0, Hash: uint64(i + 1)}}})
	}
	if h := admit(); h["0/0"] != 10 {
		t.Fatalf("heard %v at 8 records, want the hour's 10", h)
	}
	// Its traffic's limit learnt at 30: the key at 12 is held to 30.
	if e.Restore(map[string]uint64{"ip": 30}) != 1 {
		t.Fatal("the learnt limit was not restored")
	}
	for i := range 4 {
		e.Observe(now, a, Exchange{Route: "GET /u/{id}", Records: []records.Found{{Entity: 0, Hash: uint64(i + 100)}}})
	}
	if h := admit(); h["0/0"] != 30 {
		t.Fatalf("heard %v at 12 records of a learnt 30, want 30", h)
	}
}
