package engine

import (
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
