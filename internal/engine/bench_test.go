package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

func benchEngine(b *testing.B, nrec, actors int) {
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	m := memory.New(memory.Options{Windows: windows, Entities: 2, ExactUpTo: 128, MaxActors: 1_000_000})
	e, err := New(m, Options{Entities: []string{"user", "phone"}, Budgets: []Budget{
		{ID: "ip", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 1 << 40, Action: Block},
		{ID: "acct", Entity: "user", Per: identity.Account, Window: 24 * time.Hour, Limit: 1 << 40, Action: Throttle},
	}})
	if err != nil {
		b.Fatal(err)
	}
	as := make([]identity.Actor, actors)
	for i := range as {
		for k := range identity.NumKinds {
			as[i].Keys[k] = identity.Key{Kind: k, Hash: uint64(i)*0x9e3779b97f4a7c15 + uint64(k) + 1}
		}
	}
	recs := make([]records.Found, nrec)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		a := &as[i%actors]
		for j := range recs {
			recs[j] = records.Found{Entity: j & 1, Hash: uint64(i*nrec+j)*0xbf58476d1ce4e5b9 + 1}
		}
		if v := e.Admit(now, a, "", 0, false); v.Action != Allow {
			b.Fatal(v)
		}
		e.Observe(now, a, Exchange{Records: recs})
	}
}

// Per request: Admit + Observe on all five keys of an actor.
func BenchmarkEngine1Record1kActors(b *testing.B)   { benchEngine(b, 1, 1000) }
func BenchmarkEngine10Records1kActors(b *testing.B) { benchEngine(b, 10, 1000) }
func BenchmarkEngine10Records1Actor(b *testing.B)   { benchEngine(b, 10, 1) } // a crawler in HLL mode
func BenchmarkEngine1Record100kActors(b *testing.B) { benchEngine(b, 1, 100000) }

// shoppersBehindNATs is an API-heavy day's budgets and traffic, as the
// default policy meters it: per-person budgets on addresses and /24s,
// budgets per account, session and crew, budgets of their own for
// allowlisted actors, two entities over three windows; people behind 40
// carrier-NAT addresses in two /24s, each with an account and a session,
// and a scraper's account among them.
func shoppersBehindNATs(m Meter, onDecision func(Decision)) (*Engine, error) {
	var budgets []Budget
	for _, ent := range []string{"user", "order"} {
		for _, b := range []Budget{
			{Per: identity.IP, Window: time.Hour, Limit: 300, PerPerson: true},
			{Per: identity.Net, Window: time.Hour, Limit: 300, PerPerson: true},
			{Per: identity.Account, Window: time.Hour, Limit: 60, Action: Throttle},
			{Per: identity.Account, Window: 24 * time.Hour, Limit: 200},
			{Per: identity.Session, Window: time.Hour, Limit: 60},
			{Per: identity.Crew, Window: time.Hour, Limit: 500},
			{Per: identity.IP, Window: 10 * time.Minute, Limit: 400, Allowlisted: true},
		} {
			b.ID, b.Entity = fmt.Sprintf("%s/%s/%s/%d", ent, b.Per, b.Window, len(budgets)), ent
			if b.Action == Allow {
				b.Action = Block
			}
			budgets = append(budgets, b)
		}
	}
	return New(m, Options{Entities: []string{"user", "order"}, Budgets: budgets, People: 2, OnDecision: onDecision})
}

// shopper is request i's actor and records: person p behind NAT address
// p%40, most records new to the person, some seen before; one request in
// ten is the scraper's.
func shopper(i int, a *identity.Actor, recs []records.Found) []records.Found {
	p := uint64(i*7919) % 3000
	*a = identity.Actor{}
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 1 + p%40}
	a.Keys[identity.Net] = identity.Key{Kind: identity.Net, Hash: 100 + p%2}
	a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 1000 + p}
	a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: 10000 + p}
	recs = recs[:0]
	if i%10 == 0 { // a scraper's account behind the same NATs, fresh records each time
		a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 999}
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: 9999}
		a.Keys[identity.Crew] = identity.Key{Kind: identity.Crew, Hash: 7}
		return append(recs, records.Found{Entity: i / 10 & 1, Hash: uint64(i)<<32 | 1})
	}
	for j := range 1 + i%3 {
		recs = append(recs, records.Found{Entity: j & 1, Hash: (p<<20 | uint64(i/3000+j)%200) + 1})
	}
	return recs
}

// BenchmarkEngineShoppersBehindNATs is Admit + Observe per request on
// that traffic: the engine's stage of analyze on an API-heavy log.
func BenchmarkEngineShoppersBehindNATs(b *testing.B) {
	m := memory.New(memory.Options{Windows: []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}, Entities: 3, ExactUpTo: 128, MaxActors: 1_000_000})
	e, err := shoppersBehindNATs(m, nil)
	if err != nil {
		b.Fatal(err)
	}
	var a identity.Actor
	var recs []records.Found
	now := t0
	for i := 0; i < 200_000; i++ { // an hour and more of traffic first
		now = now.Add(300 * time.Millisecond)
		recs = shopper(i, &a, recs)
		e.Admit(now, &a, "GET /api/users/{id}", 0, false)
		e.Observe(now, &a, Exchange{Route: "GET /api/users/{id}", Records: recs})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(300 * time.Millisecond)
		recs = shopper(200_000+i, &a, recs)
		e.Admit(now, &a, "GET /api/users/{id}", 0, false)
		e.Observe(now, &a, Exchange{Route: "GET /api/users/{id}", Records: recs})
	}
}
