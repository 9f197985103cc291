package engine

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// natEngine is testRisk with sequential_ids weighing a block, and a
// per-person address budget of 50 users an hour, so that the people
// behind an address are counted.
func natEngine(t *testing.T) (*Engine, *[]Decision) {
	t.Helper()
	return natEngineOn(t, identity.IP)
}

// natEngineOn is natEngine with its per-person budget on keys of kind.
func natEngineOn(t *testing.T, kind identity.Kind) (*Engine, *[]Decision) {
	t.Helper()
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 2, ExactUpTo: 128, MaxActors: 100000})
	b := userBudget(kind, 50, Block)
	b.PerPerson = true
	risk := testRisk()
	risk.Weights[detect.SequentialIDs] = 10
	var got []Decision
	e, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{b}, People: 1, Risk: risk,
		OnDecision: func(d Decision) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	return e, &got
}

// personBehind is person i behind address ip: a session past its youth.
func personBehind(ip, i uint64) *identity.Actor {
	a := actor(ip, 0)
	a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: 7000 + i}
	return a
}

// thirtyPeopleBehind has persons 0-29 behind address nat served a
// record each on route, from t0, and returns the time after and the next
// record's hash.
func thirtyPeopleBehind(e *Engine, nat uint64, route string) (now time.Time, rec uint64) {
	now, rec = t0, 1
	for i := range uint64(30) {
		now = now.Add(100 * time.Millisecond)
		e.Observe(now, personBehind(nat, i), Exchange{Route: route, Records: []records.Found{{Entity: 0, Hash: rec}}})
		rec++
	}
	return now, rec
}

// A red team enumerating user ids from a carrier-NAT address (2026-12-02)
// got the address blocked, and 22,272 requests of the 270 shoppers behind
// it refused: the address's misses were the enumerator's, the enumeration
// signal (weight 10: a block) was the address's, and so was the sanction.
// On an address people share, the address's misses are held only against
// requests without a session or account of their own, and a risk's
// sanction goes on the request's crew, session or account.
func TestAnEnumeratorBehindANATDoesNotBringItsPeopleDown(t *testing.T) {
	const nat, route = 77, "GET /u/{id}"
	e, _ := natEngine(t)
	now, _ := thirtyPeopleBehind(e, nat, route)
	// The enumerator: its own session on the NAT address, and without one
	// (a crew key, as the detector gives sessionless requests).
	withSession := personBehind(nat, 999)
	sessionless := actor(nat, 0)
	sessionless.Keys[identity.Crew] = identity.Key{Kind: identity.Crew, Hash: 0xc4e3}
	for i := range 200 {
		now = now.Add(100 * time.Millisecond)
		who := withSession
		if i%2 == 1 {
			who = sessionless
		}
		e.Observe(now, who, Exchange{Route: route, Miss: true})
	}
	for i := range uint64(30) {
		if v := e.Admit(now, personBehind(nat, i), route, 0, false); v.Enforced() {
			t.Fatalf("shopper %d behind the enumerator's address: %s by %s on %v, signals %s", i, v.Action, v.Rule, v.Key, v.Signals)
		}
	}
	v := e.Admit(now, sessionless, route, detect.Sessionless, false)
	if v.Action != Block || v.Key.Kind != identity.Crew {
		t.Fatalf("the sessionless enumerator: %s on %v, signals %s; want a block on its crew", v.Action, v.Key, v.Signals)
	}
	for i := range uint64(30) {
		if v := e.Admit(now, personBehind(nat, i), route, 0, false); v.Enforced() {
			t.Fatalf("shopper %d after the enumerator's crew was blocked: %s on %v", i, v.Action, v.Key)
		}
	}
	// A session of its own that earns a block on other evidence is
	// blocked itself, not the address.
	walker := personBehind(nat, 998)
	if v := e.Admit(now, walker, route, detect.SequentialIDs, false); v.Action != Block || v.Key != walker.Keys[identity.Session] {
		t.Fatalf("a session walking ids behind the NAT: %s on %v; want a block on its session", v.Action, v.Key)
	}
	for i := range uint64(30) {
		if v := e.Admit(now, personBehind(nat, i), route, 0, false); v.Enforced() {
			t.Fatalf("shopper %d after a session behind the address was blocked: %s on %v", i, v.Action, v.Key)
		}
	}
	// Alone on its address, an enumerator with a session is the address.
	lone := personBehind(78, 1)
	for range 40 {
		now = now.Add(100 * time.Millisecond)
		e.Observe(now, lone, Exchange{Route: route, Miss: true})
	}
	if v := e.Admit(now, lone, route, 0, false); v.Action != Block || v.Key.Kind != identity.IP {
		t.Fatalf("a lone enumerator with a session: %s on %v, signals %s; want a block on its address", v.Action, v.Key, v.Signals)
	}
}

