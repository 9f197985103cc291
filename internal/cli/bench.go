package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/decisionlog"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/sim"
)

// BenchCommand is `leakguard bench`: the scenarios in simulated event time.
type BenchCommand struct {
	Scenario   string
	Seed       uint64
	JSON       bool
	ConfigPath string
	Baseline   bool
	Days       int // override every scenario's length (0: as defined)
	Shoppers   int
	Workers    int
	CPUProfile string
	Decisions  string // a file for every decision, as JSON lines

	Stdout, Stderr io.Writer
	decisions      *decisionlog.Log
	decisionsMu    sync.Mutex
	Report         *BenchReport
}

// BenchReport is `leakguard bench --json`; field names are a stable contract.
type BenchReport struct {
	Seed      uint64         `json:"seed"`
	Policy    []string       `json:"policy"`
	Scenarios []ScenarioJSON `json:"scenarios"`
}

type ScenarioJSON struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Days        int           `json:"days"`
	Requests    int           `json:"requests"`
	WallSeconds float64       `json:"wall_seconds"`
	Campaign    *CampaignJSON `json:"campaign,omitempty"`
	Legit       LegitJSON     `json:"legit"`
}

type CampaignJSON struct {
	Requests                 int     `json:"requests"`
	Refused                  int     `json:"refused"`
	Contained                bool    `json:"contained"`
	TimeToContainmentSeconds float64 `json:"time_to_containment_seconds,omitempty"`
	RecordsBeforeContainment int     `json:"records_before_containment"`
	RecordsTaken             int     `json:"records_taken"`
	RecordsUnprotected       int     `json:"records_unprotected"`
}

type LegitJSON struct {
	Actors                  int     `json:"actors"`
	ActorsRefused           int     `json:"actors_refused"`
	Sessions                int     `json:"sessions"`
	SessionsRefused         int     `json:"sessions_refused"`
	Requests                int     `json:"requests"`
	RequestsRefused         int     `json:"requests_refused"`
	AccountRecordsPerDayP50 float64 `json:"account_records_per_day_p50"`
	AccountRecordsPerDayP99 float64 `json:"account_records_per_day_p99"`
	AccountRecordsPerDayMax float64 `json:"account_records_per_day_max"`
}

func (c *BenchCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard bench", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	var names []string
	for _, s := range sim.Scenarios {
		names = append(names, s.Name)
	}
	fs.StringVar(&c.Scenario, "scenario", "all", "scenario to run: all, or one of "+strings.Join(names, ", "))
	fs.Uint64Var(&c.Seed, "seed", 1, "seed: the same seed gives the same results")
	fs.BoolVar(&c.JSON, "json", false, "print the results as JSON (stable field names, see README)")
	fs.StringVar(&c.ConfigPath, "config", "", "policy to measure: a proxy config (its records, budgets, risk and allowlists; always enforced here); default: the default policy")
	fs.BoolVar(&c.Baseline, "baseline", false, "measure the budgets-only baseline (one 300 users/h budget per address, no detection, no default policy) instead of the default policy")
	fs.IntVar(&c.Days, "days", 0, "run every scenario for this many simulated days instead of its own length")
	fs.IntVar(&c.Shoppers, "shoppers", sim.DefaultPopulation.Shoppers, "legitimate shoppers")
	fs.IntVar(&c.Workers, "workers", 2, "scenarios run at once")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&c.Decisions, "decisions", "", "write every decision (each scenario's, in simulated time) to this file as JSON lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard bench [flags]\n\nRuns scraping campaigns and legitimate traffic against the synthetic shop in\nsimulated event time, through leakguard's engine and policy, and reports how\nmuch each campaign took before it was contained and how many legitimate\nsessions were refused.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Scenario != "all" && !slices.Contains(names, c.Scenario) {
		return fmt.Errorf("unknown scenario %q: want all or one of %s", c.Scenario, strings.Join(names, ", "))
	}
	if c.Days < 0 || c.Days > 366 || c.Shoppers < 1 || c.Workers < 1 {
		return fmt.Errorf("want 0 ≤ --days ≤ 366, --shoppers ≥ 1, --workers ≥ 1")
	}
	return nil
}

