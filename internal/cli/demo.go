package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/demo"
	"github.com/leakguard/leakguard/internal/shop"
)

// DemoCommand is `leakguard demo`: the shop, leakguard in front of it
// enforcing budgets, and live traffic over loopback, with a scoreboard.
type DemoCommand struct {
	Duration time.Duration
	Every    time.Duration
	// ScrapersAfter: shoppers alone this long first (demo.Options).
	ScrapersAfter time.Duration
	// ChurnersAt: net-churn and spread-churn start this long after the
	// proxy (demo.Options).
	ChurnersAt  time.Duration
	Seed        uint64
	Shoppers    int
	NATs        int
	Think       time.Duration
	ScraperRate float64
	StateDir    string
	// EdgeJA4: the shop's TLS edge passes each client's JA4, and the
	// config names it (identity.tls_fingerprint_header).
	EdgeJA4 bool
	// Classes: the scraper classes that run (demo.Options.Classes).
	Classes []string
	// SPA: the shop is a single-page app (demo.Options.SPA); SPAConfig:
	// and its config says so (detect.single_page_app).
	SPA, SPAConfig bool

	Stdout, Stderr io.Writer
	Traffic        *demo.Traffic // after Run: the scores
	Proxy          *ProxyCommand
	// Ready, if set, is closed once the proxy serves (tests).
	Ready chan struct{}
	// Enough, if set, is asked every quarter second while the traffic
	// runs and ends it early once true: a test sized by what the
	// classes did, not by the clock, so that a loaded machine runs it
	// longer instead of failing it (tests).
	Enough func(scores []*demo.Score, elapsed time.Duration) bool
}

func (c *DemoCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard demo", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.DurationVar(&c.Duration, "duration", time.Minute, "how long to run")
	fs.DurationVar(&c.Every, "every", 5*time.Second, "how often to print the scoreboard")
	fs.DurationVar(&c.ScrapersAfter, "scrapers-after", 0, "shoppers alone this long before the scrapers start, as on a proxy that has been running (its popularity sketch and its measure of people warm); part of --duration")
	fs.DurationVar(&c.ChurnersAt, "churners-at", 65*time.Second, "net-churn and spread-churn start this long after the proxy (not before --scrapers-after): by default past the proxy's first minute, which spares a surge of arrivals; 0 starts them with the proxy, the case a proxy deployed during an attack meets")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed for the shop's data and the traffic")
	fs.IntVar(&c.Shoppers, "shoppers", 200, "legitimate shoppers")
	fs.IntVar(&c.NATs, "nats", 4, "carrier-NAT addresses the shoppers share")
	fs.DurationVar(&c.Think, "think", 3*time.Second, "shoppers' mean pause between pages")
	fs.Float64Var(&c.ScraperRate, "scraper-rate", 40, "each scraper's requests per second")
	fs.StringVar(&c.StateDir, "state", "", "state directory (default: a temporary one, removed at exit)")
	fs.BoolVar(&c.EdgeJA4, "edge-ja4", false, "the shop's TLS edge passes each client's JA4 in X-JA4 and the config names it (identity.tls_fingerprint_header): people's browsers send Chrome's, the scrapers their HTTP libraries'")
	fs.BoolVar(&c.SPA, "spa", false, "the shop is a single-page app: people load the home page and its scripts once a visit, then call the API for each item with no page of its own")
	fs.BoolVar(&c.SPAConfig, "spa-config", false, "the config says the shop is a single-page app (detect.single_page_app), as its operator would")
	classes := demo.Classes()
	fs.Func("classes", "comma-separated scraper classes to run, the people beside them (default: every one; "+strings.Join(classes, ", ")+")", func(v string) error {
		c.Classes = nil
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(classes, name) {
				return fmt.Errorf("no class %q; the classes: %s", name, strings.Join(classes, ", "))
			}
			c.Classes = append(c.Classes, name)
		}
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: leakguard demo [flags]

Starts a synthetic shop, leakguard in front of it (a routes-only config: the
default policy, enforced), and live traffic over 127.0.0.1: shoppers behind
shared NAT addresses, and scrapers of every class that got through before: a
naive profile scraper, a review sweeper, a fast browser-like session, an
account crew, one that loads pages around its calls, a residential swarm,
an allowlisted partner that turns into a harvester, a session churner on
an office address people use (office-churn: the office must not be refused
with it), and the classes red teams wrote from the docs (churners among a
carrier NAT's people, crews at a person's pace, a crowd on addresses of its
own; --classes lists them, and some are not held: see the README). Prints
what each took, and whether any shopper was refused.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.Duration <= 0 || c.Every <= 0 || c.Think <= 0:
		return errors.New("--duration, --every and --think must be positive")
	case c.ScrapersAfter < 0 || c.ScrapersAfter >= c.Duration:
		return errors.New("--scrapers-after: want 0 ≤ scrapers-after < duration")
	case c.ChurnersAt < 0:
		return errors.New("--churners-at: want ≥ 0")
	case c.Shoppers < 1 || c.NATs < 1 || c.NATs > c.Shoppers:
		return errors.New("want --shoppers ≥ 1 and 1 ≤ --nats ≤ --shoppers")
	case c.ScraperRate <= 0 || c.ScraperRate > 1000:
		return errors.New("--scraper-rate: want 0 < rate ≤ 1000")
	}
	return nil
}