// A red team churning sessions on a carrier-NAT address (2026-12-02), its
// fresh sessions out-calling the 270 shoppers behind it, got the address
// session_churn, then the plain limit and a block on the address: 18,804
// shopper requests refused. The plain limit now holds the address's young
// sessions only, and so does its sanction.
func TestAChurnerOnANATDoesNotBringItsPeopleDown(t *testing.T) {
	const nat, route = 77, "GET /u/{id}"
	e, got := natEngine(t)
	now, rec := thirtyPeopleBehind(e, nat, route)
	served, now := churnYoung(e, route, now, 100*time.Millisecond, rec, func(i uint64) *identity.Actor { return personBehind(nat, 5000+i/3) })
	// The address's plain limit (50) less its people's 30 records.
	if served > 20 {
		t.Fatalf("the churner's young sessions were served %d records, want 20 at most", served)
	}
	for i := range uint64(30) {
		if v := e.Admit(now, personBehind(nat, i), route, 0, false); v.Enforced() {
			t.Fatalf("shopper %d behind the churner's address: %s by %s on %v", i, v.Action, v.Rule, v.Key)
		}
	}
	if len(*got) != 1 || (*got)[0].Rule != "b"+youngSuffix || (*got)[0].Key.Kind != identity.IP {
		t.Fatalf("decisions %+v, want one, on the address's young sessions", *got)
	}
	// The young sessions' record calls only: when session_churn falls
	// on people, they still load the shop's pages (a ninth red team's
	// people behind a NAT lost pages and stylesheets too, 2026-12-03).
	if v := e.Admit(now, personBehind(nat, 9998), "", detect.SessionChurn, false); v.Enforced() {
		t.Fatalf("a young session's page load behind the held address: %s by %s", v.Action, v.Rule)
	}
	if v := e.Admit(now, personBehind(nat, 9998), route, detect.SessionChurn, false); v.Action != Block {
		t.Fatalf("a young session's record call behind the held address: %s, want a block", v.Action)
	}
	// The sanction, persisted and restored (or shared with another
	// node), still holds the young sessions only.
	var held []Sanction
	e.EachSanction(now.UnixNano(), func(s Sanction) { held = append(held, s) })
	other, _ := natEngine(t)
	if len(held) != 1 || !other.Impose(now.UnixNano(), held[0]) {
		t.Fatalf("sanctions %+v: not one that another engine takes", held)
	}
	if v := other.Admit(now, personBehind(nat, 3), route, 0, false); v.Enforced() {
		t.Fatalf("restored: a shopper behind the address %s by %s", v.Action, v.Rule)
	}
	if v := other.Admit(now, personBehind(nat, 9999), route, detect.SessionChurn, false); v.Action != Block || v.Rule != "b"+youngSuffix {
		t.Fatalf("restored: a fresh churner session %s by %q, want a block by the young sessions' rule", v.Action, v.Rule)
	}
}

// churnYoung has 600 young sessions' requests (churner(i), session_churn
// on each), every step from now, ask for a new record each from rec on,
// and returns how many were served, and the time after.
func churnYoung(e *Engine, route string, now time.Time, step time.Duration, rec uint64, churner func(i uint64) *identity.Actor) (served int, after time.Time) {
	for i := range uint64(600) {
		now = now.Add(step)
		a := churner(i)
		if v := e.Admit(now, a, route, detect.SessionChurn, false); v.Enforced() {
			continue
		}
		e.Observe(now, a, Exchange{Route: route, Records: []records.Found{{Entity: 0, Hash: rec}}, Signals: detect.SessionChurn})
		rec++
		served++
	}
	return served, now
}

// A sixth red team churned sessions over the 254 addresses of one /24,
// a fresh address and session for every three calls, at 2,400 requests a
// second (2026-12-02): 47,433 records in 30 s, each session a person
// behind the /24. Sessions born by the hundred a second on one network
// carry session_churn (detect's TestSessionsBornByTheHundredOnOneNetwork),
// and on the network, as on an address, they then meet the plain limit
// and a sanction that holds the network's young sessions only.
func TestEvasionChurnOverOneSlash24(t *testing.T) {
	const route = "GET /u/{id}"
	e, got := natEngineOn(t, identity.Net)
	onNet := func(host, session uint64) *identity.Actor {
		a := personBehind(0x0a0b0c00|host, session)
		a.Keys[identity.Net] = identity.Key{Kind: identity.Net, Hash: 0x0a0b0c}
		return a
	}
	now, rec := t0, uint64(1)
	for i := range uint64(30) { // thirty people on the /24's first addresses
		now = now.Add(100 * time.Millisecond)
		e.Observe(now, onNet(1+i%3, i), Exchange{Route: route, Records: []records.Found{{Entity: 0, Hash: rec}}})
		rec++
	}
	served, now := churnYoung(e, route, now, 10*time.Millisecond, rec, func(i uint64) *identity.Actor { return onNet(10+i/3%244, 5000+i/3) })
	// The network's plain limit (50) less its people's 30 records.
	if served > 20 {
		t.Fatalf("the churner's young sessions were served %d records, want 20 at most", served)
	}
	for i := range uint64(30) {
		if v := e.Admit(now, onNet(1+i%3, i), route, 0, false); v.Enforced() {
			t.Fatalf("person %d on the churner's /24: %s by %s on %v", i, v.Action, v.Rule, v.Key)
		}
	}
	if len(*got) != 1 || (*got)[0].Rule != "b"+youngSuffix || (*got)[0].Key.Kind != identity.Net {
		t.Fatalf("decisions %+v, want one, on the network's young sessions", *got)
	}
}