// BaselinePolicy is the core issue's budgets-only policy: 300 distinct users
// per address per hour, then a one-hour block.
func BaselinePolicy() *config.Config {
	cfg := benchRecords()
	hour := config.Duration(time.Hour)
	cfg.Budgets = []config.Budget{{Entity: "user", Per: "ip", Window: hour, Limit: 300, Action: "block", BlockFor: hour}}
	cfg.Risk.Bands = []config.RiskBand{} // budgets only
	off := false
	cfg.DefaultPolicy = &off
	cfg.Detect.Allow = []string{addrString(sim.PartnerAddress) + "/32"}
	return cfg
}

func benchRecords() *config.Config {
	cfg := config.Default()
	cfg.Upstream = "http://shop.invalid"
	cfg.Records = []config.Record{
		{Route: "GET /api/users/{id}", Entity: "user"},
		{Route: "GET /api/items/{id}/reviews", Entity: "user", Body: "$.reviews[*].user.id"},
		{Route: "GET /api/lookup", Entity: "user", Body: "$.id", Lookup: "phone"},
	}
	cfg.PII.Detect = []string{"phone"}
	return cfg
}

// RoutesOnlyPolicy is what the scoreboard measures: a config as a new
// user writes it, naming the record routes and the partner's address and
// no budget, so the default policy decides. Defaults are the product.
func RoutesOnlyPolicy() *config.Config {
	cfg := benchRecords()
	cfg.Detect.Allow = []string{addrString(sim.PartnerAddress) + "/32"}
	return cfg
}

func addrString(ip uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", ip>>24, ip>>16&255, ip>>8&255, ip&255)
}

func (c *BenchCommand) Run(ctx context.Context) error {
	cfg := RoutesOnlyPolicy()
	if c.Baseline {
		cfg = BaselinePolicy()
	}
	if c.ConfigPath != "" {
		var err error
		if cfg, err = config.LoadOffline(c.ConfigPath); err != nil {
			return err
		}
	}
	// The bench reads only the budgets' windows: no report windows to meter.
	cfg.Meter.ReportWindows = []config.Duration{}
	if c.Decisions != "" {
		f, err := os.Create(c.Decisions)
		if err != nil {
			return err
		}
		defer f.Close()
		c.decisions = decisionlog.New(f, nil)
	}
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
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
	var run []sim.Scenario
	for _, s := range sim.Scenarios {
		if c.Scenario == "all" || c.Scenario == s.Name {
			run = append(run, s)
		}
	}
	start := time.Now()
	world := sim.NewWorld(c.Seed, 50000, 20000)
	c.Report = &BenchReport{Seed: c.Seed, Policy: policy, Scenarios: make([]ScenarioJSON, len(run))}
	errs := make([]error, len(run))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range c.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, err := c.runScenario(cfg, world, run[i])
				mu.Lock()
				c.Report.Scenarios[i], errs[i] = r, err
				if err == nil && !c.JSON {
					fmt.Fprintf(c.Stderr, "bench: %-13s %3d simulated days, %9d requests in %5.1fs\n", r.Name, r.Days, r.Requests, r.WallSeconds)
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
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c.Report)
	}
	c.printTable()
	fmt.Fprintf(c.Stdout, "\nseed %d, %s wall time\n", c.Seed, time.Since(start).Round(time.Second))
	return nil
}

