package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/human"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/stack"
)

// BenchReport is the scoreboard: every scenario run against one policy.
// It is `leakguard bench --json`; field names are a stable contract.
type BenchReport struct {
	Seed      uint64           `json:"seed"`
	Policy    []string         `json:"policy"`
	Scenarios []ScenarioReport `json:"scenarios"`
}

// ScenarioReport is one scenario's line of the scoreboard.
type ScenarioReport struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Days        int             `json:"days"`
	Requests    int             `json:"requests"`
	WallSeconds float64         `json:"wall_seconds"`
	Campaign    *CampaignReport `json:"campaign,omitempty"`
	Legit       LegitReport     `json:"legit"`
	// StrangersColderMinutes: the simulated minutes during which the
	// sessions first on their address were shown colder records than
	// regulars (leakguard_strangers_colder): a crowd was seen
	StrangersColderMinutes int `json:"strangers_colder_minutes"`
	// ItemsPagedMinutes: the simulated minutes during which the shop read
	// as one whose items have pages (leakguard_items_paged)
	ItemsPagedMinutes int `json:"items_paged_minutes"`
}

// CampaignReport is what the scraping campaign took, and when it was contained.
type CampaignReport struct {
	Requests                 int     `json:"requests"`
	Refused                  int     `json:"refused"`
	Contained                bool    `json:"contained"`
	TimeToContainmentSeconds float64 `json:"time_to_containment_seconds,omitempty"`
	RecordsBeforeContainment int     `json:"records_before_containment"`
	RecordsTaken             int     `json:"records_taken"`
	// DistinctTaken: the people among RecordsTaken, each once
	DistinctTaken      int `json:"distinct_taken"`
	RecordsUnprotected int `json:"records_unprotected"`
	// StrangerCrowdRequests: its requests that carried stranger_crowd
	// (a crowd of strangers about: reported, held only where weighed),
	// the first StrangerCrowdFromSeconds into the run
	StrangerCrowdRequests    int     `json:"stranger_crowd_requests"`
	StrangerCrowdFromSeconds float64 `json:"stranger_crowd_from_seconds,omitempty"`
}

// LegitReport is the false-positive side: who of the legitimate traffic was
// refused, and how many records a logged-in account reads a day (the
// percentiles say where a per-account budget would start to hurt).
type LegitReport struct {
	Actors          int `json:"actors"`
	ActorsRefused   int `json:"actors_refused"`
	Sessions        int `json:"sessions"`
	SessionsRefused int `json:"sessions_refused"`
	Requests        int `json:"requests"`
	RequestsRefused int `json:"requests_refused"`
	// RequestsRefusedLate: of those, people's past their visit's first
	// 5 s, and any of staff's or the partner's (LegitStats.RefusedLate)
	RequestsRefusedLate     int     `json:"requests_refused_late"`
	AccountRecordsPerDayP50 float64 `json:"account_records_per_day_p50"`
	AccountRecordsPerDayP99 float64 `json:"account_records_per_day_p99"`
	AccountRecordsPerDayMax float64 `json:"account_records_per_day_max"`
	// StrangerCrowdRequests: legitimate requests that carried
	// stranger_crowd (CampaignReport.StrangerCrowdRequests)
	StrangerCrowdRequests int `json:"stranger_crowd_requests"`
}

// BenchOptions say which scenarios run, how long, and among how many shoppers.
type BenchOptions struct {
	Seed     uint64
	Scenario string // "all", or one scenario's name
	Days     int    // every scenario's length; 0: as the scenario defines it
	Shoppers int
	Workers  int // scenarios run at once
	// EdgeJA4: the shop's TLS edge passes each client's JA4 (demo
	// --edge-ja4): every actor's fingerprint holds its TLS client's,
	// people's that of their browser build, each campaign's its own.
	EdgeJA4 bool
	// SPA: the shop is a single-page app (Population.SPA); the policy's
	// detect.single_page_app says whether the operator told the proxy.
	SPA bool
	// OnDecision, if set, sees every decision, its route prefixed with the
	// scenario's name (scenarios share one clock, so the route says which
	// world decided it). Scenarios run concurrently: it must be safe for
	// concurrent use.
	OnDecision func(engine.Decision)
	// Done, if set, is told of each scenario as it finishes, one at a time.
	Done func(ScenarioReport)
}

