package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// A replay that shards keys (analyze) calls the engine a key at a time:
// the address key with the risk score first, then the other keys with the
// crew's sanction. On random traffic from actors sharing addresses,
// accounts and crews, with misses (enumeration), automation and per-person
// budgets, it takes the decisions Admit and Observe take, with the same
// signals.
func TestByKeyDecidesAsAdmitAndObserve(t *testing.T) {
	seen := map[string]bool{} // rules tripped, and "enumeration" when a decision carried it
	build := func(out *[]string) *Engine {
		m := memory.New(memory.Options{Windows: []time.Duration{time.Minute, time.Hour}, Entities: 2, ExactUpTo: 16, MaxActors: 1 << 16})
		m.SeparateAddresses()
		e, err := New(m, Options{Entities: []string{"user"}, People: 1, Budgets: []Budget{
			{ID: "ip", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 10, PerPerson: true, Action: Block},
			{ID: "account", Entity: "user", Per: identity.Account, Window: time.Hour, Limit: 60, Action: Throttle},
			{ID: "crew", Entity: "user", Per: identity.Crew, Window: time.Minute, Limit: 8, Action: Block, BlockFor: 5 * time.Minute},
		}, Risk: Risk{
			Weights:         map[detect.Signals]int{detect.AutomationUA: 5, detect.Enumeration: 10},
			Bands:           []Band{{Min: 5, Action: Challenge, For: time.Minute}, {Min: 10, Action: Block, For: 3 * time.Minute}},
			EnumMinRequests: 10, EnumMissRatio: 0.5,
		}, Shadow: true, OnDecision: func(d Decision) {
			*out = append(*out, fmt.Sprint(d))
			seen[d.Rule] = true
			seen["enumeration"] = seen["enumeration"] || d.Signals&detect.Enumeration != 0
		}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	var whole, byKey []string
	ew, ek := build(&whole), build(&byKey)
	counts := make([]uint64, ek.CountsLen())
	sink := func(d Decision) { byKey = append(byKey, fmt.Sprint(d)) }
	rng := rand.New(rand.NewPCG(3, 4))
	at := t0
	for i := range 20_000 {
		at = at.Add(time.Duration(rng.IntN(800)) * time.Millisecond)
		var a identity.Actor
		a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 1 + uint64(rng.IntN(6))}
		if rng.IntN(3) > 0 {
			a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 100 + uint64(rng.IntN(12))}
		}
		if rng.IntN(4) == 0 {
			a.Keys[identity.Crew] = identity.Key{Kind: identity.Crew, Hash: 200 + uint64(rng.IntN(2))}
		}
		var sig detect.Signals
		if rng.IntN(5) == 0 {
			sig |= detect.AutomationUA
		}
		route, miss := "GET /u/{id}", rng.IntN(3) == 0
		var recs []records.Found
		if !miss {
			recs = []records.Found{{Entity: 0, Hash: uint64(rng.IntN(500)) + 1}}
		}
		if rng.IntN(10) == 0 {
			route, recs, miss = "", nil, false
		}
		n := len(whole)
		v := ew.Admit(at, &a, route, sig, false)
		ew.Observe(at, &a, Exchange{Route: route, Records: recs, Miss: miss, Signals: v.Signals})
		slices.Sort(whole[n:])

		m := len(byKey)
		ek.AdmitKey(at, &a, identity.IP, route, sig, sink)
		r := ek.Score(at, &a, route, sig)
		if k := r.Key(&a); k.Kind == identity.IP && k.Hash != 0 {
			ek.Sanction(at, &a, route, &r, sink)
		}
		x := Exchange{Route: route, Records: recs, Miss: miss, Signals: r.Signals}
		ek.ObserveKey(at, &a, identity.IP, x, counts, sink)
		for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
			ek.AdmitKey(at, &a, kind, route, sig, sink)
		}
		if k := r.Key(&a); k.Kind != identity.IP && k.Hash != 0 {
			ek.Sanction(at, &a, route, &r, sink)
		}
		for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
			ek.ObserveKey(at, &a, kind, x, counts, sink)
		}
		slices.Sort(byKey[m:])
		if r.Signals != v.Signals || !slices.Equal(whole[n:], byKey[m:]) {
			t.Fatalf("request %d: by key %v %q, whole %v %q", i, r.Signals, byKey[m:], v.Signals, whole[n:])
		}
	}
	for _, want := range []string{"ip", "account", "crew", "risk>=5", "risk>=10", "enumeration"} {
		if !seen[want] {
			t.Errorf("no decision with %s: the traffic no longer exercises what this test compares", want)
		}
	}
}