func (c *BenchCommand) runScenario(cfg *config.Config, world *sim.World, sc sim.Scenario) (ScenarioJSON, error) {
	began := time.Now()
	onDecision := func(engine.Decision) {}
	if c.decisions != nil {
		onDecision = func(d engine.Decision) {
			d.Route = sc.Name + " " + d.Route // which scenario's world decided it
			c.decisionsMu.Lock()
			c.decisions.Decision(d)
			c.decisionsMu.Unlock()
		}
	}
	st, err := buildStack(cfg, keyed.New([]byte("leakguard-bench-secret")), onDecision, os.Getenv, stackOptions{Resolver: sim.DNS{}})
	if err != nil {
		return ScenarioJSON{}, err
	}
	st.engine.SetShadow(false) // the bench measures the policy enforced, whatever the config's mode
	w := *world                // per-scenario entity indexes; the data is shared read-only
	w.User, w.Phone = st.catalog.EntityIndex("user"), -1
	for _, b := range cfg.EffectiveBudgets() {
		if b.Entity == "phone" { // phones cost as much again to meter: only when a budget reads them
			w.Phone = st.catalog.EntityIndex("phone")
		}
	}
	days := sc.Days
	if c.Days > 0 {
		days = c.Days
	}
	end := sim.Start.Add(time.Duration(days) * 24 * time.Hour)
	pop := sim.DefaultPopulation
	pop.Shoppers = c.Shoppers
	pop.Partner = pop.Partner && !sc.NoPartner
	sources, legit := sim.Legit(&w, pop, c.Seed, end)
	camp, cst := sc.Campaign(&w, c.Seed, end)
	if camp != nil {
		sources = append(sources, camp)
	}
	n := sim.Run(&w, st.engine, st.detector, sources, end)
	out := ScenarioJSON{Name: sc.Name, Description: sc.Desc, Days: days, Requests: n}
	if cst != nil {
		at, before, ok := cst.Containment()
		out.Campaign = &CampaignJSON{Requests: cst.Requests, Refused: cst.Refused, Contained: ok,
			RecordsBeforeContainment: before, RecordsTaken: cst.Records, RecordsUnprotected: cst.Attempted}
		if ok {
			out.Campaign.TimeToContainmentSeconds = at.Seconds()
		}
	}
	per := legit.AccountRecordsPerDay()
	sort.Float64s(per)
	pct := func(p float64) float64 {
		if len(per) == 0 {
			return 0
		}
		return per[min(len(per)-1, int(p*float64(len(per))))]
	}
	out.Legit = LegitJSON{Actors: legit.Actors, ActorsRefused: legit.ActorsRefused, Sessions: legit.Sessions,
		SessionsRefused: legit.SessionsRefused, Requests: legit.Requests, RequestsRefused: legit.Refused,
		AccountRecordsPerDayP50: pct(0.5), AccountRecordsPerDayP99: pct(0.99), AccountRecordsPerDayMax: pct(1)}
	out.WallSeconds = time.Since(began).Seconds()
	return out, nil
}

func (c *BenchCommand) printTable() {
	// The whole list is in --json; leakguard policy prints it as YAML.
	fmt.Fprintf(c.Stdout, "policy: %d budgets in force, e.g. %s\n\n", len(c.Report.Policy), strings.Join(c.Report.Policy[:min(2, len(c.Report.Policy))], "; "))
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tdays\tcontained after\trecords before\trecords taken\tunprotected\tlegit sessions refused\tlegit actors refused\t")
	for _, s := range c.Report.Scenarios {
		contained, before, taken, unprot := "—", "—", "—", "—"
		if cp := s.Campaign; cp != nil {
			contained = "never"
			if cp.Contained {
				contained = humanDuration(time.Duration(cp.TimeToContainmentSeconds * float64(time.Second)))
			}
			before, taken, unprot = commas(cp.RecordsBeforeContainment), commas(cp.RecordsTaken), commas(cp.RecordsUnprotected)
			if !cp.Contained {
				before = "—"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s of %s\t%s of %s\t\n", s.Name, s.Days, contained, before, taken, unprot,
			commas(s.Legit.SessionsRefused), commas(s.Legit.Sessions), commas(s.Legit.ActorsRefused), commas(s.Legit.Actors))
	}
	fmt.Fprintln(tw, "Taobao 2019-20 (real)\t240\tnever\t—\t1,100,000,000\t1,100,000,000\t—\t—\t")
	tw.Flush()
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0fm", d.Minutes())
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
	return fmt.Sprintf("%.1fd", d.Hours()/24)
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &BenchCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