// ScenarioNames are the scenarios' names, in the scoreboard's order.
func ScenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.Name)
	}
	return names
}

// benchSecret keys the bench's actor hashes: simulated actors need no
// secret, only stable keys.
const benchSecret = "leakguard-bench-secret"

// Bench runs the scenarios o names against cfg's policy, enforced whatever
// cfg's mode, and returns the scoreboard. It stops early, with ctx's error,
// when ctx is done.
func Bench(ctx context.Context, cfg *config.Config, o BenchOptions) (*BenchReport, error) {
	// The bench reads only the budgets' windows: no report windows to meter.
	cfg.Meter.ReportWindows = []config.Duration{}
	var run []Scenario
	for _, s := range scenarios {
		if o.Scenario == "all" || o.Scenario == s.Name {
			run = append(run, s)
		}
	}
	world := NewWorld(o.Seed, 50000, 20000)
	report := &BenchReport{Seed: o.Seed, Policy: describeBudgets(cfg), Scenarios: make([]ScenarioReport, len(run))}
	errs := make([]error, len(run))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range max(o.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, err := runScenario(cfg, world, run[i], o)
				mu.Lock()
				report.Scenarios[i], errs[i] = r, err
				if err == nil && o.Done != nil {
					o.Done(r)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range run {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return report, nil
}

// describeBudgets is the policy in force, one line per budget, as the
// scoreboard names what it measured.
func describeBudgets(cfg *config.Config) []string {
	var policy []string
	for _, b := range cfg.EffectiveBudgets() {
		per := b.Per
		if b.PerPerson {
			per += " per person"
		}
		if b.Allowlisted {
			per = "allowlisted " + per
		}
		policy = append(policy, fmt.Sprintf("%s: %d distinct %s per %s per %s, then %s", b.ID(), b.Limit, b.Entity, per, b.Window, b.Action))
	}
	return policy
}

// runScenario runs one scenario on a stack of its own (the engine's state
// is per scenario; the world's data is shared read-only).
func runScenario(cfg *config.Config, world *World, sc Scenario, o BenchOptions) (ScenarioReport, error) {
	began := time.Now()
	var onDecision func(engine.Decision)
	if o.OnDecision != nil {
		onDecision = func(d engine.Decision) {
			d.Route = sc.Name + " " + d.Route
			o.OnDecision(d)
		}
	}
	st, err := stack.Build(cfg, keyed.New([]byte(benchSecret)), onDecision, nil, stack.Options{Resolver: DNS{}})
	if err != nil {
		return ScenarioReport{}, err
	}
	st.Engine.SetShadow(false) // the bench measures the policy enforced, whatever the config's mode
	w := *world                // per-scenario entity indexes
	w.User, w.Phone = st.Catalog.EntityIndex("user"), -1
	for _, b := range cfg.EffectiveBudgets() {
		if b.Entity == "phone" { // phones cost as much again to meter: only when a budget reads them
			w.Phone = st.Catalog.EntityIndex("phone")
		}
	}
	days := sc.Days
	if o.Days > 0 {
		days = o.Days
	}
	end := Start.Add(time.Duration(days) * 24 * time.Hour)
	pop := DefaultPopulation()
	pop.Shoppers = o.Shoppers
	pop.Partner = pop.Partner && !sc.NoPartner
	pop.SPA = o.SPA
	sources, legit := Legit(&w, pop, o.Seed, end)
	camp, cst := sc.Campaign(&w, o.Seed, end)
	if o.EdgeJA4 {
		for i, s := range sources {
			sources[i] = tlsClient{s, 0}
		}
		if camp != nil {
			// each campaign a TLS client of its own, as in the demo
			h := fnv.New64a()
			h.Write([]byte(sc.Name))
			camp = tlsClient{camp, h.Sum64() | 1}
		}
	}
	if camp != nil {
		sources = append(sources, camp)
	}
	rs := Run(&w, st.Engine, st.Detector, sources, end)
	out := ScenarioReport{Name: sc.Name, Description: sc.Desc, Days: days, Requests: rs.Requests, StrangersColderMinutes: int(rs.StrangersColder / time.Minute), ItemsPagedMinutes: int(rs.ItemsPaged / time.Minute)}
	if cst != nil {
		at, before, ok := cst.Containment()
		out.Campaign = &CampaignReport{Requests: cst.Requests, Refused: cst.Refused, Contained: ok,
			RecordsBeforeContainment: before, RecordsTaken: cst.Records, DistinctTaken: cst.Distinct, RecordsUnprotected: cst.Attempted}
		if ok {
			out.Campaign.TimeToContainmentSeconds = at.Seconds()
		}
		out.Campaign.StrangerCrowdRequests = cst.Crowd
		if !cst.crowdFrom.IsZero() {
			out.Campaign.StrangerCrowdFromSeconds = cst.crowdFrom.Sub(Start).Seconds()
		}
	}
	per := legit.AccountRecordsPerDay()
	sort.Float64s(per)
	out.Legit = LegitReport{Actors: legit.Actors, ActorsRefused: legit.ActorsRefused, Sessions: legit.Sessions,
		SessionsRefused: legit.SessionsRefused, Requests: legit.Requests, RequestsRefused: legit.Refused, RequestsRefusedLate: legit.RefusedLate,
		AccountRecordsPerDayP50: percentile(per, 0.5), AccountRecordsPerDayP99: percentile(per, 0.99), AccountRecordsPerDayMax: percentile(per, 1), StrangerCrowdRequests: legit.Crowd}
	out.WallSeconds = time.Since(began).Seconds()
	return out, nil
}

// percentile is the nearest-rank p-th quantile of sorted (0 when empty);
// p = 1 is the maximum.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// WriteTable writes the scoreboard as a table, the real campaign it is
// measured against last. The whole policy is in the JSON; leakguard policy
// prints it as YAML.
func (r *BenchReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "policy: %d budgets in force, e.g. %s\n\n", len(r.Policy), strings.Join(r.Policy[:min(2, len(r.Policy))], "; "))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tdays\tcontained after\trecords before\trecords taken\tpeople\tunprotected\tlegit sessions refused\tlegit actors refused\t")
	count := func(n int) string { return human.Count(int64(n)) }
	for _, s := range r.Scenarios {
		contained, before, taken, people, unprot := "—", "—", "—", "—", "—"
		if cp := s.Campaign; cp != nil {
			contained = "never"
			if cp.Contained {
				contained = human.Span(time.Duration(cp.TimeToContainmentSeconds * float64(time.Second)))
			}
			before, taken, people, unprot = count(cp.RecordsBeforeContainment), count(cp.RecordsTaken), count(cp.DistinctTaken), count(cp.RecordsUnprotected)
			if !cp.Contained {
				before = "—"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s of %s\t%s of %s\t\n", s.Name, s.Days, contained, before, taken, people, unprot,
			count(s.Legit.SessionsRefused), count(s.Legit.Sessions), count(s.Legit.ActorsRefused), count(s.Legit.Actors))
	}
	fmt.Fprintln(tw, "Taobao 2019-20 (real)\t240\tnever\t—\t1,100,000,000\t—\t1,100,000,000\t—\t—\t")
	tw.Flush()
}

// ValidScenario reports whether name is "all" or a scenario's name.
func ValidScenario(name string) bool {
	return name == "all" || slices.Contains(ScenarioNames(), name)
}

// tlsClient is a source whose clients' fingerprints hold their TLS
// client's (BenchOptions.EdgeJA4): ja4 joins each fingerprint, or, when
// 0, the fingerprint already is the TLS client's (a person's browser
// build has one).
type tlsClient struct {
	Source
	ja4 uint64
}

func (c tlsClient) Next() (Request, bool) {
	r, ok := c.Source.Next()
	r.Actor.TLS = true
	if fp := &r.Actor.Keys[identity.Fingerprint]; c.ja4 != 0 && fp.Hash != 0 {
		fp.Hash = mix(fp.Hash ^ c.ja4)
	}
	return r, ok
}
