package pipeline

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

func newPipeline(t *testing.T) Pipeline {
	t.Helper()
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 16, MaxActors: 1000})
	e, err := engine.New(m, engine.Options{Entities: []string{"user"}, Budgets: []engine.Budget{
		{ID: "user/ip/1h", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 3, Action: engine.Block, BlockFor: time.Hour},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return Pipeline{Detector: detect.New(detect.Options{}), Engine: e}
}

func TestAdmitAssessesThenJudges(t *testing.T) {
	tests := []struct {
		name   string
		traits *detect.Traits
		want   detect.Signals
	}{
		{"assessed", &detect.Traits{Kind: detect.Record, UA: detect.UAAutomation}, detect.AutomationUA | detect.Sessionless},
		{"assessed elsewhere (traits nil)", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeline(t)
			var a identity.Actor
			a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 7}
			a.Keys[identity.Net] = identity.Key{Kind: identity.Net, Hash: 8}
			v := p.Admit(time.Unix(1e9, 0), &a, tt.traits, "GET /api/users/{id}", false)
			if v.Signals != tt.want {
				t.Fatalf("signals %s, want %s", v.Signals, tt.want)
			}
			if crew := a.Keys[identity.Crew].Hash != 0; crew != (tt.want != 0) {
				t.Fatalf("crew key set: %v, want %v (the detector sets it when it assesses)", crew, tt.want != 0)
			}
		})
	}
}

// What was observed is metered: the budget trips on the records served,
// whichever front end served them.
func TestObserveMetersWhatWasServed(t *testing.T) {
	p := newPipeline(t)
	now := time.Unix(1e9, 0)
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 7}
	tr := &detect.Traits{Kind: detect.Record, UA: detect.UABrowser}
	for i := range 5 {
		v := p.Admit(now, &a, tr, "GET /api/users/{id}", false)
		if v.Enforced() != (i >= 3) {
			t.Fatalf("request %d: verdict %+v; want refused once the budget of 3 is taken", i, v)
		}
		p.Observe(now, &a, engine.Exchange{Route: "GET /api/users/{id}", Records: []records.Found{{Entity: 0, Hash: uint64(100 + i)}}, Signals: v.Signals})
	}
}
