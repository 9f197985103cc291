package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/decisionlog"
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
	EdgeJA4    bool
	SPA        bool
	SPAConfig  bool
	Workers    int
	CPUProfile string
	Decisions  string // a file for every decision, as JSON lines

	Stdout, Stderr io.Writer
	Report         *sim.BenchReport
}

func (c *BenchCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard bench", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	names := strings.Join(sim.ScenarioNames(), ", ")
	fs.StringVar(&c.Scenario, "scenario", "all", "scenario to run: all, or one of "+names)
	fs.Uint64Var(&c.Seed, "seed", 1, "seed: the same seed gives the same results")
	fs.BoolVar(&c.JSON, "json", false, "print the results as JSON (stable field names, see README)")
	fs.StringVar(&c.ConfigPath, "config", "", "policy to measure: a proxy config (its records, budgets, risk and allowlists; always enforced here); default: the default policy")
	fs.BoolVar(&c.Baseline, "baseline", false, "measure the budgets-only baseline (one 300 users/h budget per address, no detection, no default policy) instead of the default policy")
	fs.IntVar(&c.Days, "days", 0, "run every scenario for this many simulated days instead of its own length")
	fs.IntVar(&c.Shoppers, "shoppers", sim.DefaultPopulation().Shoppers, "legitimate shoppers")
	fs.IntVar(&c.Workers, "workers", 2, "scenarios run at once")
	fs.BoolVar(&c.EdgeJA4, "edge-ja4", false, "the shop's TLS edge passes each client's JA4 (as demo --edge-ja4): people's browser builds have theirs, each campaign's TLS client its own")
	fs.BoolVar(&c.SPA, "spa", false, "the shop is a single-page app (as demo --spa): people load the home page and its script once a visit, then call the API for each item without its page")
	fs.BoolVar(&c.SPAConfig, "spa-config", false, "set detect.single_page_app in the policy measured: the operator says the shop is a single-page app")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&c.Decisions, "decisions", "", "write every decision (each scenario's, in simulated time) to this file as JSON lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard bench [flags]\n\nRuns scraping campaigns and legitimate traffic against the synthetic shop in\nsimulated event time, through leakguard's engine and policy, and reports how\nmuch each campaign took before it was contained and how many legitimate\nsessions were refused.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !sim.ValidScenario(c.Scenario) {
		return fmt.Errorf("unknown scenario %q: want all or one of %s", c.Scenario, names)
	}
	if c.Days < 0 || c.Days > 366 || c.Shoppers < 1 || c.Workers < 1 {
		return fmt.Errorf("want 0 ≤ --days ≤ 366, --shoppers ≥ 1, --workers ≥ 1")
	}
	return nil
}

func (c *BenchCommand) Run(ctx context.Context) error {
	cfg := sim.RoutesOnlyPolicy()
	if c.Baseline {
		cfg = sim.BaselinePolicy()
	}
	if c.ConfigPath != "" {
		var err error
		if cfg, err = config.LoadOffline(c.ConfigPath); err != nil {
			return err
		}
	}
	if c.SPAConfig {
		cfg.Detect.SinglePageApp = true
	}
	o := sim.BenchOptions{Seed: c.Seed, Scenario: c.Scenario, Days: c.Days, Shoppers: c.Shoppers, Workers: c.Workers, EdgeJA4: c.EdgeJA4, SPA: c.SPA,
		Done: func(r sim.ScenarioReport) {
			if !c.JSON {
				fmt.Fprintf(c.Stderr, "bench: %-13s %3d simulated days, %9d requests in %5.1fs\n", r.Name, r.Days, r.Requests, r.WallSeconds)
			}
		}}
	if c.Decisions != "" {
		f, err := os.Create(c.Decisions)
		if err != nil {
			return err
		}
		defer f.Close()
		o.OnDecision = decisionlog.New(f, nil).Decision // safe for the scenarios' concurrent decisions
	}
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	start := time.Now()
	if c.Report, err = sim.Bench(ctx, cfg, o); err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c.Report)
	}
	c.Report.WriteTable(c.Stdout)
	fmt.Fprintf(c.Stdout, "\nseed %d, %s wall time\n", c.Seed, time.Since(start).Round(time.Second))
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &BenchCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