// A red team asking for missing profiles with browser headers and a
// made-up session that never loaded a page, from the address of a clerk or
// of an office's lone shopper (2026-12-02), had the address blocked by the
// enumeration signal and the clerk or shopper refused: only addresses with
// two people behind them were spared. The misses of requests that show
// nobody behind the address are now held against those only, and a
// sanction of theirs beside one person goes on their own key.
func TestAFakeSessionEnumeratorBesideOnePersonDoesNotBringThemDown(t *testing.T) {
	const route = "GET /u/{id}"
	clerk := personBehind(80, 1)
	clerk.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 0xc1e4c}
	for _, tt := range []struct {
		name   string
		person *identity.Actor
		sig    detect.Signals // the person's
	}{
		{"a clerk's console", clerk, detect.NoAssets},
		{"an office's lone shopper", personBehind(81, 2), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := natEngine(t)
			ip := tt.person.Keys[identity.IP].Hash
			now := t0
			for i := range uint64(5) {
				now = now.Add(time.Second)
				e.Observe(now, tt.person, Exchange{Route: route, Records: []records.Found{{Entity: 0, Hash: 100 + i}}, Signals: tt.sig})
			}
			enumerator := actor(ip, 0)
			enumerator.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: 0xfa4e}
			for range 200 {
				now = now.Add(100 * time.Millisecond)
				e.Observe(now, enumerator, Exchange{Route: route, Miss: true, Signals: detect.NoAssets})
			}
			v := e.Admit(now, enumerator, route, detect.NoAssets, false)
			if v.Action != Block || v.Key != enumerator.Keys[identity.Session] || v.Signals&detect.Enumeration == 0 {
				t.Fatalf("the enumerator: %s on %v, signals %s; want a block on its session for enumeration", v.Action, v.Key, v.Signals)
			}
			if v := e.Admit(now, tt.person, route, tt.sig, false); v.Enforced() {
				t.Fatalf("the person beside it: %s by %s on %v, signals %s", v.Action, v.Rule, v.Key, v.Signals)
			}
		})
	}
}

// The traffic of the requests on an address that show nobody is metered
// beside the address's own: in its meter shard and replay partition, or a
// sharded replay would meter it on another goroutine, out of line order.
func TestNobodyKeyFallsBesideItsAddress(t *testing.T) {
	for i := range uint64(10000) {
		ip := identity.Key{Kind: identity.IP, Hash: i * 0x9e3779b97f4a7c15}
		nk := nobodyKey(ip)
		if nk == ip || memory.Partition(nk) != memory.Partition(ip) {
			t.Fatalf("address %v: nobody's key %v, partition %d against %d", ip, nk, memory.Partition(nk), memory.Partition(ip))
		}
	}
}

// A ninth red team's people behind a carrier NAT, nineteen visits in
// twenty a page, a stylesheet and one record call (2026-12-03): when the
// address began to show session_churn, its young sessions met the plain
// limit, which the people's records were already over, and the budget
// tripped on the next request, a stylesheet, which was refused. A
// young-sessions limit trips on record calls only.
func TestAPageLoadDoesNotTripTheYoungSessionsLimit(t *testing.T) {
	const nat, route = 77, "GET /u/{id}"
	e, got := natEngine(t)
	now, rec := thirtyPeopleBehind(e, nat, route)
	for i := range uint64(60) {
		now = now.Add(100 * time.Millisecond)
		e.Observe(now, personBehind(nat, i%30), Exchange{Route: route, Records: []records.Found{{Entity: 0, Hash: rec}}})
		rec++
	}
	if v := e.Admit(now, personBehind(nat, 5000), "", detect.SessionChurn, false); v.Enforced() || len(*got) != 0 {
		t.Fatalf("a young session's page load over the plain limit: %s by %s, decisions %+v", v.Action, v.Rule, *got)
	}
	if v := e.Admit(now, personBehind(nat, 5000), route, detect.SessionChurn, false); v.Action != Block || v.Rule != "b"+youngSuffix {
		t.Fatalf("a young session's record call over the plain limit: %s by %q, want a block by the young sessions' rule", v.Action, v.Rule)
	}
}