func (c *DemoCommand) Run(ctx context.Context) error {
	if c.StateDir == "" {
		dir, err := os.MkdirTemp("", "leakguard-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.StateDir = dir
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	shopSrv := &http.Server{Handler: shop.New(c.Seed, demo.ShopUsers, demo.ShopItems).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go shopSrv.Serve(ln)
	defer shopSrv.Close()

	cfg := demo.Config("http://"+ln.Addr().String(), c.StateDir)
	cfg.Detect.SinglePageApp = c.SPAConfig
	if c.EdgeJA4 {
		cfg.Identity.TLSFingerprintHeader = demo.JA4Header
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Cold, even on a --state directory reused: the scoreboard is of a
	// fresh start.
	c.Proxy = &ProxyCommand{Config: cfg, Stdout: io.Discard, Stderr: io.Discard, Getenv: os.Getenv, ColdPopularity: true}
	if err := c.Proxy.Open(); err != nil {
		return err
	}
	defer c.Proxy.Close()
	pctx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	go c.Proxy.Serve(pctx)

	fmt.Fprintf(c.Stdout, "leakguard demo: shop (%d users, %d items) behind leakguard at http://%s for %s\n",
		demo.ShopUsers, demo.ShopItems, c.Proxy.Addr(), c.Duration)
	fmt.Fprintf(c.Stdout, "  config: the record routes, identity sources and the partner's address; no budgets: the default policy (leakguard policy prints it)\n")
	fmt.Fprintf(c.Stdout, "  dashboard: %s/ui/ (sign in with the token in %s)\n  decisions: %s\n\n",
		c.Proxy.AdminURL(), filepath.Join(c.StateDir, "admin-token"), cfg.Log.Decisions)
	if c.Ready != nil {
		close(c.Ready)
	}

	c.Traffic = demo.New(demo.Options{
		Base: "http://" + c.Proxy.Addr(), Seed: c.Seed, Users: demo.ShopUsers, Items: demo.ShopItems,
		Shoppers: c.Shoppers, NATs: c.NATs, ThinkTime: c.Think, ScraperRate: c.ScraperRate,
		PartnerSyncFor: (c.Duration - c.ScrapersAfter) / 3, EdgeJA4: c.EdgeJA4, SPA: c.SPA, ScrapersAfter: c.ScrapersAfter, ChurnersAt: c.ChurnersAt,
		Classes: c.Classes,
	})
	tctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	if c.Enough != nil {
		go func(start time.Time) {
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-tctx.Done():
					return
				case <-tick.C:
					if c.Enough(c.Traffic.Scores, time.Since(start)) {
						cancel()
						return
					}
				}
			}
		}(time.Now())
	}
	c.Traffic.RunPrinting(tctx, c.Stdout, c.Every)
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &DemoCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
